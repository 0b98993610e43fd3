"""Which model the facade serves, and which model files it keeps.

* **Serving.** The database's pointer (``meta.model_version`` / ``model_file``) names the served
  model. If that file is missing or does not load, the facade serves the newest promoted model
  that still loads, else the fallback rule, and says so (``Served.note``, in ``stats`` and in
  the prediction log); the state directory always opens.
* **Pruning.** After a promotion, model files are deleted except: the served model, the one
  promoted before it, any newer file (a retrain in flight) and the ``KEEP_MODELS`` newest.
* **Crash leftovers.** Temporary model files whose writing process no longer exists are removed
  when a state directory is opened.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrainlab.engine.config import RetrainConfig
from retrainlab.live.errors import pid_alive
from retrainlab.live.models import load_model_file, model_version, temporary_pid
from retrainlab.live.store import StateStore

#: Model files kept besides the served one and the one before it.
KEEP_MODELS: int = 3


@dataclass(frozen=True)
class Served:
    """The model a state directory serves: ``payload`` (None: the fallback), the pointer's
    version, and a note when it is not the pointer's model."""

    payload: dict[str, Any] | None
    pointer: int | None
    note: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> int | None:
        return None if self.payload is None else int(self.payload["version"])


def _load(models_dir: Path, name: Any, version: int, config: RetrainConfig) -> dict[str, Any]:
    payload = load_model_file(models_dir, name, config)
    if payload.get("version") != version:
        raise ValueError(f"model file {name} holds version {payload.get('version')}, not {version}")
    return payload


def choose_served(store: StateStore, models_dir: Path, config: RetrainConfig) -> Served:
    """The pointer's model if it loads; else the newest promoted model that loads; else none."""
    pointer = store.served_version()
    if pointer is None:
        return Served(None, None)
    try:
        return Served(_load(models_dir, store.get_meta("model_file"), pointer, config), pointer)
    except (OSError, ValueError) as exc:
        problem = f"served model version {pointer} cannot be loaded ({exc})"
    for row in store.promoted_models():
        if row["id"] >= pointer:
            continue
        try:
            payload = _load(models_dir, row["model_file"], int(row["id"]), config)
        except (OSError, ValueError):
            continue
        return Served(payload, pointer, f"{problem}; serving kept model version {row['id']}")
    return Served(None, pointer, f"{problem}; no kept model loads: serving the fallback rule")


def prune(models_dir: Path, store: StateStore, keep: int = KEEP_MODELS) -> list[Path]:
    """Delete old model files (see the module docstring); returns the deleted paths."""
    served = store.served_version()
    if served is None:
        return []
    previous = [int(r["id"]) for r in store.promoted_models() if int(r["id"]) < served][:1]
    files = sorted(
        (v, p) for p in models_dir.glob("model-*.skops") if (v := model_version(p.name)) is not None
    )
    newest = {v for v, _ in files[-keep:]} if keep > 0 else set()
    protected = {served, *previous, *newest}
    deleted = []
    for version, path in files:
        if version in protected or version > served:
            continue
        try:
            path.unlink()
            deleted.append(path)
        except FileNotFoundError:
            pass  # another process pruned it already
        except OSError as exc:
            warnings.warn(f"could not delete old model file {path}: {exc}", stacklevel=2)
    return deleted


def remove_orphans(models_dir: Path) -> list[Path]:
    """Delete temporary model files left by processes that no longer run; returns them."""
    removed = []
    for path in models_dir.glob(".model-*.tmp"):
        pid = temporary_pid(path)
        if pid is None or pid_alive(pid):
            continue
        try:
            path.unlink()
            removed.append(path)
        except OSError:
            pass  # gone already, or not ours to delete: it is never read
    return removed
