"""One signal: the model's probability (or the fallback's), its classification, and the row
the prediction log keeps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from retrainlab.engine.config import RetrainConfig
from retrainlab.engine.features import MIN_HISTORY, compute_features
from retrainlab.engine.fixes.adaptive_thresholds import classify
from retrainlab.engine.fixes.confidence_sizing import confidence, position_size
from retrainlab.engine.fixes.regime_awareness import detect_regimes
from retrainlab.engine.model import design_matrix, predict_proba
from retrainlab.live.encoding import time_text, utc_now, vector_blob
from retrainlab.live.inputs import Bars
from retrainlab.live.records import Signal, fallback_thresholds, momentum_probability
from retrainlab.live.serving import Served


@dataclass(frozen=True, eq=False)
class Inputs:
    """What a signal reads from one history: its bars, last feature row and regime codes."""

    bars: Bars
    last_x: np.ndarray
    codes: np.ndarray

    @classmethod
    def of(cls, bars: Bars) -> Inputs:
        features = compute_features(bars.open, bars.high, bars.low, bars.close, bars.volume)
        return cls(bars, features[-1], detect_regimes(bars.close))

    @property
    def defined(self) -> bool:
        """True if every feature of the last bar is finite (the model can answer)."""
        return bool(np.all(np.isfinite(self.last_x)))


def decide(
    symbol: str,
    inputs: Inputs,
    served: Served,
    thresholds: tuple[float, float],
    config: RetrainConfig,
) -> tuple[Signal, dict[str, Any]]:
    """The signal (``prediction_id`` still 0) and its prediction-log row."""
    bars = inputs.bars
    if served.payload is not None and inputs.defined:
        X = design_matrix(inputs.last_x[None, :], inputs.codes[-1:], config)
        p = float(predict_proba(served.payload["model"], X)[0])
        long_t, short_t = thresholds
        source, reason, version = "model", served.note, served.version
    else:
        p = momentum_probability(bars.close)
        long_t, short_t = fallback_thresholds(config)
        source, version = "fallback", None
        if served.payload is None:
            reason = served.note or "no trained model"
        elif bars.n < MIN_HISTORY:
            reason = f"too little data: {bars.n} bars, the model's features need {MIN_HISTORY}"
        else:
            reason = "the features of the last bar are not finite (extreme prices)"
    signal = Signal(
        symbol=symbol,
        signal=str(classify(p, long_t, short_t)),
        probability=p,
        confidence=float(confidence(p)),
        size=float(position_size(p, config)),
        source=source,
        reason=reason,
        regime=int(inputs.codes[-1]),
        long_threshold=long_t,
        short_threshold=short_t,
        model_version=version,
        prediction_id=0,
        n_bars=bars.n,
        bar_time=bars.last_time,
    )
    row = {
        "created_at": time_text(utc_now()),
        "symbol": symbol,
        "bar_time": time_text(bars.last_time),
        "n_bars": bars.n,
        "signal": signal.signal,
        "probability": p,
        "confidence": signal.confidence,
        "size": signal.size,
        "regime": signal.regime,
        "features": vector_blob(inputs.last_x) if inputs.defined else None,
        "source": source,
        "reason": reason or None,
        "model_version": version,
        "long_threshold": long_t,
        "short_threshold": short_t,
    }
    return signal, row
