"""The production facade: signals, trade feedback and retraining that persist and can be trusted.

A trading engine calls four things (the published report's "How to Use", made real)::

    from retrainlab import get_ml_signal, record_trade, get_ml_stats, MLIntegration

    signal, prob, conf = get_ml_signal("AAPL", price_data)   # ("long", 0.62, 0.45)
    record_trade("AAPL", "long", entry=150.0, exit_price=155.0, size=10_000)
    report = MLIntegration.get_instance().trigger_retraining()
    stats = get_ml_stats()

The model is the walk-forward's model, trained at each history's last bar through the engine's
own functions (``live.training``); with equal calendars it is the walk-forward's model bit for
bit (tested). Every decision is in the README section "Use in a trading engine"; by module:

* ``live.store`` (and ``schema``, ``errors``, ``encoding``): the state database, ``StateError``.
* ``live.inputs`` / ``live.trades``: price histories and trades, validated (``TradeBounds``).
* ``live.signals`` / ``live.records``: one signal, the fallback rule, ``Signal``,
  ``RetrainReport``.
* ``live.retrain``: one retrain and the promotion rule; ``live.serving``: which model serves,
  which files are kept; ``live.models``: model files, confined, trusting ``TRUSTED_TYPES``.
* ``live.stats``: ``get_ml_stats()``; ``live.cli``: the operator commands.

Decided here: a **state directory** (``state_dir=``, else ``$RETRAINLAB_STATE_DIR``, else the
user data folder) holds ``state.db`` and ``models/``, and is bound to the ``RetrainConfig`` it
was created with. Opening it marks retrains left ``running`` by a dead process
``interrupted`` and removes dead writers' temporary model files. **Thresholds**
(``AdaptiveThresholds``) are saved with each model with the id of the last logged prediction
they had seen; afterwards they are that snapshot plus every *model* probability logged since,
in log order, so every process derives the same ones and a restart continues with them. A
signal is classified with the thresholds in force, then its probability joins the history.
Instances survive ``fork``: the child gets new locks and connections.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import weakref
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
from platformdirs import user_data_dir

from retrainlab.engine.config import NEW, RetrainConfig
from retrainlab.engine.fixes.adaptive_thresholds import (
    AdaptiveThresholds,
    static_thresholds,
)
from retrainlab.engine.fixes.feedback_loop import TradeOutcome
from retrainlab.live.encoding import time_text, utc_now
from retrainlab.live.errors import NotAStateDatabase, StateError
from retrainlab.live.inputs import (
    Bars,
    as_bars,
    as_histories,
    check_symbol,
    price_row,
    stored_bars,
)
from retrainlab.live.records import RetrainReport, Signal
from retrainlab.live.retrain import run_retrain
from retrainlab.live.serving import KEEP_MODELS, Served, choose_served, prune, remove_orphans
from retrainlab.live.signals import Inputs, decide
from retrainlab.live.stats import state_stats
from retrainlab.live.store import DATABASE_NAME, StateStore
from retrainlab.live.trades import (
    CLOCK_SKEW,
    MAX_MOVE,
    TradeBounds,
    check_outcome,
    check_prices,
    check_times,
    matched_outcome,
    outcome_row,
    row_outcome,
)
from retrainlab.live.trades import direction as trade_direction

__all__ = [
    "ENV_STATE_DIR",
    "KEEP_MODELS",
    "MLIntegration",
    "NotAStateDatabase",
    "RetrainReport",
    "Signal",
    "StateError",
    "TradeBounds",
    "default_state_dir",
    "get_ml_signal",
    "get_ml_stats",
    "record_trade",
    "trigger_retraining",
]

#: Environment variable naming the state directory of ``MLIntegration.get_instance()``.
ENV_STATE_DIR: str = "RETRAINLAB_STATE_DIR"


def default_state_dir() -> Path:
    """``$RETRAINLAB_STATE_DIR`` if set, else ``<user data dir>/retrainlab/facade``."""
    env = os.environ.get(ENV_STATE_DIR)
    if env:
        return Path(env).expanduser()
    return Path(user_data_dir("retrainlab", appauthor=False)) / "facade"


# every open instance, so that a forked child can replace locks another thread held at fork
_OPEN: weakref.WeakSet[MLIntegration] = weakref.WeakSet()


class MLIntegration:
    """Signals, trade feedback and retraining for a live trading loop, persisted in a state
    directory (see the module docstring for every decision).

    Parameters
    ----------
    state_dir : folder of ``state.db`` and the model files; default ``default_state_dir()``.
    config : the ``RetrainConfig`` of the system; default: the one the state directory was
        created with, or ``NEW`` for a new directory. Another config than the directory's is
        refused (``ValueError``): a model and its thresholds belong to one configuration.
    create : start a new state if ``state_dir`` holds no ``state.db`` (False: ``StateError``).
    max_move, clock_skew : trade bounds (``TradeBounds``): largest ``|exit / entry - 1|``
        accepted (default 1.0 = 100 %) and how far an exit time may be ahead of now (5 min).

    Every public method is thread-safe; several processes may share one state directory, and a
    forked child may use an instance it inherited. SQLite failures raise ``StateError``.
    ``MLIntegration.get_instance()`` is the shared instance the module-level functions use.
    """

    _instance: ClassVar[MLIntegration | None] = None
    _instance_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        state_dir: str | Path | None = None,
        config: RetrainConfig | None = None,
        *,
        create: bool = True,
        max_move: float = MAX_MOVE,
        clock_skew: pd.Timedelta | str = CLOCK_SKEW,
    ) -> None:
        if config is not None and not isinstance(config, RetrainConfig):
            raise TypeError(f"config must be a RetrainConfig, got {type(config).__name__}")
        self.bounds = TradeBounds(max_move=max_move, clock_skew=clock_skew)
        self.state_dir = (
            Path(state_dir).expanduser() if state_dir is not None else default_state_dir()
        )
        if self.state_dir.exists() and not self.state_dir.is_dir():
            raise StateError(f"state_dir {self.state_dir} exists and is not a directory")
        if not create and not (self.state_dir / DATABASE_NAME).exists():
            raise StateError(
                f"state directory {self.state_dir} does not exist or holds no {DATABASE_NAME}: "
                "a mistyped path? Create a new state with create=True (CLI: --create)"
            )
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(f"cannot create state directory {self.state_dir}: {exc}") from exc
        self._store = StateStore(self.state_dir / DATABASE_NAME, config=(config or NEW).to_dict())
        try:
            self.config = self._bind_config(config)
            self._lock = threading.RLock()
            self._retrain_lock = threading.Lock()
            self._served = Served(None, None)
            self._pointer: str | None = None
            self._thresholds: AdaptiveThresholds | None = None
            self._seen_id = 0
            self._reset_thresholds(None, 0)
            self._store.mark_interrupted()
            remove_orphans(self.models_dir)
            with self._lock:
                self._refresh()
        except BaseException:
            self._store.close()
            raise
        _OPEN.add(self)

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

    def after_fork(self) -> None:
        """In a forked child: new locks and connections (another thread of the parent may have
        held them at fork time; it does not exist in the child)."""
        self._lock = threading.RLock()
        self._retrain_lock = threading.Lock()
        self._store.after_fork()

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
        _OPEN.discard(self)

    def __enter__(self) -> MLIntegration:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"MLIntegration(state_dir={str(self.state_dir)!r}, config={self.config.label}, "
            f"model_version={self._served.version})"
        )

    # ------------------------------------------------------------------ model and thresholds
    @property
    def models_dir(self) -> Path:
        return self.state_dir / "models"

    @property
    def store(self) -> StateStore:
        """The state database (``live.store.StateStore``)."""
        return self._store

    @property
    def model(self) -> Any:
        """The served fitted ``Pipeline`` (None while the fallback serves)."""
        with self._lock:
            self._refresh()
            return None if self._served.payload is None else self._served.payload["model"]

    @property
    def model_version(self) -> int | None:
        """Version of the model served (None while the fallback serves)."""
        with self._lock:
            self._refresh()
            return self._served.version

    @property
    def serving_note(self) -> str:
        """Why the served model is not the pointer's ("" when it is)."""
        with self._lock:
            self._refresh()
            return self._served.note

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
        """Follow the database: serve the pointer's model (or the best loadable one), then
        replay new model probabilities into the thresholds. Call with ``self._lock`` held."""
        pointer = self._store.get_meta("model_version")
        if pointer != self._pointer:
            self._install(choose_served(self._store, self.models_dir, self.config))
            self._pointer = pointer
        if self._thresholds is not None:
            probs, last = self._store.model_probabilities_after(
                self._seen_id, self.config.threshold_history
            )
            self._thresholds.observe(probs)
            self._seen_id = last

    def _install(self, served: Served) -> None:
        self._served = served
        payload = served.payload or {}
        self._reset_thresholds(payload.get("thresholds"), payload.get("thresholds_seen_id", 0))

    def _snapshot(self) -> tuple[dict[str, Any] | None, int, tuple[float, float]]:
        with self._lock:
            self._refresh()
            state = None if self._thresholds is None else self._thresholds.get_state()
            return state, self._seen_id, self._current_thresholds()

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
        inputs = Inputs.of(as_bars(price_data, symbol))
        kept = inputs.bars.tail(stored_bars(self.config))  # only what a refit can use
        digest = kept.digest()
        prices = None
        if self._store.price_digest(symbol) != digest:
            prices = price_row(symbol, kept, digest, time_text(utc_now()))
        with self._lock:
            self._refresh()
            signal, row = decide(
                symbol, inputs, self._served, self._current_thresholds(), self.config
            )
            with self._store.transaction() as tx:
                prediction_id = self._store.insert_prediction(tx, row)
                if prices is not None:
                    self._store.upsert_prices(tx, prices)
        return dataclasses.replace(signal, prediction_id=prediction_id)

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
        ``entry_time`` to the matched prediction's time (or ``exit_time``). A trade outside
        ``self.bounds`` (see ``live.trades``) raises ``ValueError``/``TypeError`` naming the
        field and stores nothing.
        """
        symbol = check_symbol(symbol)
        side = trade_direction(direction)
        entry, exit_price, size = check_prices(entry, exit_price, size, self.bounds)
        entry_ts, exit_ts = check_times(entry_time, exit_time, self.bounds)
        pred = self._store.latest_prediction(symbol, time_text(entry_ts))
        outcome = matched_outcome(symbol, side, (entry, exit_price, size), entry_ts, exit_ts, pred)
        self._insert_outcome(outcome, None if pred is None else int(pred["id"]))
        return outcome

    def record_outcome(self, outcome: TradeOutcome) -> TradeOutcome:
        """Store a complete ``TradeOutcome`` as given (e.g. imported from a backtest:
        ``walk_forward(...).trade_outcomes()``), checked like ``record_trade``. Times default to
        now; features, if any, must be finite. Returns the outcome as stored (times in UTC)."""
        if isinstance(outcome, TradeOutcome):
            check_symbol(outcome.symbol)
        stored = check_outcome(outcome, self.bounds)
        self._insert_outcome(stored, None)
        return stored

    def _insert_outcome(self, o: TradeOutcome, prediction_id: int | None) -> None:
        self._store.insert_trade(outcome_row(o, prediction_id, time_text(utc_now())))

    def outcomes(self) -> list[TradeOutcome]:
        """Every recorded trade as a ``TradeOutcome``, in recording order."""
        return [row_outcome(r) for r in self._store.trades()]

    def histories(self) -> dict[str, Bars]:
        """The latest price history stored per symbol (what a no-argument retrain uses)."""
        return {r["symbol"]: Bars.from_parquet_bytes(r["data"]) for r in self._store.prices()}

    # ------------------------------------------------------------------ retraining
    def trigger_retraining(self, price_data: Any = None) -> RetrainReport:
        """Retrain on the stored price histories (or ``price_data``: a dict ``{symbol:
        history}`` or a ``Market``) plus the recorded outcomes; promote the new model if it
        passes the promotion rule (``live.retrain``).

        Returns a ``RetrainReport`` (truthy when its model was promoted): samples used, of
        which from feedback, hold-out validation, thresholds, ``promoted`` and why not. A
        retrain that cannot run (no data, too few samples, one class only) returns
        ``ok=False`` with the reason; either way the current model keeps serving unless
        promoted, and the retrain is logged in the retrain history.
        """
        histories = self.histories() if price_data is None else as_histories(price_data)
        with self._retrain_lock:
            report, payload = run_retrain(
                self._store,
                self.config,
                self.models_dir,
                histories,
                self.outcomes(),
                self._snapshot,
            )
        if payload is not None:
            with self._lock:
                if self._store.served_version() == report.version:
                    self._install(Served(payload, report.version))
                    self._pointer = str(report.version)
                self._refresh()
                report = dataclasses.replace(report, thresholds=self._current_thresholds())
            prune(self.models_dir, self._store)
        return report

    # ------------------------------------------------------------------ stats
    def get_stats(self) -> dict[str, Any]:
        """A JSON-safe summary: model served (its hold-out log-loss beside the baseline's, and
        a note when it is not the pointer's), last retrain, predictions and trades logged, win
        rate, P&L, current thresholds, signal mix of the last 100 predictions and how often
        the fallback served them."""
        with self._lock:
            self._refresh()
            served, thresholds = self._served, self._current_thresholds()
            n_observed = None if self._thresholds is None else self._thresholds.n_observed
        return state_stats(self._store, self.config, self.state_dir, served, thresholds, n_observed)


def _after_fork_in_child() -> None:
    MLIntegration._instance_lock = threading.Lock()
    for instance in list(_OPEN):
        instance.after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


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
