"""The engine's model classes behind one interface (``base.ModelClass``).

================== ================================================ ============================
name               model                                            needs
================== ================================================ ============================
logistic           Pipeline(StandardScaler, LogisticRegression)     (default; today's model)
gradient_boosting  HistGradientBoostingClassifier, no early stop    scikit-learn
lstm               the seed's two-headed LSTM, Keras 3 on JAX (CPU) the ``[lstm]`` extra
================== ================================================ ============================

``model_class(name)`` returns the class (unknown names get "did you mean"; ``"lstm"`` without
Keras says what to install); ``make_model_class(config)`` an unfitted instance of
``config.model``. How each fix reaches each class: ``docs/models.md``.
"""

from __future__ import annotations

import importlib

from retrainlab.common.names import check_name
from retrainlab.engine.config import MODEL_CLASSES, RetrainConfig
from retrainlab.engine.models.base import (
    INSTALL_HINT,
    ModelClass,
    confidence_target,
    lstm_available,
)

__all__ = [
    "INSTALL_HINT",
    "MODEL_CLASSES",
    "ModelClass",
    "confidence_target",
    "lstm_available",
    "make_model_class",
    "model_class",
]

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


def make_model_class(config: RetrainConfig) -> ModelClass:
    """An unfitted model of class ``config.model`` for ``config`` (seed ``config.model_seed``)."""
    return model_class(config.model).from_config(config)
