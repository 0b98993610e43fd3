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

from retrainlab.common.names import check_name, suggest
from retrainlab.engine.regimes import REGIMES as REGIMES
from retrainlab.engine.regimes import regime_codes as regime_codes
from retrainlab.engine.regimes import regime_series

PRICE_FIELDS: tuple[str, ...] = ("open", "high", "low", "close", "volume")
#: Parquet metadata key under which to_parquet stores the market's name and params.
PARQUET_META_KEY = b"retrainlab.market"

#: Resolution of every ``Market.dates`` built here (synthetic, loaded, or read back).
DATE_UNIT = "ns"


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
        import json

        import pyarrow as pa
        import pyarrow.parquet as pq

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
        import json

        import pyarrow.parquet as pq

        path = Path(path)
        frame = pd.read_parquet(path)
        stored = (pq.read_schema(path).metadata or {}).get(PARQUET_META_KEY)
        meta = json.loads(stored) if stored else {}
        regimes = frame.pop("true_regime") if "true_regime" in frame.columns else None
        planted = frame.pop("planted") if "planted" in frame.columns else None
        market = _market_from_frame(
            frame,
            label=path.stem,
            ticker=None,
            layout="long",
            join="exact",
            adjusted=False,
            min_rows=1,
        )
        params = meta.get("params", {"source": str(path), "format": "parquet"})
        name = name or meta.get("name") or path.stem
        if planted is not None:
            wide_planted = pd.DataFrame(
                {
                    "date": pd.to_datetime(frame[_find_column(frame, DATE_COLUMNS)]),
                    "ticker": frame[_find_column(frame, TICKER_COLUMNS)].astype(str),
                    "planted": planted.to_numpy(dtype=float),
                }
            ).pivot(index="date", columns="ticker", values="planted")
            wide_planted.index = pd.DatetimeIndex(wide_planted.index).as_unit(DATE_UNIT)
            wide_planted = wide_planted.reindex(index=market.dates, columns=list(market.tickers))
            market = _with(market, planted=wide_planted.to_numpy(dtype=float))
        if regimes is None:
            return _with(market, name=name, params=params)
        table = pd.DataFrame(
            {
                "date": pd.to_datetime(frame[_find_column(frame, DATE_COLUMNS)]),
                "ticker": frame[_find_column(frame, TICKER_COLUMNS)].astype(str),
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
        return _with(
            market,
            regimes=regime_series(wide.iloc[:, 0].to_numpy(), market.dates),
            name=name,
            params=params,
        )


# --------------------------------------------------------------------------------------------
# Loading prices: files and frames -> Market
# --------------------------------------------------------------------------------------------

#: Default minimum number of rows: the longest feature window (60 days) plus one.
DEFAULT_MIN_ROWS = 61
#: Normalised column names recognised as dates and as ticker names.
DATE_COLUMNS: tuple[str, ...] = ("date", "datetime", "timestamp", "time", "day")
TICKER_COLUMNS: tuple[str, ...] = ("ticker", "symbol")
ADJ_CLOSE = "adj close"
LAYOUTS: tuple[str, ...] = ("auto", "single", "long", "wide")
JOINS: tuple[str, ...] = ("inner", "exact")
_ALIASES = {"adjclose": ADJ_CLOSE, "adjusted close": ADJ_CLOSE}
_SORT_HINT = (
    "sort the rows by date first (e.g. df.sort_index() or df.sort_values('date'); "
    "for a long frame df.sort_values(['ticker', 'date']))"
)


def normalise_column(name: Any) -> str:
    """Case-, space- and punctuation-insensitive column key: ' Adj_Close ' -> 'adj close'.

    The one normaliser for OHLCV column names, shared by ``load_prices`` and the facade.
    """
    key = " ".join(
        str(name).strip().lower().replace("_", " ").replace("-", " ").replace(".", " ").split()
    )
    return _ALIASES.get(key, key)


def column_keys(columns: Any, where: str) -> dict[str, Any]:
    """``{normalised key: original column}``; two columns meaning the same key raise."""
    keys: dict[str, Any] = {}
    for column in columns:
        key = normalise_column(column)
        if key in keys:
            raise ValueError(
                f"{where}: columns {str(keys[key])!r} and {str(column)!r} both mean {key!r}"
            )
        keys[key] = column
    return keys


def _find_column(frame: pd.DataFrame, keys: tuple[str, ...]) -> Any | None:
    """The first column of ``frame`` whose normalised name is one of ``keys``, else None."""
    for column in frame.columns:
        if normalise_column(column) in keys:
            return column
    return None


def _with(market: Market, **changes: Any) -> Market:
    """A copy of ``market`` with some of regimes/planted/name/params replaced."""
    fields = {
        "regimes": market.regimes,
        "planted": market.planted,
        "name": market.name,
        "params": dict(market.params),
    }
    fields.update(changes)
    return Market(
        market.dates,
        market.tickers,
        market.open,
        market.high,
        market.low,
        market.close,
        market.volume,
        **fields,
    )


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
    market = _market_from_frame(
        frame,
        label=label,
        ticker=ticker,
        layout=layout,
        join=join,
        adjusted=bool(adjusted),
        min_rows=int(min_rows),
    )
    described = str(source) if isinstance(source, (str, Path)) else type(source).__name__
    return _with(market, name=name or label, params={"source": described, **market.params})


def _read_source(source: Any) -> tuple[pd.DataFrame, str]:
    """A DataFrame and a default label (file stem, Series name, or "prices")."""
    if isinstance(source, pd.DataFrame):
        return source, "prices"
    if isinstance(source, pd.Series):
        label = str(source.name) if source.name is not None else "asset"
        return source.to_frame("close"), label
    if isinstance(source, (str, Path)):
        path = Path(source)
        suffixes = "".join(path.suffixes[-2:]).lower()
        label = path.name.split(".")[0] or "prices"
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path), label
        if path.suffix.lower() == ".csv" or suffixes.endswith(".csv.gz"):
            return pd.read_csv(path), label
        raise ValueError(
            f"cannot read {str(path)!r}: expected a .csv, .csv.gz, .parquet or .pq "
            "file (or pass a pandas DataFrame)"
        )
    raise TypeError(
        f"source must be a file path, a pandas DataFrame or a Series, got {type(source).__name__}"
    )


def _market_from_frame(
    frame: pd.DataFrame,
    *,
    label: str,
    ticker: str | None,
    layout: str,
    join: str,
    adjusted: bool,
    min_rows: int,
) -> Market:
    """Split ``frame`` into per-ticker tables, validate each, and align them on one calendar."""
    if frame.empty:
        raise ValueError(f"{label}: no rows")
    if isinstance(frame.columns, pd.MultiIndex):
        if layout not in ("auto", "wide"):
            raise ValueError(f"{label}: MultiIndex columns are a wide frame; use layout='wide'")
        if ticker is not None:
            raise ValueError(
                f"{label}: ticker= names a single-ticker source; this is a wide "
                "frame whose tickers come from the data"
            )
        return _build(
            _split_wide_fields(frame, label),
            label=label,
            layout="wide",
            join=join,
            adjusted=adjusted,
            min_rows=min_rows,
        )
    frame = _dates_to_column(frame, label)
    has_ticker = _find_column(frame, TICKER_COLUMNS) is not None
    if layout == "auto":
        layout = "long" if has_ticker else "single"
    if layout == "long" and not has_ticker:
        raise ValueError(
            f"{label}: a long frame needs a 'ticker' or 'symbol' column; columns "
            f"are {_columns(frame)}"
        )
    if ticker is not None and layout != "single":
        raise ValueError(
            f"{label}: ticker= names a single-ticker source; this is a {layout} "
            "frame whose tickers come from the data"
        )

    date_col = _find_column(frame, DATE_COLUMNS)
    if layout == "single":
        name = str(ticker) if ticker is not None else (label if label != "prices" else "asset")
        pieces = [(name, frame)]
    elif layout == "long":
        pieces = _split_long(frame, label)
    else:
        body = frame.drop(columns=[date_col])
        if body.columns.duplicated().any():
            raise ValueError(
                f"{label}: ticker {body.columns[body.columns.duplicated()][0]!r} appears twice"
            )
        pieces = [
            (
                str(t),
                _drop_absent_bars(
                    pd.DataFrame({"date": frame[date_col].to_numpy(), "close": body[t].to_numpy()})
                ),
            )
            for t in body.columns
        ]
    return _build(
        pieces, label=label, layout=layout, join=join, adjusted=adjusted, min_rows=min_rows
    )


def _build(
    pieces: list[tuple[str, pd.DataFrame]],
    *,
    label: str,
    layout: str,
    join: str,
    adjusted: bool,
    min_rows: int,
) -> Market:
    """Validate each ticker's table and align them on one calendar."""
    tickers = [t for t, _ in pieces]
    if len(set(tickers)) != len(tickers):
        dup = next(t for t in tickers if tickers.count(t) > 1)
        raise ValueError(f"{label}: ticker {dup!r} appears twice")
    tables = [_validate_ticker(t, piece, label, adjusted, min_rows) for t, piece in pieces]
    return _align(
        tables,
        label=label,
        join=join,
        min_rows=min_rows,
        params={"layout": layout, "join": join, "adjusted": adjusted, "min_rows": min_rows},
    )


def _columns(frame: pd.DataFrame) -> str:
    return ", ".join(repr(str(c)) for c in frame.columns)


def _dates_to_column(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    """Make sure the dates are a column: move a date (or MultiIndex) index into the columns."""
    index = frame.index
    names = [normalise_column(n) for n in index.names if n is not None]
    date_in_columns = _find_column(frame, DATE_COLUMNS) is not None
    if isinstance(index, pd.MultiIndex) or any(n in TICKER_COLUMNS for n in names):
        return frame.reset_index()
    if not date_in_columns and (
        isinstance(index, pd.DatetimeIndex) or any(n in DATE_COLUMNS for n in names)
    ):
        out = frame.reset_index()
        if index.name is None or normalise_column(index.name) not in DATE_COLUMNS:
            out = out.rename(columns={out.columns[0]: "date"})
        return out
    unnamed_first = len(frame.columns) and str(frame.columns[0]).startswith("Unnamed: 0")
    if not date_in_columns and unnamed_first:
        # a CSV written with an unnamed index: its first column holds the dates
        return frame.rename(columns={frame.columns[0]: "date"})
    if not date_in_columns:
        raise ValueError(
            f"{label}: no dates found: expected a DatetimeIndex or a 'date' column "
            f"(columns: {_columns(frame)})"
        )
    return frame


def _split_long(frame: pd.DataFrame, label: str) -> list[tuple[str, pd.DataFrame]]:
    column = _find_column(frame, TICKER_COLUMNS)
    names = frame[column]
    if names.isna().any():
        row = int(np.flatnonzero(names.isna().to_numpy())[0])
        raise ValueError(f"{label}: column {str(column)!r} has a missing ticker name (row {row})")
    keys = names.astype(str).to_numpy()
    body = frame.drop(columns=[column])
    return [(str(t), part) for t, part in body.groupby(keys, sort=False)]


def _split_wide_fields(frame: pd.DataFrame, label: str) -> list[tuple[str, pd.DataFrame]]:
    """Per-ticker tables from MultiIndex columns (field, ticker) or (ticker, field)."""
    index = frame.index
    if not (isinstance(index, pd.DatetimeIndex) or normalise_column(index.name) in DATE_COLUMNS):
        raise ValueError(
            f"{label}: no dates found: a wide frame needs its dates as the index "
            "(a DatetimeIndex or an index named 'date')"
        )
    if frame.columns.nlevels != 2:
        raise ValueError(
            f"{label}: wide MultiIndex columns need exactly 2 levels (field, "
            f"ticker), got {frame.columns.nlevels}"
        )
    field_levels = [
        i
        for i in (0, 1)
        if {"close", ADJ_CLOSE} & {normalise_column(v) for v in frame.columns.get_level_values(i)}
    ]
    if len(field_levels) != 1:
        raise ValueError(
            f"{label}: cannot tell which column level holds the fields "
            "(open/high/low/close/volume) and which the tickers: exactly one level "
            "must contain 'close'"
        )
    ticker_level = 1 - field_levels[0]
    dates = np.asarray(index)
    out = []
    for t in dict.fromkeys(frame.columns.get_level_values(ticker_level)):
        part = frame.xs(t, axis=1, level=ticker_level).reset_index(drop=True)
        part.columns = [str(c) for c in part.columns]
        part.insert(0, "date", dates)
        out.append((str(t), _drop_absent_bars(part)))
    return out


def _drop_absent_bars(part: pd.DataFrame) -> pd.DataFrame:
    """A wide frame's row where all of a ticker's values are NaN means "no bar that day"."""
    values = part.drop(columns=["date"])
    return part[~values.isna().all(axis=1).to_numpy()]


def _validate_ticker(
    ticker: str, frame: pd.DataFrame, label: str, adjusted: bool, min_rows: int
) -> dict[str, Any]:
    """One ticker's bars, checked and with fallbacks filled: dates and float64 arrays."""
    where = f"{label}, ticker {ticker!r}"
    columns = column_keys(frame.columns, where)
    date_key = next(k for k in columns if k in DATE_COLUMNS)
    dates = _parse_dates(frame[columns[date_key]], where, str(columns[date_key]))

    need = ADJ_CLOSE if adjusted else "close"
    if need not in columns:
        fields = [str(c) for c in frame.columns if normalise_column(c) not in DATE_COLUMNS]
        hint = suggest(need, [normalise_column(c) for c in fields])
        if not adjusted and ADJ_CLOSE in columns:
            hint = " There is an adjusted close: pass adjusted=True to use it."
        wide = (
            ""
            if adjusted
            else " For a wide frame of closing prices (one column per ticker), pass layout='wide'."
        )
        raise ValueError(
            f"{where}: missing {need!r} column (columns: {', '.join(map(repr, fields))})."
            f"{hint}{wide}"
        )
    _check_dates(dates, where)
    if len(dates) < min_rows:
        raise ValueError(
            f"{where}: {len(dates)} rows, fewer than min_rows={min_rows} (the "
            "longest feature window + 1); supply more history or lower min_rows"
        )

    values: dict[str, np.ndarray] = {}
    for key in ("open", "high", "low", "close", ADJ_CLOSE, "volume"):
        if key in columns:
            values[key] = _numeric(frame[columns[key]], where, str(columns[key]))
    names = {key: str(column) for key, column in columns.items()}
    if adjusted:
        for key in (ADJ_CLOSE, "close"):  # the adjustment factor divides one by the other
            if key in values:
                _check_positive(values[key], dates, where, names[key])
        factor = values[ADJ_CLOSE] / values["close"] if "close" in values else None
        values["close"] = values.pop(ADJ_CLOSE)
        for key in ("open", "high", "low"):
            if key in values:
                if factor is None:
                    raise ValueError(
                        f"{where}: adjusted=True with an {key!r} column needs the "
                        "raw 'close' column too (to compute the adjustment factor)"
                    )
                values[key] = values[key] * factor
    values.pop(ADJ_CLOSE, None)
    filled = [key for key in PRICE_FIELDS if key not in values]
    values = validate_bars(values, dates, where, names)
    return {"ticker": ticker, "dates": dates, "filled": filled, **values}


def validate_bars(
    values: dict[str, np.ndarray],
    dates: pd.DatetimeIndex | None,
    where: str,
    names: dict[str, str] | None = None,
) -> dict[str, np.ndarray]:
    """One ticker's float64 price columns checked, with the missing ones filled.

    ``close`` is required. Prices must be finite and positive, volume finite and non-negative,
    and bars consistent (low <= open, close <= high). A missing ``open`` becomes the close,
    ``high``/``low`` the max/min of open and close, ``volume`` 1. A problem is located by date,
    or by row when ``dates`` is None (undated arrays, as the facade accepts). ``names`` maps a
    field to the column name to quote in messages. Shared by ``load_prices`` and the facade.
    """
    names = names or {}
    values = dict(values)
    for key in ("close", "open", "high", "low"):
        if key in values:
            _check_positive(values[key], dates, where, names.get(key, key))
    close = values["close"]
    values.setdefault("open", close.copy())
    values.setdefault("high", np.maximum(values["open"], close))
    values.setdefault("low", np.minimum(values["open"], close))
    if "volume" in values:
        _check_volume(values["volume"], dates, where, names.get("volume", "volume"))
    else:
        values["volume"] = np.ones_like(close)
    _check_bars(values, dates, where)
    return values


def _parse_dates(column: pd.Series, where: str, name: str) -> pd.DatetimeIndex:
    try:
        parsed = pd.DatetimeIndex(pd.to_datetime(column))
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(
            f"{where}: column {name!r} holds values that are not dates ({exc})"
        ) from exc
    if parsed.tz is not None:
        parsed = parsed.tz_localize(None)
    if parsed.isna().any():
        row = int(np.flatnonzero(parsed.isna())[0])
        raise ValueError(f"{where}: column {name!r} has a missing date (row {row})")
    return parsed.as_unit(DATE_UNIT)


def _check_dates(dates: pd.DatetimeIndex, where: str) -> None:
    duplicated = dates.duplicated()
    if duplicated.any():
        day = dates[duplicated][0]
        raise ValueError(
            f"{where}: duplicate date {day.date()} "
            f"({int(duplicated.sum())} repeated row(s)); drop the duplicates first "
            "(e.g. df[~df.index.duplicated()])"
        )
    steps = np.diff(dates.asi8)
    if (steps < 0).any():
        i = int(np.flatnonzero(steps < 0)[0])
        raise ValueError(
            f"{where}: dates are not sorted: {dates[i + 1].date()} comes after "
            f"{dates[i].date()}. Refusing to reorder silently; {_SORT_HINT}"
        )


def _numeric(column: pd.Series, where: str, name: str) -> np.ndarray:
    try:
        return pd.to_numeric(column).to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: column {name!r} is not numeric ({exc})") from exc


def _at(i: int, dates: pd.DatetimeIndex | None) -> str:
    """Where row ``i`` is: its date, or its row number when there are no dates."""
    return f"at row {i}" if dates is None else f"on {dates[i].date()}"


def _first_bad(mask: np.ndarray, dates: pd.DatetimeIndex | None) -> str:
    return f"first {_at(int(np.flatnonzero(mask)[0]), dates)}, {int(mask.sum())} row(s)"


def _check_positive(
    values: np.ndarray, dates: pd.DatetimeIndex | None, where: str, name: str
) -> None:
    missing = np.isnan(values)
    if missing.any():
        raise ValueError(
            f"{where}: column {name!r} has missing (NaN) prices "
            f"({_first_bad(missing, dates)}); drop or fill them first"
        )
    infinite = ~np.isfinite(values)
    if infinite.any():
        raise ValueError(
            f"{where}: column {name!r} has infinite prices ({_first_bad(infinite, dates)})"
        )
    bad = values <= 0
    if bad.any():
        raise ValueError(
            f"{where}: column {name!r} has non-positive prices ({_first_bad(bad, dates)})"
        )


def _check_volume(
    values: np.ndarray, dates: pd.DatetimeIndex | None, where: str, name: str
) -> None:
    missing = np.isnan(values)
    if missing.any():
        raise ValueError(
            f"{where}: column {name!r} has missing (NaN) volume "
            f"({_first_bad(missing, dates)}); fill it, or drop the column to use "
            "volume = 1"
        )
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        raise ValueError(
            f"{where}: column {name!r} has negative or infinite volume ({_first_bad(bad, dates)})"
        )


def _check_bars(values: dict[str, np.ndarray], dates: pd.DatetimeIndex | None, where: str) -> None:
    o, h, lo, c = values["open"], values["high"], values["low"], values["close"]
    checks = (
        (h < lo, "high < low"),
        (lo > np.minimum(o, c), "low above open or close"),
        (h < np.maximum(o, c), "high below open or close"),
    )
    for mask, what in checks:
        if mask.any():
            i = int(np.flatnonzero(mask)[0])
            raise ValueError(
                f"{where}: inconsistent bar ({what}) {_at(i, dates)}: "
                f"open={o[i]:g} high={h[i]:g} low={lo[i]:g} close={c[i]:g} "
                f"({int(mask.sum())} row(s) with inconsistent bars)"
            )


def _align(
    tables: list[dict[str, Any]], *, label: str, join: str, min_rows: int, params: dict[str, Any]
) -> Market:
    """Put validated tickers on one calendar (intersection, or identical dates for "exact")."""
    first = tables[0]
    calendar = first["dates"]
    for table in tables[1:]:
        if join == "exact" and not table["dates"].equals(calendar):
            diff = table["dates"].symmetric_difference(calendar)
            raise ValueError(
                f"{label}: tickers {first['ticker']!r} and {table['ticker']!r} have "
                f"different dates (first difference {diff[0].date()}, "
                f"{len(diff)} in all); use join='inner' to keep the common dates"
            )
        calendar = calendar.intersection(table["dates"], sort=False)
    calendar = calendar.sort_values()
    if len(calendar) < min_rows:
        ranges = "; ".join(
            f"{t['ticker']}: {t['dates'][0].date()}..{t['dates'][-1].date()}" for t in tables
        )
        raise ValueError(
            f"{label}: only {len(calendar)} dates are common to all tickers, fewer "
            f"than min_rows={min_rows} ({ranges})"
        )
    arrays = {}
    for key in PRICE_FIELDS:
        columns = []
        for table in tables:
            rows = table["dates"].get_indexer(calendar)
            columns.append(table[key][rows])
        arrays[key] = np.ascontiguousarray(np.column_stack(columns), dtype=np.float64)
    dropped = {t["ticker"]: len(t["dates"]) - len(calendar) for t in tables}
    filled = {t["ticker"]: t["filled"] for t in tables if t["filled"]}
    return Market(
        dates=pd.DatetimeIndex(calendar, name="date").as_unit(DATE_UNIT),
        tickers=tuple(t["ticker"] for t in tables),
        **arrays,
        params={
            **params,
            "dropped_rows": {k: v for k, v in dropped.items() if v},
            "filled": filled,
        },
    )


#: Built-in real markets: name -> module of the ``arch`` package holding the data.
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
    import importlib

    frames = []
    for n in names:
        data = importlib.import_module(REAL_MARKETS[n]).load()
        frame = data[["Open", "High", "Low", "Close", "Volume"]].copy()
        frame.index.name = "date"
        frames.append(frame.reset_index().assign(ticker=n))
    label = "+".join(names)
    source = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    market = load_prices(source, name=label, layout="long", min_rows=min_rows)
    return _with(
        market,
        params={
            **market.params,
            "source": [REAL_MARKETS[n] for n in names],
            "price": "Close (price index, not dividend-adjusted)",
        },
    )
