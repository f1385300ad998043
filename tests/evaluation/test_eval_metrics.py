"""Numbers of facetrust.evaluation.metrics checked against small hand-computed cases and scikit-learn."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import (
    average_precision_score,
    balanced_accuracy_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from facetrust.errors import ConfigError, InputError, UnknownNameError
from facetrust.evaluation import EvalReport, binary_report, video_level
from facetrust.evaluation.metrics import _weighted_ranking

FAST = 200  # bootstrap replicates in tests


def test_perfect_separator() -> None:
    report = binary_report([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], n_bootstrap=FAST)
    assert report.auc == 1.0 and report.ap == 1.0 and report.eer == 0.0
    assert report.eer_threshold == pytest.approx(0.8)  # the lowest fake: first point with FPR >= miss rate
    assert report.accuracy == 1.0 and report.f1 == 1.0 and report.fpr == 0.0
    assert report.confusion == {"tn": 2, "fp": 0, "fn": 0, "tp": 2}
    assert report.curves is not None and report.curves.tpr[-1] == 1.0
    assert report.notes[-1].startswith("bootstrap")  # 4 items: many resamples hold one class


def test_known_confusion_matrix_and_threshold_metrics() -> None:
    labels = np.array([0, 0, 0, 1, 1, 1, 1, 1])
    scores = np.array([0.1, 0.2, 0.7, 0.9, 0.8, 0.3, 0.5, 0.4])  # 0.5 == threshold counts as fake
    report = binary_report(labels, scores, threshold=0.5, n_bootstrap=0)
    assert report.confusion == {"tn": 2, "fp": 1, "fn": 2, "tp": 3}
    assert (report.n, report.n_real, report.n_fake) == (8, 3, 5)
    assert report.accuracy == pytest.approx(5 / 8)
    assert report.precision == pytest.approx(3 / 4)
    assert report.recall == pytest.approx(3 / 5)
    assert report.specificity == pytest.approx(2 / 3)
    assert report.fpr == pytest.approx(1 / 3)
    assert report.f1 == pytest.approx(2 / 3)
    predicted = scores >= 0.5
    assert report.precision == pytest.approx(precision_score(labels, predicted))
    assert report.recall == pytest.approx(recall_score(labels, predicted))
    assert report.f1 == pytest.approx(f1_score(labels, predicted))
    assert report.balanced_accuracy == pytest.approx(balanced_accuracy_score(labels, predicted))
    assert all(v is None for v in report.intervals.values()) and report.n_bootstrap == 0


def test_ranking_metrics_by_hand() -> None:
    # descending: 0.9 fake, 0.6 real, 0.4 fake, 0.1 real
    report = binary_report([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9], n_bootstrap=0)
    assert report.auc == pytest.approx(0.75)
    assert report.ap == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert report.eer == pytest.approx(0.5) and report.eer_threshold == pytest.approx(0.6)
    inverted = binary_report([0, 0, 1, 1], [0.8, 0.9, 0.1, 0.2], n_bootstrap=0)
    assert inverted.auc == 0.0 and inverted.eer == pytest.approx(1.0)


def test_eer_is_interpolated_where_fpr_meets_miss_rate() -> None:
    rng = np.random.default_rng(5)
    labels = np.r_[np.zeros(400), np.ones(400)]
    scores = 1 / (1 + np.exp(-np.r_[rng.normal(-1, 1, 400), rng.normal(1, 1, 400)]))
    report = binary_report(labels, scores, n_bootstrap=0)
    assert report.eer is not None and report.eer_threshold is not None
    t = report.eer_threshold  # at the crossing threshold FPR and miss rate straddle the EER within 1/400
    fpr, miss = np.mean(scores[:400] >= t), np.mean(scores[400:] < t)
    assert abs(fpr - report.eer) <= 2 / 400 and abs(miss - report.eer) <= 2 / 400
    assert report.eer == pytest.approx(0.16, abs=0.04)  # two unit normals 2 apart: EER = Phi(-1) = 0.159


def test_log_loss_is_clipped_and_brier_by_hand() -> None:
    report = binary_report([0, 1], [0.0, 0.0], n_bootstrap=0)
    assert report.log_loss == pytest.approx((-np.log(1 - 1e-6) - np.log(1e-6)) / 2)
    assert report.brier == pytest.approx(0.5)


def test_ece_by_hand_and_bin_table() -> None:
    report = binary_report([0, 1, 1, 1], [0.05, 0.05, 0.95, 0.95], n_bootstrap=0)
    assert report.ece == pytest.approx((2 * 0.45 + 2 * 0.05) / 4)
    bins = report.calibration_bins
    assert len(bins) == 15 and bins[0].lower == 0.0 and bins[-1].upper == 1.0
    assert sum(b.count for b in bins) == 4
    assert bins[0].count == 2 and bins[0].fake_rate == 0.5 and bins[0].mean_score == pytest.approx(0.05)
    assert bins[7].count == 0 and bins[7].mean_score is None and bins[7].fake_rate is None
    assert binary_report([0, 1], [0.0, 1.0], n_bootstrap=0).calibration_bins[-1].count == 1  # 1.0 in last bin


def test_ece_calibrated_near_zero_overconfident_clearly_not() -> None:
    rng = np.random.default_rng(0)
    scores = rng.uniform(0, 1, 20_000)
    labels = (rng.uniform(0, 1, scores.size) < scores).astype(int)
    calibrated = binary_report(labels, scores, n_bootstrap=0)
    overconfident = binary_report(labels, np.where(scores >= 0.5, 0.99, 0.01), n_bootstrap=0)
    assert calibrated.ece < 0.02
    assert overconfident.ece > 0.2  # it says 0.99 where the share of fakes is 0.75
    assert overconfident.brier > calibrated.brier and overconfident.log_loss > calibrated.log_loss


def test_per_method_uses_that_methods_fakes_against_all_reals() -> None:
    reals = [0.1, 0.2, 0.3, 0.4]
    labels = [0] * 4 + [1, 1, 1, 1]
    scores = reals + [0.9, 0.8, 0.15, 0.35]
    methods = ["real"] * 4 + ["Deepfakes", "Deepfakes", "FaceSwap", "FaceSwap"]
    report = binary_report(labels, scores, methods=methods, n_bootstrap=0)
    by_name = {m.method: m for m in report.per_method}
    assert list(by_name) == ["Deepfakes", "FaceSwap"]  # reals' method names are not methods
    assert by_name["Deepfakes"].auc == 1.0 and by_name["Deepfakes"].recall == 1.0
    assert by_name["FaceSwap"].auc == pytest.approx(0.5) and by_name["FaceSwap"].recall == 0.0
    assert by_name["FaceSwap"].n_fake == 2
    subset = [0, 1, 2, 3, 6, 7]
    assert by_name["FaceSwap"].ap == pytest.approx(
        average_precision_score(np.array(labels)[subset], np.array(scores)[subset])
    )


def test_weighted_ranking_matches_sklearn_with_ties_and_weights() -> None:
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, 300)
    scores = np.round(np.clip(rng.normal(0.4 + 0.2 * labels, 0.2), 0, 1), 1)  # many ties
    weights = rng.integers(0, 4, 300).astype(float)
    order = np.argsort(-scores, kind="stable")
    run_ends = np.r_[np.flatnonzero(np.diff(scores[order])), len(scores) - 1]
    for w in (np.ones(300), weights):
        result = _weighted_ranking(labels[order].astype(float), w[order], run_ends)
        assert result is not None
        auc, ap, _ = result
        assert auc == pytest.approx(roc_auc_score(labels, scores, sample_weight=w))
        assert ap == pytest.approx(average_precision_score(labels, scores, sample_weight=w))
    single = _weighted_ranking(labels[order].astype(float), (labels[order] == 1).astype(float), run_ends)
    assert single is None


def _clustered(seed: int = 4) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """40 videos of 25 frames whose frames share a per-video offset (frames are not independent)."""
    rng = np.random.default_rng(seed)
    video_label = np.arange(40) % 2
    offset = rng.normal(0, 1.0, 40)
    labels = np.repeat(video_label, 25)
    logits = np.repeat(offset + 1.2 * (2 * video_label - 1), 25) + rng.normal(0, 0.3, 1000)
    return labels, 1 / (1 + np.exp(-logits)), np.repeat(np.arange(40), 25).tolist()


def test_cluster_bootstrap_is_deterministic_and_contains_the_estimate() -> None:
    labels, scores, groups = _clustered()
    first = binary_report(labels, scores, groups=groups, n_bootstrap=FAST, seed=7)
    again = binary_report(labels, scores, groups=groups, n_bootstrap=FAST, seed=7)
    other = binary_report(labels, scores, groups=groups, n_bootstrap=FAST, seed=8)
    assert first.intervals == again.intervals and first.intervals != other.intervals
    assert first.bootstrap_unit == "group"
    for key in ("auc", "accuracy", "f1", "eer", "ap"):
        interval = first.intervals[key]
        assert interval is not None and interval.low <= getattr(first, key) <= interval.high, key
    items = binary_report(labels, scores, n_bootstrap=FAST, seed=7)
    assert items.bootstrap_unit == "item"
    width = {r.bootstrap_unit: r.intervals["auc"].high - r.intervals["auc"].low for r in (first, items)}
    assert width["group"] > 2 * width["item"]  # 40 videos carry far less evidence than 1000 frames


def test_single_class_gives_none_and_a_note() -> None:
    report = binary_report([0, 0, 0], [0.1, 0.7, 0.2], methods=["real"] * 3, n_bootstrap=FAST)
    assert report.auc is None and report.ap is None and report.eer is None and report.eer_threshold is None
    assert report.recall is None and report.balanced_accuracy is None and report.curves is None
    assert report.intervals["auc"] is None and report.intervals["accuracy"] is not None
    assert report.specificity == pytest.approx(2 / 3) and report.accuracy == pytest.approx(2 / 3)
    assert any("no fake items" in note and "AUC" in note for note in report.notes)
    fakes = binary_report([1, 1], [0.9, 0.2], methods=["DF", "DF"], n_bootstrap=0)
    assert fakes.auc is None and fakes.per_method[0].auc is None and fakes.per_method[0].recall == 0.5
    assert any("no real items" in note for note in fakes.notes)


def test_nothing_flagged_leaves_precision_undefined() -> None:
    report = binary_report([0, 1], [0.1, 0.2], n_bootstrap=0)
    assert report.precision is None and report.f1 == 0.0
    assert any("precision is undefined" in note for note in report.notes)


@pytest.mark.parametrize(
    ("labels", "scores", "message"),
    [
        ([], [], "empty"),
        ([0, 1, 1, 0], [0.1, np.nan, np.nan, 0.3], "2 NaN of 4 scores"),
        ([0, 1, 0], [0.1, np.inf, np.nan], "1 NaN and 1 infinite of 3"),
        ([0, 1], [0.1, 3.0], r"\[0, 1\]"),
        ([0, 2], [0.1, 0.3], "0 \\(real\\) or 1 \\(fake\\)"),
        (["real", "fake"], [0.1, 0.3], "0 \\(real\\) or 1 \\(fake\\)"),
        ([0, 1, 1], [0.1, 0.3], "3 labels but 2 scores"),
    ],
)
def test_bad_input_raises_input_error(labels: list, scores: list, message: str) -> None:
    with pytest.raises(InputError, match=message):
        binary_report(labels, scores, n_bootstrap=0)


def test_bad_settings_raise_config_error() -> None:
    with pytest.raises(ConfigError, match="threshold"):
        binary_report([0, 1], [0.1, 0.9], threshold=1.5)
    with pytest.raises(ConfigError, match="n_bootstrap"):
        binary_report([0, 1], [0.1, 0.9], n_bootstrap=-1)
    with pytest.raises(InputError, match="groups has 1 entries for 2 items"):
        binary_report([0, 1], [0.1, 0.9], groups=["a"])


def test_report_round_trips_through_json() -> None:
    labels, scores, groups = _clustered()
    methods = [
        "real" if y == 0 else ("A" if g % 4 == 1 else "B") for y, g in zip(labels, groups, strict=True)
    ]
    report = binary_report(labels, scores, groups=groups, methods=methods, n_bootstrap=FAST)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["confusion"].keys() == {"tn", "fp", "fn", "tp"} and len(data["calibration_bins"]) == 15
    assert EvalReport.from_dict(data) == report
    assert EvalReport.from_dict(json.loads(binary_report([1], [0.3], n_bootstrap=0).to_json())).auc is None


def test_video_level_aggregates_in_order_of_first_frame() -> None:
    rows = [
        ("v2", 1, "DF", 0.9),
        ("v1", 0, "real", 0.1),
        ("v2", 1, "DF", 0.5),
        {"video_id": "v1", "label": 0, "method": "real", "score": 0.3},
        ("v2", 1, "DF", 0.7),
        ("v1", 0, "real", 0.8),
    ]
    mean = video_level(rows)
    assert (
        mean.video_ids == ("v2", "v1") and mean.labels.tolist() == [1, 0] and mean.methods == ("DF", "real")
    )
    assert mean.scores == pytest.approx([0.7, 0.4]) and mean.n_frames.tolist() == [3, 3]
    assert video_level(rows, how="median").scores == pytest.approx([0.7, 0.3])
    assert video_level(rows, how="max").scores == pytest.approx([0.9, 0.8])
    assert video_level(rows, how="topk", top_k=2).scores == pytest.approx([0.8, 0.55])
    assert video_level(rows, how="topk", top_k=10).scores == pytest.approx([0.7, 0.4])
    report = binary_report(mean.labels, mean.scores, methods=mean.methods, n_bootstrap=0)
    assert report.auc == 1.0 and report.per_method[0].method == "DF"


def test_video_level_rejects_bad_tables() -> None:
    with pytest.raises(InputError, match="empty"):
        video_level([])
    with pytest.raises(InputError, match="labelled both"):
        video_level([("v", 0, "real", 0.1), ("v", 1, "real", 0.2)])
    with pytest.raises(InputError, match="methods"):
        video_level([("v", 1, "DF", 0.1), ("v", 1, "FS", 0.2)])
    with pytest.raises(InputError, match="2 of 3 frame scores"):
        video_level([("v", 1, "DF", float("nan")), ("v", 1, "DF", 0.2), ("w", 0, "real", float("nan"))])
    with pytest.raises(InputError, match="frame row 1"):
        video_level([("v", 1, "DF", 0.1), {"video_id": "v", "label": 1, "score": 0.2}])
    with pytest.raises(InputError, match="frame row 0"):
        video_level([("v", "fake", "DF", 0.1)])
    with pytest.raises(UnknownNameError, match="topk"):
        video_level([("v", 1, "DF", 0.1)], how="mode")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="top_k"):
        video_level([("v", 1, "DF", 0.1)], how="topk", top_k=0)
