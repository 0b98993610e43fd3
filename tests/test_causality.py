"""Causality of the walk-forward, for every one of the 64 on/off combinations of the six fixes,
with fills at the decision's own close (``execution_lag`` 0) and at the next close (1).

Perturbing every bar after row T (``Market.perturb_after``) must leave every probability, signal,
threshold, position, daily return, closed trade and fitted model at or before T unchanged, bit
for bit. The market is small (3 tickers x 220 days) and the cadence short (refit every 10 days,
an 80-day long window, a 30-probability threshold history) so that several fits, threshold
updates and feedback trades happen before and after T.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import retrainlab.engine.market_data as market_data
from retrainlab import FIXES, OLD, generate_market, walk_forward
from retrainlab.engine.features import compute_features

BASE = OLD.replace(retrain_every=10, long_window=80, threshold_history=30, threshold_min_history=10)
CONFIGS = [
    BASE.with_fixes(*(f for f, on in zip(FIXES, switches, strict=True) if on)).replace(
        execution_lag=lag
    )
    for lag in (0, 1)
    for switches in itertools.product([False, True], repeat=len(FIXES))
]
T = 137  # between decision dates (135, 140) and refit dates (130, 140)


@functools.cache
def market():
    return generate_market(seed=0, n_days=220, n_tickers=3, edge=1.0)


@functools.cache
def run(config_index: int, perturb_after: int | None = None):
    m = market() if perturb_after is None else market().perturb_after(perturb_after, seed=1)
    return walk_forward(m, CONFIGS[config_index])


def differences_through(a, b, t: int) -> list[str]:
    """Names of the outputs that differ between runs ``a`` and ``b`` at or before row ``t``."""
    end = a.positions.index[t]
    out = []

    def same(x, y) -> bool:
        return np.array_equal(
            np.asarray(x, dtype=float), np.asarray(y, dtype=float), equal_nan=True
        )

    if not same(a.probabilities.loc[:end], b.probabilities.loc[:end]):
        out.append("probabilities")
    sa, sb = a.signals.loc[:end], b.signals.loc[:end]
    if not (sa.index.equals(sb.index) and np.array_equal(sa.to_numpy(), sb.to_numpy())):
        out.append("signals")
    if not same(a.thresholds.loc[:end], b.thresholds.loc[:end]):
        out.append("thresholds")
    if not same(a.positions.loc[:end], b.positions.loc[:end]):
        out.append("positions")
    if not same(a.returns.loc[:end], b.returns.loc[:end]):
        out.append("returns")
    ta, tb = (r.trades[r.trades["exit_date"] <= end] for r in (a, b))
    if len(ta) != len(tb) or not all(
        np.array_equal(ta[c].to_numpy(), tb[c].to_numpy()) for c in ta.columns
    ):
        out.append("trades")
    if not same(a.coefficients.loc[:end], b.coefficients.loc[:end]):
        out.append("coefficients")
    return out


@pytest.mark.parametrize(
    "index",
    range(len(CONFIGS)),
    ids=[f"{c.label}-lag{c.execution_lag}" for c in CONFIGS],
)
def test_perturbing_after_t_changes_nothing_before(index):
    base, perturbed = run(index), run(index, T)
    assert differences_through(base, perturbed, T) == []
    # the perturbation is real: later probabilities do move
    after = base.positions.index[T + 1]
    assert not np.array_equal(
        base.probabilities.loc[after:].to_numpy(),
        perturbed.probabilities.loc[after:].to_numpy(),
        equal_nan=True,
    )


@pytest.mark.parametrize("index", [len(CONFIGS) // 2 - 1, len(CONFIGS) - 1])
def test_sweep_exercises_fits_feedback_and_thresholds(index):
    new = run(index)
    assert new.config.fixes == FIXES
    fits_before = new.fits[new.fits["date"] <= new.positions.index[T]]
    assert fits_before["fitted"].sum() >= 4 and new.fits["fitted"].sum() >= 10
    assert fits_before["n_feedback"].gt(0).any()
    thresholds = new.thresholds.loc[: new.positions.index[T]]
    assert thresholds.nunique().sum() > 4  # adaptive thresholds moved before T


@settings(max_examples=12, deadline=None)
@given(
    t=st.integers(min_value=55, max_value=210),
    which=st.sampled_from([0, len(CONFIGS) // 2 - 1, len(CONFIGS) // 2, len(CONFIGS) - 1]),
)
def test_any_t_truncation_and_perturbation(t, which):
    base = run(which)
    assert differences_through(base, run(which, t), t) == []
    truncated = walk_forward(market().head(t + 1), CONFIGS[which])
    assert differences_through(base, truncated, t) == []


def test_the_check_catches_a_leak(monkeypatch):
    """A walk-forward whose features peek one day ahead must fail the same check."""

    def leaky(open_, high, low, close, volume):
        ahead = np.concatenate([close[1:], close[-1:]])
        return compute_features(open_, high, low, ahead, volume)

    monkeypatch.setattr(market_data, "compute_features", leaky)
    m, t = market(), 135  # a decision date: its features now read close[136]
    base, perturbed = walk_forward(m, CONFIGS[0]), walk_forward(m.perturb_after(t), CONFIGS[0])
    assert "probabilities" in differences_through(base, perturbed, t)


def test_returns_start_at_first_decision():
    r = run(0)
    assert isinstance(r.returns, pd.Series)
    assert r.returns.index[0] == r.signals.index[0]
