"""Fix 6, confidence sizing: bet size from the model's probability (AFML ch. 10).

With the switch on, a position's size is ``0.5 + |m(p)|`` with
``m(p) = 2 * Phi((p - 0.5) / sqrt(p * (1 - p))) - 1`` (Lopez de Prado, *Advances in Financial
Machine Learning*, ch. 10: the test statistic of H0: p = 0.5 mapped through the normal CDF), so
sizes run from 0.5 (a coin flip) to 1.5 (certainty). Off, every position has size 1.

Note what this does to risk: most probabilities of a weak model sit near 0.5, so most NEW positions
are smaller than OLD's; compare systems at equal risk, not by total return.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import ndtr

from retrainlab.engine.config import RetrainConfig

PROBLEM = "No confidence-weighted positions"
CHANGE = "size 1 → 0.5 + m(p), the AFML bet-size function"


def signed_bet(p: np.ndarray | float) -> np.ndarray | float:
    """``m(p) = 2 * Phi((p - 0.5) / sqrt(p (1 - p))) - 1`` in [-1, 1]; +-1 at p = 1 / 0, NaN for
    NaN."""
    p_arr = np.asarray(p, dtype=np.float64)
    if np.any((p_arr < 0) | (p_arr > 1)):
        raise ValueError("probabilities must lie in [0, 1]")
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (p_arr - 0.5) / np.sqrt(p_arr * (1.0 - p_arr))
    m = 2.0 * ndtr(z) - 1.0  # z = +-inf at p = 1 / 0 gives m = +-1
    return float(m) if np.ndim(p) == 0 else m


def confidence(p: np.ndarray | float) -> np.ndarray | float:
    """The model's confidence ``|m(p)|`` in [0, 1] (recorded for every system, sizes NEW only)."""
    return np.abs(signed_bet(p))


def bet_size(p: np.ndarray | float) -> np.ndarray | float:
    """Bet size ``0.5 + |m(p)|``: 0.5 at p = 0.5, symmetric in p - 0.5, at most 1.5."""
    return 0.5 + confidence(p)


def position_size(p: np.ndarray | float, config: RetrainConfig) -> np.ndarray | float:
    """Size of a position taken with probability ``p``: ``bet_size(p)`` if the fix is on, else 1."""
    if config.confidence_sizing:
        return bet_size(p)
    if np.ndim(p) == 0:
        return 1.0
    return np.ones(np.shape(p))


def sized_by_confidence(p: np.ndarray, config: RetrainConfig) -> np.ndarray:
    """The ``position_size`` hook: ``bet_size(p)``."""
    return bet_size(p)


HOOKS: dict[str, Callable] = {"position_size": sized_by_confidence}
