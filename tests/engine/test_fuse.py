"""One fused onnxruntime session for an ensemble's members: exactly the members' logits, built once and cached."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from facetrust.engine import load_detector
from facetrust.engine.fuse import FusedOnnxGraph, fuse_graphs, fused_graph_for
from facetrust.engine.onnx import CACHE_ENV, OnnxDetector, onnx_files, shared_pass_logits
from facetrust.errors import ConfigError
from facetrust.models.catalog import BUNDLED_WEIGHTS_DIR
from facetrust.models.ensemble import EnsembleDetector


def _crops(n: int, seed: int = 3) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=(side, side, 3), dtype=np.uint8)
            for side in rng.choice([120, 224, 300], size=n)]


def _graph(name: str) -> bytes:
    return onnx_files(BUNDLED_WEIGHTS_DIR / f"{name}.json")[0].read_bytes()


@pytest.fixture()
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_the_fused_graph_computes_each_members_logits_exactly() -> None:
    names = ("sbi_families_lite0", "wholeface_lite0")
    fused, shared = fuse_graphs([_graph(n) for n in names])
    assert shared > 300  # the frozen ImageNet stem and first blocks: computed once
    session = ort.InferenceSession(fused, providers=["CPUExecutionProvider"])
    alone = [ort.InferenceSession(_graph(n), providers=["CPUExecutionProvider"]) for n in names]
    x = np.random.default_rng(0).normal(size=(5, 3, 224, 224)).astype(np.float32)
    together = session.run(None, {"input": x})
    assert len(together) == 2
    for member, out in zip(alone, together, strict=True):
        np.testing.assert_allclose(out, member.run(None, {"input": x})[0], rtol=0, atol=1e-5)
    assert float(np.abs(together[0] - together[1]).max()) > 0.1  # two different heads, not one twice


def test_a_graph_fused_with_itself_still_gives_one_output_per_member() -> None:
    fused, shared = fuse_graphs([_graph("wholeface_lite0")] * 2)
    session = ort.InferenceSession(fused, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).normal(size=(2, 3, 224, 224)).astype(np.float32)
    first, second = session.run(None, {"input": x})
    import onnx

    nodes = len(onnx.load_from_string(_graph("wholeface_lite0")).graph.node)
    assert np.array_equal(first, second) and shared >= nodes  # every node of the copy is shared


def test_graphs_with_other_inputs_are_not_fused() -> None:
    from onnx import TensorProto, helper

    small = helper.make_model(helper.make_graph(
        [helper.make_node("Identity", ["input"], ["logits"])], "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 64, 64])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3, 64, 64])]),
        opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(ConfigError, match="cannot share a session"):
        fuse_graphs([_graph("wholeface_lite0"), small.SerializeToString()])
    with pytest.raises(ConfigError, match="at least 2"):
        fuse_graphs([_graph("wholeface_lite0")])


def test_the_default_ensemble_runs_one_fused_session_with_the_members_scores(cache_dir: Path) -> None:
    detector = load_detector("default", runtime="onnx")
    assert isinstance(detector, EnsembleDetector) and isinstance(detector.fused_graph, FusedOnnxGraph)
    assert detector.fused_graph.shared_nodes and detector.fused_graph.shared_nodes > 100
    crops = _crops(19)
    fused = detector.fused_graph.logits(crops, batch_size=8)
    separate = shared_pass_logits(detector.members, crops, batch_size=8)
    for a, b in zip(fused, separate, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)
    tracks = [crops[:12], crops[12:]]
    with_fusion = detector.member_track_probabilities(tracks)
    detector.fused_graph = None
    without = detector.member_track_probabilities(tracks)
    for name in without:
        for a, b in zip(with_fusion[name], without[name], strict=True):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    assert any(p.name.endswith(".ort.onnx") for p in (cache_dir / "onnx").iterdir())


def test_a_second_load_takes_the_fused_graph_from_the_cache(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = load_detector("default", runtime="onnx")
    assert first.fused_graph is not None and first.fused_graph.shared_nodes  # built now

    import facetrust.engine.fuse as fuse

    def no_fusing(graphs: object) -> object:
        raise AssertionError("the cached fused graph should have been used")

    monkeypatch.setattr(fuse, "fuse_graphs", no_fusing)
    second = load_detector("default", runtime="onnx")
    assert second.fused_graph is not None and second.fused_graph.shared_nodes is None  # read from the cache
    crops = _crops(6)
    for a, b in zip(first.fused_graph.logits(crops), second.fused_graph.logits(crops), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_without_a_cache_or_with_unlike_members_each_member_runs_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, "off")
    assert load_detector("default", runtime="onnx").fused_graph is None
    monkeypatch.undo()
    member = load_detector("wholeface_lite0", runtime="onnx")
    assert isinstance(member, OnnxDetector) and fused_graph_for([member]) is None  # one member: nothing to fuse
    assert fused_graph_for([member, object()]) is None  # a torch member
    assert load_detector("default", runtime="torch").fused_graph is None


def test_a_fusion_that_fails_leaves_the_members_running_alone(cache_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    import facetrust.engine.fuse as fuse

    def broken(graphs: object) -> object:
        raise RuntimeError("simulated onnx failure")

    monkeypatch.setattr(fuse, "fuse_graphs", broken)
    detector = load_detector("default", runtime="onnx")
    assert detector.fused_graph is None and "simulated onnx failure" in caplog.text
    probabilities = detector.member_track_probabilities([_crops(4)])
    assert all(np.isfinite(p[0]).all() for p in probabilities.values())
