import numpy as np
import pytest

from facetrust.training.calibrate import binary_metrics, calibrate, fit_temperature, sigmoid


def test_temperature_recovers_overconfident_logits() -> None:
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 2, 4000)
    labels = (rng.random(4000) < sigmoid(true_logits)).astype(float)
    assert fit_temperature(true_logits * 3, labels) == pytest.approx(3, rel=0.15)


def test_calibration_band_contains_threshold_and_metrics_make_sense() -> None:
    rng = np.random.default_rng(1)
    logits = np.concatenate([rng.normal(-2, 1, 500), rng.normal(2, 1, 500)])
    labels = np.concatenate([np.zeros(500), np.ones(500)])
    cal = calibrate(logits, labels)
    low, high = cal.uncertain_band
    assert 0 < low <= cal.threshold <= high < 1
    metrics = binary_metrics(sigmoid(logits / cal.temperature), labels, cal.threshold)
    assert metrics["auc"] > 0.95 and metrics["accuracy"] > 0.9 and metrics["fpr"] < 0.1


def test_track_rule_for_separated_classes_marks_the_gap_uncertain() -> None:
    from facetrust.training.calibrate import calibrate_tracks

    real = np.linspace(0.02, 0.38, 22)
    fake = np.linspace(0.63, 0.95, 22)
    threshold, (low, high) = calibrate_tracks(real, fake)
    assert low == pytest.approx(np.quantile(real, 0.95), abs=1e-3)
    assert high == pytest.approx(np.quantile(fake, 0.05), abs=1e-3)
    assert low < threshold < high and threshold == pytest.approx((low + high) / 2, abs=1e-3)


def test_track_rule_for_overlapping_classes() -> None:
    from facetrust.training.calibrate import calibrate_tracks

    rng = np.random.default_rng(3)
    real, fake = rng.uniform(0.0, 0.6, 50), rng.uniform(0.4, 1.0, 50)
    threshold, (low, high) = calibrate_tracks(real, fake)
    assert low <= threshold <= high and 0.35 < threshold < 0.65
