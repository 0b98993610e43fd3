"""retrainlab.analytics.metrics: published reference values, hand-checked cases, edge cases."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from retrainlab import metrics as m

# --------------------------------------------------------------------------- reference values
# Bailey & Lopez de Prado reference values quoted in docs/methodology.md (section 5.4).
# The quoted figures are truncated, not rounded (PSR = 0.957278, DSR = 0.958366), so the tests
# compare the computed value truncated to the quoted number of decimals.


def _truncated(x: float, decimals: int) -> float:
    return math.floor(x * 10**decimals) / 10**decimals


def test_psr_reference_value():
    psr = m.probabilistic_sharpe_ratio(1.14, 1.0, 250, 0.0, 3.0)
    assert _truncated(psr, 5) == pytest.approx(0.95727, abs=1e-12)


def test_dsr_reference_value():
    dsr = m.deflated_sharpe_ratio(1.14, [3.5, 1.01, 1.02], 250)
    assert _truncated(dsr, 5) == pytest.approx(0.95836, abs=1e-12)


def test_dsr_uses_population_variance_of_trials():
    # ddof=0 reproduces the reference; spell the benchmark out by hand to pin the convention.
    trials = np.array([3.5, 1.01, 1.02])
    sd = math.sqrt(np.mean((trials - trials.mean()) ** 2))
    from scipy.stats import norm

    g = np.euler_gamma
    expected = sd * ((1 - g) * norm.ppf(1 - 1 / 3) + g * norm.ppf(1 - 1 / (3 * math.e)))
    assert m.expected_max_sharpe(trials) == pytest.approx(expected, rel=1e-12)
    assert m.deflated_sharpe_ratio(1.14, trials, 250) == pytest.approx(
        m.probabilistic_sharpe_ratio(1.14, expected, 250), rel=1e-12
    )


def test_min_trl_reference_value():
    min_trl = m.min_track_record_length(1.14, 1.0, 0.0, 3.0, alpha=0.05)
    assert _truncated(min_trl, 2) == pytest.approx(228.73, abs=1e-9)


def test_min_trl_is_where_psr_reaches_confidence():
    n = m.min_track_record_length(0.2, 0.05, skew=-0.5, kurtosis=5.0, alpha=0.1)
    assert m.probabilistic_sharpe_ratio(0.2, 0.05, n, -0.5, 5.0) == pytest.approx(0.9, abs=1e-10)


def test_psr_dsr_mintrl_edge_cases():
    assert math.isnan(m.probabilistic_sharpe_ratio(1.0, 0.5, 1))
    assert math.isnan(m.probabilistic_sharpe_ratio(float("nan"), 0.5, 100))
    assert m.probabilistic_sharpe_ratio(0.1, 0.1, 100) == pytest.approx(0.5)
    # fewer than two trials: nothing to deflate for, benchmark 0
    assert m.expected_max_sharpe([0.3]) == 0.0
    assert m.deflated_sharpe_ratio(0.1, [0.1], 100) == pytest.approx(
        m.probabilistic_sharpe_ratio(0.1, 0.0, 100)
    )
    assert m.deflated_sharpe_ratio(0.1, [], 100) == pytest.approx(
        m.probabilistic_sharpe_ratio(0.1, 0.0, 100)
    )
    assert m.min_track_record_length(0.5, 0.5) == math.inf
    assert m.min_track_record_length(0.1, 0.5) == math.inf
    assert math.isnan(m.min_track_record_length(float("nan"), 0.5))
    with pytest.raises(ValueError, match="alpha"):
        m.min_track_record_length(1.0, 0.5, alpha=1.5)


def test_more_trials_deflate_more():
    rng = np.random.default_rng(0)
    few, many = rng.normal(0, 0.05, 5), rng.normal(0, 0.05, 500)
    assert m.expected_max_sharpe(many) > m.expected_max_sharpe(few) > 0


def test_sharpe_moments():
    r = np.array([0.01, -0.02, 0.03, 0.0, 0.015, np.nan])
    sr, skew, kurt, n = m.sharpe_moments(r)
    x = r[:-1]
    assert n == 5
    assert sr == pytest.approx(x.mean() / x.std(ddof=1))
    z = (x - x.mean()) / x.std()
    assert skew == pytest.approx(np.mean(z**3))
    assert kurt == pytest.approx(np.mean(z**4))
    sr0, s0, k0, n0 = m.sharpe_moments(np.zeros(10))
    assert (sr0, n0) == (0.0, 10) and math.isnan(s0) and math.isnan(k0)
    assert math.isnan(m.sharpe_moments([])[0])


def test_sharpe_moments_normal_sample_feeds_psr():
    r = np.random.default_rng(3).normal(0.001, 0.01, 5000)
    sr, skew, kurt, n = m.sharpe_moments(r)
    assert abs(skew) < 0.15 and abs(kurt - 3) < 0.3
    assert 0 <= m.probabilistic_sharpe_ratio(sr, 0.0, n, skew, kurt) <= 1


# --------------------------------------------------------------------------- return series


def test_sharpe_hand_checked():
    r = [0.01, 0.02, 0.03]  # mean 0.02, sample std 0.01
    assert m.sharpe_ratio(r, periods_per_year=1) == pytest.approx(2.0)
    assert m.sharpe_ratio(r) == pytest.approx(2.0 * math.sqrt(252))
    assert m.sharpe_ratio(pd.Series(r + [np.nan]), 1) == pytest.approx(2.0)


def test_sharpe_edge_cases():
    assert math.isnan(m.sharpe_ratio([]))
    assert math.isnan(m.sharpe_ratio([0.01]))
    assert m.sharpe_ratio(np.zeros(20)) == 0.0
    assert math.isnan(m.sharpe_ratio(np.full(20, 0.001)))
    assert math.isnan(m.sharpe_ratio([np.nan, np.nan]))
    with pytest.raises(ValueError, match="periods_per_year"):
        m.sharpe_ratio([0.1, 0.2], periods_per_year=0)
    with pytest.raises(ValueError, match="1-D"):
        m.sharpe_ratio(np.zeros((3, 2)))


def test_total_return_and_cagr_hand_checked():
    r = [0.10, -0.10]
    assert m.total_return(r) == pytest.approx(1.1 * 0.9 - 1)  # -0.01
    assert m.total_return([]) == 0.0
    assert m.total_return([0.1, np.nan, 0.1]) == pytest.approx(0.21)
    # two periods of +10% with 2 periods per year: one year, CAGR = 21%
    assert m.cagr([0.1, 0.1], periods_per_year=2) == pytest.approx(0.21)
    assert m.cagr([0.21], periods_per_year=0.5) == pytest.approx(1.21**0.5 - 1)
    assert math.isnan(m.cagr([]))
    assert m.cagr([-1.0, 0.5]) == -1.0


def test_max_drawdown_hand_checked():
    # equity 1 -> 1.1 -> 0.88 -> 0.968 -> 1.1616: worst 0.88/1.1 - 1 = -0.2
    assert m.max_drawdown([0.1, -0.2, 0.1, 0.2]) == pytest.approx(-0.2)
    # starting equity counts as a peak: a first-day loss is a drawdown
    assert m.max_drawdown([-0.1, 0.5]) == pytest.approx(-0.1)
    # compounded, not summed: two -50% days lose 75%
    assert m.max_drawdown([-0.5, -0.5]) == pytest.approx(-0.75)
    assert m.max_drawdown([0.01, 0.02]) == 0.0
    assert m.max_drawdown([]) == 0.0
    assert m.max_drawdown(np.zeros(5)) == 0.0
    assert m.max_drawdown([0.1, -1.5, 0.2]) == -1.0  # ruin is capped at -100%


def test_annual_volatility():
    assert m.annual_volatility([0.01, 0.02, 0.03], periods_per_year=4) == pytest.approx(0.02)
    assert math.isnan(m.annual_volatility([0.01]))
    assert m.annual_volatility(np.full(5, 0.01)) == 0.0


def test_return_at_equal_risk():
    rng = np.random.default_rng(7)
    r = rng.normal(0.0005, 0.01, 500)
    expected = m.total_return(r * 0.10 / m.annual_volatility(r))
    assert m.return_at_equal_risk(r) == pytest.approx(expected)
    # doubling every position does not change the equal-risk return
    assert m.return_at_equal_risk(2 * r) == pytest.approx(m.return_at_equal_risk(r))
    assert m.total_return(2 * r) != pytest.approx(m.total_return(r))
    assert m.return_at_equal_risk(np.zeros(10)) == 0.0
    assert math.isnan(m.return_at_equal_risk(np.full(10, 0.01)))
    assert math.isnan(m.return_at_equal_risk([0.01]))
    with pytest.raises(ValueError, match="target_vol"):
        m.return_at_equal_risk(r, target_vol=0)


# --------------------------------------------------------------------------- trades


def test_trade_metrics_hand_checked():
    t = [0.02, -0.01, 0.04, -0.03, 0.0]
    assert m.win_rate(t) == pytest.approx(2 / 5)  # 0 is not a win
    assert m.profit_factor(t) == pytest.approx(0.06 / 0.04)
    assert m.payoff_ratio(t) == pytest.approx(0.03 / 0.02)
    d = m.trade_metrics(t + [np.nan])
    assert d == pytest.approx(
        {
            "win_rate": 0.4,
            "profit_factor": 1.5,
            "payoff_ratio": 1.5,
            "n_trades": 5.0,
            "avg_trade": 0.004,
        }
    )
    assert all(type(v) is float for v in d.values())


def test_profit_factor_and_payoff_differ():
    # many small wins, one big loss: payoff < 1 but profit factor > 1
    t = [0.01] * 9 + [-0.05]
    assert m.payoff_ratio(t) == pytest.approx(0.2)
    assert m.profit_factor(t) == pytest.approx(1.8)


def test_trade_edge_cases():
    assert math.isnan(m.win_rate([]))
    assert math.isnan(m.profit_factor([]))
    assert math.isnan(m.payoff_ratio([]))
    # single trade
    assert m.win_rate([0.05]) == 1.0
    assert m.profit_factor([0.05]) == math.inf
    assert m.payoff_ratio([0.05]) == math.inf
    assert m.profit_factor([-0.05]) == 0.0
    assert m.payoff_ratio([-0.05]) == 0.0
    # all zero trades
    assert m.win_rate([0.0, 0.0]) == 0.0
    assert math.isnan(m.profit_factor([0.0, 0.0]))
    assert math.isnan(m.payoff_ratio([0.0, 0.0]))
    d = m.trade_metrics([])
    assert d["n_trades"] == 0.0 and math.isnan(d["avg_trade"])


def test_signal_counts():
    d = m.signal_counts(["long", "short", "neutral", "long", None])
    assert d == {"n_long": 2.0, "n_short": 1.0, "n_neutral": 1.0, "buy_sell_ratio": 2.0}
    d = m.signal_counts(np.array([1, 1, 0, np.nan]))
    assert (d["n_long"], d["n_short"], d["n_neutral"], d["buy_sell_ratio"]) == (2, 0, 1, math.inf)
    assert math.isnan(m.signal_counts([])["buy_sell_ratio"])
    with pytest.raises(ValueError, match="buy"):
        m.signal_counts(["long", "buy"])


# --------------------------------------------------------------------------- positions


def test_turnover_and_exposure_hand_checked():
    pos = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, -1.0]])
    # |changes| from a flat book: [1,0], [0,1], [1,0], [0,2] -> per day 0.5, 0.5, 0.5, 1.0
    assert m.turnover(pos) == pytest.approx(2.5 / 4)
    assert m.exposure(pos) == pytest.approx(5 / 8)
    assert m.turnover(np.ones((4, 3))) == pytest.approx(0.25)  # buy once, then hold
    assert m.turnover([1.0, -1.0]) == pytest.approx(1.5)  # 1-D: one ticker
    nan_pos = np.array([[1.0, np.nan], [1.0, 1.0]])
    assert m.turnover(nan_pos) == pytest.approx(0.5)  # NaN read as flat: [1,0], [0,1]
    assert m.exposure(nan_pos) == pytest.approx(0.75)


def test_positions_edge_cases():
    assert m.turnover(np.zeros((0, 3))) == 0.0
    assert m.exposure(np.zeros((0, 3))) == 0.0
    assert m.turnover(np.zeros((5, 2))) == 0.0
    with pytest.raises(ValueError, match="n_days, n_tickers"):
        m.turnover(np.zeros((2, 2, 2)))


def test_portfolio_metrics():
    rng = np.random.default_rng(1)
    r = rng.normal(0.001, 0.01, 300)
    pos = np.sign(rng.normal(size=(300, 4)))
    d = m.portfolio_metrics(r, pos)
    assert d["sharpe_ratio"] == pytest.approx(m.sharpe_ratio(r))
    assert d["max_drawdown"] == pytest.approx(m.max_drawdown(r))
    assert d["turnover"] == pytest.approx(m.turnover(pos))
    assert d["n_days"] == 300.0
    assert all(type(v) is float for v in d.values())
    bare = m.portfolio_metrics(r)
    assert set(bare) == set(d) and math.isnan(bare["turnover"]) and math.isnan(bare["exposure"])
    empty = m.portfolio_metrics([])  # never raises
    assert empty["total_return"] == 0.0 and empty["max_drawdown"] == 0.0
    assert math.isnan(empty["sharpe_ratio"])
    zeros = m.portfolio_metrics(np.zeros(50), np.zeros((50, 2)))
    assert zeros["sharpe_ratio"] == 0.0 and zeros["return_at_equal_risk"] == 0.0


# --------------------------------------------------------------------------- properties

bps_returns = st.lists(st.integers(-500, 500), min_size=2, max_size=60).map(
    lambda xs: np.array(xs, dtype=float) / 1e4
)


@settings(max_examples=60, deadline=None)
@given(bps_returns, st.floats(0.01, 100))
def test_sharpe_is_scale_invariant(r, scale):
    a, b = m.sharpe_ratio(r), m.sharpe_ratio(r * scale)
    if math.isnan(a):
        assert math.isnan(b)
    else:
        assert b == pytest.approx(a, rel=1e-9, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1.0, 1.0), max_size=60))
def test_max_drawdown_in_range(r):
    dd = m.max_drawdown(r)
    assert -1.0 <= dd <= 0.0
    # no drawdown is deeper than compounding every losing period of the series
    assert dd >= m.total_return(np.minimum(r, 0.0)) - 1e-12


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(0, 400),
    shift=st.sampled_from([0.0, 1e-3, 5.0, 1e8]),
    constant=st.booleans(),
)
def test_skew_kurtosis_is_scipys_bit_for_bit(seed, n, shift, constant):
    # heavy tails, shifted means (where m2 <= (eps mean)^2 gives nan), constant series and a
    # NaN (dropped): scipy.stats' own numbers to the last bit
    rng = np.random.default_rng(seed)
    r = np.full(n, shift) if constant else rng.standard_t(3, size=n) * 0.01 + shift
    if n > 3:
        r[rng.integers(0, n)] = np.nan
    clean = r[~np.isnan(r)]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy's notes on tiny and near-constant samples
        expected = (
            float(stats.skew(clean, bias=True)),
            float(stats.kurtosis(clean, fisher=False, bias=True)),
        )
    ours = m.skew_kurtosis(r)
    for a, b in zip(ours, expected, strict=True):
        assert (math.isnan(a) and math.isnan(b)) or a == b, (ours, expected)
