"""The published conclusion's list of six fixes, as claimed, beside what was measured."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from retrainlab.research import experiments
from retrainlab.research.sections import ABLATIONS, ablations

TITLE = "The published checklist against the measurements"
LEVEL = 3
REQUIRES = ABLATIONS


def context(results: Mapping[str, Any]) -> dict[str, Any]:
    found = ablations(results)
    return {
        "effects": [experiments.fix_effect(a) for a in found.values()],
        "descriptions": {fix: a["description"] for fix, a in found.items()},
        "protocol": next(iter(found.values()))["protocol"],
    }


def figures(results: Mapping[str, Any]) -> list:
    return []
