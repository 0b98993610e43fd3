"""Many configurations on one market, each training problem fitted once: ``walk_forward_many``.

``all_configs(base)`` lists every subset of the fixes (the full factorial, 64 systems);
``walk_forward_many(market, configs)`` runs them all and returns one ``WalkForwardResult`` per
config, identical to ``walk_forward(market, config)`` in every field except the timings
(``fit_seconds``, ``total_seconds``, ``fits["seconds"]``).

What is shared, and why that is exact:

* **the market's data**: features, regimes and closes are computed once per market (and
  regime source), and each design matrix (``DesignPanel``) once per (``design`` hook,
  protocol);
* **the fits**: a refit's training set is the panel's rows ``lo..hi`` (the window), weighted by
  the ``sample_weights`` hook, then the ``extra_samples`` hook's rows (the feedback loop's own
  trades). Two refits with the same panel, window, weighting hook, protocol (every non-fix
  field: C, max_iter, ...) and the same extra rows (compared byte for byte) have identical
  inputs, so the deterministic fit gives the identical model: it is fitted once and reused.
  On one 1000-day x 10-ticker market the 64 configurations make 2,880 refits (1,080 once whole
  steps are shared, below) that need 1,019 distinct fits (the fix switches that change no
  training problem, e.g. ``confidence_sizing``, or the feedback loop before its first closed
  trade, share every fit).
* **the scalers**: the logistic pipeline's scaler depends on the training rows only (it is
  unweighted), so fits on the same rows with other weights share it (``model.fit_scaler``);
* **the predictions**: a row's probability depends on that row and the model only, so a
  model's probabilities on a decision segment are computed once.
* **whole steps**, between configs whose hooks differ only in a later step. Sizes reach no
  refit (the feedback loop learns from its trades' signs, not their sizes) and no threshold, so
  configs differing only in ``position_size`` (``confidence_sizing`` on and off, all else
  equal) have the same refits, predictions, thresholds and signals; and without a fix that
  turns the run's own trades into samples (``extra_samples``), a refit never sees a decision,
  so configs differing only in ``thresholds`` too have the same refits and predictions. The
  first config of each kind runs every step; a later one takes the shared arrays (read only)
  and runs the remaining steps itself: ``decide`` and ``open_positions``, or
  ``open_positions`` alone (its refit log's ``seconds`` are 0: it asked for no fit).

Each config runs the engine's own steps (``refit``, ``predict``, ``decide``,
``open_positions``, then ``finish_run``), or takes their outputs from an earlier config
whose same steps provably give the same outputs; only the fit function passed to ``refit``
and the prebuilt ``MarketData`` differ, so the code path is the walk-forward's.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Hashable, Sequence

import numpy as np
import sklearn
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from retrainlab.common.names import check_name
from retrainlab.engine.config import FIXES, OLD, RetrainConfig
from retrainlab.engine.hooks import hooks_for
from retrainlab.engine.market import PRICE_FIELDS, Market
from retrainlab.engine.market_data import MarketData
from retrainlab.engine.model import can_fit, fit_scaler, predict_proba
from retrainlab.engine.results import WalkForwardResult
from retrainlab.engine.training import DesignPanel, TrainingSet, fit, one_thread, window_rows
from retrainlab.engine.walkforward import (
    FitLog,
    Run,
    decide,
    finish_run,
    open_positions,
    predict,
    refit,
    start_run,
)

__all__ = ["FitCache", "all_configs", "walk_forward_many"]


def all_configs(base: RetrainConfig = OLD, fixes: Sequence[str] = FIXES) -> list[RetrainConfig]:
    """Every subset of ``fixes`` switched on over ``base``'s protocol: ``2 ** len(fixes)`` configs.

    Standard (Yates) order: configuration ``m`` has ``fixes[b]`` on exactly when bit ``b`` of
    ``m`` is set (``fixes[0]`` varies fastest), so the first has every fix off (OLD for the
    default ``base``) and the last has all of ``fixes`` on (NEW for the defaults). ``base``'s
    own switches for ``fixes`` are overridden; fixes not in ``fixes`` keep ``base``'s setting
    (``fixes=("feedback_loop", "long_lookback")``: the 4-configuration factorial of two fixes).
    """
    if not isinstance(base, RetrainConfig):
        raise TypeError(f"base must be a RetrainConfig, got {type(base).__name__}")
    fixes = tuple(check_name(f, FIXES, "fix") for f in fixes)
    if not fixes:
        raise ValueError("a factorial needs at least one fix; pass e.g. fixes=retrainlab.FIXES")
    if len(set(fixes)) != len(fixes):
        raise ValueError(f"each fix may appear once in a factorial, got {list(fixes)}")
    return [
        base.replace(**{f: bool(m >> b & 1) for b, f in enumerate(fixes)})
        for m in range(2 ** len(fixes))
    ]


def _protocol(config: RetrainConfig) -> tuple:
    """Every non-fix field's value (the fix switches act through the hooks), hashable."""
    return tuple(config.protocol().values())


