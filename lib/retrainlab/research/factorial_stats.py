"""The factorial's statistics: pure functions of a ``(n_markets, 2**k)`` matrix of values.

Columns are in standard (Yates) order (``retrainlab.all_configs``): configuration ``m`` has fix
``b`` on exactly when bit ``b`` of ``m`` is set, so column 0 is OLD and the last is NEW.

* :func:`config_means`: each configuration's mean across markets with a bootstrap CI;
* :func:`effects`: main effects and two-way interactions, a least-squares regression of each
  market's values on the ±1-coded design (:func:`effect_design`); the design is orthogonal, so
  each coefficient is a contrast, averaged across markets with a bootstrap CI (markets are the
  clusters);
* :func:`shapley`: the exact Shapley value of each fix for the gain ``NEW - OLD`` on each market;
* :func:`select_best`: the configuration with the highest mean across markets;
* :func:`family` and :func:`paired_test`: means and paired differences judged at a
  Bonferroni-corrected level (:func:`corrected_confidence`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import combinations
from typing import Any

import numpy as np

from retrainlab.analytics.stats import bootstrap_mean_ci, compare_paired

__all__ = [
    "CONFIDENCE",
    "config_means",
    "corrected_confidence",
    "effect_design",
    "effects",
    "family",
    "mean_ci",
    "n_fixes_of",
    "paired_difference",
    "paired_test",
    "select_best",
    "shapley",
    "shapley_weights",
]

#: Family-wise confidence of every pass/fail statement (Bonferroni-corrected per family).
CONFIDENCE = 0.95


def corrected_confidence(n_tests: int, confidence: float = CONFIDENCE) -> float:
    """Per-test confidence for a family of ``n_tests`` (Bonferroni): ``1 - (1 - c) / n``."""
    return 1.0 - (1.0 - confidence) / max(int(n_tests), 1)


def mean_ci(values: np.ndarray, confidence: float, seed: int = 0) -> dict[str, float]:
    """Mean of one sample with its bootstrap CI (``analytics.stats.bootstrap_mean_ci``)."""
    values = np.asarray(values, dtype=np.float64)
    low, high = bootstrap_mean_ci(values, confidence=confidence, seed=seed)
    finite = values[np.isfinite(values)]
    return {
        "mean": float(finite.mean()) if finite.size else float("nan"),
        "ci_low": low,
        "ci_high": high,
        "n": int(finite.size),
    }


def _with_verdict(stat: dict[str, float], corrected: float) -> dict[str, Any]:
    """Adds ``positive``/``negative``: the CI at the family-corrected level excludes zero."""
    stat = dict(stat)
    excludes = stat.pop("corrected_low") > 0, stat.pop("corrected_high") < 0
    stat["corrected_confidence"] = corrected
    stat["positive"], stat["negative"] = bool(excludes[0]), bool(excludes[1])
    return stat


def family(columns: np.ndarray, names: Sequence[str], confidence: float) -> dict[str, Any]:
    """Mean, 95% CI and a Bonferroni-corrected verdict of each column, as one family of tests."""
    corrected = corrected_confidence(len(names), confidence)
    out = {}
    for j, name in enumerate(names):
        stat = mean_ci(columns[:, j], confidence)
        low, high = bootstrap_mean_ci(columns[:, j], confidence=corrected, seed=0)
        stat.update(corrected_low=low, corrected_high=high)
        out[name] = _with_verdict(stat, corrected)
    return out


def paired_difference(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """``compare_paired(a, b)`` as a dict: ``b - a`` with its 95% CI and Wilcoxon p."""
    return compare_paired(a, b).to_dict()


def paired_test(
    a: np.ndarray, b: np.ndarray, n_tests: int, confidence: float = CONFIDENCE
) -> dict[str, Any]:
    """``b - a`` paired (:func:`paired_difference`, 95% CI) plus a verdict corrected for
    ``n_tests``.

    The family of ``n_tests`` comparisons is Bonferroni-corrected: each is judged at level
    ``alpha = (1 - confidence) / n_tests``. ``positive`` (``negative``) needs both the CI at
    ``1 - alpha`` above (below) zero and the two-sided Wilcoxon signed-rank p below ``alpha``:
    with few pairs (eight blocks) a bootstrap CI is too narrow on its own, and the signed-rank
    test is exact there (its smallest p with 8 pairs is 2 / 2**8 = 0.0078).
    """
    corrected = corrected_confidence(n_tests, confidence)
    wide = compare_paired(a, b, confidence=corrected)
    alpha = 1.0 - corrected
    significant = bool(wide.wilcoxon_p < alpha)
    return {
        **paired_difference(a, b),
        "n_tests": int(n_tests),
        "alpha": alpha,
        "corrected_confidence": corrected,
        "corrected_ci_low": wide.ci_low,
        "corrected_ci_high": wide.ci_high,
        "positive": bool(significant and wide.ci_low > 0),
        "negative": bool(significant and wide.ci_high < 0),
    }


def config_means(values: np.ndarray, confidence: float = CONFIDENCE) -> list[dict[str, float]]:
    """Each configuration's mean across markets with its bootstrap CI (one dict per column)."""
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    return [mean_ci(values[:, j], confidence) for j in range(values.shape[1])]


