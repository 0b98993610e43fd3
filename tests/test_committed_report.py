"""The committed report (reports/) equals what its committed results files produce.

Every section of ``sections.ORDER`` is rendered from ``reports/results`` and must appear, byte for
byte, in ``reports/enhancement_report.md``: a report rendered from other numbers, or from older
templates, fails here. (Run `make report` and commit reports/ to refresh it.)
"""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
import pytest

from retrainlab import report, sections

REPORTS = Path(__file__).resolve().parents[1] / "reports"
MD = REPORTS / "enhancement_report.md"

pytestmark = pytest.mark.skipif(not MD.exists(), reason="no committed report (run `make report`)")


@pytest.fixture(scope="module")
def committed():
    return MD.read_text(encoding="utf-8"), report.load_results(REPORTS / "results")


@pytest.mark.parametrize("name", sections.ORDER)
def test_each_section_equals_what_the_committed_results_give(committed, name):
    md, results = committed
    try:
        section = report.build_section(name, results, with_figures=False)
    except jinja2.UndefinedError as exc:
        pytest.fail(
            f"the committed results predate the report's templates ({exc}): run `make report`"
        )
    assert not section.skipped, f"{name}: committed results lack {section.missing}"
    assert section.markdown in md, (
        f"the committed report's section {name!r} differs from what reports/results gives: "
        "run `make report` and commit reports/"
    )


def test_the_verdict_is_on_the_first_screen(committed):
    md, results = committed
    verdict = report.build_section("verdict", results, with_figures=False).markdown
    assert md.index(verdict) < 200


def test_committed_files_hold_no_timings():
    for path in [*REPORTS.glob("*.ipynb"), *REPORTS.glob("ablations/*.ipynb"), MD]:
        text = path.read_text(encoding="utf-8")
        for volatile in ('"duration"', '"start_time"', '"end_time"', "iopub.execute_input"):
            assert volatile not in text, f"{path.name}: {volatile} (run `make report`)"
        assert not re.search(r"\[\d\d:\d\d<\d\d:\d\d", text), f"{path.name}: progress timings"


def test_committed_html_is_self_contained():
    html = (REPORTS / "enhancement_report.html").read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=", html)
    assert "**Verdict" not in html and ">Verdict<" in html


def test_every_study_results_file_names_one_engine(committed):
    """Each results file `make report` writes from walk-forwards records the engine code version
    that produced it, and all name the same one: a partial rerun (one notebook, another engine)
    shows. The replication stands alone (it runs no engine). The model study is `make
    study-models`' own long run, so it names its engine but may predate the others'."""
    _, results = committed
    apart = {"replication", "model_study", "run_log"}
    engines = {
        stem: data.get("protocol", {}).get("engine")
        for stem, data in results.items()
        if stem not in apart
    }
    assert None not in engines.values(), f"no engine version in {engines}: run `make report`"
    assert len(set(engines.values())) == 1, f"results from different engines: {engines}"
    study = results["model_study"].get("protocol", {}).get("engine")
    assert study, "model_study.json names no engine: run `make study-models`"
