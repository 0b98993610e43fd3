"""Comparison statistics over a sweep's rows (research.comparisons), on hand-built frames."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from retrainlab.analytics import metrics
from retrainlab.analytics.stats import compare_paired
from retrainlab.research import comparisons


def _frame(values: dict[str, list[float]], metric: str = "sharpe_ratio") -> pd.DataFrame:
    """One row per (config, market), the markets in the same order for every config."""
    rows = [
        {"config": config, "market": f"seed{i}", "seed": i, metric: v}
        for config, column in values.items()
        for i, v in enumerate(column)
    ]
    return pd.DataFrame(rows)


def test_paired_matches_markets_and_drops_infinite_pairs():
    # NEW's rows in reverse market order: pairing must go by market, not by row position
    old = [1.0, 2.0, np.inf, 0.5, 3.0]
    new = [1.5, 2.5, 4.0, 1.5, 3.25]
    frame = _frame({"OLD": old, "NEW": new}, "profit_factor")
    frame = pd.concat([frame[frame.config == "OLD"], frame[frame.config == "NEW"].iloc[::-1]])
    out = comparisons.paired(frame, "OLD", "NEW", ["profit_factor"])["profit_factor"]
    keep = [0, 1, 3, 4]  # market 2 has an infinite OLD value
    expected = compare_paired(np.take(old, keep), np.take(new, keep)).to_dict()
    assert out == expected
    assert out["n"] == 4
    assert out["mean_diff"] == pytest.approx(np.mean([0.5, 0.5, 1.0, 0.25]))


def test_per_seed_table_keeps_each_configs_markets_in_order():
    frame = _frame({"OLD": [0.1, 0.2], "NEW": [0.3, 0.4]})
    table = comparisons.per_seed_table(frame, ["sharpe_ratio"])
    assert table["NEW"] == {
        "market": ["seed0", "seed1"],
        "seed": [0, 1],
        "sharpe_ratio": [0.3, 0.4],
    }


def test_deflated_sharpe_counts_every_config_on_a_market_as_a_trial():
    rng = np.random.default_rng(3)
    configs = ["OLD", "A", "B", "NEW"]
    frame = pd.DataFrame(
        [
            {
                "config": c,
                "market": m,
                "sharpe_ratio": float(rng.normal()),
                "sr_per_period": float(rng.normal(0.05, 0.02)),
                "n_obs": 500.0,
                "skew": 0.0,
                "kurtosis": 3.0,
            }
            for m in ("m0", "m1")
            for c in configs
        ]
    )
    out = comparisons.deflated_sharpe_by_market(frame, ["NEW"])
    assert list(out) == ["m0", "m1"]
    for market, row in out.items():
        group = frame[frame.market == market]
        new = group.set_index("config").loc["NEW"]
        assert row["n_trials"] == len(configs)
        dsr = metrics.deflated_sharpe_ratio(
            new.sr_per_period, group.sr_per_period.to_numpy(), 500.0, 0.0, 3.0
        )
        assert row["NEW"]["dsr"] == dsr
        # deflating for four trials can only lower the probability against zero
        assert row["NEW"]["dsr"] <= row["NEW"]["psr_vs_zero"]
        if new.sr_per_period <= 0:
            assert math.isinf(row["NEW"]["min_track_record_days"])
