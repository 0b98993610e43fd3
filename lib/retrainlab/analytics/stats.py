"""Inference across seeds: is system B better than system A, and how sure are we?

Each seed gives one value per system (e.g. the Sharpe ratio of OLD and of NEW on the same
synthetic market), so the comparison is **paired**: everything is computed on the per-seed
differences ``b - a``.

* :func:`compare_paired` -> :class:`PairedComparison`: means, mean difference, a bootstrap
  confidence interval of the mean difference (``scipy.stats.bootstrap``, BCa, seeded), the
  two-sided Wilcoxon signed-rank p-value and the share of seeds where B beats A.
* :func:`bootstrap_mean_ci`: the same interval for one sample.

Degenerate inputs never raise; the documented values are returned instead.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

ArrayLike = np.ndarray | pd.Series | Sequence[float]

__all__ = ["PairedComparison", "bootstrap_mean_ci", "compare_paired"]


@dataclass(frozen=True)
class PairedComparison:
    """Paired comparison of system B against system A over the same seeds.

    Attributes
    ----------
    n : number of seeds used (pairs where both values are non-NaN).
    mean_a, mean_b : mean of each system over those seeds.
    mean_diff : mean of ``b - a`` (positive: B is better when higher is better).
    ci_low, ci_high : bootstrap confidence interval of ``mean_diff``.
    wilcoxon_p : two-sided Wilcoxon signed-rank p-value of the differences.
    share_b_wins : share of seeds with ``b > a`` strictly (ties are not wins).
    """

    n: int
    mean_a: float
    mean_b: float
    mean_diff: float
    ci_low: float
    ci_high: float
    wilcoxon_p: float
    share_b_wins: float

    @property
    def ci_excludes_zero(self) -> bool:
        """True when the whole confidence interval lies strictly on one side of 0."""
        return bool(self.ci_low > 0 or self.ci_high < 0)

    def to_dict(self) -> dict[str, float]:
        """All fields as plain Python floats (``n`` included), e.g. for a JSON results file."""
        return {f.name: float(getattr(self, f.name)) for f in dataclasses.fields(self)}


def _as_1d(values: ArrayLike, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be 1-D (one value per seed), got shape {arr.shape}")
    return arr


def _check_options(n_resamples: int, confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if int(n_resamples) != n_resamples or n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive integer, got {n_resamples!r}")


def bootstrap_mean_ci(
    values: ArrayLike, *, n_resamples: int = 9999, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Bootstrap confidence interval ``(low, high)`` of the mean of one sample.

    ``scipy.stats.bootstrap`` with the BCa method and ``numpy.random.default_rng(seed)``, so
    the same inputs and seed give the same interval. NaNs are dropped. If BCa cannot be
    computed (near-degenerate resamples) the percentile interval is used instead.

    Edge cases: fewer than 2 values -> ``(nan, nan)``; all values equal -> ``(v, v)`` (every
    resample has the same mean, so the bootstrap distribution is a point mass).
    """
    _check_options(n_resamples, confidence)
    x = _as_1d(values, "values")
    x = x[~np.isnan(x)]
    if x.size < 2:
        return float("nan"), float("nan")
    if np.ptp(x) == 0:
        return float(x[0]), float(x[0])
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=stats.DegenerateDataWarning)
            with np.errstate(all="ignore"):
                res = stats.bootstrap(
                    (x,),
                    np.mean,
                    n_resamples=int(n_resamples),
                    confidence_level=confidence,
                    method=method,
                    vectorized=True,
                    rng=np.random.default_rng(seed),
                )
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if np.isfinite(low) and np.isfinite(high):
            return low, high
    return float("nan"), float("nan")


def _wilcoxon_p(diff: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p; 1.0 when there is nothing to test (see compare_paired)."""
    if diff.size < 2 or np.all(diff == 0):
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)  # small-sample / ties notices
        res = stats.wilcoxon(diff, zero_method="wilcox", alternative="two-sided")
    p = float(res.pvalue)
    return p if np.isfinite(p) else 1.0


def compare_paired(
    a: ArrayLike,
    b: ArrayLike,
    *,
    n_resamples: int = 9999,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedComparison:
    """Compare per-seed values of two systems, ``a`` (baseline, e.g. OLD) and ``b`` (e.g. NEW).

    ``a[i]`` and ``b[i]`` must come from the same seed. Pairs where either value is NaN are
    dropped (``n`` counts the pairs kept); infinite values are kept and make the means and CI
    non-finite, so do not compare metrics that can be ``inf`` (e.g. profit factor with no
    losses) without deciding what that means first. On the differences ``d = b - a``:

    * ``mean_diff`` = mean(d); ``ci_low``/``ci_high`` = its ``confidence`` bootstrap interval
      (:func:`bootstrap_mean_ci`: BCa, ``n_resamples`` resamples, ``default_rng(seed)``;
      deterministic);
    * ``wilcoxon_p`` = two-sided Wilcoxon signed-rank p (zero differences dropped, scipy's
      exact distribution for small samples without ties, normal approximation otherwise);
    * ``share_b_wins`` = share of seeds with ``b > a``.

    Edge cases (never raise): ``n == 0`` -> means, CI and share ``nan``, p ``1.0``;
    ``n == 1`` -> CI ``nan``, p ``1.0``; all differences equal to ``c`` -> CI ``(c, c)``
    (point-mass bootstrap); all differences zero -> p ``1.0``.

    Raises ``ValueError`` if ``a`` and ``b`` differ in length or are not 1-D.
    """
    _check_options(n_resamples, confidence)
    a_arr, b_arr = _as_1d(a, "a"), _as_1d(b, "b")
    if a_arr.shape != b_arr.shape:
        raise ValueError(
            f"a and b must hold one value per seed for the same seeds; got {a_arr.size} "
            f"and {b_arr.size} values"
        )
    keep = ~(np.isnan(a_arr) | np.isnan(b_arr))
    a_arr, b_arr = a_arr[keep], b_arr[keep]
    n = int(a_arr.size)
    if n == 0:
        nan = float("nan")
        return PairedComparison(0, nan, nan, nan, nan, nan, 1.0, nan)
    diff = b_arr - a_arr
    low, high = bootstrap_mean_ci(diff, n_resamples=n_resamples, confidence=confidence, seed=seed)
    return PairedComparison(
        n=n,
        mean_a=float(np.mean(a_arr)),
        mean_b=float(np.mean(b_arr)),
        mean_diff=float(np.mean(diff)),
        ci_low=low,
        ci_high=high,
        wilcoxon_p=_wilcoxon_p(diff),
        share_b_wins=float(np.mean(b_arr > a_arr)),
    )
