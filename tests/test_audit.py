"""The audit's corrected metrics, measured lookback and multi-seed comparison."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retrainlab import published
from retrainlab.published import audit, replication


def _hand_market(n: int = 111) -> dict[str, pd.DataFrame]:
    dates = pd.bdate_range("2024-01-01", periods=n)
    a = np.full(n, 100.0)
    b = np.full(n, 100.0)
    a[101:] = 100.0 * 1.01 ** np.arange(1, n - 100)  # +1% a day after row 100
    b[101:] = 100.0 * 0.98 ** np.arange(1, n - 100)  # -2% a day after row 100

    def frame(c):
        return pd.DataFrame(
            {"open": c, "high": c, "low": c, "close": c, "volume": 1.0},  # noqa: E731
            index=dates,
        )

    return {"A": frame(a), "B": frame(b)}


def _hand_result() -> published.PublishedResult:
    trades = pd.DataFrame(
        [("A", 100, 105, "long", 1.0, 0.6, 0.0), ("B", 100, 105, "short", 0.5, 0.4, 0.0)],
        columns=["ticker", "entry_row", "exit_row", "side", "size", "prob", "return"],
    )
    trades["return"] = [1.01**5 - 1, 0.5 * (1 - 0.98**5)]
    return replication._published_metrics("X", {"long": 1, "short": 1, "neutral": 2}, trades)


def test_daily_portfolio_marks_trades_to_market_by_hand():
    daily = audit.daily_portfolio_returns(_hand_result(), _hand_market())
    # rows 101..110: held rows 101..105 earn (1% x 1 + 2% x 0.5) / 2 tickers = 1%; then flat
    assert len(daily) == 10
    np.testing.assert_allclose(daily.to_numpy()[:5], 0.01, rtol=1e-12)
    np.testing.assert_allclose(daily.to_numpy()[5:], 0.0, atol=0)
    assert daily.index[0] == _hand_market()["A"].index[101]


def test_corrected_metrics_by_hand():
    m = audit.corrected_metrics(_hand_result(), _hand_market())
    assert m["total_return_daily"] == pytest.approx(1.01**5 - 1)
    assert m["profit_factor"] == np.inf  # no losing trade
    assert m["long_share"] == 0.25 and m["short_share"] == 0.25 and m["neutral_share"] == 0.5
    assert m["buy_sell_ratio"] == 1.0
    assert m["max_drawdown_daily"] == 0.0


def test_profit_factor_and_payoff_differ_on_a_small_case():
    trades = pd.DataFrame(
        {
            "ticker": "A",
            "entry_row": 100,
            "exit_row": 105,
            "side": "long",
            "size": 1.0,
            "prob": 0.6,
            "return": [0.02, 0.02, 0.02, -0.03],
        }
    )
    r = replication._published_metrics("X", {"long": 4, "short": 0, "neutral": 0}, trades)
    assert r.profit_factor == pytest.approx(0.06 / 0.03)  # gross profit / gross loss = 2
    assert r.payoff_ratio == pytest.approx(0.02 / 0.03)  # mean win / mean loss = 0.667


def test_effective_lookback_is_measured():
    assert audit.effective_lookback(published.NewSystem) == 60
    assert audit.effective_lookback(published.OldSystem) == 30


def test_always_long_is_all_long():
    data = published.generate(1, 200, 2)
    runs = audit.run_systems(data)
    assert runs["ALWAYS_LONG"].signals == {"long": 38, "short": 0, "neutral": 0}
    assert (runs["ALWAYS_LONG"].trades["size"] == 1.0).all()


def test_audit_seeds_and_summary():
    frame = audit.audit_seeds(range(4), n_days=220, n_tickers=3)
    assert list(frame.index) == [0, 1, 2, 3]
    assert {"OLD.sharpe_daily", "NEW.sharpe_published", "ALWAYS_LONG.sharpe_daily"} <= set(frame)
    summary = audit.summarize_seeds(frame)
    cmp = summary["sharpe_daily"]["NEW_vs_OLD"]
    diff = frame["NEW.sharpe_daily"] - frame["OLD.sharpe_daily"]
    assert cmp["mean_diff"] == pytest.approx(diff.mean())
    assert cmp["share_b_wins"] == pytest.approx((diff > 0).mean())


def test_replication_results_for_the_published_run():
    rep = audit.replication_results(audit_seed_list=range(3))
    assert rep["exact_match"]["matches"]
    assert all(row[s]["matches"] for row in rep["document_comparison"] for s in ("OLD", "NEW"))
    holds = {c["claim"]: c["holds"] for c in rep["claims"]}
    assert holds["OLD produced 0% buy / 94% sell signals"] is False
    assert holds["NEW trains on a 252-day lookback (OLD: 30)"] is False
