"""The model-class study's statistics (research.model_study) and its report section."""

from __future__ import annotations

import jinja2
import numpy as np
import pytest

from retrainlab import FIXES, generate_market
from retrainlab.analytics import metrics
from retrainlab.engine.real_equities import load_sp500_panel
from retrainlab.engine.walkforward import walk_forward
from retrainlab.research import evaluation as ev
from retrainlab.research import model_study as ms
from retrainlab.research.sections import models as section

TEMPLATE = "lib/retrainlab/research/templates/sections/models.md.j2"


def test_holm_matches_the_step_down_rule():
    p = [0.01, 0.04, 0.03, 0.20]
    # sorted 0.01, 0.03, 0.04, 0.20 -> 4*0.01, max(.04, 3*.03), max(.09, 2*.04), max(.09, .20)
    np.testing.assert_allclose(ms.holm(p), [0.04, 0.09, 0.09, 0.20])
    assert ms.holm([0.5, 0.9]).max() == 1.0


def fake_values(rng, shift: dict[str, float], n: int = 30) -> dict[str, np.ndarray]:
    base = rng.normal(0.0, 0.3, n)
    out = {s: base + shift.get(s, 0.0) + rng.normal(0, 0.01, n) for s in ms.SYSTEMS}
    out[ms.BUY_AND_HOLD] = base + shift.get(ms.BUY_AND_HOLD, 0.0) + rng.normal(0, 0.01, n)
    return out


def test_comparisons_family_and_corrected_passes():
    rng = np.random.default_rng(0)
    values = fake_values(
        rng, {"NEW": 0.5, "OLD+long_lookback": 0.4, "OLD+feedback_loop": -0.3}, n=30
    )
    rows = ms.comparisons(values)
    assert len(rows) == len(ms.SYSTEMS) + 1  # NEW-OLD, 6 fixes, NEW-B&H, NEW-best fix
    assert {r["ci_level"] for r in rows} == {1 - ms.ALPHA / len(rows)}
    by = {r["label"]: r for r in rows}
    assert by["NEW vs OLD"]["helps"] and not by["NEW vs OLD"]["hurts"]
    assert by["OLD+feedback_loop vs OLD"]["hurts"]
    assert "NEW vs OLD+long_lookback (best single fix)" in by
    assert all(r["p_holm"] >= r["p"] for r in rows)
    summary = ms.class_summary(rows, ms.means(values))
    assert summary["fixes_that_help"] == ["long_lookback"]
    assert summary["fixes_that_hurt"] == ["feedback_loop"]
    assert summary["new_beats_old"] and summary["new_beats_buy_and_hold"]


def study(shift_gb: dict[str, float]) -> dict:
    rng = np.random.default_rng(1)
    classes = {}
    for model, shift in (("logistic", {"NEW": 0.5}), ("gradient_boosting", shift_gb)):
        classes[model] = {}
        for data, n in (("synthetic", 30), ("real", 4)):
            values = fake_values(rng, shift, n)
            rows = ms.comparisons(values)
            summary = ms.class_summary(rows, ms.means(values))
            classes[model][data] = {"comparisons": rows, "summary": summary}
    return {
        "protocol": {
            "classes": list(classes),
            "n_comparisons": {"logistic": 9, "gradient_boosting": 9},
            "alpha": 0.05,
            "new_per_class": {"logistic": "NEW*", "gradient_boosting": "NEW*"},
            "synthetic": {"n_markets": 30, "n_days": 1000, "n_tickers": 10, "edge": 1.0},
            "real": {
                "market": "sp500_panel",
                "tickers": ["AAPL", "KO"],
                "n_tickers": 2,
                "n_days": 600,
                "start": "2020-01-02",
                "end": "2022-05-20",
                "block_days": 130,
                "n_blocks": 4,
                "blocks": [],
            },
        },
        "classes": classes,
        "verdict": {d: ms.verdict(classes, d) for d in ("synthetic", "real")},
        "not_run": {"lstm": "the extra is not installed"},
    }


def test_no_pass_with_too_few_markets_even_if_the_ci_excludes_zero():
    rng = np.random.default_rng(0)
    rows = ms.comparisons(fake_values(rng, {"NEW": 0.5}, n=3))
    new_old = rows[0]
    assert new_old["ci_low"] > 0 and new_old["p_holm"] >= ms.ALPHA
    assert not new_old["helps"]


def test_verdict_depends_on_class_only_when_classes_disagree():
    assert not study({"NEW": 0.5})["verdict"]["synthetic"]["depends_on_class"]
    assert study({"NEW": -0.5})["verdict"]["synthetic"]["depends_on_class"]


