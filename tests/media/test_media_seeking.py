"""Cost of reading: sparse timestamps seek instead of scanning; dense ones decode each frame once."""

from __future__ import annotations

from pathlib import Path

import pytest

from facetrust.frames import sample_times
from facetrust.media import open_media

from .helpers import frame_number


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])  # mp4: full index up front; mkv: index built lazily
def test_sparse_sampling_of_a_long_video_seeks(long_videos: dict[str, Path], suffix: str) -> None:
    with open_media(long_videos[suffix]) as reader:
        assert reader.info.duration == pytest.approx(600.0)
        assert reader.info.frame_count == 1200
        times = sample_times(reader.info, mode="uniform", n=8)
        frames = reader.read(times)
        assert [frame_number(f.image) for f in frames] == [round(t * 2) for t in times]
        assert [f.index for f in frames] == [round(t * 2) for t in times]
        # Each target costs at most one GOP (20 frames) from its keyframe, never a scan of 1200 frames.
        assert reader.frames_decoded <= 1 + 8 * 20
        assert reader.decode_failures == 0


def test_dense_sampling_decodes_each_frame_once(clip: Path) -> None:
    with open_media(clip) as reader:
        frames = reader.read(sample_times(reader.info, mode="stride", every=1))
        assert [frame_number(f.image) for f in frames] == list(range(50))
        assert reader.frames_decoded == 50
    with open_media(clip) as reader:  # ascending calls continue where the previous one stopped
        reader.read(sample_times(reader.info, mode="stride", every=3))
        reader.read([1.9, 1.92, 1.96])
        assert reader.frames_decoded <= 50


def test_per_second_sampling_skips_ahead(long_videos: dict[str, Path]) -> None:
    with open_media(long_videos[".mp4"]) as reader:
        frames = reader.read(sample_times(reader.info, mode="per_second", per_second=0.05))  # every 20 s
        assert [frame_number(f.image) for f in frames] == list(range(0, 1200, 40))
        assert reader.frames_decoded <= 1 + 30 * 20


def test_reading_backwards_rewinds(long_videos: dict[str, Path]) -> None:
    with open_media(long_videos[".mkv"]) as reader:
        late = reader.read([500.0])
        early = reader.read([10.0, 11.0])
        assert [frame_number(f.image) for f in late + early] == [1000, 20, 22]
        assert reader.frames_decoded <= 1 + 3 * 20
