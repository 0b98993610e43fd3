"""The interface every model class implements, and the inputs they share.

A model class turns the engine's feature panel into input rows (``design``), is fitted on some of
those rows with binary labels and sample weights (``fit``) and returns P(label = 1) for any rows
(``predict_proba``). Everything the six fixes change reaches a model through exactly these
arguments:

* ``sample_weight`` (``profit_weighted_loss``, ``feedback_loop``): the loss weights of ``fit``;
* the regime codes (``regime_awareness``): ``design`` adds them to the rows, each class its way;
* ``confidence`` (the LSTM's second head only): its regression target, ``confidence_target`` of
  the forward return for market samples, the trade's confidence for fed-back trades.

Thresholds, windows and sizing act on the probabilities and the training window, outside the
model, identically for every class.
"""

from __future__ import annotations

import importlib.util
from abc import ABC, abstractmethod
from typing import ClassVar, Self

import numpy as np

from retrainlab.engine.config import RetrainConfig
from retrainlab.engine.features import FEATURE_NAMES

#: What to install when Keras/JAX are missing (the optional extra's pins).
INSTALL_HINT: str = (
    "the 'lstm' model class needs the optional LSTM extra (Keras 3 + JAX): run `make setup-lstm`"
    " or `pip install -r requirements-lstm.lock` (keras==3.15.1, jax==0.10.2, jaxlib==0.10.2),"
    " or `pip install 'retrainlab[lstm]'`"
)


def lstm_available() -> bool:
    """True if the LSTM extra (Keras and JAX) is installed."""
    for name in ("keras", "jax"):
        try:
            if importlib.util.find_spec(name) is None:
                return False
        except ValueError:  # sys.modules[name] is None: the import is blocked
            return False
    return True


def confidence_target(forward_returns: np.ndarray) -> np.ndarray:
    """The seed's confidence label: ``clip(10 * |forward return|, 0, 1)``."""
    r = np.asarray(forward_returns, dtype=np.float64)
    return np.clip(10.0 * np.abs(r), 0.0, 1.0)


def check_panel(features: np.ndarray, regimes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate a feature panel: features (n_days, [n_tickers,] n_features), regimes alike."""
    features = np.asarray(features, dtype=np.float64)
    regimes = np.asarray(regimes)
    # fewer than every feature: a close-only market drops those reading an absent field
    if features.ndim not in (2, 3) or not 1 <= features.shape[-1] <= len(FEATURE_NAMES):
        raise ValueError(
            "features must be (n_days, n_features) or (n_days, n_tickers, n_features) with "
            f"1 <= n_features <= {len(FEATURE_NAMES)}, got shape {features.shape}"
        )
    if regimes.shape != features.shape[:-1]:
        raise ValueError(
            f"regimes must have shape {features.shape[:-1]} (the panel's days [x tickers]), "
            f"got {regimes.shape}"
        )
    return features, regimes


def binary_labels(y: np.ndarray) -> bool:
    """True if every label is 0 or 1 (1 = the underlying rose): the engine's labels."""
    y = np.asarray(y)
    return bool(np.all((y == 0) | (y == 1)))


def nonnegative_weights(sample_weight: np.ndarray | None) -> bool:
    """True if there are no weights (every sample 1) or every weight is >= 0 (not NaN)."""
    if sample_weight is None:
        return True
    return bool(np.all(np.asarray(sample_weight, dtype=np.float64) >= 0))


def check_training_set(
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None,
    n_columns: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Shapes and values of a training set: X (n, n_columns) finite, y in {0, 1}, weights >= 0."""
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[1] != n_columns or len(X) != len(y):
        raise ValueError(
            f"need X (n, {n_columns}) and y (n,) from this model's design, "
            f"got {X.shape} and {y.shape}"
        )
    if not np.all(np.isfinite(X)):
        raise ValueError("X contains NaN or infinite values: train on rows whose design is finite")
    if not binary_labels(y):
        raise ValueError("y must hold binary labels 0/1 (1 = the underlying rose)")
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=np.float64)
        if sample_weight.shape != y.shape or not nonnegative_weights(sample_weight):
            raise ValueError("sample_weight must be (n,) finite and >= 0")
    return X, y.astype(np.int64), sample_weight


class ModelClass(ABC):
    """A model class of the engine (scikit-learn style: settings are fields, learned state ends
    in ``_``). Subclasses are dataclasses holding the ``RetrainConfig`` they serve (its design
    hook decides the regime inputs) and their own settings."""

    #: The name ``RetrainConfig.model`` uses.
    name: ClassVar[str]
    #: Rows of history (days) one input row needs, counted with its own day.
    history: ClassVar[int] = 1

    config: RetrainConfig

    @classmethod
    def from_config(cls, config: RetrainConfig) -> Self:
        """The model of ``config`` (seed: ``config.model_seed``)."""
        return cls(config=config)

    @abstractmethod
    def design(self, features: np.ndarray, regimes: np.ndarray) -> np.ndarray:
        """Input rows of a panel: features (n_days, [n_tickers,] n_features), regimes the codes
        (-1 undefined) of the same days [x tickers]. Returns (n_days * n_tickers, n_columns),
        row-major over (day, ticker); a row is NaN somewhere when its inputs are undefined.
        Row (t, j) uses days <= t of ticker j only."""

    @abstractmethod
    def design_columns(self) -> list[str]:
        """Names of the ``design`` columns."""

    @abstractmethod
    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        sample_weight: np.ndarray | None = None,
        confidence: np.ndarray | None = None,
    ) -> Self:
        """Fit on design rows ``X`` (n, n_columns), labels ``y`` (1 = the underlying rose),
        optional loss weights and (for classes with a confidence head) confidence targets."""

    @abstractmethod
    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """P(label = 1) for each row of ``X`` (n,), each row's value independent of the others."""

    @property
    def n_iter(self) -> int:
        """Iterations of the last fit (solver iterations, boosting rounds or optimiser steps)."""
        return int(getattr(self, "n_iter_", 0))

    def coefficients(self) -> np.ndarray | None:
        """Coefficients and intercept of a linear model (design columns + intercept), else None."""
        return None

    def _check_fitted(self) -> None:
        if not getattr(self, "fitted_", False):
            raise ValueError(f"this {type(self).__name__} is not fitted yet: call fit first")
