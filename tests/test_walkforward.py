"""walk_forward: the result's contents checked against the protocol, determinism, placebo, edge."""

from __future__ import annotations

import functools
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from retrainlab import NEW, OLD, TradeOutcome, generate_market, metrics, walk_forward
from retrainlab.engine.features import FEATURE_NAMES
from retrainlab.engine.fixes.confidence_sizing import bet_size
from retrainlab.engine.hooks import training_window
from retrainlab.engine.model import design_columns
from retrainlab.engine.walkforward import (
    Book,
    WalkForwardResult,
    decision_days,
    first_decision_day,
)


@functools.cache
def market(seed: int = 1, edge: float = 1.0, n_days: int = 400, n_tickers: int = 4):
    return generate_market(seed, n_days=n_days, n_tickers=n_tickers, edge=edge)


@functools.cache
def result(label: str) -> WalkForwardResult:
    return walk_forward(market(), {"OLD": OLD, "NEW": NEW}[label])


@pytest.fixture(params=["OLD", "NEW"])
def res(request) -> WalkForwardResult:
    return result(request.param)


def test_shapes_and_indexes(res):
    m = market()
    d0 = first_decision_day(res.config)
    days = decision_days(m.n_days, res.config)
    assert d0 == 60 and days[1] - days[0] == res.config.horizon
    assert isinstance(res.returns, pd.Series) and res.returns.index.equals(m.dates[d0:])
    assert res.positions.shape == (m.n_days, m.n_tickers)
    assert list(res.positions.columns) == list(m.tickers)
    assert (res.positions.iloc[:d0] == 0).all().all()
    assert res.probabilities.index.equals(m.dates)
    off_grid = np.setdiff1d(np.arange(m.n_days), days)
    assert res.probabilities.iloc[off_grid].isna().all().all()
    assert res.signals.index.equals(m.dates[days])
    assert set(np.unique(res.signals.to_numpy())) <= {"long", "short", "neutral"}
    assert res.thresholds.index.equals(m.dates[days])
    assert res.regimes.shape == res.positions.shape
    assert set(res.regimes.stack().dropna().unique()) <= {"bull", "bear", "volatile", "sideways"}
    assert res.market_regimes.index.equals(m.dates)
    assert list(res.trades.columns) == [
        "ticker",
        "decision_date",
        "entry_date",
        "exit_date",
        "side",
        "size",
        "prob",
        "confidence",
        "regime",
        "entry_price",
        "exit_price",
        "pnl_pct",
        "trade_return",
    ]
    assert list(res.coefficients.columns) == [*design_columns(res.config), "intercept"]
    assert len(res.coefficients) == res.fits["fitted"].sum() == len(res.fit_dates)
    assert res.features.shape == (m.n_days, m.n_tickers, len(FEATURE_NAMES))
    assert 0 < res.fit_seconds < res.total_seconds
    assert res.config.label in repr(res)


def test_neutral_before_the_first_fit(res):
    first_fit = res.fit_dates[0]
    before = res.signals.loc[res.signals.index < first_fit]
    assert len(before) > 0 and (before == "neutral").all().all()
    assert res.probabilities.loc[:first_fit].iloc[:-1].isna().all().all()
    after = res.probabilities.loc[res.signals.index[res.signals.index >= first_fit]]
    assert np.isfinite(after.to_numpy()).all()


def test_training_windows_are_purged(res):
    """Market samples per fit = days t with R - W <= t <= R - h (and t >= 60), times tickers."""
    m, cfg = market(), res.config
    day = {d: i for i, d in enumerate(m.dates)}
    for row in res.fits.itertuples():
        r = day[row.date]
        first, last = max(r - training_window(cfg), 60), r - cfg.horizon
        assert row.n_market == max(last - first + 1, 0) * m.n_tickers
    steps = np.diff([day[d] for d in res.fits["date"]])
    assert (steps == cfg.retrain_every).all()


