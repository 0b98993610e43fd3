"""Walk-forward backtest of one retraining system on one market, causal by construction.

Protocol (docs/methodology.md, "Walk-forward"). The loop is six named steps: per refit segment
``refit`` (training set and fit, ``retrainlab.engine.training``), ``predict``, ``decide``
(thresholds and signals) and ``open_positions`` (the book), then once at the end
``mark_to_market`` and ``trade_fills``, closing the trades (``retrainlab.engine.results``). What
a fix changes enters through the hooks (``retrainlab.engine.hooks``); this module never asks
which fixes are on. Position sizes reach no earlier step: the refits learn from their own
trades' signs, never their sizes (``own_outcomes``), so two systems that differ only in the
``position_size`` hook share every step before ``open_positions`` (``walk_forward_many`` uses
that). The result's tables other than returns and positions are built when first read
(``RunTables``).

* **Features** are computed once per market (``retrainlab.engine.features``), and so are the
  detected regimes (``fixes.regime_awareness.detect_regimes``) and the model's design matrix for
  every (day, ticker). All tickers share one pooled model.
* **Label** of the sample (t, ticker): ``close[t+h] / close[t] > 1``, ``h = config.horizon``.
* **Schedule.** The first decision date is ``d0 = max(config.warmup, MIN_HISTORY - 1)`` (the
  first row with every feature); decisions every ``h`` days from there, refits every
  ``retrain_every`` days from there (``d0, d0 + r, ...``). Both grids start at ``d0`` and never
  depend on the length of the data, so truncating or perturbing data after T changes nothing at
  or before T (tested for all 64 fix combinations).
* **Training at refit date R** (at R's close): samples t with ``R - training_window <= t`` and
  ``t + h <= R`` (purged: every label is known at R), features defined, weighted by the
  ``sample_weights`` hook; the system's own trades that closed strictly before R (and entered
  inside the window), plus any ``outcomes`` given, go to the ``extra_samples`` hook
  (``feedback_loop`` turns them into samples). The pipeline's scaler is fit on this training
  set only.
* **Decisions** at date T (at T's close) use the latest model fit at a refit date ``<= T``:
  ``p`` = its probability that ``close[T+h] > close[T]``; long if ``p`` is above the long
  threshold, short if below the short threshold, else neutral. Thresholds come from the
  ``thresholds`` hook: static (OLD) or ``AdaptiveThresholds`` fed with every probability of
  earlier decision dates (NEW).
* **Execution.** A decision at T's close is filled ``L = config.execution_lag`` trading days
  later, at the close of T+L (L = 0: at T's own close; the default L = 1: the next close). The
  position has size 1 (or the ``position_size`` hook's, ``bet_size(p)`` with
  ``confidence_sizing``), is held from T+L's close to T+L+h's close (when the next decision's
  fill replaces it) and is marked to market daily. ``positions`` row t is the book held from
  t's close to t+1's close, so positions are exactly the lag-0 positions shifted by L rows.
  Each ticker has weight ``1 / n_tickers``; positions are constant weights (rebalanced daily,
  without charging for that drift).
* **Returns.** Day t: ``mean_j(positions[t-1, j] * simple_return[t, j])`` minus
  ``cost_bps / 1e4`` times the day's turnover ``mean_j |positions[t, j] - positions[t-1, j]|``.
  The series starts at ``d0``.

Further decisions:

* Before the first successful fit every decision is neutral (no model, no opinion).
* A refit whose training set has fewer than ``min_train_samples`` samples or one class only is
  skipped and the previous model stays in use (what a production system would do); the skip is
  recorded in ``result.fits``.
* A (day, ticker) whose features are not all finite gets no probability (NaN) and is neutral.
* A trade is "closed" when its exit fill T+L+h is inside the data; the last positions, still open
  at the end, are in ``positions`` and ``returns`` but not in ``trades``.
* ``trades.pnl_pct`` is the underlying's return between the two fills, signed by direction
  (unsized);
  ``trades.trade_return = size * pnl_pct`` is what the trade contributed per unit of ticker
  weight, before costs; ``trade_metrics`` is computed on ``trade_return``.
* Trade confidence is ``|m(p)|`` (AFML ch. 10) for every system; only ``confidence_sizing``
  uses it for size.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sklearn
from sklearn.pipeline import Pipeline
from tqdm.auto import tqdm

from retrainlab.engine.config import RetrainConfig
from retrainlab.engine.decisions import signal_codes
from retrainlab.engine.features import MIN_HISTORY
from retrainlab.engine.fixes.feedback_loop import TradeOutcome
from retrainlab.engine.hooks import Hooks, hooks_for
from retrainlab.engine.market import Market
from retrainlab.engine.market_data import MarketData
from retrainlab.engine.model import fit_summary, predict_proba
from retrainlab.engine.outcomes import OutcomeTable
from retrainlab.engine.results import (
    FitLogRow,
    RunTables,
    WalkForwardResult,
    mark_to_market,
    summarise,
    trade_fills,
)
from retrainlab.engine.training import (
    TrainingSet,
    fit,
    one_thread,
    training_set,
    window_rows,
)

__all__ = ["WalkForwardResult", "decision_days", "first_decision_day", "refit_days", "walk_forward"]


def first_decision_day(config: RetrainConfig) -> int:
    """Row of the first decision: ``max(config.warmup, MIN_HISTORY - 1)``."""
    return max(config.warmup, MIN_HISTORY - 1)


def decision_days(n_days: int, config: RetrainConfig) -> np.ndarray:
    """Rows of the decision dates: every ``horizon`` days from ``first_decision_day``."""
    return np.arange(first_decision_day(config), n_days, config.horizon)


def refit_days(n_days: int, config: RetrainConfig) -> np.ndarray:
    """Rows of the refit dates: every ``retrain_every`` days from ``first_decision_day``."""
    return np.arange(first_decision_day(config), n_days, config.retrain_every)


# ---------------------------------------------------------------------------- state


@dataclass(frozen=True)
class Schedule:
    """Decision rows, refit rows and the first decision of each refit's segment."""

    days: np.ndarray
    refits: np.ndarray
    bounds: np.ndarray

    @classmethod
    def build(cls, n_days: int, config: RetrainConfig) -> Schedule:
        days, refits = decision_days(n_days, config), refit_days(n_days, config)
        return cls(days, refits, np.searchsorted(days, refits))

    def segment(self, s: int) -> range:
        """Decision numbers made with the model of refit ``s``."""
        last = self.bounds[s + 1] if s + 1 < len(self.refits) else len(self.days)
        return range(int(self.bounds[s]), int(last))


