"""The model classes (engine.models): registry, the logistic wrapper, gradient boosting, designs.

The LSTM has its own file (tests/test_models_lstm.py, skipped without the optional extra).
"""

from __future__ import annotations

import functools
import importlib
import sys

import numpy as np
import pytest
import skops.io as sio

from retrainlab import NEW, OLD, generate_market
from retrainlab.engine import model as engine_model
from retrainlab.engine.features import compute_features
from retrainlab.engine.fixes.regime_awareness import detect_regimes
from retrainlab.engine.models import MODEL_CLASSES, confidence_target, make_model_class, model_class
from retrainlab.engine.models.gradient_boosting import GradientBoostingModel
from retrainlab.engine.models.logistic import LogisticModel
from retrainlab.engine.real_equities import load_sp500_panel
from retrainlab.engine.walkforward import walk_forward

TABULAR = ("logistic", "gradient_boosting")


@functools.cache
def panel(n_days: int = 160, n_tickers: int = 3, seed: int = 0):
    """(features, regimes, forward 5-day returns) of a small synthetic market."""
    m = generate_market(seed=seed, n_days=n_days, n_tickers=n_tickers)
    close = np.asarray(m.close)
    features = compute_features(m.open, m.high, m.low, close, m.volume)
    forward = np.full(close.shape, np.nan)
    forward[:-5] = close[5:] / close[:-5] - 1.0
    return features, detect_regimes(close), forward


def make_model(name: str, config=NEW, seed: int = 0):
    """An unfitted model of class ``name`` for ``config`` (NEW's feedback loop off: the LSTM
    refuses it), seed ``seed``."""
    return make_model_class(config.replace(model=name, model_seed=seed))


def small(name: str, config=NEW, seed: int = 0):
    """A model of class ``name``; boosting with 20 rounds (fast tests, same code)."""
    model = make_model(name, config, seed=seed)
    if isinstance(model, GradientBoostingModel):
        model.max_iter = 20
    return model


def training_set(model, n: int | None = None):
    features, regimes, forward = panel()
    X = model.design(features, regimes)
    f = forward.reshape(-1)
    ok = np.isfinite(X).all(axis=1) & np.isfinite(f)
    X, f = X[ok][:n], f[ok][:n]
    return X, (f > 0).astype(np.int64), f


# ------------------------------------------------------------------ registry


def test_registry_names_and_default():
    assert MODEL_CLASSES[0] == "logistic"
    assert model_class("logistic") is LogisticModel
    assert model_class("gradient_boosting") is GradientBoostingModel


def test_unknown_name_suggests():
    with pytest.raises(ValueError, match="Did you mean 'gradient_boosting'"):
        model_class("gradient_bosting")
    with pytest.raises(ValueError, match="Valid choices: logistic, gradient_boosting, lstm"):
        model_class("svm")


def test_lstm_without_extra_says_what_to_install(monkeypatch):
    # pretend keras is not installed: a None entry in sys.modules makes `import keras` fail
    monkeypatch.setitem(sys.modules, "keras", None)
    monkeypatch.setitem(sys.modules, "jax", None)
    monkeypatch.delitem(sys.modules, "retrainlab.engine.models.lstm", raising=False)
    with pytest.raises(ModuleNotFoundError, match=r"make setup-lstm.*keras==3\.15\.1"):
        model_class("lstm")
    importlib.invalidate_caches()


# ------------------------------------------------------------------ designs


@pytest.mark.parametrize("name", TABULAR)
@pytest.mark.parametrize("config", [OLD, NEW], ids=["OLD", "NEW"])
def test_design_is_causal_and_row_major(name, config):
    """Row (t, j) of the design uses days <= t only: a truncated panel gives the prefix rows, and
    a single ticker's panel gives that ticker's rows."""
    model = make_model(name, config)
    features, regimes, _ = panel()
    full = model.design(features, regimes)
    k = features.shape[1]
    assert full.shape == (features.shape[0] * k, len(model.design_columns()))
    prefix = model.design(features[:100], regimes[:100])
    np.testing.assert_array_equal(prefix, full[: 100 * k])
    one = model.design(features[:, 1], regimes[:, 1])
    np.testing.assert_array_equal(one, full[1::k])


def test_design_refuses_wrong_shapes():
    model = make_model("gradient_boosting", NEW)
    features, regimes, _ = panel()
    with pytest.raises(ValueError, match="regimes must have shape"):
        model.design(features, regimes[:, 0])
    with pytest.raises(ValueError, match="1 <= n_features <= 11"):
        model.design(np.concatenate([features, features[..., :1]], axis=-1), regimes)
    with pytest.raises(ValueError, match="need X"):
        model.fit(np.zeros((50, 20)), np.arange(50) % 2)


