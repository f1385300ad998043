"""Experiment tracking: a local MLflow file store, or nothing; bad settings are config errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from facetrust.errors import ConfigError
from facetrust.training import TrainConfig
from facetrust.training.tracking import MlflowTracker, NullTracker, create_tracker, flat_metrics


def test_unknown_tracker_is_refused_in_the_config() -> None:
    with pytest.raises(ConfigError, match="tracking"):
        TrainConfig(tracking="mlfow")
    with pytest.raises(ConfigError, match="tracking"):
        create_tracker("wandb", Path("x"), "e", "r")


def test_none_tracker_writes_nothing(tmp_path: Path) -> None:
    tracker = create_tracker("none", tmp_path / "store", "e", "r")
    assert isinstance(tracker, NullTracker)
    tracker.start({"a": 1}, {})
    tracker.log_metrics({"loss": 1.0}, step=1)
    tracker.end()
    assert not (tmp_path / "store").exists()


def test_mlflow_tracker_records_params_metrics_and_files(tmp_path: Path) -> None:
    tracker = create_tracker("mlflow", tmp_path / "store", "facetrust-test", "run-1")
    assert isinstance(tracker, MlflowTracker)
    tracker.start({"lr": 0.001, "name": "x"}, {"architecture": "efficientnet_lite0"})
    for step, loss in enumerate([0.7, 0.5, 0.3], start=1):
        tracker.log_metrics({"loss": loss}, step=step)
    # method names from datasets may hold characters MLflow refuses (found: "FLUX.1-dev+LoRA")
    tracker.log_metrics({"by_method.FLUX.1-dev+LoRA.auc": 0.9})
    (tmp_path / "spec.json").write_text("{}")
    tracker.log_files([tmp_path / "spec.json", tmp_path / "missing.json"])
    tracker.end()
    runs = [p for p in (tmp_path / "store").glob("*/*") if (p / "meta.yaml").is_file()]
    assert len(runs) == 1
    run = runs[0]
    assert (run / "params" / "lr").read_text() == "0.001"
    losses = [line.split()[1] for line in (run / "metrics" / "loss").read_text().splitlines()]
    assert losses == ["0.7", "0.5", "0.3"]
    assert (run / "metrics" / "by_method.FLUX.1-dev_LoRA.auc").is_file()
    assert (run / "artifacts" / "spec.json").is_file() and not (run / "artifacts" / "missing.json").exists()
    assert "status: 3" in (run / "meta.yaml").read_text()  # RunStatus.FINISHED


def test_flat_metrics_keeps_numbers_only() -> None:
    nested = {"holdout_all": {"auc": 0.9, "n_real": 10}, "calibration": {"uncertain_band": [0.1, 0.6]},
              "steps": 5, "ok": True}
    assert flat_metrics(nested) == {"holdout_all.auc": 0.9, "holdout_all.n_real": 10.0, "steps": 5.0}