def _key(config: RetrainConfig, ignored: frozenset[str]) -> tuple:
    """The protocol and every hook in force but the ``ignored`` ones."""
    functions = hooks_for(config).functions
    return _protocol(config), frozenset(
        (hook, function) for hook, function in functions.items() if hook not in ignored
    )


#: Hooks that act after the decisions (the book): runs differing only there decide alike.
_AFTER_DECISIONS = frozenset({"position_size"})
#: Hooks that act after the predictions: runs differing only there refit and predict alike,
#: unless their refits learn from their own trades (the ``extra_samples`` hook).
_AFTER_PREDICTIONS = _AFTER_DECISIONS | {"thresholds"}


def _decisions_key(config: RetrainConfig) -> tuple:
    """What a run's steps before ``open_positions`` depend on."""
    return _key(config, _AFTER_DECISIONS)


def _predictions_key(config: RetrainConfig) -> tuple:
    """What a run's refits and predictions depend on: its decisions too when its refits learn
    from its own trades."""
    if hooks_for(config).takes_outcomes:
        return _decisions_key(config)
    return _key(config, _AFTER_PREDICTIONS)


def _source(run: Run, *shared: np.ndarray) -> Run:
    """``run``, its steps done, as the source of later runs: the arrays they will share are
    made read only, so a step that wrote to one would fail, not leak into another result."""
    for array in shared:
        array.setflags(write=False)
    return run


def _take_predictions(run: Run, source: Run) -> None:
    """Give ``run`` the refits and predictions of ``source`` (same ``_predictions_key``): its
    refit log (``seconds`` 0: it asked for no fit), coefficients, last model and probabilities
    (shared, read only); its own signals and thresholds are still to be decided."""
    run.fits = FitLog(
        rows=[row._replace(seconds=0.0) for row in source.fits.rows],
        coefficients=list(source.fits.coefficients),
    )
    run.model = source.model
    run.decisions.probs = source.decisions.probs


def _take_decisions(run: Run, source: Run) -> None:
    """Give ``run`` the refits, predictions and decisions of ``source`` (same
    ``_decisions_key``; shared, read only); its positions are still to be opened."""
    _take_predictions(run, source)
    run.decisions = source.decisions
    run.thresholds = source.thresholds


def _first_valid_day(panel: DesignPanel) -> int:
    """First day with a valid design row (the panel's row count if none)."""
    valid = panel.valid.reshape(-1, panel.n_tickers).any(axis=1)
    return int(np.argmax(valid)) if valid.any() else len(valid)


class FitCache:
    """Fitted models by training problem (see the module docstring), the scalers they share
    and their predictions; counts requests and fits. One cache serves one market: its keys
    name rows of that market's panel, so ``walk_forward_many`` refuses it for another."""

    def __init__(self) -> None:
        self.market_: tuple | None = None  # the market it serves (``bind``)
        self.models: dict[Hashable, Pipeline | None] = {}
        self.scalers: dict[Hashable, StandardScaler] = {}
        self.probabilities: dict[Hashable, np.ndarray] = {}
        self.n_requests = 0

    def bind(self, market: Market) -> None:
        """Serve ``market`` only: the first call records it (name, shape and a digest of its
        dates and bars), later calls with another market raise ``ValueError``."""
        digest = hashlib.sha256(np.asarray(market.dates.asi8).tobytes())
        for name in PRICE_FIELDS:  # every field the features may read
            digest.update(np.ascontiguousarray(getattr(market, name), dtype=np.float64).tobytes())
        key = (market.name, market.close.shape, digest.hexdigest())
        if self.market_ is None:
            self.market_ = key
        elif self.market_ != key:
            raise ValueError(
                f"this FitCache holds the fits of market {self.market_[0]!r}, not of "
                f"{market.name!r}: its fits would be reused on the wrong data; "
                "pass a new FitCache() for each market"
            )

    @property
    def n_fits(self) -> int:
        """Models fitted: one per distinct training problem that could be fit."""
        return sum(model is not None for model in self.models.values())

    def fitter(self, problem: tuple) -> Callable[[TrainingSet, RetrainConfig], Pipeline | None]:
        """A ``fit_samples`` for ``refit``. ``problem`` is ``(rows, weighting)``: ``rows``
        names the market rows of the training set (design and window), ``weighting`` the
        ``sample_weights`` hook; the extra rows (after ``n_market``) complete the key, byte for
        byte. Fits on the same rows share their scaler (it is unweighted)."""

        def fit_samples(samples: TrainingSet, config: RetrainConfig) -> Pipeline | None:
            n = samples.n_market
            extra_X = samples.X[n:].tobytes() if samples.n_feedback else None
            extra = None
            if samples.n_feedback:
                extra = (extra_X, samples.y[n:].tobytes(), samples.weights[n:].tobytes())
            key = (problem, samples.X.shape, extra)
            self.n_requests += 1
            if key not in self.models:
                scaler = None
                if config.model == "logistic" and can_fit(samples.y, config):
                    rows = (problem[0], samples.X.shape, extra_X)
                    if rows not in self.scalers:
                        self.scalers[rows] = fit_scaler(np.asarray(samples.X, dtype=np.float64))
                    scaler = self.scalers[rows]
                self.models[key] = fit(samples, config, scaler)
            return self.models[key]

        return fit_samples

    def predictor(self, rows: Hashable) -> Callable[[Pipeline, np.ndarray], np.ndarray]:
        """A ``probabilities`` for ``predict``: a model's probabilities for the design rows
        named ``rows`` (design and decision segment) are computed once (each row's value
        depends on that row and the model only: ``model.predict_proba``)."""

        def probabilities(model: Pipeline, X: np.ndarray) -> np.ndarray:
            # the cache holds every model it hands out, so id(model) stays unique
            key = (id(model), rows)
            if key not in self.probabilities:
                self.probabilities[key] = predict_proba(model, X)
            return self.probabilities[key]

        return probabilities


