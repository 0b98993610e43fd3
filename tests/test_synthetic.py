"""Tests of the synthetic market generator and the oracle hit rate."""

from __future__ import annotations

import re
import time

import numpy as np
import pandas as pd
import pytest

import retrainlab as rl
from retrainlab import synthetic
from retrainlab.engine.regimes import REGIMES, regime_codes
from retrainlab.engine.synthetic import (
    generate_market,
    oracle_hit_rate,
    stationary_distribution,
    transition_matrix,
)

FIELDS = ("open", "high", "low", "close", "volume")


@pytest.fixture(scope="module")
def market():
    return generate_market(seed=7)


def test_public_entry_point_is_the_generator():
    assert rl.generate_market is generate_market


def test_same_seed_same_arrays_different_seed_different():
    a, b, c = generate_market(3), generate_market(3), generate_market(4)
    for f in FIELDS:
        assert np.array_equal(getattr(a, f), getattr(b, f))
        assert not np.array_equal(getattr(a, f), getattr(c, f))
    assert np.array_equal(a.planted, b.planted)
    assert a.regimes.equals(b.regimes)
    assert a.dates.equals(b.dates) and a.tickers == b.tickers
    assert a.params == b.params


def test_shapes_calendar_and_names(market):
    n, k = 1000, 10
    assert market.n_days == n and market.n_tickers == k
    for f in FIELDS:
        arr = getattr(market, f)
        assert arr.shape == (n, k) and arr.dtype == np.float64
    assert market.planted.shape == (n, k)
    assert market.dates[0] == pd.Timestamp("2010-01-04")
    assert market.dates.is_monotonic_increasing and market.dates.is_unique
    assert (market.dates.day_of_week < 5).all()  # business days only
    assert market.dates.equals(pd.bdate_range("2010-01-04", periods=n))
    assert len(set(market.tickers)) == k
    assert market.regimes.index.equals(market.dates)
    assert set(market.regimes) <= set(REGIMES)
    assert market.params["seed"] == 7 and market.params["edge"] == 1.0


def test_custom_start_and_many_tickers_names():
    m = generate_market(0, n_days=120, n_tickers=120, start="2020-06-01")
    assert m.dates[0] == pd.Timestamp("2020-06-01")
    assert len(set(m.tickers)) == 120 and m.tickers[0] == "SYN000"


def test_ohlc_consistent_and_positive(market):
    o, h, lo, c, v = (getattr(market, f) for f in FIELDS)
    assert np.all(np.isfinite(np.stack([o, h, lo, c, v])))
    assert np.all(lo > 0) and np.all(v > 0)
    assert np.all(lo <= np.minimum(o, c))
    assert np.all(np.maximum(o, c) <= h)


def test_volume_higher_in_volatile_regime(market):
    codes = regime_codes(market.regimes)
    log_volume = np.log(market.volume)
    volatile = log_volume[codes == REGIMES.index("volatile")].mean()
    sideways = log_volume[codes == REGIMES.index("sideways")].mean()
    assert volatile > sideways + 0.3


def _run_lengths(codes: np.ndarray) -> np.ndarray:
    change = np.flatnonzero(np.diff(codes) != 0)
    bounds = np.concatenate([[-1], change, [len(codes) - 1]])
    return np.diff(bounds)


def test_regimes_persist_and_all_four_appear():
    m = generate_market(1, n_days=5000, n_tickers=1)
    codes = regime_codes(m.regimes)
    assert set(np.unique(codes)) == set(range(len(REGIMES)))
    runs = _run_lengths(codes)
    # expected durations 20-60 days; a memoryless chain would give runs of ~1.3 days
    assert 20 <= runs.mean() <= 70
    # per-regime mean run length close to its configured duration
    starts = np.concatenate([[0], np.flatnonzero(np.diff(codes) != 0) + 1])
    for i, expected in enumerate(m.params["duration"]):
        own = runs[codes[starts] == i]
        assert len(own) >= 5
        assert 0.5 * expected <= own.mean() <= 1.6 * expected


