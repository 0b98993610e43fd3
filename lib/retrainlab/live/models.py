"""Model files of the facade: written with skops (atomic), loaded trusting exactly the
project's types, never pickle."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from retrainlab.engine.config import RetrainConfig
from retrainlab.engine.model import design_columns

#: Identifies a facade model file's payload.
MODEL_FORMAT: str = "retrainlab.facade.model/1"


def _type_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _trusted_types() -> list[str]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return [
        _type_name(Pipeline),
        _type_name(StandardScaler),
        _type_name(LogisticRegression),
        "numpy.ndarray",
        "numpy.float64",
    ]


#: Every non-builtin type a facade model file may hold; passed to ``skops.io.load(trusted=)``.
TRUSTED_TYPES: tuple[str, ...] = tuple(_trusted_types())


# ============================================================================ model files


def save_model_file(path: Path, payload: dict[str, Any]) -> None:
    """``skops.io.dump`` to a temporary file in the same folder, fsync, then rename (atomic)."""
    import skops.io as sio

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        sio.dump(payload, tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable
        fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def load_model_file(path: Path, config: RetrainConfig) -> dict[str, Any]:
    """Load a facade model file with skops, trusting exactly ``TRUSTED_TYPES``; check it fits
    ``config``. Raises ``ValueError`` for a foreign, corrupt or mismatched file."""
    import skops.io as sio
    from sklearn.pipeline import Pipeline

    try:
        untrusted = sio.get_untrusted_types(file=path)
    except FileNotFoundError:
        raise
    except Exception as exc:  # skops raises many kinds for a file that is not its format
        raise ValueError(f"model file {path} is not a readable skops file ({exc})") from exc
    unexpected = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if unexpected:
        raise ValueError(
            f"model file {path} holds types this facade never writes: "
            f"{', '.join(unexpected)}; refusing to load it"
        )
    payload = sio.load(path, trusted=list(TRUSTED_TYPES))
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        raise ValueError(f"model file {path} is not a retrainlab facade model")
    if payload.get("config") != config.to_dict():
        raise ValueError(f"model file {path} was trained under another configuration")
    model = payload.get("model")
    if not isinstance(model, Pipeline) or model.n_features_in_ != len(design_columns(config)):
        raise ValueError(f"model file {path} does not hold the expected Pipeline")
    return payload
