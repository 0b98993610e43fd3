"""Report sections: filters, templates, skipping, prose kept out of Python, the run cache key,
results-file precision, the run log and the comparison with committed results."""

from __future__ import annotations

import ast
import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import numpy as np
import pytest

import retrainlab as rl
from retrainlab import experiments as ex
from retrainlab import explore, jsonio, report, runlog, sections
from retrainlab.analytics import metrics
from retrainlab.research import evaluation as ev

SECTIONS_DIR = Path(sections.__file__).parent
TEMPLATES = report.TEMPLATES / "sections"


# --------------------------------------------------------------------------- filters
def test_filters_format_as_documented():
    assert report.num(0.25612) == "0.26" and report.num(50) == "50"
    assert report.num(-0.0004) == "-0.00"  # a CI bound just below zero keeps its sign
    assert report.num(float("nan")) == "n/a" and report.num(None) == "n/a"
    assert report.num(float("inf")) == "∞"
    assert report.signed(0.2559) == "+0.26" and report.signed(-3) == "-3"
    assert report.pct(0.1234) == "12.3%" and report.pct(0.6, 0) == "60%"
    assert report.pp(0.012) == "+1.2 pp" and report.pp(-0.0301) == "-3.0 pp"
    assert report.ci(0.0633, 0.4855) == "[0.06, 0.49]"
    assert report.ci(0.002, 0.137, 1, "pp") == "[0.2, 13.7] pp"
    assert report.pval(0.0005) == "<0.001" and report.pval(0.04397) == "0.044"
    assert report.passfail(True) == "✓ pass" and report.passfail(False) == "✗ fail"
    assert report.md_table(["a", "b"], [["x|y", 1]]) == "| a | b |\n|:---|---:|\n| x\\|y | 1 |"
    with pytest.raises(ValueError, match="Did you mean 'pp'"):
        report.ci(0.1, 0.2, unit="ppp")
    with pytest.raises(TypeError, match="passfail"):
        report.num(True)


def test_filters_are_available_in_templates():
    template = report.environment().from_string(
        "{{ x | signed }} {{ ci(lo, hi) }} {{ ok | passfail }} {{ d | pp }}"
    )
    assert template.render(x=0.5, lo=0.1, hi=0.9, ok=False, d=0.02) == (
        "+0.50 [0.10, 0.90] ✗ fail +2.0 pp"
    )


def test_an_unknown_name_in_a_template_is_an_error_not_blank_text():
    with pytest.raises(Exception, match="undefined"):
        report.environment().from_string("{{ nothing.here }}").render()


# --------------------------------------------------------------------------- sections
def test_every_section_has_a_module_a_template_and_is_in_order():
    modules = {p.stem for p in SECTIONS_DIR.glob("*.py")} - {"__init__"}
    templates = {p.name.removesuffix(".md.j2") for p in TEMPLATES.glob("[!_]*.md.j2")}
    assert set(sections.ORDER) <= modules, "every name in ORDER has a module"
    assert modules == templates, "each section module has exactly one template"
    for name in sections.ORDER:
        module = report.section_module(name)
        assert isinstance(module.TITLE, str) and isinstance(module.REQUIRES, tuple)


def test_an_unknown_section_name_gets_a_suggestion():
    with pytest.raises(ValueError, match="Did you mean 'glossary'"):
        report.section_module("glosary")


def test_a_section_whose_results_are_missing_is_skipped_with_a_note():
    section = report.build_section("robustness", {})
    assert section.skipped and section.missing == ("final_comparison",)
    assert section.markdown.startswith("## Placebo")
    assert "skipped" in section.markdown and "`final_comparison.json`" in section.markdown
    assert section.figures == []


def _string_constants_outside_docstrings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
        is_title = isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "TITLE" for t in node.targets
        )
        if is_title:  # the heading is declared in Python by convention
            docstrings.add(id(node.value))
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


@pytest.mark.parametrize("path", sorted(SECTIONS_DIR.glob("*.py")), ids=lambda p: p.name)
def test_no_prose_in_the_section_modules(path):
    # a label is a few words; a sentence (six words or more) belongs in the template
    for text in _string_constants_outside_docstrings(path):
        assert len(text.split()) < 6, f"{path.name}: prose in Python: {text!r}"


