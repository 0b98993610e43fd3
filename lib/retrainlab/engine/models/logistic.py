"""``"logistic"``: today's model, ``Pipeline(StandardScaler, LogisticRegression)``
(Newton-Cholesky).

A thin wrapper over ``retrainlab.engine.model`` (same functions, so numerically unchanged): the
design is ``model.design_matrix`` (the ``design`` hook: with ``regime_awareness``, regime
one-hots and regime x feature interactions, so a linear model can give a feature a different
sign in each regime), the fit ``model.fit_model`` and the probabilities ``model.predict_proba``
(row by row, bit-stable). The engine itself calls those functions directly and keeps the plain
``Pipeline`` (model files, coefficients); this class gives the model the common interface.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

import numpy as np

from retrainlab.engine.config import RetrainConfig
from retrainlab.engine.model import design_columns, design_matrix, fit_model, predict_proba
from retrainlab.engine.models.base import ModelClass, check_panel, check_training_set


@dataclass
class LogisticModel(ModelClass):
    """L2 logistic regression on standardised features (``engine.model``), the default class."""

    name: ClassVar[str] = "logistic"

    config: RetrainConfig

    def design(self, features: np.ndarray, regimes: np.ndarray) -> np.ndarray:
        features, regimes = check_panel(features, regimes)
        flat = features.reshape(-1, features.shape[-1])
        return design_matrix(flat, regimes.reshape(-1), self.config)

    def design_columns(self) -> list[str]:
        return design_columns(self.config)

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        sample_weight: np.ndarray | None = None,
        confidence: np.ndarray | None = None,
    ) -> Self:
        X, y, sample_weight = check_training_set(X, y, sample_weight, len(self.design_columns()))
        self.pipeline_ = fit_model(X, y, sample_weight, self.config)
        self.n_iter_ = int(self.pipeline_[-1].n_iter_[0])
        self.fitted_ = True
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        self._check_fitted()
        return predict_proba(self.pipeline_, X)

    def coefficients(self) -> np.ndarray | None:
        self._check_fitted()
        logit = self.pipeline_[-1]
        return np.append(logit.coef_[0], logit.intercept_[0])
