"""Fix 5, long lookback: train on the last ``long_window`` (252) days instead of ``short_window`` (30).

The published report's reason: 30 days of samples is too few to estimate anything. With a
5-day horizon, a 30-day window also loses 5 days to the purge, leaving ~25 samples per ticker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retrainlab.engine.config import RetrainConfig


def training_window(config: RetrainConfig) -> int:
    """Number of trailing days whose samples may train the model at a retrain date."""
    return config.long_window if config.long_lookback else config.short_window
