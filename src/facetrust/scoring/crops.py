"""Face crops as every engine takes them: checks, resizing and the logit-to-probability map (no torch)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from facetrust.errors import InputError

Crops = np.ndarray | Sequence[np.ndarray]


def as_crop_list(crops: Crops) -> list[np.ndarray]:
    if isinstance(crops, np.ndarray):
        if crops.ndim != 4:
            raise InputError(
                f"crops must be an (N, H, W, 3) array or a sequence of (H, W, 3) arrays, got shape {crops.shape}"
                + ("; wrap a single crop as crops[None]" if crops.ndim == 3 else "")
            )
        return list(crops)
    return list(crops)


def check_crop(crop: np.ndarray, index: int) -> None:
    if not isinstance(crop, np.ndarray):
        raise InputError(f"crop {index} is a {type(crop).__name__}, expected a numpy array")
    if crop.dtype != np.uint8:
        raise InputError(f"crop {index} has dtype {crop.dtype}, expected uint8 RGB in [0, 255]")
    if crop.ndim != 3 or crop.shape[2] != 3 or crop.shape[0] < 1 or crop.shape[1] < 1:
        raise InputError(f"crop {index} has shape {crop.shape}, expected (H, W, 3) RGB")


def resize_crop(crop: np.ndarray, size: int) -> np.ndarray:
    """Resize a uint8 crop to ``size`` x ``size``: INTER_AREA when shrinking both sides, LINEAR otherwise."""
    h, w = crop.shape[:2]
    if (h, w) == (size, size):
        return crop
    interpolation = cv2.INTER_AREA if h >= size and w >= size else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(crop), (size, size), interpolation=interpolation)


def logits_to_probabilities(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """``sigmoid(logits / temperature)``, computed stably in float64, returned as float32."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out.astype(np.float32)


def track_lists(tracks: Sequence[Crops]) -> list[list[np.ndarray]]:
    """Each track as a list of checked crops; a bad crop → :class:`InputError` naming track and index."""
    lists = [as_crop_list(track) for track in tracks]
    for t, items in enumerate(lists):
        for i, crop in enumerate(items):
            try:
                check_crop(crop, i)
            except InputError as exc:
                raise InputError(f"track {t}: {exc}") from exc
    return lists


__all__ = ["Crops", "as_crop_list", "check_crop", "logits_to_probabilities", "resize_crop", "track_lists"]
