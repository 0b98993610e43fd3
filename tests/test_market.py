"""Tests of load_prices, load_real_market, Market.from_parquet and the regime helpers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import retrainlab as rl
from retrainlab.engine.market import Market
from retrainlab.engine.prices import load_prices, read_price_file
from retrainlab.engine.regimes import REGIMES, regime_codes, regime_series
from retrainlab.engine.synthetic import generate_market

FIELDS = ("open", "high", "low", "close", "volume")


@pytest.fixture(scope="module")
def synth() -> Market:
    return generate_market(seed=1, n_days=150, n_tickers=3)


def _bars(n: int = 80, start: str = "2015-01-01", seed: int = 0) -> pd.DataFrame:
    """One ticker's consistent OHLCV bars, columns capitalised like Yahoo's, DatetimeIndex."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = close * np.exp(rng.normal(0, 0.003, n))
    high = np.maximum(open_, close) * 1.01
    low = np.minimum(open_, close) * 0.99
    dates = pd.bdate_range(start, periods=n, name="Date")
    return pd.DataFrame(
        {
            "Open": open_,
            "High": high,
            "Low": low,
            "Close": close,
            "Volume": rng.integers(1_000, 5_000, n).astype(float),
        },
        index=dates,
    )


def _assert_same_bars(a: Market, b: Market) -> None:
    assert a.dates.equals(b.dates)
    assert a.tickers == b.tickers
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))


# --- good input ----------------------------------------------------------------------------


def test_single_ticker_frame_with_datetime_index():
    df = _bars()
    m = load_prices(df, ticker="ABC")
    assert rl.load_prices is load_prices
    assert m.tickers == ("ABC",) and m.n_days == 80
    assert m.dates.equals(pd.DatetimeIndex(df.index))
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(m, f)[:, 0], df[f.capitalize()].to_numpy())
    assert m.regimes is None and m.planted is None
    assert m.dates.dtype == np.dtype("datetime64[ns]")


def test_column_names_are_case_and_punctuation_insensitive():
    df = _bars().reset_index()
    df.columns = ["DATE", "open", "HIGH", "Low", "cLoSe", " Volume "]
    m = load_prices(df)
    np.testing.assert_array_equal(m.close[:, 0], df["cLoSe"].to_numpy())
    assert m.tickers == ("asset",)


def test_date_column_and_extra_columns():
    df = _bars().reset_index().rename(columns={"Date": "timestamp"})
    df["note"] = "x"  # ignored
    m = load_prices(df, ticker="T")
    assert m.dates[0] == pd.Timestamp("2015-01-01")


def test_missing_optional_columns_fall_back_to_close():
    df = _bars()[["Close"]]
    m = load_prices(df)
    for f in ("open", "high", "low"):
        np.testing.assert_array_equal(getattr(m, f), m.close)
    assert np.all(m.volume == 1.0)
    assert m.params["filled"] == {"asset": ["open", "high", "low", "volume"]}


def test_missing_low_is_min_of_open_and_close():
    df = _bars()[["Open", "High", "Close"]]
    m = load_prices(df)
    np.testing.assert_array_equal(m.low[:, 0], np.minimum(df["Open"], df["Close"]).to_numpy())
    np.testing.assert_array_equal(m.high[:, 0], df["High"].to_numpy())


def test_series_of_closes():
    s = _bars()["Close"].rename("SPY")
    m = load_prices(s)
    assert m.tickers == ("SPY",)
    np.testing.assert_array_equal(m.close[:, 0], s.to_numpy())


def test_zero_volume_is_accepted():
    df = _bars()
    df.iloc[5, df.columns.get_loc("Volume")] = 0.0
    assert load_prices(df).volume[5, 0] == 0.0


def test_adjusted_close_rescales_the_bar():
    df = _bars()
    factor = np.linspace(0.5, 1.0, len(df))
    df["Adj Close"] = df["Close"] * factor
    m = load_prices(df, adjusted=True)
    np.testing.assert_allclose(m.close[:, 0], df["Adj Close"].to_numpy())
    np.testing.assert_allclose(m.open[:, 0], df["Open"].to_numpy() * factor)
    np.testing.assert_allclose(m.high[:, 0] / m.low[:, 0], (df["High"] / df["Low"]).to_numpy())
    raw = load_prices(df)
    np.testing.assert_array_equal(raw.close[:, 0], df["Close"].to_numpy())


def test_long_frame_round_trip(synth):
    m = load_prices(synth.to_long())
    _assert_same_bars(m, synth)


def test_long_frame_sorted_by_ticker_and_with_symbol_column(synth):
    long = synth.to_long().sort_values(["ticker", "date"], kind="stable")
    long = long.rename(columns={"ticker": "Symbol"})
    _assert_same_bars(load_prices(long), synth)


