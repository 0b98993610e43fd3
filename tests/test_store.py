"""The facade's SQLite state database: identity, refusal of foreign files, encodings."""

from __future__ import annotations

import os
import sqlite3
import threading
import time

import numpy as np
import pandas as pd
import pytest

from retrainlab.live.encoding import as_utc, blob_vector, text_time, time_text, vector_blob
from retrainlab.live.store import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    NotAStateDatabase,
    StateError,
    StateStore,
)


@pytest.fixture
def db(tmp_path):
    return tmp_path / "state.db"


def test_new_database_is_wal_with_application_id_and_meta(db):
    with StateStore(db, config={"horizon": 5}) as store:
        assert store.query("PRAGMA journal_mode")[0][0] == "wal"
        assert store.query("PRAGMA application_id")[0][0] == APPLICATION_ID
        meta = store.meta()
        assert meta["application"] == "retrainlab"
        assert meta["schema_version"] == str(SCHEMA_VERSION)
        assert meta["config"] == '{"horizon": 5}'
        assert store.integrity_check() == "ok"
    # a second open finds it, keeps the stored config and adds nothing
    with StateStore(db, config={"horizon": 99}) as store:
        assert store.meta()["config"] == '{"horizon": 5}'
        assert store.count("trades") == 0


def test_empty_file_is_initialised(db):
    db.write_bytes(b"")
    with StateStore(db) as store:
        assert store.get_meta("application") == "retrainlab"


@pytest.mark.parametrize(
    "content", [b"hello, I am a CSV\n1,2,3\n", b"\x00" * 4096, b"PK\x03\x04 a zip file"]
)
def test_non_sqlite_file_is_refused_and_left_alone(db, content):
    db.write_bytes(content)
    with pytest.raises(NotAStateDatabase, match="not a retrainlab state database.*not an SQLite"):
        StateStore(db)
    assert db.read_bytes() == content


def test_foreign_sqlite_database_is_refused_and_left_alone(db):
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE customers (name TEXT)")
    con.execute("INSERT INTO customers VALUES ('alice')")
    con.commit()
    con.close()
    before = db.read_bytes()
    with pytest.raises(NotAStateDatabase, match="another application.*customers"):
        StateStore(db)
    assert db.read_bytes() == before


def test_sqlite_with_another_application_id_is_refused(db):
    con = sqlite3.connect(db)
    con.execute("PRAGMA application_id = 1234")
    con.execute("CREATE TABLE meta (key TEXT, value TEXT)")
    con.commit()
    con.close()
    with pytest.raises(NotAStateDatabase, match="application_id=0x4d2"):
        StateStore(db)


def test_newer_schema_is_refused(db):
    StateStore(db).close()
    con = sqlite3.connect(db)
    con.execute(
        "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),)
    )
    con.commit()
    con.close()
    with pytest.raises(NotAStateDatabase, match="newer"):
        StateStore(db)