def test_report_py_holds_no_report_prose():
    for text in _string_constants_outside_docstrings(Path(report.__file__)):
        assert "NEW" not in text and "Sharpe" not in text, f"report prose in report.py: {text!r}"


# --------------------------------------------------------------------------- cache key
def test_the_run_cache_key_covers_the_engine_and_not_the_report():
    files = {p.relative_to(ex.PACKAGE_ROOT).as_posix() for p in ex.engine_sources()}
    assert "engine/walkforward.py" in files and "analytics/metrics.py" in files
    assert "research/experiments.py" in files
    for name in ("report", "figures", "runlog", "comparisons"):
        assert f"research/{name}.py" not in files
    assert "analytics/stats.py" not in files  # compares runs; no run depends on it
    assert not any(
        f.startswith(("research/sections", "research/templates", "live/")) for f in files
    )


def test_editing_report_prose_keeps_the_cache_key_editing_the_engine_changes_it(
    tmp_path, monkeypatch
):
    package = tmp_path / "retrainlab"
    shutil.copytree(ex.PACKAGE_ROOT, package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(ex, "PACKAGE_ROOT", package)
    key = ex.code_version.__wrapped__
    before = key()
    for edited in (
        package / "research/templates/sections/summary.md.j2",
        package / "research/report.py",
        package / "research/figures.py",
        package / "research/sections/glossary.py",
    ):
        edited.write_text(edited.read_text() + "\n# edited\n")
    assert key() == before, "editing report prose or figures must rerun no walk-forward"
    engine = package / "engine/walkforward.py"
    engine.write_text(engine.read_text() + "\n# edited\n")
    assert key() != before


# --------------------------------------------------------------------------- protocol
def test_the_protocol_states_the_facts_the_prose_uses():
    p = ex.protocol()
    assert p["short_window"] == rl.OLD.short_window and p["long_window"] == rl.OLD.long_window
    assert p["cost_bps"] == rl.OLD.cost_bps and p["cost_levels_bps"] == list(ex.COSTS_BPS)
    assert p["fixes"] == list(rl.FIXES) and p["engine"] == ex.code_version()
    # the stated equal-volatility target is the one the metrics use
    r = np.random.default_rng(0).normal(0.0005, 0.01, 300)
    computed = metrics.portfolio_metrics(r)["return_at_equal_risk"]
    assert computed == metrics.return_at_equal_risk(r, p["equal_risk_volatility"])


# --------------------------------------------------------------------------- precision
def test_results_files_hold_ten_significant_digits_so_blas_noise_does_not_show(tmp_path):
    x = 0.123456789012345
    a = jsonio.write_results(tmp_path / "a.json", {"x": x, "n": 3, "v": [x * 1e-20]})
    b = jsonio.write_results(tmp_path / "b.json", {"x": x * (1 + 4e-12), "n": 3, "v": [x * 1e-20]})
    assert json.loads(a.read_text())["x"] == 0.123456789
    assert json.loads(a.read_text())["v"] == [1.23456789e-21]
    assert a.read_bytes() == b.read_bytes()


def test_compare_payloads_agrees_below_the_precision_and_not_above():
    same = runlog.compare_payloads({"a": [1.0, 2.0], "t": "x"}, {"a": [1.0, 2.0 * (1 + 1e-11)]})
    assert same["agree"] is False and "keys differ" in same["reason"]
    close = runlog.compare_payloads({"a": [1.0, 2.0]}, {"a": [1.0, 2.0 * (1 + 1e-11)]})
    assert close["agree"] and 0 < close["max_rel"] < 1e-10 and close["where"] == "a[1]"
    far = runlog.compare_payloads({"a": [1.0, 2.0]}, {"a": [1.0, 2.001]})
    assert not far["agree"] and far["max_rel"] == pytest.approx(0.001 / 2.001)
    assert not runlog.compare_payloads({"a": "x"}, {"a": "y"})["agree"]


def test_tidy_notebook_moves_timings_to_the_run_log(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {"duration": 3.25, "start_time": "t0", "end_time": "t1", "x": 1}
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.7"}
    nb.metadata["widgets"] = {"state": {}}
    cell = nbformat.v4.new_code_cell("1")
    cell.metadata["execution"] = {"iopub.execute_input": "2026-01-01T00:00:00Z"}
    cell.metadata["papermill"] = {"duration": 1.0, "start_time": "a", "status": "completed"}
    cell.outputs = [
        nbformat.v4.new_output(
            "stream",
            name="stderr",
            text="runs:  50%|#  | 1/2 [00:01<00:01, 1.0it/s]\r"
            "runs: 100%|## | 2/2 [00:02<00:00, 1.0it/s]\n",
        ),
        nbformat.v4.new_output(
            "display_data",
            data={
                "application/vnd.jupyter.widget-view+json": {"model_id": "abc"},
                "text/plain": "x",
            },
        ),
        nbformat.v4.new_output(
            "execute_result",
            data={"text/plain": "{'m': [0.5121951219512195, 3]}"},
            execution_count=1,
        ),
    ]
    nb.cells = [cell]
    path, log = tmp_path / "03_step.ipynb", tmp_path / "run_log.json"
    nbformat.write(nb, path)
    runlog.tidy_notebook(path, log)
    text = path.read_text()
    for volatile in ("duration", "start_time", "iopub", "00:01", "it/s", "3.11.7", "widgets"):
        assert volatile not in text, volatile
    tidied = nbformat.read(path, as_version=4)
    outputs = tidied.cells[0].outputs
    assert len(outputs) == 2, "the live widget (a progress bar) is dropped"
    assert outputs[0]["text"] == "runs: 100%|## | 2/2\n"
    assert outputs[1]["data"]["text/plain"] == "{'m': [0.512195122, 3]}"  # results precision
    assert tidied.metadata["papermill"] == {"x": 1}
    assert json.loads(log.read_text())["timings"] == {"03_step": 3.2}


def test_notebooks_tidied_at_once_keep_every_entry_of_the_run_log(tmp_path):
    # make -j tidies two notebooks at a time: each read-modify-write of the log holds a lock
    log = tmp_path / "run_log.json"
    steps = [f"{i:02d}_step" for i in range(12)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda step: runlog._log(log, step, {"duration": 1.0}), steps))
    assert sorted(json.loads(log.read_text())["timings"]) == steps


# --------------------------------------------------------------------------- explore
def test_buy_and_hold_is_the_studies_baseline_on_the_systems_dates():
    spec = ex.MarketSpec(seed=1, n_days=250, n_tickers=2)
    result = explore.run(spec, rl.OLD)
    market = explore.market(spec)
    hold = explore.buy_and_hold(market, rl.OLD)
    assert hold.returns.index.equals(result.returns.index)  # the systems' dates
    expected = ev.buy_and_hold(market, cost_bps=rl.OLD.cost_bps, execution_lag=1, first_day=60)
    np.testing.assert_array_equal(hold.returns.to_numpy(), expected.to_numpy())
    book = hold.positions.to_numpy()
    assert (book[:1] == 0).all() and (book[1:] == 1).all()  # filled one close after deciding
    first = int(np.searchsorted(market.dates, result.returns.index[0]))
    daily = np.mean(market.close[first + 2 :] / market.close[first + 1 : -1] - 1, axis=1)
    expected_by_hand = np.concatenate([[0.0, -5.0 / 1e4], daily])  # buying costs once, on the fill
    np.testing.assert_allclose(hold.returns.to_numpy(), expected_by_hand, rtol=1e-12, atol=1e-15)


def test_the_appendix_names_the_engine_of_each_results_file():
    committed = report.load_results(Path(__file__).resolve().parents[1] / "reports" / "results")
    engine = committed["final_comparison"]["protocol"]["engine"]
    # a file without a recorded engine says so; the replication runs none
    older = {**committed, "sensitivity": {"params": {"seeds": 20}}}
    rows = {
        line.split("|")[1].strip(): line.split("|")[2].strip()
        for line in report.section_body("appendix", older).splitlines()
        if line.startswith("| `")
    }
    assert rows["`replication.json`"] == "none (runs no engine)"
    assert rows["`sensitivity.json`"] == "not recorded"
    assert rows["`final_comparison.json`"] == f"`{engine}`"
