"""How each fix acted: its mechanism on one market (OLD vs OLD + fix) and the regime detector.

The mechanism numbers are single-market illustrations (the ablation notebooks draw them); the
effects in the fixes section are the statistics across markets.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from retrainlab.research.regime_scoring import score_confusion
from retrainlab.research.sections import ABLATIONS, ablations

TITLE = "How each fix acted"
LEVEL = 3
REQUIRES = (*ABLATIONS, "data_summary")


def context(results: Mapping[str, Any]) -> dict[str, Any]:
    found = ablations(results)
    first = next(iter(found.values()))
    return {
        "mechanism": {fix: a.get("mechanism", {}) for fix, a in found.items()},
        "seed": first["params"].get("figures_seed", 0),
        "protocol": first["protocol"],
        "confusion": _confusion(results["data_summary"].get("confusion", {}).get("edge")),
    }


def _confusion(edge: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The detector's confusion summary plus the majority-class baseline
    (research.regime_scoring)."""
    if edge is None:
        return None
    scored = score_confusion(pd.DataFrame(edge["counts"]).T)
    return {**edge, "majority_accuracy": scored["majority_accuracy"]}


def figures(results: Mapping[str, Any]) -> list:
    return []
