"""Features: shapes, causality (prefix property) and hand computations of several features."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrainlab.engine.features import (
    FEATURE_NAMES,
    MIN_HISTORY,
    compute_features,
    ema,
    rolling_mean,
    rolling_std,
)


def random_bars(seed: int, n_days: int = 150, n_tickers: int = 3) -> dict[str, np.ndarray]:
    """A small random-walk OHLCV panel (consistent bars), enough for the feature tests."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.015, (n_days, n_tickers)), axis=0))
    open_ = close * np.exp(rng.normal(0, 0.003, close.shape))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.005, close.shape)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.005, close.shape)))
    volume = rng.integers(1_000, 10_000, close.shape).astype(float)
    return {"open": open_, "high": high, "low": low, "close": close, "volume": volume}


def col(name: str) -> int:
    return FEATURE_NAMES.index(name)


def test_shapes_and_warmup():
    bars = random_bars(0)
    out = compute_features(**bars)
    assert out.shape == (150, 3, len(FEATURE_NAMES))
    assert out.dtype == np.float64
    assert np.isfinite(out[MIN_HISTORY - 1 :]).all()
    # mom60 is the last feature to become defined: NaN exactly one row before MIN_HISTORY - 1
    assert np.isnan(out[MIN_HISTORY - 2, :, col("mom60")]).all()
    one = compute_features(**{k: v[:, 1] for k, v in bars.items()})
    assert one.shape == (150, len(FEATURE_NAMES))
    np.testing.assert_array_equal(one, out[:, 1])


@pytest.mark.parametrize("cut", [1, 2, 20, 26, MIN_HISTORY - 1, MIN_HISTORY, 99, 149])
def test_prefix_equals_prefix_of_full(cut):
    bars = random_bars(1)
    full = compute_features(**bars)
    prefix = compute_features(**{k: v[:cut] for k, v in bars.items()})
    np.testing.assert_array_equal(prefix, full[:cut])  # bit-identical, NaNs in the same places


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), cut=st.integers(1, 120), t=st.integers(0, 119))
def test_future_changes_do_not_move_the_past(seed, cut, t):
    bars = random_bars(seed, n_days=120, n_tickers=2)
    changed = {k: v.copy() for k, v in bars.items()}
    factor = np.exp(np.random.default_rng(seed + 1).normal(0, 0.1, bars["close"][cut:].shape))
    for k in ("open", "high", "low", "close"):
        changed[k][cut:] *= factor
    changed["volume"][cut:] *= factor**3
    a, b = compute_features(**bars), compute_features(**changed)
    if t < cut:
        np.testing.assert_array_equal(a[t], b[t])
    elif t >= MIN_HISTORY - 1:
        assert not np.array_equal(a[t], b[t])


def test_hand_computed_values():
    bars = random_bars(2, n_days=100, n_tickers=1)
    b = {k: v[:, 0] for k, v in bars.items()}
    out = compute_features(**b)
    c, t = b["close"], 80
    assert out[t, col("log_return")] == pytest.approx(math.log(c[t] / c[t - 1]), rel=1e-12)
    assert out[t, col("hl_range")] == pytest.approx((b["high"][t] - b["low"][t]) / c[t])
    assert out[t, col("volume_ratio")] == pytest.approx(
        b["volume"][t] / b["volume"][t - 19 : t + 1].mean()
    )
    for lag in (5, 10, 20, 60):
        assert out[t, col(f"mom{lag}")] == pytest.approx(c[t] / c[t - lag] - 1, rel=1e-12)
    window = c[t - 19 : t + 1]
    expected_boll = (c[t] - window.mean()) / (2 * window.std())
    assert out[t, col("bollinger_pos")] == pytest.approx(expected_boll, rel=1e-9)
    rets = [math.log(c[i] / c[i - 1]) for i in range(t - 19, t + 1)]
    assert out[t, col("vol20")] == pytest.approx(float(np.std(rets, ddof=1)), rel=1e-9)
    changes = np.diff(c[t - 14 : t + 1])
    gains, losses = changes[changes > 0].sum() / 14, -changes[changes < 0].sum() / 14
    assert out[t, col("rsi14")] == pytest.approx(100 * gains / (gains + losses), rel=1e-9)
    # MACD against pandas' recursive EWM (adjust=False starts at the first value, like ours)
    s = pd.Series(c)
    macd = s.ewm(span=12, adjust=False).mean() - s.ewm(span=26, adjust=False).mean()
    assert out[t, col("macd_close")] == pytest.approx(macd.iloc[t] / c[t], rel=1e-9)
    assert np.isnan(out[24, col("macd_close")]) and np.isfinite(out[25, col("macd_close")])


def test_rsi_on_a_tiny_hand_example():
    # 15 closes: 14 changes, 10 up by 1 and 4 down by 0.5 -> G = 10/14, L = 2/14, RSI = 100*10/12
    close = np.array([10.0] + [0.0] * 14)
    steps = [1, 1, -0.5, 1, 1, -0.5, 1, 1, -0.5, 1, 1, -0.5, 1, 1]
    close[1:] = 10.0 + np.cumsum(steps)
    out = compute_features(close, close, close, close, np.ones(15))
    assert out[14, col("rsi14")] == pytest.approx(100 * 10 / 12)
    flat = compute_features(*(np.full(20, 5.0),) * 4, np.ones(20))
    assert flat[19, col("rsi14")] == 50.0  # no change at all
    assert flat[19, col("bollinger_pos")] == 0.0  # zero band width


def test_zero_volume_gives_ratio_one():
    close = np.linspace(10, 12, 30)
    out = compute_features(close, close, close, close, np.zeros(30))
    assert out[25, col("volume_ratio")] == 1.0


def test_helpers():
    x = np.arange(10.0)
    np.testing.assert_array_equal(rolling_mean(x, 3)[2:], x[1:-1])
    assert np.isnan(rolling_mean(x, 3)[:2]).all()
    assert rolling_std(x, 4, ddof=1)[3] == pytest.approx(np.std(x[:4], ddof=1))
    assert np.isnan(rolling_mean(x[:2], 3)).all()
    e = ema(np.array([1.0, 3.0]), span=3)  # alpha = 0.5
    np.testing.assert_allclose(e, [1.0, 2.0])


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("close", np.nan, "NaN"), ("low", -1.0, "non-positive"), ("volume", -5.0, "negative")],
)
def test_bad_inputs_raise(field, value, message):
    bars = random_bars(3, n_days=30, n_tickers=1)
    bars[field][5, 0] = value
    with pytest.raises(ValueError, match=message):
        compute_features(**bars)


def test_shape_mismatch_raises():
    bars = random_bars(3, n_days=30, n_tickers=2)
    bars["volume"] = bars["volume"][:, 0]
    with pytest.raises(ValueError, match="volume has shape"):
        compute_features(**bars)