def test_gradient_boosting_runs_on_a_close_only_market():
    """The S&P 500 panel has closes only: the walk-forward drops the two features that read an
    absent field, and the boosted trees fit on the other nine."""
    market = load_sp500_panel(["AAPL", "KO"], start="2022-01-01")
    assert market.absent_fields
    result = walk_forward(market, NEW.replace(model="gradient_boosting"))
    assert np.isfinite(result.returns.to_numpy()).all() and result.returns.abs().sum() > 0


def test_regime_inputs_per_class():
    """regime_awareness: interactions for the logistic model, one-hots only for boosting."""
    for name, extra in (("logistic", 4 + 4 * 11), ("gradient_boosting", 4)):
        assert len(make_model(name, NEW).design_columns()) == 11 + extra
        assert len(make_model(name, OLD).design_columns()) == 11


def test_confidence_target():
    np.testing.assert_allclose(confidence_target([0.0, -0.05, 0.2]), [0.0, 0.5, 1.0])


# ------------------------------------------------------------------ logistic = today's model


@pytest.mark.parametrize("config", [OLD, NEW], ids=["OLD", "NEW"])
def test_logistic_is_todays_model_bit_for_bit(config):
    model = make_model("logistic", config)
    features, regimes, _ = panel()
    n, k, f = features.shape
    X_engine = engine_model.design_matrix(features.reshape(n * k, f), regimes.reshape(-1), config)
    np.testing.assert_array_equal(model.design(features, regimes), X_engine)
    X, y, fwd = training_set(model)
    w = np.abs(fwd) / np.abs(fwd).mean()
    model.fit(X, y, w)
    pipeline = engine_model.fit_model(X, y, w, config)
    np.testing.assert_array_equal(model.predict_proba(X), engine_model.predict_proba(pipeline, X))
    logit = pipeline[-1]
    np.testing.assert_array_equal(
        model.coefficients(), np.append(logit.coef_[0], logit.intercept_[0])
    )
    assert model.n_iter == logit.n_iter_[0]


# ------------------------------------------------------------------ both tabular classes


@pytest.mark.parametrize("name", TABULAR)
def test_deterministic_and_row_independent(name):
    X, y, fwd = training_set(make_model(name, NEW))
    a = small(name, NEW, seed=3).fit(X, y, np.abs(fwd))
    b = small(name, NEW, seed=3).fit(X, y, np.abs(fwd))
    p = a.predict_proba(X)
    np.testing.assert_array_equal(p, b.predict_proba(X))
    assert np.all((p >= 0) & (p <= 1))
    # a row's probability does not depend on the rows predicted with it
    np.testing.assert_array_equal(p[7:8], a.predict_proba(X[7:8]))
    np.testing.assert_array_equal(p[::-1], a.predict_proba(X[::-1]))


@pytest.mark.parametrize("name", TABULAR)
def test_sample_weights_reach_the_loss(name):
    X, y, _ = training_set(make_model(name, OLD))
    plain = small(name, OLD).fit(X, y).predict_proba(X)
    w = np.ones(len(y))
    w[y == 1] = 3.0  # up-weighting the positives must raise the probabilities
    weighted = small(name, OLD).fit(X, y, w).predict_proba(X)
    assert weighted.mean() > plain.mean() + 0.01


@pytest.mark.parametrize("name", TABULAR)
def test_fit_refuses_bad_training_sets(name):
    model = small(name, OLD)
    X, y, _ = training_set(model)
    with pytest.raises(ValueError, match="need X"):
        model.fit(np.hstack([X, X[:, :1]]), y)  # a column more than the design
    with pytest.raises(ValueError, match="NaN"):
        model.fit(np.where(np.arange(X.size).reshape(X.shape) == 5, np.nan, X), y)
    with pytest.raises(ValueError, match="binary labels"):
        model.fit(X, y * 2)
    with pytest.raises(ValueError, match="both classes"):
        model.fit(X, np.ones_like(y))
    with pytest.raises(ValueError, match="not fitted"):
        make_model(name, OLD).predict_proba(X)


def test_gradient_boosting_settings_and_seed_field():
    model = small("gradient_boosting", NEW, seed=5)
    X, y, _ = training_set(model)
    model.fit(X, y)
    assert model.estimator_.early_stopping is False
    assert model.estimator_.random_state == 5
    assert model.n_iter == model.max_iter == 20  # no early stopping: every round is fitted


@pytest.mark.parametrize("name", TABULAR)
def test_skops_round_trip(tmp_path, name):
    model = small(name, NEW)
    X, y, _ = training_set(model)
    model.fit(X, y)
    path = tmp_path / "model.skops"
    sio.dump(model, path)
    loaded = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
