"""Optional YuNet face detector through OpenCV's ``cv2.FaceDetectorYN``.

The model file (``face_detection_yunet_*.onnx`` from the OpenCV Zoo, MIT) is not shipped with facetrust:
pass its path. Note that OpenCV 5's new ONNX engine needs a YuNet export with dynamic input shapes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from facetrust.errors import ConfigError, DependencyError, InputError
from facetrust.faces.base import FACE_DETECTORS, check_images
from facetrust.types import FaceBox

logger = logging.getLogger(__name__)

# YuNet's columns 4..13 hold, per OpenCV's documentation, the subject's right eye, left eye, nose tip,
# right mouth corner and left mouth corner. The subject's right is on the image's left (OpenCV's own
# FaceRecognizerSF.alignCrop maps YuNet's first point onto the ArcFace template's image-left eye), so
# YuNet's order already is ours (left eye, right eye, nose, left mouth, right mouth as seen in the image).
# Kept as an explicit permutation so the mapping is stated, and tested, in one place.
YUNET_TO_FACETRUST = (0, 1, 2, 3, 4)


def yunet_landmarks(rows: np.ndarray) -> np.ndarray:
    """Landmarks of YuNet output rows (``(N, 15)``, or just the ``(N, 10)`` landmark columns) as
    ``(N, 5, 2)`` float32 in facetrust's order."""
    rows = np.asarray(rows, np.float32)
    if rows.ndim != 2 or rows.shape[1] not in (10, 15):
        raise InputError(f"expected (N, 15) YuNet rows or (N, 10) landmark columns, got {rows.shape}")
    marks = rows[:, 4:14] if rows.shape[1] == 15 else rows
    return marks.reshape(-1, 5, 2)[:, list(YUNET_TO_FACETRUST)].copy()


@FACE_DETECTORS.register("yunet")
class YunetDetector:
    """YuNet (Wu et al., 2023) through OpenCV; fast, good on small faces; needs a model file."""

    name = "yunet"

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        score_threshold: float = 0.8,
        nms_threshold: float = 0.3,
        top_k: int = 5000,
    ) -> None:
        if not 0.0 <= score_threshold <= 1.0 or not 0.0 <= nms_threshold <= 1.0 or top_k < 1:
            raise ConfigError(
                f"bad YuNet settings: score_threshold={score_threshold}, nms_threshold={nms_threshold}, top_k={top_k}"
            )
        path = Path(model_path)
        if not path.is_file():
            raise DependencyError(
                f"YuNet model file not found: {path}. Get face_detection_yunet_2023mar.onnx from the OpenCV Zoo "
                "(opencv/opencv_zoo, models/face_detection_yunet) and pass its path, or use the 'mtcnn' detector."
            )
        self.model_path = path
        self.score_threshold = float(score_threshold)
        try:
            self._net = cv2.FaceDetectorYN.create(
                str(path), "", (320, 320), self.score_threshold, float(nms_threshold), int(top_k)
            )
        except cv2.error as exc:
            raise DependencyError(f"OpenCV cannot load the YuNet model {path}: {exc}") from exc

    def __repr__(self) -> str:
        return f"YunetDetector(model_path={str(self.model_path)!r}, score_threshold={self.score_threshold})"

    def detect(self, images: Sequence[np.ndarray]) -> list[list[FaceBox]]:
        """Detect faces in each RGB uint8 image; one list per image, sorted by score (highest first)."""
        images = list(images)
        check_images(images)
        results: list[list[FaceBox]] = []
        for image in images:
            h, w = image.shape[:2]
            if h == 0 or w == 0:
                results.append([])
                continue
            self._net.setInputSize((w, h))
            _, rows = self._net.detect(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            results.append(_to_faces(rows, w, h))
        return results


def _to_faces(rows: np.ndarray | None, width: int, height: int) -> list[FaceBox]:
    if rows is None or len(rows) == 0:
        return []
    rows = np.asarray(rows, np.float32).reshape(-1, 15)
    marks = yunet_landmarks(rows)
    faces = []
    for row, lm in zip(rows, marks, strict=True):
        x, y, bw, bh = (float(v) for v in row[:4])
        box = (max(x, 0.0), max(y, 0.0), min(x + bw, float(width)), min(y + bh, float(height)))
        if box[2] > box[0] and box[3] > box[1]:
            faces.append(FaceBox(box=box, score=float(np.clip(row[14], 0.0, 1.0)), landmarks=lm))
    faces.sort(key=lambda f: f.score, reverse=True)
    return faces


__all__ = ["YUNET_TO_FACETRUST", "YunetDetector", "yunet_landmarks"]
