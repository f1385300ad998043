"""Frame detectors on onnxruntime: the same crops in and probabilities out as the torch runner, without torch.

A detector exported by :func:`facetrust.engine.export.export_onnx` has two more files beside its spec:

- ``<name>.onnx``: the network, float32 input ``(batch, 3, S, S)`` normalised as the spec says, float32
  output ``(batch, num_outputs)``; weights stored as float16 (exactly the values of the fp16 safetensors)
  and cast to float32 once, when the session is built;
- ``<name>.onnx.json``: the graph's card: its sha256, the sha256 of the safetensors it was exported from
  (a graph of older weights is stale and refused), the opset and the input shape.

Preprocessing is the torch runner's, in numpy: resize (INTER_AREA when shrinking, else LINEAR), ``/255``,
``(x - mean) / std``. Loading checks both checksums before a session is built.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from facetrust.errors import ConfigError, DependencyError, WeightsError
from facetrust.models.specs import read_spec
from facetrust.scoring.crops import (
    as_crop_list,
    check_crop,
    logits_to_probabilities,
    resize_crop,
    track_lists,
)
from facetrust.types import DetectorSpec

if TYPE_CHECKING:  # engine.fuse imports this module: the fused graph type is only needed for annotations
    from facetrust.engine.fuse import FusedOnnxGraph

logger = logging.getLogger(__name__)

ONNX_SUFFIX = ".onnx"
CARD_SUFFIX = ".onnx.json"
CARD_FORMAT = 1


@dataclass(frozen=True)
class CpuDevice:
    """The device of an ONNX detector (onnxruntime's CPU provider); reads like ``torch.device("cpu")``."""

    type: str = "cpu"
    index: int | None = None

    def __str__(self) -> str:
        return "cpu"


CPU = CpuDevice()


def onnx_files(spec_path: Path) -> tuple[Path, Path]:
    """The graph and graph-card paths of the detector whose spec is ``spec_path``."""
    spec_path = Path(spec_path)
    stem = spec_path.name[: -len(".json")] if spec_path.name.endswith(".json") else spec_path.stem
    return spec_path.with_name(stem + ONNX_SUFFIX), spec_path.with_name(stem + CARD_SUFFIX)


def read_graph_card(spec_path: Path) -> dict[str, object] | None:
    """The graph card beside ``spec_path``, or None when the detector was never exported."""
    _, card = onnx_files(spec_path)
    if not card.is_file():
        return None
    try:
        data = json.loads(card.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WeightsError(f"cannot read ONNX graph card {card}: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != CARD_FORMAT:
        raise WeightsError(f"ONNX graph card {card} is not a facetrust graph card (format {CARD_FORMAT})")
    return data


def onnx_problem(spec_path: Path, spec: DetectorSpec | None = None) -> str | None:
    """Why the detector of ``spec_path`` cannot run on onnxruntime (None when it can): not exported, a clip
    model, or a graph exported from other weights than the spec's."""
    spec = spec or read_spec(spec_path)
    graph, card_path = onnx_files(spec_path)
    if spec.clip_length is not None:
        return f"{spec.name} is a clip model ({spec.clip_length}-frame windows): clip models run on torch"
    card = read_graph_card(spec_path)
    if card is None or not graph.is_file():
        return f"{spec.name} has no ONNX graph (export it with `facetrust export {spec_path} --format onnx`)"
    if card.get("source_sha256") != spec.sha256:
        return (f"the ONNX graph of {spec.name} ({card_path.name}) was exported from other weights than its "
                f"spec names (stale): export it again with `facetrust export {spec_path} --format onnx`")
    return None


# onnxruntime's pool threads spin for a while after each run by default; on 2 cores, with the decoder and the
# face detector running beside them, that burnt ~1.5 core-s of a 6.5 core-s `detect` (measured: wall 3.9 →
# 3.2 s, user 6.6 → 4.8 s; MTCNN alone is also faster without it, 0.92 → 0.79 s for 32 frames). Shared with MTCNN.
NO_SPINNING = ("session.intra_op.allow_spinning", "0")


def _session_options(threads: int | None) -> object:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # measured on 2 cores (benchmarks/bench_engine.py): intra-op threads = cores, one inter-op thread
    options.intra_op_num_threads = threads or min(os.cpu_count() or 1, 4)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    options.add_session_config_entry(NO_SPINNING[0], NO_SPINNING[1])
    return options


CACHE_ENV = "FACETRUST_CACHE_DIR"


def cache_root() -> Path | None:
    """Where optimised graphs are kept: ``$FACETRUST_CACHE_DIR`` (``off`` disables it), else
    ``$XDG_CACHE_HOME/facetrust`` or ``~/.cache/facetrust``."""
    configured = os.environ.get(CACHE_ENV)
    if configured is not None:
        return None if configured.strip().lower() in ("", "off", "0", "none") else Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "facetrust"


def _machine_key() -> str:
    """onnxruntime's optimised graphs may use this CPU's instructions and layouts: key them by CPU and version."""
    import platform

    import onnxruntime as ort

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            cpu = next((line for line in handle if line.startswith("flags")), cpu)
    except OSError:
        pass
    return hashlib.sha256(f"{ort.__version__}|{platform.machine()}|{cpu}".encode()).hexdigest()[:16]


def optimised_session(data: bytes | Callable[[], bytes], sha256: str, threads: int | None) -> object:
    """A session for the graph ``data`` (or what ``data()`` returns: only called when the cache misses);
    onnxruntime's optimisation of it (constant folding, fusions, layouts: about 0.08 s a graph) is done once
    per machine and kept in :func:`cache_root`. A cached graph that fails to load is dropped and rebuilt; an
    unwritable cache only costs the time."""
    import onnxruntime as ort

    root = cache_root()
    if root is None:
        data = data() if callable(data) else data
        return ort.InferenceSession(data, _session_options(threads), providers=["CPUExecutionProvider"])
    cached = root / "onnx" / f"{sha256[:32]}-{_machine_key()}.ort.onnx"
    if cached.is_file():
        options = _session_options(threads)
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # done already
        try:
            return ort.InferenceSession(str(cached), options, providers=["CPUExecutionProvider"])
        except Exception:  # a truncated or foreign file: rebuild it
            logger.warning("dropping the unreadable optimised graph %s", cached)
            cached.unlink(missing_ok=True)
    data = data() if callable(data) else data
    options = _session_options(threads)
    partial = cached.with_name(f"{cached.name}.{os.getpid()}.part")
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        options.optimized_model_filepath = str(partial)
    except OSError as exc:
        logger.debug("not caching optimised graphs in %s: %s", cached.parent, exc)
        return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    try:
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except Exception:
        partial.unlink(missing_ok=True)
        raise
    try:
        os.replace(partial, cached)  # atomic: a concurrent reader sees the whole file or none
    except OSError as exc:
        logger.debug("not caching optimised graph %s: %s", cached, exc)
        partial.unlink(missing_ok=True)
    return session


class OnnxDetector:
    """A frame detector on onnxruntime, with the interface of :class:`facetrust.models.Detector`."""

    runtime = "onnx"

    def __init__(self, spec: DetectorSpec, session: object, *, source: Path | None = None,
                 graph_sha256: str | None = None) -> None:
        if spec.clip_length is not None:
            raise ConfigError(f"detector {spec.name!r} is a clip model; the ONNX engine runs frame models")
        self.spec = spec
        self.device = CPU
        self.source = source
        self.graph_sha256 = graph_sha256  # of the .onnx file the session was built from (None: not from a file)
        self._session = session
        self._input = session.get_inputs()[0].name  # type: ignore[attr-defined]
        std = np.asarray(spec.std, np.float32).reshape(1, 1, 1, 3)
        self._scale = 1.0 / (255.0 * std)  # ((x / 255) - mean) / std  =  x * scale - shift
        self._shift = np.asarray(spec.mean, np.float32).reshape(1, 1, 1, 3) / std

    @property
    def name(self) -> str:
        return self.spec.name

    def preprocess(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """uint8 RGB crops → normalised ``(N, 3, S, S)`` float32, as the torch runner prepares them."""
        size = self.spec.input_size
        batch = np.stack([resize_crop(c, size) for c in crops]).astype(np.float32)
        batch = batch * self._scale - self._shift
        return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))

    @property
    def input_signature(self) -> tuple[int, tuple[float, ...], tuple[float, ...]]:
        """What :meth:`preprocess` depends on: detectors with equal signatures can share one prepared batch."""
        return self.spec.input_size, tuple(self.spec.mean), tuple(self.spec.std)

    def logits_of_batch(self, x: np.ndarray) -> np.ndarray:
        """Fake logits of a batch already prepared by :meth:`preprocess` (this or an equal-signature detector)."""
        return self.fake_logits(np.asarray(self._session.run(None, {self._input: x})[0], np.float32))  # type: ignore[attr-defined]

    def fake_logits(self, y: np.ndarray) -> np.ndarray:
        """The graph's raw output ``(N, num_outputs)`` → the fake logit of each row."""
        if y.ndim != 2 or y.shape[1] != self.spec.num_outputs:
            raise WeightsError(f"detector {self.spec.name!r} produced output of shape {y.shape}, expected "
                               f"(N, {self.spec.num_outputs}) per its spec")
        fake = self.spec.fake_index
        return y[:, 0] if self.spec.num_outputs == 1 else y[:, fake] - y[:, 1 - fake]

    def logits(self, crops: np.ndarray | Sequence[np.ndarray], *, batch_size: int = 32) -> np.ndarray:
        """Fake logits (before temperature), ``(N,)`` float32, in input order."""
        return shared_pass_logits([self], crops, batch_size=batch_size)[0]

    def predict_proba(self, crops: np.ndarray | Sequence[np.ndarray], *, batch_size: int = 32) -> np.ndarray:
        """uint8 RGB crops ``(N, H, W, 3)`` (any size) → ``(N,)`` float32 fake probabilities in [0, 1]."""
        return logits_to_probabilities(self.logits(crops, batch_size=batch_size), self.spec.temperature)

    def predict_tracks(self, tracks: Sequence[np.ndarray | Sequence[np.ndarray]], *,
                       batch_size: int = 32) -> list[np.ndarray]:
        """Per track, the ``(n_t,)`` fake probability of each crop: all crops scored at once, split back."""
        lists = track_lists(tracks)
        flat = [c for items in lists for c in items]
        probs = self.predict_proba(flat, batch_size=batch_size) if flat else np.empty(0, np.float32)
        return np.split(probs, np.cumsum([len(t) for t in lists])[:-1]) if lists else []

    def __repr__(self) -> str:
        return (f"OnnxDetector(name={self.spec.name!r}, architecture={self.spec.architecture!r}, "
                f"input_size={self.spec.input_size}, device='cpu')")


def shared_pass_logits(detectors: Sequence[OnnxDetector], crops: np.ndarray | Sequence[np.ndarray], *,
                       batch_size: int = 32, fused: FusedOnnxGraph | None = None) -> list[np.ndarray]:
    """Each detector's fake logits for ``crops``, preparing every batch once for all of them (they must
    share :attr:`OnnxDetector.input_signature`): an ensemble's members scored in one pass. With ``fused``
    (a :class:`facetrust.engine.fuse.FusedOnnxGraph` of these detectors), one session run per batch."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
    if len({d.input_signature for d in detectors}) > 1:
        raise ConfigError("detectors scored in one pass must share input size, mean and std")
    items = as_crop_list(crops)
    for i, crop in enumerate(items):
        check_crop(crop, i)
    outs: list[list[np.ndarray]] = [[] for _ in detectors]
    for start in range(0, len(items), batch_size):
        x = detectors[0].preprocess(items[start : start + batch_size])
        logits = fused.logits_of_batch(x) if fused is not None else [d.logits_of_batch(x) for d in detectors]
        for out, batch_logits in zip(outs, logits, strict=True):
            out.append(batch_logits)
    return [np.concatenate(out).astype(np.float32) if out else np.empty(0, np.float32) for out in outs]


def load_onnx_detector(spec_path: Path, *, threads: int | None = None) -> OnnxDetector:
    """Load the ONNX graph beside ``spec_path`` after checking it against its card and the spec."""
    try:
        import onnxruntime  # noqa: F401 - only checked here; the session is built by optimised_session
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise DependencyError("the ONNX engine needs onnxruntime: pip install onnxruntime") from exc
    spec_path = Path(spec_path)
    spec = read_spec(spec_path)
    problem = onnx_problem(spec_path, spec)
    if problem:
        raise WeightsError(problem)
    graph, card_path = onnx_files(spec_path)
    card = read_graph_card(spec_path) or {}
    data = graph.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != card.get("sha256"):
        raise WeightsError(f"checksum mismatch for {graph}: its card {card_path.name} records sha256 "
                           f"{card.get('sha256')}, the file has {actual}. Export it again.")
    try:
        session = optimised_session(data, actual, threads)
    except Exception as exc:  # onnxruntime raises its own exception types for broken graphs
        raise WeightsError(f"onnxruntime cannot load {graph}: {exc}") from exc
    shape = session.get_inputs()[0].shape
    if len(shape) != 4 or shape[1] != 3 or shape[2] != spec.input_size or shape[3] != spec.input_size:
        raise WeightsError(f"{graph} takes input {shape}, but {spec.name} needs (N, 3, {spec.input_size}, "
                           f"{spec.input_size})")
    detector = OnnxDetector(spec, session, source=spec_path, graph_sha256=actual)
    logger.info("created %r from %s", detector, graph)
    return detector


def read_graph_source(detector: OnnxDetector) -> bytes:
    """The bytes of the graph ``detector`` was loaded from, checked against the checksum it was loaded with."""
    if detector.source is None or detector.graph_sha256 is None:
        raise WeightsError(f"{detector.name} was not loaded from an exported graph")
    graph, _ = onnx_files(detector.source)
    data = graph.read_bytes()
    if hashlib.sha256(data).hexdigest() != detector.graph_sha256:
        raise WeightsError(f"{graph} changed since {detector.name} was loaded")
    return data


__all__ = [
    "CARD_SUFFIX",
    "CPU",
    "ONNX_SUFFIX",
    "OnnxDetector",
    "load_onnx_detector",
    "shared_pass_logits",
    "onnx_files",
    "onnx_problem",
    "optimised_session",
    "read_graph_card",
    "read_graph_source",
]
