"""Inference across seeds: is system B better than system A, and how sure are we?

Each seed gives one value per system (e.g. the Sharpe ratio of OLD and of NEW on the same
synthetic market), so the comparison is **paired**: everything is computed on the per-seed
differences ``b - a``.

* :func:`compare_paired` -> :class:`PairedComparison`: means, mean difference, a bootstrap
  confidence interval of the mean difference (``scipy.stats.bootstrap``, BCa, seeded), the
  two-sided Wilcoxon signed-rank p-value and the share of seeds where B beats A.
* :func:`bootstrap_mean_ci`: the same interval for one sample.

The verdict's statistics, where the CI and the p-value come from the **same** bootstrap draws
(so "the CI excludes zero" and "p < 0.05" can never disagree):

* :func:`sharpe_difference_ci` -> :class:`BootstrapDifference`: the Sharpe ratio difference
  of two paired daily return series, stationary block bootstrap (``arch.bootstrap``);
* :func:`paired_bootstrap`: the mean of per-market differences, i.i.d. bootstrap over markets,
  rows sorted by seed first so the answer does not depend on row order;
* :func:`holm_adjust`: Holm-Bonferroni adjusted p-values for a family of tests;
* :func:`sign_test_p`: two-sided sign test of the share of markets where B wins.

Degenerate inputs never raise; the documented values are returned instead.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from arch.bootstrap import StationaryBootstrap, optimal_block_length
from scipy import stats

ArrayLike = np.ndarray | pd.Series | Sequence[float]

__all__ = [
    "BootstrapDifference",
    "PairedComparison",
    "bootstrap_mean_ci",
    "compare_paired",
    "holm_adjust",
    "paired_bootstrap",
    "sharpe_difference_ci",
    "sign_test_p",
    "stationary_block_length",
]


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


def _sorted_mean(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Mean along ``axis``, summed in sorted order.

    With few values, some resamples hold exactly the sample's values in another order (8! / 8^8,
    about 0.24% of them, at 8 values). Summed in the drawn order their means differ from the
    sample mean in the last bit, above or below it depending on that bit of the inputs; BCa's
    bias correction counts them as below or above, so an input change at 1e-16 (another CPU's
    BLAS kernel upstream) moved an 8-value interval by up to 3e-3 relative. Summed in sorted
    order they equal the sample mean exactly and count as ties (scipy counts a tie as half).
    """
    return np.mean(np.sort(x, axis=axis), axis=axis)


