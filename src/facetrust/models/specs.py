"""Detector specs: the ``<name>.json`` beside a detector's weights, read and checked without torch.

Everything here is pure Python + numpy so that inference engines that never import torch (the ONNX
runtime of :mod:`facetrust.engine`) read, validate and list specs exactly as training writes them.
:mod:`facetrust.models.weights` adds the torch side: saving and loading the safetensors weights.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from facetrust.errors import ConfigError, WeightsError
from facetrust.types import CropSpec, DetectorSpec

logger = logging.getLogger(__name__)

SPEC_SUFFIX = ".json"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_SPEC_FIELDS = {f.name for f in dataclasses.fields(DetectorSpec)}
_CROP_FIELDS = {f.name for f in dataclasses.fields(CropSpec)}
_REQUIRED = ("name", "architecture")


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()



# ------------------------------------------------------------------------------------------- validation


def _spec_problems(spec: DetectorSpec) -> list[str]:
    problems = []
    if not isinstance(spec.name, str) or not _SAFE_NAME.match(spec.name):
        problems.append(f"name {spec.name!r} must be a plain file name (letters, digits, '.', '_', '-')")
    if not isinstance(spec.architecture, str) or not spec.architecture:
        problems.append("architecture must be a non-empty string")
    if spec.input_size < 8:
        problems.append(f"input_size must be >= 8, got {spec.input_size}")
    problems += _clip_problems(spec)
    if len(spec.mean) != 3 or len(spec.std) != 3:
        problems.append("mean and std must have 3 values (R, G, B)")
    elif any(s <= 0 for s in spec.std):
        problems.append(f"std must be positive, got {spec.std}")
    if spec.crop.size < 8 or spec.crop.margin <= 0:
        problems.append(f"crop size must be >= 8 and margin > 0, got {spec.crop}")
    if not 0.0 < spec.threshold < 1.0:
        problems.append(f"threshold must lie strictly between 0 and 1, got {spec.threshold}")
    low, high = spec.uncertain_band
    if not 0.0 <= low <= spec.threshold <= high <= 1.0:
        problems.append(
            f"uncertain_band must satisfy 0 <= low <= threshold <= high <= 1, got {spec.uncertain_band} "
            f"with threshold {spec.threshold}"
        )
    if (spec.track_threshold is None) != (spec.track_uncertain_band is None):
        problems.append("track_threshold and track_uncertain_band must be given together")
    elif spec.track_threshold is not None and spec.track_uncertain_band is not None:
        t_low, t_high = spec.track_uncertain_band
        if not 0.0 < spec.track_threshold < 1.0 or not 0.0 <= t_low <= spec.track_threshold <= t_high <= 1.0:
            problems.append(
                f"track rule must satisfy 0 <= low <= threshold <= high <= 1 with 0 < threshold < 1, got "
                f"{spec.track_threshold} and {spec.track_uncertain_band}"
            )
    if spec.track_min_frames < 2:
        problems.append(f"track_min_frames must be >= 2, got {spec.track_min_frames}")
    if spec.num_outputs not in (1, 2):
        problems.append(f"num_outputs must be 1 (sigmoid) or 2 (softmax), got {spec.num_outputs}")
    elif not 0 <= spec.fake_index < spec.num_outputs:
        problems.append(f"fake_index must be in [0, {spec.num_outputs}), got {spec.fake_index}")
    if not spec.temperature > 0:
        problems.append(f"temperature must be > 0, got {spec.temperature}")
    if spec.weights_file is not None and Path(spec.weights_file).name != spec.weights_file:
        problems.append(f"weights_file must be a file name beside the spec, got {spec.weights_file!r}")
    if spec.sha256 is not None and not _SHA256.match(spec.sha256):
        problems.append(f"sha256 must be 64 hex digits, got {spec.sha256!r}")
    return problems


def _clip_problems(spec: DetectorSpec) -> list[str]:
    """``clip_length`` must be >= 1 when set, and set exactly when the architecture takes clips."""
    if spec.clip_length is not None and spec.clip_length < 1:
        return [f"clip_length must be >= 1 (frames per window) or null (frame model), got {spec.clip_length}"]
    if "torch" not in sys.modules and spec.clip_length is None:
        return []  # a frame spec read by a torch-free engine: the engine checks the exported graph's input
    from facetrust.models.architectures import ARCHITECTURES, architecture_info  # the registry imports torch

    if spec.architecture not in ARCHITECTURES:  # unknown architectures are reported when building
        return []
    kind = architecture_info(spec.architecture).input
    if kind == "clip" and spec.clip_length is None:
        return [
            f"architecture {spec.architecture!r} is a clip model (input (B, T, 3, H, W)) but clip_length is "
            "null; set clip_length to the number of consecutive frames T it scores at once"
        ]
    if kind == "frame" and spec.clip_length is not None:
        return [
            f"architecture {spec.architecture!r} is a frame model (input (B, 3, H, W)) but clip_length is "
            f"{spec.clip_length}; clip_length must be null for frame models"
        ]
    return []


def _int(value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{key} must be an integer, got {value!r}")
    return value


def _float(value: object, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{key} must be a number, got {value!r}")
    return float(value)


def _floats(value: object, key: str, n: int) -> tuple[float, ...]:
    if not isinstance(value, list | tuple) or len(value) != n:
        raise TypeError(f"{key} must be a list of {n} numbers, got {value!r}")
    return tuple(_float(v, key) for v in value)


def _str_or_none(value: object, key: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{key} must be a string or null, got {value!r}")
    return value


def _dict(value: object, key: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise TypeError(f"{key} must be an object, got {value!r}")
    return value


def _crop(value: object) -> CropSpec:
    if not isinstance(value, dict):
        raise TypeError(f"crop must be an object, got {value!r}")
    unknown = sorted(set(value) - _CROP_FIELDS)
    if unknown:
        raise TypeError(f"unknown crop keys {unknown}; known: {sorted(_CROP_FIELDS)}")
    kwargs: dict[str, Any] = {}
    if "size" in value:
        kwargs["size"] = _int(value["size"], "crop.size")
    if "margin" in value:
        kwargs["margin"] = _float(value["margin"], "crop.margin")
    if "align" in value:
        if not isinstance(value["align"], bool):
            raise TypeError(f"crop.align must be true or false, got {value['align']!r}")
        kwargs["align"] = value["align"]
    return CropSpec(**kwargs)


_CONVERTERS: dict[str, Callable[[Any], object]] = {
    "name": lambda v: _str_or_none(v, "name"),
    "architecture": lambda v: _str_or_none(v, "architecture"),
    "input_size": lambda v: _int(v, "input_size"),
    "clip_length": lambda v: None if v is None else _int(v, "clip_length"),
    "mean": lambda v: _floats(v, "mean", 3),
    "std": lambda v: _floats(v, "std", 3),
    "crop": _crop,
    "threshold": lambda v: _float(v, "threshold"),
    "uncertain_band": lambda v: _floats(v, "uncertain_band", 2),
    "fake_index": lambda v: _int(v, "fake_index"),
    "num_outputs": lambda v: _int(v, "num_outputs"),
    "temperature": lambda v: _float(v, "temperature"),
    "track_threshold": lambda v: None if v is None else _float(v, "track_threshold"),
    "track_uncertain_band": lambda v: None if v is None else _floats(v, "track_uncertain_band", 2),
    "track_min_frames": lambda v: _int(v, "track_min_frames"),
    "weights_file": lambda v: _str_or_none(v, "weights_file"),
    "sha256": lambda v: _str_or_none(v, "sha256"),
    "license": lambda v: _str_or_none(v, "license"),
    "provenance": lambda v: _dict(v, "provenance"),
}


def spec_from_dict(data: Mapping[str, object], *, source: str = "spec") -> DetectorSpec:
    """Build and validate a :class:`DetectorSpec` from JSON-like data; any problem → :class:`WeightsError`."""
    unknown = sorted(set(data) - _SPEC_FIELDS)
    missing = [k for k in _REQUIRED if data.get(k) in (None, "")]
    if unknown or missing:
        parts = [f"missing required keys {missing}"] if missing else []
        parts += [f"unknown keys {unknown} (known: {', '.join(sorted(_SPEC_FIELDS))})"] if unknown else []
        raise WeightsError(f"invalid detector spec {source}: {'; '.join(parts)}")
    try:
        spec = DetectorSpec(**{key: _CONVERTERS[key](value) for key, value in data.items()})
    except TypeError as exc:
        raise WeightsError(f"invalid detector spec {source}: {exc}") from exc
    problems = _spec_problems(spec)
    if problems:
        raise WeightsError(f"invalid detector spec {source}: {'; '.join(problems)}")
    return spec


# ---------------------------------------------------------------------------------------------- public


def read_spec(path: Path) -> DetectorSpec:
    """Read a detector spec JSON file. Unreadable file, bad JSON, missing/unknown keys → :class:`WeightsError`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise WeightsError(f"detector spec not found: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise WeightsError(f"cannot read detector spec {path}: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise WeightsError(f"detector spec {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise WeightsError(f"detector spec {path} must hold a JSON object, got {type(data).__name__}")
    return spec_from_dict(data, source=str(path))


def spec_to_json(spec: DetectorSpec) -> str:
    """The JSON text :func:`save_detector` writes for ``spec``.

    ``clip_length`` is written only for clip models, so a frame model's spec reads exactly as before the
    key existed (a missing key loads as ``None``).
    """
    data = dataclasses.asdict(spec)
    if data["clip_length"] is None:
        del data["clip_length"]
    try:
        return json.dumps(data, indent=2, allow_nan=False) + "\n"
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"detector spec {spec.name!r} is not JSON-serialisable: {exc}") from exc


def _json_safe(value: object, where: str) -> object:
    """``value`` made strict-JSON: NaN/inf → null, paths and unknown objects → strings (with a warning)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        logger.warning("%s is %r, stored as null (JSON has no NaN/inf)", where, value)
        return None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    tensor = sys.modules.get("torch")
    if isinstance(value, np.generic) or (tensor is not None and isinstance(value, tensor.Tensor)
                                         and value.numel() == 1):
        return _json_safe(value.item(), where)
    logger.warning("%s is a %s, stored as its string", where, type(value).__name__)
    return str(value)


def check_spec(spec: DetectorSpec) -> DetectorSpec:
    """Validate ``spec`` as :func:`save_detector` will (bad values → :class:`ConfigError`).

    Returns the spec with ``provenance`` made strict-JSON (NaN → null, paths → strings), i.e. exactly what
    reading the saved file back gives. Cheap: call it before a long training run.
    """
    provenance = _json_safe(spec.provenance, "provenance")
    if not isinstance(provenance, dict):
        raise ConfigError(f"provenance must be a dict, got {type(spec.provenance).__name__}")
    spec = dataclasses.replace(spec, provenance=provenance)
    try:  # the spec must survive the JSON round trip that loading will do
        return spec_from_dict(json.loads(spec_to_json(spec)), source=f"for {spec.name!r}")
    except WeightsError as exc:
        raise ConfigError(str(exc)) from exc


def spec_paths(directory: Path) -> Iterable[Path]:
    """The ``*.json`` spec files of a weights directory, sorted; nothing if the directory is absent."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    # "<name>.onnx.json" files are graph cards of the ONNX engine, not detector specs
    return sorted(p for p in directory.glob(f"*{SPEC_SUFFIX}") if p.is_file() and not p.name.endswith(".onnx.json"))



__all__ = [
    "SPEC_SUFFIX",
    "check_spec",
    "read_spec",
    "sha256_file",
    "spec_from_dict",
    "spec_paths",
    "spec_to_json",
]
