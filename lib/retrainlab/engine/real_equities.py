"""The real panel: daily adjusted closes of 20 S&P 500 constituents shipped inside ``skfolio``.

``skfolio.datasets.load_sp500_dataset()`` is bundled in the skfolio wheel (no download): 20
stocks (AAPL ... XOM), 8,313 business days from 1990-01-02 to 2022-12-28, adjusted closing
prices only, rounded to 0.001. :func:`load_sp500_panel` returns it as a ``Market``. The file
is read where skfolio installed it, without importing skfolio (``_skfolio_file``).

**Close-only.** The data have no open, high, low or volume. Those fields are *absent*, not
invented: their arrays are all NaN and ``params["absent"]`` lists them, so nothing downstream
can mistake a constant for a measurement. Of ``features.FEATURE_NAMES`` two need an absent
field (``CLOSE_ONLY_MISSING``): ``hl_range`` (high, low) and ``volume_ratio`` (volume); the
other nine use the close only (``open`` is used by no feature). The engine drops the two from
the design on such a market rather than feeding constants (see docs/statistics-verdict.md).

Things worth knowing about these prices (measured, see tests/test_real_equities.py): prices
are rounded to 0.001, so the early, low-priced years of AAPL, BBY and UNH move in visible ticks;
RRC's close is unchanged on 45% of its first 2,000 days (stale quotes), 13% overall; the
constituents are today's survivors, so the panel carries survivorship bias: buy and hold on it
is flattered, which is one more reason to report it beside every system.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from retrainlab.common.names import check_name
from retrainlab.engine.market import DATE_UNIT, Market

__all__ = [
    "ABSENT_FIELDS",
    "CLOSE_ONLY_MISSING",
    "SP500_TICKERS",
    "load_sp500_panel",
    "sp500_prices",
]

#: Price fields the skfolio panel does not have (all-NaN arrays in the Market).
ABSENT_FIELDS: tuple[str, ...] = ("open", "high", "low", "volume")
#: Features that need an absent field, with the fields they need.
CLOSE_ONLY_MISSING: dict[str, tuple[str, ...]] = {
    "hl_range": ("high", "low"),
    "volume_ratio": ("volume",),
}
#: The 20 constituents, in the dataset's column order.
SP500_TICKERS: tuple[str, ...] = (
    "AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JNJ", "JPM", "KO",
    "LLY", "MRK", "MSFT", "PEP", "PFE", "PG", "RRC", "UNH", "WMT", "XOM",
)  # fmt: skip


#: The file ``skfolio.datasets.load_sp500_dataset()`` reads, inside the installed skfolio.
_SP500_FILE: tuple[str, ...] = ("datasets", "data", "sp500_dataset.csv.gz")


def _skfolio_file(*parts: str) -> Path:
    """A data file shipped inside the installed ``skfolio`` (the optional extra
    ``retrainlab[equities]``), found without importing skfolio: importing it imports cvxpy and
    its solvers, ~1.5 s in every process that loads the panel (a notebook's kernel and each of
    its workers), for a file that pandas reads in milliseconds."""
    spec = importlib.util.find_spec("skfolio")  # finds the package; runs none of its code
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "the S&P 500 panel ships with skfolio, which is not installed: "
            "pip install 'retrainlab[equities]' (or make setup)"
        )
    path = Path(next(iter(spec.submodule_search_locations)), *parts)
    if not path.is_file():
        raise FileNotFoundError(
            f"the installed skfolio has no {'/'.join(parts)} (looked in {path.parent}): "
            "reinstall it with make setup (requirements.lock pins one that ships it)"
        )
    return path


def sp500_prices() -> pd.DataFrame:
    """The raw skfolio frame (dates x 20 tickers of adjusted closes), as shipped: the file
    ``skfolio.datasets.load_sp500_dataset()`` reads, parsed as it parses it (tested equal)."""
    frame = pd.read_csv(_skfolio_file(*_SP500_FILE), sep=",", index_col=0)  # gzip: by its suffix
    frame.index = pd.to_datetime(frame.index, format="%Y-%m-%d")
    return frame


def load_sp500_panel(
    tickers: Sequence[str] | None = None,
    *,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
) -> Market:
    """The skfolio S&P 500 panel as a close-only ``Market`` named ``"sp500_panel"``.

    Parameters
    ----------
    tickers : a subset of ``SP500_TICKERS`` (default: all 20, in the dataset's order);
        unknown names raise with a "did you mean".
    start, end : optional inclusive date bounds.

    ``open``, ``high``, ``low`` and ``volume`` are all-NaN (absent, listed in
    ``params["absent"]``); ``close`` is the adjusted close. Raises ``ValueError`` when the
    selection is empty or a price is missing or not positive (naming ticker and date).
    """
    frame = sp500_prices()
    names = list(frame.columns) if tickers is None else list(tickers)
    if not names:
        raise ValueError("tickers is empty; give at least one of " + ", ".join(frame.columns))
    for name in names:
        check_name(name, tuple(frame.columns), "S&P 500 panel ticker")
    if len(set(names)) != len(names):
        raise ValueError(f"a ticker is named twice: {names}")
    frame = frame.loc[start:end, names]
    if frame.empty:
        raise ValueError(f"no dates between start={start!r} and end={end!r} (data: 1990..2022)")
    dates = pd.DatetimeIndex(frame.index, name="date").as_unit(DATE_UNIT)
    if not dates.is_monotonic_increasing or dates.has_duplicates:
        raise ValueError("the skfolio panel's dates are not strictly increasing")
    close = np.ascontiguousarray(frame.to_numpy(dtype=np.float64))
    bad = ~np.isfinite(close) | (close <= 0)
    if bad.any():
        i, j = (int(v[0]) for v in np.nonzero(bad))
        raise ValueError(
            f"ticker {names[j]!r} has a missing or non-positive close on {dates[i].date()}"
        )
    absent = np.full(close.shape, np.nan)
    return Market(
        dates=dates,
        tickers=tuple(str(n) for n in names),
        open=absent,
        high=absent.copy(),
        low=absent.copy(),
        close=close,
        volume=absent.copy(),
        name="sp500_panel",
        params={
            "source": "skfolio.datasets.load_sp500_dataset",
            "price": "adjusted close",
            "absent": list(ABSENT_FIELDS),
            "start": str(dates[0].date()),
            "end": str(dates[-1].date()),
        },
    )