def n_fixes_of(n_configs: int) -> int:
    """``k`` for a factorial of ``n_configs = 2**k`` configurations (raises otherwise)."""
    k = int(round(math.log2(n_configs))) if n_configs > 0 else -1
    if k < 1 or 2**k != n_configs:
        raise ValueError(f"a factorial has 2**k configurations (k >= 1), got {n_configs}")
    return k


def effect_design(k: int) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """The ±1-coded regression design of a ``2**k`` factorial in standard order.

    Returns ``(X, terms)``: ``X`` is ``(2**k, 1 + k + k(k-1)/2)`` with columns intercept, each
    switch ``x_b = +1`` when fix ``b`` is on else ``-1``, and each product ``x_a * x_b``;
    ``terms`` names them as index tuples ``()``, ``(b,)``, ``(a, b)``.
    """
    bits = (np.arange(2**k)[:, None] >> np.arange(k)) & 1
    x = 2.0 * bits - 1.0
    terms: list[tuple[int, ...]] = [(), *((b,) for b in range(k)), *combinations(range(k), 2)]
    columns = [np.prod(x[:, list(t)], axis=1) if t else np.ones(2**k) for t in terms]
    return np.column_stack(columns), terms


def effects(values: np.ndarray) -> tuple[np.ndarray, list[tuple[int, ...]], np.ndarray]:
    """Per-market main effects and two-way interactions, in Sharpe units.

    Each market's ``2**k`` values are regressed (least squares) on :func:`effect_design`. The
    design is orthogonal, so the estimates equal the classic factorial contrasts whatever the
    higher-order terms are:

    * main effect of fix ``b`` = ``2 * beta_b`` = mean over the configurations with ``b`` on minus
      mean over those with it off (what switching ``b`` on earns, averaged over the others);
    * interaction of ``a`` and ``b`` = ``4 * beta_ab`` = the double difference
      ``v(a,b) - v(a) - v(b) + v(none)``, averaged over the other switches: how much more ``a``
      earns when ``b`` is on than when it is off (symmetric in ``a`` and ``b``).

    Returns ``(estimates, terms, r_squared)``: ``estimates`` is ``(n_markets, k + k(k-1)/2)``
    (the main effects, then the pairs in ``terms`` order, intercept dropped) and ``r_squared``
    the share of each market's variance across configurations the model explains (the rest is
    three-way and higher interactions).
    """
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    k = n_fixes_of(values.shape[1])
    X, terms = effect_design(k)
    beta = np.linalg.lstsq(X, values.T, rcond=None)[0].T  # (n_markets, n_terms)
    scale = np.array([{0: 1.0, 1: 2.0, 2: 4.0}[len(t)] for t in terms])
    fitted = beta @ X.T
    centred = values - values.mean(axis=1, keepdims=True)
    total = (centred**2).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = np.where(total > 0, 1.0 - ((values - fitted) ** 2).sum(axis=1) / total, np.nan)
    return (beta * scale)[:, 1:], terms[1:], r2


def shapley_weights(k: int) -> np.ndarray:
    """``(2**k, k)`` matrix ``W`` with ``values @ W`` = the exact Shapley values of the ``k`` fixes.

    Player ``b``'s Shapley value is ``sum over S not containing b of
    |S|! (k - |S| - 1)! / k! * (v(S + b) - v(S))``: configuration ``m`` enters with weight
    ``+w(|m| - 1)`` if ``b`` is in ``m`` and ``-w(|m|)`` if not. Each column sums to zero, so
    only differences of ``v`` matter (``v(OLD)`` need not be subtracted first).
    """
    size = np.array([bin(m).count("1") for m in range(2**k)])
    weight = [math.factorial(s) * math.factorial(k - s - 1) / math.factorial(k) for s in range(k)]
    W = np.empty((2**k, k))
    for b in range(k):
        on = (np.arange(2**k) >> b & 1).astype(bool)
        W[on, b] = [weight[s - 1] for s in size[on]]
        W[~on, b] = [-weight[s] for s in size[~on]]
    return W


def shapley(values: np.ndarray) -> np.ndarray:
    """``(n_markets, k)`` exact Shapley value of each fix for ``v(all fixes) - v(no fix)``.

    ``values`` is ``(n_markets, 2**k)`` in standard order (``all_configs``). Each row sums to
    ``values[:, -1] - values[:, 0]`` (NEW - OLD) up to rounding.
    """
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    return values @ shapley_weights(n_fixes_of(values.shape[1]))


def select_best(values: np.ndarray) -> int:
    """Index of the configuration with the highest mean across markets (ties: the first)."""
    means = np.nanmean(np.atleast_2d(np.asarray(values, dtype=np.float64)), axis=0)
    return int(np.nanargmax(means))
