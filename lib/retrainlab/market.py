"""`Market`: OHLCV for a panel of tickers on one business-day calendar, as dense arrays.

Arrays are (n_days, n_tickers) float64, so the walk-forward engine never indexes pandas per day.
Synthetic markets (``retrainlab.synthetic.generate_market``) also carry the true regime path and
the planted signal; real ones (``load_prices``) carry neither.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: Regime names, in code order (regime code i means REGIMES[i]).
REGIMES: tuple[str, ...] = ("bull", "bear", "volatile", "sideways")

PRICE_FIELDS: tuple[str, ...] = ("open", "high", "low", "close", "volume")


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
        return self._slice(slice(0, n_days))

    def _slice(self, rows: slice) -> Market:
        return Market(
            dates=self.dates[rows],
            tickers=self.tickers,
            **{f: getattr(self, f)[rows].copy() for f in PRICE_FIELDS},
            regimes=None if self.regimes is None else self.regimes.iloc[rows],
            planted=None if self.planted is None else self.planted[rows].copy(),
            name=self.name,
            params=dict(self.params),
        )

    def replace_prices(self, **arrays: np.ndarray) -> Market:
        """A copy with some of open/high/low/close/volume replaced (same shapes)."""
        unknown = set(arrays) - set(PRICE_FIELDS)
        if unknown:
            raise ValueError(f"unknown price fields {sorted(unknown)}; valid: {PRICE_FIELDS}")
        values = {f: arrays.get(f, getattr(self, f)) for f in PRICE_FIELDS}
        return Market(self.dates, self.tickers, **values, regimes=self.regimes,
                      planted=self.planted, name=self.name, params=dict(self.params))

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
            open=self.open * factor, high=self.high * factor, low=self.low * factor,
            close=self.close * factor, volume=self.volume * vol_factor,
        )

    def to_parquet(self, path: str | Path) -> Path:
        """Write the bars (long format) and the true regimes, if any, to one Parquet file."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        frame = self.to_long()
        if self.regimes is not None:
            frame["true_regime"] = np.repeat(np.asarray(self.regimes, dtype=object), self.n_tickers)
        frame.to_parquet(path, index=False)
        return path
