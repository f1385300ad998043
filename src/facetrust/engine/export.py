"""Export frame detectors to ONNX for the torch-free engine (needs torch and the ``onnx`` package).

``export_onnx("default")`` writes ``<name>.onnx`` and ``<name>.onnx.json`` beside every frame detector of
the named detector (an ensemble's members one by one), or into ``out_dir``. The graph:

- opset 17 (or ``opset``), dynamic batch: input ``input`` ``(batch, 3, S, S)`` float32, output ``logits``;
- BatchNorm kept as nodes at export (onnxruntime fuses it when it builds the session), so every weight is
  still one of the safetensors' float16 values and is stored as float16 with a Cast to float32: the file
  is half the size and the session computes in float32 with exactly the weights torch uses;
- verified before it is written: onnxruntime and torch score the same random batch within ``tolerance``.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facetrust._version import __version__
from facetrust.engine.onnx import CARD_FORMAT, onnx_files
from facetrust.errors import ConfigError, DependencyError, WeightsError

logger = logging.getLogger(__name__)

DEFAULT_OPSET = 17


@dataclass(frozen=True)
class ExportedGraph:
    """One exported detector."""

    name: str
    graph: Path
    card: Path
    sha256: str
    max_logit_difference: float  # torch vs onnxruntime on the check batch


def _fp16_initialisers(model: object) -> None:
    """Store float32 initialisers that are exact float16 values as float16 + a Cast node (in place)."""
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph  # type: ignore[attr-defined]
    initialisers, casts = [], []
    for init in graph.initializer:
        array = numpy_helper.to_array(init)
        if array.dtype == np.float32 and array.size > 16:
            half = array.astype(np.float16)
            if np.array_equal(half.astype(np.float32), array):
                initialisers.append(numpy_helper.from_array(half, init.name + "__fp16"))
                casts.append(helper.make_node("Cast", [init.name + "__fp16"], [init.name], to=TensorProto.FLOAT,
                                              name=init.name + "__cast"))
                continue
        initialisers.append(init)
    nodes = list(graph.node)
    del graph.initializer[:]
    graph.initializer.extend(initialisers)
    del graph.node[:]
    graph.node.extend(casts + nodes)


def export_onnx(
    detector: str | os.PathLike[str] = "default",
    out_dir: Path | None = None,
    *,
    opset: int = DEFAULT_OPSET,
    tolerance: float = 1e-3,
    seed: int = 0,
) -> list[ExportedGraph]:
    """Export every frame detector of ``detector`` (a name, a spec or an ensemble file). Clip members are
    skipped with a warning (they run on torch). Returns what was written."""
    try:
        import onnx
        import onnxruntime as ort
        import torch
    except ImportError as exc:
        raise DependencyError("exporting needs torch and onnx: pip install torch onnx") from exc
    from facetrust.engine import _member_path
    from facetrust.models.catalog import resolve_detector
    from facetrust.models.ensemble import is_ensemble_file, read_ensemble
    from facetrust.models.weights import load_detector_files

    if opset < 17:
        raise ConfigError(f"opset must be >= 17, got {opset}")

    def frame_specs(path: Path, stack: tuple[Path, ...] = ()) -> list[Path]:
        if not is_ensemble_file(path):
            return [path]
        if path.resolve() in stack:
            raise WeightsError(f"ensemble {path} contains itself")
        paths = []
        for member in read_ensemble(path).members:
            paths += frame_specs(_member_path(path.parent, member), (*stack, path.resolve()))
        return paths

    written = []
    for spec_path in frame_specs(resolve_detector(detector)):
        model, spec = load_detector_files(spec_path)
        if spec.clip_length is not None:
            logger.warning("%s is a clip model: not exported, it keeps running on torch", spec.name)
            continue
        target_dir = Path(out_dir) if out_dir is not None else spec_path.parent
        target_dir.mkdir(parents=True, exist_ok=True)
        graph_path, card_path = onnx_files(target_dir / f"{spec.name}.json")
        size = spec.input_size
        example = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(seed))
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "raw.onnx"
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
                torch.onnx.export(model, (example,), str(raw), opset_version=opset, input_names=["input"],
                                  output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                                  do_constant_folding=False, dynamo=False)
            graph = onnx.load(str(raw))
        _fp16_initialisers(graph)
        graph.producer_name, graph.producer_version = "facetrust", __version__
        onnx.checker.check_model(graph)
        data = graph.SerializeToString()
        check = torch.rand(4, 3, size, size, generator=torch.Generator().manual_seed(seed + 1)) * 4 - 2
        with torch.inference_mode():
            expected = model(check).numpy()
        session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        got = session.run(None, {"input": check.numpy()})[0]
        difference = float(np.abs(got - expected).max())
        if not difference <= tolerance:
            raise WeightsError(f"ONNX export of {spec.name} differs from torch by {difference:.2e} "
                               f"(> {tolerance}); not written")
        digest = hashlib.sha256(data).hexdigest()
        card = {
            "format": CARD_FORMAT,
            "detector": spec.name,
            "file": graph_path.name,
            "sha256": digest,
            "source_sha256": spec.sha256,
            "opset": opset,
            "input": ["batch", 3, size, size],
            "weights_dtype": "float16 (cast to float32 when the session is built)",
            "max_logit_difference_vs_torch": difference,
            "exported_with": f"facetrust {__version__}, torch {torch.__version__}, onnx {onnx.__version__}",
            "exported_at": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if out_dir is not None and Path(out_dir).resolve() != spec_path.parent.resolve():
            import shutil

            shutil.copy2(spec_path, target_dir / f"{spec.name}.json")
            if spec.weights_file:
                shutil.copy2(spec_path.parent / spec.weights_file, target_dir / spec.weights_file)
        _write_bytes(graph_path, data)
        _write_bytes(card_path, (json.dumps(card, indent=2) + "\n").encode())
        logger.info("exported %s to %s (%.1f MB, max logit difference %.1e)", spec.name, graph_path,
                    len(data) / 1e6, difference)
        written.append(ExportedGraph(spec.name, graph_path, card_path, digest, difference))
    return written


def _write_bytes(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(tmp, 0o644)  # mkstemp makes files private; weights are package data
    os.replace(tmp, path)


__all__ = ["DEFAULT_OPSET", "ExportedGraph", "export_onnx"]
