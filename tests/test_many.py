"""walk_forward_many: bit for bit the separate walk_forward runs, each distinct fit once."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pytest
from threadpoolctl import threadpool_info

import retrainlab as rl
from retrainlab.engine.many import FitCache
from retrainlab.engine.market_data import MarketData
from retrainlab.engine.model import can_fit, fit_model, fit_scaler, predict_proba
from retrainlab.engine.training import DesignPanel, one_thread
from retrainlab.research.experiments import MarketSpec

TIMINGS = ("fit_seconds", "total_seconds")


def assert_identical(a, b) -> None:
    """Every field of two results equal bit for bit (NaN = NaN), timings aside."""
    assert a.config == b.config and a.market_name == b.market_name
    for name in (
        "returns",
        "positions",
        "probabilities",
        "signals",
        "thresholds",
        "trades",
        "regimes",
        "market_regimes",
        "coefficients",
    ):
        assert getattr(a, name).equals(getattr(b, name)), f"{a.config.label}: {name} differs"
    assert a.fits.drop(columns="seconds").equals(b.fits.drop(columns="seconds"))
    assert np.array_equal(a.features, b.features, equal_nan=True)
    assert a.metrics.keys() == b.metrics.keys()
    for key, value in a.metrics.items():
        other = b.metrics[key]
        assert value == other or (np.isnan(value) and np.isnan(other)), (a.config.label, key)


class CountingCache(FitCache):
    """Also records the content of every training set asked for (to count distinct ones)."""

    def __init__(self) -> None:
        super().__init__()
        self.contents: set[bytes] = set()

    def fitter(self, problem):
        inner = super().fitter(problem)

        def fit_samples(samples, config):
            if not can_fit(samples.y, config):  # nothing to fit: no model either way
                return inner(samples, config)
            digest = hashlib.sha256(repr(samples.X.shape).encode())
            digest.update(samples.X.tobytes() + samples.y.tobytes())
            digest.update(b"" if samples.weights is None else samples.weights.tobytes())
            digest.update(repr(sorted(config.protocol().items())).encode())
            self.contents.add(digest.digest())
            return inner(samples, config)

        return fit_samples


def _check(market, configs) -> tuple[CountingCache, int]:
    """The cache and the number of refits the configs' results record."""
    cache = CountingCache()
    many = rl.walk_forward_many(market, configs, cache)
    assert len(many) == len(configs)
    for config, result in zip(configs, many, strict=True):
        assert_identical(rl.walk_forward(market, config), result)
    return cache, sum(len(result.fits) for result in many)


def test_the_full_factorial_equals_separate_runs_and_fits_each_problem_once():
    market = rl.generate_market(1, n_days=300, n_tickers=3)
    cache, n_refits = _check(market, rl.all_configs(base=rl.OLD))
    # each distinct training set fitted once: as many fits as distinct contents, far fewer
    # than the refits the 64 results record
    assert cache.n_fits == len(cache.contents) < n_refits / 2
    # configs that differ only in position sizing share every refit (32 ask for none), and so
    # do those without the feedback loop that differ only in the thresholds (8 more): 24 of the
    # 64 configurations refit
    assert cache.n_requests == n_refits * 24 / 64


def test_a_real_series_and_mixed_protocols():
    real = MarketSpec(n_days=400, kind="sp500").build()
    _check(real, rl.all_configs(rl.OLD, ["feedback_loop", "adaptive_thresholds", "long_lookback"]))
    # configs that differ outside the fixes (horizon, lag, C, regime source, model class) never
    # share a fit or a panel
    market = rl.generate_market(2, n_days=300, n_tickers=4)
    _check(
        market,
        [
            rl.NEW,
            rl.NEW.replace(horizon=3),
            rl.OLD.replace(execution_lag=0),
            rl.OLD,
            rl.NEW.replace(C=0.1),
            rl.NEW.replace(regime_source="true"),  # other regimes: another market's data
            rl.OLD.replace(model="gradient_boosting"),
            rl.NEW,  # a repeat is fine
        ],
    )


def test_steps_are_shared_only_as_far_as_the_protocol_allows():
    # the factorial of the three fixes that decide which steps a config may share, under a
    # one-day horizon filled at the decision's own close, then under another model class
    fixes = ["feedback_loop", "adaptive_thresholds", "confidence_sizing"]
    market = rl.generate_market(4, n_days=260, n_tickers=3)
    configs = rl.all_configs(rl.OLD.replace(horizon=1, execution_lag=0), fixes)
    configs += rl.all_configs(rl.OLD.replace(model="gradient_boosting"), fixes[1:])
    _check(market, configs)
    # which of the 12 refit for themselves (a config that shares its refits logs 0 s for them):
    # under the first protocol, without the feedback loop the thresholds reach no refit (one
    # config for both), with it they do (two); under the second, one config for all four
    many = rl.walk_forward_many(market, configs)
    refitting = [r.config for r in many if r.fits["seconds"].gt(0).any()]
    assert refitting == [configs[0], configs[1], configs[3], configs[8]]


