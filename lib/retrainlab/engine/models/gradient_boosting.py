"""``"gradient_boosting"``: scikit-learn's ``HistGradientBoostingClassifier``, early stopping off.

Trees need neither scaling nor hand-made interactions: the design (the engine's ``design`` hook) is
the base features, plus the four regime one-hots with ``regime_awareness`` (a tree can split on them
and so build the regime x feature interactions the logistic model needs spelled out). Sample weights
go to the loss (and the trees' leaf values), as for the other classes. Early stopping is off (it
would hold out a random 10 % of the window and make the number of trees depend on that draw); the
seed fixes the model's only other randomness (the binning subsample, unused below 200,000 rows).

Predictions are a fixed-order sum over trees of per-row leaf values, so each row's probability is
independent of the other rows predicted with it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import ClassVar, Self

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import ThreadpoolController

from retrainlab.engine.config import RetrainConfig
from retrainlab.engine.features import FEATURE_NAMES
from retrainlab.engine.hooks import hooks_for
from retrainlab.engine.models.base import ModelClass, check_panel, check_training_set


@functools.cache
def _threadpools() -> ThreadpoolController:
    return ThreadpoolController()


@dataclass
class GradientBoostingModel(ModelClass):
    """Histogram gradient boosting on the base features (+ regime one-hots)."""

    name: ClassVar[str] = "gradient_boosting"

    config: RetrainConfig
    max_iter: int = 100  # boosting rounds (scikit-learn's default)
    learning_rate: float = 0.1
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 20
    l2_regularization: float = 0.0

    def design(self, features: np.ndarray, regimes: np.ndarray) -> np.ndarray:
        features, regimes = check_panel(features, regimes)
        flat = features.reshape(-1, features.shape[-1])
        return hooks_for(self.config).design(flat, regimes.reshape(-1))

    def design_columns(self) -> list[str]:
        return hooks_for(self.config).design_columns(FEATURE_NAMES)

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        sample_weight: np.ndarray | None = None,
        confidence: np.ndarray | None = None,
    ) -> Self:
        # 1 .. every feature: a close-only market drops those reading an absent field
        extra = len(self.design_columns()) - len(FEATURE_NAMES)  # the regime columns
        base = np.shape(X)[1] - extra if np.ndim(X) == 2 else 0
        n_columns = extra + min(max(base, 1), len(FEATURE_NAMES))
        X, y, sample_weight = check_training_set(X, y, sample_weight, n_columns)
        if not 0 < np.count_nonzero(y) < y.size:
            raise ValueError("cannot fit: the labels need both classes")
        self.estimator_ = HistGradientBoostingClassifier(
            learning_rate=self.learning_rate,
            max_iter=self.max_iter,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            early_stopping=False,
            random_state=self.config.model_seed,
        )
        # One OpenMP thread: the window is small (a few thousand rows), where threads cost more
        # than they give, and busy-waiting threads crawl on a shared machine.
        with _threadpools().limit(limits=1, user_api="openmp"):
            self.estimator_.fit(np.asarray(X, dtype=np.float64), y, sample_weight=sample_weight)
        self.n_iter_ = int(self.estimator_.n_iter_)
        self.fitted_ = True
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        self._check_fitted()
        with _threadpools().limit(limits=1, user_api="openmp"):
            return self.estimator_.predict_proba(np.asarray(X, dtype=np.float64))[:, 1]
