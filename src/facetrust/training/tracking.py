"""Experiment tracking for training runs: MLflow with a local file store (no server), or nothing.

MLflow's file store lives in a folder (``runs/mlruns`` by default, next to the run's output folder); browse it
with ``mlflow ui --backend-store-uri runs/mlruns`` (needs the full ``mlflow`` package). A run records the
resolved config as parameters, loss / accuracy / learning rate per logged step, the held-out metrics, and
the run's files (spec, metrics, history, curves, weights).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from facetrust.errors import ConfigError, DependencyError

logger = logging.getLogger(__name__)

TRACKERS = ("mlflow", "none")


class Tracker(Protocol):
    """What the trainer calls; every method is cheap when tracking is off."""

    def start(self, params: Mapping[str, Any], tags: Mapping[str, str]) -> None: ...

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None: ...

    def log_files(self, paths: list[Path]) -> None: ...

    def end(self, status: str = "FINISHED") -> None: ...


class NullTracker:
    """Tracking off."""

    location: str | None = None

    def start(self, params: Mapping[str, Any], tags: Mapping[str, str]) -> None:
        return None

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        return None

    def log_files(self, paths: list[Path]) -> None:
        return None

    def end(self, status: str = "FINISHED") -> None:
        return None


class MlflowTracker:
    """One MLflow run in a local file store at ``directory``."""

    def __init__(self, directory: Path, experiment: str, run_name: str) -> None:
        try:
            import mlflow
        except ImportError as exc:
            raise DependencyError(
                "tracking=mlflow needs MLflow: pip install 'facetrust[train]' (or mlflow-skinny); "
                "or set tracking=none"
            ) from exc
        # MLflow 3 keeps the folder store in maintenance mode behind this switch; it needs no server or database
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self._mlflow = mlflow
        self.directory = Path(directory).resolve()
        self.experiment, self.run_name = experiment, run_name
        self.location: str | None = None

    def start(self, params: Mapping[str, Any], tags: Mapping[str, str]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._mlflow.set_tracking_uri(self.directory.as_uri())
        self._mlflow.set_experiment(self.experiment)
        run = self._mlflow.start_run(run_name=self.run_name, tags=dict(tags))
        self._mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        self.location = f"{self.directory} (experiment {self.experiment!r}, run {run.info.run_id})"
        logger.info("MLflow run %s in %s", run.info.run_id, self.directory)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        self._mlflow.log_metrics({mlflow_name(k): float(v) for k, v in metrics.items()}, step=step)

    def log_files(self, paths: list[Path]) -> None:
        for path in paths:
            if path.is_file():
                self._mlflow.log_artifact(str(path))

    def end(self, status: str = "FINISHED") -> None:
        self._mlflow.end_run(status=status)


def create_tracker(kind: str, directory: Path, experiment: str, run_name: str) -> Tracker:
    """``"mlflow"`` → :class:`MlflowTracker`, ``"none"`` → :class:`NullTracker`."""
    if kind == "mlflow":
        return MlflowTracker(directory, experiment, run_name)
    if kind == "none":
        return NullTracker()
    raise ConfigError(f"tracking must be one of {', '.join(TRACKERS)}, got {kind!r}")


def mlflow_name(key: str) -> str:
    """``key`` with every character MLflow refuses in a metric name (e.g. the ``+`` of a method called
    ``FLUX.1-dev+LoRA``) replaced by ``_``."""
    return _MLFLOW_REFUSED.sub("_", key)


_MLFLOW_REFUSED = re.compile(r"[^\w\-. :/]")


def flat_metrics(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Nested held-out metrics → ``{"holdout_all.auc": 0.95, ...}`` (numbers only)."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flat_metrics(value, f"{name}."))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[name] = float(value)
    return out


__all__ = ["TRACKERS", "MlflowTracker", "NullTracker", "Tracker", "create_tracker", "flat_metrics", "mlflow_name"]
