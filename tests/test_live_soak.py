"""Soak: processes retraining, signalling and trading on one state directory at once, for a
bounded time. The served version never goes backwards; every trade is stored exactly once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from live_markets import predictable_market
from retrainlab.engine.config import OLD
from retrainlab.live.facade import MLIntegration

SECONDS = 5.0  # how long the workers run (plus start-up): the whole test takes ~10-20 s

_WORKER = textwrap.dedent("""
    import json, pathlib, sys, time
    import pandas as pd
    from retrainlab.live.facade import MLIntegration
    state, role, prices, sync, seconds = sys.argv[1:6]
    frame = pd.read_parquet(prices)
    seen, trades, retrains, promoted = [], 0, 0, 0
    with MLIntegration(state) as ml:
        pathlib.Path(sync, "ready-" + role).touch()
        while not pathlib.Path(sync, "go").exists():
            time.sleep(0.005)
        end = time.monotonic() + float(seconds)
        k = 0
        while time.monotonic() < end:
            if role != "trader" and k % 200 == 0:
                report = ml.trigger_retraining()
                retrains += 1
                promoted += report.promoted
            if role != "retrainer-a" and k % 20 == 0:
                ml.get_signal("S1", frame.iloc[: 150 + k % 100])
            ml.record_trade(role, "long" if k % 2 else "short", 100.0, 99.0 + k % 5, 1.0 + k)
            trades += 1
            seen.append(ml.model_version or 0)
            k += 1
    print(json.dumps({"seen": seen, "trades": trades, "retrains": retrains,
                      "promoted": promoted}))
""")

# two processes retrain (so that retrains race for the pointer); every process trades; two signal
ROLES = ("retrainer-a", "retrainer-b", "trader")


@pytest.mark.slow
@pytest.mark.xdist_group("facade_soak")
def test_soak_processes_retrain_signal_and_trade_at_once(tmp_path):
    state, sync = tmp_path / "state", tmp_path / "sync"
    sync.mkdir()
    market = predictable_market(seed=3, n_days=260, n_tickers=2)
    with MLIntegration(state, config=OLD) as ml:  # histories for the retrains
        for j, symbol in enumerate(("S0", "S1")):
            ml.signal(symbol, market.ohlcv(j))
    market.ohlcv(1).to_parquet(tmp_path / "prices.parquet")
    procs = {
        role: subprocess.Popen(
            [
                sys.executable,
                "-c",
                _WORKER,
                str(state),
                role,
                str(tmp_path / "prices.parquet"),
                str(sync),
                str(SECONDS),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        for role in ROLES
    }
    deadline = time.monotonic() + 120
    while not all((sync / f"ready-{r}").exists() for r in ROLES):
        failed = [p.communicate()[1] for p in procs.values() if p.poll() is not None]
        assert not failed and time.monotonic() < deadline, failed
        time.sleep(0.01)
    (sync / "go").touch()
    out = {}
    for role, p in procs.items():
        stdout, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
        out[role] = json.loads(stdout)
    for role, got in out.items():  # each process saw the served version only move forward
        seen = got["seen"]
        assert all(a <= b for a, b in zip(seen, seen[1:], strict=False)), role
    with MLIntegration(state) as ml:
        assert ml.store.integrity_check() == "ok"
        for role in ROLES:
            n = out[role]["trades"]
            rows = ml.store.query("SELECT size FROM trades WHERE symbol = ? ORDER BY id", (role,))
            assert [r["size"] for r in rows] == [1.0 + k for k in range(n)]  # once, in order
        retrains = ml.store.retrains()
        promoted = [r["id"] for r in retrains if r["promoted"]]
        assert len(retrains) == sum(out[r]["retrains"] for r in ROLES)
        assert all(r["status"] == "ok" for r in retrains)
        assert ml.model_version == max(promoted)
        files = sorted(p.name for p in ml.models_dir.iterdir())
        assert f"model-{max(promoted):06d}.skops" in files
        assert not [f for f in files if f.endswith(".tmp")]
    summary = {r: {k: v for k, v in out[r].items() if k != "seen"} for r in ROLES}
    print(f"soak {SECONDS:g} s: {summary}; promoted versions {promoted}")
