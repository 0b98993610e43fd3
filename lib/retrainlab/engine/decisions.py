"""Turning probabilities into decisions: signal codes and the static (OLD) thresholds.

A decision is +1 (long) if ``p > long_threshold``, -1 (short) if ``p < short_threshold``, else
0 (neutral, also for NaN: no prediction). Where the thresholds come from is a hook
(``retrainlab.engine.hooks``): by default the static ``StaticThresholds`` below; the
``adaptive_thresholds`` fix replaces them with quantiles of the model's own probabilities.
"""

from __future__ import annotations

import numpy as np

from retrainlab.engine.config import RetrainConfig

#: Side names by signal code + 1 (code -1 short, 0 neutral, +1 long).
SIDES = np.array(["short", "neutral", "long"], dtype=object)


def signal_codes(
    p: np.ndarray | float, long_threshold: float, short_threshold: float
) -> np.ndarray:
    """+1 (long), -1 (short) or 0 (neutral, also for NaN) as an int array of ``p``'s shape."""
    p = np.asarray(p, dtype=np.float64)
    return (p > long_threshold).astype(np.int64) - (p < short_threshold).astype(np.int64)


def classify(
    p: np.ndarray | float, long_threshold: float, short_threshold: float
) -> np.ndarray | str:
    """ "long" if ``p > long_threshold``, "short" if ``p < short_threshold``, else "neutral".

    NaN (no prediction) is "neutral". Works on a scalar (returns a str) or an array (returns an
    object array of the same shape).
    """
    codes = signal_codes(p, long_threshold, short_threshold)
    names = SIDES[codes + 1]
    return str(names) if np.ndim(p) == 0 else names


def static_thresholds(config: RetrainConfig) -> tuple[float, float]:
    """OLD's fixed ``(long_threshold, short_threshold)``."""
    return float(config.long_threshold), float(config.short_threshold)


class StaticThresholds:
    """The default threshold policy: ``config``'s fixed thresholds; observing changes nothing.

    Any threshold policy (this one, ``AdaptiveThresholds``) has ``thresholds`` (the pair in
    force for the next decision) and ``observe(probs)`` (called after each decision date).
    """

    def __init__(self, config: RetrainConfig) -> None:
        self.thresholds: tuple[float, float] = static_thresholds(config)

    def observe(self, probs: np.ndarray | float) -> None:
        """Static thresholds learn nothing from the probabilities."""

    def __repr__(self) -> str:
        long_threshold, short_threshold = self.thresholds
        return f"StaticThresholds(long={long_threshold}, short={short_threshold})"
