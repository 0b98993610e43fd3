"""Notebook 01_generate_data under papermill with tiny parameters: files, round-trip, results."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import numpy as np
import papermill as pm
import pytest

from retrainlab import regime_diagnostics as rd
from retrainlab.engine.fixes.regime_awareness import detect_regimes
from retrainlab.engine.market import PRICE_FIELDS, Market
from retrainlab.engine.synthetic import generate_market, oracle_hit_rate
from retrainlab.research.experiments import MarketSpec

pytestmark = pytest.mark.xdist_group("notebooks")

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "01_generate_data.ipynb"
TINY = {"seeds": 2, "first_seed": 3, "n_days": 300, "n_tickers": 3, "edge": 1.0, "figures_seed": 4}


def run(out: Path, **parameters) -> Path:
    pm.execute_notebook(
        str(NOTEBOOK),
        str(out),
        parameters=parameters,
        kernel_name="retrainlab",
        cwd=str(NOTEBOOK.parent),
        progress_bar=False,
    )
    return out


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nb01")
    params = {**TINY, "data_dir": str(tmp / "data"), "results_dir": str(tmp / "results")}
    out = run(tmp / "first.ipynb", **params)
    first = (tmp / "results" / "data_summary.json").read_bytes()
    run(tmp / "second.ipynb", **params)
    second = (tmp / "results" / "data_summary.json").read_bytes()
    return tmp, out, first, second


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


def test_parquet_files_round_trip_to_the_generated_markets(executed):
    tmp, _, _, _ = executed
    data = tmp / "data"
    expected = [MarketSpec(s, 300, 3, e).path(data) for s in (3, 4) for e in (1.0, 0.0)]
    assert sorted(data.iterdir()) == sorted(expected)
    for path in expected:
        spec_seed = 3 if path.name.startswith("seed3-") else 4
        spec_edge = 0.0 if "placebo" in path.name else 1.0
        made = generate_market(spec_seed, n_days=300, n_tickers=3, edge=spec_edge)
        back = Market.from_parquet(path)
        assert back.dates.equals(made.dates) and back.tickers == made.tickers
        for f in PRICE_FIELDS:
            np.testing.assert_array_equal(getattr(back, f), getattr(made, f))
        assert back.regimes.tolist() == made.regimes.tolist()


def test_results_file_is_deterministic_and_matches_a_recomputation(executed):
    tmp, _, first, second = executed
    assert first == second, "running twice must give byte-identical JSON"
    summary = json.loads(first)
    assert summary["params"] == {
        **TINY,
        "data_dir": str(tmp / "data"),
        "results_dir": str(tmp / "results"),
    }
    assert summary["files"] == [
        MarketSpec(s, 300, 3, e).path(".").name for s in (3, 4) for e in (1.0, 0.0)
    ]
    edge = [generate_market(s, n_days=300, n_tickers=3, edge=1.0) for s in (3, 4)]
    counts = sum(rd.confusion_matrix(m.regimes, detect_regimes(m.close)) for m in edge)
    assert summary["confusion"]["edge"]["counts"] == {
        t: {d: int(counts.loc[t, d]) for d in counts.columns} for t in counts.index
    }
    oracle = summary["oracle_hit_rate"]
    assert oracle["edge_h1"]["mean"] == pytest.approx(np.mean([oracle_hit_rate(m) for m in edge]))
    assert oracle["placebo_h1"]["mean"] is None
    assert set(summary["detection_lag"]) == {"edge", "placebo"}
    assert set(summary["regime_returns"]["placebo"]) == {"bull", "bear", "volatile", "sideways"}


def test_notebook_shows_three_figures(executed):
    _, out, _, _ = executed
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


def test_unknown_parameter_fails_naming_it(tmp_path):
    with pytest.raises(pm.PapermillExecutionError, match="unknown parameter 'n_seed'"):
        run(
            tmp_path / "bad.ipynb",
            **TINY,
            n_seed=2,
            data_dir=str(tmp_path / "data"),
            results_dir=str(tmp_path / "results"),
        )
    assert not (tmp_path / "data").exists(), "validation must fail before anything is written"