def test_positions_trades_and_returns_agree(res):
    m, cfg = market(), res.config
    h, k = cfg.horizon, m.n_tickers
    pos = res.positions.to_numpy()
    day = {d: i for i, d in enumerate(m.dates)}
    col = {t: j for j, t in enumerate(m.tickers)}
    lag = cfg.execution_lag
    assert lag == 1  # the default: fill at the next close
    for tr in res.trades.itertuples():
        i, j, d = day[tr.entry_date], col[tr.ticker], day[tr.decision_date]
        assert i == d + lag and day[tr.exit_date] == i + h
        sign = 1 if tr.side == "long" else -1
        np.testing.assert_array_equal(pos[i : i + h, j], sign * tr.size)
        assert tr.entry_price == m.close[i, j] and tr.exit_price == m.close[i + h, j]
        assert tr.pnl_pct == pytest.approx(sign * (m.close[i + h, j] / m.close[i, j] - 1))
        assert tr.prob == res.probabilities.iloc[d, j]
        assert res.signals.loc[tr.decision_date, tr.ticker] == tr.side
    # the daily return series, recomputed from positions and closes
    simple = np.vstack([np.zeros((1, k)), m.close[1:] / m.close[:-1] - 1])
    held = np.vstack([np.zeros((1, k)), pos[:-1]])
    turnover = np.abs(np.diff(pos, axis=0, prepend=0)).sum(axis=1) / k
    expected = (held * simple).sum(axis=1) / k - cfg.cost_bps / 1e4 * turnover
    np.testing.assert_allclose(res.returns.to_numpy(), expected[60:], rtol=0, atol=1e-15)


def test_sizes_and_thresholds_follow_the_switches():
    old, new = result("OLD"), result("NEW")
    assert (old.trades["size"] == 1.0).all()
    np.testing.assert_allclose(new.trades["size"], bet_size(new.trades["prob"].to_numpy()))
    assert (old.thresholds["long_threshold"] == 0.52).all()
    assert (old.thresholds["short_threshold"] == 0.48).all()
    th = new.thresholds.to_numpy()
    assert ((th >= 0.40) & (th <= 0.60)).all()
    assert tuple(th[0]) == (0.55, 0.45)


def test_adaptive_thresholds_use_strictly_earlier_probabilities():
    new = result("NEW")
    cfg = new.config
    probs = new.probabilities.loc[new.signals.index].to_numpy()
    th = new.thresholds.to_numpy()
    for i in range(len(probs)):
        history = probs[:i].ravel()
        history = history[np.isfinite(history)][-cfg.threshold_history :]
        if history.size < cfg.threshold_min_history:
            expected = (0.55, 0.45)
        else:
            n = cfg.neutral_share
            expected = tuple(np.clip(np.quantile(history, [(1 + n) / 2, (1 - n) / 2]), 0.4, 0.6))
        np.testing.assert_allclose(th[i], expected, rtol=0, atol=1e-15)
        p = probs[i]
        sig = np.where(p > th[i, 0], "long", np.where(p < th[i, 1], "short", "neutral"))
        assert list(new.signals.iloc[i]) == list(sig)


def test_feedback_samples_are_the_systems_closed_trades():
    new, old = result("NEW"), result("OLD")
    assert (old.fits["n_feedback"] == 0).all()
    for row in new.fits.itertuples():
        start = market().dates[
            max(market().dates.get_loc(row.date) - training_window(new.config), 0)
        ]
        t = new.trades
        expected = ((t["exit_date"] < row.date) & (t["entry_date"] >= start)).sum()
        assert row.n_feedback == expected
    assert new.fits["n_feedback"].max() > 0


def test_external_outcomes_enter_training_only_with_the_feedback_switch():
    m = market()
    outs = result("OLD").trade_outcomes()
    assert len(outs) == len(result("OLD").trades)
    o = outs[0]
    assert isinstance(o, TradeOutcome) and o.features.shape == (len(FEATURE_NAMES),)
    assert o.label == int(o.exit_price > o.entry_price)
    fb = OLD.with_fix("feedback_loop")
    with_outs = walk_forward(m, fb, outcomes=outs)
    without = walk_forward(m, fb)
    assert (with_outs.fits["n_feedback"] > without.fits["n_feedback"]).any()
    ignored = walk_forward(m, OLD, outcomes=outs)  # switch off: outcomes are not used
    np.testing.assert_array_equal(ignored.probabilities, result("OLD").probabilities)
    # outcomes without features take the market's features at entry: with fills at the
    # decision's own close (lag 0) these are the features the decision used
    fb, outs = (
        fb.replace(execution_lag=0),
        walk_forward(m, OLD.replace(execution_lag=0)).trade_outcomes(),
    )
    with_outs = walk_forward(m, fb, outcomes=outs)
    bare = [
        TradeOutcome(
            symbol=x.symbol,
            direction=x.direction,
            entry_price=x.entry_price,
            exit_price=x.exit_price,
            entry_time=x.entry_time,
            exit_time=x.exit_time,
        )
        for x in outs
    ]
    np.testing.assert_array_equal(
        walk_forward(m, fb, outcomes=bare).probabilities, with_outs.probabilities
    )


