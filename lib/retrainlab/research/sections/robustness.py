"""Placebo, costs, deflated Sharpe and real data, whatever they show."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from retrainlab.research import figures as fig

TITLE = "Placebo, costs, deflated Sharpe and real data"
REQUIRES = ("final_comparison",)


def context(results: Mapping[str, Any]) -> dict[str, Any]:
    final = results["final_comparison"]
    # cost levels are text keys ("5", "20"): order them as numbers
    costs = sorted(final["costs"], key=float)
    return {"final": final, "costs": costs, "protocol": final["protocol"]}


def figures(results: Mapping[str, Any]) -> list:
    return [fig.cost_curve(results["final_comparison"])]
