"""Closed trades handed to the facade: validated so that no trade can poison training.

A trade is refused (``ValueError``/``TypeError`` naming the field; nothing stored) unless:
prices and size are real numbers (not booleans), finite and > 0; the price move
``|exit / entry - 1|`` is at most ``TradeBounds.max_move`` (default 1.0, i.e. 100 %); its P&L is
finite; entry is not after exit; both times are after the Unix epoch; exit is not later than
now plus ``TradeBounds.clock_skew`` (default 5 minutes).

* **Trade matching.** ``record_trade`` takes the features, regime, probability and confidence
  of the latest prediction logged for the symbol (at or before ``entry_time`` when given;
  times are UTC, naive times are taken as UTC). Without a matching prediction, or when that
  prediction had too few bars for the features, the trade is stored without features and
  cannot feed training (the retrain report counts them). ``size`` is the position's notional;
  P&L = ``size * pnl_pct``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from retrainlab.common.names import suggest
from retrainlab.engine.fixes.feedback_loop import DIRECTIONS, TradeOutcome
from retrainlab.live.encoding import (
    as_utc,
    blob_vector,
    real,
    text_time,
    time_text,
    utc_now,
    vector_blob,
)

#: Default bound on ``|exit / entry - 1|`` (1.0 = a 100 % move).
MAX_MOVE: float = 1.0
#: Default tolerance for an exit time ahead of this machine's clock.
CLOCK_SKEW: pd.Timedelta = pd.Timedelta(minutes=5)
#: Trade times must be strictly after this instant.
EPOCH: pd.Timestamp = pd.Timestamp("1970-01-01")


@dataclass(frozen=True)
class TradeBounds:
    """What a recorded trade may look like (see the module docstring)."""

    max_move: float = MAX_MOVE  # largest |exit / entry - 1| accepted
    clock_skew: pd.Timedelta = CLOCK_SKEW  # how far an exit may be ahead of now

    def __post_init__(self) -> None:
        move = positive(self.max_move, "max_move")
        object.__setattr__(self, "max_move", move)
        skew = pd.Timedelta(self.clock_skew)
        if skew < pd.Timedelta(0):
            raise ValueError(f"clock_skew must be >= 0, got {self.clock_skew!r}")
        object.__setattr__(self, "clock_skew", skew)


def positive(value: Any, name: str) -> float:
    """``value`` as a finite float > 0; ``TypeError`` for a non-number or a boolean."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if x <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return x


def direction(value: Any) -> str:
    """'long' or 'short' (case-insensitive); else an error with a "did you mean"."""
    if not isinstance(value, str):
        raise TypeError(f"direction must be 'long' or 'short', got {value!r}")
    key = value.strip().lower()
    if key not in DIRECTIONS:
        raise ValueError(
            f"unknown trade direction {value!r}.{suggest(key, DIRECTIONS)} "
            f"Valid choices: {', '.join(DIRECTIONS)}."
        )
    return key


def trade_time(value: Any, name: str, bounds: TradeBounds, now: pd.Timestamp) -> pd.Timestamp:
    """A trade time in UTC: after the epoch, not beyond now plus the clock skew."""
    if isinstance(value, (bool, np.bool_)) or isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a date/time (datetime, Timestamp or ISO string), got "
            f"{type(value).__name__} {value!r}"
        )
    ts = as_utc(value, name)
    if ts <= EPOCH:
        raise ValueError(f"{name} {ts} is not after the Unix epoch (1970-01-01); a real time?")
    if ts > now + bounds.clock_skew:
        raise ValueError(
            f"{name} {ts} is in the future (now {now} UTC, tolerance {bounds.clock_skew}); "
            "record a trade once it has closed"
        )
    return ts


def check_prices(entry: Any, exit_price: Any, size: Any, bounds: TradeBounds) -> tuple:
    """``(entry, exit_price, size)`` as floats, the move within ``bounds.max_move``."""
    entry = positive(entry, "entry")
    exit_price = positive(exit_price, "exit_price")
    size = positive(size, "size")
    move = exit_price / entry - 1.0
    if not math.isfinite(move) or abs(move) > bounds.max_move:
        raise ValueError(
            f"exit_price {exit_price:g} / entry {entry:g} is a {move:+.4g} move, beyond the "
            f"bound of {bounds.max_move:g} ({bounds.max_move:.0%}); a typo? (raise "
            "MLIntegration(max_move=...) for instruments that move more)"
        )
    if not math.isfinite(size * move):
        raise ValueError(f"the trade's P&L size * move = {size:g} * {move:g} is not finite")
    return entry, exit_price, size


