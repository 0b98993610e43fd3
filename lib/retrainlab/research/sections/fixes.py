"""Issues identified and fixed: each fix's measured Sharpe effect, alone and in context."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from retrainlab.research import experiments
from retrainlab.research import figures as fig
from retrainlab.research.sections import ABLATIONS, ablations

TITLE = "Issues identified & fixed — measured"
REQUIRES = ABLATIONS


def context(results: Mapping[str, Any]) -> dict[str, Any]:
    found = ablations(results)
    first = next(iter(found.values()))
    return {
        "effects": [experiments.fix_effect(a) for a in found.values()],
        "descriptions": {fix: a["description"] for fix, a in found.items()},
        "n_markets": first["n_markets"],
        "protocol": first["protocol"],
    }


def figures(results: Mapping[str, Any]) -> list:
    effects = [experiments.fix_effect(a) for a in ablations(results).values()]
    return [fig.fix_effects({"fixes": effects})]
