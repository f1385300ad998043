"""Binary evaluation of a detector's fake probabilities on a labelled set.

Labels are 0 (real) and 1 (fake); scores are fake probabilities in [0, 1]; an item is predicted fake when its
score is at or above the threshold. A metric that the set cannot define (AUC with a single class, precision
when nothing is flagged) is ``None`` with a line in ``notes``, never a made-up 0.5 or 0.

Point estimates come from scikit-learn. The bootstrap resamples items, or whole groups (videos, identities)
when ``groups`` is given, and recomputes AUC, AP and EER from one pre-sorted copy of the scores with
per-replicate weights, so a thousand replicates of a frame-level set stay cheap.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from facetrust.errors import ConfigError, InputError, UnknownNameError

logger = logging.getLogger(__name__)

ECE_BINS = 15
LOG_LOSS_EPS = 1e-6
CURVE_POINTS = 512  # the ROC and PR curves kept in a report are thinned to at most this many points
BOOTSTRAP_METRICS = ("auc", "accuracy", "f1", "eer", "ap")
Aggregation = Literal["mean", "median", "max", "topk"]
_AGGREGATIONS = ("mean", "median", "max", "topk")


@dataclass(frozen=True)
class Interval:
    """A bootstrap 95% percentile interval."""

    low: float
    high: float


@dataclass(frozen=True)
class CalibrationBin:
    """One equal-width score bin of the reliability diagram; ``mean_score``/``fake_rate`` are None when empty."""

    lower: float
    upper: float
    count: int
    mean_score: float | None
    fake_rate: float | None


@dataclass(frozen=True)
class MethodMetrics:
    """One manipulation method's fakes scored against all reals of the set."""

    method: str
    n_fake: int
    auc: float | None
    ap: float | None
    recall: float


@dataclass(frozen=True)
class Curves:
    """ROC and precision-recall points (thinned to at most ``CURVE_POINTS``) for plotting."""

    fpr: tuple[float, ...]
    tpr: tuple[float, ...]
    precision: tuple[float, ...]
    recall: tuple[float, ...]


@dataclass(frozen=True)
class EvalReport:
    """Every metric of one detector on one labelled set; ``to_dict()`` is plain JSON."""

    n: int
    n_real: int
    n_fake: int
    threshold: float
    accuracy: float
    balanced_accuracy: float | None
    precision: float | None
    recall: float | None  # true-positive rate: fakes caught
    specificity: float | None  # true-negative rate: reals passed
    fpr: float | None  # reals flagged as fake
    f1: float | None
    auc: float | None
    ap: float | None
    eer: float | None
    eer_threshold: float | None  # the first ROC threshold at which the FPR reaches the miss rate
    log_loss: float
    brier: float
    ece: float
    confusion: dict[str, int]  # tn, fp, fn, tp
    intervals: dict[str, Interval | None]  # keys: BOOTSTRAP_METRICS
    calibration_bins: tuple[CalibrationBin, ...]
    per_method: tuple[MethodMetrics, ...]
    curves: Curves | None  # None when a class is missing
    n_bootstrap: int
    bootstrap_unit: str  # "item" or "group"
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only (tuples become lists)."""
        return _jsonable(asdict(self))

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvalReport:
        """Rebuild a report from :meth:`to_dict` output (e.g. a ``metrics.json`` read back)."""
        fields = dict(data)
        fields["intervals"] = {k: Interval(**v) if v else None for k, v in fields["intervals"].items()}
        fields["calibration_bins"] = tuple(CalibrationBin(**b) for b in fields["calibration_bins"])
        fields["per_method"] = tuple(MethodMetrics(**m) for m in fields["per_method"])
        curves = fields["curves"]
        fields["curves"] = Curves(**{k: tuple(v) for k, v in curves.items()}) if curves else None
        fields["notes"] = tuple(fields.get("notes", ()))
        return cls(**fields)


@dataclass(frozen=True)
class VideoScores:
    """Per-video arrays for :func:`binary_report`, in order of each video's first frame."""

    video_ids: tuple[Hashable, ...]
    labels: np.ndarray
    scores: np.ndarray
    methods: tuple[str, ...]
    n_frames: np.ndarray


