"""The facade's training set and validation, built by the engine's own refit code.

``retrainlab.engine.training`` is the one code path: ``market_samples`` (the walk-forward's
window rows, pooled over symbols in (time, symbol) order), ``training_set`` (weights and extra
samples through the fixes' hooks) and ``fit`` (one BLAS thread). This module adds what only the
facade needs: recorded ``TradeOutcome`` s as an ``OutcomeTable``, and the hold-out validation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from sklearn.metrics import log_loss, roc_auc_score

from retrainlab.engine.config import RetrainConfig
from retrainlab.engine.fixes.feedback_loop import TradeOutcome
from retrainlab.engine.model import fit_model, predict_proba
from retrainlab.engine.outcomes import ExtraSamples, OutcomeTable
from retrainlab.engine.training import (
    MarketSamples,
    TrainingSet,
    combine,
    fit,
    market_samples,
    one_thread,
    training_set,
)

__all__ = [
    "HOLDOUT_FRACTION",
    "MarketSamples",
    "TrainingSet",
    "assemble",
    "fit_one_thread",
    "market_samples",
    "no_feedback",
    "outcome_table",
    "retrain_set",
    "validate_holdout",
]

#: Share of the most recent sample rows held out to validate a retrain.
HOLDOUT_FRACTION: float = 0.2


def outcome_table(
    outcomes: Iterable[TradeOutcome], before: Any = None, since: Any = None
) -> OutcomeTable:
    """The recorded outcomes a retrain may learn from: with entry features, closed strictly
    before ``before`` (default: all; every recorded trade is closed) and, with ``since``,
    entered at or after it (the start of the training window, as in the walk-forward)."""
    rows = [
        o
        for o in outcomes
        if o.features is not None
        and (before is None or o.exit_time < before)
        and (since is None or o.entry_time >= since)
    ]
    return OutcomeTable.from_records(rows)


def retrain_set(
    histories: Mapping[str, Any], outcomes: Iterable[TradeOutcome], config: RetrainConfig
) -> tuple[MarketSamples, TrainingSet]:
    """A retrain's pooled market samples and its training set (the recorded outcomes go to
    the ``extra_samples`` hook, as the walk-forward's own trades do at a refit)."""
    samples = market_samples(histories, config)
    table = outcome_table(outcomes, since=samples.since)
    return samples, training_set(samples.X, samples.y, samples.forward, table, config)


def fit_one_thread(
    X: np.ndarray, y: np.ndarray, w: np.ndarray | None, config: RetrainConfig
) -> Any:
    """``model.fit_model`` with one BLAS thread, as the walk-forward fits (``engine.training``)."""
    with one_thread():
        return fit_model(X, y, w, config)


def assemble(
    X: np.ndarray,
    y: np.ndarray,
    forward: np.ndarray,
    feedback: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    config: RetrainConfig,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int]:
    """Market samples plus already-built feedback samples (``feedback_samples``), weighted as in
    the walk-forward's refit (``engine.training.combine``). Prefer ``retrain_set``."""
    ts = combine(X, y, forward, ExtraSamples(*feedback), config)
    return ts.X, ts.y, ts.weights, ts.n_feedback


def no_feedback() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return ExtraSamples.none().as_tuple()


def validate_holdout(
    samples: MarketSamples, outcomes: list[TradeOutcome], config: RetrainConfig
) -> dict[str, Any]:
    """Hold-out scores of a model fitted on the earlier, purged samples (module docstring)."""
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
    start = samples.time_at(t0)
    table = (
        outcome_table(outcomes, before=start, since=samples.since)
        if start is not None
        else OutcomeTable.empty()
    )
    ts = training_set(Xt, yt, ft, table, config)
    y, w, n_fb = ts.y, ts.weights, ts.n_feedback
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
    model = fit(ts, config)
    if model is None:
        out["skipped"] = f"cannot fit on the {len(y)} earlier samples ({int(np.sum(y))} positive)"
        return out
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
