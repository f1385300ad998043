"""The pipeline scores each person's crops as a track: clip detectors get windows, frame detectors the same
numbers as scoring all crops at once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import facetrust
from facetrust.faces import FaceDetector, create_face_detector
from facetrust.models import build_model, create_detector, save_detector
from facetrust.pipeline import CPU_BATCH, Pipeline, PipelineOptions, scan_faces
from facetrust.types import CropSpec, DetectorSpec
from tests_helpers import make_tiny_clip_model


@pytest.fixture(scope="module")
def clip_detector_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random cnn_bilstm scoring windows of 4 face crops at 32 px, saved like a real detector."""
    spec = DetectorSpec(
        name="tiny_clip",
        architecture="cnn_bilstm",
        input_size=32,
        clip_length=4,
        crop=CropSpec(size=64, margin=1.3),
        temperature=2.0,
    )
    directory = tmp_path_factory.mktemp("clip_weights")
    save_detector(make_tiny_clip_model(), spec, directory)
    return directory / "tiny_clip.json"


@pytest.fixture(scope="module")
def frame_detector_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random lite0 at 32 px; temperature 4 keeps its probabilities apart from frame to frame."""
    torch.manual_seed(0)
    model = build_model("efficientnet_lite0", num_outputs=1).eval()
    spec = DetectorSpec(
        name="tiny_frame",
        architecture="efficientnet_lite0",
        input_size=32,
        crop=CropSpec(size=64, margin=1.3),
        temperature=4.0,
    )
    directory = tmp_path_factory.mktemp("frame_weights")
    save_detector(model, spec, directory)
    return directory / "tiny_frame.json"


@pytest.fixture(scope="module")
def face_detector() -> FaceDetector:
    return create_face_detector("mtcnn")


def _track_crops(
    path: Path, spec: DetectorSpec, face_detector: FaceDetector, frames: int
) -> list[list[np.ndarray]]:
    """Each person's crops in time order, cut as the pipeline cuts them."""
    scan = scan_faces(path, face_detector, spec.crop, PipelineOptions(frames=frames))
    keys = {id(face): (o, k) for o, _, faces in scan.sampled for k, face in enumerate(faces)}
    return [[scan.crops[keys[id(obs.face)]] for obs in t.observations] for t in scan.tracking.tracks]


def test_video_report_with_a_clip_detector(
    media_dir: Path, clip_detector_path: Path, face_detector: FaceDetector
) -> None:
    detector = create_detector(clip_detector_path, device="cpu")
    report = Pipeline(detector, face_detector).analyze(media_dir / "face clip.mp4", PipelineOptions(frames=8))
    assert report.detector == "tiny_clip" and len(report.weights_sha256) == 64
    assert len(report.people) == 1 and 0.0 <= report.fake_probability <= 1.0
    scores = report.people[0].frame_scores
    assert len(scores) == 8 and [s.timestamp for s in scores] == sorted(s.timestamp for s in scores)
    (track,) = _track_crops(media_dir / "face clip.mp4", detector.spec, face_detector, 8)
    (expected,) = detector.predict_tracks([track], batch_size=CPU_BATCH)
    assert [s.fake_probability for s in scores] == [round(float(p), 4) for p in expected]


def test_clip_detector_on_two_people_an_image_and_one_frame(
    media_dir: Path, clip_detector_path: Path
) -> None:
    two = facetrust.analyze(
        media_dir / "two people.mp4", frames=10, detector=str(clip_detector_path), device="cpu"
    )
    assert len(two.people) == 2 and all(len(p.frame_scores) == 10 for p in two.people)
    for name in ("astronaut photo ü.jpg", "one frame.mp4"):
        report = facetrust.analyze(media_dir / name, detector=str(clip_detector_path), device="cpu")
        assert len(report.people) == 1 and len(report.people[0].frame_scores) == 1
        assert 0.0 <= report.fake_probability <= 1.0


def test_frame_detector_numbers_are_those_of_scoring_all_crops_at_once(
    media_dir: Path, frame_detector_path: Path, face_detector: FaceDetector
) -> None:
    detector = create_detector(frame_detector_path, device="cpu")
    report = Pipeline(detector, face_detector).analyze(
        media_dir / "two people.mp4", PipelineOptions(frames=10)
    )
    tracks = _track_crops(media_dir / "two people.mp4", detector.spec, face_detector, 10)
    flat = detector.predict_proba([c for t in tracks for c in t], batch_size=CPU_BATCH)
    assert np.ptp(flat) > 1e-3
    got = [s.fake_probability for p in report.people for s in p.frame_scores]
    assert got == [round(float(p), 4) for p in flat]


def test_in_a_max_ensemble_the_clip_member_abstains_on_a_photo_and_speaks_on_a_video(
    media_dir: Path, clip_detector_path: Path, frame_detector_path: Path, tmp_path: Path
) -> None:
    from facetrust.models.ensemble import EnsembleSpec, save_ensemble

    spec = EnsembleSpec("frame_and_temporal", (str(frame_detector_path), str(clip_detector_path)), method="max",
                        coef=(1.0, 1.0), offsets=(0.0, 0.0), roles=("frame", "temporal"))
    path = save_ensemble(spec, tmp_path)
    photo = facetrust.analyze(media_dir / "astronaut photo ü.jpg", detector=str(path), device="cpu")
    (person,) = photo.people
    assert [m.member for m in person.members] == ["tiny_frame"]  # the temporal member said nothing
    # coef 1, offset 0: the ensemble's answer is the frame member's own
    assert photo.fake_probability == pytest.approx(person.members[0].fake_probability, abs=1e-4)
    video = facetrust.analyze(media_dir / "face clip.mp4", frames=8, detector=str(path), device="cpu")
    assert [m.member for m in video.people[0].members] == ["tiny_frame", "tiny_clip"]
    assert all(np.isfinite(m.fake_probability) for m in video.people[0].members)
