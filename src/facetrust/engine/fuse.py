"""One onnxruntime session for all the frame members of an ensemble, computing what they share once.

The default ensemble's members were fine-tuned from the same ImageNet network with its stem and first blocks
frozen, so their graphs begin with the same operations on the same weights, bit for bit (35–50 % of a
member's time). :func:`fuse_graphs` merges the members' graphs into one with one input and one output per
member; a node of a later member whose operation, attributes and (already merged) inputs equal a node seen
before is dropped and its outputs are read from that node. Nothing is approximated: each output is computed
by exactly the operations of its own graph, so the fused session's logits equal the members' own.

The fused graph is built once per machine (it needs the ``onnx`` package and ~0.5 s) and kept, optimised,
in the graph cache of :mod:`facetrust.engine.onnx` under a key made of the members' graph checksums: a
member exported again gives a new key, so a stale fused graph is never used. With the cache off
(``FACETRUST_CACHE_DIR=off``) members run one session each, as building the fusion in every process would
cost more than it saves.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from facetrust.errors import ConfigError, WeightsError

if TYPE_CHECKING:
    from facetrust.engine.onnx import OnnxDetector

logger = logging.getLogger(__name__)

FUSION_VERSION = 1  # part of the cache key: a change to how graphs are merged must not reuse old fusions


def fuse_graphs(graphs: Sequence[bytes]) -> tuple[bytes, int]:
    """Serialized ONNX graphs (one input of the same shape each, one output each) → one serialized graph with
    that input and the members' outputs in order, and how many nodes were computed once instead of more.
    :class:`ConfigError` when the graphs cannot be fused (different inputs or opsets)."""
    import onnx

    if len(graphs) < 2:
        raise ConfigError(f"fusing needs at least 2 graphs, got {len(graphs)}")
    models = [onnx.load_from_string(data) for data in graphs]
    base = models[0]
    signature = _io_signature(base)
    for i, model in enumerate(models[1:], start=1):
        if _io_signature(model) != signature:
            raise ConfigError(f"graph {i} takes other inputs or opsets than graph 0: they cannot share a session")
    graph = base.graph
    first = onnx.GraphProto()
    first.CopyFrom(graph)  # the base graph is emptied and refilled; the others are read as parsed
    members = [first, *(model.graph for model in models[1:])]
    for field in ("node", "initializer", "output", "value_info"):
        del getattr(graph, field)[:]
    produced: dict[tuple[object, ...], list[str]] = {}  # node signature -> the output names it was given
    by_content: dict[tuple[object, ...], str] = {}  # initialiser content -> the name it was given
    dropped = 0
    input_name = graph.input[0].name
    for i, member in enumerate(members):
        prefix = f"member{i}/" if i else ""
        rename = {member.input[0].name: input_name}
        for tensor in member.initializer:
            key = _tensor_key(tensor)
            if key in by_content:
                rename[tensor.name] = by_content[key]
                continue
            tensor.name = by_content[key] = rename[tensor.name] = prefix + tensor.name
            graph.initializer.append(tensor)
        for node in member.node:  # ONNX nodes are stored in topological order
            inputs = [rename.get(name, prefix + name) if name else "" for name in node.input]
            key = _node_key(node, inputs)
            outputs = produced.get(key)
            if outputs is not None and len(outputs) == len(node.output):
                rename.update(zip(node.output, outputs, strict=True))
                dropped += 1
                continue
            outputs = [prefix + name if name else "" for name in node.output]
            rename.update((old, new) for old, new in zip(node.output, outputs, strict=True) if old)
            del node.input[:]
            node.input.extend(inputs)
            del node.output[:]
            node.output.extend(outputs)
            node.name = prefix + node.name
            produced[key] = outputs
            graph.node.append(node)
        output = onnx.ValueInfoProto()
        output.CopyFrom(member.output[0])
        output.name = rename[member.output[0].name]
        if output.name in {o.name for o in graph.output}:  # two identical members: give the copy its own name
            alias = f"member{i}/output"
            graph.node.append(onnx.helper.make_node("Identity", [output.name], [alias], name=f"member{i}/alias"))
            output.name = alias
        graph.output.append(output)
    onnx.checker.check_model(base)
    return base.SerializeToString(), dropped


def _io_signature(model: object) -> tuple[object, ...]:
    graph = model.graph  # type: ignore[attr-defined]
    if len(graph.input) != 1 or len(graph.output) != 1:
        raise ConfigError("only graphs with one input and one output can be fused")
    shape = tuple(d.dim_value or d.dim_param for d in graph.input[0].type.tensor_type.shape.dim)
    opsets = tuple(sorted((o.domain, o.version) for o in model.opset_import))  # type: ignore[attr-defined]
    return graph.input[0].type.tensor_type.elem_type, shape, opsets


def _node_key(node: object, inputs: list[str]) -> tuple[object, ...]:
    return (node.domain, node.op_type, tuple(inputs),  # type: ignore[attr-defined]
            tuple(a.SerializeToString() for a in node.attribute))  # type: ignore[attr-defined]


def _tensor_key(tensor: object) -> tuple[object, ...]:
    """What an initialiser holds, whatever its name."""
    from onnx import numpy_helper

    values = numpy_helper.to_array(tensor)  # type: ignore[arg-type]
    return tensor.data_type, tuple(tensor.dims), hashlib.sha256(values.tobytes()).hexdigest()  # type: ignore[attr-defined]


class FusedOnnxGraph:
    """One session scoring a batch for every member: ``logits(crops)`` gives what
    :func:`facetrust.engine.onnx.shared_pass_logits` gives, in one run per batch."""

    def __init__(self, members: Sequence[OnnxDetector], session: object, shared_nodes: int | None = None) -> None:
        self.members = list(members)
        self._session = session
        self._input = session.get_inputs()[0].name  # type: ignore[attr-defined]
        self.shared_nodes = shared_nodes

    def logits(self, crops: np.ndarray | Sequence[np.ndarray], *, batch_size: int = 32) -> list[np.ndarray]:
        """Each member's fake logits for ``crops`` (uint8 RGB, any size), in member order."""
        from facetrust.engine.onnx import shared_pass_logits

        return shared_pass_logits(self.members, crops, batch_size=batch_size, fused=self)

    def logits_of_batch(self, x: np.ndarray) -> list[np.ndarray]:
        """Each member's fake logits of a batch prepared by the members' ``preprocess``: one session run."""
        ys = self._session.run(None, {self._input: x})  # type: ignore[attr-defined]
        return [member.fake_logits(np.asarray(y, np.float32)) for member, y in zip(self.members, ys, strict=True)]

    def __repr__(self) -> str:
        return f"FusedOnnxGraph(members={[m.name for m in self.members]}, shared_nodes={self.shared_nodes})"


