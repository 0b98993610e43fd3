"""The production facade: signals, trade feedback and retraining that persist and can be trusted.

A trading engine calls four things (the published report's "How to Use", made real)::

    from retrainlab import get_ml_signal, record_trade, get_ml_stats, MLIntegration

    signal, prob, conf = get_ml_signal("AAPL", price_data)   # ("long", 0.62, 0.45)
    record_trade("AAPL", "long", entry=150.0, exit_price=155.0, size=10_000)
    report = MLIntegration.get_instance().trigger_retraining()
    stats = get_ml_stats()

The model is the walk-forward's model, trained the walk-forward's way, through the engine's own
functions: ``features.compute_features``, ``fixes.regime_awareness.detect_regimes``,
``model.design_matrix``, ``fixes.profit_weighted_loss.training_weights``,
``fixes.feedback_loop.feedback_samples`` and ``model.fit_model``. A retrain at the last bar R of
each history uses exactly the samples the walk-forward would use at a refit on R (rows
``R - train_window <= t <= R - horizon`` with every design column finite, pooled across symbols
in (time, symbol) order, weights scaled to mean 1 over the pool) plus the recorded outcomes as
feedback samples (label: the underlying rose; weight ``(1 + 5|pnl|) x 1.5 if a loss``). With
equal calendars this is the walk-forward's model bit for bit (tested).

Decisions made here (documented in the README section "Use in a trading engine"):

* **State directory** (``state_dir=``, else ``$RETRAINLAB_STATE_DIR``, else the user data folder
  from ``platformdirs``) holds ``state.db`` (see ``retrainlab.store``: trades, prediction log,
  retrain history, and the latest price history per symbol as Parquet bytes) and
  ``models/model-NNNNNN.skops``. A state directory is bound to the ``RetrainConfig`` it was
  created with; opening it with another config is refused.
* **Model files** are written with ``skops.io.dump`` to a temporary file, fsynced and renamed
  (atomic); the database's ``meta.model_version`` then points at the new file in one
  transaction, so a reader sees the old or the new model, never half of one. Loading audits
  ``skops.io.get_untrusted_types`` and passes exactly ``TRUSTED_TYPES`` (never
  ``trusted=True``); a file holding any other type is refused.
* **Thresholds** (``AdaptiveThresholds`` when the config has ``adaptive_thresholds``) are saved
  with each model (``get_state``) together with the id of the last logged prediction they had
  seen; afterwards they are the snapshot plus every *model* probability logged since, replayed
  in log order. Every process and thread therefore derives the same thresholds from the same
  database, and a restart continues with exactly the same ones. A signal is classified with the
  thresholds in force, then its probability joins the history (observe after classify, as in
  the walk-forward; the facade observes one signal at a time instead of one decision date).
* **Fallback.** With no trained model, or fewer bars than the features need (``MIN_HISTORY``),
  a momentum rule answers: ``p = Phi(z)``, ``z`` the t-statistic of the mean daily log return
  over the last ``FALLBACK_LOOKBACK`` bars, classified with the base thresholds (0.55 / 0.45
  for adaptive configs, else the static 0.52 / 0.48). The prediction log marks it ``fallback``
  with the reason.
* **Trade matching.** ``record_trade`` takes the features, regime, probability and confidence
  of the latest prediction logged for the symbol (at or before ``entry_time`` when given;
  times are UTC, naive times are taken as UTC). Without a matching prediction, or when that
  prediction had too few bars for the features, the trade is stored without features and
  cannot feed training (the retrain report counts them). ``size`` is the position's notional;
  P&L = ``size * pnl_pct``.
* **Retrain data.** ``trigger_retraining()`` uses the latest history stored per symbol (every
  ``get_signal`` call stores its ``price_data`` when it changed); ``price_data=`` (a dict
  ``{symbol: history}`` or a ``Market``) is used instead and not stored. Every recorded trade
  is closed, so all of them are candidates; when every history has dates, only trades that
  entered inside the training window are used (``since``, as in the walk-forward).
* **Validation.** Before the served fit, the most recent ``HOLDOUT_FRACTION`` of the sample
  rows (time-ordered, aligned at each history's last bar) is held out; a model fitted on the
  earlier rows, purged by the horizon (train rows ``t + h <= T0``, T0 the first held-out
  row), with the feedback outcomes that closed before T0, is scored on it (log-loss, accuracy,
  AUC, base rate). The served model is then refit on all samples.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import threading
import time
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from retrainlab.common.jsonio import jsonable
from retrainlab.common.names import suggest
from retrainlab.engine.config import NEW, RetrainConfig
from retrainlab.engine.features import MIN_HISTORY, compute_features
from retrainlab.engine.fixes.adaptive_thresholds import (
    AdaptiveThresholds,
    classify,
    static_thresholds,
)
from retrainlab.engine.fixes.confidence_sizing import confidence, position_size
from retrainlab.engine.fixes.feedback_loop import DIRECTIONS, TradeOutcome, feedback_samples
from retrainlab.engine.fixes.regime_awareness import detect_regimes
from retrainlab.engine.model import can_fit, design_columns, design_panel, predict_proba
from retrainlab.engine.models import confidence_target
from retrainlab.live.inputs import Bars, as_bars, as_histories, check_symbol
from retrainlab.live.models import MODEL_FORMAT, load_model_file, save_model_file
from retrainlab.live.records import (
    SIGNALS,
    RetrainReport,
    Signal,
    fallback_thresholds,
    momentum_probability,
)
from retrainlab.live.store import (
    DATABASE_NAME,
    NotAStateDatabase,
    StateStore,
    as_utc,
    blob_vector,
    real,
    text_time,
    time_text,
    utc_now,
    vector_blob,
)
from retrainlab.live.training import (
    MarketSamples,
    assemble,
    fit_one_thread,
    market_samples,
    no_feedback,
    validate_holdout,
)

__all__ = [
    "ENV_STATE_DIR",
    "Bars",
    "MLIntegration",
    "MarketSamples",
    "NotAStateDatabase",
    "RetrainReport",
    "Signal",
    "as_bars",
    "as_histories",
    "default_state_dir",
    "get_ml_signal",
    "get_ml_stats",
    "jsonable",
    "market_samples",
    "momentum_probability",
    "record_trade",
    "trigger_retraining",
]

#: Environment variable naming the state directory of ``MLIntegration.get_instance()``.
ENV_STATE_DIR: str = "RETRAINLAB_STATE_DIR"
#: Model files kept besides the current one (older ones are deleted after a retrain).
KEEP_MODELS: int = 3


# ============================================================================ the facade


def default_state_dir() -> Path:
    """``$RETRAINLAB_STATE_DIR`` if set, else ``<user data dir>/retrainlab/facade``."""
    env = os.environ.get(ENV_STATE_DIR)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("retrainlab", appauthor=False)) / "facade"


def _positive(value: Any, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if x <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return x


def _direction(direction: Any) -> str:
    if not isinstance(direction, str):
        raise TypeError(f"direction must be 'long' or 'short', got {direction!r}")
    key = direction.strip().lower()
    if key not in DIRECTIONS:
        raise ValueError(
            f"unknown trade direction {direction!r}.{suggest(key, DIRECTIONS)} "
            f"Valid choices: {', '.join(DIRECTIONS)}."
        )
    return key


class MLIntegration:
    """Signals, trade feedback and retraining for a live trading loop, persisted in a state
    directory (see the module docstring for every decision).

    Parameters
    ----------
    state_dir : folder of ``state.db`` and the model files; default ``default_state_dir()``.
    config : the ``RetrainConfig`` of the system; default: the one the state directory was
        created with, or ``NEW`` for a new directory. Another config than the directory's is
        refused (``ValueError``): a model and its thresholds belong to one configuration.

    Every public method is thread-safe; several processes may share one state directory.
    ``MLIntegration.get_instance()`` is the shared instance the module-level functions use.
    """

    _instance: ClassVar[MLIntegration | None] = None
    _instance_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self, state_dir: str | Path | None = None, config: RetrainConfig | None = None
    ) -> None:
        if config is not None and not isinstance(config, RetrainConfig):
            raise TypeError(f"config must be a RetrainConfig, got {type(config).__name__}")
        self.state_dir = (
            Path(state_dir).expanduser() if state_dir is not None else default_state_dir()
        )
        if self.state_dir.exists() and not self.state_dir.is_dir():
            raise ValueError(f"state_dir {self.state_dir} exists and is not a directory")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._store = StateStore(self.state_dir / DATABASE_NAME, config=(config or NEW).to_dict())
        try:
            self.config = self._bind_config(config)
            self._lock = threading.RLock()
            self._retrain_lock = threading.Lock()
            self._model: Any = None
            self._model_info: dict[str, Any] = {}
            self._pointer: str | None = None
            self._thresholds: AdaptiveThresholds | None = None
            self._seen_id = 0
            self._reset_thresholds(None, 0)
            with self._lock:
                self._refresh()
        except BaseException:
            self._store.close()
            raise

    def _bind_config(self, config: RetrainConfig | None) -> RetrainConfig:
        stored = json.loads(self._store.get_meta("config") or "{}")
        bound = RetrainConfig.from_dict(stored) if stored else NEW
        if config is not None and config != bound:
            differ = sorted(k for k, v in config.to_dict().items() if stored.get(k) != v)
            raise ValueError(
                f"state directory {self.state_dir} belongs to config {bound.label} "
                f"(key {bound.key()}), not {config.label} (differs in "
                f"{', '.join(differ)}); pass config=None or use another state_dir"
            )
        return bound

    # ------------------------------------------------------------------ shared instance
    @classmethod
    def get_instance(
        cls, state_dir: str | Path | None = None, config: RetrainConfig | None = None
    ) -> MLIntegration:
        """The process-wide shared instance (created on first call, thread-safe).

        ``state_dir``/``config`` apply to the first call; later calls naming a different state
        directory or config raise ``ValueError`` (``reset_instance()`` first).
        """
        with cls._instance_lock:
            if cls._instance is None:
                cls._instance = cls(state_dir, config)
                return cls._instance
            instance = cls._instance
        if (
            state_dir is not None
            and Path(state_dir).expanduser().resolve() != instance.state_dir.resolve()
        ):
            raise ValueError(
                f"the shared MLIntegration already uses {instance.state_dir}; call "
                "MLIntegration.reset_instance() first to switch"
            )
        if config is not None and config != instance.config:
            raise ValueError(
                f"the shared MLIntegration runs config {instance.config.label}; "
                "call MLIntegration.reset_instance() first to switch"
            )
        return instance

    @classmethod
    def reset_instance(cls) -> None:
        """Close and forget the shared instance (the next ``get_instance()`` makes a new one)."""
        with cls._instance_lock:
            instance, cls._instance = cls._instance, None
        if instance is not None:
            instance.close()

    def close(self) -> None:
        """Close the database connections of this instance."""
        self._store.close()

    def __enter__(self) -> MLIntegration:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        version = self._model_info.get("version")
        return (
            f"MLIntegration(state_dir={str(self.state_dir)!r}, config={self.config.label}, "
            f"model_version={version})"
        )

    # ------------------------------------------------------------------ model and thresholds
    @property
    def models_dir(self) -> Path:
        return self.state_dir / "models"

    @property
    def model(self) -> Any:
        """The served fitted ``Pipeline`` (None before the first successful retrain)."""
        with self._lock:
            self._refresh()
            return self._model

    @property
    def model_version(self) -> int | None:
        with self._lock:
            self._refresh()
            return self._model_info.get("version")

    @property
    def thresholds(self) -> tuple[float, float]:
        """``(long_threshold, short_threshold)`` the next model signal will be classified with."""
        with self._lock:
            self._refresh()
            return self._current_thresholds()

    def _current_thresholds(self) -> tuple[float, float]:
        if self._thresholds is not None:
            return self._thresholds.thresholds
        return static_thresholds(self.config)

    def _reset_thresholds(self, state: dict[str, Any] | None, seen_id: int) -> None:
        if self.config.adaptive_thresholds:
            self._thresholds = AdaptiveThresholds(self.config)
            if state is not None:
                self._thresholds.set_state(state)
        self._seen_id = int(seen_id)

    def _refresh(self) -> None:
        """Follow the database: load a newer model, then replay new model probabilities into
        the thresholds. Call with ``self._lock`` held."""
        pointer = self._store.get_meta("model_version")
        if pointer != self._pointer:
            if pointer is None:
                self._model, self._model_info = None, {}
                self._reset_thresholds(None, 0)
            else:
                payload = self._load_current()
                self._install(payload)
            self._pointer = pointer
        if self._thresholds is not None:
            probs, last = self._store.model_probabilities_after(
                self._seen_id, self.config.threshold_history
            )
            self._thresholds.observe(probs)
            self._seen_id = last

    def _load_current(self) -> dict[str, Any]:
        for attempt in range(3):  # a concurrent retrain may prune the file we were pointed at
            name = self._store.get_meta("model_file")
            try:
                return load_model_file(self.models_dir / str(name), self.config)
            except FileNotFoundError:
                if attempt == 2:
                    raise ValueError(
                        f"the state database points at model file {name}, which "
                        f"is missing from {self.models_dir}"
                    ) from None
                time.sleep(0.05)
        raise AssertionError("unreachable")

    def _install(self, payload: dict[str, Any]) -> None:
        self._model = payload["model"]
        self._model_info = {k: payload[k] for k in ("version", "trained_at", "validation")}
        self._reset_thresholds(payload.get("thresholds"), payload.get("thresholds_seen_id", 0))

    # ------------------------------------------------------------------ signals
    def get_signal(self, symbol: str, price_data: Any) -> tuple[str, float, float]:
        """``(signal, probability, confidence)`` for ``symbol`` from its ``price_data``.

        ``signal`` is "long", "short" or "neutral"; ``probability`` the model's (or the
        fallback's) probability that the close in ``horizon`` bars is higher; ``confidence``
        ``|m(p)|`` in [0, 1] (AFML ch. 10). ``price_data``: see ``as_bars``. The prediction is
        logged and the history stored for retraining. See ``signal`` for every detail.
        """
        return self.signal(symbol, price_data).as_tuple()

    def signal(self, symbol: str, price_data: Any) -> Signal:
        """Like ``get_signal`` but returns the full ``Signal`` (size, source, thresholds...)."""
        symbol = check_symbol(symbol)
        bars = as_bars(price_data, symbol)
        features = compute_features(bars.open, bars.high, bars.low, bars.close, bars.volume)
        codes = detect_regimes(bars.close)
        # the model's input row of the last bar (design_panel: any RetrainConfig.model)
        last_row = design_panel(features, codes, self.config)[-1:]
        last_x, regime = features[-1], int(codes[-1])
        defined = bool(np.all(np.isfinite(last_row)))
        digest = bars.digest()
        prices = None
        if self._store.price_digest(symbol) != digest:
            prices = {
                "symbol": symbol,
                "updated_at": time_text(utc_now()),
                "n_rows": bars.n,
                "first_time": time_text(None if bars.dates is None else bars.dates[0]),
                "last_time": time_text(bars.last_time),
                "digest": digest,
                "data": bars.to_parquet_bytes(),
            }
        with self._lock:
            self._refresh()
            if self._model is not None and defined:
                p = float(predict_proba(self._model, last_row)[0])
                long_t, short_t = self._current_thresholds()
                source, reason = "model", ""
                version = self._model_info.get("version")
            else:
                p = momentum_probability(bars.close)
                long_t, short_t = fallback_thresholds(self.config)
                source, version = "fallback", None
                reason = (
                    "no trained model"
                    if self._model is None
                    else f"too little data: {bars.n} bars, the model's features need {MIN_HISTORY}"
                )
            label = str(classify(p, long_t, short_t))
            conf = float(confidence(p))
            size = float(position_size(p, self.config))
            row = {
                "created_at": time_text(utc_now()),
                "symbol": symbol,
                "bar_time": time_text(bars.last_time),
                "n_bars": bars.n,
                "signal": label,
                "probability": p,
                "confidence": conf,
                "size": size,
                "regime": regime,
                "features": vector_blob(last_x) if defined else None,
                "source": source,
                "reason": reason or None,
                "model_version": version,
                "long_threshold": long_t,
                "short_threshold": short_t,
            }
            with self._store.transaction() as tx:
                prediction_id = self._store.insert_prediction(tx, row)
                if prices is not None:
                    self._store.upsert_prices(tx, prices)
        return Signal(
            symbol=symbol,
            signal=label,
            probability=p,
            confidence=conf,
            size=size,
            source=source,
            reason=reason,
            regime=regime,
            long_threshold=long_t,
            short_threshold=short_t,
            model_version=version,
            prediction_id=prediction_id,
            n_bars=bars.n,
            bar_time=bars.last_time,
        )

    # ------------------------------------------------------------------ trades
    def record_trade(
        self,
        symbol: str,
        direction: str,
        entry: float,
        exit_price: float,
        size: float,
        *,
        entry_time: Any = None,
        exit_time: Any = None,
    ) -> TradeOutcome:
        """Store a closed trade with the features, regime, probability and confidence of the
        prediction that opened it (the latest one logged for ``symbol``, at or before
        ``entry_time`` if given). Returns the stored ``TradeOutcome``.

        ``size`` is the position's notional (> 0). ``exit_time`` defaults to now (UTC),
        ``entry_time`` to the matched prediction's time (or ``exit_time``). Bad input raises
        ``ValueError``/``TypeError`` and stores nothing.
        """
        symbol = check_symbol(symbol)
        direction = _direction(direction)
        entry = _positive(entry, "entry")
        exit_price = _positive(exit_price, "exit_price")
        size = _positive(size, "size")
        exit_ts = utc_now() if exit_time is None else as_utc(exit_time, "exit_time")
        entry_ts = None if entry_time is None else as_utc(entry_time, "entry_time")
        if entry_ts is not None and entry_ts > exit_ts:
            raise ValueError(f"entry_time {entry_ts} is after exit_time {exit_ts}")
        pred = self._store.latest_prediction(symbol, time_text(entry_ts))
        if entry_ts is None:
            entry_ts = exit_ts if pred is None else min(text_time(pred["created_at"]), exit_ts)
        outcome = TradeOutcome(
            symbol=symbol,
            direction=direction,
            entry_price=entry,
            exit_price=exit_price,
            size=size,
            entry_time=entry_ts,
            exit_time=exit_ts,
            features=None if pred is None else blob_vector(pred["features"]),
            regime=-1 if pred is None else int(pred["regime"]),
            probability=float("nan") if pred is None else float(pred["probability"]),
            confidence=float("nan") if pred is None else float(pred["confidence"]),
        )
        self._insert_outcome(outcome, None if pred is None else int(pred["id"]))
        return outcome

    def record_outcome(self, outcome: TradeOutcome) -> TradeOutcome:
        """Store a complete ``TradeOutcome`` as given (e.g. imported from a backtest:
        ``walk_forward(...).trade_outcomes()``). Times default to now; features, if any, must
        be finite. Returns the outcome as stored (times in UTC)."""
        if not isinstance(outcome, TradeOutcome):
            raise TypeError(f"outcome must be a TradeOutcome, got {type(outcome).__name__}")
        check_symbol(outcome.symbol)
        for name in ("entry_price", "exit_price", "size"):
            _positive(getattr(outcome, name), name)
        if outcome.features is not None and not np.all(np.isfinite(outcome.features)):
            raise ValueError("outcome.features must be finite (or None)")
        if not isinstance(outcome.regime, numbers.Integral) or not -1 <= outcome.regime <= 3:
            raise ValueError(f"outcome.regime must be a regime code -1..3, got {outcome.regime!r}")
        for name in ("probability", "confidence"):
            value = float(getattr(outcome, name))
            if not (math.isnan(value) or 0.0 <= value <= 1.0):
                raise ValueError(f"outcome.{name} must be in [0, 1] or NaN, got {value!r}")
        now = utc_now()
        exit_ts = now if outcome.exit_time is None else as_utc(outcome.exit_time, "exit_time")
        entry_ts = (
            exit_ts if outcome.entry_time is None else as_utc(outcome.entry_time, "entry_time")
        )
        if entry_ts > exit_ts:
            raise ValueError(f"entry_time {entry_ts} is after exit_time {exit_ts}")
        stored = TradeOutcome(
            symbol=outcome.symbol,
            direction=outcome.direction,
            entry_price=float(outcome.entry_price),
            exit_price=float(outcome.exit_price),
            size=float(outcome.size),
            entry_time=entry_ts,
            exit_time=exit_ts,
            features=outcome.features,
            regime=int(outcome.regime),
            probability=float(outcome.probability),
            confidence=float(outcome.confidence),
        )
        self._insert_outcome(stored, None)
        return stored

    def _insert_outcome(self, o: TradeOutcome, prediction_id: int | None) -> None:
        self._store.insert_trade(
            {
                "recorded_at": time_text(utc_now()),
                "symbol": o.symbol,
                "direction": o.direction,
                "entry_price": o.entry_price,
                "exit_price": o.exit_price,
                "size": o.size,
                "entry_time": time_text(o.entry_time),
                "exit_time": time_text(o.exit_time),
                "features": vector_blob(o.features),
                "regime": int(o.regime),
                "probability": None if math.isnan(o.probability) else o.probability,
                "confidence": None if math.isnan(o.confidence) else o.confidence,
                "prediction_id": prediction_id,
                "pnl_pct": o.pnl_pct,
            }
        )

    def outcomes(self) -> list[TradeOutcome]:
        """Every recorded trade as a ``TradeOutcome``, in recording order."""
        return [
            TradeOutcome(
                symbol=r["symbol"],
                direction=r["direction"],
                entry_price=r["entry_price"],
                exit_price=r["exit_price"],
                size=r["size"],
                entry_time=text_time(r["entry_time"]),
                exit_time=text_time(r["exit_time"]),
                features=blob_vector(r["features"]),
                regime=int(r["regime"]),
                probability=real(r["probability"]),
                confidence=real(r["confidence"]),
            )
            for r in self._store.trades()
        ]

    def histories(self) -> dict[str, Bars]:
        """The latest price history stored per symbol (what a no-argument retrain uses)."""
        return {r["symbol"]: Bars.from_parquet_bytes(r["data"]) for r in self._store.prices()}

    # ------------------------------------------------------------------ retraining
    def trigger_retraining(self, price_data: Any = None) -> RetrainReport:
        """Retrain on the stored price histories (or ``price_data``: a dict ``{symbol:
        history}`` or a ``Market``) plus the recorded outcomes, and serve the new model.

        Returns a ``RetrainReport`` (truthy when a new model is served): samples used, of which
        from feedback, hold-out validation, thresholds. A retrain that cannot run (no data,
        too few samples, one class only) returns ``ok=False`` with the reason and keeps the
        current model; it is logged in the retrain history either way.
        """
        histories = self.histories() if price_data is None else as_histories(price_data)
        with self._retrain_lock:
            return self._retrain(histories)

    def _retrain(self, histories: dict[str, Bars]) -> RetrainReport:
        started = time.perf_counter()
        config = self.config
        version = self._store.start_retrain()
        outcomes = self.outcomes()
        notes = self._feedback_notes(outcomes)
        common = {
            "trained_at": time_text(utc_now()),
            "n_outcomes": len(outcomes),
            "symbols": tuple(histories),
            "config": config.label,
        }

        def fail(reason: str, **extra: Any) -> RetrainReport:
            report = RetrainReport(
                ok=False,
                reason=reason,
                version=None,
                notes=tuple(notes),
                thresholds=self.thresholds,
                seconds=time.perf_counter() - started,
                **common,
                **extra,
            )
            self._store.finish_retrain(
                version,
                ok=False,
                reason=reason,
                n_samples=report.n_samples,
                n_feedback=report.n_feedback,
                report=report.to_dict(),
            )
            return report

        try:
            samples = market_samples(histories, config)
            feedback = no_feedback()
            if config.feedback_loop:
                # every recorded trade is closed (it was recorded before this retrain)
                feedback = feedback_samples(outcomes, pd.Timestamp.max, config, since=samples.since)
            X, y, w, n_feedback = assemble(samples.X, samples.y, samples.forward, feedback, config)
            sizes = {"n_samples": len(y), "n_market": len(samples.y), "n_feedback": n_feedback}
            if not histories and n_feedback == 0:
                return fail(
                    "no price histories: call get_signal(symbol, price_data) first or "
                    "pass price_data={symbol: history} (or a Market)",
                    **sizes,
                )
            if not can_fit(y, config):
                return fail(
                    f"cannot fit: {len(y)} samples (need {config.min_train_samples}) "
                    f"with {int(np.sum(y))} positive labels (need both classes); "
                    f"histories need more than {config.horizon} bars beyond the "
                    f"{MIN_HISTORY} the features use",
                    **sizes,
                )
            validation = validate_holdout(samples, outcomes, config)
            # the LSTM's confidence targets, as the walk-forward's refit (engine.training)
            targets = confidence_target(samples.forward) if n_feedback == 0 else None
            model = fit_one_thread(X, y, w, config, targets)
        except ValueError as exc:
            return fail(str(exc))
        except BaseException as exc:
            fail(f"error: {exc!r}")
            raise

        with self._lock:
            self._refresh()
            state = None if self._thresholds is None else self._thresholds.get_state()
            seen = self._seen_id
        payload = {
            "format": MODEL_FORMAT,
            "version": version,
            "trained_at": common["trained_at"],
            "config": config.to_dict(),
            "design_columns": design_columns(config),
            "model": model,
            "thresholds": state,
            "thresholds_seen_id": seen,
            "validation": json.dumps(jsonable(validation), sort_keys=True),
            "n_samples": len(y),
            "n_feedback": n_feedback,
        }
        name = f"model-{version:06d}.skops"
        save_model_file(self.models_dir / name, payload)
        with self._lock:
            self._install(payload)
            self._pointer = str(version)
            self._refresh()
            thresholds = self._current_thresholds()
        report = RetrainReport(
            ok=True,
            reason="",
            version=version,
            validation=validation,
            thresholds=thresholds,
            notes=tuple(notes),
            seconds=time.perf_counter() - started,
            **sizes,
            **common,
        )
        self._store.finish_retrain(
            version,
            ok=True,
            reason=None,
            n_samples=len(y),
            n_feedback=n_feedback,
            report=report.to_dict(),
            model_file=name,
        )
        self._prune(keep=name)
        return report

    def _feedback_notes(self, outcomes: list[TradeOutcome]) -> list[str]:
        notes = []
        if outcomes and not self.config.feedback_loop:
            notes.append(
                f"feedback_loop is off in config {self.config.label}: "
                f"{len(outcomes)} recorded trade(s) not used"
            )
        missing = sum(o.features is None for o in outcomes)
        if missing and self.config.feedback_loop:
            notes.append(
                f"{missing} recorded trade(s) have no entry features (no matching "
                "prediction, or too few bars) and cannot feed training"
            )
        return notes

    def _prune(self, keep: str) -> None:
        files = sorted(self.models_dir.glob("model-*.skops"))
        old = [f for f in files if f.name != keep][: -KEEP_MODELS or None]
        for path in old:
            try:
                path.unlink()
            except OSError as exc:  # another process may have pruned it already
                warnings.warn(f"could not delete old model file {path}: {exc}", stacklevel=3)

    # ------------------------------------------------------------------ stats
    def get_stats(self) -> dict[str, Any]:
        """A JSON-safe summary: model, last retrain, predictions and trades logged, win rate,
        P&L, current thresholds, signal mix of the last 100 predictions and how often the
        fallback served them."""
        from retrainlab.analytics.metrics import trade_metrics

        with self._lock:
            self._refresh()
            thresholds = self._current_thresholds()
            info = dict(self._model_info)
            loaded = self._model is not None
            n_observed = None if self._thresholds is None else self._thresholds.n_observed
        trades = self._store.query(
            "SELECT pnl_pct, size, features IS NOT NULL AS usable FROM trades ORDER BY id"
        )
        pnl = np.array([r["pnl_pct"] for r in trades], dtype=np.float64)
        size = np.array([r["size"] for r in trades], dtype=np.float64)
        recent = self._store.recent_predictions(100)
        mix = {s: sum(r["signal"] == s for r in recent) for s in SIGNALS}
        n_fallback = sum(r["source"] == "fallback" for r in recent)
        retrains = self._store.retrains()
        last = retrains[-1] if retrains else None
        return jsonable(
            {
                "state_dir": str(self.state_dir),
                "config": self.config.label,
                "config_key": self.config.key(),
                "model_loaded": loaded,
                "model_version": info.get("version"),
                "model_trained_at": info.get("trained_at"),
                "model_validation": json.loads(info["validation"]) if info else None,
                "last_retrain": None
                if last is None
                else {
                    "id": last["id"],
                    "started_at": last["started_at"],
                    "status": last["status"],
                    "reason": last["reason"],
                    "n_samples": last["n_samples"],
                    "n_feedback": last["n_feedback"],
                },
                "n_retrains": len(retrains),
                "n_predictions": self._store.count("predictions"),
                **trade_metrics(pnl),
                "n_trades": len(trades),
                "n_trades_with_features": int(sum(r["usable"] for r in trades)),
                "pnl": float(np.sum(size * pnl)),
                "thresholds": {
                    "long": thresholds[0],
                    "short": thresholds[1],
                    "adaptive": self.config.adaptive_thresholds,
                    "n_observed": n_observed,
                },
                "last_100": {"n": len(recent), **mix, "fallback": n_fallback},
                "fallback_served": n_fallback > 0,
                "last_source": recent[0]["source"] if recent else None,
                "symbols": [
                    r["symbol"]
                    for r in self._store.query("SELECT symbol FROM prices ORDER BY symbol")
                ],
            }
        )


# ============================================================================ module level


def get_ml_signal(symbol: str, price_data: Any) -> tuple[str, float, float]:
    """``MLIntegration.get_instance().get_signal(symbol, price_data)``."""
    return MLIntegration.get_instance().get_signal(symbol, price_data)


def record_trade(
    symbol: str,
    direction: str,
    entry: float,
    exit_price: float,
    size: float,
    *,
    entry_time: Any = None,
    exit_time: Any = None,
) -> TradeOutcome:
    """``MLIntegration.get_instance().record_trade(...)``."""
    return MLIntegration.get_instance().record_trade(
        symbol, direction, entry, exit_price, size, entry_time=entry_time, exit_time=exit_time
    )


def get_ml_stats() -> dict[str, Any]:
    """``MLIntegration.get_instance().get_stats()``."""
    return MLIntegration.get_instance().get_stats()


def trigger_retraining(price_data: Any = None) -> RetrainReport:
    """``MLIntegration.get_instance().trigger_retraining(price_data)``."""
    return MLIntegration.get_instance().trigger_retraining(price_data)
