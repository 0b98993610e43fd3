"""Issues identified and fixed: each fix's measured Sharpe effect, alone and in context."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from retrainlab.research import figures as fig
from retrainlab.research.sections import ABLATIONS, ablations
from retrainlab.research.verdict import fix_family

TITLE = "Issues identified & fixed — measured"
REQUIRES = ABLATIONS


def context(results: Mapping[str, Any]) -> dict[str, Any]:
    found = ablations(results)
    first = next(iter(found.values()))
    return {
        "effects": fix_family(results),
        "descriptions": {fix: a["description"] for fix, a in found.items()},
        "n_markets": first["n_markets"],
        "protocol": first["protocol"],
    }


def figures(results: Mapping[str, Any]) -> list:
    return [fig.fix_effects({"fixes": fix_family(results)})]
