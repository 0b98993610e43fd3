"""Fix 2, feedback loop: the system's own closed trades re-enter training.

A closed trade is a ``TradeOutcome``. At a retrain date, every outcome that closed strictly
before it becomes one extra training sample: the base features at entry, the regime at entry,

* label = 1 if the **underlying rose** over the trade (exit > entry), whatever the direction,
  i.e. the same event the model predicts. The published code labelled a sample "correct" when
  the trade made money, so a profitable short (underlying fell) became a "rose" label and
  taught the model the opposite of what happened; that bug is fixed here;
* weight = ``(1 + feedback_pnl_scale * |pnl_pct|) * (feedback_loss_multiplier if pnl_pct < 0)``
  (defaults 5 and 1.5): big moves and losing trades count more.

In the walk-forward only outcomes that entered inside the current training window are used (so
``long_lookback`` bounds all history alike); ``feedback_samples`` takes that as ``since``.

What the fix can and cannot add, once its label is right: a closed trade's sample (features at
entry, did the underlying rise over the next ``horizon`` days) is the very market sample
(entry date, ticker) that the training window already holds. In the walk-forward the feedback
loop therefore adds no new information; it up-weights the samples the system traded, more so
for large moves and for losses. Its measured effect should be read in that light.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from retrainlab.common.names import check_name
from retrainlab.engine.config import RetrainConfig
from retrainlab.engine.features import FEATURE_NAMES
from retrainlab.engine.outcomes import ExtraSamples, OutcomeTable, signed_pnl

__all__ = [
    "DIRECTIONS",
    "TradeOutcome",
    "feedback_samples",
    "outcome_label",
    "outcome_samples",
    "outcome_weight",
    "signed_pnl",
]

PROBLEM = "No performance feedback loop"
CHANGE = "closed trades re-enter training (label bug fixed)"

DIRECTIONS: tuple[str, ...] = ("long", "short")


def outcome_label(
    entry_price: np.ndarray | float, exit_price: np.ndarray | float
) -> np.ndarray | int:
    """1 if the underlying rose (exit > entry), else 0, whatever the trade's direction."""
    label = (np.asarray(exit_price) > np.asarray(entry_price)).astype(np.int64)
    return int(label) if label.ndim == 0 else label


def outcome_weight(pnl_pct: np.ndarray | float, config: RetrainConfig) -> np.ndarray | float:
    """The weight
    ``(1 + feedback_pnl_scale * |pnl_pct|) * (feedback_loss_multiplier if pnl_pct < 0 else 1)``."""
    pnl = np.asarray(pnl_pct, dtype=np.float64)
    weight = (1.0 + config.feedback_pnl_scale * np.abs(pnl)) * np.where(
        pnl < 0, config.feedback_loss_multiplier, 1.0
    )
    return float(weight) if weight.ndim == 0 else weight


