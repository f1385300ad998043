"""save_detector / read_spec / load_detector_files: round trips, checksums, strictness, no pickle."""

from __future__ import annotations

import dataclasses
import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors import safe_open
from torch import nn

from facetrust.errors import ConfigError, UnknownNameError, WeightsError
from facetrust.models import load_detector_files, read_spec, save_detector, sha256_file
from facetrust.models.weights import check_spec
from facetrust.scoring import ScoreRunner
from facetrust.types import CropSpec, DetectorSpec

CPU = torch.device("cpu")


def _edit_spec(directory: Path, **changes: Any) -> Path:
    path = directory / "tiny.json"
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def no_pickle(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any pickle-based load fail the test."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a pickle-based loader was called")

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)


def test_save_writes_both_files_and_fills_the_spec(weights_dir: Path, tiny_spec: DetectorSpec) -> None:
    spec = read_spec(weights_dir / "tiny.json")
    assert spec.weights_file == "tiny.safetensors"
    assert spec.sha256 == sha256_file(weights_dir / "tiny.safetensors")
    assert spec == dataclasses.replace(tiny_spec, weights_file=spec.weights_file, sha256=spec.sha256)
    assert (
        isinstance(spec.crop, CropSpec)
        and isinstance(spec.mean, tuple)
        and isinstance(spec.uncertain_band, tuple)
    )


def test_fp32_round_trip_gives_identical_outputs(
    weights_dir: Path, tiny_model: nn.Module, crops: list[np.ndarray], no_pickle: None
) -> None:
    model, spec = load_detector_files(weights_dir / "tiny.json")
    assert not model.training
    assert all(p.dtype == torch.float32 for p in model.parameters())
    before = ScoreRunner(tiny_model, spec, CPU).logits(crops)
    after = ScoreRunner(model, spec, CPU).logits(crops)
    np.testing.assert_array_equal(after, before)
    assert before.std() > 0.1  # the comparison is not between constants


def test_fp16_round_trip_is_close_and_stored_as_half(
    tmp_path: Path, tiny_model: nn.Module, tiny_spec: DetectorSpec, crops: list[np.ndarray], no_pickle: None
) -> None:
    filled = save_detector(tiny_model, tiny_spec, tmp_path)  # half=True is the default
    with safe_open(str(tmp_path / "tiny.safetensors"), framework="pt") as fh:
        assert fh.get_tensor("conv_stem.weight").dtype == torch.float16
        assert fh.get_tensor("bn1.num_batches_tracked").dtype == torch.int64
        assert fh.metadata() == {"format": "pt"}
    model, spec = load_detector_files(tmp_path / "tiny.json")
    assert spec == filled
    assert model.conv_stem.weight.dtype == torch.float32  # upcast on load
    before = ScoreRunner(tiny_model, spec, CPU).probabilities(crops)
    after = ScoreRunner(model, spec, CPU).probabilities(crops)
    np.testing.assert_allclose(after, before, atol=1e-2)


def test_a_flipped_byte_is_a_checksum_mismatch(weights_dir: Path) -> None:
    path = weights_dir / "tiny.safetensors"
    data = bytearray(path.read_bytes())
    data[-100] ^= 0x01  # one bit of one weight
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="checksum mismatch"):
        load_detector_files(weights_dir / "tiny.json")


def test_missing_weights_file(weights_dir: Path) -> None:
    (weights_dir / "tiny.safetensors").unlink()
    with pytest.raises(WeightsError, match="missing weights"):
        load_detector_files(weights_dir / "tiny.json")


def test_unknown_architecture_in_the_spec(weights_dir: Path) -> None:
    spec_path = _edit_spec(weights_dir, architecture="efficientnet_lite7")
    with pytest.raises(WeightsError, match="unknown architecture") as info:
        load_detector_files(spec_path)
    assert isinstance(info.value.__cause__, UnknownNameError)
    assert "efficientnet_lite0" in str(info.value)  # the message lists what exists


def test_weights_that_do_not_fit_the_architecture(weights_dir: Path) -> None:
    spec_path = _edit_spec(weights_dir, architecture="efficientnet_lite1")
    with pytest.raises(WeightsError, match="do not fit efficientnet_lite1"):
        load_detector_files(spec_path)
    spec_path = _edit_spec(weights_dir, architecture="efficientnet_lite0", num_outputs=2)
    with pytest.raises(WeightsError, match=r"classifier\.weight \(1, 1280\) != \(2, 1280\)"):
        load_detector_files(spec_path)


