"""The first screen: the computed verdict, one line per check, pass or fail in words."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from retrainlab.research import experiments
from retrainlab.research.sections import ABLATIONS, ablations

TITLE = "Verdict"
REQUIRES = ("final_comparison", *ABLATIONS)


def context(results: Mapping[str, Any]) -> dict[str, Any]:
    # The verdict's logic lives in one function; swapping it changes this one line.
    final, found = results["final_comparison"], ablations(results)
    return {
        "verdict": experiments.verdict(final, found),
        "final": final,
        "descriptions": {fix: a["description"] for fix, a in found.items()},
    }


def figures(results: Mapping[str, Any]) -> list:
    return []
