"""Shared fixtures: small media made at test time (no file from ../shared is read) and a tiny detector."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from facetrust.media.testing import write_image, write_video
from facetrust.types import CropSpec, DetectorSpec


def astronaut() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


def face_frames(count: int = 12, size: tuple[int, int] = (320, 240)) -> list[np.ndarray]:
    """Frames of a slowly moving real face (the astronaut photo) on a grey background."""
    face = cv2.resize(astronaut()[0:300, 100:360], (150, 173), interpolation=cv2.INTER_AREA)
    frames = []
    for i in range(count):
        frame = np.full((size[1], size[0], 3), 90, np.uint8)
        x, y = 40 + 4 * i, 30
        frame[y : y + face.shape[0], x : x + face.shape[1]] = face
        frames.append(frame)
    return frames


def two_people_frames(count: int = 10) -> list[np.ndarray]:
    face = cv2.resize(astronaut()[0:300, 100:360], (130, 150), interpolation=cv2.INTER_AREA)
    frames = []
    for i in range(count):
        frame = np.full((240, 480, 3), 100, np.uint8)
        frame[40 : 40 + 150, 20 + i : 20 + i + 130] = face
        frame[50 : 50 + 150, 320 - i : 320 - i + 130] = face
        frames.append(frame)
    return frames


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("media")
    write_image(root / "astronaut photo ü.jpg", astronaut())
    write_video(root / "face clip.mp4", face_frames())
    write_video(root / "two people.mp4", two_people_frames())
    write_video(root / "no face.mp4", [np.full((120, 160, 3), v, np.uint8) for v in range(60, 180, 10)])
    write_video(root / "one frame.mp4", face_frames(1))
    (root / "empty.mp4").write_bytes(b"")
    (root / "notes.mp4").write_text("this is not a video\n" * 20)
    whole = (root / "face clip.mp4").read_bytes()
    (root / "truncated.mp4").write_bytes(whole[: len(whole) // 3 if len(whole) > 3000 else 200][:400])
    write_image(root / "tiny.png", np.zeros((1, 1, 3), np.uint8))
    return root


@pytest.fixture(scope="session")
def tiny_detector(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised EfficientNet-Lite0 at 64 px, saved like a real detector; returns its spec path.
    Its scores mean nothing: it exercises loading, checksums, the pipeline and the CLI."""
    import torch

    from facetrust.models import build_model, save_detector

    torch.manual_seed(0)
    model = build_model("efficientnet_lite0", num_outputs=1)
    spec = DetectorSpec(
        name="tiny_random", architecture="efficientnet_lite0", input_size=64,
        crop=CropSpec(size=64, margin=1.3), threshold=0.5, uncertain_band=(0.5, 0.5), temperature=1000.0,
    )
    directory = tmp_path_factory.mktemp("weights")
    save_detector(model, spec, directory)
    return directory / "tiny_random.json"


@pytest.fixture(autouse=True, scope="session")
def _private_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Optimised ONNX graphs go to a folder of this test session, not the user's ~/.cache (subprocesses too)."""
    import os

    from facetrust.engine.onnx import CACHE_ENV

    os.environ[CACHE_ENV] = str(tmp_path_factory.mktemp("facetrust-cache"))