def test_corrupt_database_is_refused(db):
    StateStore(db).close()
    data = bytearray(db.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # the schema page, after the header
    db.write_bytes(bytes(data))
    with pytest.raises(NotAStateDatabase, match="corrupt"):
        StateStore(db)
    assert db.read_bytes() == bytes(data)


def test_directory_is_refused(tmp_path):
    (tmp_path / "state.db").mkdir()
    with pytest.raises(NotAStateDatabase, match="is a directory"):
        StateStore(tmp_path / "state.db")


def test_failed_transaction_stores_nothing(db):
    with StateStore(db) as store:
        with pytest.raises(StateError, match="refused a row"), store.transaction() as tx:
            tx.execute("INSERT INTO retrains (started_at, status) VALUES ('x', 'running')")
            tx.execute("INSERT INTO retrains (started_at, status) VALUES ('x', 'bogus')")
        assert store.count("retrains") == 0


def test_constraints_reject_bad_rows(db):
    """The schema is a second line of defence behind the facade's validation."""
    row = {
        "recorded_at": "t",
        "symbol": "A",
        "direction": "long",
        "entry_price": 1.0,
        "exit_price": 1.0,
        "size": 1.0,
        "entry_time": "t",
        "exit_time": "t",
        "regime": -1,
        "pnl_pct": 0.0,
    }
    with StateStore(db) as store:
        store.insert_trade(row)
        for bad in ({"direction": "up"}, {"entry_price": 0.0}, {"size": -1.0}):
            with pytest.raises(StateError, match="CHECK constraint failed"):
                store.insert_trade({**row, **bad})
        assert store.count("trades") == 1


def _open_in_threads(db, n=6):
    errors, stores = [], []

    def open_it():
        try:
            stores.append(StateStore(db))
        except Exception as exc:  # pragma: no cover - reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors, stores


def test_concurrent_first_open_creates_one_schema(tmp_path):
    """Six threads open a missing database at once, 100 times over: each gets the one schema.
    (Read in two snapshots, a store created between them looked foreign: 1.3% of rounds.)"""
    for k in range(100):
        errors, stores = _open_in_threads(tmp_path / f"state{k}.db")
        assert not errors, f"round {k}: {errors[0]}"
        assert [s.count("meta") for s in stores] == [4] * 6
        assert stores[0].query("PRAGMA journal_mode")[0][0] == "wal"
        for s in stores:
            s.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_concurrent_first_open_by_processes(tmp_path):
    """Six processes start on one new state directory at once (a desk's services after a
    deploy), 30 times over: none refuses the database another is creating. (It did in 15% of
    rounds: a half-made file looked like another application's, or like a crash's -wal.)"""
    for k in range(30):
        db, go = tmp_path / f"state{k}.db", tmp_path / f"go{k}"
        pids = []
        for j in range(6):
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child reports through its file and exit code
                code = 1
                try:
                    while not go.exists():
                        time.sleep(0.0005)
                    with StateStore(db) as store:
                        code = 0 if store.count("meta") == 4 else 3
                except BaseException as exc:
                    (tmp_path / f"err{k}-{j}").write_text(repr(exc))
                finally:
                    os._exit(code)
            pids.append(pid)
        go.touch()
        codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
        errors = [f.read_text() for f in sorted(tmp_path.glob(f"err{k}-*"))]
        assert codes == [0] * 6, f"round {k}: exit codes {codes}; {errors[:1]}"


def test_wal_switch_waits_for_readers_then_says_locked(db):
    """A database left in rollback-journal mode is switched to WAL on open; while another
    connection reads it, the switch waits out the busy timeout, then a StateError says the file
    is locked, and nothing stored is lost. (The immediate "busy" SQLite gives concurrent first
    openers instead, and the retry it needs, are the concurrent-open tests' subject.)"""
    with StateStore(db) as store:
        n_meta = store.count("meta")
    plain = sqlite3.connect(db)
    assert plain.execute("PRAGMA journal_mode=DELETE").fetchone()[0] == "delete"
    plain.execute("BEGIN")
    plain.execute("SELECT count(*) FROM meta").fetchone()  # a reader holds the file
    started = time.monotonic()
    with pytest.raises(StateError, match="locked"):
        StateStore(db, timeout=0.3)
    assert time.monotonic() - started >= 0.3  # it waited rather than failing at once
    plain.rollback()
    plain.close()
    with StateStore(db) as store:  # no reader now: switched, every row still there
        assert store.query("PRAGMA journal_mode")[0][0] == "wal"
        assert store.count("meta") == n_meta


def test_time_encoding():
    aware = pd.Timestamp("2024-03-01 12:00", tz="America/New_York")
    assert as_utc(aware) == pd.Timestamp("2024-03-01 17:00")
    assert as_utc("2024-03-01T09:30") == pd.Timestamp("2024-03-01 09:30")
    ts = pd.Timestamp("2024-03-01 09:30:00.123456")
    assert text_time(time_text(ts)) == ts
    # fixed width: text order is time order
    assert time_text(pd.Timestamp("2024-03-01 09:30")) < time_text(ts)
    with pytest.raises(ValueError, match="exit_time must be a date/time"):
        as_utc("yesterday-ish", "exit_time")
    with pytest.raises(ValueError, match="missing"):
        as_utc(pd.NaT)


def test_vector_blob_round_trip_is_exact():
    x = np.array([0.1, -1e-300, np.pi, np.nan, 1e308])
    back = blob_vector(vector_blob(x))
    assert back.dtype == np.float64 and back.tobytes() == x.tobytes()
    assert vector_blob(None) is None and blob_vector(None) is None
