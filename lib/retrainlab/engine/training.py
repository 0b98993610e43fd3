"""A refit's training set and fit: the one code path of the walk-forward and the facade's retrain.

At a refit on row R (at R's close) the model trains on

* **market samples**: rows ``max(R - training_window, 0) <= t <= R - horizon`` (purged: every
  label ``close[t+h] / close[t] > 1`` is known at R) whose design columns are all finite, in
  (t, ticker) order, pooled over tickers;
* weighted by the ``sample_weights`` hook (default: unweighted);
* plus the ``extra_samples`` hook's samples from the closed trades the refit may see (default:
  none), appended after the market samples, weight 1 for the market samples then;
* fit by ``model.fit_model`` with one BLAS/OpenMP thread (``one_thread``): small matrices are
  fastest that way, it never oversubscribes a shared machine, and the last bits of a BLAS
  product depend on its thread count, so every caller fits with the same one.

The walk-forward slices a ``DesignPanel`` computed once per market; the facade pools
``market_samples`` of per-symbol histories, which for histories on one calendar are the same rows
in the same order. Both then call ``training_set`` and ``fit``.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import ThreadpoolController

from retrainlab.engine.config import RetrainConfig
from retrainlab.engine.features import compute_features
from retrainlab.engine.fixes.regime_awareness import detect_regimes
from retrainlab.engine.hooks import hooks_for
from retrainlab.engine.model import (
    can_fit,
    design_columns,
    design_matrix,
    design_panel,
    fit_model,
)
from retrainlab.engine.models import ModelClass, confidence_target
from retrainlab.engine.outcomes import ExtraSamples, OutcomeTable

__all__ = [
    "DesignPanel",
    "MarketSamples",
    "TrainingSet",
    "combine",
    "fit",
    "market_samples",
    "one_thread",
    "training_set",
    "window_rows",
]


@functools.cache
def _threadpools() -> ThreadpoolController:
    """The process's BLAS/OpenMP thread pools (inspected once)."""
    return ThreadpoolController()


