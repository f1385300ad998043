"""Scoring stage: run a detector model over face crops in batches and return fake logits/probabilities.

``facetrust.scoring.crops`` (checks, resizing, logits → probabilities) is torch-free and shared with the
ONNX engine; the torch runners load on first use."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from facetrust.scoring.crops import Crops, logits_to_probabilities, resize_crop

if TYPE_CHECKING:
    from facetrust.scoring.runner import ClipScoreRunner, ScoreRunner, clip_windows, select_device

_LAZY = ("ClipScoreRunner", "ScoreRunner", "clip_windows", "select_device")


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'facetrust.scoring' has no attribute {name!r}")
    value = getattr(importlib.import_module("facetrust.scoring.runner"), name)
    globals()[name] = value
    return value


__all__ = [
    "ClipScoreRunner",
    "Crops",
    "ScoreRunner",
    "clip_windows",
    "logits_to_probabilities",
    "resize_crop",
    "select_device",
]
