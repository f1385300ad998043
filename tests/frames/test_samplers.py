"""Sampler arithmetic, validation, capping, and the registry of sampler names."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from facetrust.errors import ConfigError, UnknownNameError
from facetrust.frames import SAMPLERS, sample_times
from facetrust.media import open_media
from facetrust.media.testing import write_video
from facetrust.types import MediaInfo


def video(duration: float | None = 10.0, fps: float | None = 25.0, frames: int | None = 250) -> MediaInfo:
    return MediaInfo(
        path="v.mp4", kind="video", width=64, height=48, fps=fps, duration=duration, frame_count=frames
    )


IMAGE = MediaInfo(path="i.png", kind="image", width=64, height=48, frame_count=1)


def test_registry_names() -> None:
    assert SAMPLERS.names() == ["per_second", "stride", "uniform"]


def test_uniform_takes_segment_centres() -> None:
    assert sample_times(video(), n=4) == [1.25, 3.75, 6.25, 8.75]
    assert sample_times(video(), n=1) == [5.0]
    times = sample_times(video(), n=32)
    assert len(times) == 32 and times == sorted(times) and 0 < times[0] < times[-1] < 10


def test_uniform_short_video_gives_every_frame_once() -> None:
    assert sample_times(video(duration=0.2, frames=5), n=32) == [0.0, 0.04, 0.08, 0.12, 0.16]
    assert sample_times(video(duration=0.2, frames=5), n=5) == [0.0, 0.04, 0.08, 0.12, 0.16]
    assert sample_times(video(duration=0.04, frames=1), n=8) == [0.0]


@pytest.mark.parametrize("n", [0, -1, 301, 2.5, True, "8"])
def test_uniform_rejects_n_out_of_range(n: object) -> None:
    with pytest.raises(ConfigError, match="1 to 300"):
        sample_times(video(), mode="uniform", n=n)  # type: ignore[arg-type]


def test_stride() -> None:
    times = sample_times(video(), mode="stride", every=10)
    assert times == pytest.approx([k * 0.4 for k in range(25)])
    assert sample_times(video(duration=0.2, frames=5), mode="stride", every=1) == [
        0.0,
        0.04,
        0.08,
        0.12,
        0.16,
    ]
    assert sample_times(video(duration=0.2, frames=5), mode="stride", every=100) == [0.0]


@pytest.mark.parametrize("every", [0, -2, 1.5, None, True])
def test_stride_rejects_bad_every(every: object) -> None:
    with pytest.raises(ConfigError, match="every"):
        sample_times(video(), mode="stride", every=every)  # type: ignore[arg-type]


def test_per_second() -> None:
    assert sample_times(video(), mode="per_second", per_second=2) == pytest.approx([k / 2 for k in range(20)])
    assert sample_times(video(), mode="per_second", per_second=0.5) == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert sample_times(video(duration=0.2, frames=5), mode="per_second", per_second=100) == pytest.approx(
        [0.0, 0.04, 0.08, 0.12, 0.16]
    )  # more than the frame rate: every frame, once


@pytest.mark.parametrize("rate", [0, -1, float("nan"), float("inf"), "2", None, False])
def test_per_second_rejects_bad_rate(rate: object) -> None:
    with pytest.raises(ConfigError, match="per_second"):
        sample_times(video(), mode="per_second", per_second=rate)  # type: ignore[arg-type]


def test_parameters_of_other_modes_are_not_checked() -> None:
    assert len(sample_times(video(), mode="stride", every=50, n=0)) == 5


def test_cap_thins_evenly_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    info = video(duration=40.0, frames=1000)
    with caplog.at_level(logging.INFO, logger="facetrust.frames"):
        times = sample_times(info, mode="stride", every=1, max_frames=300)
    assert len(times) == 300 and times == sorted(set(times))
    assert times[0] == 0.0 and times[-1] == pytest.approx(999 / 25)
    gaps = np.diff(times)
    assert gaps.max() - gaps.min() <= 0.04 + 1e-9  # evenly spread, to one frame
    assert any("max_frames" in record.getMessage() for record in caplog.records)
    assert len(sample_times(info, mode="per_second", per_second=25, max_frames=10)) == 10
    assert len(sample_times(info, mode="uniform", n=32, max_frames=10)) == 10


@pytest.mark.parametrize("max_frames", [0, -5, 2.0])
def test_bad_max_frames(max_frames: object) -> None:
    with pytest.raises(ConfigError, match="max_frames"):
        sample_times(video(), max_frames=max_frames)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["uniform", "stride", "per_second"])
def test_images_give_one_time(mode: str) -> None:
    assert sample_times(IMAGE, mode=mode) == [0.0]


def test_unknown_mode_suggests_close_names() -> None:
    with pytest.raises(UnknownNameError) as excinfo:
        sample_times(video(), mode="unifrom")
    assert "'uniform'" in str(excinfo.value)
    assert isinstance(excinfo.value, ConfigError)
    with pytest.raises(UnknownNameError):
        sample_times(IMAGE, mode="every_frame")


def test_missing_timing_is_derived_or_falls_back(caplog: pytest.LogCaptureFixture) -> None:
    assert sample_times(video(duration=None), n=2) == [2.5, 7.5]  # duration = frames / fps
    assert sample_times(video(frames=None), mode="stride", every=125) == [0.0, 5.0]  # frames = duration * fps
    assert sample_times(video(fps=None), mode="stride", every=125) == [0.0, 5.0]  # fps = frames / duration
    with caplog.at_level(logging.WARNING, logger="facetrust.frames"):
        assert sample_times(video(duration=None, frames=None), n=4) == [0.0]
    assert caplog.records


def test_samples_read_from_a_real_video(tmp_path: Path) -> None:
    frames = [np.full((48, 64, 3), 10 * i, np.uint8) for i in range(20)]
    path = write_video(tmp_path / "twenty frames.mp4", frames, fps=10)
    with open_media(path) as reader:
        times = sample_times(reader.info, mode="uniform", n=4)
        assert times == [0.25, 0.75, 1.25, 1.75]
        read = reader.read(times)
        assert [f.index for f in read] == [3, 8, 13, 18]
        every = reader.read(sample_times(reader.info, mode="uniform", n=300))
        assert [f.index for f in every] == list(range(20))