def test_long_frame_with_date_ticker_multiindex(synth):
    long = synth.to_long().set_index(["date", "ticker"])
    _assert_same_bars(load_prices(long), synth)


def test_long_frame_inner_join_on_common_dates(synth):
    long = synth.to_long()
    dropped_day = synth.dates[100]
    late_start = synth.dates[10]
    keep = ~(
        ((long["ticker"] == "SYN01") & (long["date"] == dropped_day))
        | ((long["ticker"] == "SYN02") & (long["date"] < late_start))
    )
    m = load_prices(long[keep])
    expected = synth.dates[10:].delete(90)
    assert m.dates.equals(expected)
    rows = synth.dates.get_indexer(expected)
    np.testing.assert_array_equal(m.close, synth.close[rows])
    assert m.params["dropped_rows"] == {"SYN00": 11, "SYN01": 10, "SYN02": 1}
    with pytest.raises(ValueError, match="different dates.*join='inner'"):
        load_prices(long[keep], join="exact")


def test_wide_multiindex_frames(synth):
    parts = {t: synth.ohlcv(t).rename(columns=str.capitalize) for t in synth.tickers}
    field_first = pd.concat(parts, axis=1).swaplevel(axis=1)  # (field, ticker), like yfinance
    ticker_first = pd.concat(parts, axis=1)  # (ticker, field)
    for wide in (field_first, ticker_first):
        _assert_same_bars(load_prices(wide), synth)


def test_flat_wide_frame_of_closes(synth):
    wide = pd.DataFrame(synth.close, index=synth.dates, columns=list(synth.tickers))
    m = load_prices(wide, layout="wide")
    assert m.tickers == synth.tickers
    np.testing.assert_array_equal(m.close, synth.close)
    np.testing.assert_array_equal(m.open, synth.close)


def test_wide_frames_treat_all_nan_rows_as_missing_bars(synth):
    parts = {t: synth.ohlcv(t) for t in synth.tickers}
    wide = pd.concat(parts, axis=1)
    wide.iloc[:5, wide.columns.get_level_values(0) == "SYN01"] = np.nan  # listed 5 days later
    m = load_prices(wide)
    assert m.dates.equals(synth.dates[5:])
    np.testing.assert_array_equal(m.close, synth.close[5:])
    assert m.params["dropped_rows"] == {"SYN00": 5, "SYN02": 5}
    with pytest.raises(ValueError, match="different dates"):
        load_prices(wide, join="exact")
    wide.iloc[9, list(wide.columns).index(("SYN02", "low"))] = np.nan  # a partly missing bar
    with pytest.raises(ValueError, match=r"ticker 'SYN02': column 'low' has missing \(NaN\)"):
        load_prices(wide)
    closes = pd.DataFrame(synth.close, index=synth.dates, columns=list(synth.tickers))
    closes.iloc[:3, 0] = np.nan
    assert load_prices(closes, layout="wide").n_days == synth.n_days - 3
    closes.columns = ["A", "B", "A"]
    with pytest.raises(ValueError, match="ticker 'A' appears twice"):
        load_prices(closes, layout="wide")


def test_csv_round_trips(tmp_path, synth):
    single = synth.ohlcv("SYN00")
    path = tmp_path / "abc.csv"
    single.to_csv(path)
    m = load_prices(path)
    assert m.tickers == ("abc",) and m.name == "abc"
    np.testing.assert_array_equal(m.close[:, 0], synth.close[:, 0])
    assert m.dates.equals(synth.dates)

    unnamed = tmp_path / "unnamed.csv"
    single.rename_axis(None).to_csv(unnamed)  # header cell of the index is empty
    assert load_prices(unnamed).dates.equals(synth.dates)

    long_path = tmp_path / "panel.csv.gz"
    synth.to_long().to_csv(long_path, index=False)
    _assert_same_bars(load_prices(long_path), synth)


def test_parquet_round_trip_of_a_frame(tmp_path, synth):
    path = tmp_path / "one.parquet"
    synth.ohlcv(1).to_parquet(path)
    m = load_prices(path, ticker="SYN01")
    np.testing.assert_array_equal(m.close[:, 0], synth.close[:, 1])
    assert m.params["source"] == str(path)


def test_timezone_aware_dates_keep_the_wall_clock_date():
    df = _bars()
    df.index = df.index.tz_localize("America/New_York")
    assert load_prices(df).dates[0] == pd.Timestamp("2015-01-01")


# --- Market.from_parquet ---------------------------------------------------------------------


