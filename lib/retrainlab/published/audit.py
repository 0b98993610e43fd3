"""The audit of the published validation: what its numbers do and do not measure.

Three kinds of evidence, each computed, never asserted:

1. ``corrected_metrics`` — the published run's trades re-scored: profit factor as gross profit /
   gross loss, Sharpe of a time-aligned daily portfolio (the same trades marked to market each
   day, equal weight across tickers, sqrt(252)), and the real buy/sell balance.
2. ``effective_lookback`` — how many rows of history each rule system actually reads (the
   document says NEW trains on 252 days).
3. ``audit_seeds`` — the same two rules and an always-long baseline over many seeds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from retrainlab.analytics import metrics
from retrainlab.analytics.stats import compare_paired
from retrainlab.published.document import compare_with_document
from retrainlab.published.replication import (
    FIRST_DECISION,
    HOLD,
    STEP,
    NewSystem,
    OldSystem,
    PublishedResult,
    backtest,
    generate,
    load_published_results,
    max_abs_difference,
    published_verdict,
)

SYSTEMS: tuple[str, ...] = ("OLD", "NEW", "ALWAYS_LONG")


class AlwaysLongSystem:
    """Baseline: long every ticker at every decision, size 1 — no skill, just market exposure."""

    name = "ALWAYS_LONG"

    def signal(self, close: np.ndarray) -> tuple[str, float, float]:
        return "long", 1.0, 1.0


def run_systems(data: dict[str, pd.DataFrame]) -> dict[str, PublishedResult]:
    """OLD, NEW and the always-long baseline under the published backtest on the same data."""
    return {
        "OLD": backtest(OldSystem(), data),
        "NEW": backtest(NewSystem(), data),
        "ALWAYS_LONG": backtest(AlwaysLongSystem(), data, sized=False),
    }


# --------------------------------------------------------------------------- corrected metrics
def daily_portfolio_returns(result: PublishedResult, data: dict[str, pd.DataFrame]) -> pd.Series:
    """The published trades as a time-aligned daily portfolio.

    A trade entered at the close of row ``i`` and exited at the close of row ``e`` holds
    ``+size`` (long) or ``-size`` (short) on rows ``i+1 .. e`` and earns that day's close-to-close
    return. Tickers are equally weighted (sum / n_tickers). The series spans the rows on which
    any position could be held: from the first decision + 1 to the last possible exit.
    """
    tickers = list(data)
    close = np.column_stack([data[t]["close"].to_numpy(dtype=float) for t in tickers])
    n_days, n_tickers = close.shape
    positions = np.zeros_like(close)
    column = {t: j for j, t in enumerate(tickers)}
    for trade in result.trades.itertuples(index=False):
        sign = 1.0 if trade.side == "long" else -1.0
        positions[trade.entry_row + 1 : trade.exit_row + 1, column[trade.ticker]] = (
            sign * trade.size
        )
    daily = np.zeros_like(close)
    daily[1:] = close[1:] / close[:-1] - 1
    portfolio = (positions * daily).sum(axis=1) / n_tickers
    last_exit = min(_last_decision(n_days) + HOLD, n_days - 1)
    span = slice(FIRST_DECISION + 1, last_exit + 1)
    dates = data[tickers[0]].index
    return pd.Series(portfolio[span], index=dates[span], name=result.name)


def _last_decision(n_days: int) -> int:
    return list(range(FIRST_DECISION, n_days - HOLD, STEP))[-1]


def corrected_metrics(result: PublishedResult, data: dict[str, pd.DataFrame]) -> dict[str, float]:
    """Published metrics beside corrected ones for one system's published-protocol run."""
    daily = daily_portfolio_returns(result, data).to_numpy()
    n_signals = sum(result.signals.values())
    return {
        "sharpe_published": result.sharpe,
        "sharpe_daily": metrics.sharpe_ratio(daily),
        "total_return_published": result.total_return,
        "total_return_daily": metrics.total_return(daily),
        "max_drawdown_daily": metrics.max_drawdown(daily),
        "payoff_ratio": result.payoff_ratio,
        "profit_factor": result.profit_factor,
        "win_rate": result.win_rate,
        "n_trades": float(result.n_trades),
        "buy_sell_ratio": result.buy_sell_ratio,
        "long_share": result.signals["long"] / n_signals,
        "short_share": result.signals["short"] / n_signals,
        "neutral_share": result.signals["neutral"] / n_signals,
    }


