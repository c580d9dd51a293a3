"""Temperature scaling and calibration error."""

from __future__ import annotations

import numpy as np
import pytest

from analyzer.scoring.calibration import (
    TemperatureScaler,
    binary_nll,
    expected_calibration_error,
    fit_temperature,
    reliability_bins,
)


def _synthetic(temperature: float, n: int = 40_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Logits whose labels are drawn from sigmoid(logit / temperature): the true temperature is known."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 4.0, size=n)
    labels = (rng.random(n) < 1.0 / (1.0 + np.exp(-logits / temperature))).astype(float)
    return logits, labels


@pytest.mark.parametrize("true_temperature", [0.5, 1.0, 2.5])
def test_fit_temperature_recovers_a_known_temperature(true_temperature: float) -> None:
    logits, labels = _synthetic(true_temperature)
    assert fit_temperature(logits, labels) == pytest.approx(true_temperature, rel=0.06)


def test_scaler_fits_one_temperature_per_label_and_lowers_nll() -> None:
    columns = [_synthetic(t, n=20_000, seed=i) for i, t in enumerate((0.6, 1.8))]
    logits = np.column_stack([c[0] for c in columns])
    labels = np.column_stack([c[1] for c in columns])
    scaler = TemperatureScaler().fit(logits, labels)
    assert scaler.temperatures_ == pytest.approx([0.6, 1.8], rel=0.08)
    assert np.all(scaler.nll_after_ <= scaler.nll_before_ + 1e-12)
    probs = scaler.predict_proba(logits)
    assert probs.shape == logits.shape
    assert expected_calibration_error(probs[:, 1], labels[:, 1]) < expected_calibration_error(
        1 / (1 + np.exp(-logits[:, 1])), labels[:, 1]
    )


def test_temperature_stays_within_bounds_and_one_class_data_is_left_alone() -> None:
    logits = np.array([5.0, 6.0, -4.0, -5.0])
    separable = np.array([1.0, 1.0, 0.0, 0.0])
    # Perfectly separable data wants T -> 0: the search stops at the lower bound.
    assert fit_temperature(logits, separable, bounds=(0.1, 10.0)) == pytest.approx(0.1, rel=1e-3)
    assert fit_temperature(logits, np.ones(4)) == 1.0


def test_scaler_must_be_fitted_and_shapes_must_match() -> None:
    with pytest.raises(RuntimeError):
        TemperatureScaler().predict_proba(np.zeros((2, 3)))
    with pytest.raises(ValueError):
        TemperatureScaler().fit(np.zeros((4, 2)), np.zeros((4, 3)))


def test_binary_nll_matches_the_definition_and_is_stable() -> None:
    logits = np.array([2.0, -1.0, 0.5])
    labels = np.array([1.0, 0.0, 0.0])
    p = 1 / (1 + np.exp(-logits / 2.0))
    expected = -np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p))
    assert binary_nll(logits, labels, 2.0) == pytest.approx(expected)
    assert np.isfinite(binary_nll(np.array([1000.0, -1000.0]), np.array([0.0, 1.0])))


def test_ece_of_perfectly_calibrated_bins_is_zero() -> None:
    # 10 predictions at 0.3 with 3 positives, 10 at 0.8 with 8 positives.
    probs = np.array([0.3] * 10 + [0.8] * 10)
    labels = np.array([1] * 3 + [0] * 7 + [1] * 8 + [0] * 2)
    assert expected_calibration_error(probs, labels) == pytest.approx(0.0, abs=1e-12)


def test_ece_of_known_miscalibration() -> None:
    # Bin at 0.9 observed 0.5 (gap 0.4, weight 1/2); bin at 0.1 observed 0.0 (gap 0.1, weight 1/2).
    probs = np.array([0.9] * 4 + [0.1] * 4)
    labels = np.array([1, 1, 0, 0, 0, 0, 0, 0])
    assert expected_calibration_error(probs, labels) == pytest.approx(0.25)
    # Always-confident wrong predictions: the worst case.
    assert expected_calibration_error(np.array([1.0, 0.0]), np.array([0, 1])) == pytest.approx(1.0)


def test_reliability_bins_cover_the_unit_interval() -> None:
    probs = np.array([0.0, 0.05, 0.5, 0.51, 1.0])
    labels = np.array([0, 0, 1, 1, 1])
    bins = reliability_bins(probs, labels, n_bins=10)
    assert len(bins["edges"]) == 11 and len(bins["count"]) == 10
    assert sum(bins["count"]) == 5
    assert bins["count"][0] == 2  # 0.0 and 0.05
    assert bins["count"][9] == 1  # 1.0
    assert bins["mean_probability"][4] == pytest.approx(0.5)
    assert bins["observed_rate"][1] is None  # empty bin
