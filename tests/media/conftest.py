"""Media made at test time for the media-stage tests (nothing is read from outside the repository)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facetrust.media.testing import write_video

from .helpers import CELL, index_frame


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """50 index-coded frames at 25 fps (2 s), keyframe every 12 frames, h264 mp4 with faststart."""
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    return write_video(path, [index_frame(i) for i in range(50)], fps=25, gop=12)


@pytest.fixture(scope="session")
def noisy_clip_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """100 frames (4 s at 25 fps) of index cells on noise, keyframe every 25 frames: bytes spread evenly."""
    rng = np.random.default_rng(0)
    frames = []
    for i in range(100):
        frame = index_frame(i)
        frame[CELL * 2 :] = rng.integers(0, 256, frame[CELL * 2 :].shape, dtype=np.uint8)
        frames.append(frame)
    path = tmp_path_factory.mktemp("noisy") / "noisy.mp4"
    return write_video(path, frames, fps=25, gop=25).read_bytes()


@pytest.fixture(scope="session")
def long_videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """10 minutes at 2 fps (1200 index-coded frames), keyframe every 20 frames, as mp4 and mkv."""
    root = tmp_path_factory.mktemp("long")
    frames = [index_frame(i) for i in range(1200)]
    return {suffix: write_video(root / f"long{suffix}", frames, fps=2, gop=20) for suffix in (".mp4", ".mkv")}
