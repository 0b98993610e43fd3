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
prices        the latest price history seen per symbol (Parquet bytes), for retraining
retrains      every retrain: status (``running`` / ``ok`` / ``failed``), why, and its report
============  ===============================================================================

Safety rules, and why:

* **Refuse, never overwrite.** The file is identified by SQLite's ``application_id`` header
  field (``APPLICATION_ID``) and the ``meta`` table. A file that is not SQLite, an SQLite file of
  another application, a corrupt file or one written by a newer schema raises
  ``NotAStateDatabase`` ("not a retrainlab state database: ..."); the file is only read (through
  a read-only connection) before that decision. Only a missing or empty file is initialised.
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
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: SQLite ``PRAGMA application_id`` of a retrainlab state database ("RTLB" in ASCII).
APPLICATION_ID: int = 0x52544C42
#: Name stored in ``meta.application``.
APPLICATION: str = "retrainlab"
#: Version of the schema below; a database with a higher version is refused.
SCHEMA_VERSION: int = 1
#: File name of the database inside a state directory.
DATABASE_NAME: str = "state.db"

_SQLITE_HEADER = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE predictions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at      TEXT NOT NULL,
    symbol          TEXT NOT NULL,
    bar_time        TEXT,
    n_bars          INTEGER NOT NULL,
    signal          TEXT NOT NULL CHECK (signal IN ('long', 'short', 'neutral')),
    probability     REAL NOT NULL CHECK (probability BETWEEN 0 AND 1),
    confidence      REAL NOT NULL,
    size            REAL NOT NULL,
    regime          INTEGER NOT NULL,
    features        BLOB,
    source          TEXT NOT NULL CHECK (source IN ('model', 'fallback')),
    reason          TEXT,
    model_version   INTEGER,
    long_threshold  REAL NOT NULL,
    short_threshold REAL NOT NULL
);
CREATE INDEX predictions_by_symbol ON predictions (symbol, id);
CREATE INDEX predictions_by_source ON predictions (source, id);
CREATE TABLE trades (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    recorded_at   TEXT NOT NULL,
    symbol        TEXT NOT NULL,
    direction     TEXT NOT NULL CHECK (direction IN ('long', 'short')),
    entry_price   REAL NOT NULL CHECK (entry_price > 0),
    exit_price    REAL NOT NULL CHECK (exit_price > 0),
    size          REAL NOT NULL CHECK (size > 0),
    entry_time    TEXT NOT NULL,
    exit_time     TEXT NOT NULL,
    features      BLOB,
    regime        INTEGER NOT NULL,
    probability   REAL,
    confidence    REAL,
    prediction_id INTEGER REFERENCES predictions (id),
    pnl_pct       REAL NOT NULL
);
CREATE TABLE prices (
    symbol     TEXT PRIMARY KEY,
    updated_at TEXT NOT NULL,
    n_rows     INTEGER NOT NULL,
    first_time TEXT,
    last_time  TEXT,
    digest     TEXT NOT NULL,
    data       BLOB NOT NULL
);
CREATE TABLE retrains (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    status      TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed')),
    reason      TEXT,
    n_samples   INTEGER,
    n_feedback  INTEGER,
    model_file  TEXT,
    report      TEXT
);
"""

_TABLES = ("meta", "predictions", "trades", "prices", "retrains")


class NotAStateDatabase(ValueError):
    """The file is not a retrainlab state database (or not one this version can read)."""


# --------------------------------------------------------------------------- encodings


def utc_now() -> pd.Timestamp:
    """The current time in UTC, as a tz-naive Timestamp (how every time is stored)."""
    return pd.Timestamp.now(tz="UTC").tz_localize(None)


def as_utc(value: Any, what: str = "time") -> pd.Timestamp:
    """``value`` (datetime, Timestamp, numpy datetime64 or ISO string) as a tz-naive UTC Timestamp.

    Aware times are converted to UTC; naive ones are taken to be UTC already.
    """
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{what} must be a date/time (datetime, Timestamp or ISO string), got {value!r}"
        ) from exc
    if ts is pd.NaT:
        raise ValueError(f"{what} is missing (NaT)")
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts


def time_text(ts: pd.Timestamp | None) -> str | None:
    """Fixed-width ISO text (microseconds), so that text order is time order in SQL."""
    return None if ts is None else ts.strftime("%Y-%m-%dT%H:%M:%S.%f")


def text_time(text: str | None) -> pd.Timestamp | None:
    """Inverse of ``time_text``."""
    return None if text is None else pd.Timestamp(text)


def vector_blob(values: np.ndarray | None) -> bytes | None:
    """A float64 vector as little-endian bytes (exact round trip), or None."""
    if values is None:
        return None
    return np.ascontiguousarray(values, dtype="<f8").tobytes()


def blob_vector(blob: bytes | None) -> np.ndarray | None:
    """Inverse of ``vector_blob`` (a writable float64 copy)."""
    if blob is None:
        return None
    return np.frombuffer(blob, dtype="<f8").astype(np.float64)


def real(value: float | None) -> float:
    """SQLite NULL (how it stores NaN) back to NaN."""
    return float("nan") if value is None else float(value)


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
        if self._needs_init():
            self._initialise(config or {})

    # ------------------------------------------------------------------ opening
    def _refuse(self, why: str) -> NotAStateDatabase:
        return NotAStateDatabase(
            f"not a retrainlab state database: {self.path} {why}. "
            "Refusing to use or overwrite it; pick another state directory."
        )

    def _needs_init(self) -> bool:
        """Check an existing file read-only; True if it is missing/empty (to be created)."""
        if self.path.is_dir():
            raise self._refuse("is a directory")
        if not self.path.exists() or self.path.stat().st_size == 0:
            return True
        with open(self.path, "rb") as handle:
            header = handle.read(len(_SQLITE_HEADER))
        if header != _SQLITE_HEADER:
            raise self._refuse("is not an SQLite file")
        uri = f"{self.path.resolve().as_uri()}?mode=ro"
        try:
            con = sqlite3.connect(uri, uri=True, timeout=self.timeout)
        except sqlite3.Error as exc:
            raise self._refuse(f"cannot be opened ({exc})") from exc
        try:
            return self._check(con)
        except sqlite3.DatabaseError as exc:
            raise self._refuse(f"is unreadable or corrupt ({exc})") from exc
        finally:
            con.close()

    def _check(self, con: sqlite3.Connection) -> bool:
        """Validate identity and schema; True if the database is still empty."""
        app_id = con.execute("PRAGMA application_id").fetchone()[0]
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if app_id == 0 and not tables:
            return True
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
        missing = [t for t in _TABLES if t not in tables]
        if missing:
            raise self._refuse(f"lacks the tables {', '.join(missing)}")
        return False

    def _initialise(self, config: dict[str, Any]) -> None:
        con = self._connection()
        mode = con.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":  # e.g. a file system without shared memory
            raise OSError(f"{self.path}: SQLite could not switch to WAL mode (got {mode!r})")
        with self.transaction() as tx:
            # another process may have created it meanwhile: check again under the write lock
            if not self._check(tx):
                return
            for statement in _SCHEMA.split(";"):  # not executescript: it would COMMIT first
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

    # ------------------------------------------------------------------ connections
    def _connection(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use; reopened in a forked child)."""
        if self._closed:
            raise RuntimeError(f"state store {self.path} is closed")
        if os.getpid() != self._pid:  # forked: never share the parent's connections
            self._pid = os.getpid()
            self._local = threading.local()
            with self._registry_lock:
                self._connections = []
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
        """A write transaction (``BEGIN IMMEDIATE``): committed on success, rolled back on error."""
        con = self._connection()
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    def query(self, sql: str, params: tuple | list = ()) -> list[sqlite3.Row]:
        """Run a read query on this thread's connection and return every row."""
        return self._connection().execute(sql, params).fetchall()

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
        if table not in _TABLES:
            raise ValueError(f"unknown table {table!r}; tables: {', '.join(_TABLES)}")
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
        """Log a retrain as running; its id is the version of the model it will write."""
        with self.transaction() as tx:
            cursor = tx.execute(
                "INSERT INTO retrains (started_at, status) VALUES (?, 'running')",
                (time_text(utc_now()),),
            )
            return int(cursor.lastrowid)

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
    ) -> None:
        """Close a retrain row; if ``ok``, point ``meta.model_version`` at its model, atomically."""
        with self.transaction() as tx:
            tx.execute(
                "UPDATE retrains SET finished_at = ?, status = ?, reason = ?, "
                "n_samples = ?, n_feedback = ?, model_file = ?, report = ? WHERE id = ?",
                (
                    time_text(utc_now()),
                    "ok" if ok else "failed",
                    reason,
                    int(n_samples),
                    int(n_feedback),
                    model_file,
                    json.dumps(report, sort_keys=True),
                    int(retrain_id),
                ),
            )
            if ok:
                self.set_meta(tx, "model_version", str(int(retrain_id)))
                self.set_meta(tx, "model_file", str(model_file))

    def retrains(self) -> list[sqlite3.Row]:
        """Every retrain, oldest first."""
        return self.query("SELECT * FROM retrains ORDER BY id")