def binary_report(
    labels: ArrayLike,
    scores: ArrayLike,
    *,
    threshold: float = 0.5,
    methods: Sequence[Any] | None = None,
    groups: Sequence[Hashable] | None = None,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> EvalReport:
    """Evaluate fake probabilities ``scores`` against 0/1 ``labels``.

    ``methods`` names each item's manipulation method (ignored for reals) for the per-method breakdown.
    ``groups`` (e.g. video or identity ids) makes the bootstrap resample whole groups. ``n_bootstrap=0``
    skips the intervals. Empty input, NaN/inf or out-of-range scores and non-0/1 labels raise
    :class:`InputError`; a bad ``threshold`` or ``n_bootstrap`` raises :class:`ConfigError`.
    """
    started = time.perf_counter()
    y, s = _check_inputs(labels, scores)
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"threshold must be in [0, 1], got {threshold}")
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int | np.integer) or n_bootstrap < 0:
        raise ConfigError(f"n_bootstrap must be a non-negative integer, got {n_bootstrap!r}")
    n = len(y)
    method_names = _per_item(methods, n, "methods")
    group_ids = _per_item(groups, n, "groups")

    fake = y == 1
    predicted = s >= threshold
    tp = int(np.sum(fake & predicted))
    fp = int(np.sum(~fake & predicted))
    fn = int(np.sum(fake & ~predicted))
    tn = int(np.sum(~fake & ~predicted))
    n_fake, n_real = tp + fn, tn + fp
    both = n_fake > 0 and n_real > 0
    notes: list[str] = []
    if not n_fake:
        notes.append(
            f"no fake items (n={n}): recall, AUC, AP, EER and balanced accuracy are undefined (None)"
        )
    if not n_real:
        notes.append(
            f"no real items (n={n}): specificity, false-positive rate, AUC, AP, EER, balanced accuracy and "
            "the per-method AUC/AP are undefined (None)"
        )
    if not tp + fp:
        notes.append(f"no item scored at or above the threshold {threshold}: precision is undefined (None)")

    recall = _ratio(tp, n_fake)
    specificity = _ratio(tn, n_real)
    eer = eer_threshold = auc = ap = None
    curves = None
    if both:
        auc = float(roc_auc_score(y, s))
        ap = float(average_precision_score(y, s))
        fpr_all, tpr_all, thresholds = roc_curve(y, s, drop_intermediate=False)
        eer, crossing = _eer(fpr_all, tpr_all)
        eer_threshold = float(thresholds[crossing])
        curves = _curves(y, s)

    ece, bins = _calibration(y, s)
    intervals: dict[str, Interval | None] = dict.fromkeys(BOOTSTRAP_METRICS)
    unit = "group" if group_ids is not None else "item"
    if n_bootstrap:
        point = {"auc": auc, "accuracy": (tp + tn) / n, "f1": _f1(tp, fp, fn), "eer": eer, "ap": ap}
        intervals, boot_notes = _bootstrap(y, s, predicted, group_ids, point, n_bootstrap, seed)
        notes.extend(boot_notes)

    report = EvalReport(
        n=n,
        n_real=n_real,
        n_fake=n_fake,
        threshold=float(threshold),
        accuracy=(tp + tn) / n,
        balanced_accuracy=_mean_or_none(recall, specificity),
        precision=_ratio(tp, tp + fp),
        recall=recall,
        specificity=specificity,
        fpr=1.0 - specificity if specificity is not None else None,
        f1=_f1(tp, fp, fn),
        auc=auc,
        ap=ap,
        eer=eer,
        eer_threshold=eer_threshold,
        log_loss=float(log_loss(y, np.clip(s, LOG_LOSS_EPS, 1 - LOG_LOSS_EPS), labels=[0, 1])),
        brier=float(brier_score_loss(y, s, pos_label=1)),
        ece=ece,
        confusion={"tn": tn, "fp": fp, "fn": fn, "tp": tp},
        intervals=intervals,
        calibration_bins=bins,
        per_method=_per_method(y, s, predicted, method_names),
        curves=curves,
        n_bootstrap=int(n_bootstrap),
        bootstrap_unit=unit,
        notes=tuple(notes),
    )
    logger.debug(
        "evaluated %d items (%d real, %d fake) in %.2f s", n, n_real, n_fake, time.perf_counter() - started
    )
    return report


