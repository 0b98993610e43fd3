"""Reading prices: files and frames -> ``Market`` (``load_prices``), and the built-in real markets.

``read_price_file`` is the one reader of a price file (CSV, CSV.gz, Parquet), used by
``load_prices`` and by the facade's CLI; ``load_real_market`` is the one home of the real
markets shipped with ``arch`` (``REAL_MARKETS``).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from retrainlab.common.names import check_name
from retrainlab.engine.bars import JOINS, LAYOUTS, drop_written_index, panel_from_frame
from retrainlab.engine.features import MIN_HISTORY
from retrainlab.engine.market import Market

__all__ = [
    "DEFAULT_MIN_ROWS",
    "PRICE_FILE_SUFFIXES",
    "REAL_MARKETS",
    "load_prices",
    "load_real_market",
    "read_price_file",
]

#: Default minimum number of rows: the features' minimum history (longest window + 1).
DEFAULT_MIN_ROWS: int = MIN_HISTORY
#: File name endings ``read_price_file`` reads.
PRICE_FILE_SUFFIXES: tuple[str, ...] = (".csv", ".csv.gz", ".parquet", ".pq")


def read_price_file(path: str | Path) -> pd.DataFrame:
    """The frame in one price file (``.csv``, ``.csv.gz``, ``.parquet``, ``.pq``), as written.

    A first column ``Unnamed: 0`` (a CSV written with its index) is the dates unless it holds
    integers, which are row numbers and are dropped (``bars.drop_written_index``). Raises
    ``ValueError`` for a missing file or another suffix.
    """
    path = Path(path)
    name = path.name.lower()
    if not name.endswith(PRICE_FILE_SUFFIXES):
        raise ValueError(
            f"cannot read {str(path)!r}: expected a .csv, .csv.gz, .parquet or .pq "
            "file (or pass a pandas DataFrame)"
        )
    if not path.is_file():
        raise ValueError(f"price file {str(path)!r} does not exist")
    if name.endswith((".parquet", ".pq")):
        return drop_written_index(pd.read_parquet(path))
    return drop_written_index(pd.read_csv(path))


def load_prices(
    source: str | Path | pd.DataFrame | pd.Series,
    *,
    ticker: str | None = None,
    name: str | None = None,
    layout: str = "auto",
    join: str = "inner",
    adjusted: bool = False,
    min_rows: int = DEFAULT_MIN_ROWS,
) -> Market:
    """Build a validated ``Market`` from a CSV/Parquet file or a pandas frame of daily bars.

    Parameters
    ----------
    source : path (``.csv``, ``.csv.gz``, ``.parquet``, ``.pq``), DataFrame or Series
        A Series is taken as one ticker's closing prices.
    ticker : str, optional
        Ticker name for a single-ticker source (default: the file stem, the Series name, or
        ``"asset"``). Not allowed for multi-ticker sources, whose names come from the data.
    name : str, optional
        ``Market.name`` (default: the file stem, or ``"prices"``).
    layout : {"auto", "single", "long", "wide"}
        * ``"single"``: one ticker, columns open/high/low/close/volume.
        * ``"long"``: one row per (date, ticker), with a ``ticker`` or ``symbol`` column (or
          index level).
        * ``"wide"``: either MultiIndex columns (field, ticker) or (ticker, field), as written by
          e.g. ``yfinance``, or flat columns that are each one ticker's closing prices.
        ``"auto"`` picks ``wide`` for MultiIndex columns, ``long`` when a ticker column exists,
        and ``single`` otherwise (flat close-per-ticker frames need ``layout="wide"``).
    join : {"inner", "exact"}
        Tickers with different date sets: ``"inner"`` keeps the dates every ticker has (the
        common calendar; rows dropped per ticker are recorded in ``params["dropped_rows"]``),
        ``"exact"`` refuses them. In a wide frame, a date on which all of a ticker's values
        are NaN is a missing bar for that ticker (so the join applies); a partly missing bar
        is an error.
    adjusted : bool, default False
        Use the ``adj close`` column as close and rescale open/high/low by ``adj close / close``
        (for stocks with splits and dividends). Default: the raw ``close`` column.
    min_rows : int, default 61
        Fewest dates accepted per ticker and on the common calendar (61 = the longest feature
        window, 60 days, plus one).

    Column names are matched case-insensitively, ignoring spaces, ``_``, ``-`` and ``.``
    (``Adj_Close`` = ``adj close``). Dates come from a ``date``/``datetime``/``timestamp``/
    ``time``/``day`` column, else from the (Datetime) index; time zones are dropped (wall-clock
    dates kept) and dates are stored at ``DATE_UNIT`` (ns) resolution. Extra columns are
    ignored. Tickers keep their order of first appearance.

    Fallbacks for missing columns (``close`` is required): ``open`` = close, ``high`` =
    max(open, close), ``low`` = min(open, close) (so all three equal close when all are
    missing), ``volume`` = 1.0 on every day. The filled fields are listed in
    ``params["filled"]``. Zero volume is accepted; a present column with missing values is not.

    Raises
    ------
    ValueError
        Naming the column, ticker and first date of the problem: no close column; unparseable,
        missing, duplicate or unsorted dates (unsorted input is refused, not silently sorted:
        sort it first); non-numeric, missing, non-finite or non-positive prices; negative or
        missing volume; inconsistent bars (high < low, or open/close outside [low, high]);
        fewer than ``min_rows`` rows; tickers whose dates differ (``join="exact"``) or do not
        overlap enough (``join="inner"``); unknown ``layout``/``join`` names.
    TypeError
        If ``source`` is not a path, DataFrame or Series.
    """
    check_name(layout, LAYOUTS, "layout")
    check_name(join, JOINS, "join")
    if isinstance(min_rows, bool) or not isinstance(min_rows, (int, np.integer)) or min_rows < 1:
        raise ValueError(f"min_rows must be a positive integer, got {min_rows!r}")
    frame, label = _read_source(source)
    fields = panel_from_frame(
        frame,
        label=label,
        ticker=ticker,
        layout=layout,
        join=join,
        adjusted=bool(adjusted),
        min_rows=int(min_rows),
    )
    described = str(source) if isinstance(source, (str, Path)) else type(source).__name__
    fields["params"] = {"source": described, **fields["params"]}
    return Market(**fields, name=name or label)


def _read_source(source: Any) -> tuple[pd.DataFrame, str]:
    """A DataFrame and a default label (file stem, Series name, or "prices")."""
    if isinstance(source, pd.DataFrame):
        return source, "prices"
    if isinstance(source, pd.Series):
        label = str(source.name) if source.name is not None else "asset"
        return source.to_frame("close"), label
    if isinstance(source, (str, Path)):
        path = Path(source)
        return read_price_file(path), path.name.split(".")[0] or "prices"
    raise TypeError(
        f"source must be a file path, a pandas DataFrame or a Series, got {type(source).__name__}"
    )


REAL_MARKETS: dict[str, str] = {"sp500": "arch.data.sp500", "nasdaq": "arch.data.nasdaq"}


def load_real_market(
    name: str | list[str] | tuple[str, ...] = "sp500", *, min_rows: int = DEFAULT_MIN_ROWS
) -> Market:
    """The S&P 500 and/or NASDAQ Composite daily bars shipped with ``arch`` (1999-2018).

    ``name`` is ``"sp500"``, ``"nasdaq"``, ``"both"`` or a list of those names; several give a
    panel on the dates all of them have. The close is the index's ``Close`` column: a price
    index, not dividend-adjusted (its ``Adj Close`` column is identical). Each ticker is named
    like its series (``"sp500"``, ``"nasdaq"``); the data go through ``load_prices``'s checks.
    """
    names: list[str] = []
    for n in [name] if isinstance(name, str) else list(name):
        check_name(n, (*REAL_MARKETS, "both"), "real market")
        names += list(REAL_MARKETS) if n == "both" else [n]
    if not names:
        raise ValueError("load_real_market needs at least one name: 'sp500', 'nasdaq' or 'both'")
    if len(set(names)) != len(names):
        raise ValueError(f"load_real_market got a name twice: {names}")
    frames = []
    for n in names:
        data = importlib.import_module(REAL_MARKETS[n]).load()
        frame = data[["Open", "High", "Low", "Close", "Volume"]].copy()
        frame.index.name = "date"
        frames.append(frame.reset_index().assign(ticker=n))
    label = "+".join(names)
    source = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    market = load_prices(source, name=label, layout="long", min_rows=min_rows)
    return market.with_meta(
        params={
            **market.params,
            "source": [REAL_MARKETS[n] for n in names],
            "price": "Close (price index, not dividend-adjusted)",
        },
    )
