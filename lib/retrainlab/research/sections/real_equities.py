"""Report section: real equities (the skfolio S&P 500 panel and the arch indices)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from matplotlib.figure import Figure

from retrainlab.research.verdict_figures import plot_differences

TITLE = "Real equities"
REQUIRES: tuple[str, ...] = ("real_equities",)


def _series(results: Mapping[str, Any]) -> dict[str, Any]:
    real = results["real_equities"]
    out = {"sp500_panel": real["panel"]} if real.get("panel") else {}
    return out | dict(real.get("indices", {}))


def _keys(configs: list[str]) -> list[str]:
    fixes = [c for c in configs if c.startswith("OLD+")]
    return ["NEW - OLD", *(f"NEW - {c}" for c in fixes), "NEW - buy_and_hold"]


def context(results: Mapping[str, Any]) -> dict[str, Any]:
    """Per series: period, costs, Sharpe per system and NEW's paired differences."""
    real = results["real_equities"]
    series = _series(results)
    first = next(iter(series.values()))
    return {
        "cost_bps": first["cost_bps"],
        "execution_lag": first["execution_lag"],
        "configs": real["configs"],
        "series": series,
        "keys": _keys(real["configs"]),
        "panel": real.get("panel"),
        "block_days": real["params"].get("block_days"),
    }


def figures(results: Mapping[str, Any]) -> list[Figure]:
    series = _series(results)
    keys = _keys(results["real_equities"]["configs"])
    return [plot_differences({n: s["comparisons"] for n, s in series.items()}, keys)]
