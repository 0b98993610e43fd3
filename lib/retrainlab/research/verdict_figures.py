"""Figures of the verdict's evidence: paired differences with their CIs (matplotlib Figures)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

__all__ = ["plot_differences", "plot_sensitivity"]


def plot_differences(
    panels: Mapping[str, Mapping[str, Mapping[str, Any]]],
    keys: Sequence[str],
    *,
    title: str = "Sharpe difference with 95% CI",
) -> Figure:
    """One row of points with CI bars per panel (e.g. per series): ``panels[name][key]`` holds
    ``mean_diff``, ``ci_low``, ``ci_high``; a key missing from a panel is left out."""
    names = list(panels)
    fig, axes = plt.subplots(
        1,
        len(names),
        figsize=(4.2 * len(names), 0.45 * len(keys) + 1.6),
        sharey=True,
        squeeze=False,
    )
    for ax, name in zip(axes[0], names, strict=True):
        for i, key in enumerate(keys):
            stat = panels[name].get(key)
            if stat is None or stat.get("ci_low") is None:
                continue
            low, high, mid = stat["ci_low"], stat["ci_high"], stat["mean_diff"]
            color = "tab:green" if low > 0 else ("tab:red" if high < 0 else "0.4")
            ax.plot([low, high], [i, i], color=color, lw=2)
            ax.plot([mid], [i], "o", color=color)
        ax.axvline(0.0, color="0.2", lw=0.8)
        ax.set_title(name)
        ax.set_yticks(np.arange(len(keys)), list(keys))
        ax.invert_yaxis()
        ax.set_xlabel("Sharpe difference")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_sensitivity(rows: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> Figure:
    """Differences (``keys``, e.g. "NEW - OLD") with CIs across conditions (one x per row)."""
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    x = np.arange(len(rows))
    width = 0.8 / max(1, len(keys))
    for k, key in enumerate(keys):
        mids = np.array([r[key]["mean_diff"] for r in rows], dtype=float)
        lows = np.array([r[key]["ci_low"] for r in rows], dtype=float)
        highs = np.array([r[key]["ci_high"] for r in rows], dtype=float)
        pos = x + (k - (len(keys) - 1) / 2) * width
        ax.errorbar(pos, mids, yerr=[mids - lows, highs - mids], fmt="o", capsize=3, label=key)
    ax.axhline(0.0, color="0.2", lw=0.8)
    ax.set_xticks(x, [r["condition"] for r in rows], rotation=20)
    ax.set_ylabel("Sharpe difference (95% CI)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