def test_metrics(res):
    mt = res.metrics
    assert mt["sharpe_ratio"] == pytest.approx(metrics.sharpe_ratio(res.returns))
    assert mt["n_trades"] == len(res.trades)
    assert mt["n_long"] == (res.signals == "long").sum().sum()
    assert mt["n_long"] + mt["n_short"] + mt["n_neutral"] == res.signals.size
    assert mt["win_rate"] == pytest.approx((res.trades["trade_return"] > 0).mean())
    p = res.probabilities.to_numpy()
    fwd = np.full_like(p, np.nan)
    fwd[:-5] = market().close[5:] / market().close[:-5] - 1
    ok = np.isfinite(p) & np.isfinite(fwd)
    assert mt["hit_rate"] == pytest.approx(np.mean((p[ok] > 0.5) == (fwd[ok] > 0)))
    assert all(isinstance(v, float) for v in mt.values())


def test_a_result_builds_its_tables_when_first_read():
    # a sweep reads returns, positions and metrics only: the other tables wait until read
    result = walk_forward(market(), NEW)
    tables = ("probabilities", "signals", "thresholds", "trades", "regimes", "market_regimes")
    built = lambda: sorted(n for n in (*tables, "_fit_tables") if n in vars(result.tables))  # noqa: E731
    text = repr(result)  # the repr counts trades and fits without building their tables
    assert built() == [] and result.metrics["n_trades"] > 0
    assert f"{len(result.trades)} trades" in text and f"{result.fits['fitted'].sum()} fits" in text
    assert result.metrics["n_fits"] == result.fits["fitted"].sum() == result.tables.n_fits
    for name in tables:
        assert getattr(result, name) is getattr(result, name)  # built once, then kept
    assert built() == sorted((*tables, "_fit_tables"))


def test_deterministic_byte_for_byte():
    m = market()
    a, b = walk_forward(m, NEW), walk_forward(m, NEW)
    for name in ("returns", "positions", "probabilities"):
        assert getattr(a, name).to_numpy().tobytes() == getattr(b, name).to_numpy().tobytes()
    assert a.signals.equals(b.signals) and a.trades.equals(b.trades)
    assert a.coefficients.to_numpy().tobytes() == b.coefficients.to_numpy().tobytes()
    assert list(a.metrics) == list(b.metrics)
    assert np.array_equal(list(a.metrics.values()), list(b.metrics.values()), equal_nan=True)


def test_short_market_and_single_ticker():
    tiny = market().head(50)  # shorter than the warm-up: no decision at all
    r = walk_forward(tiny, NEW)
    assert len(r.returns) == 0 and len(r.trades) == 0 and r.signals.shape == (0, 4)
    one = generate_market(3, n_days=300, n_tickers=1)
    r1 = walk_forward(one, NEW)
    assert r1.positions.shape == (300, 1) and r1.fits["fitted"].any()


def test_bad_arguments():
    with pytest.raises(TypeError, match="Market"):
        walk_forward(market().close, NEW)
    with pytest.raises(TypeError, match="RetrainConfig"):
        walk_forward(market(), "NEW")


def test_placebo_has_no_significant_edge():
    """edge = 0: over 8 seeds, neither system's mean Sharpe is significantly above zero
    (one-sided one-sample t-test, p > 0.05)."""
    sharpes = {"OLD": [], "NEW": []}
    for seed in range(8):
        m = generate_market(seed, n_days=750, n_tickers=8, edge=0.0)
        for name, cfg in (("OLD", OLD), ("NEW", NEW)):
            sharpes[name].append(walk_forward(m, cfg).metrics["sharpe_ratio"])
    for name, values in sharpes.items():
        p = stats.ttest_1samp(values, 0.0, alternative="greater").pvalue
        assert p > 0.05, f"{name} shows an 'edge' on placebo markets: Sharpes {values}, p={p:.3f}"


def test_new_finds_a_planted_edge():
    """edge = 3: NEW's decisions call the 5-day direction right more than 55 % of the time
    (mean hit rate over 3 seeds; a coin is 50 %, the placebo above stays near 50 %)."""
    hits = [
        walk_forward(generate_market(seed, edge=3.0), NEW).metrics["hit_rate"] for seed in range(3)
    ]
    assert np.mean(hits) > 0.55, hits


