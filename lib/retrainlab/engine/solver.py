"""The logistic model's arithmetic in plain numpy: scikit-learn's two algorithms, transcribed.

The engine fits ~1,000 small logistic regressions per market (1000 days x 10 tickers, 64
configurations), each on a few thousand validated rows. About half of a scikit-learn fit is
input validation, dispatch and bookkeeping that such inputs do not need; this module does the
arithmetic only, step for step as scikit-learn 1.9 does it, so the fitted models are the same:

* ``standardize(X)``: ``StandardScaler().fit(X)``'s mean, variance and scale (the corrected
  two-pass algorithm of Chan, Golub and LeVeque; near-constant columns get scale 1). Bit for bit
  the same numbers (tested).
* ``newton_logistic(X, y, w, C, tol, max_iter)``: ``LogisticRegression(C, solver="newton-cholesky",
  tol, max_iter).fit(X, y, sample_weight=w)`` for binary ``y``. The objective is the weighted mean
  log-loss plus ``||coef||^2 / (2 C sum(w))`` (intercept unpenalised); from zero coefficients,
  each iteration solves ``H step = -g`` (``solve_symmetric``: scipy's symmetric solve, bit for
  bit), backtracks ``t = 1, 1/2, ...`` until
  the Armijo condition (sigma = 2^-11) or, within 16 eps of the old loss, a smaller L1 gradient
  holds, and stops when ``max|g| <= tol`` and half the squared Newton decrement is ``<= tol``.
  The point-wise loss, gradient and Hessian use scikit-learn's branch points (-37, -2, 18, 33.3).
  The probabilities agree with scikit-learn's within 1e-10 (tested; measured ~3e-15 on the
  1,019 fits of a market's factorial), not bit for bit: numpy's ``exp`` and scikit-learn's
  compiled loss round differently in the last bit. A design with a structure may supply the
  Hessian's Gram matrix itself (``gram``, the ``design_gram`` hook: the regime design's
  ``RegimeGram``, about 30% of a regime fit's time saved); the same matrix up to rounding, so
  the same iterations and probabilities (tested against scikit-learn the same way).

Where scikit-learn would leave its Newton path (a singular or ill-conditioned Hessian, many
non-positive point-wise Hessians, a step that does not descend, a line search that fails: it then
switches to L-BFGS and warns) or not converge within ``max_iter`` (it warns and keeps its last
iterate), and for inputs outside the engine's own (labels other than 0/1, negative weights),
``newton_logistic`` returns None and the caller fits with scikit-learn itself, so those rare
cases behave exactly as scikit-learn does. ``engine.model.fit_model`` keeps both paths
(``implementation="numpy"`` by default, ``"scikit-learn"`` for the library's own fit). The
tests compare the two on the installed scikit-learn, so a new pin that changed its algorithm
would fail them rather than drift silently.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.linalg.lapack

from retrainlab.engine.models.base import binary_labels, nonnegative_weights

#: Backtracking line search: step factor and Armijo constant (scikit-learn's 1/2 and 2^-11).
LINE_SEARCH_BETA: float = 0.5
LINE_SEARCH_SIGMA: float = 0.00048828125
#: Backtracking steps before giving up (t down to 2^-20), as scikit-learn.
LINE_SEARCH_STEPS: int = 21
#: The point-wise loss's branch points (scikit-learn's ``log1pexp``).
_LOW, _MID, _HIGH, _TOP = -37.0, -2.0, 18.0, 33.3
_EPS = float(np.finfo(np.float64).eps)
#: LAPACK's symmetric indefinite solve and its condition estimate (``solve_symmetric``).
_SYTRF, _SYTRF_LWORK, _SYTRS, _SYCON = scipy.linalg.lapack.get_lapack_funcs(
    ("sytrf", "sytrf_lwork", "sytrs", "sycon"), dtype=np.float64
)


@dataclass(frozen=True)
class Standardization:
    """``StandardScaler``'s fitted numbers: column ``mean``, ``var`` and ``scale`` (the standard
    deviation, 1 for near-constant columns) over ``n`` rows."""

    mean: np.ndarray
    var: np.ndarray
    scale: np.ndarray
    n: int


@dataclass(frozen=True)
class LogisticSolution:
    """A fitted binary logistic regression: ``coef`` (d,), ``intercept`` and solver
    ``iterations`` (Newton steps)."""

    coef: np.ndarray
    intercept: float
    iterations: int


def standardize(X: np.ndarray) -> Standardization:
    """Column means and scales of ``X`` (n, d) float64, finite, as ``StandardScaler().fit(X)``.

    The corrected two-pass variance: ``sum((x - m)^2) - sum(x - m)^2 / n``, over ``n``. A column
    whose variance is within the algorithm's error bound of zero (``var <= n eps var + (n m
    eps)^2``) is treated as constant and keeps scale 1, so dividing by it is harmless.
    """
    n = X.shape[0]
    count = np.full(X.shape[1], float(n))  # scikit-learn counts in float64
    total = np.sum(X, axis=0)
    mean = total / count
    centred = X - total / count
    correction = np.sum(centred, axis=0)
    centred **= 2
    var = (np.sum(centred, axis=0) - correction**2 / count) / count
    constant = var <= n * _EPS * var + (n * mean * _EPS) ** 2
    scale = np.sqrt(var)
    scale[constant] = 1.0
    return Standardization(mean, var, scale, n)


def _loss(y: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """Point-wise log-loss ``log(1 + exp(raw)) - y raw`` (scikit-learn's ``log1pexp`` branches)."""
    softplus = np.where(raw <= _MID, np.log1p(np.exp(raw)), np.log(1.0 + np.exp(raw)))
    softplus = np.where(raw <= _LOW, np.exp(raw), softplus)
    softplus = np.where(raw > _HIGH, raw + np.exp(-raw), softplus)
    softplus = np.where(raw > _TOP, raw, softplus)
    return softplus - y * raw


def _loss_gradient(y: np.ndarray, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Point-wise loss and its derivative in ``raw`` (``expit(raw) - y``), with scikit-learn's
    branches: each branch writes the same quantity in the form that is accurate there. Rows in
    (-2, 18], nearly all of them, take the middle branch's formulas; the others are redone."""
    minus = np.exp(-raw)
    loss = np.log1p(minus) + (1 - y) * raw
    gradient = ((1 - y) - y * minus) / (1 + minus)
    low = raw <= _MID
    if low.any():
        r, t = raw[low], y[low]
        plus = np.exp(r)
        far = r <= _LOW
        loss[low] = np.where(far, plus - t * r, np.log1p(plus) - t * r)
        gradient[low] = np.where(far, plus - t, ((1 - t) * plus - t) / (1 + plus))
    high = raw > _HIGH  # the same gradient; the loss drops the log1p
    if high.any():
        loss[high] = minus[high] + (1 - y[high]) * raw[high]
    return loss, gradient


def _gradient_hessian(y: np.ndarray, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Point-wise derivative and second derivative in ``raw``: ``p - y`` and ``p (1 - p)``."""
    minus = np.exp(-raw)
    gradient = ((1 - y) - y * minus) / (1 + minus)
    hessian = minus / (1 + minus) ** 2
    far = raw <= _LOW  # exp(-raw) overflows: first order in exp(raw)
    if far.any():
        plus = np.exp(raw[far])
        gradient[far] = plus - y[far]
        hessian[far] = plus
    return gradient, hessian


def newton_logistic(
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None,
    C: float,
    tol: float,
    max_iter: int,
    gram: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None,
) -> LogisticSolution | None:
    """The L2 logistic regression of binary ``y`` (0/1) on ``X`` (n, d) float64 by scikit-learn's
    Newton-Cholesky algorithm (module docstring); None where scikit-learn would leave it, or
    where ``y`` is not 0/1 or a weight is negative (the caller then fits with scikit-learn).
    Inputs are assumed validated otherwise: finite, both classes present.

    ``gram``: ``h -> (X' diag(h) X, X' h)`` computed from the structure of ``X`` (the
    ``design_gram`` hook, e.g. ``RegimeGram``), for the Hessian; None: the dense products."""
    # exp overflows in the branches np.where discards (|raw| > 709): not an error here
    with np.errstate(over="ignore", invalid="ignore"):
        n, d = X.shape
        target = np.asarray(y, dtype=np.float64)
        weights = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        # scikit-learn encodes other labels as (y == classes_[1]) and takes |h| for negative
        # weights; the engine has neither (models.base's rules), so those are left to scikit-learn
        if not (binary_labels(target) and nonnegative_weights(weights)):
            return None
        total = float(n) if weights is None else float(np.sum(weights))
        l2 = 1.0 / (C * total)
        coef = np.zeros(d + 1)  # coefficients, then the intercept
        raw = X @ coef[:d] + coef[d]
        pointwise = _loss(target, raw)
        if weights is not None:
            pointwise = weights * pointwise
        loss = float(np.sum(pointwise) / total)
        gradient = np.empty(d + 1)
        hessian = np.empty((d + 1, d + 1))
        for iteration in range(1, max_iter + 1):
            g, h = _gradient_hessian(target, raw)
            if weights is not None:
                g *= weights
                h *= weights
            g /= total
            h /= total
            # many non-positive point-wise Hessians: scikit-learn switches to L-BFGS
            if not (h > 0).all() and np.average(h <= 0, weights=weights) > 0.25:
                return None
            gradient[:d] = X.T @ g + l2 * coef[:d]
            gradient[d] = g.sum()
            # X' diag(h) X as S'S with S = sqrt(h) X: numpy computes a product of an array with
            # its own transpose by BLAS syrk, one triangle, ~30% faster on the 59-column designs
            if gram is None:
                root = np.sqrt(h)[:, None] * X
                hessian[:d, :d] = root.T @ root
                xh = X.T @ h
            else:
                hessian[:d, :d], xh = gram(h)
            hessian.reshape(-1)[: d * (d + 1) : d + 2] += l2  # the penalty: coefficients only
            hessian[:d, d] = xh
            hessian[d, :d] = xh
            hessian[d, d] = h.sum()
            step = solve_symmetric(hessian, -gradient)
            if step is None:  # singular or ill-conditioned: scikit-learn turns to L-BFGS
                return None
            slope = float(gradient @ step)
            if not slope <= 0:  # not a descent direction (or NaN)
                return None
            found = _line_search(
                X, target, weights, total, l2, coef, raw, loss, gradient, step, slope
            )
            if found is None:
                return None
            coef, raw, loss, gradient = found
            if np.max(np.abs(gradient)) <= tol and 0.5 * (step @ hessian @ step) <= tol:
                return LogisticSolution(coef[:d].copy(), float(coef[d]), iteration)
        return None


def solve_symmetric(matrix: np.ndarray, rhs: np.ndarray) -> np.ndarray | None:
    """``scipy.linalg.solve(matrix, rhs, assume_a="sym", check_finite=False)`` for a symmetric
    ``matrix`` (d, d) and ``rhs`` (d,), bit for bit (tested), without its dispatch (measured on
    a 60 x 60 Hessian: 0.048 ms against scipy's 0.061 ms): LAPACK's Bunch-Kaufman factorization
    with its optimal workspace (``?sytrf``), the triangular solves (``?sytrs``) and the reciprocal
    condition number (``?sycon``, 1-norm), as scipy calls them (a 1 x 1 matrix is a division, as
    there). None where scipy raises ``LinAlgError`` (singular) or warns ``LinAlgWarning``
    (``rcond`` below machine epsilon): where scikit-learn leaves its Newton path."""
    d = len(rhs)
    if d == 1:
        return None if matrix[0, 0] == 0 else rhs / matrix[0, 0]
    factor, pivots, info = _SYTRF(matrix, lwork=_sytrf_workspace(d))
    if info != 0:  # a zero pivot (info > 0; info < 0 is a bad argument, not possible here)
        return None
    norm = float(np.max(np.sum(np.abs(matrix), axis=0)))
    rcond, _ = _SYCON(factor, pivots, norm)
    if not rcond >= _EPS:
        return None
    solution, _ = _SYTRS(factor, pivots, rhs[:, None])
    return solution[:, 0]


@functools.cache
def _sytrf_workspace(d: int) -> int:
    """LAPACK's optimal workspace for factorizing a d x d symmetric matrix (its blocking)."""
    work, _ = _SYTRF_LWORK(d)
    return int(work)


def _line_search(
    X: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray | None,
    total: float,
    l2: float,
    coef: np.ndarray,
    raw: np.ndarray,
    loss: float,
    gradient: np.ndarray,
    step: np.ndarray,
    slope: float,
) -> tuple[np.ndarray, np.ndarray, float, np.ndarray] | None:
    """Backtracking from ``coef`` along ``step``: the accepted ``(coef, raw, loss, gradient)``,
    or None if no step length down to 2^-20 is accepted."""
    d = X.shape[1]
    raw_step = X @ step[:d] + step[d]
    armijo = LINE_SEARCH_SIGMA * slope
    tiny = abs(loss * (16 * _EPS))
    old_l1 = -1.0
    t = 1.0
    for _ in range(LINE_SEARCH_STEPS):
        trial = coef + t * step
        trial_raw = raw + t * raw_step
        pointwise, g = _loss_gradient(y, trial_raw)
        if weights is not None:
            pointwise = weights * pointwise
            g = weights * g
        trial_loss = float(np.sum(pointwise) / total) + 0.5 * l2 * float(trial[:d] @ trial[:d])
        g /= total
        trial_gradient = np.empty(d + 1)
        trial_gradient[:d] = X.T @ g + l2 * trial[:d]
        trial_gradient[d] = g.sum()
        improvement = trial_loss - loss
        if improvement <= t * armijo:
            return trial, trial_raw, trial_loss, trial_gradient
        if abs(improvement) <= tiny:  # a change at rounding level: accept a smaller gradient
            if old_l1 < 0:
                old_l1 = float(np.sum(np.abs(gradient)))
            if float(np.sum(np.abs(trial_gradient))) < old_l1:
                return trial, trial_raw, trial_loss, trial_gradient
        t *= LINE_SEARCH_BETA
    return None
