"""Synthetic markets with a known, weak, regime-dependent edge (and a placebo twin).

``generate_market`` simulates a panel of tickers on one business-day calendar. A hidden Markov
chain over four regimes (bull, bear, volatile, sideways) sets each day's drift and volatility;
every ticker's shock is a common market factor plus idiosyncratic noise; and a small planted
term makes the next day's return partly predictable from the ticker's own past:

* bull and bear: short-horizon **momentum** (the trailing 5-day log return continues);
* sideways: **mean reversion** (the deviation of the log price from its 20-day mean reverts);
* volatile: nothing.

The planted term is a causal function of the ticker's own past closes only, so the standard
features (momentum 5/10/20/60, Bollinger position, RSI) can pick it up. A linear model that does
not know the regime sees momentum in some periods and reversal in others (partly cancelling); a
model with regime interactions can do better. The regimes' drifts are a second, slower source of
predictability (a trend follower can ride a persistent bull or bear drift).

``edge`` scales both: the planted term and the drifts. ``edge=0`` is the placebo, a random walk
whose volatility switches with the regime and whose prices are a martingale
(``E[close[t+1] / close[t] | past] = 1``), so no causal strategy has a positive expected return
before costs. Because every random draw depends only on ``seed`` (and the panel's shape),
``edge=0`` and ``edge=1`` with the same seed share the same regime path and shocks: the placebo
is an exact twin.

``Market.planted[t]`` is the planted part of the log return from day t to day t+1, so
``sign(planted[t])`` is the oracle's call for day t+1 and ``oracle_hit_rate`` scores it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from retrainlab.common.names import check_name
from retrainlab.engine.market import DATE_UNIT, Market
from retrainlab.engine.regimes import REGIMES, regime_series

__all__ = ["generate_market", "oracle_hit_rate", "stationary_distribution", "transition_matrix"]

# Defaults, one value per regime in REGIMES order (bull, bear, volatile, sideways).
DRIFT: tuple[float, ...] = (0.0008, -0.0010, -0.0003, 0.0)
VOL: tuple[float, ...] = (0.009, 0.014, 0.025, 0.007)
DURATION: tuple[float, ...] = (60.0, 30.0, 20.0, 40.0)
MOMENTUM: tuple[float, ...] = (0.06, 0.06, 0.0, 0.0)
REVERSION: tuple[float, ...] = (0.0, 0.0, 0.0, 0.055)
VOLUME_MULTIPLIER: tuple[float, ...] = (1.0, 1.3, 1.8, 0.8)

MIN_DAYS = 100


def _per_regime(
    name: str, values: Sequence[float], *, positive: bool = False, at_least: float | None = None
) -> np.ndarray:
    """Validate a per-regime parameter: 4 finite floats (in REGIMES order)."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{name} must be {len(REGIMES)} numbers (one per regime "
            f"{', '.join(REGIMES)}), got {values!r}"
        ) from exc
    if arr.shape != (len(REGIMES),):
        raise ValueError(
            f"{name} must have one value per regime ({', '.join(REGIMES)}), "
            f"got {len(arr.ravel())} value(s): {values!r}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {values!r}")
    if positive and np.any(arr <= 0):
        raise ValueError(f"{name} must be > 0 for every regime, got {values!r}")
    if at_least is not None and np.any(arr < at_least):
        raise ValueError(f"{name} must be >= {at_least:g} for every regime, got {values!r}")
    return arr


def transition_matrix(duration: Sequence[float] = DURATION) -> np.ndarray:
    """Daily regime transition matrix with expected stay ``duration[i]`` days in regime i.

    Regime i persists with probability ``1 - 1/duration[i]``; on leaving, each of the other
    three regimes is equally likely.
    """
    d = _per_regime("duration", duration, at_least=1.0)
    k = len(REGIMES)
    leave = 1.0 / d
    matrix = np.repeat((leave / (k - 1))[:, None], k, axis=1)
    np.fill_diagonal(matrix, 1.0 - leave)
    return matrix


