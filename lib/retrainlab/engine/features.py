"""Causal technical features, computed once per market on dense arrays.

Every feature at row ``t`` uses rows ``<= t`` only, so computing on a prefix of the data gives
exactly the prefix of computing on the full data (tested). Windows are plain trailing windows;
the two exponential averages of MACD are recursive filters started at the first close, which is
also causal. A feature is NaN until its window is full; from row ``MIN_HISTORY - 1`` on every
feature is defined.

=================  =========================================================================
feature            definition at row t
=================  =========================================================================
log_return         log(close[t] / close[t-1])
hl_range           (high[t] - low[t]) / close[t]
volume_ratio       volume[t] / mean(volume[t-19..t])   (1.0 when that mean is 0)
rsi14              Cutler's RSI: 100 * G / (G + L), G and L the mean gain and mean loss of the
                   last 14 close-to-close changes (50 when there was no change at all)
macd_close         (EMA12(close) - EMA26(close)) / close[t]; EMAs with alpha = 2/(span+1),
                   started at close[0]; NaN for the first 25 rows
bollinger_pos      (close[t] - SMA20) / (2 * SD20), SD20 the population std of the last 20
                   closes: 0 on the middle band, +-1 on the bands (0 when SD20 is 0)
mom5 .. mom60      close[t] / close[t-k] - 1 for k = 5, 10, 20, 60
vol20              sample std (ddof 1) of the last 20 log returns (daily, not annualised)
=================  =========================================================================

**Absent fields** (close-only data such as the skfolio S&P 500 panel): ``FEATURE_INPUTS``
names the price fields each feature reads. ``compute_features(..., absent=("high", ...))``
skips the checks of the absent fields and returns NaN for every feature that reads one (the
columns stay, so ``FEATURE_NAMES`` order holds); ``usable_features(absent)`` lists the others,
and the walk-forward trains on those only. Nothing is filled in with a constant.

Cutler's RSI (simple averages) is used instead of Wilder's smoothing so that the feature depends
on a finite window only; the two agree closely after the first weeks.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
from scipy.signal import lfilter

#: Names of the feature columns, in the order of the last axis of ``compute_features``.
FEATURE_NAMES: tuple[str, ...] = (
    "log_return",
    "hl_range",
    "volume_ratio",
    "rsi14",
    "macd_close",
    "bollinger_pos",
    "mom5",
    "mom10",
    "mom20",
    "mom60",
    "vol20",
)

#: The price fields each feature reads (``open`` is read by none).
FEATURE_INPUTS: dict[str, tuple[str, ...]] = {name: ("close",) for name in FEATURE_NAMES} | {
    "hl_range": ("high", "low", "close"),
    "volume_ratio": ("volume",),
}


def usable_features(absent: Collection[str] = ()) -> tuple[str, ...]:
    """``FEATURE_NAMES`` without the features that read a field in ``absent``."""
    gone = set(absent)
    return tuple(n for n in FEATURE_NAMES if not gone.intersection(FEATURE_INPUTS[n]))


#: Momentum lookbacks, in days.
MOMENTUM_LAGS: tuple[int, ...] = (5, 10, 20, 60)

#: Rows of history needed before every feature is defined (mom60 needs close[t-60]).
MIN_HISTORY: int = 61


def _check_prices(**arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """Validate and convert the OHLCV arrays to float64 (same 1-D or 2-D shape, finite, > 0)."""
    out = []
    shape = None
    for name, value in arrays.items():
        arr = np.asarray(value, dtype=np.float64)
        if arr.ndim not in (1, 2):
            raise ValueError(
                f"{name} must be 1-D (n_days,) or 2-D (n_days, n_tickers), got shape {arr.shape}"
            )
        if shape is None:
            shape = arr.shape
        elif arr.shape != shape:
            raise ValueError(f"{name} has shape {arr.shape}, expected {shape} like the others")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contains NaN or infinite values; fill or drop them first")
        if name == "volume":
            if np.any(arr < 0):
                raise ValueError("volume contains negative values")
        elif np.any(arr <= 0):
            raise ValueError(f"{name} contains non-positive prices")
        out.append(arr)
    return tuple(out)


def _pad_front(values: np.ndarray, n_rows: int) -> np.ndarray:
    """Prepend NaN rows so that ``values`` (rows for the last entries) has ``n_rows`` rows."""
    out = np.full((n_rows, *values.shape[1:]), np.nan)
    if len(values):
        out[n_rows - len(values) :] = values
    return out


def _window_sum(x: np.ndarray, window: int) -> np.ndarray:
    """Sums of the trailing windows (rows window-1 .. n-1), added in a fixed order.

    Adding the ``window`` shifted slices one by one makes every result depend on its own window
    only, in the same order of operations whatever the array's length, layout or number of
    columns: a prefix, a single column and the full panel give bit-identical values.
    """
    n = len(x)
    total = x[: n - window + 1].copy()
    for i in range(1, window):
        total += x[i : n - window + 1 + i]
    return total


def rolling_mean(x: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over ``window`` rows along axis 0; NaN for the first ``window - 1`` rows."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) < window:
        return np.full(x.shape, np.nan)
    return _pad_front(_window_sum(x, window) / window, len(x))


def rolling_std(x: np.ndarray, window: int, ddof: int = 0) -> np.ndarray:
    """Trailing standard deviation over ``window`` rows along axis 0 (two-pass, exact windows)."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) < window:
        return np.full(x.shape, np.nan)
    mean = _window_sum(x, window) / window
    n = len(x)
    squares = np.zeros_like(mean)
    for i in range(window):
        squares += (x[i : n - window + 1 + i] - mean) ** 2
    return _pad_front(np.sqrt(squares / (window - ddof)), n)


