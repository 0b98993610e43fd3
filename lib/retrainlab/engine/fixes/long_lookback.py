"""Fix 5, long lookback: train on the last ``long_window`` (252) days instead of ``short_window``
(30).

The published report's reason: 30 days of samples is too few to estimate anything. With a
5-day horizon, a 30-day window also loses 5 days to the purge, leaving ~25 samples per ticker.
"""

from __future__ import annotations

from collections.abc import Callable

from retrainlab.engine.config import RetrainConfig

PROBLEM = "Training data too short"
CHANGE = f"{RetrainConfig().short_window}-day → {RetrainConfig().long_window}-day training window"


def long_window(config: RetrainConfig) -> int:
    """The ``training_window`` hook: ``config.long_window`` trailing days."""
    return config.long_window


HOOKS: dict[str, Callable] = {"training_window": long_window}
