"""`facetrust train` beyond plain self-blending: real fakes mixed in, clip models, validation-driven schedules,
early stopping, cross-dataset evaluation and DDP, each end to end on tiny generated data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from facetrust.cli.main import app
from tests_helpers import write_extraction, write_generic_dataset, write_tiny_data_root


def _config(tmp_path: Path, media_dir: Path, videos: int = 1, **extra: object) -> Path:
    data = tmp_path / "data"
    if not data.exists():
        write_tiny_data_root(data, photos=6, video=media_dir / "face clip.mp4", videos=videos)
    lines = {
        "data_root": data, "cache_dir": tmp_path / "cache", "output_dir": tmp_path / "out", "name": "tiny",
        "input_size": 64, "crop_store_size": 80, "video_frames_per_clip": 6, "epochs": 1, "batch_size": 2,
        "num_workers": 0, "holdout_fraction": 0.4, "eval_pairs": 8, "val_pairs": 4, "min_face_size": 20,
        "warmup_steps": 1, "lr": 0.001, **extra,
    }
    config = tmp_path / "tiny.yaml"
    config.write_text("".join(f"{key}: {json.dumps(value) if isinstance(value, list) else value}\n"
                              for key, value in lines.items()))
    return config


def _train(config: Path, *overrides: str) -> None:
    result = CliRunner().invoke(app, ["train", str(config), *overrides])
    assert result.exit_code == 0, result.output


@pytest.mark.slow
def test_real_fakes_mix_with_self_blends_and_the_run_is_tested_on_another_dataset(
    tmp_path: Path, media_dir: Path
) -> None:
    extraction = write_extraction(tmp_path / "extracted")
    other = write_generic_dataset(tmp_path / "other dataset", media_dir)
    config = _config(
        tmp_path, media_dir, real_fakes=[str(extraction)], eval_datasets=[str(other)], eval_frames=4,
        augment="standard", clahe="true", schedule="plateau", val_every_steps=2, epochs=3, max_steps=8,
        restore_best="true",
    )
    _train(config)
    out = tmp_path / "out"
    metrics = json.loads((out / "metrics.json").read_text())
    # 16 real-fake training crops (half fake) joined the self-blended pairs; their val split was held out
    assert metrics["data"]["real_fakes_train"] == 16 and metrics["data"]["real_fakes_train_fake"] == 8
    assert metrics["holdout_items"]["real_fakes"] == 16
    assert set(metrics["holdout_real_fakes_by_method"]) == {"swap"}
    assert 0 <= metrics["holdout_real_fakes"]["auc"] <= 1
    # the track rule also saw the held-out real-fake videos (2 real + 2 fake) beside the self-blended ones
    assert len(metrics["holdout_tracks"]["fake_video_means"]) >= 2
    validations = json.loads((out / "validation.json").read_text())
    assert [v["step"] for v in validations] == [2, 4, 6, 8]
    assert all(np.isfinite(v["val_loss"]) for v in validations)
    best = min(validations, key=lambda v: v["val_loss"])
    assert metrics["validation"]["best_step"] == best["step"]
    spec = json.loads((out / "tiny.json").read_text())
    assert spec["provenance"]["augmentations"]["policy"] == "standard"
    assert "real and fake crops extracted" in spec["provenance"]["recipe"]
    # cross-dataset: the new detector was evaluated on the other dataset, with its own metrics and table
    evaluated = metrics["eval_datasets"]["other dataset"]
    assert evaluated["items"] == 5 and evaluated["video"] is not None
    assert (out / "eval" / "other dataset" / "metrics.md").is_file()


@pytest.mark.slow
def test_early_stopping_ends_a_run_that_stops_improving(tmp_path: Path, media_dir: Path) -> None:
    # a learning rate of 1e-9 barely moves the weights (only BatchNorm statistics drift): with patience 1 the
    # run stops at the first validation that does not improve on the best, long before its 5 epochs
    config = _config(tmp_path, media_dir, val_every_steps=1, early_stopping_patience=1, epochs=5, lr=1e-9,
                     tracking="none", max_steps=12)
    _train(config)
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    validations = json.loads((tmp_path / "out" / "validation.json").read_text())
    assert metrics["validation"]["stopped_early"] is True and metrics["steps"] < 12
    assert [v["step"] for v in validations] == list(range(1, metrics["steps"] + 1))
    losses = [v["val_loss"] for v in validations]
    assert losses[-1] >= min(losses[:-1]) - 1e-4  # the last validation did not improve ...
    assert metrics["validation"]["best_step"] == metrics["steps"] - 1  # ... on the one before it


@pytest.mark.slow
def test_clip_model_trains_on_consistent_self_blended_clips_and_detects(tmp_path: Path, media_dir: Path) -> None:
    # two videos: one trained on, one held out (see write_tiny_data_root)
    config = _config(tmp_path, media_dir, videos=2, architecture="cnn_lstm_attention", clip_length=3,
                     tracking="none", max_steps=3)
    _train(config)
    spec = json.loads((tmp_path / "out" / "tiny.json").read_text())
    assert spec["clip_length"] == 3 and spec["architecture"] == "cnn_lstm_attention"
    import facetrust

    report = facetrust.analyze(media_dir / "face clip.mp4", detector=str(tmp_path / "out" / "tiny.json"), frames=8)
    assert report.people and all(0 <= f.fake_probability <= 1 for f in report.people[0].frame_scores)


@pytest.mark.slow
def test_frame_difference_clip_model_trains_on_animated_and_rerendered_clips(tmp_path: Path, media_dir: Path) -> None:
    from facetrust.synthesis.upsampler import UpsamplingAutoEncoder, save_upsampler

    decoders = tmp_path / "decoders"
    save_upsampler(UpsamplingAutoEncoder("nearest", width=8, depth=2), decoders / "nearest")
    config = _config(tmp_path, media_dir, videos=2, architecture="efficientnet_lite0_diff_lstm", clip_length=3,
                     tracking="none", max_steps=3, animate_share=0.3, rerender_share=0.4,
                     rerender_decoders=decoders)
    _train(config)
    spec = json.loads((tmp_path / "out" / "tiny.json").read_text())
    assert spec["clip_length"] == 3 and spec["provenance"]["config"]["rerender_share"] == 0.4
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["holdout_items"].get("rerendered_video", 0) > 0  # the held-out set has re-rendered clips


@pytest.mark.slow
def test_real_fakes_alone_without_self_blending(tmp_path: Path, media_dir: Path) -> None:
    extraction = write_extraction(tmp_path / "extracted")
    config = _config(tmp_path, media_dir, sbi="false", real_fakes=[str(extraction)], tracking="none", max_steps=3)
    _train(config)
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert "sbi_train" not in metrics["data"] and metrics["holdout_items"] == {"real_fakes": 16}
    assert not (tmp_path / "cache").exists()  # no crops were prepared for self-blending


def test_a_run_needs_something_to_train_on(tmp_path: Path, media_dir: Path) -> None:
    result = CliRunner().invoke(app, ["train", str(_config(tmp_path, media_dir)), "sbi=false"])
    assert result.exit_code == 2 and "nothing to train on" in result.output


def test_unknown_schedule_and_policy_are_usage_errors(tmp_path: Path, media_dir: Path) -> None:
    config = _config(tmp_path, media_dir)
    result = CliRunner().invoke(app, ["train", str(config), "schedule=plateu"])
    assert result.exit_code == 2 and "plateau" in result.output
    result = CliRunner().invoke(app, ["train", str(config), "augment=standart"])
    assert result.exit_code == 2 and "standard" in result.output
    result = CliRunner().invoke(app, ["train", str(config), f"eval_datasets=[{tmp_path / 'missing'}]"])
    assert result.exit_code == 2 and "missing" in result.output


@pytest.mark.slow
def test_two_processes_train_one_detector_with_ddp(tmp_path: Path, media_dir: Path) -> None:
    # 3 training crops, 1 pair per process and step: each epoch is one step of 2 pairs over the two processes
    config = _config(tmp_path, media_dir, batch_size=1, epochs=2, tracking="none", device="cpu", threads=1)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "facetrust.cli.main", "train", str(config)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["steps"] == 2
    assert "rank 1 of 2" in result.stderr and "rank 0 of 2" in result.stderr
    spec = json.loads((tmp_path / "out" / "tiny.json").read_text())
    assert len(spec["sha256"]) == 64
