"""What the facade returns (``Signal``, ``RetrainReport``) and its fallback rule.

* **Fallback.** With no trained model, or fewer bars than the features need (``MIN_HISTORY``),
  a momentum rule answers: ``p = Phi(z)``, ``z`` the t-statistic of the mean daily log return
  over the last ``FALLBACK_LOOKBACK`` bars, classified with the base thresholds (0.55 / 0.45
  for adaptive configs, else the static 0.52 / 0.48). The prediction log marks it ``fallback``
  with the reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr

from retrainlab.common.jsonio import jsonable
from retrainlab.engine.config import RetrainConfig
from retrainlab.engine.fixes.adaptive_thresholds import static_thresholds

#: Bars of daily log returns the fallback momentum rule looks at.
FALLBACK_LOOKBACK: int = 20
#: The three signals a facade returns.
SIGNALS: tuple[str, ...] = ("long", "short", "neutral")

# ============================================================================ the fallback


def momentum_probability(close: np.ndarray, lookback: int = FALLBACK_LOOKBACK) -> float:
    """The fallback's P(up): ``Phi(z)``, ``z`` the t-statistic of the mean daily log return over
    the last ``lookback`` bars (0.5 with fewer than 2 returns or no movement at all)."""
    close = np.asarray(close, dtype=np.float64)
    r = np.diff(np.log(close[-(lookback + 1) :]))
    if r.size < 2:
        return 0.5
    mean, sd = float(r.mean()), float(r.std(ddof=1))
    if sd == 0.0:
        return 0.5 if mean == 0.0 else float(mean > 0)
    return float(ndtr(mean / (sd / math.sqrt(r.size))))


def fallback_thresholds(config: RetrainConfig) -> tuple[float, float]:
    """Thresholds for fallback probabilities: the adaptive base ones, or the static ones."""
    if config.adaptive_thresholds:
        return float(config.adaptive_base_long), float(config.adaptive_base_short)
    return static_thresholds(config)


# ============================================================================ results


@dataclass(frozen=True)
class Signal:
    """One served signal with everything logged about it (``as_tuple()`` is the short form)."""

    symbol: str
    signal: str
    probability: float
    confidence: float
    size: float
    source: str
    reason: str
    regime: int
    long_threshold: float
    short_threshold: float
    model_version: int | None
    prediction_id: int
    n_bars: int
    bar_time: pd.Timestamp | None = None

    def as_tuple(self) -> tuple[str, float, float]:
        """``(signal, probability, confidence)``, what ``get_signal`` returns."""
        return self.signal, self.probability, self.confidence

    def to_dict(self) -> dict[str, Any]:
        return jsonable({name: getattr(self, name) for name in self.__dataclass_fields__})


@dataclass(frozen=True)
class RetrainReport:
    """What a retrain did. True in a boolean context when its model was promoted (is served).

    ``ok``: the retrain ran (samples, validation). ``promoted``: its model passed the promotion
    rule (purged hold-out log-loss strictly below the constant-probability baseline's) and the
    pointer moved to it. ``reason`` says why a retrain did not run or was not promoted.
    ``n_samples = n_market + n_feedback``; ``validation`` holds the hold-out scores.
    """

    ok: bool
    reason: str
    version: int | None
    trained_at: str
    promoted: bool = False
    n_samples: int = 0
    n_market: int = 0
    n_feedback: int = 0
    n_outcomes: int = 0
    symbols: tuple[str, ...] = ()
    validation: dict[str, Any] = field(default_factory=dict)
    thresholds: tuple[float, float] = (float("nan"), float("nan"))
    config: str = ""
    seconds: float = 0.0
    notes: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.promoted

    def to_dict(self) -> dict[str, Any]:
        return jsonable({name: getattr(self, name) for name in self.__dataclass_fields__})
