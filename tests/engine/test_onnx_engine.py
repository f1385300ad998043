"""The torch-free ONNX engine: parity with PyTorch, checksums, stale graphs, runtime choice and export."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import facetrust
from facetrust.cli.main import app
from facetrust.engine import check_runtime, export_onnx, load_detector, onnx_problems, runtime_of
from facetrust.engine.onnx import OnnxDetector, onnx_files
from facetrust.errors import ConfigError, WeightsError
from facetrust.models import create_detector
from facetrust.models.catalog import BUNDLED_WEIGHTS_DIR
from facetrust.models.ensemble import EnsembleDetector

BUNDLED_MEMBERS = ("sbi_effnet_lite0", "sbi_families_lite0", "wholeface_lite0")


def _random_crops(n: int, seed: int = 0) -> list[np.ndarray]:
    """Crops of several sizes (smaller and larger than the input, so both resize paths run), some smooth."""
    rng = np.random.default_rng(seed)
    crops = []
    for i in range(n):
        side = int(rng.choice([96, 180, 224, 256, 300]))
        crop = rng.integers(0, 256, size=(side, side, 3), dtype=np.uint8)
        if i % 2:
            import cv2

            crop = cv2.GaussianBlur(crop, (0, 0), 3)
        crops.append(crop)
    return crops


@pytest.mark.parametrize("member", BUNDLED_MEMBERS)
def test_bundled_graphs_match_pytorch_on_random_crops(member: str) -> None:
    crops = _random_crops(256)
    onnx = load_detector(member, runtime="onnx")
    torch_detector = load_detector(member, runtime="torch")
    assert isinstance(onnx, OnnxDetector) and not isinstance(torch_detector, OnnxDetector)
    p_onnx = onnx.predict_proba(crops, batch_size=16)
    p_torch = torch_detector.predict_proba(crops, batch_size=16)
    assert p_onnx.shape == p_torch.shape == (256,) and p_onnx.dtype == np.float32
    assert float(np.abs(p_onnx - p_torch).max()) < 1e-3
    assert p_torch.std() > 0.01  # the crops are not all scored alike: the comparison means something


def test_demo_media_give_the_same_verdicts_and_frame_scores_on_both_runtimes(tmp_path: Path) -> None:
    from facetrust.demo import make_demo_media

    for item in make_demo_media(tmp_path):
        on_onnx = facetrust.analyze(item.path, frames=8, runtime="onnx")
        on_torch = facetrust.analyze(item.path, frames=8, runtime="torch")
        assert on_onnx.verdict == on_torch.verdict, item.path.name
        frames_onnx = [f.fake_probability for p in on_onnx.people for f in p.frame_scores]
        frames_torch = [f.fake_probability for p in on_torch.people for f in p.frame_scores]
        assert frames_onnx and np.abs(np.subtract(frames_onnx, frames_torch)).max() < 1e-3
        assert [m.member for p in on_onnx.people for m in p.members] == \
            [m.member for p in on_torch.people for m in p.members]


def test_the_default_runs_on_onnxruntime_without_importing_torch(media_dir: Path) -> None:
    code = ("import sys, facetrust; r = facetrust.analyze(sys.argv[1], frames=4); "
            "print(r.verdict, 'torch' in sys.modules, type(facetrust.load_detector().members[0]).__name__)")
    done = subprocess.run([sys.executable, "-c", code, str(media_dir / "face clip.mp4")], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    verdict, torch_loaded, member_type = done.stdout.split()
    assert verdict in {"REAL", "FAKE", "UNCERTAIN"} and torch_loaded == "False" and member_type == "OnnxDetector"


def test_bundled_detectors_ship_graphs_of_their_current_weights() -> None:
    assert onnx_problems("default") == []
    for member in BUNDLED_MEMBERS:
        graph, card = onnx_files(BUNDLED_WEIGHTS_DIR / f"{member}.json")
        data = json.loads(card.read_text())
        spec = json.loads((BUNDLED_WEIGHTS_DIR / f"{member}.json").read_text())
        assert data["source_sha256"] == spec["sha256"] and data["opset"] >= 17
        assert data["input"][0] == "batch" and graph.stat().st_size < 10e6  # float16 storage


@pytest.fixture()
def exported_tiny(tiny_detector: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "tiny"
    shutil.copytree(tiny_detector.parent, folder)
    spec = folder / tiny_detector.name
    [graph] = export_onnx(spec)
    assert graph.graph == folder / "tiny_random.onnx" and graph.max_logit_difference < 1e-3
    return spec


def test_export_writes_a_checked_graph_and_auto_uses_it(exported_tiny: Path) -> None:
    detector = load_detector(exported_tiny)  # auto: the graph is there and fresh
    assert isinstance(detector, OnnxDetector) and runtime_of(detector) == "onnx"
    crops = _random_crops(12, seed=3)
    reference = create_detector(exported_tiny, device="cpu")
    np.testing.assert_allclose(detector.logits(crops, batch_size=5), reference.logits(crops), atol=1e-3)
    tracks = detector.predict_tracks([crops[:5], [], crops[5:]])
    assert [len(t) for t in tracks] == [5, 0, 7]


def test_a_graph_of_other_weights_is_stale(exported_tiny: Path) -> None:
    spec = json.loads(exported_tiny.read_text())
    card_path = onnx_files(exported_tiny)[1]
    card = json.loads(card_path.read_text())
    card["source_sha256"] = "0" * 64
    card_path.write_text(json.dumps(card))
    with pytest.raises(WeightsError, match="stale"):
        load_detector(exported_tiny, runtime="onnx")
    assert not isinstance(load_detector(exported_tiny), OnnxDetector)  # auto falls back to torch, says why
    assert spec["sha256"] != card["source_sha256"]


def test_an_altered_graph_fails_its_checksum(exported_tiny: Path) -> None:
    graph = onnx_files(exported_tiny)[0]
    data = bytearray(graph.read_bytes())
    data[-10] ^= 0xFF
    graph.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="checksum mismatch"):
        load_detector(exported_tiny, runtime="onnx")


def test_a_detector_without_a_graph_runs_on_torch_or_says_how_to_export(tiny_detector: Path) -> None:
    assert not isinstance(load_detector(tiny_detector), OnnxDetector)
    with pytest.raises(WeightsError, match="facetrust export"):
        load_detector(tiny_detector, runtime="onnx")


def test_runtime_names_and_gpu_requests_are_checked() -> None:
    with pytest.raises(ConfigError, match="did you mean 'onnx'"):
        check_runtime("onxx")
    with pytest.raises(ConfigError, match="runtime='torch'"):
        load_detector("default", runtime="onnx", device="cuda")
    with pytest.raises(ConfigError, match="runtime must be"):
        facetrust.analyze(np.zeros((64, 64, 3), np.uint8), runtime="tensorrt")


def test_an_ensemble_runs_on_onnx_only_when_every_member_can(exported_tiny: Path, tmp_path: Path) -> None:
    from facetrust.models.ensemble import EnsembleSpec, save_ensemble

    folder = exported_tiny.parent
    ensemble = save_ensemble(EnsembleSpec(name="pair", members=("tiny_random.json", "sbi_effnet_lite0")), folder)
    loaded = load_detector(ensemble)
    assert isinstance(loaded, EnsembleDetector) and all(isinstance(m, OnnxDetector) for m in loaded.members)
    onnx_files(exported_tiny)[0].unlink()
    assert runtime_of(load_detector(ensemble)) == "torch"
    with pytest.raises(WeightsError, match="tiny_random has no ONNX graph"):
        load_detector(ensemble, runtime="onnx")


def test_export_command(tiny_detector: Path, tmp_path: Path, media_dir: Path) -> None:
    out = tmp_path / "exported"
    result = CliRunner().invoke(app, ["export", str(tiny_detector), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} >= {"tiny_random.onnx", "tiny_random.onnx.json", "tiny_random.json",
                                                "tiny_random.safetensors"}
    assert isinstance(load_detector(out / "tiny_random.json", runtime="onnx"), OnnxDetector)
    result = CliRunner().invoke(app, ["export", "no_such_detector"])
    assert result.exit_code == 2 and "no_such_detector" in result.output
    result = CliRunner().invoke(app, ["detect", str(media_dir / "face clip.mp4"), "--detector", str(tiny_detector),
                                      "--runtime", "onnx"])
    assert result.exit_code == 1 and "facetrust export" in result.output  # not exported: says how, analyses nothing


def test_clip_members_are_not_exported(tmp_path: Path) -> None:
    from facetrust.models import save_detector
    from facetrust.types import CropSpec, DetectorSpec
    from tests_helpers import make_tiny_clip_model

    model = make_tiny_clip_model()
    spec = DetectorSpec(name="clip", architecture="cnn_bilstm", input_size=32, clip_length=4,
                        crop=CropSpec(size=32, margin=1.3))
    save_detector(model, spec, tmp_path)
    assert export_onnx(tmp_path / "clip.json") == []
    assert "clip model" in onnx_problems(tmp_path / "clip.json")[0]


def test_import_help_and_a_rejected_file_load_neither_torch_nor_a_model(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    code = ("import sys\n"
            "from typer.testing import CliRunner\n"
            "import facetrust, facetrust.pipeline, facetrust.engine, facetrust.engine.onnx\n"
            "from facetrust.cli.main import app\n"
            "assert CliRunner().invoke(app, ['--help']).exit_code == 0\n"
            "result = CliRunner().invoke(app, ['detect', sys.argv[1]])\n"
            "print(result.exit_code, 'EmptyMediaError' in result.output, 'torch' in sys.modules,\n"
            "      'onnxruntime' in sys.modules, 'scipy.optimize' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code, str(empty)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    # exit 1 (the one input failed), said why, and no torch, no model session, no scipy.optimize on the way
    assert done.stdout.split() == ["1", "True", "False", "False", "False"]


def test_optimised_graphs_are_cached_per_machine_and_give_the_same_scores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from facetrust.engine.onnx import CACHE_ENV, load_onnx_detector
    from facetrust.models.catalog import resolve_detector

    spec = resolve_detector("sbi_effnet_lite0")
    crops = _random_crops(48, seed=3)
    monkeypatch.setenv(CACHE_ENV, "off")
    reference = load_onnx_detector(spec).predict_proba(crops)
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    first = load_onnx_detector(spec).predict_proba(crops)  # optimises and writes the cache
    cached = sorted((tmp_path / "cache" / "onnx").iterdir())
    assert [p.suffixes[-2:] for p in cached] == [[".ort", ".onnx"]]
    second = load_onnx_detector(spec).predict_proba(crops)  # loads the optimised graph
    assert float(np.abs(first - reference).max()) < 1e-6 and float(np.abs(second - reference).max()) < 1e-6
    cached[0].write_bytes(b"truncated")  # a damaged cache entry is dropped and rebuilt
    assert float(np.abs(load_onnx_detector(spec).predict_proba(crops) - reference).max()) < 1e-6
    assert cached[0].stat().st_size > 1_000_000
    (tmp_path / "blocked").write_text("a file where the cache folder should be")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "blocked"))  # unwritable: loads all the same
    assert float(np.abs(load_onnx_detector(spec).predict_proba(crops) - reference).max()) < 1e-6