@dataclass(eq=False)
class Decisions:
    """Per decision date: probabilities, signal codes and the thresholds in force."""

    probs: np.ndarray  # (n_decisions, k), NaN: no prediction
    codes: np.ndarray  # (n_decisions, k) int: -1 short, 0 neutral, +1 long
    thresholds: np.ndarray  # (n_decisions, 2): long, short

    @classmethod
    def empty(cls, n_decisions: int, k: int) -> Decisions:
        return cls(
            np.full((n_decisions, k), np.nan),
            np.zeros((n_decisions, k), dtype=np.int64),
            np.empty((n_decisions, 2)),
        )


@dataclass(eq=False)
class Book:
    """Positions held (n_days x k) and every position opened, as (decision, ticker), in order."""

    positions: np.ndarray
    decision: np.ndarray
    ticker: np.ndarray
    n_opened: int = 0

    @classmethod
    def empty(cls, n_days: int, k: int, n_decisions: int) -> Book:
        return cls(
            np.zeros((n_days, k)),
            np.empty(n_decisions * k, dtype=np.int64),
            np.empty(n_decisions * k, dtype=np.int64),
        )

    def open(
        self,
        decisions: np.ndarray,
        rows: np.ndarray,
        tickers: np.ndarray,
        sizes: np.ndarray,
        hold: int,
    ) -> None:
        """Open positions, in order: the ``m``-th is decision ``decisions[m]``'s, signed size
        ``sizes[m]`` in ticker ``tickers[m]``, held ``hold`` rows from row ``rows[m]`` (cut at
        the last row). Decisions are ``hold`` rows apart, so no two holdings of a ticker
        overlap and the positions can be written at once."""
        held = rows[:, None] + np.arange(hold)
        inside = held < len(self.positions)
        shape = held.shape
        self.positions[held[inside], np.broadcast_to(tickers[:, None], shape)[inside]] = (
            np.broadcast_to(sizes[:, None], shape)[inside]
        )
        n, m = self.n_opened, len(decisions)
        self.decision[n : n + m] = decisions
        self.ticker[n : n + m] = tickers
        self.n_opened = n + m

    def opened(self) -> tuple[np.ndarray, np.ndarray]:
        return self.decision[: self.n_opened], self.ticker[: self.n_opened]


