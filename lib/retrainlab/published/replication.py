"""The published validation run, reproduced exactly — flaws included.

This module is the "as published" protocol described in ``docs/replication.md``: the data
generator, the OLD and NEW rule systems, the backtest and the metrics exactly as the published run
computed them. Nothing here is a recommended method: the audit (``retrainlab.published.audit``)
shows what these numbers do and do not measure, and the real retraining system is the engine
(``retrainlab.engine.walkforward``).

With ``seed=42, n_days=504, n_tickers=10`` the per-trade returns equal the published results file
to within 1e-12.

    >>> from retrainlab import published
    >>> runs = published.replicate(seed=42)
    >>> round(runs["NEW"].sharpe, 6)
    0.497546
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

#: The published tickers, in generation order (the first ``n_tickers`` are used).
TICKERS: tuple[str, ...] = ("SPY", "IWM", "XLK", "XLF", "AAPL", "MSFT", "GOOGL", "JPM", "GS", "CAT")
#: The published run dated its calendar by the day it ran; dates affect no number, so fix them.
END_DATE = "2026-02-02"
#: Decisions start at row 100 and step by the 5-day holding period.
FIRST_DECISION, STEP, HOLD = 100, 5, 5
SIGNALS: tuple[str, ...] = ("long", "short", "neutral")


# --------------------------------------------------------------------------- data
def generate(seed: int = 42, n_days: int = 504, n_tickers: int = 10) -> dict[str, pd.DataFrame]:
    """The published generator: three fixed regimes (bull, bear, bull), one shared random stream.

    Returns ``{ticker: DataFrame(open, high, low, close, volume)}`` on ``n_days`` business days
    ending ``END_DATE``. Draw order is part of the protocol (see docs/replication.md).
    """
    _check_protocol_args(seed, n_days, n_tickers)
    rng = np.random.RandomState(seed)  # the legacy global stream the published run seeded
    dates = pd.bdate_range(end=END_DATE, periods=n_days)
    b1, b2 = int(n_days * 0.4), int(n_days * 0.6)
    data: dict[str, pd.DataFrame] = {}
    for i, ticker in enumerate(TICKERS[:n_tickers]):
        returns = np.concatenate(
            [
                rng.normal(0.0008 + 0.0002 * i, 0.012, b1),
                rng.normal(-0.0005, 0.018, b2 - b1),
                rng.normal(0.0006 + 0.0001 * i, 0.014, n_days - b2),
            ]
        )
        close = 100 * np.exp(np.cumsum(returns))
        open_ = close * (1 + rng.uniform(-0.003, 0.003, n_days))
        high = close * (1 + np.abs(rng.normal(0, 0.008, n_days)))
        low = close * (1 - np.abs(rng.normal(0, 0.008, n_days)))
        volume = rng.randint(5_000_000, 50_000_000, n_days)
        data[ticker] = pd.DataFrame(
            {"open": open_, "high": high, "low": low, "close": close, "volume": volume},
            index=dates,
        )
    return data


def _check_protocol_args(seed: int, n_days: int, n_tickers: int) -> None:
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an int in [0, 2**32), got {seed!r}")
    if not isinstance(n_days, (int, np.integer)) or n_days < FIRST_DECISION + HOLD + 1:
        raise ValueError(
            f"n_days must be an int >= {FIRST_DECISION + HOLD + 1} (the backtest's first decision "
            f"is at row {FIRST_DECISION}), got {n_days!r}"
        )
    if not isinstance(n_tickers, (int, np.integer)) or not 1 <= n_tickers <= len(TICKERS):
        raise ValueError(f"n_tickers must be an int in [1, {len(TICKERS)}], got {n_tickers!r}")


# --------------------------------------------------------------------------- the two rule systems
class OldSystem:
    """OLD, stateless: 30-row momentum mapped to a probability, static 0.52 / 0.48 thresholds."""

    name = "OLD"

    def signal(self, close: np.ndarray) -> tuple[str, float, float]:
        """``(signal, probability, confidence)`` from the closes seen so far."""
        if len(close) < 30:
            return "neutral", 0.5, 0.0
        mom = close[-1] / close[-30] - 1  # the 30th-last close: 29 days apart, as published
        prob = float(np.clip(0.5 + 5 * mom, 0, 1))
        confidence = abs(prob - 0.5) * 2  # recorded, never used to size OLD's trades
        if prob > 0.52:
            return "long", prob, confidence
        if prob < 0.48:
            return "short", prob, confidence
        return "neutral", prob, confidence


@dataclass
class NewSystem:
    """NEW, stateful: a hand-written regime rule with self-adjusting thresholds.

    One instance serves every ticker in turn, so the thresholds carry over between tickers.
    No model is trained and no feedback is used: the published ``record_feedback`` never ran.
    """

    buy: float = 0.55
    sell: float = 0.45
    n_buy: int = 0
    n_sell: int = 0
    name: str = field(default="NEW", init=False)

    @staticmethod
    def regime(close: np.ndarray) -> str:
        """The published regime rule (vol is of price differences, not returns, as published)."""
        ret20 = close[-1] / close[-20] - 1
        ret60 = close[-1] / close[-60] - 1
        last20 = close[-20:]
        vol = np.std(np.diff(last20)) / np.mean(last20) * np.sqrt(252)
        if ret20 > 0.05 and ret60 > 0.08:
            return "bull"
        if ret20 < -0.05 and ret60 < -0.08:
            return "bear"
        if vol > 0.25:
            return "volatile"
        return "sideways"

    def signal(self, close: np.ndarray) -> tuple[str, float, float]:
        """``(signal, probability, confidence)``; updates the thresholds as published."""
        if len(close) < 60:
            return "neutral", 0.5, 0.0
        regime = self.regime(close)
        mom5 = close[-1] / close[-5] - 1
        mom20 = close[-1] / close[-20] - 1
        mom60 = close[-1] / close[-60] - 1
        ma20 = np.mean(close[-20:])
        dev = (close[-1] - ma20) / ma20
        if regime == "bull":
            score = 0.03 + 0.3 * mom60 if dev < -0.02 else 0.3 * mom5 + 0.4 * mom20 + 0.3 * mom60
        elif regime == "bear":
            score = -0.03 + 0.3 * mom20 if dev > 0.02 else 0.5 * mom5 + 0.3 * mom20 - 0.01
        else:
            score = -0.5 * dev if abs(dev) > 0.02 else 0.5 * mom20 + 0.5 * mom60
        prob = 1 / (1 + np.exp(-20 * score))
        confidence = min(10 * abs(score), 1) * (0.8 if regime in ("bull", "bear") else 0.5)
        if prob > self.buy:
            signal = "long"
            self.n_buy += 1
        elif prob < self.sell:
            signal = "short"
            self.n_sell += 1
        else:
            signal = "neutral"
        self._adapt()
        return signal, float(prob), float(confidence)

    def _adapt(self) -> None:
        # Runs on every call that got past the 60-row check, neutral ones included; never resets.
        if self.n_buy + self.n_sell > 30:
            ratio = self.n_buy / max(1, self.n_sell)
            if ratio > 1.5:
                self.buy = min(0.58, self.buy + 0.002)
                self.sell = max(0.42, self.sell - 0.002)
            elif ratio < 0.67:
                self.buy = max(0.52, self.buy - 0.002)
                self.sell = min(0.48, self.sell + 0.002)


# --------------------------------------------------------------------------- backtest and metrics
@dataclass
class PublishedResult:
    """One system's run under the published protocol, with the published metrics.

    ``trade_returns`` are per-trade 5-day returns pooled across tickers in ticker order (the
    published code called them "daily_returns": they are not a time series). ``payoff_ratio`` is
    what the published document calls "profit factor"; ``profit_factor`` is gross profit / gross
    loss. ``trades`` keeps each trade's ticker, entry/exit row, side and size for the audit.
    """

    name: str
    signals: dict[str, int]
    trade_returns: np.ndarray
    trades: pd.DataFrame
    sharpe: float
    total_return: float
    win_rate: float
    payoff_ratio: float
    profit_factor: float
    avg_win: float
    avg_loss: float
    n_trades: int
    buy_sell_ratio: float

    def summary(self) -> dict[str, Any]:
        """The scalar metrics and signal counts as plain JSON-safe values (no trade list)."""
        keys = (
            "sharpe",
            "total_return",
            "win_rate",
            "payoff_ratio",
            "profit_factor",
            "avg_win",
            "avg_loss",
            "n_trades",
            "buy_sell_ratio",
        )
        out: dict[str, Any] = {"name": self.name, "signals": dict(self.signals)}
        out.update({k: _plain(getattr(self, k)) for k in keys})
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, (np.integer, int)) and not isinstance(value, bool):
        return int(value)
    return float(value)


def backtest(
    system: OldSystem | NewSystem, data: dict[str, pd.DataFrame], sized: bool | None = None
) -> PublishedResult:
    """Run one system over every ticker in order, as published.

    At each row ``i = 100, 105, ... < n - 5`` the system sees rows ``[0, i)``; a non-neutral signal
    opens a trade at ``close[i]`` closed at ``close[min(i + 5, n - 1)]``. NEW's returns are scaled
    by ``0.5 + 0.5 * confidence`` (``sized`` defaults to True for NEW only).
    """
    sized = isinstance(system, NewSystem) if sized is None else sized
    counts = dict.fromkeys(SIGNALS, 0)
    rows: list[tuple[str, int, int, str, float, float, float]] = []
    for ticker, frame in data.items():
        close = frame["close"].to_numpy(dtype=float)
        n = len(close)
        for i in range(FIRST_DECISION, n - HOLD, STEP):
            signal, prob, confidence = system.signal(close[:i])
            counts[signal] += 1
            if signal == "neutral":
                continue
            exit_row = min(i + HOLD, n - 1)
            entry, exit_ = close[i], close[exit_row]
            ret = (exit_ - entry) / entry if signal == "long" else (entry - exit_) / entry
            size = 0.5 + 0.5 * confidence if sized else 1.0
            rows.append((ticker, i, exit_row, signal, size, prob, ret * size))
    trades = pd.DataFrame(
        rows, columns=["ticker", "entry_row", "exit_row", "side", "size", "prob", "return"]
    )
    return _published_metrics(system.name, counts, trades)


def _published_metrics(name: str, counts: dict[str, int], trades: pd.DataFrame) -> PublishedResult:
    r = trades["return"].to_numpy(dtype=float)
    wins, losses = r[r > 0], r[r < 0]
    avg_win = float(np.mean(wins)) if len(wins) else 0.0
    avg_loss = float(np.mean(losses)) if len(losses) else 0.0
    gross_loss = -float(np.sum(losses))
    return PublishedResult(
        name=name,
        signals=counts,
        trade_returns=r,
        trades=trades,
        total_return=float(np.prod(1 + r) - 1) if len(r) else 0.0,
        sharpe=float(np.mean(r) / (np.std(r) + 1e-10) * np.sqrt(52)) if len(r) else 0.0,
        win_rate=float(np.mean(r > 0)) if len(r) else 0.0,
        payoff_ratio=abs(avg_win / avg_loss) if avg_loss != 0 else 0.0,
        profit_factor=float(np.sum(wins)) / gross_loss if gross_loss > 0 else math.inf,
        avg_win=avg_win,
        avg_loss=avg_loss,
        n_trades=len(r),
        buy_sell_ratio=counts["long"] / max(1, counts["short"]),
    )


def replicate(seed: int = 42, n_days: int = 504, n_tickers: int = 10) -> dict[str, PublishedResult]:
    """The published validation run: ``{"OLD": result, "NEW": result}`` on ``generate(...)``."""
    data = generate(seed, n_days, n_tickers)
    return {"OLD": backtest(OldSystem(), data), "NEW": backtest(NewSystem(), data)}


# --------------------------------------------------------------------------- the published claims
#: The published verdict's five checks, as its code applied them (NEW vs OLD).
VERDICT_CHECKS: tuple[tuple[str, str], ...] = (
    ("Sharpe improved significantly", "sharpe: NEW > OLD + 0.05"),
    ("Win rate improved", "win_rate: NEW > OLD + 0.005"),
    ("Total return substantially higher", "total_return: NEW > 1.2 x OLD"),
    ("Profit factor improved", "payoff ratio: NEW > OLD"),
    ("Better signal filtering", "neutral signals: NEW > OLD"),
)


def published_verdict(runs: dict[str, PublishedResult]) -> dict[str, Any]:
    """The published five-check verdict ("validated" if at least three pass), recomputed."""
    old, new = runs["OLD"], runs["NEW"]
    passed = [
        new.sharpe > old.sharpe + 0.05,
        new.win_rate > old.win_rate + 0.005,
        new.total_return > old.total_return * 1.2,
        new.payoff_ratio > old.payoff_ratio,
        new.signals["neutral"] > old.signals["neutral"],
    ]
    checks = [
        {"check": c, "rule": rule, "passed": bool(p)}
        for (c, rule), p in zip(VERDICT_CHECKS, passed, strict=True)
    ]
    return {"checks": checks, "n_passed": int(sum(passed)), "validated": sum(passed) >= 3}


def load_published_results() -> dict[str, Any]:
    """The results file the published run wrote (shipped with the package as data)."""
    path = resources.files("retrainlab.published") / "data" / "as_published_results.json"
    return json.loads(path.read_text(encoding="utf-8"))


def max_abs_difference(
    runs: dict[str, PublishedResult], published: dict[str, Any] | None = None
) -> dict[str, float]:
    """Largest |reproduced - published| per-trade return for each system (inf if counts differ)."""
    published = load_published_results() if published is None else published
    out = {}
    for name, key in (("OLD", "old_system"), ("NEW", "new_system")):
        theirs = np.asarray(published[key]["daily_returns"], dtype=float)
        ours = runs[name].trade_returns
        out[name] = float(np.max(np.abs(ours - theirs))) if len(ours) == len(theirs) else math.inf
    return out


# --------------------------------------------------------------------------- CLI
_TABLE_ROWS: tuple[tuple[str, str], ...] = (
    ("signals long / short / neutral", "signals"),
    ("trades", "n_trades"),
    ("sharpe", "sharpe"),
    ("total return", "total_return"),
    ("win rate", "win_rate"),
    ('"profit factor" (payoff ratio)', "payoff_ratio"),
    ("profit factor (gross, corrected)", "profit_factor"),
    ("buy/sell ratio", "buy_sell_ratio"),
)


def format_table(runs: dict[str, PublishedResult]) -> str:
    """The published-style OLD vs NEW comparison table, as plain text."""

    def cell(result: PublishedResult, key: str) -> str:
        if key == "signals":
            s = result.signals
            return f"{s['long']} / {s['short']} / {s['neutral']}"
        value = getattr(result, key)
        return str(value) if isinstance(value, int) else f"{value:.10f}"

    width = max(len(label) for label, _ in _TABLE_ROWS)
    lines = [f"{'':<{width}}  {'OLD':>16}  {'NEW':>16}"]
    for label, key in _TABLE_ROWS:
        lines.append(
            f"{label:<{width}}  {cell(runs['OLD'], key):>16}  {cell(runs['NEW'], key):>16}"
        )
    verdict = published_verdict(runs)
    lines.append("")
    lines.append(
        f"published verdict: {verdict['n_passed']}/5 checks pass -> "
        f"{'VALIDATED' if verdict['validated'] else 'not validated'} "
        "(as the published code judged it; see the audit)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m retrainlab replicate --seed 42 [--n-days 504] [--n-tickers 10] [--json]``."""
    parser = argparse.ArgumentParser(
        prog="python -m retrainlab replicate", description="Reproduce the published validation run."
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--n-days", type=int, default=504)
    parser.add_argument("--n-tickers", type=int, default=10)
    parser.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    args = parser.parse_args(argv)
    try:
        runs = replicate(args.seed, args.n_days, args.n_tickers)
    except ValueError as exc:
        parser.error(str(exc))
    if args.json:
        print(json.dumps({name: r.summary() for name, r in runs.items()}, indent=2))
    else:
        print(
            f"published protocol: seed={args.seed}, n_days={args.n_days}, "
            f"n_tickers={args.n_tickers}\n"
        )
        print(format_table(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