# --------------------------------------------------------------------------- lookback actually used
def effective_lookback(
    system_factory: Any,
    n_days: int = 300,
    seed: int = 0,
    candidates: Sequence[int] = (20, 29, 30, 59, 60, 61, 252),
) -> int:
    """The fewest trailing rows that determine every output of a rule system, measured.

    For each candidate ``k`` (ascending), rows older than the last ``k`` are replaced by noise at
    every decision point; the first ``k`` for which no signal, probability or confidence changes
    is returned (``n_days`` if none). Stateful systems are rebuilt fresh for each run.
    """
    close = generate(seed, n_days, 1)["SPY"]["close"].to_numpy()
    rng = np.random.default_rng(seed)
    points = range(FIRST_DECISION, n_days - HOLD, STEP)
    reference = _outputs(system_factory(), close, points, keep=None, rng=None)
    for k in sorted(candidates):
        if _outputs(system_factory(), close, points, keep=k, rng=rng) == reference:
            return k
    return n_days


def _outputs(
    system: Any,
    close: np.ndarray,
    points: Iterable[int],
    keep: int | None,
    rng: np.random.Generator | None,
) -> list[tuple[str, float, float]]:
    outputs = []
    for i in points:
        window = close[:i].copy()
        if keep is not None and rng is not None and i > keep:
            window[: i - keep] *= np.exp(rng.normal(0, 0.2, i - keep))
        outputs.append(system.signal(window))
    return outputs


# --------------------------------------------------------------------------- many seeds
def audit_one_seed(seed: int, n_days: int = 504, n_tickers: int = 10) -> dict[str, float]:
    """Published and corrected Sharpe and return of OLD, NEW and always-long for one seed."""
    data = generate(seed, n_days, n_tickers)
    runs = run_systems(data)
    row: dict[str, float] = {"seed": float(seed)}
    for name, result in runs.items():
        corrected = corrected_metrics(result, data)
        for key in (
            "sharpe_published",
            "sharpe_daily",
            "total_return_published",
            "win_rate",
            "profit_factor",
            "payoff_ratio",
            "buy_sell_ratio",
            "neutral_share",
        ):
            row[f"{name}.{key}"] = corrected[key]
    return row


def audit_seeds(
    seeds: Iterable[int], n_days: int = 504, n_tickers: int = 10, n_jobs: int = 1
) -> pd.DataFrame:
    """One row per seed: every system's published and corrected metrics (see audit_one_seed)."""
    rows = Parallel(n_jobs=n_jobs)(
        delayed(audit_one_seed)(int(s), n_days, n_tickers) for s in seeds
    )
    frame = pd.DataFrame(rows)
    frame["seed"] = frame["seed"].astype(int)
    return frame.set_index("seed")


def summarize_seeds(frame: pd.DataFrame) -> dict[str, Any]:
    """Paired comparisons across seeds: NEW vs OLD, and each rule system vs always-long."""
    out: dict[str, Any] = {"n_seeds": len(frame)}
    for key in ("sharpe_published", "sharpe_daily", "total_return_published"):
        out[key] = {
            "NEW_vs_OLD": compare_paired(frame[f"OLD.{key}"], frame[f"NEW.{key}"]).to_dict(),
            "OLD_vs_ALWAYS_LONG": compare_paired(
                frame[f"ALWAYS_LONG.{key}"], frame[f"OLD.{key}"]
            ).to_dict(),
            "NEW_vs_ALWAYS_LONG": compare_paired(
                frame[f"ALWAYS_LONG.{key}"], frame[f"NEW.{key}"]
            ).to_dict(),
        }
    return out


