"""The facade's state database: one SQLite file (WAL mode) per state directory.

``StateStore`` holds everything the production facade (``retrainlab.integration``) must not lose:

============  ===============================================================================
table         rows
============  ===============================================================================
meta          ``application``, ``schema_version``, ``created_at``, ``config`` (JSON), and the
              pointer to the served model: ``model_version``, ``model_file``
predictions   every signal served: symbol, time, signal, probability, confidence, regime, the
              base feature vector (float64 bytes), source (``model`` / ``fallback``) and why
trades        closed trades: prices, size, times, and the features / regime / probability /
              confidence of the prediction that opened them (``prediction_id``)
prices        the latest price history seen per symbol (its last bars only), for retraining
retrains      every retrain: status (``running`` / ``ok`` / ``failed`` / ``interrupted``), whether
              its model was promoted, why, its report, and the process (host, pid) running it
============  ===============================================================================

Safety rules, and why:

* **Refuse, never overwrite.** The file is identified by SQLite's ``application_id`` header
  field (``APPLICATION_ID``) and the ``meta`` table. A file that is not SQLite, an SQLite file of
  another application, a corrupt file or one written by a newer schema raises ``NotAStateDatabase``
  ("not a retrainlab state database: ..."); the file is only read (through a read-only connection,
  in one snapshot) before that decision. Only a missing or empty file is initialised (in one
  transaction, before the switch to WAL, so a concurrent opener never sees a half-made file), and an
  empty file beside a non-empty write-ahead log (``state.db-wal``: a crash's committed rows) is
  refused, never initialised. A version-1 database is migrated in one transaction.
* **One error type.** Every SQLite failure leaves as ``StateError`` (``NotAStateDatabase`` is
  one) with a message that says what to do: read-only, locked, corrupt or full.
* **A pointer that only moves forward.** ``promote`` is a compare-and-set: the served version
  changes only to a higher one, in the transaction that closes its retrain.
* **Concurrency.** One connection per thread (and per process: a forked child opens its own);
  every write is one ``BEGIN IMMEDIATE`` transaction, so writers queue on SQLite's lock (busy
  timeout ``timeout`` seconds) instead of failing, and readers never block writers (WAL).
  Row ids are assigned in commit order, so "every row with id > n" is a consistent cursor.
* **Durability.** ``synchronous=NORMAL``: a committed row survives a crash of the process; an
  operating-system crash or power cut may lose the last commits but never corrupts the file.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from retrainlab.live.encoding import time_text, utc_now
from retrainlab.live.errors import NotAStateDatabase, StateError, pid_alive, state_error
from retrainlab.live.schema import MIGRATE_1, SCHEMA, SCHEMA_VERSION, TABLES

#: SQLite ``PRAGMA application_id`` of a retrainlab state database ("RTLB" in ASCII).
APPLICATION_ID: int = 0x52544C42
#: Name stored in ``meta.application``.
APPLICATION: str = "retrainlab"
#: File name of the database inside a state directory.
DATABASE_NAME: str = "state.db"

_SQLITE_HEADER = b"SQLite format 3\x00"


__all__ = ["DATABASE_NAME", "SCHEMA_VERSION", "NotAStateDatabase", "StateError", "StateStore"]
#: This machine's name, stored with a running retrain (its pid is only meaningful here).
HOST: str = socket.gethostname()


# --------------------------------------------------------------------------- the store


class StateStore:
    """The state database of one state directory.

    Parameters
    ----------
    path : the database file (created with its parent directories if missing).
    config : JSON-safe dict stored in ``meta.config`` when the database is created (the
        configuration the state directory is bound to).
    timeout : seconds a writer waits for another writer (thread or process) before failing.

    Raises
    ------
    NotAStateDatabase
        If ``path`` exists and is not a retrainlab state database this version can use.
    StateError
        If SQLite fails (read-only, locked, corrupt, disk full); the message says what to do.
    """

    def __init__(
        self, path: str | Path, *, config: dict[str, Any] | None = None, timeout: float = 60.0
    ) -> None:
        self.path = Path(path)
        self.timeout = float(timeout)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._registry_lock = threading.Lock()
        self._pid = os.getpid()
        self._closed = False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            state = self._inspect()
            if state == "empty":
                self._initialise(config or {})
            elif state == "old":
                self._migrate()
            self._use_wal()
        except sqlite3.Error as exc:
            self.close()
            raise state_error(exc, self.path, self.timeout) from exc
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ opening
    def _refuse(self, why: str) -> NotAStateDatabase:
        return NotAStateDatabase(
            f"not a retrainlab state database: {self.path} {why}. "
            "Refusing to use or overwrite it; pick another state directory."
        )

    def _inspect(self) -> str:
        """Check an existing file read-only: "empty" (to create), "old" (to migrate) or "ok"."""
        if self.path.is_dir():
            raise self._refuse("is a directory")
        wal = self.path.with_name(self.path.name + "-wal")
        if not self.path.exists() or self.path.stat().st_size == 0:
            if wal.exists() and wal.stat().st_size > 0:
                raise StateError(
                    f"state database {self.path} is empty but its write-ahead log {wal} holds "
                    f"{wal.stat().st_size} bytes: the rows a crash left there would be lost if "
                    "the database were created anew. Restore the database file that belongs "
                    "to this -wal (or move both away to start a new state); nothing was changed"
                )
            return "empty"
        with open(self.path, "rb") as handle:
            header = handle.read(len(_SQLITE_HEADER))
        if header != _SQLITE_HEADER:
            raise self._refuse("is not an SQLite file")
        if not os.access(self.path.parent, os.W_OK | os.X_OK):
            raise StateError(
                f"state directory {self.path.parent} is read-only: SQLite needs to write "
                f"{self.path.name}-wal and -shm beside the database; give this process write "
                "access to the directory, or use another state directory"
            )
        uri = f"{self.path.resolve().as_uri()}?mode=ro"
        try:
            con = sqlite3.connect(uri, uri=True, timeout=self.timeout)
        except sqlite3.Error as exc:
            raise state_error(exc, self.path, self.timeout) from exc
        try:
            # one read transaction: the identity and the tables must come from one snapshot, or
            # a store created between two reads looks like another application's file
            con.execute("BEGIN")
            return self._check(con)
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "CORRUPT" not in str(
                getattr(exc, "sqlite_errorname", "")
            ):
                raise state_error(exc, self.path, self.timeout) from exc
            raise self._refuse(f"is unreadable or corrupt ({exc})") from exc
        finally:
            con.close()

    def _check(self, con: sqlite3.Connection) -> str:
        """Validate identity and schema: "empty", "old" (version 1) or "ok"."""
        app_id = con.execute("PRAGMA application_id").fetchone()[0]
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if app_id == 0 and not tables:
            return "empty"
        if app_id != APPLICATION_ID:
            listed = ", ".join(sorted(tables)) or "none"
            raise self._refuse(
                f"is an SQLite database of another application "
                f"(application_id={app_id:#x}, tables: {listed})"
            )
        meta = (
            dict(con.execute("SELECT key, value FROM meta").fetchall()) if "meta" in tables else {}
        )
        if meta.get("application") != APPLICATION:
            raise self._refuse("carries retrainlab's application id but no valid meta table")
        version = int(meta.get("schema_version", "0"))
        if version > SCHEMA_VERSION:
            raise self._refuse(
                f"has schema version {version}, newer than this retrainlab "
                f"({SCHEMA_VERSION}); upgrade retrainlab"
            )
        missing = [t for t in TABLES if t not in tables]
        if missing:
            raise self._refuse(f"lacks the tables {', '.join(missing)}")
        return "old" if version < SCHEMA_VERSION else "ok"

    def _use_wal(self) -> None:
        # after creation, not before: a new file switched to WAL first stays empty while its
        # schema sits in the write-ahead log, and a second opener would take that for a crash
        con = self._connection()
        if con.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
            return
        # the switch needs the file to itself, and SQLite answers "busy" at once rather than
        # wait while concurrent openers read it: retry until the busy timeout
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                mode = con.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                break
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        if str(mode).lower() != "wal":  # e.g. a file system without shared memory
            raise StateError(f"{self.path}: SQLite could not switch to WAL mode (got {mode!r})")

    def _initialise(self, config: dict[str, Any]) -> None:
        """Create the schema in one rollback-journal transaction, so the file is complete the
        moment another opener can read it."""
        with self.transaction() as tx:
            # another process may have created it meanwhile: check again under the write lock
            if self._check(tx) != "empty":
                return
            for statement in SCHEMA.split(";"):  # not executescript: it would COMMIT first
                if statement.strip():
                    tx.execute(statement)
            tx.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            tx.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            rows = {
                "application": APPLICATION,
                "schema_version": str(SCHEMA_VERSION),
                "created_at": time_text(utc_now()),
                "config": json.dumps(config, sort_keys=True),
            }
            tx.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", rows.items())

    def _migrate(self) -> None:
        """Schema 1 -> 2 in one transaction (another process may have done it meanwhile)."""
        with self.transaction() as tx:
            if self._check(tx) != "old":
                return
            for statement in MIGRATE_1:
                tx.execute(statement)
            tx.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self.set_meta(tx, "schema_version", str(SCHEMA_VERSION))

    # ------------------------------------------------------------------ connections
    def after_fork(self) -> None:
        """In a forked child: forget the parent's connections and locks (never use them)."""
        self._registry_lock = threading.Lock()
        self._local = threading.local()
        self._connections = []
        self._pid = os.getpid()

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use; reopened in a forked child)."""
        if self._closed:
            raise StateError(f"state store {self.path} is closed; open the state directory again")
        if os.getpid() != self._pid:  # forked: never share the parent's connections
            self.after_fork()
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(
                self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
            )
            con.row_factory = sqlite3.Row
            con.execute("PRAGMA synchronous=NORMAL")
            con.execute("PRAGMA foreign_keys=ON")
            self._local.con = con
            with self._registry_lock:
                self._connections.append(con)
        return con

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``): committed on success, rolled back on error.
        SQLite failures leave as ``StateError``."""
        try:
            con = self._connection()
            con.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise state_error(exc, self.path, self.timeout) from exc
        try:
            yield con
        except BaseException as exc:
            try:
                con.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # the failure below says what went wrong; nothing was committed
            if isinstance(exc, sqlite3.Error):
                raise state_error(exc, self.path, self.timeout) from exc
            raise
        try:
            con.execute("COMMIT")
        except sqlite3.Error as exc:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise state_error(exc, self.path, self.timeout) from exc

    def query(self, sql: str, params: tuple | list = ()) -> list[sqlite3.Row]:
        """Run a read query on this thread's connection and return every row."""
        try:
            return self._connection().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise state_error(exc, self.path, self.timeout) from exc

    def close(self) -> None:
        """Close every connection this store opened (in this process)."""
        with self._registry_lock:
            connections, self._connections = self._connections, []
        if os.getpid() == self._pid:
            for con in connections:
                con.close()
        self._local = threading.local()
        self._closed = True

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ meta
    def meta(self) -> dict[str, str]:
        """Every ``meta`` key and value."""
        return {r["key"]: r["value"] for r in self.query("SELECT key, value FROM meta")}

    def get_meta(self, key: str) -> str | None:
        rows = self.query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0]["value"] if rows else None

    @staticmethod
    def set_meta(tx: sqlite3.Connection, key: str, value: str) -> None:
        """Set ``key`` inside the open transaction ``tx``."""
        tx.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` ("ok" when the file is sound)."""
        return str(self.query("PRAGMA integrity_check")[0][0])

    def count(self, table: str) -> int:
        """Number of rows of one of the tables."""
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}; tables: {', '.join(TABLES)}")
        return int(self.query(f"SELECT COUNT(*) FROM {table}")[0][0])

    # ------------------------------------------------------------------ predictions
    @staticmethod
    def insert_prediction(tx: sqlite3.Connection, row: dict[str, Any]) -> int:
        """Insert a prediction (keys = column names, without ``id``); returns its id."""
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        cursor = tx.execute(
            f"INSERT INTO predictions ({columns}) VALUES ({marks})", tuple(row.values())
        )
        return int(cursor.lastrowid)

    def latest_prediction(self, symbol: str, at_or_before: str | None = None) -> sqlite3.Row | None:
        """The last prediction logged for ``symbol`` (created at or before a time, if given)."""
        if at_or_before is None:
            rows = self.query(
                "SELECT * FROM predictions WHERE symbol = ? ORDER BY id DESC LIMIT 1", (symbol,)
            )
        else:
            rows = self.query(
                "SELECT * FROM predictions WHERE symbol = ? AND created_at <= ? "
                "ORDER BY id DESC LIMIT 1",
                (symbol, at_or_before),
            )
        return rows[0] if rows else None

    def model_probabilities_after(self, after_id: int, limit: int) -> tuple[np.ndarray, int]:
        """The last ``limit`` model (not fallback) probabilities with id > ``after_id``, oldest
        first, and the largest id read (``after_id`` if none)."""
        rows = self.query(
            "SELECT id, probability FROM predictions WHERE id > ? AND "
            "source = 'model' ORDER BY id DESC LIMIT ?",
            (after_id, int(limit)),
        )
        if not rows:
            return np.empty(0), after_id
        probs = np.array([r["probability"] for r in reversed(rows)], dtype=np.float64)
        return probs, int(rows[0]["id"])

    def last_prediction_id(self) -> int:
        return int(self.query("SELECT COALESCE(MAX(id), 0) FROM predictions")[0][0])

    def recent_predictions(self, n: int) -> list[sqlite3.Row]:
        """The last ``n`` predictions, newest first."""
        return self.query("SELECT * FROM predictions ORDER BY id DESC LIMIT ?", (int(n),))

    # ------------------------------------------------------------------ trades
    def insert_trade(self, row: dict[str, Any]) -> int:
        """Insert one closed trade in its own transaction; returns its id."""
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self.transaction() as tx:
            cursor = tx.execute(
                f"INSERT INTO trades ({columns}) VALUES ({marks})", tuple(row.values())
            )
            return int(cursor.lastrowid)

    def trades(self) -> list[sqlite3.Row]:
        """Every trade, in id (recording) order."""
        return self.query("SELECT * FROM trades ORDER BY id")

    # ------------------------------------------------------------------ prices
    def price_digest(self, symbol: str) -> str | None:
        rows = self.query("SELECT digest FROM prices WHERE symbol = ?", (symbol,))
        return rows[0]["digest"] if rows else None

    @staticmethod
    def upsert_prices(tx: sqlite3.Connection, row: dict[str, Any]) -> None:
        """Replace the stored history of ``row["symbol"]`` inside transaction ``tx``."""
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        updates = ", ".join(f"{c} = excluded.{c}" for c in row if c != "symbol")
        tx.execute(
            f"INSERT INTO prices ({columns}) VALUES ({marks}) "
            f"ON CONFLICT (symbol) DO UPDATE SET {updates}",
            tuple(row.values()),
        )

    def prices(self) -> list[sqlite3.Row]:
        """Every stored history, by symbol."""
        return self.query("SELECT * FROM prices ORDER BY symbol")

    # ------------------------------------------------------------------ retrains
    def start_retrain(self) -> int:
        """Log a retrain as running (with this host and pid); its id is the version of the
        model it will write."""
        with self.transaction() as tx:
            cursor = tx.execute(
                "INSERT INTO retrains (started_at, status, host, pid) VALUES (?, 'running', ?, ?)",
                (time_text(utc_now()), HOST, os.getpid()),
            )
            return int(cursor.lastrowid)

    def mark_interrupted(self) -> list[int]:
        """Mark retrains left ``running`` by a process of this host that no longer exists as
        ``interrupted``; returns their ids."""
        with self.transaction() as tx:
            rows = tx.execute(
                "SELECT id, pid FROM retrains WHERE status = 'running' AND host = ?", (HOST,)
            ).fetchall()
            dead = [int(r["id"]) for r in rows if r["pid"] is None or not pid_alive(r["pid"])]
            for retrain_id in dead:
                tx.execute(
                    "UPDATE retrains SET status = 'interrupted', finished_at = ?, reason = ? "
                    "WHERE id = ?",
                    (
                        time_text(utc_now()),
                        "interrupted: the process running it ended before it finished",
                        retrain_id,
                    ),
                )
        return dead

    def finish_retrain(
        self,
        retrain_id: int,
        *,
        ok: bool,
        reason: str | None,
        n_samples: int,
        n_feedback: int,
        report: dict[str, Any],
        model_file: str | None = None,
    ) -> bool:
        """Close a retrain row; with ``model_file``, promote its model (compare-and-set: only if
        ``retrain_id`` is above the served version), in the same transaction. Returns True if
        the model is now served."""
        with self.transaction() as tx:
            promoted = model_file is not None and self._promote(tx, retrain_id, model_file)
            tx.execute(
                "UPDATE retrains SET finished_at = ?, status = ?, promoted = ?, reason = ?, "
                "n_samples = ?, n_feedback = ?, model_file = ?, report = ? WHERE id = ?",
                (
                    time_text(utc_now()),
                    "ok" if ok else "failed",
                    int(promoted),
                    reason,
                    int(n_samples),
                    int(n_feedback),
                    model_file if promoted else None,
                    json.dumps(report, sort_keys=True),
                    int(retrain_id),
                ),
            )
        return promoted

    def _promote(self, tx: sqlite3.Connection, version: int, model_file: str) -> bool:
        row = tx.execute("SELECT value FROM meta WHERE key = 'model_version'").fetchone()
        if row is not None and int(row["value"]) >= int(version):
            return False  # a newer model was promoted meanwhile: the pointer never goes back
        self.set_meta(tx, "model_version", str(int(version)))
        self.set_meta(tx, "model_file", str(model_file))
        return True

    def served_version(self) -> int | None:
        value = self.get_meta("model_version")
        return None if value is None else int(value)

    def promoted_models(self) -> list[sqlite3.Row]:
        """Retrains whose model was promoted (id = version, model_file), newest first."""
        return self.query("SELECT id, model_file FROM retrains WHERE promoted = 1 ORDER BY id DESC")

    def retrains(self) -> list[sqlite3.Row]:
        """Every retrain, oldest first."""
        return self.query("SELECT * FROM retrains ORDER BY id")
