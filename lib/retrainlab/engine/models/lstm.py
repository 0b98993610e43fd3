"""``"lstm"``: the seed's own network (``EnhancedMLRetrainer``), Keras 3 on the JAX backend, CPU.

Architecture, exactly as the seed configures it::

    20-day sequence of standardised features -> LSTM(64, return sequences) -> Dropout 0.3
      -> LSTM(32) -> Dropout 0.2 -> concat one-hot regime (4) -> Dense 32 relu -> Dropout 0.2
      -> Dense 16 relu -> direction: Dense 1 sigmoid (binary cross-entropy, weight 1.0)
                       -> confidence: Dense 1 sigmoid (MSE on clip(10 |forward return|, 0, 1),
                                       weight 0.3)
    Adam (learning rate 5e-4), 10 epochs, batch 64, validation split 0.2, shuffled each epoch.

How the seed's ``model.fit`` is reproduced, and why it is written as a loop of our own:

* *Validation split.* Keras holds out the **last** 20 % of the arrays as given (before
  shuffling) and trains on the rest; nothing uses the validation loss (no early stopping), so
  its only effect is that the newest 20 % of the window is not trained on. Kept as is
  (``validation_loss_`` reports it). Rows appended after the market samples (fed-back trades)
  fall in that held-out part first: with this network the feedback loop mostly does not train.
* *Loss.* Per batch, ``mean(w * bce) + 0.3 * mean(w * mse)`` over the batch's samples (Keras's
  "sum over batch size" reduction with one ``sample_weight`` for both heads); the last batch of
  an epoch is the remainder, as in Keras.
* *Speed.* A Keras ``fit`` retraces and recompiles per model and per data shape (4-6 s a fit,
  mostly compilation). Here the network is built once per (seed, feature count) and process;
  every fit restarts from the **same seeded initial weights**, fresh Adam moments and the same
  dropout/shuffle keys, and runs one jitted function (all epochs: ``lax.scan`` over epochs,
  ``fori_loop`` over that fit's batches) on the training set padded to a fixed capacity (512
  rows times a power of two; padding rows have weight 0 and are never drawn into a batch). A new
  capacity compiles once; refits of similar size reuse it. Prediction runs in fixed chunks of
  ``PREDICT_CHUNK`` rows, so a row's probability never depends on how many rows come with it.
* *Determinism.* A fit is a pure function of (training set, seed): same seed, same weights,
  bit for bit on one machine (float32; across CPUs results agree to float32 rounding, not bits).

The input row of ``design`` is the flattened 20 x 11 window of base features (days t-19..t,
oldest first) followed by the 4 regime one-hots (zeros without ``regime_awareness``: the
architecture keeps its regime input, the switch decides whether it carries information).
Features are standardised with the training rows' mean and standard deviation per feature.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np

from retrainlab.engine.config import RetrainConfig
from retrainlab.engine.features import FEATURE_NAMES
from retrainlab.engine.hooks import hooks_for
from retrainlab.engine.models.base import (
    INSTALL_HINT,
    ModelClass,
    check_panel,
    check_training_set,
    lstm_available,
)
from retrainlab.engine.regimes import REGIMES

if not lstm_available():  # the optional extra is not installed: say what to install
    raise ModuleNotFoundError(INSTALL_HINT)
# Keras reads its backend once, at import: JAX on the CPU, whatever else the machine has.
os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402

#: Days per input sequence.
SEQUENCE_LENGTH: int = 20
#: Training sets are padded to this many rows times a power of two (one compilation each).
CAPACITY_STEP: int = 512  # smallest capacity; larger ones double
#: Rows per prediction call (fixed shape).
PREDICT_CHUNK: int = 512
#: The seed's loss weights of the two heads.
LOSS_WEIGHTS: tuple[float, float] = (1.0, 0.3)


def _build_network(n_features: int, seed: int) -> keras.Model:
    """The seed's two-headed network, with initial weights drawn from ``seed``."""
    if keras.config.backend() != "jax":
        raise RuntimeError(
            f"keras was imported with the {keras.config.backend()!r} backend before retrainlab "
            "could choose JAX; set KERAS_BACKEND=jax before importing keras"
        )
    layers = keras.layers
    keras.utils.set_random_seed(seed)
    seq = keras.Input((SEQUENCE_LENGTH, n_features), name="sequence")
    regime = keras.Input((len(REGIMES),), name="regime")
    x = layers.LSTM(64, return_sequences=True, seed=seed)(seq)
    x = layers.Dropout(0.3, seed=seed + 1)(x)
    x = layers.LSTM(32, seed=seed + 2)(x)
    x = layers.Dropout(0.2, seed=seed + 3)(x)
    x = layers.Concatenate()([x, regime])
    x = layers.Dense(32, activation="relu")(x)
    x = layers.Dropout(0.2, seed=seed + 4)(x)
    x = layers.Dense(16, activation="relu")(x)
    direction = layers.Dense(1, activation="sigmoid", name="direction")(x)
    confidence = layers.Dense(1, activation="sigmoid", name="confidence")(x)
    return keras.Model([seq, regime], [direction, confidence], name="seed_lstm")