def test_transition_matrix_and_stationary_law():
    matrix = transition_matrix((10, 20, 30, 40))
    assert np.allclose(matrix.sum(axis=1), 1.0)
    assert np.allclose(np.diag(matrix), 1 - 1 / np.array([10, 20, 30, 40]))
    pi = stationary_distribution((10, 20, 30, 40))
    assert np.allclose(pi @ matrix, pi)  # it is stationary


def test_regime_shares_follow_stationary_law():
    counts = np.zeros(len(REGIMES))
    for seed in range(5):
        codes = regime_codes(generate_market(seed, n_days=4000, n_tickers=1).regimes)
        counts += np.bincount(codes, minlength=len(REGIMES))
    share = counts / counts.sum()
    assert np.allclose(share, stationary_distribution(), atol=0.08)


def test_regime_drift_and_volatility_show_in_returns():
    m = generate_market(2, n_days=4000, n_tickers=5)
    codes = regime_codes(m.regimes)[1:]
    # log return minus the planted part = edge*drift - vol**2/2 + vol * shock
    r = np.diff(np.log(m.close), axis=0) - m.planted[:-1]
    drift, vol = np.asarray(m.params["drift"]), np.asarray(m.params["vol"])
    for i in range(len(REGIMES)):
        own = r[codes == i]
        assert own.std() == pytest.approx(vol[i], rel=0.1)
        standard_error = vol[i] / np.sqrt(own.shape[0])  # tickers share the market factor
        assert abs(own.mean() - (drift[i] - vol[i] ** 2 / 2)) < 3 * standard_error
    placebo = generate_market(2, n_days=4000, n_tickers=5, edge=0.0)
    r0 = np.diff(np.log(placebo.close), axis=0)
    for i in range(len(REGIMES)):  # same regime volatilities, no drift
        own = r0[codes == i]
        assert own.std() == pytest.approx(vol[i], rel=0.1)
        assert abs(own.mean() + vol[i] ** 2 / 2) < 3 * vol[i] / np.sqrt(own.shape[0])


def test_common_market_factor_correlates_tickers():
    m = generate_market(5, n_days=2000, n_tickers=4, edge=0.0, market_correlation=0.3)
    r = np.diff(np.log(m.close), axis=0)
    z = r / r.std(axis=0)
    corr = np.corrcoef(z.T)[np.triu_indices(4, 1)]
    assert 0.15 < corr.mean() < 0.5
    m0 = generate_market(5, n_days=2000, n_tickers=4, edge=0.0, market_correlation=0.0)
    r0 = np.diff(np.log(m0.close), axis=0)
    # regime-driven volatility still co-moves, but without the factor correlation is near zero
    assert abs(np.corrcoef(r0.T)[np.triu_indices(4, 1)].mean()) < 0.08


def test_placebo_has_no_planted_part_and_shares_the_regimes():
    planted = generate_market(11, edge=1.0)
    placebo = generate_market(11, edge=0.0)
    assert np.all(placebo.planted == 0.0)
    assert placebo.regimes.equals(planted.regimes)  # exact twin: same regimes and shocks
    assert np.isnan(oracle_hit_rate(placebo))


def _strategy_t_stat(edge: float, rule: str) -> float:
    """t statistic of the mean daily simple-return P&L of a causal rule, seeds 0-9 pooled."""
    pnl = []
    for seed in range(10):
        m = generate_market(seed, edge=edge)
        simple = m.close[1:] / m.close[:-1] - 1
        if rule == "true regime trend":  # long in bull, short in bear: knows the true regime
            codes = regime_codes(m.regimes)[:-1, None]
            position = np.where(codes == 0, 1.0, np.where(codes == 1, -1.0, 0.0))
        else:  # sign of the trailing 5-day return
            log_close = np.log(m.close)
            position = np.zeros_like(log_close)
            position[5:] = np.sign(log_close[5:] - log_close[:-5])
            position = position[:-1]
        pnl.append((position * simple).mean(axis=1))
    daily = np.concatenate(pnl)
    return float(daily.mean() / daily.std(ddof=1) * np.sqrt(len(daily)))


