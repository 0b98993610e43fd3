"""Notebook 01_generate_data under papermill with tiny parameters: files, round-trip, results."""

from __future__ import annotations

import json

import nbformat
import numpy as np
import pytest

from conftest import NOTEBOOKS, TINY_STUDY, run_setup_cells
from retrainlab import jsonio
from retrainlab import regime_diagnostics as rd
from retrainlab import study_data as sd
from retrainlab.engine.fixes.regime_awareness import detect_regimes
from retrainlab.engine.market import PRICE_FIELDS, Market
from retrainlab.engine.synthetic import generate_market, oracle_hit_rate
from retrainlab.research import experiments as ex
from retrainlab.research.experiments import MarketSpec

NOTEBOOK = NOTEBOOKS / "01_generate_data.ipynb"
SEEDS = range(TINY_STUDY["first_seed"], TINY_STUDY["first_seed"] + TINY_STUDY["seeds"])
N_DAYS, N_TICKERS = TINY_STUDY["n_days"], TINY_STUDY["n_tickers"]
#: What the shared run (conftest ``Pipeline.data_notebook``) passes besides the study's size.
TINY = {**TINY_STUDY, "edge": 1.0, "figures_seed": TINY_STUDY["first_seed"] + 1}


@pytest.fixture
def executed(pipeline_stage):
    """The session's one run of 01 (shared with the pipeline): its data, its executed copy and
    the bytes of its results file."""
    out = pipeline_stage.data_notebook()
    summary = (pipeline_stage.results / "data_summary.json").read_bytes()
    return pipeline_stage, out, summary


def test_committed_notebook_shape():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert nb.metadata.kernelspec.name == "retrainlab"
    assert nb.cells[0].cell_type == "markdown"
    assert nb.cells[0].source.startswith("# 01 · Synthetic markets and regime detection")
    ids = [c.id for c in nb.cells]
    assert ids == [f"cell-{i:02d}" for i in range(len(nb.cells))]
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    declared = [
        line.split(":")[0] for line in code[0].source.splitlines() if not line.startswith("#")
    ]
    assert declared == [
        "seeds",
        "first_seed",
        "n_days",
        "n_tickers",
        "edge",
        "data_dir",
        "results_dir",
        "figures_seed",
    ]


@pytest.mark.notebook(order=1)
def test_parquet_files_round_trip_to_the_generated_markets(executed):
    stage, _, _ = executed
    expected = [
        MarketSpec(s, N_DAYS, N_TICKERS, e).path(stage.data) for s in SEEDS for e in (1.0, 0.0)
    ]
    assert sorted(stage.data.iterdir()) == sorted(expected)
    for path in expected:
        spec_seed = int(path.name.split("-")[0].removeprefix("seed"))
        spec_edge = 0.0 if "placebo" in path.name else 1.0
        made = generate_market(spec_seed, n_days=N_DAYS, n_tickers=N_TICKERS, edge=spec_edge)
        back = Market.from_parquet(path)
        assert back.dates.equals(made.dates) and back.tickers == made.tickers
        for f in PRICE_FIELDS:
            np.testing.assert_array_equal(getattr(back, f), getattr(made, f))
        assert back.regimes.tolist() == made.regimes.tolist()


@pytest.mark.notebook(order=6)
def test_results_file_is_deterministic_and_matches_a_recomputation(executed, tmp_path):
    stage, _, written = executed
    summary = json.loads(written)
    assert summary["params"] == {
        **TINY,
        "data_dir": str(stage.data),
        "results_dir": str(stage.results),
    }
    assert summary["files"] == [
        MarketSpec(s, N_DAYS, N_TICKERS, e).path(".").name for s in SEEDS for e in (1.0, 0.0)
    ]
    # Determinism without a second kernel: the same computation in this process, written the
    # same way, gives the notebook's bytes.
    diag = sd.generate_markets(SEEDS, N_DAYS, N_TICKERS, 1.0, tmp_path / "data", progress=False)
    payload = {
        "params": summary["params"],
        "protocol": ex.protocol(),
        "files": [p.name for p in diag.files],
    }
    jsonio.write_results(tmp_path / "again.json", {**payload, **diag.summary()})
    assert (tmp_path / "again.json").read_bytes() == written, "same inputs, same bytes"
    # and its numbers are those of the library's functions
    edge = [generate_market(s, n_days=N_DAYS, n_tickers=N_TICKERS, edge=1.0) for s in SEEDS]
    counts = sum(rd.confusion_matrix(m.regimes, detect_regimes(m.close)) for m in edge)
    assert summary["confusion"]["edge"]["counts"] == {
        t: {d: int(counts.loc[t, d]) for d in counts.columns} for t in counts.index
    }
    oracle = summary["oracle_hit_rate"]
    assert oracle["edge_h1"]["mean"] == pytest.approx(np.mean([oracle_hit_rate(m) for m in edge]))
    assert oracle["placebo_h1"]["mean"] is None
    assert set(summary["detection_lag"]) == {"edge", "placebo"}
    assert set(summary["regime_returns"]["placebo"]) == {"bull", "bear", "volatile", "sideways"}


@pytest.mark.notebook(order=6)
def test_notebook_shows_three_figures(executed):
    _, out, _ = executed
    nb = nbformat.read(out, as_version=4)
    images = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "image/png" in o.get("data", {})
    ]
    assert len(images) == 3
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert not errors


@pytest.mark.notebook(order=2)
def test_unknown_parameter_fails_naming_it(tmp_path):
    with pytest.raises(ValueError, match="unknown parameter 'n_seed'"):
        run_setup_cells(
            "01_generate_data",
            **TINY,
            n_seed=2,
            data_dir=str(tmp_path / "data"),
            results_dir=str(tmp_path / "results"),
        )
    assert not (tmp_path / "data").exists(), "validation must fail before anything is written"
