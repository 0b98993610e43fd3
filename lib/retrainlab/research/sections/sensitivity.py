"""Report section: how the synthetic verdict moves with the test bed (05_sensitivity)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from matplotlib.figure import Figure

from retrainlab.research.verdict_figures import plot_sensitivity

TITLE = "How conditional the synthetic verdict is"
REQUIRES: tuple[str, ...] = ("sensitivity",)
KEYS: tuple[str, ...] = ("NEW - OLD", "NEW - best single fix", "NEW - buy_and_hold")


def context(results: Mapping[str, Any]) -> dict[str, Any]:
    sens = results["sensitivity"]
    return {
        "best": sens["best_fix"],
        "rows": sens["conditions"],
        "keys": list(KEYS),
        "placebo": sens["placebo_fresh"],
        "regime": sens.get("regime"),
        "seeds": sens["params"]["seeds"],
        "n_days": sens["params"]["n_days"],
        "n_tickers": sens["params"]["n_tickers"],
    }


def figures(results: Mapping[str, Any]) -> list[Figure]:
    return [plot_sensitivity(results["sensitivity"]["conditions"], list(KEYS))]
