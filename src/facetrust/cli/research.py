"""Commands for people who build detectors: ``train``, ``extract``, ``eval``, ``benchmark`` and ``ensemble``."""

from __future__ import annotations

import logging
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

import facetrust
from facetrust.cli.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    AdapterOpt,
    DatasetArg,
    LimitOpt,
    SplitOpt,
    _check_detectors,
    _open_dataset,
    _usage_error,
    err,
    out,
)
from facetrust.utils.logging import setup_logging


def train(
    config: Annotated[Path, typer.Argument(help="YAML training config, e.g. configs/default_detector.yaml.")],
    overrides: Annotated[list[str] | None, typer.Argument(help="key=value overrides of the config.")] = None,
) -> None:
    """Train a frame or clip detector on self-blended images and/or extracted real fakes; writes weights, spec,
    metrics and curves. Several processes: torchrun --standalone --nproc_per_node N -m facetrust.cli.main train ..."""
    from facetrust.config import load_config
    from facetrust.training import TrainConfig
    from facetrust.training.train import train as run_training

    setup_logging(logging.INFO)
    try:
        cfg = load_config(TrainConfig, config, overrides or [])
    except facetrust.ConfigError as exc:
        raise _usage_error(str(exc)) from None
    command = "facetrust train " + " ".join([str(config), *(overrides or [])])
    from facetrust.training.train import TrainingPaused

    try:
        spec = run_training(cfg, command=command)
    except TrainingPaused as paused:
        out.print(escape(str(paused)))
        raise typer.Exit(EXIT_OK) from None
    except facetrust.ConfigError as exc:  # found once the data or init_from were looked at: still a usage error
        raise _usage_error(str(exc)) from None
    except facetrust.FacetrustError as exc:
        err.print(f"[red]{type(exc).__name__}:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_FAILED) from None
    out.print(escape(f"saved {spec.name} to {cfg.output_dir} (sha256 {spec.sha256})"))


def extract(
    dataset: DatasetArg,
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder (crops/, index.csv, skipped.csv).")],
    adapter: AdapterOpt = "auto",
    split: SplitOpt = None,
    limit: LimitOpt = None,
    frames: Annotated[int, typer.Option(min=1, max=300, help="Evenly spaced frames per video.")] = 32,
    crop_size: Annotated[int, typer.Option(help="Side of the saved crops in pixels.")] = 256,
    margin: Annotated[float, typer.Option(help="Crop side = margin × face box side.")] = 1.3,
    workers: Annotated[int, typer.Option(min=1, help="Parallel worker processes.")] = 1,
) -> None:
    """Cut face crops from every item of a dataset, as `detect` does (resumable: rerun to continue)."""
    from facetrust.extract import ExtractOptions, extract_dataset

    setup_logging(logging.WARNING)
    try:
        options = ExtractOptions(frames=frames, crop_size=crop_size, crop_margin=margin)
    except facetrust.ConfigError as exc:
        raise _usage_error(str(exc)) from None
    index = _open_dataset(dataset, adapter, split, limit)
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err, transient=True) as progress:
            task = progress.add_task("extracting", total=len(index))
            summary = extract_dataset(index, out_dir, options, workers=workers,
                                      on_item=lambda part: progress.advance(task))
    except facetrust.ConfigError as exc:
        raise _usage_error(str(exc)) from None
    except KeyboardInterrupt:
        err.print("interrupted: rerun the same command to resume")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    skipped = ", ".join(f"{k} {v}" for k, v in sorted(summary.skipped.items())) or "nothing"
    out.print(escape(f"{summary.crops} crops from {summary.items} items ({summary.done_before} done before, "
                     f"{summary.failed} failed) in {summary.out_dir}; skipped: {skipped}"))
    raise typer.Exit(EXIT_FAILED if summary.failed else EXIT_OK)


