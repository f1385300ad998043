"""Square margin crops, border handling, anti-aliasing and eye alignment."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facetrust.errors import ConfigError, InputError
from facetrust.faces import MtcnnDetector, crop_face, crop_matrix, transform_points
from facetrust.types import CropSpec, FaceBox


def _square_image() -> np.ndarray:
    image = np.zeros((200, 200, 3), np.uint8)
    image[80:120, 80:120] = 255  # a 40 px white square centred at pixel 99.5
    return image


def test_centred_box_gives_the_expected_scale() -> None:
    face = FaceBox(box=(79.5, 79.5, 119.5, 119.5), score=1.0)  # pixel-centre coordinates of the square
    crop = crop_face(_square_image(), face, CropSpec(size=100, margin=2.0))
    assert crop.shape == (100, 100, 3) and crop.dtype == np.uint8
    # crop side = 2 * 40 px, so the square fills the middle 50 x 50 pixels
    white = crop[..., 0] > 127
    ys, xs = np.nonzero(white)
    assert white.sum() == pytest.approx(50 * 50, rel=0.05)
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == pytest.approx((25, 74, 25, 74), abs=1)


def test_crop_matrix_maps_the_box_onto_the_crop() -> None:
    face = FaceBox(box=(100.0, 50.0, 160.0, 130.0), score=1.0)  # w=60, h=80: side = 1.5 * 80 = 120
    matrix = crop_matrix(face, CropSpec(size=240, margin=1.5))
    assert matrix.shape == (2, 3)
    centre = transform_points(np.array([face.center]), matrix)[0]
    np.testing.assert_allclose(centre, (119.5, 119.5))
    corners = transform_points(np.array([[100.0, 50.0], [160.0, 130.0]]), matrix)
    np.testing.assert_allclose(corners, [[59.5, 39.5], [179.5, 199.5]])  # scale 2, centred


def test_face_at_the_corner_still_gives_a_full_crop() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(50, 256, (120, 160, 3), dtype=np.uint8)
    face = FaceBox(box=(0.0, 0.0, 30.0, 30.0), score=1.0)
    for size in (64, 16):  # enlarging and shrinking paths
        crop = crop_face(image, face, CropSpec(size=size, margin=1.5))
        assert crop.shape == (size, size, 3)
        assert crop.min() >= 50  # outside the frame, edge pixels are repeated: nothing black


def test_face_outside_the_frame_does_not_crash() -> None:
    image = np.full((50, 50, 3), 90, np.uint8)
    crop = crop_face(image, FaceBox(box=(500.0, 500.0, 900.0, 900.0), score=1.0), CropSpec(size=32))
    assert crop.shape == (32, 32, 3) and (crop == 90).all()


def test_shrinking_averages_instead_of_aliasing() -> None:
    stripes = np.zeros((800, 800, 3), np.uint8)
    stripes[:, ::2] = 255  # one-pixel stripes: any sampling without averaging gives black or white
    face = FaceBox(box=(100.0, 100.0, 700.0, 700.0), score=1.0)
    crop = crop_face(stripes, face, CropSpec(size=48, margin=1.0)).astype(float)
    assert abs(crop.mean() - 127.5) < 10
    assert crop.std() < 12


def test_alignment_levels_the_eyes() -> None:
    marks = np.array([[40, 60], [80, 40], [62, 65], [50, 90], [85, 75]], np.float32)  # tilted face
    face = FaceBox(box=(30.0, 30.0, 100.0, 100.0), score=1.0, landmarks=marks)
    aligned = transform_points(marks, crop_matrix(face, CropSpec(size=112, align=True)))
    assert aligned[0, 1] == pytest.approx(aligned[1, 1], abs=1e-6)
    assert aligned[0, 0] < aligned[1, 0]
    # alignment is a rotation: distances scale uniformly
    plain = transform_points(marks, crop_matrix(face, CropSpec(size=112)))
    d = np.linalg.norm
    assert d(aligned[0] - aligned[1]) == pytest.approx(d(plain[0] - plain[1]))
    # box centre stays at the crop centre
    np.testing.assert_allclose(
        transform_points(np.array([face.center]), crop_matrix(face, CropSpec(size=112, align=True)))[0],
        (55.5, 55.5),
    )


def test_align_without_landmarks_is_a_plain_crop() -> None:
    face = FaceBox(box=(30.0, 30.0, 100.0, 100.0), score=1.0)
    np.testing.assert_allclose(
        crop_matrix(face, CropSpec(align=True)), crop_matrix(face, CropSpec(align=False))
    )


def test_aligned_crop_of_a_rotated_real_face(detector: MtcnnDetector, astronaut: np.ndarray) -> None:
    rotation = cv2.getRotationMatrix2D((256.0, 256.0), 25.0, 1.0)  # tilt the head by 25 degrees
    tilted = cv2.warpAffine(astronaut, rotation, (512, 512), borderMode=cv2.BORDER_REFLECT)
    (face,) = detector.detect([tilted])[0]
    assert face.landmarks is not None
    eyes = face.landmarks[:2]
    assert abs(eyes[1, 1] - eyes[0, 1]) > 10  # visibly tilted in the frame
    spec = CropSpec(size=128, align=True)
    crop = crop_face(tilted, face, spec)
    assert crop.shape == (128, 128, 3)
    level = transform_points(eyes, crop_matrix(face, spec))
    assert abs(level[1, 1] - level[0, 1]) < 1e-6 and level[0, 0] < level[1, 0]
    # the detector agrees: in the aligned crop the eyes are level
    (again,) = detector.detect([crop])[0]
    assert again.landmarks is not None
    assert abs(again.landmarks[1, 1] - again.landmarks[0, 1]) < 4


def test_transform_points() -> None:
    points = np.array([[0.0, 0.0], [1.0, 2.0]])
    shift = np.array([[1.0, 0.0, 5.0], [0.0, 1.0, -3.0]])
    np.testing.assert_allclose(transform_points(points, shift), [[5.0, -3.0], [6.0, -1.0]])
    assert transform_points(np.empty((0, 2)), shift).shape == (0, 2)
    with pytest.raises(InputError):
        transform_points(points, np.eye(3))


def test_bad_specs_and_boxes() -> None:
    face = FaceBox(box=(0.0, 0.0, 10.0, 10.0), score=1.0)
    with pytest.raises(ConfigError):
        crop_matrix(face, CropSpec(size=0))
    with pytest.raises(ConfigError):
        crop_matrix(face, CropSpec(margin=0.0))
    with pytest.raises(InputError):
        crop_matrix(FaceBox(box=(5.0, 5.0, 5.0, 5.0), score=1.0), CropSpec())
    with pytest.raises(InputError):
        crop_face(np.zeros((0, 0, 3), np.uint8), face, CropSpec())