@dataclass(eq=False)
class FitLog:
    """One row per refit (``WalkForwardResult.fits``), coefficients of each fit, fit time."""

    rows: list[FitLogRow] = field(default_factory=list)
    coefficients: list[np.ndarray] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(eq=False)
class Run:
    """The state a walk-forward carries from step to step."""

    config: RetrainConfig
    hooks: Hooks
    data: MarketData
    schedule: Schedule
    decisions: Decisions
    book: Book
    fits: FitLog
    thresholds: object  # the thresholds hook's policy
    model: Pipeline | None = None


# ---------------------------------------------------------------------------- the steps


def own_outcomes(run: Run, refit: int, lo: int) -> OutcomeTable:
    """The system's own trades that closed strictly before ``refit`` and entered at or after
    ``lo``, then the given outcomes by the same rule: what a refit may learn from."""
    h, lag = run.config.horizon, run.config.execution_lag
    data, (dec, tic) = run.data, run.book.opened()
    decided = run.schedule.days[dec]
    entry = decided + lag
    use = (entry + h < refit) & (entry >= lo)
    e, d, j = entry[use], decided[use], tic[use]
    own = OutcomeTable(
        features=data.features[d, j],
        regimes=data.regimes[d, j],
        entry_price=data.close[e, j],
        exit_price=data.close[e + h, j],
        sign=run.decisions.codes[dec[use], j].astype(np.float64),
        entry_time=data.dates[e],
        exit_time=data.dates[e + h],
    )
    external = run.data.external.select(data.dates[refit], data.dates[lo])
    return OutcomeTable.concat([own, external])


def refit(
    run: Run,
    refit_row: int,
    fit_samples: Callable[[TrainingSet, RetrainConfig], Pipeline | None] = fit,
) -> None:
    """Step 1: the training set at ``refit_row``'s close and its fit (kept: the previous model
    when the samples cannot be fit). ``fit_samples`` fits (``training.fit``); ``walk_forward_many``
    passes one that reuses the fit of an identical training problem."""
    lo, hi = window_rows(refit_row, run.config)
    X, y, forward = run.data.panel.window(lo, hi)
    outcomes = (
        own_outcomes(run, refit_row, lo) if run.hooks.takes_outcomes else OutcomeTable.empty()
    )
    samples = training_set(X, y, forward, outcomes, run.config)
    started = time.perf_counter()
    model = fit_samples(samples, run.config)
    seconds = time.perf_counter() - started if model is not None else 0.0
    n_iter = 0
    if model is not None:
        run.model = model
        run.fits.seconds += seconds
        n_iter, coefficients = fit_summary(model)
        if coefficients is not None:  # the linear model's; the other classes have none
            run.fits.coefficients.append(coefficients)
    run.fits.rows.append(
        FitLogRow(
            day=refit_row,
            fitted=model is not None,
            n_market=samples.n_market,
            n_feedback=samples.n_feedback,
            n_positive=samples.n_positive,
            n_iter=n_iter,
            seconds=seconds,
        )
    )


def predict(
    run: Run,
    segment: range,
    probabilities: Callable[[Pipeline, np.ndarray], np.ndarray] = predict_proba,
) -> None:
    """Step 2: the current model's probabilities for every (decision, ticker) of ``segment``,
    in one call (NaN where a design row is not finite, or before the first fit).
    ``probabilities`` computes them (``model.predict_proba``); ``walk_forward_many`` passes one
    that reuses the predictions of the same model on the same rows."""
    if run.model is None:
        return
    k = run.data.close.shape[1]
    days = run.schedule.days[segment.start : segment.stop]
    rows = (days[:, None] * k + np.arange(k)).ravel()
    ok = run.data.panel.valid[rows]
    p = np.full(len(rows), np.nan)
    if ok.any():
        p[ok] = probabilities(run.model, run.data.panel.X[rows[ok]])
    run.decisions.probs[segment.start : segment.stop] = p.reshape(-1, k)


def decide(run: Run, i: int) -> None:
    """Step 3: decision ``i``'s signals, classified with the thresholds in force; then the
    threshold policy sees the probabilities."""
    p = run.decisions.probs[i]
    long_t, short_t = run.thresholds.thresholds
    run.decisions.thresholds[i] = long_t, short_t
    run.decisions.codes[i] = signal_codes(p, long_t, short_t)
    run.thresholds.observe(p)


