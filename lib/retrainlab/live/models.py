"""Model files of the facade: written with skops (atomic), loaded trusting exactly the
project's types, never pickle."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from retrainlab.engine.config import RetrainConfig
from retrainlab.engine.model import design_columns
from retrainlab.engine.models import ModelClass

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


# ---- the model classes' types (engine.models; owned by the models engineer). Kept apart from the
# logistic Pipeline's above: a model file of RetrainConfig.model = "gradient_boosting" or "lstm"
# holds the model class object (settings, its RetrainConfig, numpy arrays; the LSTM's weights as
# arrays, never Keras objects) and, for boosting, scikit-learn's tree predictors.
MODEL_CLASS_TYPES: tuple[str, ...] = (
    "retrainlab.engine.config.RetrainConfig",
    "retrainlab.engine.models.gradient_boosting.GradientBoostingModel",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "retrainlab.engine.models.lstm.LSTMModel",
)

#: Every non-builtin type a facade model file may hold; passed to ``skops.io.load(trusted=)``.
TRUSTED_TYPES: tuple[str, ...] = (*_trusted_types(), *MODEL_CLASS_TYPES)


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
    try:  # from_dict: a file written before a field existed (e.g. model) has its default
        trained_under = RetrainConfig.from_dict(payload.get("config") or {})
    except (TypeError, ValueError) as exc:
        raise ValueError(f"model file {path} holds an unreadable configuration ({exc})") from exc
    if trained_under != config:
        raise ValueError(f"model file {path} was trained under another configuration")
    model = payload.get("model")
    n_columns = len(design_columns(config))
    if isinstance(model, ModelClass):  # RetrainConfig.model other than "logistic"
        if model.config != config or len(model.design_columns()) != n_columns:
            raise ValueError(f"model file {path} does not hold the expected {config.model} model")
    elif not isinstance(model, Pipeline) or model.n_features_in_ != n_columns:
        raise ValueError(f"model file {path} does not hold the expected Pipeline")
    return payload