@pytest.mark.parametrize("rule", ["true regime trend", "momentum"])
def test_placebo_is_unbeatable_and_the_edge_is_real(rule):
    """At edge=0 prices are a martingale: even a rule that knows the true regime earns nothing."""
    assert abs(_strategy_t_stat(0.0, rule)) < 3
    assert _strategy_t_stat(1.0, rule) > 4


def test_placebo_simple_returns_have_zero_mean():
    m = generate_market(0, n_days=5000, n_tickers=10, edge=0.0)
    simple = (m.close[1:] / m.close[:-1] - 1).mean(axis=1)
    assert abs(simple.mean()) < 3 * simple.std() / np.sqrt(len(simple))


def test_edge_scales_planted():
    sd = {e: generate_market(4, edge=e).planted.std() for e in (0.5, 1.0, 2.0)}
    assert sd[0.5] > 0
    assert sd[1.0] / sd[0.5] == pytest.approx(2.0, rel=0.1)
    # above edge=1 the momentum feedback (returns feed the trailing return) amplifies it
    assert 1.8 < sd[2.0] / sd[1.0] < 3.0


def test_planted_is_zero_in_volatile_and_warmup(market):
    codes = regime_codes(market.regimes)
    assert np.all(market.planted[codes == REGIMES.index("volatile")] == 0.0)
    assert np.all(market.planted[:19] == 0.0)
    active = codes != REGIMES.index("volatile")
    assert np.all(market.planted[19:][active[19:]] != 0.0)


def test_planted_is_the_documented_function_of_past_closes(market):
    """planted[t] = edge*(momentum*5-day log return - reversion*deviation from 20-day mean).

    Recomputed from closes up to t and the regime of day t only: so the planted part is causal.
    """
    log_close = np.log(market.close)
    codes = regime_codes(market.regimes)
    mom = np.asarray(market.params["momentum"])[codes][:, None]
    rev = np.asarray(market.params["reversion"])[codes][:, None]
    t = np.arange(19, market.n_days)
    five_day = log_close[t] - log_close[t - 5]
    mean20 = np.stack([log_close[s - 19 : s + 1].mean(axis=0) for s in t])
    expected = mom[t] * five_day - rev[t] * (log_close[t] - mean20)
    assert np.allclose(market.planted[t], expected, rtol=1e-9, atol=1e-13)


def test_planted_effect_is_regime_dependent_and_learnable():
    """Next-day returns load on momentum in bull/bear and on reversion in sideways."""
    slopes: dict[str, list[float]] = {"bull": [], "sideways": [], "volatile": []}
    for seed in range(3):
        m = generate_market(seed, n_days=2000, n_tickers=10)
        log_close = np.log(m.close)
        codes = regime_codes(m.regimes)
        five_day = log_close[20:-1] - log_close[15:-6]
        nxt = log_close[21:] - log_close[20:-1]
        for name in slopes:
            mask = codes[20:-1] == REGIMES.index(name)
            x, y = five_day[mask].ravel(), nxt[mask].ravel()
            slopes[name].append(np.polyfit(x, y, 1)[0])
    assert np.mean(slopes["bull"]) > 0.03
    assert np.mean(slopes["sideways"]) < -0.01  # reversal (via the 20-day deviation)
    assert abs(np.mean(slopes["volatile"])) < 0.03


def test_docstring_regime_table_matches_the_defaults():
    rows = {}
    for line in generate_market.__doc__.splitlines():
        cells = line.split()
        if cells and cells[0] in REGIMES:
            rows[cells[0]] = cells
    assert list(rows) == list(REGIMES)
    matrix = transition_matrix(synthetic.DURATION)
    for i, name in enumerate(REGIMES):
        drift, vol, mom, rev, duration, _days, stay, volume = rows[name][1:]
        assert float(drift.rstrip("%")) / 100 == pytest.approx(synthetic.DRIFT[i])
        assert float(vol.rstrip("%")) / 100 == pytest.approx(synthetic.VOL[i])
        assert float(mom) == synthetic.MOMENTUM[i] and float(rev) == synthetic.REVERSION[i]
        assert float(duration) == synthetic.DURATION[i]
        assert float(stay) == pytest.approx(matrix[i, i], abs=5e-4)
        assert float(volume) == synthetic.VOLUME_MULTIPLIER[i]


