"""PNG figures of an evaluation: ROC, precision-recall, reliability diagram and training curves.

Each figure is drawn on a bare :class:`matplotlib.figure.Figure` with an Agg canvas: no pyplot state, no
display, safe to call from worker threads. A source is an :class:`EvalReport`, a ``(labels, scores)`` pair,
or a mapping from a name to either (one line per name, for comparing detectors).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from facetrust.errors import DependencyError, InputError
from facetrust.evaluation.metrics import EvalReport, binary_report

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

Single = EvalReport | tuple[ArrayLike, ArrayLike]
Source = Single | Mapping[str, Single]
# (history key, legend label) per panel
_LOSS_KEYS = (("loss", "train"), ("val_loss", "val"))
_ACCURACY_KEYS = (("accuracy", "train"), ("acc", "train"), ("val_accuracy", "val"), ("val_acc", "val"))


def plot_roc(source: Source, path: str | Path, *, title: str = "ROC") -> Path:
    """ROC curve(s) with AUC in the legend and the EER point marked."""
    fig = _figure((5.5, 5.0))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], ls="--", lw=0.8, color="grey", label="chance")
    for name, report in _reports(source).items():
        if report.curves is None:
            _undefined(ax, "ROC")
            continue
        line = ax.plot(report.curves.fpr, report.curves.tpr, lw=1.6, label=_label(name, "AUC", report.auc))[0]
        if report.eer is not None:
            ax.plot([report.eer], [1 - report.eer], "o", ms=5, color=line.get_color())
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1.01),
        title=title,
        xlabel="false-positive rate (reals flagged)",
        ylabel="true-positive rate (fakes caught)",
    )
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)


def plot_pr(source: Source, path: str | Path, *, title: str = "Precision-recall") -> Path:
    """Precision-recall curve(s) with AP in the legend and the share of fakes as the chance level."""
    fig = _figure((5.5, 5.0))
    ax = fig.add_subplot()
    for name, report in _reports(source).items():
        if report.curves is None:
            _undefined(ax, "precision-recall")
            continue
        line = ax.plot(
            report.curves.recall, report.curves.precision, lw=1.6, label=_label(name, "AP", report.ap)
        )
        ax.axhline(report.n_fake / report.n, ls="--", lw=0.8, color=line[0].get_color(), alpha=0.6)
    ax.set(xlim=(0, 1), ylim=(0, 1.01), title=title, xlabel="recall (fakes caught)", ylabel="precision")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower left", fontsize=8)
    return _save(fig, path)


def plot_reliability(source: Source, path: str | Path, *, title: str = "Reliability") -> Path:
    """Reliability diagram: observed share of fakes against mean score per bin, with the bin counts below."""
    fig = _figure((5.5, 6.0))
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": (3, 1)})
    top.plot([0, 1], [0, 1], ls="--", lw=0.8, color="grey", label="perfect calibration")
    for name, report in _reports(source).items():
        filled = [b for b in report.calibration_bins if b.count]
        label = _label(name, "ECE", report.ece)
        line = top.plot(
            [b.mean_score for b in filled], [b.fake_rate for b in filled], "o-", ms=4, label=label
        )[0]
        bins = report.calibration_bins
        bottom.bar(
            [(b.lower + b.upper) / 2 for b in bins],
            [b.count for b in bins],
            width=bins[0].upper - bins[0].lower,
            alpha=0.5,
            color=line.get_color(),
        )
    top.set(xlim=(0, 1), ylim=(0, 1.01), title=title, ylabel="share of fakes")
    top.legend(loc="upper left", fontsize=8)
    bottom.set(xlabel="fake probability", ylabel="items")
    return _save(fig, path)


def plot_curves(history: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]], path: str | Path) -> Path:
    """Training loss and accuracy against epoch (or step), with validation lines where the history has them.

    ``history`` is a list of records (``{"epoch": 1.5, "loss": 0.3, "accuracy": 0.9, "val_loss": ...}``,
    as ``history.json`` from training) or a mapping of columns. Keys: ``loss``, ``val_loss``, ``accuracy``
    (or ``acc``), ``val_accuracy`` (or ``val_acc``); records missing a key are skipped for that line. Dense
    per-step lines are drawn faintly with a moving average on top."""
    records = _records(history)
    x_key = next((k for k in ("epoch", "step") if any(k in r for r in records)), None)
    panels = [
        (title, [(key, who) for key, who in keys if _series(records, x_key, key)[0].size])
        for title, keys in (("loss", _LOSS_KEYS), ("accuracy", _ACCURACY_KEYS))
    ]
    panels = [(title, keys) for title, keys in panels if keys]
    if not panels:
        found = sorted({k for r in records for k in r})
        raise InputError(f"the history has no loss or accuracy values; keys found: {', '.join(found)}")
    fig = _figure((5.0 * len(panels), 4.0))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (title, keys) in zip(axes, panels, strict=True):
        for key, who in keys:
            x, y = _series(records, x_key, key)
            if len(y) > 100:
                window = max(2, len(y) // 50)
                line = ax.plot(x, y, lw=0.6, alpha=0.3)[0]
                smooth = np.convolve(y, np.ones(window) / window, mode="valid")
                ax.plot(x[window - 1 :], smooth, lw=1.6, color=line.get_color(), label=who)
            else:
                ax.plot(x, y, "o-" if len(y) < 30 else "-", ms=3, lw=1.4, label=who)
        ax.set(title=title, xlabel=x_key or "record", ylabel=title)
        ax.legend(fontsize=8)
    return _save(fig, path)


def _figure(size: tuple[float, float]) -> Figure:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:  # matplotlib is a dependency, but keep the message useful if it is missing
        raise DependencyError("evaluation plots need matplotlib: pip install matplotlib") from exc
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=120)
    logger.debug("wrote %s", path)
    return path


def _reports(source: Source) -> dict[str, EvalReport]:
    if isinstance(source, Mapping):
        if not source:
            raise InputError("nothing to plot: the mapping of sources is empty")
        return {str(name): _report(item) for name, item in source.items()}
    return {"": _report(source)}


def _report(item: Single) -> EvalReport:
    if isinstance(item, EvalReport):
        return item
    if isinstance(item, tuple) and len(item) == 2:
        return binary_report(item[0], item[1], n_bootstrap=0)
    raise InputError(f"cannot plot a {type(item).__name__}: pass an EvalReport or a (labels, scores) pair")


def _label(name: str, metric: str, value: float | None) -> str:
    shown = f"{metric} {value:.3f}" if value is not None else f"{metric} n/a"
    return f"{name} ({shown})" if name else shown


def _undefined(ax: Axes, what: str) -> None:
    ax.text(
        0.5, 0.5, f"{what} undefined:\nthe set holds a single class", ha="center", va="center", color="grey"
    )


def _records(history: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]]) -> list[Mapping[str, Any]]:
    if isinstance(history, Mapping):
        columns = {k: list(v) for k, v in history.items()}
        length = max((len(v) for v in columns.values()), default=0)
        records: list[Mapping[str, Any]] = [
            {k: v[i] for k, v in columns.items() if i < len(v)} for i in range(length)
        ]
    else:
        records = list(history)
    if not records:
        raise InputError("the training history is empty: nothing to plot")
    return records


def _series(records: list[Mapping[str, Any]], x_key: str | None, key: str) -> tuple[np.ndarray, np.ndarray]:
    points = [
        (float(r[x_key]) if x_key else float(i), float(r[key]))
        for i, r in enumerate(records)
        if r.get(key) is not None
        and (x_key is None or r.get(x_key) is not None)
        and math.isfinite(float(r[key]))
    ]
    if not points:
        return np.empty(0), np.empty(0)
    x, y = np.asarray(points).T
    return x, y
