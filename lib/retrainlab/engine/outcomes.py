"""Closed trades as columns: what the engine hands to a fix that learns from trade outcomes.

``OutcomeTable`` holds closed trades (the walk-forward's own, or recorded ``TradeOutcome`` s)
as arrays: base features and regime at the decision, entry and exit prices, direction sign and
entry/exit times. The engine decides which trades a refit may see (closed strictly before the
refit, entered inside the training window: ``select``); the ``extra_samples`` hook decides what
they teach (``retrainlab.engine.fixes.feedback_loop``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from retrainlab.engine.features import FEATURE_NAMES


def signed_pnl(
    direction_sign: np.ndarray | float,
    entry_price: np.ndarray | float,
    exit_price: np.ndarray | float,
) -> np.ndarray | float:
    """``sign * (exit / entry - 1)``: the trade's return before sizing, sign +1 long, -1 short."""
    return np.asarray(direction_sign) * (np.asarray(exit_price) / np.asarray(entry_price) - 1.0)


@dataclass(frozen=True, eq=False)
class OutcomeTable:
    """Closed trades, one row each (arrays of equal length ``n``).

    features : (n, n_features) base features at the decision (``FEATURE_NAMES`` order).
    regimes : (n,) regime code at the decision (-1 unknown).
    entry_price, exit_price : (n,) fill prices.
    sign : (n,) +1 long, -1 short (float).
    entry_time, exit_time : (n,) datetime64[ns].
    """

    features: np.ndarray
    regimes: np.ndarray
    entry_price: np.ndarray
    exit_price: np.ndarray
    sign: np.ndarray
    entry_time: np.ndarray
    exit_time: np.ndarray

    @property
    def n(self) -> int:
        return len(self.sign)

    @classmethod
    def empty(cls) -> OutcomeTable:
        return cls(
            np.empty((0, len(FEATURE_NAMES))),
            np.empty(0, dtype=np.int64),
            np.empty(0),
            np.empty(0),
            np.empty(0),
            np.empty(0, dtype="datetime64[ns]"),
            np.empty(0, dtype="datetime64[ns]"),
        )

    @classmethod
    def from_records(
        cls,
        records: Iterable[Any],
        lookup: Any = None,
    ) -> OutcomeTable:
        """Rows from ``TradeOutcome`` s (anything with their attributes).

        A record without features takes ``lookup(record)`` -> ``(features, regime)`` or None
        (skipped); without ``lookup`` it is skipped. Rows whose features are not all finite are
        skipped (there is nothing to train on).
        """
        rows: list[tuple] = []
        for o in records:
            x, regime = o.features, o.regime
            if x is None:
                found = lookup(o) if lookup is not None else None
                if found is None:
                    continue
                x, looked_up = found
                regime = regime if regime >= 0 else int(looked_up)
            if not np.all(np.isfinite(x)):
                continue
            rows.append(
                (
                    x,
                    regime,
                    o.entry_price,
                    o.exit_price,
                    o.sign,
                    pd.Timestamp(o.entry_time).to_datetime64(),
                    pd.Timestamp(o.exit_time).to_datetime64(),
                )
            )
        if not rows:
            return cls.empty()
        x, r, p0, p1, sign, entry, exit_ = zip(*rows, strict=True)
        return cls(
            np.array(x, dtype=np.float64).reshape(len(rows), len(FEATURE_NAMES)),
            np.array(r, dtype=np.int64),
            np.array(p0, dtype=np.float64),
            np.array(p1, dtype=np.float64),
            np.array(sign, dtype=np.float64),
            np.array(entry, dtype="datetime64[ns]"),
            np.array(exit_, dtype="datetime64[ns]"),
        )

    def select(self, before: np.datetime64, since: np.datetime64 | None) -> OutcomeTable:
        """The trades that closed strictly before ``before`` and entered at or after ``since``."""
        keep = self.exit_time < before
        if since is not None:
            keep &= self.entry_time >= since
        return self.take(keep)

    def take(self, rows: np.ndarray) -> OutcomeTable:
        return OutcomeTable(
            self.features[rows],
            self.regimes[rows],
            self.entry_price[rows],
            self.exit_price[rows],
            self.sign[rows],
            self.entry_time[rows],
            self.exit_time[rows],
        )

    @staticmethod
    def concat(tables: Iterable[OutcomeTable]) -> OutcomeTable:
        tables = [t for t in tables if t.n]
        if not tables:
            return OutcomeTable.empty()
        if len(tables) == 1:
            return tables[0]
        return OutcomeTable(
            *(np.concatenate([getattr(t, f) for t in tables]) for f in OutcomeTable._FIELDS)
        )

    _FIELDS = (
        "features",
        "regimes",
        "entry_price",
        "exit_price",
        "sign",
        "entry_time",
        "exit_time",
    )


@dataclass(frozen=True, eq=False)
class ExtraSamples:
    """Training samples a fix adds to a refit (the ``extra_samples`` hook's answer).

    features : (m, n_features) base features; regimes : (m,) codes (the design hook turns both
    into design rows); labels : (m,) 0/1; weights : (m,) sample weights.
    """

    features: np.ndarray
    regimes: np.ndarray
    labels: np.ndarray
    weights: np.ndarray

    @property
    def n(self) -> int:
        return len(self.labels)

    @classmethod
    def none(cls) -> ExtraSamples:
        return cls(
            np.empty((0, len(FEATURE_NAMES))),
            np.empty(0, dtype=np.int64),
            np.empty(0, dtype=np.int64),
            np.empty(0),
        )

    def as_tuple(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return self.features, self.regimes, self.labels, self.weights
