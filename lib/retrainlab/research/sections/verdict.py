"""Report section: the layered verdict (the first screen), computed by ``research.verdict``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from matplotlib.figure import Figure

from retrainlab.engine.config import FIXES
from retrainlab.research.verdict import verdict

TITLE = "Verdict"
#: The synthetic layers need these; real_equities, sensitivity and data_summary are used
#: when present (their lines are left out otherwise, and the template says so).
REQUIRES: tuple[str, ...] = ("replication", "final_comparison", *(f"ablation_{f}" for f in FIXES))


def context(results: Mapping[str, Any]) -> dict[str, Any]:
    """The verdict's lines grouped by layer, plus the facts the prose needs."""
    v = verdict(results)
    layers: dict[str, list[dict[str, Any]]] = {
        k: [] for k in ("published", "synthetic", "real", "fixes")
    }
    for line in v["lines"]:
        layers.setdefault(line["layer"], []).append(line)
    final = results["final_comparison"]
    return {
        "verdict": v,
        "layers": layers,
        "best": v["best_single_fix"],
        "regime": v["regime"],
        "n_markets": final["n_markets"],
        "cost_bps": final["params"].get("cost_bps", 5.0),
        "has_real": "real_equities" in results,
        "has_sensitivity": "sensitivity" in results,
    }


def figures(results: Mapping[str, Any]) -> list[Figure]:
    return []