def _documented_rates() -> dict[int, float]:
    doc = generate_market.__doc__
    found = {int(h): float(v) / 100 for h, v in re.findall(r"(\d+)-day (\d+\.\d)%", doc)}
    assert set(found) == {1, 5}, f"docstring must state 1-day and 5-day oracle hit rates: {found}"
    return found


def test_docstring_oracle_hit_rate_is_current():
    """Recompute the figures the docstring states (seeds 0-19, defaults) to 0.1 point."""
    documented = _documented_rates()
    assert "seeds 0-19" in generate_market.__doc__
    markets = [generate_market(seed) for seed in range(20)]
    for horizon, stated in documented.items():
        measured = np.mean([oracle_hit_rate(m, horizon) for m in markets])
        assert measured == pytest.approx(stated, abs=0.0006), (horizon, measured)


def test_oracle_edge_is_weak_and_grows_with_horizon():
    documented = _documented_rates()
    assert 0.53 <= documented[1] <= 0.56
    assert documented[5] > documented[1]
    weaker = np.mean([oracle_hit_rate(generate_market(s, edge=0.5)) for s in range(5)])
    stronger = np.mean([oracle_hit_rate(generate_market(s, edge=2.0)) for s in range(5)])
    assert 0.5 < weaker < documented[1] < stronger


def test_oracle_hit_rate_rejects_markets_without_planted_signal(market):
    with pytest.raises(ValueError, match="no planted signal"):
        oracle_hit_rate(rl.load_prices(market.ohlcv(0), ticker="X"))
    with pytest.raises(ValueError, match="horizon"):
        oracle_hit_rate(market, horizon=0)
    with pytest.raises(ValueError, match="horizon"):
        oracle_hit_rate(market, horizon=market.n_days)


def test_fast_enough():
    generate_market(0)  # warm-up
    best = float("inf")
    for seed in range(5):
        start = time.perf_counter()
        generate_market(seed, n_days=1000, n_tickers=10)
        best = min(best, time.perf_counter() - start)
    assert best < 0.05


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_days": 50}, "n_days must be >= 100"),
        ({"n_days": 500.0}, "n_days must be an integer"),
        ({"n_tickers": 0}, "n_tickers must be >= 1"),
        ({"edge": -0.1}, "edge must be finite and >= 0"),
        ({"edge": float("nan")}, "edge"),
        ({"drift": (0.0, 0.0, 0.0)}, "drift must have one value per regime"),
        ({"vol": (0.01, 0.01, 0.0, 0.01)}, "vol must be > 0"),
        ({"duration": (0.5, 20, 20, 20)}, "duration must be >= 1"),
        ({"momentum": ("a", 0, 0, 0)}, "momentum must be"),
        ({"market_correlation": 1.5}, "market_correlation"),
        ({"momentum_window": 0}, "momentum_window"),
        ({"reversion_window": 1}, "reversion_window"),
        ({"volume_multiplier": (1, 1, 0, 1)}, "volume_multiplier must be > 0"),
        ({"base_volume": 0}, "base_volume"),
        ({"initial_regime": "bul"}, "Did you mean 'bull'"),
        ({"start": "not a date"}, "start must be a date"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        generate_market(0, **kwargs)


@pytest.mark.parametrize("seed", [-1, 1.5, True, "0"])
def test_bad_seed_raises(seed):
    with pytest.raises(ValueError, match="seed"):
        generate_market(seed)


def test_initial_regime_is_respected():
    for name in REGIMES:
        assert (
            generate_market(0, n_days=100, n_tickers=1, initial_regime=name).regimes.iloc[0] == name
        )


def test_explosive_planted_momentum_is_refused_not_returned_as_inf():
    with pytest.raises(ValueError, match="explosive"):
        generate_market(0, n_days=200, n_tickers=2, edge=4.0)
    market = generate_market(0, n_days=1000, n_tickers=4, edge=3.0)  # just inside the bound
    assert np.isfinite(market.close).all()
