"""Soak: processes retraining, signalling and trading on one state directory at once, for a
bounded time. The served version never goes backwards; every trade is stored exactly once.

The workers are forked from the test process (no interpreter start-up to pay), each with its
own ``MLIntegration`` on the shared state directory.
"""

from __future__ import annotations

import json
import os
import time
import traceback

import pytest

from live_markets import predictable_market
from retrainlab.engine.config import OLD
from retrainlab.live.facade import MLIntegration

#: How long the workers run together: 2 s in `make test`; `make soak` runs it for a minute.
SECONDS = float(os.environ.get("RETRAINLAB_SOAK_SECONDS", "2"))
# two processes retrain (so that retrains race for the pointer), two signal, all three trade
ROLES = ("retrainer-a", "retrainer-b", "trader")


def _work(state, role, frame, out, go):
    seen, trades, retrains, promoted, k = [], 0, 0, 0, 0
    with MLIntegration(state) as ml:
        while not go.exists():
            time.sleep(0.005)
        end = time.monotonic() + SECONDS
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
    result = {"seen": seen, "trades": trades, "retrains": retrains, "promoted": promoted}
    out.write_text(json.dumps(result))


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_soak_processes_retrain_signal_and_trade_at_once(tmp_path):
    state, go = tmp_path / "state", tmp_path / "go"
    market = predictable_market(seed=3, n_days=260, n_tickers=2)
    with MLIntegration(state, config=OLD) as ml:  # histories for the retrains
        for j, symbol in enumerate(("S0", "S1")):
            ml.signal(symbol, market.ohlcv(j))
    frame = market.ohlcv(1)
    pids = {}
    for role in ROLES:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through its file and exit code
            code = 1
            try:
                _work(state, role, frame, tmp_path / f"{role}.json", go)
                code = 0
            except BaseException:
                (tmp_path / f"{role}.err").write_text(traceback.format_exc())
            finally:
                os._exit(code)
        pids[role] = pid
    go.touch()
    deadline = time.monotonic() + SECONDS + 120
    codes = {}
    while len(codes) < len(pids):
        for role, pid in pids.items():
            if role not in codes:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    codes[role] = os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            for role, pid in pids.items():
                if role not in codes:
                    os.kill(pid, 9)
                    os.waitpid(pid, 0)
            pytest.fail(f"soak workers hung: {sorted(set(pids) - set(codes))}")
        time.sleep(0.05)
    errors = {r: (tmp_path / f"{r}.err").read_text() for r in ROLES if codes[r] != 0}
    assert not errors, errors
    out = {role: json.loads((tmp_path / f"{role}.json").read_text()) for role in ROLES}
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
