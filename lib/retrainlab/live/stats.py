"""``get_ml_stats()``: a JSON-safe summary of one state directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from retrainlab.analytics.metrics import trade_metrics
from retrainlab.common.jsonio import jsonable
from retrainlab.engine.config import RetrainConfig
from retrainlab.live.records import SIGNALS
from retrainlab.live.serving import Served
from retrainlab.live.store import StateStore


def holdout_scores(validation: dict[str, Any] | None) -> dict[str, Any] | None:
    """The hold-out log-loss beside the constant-probability baseline's (the promotion rule)."""
    if not validation:
        return None
    loss, base = validation.get("log_loss"), validation.get("baseline_log_loss")
    return {
        "log_loss": loss,
        "baseline_log_loss": base,
        "beats_baseline": loss is not None and base is not None and loss < base,
    }


def state_stats(
    store: StateStore,
    config: RetrainConfig,
    state_dir: Path,
    served: Served,
    thresholds: tuple[float, float],
    n_observed: int | None,
) -> dict[str, Any]:
    """Model served (and why, if not the pointer's), last retrain, predictions and trades
    logged, win rate, P&L, thresholds, signal mix of the last 100 predictions."""
    payload = served.payload or {}
    validation = json.loads(payload["validation"]) if payload else None
    trades = store.query(
        "SELECT pnl_pct, size, features IS NOT NULL AS usable FROM trades ORDER BY id"
    )
    pnl = np.array([r["pnl_pct"] for r in trades], dtype=np.float64)
    size = np.array([r["size"] for r in trades], dtype=np.float64)
    recent = store.recent_predictions(100)
    mix = {s: sum(r["signal"] == s for r in recent) for s in SIGNALS}
    n_fallback = sum(r["source"] == "fallback" for r in recent)
    retrains = store.retrains()
    last = retrains[-1] if retrains else None
    return jsonable(
        {
            "state_dir": str(state_dir),
            "config": config.label,
            "config_key": config.key(),
            "model_loaded": served.payload is not None,
            "model_version": served.version,
            "model_pointer": served.pointer,
            "serving_note": served.note or None,
            "model_trained_at": payload.get("trained_at"),
            "model_validation": validation,
            "model_holdout": holdout_scores(validation),
            "last_retrain": None
            if last is None
            else {
                "id": last["id"],
                "started_at": last["started_at"],
                "status": last["status"],
                "promoted": bool(last["promoted"]),
                "reason": last["reason"],
                "n_samples": last["n_samples"],
                "n_feedback": last["n_feedback"],
            },
            "n_retrains": len(retrains),
            "n_predictions": store.count("predictions"),
            **trade_metrics(pnl),
            "n_trades": len(trades),
            "n_trades_with_features": int(sum(r["usable"] for r in trades)),
            "pnl": float(np.sum(size * pnl)),
            "thresholds": {
                "long": thresholds[0],
                "short": thresholds[1],
                "adaptive": config.adaptive_thresholds,
                "n_observed": n_observed,
            },
            "last_100": {"n": len(recent), **mix, "fallback": n_fallback},
            "fallback_served": n_fallback > 0,
            "last_source": recent[0]["source"] if recent else None,
            "symbols": [
                r["symbol"] for r in store.query("SELECT symbol FROM prices ORDER BY symbol")
            ],
        }
    )
