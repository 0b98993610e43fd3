"""What each fix changes inside a run, shown on one market: OLD against OLD + fix.

The ablation statistics say *whether* a fix helps across seeds; these diagnostics show *how* it
acts (the thresholds it moves, the samples it adds, the sizes it sets), so a reader can tell a
fix that works from one that merely changes the numbers. ``mechanism(fix, old, fixed)`` returns
a small dict of summary figures (for the results file) and a matplotlib Figure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats as sps

from retrainlab.common.names import check_name
from retrainlab.engine.config import FIXES
from retrainlab.engine.market import Market
from retrainlab.engine.regimes import REGIMES

COLORS = {"OLD": "#7f7f7f", "FIX": "#1f77b4"}


def mechanism(fix: str, market: Market, old: Any, fixed: Any) -> tuple[dict[str, Any], plt.Figure]:
    """Summary figures and a Figure for ``fix``: walk-forward results of OLD and OLD + fix on
    ``market``."""
    check_name(fix, FIXES, "fix")
    return _MECHANISMS[fix](market, old, fixed, fix)


def _hit_by_move_size(result: Any, close: np.ndarray, bins: int = 5) -> pd.Series:
    h = result.config.horizon
    probs = result.probabilities.to_numpy(dtype=float)
    fwd = np.full_like(close, np.nan)
    fwd[:-h] = close[h:] / close[:-h] - 1
    mask = np.isfinite(probs) & np.isfinite(fwd) & (probs != 0.5)
    move, hit = np.abs(fwd[mask]), np.sign(probs[mask] - 0.5) == np.sign(fwd[mask])
    quintile = pd.qcut(move, bins, labels=[f"Q{i + 1}" for i in range(bins)])
    return pd.Series(hit).groupby(quintile, observed=True).mean()


def _profit_weighted_loss(
    market: Market, old: Any, fixed: Any, fix: str
) -> tuple[dict, plt.Figure]:
    close = market.close
    by_old, by_fix = _hit_by_move_size(old, close), _hit_by_move_size(fixed, close)
    fig, ax = plt.subplots(figsize=(8, 3.2))
    x = np.arange(len(by_old))
    ax.bar(x - 0.2, by_old, 0.4, label="OLD", color=COLORS["OLD"])
    ax.bar(x + 0.2, by_fix, 0.4, label=f"OLD + {fix}", color=COLORS["FIX"])
    ax.axhline(0.5, color="black", lw=0.8)
    ax.set_xticks(
        x,
        [
            f"{q}\n{'small' if i == 0 else 'large' if i == len(x) - 1 else ''}"
            for i, q in enumerate(by_old.index)
        ],
    )
    ax.set_ylim(0.4, 0.65)
    ax.set_xlabel("quintile of |forward return| (the size of the move being called)")
    ax.set_ylabel("hit rate")
    ax.set_title(
        "Weighting by |forward return| should shift accuracy to the large moves", fontsize=10
    )
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    summary = {"hit_rate_by_move_quintile": {"OLD": by_old.tolist(), "FIX": by_fix.tolist()}}
    return summary, fig


def _feedback_loop(market: Market, old: Any, fixed: Any, fix: str) -> tuple[dict, plt.Figure]:
    fits = fixed.fits[fixed.fits["fitted"]]
    share = fits["n_feedback"] / (fits["n_feedback"] + fits["n_market"])
    fig, ax = plt.subplots(figsize=(8, 3.2))
    ax.bar(fits["date"], fits["n_market"], width=12, color=COLORS["OLD"], label="market samples")
    ax.bar(
        fits["date"],
        fits["n_feedback"],
        bottom=fits["n_market"],
        width=12,
        color=COLORS["FIX"],
        label="trade-outcome samples (feedback)",
    )
    ax.set_ylabel("training samples per fit")
    ax.set_title("The feedback loop adds the system's own closed trades to each refit", fontsize=10)
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    summary = {
        "mean_feedback_share": float(share.mean()) if len(share) else float("nan"),
        "n_fits": len(fits),
    }
    return summary, fig


def _signal_mix(result: Any, window: int = 12) -> pd.DataFrame:
    signals = result.signals
    counts = pd.DataFrame({s: (signals == s).sum(axis=1) for s in ("long", "short", "neutral")})
    shares = counts.div(counts.sum(axis=1), axis=0)
    return shares.rolling(window, min_periods=1).mean()


def _adaptive_thresholds(market: Market, old: Any, fixed: Any, fix: str) -> tuple[dict, plt.Figure]:
    fig, axes = plt.subplots(3, 1, figsize=(9, 6.5), sharex=True)
    thresholds = fixed.thresholds
    axes[0].plot(
        thresholds.index, thresholds["long_threshold"], color="#2ca02c", label="long above"
    )
    axes[0].plot(
        thresholds.index, thresholds["short_threshold"], color="#d62728", label="short below"
    )
    old_t = old.thresholds
    axes[0].plot(old_t.index, old_t["long_threshold"], color="#2ca02c", ls=":", label="OLD static")
    axes[0].plot(old_t.index, old_t["short_threshold"], color="#d62728", ls=":")
    axes[0].set_ylabel("threshold")
    axes[0].legend(frameon=False, fontsize=8, ncol=3)
    axes[0].set_title("Adaptive thresholds follow the model's own probabilities", fontsize=10)
    for ax, result, name in ((axes[1], old, "OLD"), (axes[2], fixed, f"OLD + {fix}")):
        mix = _signal_mix(result)
        ax.stackplot(
            mix.index,
            mix["long"],
            mix["neutral"],
            mix["short"],
            colors=["#2ca02c", "#dddddd", "#d62728"],
            labels=["long", "neutral", "short"],
        )
        ax.set_ylabel(f"{name}\nsignal mix")
        ax.set_ylim(0, 1)
    axes[1].legend(frameon=False, fontsize=8, ncol=3, loc="upper right")
    fig.tight_layout()
    summary = {
        name: {
            "neutral_share": r.metrics["n_neutral"]
            / max(1.0, r.metrics["n_long"] + r.metrics["n_short"] + r.metrics["n_neutral"]),
            "buy_sell_ratio": r.metrics["buy_sell_ratio"],
        }
        for name, r in (("OLD", old), ("FIX", fixed))
    }
    return summary, fig


def _by_regime(result: Any) -> pd.Series:
    regime = result.market_regimes.reindex(result.returns.index)
    return result.returns.groupby(regime).mean() * 252


def _regime_awareness(market: Market, old: Any, fixed: Any, fix: str) -> tuple[dict, plt.Figure]:
    by_old, by_fix = _by_regime(old), _by_regime(fixed)
    regimes = [r for r in REGIMES if r in by_old.index]
    fig, ax = plt.subplots(figsize=(8, 3.2))
    x = np.arange(len(regimes))
    ax.bar(x - 0.2, by_old.reindex(regimes), 0.4, label="OLD", color=COLORS["OLD"])
    ax.bar(x + 0.2, by_fix.reindex(regimes), 0.4, label=f"OLD + {fix}", color=COLORS["FIX"])
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(x, regimes)
    ax.set_ylabel("annualised mean return")
    ax.set_xlabel("detected regime of the market (equal-weight index)")
    ax.set_title("Performance by detected regime", fontsize=10)
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    summary = {"annual_return_by_regime": {"OLD": by_old.to_dict(), "FIX": by_fix.to_dict()}}
    return summary, fig


def coefficient_instability(result: Any) -> pd.Series:
    """Relative change of the coefficient vector between consecutive fits (‖Δβ‖ / ‖β‖)."""
    coef = result.coefficients.drop(columns="intercept", errors="ignore").to_numpy(dtype=float)
    if len(coef) < 2:
        return pd.Series(dtype=float)
    change = np.linalg.norm(np.diff(coef, axis=0), axis=1)
    scale = np.linalg.norm(coef[:-1], axis=1)
    return pd.Series(
        change / np.where(scale > 0, scale, np.nan), index=result.coefficients.index[1:]
    )


def _long_lookback(market: Market, old: Any, fixed: Any, fix: str) -> tuple[dict, plt.Figure]:
    inst_old, inst_fix = coefficient_instability(old), coefficient_instability(fixed)
    fig, ax = plt.subplots(figsize=(8, 3.2))
    ax.plot(inst_old.index, inst_old, color=COLORS["OLD"], label="OLD (30-day window)")
    ax.plot(inst_fix.index, inst_fix, color=COLORS["FIX"], label=f"OLD + {fix} (252-day window)")
    ax.set_yscale("log")
    ax.set_ylabel("‖Δβ‖ / ‖β‖ between refits")
    ax.set_title("Fit stability: how much each refit moves the model", fontsize=10)
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    summary = {
        "median_coefficient_change": {
            "OLD": float(inst_old.median()),
            "FIX": float(inst_fix.median()),
        }
    }
    return summary, fig


def _confidence_sizing(market: Market, old: Any, fixed: Any, fix: str) -> tuple[dict, plt.Figure]:
    trades = fixed.trades
    fig, ax = plt.subplots(figsize=(8, 3.2))
    if len(trades) >= 10:
        bins = pd.qcut(trades["size"], 5, duplicates="drop")
        grouped = trades.groupby(bins, observed=True)["pnl_pct"].agg(["mean", "sem"])
        labels = [f"{iv.left:.2f}–{iv.right:.2f}" for iv in grouped.index]
        ax.bar(
            labels, grouped["mean"] * 1e4, yerr=grouped["sem"] * 1e4, color=COLORS["FIX"], capsize=3
        )
        rho, p = sps.spearmanr(trades["size"], trades["pnl_pct"])
    else:
        rho, p = float("nan"), float("nan")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlabel("position size (quintile range)")
    ax.set_ylabel("mean trade return (bps, ±1 s.e.)")
    ax.set_title("Do larger bets earn more? Trade return by confidence-based size", fontsize=10)
    fig.tight_layout()
    return {"spearman_size_vs_return": float(rho), "spearman_p": float(p)}, fig


_MECHANISMS: dict[str, Callable[[Market, Any, Any, str], tuple[dict, plt.Figure]]] = {
    "profit_weighted_loss": _profit_weighted_loss,
    "feedback_loop": _feedback_loop,
    "adaptive_thresholds": _adaptive_thresholds,
    "regime_awareness": _regime_awareness,
    "long_lookback": _long_lookback,
    "confidence_sizing": _confidence_sizing,
}
