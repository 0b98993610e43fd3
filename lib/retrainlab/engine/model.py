"""The one estimator of every system: ``Pipeline(StandardScaler, LogisticRegression(C))``.

OLD and NEW use the same estimator; the fixes change only what it is fed (``design_matrix``: the
``design`` hook, regime columns with ``regime_awareness``) and how samples are weighted
(``sample_weight``: the ``sample_weights`` and ``extra_samples`` hooks). The scaler is part of
the pipeline, so it is fit on the training window only. Sample weights go to the loss only; the
scaler is unweighted.

Solver. The estimator is the L2-penalised maximum-likelihood logistic regression; the solver is
``newton-cholesky``, not scikit-learn's default ``lbfgs``. With regime x feature interactions the
design is ill-conditioned (correlated momentum/RSI/Bollinger columns, split by regime): ``lbfgs``
at its default tolerance needs ~90 iterations and still stops far from the optimum (measured:
probabilities up to 0.02 away from a tol=1e-8 solution), while Newton-Cholesky converges in ~4
iterations to within 5e-4, about 2.5x faster. Same model, solved more accurately, for OLD and NEW
alike.

Implementation. ``fit_scaler`` and ``fit_model`` do scikit-learn's arithmetic in plain numpy by
default (``engine.solver``: the scaler bit for bit, the Newton-Cholesky solve step for step, the
probabilities within 1e-10 of scikit-learn's), without the input validation and dispatch that
were about half of each fit; ``implementation="scikit-learn"`` fits with scikit-learn itself,
the reference the tests compare with. Either way the result is a fitted
``Pipeline(StandardScaler, LogisticRegression)`` with the same attributes: the same model, its
probabilities within 1e-10 (not bit for bit: the last bit of ``exp`` differs).
"""

from __future__ import annotations

import numpy as np
import sklearn
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from retrainlab.engine.config import RetrainConfig
from retrainlab.engine.features import FEATURE_NAMES
from retrainlab.engine.hooks import hooks_for
from retrainlab.engine.models import ModelClass, make_model_class
from retrainlab.engine.solver import newton_logistic, standardize

#: LogisticRegression solver (see the module docstring for why not lbfgs).
SOLVER: str = "newton-cholesky"
#: Who does a logistic fit's arithmetic: this package's transcription (``engine.solver``) or
#: scikit-learn itself (the reference; see the module docstring).
IMPLEMENTATIONS: tuple[str, ...] = ("numpy", "scikit-learn")


def design_matrix(
    features: np.ndarray, regimes: np.ndarray | None, config: RetrainConfig
) -> np.ndarray:
    """The model's input under ``config`` (the ``design`` hook): the base ``features``
    (n, n_features) by default; with ``regime_awareness``, plus regime columns (then ``regimes``
    (n,) int codes are required)."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2:
        raise ValueError(f"features must be 2-D (n_samples, n_features), got {features.shape}")
    return hooks_for(config).design(features, regimes)


def design_columns(config: RetrainConfig) -> list[str]:
    """Names of the model's input columns under ``config`` (``design_matrix``'s for the tabular
    classes, the LSTM's window columns for ``"lstm"``)."""
    if config.model == "lstm":
        return make_model_class(config).design_columns()
    return hooks_for(config).design_columns(FEATURE_NAMES)


def design_panel(features: np.ndarray, regimes: np.ndarray, config: RetrainConfig) -> np.ndarray:
    """Input rows of every (day, ticker) of a panel, row-major (row ``t * k + j``), for the model
    class ``config.model``: ``design_matrix`` of the flattened panel for the tabular classes,
    20-day windows for the LSTM. ``features`` (n, k, f) or (n, f); ``regimes`` alike."""
    if config.model == "lstm":
        return make_model_class(config).design(features, regimes)
    features = np.asarray(features, dtype=np.float64)
    return design_matrix(
        features.reshape(-1, features.shape[-1]), np.asarray(regimes).reshape(-1), config
    )


def make_model_scaler() -> StandardScaler:
    """The pipeline's unfitted scaler (scikit-learn's defaults: centre and scale)."""
    return StandardScaler()


def make_logit(config: RetrainConfig) -> LogisticRegression:
    """The pipeline's unfitted ``LogisticRegression(C=config.C)`` (Newton-Cholesky)."""
    return LogisticRegression(C=config.C, solver=SOLVER, max_iter=config.max_iter)


def make_model(config: RetrainConfig) -> Pipeline:
    """An unfitted ``Pipeline(StandardScaler, LogisticRegression(C=config.C))``
    (Newton-Cholesky)."""
    return Pipeline([("scaler", make_model_scaler()), ("logit", make_logit(config))])


def _check_implementation(implementation: str) -> None:
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(
            f"unknown implementation {implementation!r}: choose one of {list(IMPLEMENTATIONS)}"
        )


def fit_scaler(X: np.ndarray, implementation: str = "numpy") -> StandardScaler:
    """The model's ``StandardScaler`` fit on rows ``X`` (n, d) float64, finite: the first step
    of a logistic fit, which depends on ``X`` only (the scaler is unweighted), so fits on the
    same rows with other weights can share it (``fit_model(..., scaler=...)``).
    ``implementation``: see the module docstring (the fitted numbers are the same bit for bit)."""
    _check_implementation(implementation)
    scaler = make_model_scaler()
    if implementation == "numpy":
        fitted = standardize(np.asarray(X, dtype=np.float64))
        scaler.n_features_in_ = X.shape[1]
        scaler.n_samples_seen_ = np.float64(fitted.n)  # scikit-learn counts in float64
        scaler.mean_, scaler.var_, scaler.scale_ = fitted.mean, fitted.var, fitted.scale
        return scaler
    # the scaler's parameters are its defaults: scikit-learn's checks of them are skipped
    with sklearn.config_context(skip_parameter_validation=True):
        return scaler.fit(X)