class _Network:
    """One built network with its jitted training and prediction functions (one per process and
    (seed, feature count); ``LSTMModel`` instances share it and keep only arrays)."""

    def __init__(self, n_features: int, seed: int, epochs: int, batch_size: int, lr: float):
        self.model = _build_network(n_features, seed)
        self.optimizer = keras.optimizers.Adam(learning_rate=lr)
        self.optimizer.build(self.model.trainable_variables)
        self.init_trainable = [jnp.asarray(v.value) for v in self.model.trainable_variables]
        self.init_non_trainable = [jnp.asarray(v.value) for v in self.model.non_trainable_variables]
        self.init_optimizer = [jnp.asarray(v.value) for v in self.optimizer.variables]
        self.key = jax.random.PRNGKey(seed)
        self.epochs, self.batch = epochs, batch_size
        self.train = jax.jit(self._train)
        self.predict = jax.jit(self._predict)

    def _loss(self, trainable, non_trainable, seq, reg, y, conf, w, cw, count):
        (p_dir, p_conf), non_trainable = self.model.stateless_call(
            trainable, non_trainable, [seq, reg], training=True
        )
        eps = 1e-7  # Keras's clipping of probabilities in binary cross-entropy
        p = jnp.clip(p_dir[:, 0], eps, 1.0 - eps)
        bce = -(y * jnp.log(p) + (1.0 - y) * jnp.log(1.0 - p))
        mse = (conf - p_conf[:, 0]) ** 2
        loss = (LOSS_WEIGHTS[0] * jnp.sum(w * bce) + LOSS_WEIGHTS[1] * jnp.sum(cw * mse)) / count
        return loss, non_trainable

    def _train(self, seq, reg, y, conf, w, cw, n_train):
        capacity, batch = seq.shape[0], self.batch
        n_batches = (n_train + batch - 1) // batch
        rows = jnp.arange(capacity)
        grad = jax.value_and_grad(self._loss, has_aux=True)

        def epoch(carry, key):
            # shuffle the training rows; the others (validation, padding) sort after them
            order = jnp.argsort(
                jnp.where(rows < n_train, jax.random.uniform(key, (capacity,)), 2.0)
            )

            def step(i, carry):
                trainable, non_trainable, opt = carry
                idx = jax.lax.dynamic_slice(order, (i * batch,), (batch,))
                real = (idx < n_train).astype(jnp.float32)
                count = jnp.sum(real)
                (_, non_trainable), grads = grad(
                    trainable, non_trainable, seq[idx], reg[idx], y[idx], conf[idx],
                    w[idx] * real, cw[idx] * real, count,
                )  # fmt: skip
                trainable, opt = self.optimizer.stateless_apply(opt, grads, trainable)
                return trainable, non_trainable, opt

            return jax.lax.fori_loop(0, n_batches, step, carry), None

        start = (self.init_trainable, self.init_non_trainable, self.init_optimizer)
        (trainable, _, _), _ = jax.lax.scan(epoch, start, jax.random.split(self.key, self.epochs))
        return trainable

    def _predict(self, trainable, seq, reg):
        (p_dir, p_conf), _ = self.model.stateless_call(
            trainable, self.init_non_trainable, [seq, reg], training=False
        )
        return p_dir[:, 0], p_conf[:, 0]


@functools.cache
def _network(n_features: int, seed: int, epochs: int, batch_size: int, lr: float) -> _Network:
    return _Network(n_features, seed, epochs, batch_size, lr)


def sequence_design(features: np.ndarray) -> np.ndarray:
    """(n_days, [n_tickers,] f) -> (n_days * n_tickers, SEQUENCE_LENGTH * f): row (t, j) is days
    t-19..t of ticker j (oldest first), NaN for the first 19 days."""
    panel = features if features.ndim == 3 else features[:, None, :]
    n, k, f = panel.shape
    out = np.full((n, k, SEQUENCE_LENGTH, f), np.nan, dtype=np.float32)
    for s in range(SEQUENCE_LENGTH):
        lag = SEQUENCE_LENGTH - 1 - s
        if lag < n:
            out[lag:, :, s] = panel[: n - lag]
    return out.reshape(n * k, SEQUENCE_LENGTH * f)


@dataclass
class LSTMModel(ModelClass):
    """The seed's LSTM (module docstring). Learned state: ``weights_`` (numpy arrays, in the
    network's trainable-variable order), ``mean_``/``scale_`` of the features."""

    name: ClassVar[str] = "lstm"
    history: ClassVar[int] = SEQUENCE_LENGTH

    config: RetrainConfig
    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 5e-4
    validation_split: float = 0.2

    @property
    def seed(self) -> int:
        return self.config.model_seed

    @property
    def n_features(self) -> int:
        # learned at fit from X's width: a close-only market drops the features reading an
        # absent field (features.usable_features); every feature before a fit
        return getattr(self, "n_features_", len(FEATURE_NAMES))

    def _width(self, n_features: int) -> int:
        return SEQUENCE_LENGTH * n_features + len(REGIMES)

    def _network(self) -> _Network:
        return _network(
            self.n_features, self.seed, self.epochs, self.batch_size, self.learning_rate
        )

    def design(self, features: np.ndarray, regimes: np.ndarray) -> np.ndarray:
        features, regimes = check_panel(features, regimes)
        seq = sequence_design(features)
        # the regime input: what the design hook adds after the base features (the one-hots
        # with regime_awareness), else zeros
        f = features.shape[-1]
        flat = features.reshape(-1, f)
        extra = hooks_for(self.config).design(flat, regimes.reshape(-1))[:, f:]
        reg = np.zeros((len(seq), len(REGIMES)), dtype=np.float32)
        reg[:, : extra.shape[1]] = extra
        return np.concatenate([seq, reg], axis=1)

    def design_columns(self) -> list[str]:
        lags = [f"{name}[t-{SEQUENCE_LENGTH - 1 - s}]" for s in range(SEQUENCE_LENGTH)
                for name in FEATURE_NAMES]  # fmt: skip
        return [*lags, *(f"regime_{r}" for r in REGIMES)]

    def _inputs(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Standardised sequences (n, L, f) and regime one-hots (n, 4), float32."""
        f = self.n_features
        X = np.asarray(X, dtype=np.float32)
        seq = X[:, : SEQUENCE_LENGTH * f].reshape(len(X), SEQUENCE_LENGTH, f)
        seq = (seq - self.mean_) / self.scale_
        return seq.astype(np.float32), np.ascontiguousarray(X[:, SEQUENCE_LENGTH * f :])

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        sample_weight: np.ndarray | None = None,
        confidence: np.ndarray | None = None,
    ) -> Self:
        """Fit the network from its seeded initial weights (module docstring). ``confidence``:
        the confidence head's targets in [0, 1] (``base.confidence_target`` of the forward
        returns; for fed-back trades their confidence); None trains that head on nothing."""
        width = np.shape(X)[1] if np.ndim(X) == 2 else 0
        f = max(1, min((width - len(REGIMES)) // SEQUENCE_LENGTH, len(FEATURE_NAMES)))
        X, y, sample_weight = check_training_set(X, y, sample_weight, self._width(f))
        self.n_features_ = f
        n = len(y)
        if n < self.config.min_train_samples or not 0 < np.count_nonzero(y) < n:
            raise ValueError(
                f"cannot fit: {n} samples (need {self.config.min_train_samples}) with "
                f"{np.count_nonzero(y)} positive labels (need both classes)"
            )
        w = np.ones(n) if sample_weight is None else sample_weight
        if confidence is None:
            conf, conf_w = np.zeros(n), 0.0
        else:
            conf = np.asarray(confidence, dtype=np.float64)
            if conf.shape != (n,) or np.any(~((conf >= 0) & (conf <= 1))):
                raise ValueError("confidence targets must be (n,) values in [0, 1]")
            conf_w = 1.0
        f = self.n_features
        seq = np.asarray(X[:, : SEQUENCE_LENGTH * f], dtype=np.float64).reshape(-1, f)
        self.mean_ = seq.mean(axis=0).astype(np.float32)
        scale = seq.std(axis=0)
        self.scale_ = np.where(scale > 0, scale, 1.0).astype(np.float32)
        n_train = int(np.floor(n * (1.0 - self.validation_split)))  # Keras's split point
        if n_train < 1:
            raise ValueError(f"cannot fit: {n} samples leave no training rows after the split")

        seq_in, reg_in = self._inputs(X)
        capacity = _capacity(n)
        pad = capacity - n
        net = self._network()
        trainable = net.train(
            _pad(seq_in, pad),
            _pad(reg_in, pad),
            _pad(y.astype(np.float32), pad),
            _pad(conf.astype(np.float32), pad),
            _pad(w.astype(np.float32), pad),
            _pad((w * conf_w).astype(np.float32), pad),
            np.int32(n_train),
        )
        self.weights_ = [np.asarray(v) for v in trainable]
        self.n_iter_ = self.epochs * (-(-n_train // self.batch_size))
        self.n_train_ = n_train
        self.fitted_ = True
        self.validation_loss_ = float("nan")
        if n_train < n:
            p = self.predict_proba(X[n_train:])
            yv = y[n_train:]
            pc = np.clip(p, 1e-7, 1 - 1e-7)
            self.validation_loss_ = float(-np.mean(yv * np.log(pc) + (1 - yv) * np.log(1 - pc)))
        return self

    def _predict_both(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self._check_fitted()
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self._width(self.n_features):
            raise ValueError(f"need X (n, {self._width(self.n_features)}), got {X.shape}")
        seq, reg = self._inputs(X)
        net = self._network()
        weights = [jnp.asarray(v) for v in self.weights_]
        p_dir, p_conf = np.empty(len(X)), np.empty(len(X))
        for start in range(0, len(X), PREDICT_CHUNK):
            stop = min(start + PREDICT_CHUNK, len(X))
            pad = PREDICT_CHUNK - (stop - start)
            d, c = net.predict(weights, _pad(seq[start:stop], pad), _pad(reg[start:stop], pad))
            p_dir[start:stop] = np.asarray(d, dtype=np.float64)[: stop - start]
            p_conf[start:stop] = np.asarray(c, dtype=np.float64)[: stop - start]
        return p_dir, p_conf

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self._predict_both(X)[0]

    def predict_confidence(self, X: np.ndarray) -> np.ndarray:
        """The confidence head's output (recorded by the seed; sizing uses m(p) instead)."""
        return self._predict_both(X)[1]

    # skops / copying: arrays and settings only, never the Keras objects
    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _capacity(n: int) -> int:
    """Rows a training set of ``n`` is padded to: ``CAPACITY_STEP`` doubled until it holds ``n``
    (a handful of shapes, so a handful of compilations per process)."""
    capacity = CAPACITY_STEP
    while capacity < n:
        capacity *= 2
    return capacity


def _pad(a: np.ndarray, rows: int) -> np.ndarray:
    """``a`` with ``rows`` zero rows appended (float32)."""
    a = np.asarray(a, dtype=np.float32)
    if rows == 0:
        return a
    return np.concatenate([a, np.zeros((rows, *a.shape[1:]), dtype=np.float32)])
