"""The engine's hook points: where a fix changes the retraining system, and the OLD defaults.

The walk-forward and the facade's retrain never ask which fixes are on. They ask
``hooks_for(config)`` (a ``Hooks``) for each decision a fix may change:

===================  ==========================================  ===========================
hook                 signature (``config`` last, always)         OLD default / fix
===================  ==========================================  ===========================
training_window      (config) -> int                             ``short_window`` /
                                                                 long_lookback
sample_weights       (forward_returns, config) -> ndarray        unweighted (None) /
                                                                 profit_weighted_loss
extra_samples        (outcomes: OutcomeTable, config)            none / feedback_loop
                     -> ExtraSamples
design               (features, regimes, config) -> ndarray      the base features /
                                                                 regime_awareness
design_columns       (feature_names, config) -> list[str]        the base names /
                                                                 regime_awareness
design_gram          (X, mean, scale, config) -> gram or None    None (dense) /
                                                                 regime_awareness
thresholds           (config) -> policy with ``thresholds``      ``StaticThresholds`` /
                     and ``observe(probs)``                      adaptive_thresholds
position_size        (p, config) -> ndarray                      1 / confidence_sizing
===================  ==========================================  ===========================

``design_gram`` changes no result, only how the logistic solver forms its Hessian: a design
with a structure may supply ``gram(h) -> (Z' diag(h) Z, Z' h)`` of its standardized rows ``Z``
(``engine.solver.newton_logistic``), equal to the dense products up to rounding.

``position_size`` works element by element: the engine sizes a whole segment's (or run's)
positions in one call, so an entry's size may depend on its own probability only.

A fix module lists the hooks it implements in ``HOOKS`` (hook name -> function). When the fix
is on, its functions replace the defaults. Two fixes that are on may not implement the same
hook (the engine would have to guess how to combine them): ``hooks_for`` refuses that
configuration, naming both.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from retrainlab.engine.config import RetrainConfig
from retrainlab.engine.decisions import StaticThresholds
from retrainlab.engine.fixes import MODULES
from retrainlab.engine.outcomes import ExtraSamples, OutcomeTable

#: The hook points, in the order of the table above.
HOOK_NAMES: tuple[str, ...] = (
    "training_window",
    "sample_weights",
    "extra_samples",
    "design",
    "design_columns",
    "design_gram",
    "thresholds",
    "position_size",
)

for _name, _module in MODULES.items():
    _unknown = set(getattr(_module, "HOOKS", {})) - set(HOOK_NAMES)
    if _unknown:
        raise ImportError(
            f"fix {_name!r} implements unknown hook(s) {sorted(_unknown)}; hooks: {HOOK_NAMES}"
        )


@dataclass(frozen=True, eq=False)
class Hooks:
    """The hooks in force for ``config``: each method is the fix's function, or the default.

    ``providers`` maps each hook a fix took over to that fix's name.
    """

    config: RetrainConfig
    functions: dict[str, Callable]
    providers: dict[str, str]

    def training_window(self) -> int:
        """Trailing days whose samples may train the model at a refit."""
        if "training_window" in self.functions:
            return int(self.functions["training_window"](self.config))
        return self.config.short_window

    def sample_weights(self, forward_returns: np.ndarray) -> np.ndarray | None:
        """Weights of the market samples (None: unweighted, every sample 1)."""
        if "sample_weights" in self.functions:
            return self.functions["sample_weights"](forward_returns, self.config)
        return None

    @property
    def takes_outcomes(self) -> bool:
        """True if a fix turns closed trades into training samples (``extra_samples``)."""
        return "extra_samples" in self.functions

    def extra_samples(self, outcomes: OutcomeTable) -> ExtraSamples:
        """Training samples from the closed trades a refit may see (none by default)."""
        if "extra_samples" in self.functions:
            return self.functions["extra_samples"](outcomes, self.config)
        return ExtraSamples.none()

    def design(self, features: np.ndarray, regimes: np.ndarray | None) -> np.ndarray:
        """The model's input rows from base features (n, n_features) and regime codes (n,)."""
        if "design" in self.functions:
            return self.functions["design"](features, regimes, self.config)
        return features

    def design_columns(self, feature_names: Sequence[str]) -> list[str]:
        """Names of the ``design`` columns."""
        if "design_columns" in self.functions:
            return list(self.functions["design_columns"](feature_names, self.config))
        return list(feature_names)

    def design_gram(
        self, X: np.ndarray, mean: np.ndarray, scale: np.ndarray
    ) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None:
        """The solver's Gram matrices of the standardized design rows ``(X - mean) / scale``
        computed from the design's structure, or None: the dense products (the default)."""
        if "design_gram" in self.functions:
            return self.functions["design_gram"](X, mean, scale, self.config)
        return None

    def thresholds(self) -> object:
        """A fresh threshold policy (``thresholds`` pair, ``observe(probs)``)."""
        if "thresholds" in self.functions:
            return self.functions["thresholds"](self.config)
        return StaticThresholds(self.config)

    def position_size(self, p: np.ndarray) -> np.ndarray:
        """Size of positions taken with probabilities ``p`` (1 by default)."""
        if "position_size" in self.functions:
            return self.functions["position_size"](p, self.config)
        return np.ones(np.shape(p))


@functools.lru_cache(maxsize=256)
def hooks_for(config: RetrainConfig) -> Hooks:
    """The ``Hooks`` of ``config``: for each hook, the function of the fix that is on and
    implements it, else the OLD default. Two fixes on the same hook raise ``ValueError``."""
    if not isinstance(config, RetrainConfig):
        raise TypeError(f"config must be a RetrainConfig, got {type(config).__name__}")
    functions: dict[str, Callable] = {}
    providers: dict[str, str] = {}
    for name in config.fixes:
        for hook, function in getattr(MODULES[name], "HOOKS", {}).items():
            if hook in providers:
                raise ValueError(
                    f"fixes {providers[hook]!r} and {name!r} both implement the {hook!r} hook; "
                    "the engine cannot combine them (see docs/adding-a-fix.md)"
                )
            functions[hook] = function
            providers[hook] = name
    return Hooks(config, functions, providers)


def training_window(config: RetrainConfig) -> int:
    """Trailing days whose samples may train the model at a refit, under ``config``."""
    return hooks_for(config).training_window()