def video_level(
    frame_table: Iterable[Sequence[Any] | Mapping[str, Any]],
    *,
    how: Aggregation = "mean",
    top_k: int = 5,
) -> VideoScores:
    """Aggregate frame scores to one score per video.

    Each row is ``(video_id, label, method, score)`` or a mapping with those keys. ``how``: ``"mean"``,
    ``"median"``, ``"max"`` or ``"topk"`` (mean of the ``top_k`` highest frames; all frames when fewer).
    A video whose rows disagree on label or method, NaN scores, or an empty table raise :class:`InputError`.
    """
    if how not in _AGGREGATIONS:
        raise UnknownNameError("frame aggregation", str(how), _AGGREGATIONS)
    if how == "topk" and (isinstance(top_k, bool) or not isinstance(top_k, int | np.integer) or top_k < 1):
        raise ConfigError(f"top_k must be a positive integer, got {top_k!r}")
    videos: dict[Hashable, tuple[int, str, list[float]]] = {}
    n_rows = n_nan = 0
    for row in frame_table:
        video_id, label, method, score = _frame_row(row, n_rows)
        n_rows += 1
        if not math.isfinite(score):
            n_nan += 1
        known = videos.setdefault(video_id, (label, method, []))
        if known[0] != label:
            raise InputError(f"video {video_id!r} has frames labelled both {known[0]} and {label}")
        if known[1] != method:
            raise InputError(f"video {video_id!r} has frames of methods {known[1]!r} and {method!r}")
        known[2].append(score)
    if not n_rows:
        raise InputError("the frame table is empty: no video to evaluate")
    if n_nan:
        raise InputError(f"{n_nan} of {n_rows} frame scores are NaN or infinite")
    aggregated = []
    for _, _, frame_scores in videos.values():
        values = np.asarray(frame_scores)
        if how == "mean":
            aggregated.append(values.mean())
        elif how == "median":
            aggregated.append(np.median(values))
        elif how == "max":
            aggregated.append(values.max())
        else:
            aggregated.append(np.sort(values)[-top_k:].mean())
    return VideoScores(
        video_ids=tuple(videos),
        labels=np.array([v[0] for v in videos.values()], dtype=np.int64),
        scores=np.asarray(aggregated, dtype=np.float64),
        methods=tuple(v[1] for v in videos.values()),
        n_frames=np.array([len(v[2]) for v in videos.values()], dtype=np.int64),
    )


# ---------------------------------------------------------------------------------------------------------
# helpers


def _frame_row(row: Sequence[Any] | Mapping[str, Any], number: int) -> tuple[Hashable, int, str, float]:
    try:
        if isinstance(row, Mapping):
            video_id, label, method, score = row["video_id"], row["label"], row["method"], row["score"]
        else:
            video_id, label, method, score = row
        return video_id, int(label), "unknown" if method is None else str(method), float(score)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(
            f"frame row {number} ({row!r}) is not (video_id, label, method, score) with a 0/1 label and a "
            f"numeric score: {exc}"
        ) from exc


def _check_inputs(labels: ArrayLike, scores: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels)
    try:
        s = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"scores must be numbers: {exc}") from exc
    if y.ndim != 1 or s.ndim != 1:
        raise InputError(f"labels and scores must be 1-D, got shapes {y.shape} and {s.shape}")
    if len(y) != len(s):
        raise InputError(f"{len(y)} labels but {len(s)} scores")
    if not len(y):
        raise InputError("nothing to evaluate: labels and scores are empty")
    n_nan, n_inf = int(np.isnan(s).sum()), int(np.isinf(s).sum())
    if n_nan or n_inf:
        what = " and ".join(
            f"{count} {kind}" for count, kind in ((n_nan, "NaN"), (n_inf, "infinite")) if count
        )
        raise InputError(f"{what} of {len(s)} scores; drop or fix those items before evaluating")
    if s.min() < 0.0 or s.max() > 1.0:
        raise InputError(
            f"scores must be fake probabilities in [0, 1], got values in [{s.min():.4g}, {s.max():.4g}] "
            "(logits? apply a sigmoid first)"
        )
    if y.dtype.kind not in "biuf" or not np.isin(y, (0, 1)).all():
        found = sorted({str(v) for v in y.tolist()})[:5]
        raise InputError(f"labels must be 0 (real) or 1 (fake), found {', '.join(found)}")
    return y.astype(np.int64), s