@dataclass(frozen=True)
class TradeOutcome:
    """One closed trade, as the feedback loop sees it.

    Attributes
    ----------
    symbol : ticker.
    direction : "long" or "short".
    entry_price, exit_price : prices at entry and exit (> 0).
    size : position size (1 without confidence sizing).
    entry_time, exit_time : when the trade opened and closed (dates or anything ordered).
    features : base feature vector at entry (``FEATURE_NAMES`` order), or None if unknown.
    regime : regime code at entry (``REGIMES`` index), -1 if unknown.
    probability : the model's probability that the underlying rises, at entry.
    confidence : the model's confidence at entry (|m(p)|).
    """

    symbol: str
    direction: str
    entry_price: float
    exit_price: float
    size: float = 1.0
    entry_time: Any = None
    exit_time: Any = None
    features: np.ndarray | None = None
    regime: int = -1
    probability: float = float("nan")
    confidence: float = float("nan")

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            check_name(self.direction, DIRECTIONS, "trade direction")
        if not (self.entry_price > 0 and self.exit_price > 0):
            raise ValueError(
                f"prices must be > 0, got entry {self.entry_price!r}, exit {self.exit_price!r}"
            )
        if self.features is not None:
            features = np.asarray(self.features, dtype=np.float64).ravel()
            if features.shape != (len(FEATURE_NAMES),):
                raise ValueError(
                    f"features must have {len(FEATURE_NAMES)} values "
                    f"({', '.join(FEATURE_NAMES)}), got {features.shape[0]}"
                )
            object.__setattr__(self, "features", features)

    @property
    def sign(self) -> int:
        """+1 for a long, -1 for a short."""
        return 1 if self.direction == "long" else -1

    @property
    def pnl_pct(self) -> float:
        """Return of the trade before sizing, signed by direction (a short gains when price
        falls)."""
        return float(signed_pnl(self.sign, self.entry_price, self.exit_price))

    @property
    def label(self) -> int:
        """1 if the underlying rose over the trade, else 0 (the direction does not matter)."""
        return outcome_label(self.entry_price, self.exit_price)

    @property
    def weight(self) -> float:
        """Training weight with the default scales: ``(1 + 5 |pnl_pct|) * (1.5 if a loss)``."""
        return self.weight_for(None)

    def weight_for(self, config: RetrainConfig | None) -> float:
        """Training weight under ``config``'s feedback scales (see ``outcome_weight``)."""
        if config is None:
            config = RetrainConfig()
        return outcome_weight(self.pnl_pct, config)

    def to_dict(self) -> dict[str, Any]:
        """Plain-value dict (features as a list), e.g. for JSON."""
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        if self.features is not None:
            values["features"] = [float(x) for x in self.features]
        return values


def samples_from_trades(
    features: np.ndarray,
    regimes: np.ndarray,
    entry_price: np.ndarray,
    exit_price: np.ndarray,
    sign: np.ndarray,
    config: RetrainConfig,
) -> ExtraSamples:
    """One feedback sample per closed trade: label ``outcome_label``, weight ``outcome_weight``."""
    labels = outcome_label(entry_price, exit_price)
    weights = outcome_weight(signed_pnl(sign, entry_price, exit_price), config)
    return ExtraSamples(
        # one row per trade; as many columns as the features the run uses
        np.asarray(features, dtype=np.float64).reshape(np.size(labels), -1),
        np.asarray(regimes, dtype=np.int64),
        np.atleast_1d(labels),
        np.atleast_1d(weights),
    )


def outcome_samples(outcomes: OutcomeTable, config: RetrainConfig) -> ExtraSamples:
    """The ``extra_samples`` hook: the closed trades the engine selected, as feedback samples."""
    if outcomes.n == 0:
        return ExtraSamples.none()
    return samples_from_trades(
        outcomes.features,
        outcomes.regimes,
        outcomes.entry_price,
        outcomes.exit_price,
        outcomes.sign,
        config,
    )


HOOKS: dict[str, Callable] = {"extra_samples": outcome_samples}


def feedback_samples(
    outcomes: Iterable[TradeOutcome],
    before: Any,
    config: RetrainConfig,
    since: Any = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training samples from the outcomes that closed strictly before ``before``.

    Outcomes without features are skipped (there is nothing to train on). With ``since``, only
    outcomes with ``entry_time >= since`` are used (the walk-forward passes the start of the
    training window).

    Returns
    -------
    features (m, n_features), regimes (m,) int, labels (m,) int, weights (m,) float.
    """
    rows = [
        o
        for o in outcomes
        if o.features is not None
        and o.exit_time < before
        and (since is None or o.entry_time >= since)
    ]
    if not rows:
        return ExtraSamples.none().as_tuple()
    return samples_from_trades(
        np.vstack([o.features for o in rows]),
        np.array([o.regime for o in rows], dtype=np.int64),
        np.array([o.entry_price for o in rows], dtype=np.float64),
        np.array([o.exit_price for o in rows], dtype=np.float64),
        np.array([o.sign for o in rows], dtype=np.float64),
        config,
    ).as_tuple()
