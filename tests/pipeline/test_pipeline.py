"""The whole flow on small generated media with a tiny (random) detector: structure and degenerate cases."""

from pathlib import Path

import numpy as np
import pytest

import facetrust
from facetrust.types import Label


def analyze(path, spec: Path, **kwargs):
    return facetrust.analyze(path, detector=str(spec), device="cpu", **kwargs)


def test_image_report_has_one_person(media_dir: Path, tiny_detector: Path) -> None:
    report = analyze(media_dir / "astronaut photo ü.jpg", tiny_detector)
    assert report.media_kind == "image" and report.frames_sampled == 1
    assert len(report.people) == 1
    assert report.verdict in (Label.REAL, Label.FAKE, Label.UNCERTAIN)
    assert 0.0 <= report.fake_probability <= 1.0
    assert report.fake_probability == pytest.approx(report.people[0].fake_probability, abs=1e-3)
    assert report.detector == "tiny_random" and len(report.weights_sha256) == 64
    assert set(report.timings) >= {"decode", "detect", "classify", "total"}


def test_video_report_tracks_the_face_over_time(media_dir: Path, tiny_detector: Path) -> None:
    report = analyze(media_dir / "face clip.mp4", tiny_detector, frames=8)
    assert report.media_kind == "video" and report.frames_sampled == 8
    assert len(report.people) == 1
    person = report.people[0]
    assert person.frames_used == 8 and len(person.frame_scores) == 8
    assert person.start == pytest.approx(0.0, abs=0.05) and person.end > 0.3
    assert 40 < person.median_face_size < 120
    times = [s.timestamp for s in person.frame_scores]
    assert times == sorted(times)


def test_two_people_give_two_tracks(media_dir: Path, tiny_detector: Path) -> None:
    report = analyze(media_dir / "two people.mp4", tiny_detector, frames=10)
    assert len(report.people) == 2
    lefts = sorted(p.frame_scores[0].box[0] for p in report.people)
    assert lefts[0] < 100 < 250 < lefts[1]
    assert all(p.frames_used == 10 for p in report.people)


def test_no_face_is_a_verdict_not_an_error(media_dir: Path, tiny_detector: Path) -> None:
    report = analyze(media_dir / "no face.mp4", tiny_detector)
    assert report.verdict is Label.NO_FACE and report.fake_probability is None and report.people == []
    assert "NO_FACE" in report.summary()


def test_one_frame_video(media_dir: Path, tiny_detector: Path) -> None:
    report = analyze(media_dir / "one frame.mp4", tiny_detector)
    assert report.frames_sampled == 1 and len(report.people) == 1


def test_array_input(tiny_detector: Path) -> None:
    from skimage import data

    report = analyze(np.ascontiguousarray(data.astronaut()), tiny_detector)
    assert report.path is None and len(report.people) == 1


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("empty.mp4", facetrust.EmptyMediaError),
        ("notes.mp4", facetrust.UnsupportedMediaError),
        ("truncated.mp4", facetrust.InputError),
        ("missing.mp4", facetrust.MediaNotFoundError),
    ],
)
def test_bad_files_raise_named_errors(media_dir: Path, tiny_detector: Path, name: str, error: type) -> None:
    with pytest.raises(error):
        analyze(media_dir / name, tiny_detector)


def test_tiny_image_has_no_face(media_dir: Path, tiny_detector: Path) -> None:
    assert analyze(media_dir / "tiny.png", tiny_detector).verdict is Label.NO_FACE


def test_frames_out_of_range_is_a_config_error(media_dir: Path, tiny_detector: Path) -> None:
    with pytest.raises(facetrust.ConfigError):
        analyze(media_dir / "face clip.mp4", tiny_detector, frames=0)
    with pytest.raises(facetrust.ConfigError):
        analyze(media_dir / "face clip.mp4", tiny_detector, frames=301)


def test_unknown_detector_suggests_names() -> None:
    with pytest.raises(facetrust.UnknownNameError, match="default"):
        facetrust.load_detector("defualt")


