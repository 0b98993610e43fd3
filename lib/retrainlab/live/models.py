"""Model files of the facade: written with skops (atomic), loaded from inside ``models/`` only,
trusting exactly the types the project writes, never pickle."""

from __future__ import annotations

import io
import json
import os
import re
import stat
import uuid
import zipfile
from pathlib import Path
from typing import Any

from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from retrainlab.engine.config import RetrainConfig
from retrainlab.engine.model import design_columns
from retrainlab.engine.models import ModelClass

#: Identifies a facade model file's payload.
MODEL_FORMAT: str = "retrainlab.facade.model/1"
#: The only file names a model pointer may name (inside the state directory's ``models/``).
MODEL_NAME = re.compile(r"model-(\d{6,})\.skops")
#: Larger files are refused before they are read (a facade model is a few kB).
MAX_MODEL_BYTES: int = 64 * 2**20


def _type_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


#: The steps of the served ``Pipeline`` (``engine.model.make_model``), by name and exact type.
PIPELINE_STEPS: tuple[tuple[str, type], ...] = (
    ("scaler", StandardScaler),
    ("logit", LogisticRegression),
)
#: Every type a facade model file may hold, and the only ones loading trusts: the payload's
#: builtins, numpy arrays and scalars, and the three scikit-learn classes of the pipeline.
TRUSTED_TYPES: tuple[str, ...] = (
    "builtins.dict",
    "builtins.list",
    "builtins.tuple",
    "builtins.str",
    "builtins.int",
    "builtins.float",
    "builtins.bool",
    "builtins.NoneType",
    "numpy.ndarray",
    "numpy.float64",
    "numpy.int64",
    _type_name(Pipeline),
    _type_name(StandardScaler),
    _type_name(LogisticRegression),
)
#: The other model classes' types (``RetrainConfig.model`` "gradient_boosting" or "lstm"): the
#: file holds the model-class object (its settings, its RetrainConfig, numpy arrays; the LSTM's
#: weights as arrays, never Keras objects) and, for boosting, scikit-learn's tree predictors.
MODEL_CLASS_TYPES: tuple[str, ...] = (
    "retrainlab.engine.config.RetrainConfig",
    "retrainlab.engine.models.gradient_boosting.GradientBoostingModel",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.preprocessing._label.LabelEncoder",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss._loss.CyHalfBinomialLoss",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.Interval",
    "numpy.random._generator.Generator",
    "numpy.uint64",
    "retrainlab.engine.models.lstm.LSTMModel",
)


# ============================================================================ model files


def model_name(version: int) -> str:
    """The file name of model ``version`` (``model-000042.skops``)."""
    return f"model-{int(version):06d}.skops"


def model_version(name: str) -> int | None:
    """The version in a model file name, or None if the name is not one."""
    match = MODEL_NAME.fullmatch(name)
    return None if match is None else int(match.group(1))


def save_model_file(path: Path, payload: dict[str, Any]) -> None:
    """``skops.io.dump`` to a temporary file in the same folder, fsync, then rename (atomic).

    The temporary name carries this process's id (``.<name>.<pid>.<random>.tmp``) so that a
    crash's leftovers can be told from a live writer's (``orphan_temporaries``)."""
    # imported here, not at the top: skops.io loads every scikit-learn estimator module it can
    # persist (about a second), which the facade's commands that never touch a model file
    # (stats, record-trade) and every process importing the facade would otherwise pay
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


def temporary_pid(path: Path) -> int | None:
    """The writer's process id in a temporary model file's name, or None if it is not one."""
    match = re.fullmatch(r"\.model-\d{6,}\.skops\.(\d+)\.[0-9a-f]{32}\.tmp", path.name)
    return None if match is None else int(match.group(1))


def confined_path(models_dir: Path, name: Any) -> Path:
    """``models_dir / name`` if ``name`` is a model file name that resolves inside
    ``models_dir``; else ``ValueError`` (the pointer never leaves ``models/``)."""
    if not isinstance(name, str) or model_version(name) is None:
        raise ValueError(
            f"model pointer {name!r} is not a model file name (model-NNNNNN.skops); refused"
        )
    root = models_dir.resolve()
    path = (models_dir / name).resolve()
    if path.parent != root:
        raise ValueError(f"model file {models_dir / name} resolves to {path}, outside {root}")
    return path


def _read_regular(path: Path) -> bytes:
    """The bytes of a regular file of at most ``MAX_MODEL_BYTES`` (a FIFO or device is refused
    without blocking)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"model file {path} is not a regular file; refused")
        if info.st_size > MAX_MODEL_BYTES:
            raise ValueError(
                f"model file {path} has {info.st_size} bytes (limit {MAX_MODEL_BYTES}); refused"
            )
        with os.fdopen(os.dup(fd), "rb") as handle:
            return handle.read(MAX_MODEL_BYTES + 1)
    finally:
        os.close(fd)


def _schema_types(data: bytes, path: Path) -> set[str]:
    """Every type named in a skops file's schema (read as JSON, nothing constructed)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            schema = json.loads(archive.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ValueError(f"model file {path} is not a readable skops file ({exc})") from exc
    found: set[str] = set()
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "__class__" in node:
                found.add(f"{node.get('__module__')}.{node['__class__']}")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def load_model_file(models_dir: Path, name: Any, config: RetrainConfig) -> dict[str, Any]:
    """Load model file ``name`` of ``models_dir``: confined to the folder, a regular file, every
    type in it one of ``TRUSTED_TYPES`` (checked before anything is constructed), a
    ``Pipeline`` of exactly ``PIPELINE_STEPS`` fitted under ``config``. Raises
    ``FileNotFoundError`` if it is missing, ``ValueError`` for anything else."""
    path = confined_path(models_dir, name)
    data = _read_regular(path)
    trusted = TRUSTED_TYPES if config.model == "logistic" else (*TRUSTED_TYPES, *MODEL_CLASS_TYPES)
    unexpected = sorted(_schema_types(data, path) - set(trusted))
    if unexpected:
        raise ValueError(
            f"model file {path} holds types this facade never writes: "
            f"{', '.join(unexpected)}; refusing to load it"
        )
    import skops.io as sio  # here, not at the top: its load cost (see save_model_file)

    try:
        payload = sio.loads(data, trusted=list(trusted))
    except Exception as exc:  # skops raises many kinds for a file that is not its format
        raise ValueError(f"model file {path} is not a readable skops file ({exc})") from exc
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        raise ValueError(f"model file {path} is not a retrainlab facade model")
    try:  # from_dict: a file written before a field existed (e.g. ``model``) has its default
        trained_under = RetrainConfig.from_dict(payload.get("config") or {})
    except (TypeError, ValueError) as exc:
        raise ValueError(f"model file {path} holds an unreadable configuration ({exc})") from exc
    if trained_under != config:
        raise ValueError(f"model file {path} was trained under another configuration")
    model = payload.get("model")
    if config.model != "logistic":
        if (
            not isinstance(model, ModelClass)
            or model.config != config
            or len(model.design_columns()) != len(design_columns(config))
        ):
            raise ValueError(f"model file {path} does not hold the expected {config.model} model")
        return payload
    steps = getattr(model, "steps", None)
    if (
        type(model) is not Pipeline
        or not isinstance(steps, list)
        or [(n, type(s)) for n, s in steps] != list(PIPELINE_STEPS)
        or getattr(model, "n_features_in_", None) != len(design_columns(config))
    ):
        raise ValueError(
            f"model file {path} does not hold the expected Pipeline(StandardScaler, "
            "LogisticRegression)"
        )
    return payload
