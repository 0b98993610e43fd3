"""The committed report (reports/) agrees with the committed results files it was rendered from."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from retrainlab import experiments, report

REPORTS = Path(__file__).resolve().parents[1] / "reports"
MD = REPORTS / "enhancement_report.md"

pytestmark = pytest.mark.skipif(not MD.exists(), reason="no committed report (run `make report`)")


@pytest.fixture(scope="module")
def committed():
    study = report.load_study(REPORTS / "results")
    return MD.read_text(encoding="utf-8"), study


def test_summary_table_numbers_equal_the_results_file(committed):
    md, study = committed
    expected = report.summary_table_section(study["final"])
    assert expected in md, "the committed summary table differs from final_comparison.json"


def test_verdict_and_fix_table_equal_the_results_files(committed):
    md, study = committed
    verdict = experiments.verdict(study["final"], study["ablations"])
    assert report.verdict_section(study["final"], verdict) in md
    assert report.fixes_section(study["ablations"], verdict) in md
    assert report.replication_section(study["replication"]) in md


def test_every_number_in_the_summary_table_is_in_the_results_file(committed):
    md, study = committed
    table = md.split("## Results summary", 1)[1].split("\n\n", 3)[2]
    means = study["final"]["means"]
    sharpe_row = next(line for line in table.splitlines() if line.startswith("| Sharpe ratio"))
    old, new = (float(x) for x in re.findall(r"\| (-?\d+\.\d+) ", sharpe_row)[:2])
    assert old == round(means["OLD"]["sharpe_ratio"], 2)
    assert new == round(means["NEW"]["sharpe_ratio"], 2)


def test_committed_html_is_self_contained():
    html = (REPORTS / "enhancement_report.html").read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=", html)
    assert "**Verdict" not in html and "<strong>Verdict:" in html
