"""The published validation, reproduced exactly (docs/replication.md), and its CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from retrainlab import published

# docs/replication.md, "What the reproduction must match" (seed 42, 504 days, 10 tickers)
EXPECTED = {
    "OLD": {
        "signals": (502, 270, 28),
        "n_trades": 772,
        "sharpe": 0.2233729218,
        "total_return": 0.4436948269,
        "win_rate": 0.5233160622,
        "payoff_ratio": 0.9859126279,
        "buy_sell_ratio": 1.8592592593,
    },
    "NEW": {
        "signals": (431, 184, 185),
        "n_trades": 615,
        "sharpe": 0.4975456273,
        "total_return": 1.3263127337,
        "win_rate": 0.5398373984,
        "payoff_ratio": 1.0223378091,
        "buy_sell_ratio": 2.3423913043,
    },
}


@pytest.fixture(scope="module")
def runs():
    return published.replicate(seed=42, n_days=504, n_tickers=10)


@pytest.mark.parametrize("system", ["OLD", "NEW"])
def test_table_of_replication_md_is_reproduced(runs, system):
    r, want = runs[system], EXPECTED[system]
    assert (r.signals["long"], r.signals["short"], r.signals["neutral"]) == want["signals"]
    assert r.n_trades == want["n_trades"] == len(r.trade_returns)
    for key in ("sharpe", "total_return", "win_rate", "payoff_ratio", "buy_sell_ratio"):
        assert getattr(r, key) == pytest.approx(want[key], abs=5e-11), key


@pytest.mark.parametrize(("system", "key"), [("OLD", "old_system"), ("NEW", "new_system")])
def test_trade_returns_equal_published_results_file(runs, system, key):
    theirs = np.asarray(published.load_published_results()[key]["daily_returns"])
    ours = runs[system].trade_returns
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)
    assert published.max_abs_difference(runs)[system] <= 1e-12


def test_published_scalar_metrics_match_file(runs):
    data = published.load_published_results()
    for system, key in (("OLD", "old_system"), ("NEW", "new_system")):
        for metric, ours in (
            ("sharpe", runs[system].sharpe),
            ("total_return", runs[system].total_return),
            ("profit_factor", runs[system].payoff_ratio),
            ("avg_win", runs[system].avg_win),
            ("avg_loss", runs[system].avg_loss),
        ):
            assert ours == pytest.approx(data[key][metric], rel=1e-12), (system, metric)


def test_profit_factor_is_gross_profit_over_gross_loss(runs):
    r = runs["OLD"].trade_returns
    assert runs["OLD"].profit_factor == pytest.approx(r[r > 0].sum() / -r[r < 0].sum())
    assert runs["OLD"].profit_factor != pytest.approx(runs["OLD"].payoff_ratio)


def test_other_seed_runs_and_differs(runs):
    other = published.replicate(seed=7, n_days=300, n_tickers=3)
    assert set(other) == {"OLD", "NEW"}
    for r in other.values():
        assert sum(r.signals.values()) == 3 * len(range(100, 295, 5))
        assert np.isfinite(r.sharpe)
    assert not np.array_equal(other["OLD"].trade_returns[:10], runs["OLD"].trade_returns[:10])


def test_deterministic():
    a, b = published.replicate(seed=3), published.replicate(seed=3)
    for name in ("OLD", "NEW"):
        assert a[name].trade_returns.tobytes() == b[name].trade_returns.tobytes()


def test_generator_protocol_details():
    data = published.generate(seed=42, n_days=504, n_tickers=2)
    assert list(data) == ["SPY", "IWM"]
    spy = data["SPY"]
    assert len(spy) == 504 and spy.index[-1].strftime("%Y-%m-%d") == published.END_DATE
    # first draw of the stream: ticker 0's first bull return
    first = np.random.RandomState(42).normal(0.0008, 0.012, 1)[0]
    assert spy["close"].iloc[0] == pytest.approx(100 * np.exp(first), rel=1e-15)
    # ticker 1 continues the same stream, so it differs from a fresh seed-42 ticker 0
    assert not np.allclose(data["IWM"]["close"].iloc[:5], spy["close"].iloc[:5])


def test_new_system_adapts_thresholds_and_counts_only_after_60_rows():
    system = published.NewSystem()
    assert system.signal(np.linspace(100, 120, 59)) == ("neutral", 0.5, 0.0)
    assert (system.n_buy, system.n_sell) == (0, 0)
    rising = 100 * np.exp(np.linspace(0, 0.5, 120))
    for _ in range(40):
        system.signal(rising)
    assert system.n_buy == 40 and system.buy > 0.55 and system.buy <= 0.58


def test_old_system_uses_the_30th_last_close():
    close = np.full(40, 100.0)
    close[-30] = 99.0  # 29 days before the last close
    signal, prob, _ = published.OldSystem().signal(close)
    assert signal == "long" and prob == pytest.approx(0.5 + 5 * (100 / 99 - 1))
    close[-30], close[-31] = 100.0, 99.0  # the 31st-last close is not read
    assert published.OldSystem().signal(close) == ("neutral", 0.5, 0.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"seed": -1}, "seed"),
        ({"n_days": 50}, "n_days"),
        ({"n_tickers": 11}, "n_tickers"),
        ({"n_tickers": 0}, "n_tickers"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        published.replicate(**kwargs)


def test_published_verdict_recomputed(runs):
    verdict = published.published_verdict(runs)
    assert verdict["n_passed"] == 5 and verdict["validated"]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "retrainlab", *args], capture_output=True, text=True, check=False
    )


def test_cli_json_matches_api(runs):
    out = _cli("replicate", "--seed", "42", "--json")
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert set(payload) == {"OLD", "NEW"}
    for name in ("OLD", "NEW"):
        assert "trade_returns" not in payload[name]
        assert payload[name]["sharpe"] == runs[name].sharpe
        assert payload[name]["signals"] == runs[name].signals
        for key in (
            "total_return",
            "win_rate",
            "payoff_ratio",
            "profit_factor",
            "n_trades",
            "buy_sell_ratio",
        ):
            assert key in payload[name]


def test_cli_table_and_errors():
    out = _cli("replicate", "--seed", "42", "--n-tickers", "10")
    assert out.returncode == 0 and "0.4975456273" in out.stdout and "502 / 270 / 28" in out.stdout
    bad = _cli("replicate", "--n-tickers", "12")
    assert bad.returncode != 0 and "n_tickers" in bad.stderr
    typo = _cli("replicte")
    assert typo.returncode == 2 and "Did you mean 'replicate'" in typo.stderr
