"""The layered verdict (retrainlab.research.verdict) on small constructed results."""

from __future__ import annotations

import numpy as np
import pytest

from retrainlab.engine.config import FIXES
from retrainlab.research.verdict import (
    MARKS,
    best_single_fix,
    break_even_cost,
    compare_per_seed,
    correct_claims,
    fix_family,
    verdict,
)

SEEDS = list(range(30))


def _table(values):
    return {"seed": SEEDS, "market": [f"m{s}" for s in SEEDS], "sharpe_ratio": list(values)}


def _results(effects: dict[str, float], noise: float = 0.05):
    """Ablation files where fix f adds effects[f] to Sharpe (alone and in context)."""
    rng = np.random.default_rng(0)
    old = rng.normal(0.2, 0.3, len(SEEDS))
    new = old + sum(effects.values()) + rng.normal(0, noise, len(SEEDS))
    out = {}
    for fix in FIXES:
        per_seed = {
            "OLD": _table(old),
            "NEW": _table(new),
            f"OLD+{fix}": _table(old + effects[fix] + rng.normal(0, noise, len(SEEDS))),
            f"NEW-{fix}": _table(new - effects[fix] + rng.normal(0, noise, len(SEEDS))),
        }
        out[f"ablation_{fix}"] = {"fix": fix, "per_seed": per_seed}
    return out


EFFECTS = dict.fromkeys(FIXES, 0.0) | {"long_lookback": 0.5, "regime_awareness": -0.3}


def test_best_single_fix_and_family_words():
    results = _results(EFFECTS)
    assert best_single_fix(results) == "OLD+long_lookback"
    family = {f["fix"]: f for f in fix_family(results)}
    assert family["long_lookback"]["alone"]["word"] == "helps" and family["long_lookback"]["helps"]
    assert family["regime_awareness"]["in_context"]["word"] == "hurts"
    assert family["feedback_loop"]["alone"]["word"] == "no clear effect"
    for f in family.values():
        for kind in ("alone", "in_context"):
            assert f[kind]["p_holm"] >= f[kind]["p_value"]
        assert f["n_tests"] == 12


def test_verdict_lines_need_a_ci_above_zero():
    v = verdict(_results(EFFECTS))
    by_id = {line["id"]: line for line in v["lines"]}
    assert by_id["new_vs_old"]["passed"]  # +0.2 in total
    assert not by_id["new_vs_best_fix"]["passed"]  # 0.2 < 0.5
    assert by_id["new_vs_best_fix"]["best"] == "OLD+long_lookback"
    for line in v["lines"]:
        assert line["mark"] == MARKS[line["passed"]]
        stat = line["stat"]
        if line["passed"] and "ci_low" in stat:
            assert stat["ci_low"] > 0
    assert not v["headline_passed"]  # no real layer: the headline cannot pass


def test_compare_per_seed_matches_by_seed_not_by_row():
    a = (np.array([2, 0, 1]), np.array([0.2, 0.0, 0.1]))
    b = (np.array([0, 1, 2]), np.array([1.0, 1.1, 1.2]))
    s = compare_per_seed(a, b)
    assert s["mean_diff"] == pytest.approx(1.0) and s["share_b_wins"] == 1.0


def test_break_even_cost_interpolates():
    costs = {"0": {"ci_low": 0.2}, "5": {"ci_low": 0.1}, "10": {"ci_low": -0.1}}
    assert break_even_cost(costs)["bps"] == pytest.approx(7.5)
    assert break_even_cost({"0": {"ci_low": -0.1}})["bps"] == 0.0
    assert break_even_cost({"0": {"ci_low": 0.3}, "20": {"ci_low": 0.1}})["beyond"] == 20.0


def test_claims_are_corrected_for_their_number():
    """A claim that passes on its 95% CI loses the pass when p x (number of claims) >= 0.05."""
    stat = {"mean_diff": 0.2, "ci_low": 0.01, "ci_high": 0.4}
    lines = [
        {"layer": "synthetic", "id": f"c{i}", "passed": False, "stat": dict(stat, p_value=0.5)}
        for i in range(8)
    ]
    lines += [
        {"layer": "synthetic", "id": "weak", "passed": True, "stat": dict(stat, p_value=0.01)},
        {"layer": "real", "id": "strong", "passed": True, "stat": dict(stat, p_value=0.001)},
        {"layer": "fixes", "id": "fix:x", "passed": True, "stat": dict(stat, p_value=0.04)},
    ]
    assert correct_claims(lines, 0.05) == 10
    by_id = {line["id"]: line for line in lines}
    assert not by_id["weak"]["passed"] and by_id["weak"]["corrected_away"]  # 0.01 x 10 = 0.1
    assert by_id["strong"]["passed"]  # 0.001 x 10 = 0.01
    assert by_id["fix:x"]["passed"]  # the fix tests are their own (Holm) family