def bootstrap_mean_ci(
    values: ArrayLike, *, n_resamples: int = 9999, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Bootstrap confidence interval ``(low, high)`` of the mean of one sample.

    ``scipy.stats.bootstrap`` with the BCa method and ``numpy.random.default_rng(seed)``, so
    the same inputs and seed give the same interval; each resample's mean is summed in sorted
    order (``_sorted_mean``), so inputs that differ in their last bits give the same interval
    to far below the 10 digits results files keep. NaNs are dropped. If BCa cannot be
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
                    _sorted_mean,
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


# ============================================================================ the verdict's tests


@dataclass(frozen=True)
class BootstrapDifference:
    """A difference B - A with a bootstrap CI and a two-sided p-value from the same draws.

    Attributes
    ----------
    estimate : the difference on the original sample.
    ci_low, ci_high : percentile interval of the bootstrap draws at ``confidence``.
    p_value : ``2 * min(share of draws <= 0, share of draws >= 0)``, capped at 1 and floored
        at ``1 / n_resamples`` (a p of 0 only says "below the resolution").
    n : observations resampled (days, or markets).
    block_length : mean block length of the stationary bootstrap (1 = i.i.d. resampling).
    n_resamples, confidence, seed : the bootstrap's settings.

    With these definitions ``ci_excludes_zero`` is exactly ``p_value < 1 - confidence``
    (whenever ``1 / n_resamples < 1 - confidence``): the interval's bounds are order
    statistics chosen so that the lower bound is above zero iff fewer than ``alpha / 2`` of
    the draws are ``<= 0`` (and symmetrically for the upper bound).
    """

    estimate: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int
    block_length: float
    n_resamples: int
    confidence: float
    seed: int

    @property
    def ci_excludes_zero(self) -> bool:
        """True when the whole interval lies strictly on one side of 0."""
        return bool(self.ci_low > 0 or self.ci_high < 0)

    def to_dict(self) -> dict[str, float]:
        """All fields as plain Python numbers, e.g. for a JSON results file."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)} | {
            "ci_excludes_zero": self.ci_excludes_zero
        }


def _ci_and_p(draws: np.ndarray, confidence: float) -> tuple[float, float, float]:
    """Percentile CI and two-sided p of ``draws``, consistent by construction (see above)."""
    draws = draws[np.isfinite(draws)]
    if draws.size == 0:
        return float("nan"), float("nan"), 1.0
    alpha = 1.0 - confidence
    # inverted_cdf: the smallest draw whose empirical CDF reaches alpha/2, so
    # low > 0  <=>  share(draws <= 0) < alpha/2; the upper bound mirrors it.
    low = float(np.quantile(draws, alpha / 2, method="inverted_cdf"))
    high = float(-np.quantile(-draws, alpha / 2, method="inverted_cdf"))
    share_le, share_ge = float(np.mean(draws <= 0)), float(np.mean(draws >= 0))
    p = min(1.0, 2.0 * min(share_le, share_ge))
    return low, high, max(p, 1.0 / draws.size)


def _sharpe_rows(x: np.ndarray, periods_per_year: float) -> np.ndarray:
    """Annualised Sharpe of each row of ``x`` (last axis: days), ddof 1.

    Zero variance as ``metrics.sharpe_ratio``: 0 for an all-zero (flat) book, else NaN.
    """
    sd = x.std(axis=-1, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = x.mean(axis=-1) / sd * np.sqrt(periods_per_year)
    return np.where(sd > 0, out, np.where(np.all(x == 0, axis=-1), 0.0, np.nan))


def stationary_block_length(a: ArrayLike, b: ArrayLike) -> float:
    """Mean block length for a stationary bootstrap of the paired series ``(a, b)``.

    ``arch.bootstrap.optimal_block_length`` (Politis & White 2004, corrected by Patton,
    Politis & White 2009) of each series and of their squares (the Sharpe ratio depends on
    both moments); the largest, and at least 1. Longer blocks keep more dependence, so the
    largest is the cautious choice.
    """
    x = np.column_stack([_as_1d(a, "a"), _as_1d(b, "b")])
    x = x[np.isfinite(x).all(axis=1)]
    if len(x) < 10:
        return 1.0
    table = optimal_block_length(np.column_stack([x, x**2]))
    length = float(np.nanmax(table["stationary"].to_numpy(dtype=float)))
    return max(1.0, length) if np.isfinite(length) else 1.0


def sharpe_difference_ci(
    a: ArrayLike,
    b: ArrayLike,
    *,
    block_length: float | None = None,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    periods_per_year: float = 252,
) -> BootstrapDifference:
    """Sharpe(b) - Sharpe(a) of two **paired** daily return series, stationary block bootstrap.

    ``a[t]`` and ``b[t]`` are the two systems' returns on the same day t (same length; days
    where either is NaN are dropped). The days are resampled jointly with
    ``arch.bootstrap.StationaryBootstrap`` (Politis & Romano 1994: blocks of geometric length
    with mean ``block_length``, wrapping around), which keeps the serial dependence and the
    cross-correlation of the pair. ``block_length`` defaults to :func:`stationary_block_length`.
    Each draw is the annualised Sharpe difference (mean / std, ddof 1, times
    ``sqrt(periods_per_year)``) of the resampled pair; CI and p come from those draws
    (:class:`BootstrapDifference`). Seeded (``numpy.random.default_rng(seed)``): the same
    inputs give the same answer. Series given as pandas objects are used in their given
    order, which must be time order.

    Edge cases: fewer than 3 paired days -> estimate, CI ``nan`` and p 1.0.
    """
    _check_options(n_resamples, confidence)
    a_arr, b_arr = _as_1d(a, "a"), _as_1d(b, "b")
    if a_arr.shape != b_arr.shape:
        raise ValueError(
            f"a and b must be paired daily returns of equal length; got {a_arr.size} and "
            f"{b_arr.size} days"
        )
    x = np.column_stack([a_arr, b_arr])
    x = x[np.isfinite(x).all(axis=1)]
    n = len(x)
    nan = float("nan")
    if n < 3:
        return BootstrapDifference(nan, nan, nan, 1.0, n, nan, int(n_resamples), confidence, seed)
    estimate = float(
        _sharpe_rows(x[:, 1], periods_per_year) - _sharpe_rows(x[:, 0], periods_per_year)
    )
    length = (
        float(block_length)
        if block_length is not None
        else stationary_block_length(x[:, 0], x[:, 1])
    )
    if not length >= 1.0:
        raise ValueError(f"block_length must be >= 1, got {block_length!r}")
    boot = StationaryBootstrap(length, x, seed=np.random.default_rng(seed))
    draws = np.empty(int(n_resamples))
    first, second = np.ascontiguousarray(x[:, 0]), np.ascontiguousarray(x[:, 1])
    chunk = max(1, 2_000_000 // n)  # bound each (chunk, n) gather to ~16 MB
    for start in range(0, int(n_resamples), chunk):
        stop = min(int(n_resamples), start + chunk)
        idx = np.stack([boot.update_indices() for _ in range(stop - start)])
        # each series gathered on its own: contiguous rows, half the memory traffic of the pair
        draws[start:stop] = _sharpe_rows(second[idx], periods_per_year) - _sharpe_rows(
            first[idx], periods_per_year
        )
    low, high, p = _ci_and_p(draws, confidence)
    return BootstrapDifference(
        estimate, low, high, p, n, length, int(n_resamples), confidence, seed
    )


def _by_seed(values: ArrayLike, seeds: ArrayLike | None, what: str) -> np.ndarray:
    arr = _as_1d(values, what)
    if seeds is None:
        return arr
    keys = np.asarray(seeds)
    if keys.shape != arr.shape:
        raise ValueError(
            f"seeds must give one seed per value of {what}: {keys.shape} vs {arr.shape}"
        )
    if len(np.unique(keys)) != len(keys):
        raise ValueError(f"seeds of {what} are not unique; one value per market is expected")
    return arr[np.argsort(keys, kind="stable")]


def paired_bootstrap(
    a: ArrayLike,
    b: ArrayLike,
    seeds: ArrayLike | None = None,
    *,
    n_resamples: int = 9999,
    confidence: float = 0.95,
    seed: int = 0,
) -> BootstrapDifference:
    """Mean of ``b - a`` over markets with an i.i.d. bootstrap CI and p from the same draws.

    ``a[i]`` and ``b[i]`` are two systems' values (e.g. Sharpe ratios) on market i; markets
    are independent, so they are resampled with replacement (``default_rng(seed)``). When
    ``seeds`` (one per market) is given, the pairs are sorted by seed first: the result does
    not depend on the order of the rows. Pairs with a NaN are dropped. CI (percentile) and p
    as in :class:`BootstrapDifference`.

    Edge cases: fewer than 2 pairs -> CI ``nan``, p 1.0; all differences equal to ``c`` ->
    CI ``(c, c)`` and p 1.0 if ``c == 0`` else the resolution ``1 / n_resamples``.
    """
    _check_options(n_resamples, confidence)
    a_arr, b_arr = _by_seed(a, seeds, "a"), _by_seed(b, seeds, "b")
    if a_arr.shape != b_arr.shape:
        raise ValueError(f"a and b must be paired; got {a_arr.size} and {b_arr.size} values")
    diff = (b_arr - a_arr)[~(np.isnan(a_arr) | np.isnan(b_arr))]
    n = int(diff.size)
    nan = float("nan")
    if n < 2:
        est = float(diff[0]) if n else nan
        return BootstrapDifference(est, nan, nan, 1.0, n, 1.0, int(n_resamples), confidence, seed)
    rng = np.random.default_rng(seed)
    draws = np.empty(int(n_resamples))
    chunk = max(1, 2_000_000 // n)
    for start in range(0, int(n_resamples), chunk):
        stop = min(int(n_resamples), start + chunk)
        draws[start:stop] = diff[rng.integers(0, n, size=(stop - start, n))].mean(axis=1)
    low, high, p = _ci_and_p(draws, confidence)
    return BootstrapDifference(
        float(diff.mean()), low, high, p, n, 1.0, int(n_resamples), confidence, seed
    )


def holm_adjust(pvalues: ArrayLike) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values, in the order given.

    With the m p-values sorted ascending, ``p_(1) <= ... <= p_(m)``, the adjusted value of
    the i-th is ``max_{j <= i} min(1, (m - j + 1) * p_(j))`` (step-down; monotone). Rejecting
    where the adjusted p is below alpha controls the family-wise error rate at alpha (Holm
    1979) under any dependence between the tests. NaN p-values stay NaN and are not counted
    in m.
    """
    p = _as_1d(pvalues, "pvalues")
    if np.any((p < 0) | (p > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(~np.isnan(p))
    m = finite.size
    if m == 0:
        return out
    order = finite[np.argsort(p[finite], kind="stable")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out


def sign_test_p(a: ArrayLike, b: ArrayLike) -> float:
    """Two-sided sign test that B beats A on as many markets as it loses (exact binomial).

    Ties and NaN pairs are dropped; no pair left -> 1.0.
    """
    a_arr, b_arr = _as_1d(a, "a"), _as_1d(b, "b")
    if a_arr.shape != b_arr.shape:
        raise ValueError(f"a and b must be paired; got {a_arr.size} and {b_arr.size} values")
    keep = ~(np.isnan(a_arr) | np.isnan(b_arr))
    wins = int(np.sum(b_arr[keep] > a_arr[keep]))
    losses = int(np.sum(b_arr[keep] < a_arr[keep]))
    if wins + losses == 0:
        return 1.0
    return float(stats.binomtest(wins, wins + losses, 0.5, alternative="two-sided").pvalue)
