"""Markdown tables of an evaluation, a detector comparison table, and the files ``facetrust eval`` writes."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from numpy.typing import ArrayLike

from facetrust.errors import InputError
from facetrust.evaluation.metrics import EvalReport, Interval, binary_report
from facetrust.evaluation.plots import plot_pr, plot_reliability, plot_roc

logger = logging.getLogger(__name__)

# (column title, row keys tried in order); higher is better in every column. Rows may be EvalReport.to_dict()
_COMPARISON_COLUMNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("accuracy", ("accuracy",)),
    ("precision", ("precision",)),
    ("recall", ("recall",)),
    ("F1", ("f1",)),
    ("AUC", ("auc",)),
    ("frames/s", ("frames_per_s", "fps")),
)


def markdown_table(report: EvalReport, *, title: str | None = None) -> str:
    """One markdown block: headline metrics with 95% intervals, confusion matrix, per-method table, notes."""
    ci = report.intervals
    unit = (
        f"{report.n_bootstrap} resamples of {report.bootstrap_unit}s"
        if report.n_bootstrap
        else "not computed"
    )
    lines = [f"### {title}", ""] if title else []
    lines += [
        f"| metric | value | 95% CI ({unit}) |",
        "|---|---|---|",
        f"| items | {report.n} ({report.n_real} real, {report.n_fake} fake) | |",
        f"| threshold | {report.threshold:.4g} | |",
        f"| accuracy | {_num(report.accuracy)} | {_interval(ci.get('accuracy'))} |",
        f"| balanced accuracy | {_num(report.balanced_accuracy)} | |",
        f"| precision | {_num(report.precision)} | |",
        f"| recall (TPR) | {_num(report.recall)} | |",
        f"| specificity (TNR) | {_num(report.specificity)} | |",
        f"| false-positive rate | {_num(report.fpr)} | |",
        f"| F1 | {_num(report.f1)} | {_interval(ci.get('f1'))} |",
        f"| ROC AUC | {_num(report.auc)} | {_interval(ci.get('auc'))} |",
        f"| average precision | {_num(report.ap)} | {_interval(ci.get('ap'))} |",
        f"| EER | {_num(report.eer)} (at {_num(report.eer_threshold)}) | {_interval(ci.get('eer'))} |",
        f"| log-loss | {_num(report.log_loss)} | |",
        f"| Brier score | {_num(report.brier)} | |",
        f"| ECE (15 bins) | {_num(report.ece)} | |",
        "",
        f"Confusion matrix (fake when score >= {report.threshold:.4g}):",
        "",
        "| | predicted real | predicted fake |",
        "|---|---|---|",
        f"| real | {report.confusion['tn']} (TN) | {report.confusion['fp']} (FP) |",
        f"| fake | {report.confusion['fn']} (FN) | {report.confusion['tp']} (TP) |",
    ]
    if report.per_method:
        lines += [
            "",
            "Per manipulation method (its fakes against all reals):",
            "",
            "| method | fakes | AUC | AP | recall |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {_cell(m.method)} | {m.n_fake} | {_num(m.auc)} | {_num(m.ap)} | {_num(m.recall)} |"
            for m in report.per_method
        ]
    if report.notes:
        lines += ["", "Notes:", ""] + [f"- {note}" for note in report.notes]
    return "\n".join(lines) + "\n"


def comparison_row(detector: str, report: EvalReport, *, frames_per_s: float | None = None) -> dict[str, Any]:
    """A row for :func:`comparison_table` from one detector's report and its measured throughput."""
    return {
        "detector": detector,
        "accuracy": report.accuracy,
        "precision": report.precision,
        "recall": report.recall,
        "f1": report.f1,
        "auc": report.auc,
        "frames_per_s": frames_per_s,
    }


def comparison_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Markdown table comparing detectors, the best value of each column in bold; missing values are n/a.

    Row keys: ``detector``, ``accuracy``, ``precision``, ``recall``, ``f1``, ``auc``, ``frames_per_s`` (or
    ``fps``); see :func:`comparison_row`."""
    if not rows:
        raise InputError("no detector to compare: rows is empty")
    values = [[_first(row, keys) for _, keys in _COMPARISON_COLUMNS] for row in rows]
    best = []
    for col in range(len(_COMPARISON_COLUMNS)):
        present = [v[col] for v in values if v[col] is not None]
        best.append(max(present) if len(present) > 1 else None)
    lines = [
        "| detector | " + " | ".join(title for title, _ in _COMPARISON_COLUMNS) + " |",
        "|---|" + "---:|" * len(_COMPARISON_COLUMNS),
    ]
    for row, row_values in zip(rows, values, strict=True):
        cells = []
        for col, value in enumerate(row_values):
            text = _num(value, digits=1) if _COMPARISON_COLUMNS[col][0] == "frames/s" else _num(value)
            cells.append(f"**{text}**" if value is not None and value == best[col] else text)
        lines.append(f"| {_cell(str(row.get('detector', '?')))} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_outputs(
    report: EvalReport,
    out_dir: str | Path,
    *,
    labels: ArrayLike | None = None,
    scores: ArrayLike | None = None,
    prefix: str = "",
) -> dict[str, Path]:
    """Write ``metrics.json``, ``metrics.md``, ``roc.png``, ``pr.png`` and ``reliability.png`` (each name after
    ``prefix``) into ``out_dir`` and return their paths by kind: json, markdown, roc, pr, reliability.

    The figures use the curves kept in ``report``; pass the ``labels`` and ``scores`` it was computed from to
    draw them at full resolution instead."""
    source: EvalReport | tuple[ArrayLike, ArrayLike] = report
    if labels is not None or scores is not None:
        if labels is None or scores is None:
            raise InputError("pass both labels and scores, or neither")
        source = binary_report(labels, scores, threshold=report.threshold, n_bootstrap=0)
        if source.n != report.n or source.n_fake != report.n_fake:
            raise InputError(
                f"labels/scores ({source.n} items, {source.n_fake} fake) are not the ones the report was "
                f"computed from ({report.n} items, {report.n_fake} fake)"
            )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out / f"{prefix}metrics.json",
        "markdown": out / f"{prefix}metrics.md",
        "roc": out / f"{prefix}roc.png",
        "pr": out / f"{prefix}pr.png",
        "reliability": out / f"{prefix}reliability.png",
    }
    paths["json"].write_text(report.to_json(), encoding="utf-8")
    paths["markdown"].write_text(markdown_table(report), encoding="utf-8")
    plot_roc(source, paths["roc"])
    plot_pr(source, paths["pr"])
    plot_reliability(source, paths["reliability"])
    logger.info("wrote evaluation outputs to %s", out)
    return paths


def _num(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _interval(interval: Interval | None) -> str:
    return "n/a" if interval is None else f"[{interval.low:.4f}, {interval.high:.4f}]"


def _first(row: Mapping[str, Any], keys: tuple[str, ...]) -> float | None:
    for key in keys:
        if row.get(key) is not None:
            return float(row[key])
    return None


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
