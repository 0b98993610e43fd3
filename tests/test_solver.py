"""The numpy transcription of scikit-learn's scaler and Newton-Cholesky solve (``engine.solver``)
against scikit-learn itself: the scaler bit for bit, the probabilities within 1e-10, the same
iteration counts, and scikit-learn's own fit wherever its Newton path would be left."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import sklearn
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

import retrainlab as rl
import retrainlab.engine.training as training
from retrainlab.engine import solver
from retrainlab.engine.fixes.regime_awareness import RegimeGram, regime_design
from retrainlab.engine.model import fit_model, fit_scaler, predict_proba
from retrainlab.engine.solver import newton_logistic, standardize

AGREE = 1e-10  # the bound on |p_numpy - p_scikit-learn|


def _sklearn_fit(Z, y, w, C=1.0, max_iter=200):
    with sklearn.config_context(skip_parameter_validation=True):
        return LogisticRegression(C=C, solver="newton-cholesky", max_iter=max_iter).fit(
            Z, y, sample_weight=w
        )


def _assert_agrees(X, y, w, C=1.0, gram=False):
    """Standardize, then solve both ways: the same iterations, probabilities within AGREE.
    ``gram``: our solve forms its Hessian by regime blocks (``RegimeGram``, regime designs)."""
    scale = standardize(X)
    Z = (X - scale.mean) / scale.scale
    reference = _sklearn_fit(Z, y, w, C)
    blocks = RegimeGram(X, scale.mean, scale.scale) if gram else None
    solution = newton_logistic(Z, y, w, C, reference.tol, reference.max_iter, blocks)
    assert solution is not None
    assert solution.iterations == reference.n_iter_[0]
    ours = 1.0 / (1.0 + np.exp(-(Z @ solution.coef + solution.intercept)))
    gap = np.max(np.abs(ours - reference.predict_proba(Z)[:, 1]))
    assert gap <= AGREE, gap
    return gap


def _problem(rng, n, d, weighted, shift=0.0):
    X = rng.normal(size=(n, d)) * rng.uniform(0.05, 20.0, d) + rng.normal(size=d) * shift
    y = (X @ rng.normal(size=d) / X.std(axis=0).sum() + rng.normal(size=n) > 0).astype(np.int64)
    w = None
    if weighted:  # a quarter at exactly zero: rows that count for nothing
        w = np.where(rng.random(n) < 0.25, 0.0, rng.uniform(0.0, 3.0, n))
    return X, y, w


def test_standardize_is_standard_scaler_bit_for_bit():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 6)) * [1e-3, 1.0, 50.0, 1e4, 1.0, 1.0] + [0, 3, -7, 1e6, 0, 0]
    X[:, 4] = 2.5  # constant: scale 1
    X[:, 5] = 0.0  # an all-zero one-hot column (a regime absent from the window)
    X[::7, 5] = 1.0
    for rows in (X, X[:1], X[:2], X[:, 4:5]):
        reference = StandardScaler().fit(rows)
        ours = fit_scaler(rows)
        for name in ("mean_", "var_", "scale_"):
            assert np.array_equal(getattr(ours, name), getattr(reference, name)), name
        assert type(ours.n_samples_seen_) is type(reference.n_samples_seen_)
        assert ours.n_samples_seen_ == reference.n_samples_seen_
        assert ours.n_features_in_ == reference.n_features_in_
        assert np.array_equal(ours.transform(rows), reference.transform(rows))
    assert fit_scaler(X, "scikit-learn").scale_[4] == 1.0


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(30, 600),
    d=st.integers(1, 25),
    weighted=st.booleans(),
    C=st.sampled_from([0.01, 1.0, 100.0]),
)
def test_newton_matches_scikit_learn_on_random_problems(seed, n, d, weighted, C):
    X, y, w = _problem(np.random.default_rng(seed), n, d, weighted, shift=5.0)
    if 0 < y.sum() < n:  # both classes, as the engine requires before fitting
        _assert_agrees(X, y, w, C)


def test_newton_backtracks_as_scikit_learn_does(monkeypatch):
    # a few mislabeled rows far out make the full Newton step overshoot: the line search must
    # shorten it exactly where scikit-learn does (else the iterates, and the counts, part)
    evaluations = []
    loss_gradient = solver._loss_gradient

    def counted(y, raw):
        evaluations.append(1)
        return loss_gradient(y, raw)

    monkeypatch.setattr(solver, "_loss_gradient", counted)
    iterations = 0
    for seed in range(10):
        rng = np.random.default_rng(seed)
        X = rng.normal(size=(300, 3))
        y = (X[:, 0] > 0).astype(np.int64)
        X[:3] *= 200.0
        y[:3] = 1 - y[:3]
        _assert_agrees(X, y, None, C=1e4)
        iterations += newton_logistic(
            (X - X.mean(axis=0)) / X.std(axis=0), y, None, 1e4, 1e-4, 200
        ).iterations
    assert len(evaluations) > 2 * iterations + 10  # steps were shortened, not all taken whole


def test_newton_matches_scikit_learn_on_the_engines_own_problems():
    # every training set a short factorial asks for: regime x feature designs, profit weights,
    # feedback rows
    problems = []
    fit_model_of_engine = training.fit_model

    def record(X, y, w, config, *args):
        problems.append((np.array(X), np.array(y), None if w is None else np.array(w)))
        return fit_model_of_engine(X, y, w, config, *args)

    market = rl.generate_market(3, n_days=400, n_tickers=4)
    configs = [
        rl.OLD,
        rl.NEW,
        rl.NEW.without_fix("feedback_loop"),
        rl.OLD.with_fix("regime_awareness"),
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(training, "fit_model", record)
        rl.walk_forward_many(market, configs)
    assert len(problems) > 40 and {p[0].shape[1] for p in problems} == {11, 59}
    assert any(w is not None for _, _, w in problems)
    gaps = [_assert_agrees(X, y, w) for X, y, w in problems]
    # the engine's own path for the regime designs: the Hessian by regime blocks
    gaps += [_assert_agrees(X, y, w, gram=True) for X, y, w in problems if X.shape[1] == 59]
    assert max(gaps) < AGREE


def test_fit_model_gives_the_same_fitted_pipeline_both_ways():
    X, y, w = _problem(np.random.default_rng(1), 300, 5, weighted=True, shift=2.0)
    ours = fit_model(X, y, w, rl.OLD)
    reference = fit_model(X, y, w, rl.OLD, implementation="scikit-learn")
    for a, b in zip(ours, reference, strict=True):
        assert type(a) is type(b)
        fitted = sorted(k for k in vars(b) if k.endswith("_"))
        assert sorted(k for k in vars(a) if k.endswith("_")) == fitted
        for name in fitted:
            x, z = getattr(a, name), getattr(b, name)
            assert type(x) is type(z) and np.shape(x) == np.shape(z), name
            assert getattr(x, "dtype", None) == getattr(z, "dtype", None), name
    np.testing.assert_allclose(predict_proba(ours, X), predict_proba(reference, X), atol=AGREE)
    np.testing.assert_allclose(ours.predict_proba(X), reference.predict_proba(X), atol=AGREE)
    with pytest.raises(ValueError, match="unknown implementation 'sklearn'.*scikit-learn"):
        fit_model(X, y, w, rl.OLD, implementation="sklearn")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")
def test_where_scikit_learn_leaves_newton_the_fit_is_scikit_learns_own():
    X, y, _ = _problem(np.random.default_rng(2), 300, 4, weighted=False)
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    cases = [
        # not converged within max_iter: scikit-learn warns and keeps its last iterate
        (X, rl.OLD.replace(max_iter=1), ConvergenceWarning),
        # no penalty and a repeated column: a singular Hessian, scikit-learn turns to L-BFGS
        (np.column_stack([X, X[:, 1]]), rl.OLD.replace(C=np.inf), scipy.linalg.LinAlgWarning),
    ]
    assert newton_logistic(Z, y, None, 1.0, 1e-4, 1) is None
    assert newton_logistic(np.column_stack([Z, Z[:, 1]]), y, None, np.inf, 1e-4, 200) is None
    for rows, config, warning in cases:
        with pytest.warns(warning):
            ours = fit_model(rows, y, None, config)
        reference = fit_model(rows, y, None, config, implementation="scikit-learn")
        assert np.array_equal(ours[-1].coef_, reference[-1].coef_)
        assert np.array_equal(ours[-1].intercept_, reference[-1].intercept_)
        assert np.array_equal(ours[-1].n_iter_, reference[-1].n_iter_)


def test_inputs_outside_the_engines_are_scikit_learns_own_fit():
    # labels other than 0/1 (scikit-learn encodes y == classes_[1]; three classes: multinomial)
    # and negative weights (scikit-learn takes |h|) never reach the transcription
    X, y, w = _problem(np.random.default_rng(4), 200, 3, weighted=True)
    cases = [(2 * y, None), (y + (X[:, 1] > 1), None)]
    cases.append((y, np.where(np.arange(200) % 7 == 0, -0.5, w)))
    for labels, weights in cases:
        Z = (X - X.mean(axis=0)) / X.std(axis=0)
        assert newton_logistic(Z, labels, weights, 1.0, 1e-4, 200) is None
        ours = fit_model(X, labels, weights, rl.OLD)
        reference = fit_model(X, labels, weights, rl.OLD, implementation="scikit-learn")
        assert np.array_equal(ours[-1].classes_, reference[-1].classes_)
        assert np.array_equal(ours[-1].coef_, reference[-1].coef_)
        assert np.array_equal(ours[-1].intercept_, reference[-1].intercept_)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 400), f=st.integers(1, 12))
def test_regime_gram_is_the_dense_product(seed, n, f):
    # regime designs with rows of no regime (-1), regimes absent from the window, zero weights
    # and shifted, scaled features (the centring is where digits go): the dense products to
    # ~1e-13 relative, which the Newton steps cannot tell apart (the test above)
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, f)) * rng.uniform(0.1, 10.0, f) + rng.normal(size=f) * 3
    present = rng.choice(4, size=rng.integers(1, 5), replace=False)
    regimes = np.where(rng.random(n) < 0.1, -1, rng.choice(present, size=n))
    X = regime_design(features, regimes)
    scale = standardize(X)
    Z = (X - scale.mean) / scale.scale
    h = np.where(rng.random(n) < 0.2, 0.0, rng.uniform(0.0, 0.25, n))
    gram, sums = RegimeGram(X, scale.mean, scale.scale)(h)
    root = np.sqrt(h)[:, None] * Z
    dense = root.T @ root
    size = max(1.0, np.max(np.abs(dense)))
    np.testing.assert_allclose(gram, dense, rtol=0, atol=1e-12 * size)
    np.testing.assert_allclose(sums, Z.T @ h, rtol=0, atol=1e-12 * max(1.0, np.abs(Z.T @ h).max()))
    assert np.array_equal(gram, gram.T)


def test_regime_gram_refuses_other_designs():
    X = regime_design(np.ones((5, 3)), np.zeros(5, dtype=np.int64))
    scale = standardize(X)
    with pytest.raises(ValueError, match="regime_design rows"):
        RegimeGram(X[:, :-1], scale.mean[:-1], scale.scale[:-1])
    with pytest.raises(ValueError, match="mean and scale of each column"):
        RegimeGram(X, scale.mean[:-1], scale.scale)


def test_a_step_that_does_not_descend_leaves_the_fit_to_scikit_learn(monkeypatch):
    # a Newton direction uphill (here forced: the solve returns the gradient itself) is where
    # scikit-learn leaves Newton for L-BFGS; ours returns None, so fit_model fits as it does
    X, y, _ = _problem(np.random.default_rng(6), 200, 3, weighted=False)
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    assert newton_logistic(Z, y, None, 1.0, 1e-4, 200) is not None
    monkeypatch.setattr(solver, "solve_symmetric", lambda hessian, rhs: -rhs)
    searched = []
    monkeypatch.setattr(solver, "_line_search", lambda *args: searched.append(1))
    assert newton_logistic(Z, y, None, 1.0, 1e-4, 200) is None
    assert searched == []  # refused at the first step, before any line search


def test_a_line_search_that_finds_no_step_gives_up(monkeypatch):
    # every trial point worse by far more than rounding: 21 halvings (t down to 2^-20), then None
    X, y, _ = _problem(np.random.default_rng(7), 200, 3, weighted=True)
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    calls = []
    honest = solver._loss_gradient

    def worse(target, raw):
        calls.append(1)
        loss, gradient = honest(target, raw)
        return loss + 1.0, gradient

    monkeypatch.setattr(solver, "_loss_gradient", worse)
    assert newton_logistic(Z, y, None, 1.0, 1e-4, 200) is None
    assert len(calls) == solver.LINE_SEARCH_STEPS


def test_the_line_search_takes_a_rounding_level_rise_only_with_a_smaller_gradient():
    # scikit-learn's rule near convergence: a step whose loss rises by rounding only (within 16
    # eps of the loss) is taken if the gradient's L1 norm falls, and never otherwise
    rng = np.random.default_rng(8)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] + rng.normal(size=200) > 0).astype(np.int64)
    total, l2, d = 200.0, 1.0 / 200.0, 3
    coef = np.array([0.3, -0.2, 0.1, 0.05])
    raw = X @ coef[:d] + coef[d]
    step = np.full(d + 1, 1e-13)  # far below the loss's resolution
    trial = coef + step
    pointwise, _ = solver._loss_gradient(y.astype(np.float64), raw + (X @ step[:d] + step[d]))
    trial_loss = float(np.sum(pointwise) / total) + 0.5 * l2 * float(trial[:d] @ trial[:d])
    loss = trial_loss - 4 * solver._EPS * trial_loss  # the trial point is a rounding-level rise
    search = (X, y.astype(np.float64), None, total, l2, coef, raw, loss)
    steep = np.full(d + 1, 10.0)  # the old gradient: far larger than the trial's
    found = solver._line_search(*search, steep, step, -1e-30)
    assert found is not None and np.array_equal(found[0], trial)
    flat = np.zeros(d + 1)  # no trial gradient is smaller than zero: every halving refused
    assert solver._line_search(*search, flat, step, -1e-30) is None


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), d=st.integers(1, 70), definite=st.booleans())
def test_solve_symmetric_is_scipys_solve_bit_for_bit(seed, d, definite):
    # Hessians (definite) and indefinite symmetric matrices, as scikit-learn's Newton step
    # calls scipy.linalg.solve(assume_a="sym"): the same solution to the last bit
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(d + 5, d)) * rng.uniform(0.01, 100.0, d)
    matrix = A.T @ A if definite else (A[:d] + A[:d].T)
    rhs = rng.normal(size=d)
    ours = solver.solve_symmetric(matrix, rhs)
    assert ours is not None
    reference = scipy.linalg.solve(matrix, rhs, check_finite=False, assume_a="sym")
    assert np.array_equal(ours, reference)


def test_solve_symmetric_refuses_where_scipy_raises_or_warns():
    rhs = np.ones(3)
    singular = np.diag([1.0, 0.0, 1.0])
    with pytest.raises(np.linalg.LinAlgError):
        scipy.linalg.solve(singular, rhs, check_finite=False, assume_a="sym")
    assert solver.solve_symmetric(singular, rhs) is None
    for tiny, warns in ((2.2e-16, True), (2.3e-16, False)):  # rcond = tiny: machine eps between
        matrix = np.diag([1.0, tiny, 1.0])
        if warns:
            with pytest.warns(scipy.linalg.LinAlgWarning):
                scipy.linalg.solve(matrix, rhs, check_finite=False, assume_a="sym")
            assert solver.solve_symmetric(matrix, rhs) is None
        else:
            assert solver.solve_symmetric(matrix, rhs) is not None
