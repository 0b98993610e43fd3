"""The published conclusion's list of six fixes, as claimed, beside what was measured."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from retrainlab.research.sections import ABLATIONS, ablations
from retrainlab.research.verdict import fix_family

TITLE = "The published checklist against the measurements"
LEVEL = 3
REQUIRES = ABLATIONS


def context(results: Mapping[str, Any]) -> dict[str, Any]:
    found = ablations(results)
    return {
        "effects": fix_family(results),
        "descriptions": {fix: a["description"] for fix, a in found.items()},
        "protocol": next(iter(found.values()))["protocol"],
    }


def figures(results: Mapping[str, Any]) -> list:
    return []