def test_from_parquet_round_trips_exactly_with_regimes(tmp_path):
    m = generate_market(seed=3, n_days=120, n_tickers=4)
    back = Market.from_parquet(m.to_parquet(tmp_path / "m.parquet"))
    _assert_same_bars(back, m)
    assert back.dates.dtype == m.dates.dtype
    assert back.regimes.equals(m.regimes)
    assert back.regimes.dtype == m.regimes.dtype and back.regimes.name == m.regimes.name
    assert back.name == m.name  # name, params and the planted signal round-trip too
    np.testing.assert_array_equal(back.planted, m.planted)
    assert back.params["seed"] == 3 and back.params["edge"] == m.params["edge"]


def test_from_parquet_without_regimes_and_short_markets(tmp_path, synth):
    loaded = load_prices(synth.to_long()).head(10)  # shorter than min_rows: still readable
    back = Market.from_parquet(loaded.to_parquet(tmp_path / "p.parquet"), name="x")
    _assert_same_bars(back, loaded)
    assert back.regimes is None and back.name == "x"


def test_from_parquet_refuses_inconsistent_regimes(tmp_path, synth):
    path = synth.to_parquet(tmp_path / "bad.parquet")
    frame = pd.read_parquet(path)
    frame.loc[4, "true_regime"] = (
        "volatile" if frame.loc[4, "true_regime"] != "volatile" else "bull"
    )
    frame.to_parquet(path, index=False)
    with pytest.raises(ValueError, match="true_regime' differs across tickers on 2010-01-05"):
        Market.from_parquet(path)


# --- bad input -------------------------------------------------------------------------------


def _set(df: pd.DataFrame, row: int, column: str, value: float) -> pd.DataFrame:
    out = df.copy()
    out.iloc[row, out.columns.get_loc(column)] = value
    return out


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda d: d.drop(columns="Close"), r"missing 'close' column"),
        (lambda d: d.rename(columns={"Close": "Clsoe"}), r"Did you mean 'clsoe'"),
        (
            lambda d: d.drop(columns="Close").assign(**{"Adj Close": d["Close"]}),
            r"pass adjusted=True",
        ),
        (
            lambda d: _set(d, 3, "Close", np.nan),
            r"ticker 'asset': column 'Close' has missing \(NaN\) prices \(first on 2015-01-06",
        ),
        (lambda d: _set(d, 7, "Close", -1.0), r"column 'Close' has non-positive prices"),
        (lambda d: _set(d, 7, "Open", 0.0), r"column 'Open' has non-positive prices"),
        (lambda d: _set(d, 2, "High", np.inf), r"column 'High' has infinite prices"),
        (lambda d: _set(d, 2, "Volume", np.nan), r"'Volume' has missing \(NaN\) volume"),
        (lambda d: _set(d, 2, "Volume", -5.0), r"'Volume' has negative or infinite volume"),
        (lambda d: d.assign(Close=["x"] * len(d)), r"column 'Close' is not numeric"),
        (lambda d: _set(d, 4, "High", 1.0), r"inconsistent bar \(high < low\) on 2015-01-07"),
        (
            lambda d: _set(d, 4, "Low", d["Close"].iloc[4] * 1.001),
            r"inconsistent bar \(low above open or close\)",
        ),
        (lambda d: pd.concat([d.iloc[:10], d.iloc[9:]]), r"duplicate date 2015-01-14"),
        (lambda d: d.iloc[::-1], r"dates are not sorted.*Refusing to reorder.*sort_index"),
        (
            lambda d: pd.concat([d.iloc[10:20], d.iloc[:10], d.iloc[20:]]),
            r"dates are not sorted: 2015-01-01 comes after 2015-01-28",
        ),
        (lambda d: d.iloc[:60], r"60 rows, fewer than min_rows=61"),
        (lambda d: d.reset_index(drop=True), r"no dates found"),
        (
            lambda d: d.reset_index().assign(Date="soon"),
            r"column 'Date' holds values that are "
            r"not dates",
        ),
        (
            lambda d: d.reset_index().assign(Date=lambda x: x["Date"].where(x.index != 3)),
            r"column 'Date' has a missing date \(row 3\)",
        ),
        (lambda d: d.assign(close=d["Close"]), r"columns 'Close' and 'close' both mean 'close'"),
    ],
)
def test_bad_single_frames_raise_naming_the_problem(make, match):
    with pytest.raises(ValueError, match=match):
        load_prices(make(_bars()))


def test_min_rows_is_a_parameter():
    short = _bars(30)
    assert load_prices(short, min_rows=30).n_days == 30
    with pytest.raises(ValueError, match="min_rows=31"):
        load_prices(short, min_rows=31)
    with pytest.raises(ValueError, match="min_rows must be a positive integer"):
        load_prices(short, min_rows=0)


