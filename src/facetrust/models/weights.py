"""Detector files: ``<name>.safetensors`` (the weights) beside ``<name>.json`` (the :class:`DetectorSpec`).

Weights are only ever read with safetensors (no pickle, so a weights file cannot run code) and only after
their sha256 matches the one recorded in the spec. Loading is strict: every tensor must match the
architecture in name and shape.
"""


from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import safetensors.torch
import torch
from safetensors import SafetensorError
from torch import nn

from facetrust.errors import UnknownNameError, WeightsError
from facetrust.models.architectures import ARCHITECTURES
from facetrust.models.specs import (
    SPEC_SUFFIX,
    check_spec,
    read_spec,
    sha256_file,
    spec_from_dict,
    spec_paths,
    spec_to_json,
)
from facetrust.types import DetectorSpec

logger = logging.getLogger(__name__)

WEIGHTS_SUFFIX = ".safetensors"


def _shorten(items: list[str], limit: int = 8) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", … (+{len(items) - limit} more)" if len(items) > limit else "")


def state_dict_mismatches(
    expected: Mapping[str, torch.Tensor], given: Mapping[str, torch.Tensor]
) -> list[str]:
    """Describe how ``given`` differs from ``expected`` (missing keys, unexpected keys, wrong shapes).

    Returns one human-readable line per kind of problem; an empty list means a strict load will succeed.
    """
    missing = [k for k in expected if k not in given]
    unexpected = [k for k in given if k not in expected]
    shapes = [
        f"{k} {tuple(given[k].shape)} != {tuple(expected[k].shape)}"
        for k in expected
        if k in given and tuple(given[k].shape) != tuple(expected[k].shape)
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing: {_shorten(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected: {_shorten(unexpected)}")
    if shapes:
        problems.append(f"{len(shapes)} with the wrong shape (given != expected): {_shorten(shapes)}")
    return problems


def _atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp_path)`` then move the result over ``path`` so readers never see half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _build(spec: DetectorSpec, *, meta: bool = False) -> nn.Module:
    builder = ARCHITECTURES.get(spec.architecture)
    if meta:  # shapes only, no memory, no init cost
        with torch.device("meta"):
            return builder(num_outputs=spec.num_outputs)
    return builder(num_outputs=spec.num_outputs)


def save_detector(
    model: nn.Module, spec: DetectorSpec, directory: Path, *, half: bool = True
) -> DetectorSpec:
    """Write ``<spec.name>.safetensors`` (fp16 floats if ``half``) and ``<spec.name>.json`` into ``directory``.

    The model must fit ``ARCHITECTURES[spec.architecture](num_outputs=spec.num_outputs)`` exactly (checked
    here, so a file that cannot be loaded back is never written). Returns the spec with ``weights_file``
    and ``sha256`` filled in.
    """
    spec = check_spec(spec)
    reference = _build(spec, meta=True)  # UnknownNameError for an unregistered architecture
    state = {k: v.detach() for k, v in model.state_dict().items()}
    mismatches = state_dict_mismatches(reference.state_dict(), state)
    if mismatches:
        raise WeightsError(
            f"model does not fit {spec.architecture} with num_outputs={spec.num_outputs}: {'; '.join(mismatches)}"
        )
    tensors = {
        k: (v.to(torch.float16) if half and v.is_floating_point() else v).to("cpu").contiguous()
        for k, v in state.items()
    }
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights_path = directory / f"{spec.name}{WEIGHTS_SUFFIX}"
    # One metadata key only: safetensors writes metadata in hash-map order, and more keys would make the
    # bytes (hence the sha256) differ between two saves of the same model. The spec JSON holds the rest.
    metadata = {"format": "pt"}
    _atomic_write(weights_path, lambda tmp: safetensors.torch.save_file(tensors, str(tmp), metadata=metadata))
    filled = dataclasses.replace(spec, weights_file=weights_path.name, sha256=sha256_file(weights_path))
    text = spec_to_json(filled)
    _atomic_write(directory / f"{spec.name}{SPEC_SUFFIX}", lambda tmp: tmp.write_text(text, encoding="utf-8"))
    logger.info(
        "saved detector %s (%s, %s) to %s",
        spec.name,
        spec.architecture,
        "fp16" if half else "fp32",
        directory,
    )
    return filled


def load_detector_files(spec_path: Path) -> tuple[nn.Module, DetectorSpec]:
    """Load a detector from its spec JSON and the safetensors file beside it (checksum verified, strict).

    Returns the model (float32, eval mode, on the CPU) and its spec. Any problem → :class:`WeightsError`.
    """
    spec_path = Path(spec_path)
    spec = read_spec(spec_path)
    if not spec.weights_file:
        raise WeightsError(f"detector spec {spec_path} names no weights_file")
    if not spec.weights_file.endswith(WEIGHTS_SUFFIX):
        raise WeightsError(
            f"detector spec {spec_path}: weights_file {spec.weights_file!r} is not a {WEIGHTS_SUFFIX} file; "
            "facetrust loads detector weights only from safetensors (never pickle-based .pth/.pt/.bin)"
        )
    weights_path = spec_path.parent / spec.weights_file
    if not weights_path.is_file():
        raise WeightsError(f"missing weights file {weights_path} (named by {spec_path})")
    try:
        data = weights_path.read_bytes()  # hash and parse the same bytes
    except OSError as exc:
        raise WeightsError(f"cannot read weights file {weights_path}: {exc}") from exc
    actual = hashlib.sha256(data).hexdigest()
    if spec.sha256 is None:
        raise WeightsError(
            f"detector spec {spec_path} records no sha256, so {weights_path.name} cannot be verified; "
            "specs written by save_detector always carry one"
        )
    if actual.lower() != spec.sha256.lower():
        raise WeightsError(
            f"checksum mismatch for {weights_path}: expected sha256 {spec.sha256}, got {actual}. "
            "The file is corrupt or was altered; restore or re-create it (do not edit the spec to match)."
        )
    try:
        tensors = safetensors.torch.load(data)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise WeightsError(f"cannot parse safetensors file {weights_path}: {exc}") from exc
    state = {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}
    try:
        model = _build(spec)
    except UnknownNameError as exc:
        raise WeightsError(f"detector spec {spec_path} names an unknown architecture: {exc}") from exc
    mismatches = state_dict_mismatches(model.state_dict(), state)
    if mismatches:
        raise WeightsError(
            f"weights {weights_path.name} do not fit {spec.architecture} "
            f"(num_outputs={spec.num_outputs}): {'; '.join(mismatches)}"
        )
    model.load_state_dict(state, strict=True)
    model.eval()
    logger.debug("loaded detector %s from %s (sha256 %s)", spec.name, weights_path, actual[:12])
    return model, spec


__all__ = [
    "check_spec",
    "load_detector_files",
    "read_spec",
    "save_detector",
    "sha256_file",
    "spec_from_dict",
    "spec_paths",
    "spec_to_json",
    "state_dict_mismatches",
]
