"""Figures for the notebooks and the report, drawn from results (dicts/frames), never recomputed."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg") if matplotlib.get_backend().lower() == "agg" else None
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

COLORS = {"OLD": "#7f7f7f", "NEW": "#1f77b4", "ALWAYS_LONG": "#2ca02c", "PLACEBO": "#d62728"}


def audit_sharpe_differences(rep: dict[str, Any]) -> plt.Figure:
    """Histogram of NEW − OLD Sharpe per seed (published and daily-portfolio Sharpe)."""
    per_seed = pd.DataFrame(rep["audit"]["per_seed"])
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), sharey=True)
    for ax, key, title in ((axes[0], "sharpe_published", "Sharpe as published (√52, pooled)"),
                           (axes[1], "sharpe_daily", "Sharpe of the daily portfolio (√252)")):
        diff = per_seed[f"NEW.{key}"] - per_seed[f"OLD.{key}"]
        ax.hist(diff, bins=15, color=COLORS["NEW"], alpha=0.8, edgecolor="white")
        ax.axvline(0, color="black", lw=1)
        ax.axvline(diff.mean(), color=COLORS["PLACEBO"], lw=1.5, ls="--",
                   label=f"mean {diff.mean():+.2f}")
        published_seed = rep["corrected"]
        ax.axvline(published_seed["NEW"][key] - published_seed["OLD"][key], color="orange",
                   lw=1.5, label="published seed")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("NEW − OLD Sharpe, one seed each")
        ax.legend(fontsize=8, frameon=False)
    axes[0].set_ylabel("seeds")
    fig.suptitle(f"The published rules over {len(per_seed)} seeds", fontsize=11)
    fig.tight_layout()
    return fig


def audit_equity(rep: dict[str, Any]) -> plt.Figure:
    """Daily-portfolio equity of OLD, NEW and always-long on the published seed."""
    fig, ax = plt.subplots(figsize=(10, 3.2))
    for name, values in rep["daily_portfolio"].items():
        equity = np.cumprod(1 + np.asarray(values, dtype=float))
        ax.plot(equity, label=name.replace("_", " ").lower(), color=COLORS[name], lw=1.4)
    ax.set_ylabel("equity (start 1)")
    ax.set_xlabel("trading day after the first decision")
    ax.set_title("The published run's trades as a daily portfolio (equal weight)", fontsize=10)
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig
