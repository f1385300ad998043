"""Which faces are explained and how they are cut: a report is re-used (faces cut again from the file match
the scored crops), the most suspicious come first, ensembles explain the member that decided."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import facetrust
import facetrust.explain as fx
from facetrust.models.ensemble import EnsembleSpec


@pytest.fixture(scope="module")
def clip_report(media_dir: Path, tiny_detector: Path):
    return fx.analyze_and_explain(media_dir / "face clip.mp4", detector=str(tiny_detector), frames=8,
                                  faces_per_person=3)


def test_the_most_suspicious_faces_of_each_person_come_first(clip_report) -> None:
    report, explained = clip_report
    (person,) = report.people
    expected = sorted(person.frame_scores, key=lambda s: -s.fake_probability)[:3]
    assert [(e.frame_index, e.timestamp, e.box, e.fake_probability) for e in explained] == \
        [(s.frame_index, s.timestamp, s.box, s.fake_probability) for s in expected]
    assert all(e.person == person.person for e in explained)


def test_a_given_report_is_reused_and_its_faces_cut_again_alike(clip_report, media_dir: Path,
                                                                tiny_detector: Path) -> None:
    report, from_scan = clip_report
    again = fx.explain(media_dir / "face clip.mp4", report=report, detector=str(tiny_detector))
    assert [e.frame_index for e in again] == [e.frame_index for e in from_scan]
    for a, b in zip(again, from_scan, strict=True):  # boxes are rounded to 0.1 px in a report
        assert np.abs(a.crop.astype(int) - b.crop.astype(int)).mean() < 2.0
        assert np.corrcoef(a.heatmap.ravel(), b.heatmap.ravel())[0, 1] > 0.9


def test_suspicious_faces_are_crops_without_heatmaps(clip_report, media_dir: Path, tiny_detector: Path) -> None:
    report, explained = clip_report
    faces = fx.suspicious_faces(media_dir / "face clip.mp4", report, per_person=2, detector=str(tiny_detector))
    assert [f.rank for f in faces] == [0, 1]
    assert [f.frame_index for f in faces] == [e.frame_index for e in explained[:2]]
    assert all(f.crop.shape == (64, 64, 3) and not hasattr(f, "heatmap") for f in faces)


def test_a_report_of_another_detector_is_refused(clip_report, media_dir: Path) -> None:
    report, _ = clip_report
    with pytest.raises(facetrust.ConfigError, match="made by detector"):
        fx.suspicious_faces(media_dir / "face clip.mp4", report, detector="default")


def test_no_face_means_nothing_to_explain(media_dir: Path, tiny_detector: Path) -> None:
    report, explained = fx.analyze_and_explain(media_dir / "no face.mp4", detector=str(tiny_detector), frames=4)
    assert str(report.verdict) == "NO_FACE" and explained == []


@pytest.mark.parametrize("name", ["empty.mp4", "notes.mp4", "missing.mp4"])
def test_bad_input_is_a_named_error(name: str, media_dir: Path, tiny_detector: Path) -> None:
    with pytest.raises(facetrust.InputError):
        fx.explain(media_dir / name, detector=str(tiny_detector))


def test_the_deciding_member_follows_the_ensemble_rule() -> None:
    class Ensemble:  # what deciding_member reads of an EnsembleDetector
        ensemble = EnsembleSpec(name="e", members=("a", "b"), method="max", coef=(1.0, 1.0), offsets=(0.0, -3.0))

    assert fx.deciding_member(Ensemble(), [0.6, 0.9]) == 0  # b's 0.9 is recalibrated down to ~0.0: a decides
    assert fx.deciding_member(Ensemble(), [0.1, 0.999]) == 1
    assert fx.deciding_member(Ensemble(), [float("nan"), 0.2]) == 1  # a abstained


def test_a_progress_callback_sees_the_explaining_stage(media_dir: Path, tiny_detector: Path) -> None:
    stages: list[str] = []
    fx.explain(media_dir / "astronaut photo ü.jpg", detector=str(tiny_detector),
               progress=lambda stage, fraction: stages.append(stage))
    assert "explaining" in stages and stages[-1] == "done"


def test_the_report_of_analyze_and_explain_is_the_one_analyze_gives(clip_report, media_dir: Path,
                                                                   tiny_detector: Path) -> None:
    report, _ = clip_report
    alone = facetrust.analyze(media_dir / "face clip.mp4", detector=str(tiny_detector), frames=8)
    assert report.provenance == alone.provenance and report.provenance.checked  # provenance read too
    assert (report.verdict, report.fake_probability) == (alone.verdict, alone.fake_probability)
