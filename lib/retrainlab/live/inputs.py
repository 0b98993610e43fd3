"""Price histories handed to the facade: validated, normalised ``Bars`` per symbol."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from retrainlab.common.names import suggest
from retrainlab.engine.bars import (
    DATE_COLUMNS,
    PRICE_FIELDS,
    column_keys,
    normalise_column,
    validate_bars,
)
from retrainlab.engine.config import RetrainConfig
from retrainlab.engine.features import MIN_HISTORY
from retrainlab.engine.hooks import training_window
from retrainlab.engine.market import Market
from retrainlab.engine.prices import load_prices
from retrainlab.live.encoding import time_text

#: Largest price history accepted, in bars (about 400 years of daily bars); more is refused.
MAX_BARS: int = 100_000
#: Bars kept beyond the training window, horizon and feature history: the EMAs of the features
#: (span <= 26) forget a bar's weight below 1e-16 after 500 bars, so a refit on the stored tail
#: sees the features of the full history to float64 precision.
HISTORY_MARGIN: int = 500


def stored_bars(config: RetrainConfig) -> int:
    """Bars stored per symbol: the most a refit at the last bar can use (training window,
    horizon, feature history) plus ``HISTORY_MARGIN``."""
    return training_window(config) + config.horizon + MIN_HISTORY + HISTORY_MARGIN


# ============================================================================ price histories


@dataclass(frozen=True, eq=False)
class Bars:
    """One symbol's validated daily bars: float64 arrays (finite, prices > 0, volume >= 0,
    consistent OHLC) and the dates, or None for an undated history."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    dates: pd.DatetimeIndex | None = None

    @property
    def n(self) -> int:
        """Number of bars."""
        return len(self.close)

    @property
    def last_time(self) -> pd.Timestamp | None:
        return None if self.dates is None else self.dates[-1]

    def tail(self, n: int) -> Bars:
        """The last ``n`` bars (self if there are no more)."""
        if self.n <= n:
            return self
        return Bars(
            **{f: np.ascontiguousarray(getattr(self, f)[-n:]) for f in PRICE_FIELDS},
            dates=None if self.dates is None else self.dates[-n:],
        )

    def digest(self) -> str:
        """SHA-256 of the dates and values (to skip storing an unchanged history)."""
        h = hashlib.sha256(b"undated" if self.dates is None else self.dates.asi8.tobytes())
        for name in PRICE_FIELDS:
            h.update(np.ascontiguousarray(getattr(self, name), dtype="<f8").tobytes())
        return h.hexdigest()

    def to_frame(self) -> pd.DataFrame:
        """The bars as a DataFrame (indexed by date when dated)."""
        return pd.DataFrame(
            {f: getattr(self, f) for f in PRICE_FIELDS},
            index=self.dates if self.dates is not None else None,
        )

    def to_parquet_bytes(self) -> bytes:
        frame = pd.DataFrame({f: getattr(self, f) for f in PRICE_FIELDS})
        if self.dates is not None:
            frame.insert(0, "date", self.dates.as_unit("ns"))
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        return buffer.getvalue()

    @classmethod
    def from_parquet_bytes(cls, data: bytes) -> Bars:
        frame = pd.read_parquet(io.BytesIO(data))
        dates = (
            pd.DatetimeIndex(frame["date"], name="date").as_unit("ns")
            if "date" in frame.columns
            else None
        )
        return cls(**{f: frame[f].to_numpy(dtype=np.float64) for f in PRICE_FIELDS}, dates=dates)


_DATE_KEYS = (*DATE_COLUMNS, "dates")


def price_row(symbol: str, bars: Bars, digest: str, updated_at: str) -> dict[str, Any]:
    """``bars`` as a row of the ``prices`` table (Parquet bytes)."""
    return {
        "symbol": symbol,
        "updated_at": updated_at,
        "n_rows": bars.n,
        "first_time": time_text(None if bars.dates is None else bars.dates[0]),
        "last_time": time_text(bars.last_time),
        "digest": digest,
        "data": bars.to_parquet_bytes(),
    }


def check_symbol(symbol: Any) -> str:
    """``symbol`` if it is a non-empty string without surrounding spaces; else raise."""
    if not isinstance(symbol, str):
        raise TypeError(f"symbol must be a string, got {type(symbol).__name__} {symbol!r}")
    if not symbol.strip():
        raise ValueError("symbol must be a non-empty string")
    if symbol != symbol.strip():
        raise ValueError(f"symbol {symbol!r} has leading or trailing spaces")
    return symbol


