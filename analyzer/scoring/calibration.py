"""Probability calibration for independent binary labels.

Temperature scaling: for each label, one scalar ``T > 0`` such that ``sigmoid(logit / T)``
minimises the negative log-likelihood on held-out data. It never changes the ranking (AUROC and
average precision are unchanged), only how confident the probabilities are.

Calibration error is measured on the positive-class probability: sentences are put into equal
width bins by predicted probability, and the expected calibration error (ECE) is the
count-weighted mean of ``|observed frequency - mean predicted probability|`` over the bins.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

DEFAULT_BINS = 15
DEFAULT_BOUNDS = (0.05, 20.0)


def _as_2d(values: Any) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(f"expected a 1-D or 2-D array, got shape {array.shape}")
    return array


def binary_nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of ``labels`` under ``sigmoid(logits / temperature)`` (stable form)."""
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    y = np.asarray(labels, dtype=np.float64)
    # log(1 + exp(-|z|)) + max(z, 0) - y z  ==  -[y log s(z) + (1 - y) log(1 - s(z))]
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def fit_temperature(
    logits: Sequence[float] | np.ndarray,
    labels: Sequence[float] | np.ndarray,
    *,
    bounds: tuple[float, float] = DEFAULT_BOUNDS,
) -> float:
    """The temperature minimising the NLL of one label (bounded scalar search over log T)."""
    from scipy.optimize import minimize_scalar

    z = np.asarray(logits, dtype=np.float64).ravel()
    y = np.asarray(labels, dtype=np.float64).ravel()
    if z.shape != y.shape:
        raise ValueError(f"logits and labels differ in shape: {z.shape} vs {y.shape}")
    if z.size == 0 or np.all(y == y[0]):
        return 1.0  # nothing to learn from: one class only, or no data
    low, high = np.log(bounds[0]), np.log(bounds[1])
    result = minimize_scalar(
        lambda log_t: binary_nll(z, y, float(np.exp(log_t))),
        bounds=(low, high),
        method="bounded",
        options={"xatol": 1e-6},
    )
    return float(np.exp(result.x))


class TemperatureScaler:
    """Per-label temperature scaling with scikit-learn conventions.

    Usage::

        scaler = TemperatureScaler().fit(validation_logits, validation_labels)
        scaler.temperatures_            # one per column
        scaler.predict_proba(test_logits)
    """

    def __init__(self, bounds: tuple[float, float] = DEFAULT_BOUNDS):
        self.bounds = bounds

    def fit(self, logits: Any, labels: Any) -> TemperatureScaler:
        z, y = _as_2d(logits), _as_2d(labels)
        if z.shape != y.shape:
            raise ValueError(f"logits and labels differ in shape: {z.shape} vs {y.shape}")
        self.temperatures_ = np.array(
            [fit_temperature(z[:, j], y[:, j], bounds=self.bounds) for j in range(z.shape[1])]
        )
        self.nll_before_ = np.array([binary_nll(z[:, j], y[:, j]) for j in range(z.shape[1])])
        self.nll_after_ = np.array(
            [binary_nll(z[:, j], y[:, j], t) for j, t in enumerate(self.temperatures_)]
        )
        return self

    def predict_proba(self, logits: Any) -> np.ndarray:
        if not hasattr(self, "temperatures_"):
            raise RuntimeError("TemperatureScaler is not fitted; call fit() first")
        z = _as_2d(logits)
        return 1.0 / (1.0 + np.exp(-z / self.temperatures_))


def reliability_bins(probs: Any, labels: Any, n_bins: int = DEFAULT_BINS) -> dict[str, list[float]]:
    """Reliability-diagram data: per equal-width bin its edges, count, mean probability and observed rate.

    Empty bins have count 0 and ``None`` for the means.
    """
    p = np.asarray(probs, dtype=np.float64).ravel()
    y = np.asarray(labels, dtype=np.float64).ravel()
    if p.shape != y.shape:
        raise ValueError(f"probabilities and labels differ in shape: {p.shape} vs {y.shape}")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # Bin i holds edges[i] < p <= edges[i+1]; the first bin also holds p == 0.
    index = np.clip(np.searchsorted(edges, p, side="left") - 1, 0, n_bins - 1)
    counts, mean_prob, observed = [], [], []
    for b in range(n_bins):
        mask = index == b
        count = int(mask.sum())
        counts.append(count)
        mean_prob.append(float(p[mask].mean()) if count else None)
        observed.append(float(y[mask].mean()) if count else None)
    return {
        "edges": [float(e) for e in edges],
        "count": counts,
        "mean_probability": mean_prob,
        "observed_rate": observed,
    }


def expected_calibration_error(probs: Any, labels: Any, n_bins: int = DEFAULT_BINS) -> float:
    """ECE of positive-class probabilities over ``n_bins`` equal-width bins (0 = perfectly calibrated)."""
    bins = reliability_bins(probs, labels, n_bins)
    total = sum(bins["count"])
    if total == 0:
        return float("nan")
    error = 0.0
    for count, mean_p, rate in zip(bins["count"], bins["mean_probability"], bins["observed_rate"]):
        if count:
            error += count / total * abs(rate - mean_p)
    return float(error)