def check_times(
    entry_time: Any, exit_time: Any, bounds: TradeBounds
) -> tuple[pd.Timestamp | None, pd.Timestamp]:
    """``(entry_ts or None, exit_ts)``: exit defaults to now; entry not after exit."""
    now = utc_now()
    exit_ts = now if exit_time is None else trade_time(exit_time, "exit_time", bounds, now)
    entry_ts = None if entry_time is None else trade_time(entry_time, "entry_time", bounds, now)
    if entry_ts is not None and entry_ts > exit_ts:
        raise ValueError(f"entry_time {entry_ts} is after exit_time {exit_ts}")
    return entry_ts, exit_ts


def check_outcome(outcome: Any, bounds: TradeBounds) -> TradeOutcome:
    """A complete ``TradeOutcome`` checked like a recorded trade; times default to now."""
    if not isinstance(outcome, TradeOutcome):
        raise TypeError(f"outcome must be a TradeOutcome, got {type(outcome).__name__}")
    entry, exit_price, size = check_prices(
        outcome.entry_price, outcome.exit_price, outcome.size, bounds
    )
    if outcome.features is not None and not np.all(np.isfinite(outcome.features)):
        raise ValueError("outcome.features must be finite (or None)")
    regime = outcome.regime
    if (
        isinstance(regime, bool)
        or not isinstance(regime, numbers.Integral)
        or not -1 <= regime <= 3
    ):
        raise ValueError(f"outcome.regime must be a regime code -1..3, got {regime!r}")
    for name in ("probability", "confidence"):
        value = float(getattr(outcome, name))
        if not (math.isnan(value) or 0.0 <= value <= 1.0):
            raise ValueError(f"outcome.{name} must be in [0, 1] or NaN, got {value!r}")
    entry_ts, exit_ts = check_times(outcome.entry_time, outcome.exit_time, bounds)
    return TradeOutcome(
        symbol=outcome.symbol,
        direction=direction(outcome.direction),
        entry_price=entry,
        exit_price=exit_price,
        size=size,
        entry_time=exit_ts if entry_ts is None else entry_ts,
        exit_time=exit_ts,
        features=outcome.features,
        regime=int(regime),
        probability=float(outcome.probability),
        confidence=float(outcome.confidence),
    )


def outcome_row(o: TradeOutcome, prediction_id: int | None, recorded_at: str) -> dict[str, Any]:
    """A ``TradeOutcome`` as a row of the ``trades`` table."""
    return {
        "recorded_at": recorded_at,
        "symbol": o.symbol,
        "direction": o.direction,
        "entry_price": o.entry_price,
        "exit_price": o.exit_price,
        "size": o.size,
        "entry_time": time_text(o.entry_time),
        "exit_time": time_text(o.exit_time),
        "features": vector_blob(o.features),
        "regime": int(o.regime),
        "probability": None if math.isnan(o.probability) else o.probability,
        "confidence": None if math.isnan(o.confidence) else o.confidence,
        "prediction_id": prediction_id,
        "pnl_pct": o.pnl_pct,
    }


def row_outcome(r: Any) -> TradeOutcome:
    """A row of the ``trades`` table as a ``TradeOutcome``."""
    return TradeOutcome(
        symbol=r["symbol"],
        direction=r["direction"],
        entry_price=r["entry_price"],
        exit_price=r["exit_price"],
        size=r["size"],
        entry_time=text_time(r["entry_time"]),
        exit_time=text_time(r["exit_time"]),
        features=blob_vector(r["features"]),
        regime=int(r["regime"]),
        probability=real(r["probability"]),
        confidence=real(r["confidence"]),
    )


def matched_outcome(
    symbol: str,
    side: str,
    prices: tuple[float, float, float],
    entry_ts: pd.Timestamp | None,
    exit_ts: pd.Timestamp,
    pred: Any,
) -> TradeOutcome:
    """The outcome of a checked trade with the features, regime, probability and confidence
    of its matched prediction row ``pred`` (None: unmatched). Entry defaults to the
    prediction's time (never after the exit), else to the exit."""
    if entry_ts is None:
        entry_ts = exit_ts if pred is None else min(text_time(pred["created_at"]), exit_ts)
    entry, exit_price, size = prices
    return TradeOutcome(
        symbol=symbol,
        direction=side,
        entry_price=entry,
        exit_price=exit_price,
        size=size,
        entry_time=entry_ts,
        exit_time=exit_ts,
        features=None if pred is None else blob_vector(pred["features"]),
        regime=-1 if pred is None else int(pred["regime"]),
        probability=float("nan") if pred is None else float(pred["probability"]),
        confidence=float("nan") if pred is None else float(pred["confidence"]),
    )
