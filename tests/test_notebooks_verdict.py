"""Notebooks 04_real_equities and 05_sensitivity run under papermill with tiny parameters and
write results the verdict reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrainlab.research import report
from retrainlab.research.verdict import verdict


# The runs themselves are conftest's ``Studies`` (each notebook once per session, on whichever
# worker asks first); the two result checks start early, one run each.
@pytest.fixture
def results(study_runs):
    """The results files 04 and 05 wrote, by stem."""
    return {"real_equities": study_runs.real_equities(), "sensitivity": study_runs.sensitivity()}


@pytest.mark.notebook(order=0)
def test_real_equities_results(study_runs):
    real = study_runs.real_equities()
    panel = real["panel"]
    assert panel["tickers"] == ["AAPL", "AMD"] and len(panel["blocks"]) == 2
    assert panel["absent_features"] == ["hl_range", "volume_ratio"]
    assert panel["execution_lag"] == 1
    assert "NEW - buy_and_hold" in panel["block_comparisons"]
    sp = real["indices"]["sp500"]
    assert "buy_and_hold" in sp["whole"]["sharpe"]
    for key in ("NEW - OLD", "NEW - OLD+long_lookback", "NEW - buy_and_hold"):
        c = sp["comparisons"][key]
        assert c["ci_low"] <= c["mean_diff"] <= c["ci_high"] and c["block_length"] >= 1


@pytest.mark.notebook(order=0)
def test_sensitivity_results(study_runs):
    sens = study_runs.sensitivity()
    assert [r["condition"] for r in sens["conditions"]] == [
        "edge 0.25",
        "edge 0.5",
        "edge 1",
        "edge 2",
        "shorter regimes",
        "edge 1, lag 0",
    ]
    assert [r["execution_lag"] for r in sens["conditions"]] == [1, 1, 1, 1, 1, 0]
    assert "oracle" in sens["base"]["sharpe_ratio"]
    assert set(sens["regime"]) >= {"true: OLD+regime_awareness[true] - OLD"}
    assert sens["base"]["seed"] == [0, 1]
    assert set(sens["placebo_fresh"]["vs_zero"]) >= {"OLD", "NEW"}


def test_verdict_reads_them(results):
    v = verdict(results)
    ids = {line["id"] for line in v["lines"]}
    assert "sp500:new_vs_buy_and_hold" in ids


# ---------------------------------------------------------------- report sections
@pytest.mark.parametrize("name", ["verdict", "real_equities", "sensitivity"])
def test_sections_render(results, name):
    """The sections that read these results render through the report's own templates."""
    committed = Path(__file__).resolve().parents[1] / "reports" / "results"
    merged = {p.stem: json.loads(p.read_text()) for p in committed.glob("*.json")} | results
    module = report.section_module(name)
    assert all(stem in merged for stem in module.REQUIRES)
    text = report.section_body(name, merged)
    assert "✓ pass" in text or "✗ fail" in text or name == "real_equities"
    assert "nan" not in text.lower().replace("nasdaq", "")
    assert len(module.figures(merged)) <= 1