def lag_ratio(x: np.ndarray, lag: int) -> np.ndarray:
    """``x[t] / x[t - lag]`` along axis 0; NaN for the first ``lag`` rows."""
    out = np.full(x.shape, np.nan)
    if len(x) > lag:
        out[lag:] = x[lag:] / x[:-lag]
    return out


def log_returns(close: np.ndarray) -> np.ndarray:
    """``log(close[t] / close[t-1])``; NaN in the first row."""
    return np.log(lag_ratio(close, 1))


def ema(x: np.ndarray, span: int) -> np.ndarray:
    """Exponential moving average along axis 0, ``alpha = 2 / (span + 1)``, started at ``x[0]``.

    A recursive filter ``y[t] = alpha * x[t] + (1 - alpha) * y[t-1]`` (causal: ``y[t]`` uses
    ``x[:t+1]`` only).
    """
    x = np.asarray(x, dtype=np.float64)
    if len(x) == 0:
        return x.copy()
    alpha = 2.0 / (span + 1.0)
    zi = (1.0 - alpha) * x[:1]  # makes y[0] = x[0]
    y, _ = lfilter([alpha], [1.0, -(1.0 - alpha)], x, axis=0, zi=zi)
    return y


def rsi(close: np.ndarray, window: int = 14) -> np.ndarray:
    """Cutler's RSI over the last ``window`` close-to-close changes (0..100; NaN until defined)."""
    change = np.full(close.shape, np.nan)
    change[1:] = np.diff(close, axis=0)
    gain = rolling_mean(np.maximum(change, 0.0), window)
    loss = rolling_mean(np.maximum(-change, 0.0), window)
    total = gain + loss
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(total > 0, 100.0 * gain / total, 50.0)
    out[np.isnan(total)] = np.nan
    return out


def compute_features(
    open: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    *,
    absent: Collection[str] = (),
) -> np.ndarray:
    """Compute the ``FEATURE_NAMES`` features from OHLCV arrays.

    Parameters
    ----------
    open, high, low, close, volume : arrays of shape (n_days,) or (n_days, n_tickers), finite,
        prices > 0, volume >= 0. ``open`` is validated but no feature uses it.
    absent : price fields the data do not have (e.g. ``("open", "high", "low", "volume")``
        for close-only data): not validated (they may be NaN), and every feature that reads one
        (``FEATURE_INPUTS``) is NaN. ``close`` cannot be absent.

    Returns
    -------
    float64 array of shape (n_days, n_features) or (n_days, n_tickers, n_features), NaN where a
    feature's window is not full yet (every feature is defined from row ``MIN_HISTORY - 1``).
    """
    absent = set(absent)
    unknown = absent - {"open", "high", "low", "volume"}
    if unknown:
        raise ValueError(
            f"absent fields must be among open, high, low, volume (close is required); "
            f"got {sorted(unknown)}"
        )
    given = {"open": open, "high": high, "low": low, "close": close, "volume": volume}
    checked = dict(
        zip(
            [k for k in given if k not in absent],
            _check_prices(**{k: v for k, v in given.items() if k not in absent}),
            strict=True,
        )
    )
    close = checked["close"]
    high, low, volume = (
        checked.get(k, np.full(close.shape, np.nan)) for k in ("high", "low", "volume")
    )
    n = len(close)
    out = np.full((*close.shape, len(FEATURE_NAMES)), np.nan)
    logret = log_returns(close)
    out[..., 0] = logret
    out[..., 1] = (high - low) / close

    mean_volume = rolling_mean(volume, 20)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = volume / mean_volume
    ratio[mean_volume == 0] = 1.0
    out[..., 2] = ratio

    out[..., 3] = rsi(close, 14)

    macd = (ema(close, 12) - ema(close, 26)) / close
    macd[: min(25, n)] = np.nan
    out[..., 4] = macd

    sma20 = rolling_mean(close, 20)
    sd20 = rolling_std(close, 20, ddof=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        boll = (close - sma20) / (2.0 * sd20)
    boll[sd20 == 0] = 0.0
    out[..., 5] = boll

    for i, lag in enumerate(MOMENTUM_LAGS):
        out[..., 6 + i] = lag_ratio(close, lag) - 1.0
    out[..., 10] = rolling_std(logret, 20, ddof=1)
    return out
