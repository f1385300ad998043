"""Inference engines: which runtime scores the face crops.

``load_detector(name, runtime=...)`` gives a detector with one interface whatever runs it:

- ``"onnx"``: onnxruntime on the CPU (:mod:`facetrust.engine.onnx`), torch never imported. Every frame
  detector (an ensemble's members too) needs its exported graph; clip models cannot run there.
- ``"torch"``: the PyTorch models of :mod:`facetrust.models` (training, clip models, GPUs, explanations).
- ``"auto"`` (the default of ``detect`` and ``analyze``): onnx when every member has an up-to-date graph
  and no GPU was asked for, else torch (logged, with the reason).

``export_onnx`` (:mod:`facetrust.engine.export`) writes the graphs; it needs torch and ``onnx``.
"""

from __future__ import annotations

import difflib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from facetrust.errors import ConfigError, WeightsError

if TYPE_CHECKING:
    from facetrust.engine.export import ExportedGraph
    from facetrust.engine.onnx import OnnxDetector
    from facetrust.models.ensemble import EnsembleDetector

logger = logging.getLogger(__name__)

RUNTIMES = ("auto", "onnx", "torch")


def check_runtime(runtime: str) -> str:
    """``runtime`` lower-cased, or :class:`ConfigError` with a suggestion."""
    if not isinstance(runtime, str) or runtime.strip().lower() not in RUNTIMES:
        close = difflib.get_close_matches(str(runtime).strip().lower(), RUNTIMES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}{hint}")
    return runtime.strip().lower()


def _wants_gpu(device: object) -> bool:
    return device is not None and str(device).strip().lower() not in ("auto", "cpu")


def onnx_problems(name: str | os.PathLike[str]) -> list[str]:
    """Why ``name`` (a detector or an ensemble) cannot run on onnxruntime; empty when it can."""
    from facetrust.engine.onnx import onnx_problem
    from facetrust.models.catalog import resolve_detector
    from facetrust.models.ensemble import is_ensemble_file, read_ensemble

    problems: list[str] = []

    def visit(path: Path, depth: int) -> None:
        if not is_ensemble_file(path):
            problem = onnx_problem(path)
            if problem:
                problems.append(problem)
            return
        if depth > 3:
            raise WeightsError(f"ensemble {path} nests too deep")
        for member in read_ensemble(path).members:
            visit(_member_path(path.parent, member), depth + 1)

    visit(resolve_detector(name), 0)
    return problems


def _member_path(base: Path, member: str) -> Path:
    """A member named in an ensemble file of folder ``base``: a file beside it first, else a bundled name."""
    from facetrust.models.catalog import resolve_detector

    local = base / member if member.endswith(".json") or "/" in member else base / f"{member}.json"
    return local if local.is_file() else resolve_detector(member)


def load_detector(
    name: str | os.PathLike[str] = "default",
    *,
    runtime: str = "auto",
    device: str | None = None,
    threads: int | None = None,
) -> Any:
    """Load ``name`` (alias, bundled name, spec or ensemble file) on ``runtime``; see the module doc."""
    from facetrust.models.catalog import resolve_detector

    runtime = check_runtime(runtime)
    spec_path = resolve_detector(name)
    if runtime == "auto":
        if _wants_gpu(device):
            runtime = "torch"
        else:
            problems = onnx_problems(spec_path)
            runtime = "onnx" if not problems else "torch"
            if problems:
                logger.info("running %s on torch: %s", name, "; ".join(problems))
    if runtime == "torch":
        from facetrust.models.factory import create_detector

        return create_detector(spec_path, device=device)
    if _wants_gpu(device):
        raise ConfigError(f"runtime 'onnx' runs on the CPU; device {device!r} needs runtime='torch'")
    problems = onnx_problems(spec_path)
    if problems:
        raise WeightsError(f"{name} cannot run on onnxruntime: {'; '.join(problems)}")
    return _load_onnx(spec_path, threads)


def _load_onnx(spec_path: Path, threads: int | None) -> OnnxDetector | EnsembleDetector:
    from facetrust.engine.onnx import load_onnx_detector
    from facetrust.models.ensemble import is_ensemble_file, load_ensemble

    if not is_ensemble_file(spec_path):
        return load_onnx_detector(spec_path, threads=threads)

    def member(name: str, base: Path) -> Any:
        return _load_onnx(_member_path(base, name), threads)

    ensemble = load_ensemble(spec_path, member)
    from facetrust.engine.fuse import fused_graph_for

    ensemble.fused_graph = fused_graph_for(ensemble.members, threads=threads)
    logger.info("created %r from %s (onnxruntime%s)", ensemble, spec_path,
                ", one fused session" if ensemble.fused_graph is not None else "")
    return ensemble


def runtime_of(detector: Any) -> str:
    """``"onnx"`` or ``"torch"``: what scores ``detector`` (an ensemble: its first member)."""
    members = getattr(detector, "members", None)
    first = members[0] if members else detector
    return getattr(first, "runtime", "torch")


def export_onnx(*args: Any, **kwargs: Any) -> list[ExportedGraph]:
    """See :func:`facetrust.engine.export.export_onnx` (imported on call: it needs torch)."""
    from facetrust.engine.export import export_onnx as export

    return export(*args, **kwargs)


__all__ = ["RUNTIMES", "check_runtime", "export_onnx", "load_detector", "onnx_problems", "runtime_of"]