def stationary_distribution(duration: Sequence[float] = DURATION) -> np.ndarray:
    """Long-run share of days in each regime for ``transition_matrix(duration)``.

    With uniform destinations on leaving, the jump chain is uniform, so the share of time in
    regime i is proportional to its expected duration.
    """
    d = _per_regime("duration", duration, at_least=1.0)
    return d / d.sum()


def _regime_path(
    rng: np.random.Generator, n_days: int, matrix: np.ndarray, initial: int | None
) -> np.ndarray:
    """Simulate the Markov chain; the first state from the stationary law unless given."""
    u = rng.random(n_days).tolist()
    k = len(REGIMES)
    cumulative = np.cumsum(matrix, axis=1)
    cumulative[:, -1] = 1.0  # guard against rounding
    rows = [cumulative[i].tolist() for i in range(k)]
    if initial is None:
        pi = np.cumsum(1.0 / (1.0 - np.diag(matrix)))  # stationary law ~ expected duration
        pi = (pi / pi[-1]).tolist()
        pi[-1] = 1.0
        state = _draw(pi, u[0])
    else:
        state = initial
    codes = [state]
    for t in range(1, n_days):
        state = _draw(rows[state], u[t])
        codes.append(state)
    return np.asarray(codes, dtype=np.int64)


def _draw(cumulative: list[float], u: float) -> int:
    """Index of the first cumulative probability above ``u`` (inverse-CDF draw)."""
    i = 0
    while u >= cumulative[i]:
        i += 1
    return i


def _as_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _as_float(name: str, value: Any, low: float, high: float = np.inf) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {value!r}")
    try:
        out = float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a number, got {value!r}") from exc
    if not (np.isfinite(out) and low <= out <= high):
        bound = f"in [{low:g}, {high:g}]" if np.isfinite(high) else f">= {low:g}"
        raise ValueError(f"{name} must be finite and {bound}, got {value!r}")
    return out


