"""Scoring the regime detector against the right baselines (issue 9: "chance 27%" was wrong).

An accuracy means something only beside what a detector with no information gets:

* **majority class**: always answer the most frequent true regime. On the synthetic markets
  that is "bull" on about 44% of ticker-days, far above the 27% "chance" of a random labeller
  with the detector's own label frequencies (``regime_diagnostics.confusion_summary``).
* **balanced accuracy**: the mean of the per-regime recalls. Every detector that ignores the
  data (constant, or random) scores ``1 / n_regimes`` on it, whatever the class frequencies,
  so it cannot be inflated by favouring the frequent regime.

:func:`score_confusion` works on a confusion matrix of counts (rows true, columns detected, as
``regime_diagnostics.confusion_matrix`` builds it); :func:`score_detector` on raw regimes;
:func:`trend_threshold_vs_drift` compares the detector's bull/bear threshold with the
generator's expected move over the same window.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from retrainlab.engine.fixes.regime_awareness import TREND_RETURN
from retrainlab.engine.market import REGIMES
from retrainlab.engine.synthetic import DRIFT
from retrainlab.research.regime_diagnostics import confusion_matrix

__all__ = ["score_confusion", "score_detector", "sum_confusions", "trend_threshold_vs_drift"]


def score_confusion(counts: pd.DataFrame) -> dict[str, Any]:
    """Accuracy, majority-class baseline and balanced accuracy of a confusion matrix of counts.

    Only the four regime rows and columns are scored (undefined days are not). Returns
    ``n``, ``accuracy``, ``majority_class``, ``majority_accuracy``, ``accuracy_minus_majority``
    (percentage points as a fraction), ``balanced_accuracy`` (mean recall over the regimes that
    occur), ``balanced_chance`` (``1 / that count``), ``beats_majority`` and ``recall``.
    """
    square = counts.reindex(index=list(REGIMES), columns=list(REGIMES), fill_value=0)
    values = square.to_numpy(dtype=float)
    total = values.sum()
    truth = values.sum(axis=1)
    nan = float("nan")
    if total == 0:
        return {
            "n": 0,
            "accuracy": nan,
            "majority_class": None,
            "majority_accuracy": nan,
            "accuracy_minus_majority": nan,
            "balanced_accuracy": nan,
            "balanced_chance": nan,
            "beats_majority": False,
            "recall": {r: nan for r in REGIMES},
        }
    accuracy = float(np.trace(values) / total)
    majority = int(np.argmax(truth))
    present = truth > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.diag(values) / truth
    balanced = float(np.mean(recall[present]))
    return {
        "n": int(total),
        "accuracy": accuracy,
        "majority_class": REGIMES[majority],
        "majority_accuracy": float(truth[majority] / total),
        "accuracy_minus_majority": accuracy - float(truth[majority] / total),
        "balanced_accuracy": balanced,
        "balanced_chance": float(1.0 / present.sum()),
        "beats_majority": accuracy > float(truth[majority] / total),
        "recall": {r: float(v) for r, v in zip(REGIMES, recall, strict=True)},
    }


def score_detector(true: Any, detected: Any) -> dict[str, Any]:
    """:func:`score_confusion` of ``regime_diagnostics.confusion_matrix(true, detected)``."""
    return score_confusion(confusion_matrix(true, detected))


def sum_confusions(confusions: Sequence[pd.DataFrame] | Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Pool several confusion matrices of counts (e.g. one per market) into one."""
    frames = list(confusions.values()) if isinstance(confusions, Mapping) else list(confusions)
    if not frames:
        raise ValueError("no confusion matrices to pool")
    total = frames[0].astype(float)
    for frame in frames[1:]:
        total = total.add(frame.astype(float), fill_value=0.0)
    return total


def trend_threshold_vs_drift(window: int = 60) -> dict[str, float]:
    """The detector's trend threshold against the generator's expected move over ``window``.

    ``expected_bull_move`` = ``exp(DRIFT[bull] * window) - 1``: the mean return of a bull
    spell over the detector's 60-day window (drift only; the planted momentum adds to single
    paths, not to the mean). A threshold above it labels the median bull window "not bull".
    """
    bull, bear = REGIMES.index("bull"), REGIMES.index("bear")
    return {
        "window": float(window),
        "threshold": float(TREND_RETURN),
        "expected_bull_move": float(np.expm1(DRIFT[bull] * window)),
        "expected_bear_move": float(np.expm1(DRIFT[bear] * window)),
    }
