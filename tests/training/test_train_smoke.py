"""`facetrust train` end to end on a tiny generated data folder: crops, a few steps, calibration, a loadable detector."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from facetrust.cli.main import app
from tests_helpers import write_tiny_data_root

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


@pytest.mark.slow
def test_train_tiny_config_end_to_end(tmp_path: Path, media_dir: Path) -> None:
    data = tmp_path / "data"
    write_tiny_data_root(data, photos=6, video=media_dir / "face clip.mp4")
    config = tmp_path / "tiny.yaml"
    config.write_text(
        f"data_root: {data}\ncache_dir: {tmp_path / 'cache'}\noutput_dir: {tmp_path / 'out'}\n"
        "name: tiny_sbi\ninput_size: 64\ncrop_store_size: 80\nvideo_frames_per_clip: 4\nepochs: 1\n"
        "batch_size: 2\nnum_workers: 0\nholdout_fraction: 0.4\neval_pairs: 8\nmin_face_size: 20\n"
    )
    result = CliRunner().invoke(app, ["train", str(config), "lr=0.001", "warmup_steps=1"])
    assert result.exit_code == 0, result.output
    spec = json.loads((tmp_path / "out" / "tiny_sbi.json").read_text())
    assert spec["input_size"] == 64 and len(spec["sha256"]) == 64
    low, high = spec["uncertain_band"]
    assert 0 < low <= spec["threshold"] <= high < 1
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["steps"] >= 1 and np.isfinite(metrics["final_train_loss"])
    assert (tmp_path / "out" / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the run is in a local MLflow file store next to the output folder: params, held-out metrics, files
    runs = [p for p in (tmp_path / "mlruns").glob("*/*") if (p / "meta.yaml").is_file()]
    assert len(runs) == 1
    assert (runs[0] / "params" / "lr").read_text() == "0.001"
    assert (runs[0] / "metrics" / "holdout_all.auc").is_file()
    assert (runs[0] / "artifacts" / "tiny_sbi.safetensors").is_file()
    import facetrust

    report = facetrust.analyze(media_dir / "astronaut photo ü.jpg", detector=str(tmp_path / "out" / "tiny_sbi.json"))
    assert len(report.people) == 1

    # warm start: a second stage continues from the first run's checksummed weights, on the same split
    first = tmp_path / "out" / "tiny_sbi.json"
    stage2 = ["train", str(config), f"init_from={first}", f"output_dir={tmp_path / 'out2'}", "warmup_steps=1"]
    result = CliRunner().invoke(app, stage2)
    assert result.exit_code == 0, result.output
    second = json.loads((tmp_path / "out2" / "tiny_sbi.json").read_text())
    assert second["provenance"]["init"]["sha256"] == spec["sha256"]
    assert second["sha256"] != spec["sha256"]
    # another identity split would leak held-out identities into training: refused before any step
    result = CliRunner().invoke(app, [*stage2, "seed=1", f"cache_dir={tmp_path / 'cache1'}"])
    assert result.exit_code == 2 and "identity split" in result.output
    # another training draw (train_seed) keeps the identity split: accepted, other weights, same held-out items
    result = CliRunner().invoke(app, [*stage2, "train_seed=1", f"output_dir={tmp_path / 'out3'}"])
    assert result.exit_code == 0, result.output
    third = json.loads((tmp_path / "out3" / "tiny_sbi.json").read_text())
    assert third["sha256"] not in (spec["sha256"], second["sha256"])
    held_out = [json.loads((tmp_path / out / "metrics.json").read_text())["holdout_all"] for out in ("out2", "out3")]
    assert held_out[0]["n_real"] == held_out[1]["n_real"] and held_out[0]["n_fake"] == held_out[1]["n_fake"]
    # a spec of another architecture or input size does not fit
    result = CliRunner().invoke(app, [*stage2, "input_size=72"])
    assert result.exit_code == 2 and "input_size" in result.output

    # hard real negatives mined with the first run, then a lower-face model whose trunk starts from it
    mined = tmp_path / "hard.json"
    subprocess.run([sys.executable, str(SCRIPTS / "mine_hard_reals.py"), "--detector", str(first), "--store",
                    str(tmp_path / "cache"), "--out", str(mined), "--top", "0.25"], check=True, capture_output=True)
    hard = json.loads(mined.read_text())
    assert hard["detector"] == "tiny_sbi" and len(hard["rows"]) >= 1 and hard["logits"] == sorted(hard["logits"])[::-1]
    lower = [*stage2, "architecture=efficientnet_lite0_lower_face", "frozen_blocks=2", f"hard_reals={mined}",
             f"output_dir={tmp_path / 'out_lower'}"]
    result = CliRunner().invoke(app, lower)
    assert result.exit_code == 0, result.output
    lower_spec = json.loads((tmp_path / "out_lower" / "tiny_sbi.json").read_text())
    assert lower_spec["architecture"] == "efficientnet_lite0_lower_face"
    assert lower_spec["provenance"]["init"]["sha256"] == spec["sha256"]
    counts = json.loads((tmp_path / "out_lower" / "metrics.json").read_text())["data"]
    assert counts["hard_reals"] == len(hard["rows"])  # every mined row is a training row


def test_init_from_must_be_a_spec_file(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("init_from: weights.safetensors\n")
    result = CliRunner().invoke(app, ["train", str(config)])
    assert result.exit_code == 2 and "init_from" in result.output


def test_unknown_config_key_is_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("epoch: 3\n")
    result = CliRunner().invoke(app, ["train", str(config)])
    assert result.exit_code == 2 and "epochs" in result.output


@pytest.mark.slow
def test_pause_and_resume_continue_one_run(tmp_path: Path, media_dir: Path) -> None:
    data = tmp_path / "data"
    write_tiny_data_root(data, photos=6, video=media_dir / "face clip.mp4")
    config = tmp_path / "tiny.yaml"
    config.write_text(
        f"data_root: {data}\ncache_dir: {tmp_path / 'cache'}\noutput_dir: {tmp_path / 'out'}\n"
        "name: tiny_sbi\ninput_size: 64\ncrop_store_size: 80\nvideo_frames_per_clip: 4\nepochs: 2\n"
        "batch_size: 2\nnum_workers: 0\nholdout_fraction: 0.4\neval_pairs: 8\nmin_face_size: 20\n"
        "tracking: none\nwarmup_steps: 1\n"
    )
    runner = CliRunner()
    # a tiny pause budget: the first call stops after its first step and leaves a checkpoint
    result = runner.invoke(app, ["train", str(config), "resume=true", "pause_after_minutes=0.000001"])
    assert result.exit_code == 0, result.output
    assert "paused at step 1 of" in result.output and (tmp_path / "out" / "checkpoint.pt").is_file()
    assert not (tmp_path / "out" / "tiny_sbi.json").exists()
    # resuming with another learning rate would mix two runs: refused
    result = runner.invoke(app, ["train", str(config), "resume=true", "lr=0.01"])
    assert result.exit_code == 2 and "another config" in result.output
    result = runner.invoke(app, ["train", str(config), "resume=true"])
    assert result.exit_code == 0, result.output
    history = json.loads((tmp_path / "out" / "history.json").read_text())
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert [h["step"] for h in history] == list(range(1, metrics["steps"] + 1)) and metrics["steps"] > 1
    assert abs(history[-1]["epoch"] - 2.0) < 1e-9  # both epochs, the interrupted one included, ran in full
    assert not (tmp_path / "out" / "checkpoint.pt").exists()