def generate_market(
    seed: int,
    n_days: int = 1000,
    n_tickers: int = 10,
    edge: float = 1.0,
    *,
    drift: Sequence[float] = DRIFT,
    vol: Sequence[float] = VOL,
    duration: Sequence[float] = DURATION,
    momentum: Sequence[float] = MOMENTUM,
    reversion: Sequence[float] = REVERSION,
    momentum_window: int = 5,
    reversion_window: int = 20,
    market_correlation: float = 0.3,
    volume_multiplier: Sequence[float] = VOLUME_MULTIPLIER,
    base_volume: float = 1e6,
    volume_noise: float = 0.25,
    gap_scale: float = 0.3,
    range_scale: float = 0.5,
    initial_regime: str | None = None,
    start: str = "2010-01-04",
    ticker_prefix: str = "SYN",
) -> Market:
    """Simulate a regime-switching panel of daily OHLCV bars with a weak planted edge.

    Parameters
    ----------
    seed : int
        Seed of ``numpy.random.default_rng``; the only source of randomness. Every draw depends
        on ``seed``, ``n_days`` and ``n_tickers`` only, so markets that differ only in ``edge``
        (or in another non-shape parameter) share the same regime path and shocks.
    n_days : int, default 1000
        Trading days (rows), at least 100.
    n_tickers : int, default 10
        Tickers (columns), at least 1; named ``SYN00``, ``SYN01``, ...
    edge : float, default 1.0
        Scale of the predictability: the planted coefficients and the drifts are multiplied
        by ``edge``. ``0`` is the placebo (``planted`` all zero, no drift: a martingale). The
        planted term grows about linearly up to ``edge=1`` and faster above (momentum feeds
        back into the returns it reads).
    drift, vol : 4 floats, defaults ``DRIFT``, ``VOL``
        Daily drift (expected simple return, before ``edge`` scaling) and volatility (of log
        returns) per regime, in REGIMES order: bull, bear, volatile, sideways.
    duration : 4 floats, default ``DURATION``
        Expected stay in each regime, in days (>= 1): regime i persists with probability
        ``1 - 1/duration[i]`` and otherwise jumps to one of the other three, equally likely.
        The first day's regime is drawn from the stationary law (share ~ duration).
    momentum : 4 floats, default ``MOMENTUM``
        Planted coefficient on the trailing ``momentum_window``-day log return.
    reversion : 4 floats, default ``REVERSION``
        Planted coefficient on minus the deviation of the log close from its
        ``reversion_window``-day mean.
    momentum_window, reversion_window : int, defaults 5 and 20
        Windows of the two planted signals (days). ``planted`` is zero until both are full.
    market_correlation : float in [0, 1], default 0.3
        Share of each ticker's shock variance that comes from the common market factor.
    volume_multiplier : 4 floats > 0, default ``VOLUME_MULTIPLIER``
        Volume level per regime relative to a ticker's base volume.
    base_volume : float > 0, default 1e6
        Median daily volume (each ticker gets its own log-normal level around it).
    volume_noise : float >= 0, default 0.25
        Log-normal day-to-day noise of volume (volume also rises with the size of the day's
        shock).
    gap_scale, range_scale : float >= 0, defaults 0.3 and 0.5
        Open gap and high/low excursion, in units of the day's volatility.
    initial_regime : str or None, default None
        Force the first day's regime (one of ``REGIMES``); None draws it.
    start : str, default ``"2010-01-04"``
        First business day of the calendar (fixed so results are byte-stable).
    ticker_prefix : str, default ``"SYN"``

    Returns
    -------
    Market
        ``close[t] = close[t-1] * exp(r[t])`` with, for ticker j,
        ``r[t] = edge * drift[s_t] - vol[s_t]**2 / 2 + vol[s_t] * (sqrt(rho) f_t
        + sqrt(1 - rho) e_tj) + planted[t-1]`` (the ``-vol**2 / 2`` makes ``edge * drift`` the
        expected simple return), ``s_t`` the regime, ``rho = market_correlation``, ``f`` and
        ``e`` standard normal, and
        ``planted[t] = edge * (momentum[s_t] * (log c_t - log c_{t-5})
        - reversion[s_t] * (log c_t - mean(log c_{t-19..t})))``: a causal function of the
        ticker's own closes and today's regime. ``.regimes`` is the true regime path (names),
        ``.planted`` the planted term, ``.params`` every argument.

    Regime table (defaults; drift, momentum and reversion are multiplied by ``edge``)
    ---------------------------------------------------------------------------------
    ========  ===========  =========  ========  =========  ========  ==========  ========
    regime    drift / day  vol / day  momentum  reversion  duration  stay prob.  volume x
    ========  ===========  =========  ========  =========  ========  ==========  ========
    bull      +0.08%       0.9%       0.06      0          60 days   0.983       1.0
    bear      -0.10%       1.4%       0.06      0          30 days   0.967       1.3
    volatile  -0.03%       2.5%       0         0          20 days   0.950       1.8
    sideways  0%           0.7%       0         0.055      40 days   0.975       0.8
    ========  ===========  =========  ========  =========  ========  ==========  ========

    The edge is deliberately weak. Oracle hit rate at edge=1 (default parameters, 1000 days x
    10 tickers, mean over seeds 0-19; see ``oracle_hit_rate``): 1-day 55.2%, 5-day 57.5%.
    At ``edge=0`` the oracle abstains (``oracle_hit_rate`` is nan).

    A linear model without regime inputs sees momentum in bull/bear and reversal in sideways
    (correlated features, opposite signs: they partly cancel); regime interactions can separate
    them. OHLC bars are consistent (low <= min(open, close), max(open, close) <= high) and
    volume is positive, higher in the volatile and bear regimes.

    Examples
    --------
    >>> m = generate_market(seed=0, n_days=250, n_tickers=3)
    >>> m.close.shape, m.regimes.iloc[0] in REGIMES
    ((250, 3), True)
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    n_days = _as_int("n_days", n_days, MIN_DAYS)
    n_tickers = _as_int("n_tickers", n_tickers, 1)
    edge = _as_float("edge", edge, 0.0)
    mu = _per_regime("drift", drift)
    sigma = _per_regime("vol", vol, positive=True)
    matrix = transition_matrix(duration)
    mom = _per_regime("momentum", momentum)
    rev = _per_regime("reversion", reversion)
    vol_mult = _per_regime("volume_multiplier", volume_multiplier, positive=True)
    mom_window = _as_int("momentum_window", momentum_window, 1)
    rev_window = _as_int("reversion_window", reversion_window, 2)
    rho = _as_float("market_correlation", market_correlation, 0.0, 1.0)
    # The planted momentum feeds each day's return back into the next momentum_window days with
    # coefficient edge*momentum: within a long momentum regime that autoregression is explosive
    # once the coefficients sum to 1, and prices overflow. Refuse rather than return inf.
    feedback = edge * float(np.max(mom)) * mom_window
    if feedback >= 1.0:
        raise ValueError(
            f"edge={edge:g} with momentum={max(mom):g} over {mom_window} days makes the planted "
            f"momentum explosive (edge * momentum * momentum_window = {feedback:.2f} >= 1): "
            f"use edge < {1.0 / (float(np.max(mom)) * mom_window):.2f} with these coefficients"
        )
    base_volume = _as_float("base_volume", base_volume, np.finfo(float).tiny)
    volume_noise = _as_float("volume_noise", volume_noise, 0.0)
    gap_scale = _as_float("gap_scale", gap_scale, 0.0)
    range_scale = _as_float("range_scale", range_scale, 0.0)
    initial = None
    if initial_regime is not None:
        initial = REGIMES.index(check_name(initial_regime, REGIMES, "initial_regime"))
    try:
        start_ts = pd.Timestamp(start)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"start must be a date such as '2010-01-04', got {start!r}") from exc
    if pd.isna(start_ts):
        raise ValueError(f"start must be a date such as '2010-01-04', got {start!r}")

    rng = np.random.default_rng(seed)
    n, k = n_days, n_tickers
    # --- all random draws, in a fixed order, independent of edge and the other scales ---
    codes = _regime_path(rng, n, matrix, initial)
    z_market = rng.standard_normal(n)
    z_own = rng.standard_normal((n, k))
    z_gap = rng.standard_normal((n, k))
    z_high = rng.standard_normal((n, k))
    z_low = rng.standard_normal((n, k))
    z_volume = rng.standard_normal((n, k))
    z_level = rng.standard_normal(k)
    u_price = rng.random(k)

    day_sigma = sigma[codes][:, None]
    shock = np.sqrt(rho) * z_market[:, None] + np.sqrt(1.0 - rho) * z_own  # standard normal
    base = edge * mu[codes][:, None] - 0.5 * day_sigma**2 + day_sigma * shock
    base[0] = 0.0
    log_close = np.empty((n, k))
    log_close[0] = np.log(20.0) + np.log(10.0) * u_price  # first close in [20, 200)
    planted = np.zeros((n, k))
    if edge == 0.0:
        log_close[1:] = log_close[0] + np.cumsum(base[1:], axis=0)
    else:
        _simulate_planted(
            log_close, planted, base, edge * mom[codes], edge * rev[codes], mom_window, rev_window
        )

    close = np.exp(log_close)
    prev_close = np.concatenate([close[:1], close[:-1]])
    open_ = prev_close * np.exp(gap_scale * day_sigma * z_gap)
    high = np.maximum(open_, close) * np.exp(range_scale * day_sigma * np.abs(z_high))
    low = np.minimum(open_, close) * np.exp(-range_scale * day_sigma * np.abs(z_low))
    level = base_volume * np.exp(0.5 * z_level)
    volume = (
        level[None, :]
        * vol_mult[codes][:, None]
        * np.exp(volume_noise * z_volume - 0.5 * volume_noise**2)
        * (0.5 + 0.5 * np.abs(shock))
    )
    volume = np.maximum(np.round(volume), 1.0)

    dates = pd.bdate_range(start=start_ts, periods=n, name="date").as_unit(DATE_UNIT)
    width = max(2, len(str(k - 1)))
    tickers = tuple(f"{ticker_prefix}{j:0{width}d}" for j in range(k))
    params: dict[str, Any] = {
        "generator": "retrainlab.synthetic.generate_market",
        "seed": int(seed),
        "n_days": n,
        "n_tickers": k,
        "edge": edge,
        "drift": mu.tolist(),
        "vol": sigma.tolist(),
        "duration": [float(x) for x in _per_regime("duration", duration)],
        "momentum": mom.tolist(),
        "reversion": rev.tolist(),
        "momentum_window": mom_window,
        "reversion_window": rev_window,
        "market_correlation": rho,
        "volume_multiplier": vol_mult.tolist(),
        "base_volume": base_volume,
        "volume_noise": volume_noise,
        "gap_scale": gap_scale,
        "range_scale": range_scale,
        "initial_regime": initial_regime,
        "start": str(start_ts.date()),
        "ticker_prefix": ticker_prefix,
    }
    return Market(
        dates=dates,
        tickers=tickers,
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=volume,
        regimes=regime_series(codes, dates),
        planted=planted,
        name=f"synthetic(seed={seed}, edge={edge:g})",
        params=params,
    )


def _simulate_planted(
    log_close: np.ndarray,
    planted: np.ndarray,
    base: np.ndarray,
    mom_coef: np.ndarray,
    rev_coef: np.ndarray,
    mom_window: int,
    rev_window: int,
) -> None:
    """Fill ``log_close`` and ``planted`` in place: one step per day, all tickers at once.

    ``planted[t]`` depends on closes up to t and joins the return of day t+1, so the loop over
    days is inherent (the planted part feeds back into the prices it is computed from).
    """
    n = log_close.shape[0]
    first = max(mom_window, rev_window - 1)  # first day with both windows full
    active = (mom_coef != 0.0) | (rev_coef != 0.0)
    mom_list, rev_list, active_list = mom_coef.tolist(), rev_coef.tolist(), active.tolist()
    previous = log_close[0]
    carry = planted[0]
    for t in range(1, n):
        current = previous + base[t] + carry
        log_close[t] = current
        if t >= first and active_list[t]:
            signal = np.zeros_like(current)
            if mom_list[t] != 0.0:
                signal += mom_list[t] * (current - log_close[t - mom_window])
            if rev_list[t] != 0.0:
                window_mean = log_close[t - rev_window + 1 : t + 1].mean(axis=0)
                signal -= rev_list[t] * (current - window_mean)
            planted[t] = signal
        carry = planted[t]
        previous = current


def oracle_hit_rate(market: Market, horizon: int = 1) -> float:
    """Share of oracle calls that get the direction of the next ``horizon`` days right.

    The oracle calls ``sign(planted[t])`` at the close of day t and is scored against
    ``sign(log(close[t+horizon] / close[t]))``, pooled over tickers and days. Days where the
    planted term is exactly zero (warm-up, volatile regime, placebo) are abstentions and are not
    counted; with no calls at all (``edge=0``) the result is nan.

    This is the ceiling for any model of the planted edge (it knows the true regime and the
    exact rule); ``generate_market``'s docstring states its value at ``edge=1``.
    """
    if market.planted is None:
        raise ValueError(
            f"market {market.name!r} has no planted signal (only synthetic "
            "markets from generate_market do)"
        )
    horizon = _as_int("horizon", horizon, 1)
    if horizon >= market.n_days:
        raise ValueError(
            f"horizon={horizon} leaves no scored days in a market of {market.n_days} days"
        )
    forward = np.log(market.close[horizon:] / market.close[:-horizon])
    call = np.sign(market.planted[:-horizon])
    scored = call != 0
    if not scored.any():
        return float("nan")
    return float(np.mean(call[scored] == np.sign(forward[scored])))
