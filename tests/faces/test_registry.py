"""Face-detector registry, factory, package surface and the YuNet backend's offline-testable parts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import facetrust.faces as faces_pkg
from facetrust.errors import ConfigError, DependencyError, InputError, UnknownNameError
from facetrust.faces import (
    FaceDetector,
    MtcnnDetector,
    YunetDetector,
    create_face_detector,
    list_face_detectors,
    yunet_landmarks,
)


def test_registered_detectors() -> None:
    assert {"mtcnn", "yunet"} <= set(list_face_detectors())


def test_default_detector_is_mtcnn() -> None:
    detector = create_face_detector()
    assert isinstance(detector, MtcnnDetector)
    assert isinstance(detector, FaceDetector)
    assert detector.name == "mtcnn"


def test_factory_passes_settings() -> None:
    detector = create_face_detector("mtcnn", min_face_size=40, max_side=None)
    assert detector.min_face_size == 40 and detector.max_side is None


def test_unknown_setting_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="min_face"):
        create_face_detector("mtcnn", min_face=40)
    with pytest.raises(ConfigError):
        create_face_detector("yunet")  # model_path is required


def test_unknown_name_suggests_close_matches() -> None:
    with pytest.raises(UnknownNameError, match="'mtcnn'") as info:
        create_face_detector("mtcnnn")
    assert info.value.close_matches[0] == "mtcnn"
    assert isinstance(info.value, KeyError)


def test_yunet_without_model_file(tmp_path: Path) -> None:
    missing = tmp_path / "face_detection_yunet_2023mar.onnx"
    with pytest.raises(DependencyError, match="not found"):
        create_face_detector("yunet", model_path=missing)


def test_yunet_with_unreadable_model_file(tmp_path: Path) -> None:
    junk = tmp_path / "yunet.onnx"
    junk.write_bytes(b"not an onnx model")
    with pytest.raises(DependencyError, match="cannot load"):
        YunetDetector(junk)


def test_yunet_landmarks_in_our_order() -> None:
    # A frontal face as YuNet reports it: x, y, w, h, then the subject's right eye (image left), left eye,
    # nose tip, right mouth corner (image left), left mouth corner, then the score.
    row = np.array([[100, 100, 80, 100, 120, 130, 160, 131, 140, 155, 125, 175, 158, 176, 0.97]], np.float32)
    marks = yunet_landmarks(row)
    assert marks.shape == (1, 5, 2) and marks.dtype == np.float32
    np.testing.assert_array_equal(marks[0], [[120, 130], [160, 131], [140, 155], [125, 175], [158, 176]])
    left_eye, right_eye, _, left_mouth, right_mouth = marks[0]
    assert left_eye[0] < right_eye[0] and left_mouth[0] < right_mouth[0]
    np.testing.assert_array_equal(yunet_landmarks(row[:, 4:14]), marks)
    with pytest.raises(InputError):
        yunet_landmarks(np.zeros((1, 7)))


def test_package_exports() -> None:
    public = {name for name in dir(faces_pkg) if not name.startswith("_")}
    assert set(faces_pkg.__all__) <= public
    assert {"crop_face", "crop_matrix", "transform_points", "link_tracks", "FACE_DETECTORS"} <= set(
        faces_pkg.__all__
    )
