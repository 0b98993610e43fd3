"""Regime detector scored against the majority class and with balanced accuracy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retrainlab.engine.market import REGIMES
from retrainlab.research.regime_scoring import (
    score_confusion,
    score_detector,
    sum_confusions,
    trend_threshold_vs_drift,
)


def _counts(rows):
    return pd.DataFrame(rows, index=list(REGIMES), columns=list(REGIMES))


def test_worked_example():
    # 100 days: 50 bull, 30 bear, 20 volatile, 0 sideways.
    counts = _counts(
        [[30, 10, 0, 10], [5, 15, 0, 10], [0, 0, 20, 0], [0, 0, 0, 0]],
    )
    s = score_confusion(counts)
    assert s["n"] == 100
    assert s["accuracy"] == pytest.approx(0.65)
    assert s["majority_class"] == "bull" and s["majority_accuracy"] == pytest.approx(0.5)
    assert s["accuracy_minus_majority"] == pytest.approx(0.15)
    # recalls 30/50, 15/30, 20/20 over the three regimes that occur
    assert s["balanced_accuracy"] == pytest.approx((0.6 + 0.5 + 1.0) / 3)
    assert s["balanced_chance"] == pytest.approx(1 / 3)
    assert s["beats_majority"]


def test_constant_detector_scores_chance_on_balanced_accuracy():
    rng = np.random.default_rng(0)
    true = rng.choice(4, size=2000, p=[0.45, 0.2, 0.15, 0.2])
    always_bull = np.zeros_like(true)
    s = score_detector(true, always_bull)
    assert s["accuracy"] == pytest.approx(s["majority_accuracy"])
    assert not s["beats_majority"]
    assert s["balanced_accuracy"] == pytest.approx(0.25)


def test_pooling_and_threshold():
    a = _counts(np.eye(4) * 2)
    total = sum_confusions({"x": a, "y": a})
    assert total.to_numpy().trace() == 16
    t = trend_threshold_vs_drift(60)
    assert t["threshold"] == 0.05 and t["expected_bull_move"] < t["threshold"]