def test_bench_cli_quick(capsys):
    from retrainlab import bench

    assert bench.main(["--quick", "--repeat", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [row["config"] for row in out["main"]] == ["OLD", "NEW"]
    for row in out["main"]:
        assert row["n_days"] == 1000 and row["n_tickers"] == 10 and row["n_fits"] > 40
        assert 0 < row["fit_seconds"] < row["seconds"]
    # --quick times the factorial on 2 tickers x 200 days: 7 refits per configuration
    f = out["factorial"]
    assert (f["n_days"], f["n_tickers"], f["n_configs"], f["n_refits"]) == (200, 2, 64, 64 * 7)
    assert 0 < f["n_distinct_fits"] < f["n_refits"]
    # the configurations that share whole steps ask for no refit of their own
    assert f["n_distinct_fits"] <= f["n_refit_requests"] < f["n_refits"]
    assert f["ratio"] == f["many_seconds"] / f["separate_seconds"] > 0
    assert f["projected_seconds"] == pytest.approx(
        f["many_seconds"] * f["n_markets"] / f["workers"]
    )
    assert set(out["targets"]) == {
        "new_seconds_ok",
        "new_ratio_ok",
        "factorial_ratio_ok",
        "factorial_projection_ok",
    }


@pytest.mark.parametrize("config", [OLD, NEW.without_fix("feedback_loop")], ids=["OLD", "NEW-fb"])
def test_execution_lag_shifts_positions_by_exactly_one_bar(config):
    """Lag 1 holds exactly the lag-0 book one bar later; decisions and models do not change;
    trades fill one close later. (With feedback_loop the later fills also change what the
    system learns, so only configs without it are compared whole.)"""
    m = market()
    now, later = (walk_forward(m, config.replace(execution_lag=lag)) for lag in (0, 1))
    assert config.execution_lag == 1 and later.config.label == config.label
    p0, p1 = now.positions.to_numpy(), later.positions.to_numpy()
    np.testing.assert_array_equal(p1[1:], p0[:-1])
    assert (p1[0] == 0).all() and np.abs(p0).sum() > 0
    for name in ("probabilities", "signals", "thresholds", "coefficients"):
        pd.testing.assert_frame_equal(getattr(now, name), getattr(later, name))
    day = {d: i for i, d in enumerate(m.dates)}
    t0, t1 = now.trades, later.trades
    n = len(t1)
    assert n in (len(t0), len(t0) - 1)  # the last trade may no longer close inside the data
    pd.testing.assert_series_equal(t1["decision_date"], t0["decision_date"].iloc[:n])
    shift = [day[b] - day[a] for a, b in zip(t0["entry_date"][:n], t1["entry_date"], strict=True)]
    assert set(shift) == {1}
    np.testing.assert_array_equal(
        t1["entry_price"],
        m.close[[day[d] for d in t1["entry_date"]], [m.tickers.index(x) for x in t1["ticker"]]],
    )
    assert (t0["decision_date"] == t0["entry_date"]).all()


def test_the_book_opens_a_segment_at_once_as_it_would_decision_by_decision():
    # Book.open writes a whole segment's holdings in one assignment; the reference opens them
    # one decision at a time, each overwriting its rows (fills may fall past the last row)
    rng = np.random.default_rng(0)
    for _ in range(300):
        n_days, k, hold, lag = (int(v) for v in rng.integers((5, 1, 1, 0), (40, 5, 6, 3)))
        days = np.arange(int(rng.integers(0, hold + 1)), n_days, hold)
        codes = rng.integers(-1, 2, size=(len(days), k))
        sizes = codes * rng.uniform(0.5, 1.5, size=codes.shape)
        reference, opened = np.zeros((n_days, k)), []
        for i, day in enumerate(days):
            traded = np.flatnonzero(codes[i])
            reference[day + lag : day + lag + hold, traded] = sizes[i, traded]
            opened += [(i, int(j)) for j in traded]
        book = Book.empty(n_days, k, len(days))
        cuts = np.sort(rng.choice(len(days) + 1, size=min(3, len(days) + 1), replace=False))
        for a, b in zip([0, *cuts], [*cuts, len(days)], strict=True):  # empty segments too
            row, j = np.nonzero(codes[a:b])
            book.open(a + row, days[a + row] + lag, j, sizes[a + row, j], hold)
        assert np.array_equal(book.positions, reference)
        assert [(int(i), int(j)) for i, j in zip(*book.opened(), strict=True)] == opened
