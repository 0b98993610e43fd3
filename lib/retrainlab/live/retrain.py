"""One retrain of the facade: training set, hold-out validation, the promotion rule, the model
file and the compare-and-set of the served version.

**Promotion rule.** A retrained model is promoted (served) only if its purged hold-out log-loss
(``training.validate_holdout``) is strictly below the log-loss of the constant-probability
baseline on the same hold-out rows. Otherwise, or if no hold-out score could be computed, the
current model keeps serving (or the fallback, if none) and the ``RetrainReport`` says
``promoted=False`` with the reason. A promotion is a compare-and-set on the version: a model
never replaces a newer one (``StateStore.finish_retrain``).

* **Retrain data.** ``trigger_retraining()`` uses the latest history stored per symbol (every
  ``get_signal`` call stores its ``price_data`` when it changed); ``price_data=`` (a dict
  ``{symbol: history}`` or a ``Market``) is used instead and not stored. Every recorded trade
  is closed, so all of them are candidates; when every history has dates, only trades that
  entered inside the training window are used (``since``, as in the walk-forward).
* **Validation.** Before the served fit, the most recent ``HOLDOUT_FRACTION`` of the sample
  rows (time-ordered, aligned at each history's last bar) is held out; a model fitted on the
  earlier rows, purged by the horizon (train rows ``t + h <= T0``, T0 the first held-out
  row), with the feedback outcomes that closed before T0, is scored on it (log-loss, accuracy,
  AUC, base rate). The served model is then refit on all samples.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from retrainlab.common.jsonio import jsonable
from retrainlab.engine.config import RetrainConfig
from retrainlab.engine.features import MIN_HISTORY
from retrainlab.engine.fixes.feedback_loop import TradeOutcome
from retrainlab.engine.model import can_fit, design_columns
from retrainlab.engine.training import fit
from retrainlab.live.encoding import time_text, utc_now
from retrainlab.live.inputs import Bars
from retrainlab.live.models import MODEL_FORMAT, model_name, save_model_file
from retrainlab.live.records import RetrainReport
from retrainlab.live.store import StateStore
from retrainlab.live.training import retrain_set, validate_holdout


def promotion_verdict(validation: dict[str, Any]) -> tuple[bool, str]:
    """``(promote, reason)`` by the promotion rule (module docstring)."""
    loss, base = validation.get("log_loss"), validation.get("baseline_log_loss")
    if loss is None or base is None:
        why = validation.get("skipped", "no hold-out score")
        return False, f"not promoted: no hold-out score to compare with the baseline ({why})"
    if loss < base:
        return True, ""
    return False, (
        f"not promoted: hold-out log-loss {loss:.4f} is not below the constant-probability "
        f"baseline's {base:.4f}"
    )


def feedback_notes(outcomes: list[TradeOutcome], config: RetrainConfig) -> list[str]:
    """Why recorded trades did not (all) feed this retrain."""
    notes = []
    if outcomes and not config.feedback_loop:
        notes.append(
            f"feedback_loop is off in config {config.label}: "
            f"{len(outcomes)} recorded trade(s) not used"
        )
    missing = sum(o.features is None for o in outcomes)
    if missing and config.feedback_loop:
        notes.append(
            f"{missing} recorded trade(s) have no entry features (no matching "
            "prediction, or too few bars) and cannot feed training"
        )
    return notes


def run_retrain(
    store: StateStore,
    config: RetrainConfig,
    models_dir: Path,
    histories: dict[str, Bars],
    outcomes: list[TradeOutcome],
    snapshot: Callable[[], tuple[dict[str, Any] | None, int, tuple[float, float]]],
) -> tuple[RetrainReport, dict[str, Any] | None]:
    """Retrain, validate, and promote if the rule allows. ``snapshot()`` gives the thresholds'
    state, the last prediction id they have seen, and the thresholds in force. Returns the
    report and, if promoted, the payload written to the model file."""
    started = time.perf_counter()
    version = store.start_retrain()
    notes = feedback_notes(outcomes, config)
    common = {
        "trained_at": time_text(utc_now()),
        "n_outcomes": len(outcomes),
        "symbols": tuple(histories),
        "config": config.label,
        "notes": tuple(notes),
    }

    def finish(ok: bool, reason: str, **extra: Any) -> RetrainReport:
        report = RetrainReport(
            ok=ok,
            reason=reason,
            version=None,
            thresholds=snapshot()[2],
            seconds=time.perf_counter() - started,
            **common,
            **extra,
        )
        store.finish_retrain(
            version,
            ok=ok,
            reason=reason or None,
            n_samples=report.n_samples,
            n_feedback=report.n_feedback,
            report=report.to_dict(),
        )
        return report

    try:
        samples, ts = retrain_set(histories, outcomes, config)
        sizes = {"n_samples": ts.n, "n_market": ts.n_market, "n_feedback": ts.n_feedback}
        if not histories and ts.n_feedback == 0:
            return finish(
                False,
                "no price histories: call get_signal(symbol, price_data) first or "
                "pass price_data={symbol: history} (or a Market)",
                **sizes,
            ), None
        if not can_fit(ts.y, config):
            return finish(
                False,
                f"cannot fit: {ts.n} samples (need {config.min_train_samples}) "
                f"with {ts.n_positive} positive labels (need both classes); "
                f"histories need more than {config.horizon} bars beyond the "
                f"{MIN_HISTORY} the features use",
                **sizes,
            ), None
        validation = validate_holdout(samples, outcomes, config)
        promote, reason = promotion_verdict(validation)
        if not promote:
            return finish(True, reason, validation=validation, **sizes), None
        model = fit(ts, config)
    except ValueError as exc:
        return finish(False, str(exc)), None
    except BaseException as exc:
        finish(False, f"error: {exc!r}")
        raise

    state, seen, _ = snapshot()
    payload = {
        "format": MODEL_FORMAT,
        "version": version,
        "trained_at": common["trained_at"],
        "config": config.to_dict(),
        "design_columns": design_columns(config),
        "model": model,
        "thresholds": state,
        "thresholds_seen_id": seen,
        "validation": json.dumps(jsonable(validation), sort_keys=True),
        "n_samples": ts.n,
        "n_feedback": ts.n_feedback,
    }
    name = model_name(version)
    save_model_file(models_dir / name, payload)
    report = RetrainReport(
        ok=True,
        reason="",
        version=version,
        promoted=True,
        validation=validation,
        thresholds=snapshot()[2],
        seconds=time.perf_counter() - started,
        **sizes,
        **common,
    )
    if store.finish_retrain(
        version,
        ok=True,
        reason=None,
        n_samples=ts.n,
        n_feedback=ts.n_feedback,
        report=report.to_dict(),
        model_file=name,
    ):
        return report, payload
    (models_dir / name).unlink(missing_ok=True)  # never served: nothing points at it
    lost = f"not promoted: a newer model (version {store.served_version()}) was promoted meanwhile"
    return finish(True, lost, validation=validation, **sizes), None
