"""The one error type of the facade's state (``StateError``) and how SQLite failures map to it."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path


class StateError(RuntimeError):
    """The state directory cannot be used as it is (read-only, locked, corrupt, foreign, full,
    missing). The message says which and what to do; nothing stored was changed."""


class NotAStateDatabase(StateError, ValueError):
    """The file is not a retrainlab state database (or not one this version can read)."""


def state_error(exc: sqlite3.Error, path: Path, timeout: float) -> StateError:
    """An SQLite failure on ``path`` as a ``StateError`` whose message says what to do."""
    name = str(getattr(exc, "sqlite_errorname", "")).upper()
    text = f"{exc} ({name})" if name else str(exc)
    lowered = f"{text}".lower()
    if "READONLY" in name or "readonly" in lowered:
        return StateError(
            f"state database {path} is read-only ({text}): give this process write access to "
            "it, to its -wal and -shm files and to its directory, or use another state directory"
        )
    if "BUSY" in name or "LOCKED" in name or "locked" in lowered:
        return StateError(
            f"state database {path} is locked ({text}): another process held its write lock "
            f"for more than {timeout:g} s; retry, or stop the process that holds it"
        )
    if "CORRUPT" in name or "NOTADB" in name or "malformed" in lowered:
        return StateError(
            f"state database {path} is corrupt ({text}): restore it from a backup, or move it "
            "(with its -wal file) away to start a new state directory"
        )
    if "FULL" in name:
        return StateError(f"state database {path}: the disk is full ({text}); free space")
    if "CANTOPEN" in name or "unable to open" in lowered:
        return StateError(
            f"state database {path} cannot be opened ({text}): check that its directory "
            "exists and that this process may read and write there"
        )
    if isinstance(exc, sqlite3.IntegrityError):
        return StateError(
            f"state database {path} refused a row ({text}); nothing was stored. This is a bug "
            "in retrainlab's validation: please report it"
        )
    return StateError(f"state database {path} failed ({text}); nothing was stored")


def pid_alive(pid: int) -> bool:
    """True if a process with this id runs on this machine (or may: no permission to ask)."""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