def test_pickle_weights_are_never_loaded(weights_dir: Path, tiny_model: nn.Module, no_pickle: None) -> None:
    # A .pth named by the spec is refused outright.
    spec_path = _edit_spec(weights_dir, weights_file="tiny.pth")
    (weights_dir / "tiny.pth").write_bytes(b"\x80\x04not really a pickle")
    with pytest.raises(WeightsError, match="safetensors"):
        load_detector_files(spec_path)
    # A pickle disguised as .safetensors (with a matching checksum) fails to parse; it is never unpickled.
    fake = weights_dir / "tiny.safetensors"
    fake.write_bytes(pickle.dumps({"conv_stem.weight": [1.0, 2.0]}))
    spec_path = _edit_spec(weights_dir, weights_file="tiny.safetensors", sha256=sha256_file(fake))
    with pytest.raises(WeightsError, match="cannot parse safetensors"):
        load_detector_files(spec_path)


def test_weights_file_must_sit_beside_the_spec(weights_dir: Path) -> None:
    spec_path = _edit_spec(weights_dir, weights_file="../elsewhere.safetensors")
    with pytest.raises(WeightsError, match="beside the spec"):
        load_detector_files(spec_path)


def test_spec_without_checksum_is_refused(weights_dir: Path) -> None:
    # deleting the sha256 from a spec must not be a way around the integrity check
    spec_path = _edit_spec(weights_dir, sha256=None)
    with pytest.raises(WeightsError, match="no sha256"):
        load_detector_files(spec_path)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"name": "x"}', "missing required keys.*architecture"),
        ('{"name": "x", "architecture": "efficientnet_lite0", "colour": 1}', "unknown keys.*colour"),
        (
            '{"name": "x", "architecture": "efficientnet_lite0", "input_size": "64"}',
            "input_size must be an integer",
        ),
        (
            '{"name": "x", "architecture": "efficientnet_lite0", "mean": [0.5, 0.5]}',
            "mean must be a list of 3",
        ),
        (
            '{"name": "x", "architecture": "efficientnet_lite0", "crop": {"size": 9, "zoom": 2}}',
            "unknown crop keys",
        ),
        ('{"name": "x", "architecture": "efficientnet_lite0", "temperature": 0}', "temperature must be > 0"),
        (
            '{"name": "x", "architecture": "efficientnet_lite0", "num_outputs": 2, "fake_index": 2}',
            "fake_index",
        ),
        ('{"name": "x", "architecture": "efficientnet_lite0", "sha256": "abc"}', "64 hex digits"),
    ],
)
def test_bad_specs_are_weights_errors(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(WeightsError, match=match):
        read_spec(path)


def test_minimal_spec_gets_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "min.json"
    path.write_text('{"name": "min", "architecture": "efficientnet_lite0"}')
    assert read_spec(path) == DetectorSpec(name="min", architecture="efficientnet_lite0")


def test_missing_spec_file(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="not found"):
        read_spec(tmp_path / "nope.json")


def test_save_refuses_a_model_that_does_not_fit_the_spec(
    tmp_path: Path, tiny_model: nn.Module, tiny_spec: DetectorSpec
) -> None:
    with pytest.raises(WeightsError, match="does not fit"):
        save_detector(tiny_model, dataclasses.replace(tiny_spec, num_outputs=2), tmp_path)
    with pytest.raises(UnknownNameError):
        save_detector(tiny_model, dataclasses.replace(tiny_spec, architecture="resnet9000"), tmp_path)
    with pytest.raises(ConfigError, match="temperature"):
        save_detector(tiny_model, dataclasses.replace(tiny_spec, temperature=-1.0), tmp_path)
    with pytest.raises(ConfigError, match="plain file name"):
        save_detector(tiny_model, dataclasses.replace(tiny_spec, name="../escape"), tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_save_overwrites_atomically_and_leaves_no_temp_files(
    tmp_path: Path, tiny_model: nn.Module, tiny_spec: DetectorSpec
) -> None:
    first = save_detector(tiny_model, tiny_spec, tmp_path / "out")
    second = save_detector(tiny_model, tiny_spec, tmp_path / "out")
    assert first.sha256 == second.sha256  # deterministic bytes
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["tiny.json", "tiny.safetensors"]


def test_provenance_is_made_strict_json_instead_of_failing_a_training_run(
    tmp_path: Path, tiny_model: nn.Module, tiny_spec: DetectorSpec
) -> None:
    provenance = {"auc": float("nan"), "out": tmp_path, "lr": np.float32(0.5), "steps": (1, 2), "x": object()}
    filled = save_detector(tiny_model, dataclasses.replace(tiny_spec, provenance=provenance), tmp_path)
    assert filled.provenance["auc"] is None and filled.provenance["out"] == str(tmp_path)
    assert filled.provenance["lr"] == 0.5 and filled.provenance["steps"] == [1, 2]
    assert "NaN" not in (tmp_path / "tiny.json").read_text()
    assert read_spec(tmp_path / "tiny.json") == filled
    assert (
        check_spec(dataclasses.replace(filled, weights_file=None, sha256=None)).provenance
        == filled.provenance
    )