def _per_item(values: Sequence[Any] | None, n: int, name: str) -> list[Any] | None:
    if values is None:
        return None
    values = list(values)
    if len(values) != n:
        raise InputError(f"{name} has {len(values)} entries for {n} items")
    return values


def _ratio(numerator: float, denominator: float) -> float | None:
    return float(numerator / denominator) if denominator > 0 else None


def _mean_or_none(a: float | None, b: float | None) -> float | None:
    return (a + b) / 2 if a is not None and b is not None else None


def _f1(tp: float, fp: float, fn: float) -> float | None:
    return _ratio(2 * tp, 2 * tp + fp + fn)


def _eer(fpr: np.ndarray, tpr: np.ndarray) -> tuple[float, int]:
    """EER on a ROC curve from (0, 0) to (1, 1), linearly interpolated at the crossing of FPR and miss rate.

    Returns the EER and the index of the first ROC point where the FPR reaches the miss rate."""
    gap = (1.0 - tpr) - fpr  # non-increasing from 1 at (0, 0) to -1 at (1, 1)
    i = int(np.argmax(gap <= 0))
    if gap[i] == 0:
        return float(fpr[i]), i
    t = gap[i - 1] / (gap[i - 1] - gap[i])
    return float(fpr[i - 1] + t * (fpr[i] - fpr[i - 1])), i


def _rounded(values: np.ndarray) -> tuple[float, ...]:
    return tuple(round(float(v), 6) for v in values)


def _curves(y: np.ndarray, s: np.ndarray) -> Curves:
    fpr, tpr, _ = roc_curve(y, s)
    precision, recall, _ = precision_recall_curve(y, s, drop_intermediate=True)
    keep_roc = _thin_index(len(fpr))
    keep_pr = _thin_index(len(recall))
    return Curves(
        fpr=_rounded(fpr[keep_roc]),
        tpr=_rounded(tpr[keep_roc]),
        precision=_rounded(precision[keep_pr]),
        recall=_rounded(recall[keep_pr]),
    )


def _thin_index(length: int) -> np.ndarray:
    """The same subset of points for both coordinates of a curve (always keeps both ends)."""
    if length <= CURVE_POINTS:
        return np.arange(length)
    return np.unique(np.linspace(0, length - 1, CURVE_POINTS).round().astype(int))


def _calibration(y: np.ndarray, s: np.ndarray) -> tuple[float, tuple[CalibrationBin, ...]]:
    """Expected calibration error over ``ECE_BINS`` equal-width bins ([a, b), the last one closed)."""
    index = np.minimum((s * ECE_BINS).astype(np.int64), ECE_BINS - 1)
    counts = np.bincount(index, minlength=ECE_BINS)
    score_sums = np.bincount(index, weights=s, minlength=ECE_BINS)
    fake_sums = np.bincount(index, weights=y, minlength=ECE_BINS)
    ece = float(np.abs(score_sums - fake_sums).sum() / len(s))
    bins = tuple(
        CalibrationBin(
            lower=round(b / ECE_BINS, 6),
            upper=round((b + 1) / ECE_BINS, 6),
            count=int(counts[b]),
            mean_score=float(score_sums[b] / counts[b]) if counts[b] else None,
            fake_rate=float(fake_sums[b] / counts[b]) if counts[b] else None,
        )
        for b in range(ECE_BINS)
    )
    return ece, bins