def can_fit(y: np.ndarray, config: RetrainConfig) -> bool:
    """True if labels ``y`` are enough to fit: at least ``min_train_samples`` and both classes."""
    y = np.asarray(y)
    return y.size >= config.min_train_samples and 0 < np.count_nonzero(y) < y.size


def fit_model(
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None,
    config: RetrainConfig,
    confidence: np.ndarray | None = None,
    scaler: StandardScaler | None = None,
    implementation: str = "numpy",
) -> Pipeline | ModelClass:
    """Fit the model of ``config`` on ``X``, binary ``y`` (1 = the underlying rose): the
    ``Pipeline`` of ``make_model(config)`` for ``"logistic"``, else the fitted model class
    (``engine.models``; ``confidence``: the LSTM's confidence-head targets).

    ``scaler``: ``fit_scaler(X)`` if already computed (``walk_forward_many`` shares it between
    fits on the same rows); the logistic fit then skips its scaler step, with the same result
    bit for bit. The other model classes do not use it.

    Raises ``ValueError`` if ``can_fit(y, config)`` is false (too few samples or one class only);
    the walk-forward checks first and keeps its previous model in that case.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or len(X) != len(y):
        raise ValueError(f"need X (n, d) and y (n,), got {X.shape} and {y.shape}")
    if not can_fit(y, config):
        raise ValueError(
            f"cannot fit: {y.size} samples (need {config.min_train_samples}) "
            f"with {np.count_nonzero(y)} positive labels (need both classes)"
        )
    _check_implementation(implementation)
    if config.model != "logistic":
        return make_model_class(config).fit(X, y, sample_weight, confidence)
    logit = make_logit(config)
    weights = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    # Step by step, the arithmetic of ``Pipeline.fit`` (scaler fit, then the regression on
    # ``(X - mean_) / scale_``, which is what ``scaler.transform`` computes), without the
    # pipeline's routing and a second validation of X. With ``implementation="scikit-learn"``
    # the steps are scikit-learn's own (its parameter checks skipped: the parameters come from
    # a validated RetrainConfig), bit for bit ``Pipeline.fit``; with ``"numpy"`` the same
    # arithmetic transcribed (``engine.solver``), within 1e-10 of it.
    if scaler is None:
        scaler = fit_scaler(X, implementation)
    elif (scaler.n_samples_seen_, scaler.n_features_in_) != X.shape:
        raise ValueError(
            f"scaler was fit on {scaler.n_samples_seen_} rows x {scaler.n_features_in_} columns, "
            f"X has shape {X.shape}: pass fit_scaler(X) of these very rows, or None"
        )
    Z = np.subtract(X, scaler.mean_)
    Z /= scaler.scale_  # in place: the same numbers as (X - mean_) / scale_, one copy fewer
    solution = None
    if implementation == "numpy":
        # a structured design (regime x feature) forms the Hessian from its blocks
        gram = hooks_for(config).design_gram(X, scaler.mean_, scaler.scale_)
        solution = newton_logistic(Z, y, weights, logit.C, logit.tol, logit.max_iter, gram)
    if solution is None:
        with sklearn.config_context(skip_parameter_validation=True):
            logit.fit(Z, y, sample_weight=weights)
    else:  # the attributes scikit-learn's fit sets, with the same types
        logit.n_features_in_ = X.shape[1]
        # np.unique(y) without its sort: the labels are 0 and 1, both present (newton_logistic
        # returns None otherwise)
        logit.classes_ = np.array([0, 1], dtype=y.dtype)
        logit.n_iter_ = np.array([solution.iterations], dtype=np.int32)
        logit.coef_ = solution.coef[None, :]
        logit.intercept_ = np.array([solution.intercept])
    return Pipeline([("scaler", scaler), ("logit", logit)])


def predict_proba(model: Pipeline | ModelClass, X: np.ndarray) -> np.ndarray:
    """P(label = 1) for the rows of ``X``. A model class predicts itself (row by row too); for
    the logistic ``Pipeline``: the pipeline's own formula, evaluated row by row.

    ``expit(intercept + sum_c coef[c] * (X[:, c] - mean[c]) / scale[c])`` with the fitted
    scaler's ``mean_`` / ``scale_`` and the logistic regression's ``coef_`` / ``intercept_``:
    exactly what ``model.predict_proba(X)[:, 1]`` computes, up to rounding (~1e-16). The sum
    runs column by column in a fixed order, so each row's value is bit-identical whatever other
    rows are predicted with it; a BLAS matrix product is not (its blocking depends on the batch
    size), and the walk-forward's invariance to truncating the data must hold bit for bit.
    """
    if isinstance(model, ModelClass):
        return model.predict_proba(X)
    scaler, logit = model[0], model[-1]
    X = np.asarray(X, dtype=np.float64)
    z = (X - scaler.mean_) / scaler.scale_
    coef = logit.coef_[0]
    score = np.full(len(X), float(logit.intercept_[0]))
    for c in range(X.shape[1]):
        score += z[:, c] * coef[c]
    return expit(score)


def fit_summary(model: Pipeline | ModelClass) -> tuple[int, np.ndarray | None]:
    """``(iterations, coefficients)`` of a fitted model: solver iterations and coefficients +
    intercept of the logistic ``Pipeline``; a model class's ``n_iter`` and None (no
    coefficients) for the non-linear classes."""
    if isinstance(model, ModelClass):
        return model.n_iter, model.coefficients()
    logit = model[-1]
    return int(logit.n_iter_[0]), np.append(logit.coef_[0], logit.intercept_[0])