def as_bars(price_data: Any, symbol: str = "price_data") -> Bars:
    """Validate one price history and return its ``Bars``.

    ``price_data`` is a DataFrame of OHLCV bars, a Series of closes, a dict of 1-D arrays, or
    ``Bars`` (returned as is);
    ``close`` is required, ``open``, ``high``, ``low``, ``volume`` are optional (filled like
    ``retrainlab.market.load_prices``: open = close, high = max(open, close), low = min(open,
    close), volume = 1). Column names are case-insensitive. Dates come from a DatetimeIndex or a
    ``date`` column/key; dated histories are validated by ``load_prices`` itself, undated ones
    with the same checks and messages naming the row.

    Raises ``ValueError`` (empty history; missing close; NaN, infinite or non-positive prices;
    negative volume; inconsistent bars; unsorted or duplicate dates; unknown dict keys) or
    ``TypeError`` (not a DataFrame, Series or dict).
    """
    where = f"price_data for {symbol!r}"
    if isinstance(price_data, Bars):  # validated when it was made
        return price_data
    if isinstance(price_data, pd.Series):
        frame = price_data.to_frame("close")
    elif isinstance(price_data, pd.DataFrame):
        frame = price_data
    elif isinstance(price_data, Mapping):
        frame = _frame_from_mapping(price_data, where)
    else:
        raise TypeError(
            f"{where} must be a pandas DataFrame of OHLCV bars or a dict of arrays "
            "('close' required; 'open', 'high', 'low', 'volume' optional), got "
            f"{type(price_data).__name__}"
        )
    if len(frame) == 0:
        raise ValueError(f"{where}: empty price history (no rows)")
    _check_size(len(frame), where)
    if isinstance(frame.columns, pd.MultiIndex):
        raise ValueError(
            f"{where}: one symbol's bars need flat columns (open, high, low, "
            "close, volume), got MultiIndex columns"
        )
    for column in frame.columns:
        if normalise_column(column) in PRICE_FIELDS and pd.api.types.is_bool_dtype(frame[column]):
            raise ValueError(
                f"{where}: column {str(column)!r} holds booleans, not prices; pass numbers"
            )
    if _is_dated(frame):
        market = load_prices(frame, ticker=symbol, layout="single", min_rows=1)
        return _bars_from_market(market, 0)
    columns: dict[str, np.ndarray] = {}
    for key, column in column_keys(frame.columns, where).items():
        if key in PRICE_FIELDS:
            try:
                columns[key] = pd.to_numeric(frame[column]).to_numpy(
                    dtype=np.float64, na_value=np.nan
                )
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{where}: column {str(column)!r} is not numeric ({exc})") from exc
    if "close" not in columns:
        names = [str(c) for c in frame.columns]
        raise ValueError(
            f"{where}: missing 'close' (columns: {', '.join(map(repr, names))})."
            f"{suggest('close', [normalise_column(c) for c in names])}"
        )
    return _validated_bars(columns, None, where)


def _check_size(n: int, where: str) -> None:
    if n > MAX_BARS:
        raise ValueError(
            f"{where}: {n} bars, more than the {MAX_BARS} accepted; pass the recent bars only "
            "(a refit uses the last few hundred)"
        )


def _frame_from_mapping(data: Mapping, where: str) -> pd.DataFrame:
    columns: dict[str, np.ndarray] = {}
    for name, values in data.items():
        key = normalise_column(name)
        if key not in PRICE_FIELDS and key not in _DATE_KEYS:
            raise ValueError(
                f"{where}: unknown key {name!r}.{suggest(key, PRICE_FIELDS)} "
                f"Valid keys: {', '.join(PRICE_FIELDS)} (and 'date')"
            )
        if key in _DATE_KEYS:
            key = "date"
        if key in columns:
            raise ValueError(f"{where}: two keys mean {key!r}")
        arr = np.asarray(values)
        if arr.ndim != 1:
            raise ValueError(
                f"{where}: {name!r} must be 1-D (one value per bar), got shape {arr.shape}"
            )
        _check_size(len(arr), where)
        columns[key] = arr
    lengths = {k: len(v) for k, v in columns.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"{where}: arrays have different lengths {lengths}")
    return pd.DataFrame(columns)


def _is_dated(frame: pd.DataFrame) -> bool:
    if isinstance(frame.index, pd.DatetimeIndex):
        return True
    if any(normalise_column(n) in DATE_COLUMNS for n in frame.index.names if n is not None):
        return True
    return any(normalise_column(c) in DATE_COLUMNS for c in frame.columns)


def _bars_from_market(market: Market, j: int) -> Bars:
    return Bars(
        **{
            f: np.ascontiguousarray(getattr(market, f)[:, j], dtype=np.float64)
            for f in PRICE_FIELDS
        },
        dates=pd.DatetimeIndex(market.dates).as_unit("ns"),
    )


def _validated_bars(
    values: dict[str, np.ndarray], dates: pd.DatetimeIndex | None, where: str
) -> Bars:
    """Check float64 columns (close required) exactly as ``load_prices`` does; fill the rest."""
    values = {k: np.asarray(v, dtype=np.float64) for k, v in values.items()}
    if len(values["close"]) == 0:
        raise ValueError(f"{where}: empty price history (no rows)")
    values = validate_bars(values, dates, where)
    return Bars(**{f: np.ascontiguousarray(values[f]) for f in PRICE_FIELDS}, dates=dates)


def as_histories(price_data: Any) -> dict[str, Bars]:
    """Validate price histories for a retrain: a ``Market`` or a dict ``{symbol: history}``.

    Each history is anything ``as_bars`` accepts. Returns ``{symbol: Bars}`` in input order.
    """
    if isinstance(price_data, Market):
        _check_size(len(price_data.dates), f"market {price_data.name!r}")
        out = {}
        for j, ticker in enumerate(price_data.tickers):
            where = f"market {price_data.name!r}, ticker {ticker!r}"
            bars = _validated_bars(
                {f: getattr(price_data, f)[:, j] for f in PRICE_FIELDS},
                pd.DatetimeIndex(price_data.dates).as_unit("ns"),
                where,
            )
            out[check_symbol(str(ticker))] = bars
        return out
    if not isinstance(price_data, Mapping):
        raise TypeError(
            "price_data must be a dict {symbol: price history} or a "
            f"retrainlab.Market, got {type(price_data).__name__}"
        )
    if not price_data:
        raise ValueError("price_data is empty: no symbols to retrain on")
    keys = [normalise_column(k) for k in price_data]
    if all(k in PRICE_FIELDS or k in _DATE_KEYS for k in keys):
        raise ValueError(
            "price_data looks like one price history (keys "
            f"{', '.join(map(repr, price_data))}); trigger_retraining takes "
            "{symbol: history, ...} or a retrainlab.Market"
        )
    return {
        check_symbol(symbol): as_bars(history, symbol) for symbol, history in price_data.items()
    }
