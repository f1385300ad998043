"""Evaluate a detector on an indexed dataset: run every item through ``facetrust.analyze``, then score.

Writes into ``out_dir``: ``predictions.csv`` (one row per item: verdict, probability, error),
``video_metrics.json|md`` and ``frame_metrics.json|md`` with ROC / PR / reliability PNGs for each level, and
``metrics.json`` + ``metrics.md`` that hold both levels, the detector, the dataset and what was not scored.
Items that fail (corrupt file) or show no face are counted and listed, never given a score.
"""

from __future__ import annotations

import csv
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from facetrust.datasets import DatasetIndex
from facetrust.errors import FacetrustError, InputError
from facetrust.evaluation.metrics import EvalReport, binary_report
from facetrust.evaluation.tables import comparison_row, markdown_table, write_outputs

logger = logging.getLogger(__name__)

PREDICTION_COLUMNS = ("path", "label", "method", "group", "split", "verdict", "fake_probability", "threshold",
                      "frames_sampled", "people", "seconds", "error")


@dataclass
class DatasetEvaluation:
    """The outcome of :func:`evaluate_detector`."""

    detector: str
    dataset: str
    video: EvalReport | None
    frame: EvalReport | None
    items: int
    scored: int
    not_scored: dict[str, int]
    frames_per_second: float | None
    seconds: float
    outputs: dict[str, Path] = field(default_factory=dict)

    def summary_row(self) -> dict[str, Any]:
        """A row for :func:`facetrust.evaluation.comparison_table` (video level)."""
        if self.video is None:
            return {"detector": self.detector}
        return comparison_row(self.detector, self.video, frames_per_s=self.frames_per_second)


def evaluate_detector(
    detector: str,
    index: DatasetIndex,
    out_dir: Path | None,
    *,
    frames: int = 32,
    device: str | None = None,
    n_bootstrap: int = 1000,
    seed: int = 0,
    on_item: Callable[[dict[str, Any]], None] | None = None,
) -> DatasetEvaluation:
    """Analyse every item of ``index`` with ``detector`` and compute video- and frame-level metrics.

    The decision threshold is the detector's own calibrated one (per report). ``out_dir=None`` writes nothing.
    """
    import facetrust

    if len(index) == 0:
        raise InputError(f"dataset {index.name} at {index.root} has no items to evaluate")
    rows: list[dict[str, Any]] = []
    video_labels: list[int] = []
    video_scores: list[float] = []
    video_methods: list[str] = []
    frame_labels: list[int] = []
    frame_scores: list[float] = []
    frame_methods: list[str] = []
    frame_groups: list[str] = []
    thresholds: list[float] = []
    total_frames = 0
    started = time.perf_counter()
    for item in index.items:
        mark = time.perf_counter()
        row: dict[str, Any] = {"path": str(item.path), "label": item.label, "method": item.method,
                               "group": item.group, "split": item.split or ""}
        try:
            report = facetrust.analyze(item.path, frames=frames, detector=detector, device=device)
        except FacetrustError as exc:
            row.update(verdict="", fake_probability="", error=f"{type(exc).__name__}: {exc}")
        else:
            total_frames += report.frames_sampled
            row.update(verdict=str(report.verdict), fake_probability=report.fake_probability,
                       threshold=report.threshold, frames_sampled=report.frames_sampled,
                       people=len(report.people), error="")
            if report.fake_probability is not None:
                label = int(item.label == "fake")
                video_labels.append(label)
                video_scores.append(float(report.fake_probability))
                video_methods.append(item.method)
                thresholds.append(float(report.threshold))
                for person in report.people:
                    for frame in person.frame_scores:
                        frame_labels.append(label)
                        frame_scores.append(float(frame.fake_probability))
                        frame_methods.append(item.method)
                        frame_groups.append(str(item.path))
        row["seconds"] = round(time.perf_counter() - mark, 3)
        rows.append(row)
        if on_item is not None:
            on_item(row)
    seconds = time.perf_counter() - started
    not_scored: dict[str, int] = {}
    for row in rows:
        if row["error"]:
            key = row["error"].split(":", 1)[0]
        elif row["fake_probability"] in ("", None):
            key = str(row["verdict"] or "unscored")
        else:
            continue
        not_scored[key] = not_scored.get(key, 0) + 1
    threshold = thresholds[0] if thresholds else 0.5
    if len(set(thresholds)) > 1:
        logger.warning("reports used different thresholds (%s); metrics use the first", sorted(set(thresholds)))
    video = frame = None
    if video_labels:
        video = binary_report(video_labels, video_scores, threshold=threshold, methods=video_methods,
                              n_bootstrap=n_bootstrap, seed=seed)
    if frame_labels:
        frame = binary_report(frame_labels, frame_scores, threshold=threshold, methods=frame_methods,
                              groups=frame_groups, n_bootstrap=n_bootstrap, seed=seed)
    evaluation = DatasetEvaluation(
        detector=detector, dataset=f"{index.name} ({index.root})", video=video, frame=frame, items=len(rows),
        scored=len(video_labels), not_scored=not_scored,
        frames_per_second=round(total_frames / seconds, 2) if seconds > 0 and total_frames else None,
        seconds=round(seconds, 1),
    )
    if out_dir is not None:
        evaluation.outputs = _write(evaluation, rows, Path(out_dir))
    return evaluation


def _write(evaluation: DatasetEvaluation, rows: list[dict[str, Any]], out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    outputs: dict[str, Path] = {"predictions": out / "predictions.csv"}
    with outputs["predictions"].open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=PREDICTION_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    sections = [
        f"# Evaluation of `{evaluation.detector}` on {evaluation.dataset}",
        "",
        f"{evaluation.items} items, {evaluation.scored} scored in {evaluation.seconds} s "
        f"({evaluation.frames_per_second or 'n/a'} frames/s). Not scored: "
        + (", ".join(f"{k} {v}" for k, v in sorted(evaluation.not_scored.items())) or "none") + ".",
    ]
    for level, report in (("video", evaluation.video), ("frame", evaluation.frame)):
        if report is None:
            sections += ["", f"No {level}-level scores."]
            continue
        for kind, path in write_outputs(report, out, prefix=f"{level}_").items():
            outputs[f"{level}_{kind}"] = path
        sections += ["", markdown_table(report, title=f"{level.capitalize()} level")]
    if evaluation.frame is not None:
        sections += ["", "Frame-level intervals resample whole videos (cluster bootstrap)."]
    outputs["markdown"] = out / "metrics.md"
    outputs["markdown"].write_text("\n".join(sections) + "\n", encoding="utf-8")
    outputs["json"] = out / "metrics.json"
    outputs["json"].write_text(json.dumps({
        "detector": evaluation.detector,
        "dataset": evaluation.dataset,
        "items": evaluation.items,
        "scored": evaluation.scored,
        "not_scored": evaluation.not_scored,
        "seconds": evaluation.seconds,
        "frames_per_second": evaluation.frames_per_second,
        "video": evaluation.video.to_dict() if evaluation.video else None,
        "frame": evaluation.frame.to_dict() if evaluation.frame else None,
    }, indent=2), encoding="utf-8")
    return outputs


__all__ = ["DatasetEvaluation", "evaluate_detector"]
