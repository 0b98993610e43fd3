"""Fix 1, profit-weighted loss: weight each training sample by the size of its forward return.

Same model and the same cross-entropy loss, but ``sample_weight = |forward return|`` scaled to
mean 1 over the training window (return attribution, Lopez de Prado, AFML ch. 4): a sample whose
label was decided by a 5 % move counts more than one decided by a 0.01 % move, which is what a
trader's P&L cares about. With the switch off every sample weighs 1.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from retrainlab.engine.config import RetrainConfig

PROBLEM = "Wrong loss function"
CHANGE = "plain cross-entropy → samples weighted by |forward return|"


def sample_weights(forward_returns: np.ndarray) -> np.ndarray:
    """``|forward_returns|`` scaled to mean 1.

    If every forward return is 0 (or the input is empty) all weights are 1: with no move to
    attribute, no sample is more important than another. NaN inputs raise ``ValueError``
    (a training window never contains a sample whose label is unknown).
    """
    r = np.abs(np.asarray(forward_returns, dtype=np.float64))
    if np.any(np.isnan(r)):
        raise ValueError("forward_returns contains NaN: a training sample needs a known outcome")
    mean = r.mean() if r.size else 0.0
    if not mean > 0:
        return np.ones_like(r)
    return r / mean


def weigh_market_samples(forward_returns: np.ndarray, config: RetrainConfig) -> np.ndarray:
    """The ``sample_weights`` hook: ``|forward return|`` scaled to mean 1 over the window."""
    return sample_weights(forward_returns)


def training_weights(forward_returns: np.ndarray, config: RetrainConfig) -> np.ndarray | None:
    """The market samples' weights under ``config``: ``sample_weights`` if the fix is on, else None
    (unweighted, i.e. all 1)."""
    if not config.profit_weighted_loss:
        return None
    return sample_weights(forward_returns)


HOOKS: dict[str, Callable] = {"sample_weights": weigh_market_samples}