def _per_method(
    y: np.ndarray, s: np.ndarray, predicted: np.ndarray, methods: list[Any] | None
) -> tuple[MethodMetrics, ...]:
    if methods is None:
        return ()
    names = np.array(["unknown" if m is None else str(m) for m in methods], dtype=object)
    real, fake = y == 0, y == 1
    rows = []
    for method in sorted(set(names[fake].tolist())):
        mine = fake & (names == method)
        subset = real | mine
        has_reals = bool(real.any())
        rows.append(
            MethodMetrics(
                method=method,
                n_fake=int(mine.sum()),
                auc=float(roc_auc_score(y[subset], s[subset])) if has_reals else None,
                ap=float(average_precision_score(y[subset], s[subset])) if has_reals else None,
                recall=float(predicted[mine].mean()),
            )
        )
    return tuple(rows)


def _bootstrap(
    y: np.ndarray,
    s: np.ndarray,
    predicted: np.ndarray,
    groups: list[Hashable] | None,
    point: dict[str, float | None],
    n_bootstrap: int,
    seed: int,
) -> tuple[dict[str, Interval | None], list[str]]:
    """Percentile intervals of ``BOOTSTRAP_METRICS``: each replicate draws as many items (or groups) as there
    are, with replacement, and weights every item by how often it (or its group) was drawn."""
    if groups is None:
        codes, n_units = np.arange(len(y)), len(y)
    else:
        index: dict[Hashable, int] = {}
        codes = np.array([index.setdefault(g, len(index)) for g in groups], dtype=np.int64)
        n_units = len(index)
    order = np.argsort(-s, kind="stable")
    y_sorted, codes_sorted = y[order].astype(np.float64), codes[order]
    run_ends = np.r_[np.flatnonzero(np.diff(s[order])), len(s) - 1]  # last item of each run of equal scores
    fake = y[order] == 1
    flagged = predicted[order]
    tp_mask, fp_mask, fn_mask = fake & flagged, ~fake & flagged, fake & ~flagged
    correct = fake == flagged

    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {k: [] for k in BOOTSTRAP_METRICS}
    single_class = 0
    for _ in range(n_bootstrap):
        draws = np.bincount(rng.integers(0, n_units, n_units), minlength=n_units).astype(np.float64)
        weights = draws[codes_sorted]
        samples["accuracy"].append(float(weights[correct].sum() / weights.sum()))
        f1 = _f1(weights[tp_mask].sum(), weights[fp_mask].sum(), weights[fn_mask].sum())
        if f1 is not None:
            samples["f1"].append(f1)
        ranking = _weighted_ranking(y_sorted, weights, run_ends)
        if ranking is None:
            single_class += 1
            continue
        for key, value in zip(("auc", "ap", "eer"), ranking, strict=True):
            samples[key].append(value)

    intervals: dict[str, Interval | None] = {}
    for key in BOOTSTRAP_METRICS:
        values = samples[key]
        if point[key] is None or not values:
            intervals[key] = None
        else:
            low, high = np.percentile(values, [2.5, 97.5])
            intervals[key] = Interval(low=float(low), high=float(high))
    notes = []
    if single_class and point["auc"] is not None:
        notes.append(
            f"bootstrap: {single_class} of {n_bootstrap} resamples held a single class and were left out of "
            "the AUC, AP and EER intervals"
        )
    if groups is not None and n_units < 20:
        notes.append(f"bootstrap over only {n_units} groups: the intervals are coarse")
    return intervals, notes


def _weighted_ranking(
    y_sorted: np.ndarray, weights: np.ndarray, run_ends: np.ndarray
) -> tuple[float, float, float] | None:
    """(AUC, AP, EER) of scores sorted in descending order with item weights; ties count as in scikit-learn.

    ``None`` when the weighted set lacks a class."""
    tps = np.cumsum(weights * y_sorted)[run_ends]
    fps = np.cumsum(weights * (1.0 - y_sorted))[run_ends]
    positives, negatives = tps[-1], fps[-1]
    if positives <= 0 or negatives <= 0:
        return None
    tpr = np.r_[0.0, tps / positives]
    fpr = np.r_[0.0, fps / negatives]
    auc = float(np.trapezoid(tpr, fpr))
    flagged = tps + fps
    precision = np.divide(tps, flagged, out=np.ones_like(tps), where=flagged > 0)
    ap = float(np.sum(np.diff(tpr) * precision))
    eer, _ = _eer(fpr, tpr)
    return auc, ap, eer


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