def render(results: dict) -> str:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    # stand-ins for the report renderer's filters (research/report.py)
    helpers = {
        "num": lambda x, d=2: f"{x:.{d}f}",
        "signed": lambda x, d=2: f"{x:+.{d}f}",
        "pct": lambda x, d=1: f"{100 * x:.{d}f}%",
        "ci": lambda lo, hi, d=2: f"[{lo:.{d}f}, {hi:.{d}f}]",
        "pval": lambda p: "<0.001" if p < 0.001 else f"{p:.3f}",
    }
    env.filters.update(helpers)
    env.globals.update(helpers)
    with open(TEMPLATE) as handle:
        template = env.from_string(handle.read())
    return template.render(**section.context(results))


@pytest.mark.parametrize("agree", [True, False])
def test_section_reads_the_results(agree):
    results = {"model_study": study({"NEW": 0.5} if agree else {"NEW": -0.5})}
    text = render(results)
    assert section.REQUIRES == ("model_study",)
    assert "| logistic |" in text and "| gradient_boosting |" in text
    assert ("does not depend" in text) is agree
    assert "across 30 synthetic markets" in text and "Not run: lstm" in text
    # the real part's facts come from the protocol: blocks, tickers, days
    assert "across 4 independent blocks of the real equity panel (2 S&P 500 constituents: " in text
    assert "AAPL, KO; 600 days from 2020-01-02 to 2022-05-20" in text
    assert "blocks of 130 days" in text and "On the real equity panel" in text
    assert "too small to tell** whether the verdict on the real equity panel" in text
    assert "is NEW-feedback_loop" not in text  # both classes ran the full NEW
    new_old = results["model_study"]["classes"]["logistic"]["synthetic"]["comparisons"][0]
    assert f"{new_old['mean_diff']:+.3f}" in text


def test_buy_and_hold_is_the_evaluation_baseline():
    market = generate_market(seed=0, n_days=160, n_tickers=3)
    returns = ev.buy_and_hold(market, first_day=60)
    assert ms.buy_and_hold_sharpe(market) == metrics.sharpe_ratio(returns.to_numpy())


def test_panel_blocks_are_independent_runs_paired_by_block():
    panel = load_sp500_panel(["AAPL", "KO"], start="2021-01-01")
    configs = ms.study_configs(["logistic"])
    blocks, sharpes = ms.block_sharpes(panel, configs, block_days=130, n_jobs=1)
    bounds = ev.block_bounds(panel.n_days, 130)
    assert [b["n_days"] for b in blocks] == [stop - start for start, stop in bounds]
    assert set(sharpes) == {*configs, ms.BUY_AND_HOLD}
    # each block is its own walk-forward: the second block's Sharpe is that of a fresh run
    start, stop = bounds[1]
    own = walk_forward(ev.block_market(panel, start, stop), configs["logistic:OLD"]).returns
    assert sharpes["logistic:OLD"][1] == metrics.sharpe_ratio(own.to_numpy())
    assert len(sharpes[ms.BUY_AND_HOLD]) == len(bounds)


def test_systems_are_old_new_and_each_fix_the_class_accepts():
    assert ms.SYSTEMS[:2] == ("OLD", "NEW") and len(ms.SYSTEMS) == 2 + len(FIXES)
    assert ms.systems_for("gradient_boosting") == ms.SYSTEMS
    assert ms.refused_fixes("lstm") == ("feedback_loop",)
    assert "OLD+feedback_loop" not in ms.systems_for("lstm")
    assert ms.system_config("NEW", "lstm").fixes == tuple(f for f in FIXES if f != "feedback_loop")
    assert ms.system_config("NEW", "gradient_boosting").fixes == FIXES
    with pytest.raises(ValueError, match="unknown study system"):
        ms.system_config("NEW+x", "logistic")


def test_section_says_when_new_is_not_the_full_new():
    results = study({"NEW": 0.5})
    results["protocol"]["new_per_class"]["gradient_boosting"] = "NEW-feedback_loop*"
    text = render({"model_study": results})
    assert 'For gradient_boosting, "NEW" is NEW-feedback_loop' in text


def test_a_run_too_small_to_pass_says_so():
    rng = np.random.default_rng(2)
    classes = {}
    for model in ("logistic", "gradient_boosting"):
        values = fake_values(rng, {"NEW": 0.5}, n=3)
        rows = ms.comparisons(values)
        classes[model] = {
            "synthetic": {"comparisons": rows, "summary": ms.class_summary(rows, ms.means(values))}
        }
    v = ms.verdict(classes, "synthetic")
    assert not v["can_pass"] and v["smallest_holm_p"]["logistic"] == 1.0  # min(1, 9 * 2 / 8)
    results = study({"NEW": 0.5})
    results["classes"], results["verdict"]["synthetic"] = classes, v
    assert "This run is too small to tell" in render({"model_study": results})
    assert study({"NEW": 0.5})["verdict"]["synthetic"]["can_pass"]  # 30 markets can