def test_results_that_share_steps_are_independent_objects():
    market = rl.generate_market(5, n_days=260, n_tickers=3)
    plain = rl.OLD.with_fix("adaptive_thresholds")
    sized = plain.with_fix("confidence_sizing")
    a, b = rl.walk_forward_many(market, [plain, sized])
    expected = rl.walk_forward(market, sized)
    # changing every table of one result leaves the other's as walk_forward gives them
    # (the regime tables are built once per market and shared until read: the most at risk)
    tables = ("positions", "probabilities", "signals", "thresholds", "trades", "regimes")
    for name in (*tables, "coefficients"):
        frame = getattr(a, name)
        frame.iloc[:, :] = frame.iloc[::-1, :].to_numpy()
        frame.columns = [f"x{c}" for c in range(frame.shape[1])]
    a.fits.iloc[:, :] = a.fits.iloc[::-1, :].to_numpy()
    a.market_regimes.iloc[:] = a.market_regimes.iloc[::-1].to_numpy()
    assert_identical(expected, b)


def test_what_results_share_is_read_only():
    # one market's results share its features (WalkForwardResult.features): a write to one
    # result's would change every other's, so it is refused
    market = rl.generate_market(5, n_days=260, n_tickers=3)
    a, b = rl.walk_forward_many(market, [rl.OLD, rl.OLD.with_fix("confidence_sizing")])
    assert np.shares_memory(a.features, b.features)
    with pytest.raises(ValueError, match="read-only"):
        a.features[0, 0, 0] = 1.0


def test_bad_input_is_refused():
    market = rl.generate_market(0, n_days=200, n_tickers=2)
    with pytest.raises(TypeError, match="RetrainConfig"):
        rl.walk_forward_many(market, ["OLD"])
    with pytest.raises(TypeError, match="Market"):
        rl.walk_forward_many("market", [rl.OLD])
    assert rl.walk_forward_many(market, []) == []
    # a cache holds one market's fits: reused on another market it would serve wrong models
    cache = FitCache()
    rl.walk_forward_many(market, [rl.OLD], cache)
    rl.walk_forward_many(market, [rl.NEW], cache)  # the same market again is fine
    other = rl.generate_market(1, n_days=200, n_tickers=2)
    with pytest.raises(ValueError, match="new FitCache"):
        rl.walk_forward_many(other, [rl.OLD], cache)
    # the same name and closes but other volumes: other features, so another market too
    louder = dataclasses.replace(market, volume=market.volume * 2.0)
    with pytest.raises(ValueError, match="new FitCache"):
        rl.walk_forward_many(louder, [rl.OLD], cache)


def test_a_shared_scaler_gives_the_same_fit_bit_for_bit():
    # walk_forward_many fits on the same rows with other weights share fit_scaler(X)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 6)) * rng.uniform(0.1, 5.0, 6) + rng.normal(size=6)
    y = (X @ rng.normal(size=6) + rng.normal(size=400) > 0).astype(np.int64)
    scaler = fit_scaler(X)
    for weights in (None, rng.uniform(0.1, 2.0, 400)):
        alone = fit_model(X, y, weights, rl.OLD)
        shared = fit_model(X, y, weights, rl.OLD, scaler=scaler)
        assert shared[0] is scaler
        for a, b in zip(alone, shared, strict=True):
            for name in ("mean_", "scale_", "var_", "coef_", "intercept_", "n_iter_"):
                if hasattr(a, name):
                    assert np.array_equal(getattr(a, name), getattr(b, name)), name
        assert np.array_equal(predict_proba(alone, X), predict_proba(shared, X))
    with pytest.raises(ValueError, match="fit_scaler"):
        fit_model(X[:300], y[:300], None, rl.OLD, scaler=scaler)


def test_nested_one_thread_blocks_keep_one_thread_and_restore_the_outer_setting():
    def threads():
        return [pool["num_threads"] for pool in threadpool_info()]

    before = threads()
    with one_thread():
        inside = threads()
        with one_thread():
            assert threads() == inside
        assert threads() == inside  # the inner block leaves the outer limit in force
    assert threads() == before
    assert all(n == 1 for n in inside)


def test_another_design_shares_the_markets_regime_tables():
    # walk_forward_many builds one MarketData per regime source and swaps only the design panel
    # for configs with another design: the regime tables (market only) are built once
    market = rl.generate_market(0, n_days=200, n_tickers=2)
    data = MarketData.build(market, rl.OLD, None)
    panel = DesignPanel.build(data.features, data.regimes, data.close, rl.NEW)
    other = data.with_panel(panel)
    assert other.panel is panel and other.features is data.features
    assert other.regime_tables is data.regime_tables
