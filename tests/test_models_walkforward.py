"""Every model class in the walk-forward and the facade: ``RetrainConfig.model``.

* the switch: "did you mean", refused combinations;
* causality for every class: perturbing every bar after row T leaves every probability,
  signal, position and daily return at or before T identical, bit for bit (the pattern of
  tests/test_causality.py, a few configurations per class);
* determinism: the same config and market give the same probabilities;
* the facade serves any class: its retrain is the walk-forward's last refit (same
  probabilities, bit for bit), and a new facade on the same state serves the model from its
  skops file.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

import retrainlab as rl
from live_markets import predictable_market
from retrainlab import NEW, OLD, MLIntegration, RetrainConfig, walk_forward
from retrainlab.engine.models import lstm_available
from retrainlab.engine.models.base import ModelClass

BASE = OLD.replace(retrain_every=10, long_window=80, threshold_history=30, threshold_min_history=10)
NEW_ = BASE.with_fixes(*NEW.fixes)
CONFIGS = {
    "gradient_boosting": [
        BASE,
        NEW_,
        BASE.with_fixes("regime_awareness", "profit_weighted_loss"),
    ],
    # no feedback loop: the LSTM refuses it (docs/models.md)
    "lstm": [NEW_.without_fix("feedback_loop")],  # one: an LSTM walk-forward takes ~20 s
}
CASES = [(m, i) for m, configs in CONFIGS.items() for i in range(len(configs))]
T = 137  # between decision dates and refit dates, after several fits of every class

needs_lstm = pytest.mark.skipif(
    not lstm_available(),
    reason="the LSTM extra (keras, jax) is not installed: `make setup-lstm` to run these tests",
)


def marks(model: str) -> list:
    return [needs_lstm] if model == "lstm" else []


@functools.cache
def market():
    return rl.generate_market(seed=0, n_days=220, n_tickers=3, edge=1.0)


@functools.cache
def run(model: str, i: int, perturb_after: int | None = None):
    m = market() if perturb_after is None else market().perturb_after(perturb_after, seed=1)
    return walk_forward(m, CONFIGS[model][i].replace(model=model))


# ------------------------------------------------------------------ the switch


def test_model_switch_names_and_refusals():
    assert RetrainConfig().model == "logistic"
    assert OLD.replace(model="gradient_boosting").model == "gradient_boosting"
    with pytest.raises(ValueError, match="Did you mean 'gradient_boosting'"):
        OLD.replace(model="gradientboosting")
    with pytest.raises(ValueError, match="feedback_loop cannot apply to model='lstm'"):
        NEW.replace(model="lstm")
    with pytest.raises(ValueError, match="configure the logistic model only"):
        OLD.replace(model="gradient_boosting", C=0.5)
    with pytest.raises(ValueError, match="model_seed"):
        OLD.replace(model_seed=-1)
    # the model is part of the config's identity (caches, results files, model files)
    assert OLD.replace(model="gradient_boosting").key() != OLD.key()


# ------------------------------------------------------------------ causality and determinism


@pytest.mark.parametrize(
    ("model", "i"), [pytest.param(m, i, marks=marks(m), id=f"{m}-{i}") for m, i in CASES]
)
def test_causality_every_model_class(model, i):
    a, b = run(model, i), run(model, i, perturb_after=T)
    end = a.positions.index[T]
    assert a.metrics["n_fits"] >= 5
    probs = a.probabilities.loc[:end]
    assert np.isfinite(probs.to_numpy()).any()  # the model did decide before T
    for name in ("probabilities", "positions"):
        np.testing.assert_array_equal(
            getattr(a, name).loc[:end].to_numpy(), getattr(b, name).loc[:end].to_numpy()
        )
    np.testing.assert_array_equal(a.signals.loc[:end].to_numpy(), b.signals.loc[:end].to_numpy())
    np.testing.assert_array_equal(a.returns.loc[:end].to_numpy(), b.returns.loc[:end].to_numpy())
    # the perturbation does reach the later decisions (the test can fail)
    after = a.probabilities.index[T + 10 :]
    assert not np.array_equal(
        a.probabilities.loc[after].to_numpy(), b.probabilities.loc[after].to_numpy(), equal_nan=True
    )


@pytest.mark.parametrize(
    "model", [pytest.param(m, marks=marks(m)) for m in ("gradient_boosting", "lstm")]
)
def test_same_config_same_probabilities(model):
    config = CONFIGS[model][0].replace(model=model)
    a = walk_forward(market(), config)
    np.testing.assert_array_equal(
        a.probabilities.to_numpy(), run(model, 0).probabilities.to_numpy()
    )
    assert a.coefficients.empty and a.metrics["n_fits"] == run(model, 0).metrics["n_fits"]


def test_logistic_switch_is_todays_model():
    """model="logistic" is the default: the same result as before the switch existed."""
    a = walk_forward(market(), BASE)
    b = walk_forward(market(), BASE.replace(model="logistic"))
    np.testing.assert_array_equal(a.probabilities.to_numpy(), b.probabilities.to_numpy())
    assert not a.coefficients.empty


# ------------------------------------------------------------------ the facade


@pytest.mark.parametrize(
    "model", [pytest.param(m, marks=marks(m)) for m in ("gradient_boosting", "lstm")]
)
def test_facade_serves_every_model_class(tmp_path, model):
    config = NEW.without_fix("feedback_loop").replace(model=model)
    n_days = 60 + 105 + 1  # the last row is both a refit and a decision date
    # a market the model can learn, so the retrain passes the facade's promotion rule
    market_ = predictable_market(seed=11, n_days=n_days, n_tickers=3)
    result = walk_forward(market_, config)
    assert result.fits.iloc[-1]["date"] == market_.dates[-1]
    expected = result.probabilities.iloc[-1].to_numpy()
    assert np.isfinite(expected).all()
    with MLIntegration(tmp_path, config=config) as ml:
        report = ml.trigger_retraining(market_)
        assert report.ok, report.reason
        kind = type(ml.model)
        assert issubclass(kind, ModelClass) and kind.name == model
        served = [ml.get_signal(t, market_.ohlcv(j))[1] for j, t in enumerate(market_.tickers)]
    # the facade's retrain is the walk-forward's last refit, bit for bit
    np.testing.assert_array_equal(served, expected)
    with MLIntegration(tmp_path, config=config) as again:  # loads the skops model file
        assert type(again.model) is kind
        reloaded = [again.get_signal(t, market_.ohlcv(j))[1] for j, t in enumerate(market_.tickers)]
    np.testing.assert_array_equal(reloaded, expected)
