"""The tables of a state database (``SCHEMA_VERSION``) and the migration from version 1."""

from __future__ import annotations

#: Version of the schema below; a database with a higher version is refused, version 1 migrated.
SCHEMA_VERSION: int = 2

SCHEMA = """
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
"""

RETRAINS = """
CREATE TABLE retrains (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    status      TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed', 'interrupted')),
    promoted    INTEGER NOT NULL DEFAULT 0,
    reason      TEXT,
    n_samples   INTEGER,
    n_feedback  INTEGER,
    model_file  TEXT,
    report      TEXT,
    host        TEXT,
    pid         INTEGER
)
"""
SCHEMA += RETRAINS

# version 1 -> 2: retrains gain promoted/host/pid and the status 'interrupted'
MIGRATE_1 = (
    "ALTER TABLE retrains RENAME TO retrains_v1",
    RETRAINS,
    "INSERT INTO retrains (id, started_at, finished_at, status, promoted, reason, n_samples, "
    "n_feedback, model_file, report) SELECT id, started_at, finished_at, status, "
    "status = 'ok', reason, n_samples, n_feedback, model_file, report FROM retrains_v1",
    "DROP TABLE retrains_v1",
)

#: Every table of a state database.
TABLES = ("meta", "predictions", "trades", "prices", "retrains")
