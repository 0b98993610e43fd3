"""Tests for retrainlab.analytics.stats: paired comparison across seeds and the bootstrap CI."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from scipy import stats as sps

from retrainlab.analytics.stats import PairedComparison, bootstrap_mean_ci, compare_paired


@pytest.fixture
def a() -> np.ndarray:
    return np.random.default_rng(11).normal(0.5, 1.0, 20)


def test_b_equals_a_plus_one(a):
    c = compare_paired(a, a + 1.0, n_resamples=999)
    assert c.n == 20
    assert c.mean_diff == pytest.approx(1.0)
    assert c.mean_b - c.mean_a == pytest.approx(1.0)
    assert c.ci_low > 0 and c.ci_excludes_zero
    assert c.ci_low == pytest.approx(1.0) and c.ci_high == pytest.approx(1.0)
    assert c.share_b_wins == 1.0
    assert c.wilcoxon_p < 0.001


def test_b_equals_a(a):
    c = compare_paired(a, a.copy(), n_resamples=999)
    assert c.wilcoxon_p == 1.0
    assert c.share_b_wins == 0.0
    assert (c.mean_diff, c.ci_low, c.ci_high) == (0.0, 0.0, 0.0)
    assert not c.ci_excludes_zero


def test_noisy_difference_matches_scipy(a):
    b = a + np.random.default_rng(12).normal(0.1, 1.0, a.size)
    c = compare_paired(a, b, n_resamples=1999, seed=5)
    d = b - a
    ref = sps.bootstrap((d,), np.mean, n_resamples=1999, rng=np.random.default_rng(5))
    assert (c.ci_low, c.ci_high) == pytest.approx(
        (ref.confidence_interval.low, ref.confidence_interval.high)
    )
    assert c.ci_low < c.mean_diff < c.ci_high
    assert c.wilcoxon_p == pytest.approx(sps.wilcoxon(d).pvalue)
    assert c.share_b_wins == pytest.approx(np.mean(b > a))


def test_deterministic_for_a_seed(a):
    b = a + np.random.default_rng(13).normal(0.2, 1.0, a.size)
    first = compare_paired(a, b, n_resamples=999, seed=3)
    assert compare_paired(a, b, n_resamples=999, seed=3) == first
    other = compare_paired(a, b, n_resamples=999, seed=4)
    assert (other.ci_low, other.ci_high) != (first.ci_low, first.ci_high)


def test_wider_confidence_gives_wider_interval(a):
    b = a + np.random.default_rng(14).normal(0.0, 1.0, a.size)
    narrow = compare_paired(a, b, n_resamples=999, confidence=0.80)
    wide = compare_paired(a, b, n_resamples=999, confidence=0.99)
    assert wide.ci_low < narrow.ci_low < narrow.ci_high < wide.ci_high


def test_nan_pairs_are_dropped():
    a = [1.0, 2.0, np.nan, 4.0, 5.0]
    b = [2.0, 2.5, 9.0, np.nan, 6.5]
    c = compare_paired(a, b, n_resamples=999)
    assert c.n == 3
    assert c.mean_a == pytest.approx(8 / 3) and c.mean_b == pytest.approx(11 / 3)
    assert c.share_b_wins == 1.0


def test_small_samples_never_raise():
    empty = compare_paired([], [])
    assert empty.n == 0 and empty.wilcoxon_p == 1.0
    assert all(
        math.isnan(v) for v in (empty.mean_a, empty.mean_diff, empty.ci_low, empty.share_b_wins)
    )
    one = compare_paired([1.0], [3.0])
    assert one.n == 1 and one.mean_diff == 2.0 and one.share_b_wins == 1.0
    assert math.isnan(one.ci_low) and math.isnan(one.ci_high) and one.wilcoxon_p == 1.0
    all_nan = compare_paired([np.nan, 1.0], [2.0, np.nan])
    assert all_nan.n == 0


def test_input_errors():
    with pytest.raises(ValueError, match="same seeds"):
        compare_paired([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="confidence"):
        compare_paired([1.0, 2.0], [1.0, 3.0], confidence=95)
    with pytest.raises(ValueError, match="1-D"):
        compare_paired(np.zeros((2, 2)), np.zeros((2, 2)))


def test_to_dict_plain_floats(a):
    c = compare_paired(a, a + 0.5, n_resamples=999)
    d = c.to_dict()
    assert list(d) == [f.name for f in dataclasses.fields(PairedComparison)]
    assert all(type(v) is float for v in d.values())
    assert json.loads(json.dumps(d)) == d
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.n = 3  # type: ignore[misc]


def test_bootstrap_mean_ci():
    x = np.random.default_rng(2).normal(1.0, 1.0, 40)
    low, high = bootstrap_mean_ci(x, n_resamples=999, seed=1)
    assert low < x.mean() < high
    assert bootstrap_mean_ci(x, n_resamples=999, seed=1) == (low, high)
    assert bootstrap_mean_ci([2.0, 2.0, 2.0]) == (2.0, 2.0)
    assert all(math.isnan(v) for v in bootstrap_mean_ci([1.0, np.nan]))


@pytest.mark.parametrize("n", [8, 10, 12])
def test_a_few_values_interval_ignores_last_bit_noise(n):
    # Another CPU's BLAS kernel moves upstream numbers in their last bits. With 8 values that
    # moved the BCa interval by up to 3e-3 relative (resamples that merely reorder the sample
    # fell on either side of its mean); the interval must not move at the 10 digits kept.
    rng = np.random.default_rng(n)
    for _ in range(10):
        x = rng.normal(0.1, 0.3, n)
        nudged = x * (1 + rng.choice([-1.0, 1.0], n) * 2.2e-16)
        a = np.array(bootstrap_mean_ci(x, confidence=0.983))
        b = np.array(bootstrap_mean_ci(nudged, confidence=0.983))
        np.testing.assert_allclose(b, a, rtol=1e-12)
