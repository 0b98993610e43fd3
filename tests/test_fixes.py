"""Unit tests of the fixes, one section per module, plus the model helpers."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from retrainlab import NEW, OLD, REGIMES
from retrainlab.engine.features import FEATURE_NAMES
from retrainlab.engine.fixes.adaptive_thresholds import (
    AdaptiveThresholds,
    classify,
    linear_quantile,
    static_thresholds,
)
from retrainlab.engine.fixes.confidence_sizing import (
    bet_size,
    confidence,
    position_size,
    signed_bet,
)
from retrainlab.engine.fixes.feedback_loop import TradeOutcome, feedback_samples
from retrainlab.engine.fixes.profit_weighted_loss import sample_weights, training_weights
from retrainlab.engine.fixes.regime_awareness import (
    detect_market_regimes,
    detect_regimes,
    regime_columns,
    regime_design,
    regime_names,
)
from retrainlab.engine.model import can_fit, design_columns, design_matrix, fit_model, predict_proba

# ---------------------------------------------------------------- profit_weighted_loss


def test_sample_weights_mean_one_and_proportional():
    r = np.array([0.01, -0.03, 0.0, 0.02, -0.005])
    w = sample_weights(r)
    assert w.mean() == pytest.approx(1.0)
    nonzero = r != 0
    ratio = w[nonzero] / np.abs(r[nonzero])
    np.testing.assert_allclose(ratio, ratio[0])  # proportional to |r|
    np.testing.assert_allclose(w[1] / w[0], 3.0)
    assert w[2] == 0.0


def test_sample_weights_degenerate():
    np.testing.assert_array_equal(sample_weights(np.zeros(4)), np.ones(4))
    assert sample_weights(np.array([])).size == 0
    with pytest.raises(ValueError, match="NaN"):
        sample_weights(np.array([0.1, np.nan]))


def test_training_weights_switch():
    r = np.array([0.01, -0.02])
    assert training_weights(r, OLD) is None
    np.testing.assert_allclose(training_weights(r, NEW), [2 / 3, 4 / 3])


# ---------------------------------------------------------------- feedback_loop


def outcome(direction: str, entry: float, exit_: float, **kw) -> TradeOutcome:
    return TradeOutcome(symbol="X", direction=direction, entry_price=entry, exit_price=exit_, **kw)


def test_profitable_short_is_labelled_down():
    short_win = outcome("short", 100.0, 95.0)
    assert short_win.pnl_pct == pytest.approx(0.05)
    assert short_win.label == 0  # the underlying fell: the published code said "1" (a win)
    assert outcome("long", 100.0, 95.0).label == 0
    assert outcome("long", 100.0, 105.0).label == 1
    assert outcome("short", 100.0, 105.0).label == 1
    assert outcome("short", 100.0, 105.0).pnl_pct == pytest.approx(-0.05)


def test_outcome_weight_formula():
    win = outcome("short", 100.0, 96.0)  # +4 %
    loss = outcome("long", 100.0, 98.0)  # -2 %
    assert win.weight == pytest.approx(1 + 5 * 0.04)
    assert loss.weight == pytest.approx((1 + 5 * 0.02) * 1.5)
    custom = OLD.replace(feedback_pnl_scale=10.0, feedback_loss_multiplier=2.0)
    assert loss.weight_for(custom) == pytest.approx((1 + 10 * 0.02) * 2.0)


def test_outcome_validation():
    with pytest.raises(ValueError, match="Did you mean 'short'"):
        outcome("shrot", 1.0, 2.0)
    with pytest.raises(ValueError, match="> 0"):
        outcome("long", 0.0, 2.0)
    with pytest.raises(ValueError, match="features must have"):
        outcome("long", 1.0, 2.0, features=np.zeros(3))


def test_feedback_samples_filters_by_exit_and_entry():
    x = np.arange(len(FEATURE_NAMES), dtype=float)
    outs = [
        outcome("long", 100, 110, entry_time=1, exit_time=6, features=x, regime=0),
        outcome("short", 100, 90, entry_time=3, exit_time=8, features=x + 1, regime=1),
        outcome("short", 100, 90, entry_time=5, exit_time=10, features=x + 2, regime=2),
        outcome("long", 100, 90, entry_time=2, exit_time=4, features=None),
    ]
    feats, regimes, labels, weights = feedback_samples(outs, before=10, config=NEW)
    assert feats.shape == (2, len(FEATURE_NAMES))  # exit 10 is not < 10; no-features skipped
    np.testing.assert_array_equal(regimes, [0, 1])
    np.testing.assert_array_equal(labels, [1, 0])
    np.testing.assert_allclose(weights, [1.5, 1.5])
    feats, *_ = feedback_samples(outs, before=10, config=NEW, since=2)
    np.testing.assert_array_equal(feats, [x + 1])
    empty = feedback_samples([], before=10, config=NEW)
    assert empty[0].shape == (0, len(FEATURE_NAMES)) and empty[2].size == 0


def test_outcome_to_dict_is_json_safe():
    o = outcome("long", 100, 101, features=np.ones(len(FEATURE_NAMES)), entry_time=1, exit_time=2)
    assert json.loads(json.dumps(o.to_dict()))["features"] == [1.0] * len(FEATURE_NAMES)


# ---------------------------------------------------------------- adaptive_thresholds


def test_base_thresholds_before_history():
    at = AdaptiveThresholds(NEW)
    assert at.thresholds == (0.55, 0.45)
    at.observe(np.full(NEW.threshold_min_history - 1, 0.9))
    assert at.thresholds == (0.55, 0.45)
    at.observe([np.nan, np.nan])  # NaNs are not history
    assert at.n_observed == NEW.threshold_min_history - 1


def test_quantile_thresholds():
    at = AdaptiveThresholds(NEW)  # neutral share 0.3: quantiles 0.35 and 0.65
    probs = np.linspace(0.45, 0.55, 201)
    at.observe(probs)
    long_t, short_t = at.thresholds
    assert long_t == pytest.approx(np.quantile(probs, 0.65))
    assert short_t == pytest.approx(np.quantile(probs, 0.35))
    signals = at.classify(probs)
    assert np.mean(signals == "neutral") == pytest.approx(0.3, abs=0.01)
    assert np.mean(signals == "long") == pytest.approx(0.35, abs=0.01)


@pytest.mark.parametrize("seed", range(4))
def test_linear_quantile_is_numpys_quantile_bit_for_bit(seed):
    # the thresholds' fast path: equal to np.quantile as the thresholds called it (both
    # quantiles in one call) and alone, on random histories with and without ties
    rng = np.random.default_rng(seed)
    for trial in range(600):
        n = int(rng.integers(1, 300))
        if trial % 3 == 0:
            values = rng.uniform(0.0, 1.0, n)
        elif trial % 3 == 1:
            values = rng.integers(0, 5, n) / 7.0  # many ties
        else:
            values = rng.beta(50.0, 50.0, n)  # clustered, like probabilities near 0.5
        share = float(rng.uniform())
        pair = [(1.0 - share) / 2.0, (1.0 + share) / 2.0]
        expected = np.quantile(values, pair)
        got = [linear_quantile(values, q) for q in pair]
        assert np.array_equal(np.array(got), expected), (n, pair)
        for q in (0.0, 0.35, 0.5, 0.65, 1.0, float(rng.uniform())):
            assert linear_quantile(values, q) == np.quantile(values, q), (n, q)


def test_thresholds_clipped_and_history_trailing():
    at = AdaptiveThresholds(NEW)
    at.observe(np.linspace(0.1, 0.9, 252))  # raw quantiles 0.38 / 0.62 -> clipped to 0.4 / 0.6
    assert at.thresholds == (0.6, 0.4)
    at.observe(np.linspace(0.0, 1.0, 300))  # only the last threshold_history are kept
    assert at.n_observed == NEW.threshold_history
    np.testing.assert_array_equal(at.history, np.linspace(0.0, 1.0, 300)[-252:])
    at.observe(np.full(NEW.threshold_history, 0.7))  # all history above the ceiling
    assert at.thresholds == (0.6, 0.6)


def test_state_round_trip():
    at = AdaptiveThresholds(NEW.replace(neutral_share=0.5))
    at.observe(np.random.default_rng(0).uniform(0.42, 0.58, 120))
    state = json.loads(json.dumps(at.get_state()))
    restored = AdaptiveThresholds()
    restored.set_state(state)
    assert restored.thresholds == at.thresholds
    assert restored.neutral_share == 0.5
    np.testing.assert_array_equal(restored.history, at.history)
    with pytest.raises(ValueError, match="get_state"):
        restored.set_state({"history": []})


def test_classify_scalar_array_and_nan():
    assert classify(0.6, 0.55, 0.45) == "long"
    assert classify(0.4, 0.55, 0.45) == "short"
    assert classify(0.55, 0.55, 0.45) == "neutral"  # strict inequalities
    assert classify(np.nan, 0.55, 0.45) == "neutral"
    out = classify(np.array([[0.6, 0.5], [0.3, np.nan]]), 0.55, 0.45)
    assert out.shape == (2, 2) and list(out.ravel()) == ["long", "neutral", "short", "neutral"]
    assert static_thresholds(OLD) == (0.52, 0.48)


# ---------------------------------------------------------------- confidence_sizing


def test_bet_size_reference_values():
    assert bet_size(0.5) == 0.5
    z = 0.1 / math.sqrt(0.6 * 0.4)
    m = 2 * (0.5 * (1 + math.erf(z / math.sqrt(2)))) - 1  # 2 * Phi(z) - 1 via erf
    assert signed_bet(0.6) == pytest.approx(m, rel=1e-12)
    assert bet_size(0.6) == pytest.approx(0.5 + m, rel=1e-12)
    assert bet_size(1.0) == 1.5 and bet_size(0.0) == 1.5


def test_bet_size_symmetric_bounded_monotone():
    p = np.linspace(0.0, 1.0, 1001)
    size = bet_size(p)
    assert np.all((size >= 0.5) & (size <= 1.5))
    np.testing.assert_allclose(size, size[::-1], rtol=0, atol=1e-12)
    upper = size[500:]
    assert np.all(np.diff(upper) >= 0)  # non-decreasing in |p - 0.5| (saturates at 1.5 in floats)
    assert np.all(np.diff(size[500:900]) > 0)  # strictly increasing where it is not saturated
    np.testing.assert_allclose(signed_bet(p), -signed_bet(1 - p), atol=1e-12)
    assert np.isnan(bet_size(np.array([np.nan])))[0]
    np.testing.assert_allclose(confidence(p), size - 0.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        bet_size(1.2)


def test_position_size_switch():
    p = np.array([0.3, 0.5, 0.9])
    np.testing.assert_array_equal(position_size(p, OLD), np.ones(3))
    assert position_size(0.7, OLD) == 1.0
    np.testing.assert_allclose(position_size(p, NEW), bet_size(p))


# ---------------------------------------------------------------- regime_awareness


def path(daily_log_returns: np.ndarray) -> np.ndarray:
    return 100 * np.exp(np.concatenate([[0.0], np.cumsum(daily_log_returns)]))


def test_detector_on_constructed_series():
    rng = np.random.default_rng(0)
    n = 120
    up = path(0.002 + rng.normal(0, 0.005, n))  # +50 %/yr pace, 8 % vol
    down = path(-0.002 + rng.normal(0, 0.005, n))
    wild = path(rng.choice([-0.03, 0.03], n))  # ~48 % vol, no trend
    flat = 100 * (1 + 0.002 * np.sin(np.arange(n + 1)))  # ~2 % vol, no trend
    close = np.column_stack([up, down, wild, flat])
    codes = detect_regimes(close)
    assert codes.shape == close.shape
    assert np.all(codes[:60] == -1) and np.all(codes[60:] >= 0)
    last = codes[-1]
    assert [REGIMES[c] for c in last] == ["bull", "bear", "volatile", "sideways"]
    for j in range(4):  # the same series alone gives the same codes
        np.testing.assert_array_equal(detect_regimes(close[:, j]), codes[:, j])


def test_detector_is_causal():
    rng = np.random.default_rng(1)
    close = path(rng.normal(0, 0.02, 200))
    full = detect_regimes(close)
    for cut in (30, 61, 100, 150):
        np.testing.assert_array_equal(detect_regimes(close[:cut]), full[:cut])
    changed = close.copy()
    changed[150:] *= np.exp(rng.normal(0, 0.1, len(changed) - 150))
    np.testing.assert_array_equal(detect_regimes(changed)[:150], full[:150])


def test_market_regimes_and_names():
    rng = np.random.default_rng(2)
    close = np.column_stack([path(0.003 + rng.normal(0, 0.004, 100)) for _ in range(3)])
    codes = detect_market_regimes(close)
    assert codes.shape == (101,) and REGIMES[codes[-1]] == "bull"
    names = regime_names(np.array([0, 3, -1]))
    assert list(names) == ["bull", "sideways", None]


def test_regime_design_columns():
    X = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    out = regime_design(X, np.array([0, 2, -1]))
    assert out.shape == (3, 2 + 4 + 8)
    np.testing.assert_array_equal(out[:, :2], X)
    np.testing.assert_array_equal(out[:, 2:6], [[1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(out[0, 6:], [1, 2, 0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(out[1, 6:], [0, 0, 0, 0, 3, 4, 0, 0])
    np.testing.assert_array_equal(out[2, 6:], np.zeros(8))
    names = regime_columns(["a", "b"])
    assert len(names) == out.shape[1] and names[6] == "bull*a" and names[-1] == "sideways*b"
    with pytest.raises(ValueError, match="regimes"):
        regime_design(X, np.array([0, 1]))


# ---------------------------------------------------------------- model


def test_design_matrix_switch():
    X = np.ones((4, len(FEATURE_NAMES)))
    r = np.array([0, 1, 2, 3])
    assert design_matrix(X, r, OLD) is not None and design_matrix(X, r, OLD).shape == X.shape
    on = OLD.with_fix("regime_awareness")
    assert design_matrix(X, r, on).shape == (4, len(design_columns(on)))
    assert len(design_columns(OLD)) == len(FEATURE_NAMES)
    with pytest.raises(ValueError, match="regime codes"):
        design_matrix(X, None, on)


def test_fit_model_and_can_fit():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] + 0.5 * rng.normal(size=200) > 0).astype(int)
    model = fit_model(X, y, None, OLD)
    np.testing.assert_allclose(
        predict_proba(model, X), model.predict_proba(X)[:, 1], rtol=0, atol=1e-14
    )
    np.testing.assert_array_equal(predict_proba(model, X[:7]), predict_proba(model, X)[:7])
    assert model[-1].coef_[0, 0] > 1.0  # finds the signal in column 0
    weighted = fit_model(X, y, np.linspace(0.1, 2.0, 200), OLD)
    assert not np.allclose(weighted[-1].coef_, model[-1].coef_)
    assert not can_fit(np.ones(50), OLD)
    assert not can_fit(np.array([0, 1] * 5), OLD)  # 10 < min_train_samples
    with pytest.raises(ValueError, match="both classes"):
        fit_model(X, np.ones(200), None, OLD)
