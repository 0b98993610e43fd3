"""Notebooks: committed stripped, each runs under papermill with tiny parameters, bad ones fail."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import papermill as pm
import pytest

from retrainlab import report

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
KERNEL = "retrainlab"
pytestmark = pytest.mark.xdist_group("notebooks")


def run(name: str, out_dir: Path, **parameters) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{name}.ipynb"
    pm.execute_notebook(str(NOTEBOOKS / f"{name}.ipynb"), str(out), parameters=parameters,
                        kernel_name=KERNEL, cwd=str(NOTEBOOKS), progress_bar=False)
    return out


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_committed_notebooks_are_stripped_and_parameterised(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, \
                f"{path.name}: outputs committed; run `make strip`"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: exactly one cell tagged 'parameters'"
    for line in tagged[0].source.splitlines():
        if line.strip() and not line.startswith("#"):
            assert re.match(r"^\w+: [\w\[\] |]+ = .+  # \S", line), \
                f"{path.name}: parameter line not `name: type = default  # help`: {line!r}"
    following = nb.cells[nb.cells.index(tagged[0]) + 1]
    assert "rl.params.validate(globals()" in following.source


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """The replication notebook and the report notebook with tiny parameters, rendered."""
    tmp = tmp_path_factory.mktemp("pipeline")
    results = tmp / "results"
    run("00_replication", tmp, n_seeds_audit=3, n_jobs=1, results_dir=str(results))
    executed = run("04_enhancement_report", tmp, results_dir=str(results))
    paths = report.render(executed, tmp / "out")
    return tmp, results, executed, paths


def test_replication_notebook_writes_results(pipeline):
    _, results, _, _ = pipeline
    rep = json.loads((results / "replication.json").read_text())
    assert rep["exact_match"]["matches"] is True
    assert rep["audit"]["summary"]["n_seeds"] == 3
    assert rep["params"]["n_seeds_audit"] == 3


def test_report_html_is_self_contained_and_code_hidden(pipeline):
    _, _, _, paths = pipeline
    html = paths["html"].read_text()
    assert not re.search(r"<script[^>]+src=", html), "no external scripts"
    assert not re.search(r"<link[^>]+href=[\"']https?://", html), "no external stylesheets"
    assert "data:image/png;base64" in html
    assert "rl.report" not in html, "code cells must be hidden"
    assert "Audit of the published validation" in html


def test_report_markdown_links_figures_beside_it(pipeline):
    _, _, _, paths = pipeline
    md = paths["md"].read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert links, "the Markdown report has figures"
    for link in links:
        assert not link.startswith(("/", "http")), link
        assert (paths["md"].parent / link).is_file(), link
    assert "import retrainlab" not in md


def test_report_numbers_come_from_the_results_file(pipeline):
    tmp, results, _, _ = pipeline
    rep = json.loads((results / "replication.json").read_text())
    rep["exact_match"]["NEW"] = 0.123456789  # a value no computation here produces
    altered = tmp / "altered"
    report.write_results(altered / "replication.json", rep)
    executed = run("04_enhancement_report", tmp / "alt_nb", results_dir=str(altered))
    md = report.render(executed, tmp / "alt_out")["md"].read_text()
    assert "1.2e-01" in md


def test_unknown_parameter_fails_the_run(tmp_path):
    with pytest.raises(pm.PapermillExecutionError, match="Did you mean 'n_seeds_audit'"):
        run("00_replication", tmp_path, n_seed_audit=3, results_dir=str(tmp_path))
