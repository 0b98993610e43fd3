"""The oracle (planted signal, same protocol) and regime_source='true'."""

from __future__ import annotations

import numpy as np
import pytest

import retrainlab as rl
from retrainlab.analytics.metrics import sharpe_ratio
from retrainlab.engine.real_equities import load_sp500_panel
from retrainlab.research.oracle import oracle_positions, oracle_probabilities, oracle_returns


@pytest.fixture(scope="module")
def market():
    return rl.generate_market(0, n_days=500, n_tickers=4)


def test_oracle_lag_shifts_positions_by_one_bar(market):
    p0 = oracle_positions(market, rl.OLD.replace(execution_lag=0))
    p1 = oracle_positions(market, rl.OLD)
    np.testing.assert_array_equal(p1[1:], p0[:-1])
    assert not p1[0].any()


def test_oracle_is_a_ceiling_and_uses_the_config_sizes(market):
    assert sharpe_ratio(oracle_returns(market, rl.OLD).to_numpy()) > 1.0
    sized = oracle_positions(market, rl.OLD.with_fix("confidence_sizing"))
    assert np.unique(np.abs(sized[sized != 0])).size > 1  # bet sizes, not all 1
    p = oracle_probabilities(market)
    assert np.all((p >= 0) & (p <= 1)) and p.shape == market.close.shape


def test_oracle_refuses_real_markets():
    with pytest.raises(ValueError, match="synthetic"):
        oracle_probabilities(load_sp500_panel(["KO"], start="2000-01-01", end="2000-12-31"))


def test_true_regimes_feed_regime_awareness(market):
    aware = rl.OLD.with_fix("regime_awareness")
    detected = rl.walk_forward(market, aware)
    true = rl.walk_forward(market, aware.replace(regime_source="true"))
    assert not detected.returns.equals(true.returns)
    codes = {"bull": 0, "bear": 1, "volatile": 2, "sideways": 3}
    expected = np.array([codes[r] for r in market.regimes])
    held = true.regimes.to_numpy()[:, 0]
    assert np.array_equal(np.array([codes[r] for r in held]), expected)
    with pytest.raises(ValueError, match="true regimes"):
        rl.walk_forward(
            load_sp500_panel(["KO"], end="1991-12-31"), aware.replace(regime_source="true")
        )