#: How deeply this thread is inside ``one_thread`` blocks.
_one_thread_depth = threading.local()


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run the block with one BLAS/OpenMP thread (the module docstring says why). Inside an
    enclosing ``one_thread`` block of the same thread the limit is already in force and is not
    set again (setting and restoring it costs about as much as a small fit's validation, and
    the walk-forward fits inside its own block)."""
    depth = getattr(_one_thread_depth, "value", 0)
    _one_thread_depth.value = depth + 1
    try:
        if depth:
            yield
        else:
            with _threadpools().limit(limits=1):
                yield
    finally:
        _one_thread_depth.value = depth


def window_rows(last: int, config: RetrainConfig) -> tuple[int, int]:
    """``(lo, hi)``: the rows ``lo <= t <= hi`` whose samples may train a refit on row ``last``
    (``lo = max(last - training_window, 0)``, ``hi = last - horizon``; empty if ``hi < lo``)."""
    return max(last - hooks_for(config).training_window(), 0), last - config.horizon


@dataclass(frozen=True, eq=False)
class DesignPanel:
    """Design rows of every (day, ticker) of a panel, flattened row-major: row ``t * k + j``.

    X : (n * k, d) design rows (``model.design_panel``: ``config.model``'s inputs); valid :
    rows with every column finite; label : ``close[t+h] / close[t] > 1``; forward :
    ``close[t+h] / close[t] - 1``
    (NaN in the last ``h`` days).
    """

    X: np.ndarray
    valid: np.ndarray
    label: np.ndarray
    forward: np.ndarray
    n_tickers: int

    @classmethod
    def build(
        cls, features: np.ndarray, regimes: np.ndarray, close: np.ndarray, config: RetrainConfig
    ) -> DesignPanel:
        """From base ``features`` (n, k, f), regime codes (n, k) and closes (n, k)."""
        n, k = close.shape
        h = config.horizon
        X = design_panel(features, regimes, config)
        forward = np.full((n, k), np.nan)
        if n > h:
            forward[: n - h] = close[h:] / close[:-h] - 1.0
        flat_forward = forward.reshape(n * k)
        return cls(
            X=X,
            valid=np.isfinite(X).all(axis=1),
            label=(flat_forward > 0).astype(np.int64),
            forward=flat_forward,
            n_tickers=k,
        )

    def window(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(X, y, forward)`` of the valid rows of days ``lo..hi``, in (day, ticker) order."""
        k = self.n_tickers
        rows = slice(lo * k, (hi + 1) * k) if hi >= lo else slice(0, 0)
        ok = self.valid[rows]
        X, y, fwd = self.X[rows], self.label[rows], self.forward[rows]
        if not ok.all():
            X, y, fwd = X[ok], y[ok], fwd[ok]
        return X, y, fwd


@dataclass(frozen=True, eq=False)
class TrainingSet:
    """What one refit trains on: design rows ``X``, labels ``y``, ``weights`` (None: all 1);
    ``n_market`` market samples first, then ``n_feedback`` extra samples; ``confidence``: the
    LSTM's confidence-head targets (``confidence_target`` of the market samples' forward
    returns; None when extra samples are present: no model class using it takes them)."""

    X: np.ndarray
    y: np.ndarray
    weights: np.ndarray | None
    n_market: int
    n_feedback: int
    confidence: np.ndarray | None = None

    @property
    def n(self) -> int:
        return len(self.y)

    @property
    def n_positive(self) -> int:
        return int(self.y.sum())


def combine(
    X: np.ndarray, y: np.ndarray, forward: np.ndarray, extra: ExtraSamples, config: RetrainConfig
) -> TrainingSet:
    """Market samples weighted by the ``sample_weights`` hook, plus ``extra`` samples (already
    chosen) turned into design rows by the ``design`` hook."""
    hooks = hooks_for(config)
    w = hooks.sample_weights(forward)
    if extra.n == 0:
        return TrainingSet(X, y, w, len(y), 0, confidence_target(forward))
    return TrainingSet(
        np.concatenate([X, design_matrix(extra.features, extra.regimes, config)]),
        np.concatenate([y, extra.labels]),
        np.concatenate([np.ones(len(y)) if w is None else w, extra.weights]),
        len(y),
        extra.n,
    )


def training_set(
    X: np.ndarray,
    y: np.ndarray,
    forward: np.ndarray,
    outcomes: OutcomeTable,
    config: RetrainConfig,
) -> TrainingSet:
    """A refit's training set: market samples ``X``, ``y`` (with their ``forward`` returns) and
    the ``extra_samples`` hook's samples from ``outcomes``, the closed trades this refit may see
    (the caller selects them: closed strictly before the refit, entered inside the window)."""
    return combine(X, y, forward, hooks_for(config).extra_samples(outcomes), config)


def fit(
    samples: TrainingSet, config: RetrainConfig, scaler: StandardScaler | None = None
) -> Pipeline | ModelClass | None:
    """``model.fit_model`` on ``samples`` with one BLAS thread (the model class of
    ``config.model``); None if ``model.can_fit`` says the samples cannot be fit (too few, or one
    class only). ``scaler``: ``model.fit_scaler(samples.X)`` if already computed (logistic only)."""
    if not can_fit(samples.y, config):
        return None
    with one_thread():
        return fit_model(samples.X, samples.y, samples.weights, config, samples.confidence, scaler)


# ---------------------------------------------------------------------------- pooled histories


@dataclass(frozen=True, eq=False)
class MarketSamples:
    """Pooled market samples of a set of histories, in (time, symbol) order (``market_samples``)."""

    X: np.ndarray  # design matrix rows
    y: np.ndarray  # 1 if close[t+h] > close[t]
    forward: np.ndarray  # close[t+h] / close[t] - 1
    rel: np.ndarray  # t - R (R = the symbol's last bar); <= -horizon
    symbol: np.ndarray  # index into symbols
    symbols: tuple[str, ...]
    dates: tuple[pd.DatetimeIndex | None, ...]  # per symbol
    lo: tuple[int, ...]  # first row of each symbol's training window

    def take(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.X[mask], self.y[mask], self.forward[mask]

    def time_at(self, rel: int) -> pd.Timestamp | None:
        """Earliest date, over symbols, of the row ``rel`` bars from the end (None if undated)."""
        times = []
        for dates in self.dates:
            if dates is None:
                return None
            times.append(dates[max(len(dates) - 1 + rel, 0)])
        return min(times) if times else None

    @property
    def since(self) -> pd.Timestamp | None:
        """Start of the training window (earliest over symbols), if every history is dated."""
        if not self.dates or any(d is None for d in self.dates):
            return None
        return min(d[lo] for d, lo in zip(self.dates, self.lo, strict=True))


def market_samples(histories: Mapping[str, Any], config: RetrainConfig) -> MarketSamples:
    """The walk-forward's training rows at each history's last bar R, pooled.

    ``histories`` maps a symbol to its bars: anything with ``open``, ``high``, ``low``,
    ``close``, ``volume`` (1-D arrays), ``n`` (rows) and ``dates`` (DatetimeIndex or None).
    Rows ``window_rows(R)`` whose design columns are all finite, from a ``DesignPanel`` of the
    one symbol, labelled ``close[t+h] / close[t] > 1``; ordered by ``t - R`` then symbol,
    which for histories on one calendar is the walk-forward's own order.
    """
    parts: list[tuple] = []
    symbols, dates, los = [], [], []
    for j, (symbol, bars) in enumerate(histories.items()):
        last = bars.n - 1
        lo, hi = window_rows(last, config)
        symbols.append(symbol)
        dates.append(bars.dates)
        los.append(lo)
        if hi < lo:
            continue
        columns = [np.asarray(getattr(bars, f), dtype=np.float64)[:, None] for f in _OHLCV]
        features = compute_features(*columns)
        panel = DesignPanel.build(features, detect_regimes(columns[3]), columns[3], config)
        rows = np.arange(lo, hi + 1)[panel.valid[lo : hi + 1]]
        X, y, forward = panel.window(lo, hi)
        parts.append((X, y, forward, rows - last, np.full(rows.size, j, dtype=np.int64)))
    if parts:
        X, y, fwd, rel, sym = (np.concatenate(p) for p in zip(*parts, strict=True))
    else:
        X, y, fwd = np.empty((0, len(design_columns(config)))), np.empty(0, np.int64), np.empty(0)
        rel, sym = np.empty(0, np.int64), np.empty(0, np.int64)
    order = np.lexsort((sym, rel))
    return MarketSamples(
        X[order],
        y[order],
        fwd[order],
        rel[order],
        sym[order],
        tuple(symbols),
        tuple(dates),
        tuple(los),
    )


_OHLCV = ("open", "high", "low", "close", "volume")
