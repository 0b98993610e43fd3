"""Figures for the notebooks and the report, drawn from results (dicts/frames), never recomputed."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

COLORS = {"OLD": "#7f7f7f", "NEW": "#1f77b4", "ALWAYS_LONG": "#2ca02c", "PLACEBO": "#d62728"}


def audit_sharpe_differences(rep: dict[str, Any]) -> plt.Figure:
    """Histogram of NEW − OLD Sharpe per seed (published and daily-portfolio Sharpe)."""
    per_seed = pd.DataFrame(rep["audit"]["per_seed"])
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), sharey=True)
    for ax, key, title in (
        (axes[0], "sharpe_published", "Sharpe as published (√52, pooled)"),
        (axes[1], "sharpe_daily", "Sharpe of the daily portfolio (√252)"),
    ):
        diff = per_seed[f"NEW.{key}"] - per_seed[f"OLD.{key}"]
        ax.hist(diff, bins=15, color=COLORS["NEW"], alpha=0.8, edgecolor="white")
        ax.axvline(0, color="black", lw=1)
        ax.axvline(
            diff.mean(), color=COLORS["PLACEBO"], lw=1.5, ls="--", label=f"mean {diff.mean():+.2f}"
        )
        published_seed = rep["corrected"]
        ax.axvline(
            published_seed["NEW"][key] - published_seed["OLD"][key],
            color="orange",
            lw=1.5,
            label="published seed",
        )
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


def ablation_sharpe(ablation: dict[str, Any]) -> plt.Figure:
    """Sharpe of the four systems of one ablation, one line per market (paired)."""
    labels = ablation["configs"]
    values = np.array([ablation["per_seed"][c]["sharpe_ratio"] for c in labels])
    fig, ax = plt.subplots(figsize=(8, 3.6))
    x = np.arange(len(labels))
    ax.plot(x, values, color="#bbbbbb", lw=0.6, alpha=0.6)
    ax.boxplot(values.T, positions=x, widths=0.35, showfliers=False, medianprops={"color": "black"})
    ax.scatter(x, values.mean(axis=1), color=COLORS["PLACEBO"], zorder=3, label="mean")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(
        x, [label.replace("+", "\n+ ").replace("NEW-", "NEW\n− ") for label in labels], fontsize=8
    )
    ax.set_ylabel("Sharpe ratio (net of costs)")
    ax.set_title(f"Ablation of {ablation['fix']}: one grey line per market", fontsize=10)
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def fix_effects(verdict: dict[str, Any]) -> plt.Figure:
    """Forest plot: each fix's Sharpe effect alone and in context, mean with 95% CI."""
    fixes = verdict["fixes"]
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(fixes) + 1.2))
    for i, f in enumerate(fixes):
        for offset, key, color, label in (
            (-0.15, "alone", COLORS["OLD"], "alone (OLD + fix − OLD)"),
            (0.15, "in_context", COLORS["NEW"], "in context (NEW − NEW without fix)"),
        ):
            s = f[key]
            lo, hi = s["ci_low"], s["ci_high"]
            if lo is None or hi is None:
                continue
            ax.errorbar(
                s["mean_diff"],
                i + offset,
                xerr=[[s["mean_diff"] - lo], [hi - s["mean_diff"]]],
                fmt="o",
                color=color,
                capsize=3,
                label=label if i == 0 else None,
            )
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(range(len(fixes)), [f["fix"] for f in fixes])
    ax.invert_yaxis()
    ax.set_xlabel("Δ Sharpe ratio, paired across markets (95% bootstrap CI)")
    ax.set_title("What each fix does to the Sharpe ratio", fontsize=10)
    ax.legend(frameon=False, fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def paired_sharpe(final: dict[str, Any]) -> plt.Figure:
    """OLD vs NEW Sharpe per market (points above the diagonal: NEW better), and the placebo."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    panels = (
        (axes[0], final["per_seed"], "sharpe_ratio", "planted edge, after costs"),
        (axes[1], final["placebo"]["per_seed"], "sharpe_at_0bps", "placebo, before costs"),
    )
    for ax, per_seed, key, title in panels:
        old = np.asarray(per_seed["OLD"][key], dtype=float)
        new = np.asarray(per_seed["NEW"][key], dtype=float)
        lim = [min(old.min(), new.min()) - 0.2, max(old.max(), new.max()) + 0.2]
        ax.plot(lim, lim, color="black", lw=0.8)
        ax.axhline(0, color="#cccccc", lw=0.6)
        ax.axvline(0, color="#cccccc", lw=0.6)
        ax.scatter(old, new, s=18, color=COLORS["NEW"], alpha=0.8)
        ax.set_xlim(lim)
        ax.set_ylim(lim)
        ax.set_xlabel("OLD Sharpe")
        ax.set_ylabel("NEW Sharpe")
        ax.set_title(f"{title}: {np.mean(new > old):.0%} above the diagonal", fontsize=10)
    fig.tight_layout()
    return fig


def cost_curve(final: dict[str, Any]) -> plt.Figure:
    """Mean Sharpe of OLD and NEW as costs rise, with the paired difference's CI."""
    costs = sorted(final["costs"], key=float)  # keys are text ("5", "10"): sort as numbers
    x = np.array([float(c) for c in costs])
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    for name in ("OLD", "NEW"):
        axes[0].plot(
            x,
            [final["means"][name][f"sharpe_at_{c}bps"] for c in costs],
            "o-",
            color=COLORS[name],
            label=name,
        )
    axes[0].set_xlabel("cost (bps per unit of turnover)")
    axes[0].set_ylabel("mean Sharpe")
    axes[0].axhline(0, color="black", lw=0.8)
    axes[0].legend(frameon=False, fontsize=8)
    diff = np.array([final["costs"][c]["mean_diff"] for c in costs])
    lo = np.array([final["costs"][c]["ci_low"] for c in costs], dtype=float)
    hi = np.array([final["costs"][c]["ci_high"] for c in costs], dtype=float)
    axes[1].fill_between(x, lo, hi, color=COLORS["NEW"], alpha=0.2, label="95% CI")
    axes[1].plot(x, diff, "o-", color=COLORS["NEW"], label="NEW − OLD")
    axes[1].axhline(0, color="black", lw=0.8)
    axes[1].set_xlabel("cost (bps per unit of turnover)")
    axes[1].set_ylabel("Δ Sharpe")
    axes[1].legend(frameon=False, fontsize=8)
    fig.suptitle("Costs", fontsize=11)
    fig.tight_layout()
    return fig


def explore_dashboard(systems: dict[str, Any], title: str = "") -> plt.Figure:
    """Equity curves, mean position and signal mix of each system (``explore.lines`` output)."""
    palette = ["#7f7f7f", "#1f77b4", "#2ca02c", "#ff7f0e"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4), gridspec_kw={"width_ratios": [2.2, 2.2, 1]})
    for (name, line), color in zip(systems.items(), palette, strict=False):
        equity = (1 + line.returns).cumprod()
        axes[0].plot(equity.index, equity.to_numpy(), label=name, color=color, lw=1.3)
        mean_position = line.positions.mean(axis=1)
        axes[1].plot(mean_position.index, mean_position.to_numpy(), label=name, color=color, lw=1)
    axes[0].set_title("equity after costs (start 1)", fontsize=10)
    axes[0].legend(frameon=False, fontsize=8)
    axes[1].set_title("mean position across tickers (+1 all long)", fontsize=10)
    axes[1].axhline(0, color="black", lw=0.6)
    for ax in axes[:2]:
        ax.tick_params(axis="x", labelsize=8, rotation=30)
    names = list(systems)
    bottom = np.zeros(len(names))
    for side, color in (("long", "#2ca02c"), ("neutral", "#cccccc"), ("short", "#d62728")):
        shares = np.array([systems[n].signal_mix[side] for n in names])
        axes[2].bar(range(len(names)), shares, bottom=bottom, color=color, label=side)
        bottom += shares
    axes[2].set_xticks(range(len(names)), [n.replace("+", "\n+") for n in names], fontsize=7)
    axes[2].set_title("signal mix", fontsize=10)
    axes[2].legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig
