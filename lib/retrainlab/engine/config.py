"""`RetrainConfig`: every knob of the retraining system, with the six published fixes as switches.

``OLD = RetrainConfig()`` is the system before the fixes; ``NEW = OLD.with_fixes(*FIXES)`` is the
system the published report describes. Ablation variants are ``OLD.with_fix(name)`` and
``NEW.without_fix(name)``. Everything else (model, horizon, cadence, costs) is shared, so OLD and
NEW differ only in the switches.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from retrainlab.common.names import check_name

#: The six fixes of the published report, in its order. Each is one boolean field of RetrainConfig
#: and lives in one module, ``retrainlab.engine.fixes.<name>``, which implements its behaviour
#: through the engine's hooks (``retrainlab.engine.hooks``; recipe: docs/adding-a-fix.md).
FIXES: tuple[str, ...] = (
    "profit_weighted_loss",
    "feedback_loop",
    "adaptive_thresholds",
    "regime_awareness",
    "long_lookback",
    "confidence_sizing",
)

#: The model classes (``retrainlab.engine.models``; ``RetrainConfig.model``), the default first.
MODEL_CLASSES: tuple[str, ...] = ("logistic", "gradient_boosting", "lstm")


#: Where the regime inputs come from (``RetrainConfig.regime_source``).
REGIME_SOURCES: tuple[str, ...] = ("detected", "true")


@dataclass(frozen=True)
class RetrainConfig:
    """Configuration of one retraining system (immutable; derive variants with ``with_fix``).

    The six booleans are the published fixes (see ``FIXES``); the rest is shared by OLD and NEW.
    """

    # --- the six fixes (False = OLD behaviour) ---
    profit_weighted_loss: bool = False  # sample_weight = |forward return|, scaled to mean 1
    feedback_loop: bool = False  # closed trade outcomes re-enter training
    adaptive_thresholds: bool = False  # thresholds from the model's own trailing probabilities
    regime_awareness: bool = False  # regime one-hots and regime x feature interactions
    long_lookback: bool = False  # train on long_window days instead of short_window
    confidence_sizing: bool = False  # size 0.5 + m(p) instead of 1

    # --- shared protocol ---
    horizon: int = 5  # holding period and label horizon, in trading days
    retrain_every: int = 21  # trading days between model refits
    short_window: int = 30  # training window (days) without long_lookback
    long_window: int = 252  # training window (days) with long_lookback
    cost_bps: float = 5.0  # cost per unit of turnover, in basis points
    execution_lag: int = 1  # trading days from the decision's close to the fill (0: same close)
    warmup: int = 60  # first decision no earlier than this many rows (longest feature window)
    # regime inputs: "detected" from prices, or "true" (a synthetic market's own regimes, the
    # ceiling of the regime idea; refused on markets without true regimes)
    regime_source: str = "detected"

    # --- static thresholds (OLD) ---
    long_threshold: float = 0.52
    short_threshold: float = 0.48

    # --- adaptive thresholds (NEW) ---
    adaptive_base_long: float = 0.55  # used until enough probability history exists
    adaptive_base_short: float = 0.45
    neutral_share: float = 0.30  # target share of neutral decisions
    threshold_floor: float = 0.40
    threshold_ceiling: float = 0.60
    threshold_history: int = 252  # trailing probabilities (pooled decisions) used for quantiles
    threshold_min_history: int = 50  # below this many, use the base thresholds

    # --- feedback loop ---
    feedback_pnl_scale: float = 5.0  # weight = (1 + scale * |pnl_pct|) * (loss_multiplier if loss)
    feedback_loss_multiplier: float = 1.5

    # --- model (same estimator for OLD and NEW) ---
    model: str = (
        "logistic"  # model class: "logistic", "gradient_boosting" or "lstm" (engine.models)
    )
    model_seed: int = 0  # randomness of the model class (boosting's binning, the LSTM's weights)
    C: float = 1.0  # inverse L2 strength of LogisticRegression ("logistic" only)
    max_iter: int = 200  # LogisticRegression's iterations ("logistic" only)
    min_train_samples: int = 20  # fewer purged samples than this: no fit, stay neutral

    def __post_init__(self) -> None:
        for name in FIXES:
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"RetrainConfig.{name} must be a bool, got {getattr(self, name)!r}")
        positive_ints = (
            "horizon",
            "retrain_every",
            "short_window",
            "long_window",
            "warmup",
            "threshold_history",
            "threshold_min_history",
            "max_iter",
            "min_train_samples",
        )
        for name in positive_ints:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"RetrainConfig.{name} must be a positive int, got {value!r}")
        if not 0.0 <= self.short_threshold <= self.long_threshold <= 1.0:
            raise ValueError("need 0 <= short_threshold <= long_threshold <= 1")
        if not 0.0 <= self.threshold_floor <= 0.5 <= self.threshold_ceiling <= 1.0:
            raise ValueError("need 0 <= threshold_floor <= 0.5 <= threshold_ceiling <= 1")
        if not 0.0 <= self.neutral_share < 1.0:
            raise ValueError(f"neutral_share must be in [0, 1), got {self.neutral_share!r}")
        check_name(self.regime_source, REGIME_SOURCES, "regime_source")
        lag = self.execution_lag
        if not isinstance(lag, int) or isinstance(lag, bool) or lag < 0:
            raise ValueError(f"RetrainConfig.execution_lag must be an int >= 0, got {lag!r}")
        if self.cost_bps < 0 or self.C <= 0:
            raise ValueError("cost_bps must be >= 0 and C > 0")
        self._check_model()

    def _check_model(self) -> None:
        """The model class exists, and no setting or fix is asked of a class that cannot use it
        (docs/models.md, "How each fix reaches each class")."""
        check_name(self.model, MODEL_CLASSES, "model class")
        seed = self.model_seed
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"RetrainConfig.model_seed must be an int >= 0, got {seed!r}")
        if self.model != "logistic" and (self.C, self.max_iter) != (1.0, 200):
            raise ValueError(
                f"C and max_iter configure the logistic model only; model={self.model!r} "
                "would ignore them: leave them at their defaults (1.0, 200)"
            )
        if self.model == "lstm" and self.feedback_loop:
            raise ValueError(
                "feedback_loop cannot apply to model='lstm': a closed trade reaches training as "
                "one feature vector (TradeOutcome.features), the LSTM needs its 20-day "
                "sequence; switch feedback_loop off (e.g. NEW.without_fix('feedback_loop')) "
                "or use model='logistic' or 'gradient_boosting'"
            )

    # ------------------------------------------------------------------ fixes
    def protocol(self) -> dict[str, Any]:
        """Every field but the fix switches, in field order: what the fixes are tested under
        (horizon, windows, costs, model, ...)."""
        # getattr, not to_dict: asdict deep-copies, and walk_forward_many asks this per config
        return {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in FIXES
        }

    @property
    def fixes(self) -> tuple[str, ...]:
        """The fixes switched on, in ``FIXES`` order."""
        return tuple(name for name in FIXES if getattr(self, name))

    def with_fix(self, name: str) -> RetrainConfig:
        """This config with fix ``name`` switched on."""
        return dataclasses.replace(self, **{check_name(name, FIXES, "fix"): True})

    def without_fix(self, name: str) -> RetrainConfig:
        """This config with fix ``name`` switched off."""
        return dataclasses.replace(self, **{check_name(name, FIXES, "fix"): False})

    def with_fixes(self, *names: str) -> RetrainConfig:
        """This config with every fix in ``names`` switched on."""
        return dataclasses.replace(self, **{check_name(n, FIXES, "fix"): True for n in names})

    def replace(self, **changes: Any) -> RetrainConfig:
        """A copy with fields changed; unknown field names raise with a suggestion."""
        fields = [f.name for f in dataclasses.fields(self)]
        for name in changes:
            check_name(name, fields, "RetrainConfig field")
        return dataclasses.replace(self, **changes)

    @property
    def label(self) -> str:
        """Short human label: ``OLD``, ``NEW``, ``OLD+fix``, ``NEW-fix`` or ``OLD+a+b``."""
        on = self.fixes
        # A "*" marks a protocol (horizon, costs, ...) that differs from the defaults.
        suffix = "" if self.protocol() == _DEFAULT_PROTOCOL else "*"
        if not on:
            return "OLD" + suffix
        if len(on) == len(FIXES):
            return "NEW" + suffix
        if len(on) == len(FIXES) - 1:
            missing = next(n for n in FIXES if n not in on)
            return f"NEW-{missing}{suffix}"
        return "OLD+" + "+".join(on) + suffix

    @classmethod
    def from_label(cls, label: str) -> RetrainConfig:
        """The default-protocol config a ``label`` names: ``"OLD"``, ``"NEW"``, ``"OLD+a+b"`` or
        ``"NEW-a"`` (fix names as in ``FIXES``; unknown ones raise with a suggestion).

        ``RetrainConfig.from_label(c.label) == c`` for every default-protocol config ``c``; a
        label ending in ``*`` (a non-default protocol) cannot be parsed, since it does not say
        which protocol.
        """
        if not isinstance(label, str):
            raise TypeError(f"label must be a str, got {type(label).__name__}")
        text = label.strip()
        if text.endswith("*"):
            raise ValueError(
                f"label {label!r} marks a non-default protocol ('*'), which a label does not "
                "spell out; build it with RetrainConfig.from_label(base).replace(...)"
            )
        base, plus, minus = text, [], []
        for sign in ("+", "-"):
            if sign in text:
                base, _, rest = text.partition(sign)
                (plus if sign == "+" else minus).extend(rest.split(sign))
                break
        if base not in ("OLD", "NEW"):
            raise ValueError(
                f"label {label!r} must start with 'OLD' or 'NEW' (e.g. 'OLD+long_lookback', "
                "'NEW-regime_awareness')"
            )
        names = [check_name(n.strip(), FIXES, "fix") for n in plus + minus]
        if len(set(names)) != len(names):
            raise ValueError(f"label {label!r} names a fix twice")
        if base == "OLD" and minus:
            raise ValueError(f"label {label!r}: OLD has no fixes to remove; use 'OLD+fix'")
        if base == "NEW" and plus:
            raise ValueError(f"label {label!r}: NEW has every fix already; use 'NEW-fix'")
        config = cls()
        if base == "OLD":
            return config.with_fixes(*names)
        return config.with_fixes(*(f for f in FIXES if f not in names))

    # ------------------------------------------------------------------ identity
    def to_dict(self) -> dict[str, Any]:
        """All fields as plain values (JSON-safe)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RetrainConfig:
        """Inverse of ``to_dict``; unknown keys raise with a suggestion."""
        return cls().replace(**values)

    def key(self) -> str:
        """A stable short hash of every field, for caches and result files."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


OLD = RetrainConfig()
_DEFAULT_PROTOCOL = OLD.protocol()
NEW = OLD.with_fixes(*FIXES)