def test_threshold_override_changes_labels_not_probabilities(media_dir: Path, tiny_detector: Path) -> None:
    low = analyze(media_dir / "astronaut photo ü.jpg", tiny_detector, threshold=0.01)
    high = analyze(media_dir / "astronaut photo ü.jpg", tiny_detector, threshold=0.99)
    assert low.fake_probability == high.fake_probability
    assert low.verdict is Label.FAKE and high.verdict is Label.REAL


def test_more_frames_than_one_chunk(tmp_path: Path, tiny_detector: Path) -> None:
    from facetrust.media.testing import write_video
    from facetrust.pipeline import FRAME_CHUNK
    from tests_helpers import astronaut_variants

    frames = [astronaut_variants(1)[0]] * (3 * FRAME_CHUNK)
    clip = write_video(tmp_path / "long.mp4", frames, fps=25)
    report = analyze(clip, tiny_detector, frames=FRAME_CHUNK + 10)
    assert report.frames_sampled == FRAME_CHUNK + 10
    person = report.people[0]
    assert person.frames_used == FRAME_CHUNK + 10
    indices = [s.frame_index for s in person.frame_scores]
    assert indices == sorted(set(indices))


@pytest.mark.parametrize(("kwargs", "expected"), [({"sampling": "stride", "every": 3}, 4),
                                                  ({"sampling": "per_second", "per_second": 10.0}, 5)])
def test_sampling_modes(media_dir: Path, tiny_detector: Path, kwargs: dict, expected: int) -> None:
    report = analyze(media_dir / "face clip.mp4", tiny_detector, **kwargs)
    assert report.frames_sampled == expected


def test_analyze_many_keeps_the_order_and_reports_each_failure_in_place(media_dir: Path, tiny_detector: Path) -> None:
    names = ["face clip.mp4", "empty.mp4", "two people.mp4", "notes.mp4", "astronaut photo ü.jpg", "gone.mp4"]
    paths = [media_dir / n for n in names]
    results = list(facetrust.analyze_many(paths, detector=str(tiny_detector), device="cpu", frames=6))
    assert [source for source, _ in results] == paths
    kinds = [type(outcome).__name__ for _, outcome in results]
    assert kinds == ["Report", "EmptyMediaError", "Report", "UnsupportedMediaError", "Report", "MediaNotFoundError"]
    for path, outcome in results:  # the same report as one call at a time (scans overlap, results do not)
        if isinstance(outcome, facetrust.Report):
            alone = analyze(path, tiny_detector, frames=6)
            assert outcome.fake_probability == alone.fake_probability and outcome.path == str(path)
            assert len(outcome.people) == len(alone.people)
    assert list(facetrust.analyze_many([], detector=str(tiny_detector), device="cpu")) == []
    with pytest.raises(facetrust.ConfigError):
        next(facetrust.analyze_many(paths, detector=str(tiny_detector), device="cpu", frames=0))


@pytest.mark.parametrize("frames", [32, 8])
def test_a_cut_off_video_is_sampled_from_the_part_that_decodes(frames: int, tmp_path: Path,
                                                               tiny_detector: Path) -> None:
    # issue 14, defect 3: 90 % of a faststart mp4 failed with 32 frames and passed with 8
    from conftest import face_frames
    from facetrust.media.testing import write_video

    whole = write_video(tmp_path / "whole.mp4", face_frames(25) + face_frames(25)[::-1], fps=25,
                        options={"movflags": "faststart"})
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * 0.9)])
    report = analyze(cut, tiny_detector, frames=frames)
    assert report.frames_sampled == frames and len(report.people) == 1
    assert report.readable_fraction is not None and 0.3 < report.readable_fraction < 0.95
    assert any("decodes only up to" in w for w in report.warnings)
    assert report.to_dict()["readable_fraction"] == report.readable_fraction
    assert analyze(whole, tiny_detector, frames=frames).readable_fraction is None