def walk_forward_many(
    market: Market, configs: Sequence[RetrainConfig], cache: FitCache | None = None
) -> list[WalkForwardResult]:
    """``[walk_forward(market, c) for c in configs]``, fitting each distinct training problem once.

    The results equal the separate runs bit for bit except the timings (``fit_seconds``: time
    in the fits this config asked for, 0 for a reused fit; ``total_seconds``: this config's own
    steps). ``cache`` (optional) collects the fits, e.g. to count them.
    """
    if not isinstance(market, Market):
        raise TypeError(f"market must be a retrainlab.Market, got {type(market).__name__}")
    configs = list(configs)
    for config in configs:
        if not isinstance(config, RetrainConfig):
            raise TypeError(f"configs must be RetrainConfigs, got {type(config).__name__}")
    cache = FitCache() if cache is None else cache
    cache.bind(market)
    # the market's data depends on one config field, the regime source (detected or true)
    shared: dict[str, MarketData] = {}
    panels: dict[tuple, MarketData] = {}
    # the first run of each _predictions_key and of each _decisions_key
    predicted: dict[tuple, Run] = {}
    decided: dict[tuple, Run] = {}
    results = []
    with one_thread(), sklearn.config_context(assume_finite=True):
        for config in configs:
            started = time.perf_counter()
            hooks = hooks_for(config)
            # the design matrix depends on the design hook and the protocol (horizon: labels)
            design = (hooks.providers.get("design"), _protocol(config))
            if design not in panels:
                base = shared.get(config.regime_source)
                if base is None:
                    base = shared[config.regime_source] = MarketData.build(market, config, None)
                    panels[design] = base
                else:
                    panel = DesignPanel.build(base.features, base.regimes, base.close, config)
                    panels[design] = base.with_panel(panel)
            run = start_run(market, config, data=panels[design])
            decisions, predictions = _decisions_key(config), _predictions_key(config)
            every = range(len(run.schedule.days))  # every decision of the run
            if decisions in decided:
                _take_decisions(run, decided[decisions])
                open_positions(run, every)
            elif predictions in predicted:
                _take_predictions(run, predicted[predictions])
                for i in every:
                    decide(run, i)
                open_positions(run, every)
            else:
                weighting = hooks.providers.get("sample_weights")
                first = _first_valid_day(run.data.panel)
                for s, row in enumerate(run.schedule.refits):
                    lo, hi = window_rows(int(row), config)
                    # rows before the first valid one add nothing: windows differing only
                    # there hold the same samples (short and long lookback early on)
                    refit(run, int(row), cache.fitter(((design, max(lo, first), hi), weighting)))
                    segment = run.schedule.segment(s)
                    predict(run, segment, cache.predictor((design, segment.start, segment.stop)))
                    for i in segment:
                        decide(run, i)
                    open_positions(run, segment)
                predicted[predictions] = _source(run, run.decisions.probs, *run.fits.coefficients)
            if decisions not in decided:
                decided[decisions] = _source(run, run.decisions.codes, run.decisions.thresholds)
            result = finish_run(market, run)
            result.total_seconds = time.perf_counter() - started
            results.append(result)
    return results
