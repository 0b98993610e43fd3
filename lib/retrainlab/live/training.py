"""The facade's training set: pooled market samples plus recorded outcomes; validation."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from retrainlab.engine.config import RetrainConfig
from retrainlab.engine.features import FEATURE_NAMES, compute_features
from retrainlab.engine.fixes.feedback_loop import TradeOutcome, feedback_samples
from retrainlab.engine.fixes.profit_weighted_loss import training_weights
from retrainlab.engine.fixes.regime_awareness import detect_regimes
from retrainlab.engine.model import can_fit, design_columns, design_matrix, fit_model, predict_proba
from retrainlab.live.inputs import Bars

#: Share of the most recent sample rows held out to validate a retrain.
HOLDOUT_FRACTION: float = 0.2

# ============================================================================ training set


@functools.cache
def _threadpools() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def fit_one_thread(
    X: np.ndarray, y: np.ndarray, w: np.ndarray | None, config: RetrainConfig
) -> Any:
    """``model.fit_model`` with one BLAS thread, as the walk-forward fits (the result of a BLAS
    product depends on its thread count in the last bits; this keeps the two identical)."""
    with _threadpools().limit(limits=1):
        return fit_model(X, y, w, config)


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


def market_samples(histories: Mapping[str, Bars], config: RetrainConfig) -> MarketSamples:
    """The walk-forward's training rows at each history's last bar R, pooled.

    Rows ``max(R - train_window, 0) <= t <= R - horizon`` whose design columns are all finite,
    labelled ``close[t+h] / close[t] > 1``; ordered by ``t - R`` then symbol, which for histories
    on one calendar is the walk-forward's own order (row-major over (t, ticker)).
    """
    h, window = config.horizon, config.train_window
    parts: list[tuple] = []
    symbols, dates, los = [], [], []
    for j, (symbol, bars) in enumerate(histories.items()):
        last = bars.n - 1
        lo, hi = max(last - window, 0), last - h
        symbols.append(symbol)
        dates.append(bars.dates)
        los.append(lo)
        if hi < lo:
            continue
        features = compute_features(bars.open, bars.high, bars.low, bars.close, bars.volume)
        codes = detect_regimes(bars.close)
        rows = np.arange(lo, hi + 1)
        X = design_matrix(features[rows], codes[rows], config)
        forward = bars.close[rows + h] / bars.close[rows] - 1.0
        ok = np.isfinite(X).all(axis=1)
        rows = rows[ok]
        parts.append(
            (
                X[ok],
                (forward[ok] > 0).astype(np.int64),
                forward[ok],
                rows - last,
                np.full(rows.size, j, dtype=np.int64),
            )
        )
    n_cols = len(design_columns(config))
    if parts:
        X, y, fwd, rel, sym = (np.concatenate(p) for p in zip(*parts, strict=True))
    else:
        X, y, fwd = np.empty((0, n_cols)), np.empty(0, np.int64), np.empty(0)
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


def assemble(
    X: np.ndarray,
    y: np.ndarray,
    forward: np.ndarray,
    feedback: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    config: RetrainConfig,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int]:
    """Market samples plus feedback samples, weighted as in the walk-forward's refit."""
    w = training_weights(forward, config)
    fx, fr, fy, fw = feedback
    if not config.feedback_loop or len(fy) == 0:
        return X, y, w, 0
    X = np.concatenate([X, design_matrix(fx, fr, config)])
    y = np.concatenate([y, fy])
    w = np.concatenate([np.ones(len(forward)) if w is None else w, fw])
    return X, y, w, len(fy)


def no_feedback() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return (
        np.empty((0, len(FEATURE_NAMES))),
        np.empty(0, np.int64),
        np.empty(0, np.int64),
        np.empty(0),
    )


def validate_holdout(
    samples: MarketSamples, outcomes: list[TradeOutcome], config: RetrainConfig
) -> dict[str, Any]:
    """Hold-out scores of a model fitted on the earlier, purged samples (module docstring)."""
    from sklearn.metrics import log_loss, roc_auc_score

    h = config.horizon
    rows = np.unique(samples.rel)
    out: dict[str, Any] = {"holdout_fraction": HOLDOUT_FRACTION}
    if rows.size < 2:
        out["skipped"] = f"{rows.size} sample row(s): too few for a hold-out"
        return out
    m = max(1, int(round(HOLDOUT_FRACTION * rows.size)))
    t0 = int(rows[-m])
    test = samples.rel >= t0
    train = samples.rel + h <= t0
    Xt, yt, ft = samples.take(train)
    feedback = no_feedback()
    start = samples.time_at(t0)
    if config.feedback_loop and start is not None:
        feedback = feedback_samples(outcomes, start, config, since=samples.since)
    X, y, w, n_fb = assemble(Xt, yt, ft, feedback, config)
    out.update(
        {
            "holdout_rows": m,
            "purge": h,
            "n_train": len(y),
            "n_train_feedback": n_fb,
            "n_test": int(test.sum()),
            "holdout_start": start,
        }
    )
    if not can_fit(y, config):
        out["skipped"] = f"cannot fit on the {len(y)} earlier samples ({int(np.sum(y))} positive)"
        return out
    model = fit_one_thread(X, y, w, config)
    y_test = samples.y[test]
    p = predict_proba(model, samples.X[test])
    base = float(np.average(y, weights=w)) if w is not None else float(np.mean(y))
    out.update(
        {
            "log_loss": float(log_loss(y_test, p, labels=[0, 1])),
            "baseline_log_loss": float(log_loss(y_test, np.full(len(y_test), base), labels=[0, 1])),
            "accuracy": float(np.mean((p > 0.5) == (y_test == 1))),
            "auc": (
                float(roc_auc_score(y_test, p)) if 0 < y_test.sum() < y_test.size else float("nan")
            ),
            "base_rate": float(np.mean(y_test)),
        }
    )
    return out