def open_positions(run: Run, segment: range) -> None:
    """Step 4: the non-neutral signals of the decisions in ``segment`` open positions at their
    fills, ``execution_lag`` rows on, sized by the ``position_size`` hook."""
    codes = run.decisions.codes[segment.start : segment.stop]
    row, j = np.nonzero(codes)  # in (decision, ticker) order; row: within the segment
    if row.size:
        i = segment.start + row
        sizes = codes[row, j] * run.hooks.position_size(run.decisions.probs[i, j])
        fills = run.schedule.days[i] + run.config.execution_lag
        run.book.open(i, fills, j, sizes, run.config.horizon)


# ---------------------------------------------------------------------------- the loop


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
    outcomes : extra closed trades (e.g. recorded live) offered to the ``extra_samples`` hook
        (used only when a fix implements it: ``feedback_loop``); each is offered at the refits
        after its exit time and inside the training window. Outcomes without features take this
        market's features at their entry date, or are dropped if the market has no such bar.

    Returns
    -------
    WalkForwardResult. The same market and config give identical results, bit for bit.
    """
    if not isinstance(market, Market):
        raise TypeError(f"market must be a retrainlab.Market, got {type(market).__name__}")
    if not isinstance(config, RetrainConfig):
        raise TypeError(f"config must be a RetrainConfig, got {type(config).__name__}")
    started = time.perf_counter()
    # inputs are validated once, by compute_features; small matrices: one BLAS thread
    with one_thread(), sklearn.config_context(assume_finite=True):
        run = start_run(market, config, outcomes)
        segments = range(len(run.schedule.refits))
        if progress:
            segments = tqdm(segments, desc=f"walk_forward {config.label}", unit="refit")
        for s in segments:
            refit(run, int(run.schedule.refits[s]))
            segment = run.schedule.segment(s)
            predict(run, segment)
            for i in segment:
                decide(run, i)
            open_positions(run, segment)
    result = finish_run(market, run)
    result.total_seconds = time.perf_counter() - started
    return result


def start_run(
    market: Market,
    config: RetrainConfig,
    outcomes: Sequence[TradeOutcome] | None = None,
    data: MarketData | None = None,
) -> Run:
    """A run's initial state (``data``: the market's ``MarketData`` if already built for a
    config with the same design and horizon)."""
    hooks = hooks_for(config)
    schedule = Schedule.build(market.n_days, config)
    n_decisions, k = len(schedule.days), market.n_tickers
    return Run(
        config=config,
        hooks=hooks,
        data=MarketData.build(market, config, outcomes) if data is None else data,
        schedule=schedule,
        decisions=Decisions.empty(n_decisions, k),
        book=Book.empty(market.n_days, k, n_decisions),
        fits=FitLog(),
        thresholds=hooks.thresholds(),
    )


def finish_run(market: Market, run: Run) -> WalkForwardResult:
    """Steps 5 and 6 (mark to market, close trades), the summaries and the result; its other
    tables are built when first read (``RunTables``)."""
    config, data, days = run.config, run.data, run.schedule.days
    dates, tickers = market.dates, list(market.tickers)
    positions, probs, codes = run.book.positions, run.decisions.probs, run.decisions.codes
    start = min(first_decision_day(config), market.n_days)
    net = mark_to_market(positions, data.close, config.cost_bps)
    returns = pd.Series(net[start:], index=dates[start:], name=config.label)
    decision, ticker = run.book.opened()
    fills = trade_fills(
        decision=decision,
        ticker=ticker,
        decision_day=days,
        codes=codes,
        probs=probs,
        positions=positions,
        close=data.close,
        horizon=config.horizon,
        lag=config.execution_lag,
    )
    forward = data.panel.forward.reshape(positions.shape)[days]
    tables = RunTables(
        dates=dates,
        tickers=tickers,
        days=days,
        probs=probs,
        codes=codes,
        thresholds=run.decisions.thresholds,
        fills=fills,
        regimes=data.regimes,
        regime_tables=data.regime_tables,
        fit_rows=run.fits.rows,
        coefficients=run.fits.coefficients,
        columns=[*run.hooks.design_columns(data.feature_names), "intercept"],
    )
    metrics = summarise(
        returns, positions[start:], fills.trade_return, codes, probs, forward, tables.n_fits
    )
    return WalkForwardResult(
        config=config,
        market_name=market.name,
        returns=returns,
        positions=pd.DataFrame(positions, index=dates, columns=tickers),
        metrics=metrics,
        fit_seconds=run.fits.seconds,
        total_seconds=0.0,
        tables=tables,
        features=data.features,
    )
