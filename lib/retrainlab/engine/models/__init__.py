"""The engine's model classes behind one interface (``base.ModelClass``).

================== ================================================ ============================
name               model                                            needs
================== ================================================ ============================
logistic           Pipeline(StandardScaler, LogisticRegression)     (default; today's model)
gradient_boosting  HistGradientBoostingClassifier, no early stop    scikit-learn
lstm               the seed's two-headed LSTM, Keras 3 on JAX (CPU) the ``[lstm]`` extra
================== ================================================ ============================

``model_class(name)`` returns the class (unknown names get "did you mean"; ``"lstm"`` without
Keras says what to install); ``make_model(name, config, seed)`` an unfitted instance for a
``RetrainConfig``. How each fix reaches each class: ``docs/models.md``.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING

from retrainlab.common.names import check_name
from retrainlab.engine.models.base import INSTALL_HINT, ModelClass, confidence_target

if TYPE_CHECKING:
    from retrainlab.engine.config import RetrainConfig

__all__ = [
    "INSTALL_HINT",
    "MODEL_CLASSES",
    "ModelClass",
    "confidence_target",
    "lstm_available",
    "make_model",
    "model_class",
]

#: The model classes, by name; the first is the default.
MODEL_CLASSES: tuple[str, ...] = ("logistic", "gradient_boosting", "lstm")

# name -> (module, class). The LSTM's module imports Keras and JAX (an optional extra, ~2 s),
# so each module is imported when its class is first asked for, like retrainlab's own names.
_HOMES: dict[str, tuple[str, str]] = {
    "logistic": ("retrainlab.engine.models.logistic", "LogisticModel"),
    "gradient_boosting": ("retrainlab.engine.models.gradient_boosting", "GradientBoostingModel"),
    "lstm": ("retrainlab.engine.models.lstm", "LSTMModel"),
}


def model_class(name: str) -> type[ModelClass]:
    """The class called ``name`` (one of ``MODEL_CLASSES``).

    Raises ``ValueError`` with a "did you mean" for an unknown name and ``ModuleNotFoundError``
    saying what to install for ``"lstm"`` without its extra.
    """
    module, attr = _HOMES[check_name(name, MODEL_CLASSES, "model class")]
    return getattr(importlib.import_module(module), attr)


def make_model(name: str, config: RetrainConfig, seed: int = 0) -> ModelClass:
    """An unfitted model of class ``name`` for ``config`` (``seed``: the model's randomness)."""
    return model_class(name).from_config(config, seed=seed)


def lstm_available() -> bool:
    """True if the LSTM extra (Keras, JAX) is installed."""
    return all(importlib.util.find_spec(m) is not None for m in ("keras", "jax"))
