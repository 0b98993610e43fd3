"""`Market`: OHLCV for a panel of tickers on one business-day calendar, as dense arrays.

Arrays are (n_days, n_tickers) float64, so the walk-forward engine never indexes pandas per day.
Synthetic markets (``retrainlab.engine.synthetic.generate_market``) also carry the true regime
path and the planted signal; real ones (``retrainlab.engine.prices.load_prices``) carry neither.
Reading price files lives in ``prices``, the checks of a frame of bars in ``bars``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from retrainlab.engine.bars import (
    DATE_COLUMNS,
    DATE_UNIT,
    PRICE_FIELDS,
    TICKER_COLUMNS,
    find_column,
    panel_from_frame,
)
from retrainlab.engine.regimes import REGIMES as REGIMES
from retrainlab.engine.regimes import regime_codes as regime_codes
from retrainlab.engine.regimes import regime_series

#: Parquet metadata key under which to_parquet stores the market's name and params.
PARQUET_META_KEY = b"retrainlab.market"


@dataclass(frozen=True, eq=False)
class Market:
    """A panel of daily OHLCV bars.

    Attributes
    ----------
    dates : DatetimeIndex of length n_days, strictly increasing.
    tickers : ticker names, length n_tickers.
    open, high, low, close, volume : float64 arrays of shape (n_days, n_tickers).
    regimes : true regime name per date (synthetic markets only), else None.
    planted : the planted predictable part of each day's next-day log return, shape
        (n_days, n_tickers) (synthetic markets only), else None. ``sign(planted[t])`` is the
        oracle's call for day t+1.
    name : a short label, e.g. ``"synthetic(seed=3)"`` or ``"sp500"``.
    params : the parameters that made it (for caches and provenance).
    """

    dates: pd.DatetimeIndex
    tickers: tuple[str, ...]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    regimes: pd.Series | None = None
    planted: np.ndarray | None = None
    name: str = "market"
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        shape = (len(self.dates), len(self.tickers))
        for name in PRICE_FIELDS:
            arr = getattr(self, name)
            if arr.shape != shape:
                raise ValueError(f"Market.{name} has shape {arr.shape}, expected {shape}")

    @property
    def n_days(self) -> int:
        return len(self.dates)

    @property
    def absent_fields(self) -> tuple[str, ...]:
        """Price fields the data do not have: listed in ``params["absent"]`` (e.g. the
        close-only skfolio panel), or filled in by ``load_prices`` for any ticker
        (``params["filled"]``). Features that read them are left out of the model."""
        absent = set(self.params.get("absent", ()))
        for fields in dict(self.params.get("filled", {})).values():
            absent.update(fields)
        return tuple(f for f in PRICE_FIELDS if f in absent)

    @property
    def n_tickers(self) -> int:
        return len(self.tickers)

    def ohlcv(self, ticker: str | int) -> pd.DataFrame:
        """One ticker's bars as a DataFrame indexed by date (columns open/high/low/close/volume)."""
        j = ticker if isinstance(ticker, int) else self.tickers.index(ticker)
        return pd.DataFrame({f: getattr(self, f)[:, j] for f in PRICE_FIELDS}, index=self.dates)

    def to_long(self) -> pd.DataFrame:
        """Long frame: one row per (date, ticker), columns date, ticker, open, ..., volume."""
        n, k = self.n_days, self.n_tickers
        frame = pd.DataFrame(
            {
                "date": np.repeat(self.dates.values, k),
                "ticker": np.tile(np.array(self.tickers, dtype=object), n),
                **{f: getattr(self, f).reshape(-1) for f in PRICE_FIELDS},
            }
        )
        return frame

    def head(self, n_days: int) -> Market:
        """The first ``n_days`` rows (the market as it was known on day n_days - 1)."""
        return self.rows(0, n_days)

    def tail(self, n_days: int) -> Market:
        """The last ``n_days`` rows."""
        return self.rows(max(self.n_days - n_days, 0), self.n_days)

    def rows(self, start: int, stop: int) -> Market:
        """Rows ``start:stop`` (copies of the arrays; true regimes and planted signal too)."""
        rows = slice(start, stop)
        return Market(
            dates=self.dates[rows],
            tickers=self.tickers,
            **{f: getattr(self, f)[rows].copy() for f in PRICE_FIELDS},
            regimes=None if self.regimes is None else self.regimes.iloc[rows],
            planted=None if self.planted is None else self.planted[rows].copy(),
            name=self.name,
            params=dict(self.params),
        )

    def with_meta(self, **changes: Any) -> Market:
        """A copy with some of ``regimes``/``planted``/``name``/``params`` replaced."""
        unknown = set(changes) - {"regimes", "planted", "name", "params"}
        if unknown:
            raise ValueError(
                f"with_meta changes regimes/planted/name/params, got {sorted(unknown)}"
            )
        fields = {
            "regimes": self.regimes,
            "planted": self.planted,
            "name": self.name,
            "params": dict(self.params),
            **changes,
        }
        return Market(self.dates, self.tickers, *(getattr(self, f) for f in PRICE_FIELDS), **fields)

    def replace_prices(self, **arrays: np.ndarray) -> Market:
        """A copy with some of open/high/low/close/volume replaced (same shapes)."""
        unknown = set(arrays) - set(PRICE_FIELDS)
        if unknown:
            raise ValueError(f"unknown price fields {sorted(unknown)}; valid: {PRICE_FIELDS}")
        values = {f: arrays.get(f, getattr(self, f)) for f in PRICE_FIELDS}
        return Market(
            self.dates,
            self.tickers,
            **values,
            regimes=self.regimes,
            planted=self.planted,
            name=self.name,
            params=dict(self.params),
        )

    def perturb_after(self, t: int, seed: int = 0, scale: float = 0.05) -> Market:
        """A copy whose bars strictly after row ``t`` are randomly rescaled (for causality tests).

        Each later row's OHLC is multiplied by one positive factor per (day, ticker), so bars
        stay consistent; volume is scaled independently.
        """
        rng = np.random.default_rng(seed)
        factor = np.ones_like(self.close)
        factor[t + 1 :] = np.exp(rng.normal(0.0, scale, size=factor[t + 1 :].shape))
        vol_factor = np.ones_like(self.volume)
        vol_factor[t + 1 :] = np.exp(rng.normal(0.0, 0.5, size=vol_factor[t + 1 :].shape))
        return self.replace_prices(
            open=self.open * factor,
            high=self.high * factor,
            low=self.low * factor,
            close=self.close * factor,
            volume=self.volume * vol_factor,
        )

    def to_parquet(self, path: str | Path) -> Path:
        """Write the market to one Parquet file: bars (long format), true regimes and planted
        signal if any, and ``name``/``params`` in the file's metadata; ``from_parquet`` reads it
        back exactly."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        frame = self.to_long()
        if self.regimes is not None:
            frame["true_regime"] = np.repeat(np.asarray(self.regimes, dtype=object), self.n_tickers)
        if self.planted is not None:
            frame["planted"] = self.planted.reshape(-1)
        table = pa.Table.from_pandas(frame, preserve_index=False)
        meta = json.dumps({"name": self.name, "params": self.params}, default=str, sort_keys=True)
        table = table.replace_schema_metadata(
            {**(table.schema.metadata or {}), PARQUET_META_KEY: meta.encode()}
        )
        tmp = path.with_suffix(path.suffix + ".tmp")
        pq.write_table(table, tmp)
        tmp.replace(path)  # atomic: a reader never sees a half-written market
        return path

    @classmethod
    def from_parquet(cls, path: str | Path, *, name: str | None = None) -> Market:
        """Read a file written by ``to_parquet``: bars, dates, tickers and true regimes.

        The inverse of ``to_parquet``: arrays, dates, ticker order and ``regimes`` round-trip
        exactly, and so do ``planted``, ``name`` and ``params`` when ``to_parquet`` stored them
        (a file from elsewhere: ``name`` is the file stem unless given, ``params`` records the
        source path). The bars are validated like ``load_prices`` (without a minimum length).
        """
        path = Path(path)
        frame = pd.read_parquet(path)
        stored = (pq.read_schema(path).metadata or {}).get(PARQUET_META_KEY)
        meta = json.loads(stored) if stored else {}
        regimes = frame.pop("true_regime") if "true_regime" in frame.columns else None
        planted = frame.pop("planted") if "planted" in frame.columns else None
        market = cls(
            **panel_from_frame(
                frame,
                label=path.stem,
                ticker=None,
                layout="long",
                join="exact",
                adjusted=False,
                min_rows=1,
            )
        )
        params = meta.get("params", {"source": str(path), "format": "parquet"})
        name = name or meta.get("name") or path.stem
        if planted is not None:
            wide_planted = pd.DataFrame(
                {
                    "date": pd.to_datetime(frame[find_column(frame, DATE_COLUMNS)]),
                    "ticker": frame[find_column(frame, TICKER_COLUMNS)].astype(str),
                    "planted": planted.to_numpy(dtype=float),
                }
            ).pivot(index="date", columns="ticker", values="planted")
            wide_planted.index = pd.DatetimeIndex(wide_planted.index).as_unit(DATE_UNIT)
            wide_planted = wide_planted.reindex(index=market.dates, columns=list(market.tickers))
            market = market.with_meta(planted=wide_planted.to_numpy(dtype=float))
        if regimes is None:
            return market.with_meta(name=name, params=params)
        table = pd.DataFrame(
            {
                "date": pd.to_datetime(frame[find_column(frame, DATE_COLUMNS)]),
                "ticker": frame[find_column(frame, TICKER_COLUMNS)].astype(str),
                "regime": regimes.astype(object),
            }
        )
        wide = table.pivot(index="date", columns="ticker", values="regime")
        wide.index = pd.DatetimeIndex(wide.index).as_unit(DATE_UNIT)
        wide = wide.reindex(index=market.dates, columns=list(market.tickers))
        agree = wide.eq(wide.iloc[:, 0], axis=0).all(axis=1)
        if not agree.all():
            day = agree.index[~agree.to_numpy()][0]
            raise ValueError(
                f"{path}: column 'true_regime' differs across tickers on "
                f"{day.date()}; a market has one regime per date"
            )
        return market.with_meta(
            regimes=regime_series(wide.iloc[:, 0].to_numpy(), market.dates),
            name=name,
            params=params,
        )
