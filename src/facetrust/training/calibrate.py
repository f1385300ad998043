"""Calibration of a detector's output on held-out real faces and self-blended fakes.

Temperature scaling fits one divisor of the logits by maximum likelihood. The threshold maximises balanced
accuracy (Youden's J). The UNCERTAIN band spans the probabilities where the two held-out classes overlap:
from the 5th percentile of fakes to the 95th percentile of reals (widened to contain the threshold).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.metrics import roc_auc_score, roc_curve


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass(frozen=True)
class Calibration:
    temperature: float
    threshold: float
    uncertain_band: tuple[float, float]


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature T minimising the log-loss of sigmoid(logits / T)."""

    def nll(log_t: float) -> float:
        p = np.clip(sigmoid(logits / np.exp(log_t)), 1e-7, 1 - 1e-7)
        return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))

    result = minimize_scalar(nll, bounds=(np.log(0.05), np.log(50.0)), method="bounded")
    return float(np.exp(result.x))


def calibrate(logits: np.ndarray, labels: np.ndarray) -> Calibration:
    """Fit temperature, threshold and uncertain band on held-out ``logits`` with 0/1 ``labels``."""
    temperature = fit_temperature(logits, labels)
    threshold, band = threshold_and_band(sigmoid(logits / temperature), labels)
    return Calibration(temperature=temperature, threshold=threshold, uncertain_band=band)


def _quantile(values: np.ndarray, q: float, weights: np.ndarray | None) -> float:
    if weights is None:
        return float(np.quantile(values, q))
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order]) / weights.sum()
    return float(values[order][min(int(np.searchsorted(cumulative, q)), len(values) - 1)])


def threshold_and_band(probs: np.ndarray, labels: np.ndarray, *, sample_weight: np.ndarray | None = None
                       ) -> tuple[float, tuple[float, float]]:
    """Youden threshold (clipped to [0.05, 0.95]) and UNCERTAIN band from the 5th percentile of fakes to the
    95th percentile of reals, widened to contain the threshold; ``sample_weight`` weighs each probability."""
    probs, labels = np.asarray(probs, np.float64), np.asarray(labels)
    fpr, tpr, thresholds = roc_curve(labels, probs, sample_weight=sample_weight)
    best = int(np.argmax(tpr - fpr))
    threshold = round(float(np.clip(thresholds[best], 0.05, 0.95)), 4)
    fake, real = labels == 1, labels == 0
    w = None if sample_weight is None else np.asarray(sample_weight, np.float64)
    low = round(float(min(threshold, _quantile(probs[fake], 0.05, None if w is None else w[fake]))), 4)
    high = round(float(max(threshold, _quantile(probs[real], 0.95, None if w is None else w[real]))), 4)
    return threshold, (min(low, threshold), max(high, threshold))


def binary_metrics(probs: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, float]:
    """AUC, accuracy, false-positive and true-positive rates at ``threshold``."""
    predicted = probs >= threshold
    real, fake = labels == 0, labels == 1
    metrics = {
        "n_real": int(real.sum()),
        "n_fake": int(fake.sum()),
        "accuracy": float(np.mean(predicted == labels.astype(bool))),
        "fpr": float(predicted[real].mean()) if real.any() else float("nan"),
        "tpr": float(predicted[fake].mean()) if fake.any() else float("nan"),
        "mean_p_real": float(probs[real].mean()) if real.any() else float("nan"),
        "mean_p_fake": float(probs[fake].mean()) if fake.any() else float("nan"),
    }
    if real.any() and fake.any():
        metrics["auc"] = float(roc_auc_score(labels, probs))
    return metrics


def calibrate_tracks(real_means: np.ndarray, fake_means: np.ndarray) -> tuple[float, tuple[float, float]]:
    """Threshold and UNCERTAIN band for a person's *mean* probability over many frames.

    Fitted on per-video means, whose spread is far narrower than a single frame's. When the held-out real and
    fake tracks overlap: Youden threshold, band from the 5th percentile of fakes to the 95th percentile of
    reals. When they are separated: threshold midway, band = the gap between them."""
    real_high = float(np.quantile(real_means, 0.95))
    fake_low = float(np.quantile(fake_means, 0.05))
    if real_high < fake_low:
        # separated held-out classes: the threshold goes midway (max margin) and the gap, where no held-out
        # video fell, is UNCERTAIN rather than a confident answer
        threshold = round((real_high + fake_low) / 2, 4)
        return threshold, (round(real_high, 4), round(fake_low, 4))
    labels = np.concatenate([np.zeros(len(real_means)), np.ones(len(fake_means))])
    probs = np.concatenate([real_means, fake_means])
    fpr, tpr, thresholds = roc_curve(labels, probs)
    best = int(np.argmax(tpr - fpr))
    threshold = round(float(np.clip(thresholds[best], 0.05, 0.95)), 4)
    return threshold, (round(min(fake_low, threshold), 4), round(max(real_high, threshold), 4))
