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
