"""``"logistic"``: today's model, ``Pipeline(StandardScaler, LogisticRegression)`` (Newton-Cholesky).

A thin wrapper over ``retrainlab.engine.model`` (same functions, so numerically unchanged): the
design is ``model.design_matrix`` (with ``regime_awareness``: regime one-hots and regime x
feature interactions, so a linear model can give a feature a different sign in each regime), the
fit ``model.fit_model`` and the probabilities ``model.predict_proba`` (row by row, bit-stable).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Self

import numpy as np
from sklearn.pipeline import Pipeline

from retrainlab.engine.features import FEATURE_NAMES
from retrainlab.engine.fixes.regime_awareness import regime_columns, regime_design
from retrainlab.engine.model import fit_model, make_model, predict_proba
from retrainlab.engine.models.base import ModelClass, check_panel, check_training_set

if TYPE_CHECKING:
    from retrainlab.engine.config import RetrainConfig


@dataclass
class LogisticModel(ModelClass):
    """L2 logistic regression on standardised features (``engine.model``), the default class."""

    name: ClassVar[str] = "logistic"

    regime_awareness: bool = False
    C: float = 1.0
    max_iter: int = 200
    min_train_samples: int = 20

    @classmethod
    def from_config(cls, config: RetrainConfig, seed: int = 0) -> LogisticModel:
        """The model of ``config`` (``seed`` is unused: the fit is deterministic)."""
        return cls(
            regime_awareness=config.regime_awareness,
            C=config.C,
            max_iter=config.max_iter,
            min_train_samples=config.min_train_samples,
        )

    def design(self, features: np.ndarray, regimes: np.ndarray) -> np.ndarray:
        features, regimes = check_panel(features, regimes)
        flat = features.reshape(-1, features.shape[-1])
        if not self.regime_awareness:
            return flat
        return regime_design(flat, regimes.reshape(-1))

    def design_columns(self) -> list[str]:
        if self.regime_awareness:
            return regime_columns(FEATURE_NAMES)
        return list(FEATURE_NAMES)

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        sample_weight: np.ndarray | None = None,
        confidence: np.ndarray | None = None,
    ) -> Self:
        X, y, sample_weight = check_training_set(X, y, sample_weight, len(self.design_columns()))
        self.pipeline_ = fit_model(X, y, sample_weight, self)
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

    def make_pipeline(self) -> Pipeline:
        """The unfitted pipeline (``engine.model.make_model``)."""
        return make_model(self)
