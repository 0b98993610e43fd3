"""Report section: the full factorial of the fixes (``factorial.json`` from 06_factorial).

Which subset to run (chosen on the selection markets, measured on fresh ones, on the real index
series and on the blocks of the real S&P 500 panel), what each fix earns (its Shapley value of
NEW − OLD, with CI), which pairs interact (the two-way terms of the regression on the 2^k design)
and a heat map of those effects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

TITLE = "Every combination of the fixes: the full factorial"
REQUIRES: tuple[str, ...] = ("factorial",)


def _verdict(stat: Mapping[str, Any]) -> dict[str, Any]:
    """A statistic with its helps/hurts flags (the family-corrected CI excludes zero)."""
    return {**stat, "helps": bool(stat["positive"]), "hurts": bool(stat["negative"])}


def context(results: Mapping[str, Any]) -> dict[str, Any]:
    """The facts the template needs, all read from ``results["factorial"]``."""
    fac = results["factorial"]
    fixes = fac["fixes"]
    shapley = fac["shapley"]
    effects = fac["effects"]
    best = fac["best"]
    by_label = {c["label"]: c for c in fac["configs"]}
    pairs = sorted(effects["interactions"], key=lambda p: -abs(p["mean"]))
    params = fac["params"]
    panel = fac.get("panel")  # absent from results files written before the panel was added
    return {
        "fixes": fixes,
        "n_fixes": len(fixes),
        "n_configs": fac["n_configs"],
        "old": fac["old"],
        "new": fac["new"],
        "n_selection": len(fac["markets"]["selection"]),
        "n_confirmation": len(fac["markets"]["confirmation"]),
        "n_synthetic": len(fac["markets"]["selection"]) + len(fac["markets"]["confirmation"]),
        "real_markets": fac["markets"]["real"],
        "n_days": params.get("n_days"),
        "n_tickers": params.get("n_tickers"),
        "confidence": fac["confidence"],
        "old_mean": by_label[fac["old"]],
        "new_mean": by_label[fac["new"]],
        "top_configs": sorted(fac["configs"], key=lambda c: -c["mean"])[:5],
        "total": shapley["total"],
        "shapley": [{"fix": f, **_verdict(shapley["fixes"][f])} for f in fixes],
        "shapley_confidence": shapley["fixes"][fixes[0]]["corrected_confidence"],
        "shapley_real": shapley.get("real", {}),
        "main": [{"fix": f, **_verdict(effects["main"][f])} for f in fixes],
        "pairs": [_verdict(p) for p in pairs],
        "interacting": [_verdict(p) for p in pairs if p["positive"] or p["negative"]],
        "n_effect_tests": effects["n_tests"],
        "effects_confidence": pairs[0]["corrected_confidence"] if pairs else None,
        "r_squared": effects["r_squared"],
        "best": best,
        "best_is_new": best["label"] == fac["new"],
        "best_is_old": best["label"] == fac["old"],
        "confirmation": best.get("confirmation"),
        "real": best.get("real", {}),
        "panel": panel,
        "panel_block_years": (
            float(np.mean([b["years"] for b in panel["blocks"]])) if panel else None
        ),
    }


def interaction_matrix(fac: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """``(values, significant)``: k x k, main effects on the diagonal, pair interactions off it."""
    fixes = fac["fixes"]
    index = {f: i for i, f in enumerate(fixes)}
    values = np.full((len(fixes), len(fixes)), np.nan)
    significant = np.zeros_like(values, dtype=bool)
    for f, stat in fac["effects"]["main"].items():
        values[index[f], index[f]] = stat["mean"]
        significant[index[f], index[f]] = stat["positive"] or stat["negative"]
    for p in fac["effects"]["interactions"]:
        for a, b in ((p["a"], p["b"]), (p["b"], p["a"])):
            values[index[a], index[b]] = p["mean"]
            significant[index[a], index[b]] = p["positive"] or p["negative"]
    return values, significant


def heat_map(fac: Mapping[str, Any]) -> plt.Figure:
    """Main effects (diagonal) and two-way interactions (off it), mean Δ Sharpe across markets."""
    values, significant = interaction_matrix(fac)
    fixes = fac["fixes"]
    k = len(fixes)
    fig, ax = plt.subplots(figsize=(1.1 * k + 2.8, 0.9 * k + 1.6))
    bound = float(np.nanmax(np.abs(values))) or 1.0
    image = ax.imshow(values, cmap="RdBu", vmin=-bound, vmax=bound)
    for i in range(k):
        for j in range(k):
            mark = " *" if significant[i, j] else ""
            dark = abs(values[i, j]) > 0.6 * bound  # white text on the deep colours
            ax.text(
                j,
                i,
                f"{values[i, j]:+.2f}{mark}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if dark else "black",
            )
    names = [f.replace("_", " ") for f in fixes]
    ax.set_xticks(range(k), names, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(k), names, fontsize=8)
    fig.colorbar(image, ax=ax, label="Δ Sharpe ratio")
    ax.set_title(f"Effects (*: significant, {fac['effects']['n_tests']} tests)", fontsize=10)
    fig.tight_layout()
    return fig


def shapley_bars(fac: Mapping[str, Any]) -> plt.Figure:
    """Each fix's Shapley value of NEW − OLD: mean across markets with its 95% CI."""
    fixes = fac["fixes"]
    stats = [fac["shapley"]["fixes"][f] for f in fixes]
    means = np.array([s["mean"] for s in stats], dtype=float)
    low = np.array([np.nan if s["ci_low"] is None else s["ci_low"] for s in stats], dtype=float)
    high = np.array([np.nan if s["ci_high"] is None else s["ci_high"] for s in stats], dtype=float)
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(fixes) + 1.4))
    y = np.arange(len(fixes))
    colors = ["#1f77b4" if m >= 0 else "#d62728" for m in means]
    ax.barh(y, means, color=colors, alpha=0.8)
    ax.errorbar(means, y, xerr=[means - low, high - means], fmt="none", color="black", capsize=3)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, fixes, fontsize=8)
    ax.invert_yaxis()
    total = fac["shapley"]["total"]["mean"]
    ax.set_xlabel(f"Δ Sharpe (sum {total:+.2f} = NEW − OLD)")
    ax.set_title("Shapley values, 95% CI", fontsize=10)
    fig.tight_layout()
    return fig


def figures(results: Mapping[str, Any]) -> list[plt.Figure]:
    """The Shapley bars and the interaction heat map."""
    fac = results["factorial"]
    return [shapley_bars(fac), heat_map(fac)]
