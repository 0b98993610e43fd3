"""Fair baselines, blocks and the `evaluate` CLI (retrainlab.research.evaluation)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import retrainlab as rl
from retrainlab.__main__ import main as cli
from retrainlab.research.evaluation import (
    BUY_AND_HOLD,
    block_bounds,
    block_market,
    buy_and_hold,
    evaluate_market,
    last_days,
)


@pytest.fixture(scope="module")
def market():
    return rl.generate_market(3, n_days=400, n_tickers=3)


def test_buy_and_hold_by_hand(market):
    close = market.close
    r = buy_and_hold(market, cost_bps=10.0, execution_lag=0, first_day=60)
    assert r.index[0] == market.dates[60] and len(r) == market.n_days - 60
    # entered at day 60's close: the first day earns nothing and pays 10 bps on turnover 1
    assert r.iloc[0] == pytest.approx(-10e-4)
    day = 61
    expected = np.mean(close[day] / close[day - 1] - 1.0)
    assert r.iloc[1] == pytest.approx(expected)
    total = np.prod(1 + r.to_numpy())
    # equal weight rebalanced daily: product of the daily mean simple returns, minus the entry
    daily = (close[61:] / close[60:-1] - 1.0).mean(axis=1)
    assert total == pytest.approx((1 - 10e-4) * np.prod(1 + daily))


def test_buy_and_hold_lag_shifts_by_one_bar(market):
    r0 = buy_and_hold(market, cost_bps=5.0, execution_lag=0, first_day=60)
    r1 = buy_and_hold(market, cost_bps=5.0, execution_lag=1, first_day=60)
    assert r1.iloc[0] == 0.0 and r1.iloc[1] == pytest.approx(-5e-4)
    np.testing.assert_allclose(r1.iloc[2:], r0.iloc[2:])
    assert r0.iloc[1] != r1.iloc[1]


def test_block_bounds():
    assert block_bounds(8313, 1008)[-1] == (7056, 8313)
    assert len(block_bounds(8313, 1008)) == 8
    assert block_bounds(200, 1008) == [(0, 200)]
    with pytest.raises(ValueError, match="at least"):
        block_bounds(1000, 20)


def test_block_market_is_independent(market):
    b = block_market(market, 100, 300)
    assert b.n_days == 200 and b.dates[0] == market.dates[100]
    np.testing.assert_array_equal(b.close, market.close[100:300])
    assert b.regimes is not None and len(b.regimes) == 200


def test_last_days_is_the_most_recent_rows(market):
    tail = last_days(market, 150)
    assert tail.n_days == 150 and tail.dates[-1] == market.dates[-1]
    np.testing.assert_array_equal(tail.close, market.close[-150:])
    assert last_days(market, 0) is market and last_days(market, 10_000) is market
    with pytest.raises(ValueError, match=">= 0"):
        last_days(market, -1)


def test_evaluate_market_structure(market):
    configs = {"OLD": rl.OLD, "OLD+long_lookback": rl.OLD.with_fix("long_lookback")}
    out = evaluate_market(market, configs, block_days=200, n_resamples=200, use_cache=False)
    assert out["configs"] == ["OLD", "OLD+long_lookback", BUY_AND_HOLD]
    assert set(out["paired"]) == {"OLD+long_lookback", BUY_AND_HOLD}
    p = out["paired"]["OLD+long_lookback"]
    assert p["ci_low"] <= p["mean_diff"] <= p["ci_high"]
    sharpe = out["whole"]["sharpe"]
    assert p["mean_diff"] == pytest.approx(sharpe["OLD+long_lookback"] - sharpe["OLD"])
    assert len(out["blocks"]) == 2
    assert out["block_comparisons"]["OLD+long_lookback - OLD"]["n"] == 2


def test_evaluate_cli_end_to_end(tmp_path, monkeypatch, capsys, market):
    monkeypatch.setenv("RETRAINLAB_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "prices.csv"
    market.to_long().to_csv(path, index=False)
    code = cli(
        [
            "evaluate", "--prices", str(path), "--configs", "OLD", "OLD+long_lookback",
            "--block-days", "200", "--cost-bps", "10", "--n-resamples", "200", "--json",
        ]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    out = json.loads(captured.out)
    assert set(out["whole"]["sharpe"]) == {"OLD", "OLD+long_lookback", BUY_AND_HOLD}
    assert out["cost_bps"] == 10
    assert {"mean_diff", "ci_low", "ci_high"} <= set(out["paired"]["OLD+long_lookback"])
    assert len(out["blocks"]) == 2 and BUY_AND_HOLD in out["blocks"][0]["sharpe"]
    assert "[evaluate]" in captured.err  # progress on stderr, not in the JSON


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--prices", "missing.csv"], "missing.csv"),
        (["--prices", "PRICES", "--configs", "OLD+long_lookbak"], "Did you mean"),
        (["--prices", "PRICES", "--layout", "wdie"], "wide"),
        (["--prices", "PRICES", "--block-days", "10"], "at least"),
    ],
)
def test_evaluate_cli_errors_are_one_line(tmp_path, capsys, market, args, message):
    path = tmp_path / "prices.csv"
    market.to_long().head(30).to_csv(path, index=False)
    good = tmp_path / "good.csv"
    market.to_long().to_csv(good, index=False)
    args = [str(good) if a == "PRICES" else a for a in args]
    if args[1] == "missing.csv":
        args[1] = str(tmp_path / "missing.csv")
    code = cli(["evaluate", *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("error: ") and message in err[-1]
    assert "Traceback" not in "\n".join(err)


def test_evaluate_cli_too_short_file(tmp_path, capsys, market):
    path = tmp_path / "short.csv"
    market.to_long().head(30).to_csv(path, index=False)
    assert cli(["evaluate", "--prices", str(path)]) == 2
    assert "min_rows" in capsys.readouterr().err


def test_returns_frame_alignment(market):
    from retrainlab.research.evaluation import system_returns

    frame = system_returns(market, {"OLD": rl.OLD}, use_cache=False)
    assert list(frame.columns) == ["OLD", BUY_AND_HOLD]
    assert isinstance(frame.index, pd.DatetimeIndex) and frame.notna().all().all()


def test_evaluate_cli_close_only_wide_file(tmp_path, monkeypatch, capsys, market):
    monkeypatch.setenv("RETRAINLAB_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "closes.csv"
    frame = pd.DataFrame(market.close, columns=list(market.tickers))
    frame.insert(0, "date", market.dates)
    frame.to_csv(path, index=False)
    args = ["evaluate", "--prices", str(path), "--layout", "wide", "--configs", "OLD", "NEW"]
    code = cli([*args, "--block-days", "0", "--n-resamples", "100", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    out = json.loads(captured.out)
    assert out["blocks"] == [] and set(out["paired"]) == {"NEW", BUY_AND_HOLD}
