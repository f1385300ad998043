"""Scoring stage: run a detector model over face crops in batches and return fake logits/probabilities."""

from facetrust.scoring.runner import (
    ClipScoreRunner,
    Crops,
    ScoreRunner,
    clip_windows,
    logits_to_probabilities,
    resize_crop,
    select_device,
)

__all__ = [
    "ClipScoreRunner",
    "Crops",
    "ScoreRunner",
    "clip_windows",
    "logits_to_probabilities",
    "resize_crop",
    "select_device",
]
