"""Daily bars from a pandas frame: column names, layouts, checks and one calendar.

``panel_from_frame`` turns a frame of one or many tickers (single, long or wide layout) into
validated float64 arrays on one calendar (the fields of a ``Market``); ``validate_bars`` checks
one ticker's columns. Shared by ``prices.load_prices``, ``Market.from_parquet`` and the
facade's price inputs. Every error names the column, the ticker and the first bad date.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from retrainlab.common.names import suggest

#: The five fields of a bar, in ``Market`` order.
PRICE_FIELDS: tuple[str, ...] = ("open", "high", "low", "close", "volume")
#: Resolution of every ``Market.dates`` built here (synthetic, loaded, or read back).
DATE_UNIT = "ns"
#: Normalised column names recognised as dates and as ticker names.
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


def find_column(frame: pd.DataFrame, keys: tuple[str, ...]) -> Any | None:
    """The first column of ``frame`` whose normalised name is one of ``keys``, else None."""
    for column in frame.columns:
        if normalise_column(column) in keys:
            return column
    return None


def drop_written_index(frame: pd.DataFrame) -> pd.DataFrame:
    """A CSV written with its index has a first column ``Unnamed: 0``: integers there are row
    numbers (dropped), anything else is the dates (renamed ``date``). The one rule for it."""
    if not (len(frame.columns) and str(frame.columns[0]).startswith("Unnamed: 0")):
        return frame
    first = frame.columns[0]
    if pd.api.types.is_integer_dtype(frame[first]):
        return frame.drop(columns=first)
    return frame.rename(columns={first: "date"})


def panel_from_frame(
    frame: pd.DataFrame,
    *,
    label: str,
    ticker: str | None,
    layout: str,
    join: str,
    adjusted: bool,
    min_rows: int,
) -> dict[str, Any]:
    """Split ``frame`` into per-ticker tables, validate each, and align them on one calendar.

    Returns the fields of a ``Market``: ``dates``, ``tickers``, the five price arrays and
    ``params`` (layout, join, rows dropped per ticker, fields filled).
    """
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
    has_ticker = find_column(frame, TICKER_COLUMNS) is not None
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

    date_col = find_column(frame, DATE_COLUMNS)
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
) -> dict[str, Any]:
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
    date_in_columns = find_column(frame, DATE_COLUMNS) is not None
    if isinstance(index, pd.MultiIndex) or any(n in TICKER_COLUMNS for n in names):
        return frame.reset_index()
    if not date_in_columns and (
        isinstance(index, pd.DatetimeIndex) or any(n in DATE_COLUMNS for n in names)
    ):
        out = frame.reset_index()
        if index.name is None or normalise_column(index.name) not in DATE_COLUMNS:
            out = out.rename(columns={out.columns[0]: "date"})
        return out
    if not date_in_columns:
        frame = drop_written_index(frame)
        date_in_columns = find_column(frame, DATE_COLUMNS) is not None
    if not date_in_columns:
        raise ValueError(
            f"{label}: no dates found: expected a DatetimeIndex or a 'date' column "
            f"(columns: {_columns(frame)})"
        )
    return frame


def _split_long(frame: pd.DataFrame, label: str) -> list[tuple[str, pd.DataFrame]]:
    column = find_column(frame, TICKER_COLUMNS)
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
) -> dict[str, Any]:
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
    return dict(
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
