"""Walk-forward backtest of one retraining system on one market, causal by construction.

Protocol (see ``docs/methodology.md``, "Walk-forward protocol"):

* **Features** are computed once per market (``retrainlab.features``), and so are the detected
  regimes (``fixes.regime_awareness.detect_regimes``) and the model's design matrix for every
  (day, ticker). All tickers share one pooled model.
* **Label** of the sample (t, ticker): ``close[t+h] / close[t] > 1``, ``h = config.horizon``.
* **Schedule.** The first decision date is ``d0 = max(config.warmup, MIN_HISTORY - 1)`` (the
  first row with every feature); decisions every ``h`` days from there, refits every
  ``retrain_every`` days from there (``d0, d0 + r, ...``). Both grids start at ``d0`` and never
  depend on the length of the data, so truncating or perturbing data after T changes nothing at
  or before T (tested for all 64 fix combinations).
* **Training at refit date R** (at R's close): samples t with ``R - train_window <= t`` and
  ``t + h <= R`` (purged: every label is known at R), features defined. With
  ``profit_weighted_loss`` they are weighted by ``|forward return|`` scaled to mean 1 over the
  window. With ``feedback_loop`` the system's own trades that closed strictly before R (and
  entered inside the window), plus any ``outcomes`` given, are appended as extra samples with the
  feedback label and weight. The pipeline's scaler is fit on this training set only.
* **Decisions** at date T (at T's close) use the latest model fit at a refit date ``<= T``:
  ``p`` = its probability that ``close[T+h] > close[T]``; long if ``p`` is above the long
  threshold, short if below the short threshold, else neutral. Thresholds are static (OLD) or
  from ``AdaptiveThresholds`` fed with every probability of earlier decision dates (NEW).
* **Positions.** A position opened at T's close has size 1 (or ``bet_size(p)`` with
  ``confidence_sizing``), is held to T+h's close (when the next decision replaces it) and is
  marked to market daily. ``positions`` row t is the book held from t's close to t+1's close.
  Each ticker has weight ``1 / n_tickers``; positions are constant weights (rebalanced daily,
  without charging for that drift).
* **Returns.** Day t: ``mean_j(positions[t-1, j] * simple_return[t, j])`` minus
  ``cost_bps / 1e4`` times the day's turnover ``mean_j |positions[t, j] - positions[t-1, j]|``.
  The series starts at ``d0``.

Decisions the protocol leaves open:

* Before the first successful fit every decision is neutral (no model, no opinion).
* A refit whose training set has fewer than ``min_train_samples`` samples or one class only is
  skipped and the previous model stays in use (what a production system would do); the skip is
  recorded in ``result.fits``.
* A (day, ticker) whose features are not all finite gets no probability (NaN) and is neutral.
* A trade is "closed" when its exit date T+h is inside the data; the last positions, still open
  at the end, are in ``positions`` and ``returns`` but not in ``trades``.
* ``trades.pnl_pct`` is the underlying's return over the trade signed by direction (unsized);
  ``trades.trade_return = size * pnl_pct`` is what the trade contributed per unit of ticker
  weight, before costs; ``trade_metrics`` is computed on ``trade_return``.
* Trade confidence is ``|m(p)|`` (AFML ch. 10) for every system; only ``confidence_sizing``
  uses it for size.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from threadpoolctl import ThreadpoolController

from retrainlab.engine.config import RetrainConfig
from retrainlab.engine.features import FEATURE_NAMES, MIN_HISTORY, compute_features
from retrainlab.engine.fixes.adaptive_thresholds import (
    AdaptiveThresholds,
    signal_codes,
    static_thresholds,
)
from retrainlab.engine.fixes.confidence_sizing import confidence, position_size
from retrainlab.engine.fixes.feedback_loop import (
    TradeOutcome,
    outcome_label,
    outcome_weight,
    signed_pnl,
)
from retrainlab.engine.fixes.profit_weighted_loss import training_weights
from retrainlab.engine.fixes.regime_awareness import (
    detect_market_regimes,
    detect_regimes,
    regime_names,
)
from retrainlab.engine.market import Market
from retrainlab.engine.model import can_fit, design_columns, design_matrix, fit_model, predict_proba

__all__ = ["WalkForwardResult", "decision_days", "refit_days", "walk_forward"]

SIDES = np.array(["short", "neutral", "long"], dtype=object)  # index: code + 1


@dataclass(eq=False)
class WalkForwardResult:
    """Everything one walk-forward run produced.

    Attributes
    ----------
    config : the ``RetrainConfig`` that ran.
    market_name : ``Market.name``.
    returns : daily net portfolio returns from the first decision date (``pd.Series``).
    positions : (dates x tickers) signed size held from each date's close to the next.
    probabilities : (dates x tickers) the model's P(close[t+h] > close[t]); NaN where no decision
        or no model.
    signals : (decision dates x tickers) "long" / "short" / "neutral".
    thresholds : (decision dates) ``long_threshold`` and ``short_threshold`` in force.
    trades : one row per closed position: ticker, entry_date, exit_date, side, size, prob,
        confidence, regime, entry_price, exit_price, pnl_pct, trade_return.
    regimes : (dates x tickers) detected regime names (None where undefined).
    market_regimes : detected regime of the equal-weight index, per date (for comparing with
        ``Market.regimes``).
    fits : one row per refit date: date, fitted, n_market, n_feedback, n_positive, n_iter,
        seconds.
    coefficients : (fit dates x design columns + "intercept") coefficients of each fitted model
        (in the scaler's standardised units).
    metrics : plain floats: ``metrics.portfolio_metrics`` of ``returns`` (positions from the
        first decision date), ``metrics.trade_metrics`` of ``trades.trade_return``, signal counts
        (``n_long``, ``n_short``, ``n_neutral``, ``buy_sell_ratio``), ``hit_rate`` (share of
        decisions with a probability and a known outcome where ``sign(p - 0.5)`` matches the
        realised h-day direction; neutral decisions included: it scores the model, not the
        thresholds), ``n_scored_decisions`` and ``n_fits``.
    fit_seconds, total_seconds : time inside ``fit_model`` and in the whole run.
    features : (n_days, n_tickers, n_features) base features (``FEATURE_NAMES``).
    """

    config: RetrainConfig
    market_name: str
    returns: pd.Series
    positions: pd.DataFrame
    probabilities: pd.DataFrame
    signals: pd.DataFrame
    thresholds: pd.DataFrame
    trades: pd.DataFrame
    regimes: pd.DataFrame
    market_regimes: pd.Series
    fits: pd.DataFrame
    coefficients: pd.DataFrame
    metrics: dict[str, float]
    fit_seconds: float
    total_seconds: float
    features: np.ndarray = field(repr=False)

    @property
    def fit_dates(self) -> list[pd.Timestamp]:
        """Dates at which a model was actually fitted."""
        return list(self.fits.loc[self.fits["fitted"], "date"])

    @property
    def fit_share(self) -> float:
        """Share of the run's wall time spent inside model fits."""
        return self.fit_seconds / self.total_seconds if self.total_seconds > 0 else float("nan")

    def trade_outcomes(self) -> list[TradeOutcome]:
        """The closed trades as ``TradeOutcome`` records (features and regime at entry)."""
        tickers = list(self.positions.columns)
        day = {d: i for i, d in enumerate(self.positions.index)}
        codes = {name: i for i, name in enumerate(("bull", "bear", "volatile", "sideways"))}
        out = []
        for row in self.trades.itertuples(index=False):
            out.append(
                TradeOutcome(
                    symbol=row.ticker,
                    direction=row.side,
                    entry_price=row.entry_price,
                    exit_price=row.exit_price,
                    size=row.size,
                    entry_time=row.entry_date,
                    exit_time=row.exit_date,
                    features=self.features[day[row.entry_date], tickers.index(row.ticker)],
                    regime=codes.get(row.regime, -1),
                    probability=row.prob,
                    confidence=row.confidence,
                )
            )
        return out

    def summary(self) -> pd.Series:
        """``metrics`` as a Series named after the config's label."""
        return pd.Series(self.metrics, name=self.config.label)

    def __repr__(self) -> str:
        m = self.metrics
        return (
            f"WalkForwardResult({self.config.label} on {self.market_name}: "
            f"{len(self.returns)} days, {len(self.trades)} trades, "
            f"sharpe={m.get('sharpe_ratio', float('nan')):.3f}, "
            f"{int(self.fits['fitted'].sum())} fits)"
        )


def first_decision_day(config: RetrainConfig) -> int:
    """Row of the first decision: ``max(config.warmup, MIN_HISTORY - 1)``."""
    return max(config.warmup, MIN_HISTORY - 1)


def decision_days(n_days: int, config: RetrainConfig) -> np.ndarray:
    """Rows of the decision dates: every ``horizon`` days from ``first_decision_day``."""
    return np.arange(first_decision_day(config), n_days, config.horizon)


def refit_days(n_days: int, config: RetrainConfig) -> np.ndarray:
    """Rows of the refit dates: every ``retrain_every`` days from ``first_decision_day``."""
    return np.arange(first_decision_day(config), n_days, config.retrain_every)


class _Outcomes:
    """Columnar store of external ``TradeOutcome`` s, for fast filtering at each refit."""

    def __init__(
        self,
        outcomes: Iterable[TradeOutcome] | None,
        market: Market,
        features: np.ndarray,
        regimes: np.ndarray,
        config: RetrainConfig,
    ) -> None:
        rows_x, rows_r, labels, weights, entries, exits = [], [], [], [], [], []
        tickers = {t: j for j, t in enumerate(market.tickers)}
        day = {d: i for i, d in enumerate(market.dates)}
        for o in outcomes or ():
            x, regime = o.features, o.regime
            if x is None:  # look the features up in this market, if it has that bar
                i, j = day.get(pd.Timestamp(o.entry_time)), tickers.get(o.symbol)
                if i is None or j is None:
                    continue
                x = features[i, j]
                regime = regime if regime >= 0 else int(regimes[i, j])
            if not np.all(np.isfinite(x)):
                continue
            rows_x.append(x)
            rows_r.append(regime)
            labels.append(o.label)
            weights.append(o.weight_for(config))
            entries.append(pd.Timestamp(o.entry_time).to_datetime64())
            exits.append(pd.Timestamp(o.exit_time).to_datetime64())
        self.n = len(rows_x)
        self.features = np.array(rows_x, dtype=np.float64).reshape(self.n, len(FEATURE_NAMES))
        self.regimes = np.array(rows_r, dtype=np.int64)
        self.labels = np.array(labels, dtype=np.int64)
        self.weights = np.array(weights, dtype=np.float64)
        self.entry = np.array(entries, dtype="datetime64[ns]")
        self.exit = np.array(exits, dtype="datetime64[ns]")

    def select(self, before: np.datetime64, since: np.datetime64) -> np.ndarray:
        return (self.exit < before) & (self.entry >= since)


def walk_forward(
    market: Market,
    config: RetrainConfig,
    progress: bool = False,
    outcomes: Sequence[TradeOutcome] | None = None,
) -> WalkForwardResult:
    """Run the walk-forward backtest of ``config`` on ``market``.

    Parameters
    ----------
    market : the panel to trade (every price finite and positive).
    config : the system (``OLD``, ``NEW`` or any variant).
    progress : show a progress bar over refit dates (tqdm).
    outcomes : extra closed trades (e.g. recorded live) fed to the feedback loop, used only if
        ``config.feedback_loop``; each is used at the refits after its exit time and inside the
        training window. Outcomes without features take this market's features at their entry
        date, or are dropped if the market has no such bar.

    Returns
    -------
    WalkForwardResult. The same market and config give identical results, bit for bit.
    """
    if not isinstance(market, Market):
        raise TypeError(f"market must be a retrainlab.Market, got {type(market).__name__}")
    if not isinstance(config, RetrainConfig):
        raise TypeError(f"config must be a RetrainConfig, got {type(config).__name__}")
    started = time.perf_counter()
    # Small matrices: one BLAS/OpenMP thread is fastest and never oversubscribes a shared
    # machine (or joblib workers); inputs are validated once, by compute_features.
    with _threadpools().limit(limits=1), sklearn.config_context(assume_finite=True):
        state = _run(market, config, progress, outcomes)
    return _assemble(market, config, state, started)


# ---------------------------------------------------------------------------- the engine


@functools.cache
def _threadpools() -> ThreadpoolController:
    """The process's BLAS/OpenMP thread pools (inspected once)."""
    return ThreadpoolController()


def _run(
    market: Market, config: RetrainConfig, progress: bool, outcomes: Sequence[TradeOutcome] | None
) -> dict[str, Any]:
    close = np.asarray(market.close, dtype=np.float64)
    n, k = close.shape
    h, window = config.horizon, config.train_window
    features = compute_features(market.open, market.high, market.low, close, market.volume)
    codes = detect_regimes(close)
    n_feat = features.shape[-1]
    flat_x = design_matrix(features.reshape(n * k, n_feat), codes.reshape(n * k), config)
    valid = np.isfinite(flat_x).all(axis=1)

    forward = np.full((n, k), np.nan)
    if n > h:
        forward[: n - h] = close[h:] / close[:-h] - 1.0
    flat_forward = forward.reshape(n * k)
    flat_label = (flat_forward > 0).astype(np.int64)

    days = decision_days(n, config)
    refits = refit_days(n, config)
    n_dec = len(days)
    positions = np.zeros((n, k))
    probs = np.full((n_dec, k), np.nan)
    sig = np.zeros((n_dec, k), dtype=np.int64)
    thresholds = np.empty((n_dec, 2))

    # own trades, in decision order: (decision number, ticker) of every non-neutral decision
    tr_dec = np.empty(n_dec * k, dtype=np.int64)
    tr_tic = np.empty(n_dec * k, dtype=np.int64)
    n_tr = 0
    external = (
        _Outcomes(outcomes, market, features, codes, config)
        if config.feedback_loop and outcomes
        else None
    )
    adaptive = AdaptiveThresholds(config) if config.adaptive_thresholds else None
    static = static_thresholds(config)
    dates = market.dates.values

    model = None
    fit_log: list[tuple] = []
    coefs: list[np.ndarray] = []
    fit_seconds = 0.0
    ticker_range = np.arange(k)
    bounds = np.searchsorted(days, refits)  # first decision of each refit segment
    segments = range(len(refits))
    if progress:
        from tqdm.auto import tqdm

        segments = tqdm(segments, desc=f"walk_forward {config.label}", unit="refit")
    for s in segments:
        refit = int(refits[s])
        # ---- training set at the close of `refit` (purged: t + h <= refit)
        lo, hi = max(refit - window, 0), refit - h
        rows = slice(lo * k, (hi + 1) * k) if hi >= lo else slice(0, 0)
        ok = valid[rows]
        X, y, fwd = flat_x[rows], flat_label[rows], flat_forward[rows]
        if not ok.all():
            X, y, fwd = X[ok], y[ok], fwd[ok]
        w = training_weights(fwd, config)
        n_market, n_feedback = len(y), 0
        if config.feedback_loop:
            own = tr_dec[:n_tr]
            entry = days[own]
            use = (entry + h < refit) & (entry >= lo)
            parts_x, parts_y, parts_w = [], [], []
            if use.any():
                e, j = entry[use], tr_tic[:n_tr][use]
                sign = sig[own[use], j].astype(np.float64)
                p0, p1 = close[e, j], close[e + h, j]
                parts_x.append(design_matrix(features[e, j], codes[e, j], config))
                parts_y.append(outcome_label(p0, p1))
                parts_w.append(outcome_weight(signed_pnl(sign, p0, p1), config))
            if external is not None and external.n:
                sel = external.select(dates[refit], dates[lo])
                if sel.any():
                    parts_x.append(
                        design_matrix(external.features[sel], external.regimes[sel], config)
                    )
                    parts_y.append(external.labels[sel])
                    parts_w.append(external.weights[sel])
            if parts_x:
                n_feedback = sum(len(p) for p in parts_y)
                X = np.concatenate([X, *parts_x])
                y = np.concatenate([y, *parts_y])
                w = np.concatenate([np.ones(n_market) if w is None else w, *parts_w])
        fitted = can_fit(y, config)
        n_iter, seconds = 0, 0.0
        if fitted:
            t0 = time.perf_counter()
            model = fit_model(X, y, w, config)
            seconds = time.perf_counter() - t0
            fit_seconds += seconds
            logit = model[-1]
            n_iter = int(logit.n_iter_[0])
            coefs.append(np.append(logit.coef_[0], logit.intercept_[0]))
        fit_log.append((refit, fitted, n_market, n_feedback, int(y.sum()), n_iter, seconds))

        # ---- decisions of this segment, predicted in one call
        first = bounds[s]
        last = bounds[s + 1] if s + 1 < len(refits) else n_dec
        if first == last:
            continue
        seg_days = days[first:last]
        if model is not None:
            seg_rows = (seg_days[:, None] * k + ticker_range).ravel()
            ok = valid[seg_rows]
            p = np.full(len(seg_rows), np.nan)
            if ok.any():
                p[ok] = predict_proba(model, flat_x[seg_rows[ok]])
            probs[first:last] = p.reshape(-1, k)
        for i in range(first, last):
            t = int(days[i])
            p = probs[i]
            long_t, short_t = adaptive.thresholds if adaptive is not None else static
            thresholds[i] = long_t, short_t
            code = signal_codes(p, long_t, short_t)
            sig[i] = code
            if adaptive is not None:
                adaptive.observe(p)
            traded = np.flatnonzero(code)
            if traded.size:
                positions[t : t + h, traded] = code[traded] * position_size(p[traded], config)
                tr_dec[n_tr : n_tr + traded.size] = i
                tr_tic[n_tr : n_tr + traded.size] = traded
                n_tr += traded.size

    return {
        "features": features,
        "codes": codes,
        "forward": forward,
        "days": days,
        "positions": positions,
        "probs": probs,
        "sig": sig,
        "thresholds": thresholds,
        "tr_dec": tr_dec[:n_tr],
        "tr_tic": tr_tic[:n_tr],
        "fit_log": fit_log,
        "coefs": coefs,
        "fit_seconds": fit_seconds,
    }


# ---------------------------------------------------------------------------- outputs


def _assemble(
    market: Market, config: RetrainConfig, st: dict[str, Any], started: float
) -> WalkForwardResult:
    close = np.asarray(market.close, dtype=np.float64)
    n, k = close.shape
    h = config.horizon
    dates, tickers = market.dates, list(market.tickers)
    days, positions, probs, sig = st["days"], st["positions"], st["probs"], st["sig"]
    d0 = first_decision_day(config)

    # daily portfolio returns: yesterday's book times today's move, minus trading costs
    simple = np.zeros((n, k))
    simple[1:] = close[1:] / close[:-1] - 1.0
    held = np.zeros((n, k))
    held[1:] = positions[:-1]
    trade = np.abs(np.diff(positions, axis=0, prepend=0.0))
    net = (held * simple).sum(axis=1) / k - config.cost_bps * 1e-4 * trade.sum(axis=1) / k
    start = min(d0, n)
    returns = pd.Series(net[start:], index=dates[start:], name=config.label)

    full_probs = np.full((n, k), np.nan)
    full_probs[days] = probs
    dec_dates = dates[days]

    # closed trades
    dec, tic = st["tr_dec"], st["tr_tic"]
    entry = days[dec]
    closed = entry + h <= n - 1
    dec, tic, entry = dec[closed], tic[closed], entry[closed]
    exit_ = entry + h
    side = sig[dec, tic]
    prob = probs[dec, tic]
    size = np.abs(positions[entry, tic])
    p0, p1 = close[entry, tic], close[exit_, tic]
    pnl = signed_pnl(side.astype(np.float64), p0, p1)
    trades = pd.DataFrame(
        {
            "ticker": np.array(tickers, dtype=object)[tic],
            "entry_date": dates[entry],
            "exit_date": dates[exit_],
            "side": SIDES[side + 1],
            "size": size,
            "prob": prob,
            "confidence": confidence(prob),
            "regime": regime_names(st["codes"][entry, tic]),
            "entry_price": p0,
            "exit_price": p1,
            "pnl_pct": pnl,
            "trade_return": size * pnl,
        }
    )

    fits = pd.DataFrame(
        st["fit_log"],
        columns=["day", "fitted", "n_market", "n_feedback", "n_positive", "n_iter", "seconds"],
    )
    fits.insert(0, "date", dates[fits["day"].to_numpy(dtype=np.int64)])
    fits = fits.drop(columns="day")
    fit_dates = fits.loc[fits["fitted"], "date"]
    columns = [*design_columns(config), "intercept"]
    coefficients = pd.DataFrame(
        np.array(st["coefs"]).reshape(len(st["coefs"]), len(columns)),
        index=pd.DatetimeIndex(fit_dates, name="date"),
        columns=columns,
    )

    # hit rate of decisions: sign(p - 0.5) against the realised h-day direction
    fwd = st["forward"][days]
    scored = np.isfinite(probs) & np.isfinite(fwd) & (probs != 0.5) & (fwd != 0)
    hits = np.sign(probs[scored] - 0.5) == np.sign(fwd[scored])
    metrics = _metrics(returns, positions[start:], trades["trade_return"].to_numpy(), sig)
    metrics["hit_rate"] = float(hits.mean()) if hits.size else float("nan")
    metrics["n_scored_decisions"] = float(hits.size)
    metrics["n_fits"] = float(len(fit_dates))

    result = WalkForwardResult(
        config=config,
        market_name=market.name,
        returns=returns,
        positions=pd.DataFrame(positions, index=dates, columns=tickers),
        probabilities=pd.DataFrame(full_probs, index=dates, columns=tickers),
        signals=pd.DataFrame(SIDES[sig + 1], index=dec_dates, columns=tickers),
        thresholds=pd.DataFrame(
            st["thresholds"], index=dec_dates, columns=["long_threshold", "short_threshold"]
        ),
        trades=trades,
        regimes=pd.DataFrame(regime_names(st["codes"]), index=dates, columns=tickers),
        market_regimes=pd.Series(
            regime_names(detect_market_regimes(close)), index=dates, name="detected_regime"
        ),
        fits=fits,
        coefficients=coefficients,
        metrics=metrics,
        fit_seconds=st["fit_seconds"],
        total_seconds=0.0,
        features=st["features"],
    )
    result.total_seconds = time.perf_counter() - started
    return result


def _metrics(
    returns: pd.Series, positions: np.ndarray, trade_returns: np.ndarray, sig: np.ndarray
) -> dict[str, float]:
    """Portfolio, trade and signal summaries (``retrainlab.metrics``), as one flat dict."""
    from retrainlab.analytics import metrics as m

    out = dict(m.portfolio_metrics(returns.to_numpy(), positions))
    out.update(m.trade_metrics(trade_returns))
    n_long, n_short = float(np.sum(sig > 0)), float(np.sum(sig < 0))
    out.update(
        {
            "n_long": n_long,
            "n_short": n_short,
            "n_neutral": float(sig.size) - n_long - n_short,
            "buy_sell_ratio": (
                n_long / n_short if n_short else (float("inf") if n_long else float("nan"))
            ),
        }
    )
    return out
