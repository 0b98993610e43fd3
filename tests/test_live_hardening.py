"""Issue 11: each numbered way an operator broke the facade, tried again (each test fails on
a4fb434's facade)."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import retrainlab as rl
from live_markets import predictable_market
from retrainlab.__main__ import main as dispatch
from retrainlab.engine.config import NEW, OLD
from retrainlab.live import store as store_module
from retrainlab.live.cli import main as cli
from retrainlab.live.facade import MLIntegration
from retrainlab.live.inputs import MAX_BARS, stored_bars
from retrainlab.live.models import TRUSTED_TYPES
from retrainlab.live.serving import KEEP_MODELS
from retrainlab.live.store import StateError, StateStore
from retrainlab.live.trades import CLOCK_SKEW, MAX_MOVE

# ----------------------------------------------------------------------------- 1. pointer


def test_pointer_never_moves_back_to_an_older_retrain(ml, market):
    """An older retrain finishing after a newer one is not promoted (compare-and-set)."""
    older = ml.store.start_retrain()  # started first, finishes last
    newer = ml.trigger_retraining(market)
    assert newer.promoted and newer.version == older + 1
    assert not ml.store.finish_retrain(
        older, ok=True, reason=None, n_samples=1, n_feedback=0, report={}, model_file="x"
    )
    assert ml.model_version == newer.version
    assert ml.store.get_meta("model_file") == f"model-{newer.version:06d}.skops"


def test_broken_served_model_serves_the_newest_loadable_kept_one(ml, market):
    first = ml.trigger_retraining(market)
    second = ml.trigger_retraining(market)
    assert first.promoted and second.promoted
    (ml.models_dir / f"model-{second.version:06d}.skops").write_bytes(b"garbage")
    with MLIntegration(ml.state_dir) as again:
        assert again.model_version == first.version
        assert "serving kept model version 1" in again.serving_note
        sig = again.signal("SYN00", market.ohlcv(0))
        assert sig.source == "model" and sig.model_version == first.version
        assert "cannot be loaded" in sig.reason
        assert again.get_stats()["serving_note"] == again.serving_note


# ----------------------------------------------------------------------------- 2. trades


@pytest.mark.parametrize(
    "args, kwargs, error, match",
    [
        ((1e-300, 1e300, 1.0), {}, ValueError, "exit_price .* move, beyond the bound"),
        ((0.01, 101.0, 1.0), {}, ValueError, "beyond the bound of 1 \\(100%\\)"),
        ((100.0, 101.0, 1.0), {"exit_time": "2099-01-01"}, ValueError, "exit_time .* future"),
        ((100.0, 101.0, 1.0), {"entry_time": 0}, TypeError, "entry_time must be a date/time"),
        ((100.0, 101.0, 1.0), {"entry_time": "1970-01-01"}, ValueError, "entry_time .* epoch"),
        ((100.0, 101.0, 1.0), {"exit_time": "1960-05-01"}, ValueError, "exit_time .* epoch"),
        ((True, 101.0, 1.0), {}, TypeError, "entry must be a number"),
        ((100.0, np.bool_(True), 1.0), {}, TypeError, "exit_price must be a number"),
    ],
)
def test_trades_that_would_poison_training_are_refused(ml, args, kwargs, error, match):
    with pytest.raises(error, match=match):
        ml.record_trade("SYN00", "long", *args, **kwargs)
    assert ml.store.count("trades") == 0


def test_trade_bound_is_configurable_and_the_clock_skew_tolerated(tmp_path):
    with MLIntegration(tmp_path, max_move=20.0) as ml:
        ml.record_trade("A", "long", 1.0, 15.0, 1.0)  # +1400 %: inside a bound of 2000 %
        soon = pd.Timestamp.now(tz="UTC") + pd.Timedelta(minutes=1)
        ml.record_trade("A", "long", 1.0, 1.1, 1.0, exit_time=soon)
        assert ml.store.count("trades") == 2
        assert ml.store.count("trades") == 2
    with MLIntegration(tmp_path, max_move=1e10) as ml:
        with pytest.raises(ValueError, match="P&L"):  # finite inputs, infinite P&L
            ml.record_trade("A", "long", 1.0, 1e9, 1e300)
    with pytest.raises(ValueError, match="max_move"):
        MLIntegration(tmp_path, max_move=-1.0)


def test_record_outcome_has_the_same_bounds(ml):
    bad = rl.TradeOutcome("A", "long", 1e-300, 1e300, 1.0)
    with pytest.raises(ValueError, match="beyond the bound"):
        ml.record_outcome(bad)
    assert ml.store.count("trades") == 0


def test_boolean_close_column_is_refused(ml):
    with pytest.raises(ValueError, match="booleans"):
        ml.signal("A", pd.DataFrame({"close": [True, False, True]}))
    with pytest.raises(ValueError, match="booleans"):
        ml.signal("A", {"close": np.array([True, True])})
    assert ml.store.count("predictions") == 0


def test_cli_refuses_an_absurd_trade(capsys, tmp_path):
    argv = ["record-trade", "--symbol", "A", "--direction", "long", "--size", "1"]
    code = cli(
        [*argv, "--entry", "1e-300", "--exit", "1e300", "--state-dir", str(tmp_path), "--create"]
    )
    err = capsys.readouterr().err
    assert code == 2 and "beyond the bound" in err and err.count("\n") == 1
    with MLIntegration(tmp_path) as ml:
        assert ml.store.count("trades") == 0


# ----------------------------------------------------------------------------- 3. gate


def test_a_model_worse_than_a_constant_is_not_promoted(ml):
    """On a small synthetic history the model scores worse than the constant probability:
    the fallback keeps serving and the report says why."""
    bad = rl.generate_market(seed=1, n_days=320, n_tickers=3)
    report = ml.trigger_retraining(bad)
    v = report.validation
    assert v["log_loss"] >= v["baseline_log_loss"]  # the premise
    assert report.ok and not report.promoted and not report
    assert "not below the constant-probability baseline" in report.reason
    assert ml.model is None and not any(ml.models_dir.glob("model-*.skops"))
    sig = ml.signal("SYN00", bad.ohlcv(0))
    assert sig.source == "fallback"
    row = ml.store.retrains()[-1]
    assert row["status"] == "ok" and row["promoted"] == 0 and "baseline" in row["reason"]


def test_a_good_model_is_promoted_and_stats_show_its_score_beside_the_baseline(ml, market):
    report = ml.trigger_retraining(market)
    v = report.validation
    assert v["log_loss"] < v["baseline_log_loss"] and report.promoted and report.reason == ""
    s = ml.get_stats()
    assert s["model_holdout"] == {
        "log_loss": v["log_loss"],
        "baseline_log_loss": v["baseline_log_loss"],
        "beats_baseline": True,
    }
    # a later bad retrain leaves the good model serving
    worse = ml.trigger_retraining(rl.generate_market(seed=1, n_days=320, n_tickers=3))
    assert not worse.promoted and ml.model_version == report.version


def test_unpromoted_retrain_exits_0_on_the_cli(capsys, tmp_path):
    rl.generate_market(seed=1, n_days=320, n_tickers=1).ohlcv(0).to_csv(
        tmp_path / "X.csv", index_label="date"
    )
    state = str(tmp_path / "s")
    code = cli(["retrain", "--prices", str(tmp_path / "X.csv"), "--state-dir", state, "--create"])
    out = capsys.readouterr().out
    assert code == 0 and '"promoted": false' in out


# ----------------------------------------------------------------------------- 4. fork


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_does_not_deadlock_on_a_lock_held_at_fork(ml, market):
    frame = market.ohlcv(0).iloc[:150]
    holding, release = threading.Event(), threading.Event()

    def hold():
        with ml._lock:  # a signal or retrain in progress in another thread
            holding.set()
            release.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    holding.wait(10)
    pid = os.fork()
    if pid == 0:  # the child: use the inherited instance, then exit with a verdict
        code = 1
        try:
            ml.signal("SYN00", frame)
            ml.record_trade("SYN00", "long", 100.0, 101.0, 1.0)
            code = 0
        finally:
            os._exit(code)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.05)
        else:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the forked child deadlocked on the facade's lock")
    finally:
        release.set()
        thread.join()
    assert os.waitstatus_to_exitcode(status) == 0
    assert ml.store.count("trades") == 1 and ml.store.count("predictions") == 1


# ----------------------------------------------------------------------------- 5. errors


def _read_only_connect(monkeypatch):
    """Every new SQLite connection read-only (as for a file without write permission; the
    tests run as root here, which permissions do not stop)."""
    connect = sqlite3.connect

    def read_only(path, *args, **kwargs):
        if kwargs.get("uri"):
            return connect(path, *args, **kwargs)
        return connect(f"file:{path}?mode=ro", *args, uri=True, **kwargs)

    monkeypatch.setattr(store_module.sqlite3, "connect", read_only)


def test_read_only_state_gives_one_clear_error(capsys, tmp_path, monkeypatch):
    with MLIntegration(tmp_path) as ml:
        ml.record_trade("A", "long", 1.0, 1.1, 1.0)
    _read_only_connect(monkeypatch)
    with MLIntegration(tmp_path) as ml:  # reading still works
        assert ml.get_stats()["n_trades"] == 1
        with pytest.raises(StateError, match="read-only.*write access"):
            ml.record_trade("A", "long", 1.0, 1.1, 1.0)
    argv = ["--symbol", "A", "--direction", "long", "--entry", "1", "--exit", "2", "--size", "1"]
    code = cli(["record-trade", *argv, "--state-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "read-only" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert cli(["stats", "--state-dir", str(tmp_path)]) == 0


def test_read_only_directory_is_not_called_corrupt(tmp_path, monkeypatch):
    """SQLite needs the directory writable for -wal/-shm; say that, not "corrupt". (Simulated
    through os.access: the tests run as root, which directory permissions do not stop.)"""
    MLIntegration(tmp_path).close()
    monkeypatch.setattr(store_module.os, "access", lambda *args, **kwargs: False)
    with pytest.raises(StateError, match="is read-only.*write access to the directory") as info:
        MLIntegration(tmp_path)
    assert "corrupt" not in str(info.value)


def test_locked_state_gives_one_clear_error(tmp_path):
    with StateStore(tmp_path / "state.db", timeout=0.1) as store:
        blocker = sqlite3.connect(tmp_path / "state.db", isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StateError, match="locked.*retry"):
                store.start_retrain()
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()


def test_corrupt_state_is_a_state_error(tmp_path):
    StateStore(tmp_path / "state.db").close()
    data = bytearray((tmp_path / "state.db").read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)
    (tmp_path / "state.db").write_bytes(bytes(data))
    with pytest.raises(StateError, match="corrupt"):
        MLIntegration(tmp_path)


def test_no_command_prints_usage_and_exits_2(capsys):
    assert dispatch([]) == 2
    assert "usage: python -m retrainlab" in capsys.readouterr().err
    assert dispatch(["--help"]) == 0


def test_signal_on_a_missing_state_directory_is_an_error(tmp_path, capsys):
    predictable_market(n_days=120, n_tickers=1).ohlcv(0).to_csv(tmp_path / "A.csv")
    code = cli(
        ["signal", "--prices", str(tmp_path / "A.csv"), "--state-dir", str(tmp_path / "typo")]
    )
    assert code == 2 and "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "typo").exists()
    with pytest.raises(StateError, match="create=True"):
        MLIntegration(tmp_path / "typo", create=False)


# ----------------------------------------------------------------------------- 6-7. model files


def _point_at(ml, name):
    with ml.store.transaction() as tx:
        ml.store.set_meta(tx, "model_version", "7")
        ml.store.set_meta(tx, "model_file", name)


@pytest.mark.parametrize(
    "name, match",
    [
        ("/etc/passwd", "not a model file name"),
        ("../../outside.skops", "not a model file name"),
        ("model-000007.skops", "resolves to .* outside"),  # a symlink out of models/
        ("model-000008.skops", "not a regular file"),  # a FIFO: must not hang
    ],
)
def test_model_pointer_is_confined_to_models(ml, tmp_path, market, name, match):
    ml.trigger_retraining(market)  # a real model, then a hostile pointer
    outside = tmp_path / "outside.skops"
    outside.write_bytes((ml.models_dir / "model-000001.skops").read_bytes())
    (ml.models_dir / "model-000007.skops").symlink_to(outside)
    os.mkfifo(ml.models_dir / "model-000008.skops")
    _point_at(ml, name)
    started = time.monotonic()
    with MLIntegration(ml.state_dir) as again:
        note = again.serving_note
        assert again.model_version == 1  # the newest loadable kept model
    assert time.monotonic() - started < 30
    assert re.search(match, note), note


# ----------------------------------------------------------------------------- 8. crash


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_killed_retrain_is_marked_interrupted_and_its_temporary_file_removed(tmp_path):
    MLIntegration(tmp_path).close()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - a retrain killed mid-write
        try:
            ml = MLIntegration(tmp_path)
            ml.store.start_retrain()
            ml.models_dir.mkdir(exist_ok=True)
            half = ml.models_dir / f".model-000001.skops.{os.getpid()}.{'0' * 32}.tmp"
            half.write_bytes(b"half a model")
        finally:
            os.kill(os.getpid(), signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == -signal.SIGKILL
    assert len(list((tmp_path / "models").glob(".model-*.tmp"))) == 1
    with sqlite3.connect(tmp_path / "state.db") as con:
        assert con.execute("SELECT status FROM retrains").fetchall() == [("running",)]
    live = tmp_path / "models" / f".model-000002.skops.{os.getpid()}.{'1' * 32}.tmp"
    live.write_bytes(b"a live writer's")  # this process is alive: its file stays
    with MLIntegration(tmp_path) as ml:
        row = ml.store.retrains()[-1]
        assert row["status"] == "interrupted" and "ended before" in row["reason"]
        assert ml.get_stats()["last_retrain"]["status"] == "interrupted"
    assert [p.name for p in (tmp_path / "models").glob(".model-*.tmp")] == [live.name]


def test_empty_database_beside_a_wal_is_refused(tmp_path):
    with MLIntegration(tmp_path) as ml:
        ml.record_trade("A", "long", 1.0, 1.1, 1.0)
        wal = (tmp_path / "state.db-wal").read_bytes()
    (tmp_path / "state.db").write_bytes(b"")
    (tmp_path / "state.db-wal").write_bytes(wal)
    with pytest.raises(StateError, match="empty but its write-ahead log"):
        MLIntegration(tmp_path)
    assert (tmp_path / "state.db").read_bytes() == b""
    assert (tmp_path / "state.db-wal").read_bytes() == wal


def test_version_1_database_is_migrated_keeping_its_rows(tmp_path):
    with MLIntegration(tmp_path) as ml:
        ml.record_trade("A", "long", 1.0, 1.1, 1.0)
    con = sqlite3.connect(tmp_path / "state.db")
    con.executescript(
        "DROP TABLE retrains; CREATE TABLE retrains (id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "started_at TEXT NOT NULL, finished_at TEXT, status TEXT NOT NULL, reason TEXT, "
        "n_samples INTEGER, n_feedback INTEGER, model_file TEXT, report TEXT); "
        "INSERT INTO retrains (started_at, status) VALUES ('t', 'ok'); "
        "UPDATE meta SET value = '1' WHERE key = 'schema_version';"
    )
    con.close()
    with MLIntegration(tmp_path) as ml:
        assert ml.store.get_meta("schema_version") == "2"
        assert ml.store.count("trades") == 1
        assert ml.store.retrains()[0]["promoted"] == 1


# ----------------------------------------------------------------------------- 9. history


def test_stored_history_is_bounded_and_huge_inputs_refused(ml):
    n = stored_bars(NEW) + 300
    close = 100.0 * np.exp(np.cumsum(np.full(n, 1e-4)))
    ml.signal("A", {"close": close})
    (row,) = ml.store.prices()
    assert row["n_rows"] == stored_bars(NEW) < n
    np.testing.assert_array_equal(ml.histories()["A"].close, close[-stored_bars(NEW) :])
    with pytest.raises(ValueError, match=f"more than the {MAX_BARS}"):
        ml.signal("A", {"close": np.ones(MAX_BARS + 1)})
    assert stored_bars(OLD) == OLD.short_window + OLD.horizon + 61 + 500
    assert stored_bars(NEW) == NEW.long_window + NEW.horizon + 61 + 500


# ----------------------------------------------------------------------------- 10. features


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_features_that_overflow_are_not_called_too_little_data(ml):
    close = np.full(100, 1.0)
    close[-1] = 1e300  # a finite price whose returns and squares overflow
    sig = ml.signal("A", {"close": close})
    assert sig.source == "fallback" and "too little data" not in sig.reason


# ----------------------------------------------------------------------------- the README


def test_readme_states_the_facade_facts_as_the_code_has_them():
    text = (Path(__file__).parents[1] / "README.md").read_text()
    section = text[text.index("## Use in a trading engine") :]
    assert f"{stored_bars(OLD)} bars for `OLD`, {stored_bars(NEW)} for `NEW`" in section
    assert f"{MAX_BARS:,} bars" in section
    assert f"default **{MAX_MOVE:.1f}, i.e. {MAX_MOVE * 100:.0f} %**" in section
    assert f"default **{CLOCK_SKEW.seconds // 60} minutes**" in section
    assert f"the {KEEP_MODELS} newest files" in section
    for name in TRUSTED_TYPES:
        assert f"`{name}`" in section or f"`{name.rsplit('.', 1)[1]}`" in section, name
