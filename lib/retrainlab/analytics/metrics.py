"""Performance metrics: small pure functions over return series, trades and positions.

Conventions (empyrical style):

* ``returns`` are simple (not log) per-period returns, e.g. daily, as a 1-D ``np.ndarray``,
  ``pd.Series`` or list. NaNs are dropped before anything is computed; ``inf`` is kept and
  propagates. A column vector ``(n, 1)`` is accepted as 1-D; any other 2-D input raises
  ``ValueError``.
* Annualised figures use ``periods_per_year`` (252 for daily data).
* Sharpe ratios are **not** risk-free adjusted (the strategies are self-financing long/short
  books) and use the sample standard deviation (``ddof=1``).
* Degenerate inputs (empty, one observation, zero variance, no losses) never raise: each
  function documents the float it returns instead (``0.0``, ``nan`` or ``inf``).
* The PSR / DSR / MinTRL functions take the Sharpe ratio **per period** (not annualised), as in
  Bailey & Lopez de Prado; get it, with the moments they need, from :func:`sharpe_moments`.

References: Bailey & Lopez de Prado (2012), "The Sharpe Ratio Efficient Frontier" (PSR, MinTRL);
Bailey & Lopez de Prado (2014), "The Deflated Sharpe Ratio" (DSR).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

ArrayLike = np.ndarray | pd.Series | pd.DataFrame | Sequence[float]

#: Euler-Mascheroni constant, used by the expected maximum Sharpe ratio of N trials.
EULER_GAMMA: float = float(np.euler_gamma)

__all__ = [
    "EULER_GAMMA",
    "annual_volatility",
    "cagr",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "exposure",
    "max_drawdown",
    "min_track_record_length",
    "payoff_ratio",
    "portfolio_metrics",
    "probabilistic_sharpe_ratio",
    "profit_factor",
    "return_at_equal_risk",
    "sharpe_moments",
    "skew_kurtosis",
    "sharpe_ratio",
    "signal_counts",
    "total_return",
    "trade_metrics",
    "turnover",
    "win_rate",
]


# --------------------------------------------------------------------------- input handling


def _as_1d(values: Any, what: str = "returns") -> np.ndarray:
    """Return ``values`` as a 1-D float64 array with NaNs dropped (a fresh copy)."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    elif arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    elif arr.ndim != 1:
        raise ValueError(f"{what} must be 1-D (one series), got an array of shape {arr.shape}")
    return arr[~np.isnan(arr)]


