"""Tests for the verdict's statistics: stationary-bootstrap Sharpe CI, paired bootstrap, Holm,
sign test (retrainlab.analytics.stats)."""

from __future__ import annotations

import numpy as np
import pytest

from retrainlab.analytics.metrics import sharpe_ratio
from retrainlab.analytics.stats import (
    holm_adjust,
    paired_bootstrap,
    sharpe_difference_ci,
    sign_test_p,
    stationary_block_length,
)


def test_holm_worked_example():
    # m = 4. Sorted: 0.005 (x4 = 0.02), 0.01 (x3 = 0.03), 0.03 (x2 = 0.06), 0.04 (x1 = 0.04,
    # raised to 0.06 by monotonicity). Back in the given order:
    p = [0.01, 0.04, 0.03, 0.005]
    assert holm_adjust(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_caps_at_one_and_skips_nan():
    out = holm_adjust([0.5, np.nan, 0.4])
    # m = 2 (NaN not counted): 0.4 x 2 = 0.8, 0.5 x 1 = 0.5 -> 0.8 (monotone)
    assert out[0] == pytest.approx(0.8) and np.isnan(out[1]) and out[2] == pytest.approx(0.8)
    assert holm_adjust([0.9, 0.8]).tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm_adjust([1.5])


def test_holm_single_test_is_unchanged():
    assert holm_adjust([0.037]).tolist() == [0.037]


def test_sign_test():
    a = np.zeros(10)
    b = np.array([1.0] * 9 + [-1.0])
    # exact binomial: P(X >= 9) * 2 = 2 * 11 / 1024
    assert sign_test_p(a, b) == pytest.approx(22 / 1024)
    assert sign_test_p(a, a) == 1.0  # ties only


def test_stationary_ci_hand_checked_long_blocks():
    # With a mean block length far above n, every resample is one block: a circular shift
    # of the whole series, which leaves mean and std unchanged. Every draw then equals the
    # sample's Sharpe difference, computed here by hand:
    a = np.array([0.01, -0.02, 0.03, 0.0, 0.01])
    b = np.array([0.02, 0.01, -0.01, 0.02, 0.0])
    # a: mean 0.006, squared deviations 16+676+576+36+16 = 1320e-6; b: mean 0.008,
    # squared deviations 144+4+324+144+64 = 680e-6; sample sd = sqrt(SS / 4)
    sr_a = 0.006 / np.sqrt(0.00132 / 4) * np.sqrt(252)
    sr_b = 0.008 / np.sqrt(0.00068 / 4) * np.sqrt(252)
    assert sr_a == pytest.approx(sharpe_ratio(a)) and sr_b == pytest.approx(sharpe_ratio(b))
    res = sharpe_difference_ci(a, b, block_length=1e12, n_resamples=200, seed=3)
    assert res.estimate == pytest.approx(sr_b - sr_a)
    assert res.ci_low == pytest.approx(sr_b - sr_a) and res.ci_high == pytest.approx(sr_b - sr_a)
    assert res.p_value == pytest.approx(1 / 200)  # every draw on one side: the resolution


def test_stationary_ci_width_matches_theory_for_iid_returns():
    # Independent i.i.d. normal series: Var(SR_hat) ~ (1 + SR^2 / 2) / T per day (Lo 2002),
    # so the 95% CI of the difference has half-width ~ 1.96 sqrt(2 (1 + SR^2/2) / T) * sqrt(252).
    rng = np.random.default_rng(0)
    t = 3000
    a = rng.normal(0.0, 0.01, t)
    b = rng.normal(0.0005, 0.01, t)
    res = sharpe_difference_ci(a, b, block_length=1.0, n_resamples=2000, seed=1)
    sr = 0.05
    half = 1.96 * np.sqrt(2 * (1 + sr**2 / 2) / t) * np.sqrt(252)
    assert (res.ci_high - res.ci_low) / 2 == pytest.approx(half, rel=0.1)
    assert res.ci_low < res.estimate < res.ci_high


def test_ci_and_p_agree_and_seeded():
    rng = np.random.default_rng(5)
    for k in range(6):
        a = rng.normal(0.0, 0.01, 400)
        b = a * 0.5 + rng.normal(0.0002 * k, 0.01, 400)
        res = sharpe_difference_ci(a, b, n_resamples=500, seed=k)
        assert res.ci_excludes_zero == (res.p_value < 0.05)
        again = sharpe_difference_ci(a, b, n_resamples=500, seed=k)
        assert again == res
        assert res.block_length >= 1


def test_stationary_bootstrap_refuses_unpaired():
    with pytest.raises(ValueError, match="paired"):
        sharpe_difference_ci([0.1, 0.2, 0.3], [0.1, 0.2])
    assert np.isnan(sharpe_difference_ci([0.1, 0.2], [0.1, 0.3]).ci_low)


def test_block_length_grows_with_dependence():
    rng = np.random.default_rng(2)
    e = rng.normal(size=5000)
    ar = np.empty_like(e)
    ar[0] = e[0]
    for i in range(1, len(e)):
        ar[i] = 0.8 * ar[i - 1] + e[i]
    assert stationary_block_length(e, e[::-1].copy()) < stationary_block_length(ar, e)


def test_paired_bootstrap_hand_checked():
    # Two markets with differences 1 and 3: resampled means are 1, 2, 3 with probabilities
    # 1/4, 1/2, 1/4, so the 95% percentile CI is [1, 3] and no draw is <= 0.
    res = paired_bootstrap([0.0, 0.0], [1.0, 3.0], n_resamples=4000, seed=0)
    assert res.estimate == 2.0 and (res.ci_low, res.ci_high) == (1.0, 3.0)
    assert res.p_value == pytest.approx(1 / 4000)


def test_paired_bootstrap_is_independent_of_row_order():
    rng = np.random.default_rng(9)
    a, b = rng.normal(size=30), rng.normal(0.3, 1, 30)
    seeds = np.arange(30)
    perm = rng.permutation(30)
    one = paired_bootstrap(a, b, seeds, n_resamples=999)
    two = paired_bootstrap(a[perm], b[perm], seeds[perm], n_resamples=999)
    assert one == two
    assert one.ci_excludes_zero == (one.p_value < 0.05)
    with pytest.raises(ValueError, match="unique"):
        paired_bootstrap(a, b, np.zeros(30))
