"""Scoring stage: run a detector model over face crops in batches and return fake logits/probabilities."""

from facetrust.scoring.runner import Crops, ScoreRunner, logits_to_probabilities, resize_crop, select_device

__all__ = ["Crops", "ScoreRunner", "logits_to_probabilities", "resize_crop", "select_device"]
