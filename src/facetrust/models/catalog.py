"""The detector catalogue: the bundled weights folder, aliases, listing and resolving detector names.

Torch-free (specs and ensemble files are JSON), so every engine, torch or ONNX, resolves names the same way.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from facetrust.errors import UnknownNameError, WeightsError
from facetrust.models.ensemble import is_ensemble_file, read_ensemble
from facetrust.models.specs import read_spec, spec_paths
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



@dataclass(frozen=True)
class DetectorInfo:
    """One row of :func:`list_detectors`."""

    name: str
    architecture: str
    input_size: int
    bundled: bool
    description: str
    sha256: str | None


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


__all__ = [
    "BUNDLED_WEIGHTS_DIR",
    "DEFAULT_DETECTOR",
    "DETECTOR_ALIASES",
    "TRAIN_COMMAND",
    "DetectorInfo",
    "list_detectors",
    "resolve_detector",
]