def test_bad_long_frames_raise_naming_the_ticker(synth):
    long = synth.to_long()
    bad = long.copy()
    bad.loc[(bad["ticker"] == "SYN02").to_numpy().nonzero()[0][5], "close"] = np.nan
    with pytest.raises(ValueError, match=r"ticker 'SYN02': column 'close' has missing"):
        load_prices(bad)
    dup = pd.concat([long, long.iloc[[4]]])  # SYN01 on day 1 twice
    with pytest.raises(ValueError, match=r"ticker 'SYN01': duplicate date 2010-01-05"):
        load_prices(dup)
    disjoint = long[(long["ticker"] != "SYN00") | (long["date"] < synth.dates[20])]
    disjoint = disjoint[(disjoint["ticker"] == "SYN00") | (disjoint["date"] >= synth.dates[20])]
    with pytest.raises(ValueError, match="only 0 dates are common to all tickers"):
        load_prices(disjoint, min_rows=10)
    with pytest.raises(ValueError, match="missing ticker name"):
        load_prices(long.assign(ticker=long["ticker"].where(long.index != 7)))
    with pytest.raises(ValueError, match="ticker= names a single-ticker source"):
        load_prices(long, ticker="X")
    with pytest.raises(ValueError, match="a long frame needs a 'ticker' or 'symbol' column"):
        load_prices(synth.ohlcv(0), layout="long")


def test_bad_options_and_sources(tmp_path):
    with pytest.raises(ValueError, match="unknown layout 'wdie'. Did you mean 'wide'"):
        load_prices(_bars(), layout="wdie")
    with pytest.raises(ValueError, match="unknown join 'outer'"):
        load_prices(_bars(), join="outer")
    with pytest.raises(ValueError, match=r"expected a \.csv"):
        load_prices(tmp_path / "prices.xlsx")
    with pytest.raises(TypeError, match="source must be"):
        load_prices(np.ones((100, 5)))


# --- real markets -----------------------------------------------------------------------------


def test_load_real_market_sp500():
    m = rl.load_real_market("sp500")
    assert m.tickers == ("sp500",) and m.name == "sp500"
    assert m.close.shape == (5031, 1)
    assert m.dates[0] == pd.Timestamp("1999-01-04")
    assert m.dates[-1] == pd.Timestamp("2018-12-31")
    assert 1000 < m.close[0, 0] < 1300  # the index level, not a return
    assert np.all(m.low <= m.close) and np.all(m.close <= m.high)


def test_load_real_market_both_and_errors():
    both = rl.load_real_market("both")
    assert both.tickers == ("sp500", "nasdaq") and both.n_days == 5031
    nasdaq = rl.load_real_market(["nasdaq"])
    np.testing.assert_array_equal(both.close[:, 1], nasdaq.close[:, 0])
    with pytest.raises(ValueError, match="Did you mean 'nasdaq'"):
        rl.load_real_market("nasdq")
    with pytest.raises(ValueError, match="got a name twice"):
        rl.load_real_market(["sp500", "both"])


# --- regime helpers ---------------------------------------------------------------------------


def test_regime_series_and_codes_are_inverse():
    dates = pd.bdate_range("2020-01-01", periods=4)
    s = regime_series(np.array([0, 1, 2, 3]), dates)
    assert list(s) == list(REGIMES) and s.index.equals(dates)
    np.testing.assert_array_equal(regime_codes(s), [0, 1, 2, 3])
    assert regime_series(list(s), dates).equals(s)
    np.testing.assert_array_equal(regime_codes(["bull", None, "crash"]), [0, -1, -1])
    with pytest.raises(ValueError, match="regime code 4 on 2020-01-03"):
        regime_series(np.array([0, 1, 4, 3]), dates)
    with pytest.raises(ValueError, match="unknown regime 'crash'"):
        regime_series(["bull", "crash", "bull", "bull"], dates)


def test_read_price_file_is_the_one_reader_of_unnamed_index_columns(tmp_path, synth):
    """A CSV written with its index: dates in ``Unnamed: 0`` become the date column, row
    numbers there are dropped (so they are never read as dates)."""
    single = synth.ohlcv("SYN00")
    dated = tmp_path / "dated.csv"
    single.rename_axis(None).to_csv(dated)
    assert list(read_price_file(dated).columns)[0] == "date"
    numbered = tmp_path / "numbered.csv"
    single.reset_index(names="date").to_csv(numbered)  # index = row numbers
    frame = read_price_file(numbered)
    assert "Unnamed: 0" not in frame.columns and list(frame.columns)[0] == "date"
    assert load_prices(numbered).dates.equals(synth.dates)
    with pytest.raises(ValueError, match="does not exist"):
        read_price_file(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match="expected a .csv"):
        read_price_file(tmp_path / "prices.xlsx")
