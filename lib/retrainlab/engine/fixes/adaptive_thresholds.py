"""Fix 3, adaptive thresholds: cut the model's probabilities at quantiles of its own history.

OLD uses static thresholds (long above 0.52, short below 0.48). A model whose probabilities all
sit on one side of 0.5 (common: in a rising market almost every probability is above 0.5) then
signals in one direction only. ``AdaptiveThresholds`` instead keeps the trailing distribution of
the model's own probabilities (the last ``threshold_history`` of them, pooled across tickers)
and sets

* long threshold  = its ``(1 + n) / 2`` quantile,
* short threshold = its ``(1 - n) / 2`` quantile,

with ``n = neutral_share`` the target share of neutral decisions, both clipped to
``[threshold_floor, threshold_ceiling]`` (0.40 / 0.60). Until ``threshold_min_history``
probabilities have been observed, the base thresholds 0.55 / 0.45 apply.

The caller decides causality: ``observe`` the probabilities of a decision date only after
classifying that date, and the thresholds at any date come from strictly earlier decisions.
Quantiles are numpy's default (linear interpolation): ``linear_quantile`` computes
``np.quantile(values, q)`` with numpy's own arithmetic, bit for bit (tested), without its generic
machinery, which took most of a walk-forward's decision step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from retrainlab.engine.config import RetrainConfig
from retrainlab.engine.decisions import classify, signal_codes, static_thresholds

__all__ = [
    "AdaptiveThresholds",
    "classify",
    "linear_quantile",
    "signal_codes",
    "static_thresholds",
]

PROBLEM = (
    f"Static thresholds ({RetrainConfig().long_threshold:.2f} / "
    f"{RetrainConfig().short_threshold:.2f})"
)
CHANGE = "thresholds from the model's own trailing probabilities"

_PARAMS = (
    "adaptive_base_long",
    "adaptive_base_short",
    "neutral_share",
    "threshold_floor",
    "threshold_ceiling",
    "threshold_history",
    "threshold_min_history",
)


def linear_quantile(values: np.ndarray, q: float) -> float:
    """``float(np.quantile(values, q))`` of a 1-D float64 array without NaN, ``0 <= q <= 1``.

    numpy's default method step for step (``numpy.lib._function_base_impl._quantile``, method
    ``"linear"``): virtual index ``v = (n - 1) * q``, the order statistics ``a`` at ``floor(v)``
    and ``b`` at ``floor(v) + 1`` (both the maximum when ``v >= n - 1``), ``t = v - floor(v)``
    (``v + 1`` in that case, as numpy's index -1 makes it), then ``a + (b - a) * t``, or
    ``b - (b - a) * (1 - t)`` when ``t >= 0.5``. The same IEEE operations in the same order give
    the same double.
    """
    n = values.size
    if n == 0:  # numpy's own error for an empty array
        return float(np.quantile(values, q))
    v = (n - 1) * q
    lo = float(np.floor(v))
    if v >= n - 1:
        i = j = n - 1
        lo = -1.0
    else:
        i = int(lo)
        j = i + 1
    part = np.partition(values, (i, j) if i != j else i)
    a, b = float(part[i]), float(part[j])
    t = v - lo
    diff = b - a
    if t >= 0.5:
        return b - diff * (1 - t)
    return a + diff * t


class AdaptiveThresholds:
    """Long/short thresholds from quantiles of the model's own trailing probabilities.

    Parameters
    ----------
    config : a ``RetrainConfig`` (only its threshold fields are read); default ``RetrainConfig()``.

    Examples
    --------
    >>> at = AdaptiveThresholds()
    >>> at.thresholds
    (0.55, 0.45)
    >>> at.observe(np.linspace(0.3, 0.7, 101))
    >>> at.thresholds  # 65 % and 35 % quantiles of the history
    (0.56, 0.44)
    """

    def __init__(self, config: RetrainConfig | None = None) -> None:
        if config is None:
            config = RetrainConfig()
        for name in _PARAMS:
            setattr(self, name, getattr(config, name))
        self._history = np.empty(0)
        self._cache: tuple[float, float] | None = None

    # ------------------------------------------------------------------ state
    def observe(self, probs: np.ndarray | float) -> None:
        """Add probabilities to the history (NaNs are ignored); keeps the last
        ``threshold_history``."""
        p = np.asarray(probs, dtype=np.float64).ravel()
        p = p[~np.isnan(p)]
        if p.size == 0:
            return
        if np.any((p < 0) | (p > 1)):
            raise ValueError("probabilities must lie in [0, 1]")
        self._history = np.concatenate([self._history, p])[-self.threshold_history :]
        self._cache = None

    @property
    def history(self) -> np.ndarray:
        """The probabilities currently used for the quantiles (oldest first; a copy)."""
        return self._history.copy()

    @property
    def n_observed(self) -> int:
        """How many probabilities the history holds (at most ``threshold_history``)."""
        return int(self._history.size)

    @property
    def thresholds(self) -> tuple[float, float]:
        """``(long_threshold, short_threshold)`` for the next decision."""
        if self._cache is None:
            if self._history.size < self.threshold_min_history:
                self._cache = (float(self.adaptive_base_long), float(self.adaptive_base_short))
            else:
                n = self.neutral_share
                low = linear_quantile(self._history, (1.0 - n) / 2.0)
                high = linear_quantile(self._history, (1.0 + n) / 2.0)
                lo, hi = self.threshold_floor, self.threshold_ceiling
                self._cache = (float(min(max(high, lo), hi)), float(min(max(low, lo), hi)))
        return self._cache

    def classify(self, p: np.ndarray | float) -> np.ndarray | str:
        """Classify probabilities with the current thresholds (see module-level ``classify``)."""
        long_threshold, short_threshold = self.thresholds
        return classify(p, long_threshold, short_threshold)

    def get_state(self) -> dict[str, Any]:
        """JSON-safe state (parameters and history), for persistence."""
        return {
            "params": {name: getattr(self, name) for name in _PARAMS},
            "history": [float(x) for x in self._history],
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state written by ``get_state``."""
        try:
            params, history = state["params"], state["history"]
        except (KeyError, TypeError) as exc:
            raise ValueError(
                "state must be a dict with 'params' and 'history' (as written by get_state)"
            ) from exc
        unknown = set(params) - set(_PARAMS)
        if unknown:
            raise ValueError(f"unknown AdaptiveThresholds parameters {sorted(unknown)}")
        for name, value in params.items():
            setattr(self, name, value)
        self._history = np.asarray(history, dtype=np.float64)[-self.threshold_history :]
        self._cache = None

    def __repr__(self) -> str:
        long_threshold, short_threshold = self.thresholds
        return (
            f"AdaptiveThresholds(long={long_threshold:.4f}, short={short_threshold:.4f}, "
            f"n_observed={self.n_observed})"
        )


def adaptive_policy(config: RetrainConfig) -> AdaptiveThresholds:
    """The ``thresholds`` hook: a fresh ``AdaptiveThresholds`` for ``config``."""
    return AdaptiveThresholds(config)


HOOKS: dict[str, Callable] = {"thresholds": adaptive_policy}
