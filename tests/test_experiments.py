"""Sweeps: cost model, caching, determinism, Dask equivalence."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import retrainlab as rl
from retrainlab import experiments as ex

ROOT = Path(__file__).resolve().parents[1]
SPECS = ex.synthetic_specs(range(2), n_days=260, n_tickers=3, edge=1.0)
CONFIGS = {"OLD": rl.OLD, "NEW": rl.NEW}


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    frame = ex.sweep(CONFIGS, SPECS, n_jobs=1, cache_location=cache, progress=False)
    return frame, cache


def test_recosting_reproduces_the_engines_net_returns():
    market = rl.generate_market(1, n_days=300, n_tickers=3)
    gross = rl.walk_forward(market, rl.NEW.replace(cost_bps=0.0))
    net = rl.walk_forward(market, rl.NEW)
    positions = gross.positions.reindex(gross.returns.index).to_numpy()
    recosted = ex.returns_at_cost(gross.returns.to_numpy(), positions, 0.0, rl.NEW.cost_bps)
    np.testing.assert_allclose(recosted, net.returns.to_numpy(), rtol=0, atol=1e-15)


def test_sweep_rows_and_determinism(local_sweep, tmp_path):
    frame, _ = local_sweep
    assert list(frame["config"]) == ["OLD", "OLD", "NEW", "NEW"]
    assert list(frame["market"]) == ["seed0-edge1", "seed1-edge1"] * 2
    again = ex.sweep(CONFIGS, SPECS, n_jobs=2, use_cache=False, progress=False)
    pd.testing.assert_frame_equal(frame, again)


def test_cache_is_used_and_keyed_by_config(local_sweep, monkeypatch):
    frame, cache = local_sweep
    calls = []
    monkeypatch.setattr(ex, "evaluate", lambda *a, **k: calls.append(a) or {"x": 1.0})
    cached = ex.sweep(CONFIGS, SPECS, n_jobs=1, cache_location=cache, progress=False)
    assert calls == [] and cached.equals(frame)  # every run served from the cache
    # a config differing in one field is a cache miss: it reaches evaluate
    ex.sweep(
        {"X": rl.OLD.replace(horizon=4)}, SPECS[:1], n_jobs=1, cache_location=cache, progress=False
    )
    assert len(calls) == 1


def test_a_sweep_the_cache_serves_starts_no_worker(local_sweep, monkeypatch, tmp_path):
    frame, cache = local_sweep

    def no_workers(*args, **kwargs):
        raise AssertionError("a sweep served by the cache started workers")

    monkeypatch.setattr(ex, "Parallel", no_workers)
    cached = ex.sweep(CONFIGS, SPECS, n_jobs=2, cache_location=cache, progress=False)
    pd.testing.assert_frame_equal(cached, frame)
    monkeypatch.undo()
    # half cached: the cached runs are loaded, the others computed, in the frame's order
    half = tmp_path / "half"
    ex.sweep({"NEW": rl.NEW}, SPECS, n_jobs=1, cache_location=half, progress=False)
    mixed = ex.sweep(CONFIGS, SPECS, n_jobs=2, cache_location=half, progress=False)
    pd.testing.assert_frame_equal(mixed, frame)


def test_markets_read_from_data_dir_equal_generated(tmp_path):
    spec = SPECS[0]
    market = spec.build()
    market.to_parquet(spec.path(tmp_path))
    again = spec.build(tmp_path)
    np.testing.assert_array_equal(again.close, market.close)
    assert ex.evaluate(rl.NEW, spec, str(tmp_path)) == ex.evaluate(rl.NEW, spec)


def test_dask_local_cluster_gives_identical_results(local_sweep):
    import distributed  # pinned in requirements.lock: the test must run, never skip

    frame, _ = local_sweep
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        dask = ex.sweep(
            CONFIGS, SPECS, use_cache=False, dask_address=cluster.scheduler_address, progress=False
        )
    pd.testing.assert_frame_equal(frame, dask)


def test_ablation_configs_and_unknown_fix():
    configs = ex.ablation_configs("long_lookback")
    assert list(configs) == ["OLD", "OLD+long_lookback", "NEW-long_lookback", "NEW"]
    assert configs["OLD+long_lookback"].fixes == ("long_lookback",)
    assert len(ex.all_ablation_configs()) == 14
    with pytest.raises(ValueError, match="Did you mean 'long_lookback'"):
        ex.ablation_configs("long_lokback")


def test_makefile_fixes_match_the_package():
    makefile = (ROOT / "Makefile").read_text()
    listed = re.search(r"^FIXES := (.+)$", makefile, re.M).group(1).split()
    assert tuple(listed) == rl.FIXES


def test_code_version_is_versioned_and_stable():
    ex.code_version.cache_clear()
    first = ex.code_version()
    assert first.startswith(rl.__version__ + "+")
    ex.code_version.cache_clear()
    assert ex.code_version() == first  # stable for the same source


def test_the_default_run_cache_is_the_checkouts_dot_cache(monkeypatch):
    # the folder `make clean` removes and .gitignore ignores (not one inside lib/ or site-packages)
    monkeypatch.delenv(ex.CACHE_ENV, raising=False)
    root = Path(__file__).resolve().parents[1]
    assert ex.cache_dir() == root / ".cache" / "joblib"
    assert "/.cache/" in (root / ".gitignore").read_text().splitlines()
    clean = (root / "Makefile").read_text().split("\nclean:")[1].split("\n\n")[0]
    assert " .cache " in clean


def test_summarize_run_takes_the_positions_on_the_return_dates():
    # the engine's returns cover the positions' last rows (sliced); any other dates reindex:
    # the same summary either way
    result = rl.walk_forward(rl.generate_market(1, n_days=400, n_tickers=3), rl.NEW)
    early = dataclasses.replace(result, returns=result.returns.iloc[:-30])  # not the last rows
    cut = dataclasses.replace(early, positions=result.positions.iloc[:-30])  # the last rows
    assert ex.summarize_run(early) == ex.summarize_run(cut)
    assert ex.summarize_run(early) != ex.summarize_run(result)