def fused_graph_for(members: Sequence[object], *, threads: int | None = None) -> FusedOnnxGraph | None:
    """A :class:`FusedOnnxGraph` for ``members`` when they are all ONNX frame detectors preparing crops alike
    and the graph cache is on; None otherwise (they then run one session each)."""
    from facetrust.engine.onnx import OnnxDetector, cache_root, optimised_session, read_graph_source

    if len(members) < 2 or not all(isinstance(m, OnnxDetector) and m.graph_sha256 for m in members):
        return None
    onnx_members: list[OnnxDetector] = list(members)  # type: ignore[arg-type]
    if len({m.input_signature for m in onnx_members}) != 1 or cache_root() is None:
        return None
    digest = hashlib.sha256(f"fused-v{FUSION_VERSION}|".encode())
    for member in onnx_members:
        digest.update(str(member.graph_sha256).encode("ascii"))
    shared: list[int] = []

    def build() -> bytes:
        data, count = fuse_graphs([read_graph_source(m) for m in onnx_members])
        shared.append(count)
        logger.info("fused the graphs of %s (%d nodes shared); kept in the graph cache",
                    ", ".join(m.name for m in onnx_members), count)
        return data

    try:
        session = optimised_session(build, digest.hexdigest(), threads)
    except ImportError:
        logger.info("not fusing the members' graphs: the onnx package is not installed")
        return None
    except (ConfigError, WeightsError) as exc:
        logger.info("members run one session each: %s", exc)
        return None
    except Exception as exc:  # noqa: BLE001 - onnx or onnxruntime refusing the merged graph: same scores without it
        logger.warning("members run one session each (their fused graph failed: %s: %s)", type(exc).__name__, exc)
        return None
    outputs = session.get_outputs()  # type: ignore[attr-defined]
    if len(outputs) != len(onnx_members):
        logger.warning("the fused graph has %d outputs for %d members: not used", len(outputs), len(onnx_members))
        return None
    return FusedOnnxGraph(onnx_members, session, shared[0] if shared else None)


__all__ = ["FUSION_VERSION", "FusedOnnxGraph", "fuse_graphs", "fused_graph_for"]
