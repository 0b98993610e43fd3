"""The seed's LSTM (engine.models.lstm): skipped, with the reason, without the optional extra.

Small sets (a few hundred rows: one compiled shape) keep this file at a few seconds after the
one-time compilation.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import skops.io as sio

from retrainlab import NEW, OLD, generate_market
from retrainlab.engine.features import FEATURE_NAMES, compute_features
from retrainlab.engine.fixes.regime_awareness import detect_regimes
from retrainlab.engine.models import confidence_target, lstm_available, make_model_class

pytestmark = pytest.mark.skipif(
    not lstm_available(),
    reason="the LSTM extra (keras, jax) is not installed: `make setup-lstm` to run these tests",
)


NEW = NEW.without_fix("feedback_loop")  # the LSTM refuses the feedback loop (docs/models.md)


def make_model(name: str, config, seed: int = 0):
    return make_model_class(config.replace(model=name, model_seed=seed))


@functools.cache
def data(config=NEW, n: int = 300):
    m = generate_market(seed=0, n_days=200, n_tickers=3)
    close = np.asarray(m.close)
    features = compute_features(m.open, m.high, m.low, close, m.volume)
    forward = np.full(close.shape, np.nan)
    forward[:-5] = close[5:] / close[:-5] - 1.0
    model = make_model("lstm", config)
    X = model.design(features, detect_regimes(close))
    f = forward.reshape(-1)
    ok = np.isfinite(X).all(axis=1) & np.isfinite(f)
    return X[ok][:n], (f[ok][:n] > 0).astype(np.int64), f[ok][:n], features


def fit(config=NEW, seed: int = 0, **changes):
    X, y, f, _ = data(config)
    args = {"sample_weight": None, "confidence": confidence_target(f)} | changes
    model = make_model("lstm", config, seed=seed)
    return model.fit(X, args.pop("y", y), **args), X


def test_architecture_is_the_seeds():
    model, _ = fit()
    net = model._network().model
    kinds = [type(layer).__name__ for layer in net.layers]
    assert kinds.count("LSTM") == 2 and kinds.count("Dropout") == 3
    units = [layer.units for layer in net.layers if type(layer).__name__ in ("LSTM", "Dense")]
    assert units == [64, 32, 32, 16, 1, 1]
    rates = [layer.rate for layer in net.layers if type(layer).__name__ == "Dropout"]
    assert rates == [0.3, 0.2, 0.2]
    assert net.input_shape == [(None, 20, len(FEATURE_NAMES)), (None, 4)]
    assert [layer.name for layer in net.layers[-2:]] == ["direction", "confidence"]
    # 10 epochs over the 80 % training part in batches of 64
    assert model.n_train_ == 240 and model.n_iter == 10 * 4


def test_design_rows_are_20_day_windows():
    X, _, _, features = data()
    model = make_model("lstm", NEW)
    regimes = np.zeros(features.shape[:2], dtype=np.int64)
    full = model.design(features, regimes)
    k = features.shape[1]
    row = full[100 * k + 2]  # day 100, ticker 2
    np.testing.assert_allclose(row[: 20 * 11].reshape(20, 11), features[81:101, 2], rtol=1e-6)
    np.testing.assert_array_equal(row[-4:], [1, 0, 0, 0])
    assert np.isnan(full[18 * k]).any() and not np.isnan(full[79 * k]).any()
    # prefix property: truncating the panel gives the prefix rows
    np.testing.assert_array_equal(model.design(features[:90], regimes[:90]), full[: 90 * k])
    # without regime_awareness the regime input is all zeros
    assert not make_model("lstm", OLD).design(features, regimes)[:, -4:].any()


def test_deterministic_same_seed_and_seed_matters():
    a, X = fit(seed=0)
    b, _ = fit(seed=0)
    p = a.predict_proba(X)
    np.testing.assert_array_equal(p, b.predict_proba(X))
    assert np.all((p > 0) & (p < 1)) and p.std() > 1e-4
    c, _ = fit(seed=1)
    assert not np.array_equal(p, c.predict_proba(X))


def test_prediction_of_a_row_does_not_depend_on_the_others():
    model, X = fit()
    p = model.predict_proba(X)
    np.testing.assert_array_equal(p[5:6], model.predict_proba(X[5:6]))
    np.testing.assert_array_equal(p[:100], model.predict_proba(X[:100]))


def test_validation_split_is_kerass_last_20_percent():
    """The last 20 % of the rows are held out of training: their labels change nothing."""
    X, y, f, _ = data()
    a, _ = fit()
    y2 = y.copy()
    y2[240:] = 1 - y2[240:]
    b, _ = fit(y=y2)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert np.isfinite(a.validation_loss_)
    y3 = y.copy()
    y3[:10] = 1 - y3[:10]
    c, _ = fit(y=y3)
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))


def test_sample_weights_and_confidence_targets_reach_the_loss():
    X, y, f, _ = data()
    base, _ = fit()
    p = base.predict_proba(X)
    w = np.where(y == 1, 3.0, 1.0)
    weighted, _ = fit(sample_weight=w)
    assert weighted.predict_proba(X).mean() > p.mean()
    no_confidence, _ = fit(confidence=None)
    assert not np.array_equal(no_confidence.predict_proba(X), p)
    head = base.predict_confidence(X)
    assert head.shape == p.shape and np.all((head >= 0) & (head <= 1))


def test_refuses_bad_input():
    X, y, f, _ = data()
    model = make_model("lstm", NEW)
    with pytest.raises(ValueError, match="both classes"):
        model.fit(X, np.zeros_like(y))
    with pytest.raises(ValueError, match=r"confidence targets"):
        model.fit(X, y, confidence=np.full(len(y), 2.0))
    with pytest.raises(ValueError, match="not fitted"):
        model.predict_proba(X)


def test_fits_on_fewer_features_as_a_close_only_market_gives():
    """A close-only market drops the features reading an absent field: the network takes the
    feature count from the rows it is fitted on, and refuses rows of another width."""
    X, y, f, features = data()
    model = make_model("lstm", NEW)
    keep = [i for i, name in enumerate(FEATURE_NAMES) if name not in ("hl_range", "volume_ratio")]
    close_only = model.design(features[..., keep], np.zeros(features.shape[:-1], dtype=np.int64))
    rows = close_only[np.isfinite(close_only).all(axis=1)][: len(y)]
    model.fit(rows, y[: len(rows)], confidence=confidence_target(f[: len(rows)]))
    assert model.n_features == len(keep)
    p = model.predict_proba(rows)
    assert p.shape == (len(rows),) and np.all((p > 0) & (p < 1))
    with pytest.raises(ValueError, match="need X"):
        model.predict_proba(X)


def test_skops_round_trip_holds_arrays_only(tmp_path):
    model, X = fit()
    path = tmp_path / "lstm.skops"
    sio.dump(model, path)
    untrusted = sio.get_untrusted_types(file=path)
    # the model class and its RetrainConfig: no Keras object, no pickle
    assert untrusted == [
        "retrainlab.engine.config.RetrainConfig",
        "retrainlab.engine.models.lstm.LSTMModel",
    ]
    loaded = sio.load(path, trusted=untrusted)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
