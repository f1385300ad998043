"""Square face crops with a margin, optionally rotated so the eyes are level.

Coordinates follow OpenCV's ``warpAffine`` convention: pixel ``(i, j)`` of an image sits at ``x = j,
y = i``. A matrix from :func:`crop_matrix` maps frame coordinates to crop coordinates, so
``transform_points(face.landmarks, crop_matrix(face, spec))`` gives the landmarks in the crop.
"""

from __future__ import annotations

import logging
import math

import cv2
import numpy as np

from facetrust.errors import ConfigError, InputError
from facetrust.types import CropSpec, FaceBox

logger = logging.getLogger(__name__)

_SHRINK_PREFILTER = 0.8  # below this scale, shrink with INTER_AREA before the warp


def crop_matrix(face: FaceBox, spec: CropSpec) -> np.ndarray:
    """The 2x3 affine matrix mapping frame pixels to the ``spec.size`` square crop of ``face``.

    The crop is a square of side ``spec.margin * max(w, h)`` centred on the box. With ``spec.align`` and
    landmarks present, it is also rotated about the box centre so that the eyes (landmarks 0 and 1) are
    level, left eye on the left.
    """
    if spec.size < 1 or not spec.margin > 0:
        raise ConfigError(
            f"crop size must be >= 1 and margin > 0, got size={spec.size}, margin={spec.margin}"
        )
    x1, y1, x2, y2 = face.box
    side = spec.margin * max(x2 - x1, y2 - y1)
    if not side > 0 or not math.isfinite(side):
        raise InputError(f"cannot crop a face with an empty box {face.box}")
    cx, cy = face.center
    scale = spec.size / side
    cos, sin = scale, 0.0
    if spec.align and face.landmarks is not None:
        (lx, ly), (rx, ry) = np.asarray(face.landmarks, np.float64)[:2]
        angle = math.atan2(ry - ly, rx - lx)  # eye line, radians, y pointing down
        cos, sin = scale * math.cos(angle), scale * math.sin(angle)
    # p' = s * R(-angle) @ (p - c) + half: the box centre c lands on the crop's centre pixel coordinate.
    half = spec.size / 2 - 0.5
    return np.array(
        [
            [cos, sin, half - cos * cx - sin * cy],
            [-sin, cos, half + sin * cx - cos * cy],
        ],
        dtype=np.float64,
    )


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Map ``(K, 2)`` points with a 2x3 affine ``matrix``; returns float64 ``(K, 2)``."""
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    m = np.asarray(matrix, np.float64)
    if m.shape != (2, 3):
        raise InputError(f"expected a 2x3 affine matrix, got shape {m.shape}")
    return pts @ m[:, :2].T + m[:, 2]


def crop_face(image: np.ndarray, face: FaceBox, spec: CropSpec) -> np.ndarray:
    """Cut ``face`` out of an RGB ``image`` as a ``(spec.size, spec.size, 3)`` uint8 crop.

    Parts of the square outside the frame repeat the edge pixels, so a face at the border still gives a
    full crop. When the crop shrinks the face, the region is first reduced with area averaging, so the
    result does not alias.
    """
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[0] == 0 or image.shape[1] == 0:
        raise InputError(f"expected a non-empty (H, W, C) image, got {getattr(image, 'shape', type(image))}")
    if min(image.strides) < 0:
        image = np.ascontiguousarray(image)  # older OpenCV builds refuse negative strides
    matrix = crop_matrix(face, spec)
    scale = math.sqrt(abs(np.linalg.det(matrix[:, :2])))
    size = (spec.size, spec.size)
    if scale < _SHRINK_PREFILTER:
        reduced = _prefilter(image, matrix, spec.size, scale)
        if reduced is not None:
            image, matrix = reduced
    return cv2.warpAffine(image, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _prefilter(
    image: np.ndarray, matrix: np.ndarray, size: int, scale: float
) -> tuple[np.ndarray, np.ndarray] | None:
    """Area-shrink the part of ``image`` the crop covers to about the crop's scale.

    Returns the reduced region and the matrix mapping its pixels to the crop, or None when the crop does
    not overlap the frame (then there is nothing to filter).
    """
    h, w = image.shape[:2]
    inverse = cv2.invertAffineTransform(matrix)
    corners = transform_points(
        np.array([[0, 0], [size, 0], [0, size], [size, size]], np.float64) - 0.5, inverse
    )
    x0, y0 = np.floor(corners.min(axis=0)).astype(int) - 1
    x1, y1 = np.ceil(corners.max(axis=0)).astype(int) + 2
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    region = image[y0:y1, x0:x1]
    rw, rh = max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale))
    small = cv2.resize(region, (rw, rh), interpolation=cv2.INTER_AREA)
    sx, sy = rw / (x1 - x0), rh / (y1 - y0)
    # small pixel q relates to frame pixel p by q = s * (p - origin + 0.5) - 0.5 (pixel-centre convention)
    to_small = np.array([[sx, 0.0, sx * (0.5 - x0) - 0.5], [0.0, sy, sy * (0.5 - y0) - 0.5]])
    from_small = cv2.invertAffineTransform(to_small)
    combined = matrix[:, :2] @ from_small[:, :2]
    offset = matrix[:, :2] @ from_small[:, 2] + matrix[:, 2]
    return small, np.hstack([combined, offset[:, None]])


__all__ = ["crop_face", "crop_matrix", "transform_points"]