def evaluate(
    detector: Annotated[str, typer.Argument(help="Detector name (see `facetrust models`) or spec .json path.")],
    dataset: DatasetArg,
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder for metrics, tables and plots.")],
    adapter: AdapterOpt = "auto",
    split: SplitOpt = None,
    limit: LimitOpt = None,
    frames: Annotated[int, typer.Option(min=1, max=300, help="Evenly spaced frames per video.")] = 32,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:N (default: cuda if present).")] = None,
    bootstrap: Annotated[int, typer.Option(min=0, help="Bootstrap resamples for the 95% intervals.")] = 1000,
) -> None:
    """Evaluate a detector on a dataset: video- and frame-level metrics, curves, metrics.json and a table."""
    from facetrust.evaluation.runner import evaluate_detector

    setup_logging(logging.WARNING)
    index = _open_dataset(dataset, adapter, split, limit)
    _check_detectors([detector], device)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True) as progress:
        task = progress.add_task("evaluating", total=len(index))
        result = evaluate_detector(detector, index, out_dir, frames=frames, device=device,
                                   n_bootstrap=bootstrap, on_item=lambda row: progress.advance(task))
    out.print(escape(result.outputs["markdown"].read_text(encoding="utf-8")))
    err.print(escape(f"wrote {out_dir}/metrics.json, metrics.md, predictions.csv and the plots"))
    raise typer.Exit(EXIT_OK if result.scored else EXIT_FAILED)


def benchmark(
    dataset: DatasetArg,
    detectors: Annotated[list[str] | None, typer.Option("--detector", "-d", help="Detector to compare (repeat); "
                                                        "default: every listed detector.")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Also write each detector's evaluation here.")] = None,
    adapter: AdapterOpt = "auto",
    split: SplitOpt = None,
    limit: LimitOpt = None,
    frames: Annotated[int, typer.Option(min=1, max=300, help="Evenly spaced frames per video.")] = 32,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:N (default: cuda if present).")] = None,
) -> None:
    """Evaluate several detectors on one dataset and print the comparison table (video level)."""
    from facetrust.evaluation.runner import evaluate_detector
    from facetrust.evaluation.tables import comparison_table

    setup_logging(logging.WARNING)
    names = detectors or [d.name for d in facetrust.list_detectors() if "alias of" not in d.description]
    if not names:
        raise _usage_error("no detectors to compare")
    index = _open_dataset(dataset, adapter, split, limit)
    _check_detectors(names, device)
    rows = []
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True) as progress:
        task = progress.add_task("benchmark", total=len(index) * len(names))
        for name in names:
            label = Path(name).stem if name.endswith(".json") else name  # a spec path → its file name
            progress.update(task, description=f"evaluating {escape(label)}")
            result = evaluate_detector(name, index, out_dir / label if out_dir else None, frames=frames,
                                       device=device, n_bootstrap=0, on_item=lambda row: progress.advance(task))
            rows.append({**result.summary_row(), "detector": label})
    table = comparison_table(rows)
    out.print(escape(table))
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "benchmark.md").write_text(table + "\n", encoding="utf-8")


class EnsembleMethod(StrEnum):
    """How an ensemble combines its members."""

    average = "average"
    weighted = "weighted"


def ensemble(
    name: Annotated[str, typer.Argument(help="Name of the new ensemble detector.")],
    members: Annotated[list[str], typer.Argument(help="Member detectors (names or spec .json paths), 2 or more.")],
    method: Annotated[EnsembleMethod, typer.Option(help="average or weighted (stacking: Python API).")] =
        EnsembleMethod.average,
    weights: Annotated[str | None, typer.Option(help="Comma-separated weights for --method weighted.")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for NAME.json.")] = Path("."),
) -> None:
    """Create an ensemble detector file (use it with --detector PATH/NAME.json)."""
    from facetrust.models.ensemble import EnsembleSpec, save_ensemble

    try:
        parsed = tuple(float(w) for w in weights.split(",")) if weights else None
        # member paths are stored relative to the ensemble file, so the folder can be moved as a whole
        stored = tuple(
            os.path.relpath(Path(m).resolve(), out_dir.resolve()) if m.endswith(".json") or os.sep in m else m
            for m in members
        )
        spec = EnsembleSpec(name=name, members=stored, method=method.value, weights=parsed)
    except (ValueError, facetrust.ConfigError) as exc:
        raise _usage_error(str(exc)) from None
    _check_detectors(list(members), "cpu")
    path = save_ensemble(spec, out_dir)
    out.print(escape(f"wrote {path}: {method.value} ensemble of {', '.join(members)}. Its threshold is 0.5 "
                     "until calibrated: evaluate it with `facetrust eval` before trusting its verdicts."))