def _as_positions(positions: Any) -> np.ndarray:
    """Return positions as a ``(n_days, n_tickers)`` float64 array, NaN read as 0 (flat)."""
    arr = np.asarray(positions, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    elif arr.ndim != 2:
        raise ValueError(
            f"positions must be 2-D (n_days, n_tickers) or 1-D (n_days,), got shape {arr.shape}"
        )
    return np.nan_to_num(arr, nan=0.0)


def _check_periods(periods_per_year: float) -> float:
    if not np.isfinite(periods_per_year) or periods_per_year <= 0:
        raise ValueError(f"periods_per_year must be a positive number, got {periods_per_year!r}")
    return float(periods_per_year)


def _is_constant(x: np.ndarray) -> bool:
    """True when every value is the same (so the sample variance is zero, not rounding noise)."""
    return bool(np.ptp(x) == 0) if x.size else True


# --------------------------------------------------------------------------- return series


def sharpe_ratio(returns: ArrayLike, periods_per_year: float = 252) -> float:
    """Annualised Sharpe ratio: ``mean(r) / std(r, ddof=1) * sqrt(periods_per_year)``.

    No risk-free rate is subtracted. Unitless.

    Edge cases: fewer than 2 observations -> ``nan``. Zero variance (all values equal) ->
    ``0.0`` if the returns are all zero (a flat book: no risk, no return), else ``nan`` (a
    riskless non-zero return has no finite Sharpe ratio).
    """
    ppy = _check_periods(periods_per_year)
    r = _as_1d(returns)
    if r.size < 2:
        return float("nan")
    sd = float(np.std(r, ddof=1))
    if _is_constant(r) or sd == 0.0:
        return 0.0 if np.all(r == 0) else float("nan")
    return float(np.mean(r) / sd * np.sqrt(ppy))


def total_return(returns: ArrayLike) -> float:
    """Compounded total return: ``prod(1 + r) - 1`` (a fraction: 0.10 means +10%).

    Edge cases: empty input -> ``0.0`` (nothing happened).
    """
    r = _as_1d(returns)
    return float(np.prod(1.0 + r) - 1.0) if r.size else 0.0


def cagr(returns: ArrayLike, periods_per_year: float = 252) -> float:
    """Compound annual growth rate: ``(1 + total_return) ** (periods_per_year / n) - 1``.

    A fraction per year. Edge cases: empty input -> ``nan`` (no time elapsed); final wealth
    ``<= 0`` (ruin) -> ``-1.0``.
    """
    ppy = _check_periods(periods_per_year)
    r = _as_1d(returns)
    if r.size == 0:
        return float("nan")
    wealth = 1.0 + total_return(r)
    if wealth <= 0:
        return -1.0
    return float(wealth ** (ppy / r.size) - 1.0)


def max_drawdown(returns: ArrayLike) -> float:
    """Largest peak-to-trough fall of compounded equity, as a negative fraction (or ``0.0``).

    Equity is ``cumprod(1 + r)`` starting from 1, and the starting equity of 1 counts as the
    first peak, so a loss on day one is a drawdown. ``-0.25`` means equity fell 25% below its
    running maximum. The result lies in ``[-1, 0]``: a fall to zero or below (returns ``<= -1``)
    is reported as ``-1.0`` (ruin).

    Edge cases: empty input or never below a previous peak -> ``0.0``.
    """
    r = _as_1d(returns)
    if r.size == 0:
        return 0.0
    equity = np.concatenate(([1.0], np.cumprod(1.0 + r)))
    peaks = np.maximum.accumulate(equity)
    with np.errstate(invalid="ignore", divide="ignore"):
        drawdowns = equity / peaks - 1.0
    worst = float(np.nanmin(drawdowns)) if np.any(~np.isnan(drawdowns)) else 0.0
    return float(min(max(worst, -1.0), 0.0))


def annual_volatility(returns: ArrayLike, periods_per_year: float = 252) -> float:
    """Annualised volatility: ``std(r, ddof=1) * sqrt(periods_per_year)`` (fraction per year).

    Edge cases: fewer than 2 observations -> ``nan``; all values equal -> ``0.0``.
    """
    ppy = _check_periods(periods_per_year)
    r = _as_1d(returns)
    if r.size < 2:
        return float("nan")
    if _is_constant(r):
        return 0.0
    return float(np.std(r, ddof=1) * np.sqrt(ppy))


def return_at_equal_risk(
    returns: ArrayLike, target_vol: float = 0.10, periods_per_year: float = 252
) -> float:
    """Total return after scaling the series to ``target_vol`` annualised volatility.

    ``total_return(r * target_vol / annual_volatility(r))``: the compounded return of the same
    strategy run at a constant leverage chosen so that its realised volatility equals
    ``target_vol`` (rebalanced every period). Total return is not comparable across systems
    with different sizing rules (doubling every position doubles it); at equal risk it is.
    Note that the scale uses the realised (in-sample) volatility: this is a comparison device,
    not a tradable rule.

    Edge cases: fewer than 2 observations -> ``nan``; zero volatility -> ``0.0`` if the returns
    are all zero, else ``nan``.
    """
    if not np.isfinite(target_vol) or target_vol <= 0:
        raise ValueError(f"target_vol must be a positive number, got {target_vol!r}")
    r = _as_1d(returns)
    vol = annual_volatility(r, periods_per_year)
    if np.isnan(vol):
        return float("nan")
    if vol == 0.0:
        return 0.0 if np.all(r == 0) else float("nan")
    return total_return(r * (target_vol / vol))


# --------------------------------------------------------------------------- trades


def win_rate(trade_returns: ArrayLike) -> float:
    """Share of trades with a strictly positive return, in ``[0, 1]``.

    A trade returning exactly 0 is not a win. Edge cases: no trades -> ``nan``.
    """
    t = _as_1d(trade_returns, "trade_returns")
    return float(np.mean(t > 0)) if t.size else float("nan")


def profit_factor(trade_returns: ArrayLike) -> float:
    """Gross profit / gross loss: ``sum(t[t > 0]) / |sum(t[t < 0])|`` (unitless, >= 0).

    Above 1 means the winners made more than the losers lost. (The published report called the
    payoff ratio "profit factor"; see :func:`payoff_ratio`.)

    Edge cases: no losses but some profit -> ``inf``; no losses and no profit (empty input or
    all trades exactly 0) -> ``nan``; losses but no profit -> ``0.0``.
    """
    t = _as_1d(trade_returns, "trade_returns")
    gross_profit = float(t[t > 0].sum())
    gross_loss = float(-t[t < 0].sum())
    if gross_loss == 0.0:
        return float("inf") if gross_profit > 0 else float("nan")
    return gross_profit / gross_loss


def payoff_ratio(trade_returns: ArrayLike) -> float:
    """Mean winning trade / |mean losing trade| (unitless, >= 0).

    This is what the published report labelled "profit factor"; it ignores how many trades win,
    so it is not the profit factor (see :func:`profit_factor`).

    Edge cases: no losing trade -> ``inf`` if there is a winner, else ``nan`` (also for empty
    input); losers but no winner -> ``0.0``. Trades of exactly 0 are neither.
    """
    t = _as_1d(trade_returns, "trade_returns")
    wins, losses = t[t > 0], t[t < 0]
    if losses.size == 0:
        return float("inf") if wins.size else float("nan")
    if wins.size == 0:
        return 0.0
    return float(np.mean(wins) / abs(np.mean(losses)))


def trade_metrics(trade_returns: ArrayLike) -> dict[str, float]:
    """Trade-level summary as plain floats.

    Keys: ``win_rate``, ``profit_factor``, ``payoff_ratio`` (see those functions),
    ``n_trades`` (count after dropping NaN) and ``avg_trade`` (mean trade return; ``nan`` if no
    trades).
    """
    t = _as_1d(trade_returns, "trade_returns")
    return {
        "win_rate": win_rate(t),
        "profit_factor": profit_factor(t),
        "payoff_ratio": payoff_ratio(t),
        "n_trades": float(t.size),
        "avg_trade": float(np.mean(t)) if t.size else float("nan"),
    }


def signal_counts(signals: ArrayLike) -> dict[str, float]:
    """Counts of long / short / neutral signals and the buy/sell ratio (long / short).

    ``signals`` holds strings ``"long"``/``"short"``/``"neutral"`` or numbers (sign > 0 long,
    < 0 short, 0 neutral); NaN / None entries are ignored. Keys: ``n_long``, ``n_short``,
    ``n_neutral``, ``buy_sell_ratio``. The ratio is ``inf`` with longs but no shorts and
    ``nan`` with neither.
    """
    values = np.asarray(signals, dtype=object).reshape(-1)
    kept = [v for v in values if v is not None and not (isinstance(v, float) and np.isnan(v))]
    if all(isinstance(v, str) for v in kept):
        unknown = sorted(set(kept) - {"long", "short", "neutral"})
        if unknown:
            raise ValueError(f"unknown signal(s) {unknown}; expected 'long', 'short' or 'neutral'")
        n_long = sum(v == "long" for v in kept)
        n_short = sum(v == "short" for v in kept)
    else:
        numeric = np.asarray(kept, dtype=np.float64)
        n_long, n_short = int(np.sum(numeric > 0)), int(np.sum(numeric < 0))
    n_neutral = len(kept) - n_long - n_short
    if n_short:
        ratio = n_long / n_short
    else:
        ratio = float("inf") if n_long else float("nan")
    return {
        "n_long": float(n_long),
        "n_short": float(n_short),
        "n_neutral": float(n_neutral),
        "buy_sell_ratio": float(ratio),
    }


# --------------------------------------------------------------------------- positions


def turnover(positions: ArrayLike) -> float:
    """Mean daily turnover: mean over days of ``sum_j |pos[t, j] - pos[t-1, j]| / n_tickers``.

    ``positions`` is ``(n_days, n_tickers)`` (signed sizes; 1-D is one ticker). The book is
    flat before the first day, so opening the first positions counts as trading. Units: share
    of a fully invested equal-weight book traded per day (1.0 = the whole book once a day).
    NaN positions are read as 0 (flat).

    Edge cases: no days or no tickers -> ``0.0``.
    """
    pos = _as_positions(positions)
    if pos.size == 0:
        return 0.0
    changes = np.abs(np.diff(pos, axis=0, prepend=0.0))
    return float(np.mean(changes.sum(axis=1) / pos.shape[1]))


def exposure(positions: ArrayLike) -> float:
    """Mean share of (day, ticker) cells holding a non-zero position, in ``[0, 1]``.

    NaN positions are read as 0 (flat). Edge cases: no days or no tickers -> ``0.0``.
    """
    pos = _as_positions(positions)
    return float(np.mean(pos != 0)) if pos.size else 0.0


def portfolio_metrics(
    returns: ArrayLike, positions: ArrayLike | None = None, periods_per_year: float = 252
) -> dict[str, float]:
    """Portfolio-level summary of a return series as plain floats (same keys every time).

    Keys: ``sharpe_ratio``, ``total_return``, ``cagr``, ``max_drawdown``,
    ``annual_volatility``, ``return_at_equal_risk`` (10% target vol), ``n_days`` (after
    dropping NaN), and ``turnover`` / ``exposure`` (``nan`` when ``positions`` is None).
    """
    r = _as_1d(returns)
    return {
        "sharpe_ratio": sharpe_ratio(r, periods_per_year),
        "total_return": total_return(r),
        "cagr": cagr(r, periods_per_year),
        "max_drawdown": max_drawdown(r),
        "annual_volatility": annual_volatility(r, periods_per_year),
        "return_at_equal_risk": return_at_equal_risk(r, 0.10, periods_per_year),
        "n_days": float(r.size),
        "turnover": turnover(positions) if positions is not None else float("nan"),
        "exposure": exposure(positions) if positions is not None else float("nan"),
    }


# --------------------------------------------------------------------------- Sharpe inference


def sharpe_moments(returns: ArrayLike) -> tuple[float, float, float, int]:
    """``(sr, skew, kurtosis, n)`` of a return series, ready for PSR / DSR / MinTRL.

    ``sr`` is the Sharpe ratio **per period** (``mean / std(ddof=1)``, not annualised; divide
    an annualised Sharpe by ``sqrt(periods_per_year)`` to get it). ``skew`` and ``kurtosis``
    are the population (biased) sample moments, kurtosis **non-excess** (3 for a normal
    distribution). ``n`` is the number of non-NaN observations.

    Edge cases: fewer than 2 observations -> ``sr`` nan; zero variance -> ``sr`` as in
    :func:`sharpe_ratio` (0.0 if all zero, else nan) and ``skew`` / ``kurtosis`` nan.
    """
    r = _as_1d(returns)
    sr = sharpe_ratio(r, periods_per_year=1)
    if r.size < 2 or _is_constant(r) or np.std(r) == 0.0:
        return sr, float("nan"), float("nan"), int(r.size)
    skew, kurt = _skew_kurtosis(r)
    return sr, skew, kurt, int(r.size)


def skew_kurtosis(returns: ArrayLike) -> tuple[float, float]:
    """Population skewness and (non-excess) kurtosis of a series, NaNs dropped.

    ``scipy.stats.skew(r, bias=True)`` and ``scipy.stats.kurtosis(r, fisher=False, bias=True)``
    with scipy's own arithmetic (central moments about the mean, powers by squaring; nan where
    ``m2 <= (eps mean)^2``), bit for bit (tested), without their dispatch: about 1 ms a call,
    which was 7% of summarising a market's 64 factorial runs.
    """
    return _skew_kurtosis(_as_1d(returns))


def _skew_kurtosis(r: np.ndarray) -> tuple[float, float]:
    """``skew_kurtosis`` of a series already 1-D float64 without NaN (``_as_1d``'s)."""
    if r.size == 0:
        return float("nan"), float("nan")
    mean = np.mean(r, keepdims=True)
    deviation = r - mean
    squared = deviation**2
    m2 = np.mean(squared)
    m3 = np.mean(squared * deviation)
    m4 = np.mean(squared**2)
    if m2 <= (np.finfo(np.float64).eps * mean[0]) ** 2:
        return float("nan"), float("nan")
    return float(m3 / m2**1.5), float(m4 / m2**2.0)


def _sr_variance_term(sr: float, skew: float, kurtosis: float) -> float:
    """``1 - skew * SR + (kurtosis - 1) / 4 * SR^2``: the non-normality factor of Var(SR_hat)."""
    return 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr**2


def probabilistic_sharpe_ratio(
    sr: float, sr_benchmark: float, n_obs: float, skew: float = 0.0, kurtosis: float = 3.0
) -> float:
    """Probability that the true Sharpe ratio exceeds ``sr_benchmark`` (Bailey & Lopez de Prado).

    ``PSR = Phi((SR - SR*) * sqrt(T - 1) / sqrt(1 - skew * SR + (kurtosis - 1) / 4 * SR^2))``

    with ``SR`` and ``SR*`` per period (not annualised), ``T = n_obs`` returns, ``kurtosis``
    non-excess (3 = normal). A probability in ``[0, 1]``.
    Reference: PSR(SR=1.14, SR*=1, T=250, skew 0, kurtosis 3) = 0.95727.

    Edge cases: ``n_obs < 2``, any NaN input, or a non-positive variance term -> ``nan``.
    """
    if not n_obs >= 2:  # also catches NaN
        return float("nan")
    var = _sr_variance_term(sr, skew, kurtosis)
    if not var > 0:
        return float("nan")
    z = (sr - sr_benchmark) * np.sqrt(n_obs - 1.0) / np.sqrt(var)
    return float(stats.norm.cdf(z))


def expected_max_sharpe(trial_srs: ArrayLike) -> float:
    """Expected maximum of N Sharpe ratios under the null of no skill (Bailey & Lopez de Prado).

    ``E[max SR] = sqrt(V) * ((1 - g) * Phi^-1(1 - 1/N) + g * Phi^-1(1 - 1/(N e)))``

    with ``g`` the Euler-Mascheroni constant, ``N`` the number of trials (NaNs dropped) and
    ``V`` the variance of the trial Sharpe ratios **across trials, population convention
    (ddof=0)**. ddof=0 is the convention that reproduces the published reference
    DSR(1.14, [3.5, 1.01, 1.02], T=250) = 0.95836 (ddof=1 would give 0.152). Units: those of
    ``trial_srs`` (per period, to feed :func:`deflated_sharpe_ratio`).

    Edge cases: fewer than 2 trials -> ``0.0`` (nothing was selected among alternatives).
    """
    t = _as_1d(trial_srs, "trial_srs")
    n = t.size
    if n < 2:
        return 0.0
    sd = float(np.std(t, ddof=0))
    quantiles = (1.0 - EULER_GAMMA) * stats.norm.ppf(1.0 - 1.0 / n) + EULER_GAMMA * stats.norm.ppf(
        1.0 - 1.0 / (n * np.e)
    )
    return float(sd * quantiles)


def deflated_sharpe_ratio(
    sr: float, trial_srs: ArrayLike, n_obs: float, skew: float = 0.0, kurtosis: float = 3.0
) -> float:
    """PSR against the Sharpe ratio that the best of N skill-less trials would reach by luck.

    ``DSR = PSR(sr, expected_max_sharpe(trial_srs), n_obs, skew, kurtosis)``. ``trial_srs``
    holds the per-period Sharpe ratio of **every** configuration evaluated (including the one
    reported), in the same units as ``sr``. The variance of the trial SRs uses ddof=0 (see
    :func:`expected_max_sharpe`).
    Reference: DSR(1.14, [3.5, 1.01, 1.02], T=250) = 0.95836.

    Edge cases: fewer than 2 trials -> ``PSR(sr, 0, ...)``; otherwise as
    :func:`probabilistic_sharpe_ratio` (``nan`` for ``n_obs < 2``).
    """
    return probabilistic_sharpe_ratio(sr, expected_max_sharpe(trial_srs), n_obs, skew, kurtosis)


def min_track_record_length(
    sr: float,
    sr_benchmark: float,
    skew: float = 0.0,
    kurtosis: float = 3.0,
    alpha: float = 0.05,
) -> float:
    """Minimum number of observations for ``PSR(sr_benchmark) >= 1 - alpha``.

    ``MinTRL = 1 + (1 - skew * SR + (kurtosis - 1) / 4 * SR^2)
    * (Phi^-1(1 - alpha) / (SR - SR*))^2``

    with ``SR``, ``SR*`` per period; the result is a number of periods (not rounded).
    Reference: MinTRL(1.14, 1, 0, 3, alpha=0.05) = 228.73.

    Edge cases: ``sr <= sr_benchmark`` -> ``inf`` (no track record is long enough); NaN input
    or a non-positive variance term -> ``nan``. ``alpha`` outside (0, 1) raises ``ValueError``.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    var = _sr_variance_term(sr, skew, kurtosis)
    if np.isnan(var) or np.isnan(sr_benchmark) or not var > 0:
        return float("nan")
    if sr <= sr_benchmark:
        return float("inf")
    return float(1.0 + var * (stats.norm.ppf(1.0 - alpha) / (sr - sr_benchmark)) ** 2)