# --------------------------------------------------------------------------- the document's claims
def document_claims(
    runs: dict[str, PublishedResult], data: dict[str, pd.DataFrame]
) -> list[dict[str, Any]]:
    """Each checkable claim of the published document beside what its own run measured."""
    old, new = corrected_metrics(runs["OLD"], data), corrected_metrics(runs["NEW"], data)
    lookback_new = effective_lookback(NewSystem)
    lookback_old = effective_lookback(OldSystem)
    return [
        {
            "claim": "OLD produced 0% buy / 94% sell signals",
            "measured": f"OLD: {old['long_share']:.0%} long / {old['short_share']:.0%} short",
            "holds": bool(old["long_share"] < 0.05 and old["short_share"] > 0.9),
        },
        {
            "claim": "NEW auto-balances buy and sell signals",
            "measured": (
                f"buy/sell ratio OLD {old['buy_sell_ratio']:.2f}, "
                f"NEW {new['buy_sell_ratio']:.2f} (1.00 is balanced)"
            ),
            "holds": bool(abs(np.log(new["buy_sell_ratio"])) < abs(np.log(old["buy_sell_ratio"]))),
        },
        {
            "claim": "NEW trains on a 252-day lookback (OLD: 30)",
            "measured": f"rows that determine each signal: NEW {lookback_new}, OLD {lookback_old}",
            "holds": bool(lookback_new >= 252),
        },
        {
            "claim": "Profit factor improved 0.99 -> 1.02",
            "measured": (
                f"that is the payoff ratio; profit factor (gross profit / gross loss) "
                f"OLD {old['profit_factor']:.2f}, NEW {new['profit_factor']:.2f}"
            ),
            "holds": bool(new["profit_factor"] > old["profit_factor"]),
        },
        {
            "claim": "Sharpe improved 0.22 -> 0.50",
            "measured": (
                f"pooled per-trade x sqrt(52) as published; a daily portfolio of the same "
                f"trades: OLD {old['sharpe_daily']:.2f}, NEW {new['sharpe_daily']:.2f}"
            ),
            "holds": bool(new["sharpe_daily"] > old["sharpe_daily"]),
        },
    ]


# --------------------------------------------------------------------------- the results file
def replication_results(
    seed: int = 42,
    n_days: int = 504,
    n_tickers: int = 10,
    audit_seed_list: Sequence[int] = range(50),
    n_jobs: int = 1,
) -> dict[str, Any]:
    """Everything ``00_replication`` writes to ``results/replication.json``, computed."""
    data = generate(seed, n_days, n_tickers)
    runs = run_systems(data)
    reproduced = {name: runs[name].summary() for name in ("OLD", "NEW")}
    is_published = (seed, n_days, n_tickers) == (42, 504, 10)
    published = load_published_results()
    diffs = max_abs_difference(runs, published) if is_published else {"OLD": None, "NEW": None}
    frame = audit_seeds(audit_seed_list, n_days, n_tickers, n_jobs=n_jobs)
    return {
        "protocol": {"seed": seed, "n_days": n_days, "n_tickers": n_tickers},
        "reproduced": reproduced,
        "published_file": {
            name: {
                k: published[key][k]
                for k in (
                    "sharpe",
                    "total_return",
                    "win_rate",
                    "profit_factor",
                    "n_trades",
                    "buy_sell_ratio",
                    "signals",
                )
            }
            for name, key in (("OLD", "old_system"), ("NEW", "new_system"))
        },
        "document_comparison": compare_with_document(reproduced) if is_published else [],
        "exact_match": {
            "applicable": is_published,
            "tolerance": 1e-12,
            **diffs,
            "matches": bool(is_published and max(diffs.values()) <= 1e-12),
        },
        "published_verdict": published_verdict(runs),
        "corrected": {name: corrected_metrics(r, data) for name, r in runs.items()},
        "daily_portfolio": {
            name: daily_portfolio_returns(r, data).to_numpy() for name, r in runs.items()
        },
        "claims": document_claims(runs, data),
        "audit": {
            "per_seed": frame.reset_index().to_dict(orient="list"),
            "summary": summarize_seeds(frame),
        },
    }
