"""Figures of the regime detector against the true regimes (notebook ``01_generate_data``).

``plot_regimes`` (prices with true and detected regimes shaded), ``plot_confusion`` (row-normalised
confusion heatmaps) and ``plot_detection_lag`` (Kaplan-Meier detection curve and outcomes); each
returns a matplotlib Figure. The numbers come from ``research.regime_diagnostics``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from retrainlab.common.names import suggest
from retrainlab.engine.fixes.regime_awareness import detect_regimes
from retrainlab.engine.market import REGIMES, Market
from retrainlab.research.regime_diagnostics import (
    OUTCOMES,
    UNDEFINED,
    detection_curve,
    paired_codes,
    row_normalize,
)

__all__ = ["REGIME_COLORS", "plot_confusion", "plot_detection_lag", "plot_regimes"]

#: One colour per regime, used by every figure here.
REGIME_COLORS: dict[str, str] = {
    "bull": "#2ca02c",
    "bear": "#d62728",
    "volatile": "#ff7f0e",
    "sideways": "#7f7f7f",
}


def _spans(codes: np.ndarray) -> list[tuple[int, int, int]]:
    """Runs of equal codes as (start, stop, code), stop exclusive."""
    if codes.size == 0:
        return []
    breaks = np.flatnonzero(codes[1:] != codes[:-1]) + 1
    starts = np.concatenate([[0], breaks])
    stops = np.concatenate([breaks, [codes.size]])
    return [(int(a), int(b), int(codes[a])) for a, b in zip(starts, stops, strict=True)]


def _shade(ax: Any, dates: pd.DatetimeIndex, codes: np.ndarray) -> None:
    """Shade each run of a regime; undefined (-1) runs are left white."""
    # a span covers its days up to the next span's first day, so runs tile the axis
    edges = (
        dates.append(pd.DatetimeIndex([dates[-1] + (dates[-1] - dates[-2])]))
        if len(dates) > 1
        else dates.append(dates)
    )
    for a, b, code in _spans(codes):
        if code != UNDEFINED:
            ax.axvspan(edges[a], edges[b], color=REGIME_COLORS[REGIMES[code]], alpha=0.25, lw=0)


def _ticker_indices(market: Market, tickers: Sequence[str | int] | None) -> list[int]:
    if tickers is None:
        return list(range(min(3, market.n_tickers)))
    out = []
    for t in tickers:
        if isinstance(t, (int, np.integer)) and not isinstance(t, bool):
            if not 0 <= t < market.n_tickers:
                raise ValueError(f"ticker index {t} out of range 0..{market.n_tickers - 1}")
            out.append(int(t))
        elif t in market.tickers:
            out.append(market.tickers.index(t))
        else:
            raise ValueError(
                f"unknown ticker {t!r}.{suggest(str(t), market.tickers)} "
                f"Tickers: {', '.join(market.tickers)}"
            )
    if not out:
        raise ValueError("tickers is empty: name at least one ticker to plot")
    return out


def plot_regimes(
    market: Market, detected: Any = None, tickers: Sequence[str | int] | None = None
) -> Figure:
    """Prices of a few tickers with the true regimes (left) and the detected ones (right) shaded.

    One row per ticker, the same price line in both columns: on the left the true
    regime path shaded, on the right that ticker's detected regimes (``detected``: (n_days,
    n_tickers) codes or names, default ``detect_regimes(market.close)``; unshaded = undefined,
    the detector's warm-up). ``tickers``: names or column indices (default the first three).
    """
    if market.regimes is None:
        raise ValueError(f"market {market.name!r} has no true regimes to shade")
    if detected is None:
        detected = detect_regimes(market.close)
    true, det = paired_codes(market.regimes, detected)
    if det.shape[1] != market.n_tickers:
        raise ValueError(
            f"detected has {det.shape[1]} columns, the market {market.n_tickers} tickers"
        )
    columns = _ticker_indices(market, tickers)
    fig, axes = plt.subplots(
        len(columns), 2, figsize=(11, 2.3 * len(columns) + 0.6), sharex=True, squeeze=False
    )
    for row, j in enumerate(columns):
        for col, codes in enumerate((true, det[:, j])):
            ax = axes[row, col]
            _shade(ax, market.dates, codes)
            ax.plot(market.dates, market.close[:, j], color="black", lw=0.9)
            ax.margins(x=0)
            locator = mdates.AutoDateLocator()
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
            if col == 0:
                ax.set_ylabel(f"{market.tickers[j]} close", fontsize=9)
    axes[0, 0].set_title("true regimes (generator)", fontsize=10)
    axes[0, 1].set_title("detected regimes (detect_regimes, per ticker)", fontsize=10)
    handles = [Patch(color=REGIME_COLORS[r], alpha=0.4, label=r) for r in REGIMES]
    handles.append(Patch(facecolor="white", edgecolor="0.7", label="undefined (warm-up)"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False, fontsize=8)
    fig.suptitle(market.name, fontsize=11)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def plot_confusion(matrices: pd.DataFrame | Mapping[str, pd.DataFrame]) -> Figure:
    """Row-normalised confusion heatmap(s): rows true regime, columns detected, share annotated.

    ``matrices``: counts from ``confusion_matrix`` (one panel), or a mapping title -> counts
    (one panel each, side by side). Only the four regime columns are drawn.
    """
    panels = {"": matrices} if isinstance(matrices, pd.DataFrame) else dict(matrices)
    if not panels:
        raise ValueError("plot_confusion needs at least one confusion matrix")
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels) + 0.8, 4), squeeze=False)
    for ax, (title, counts) in zip(axes[0], panels.items(), strict=True):
        square = counts.loc[list(REGIMES), list(REGIMES)]
        shares = row_normalize(square)
        sns.heatmap(
            shares,
            ax=ax,
            vmin=0,
            vmax=1,
            cmap="Blues",
            annot=True,
            fmt=".2f",
            cbar=ax is axes[0, -1],
            square=True,
            linewidths=0.5,
            cbar_kws={"label": "share of the true regime's days"},
        )
        ax.set_xlabel("detected regime")
        ax.set_ylabel("true regime")
        n = int(square.to_numpy().sum())
        ax.set_title(f"{title} ({n:,} ticker-days)".strip(), fontsize=10)
    fig.tight_layout()
    return fig


def plot_detection_lag(lags: pd.DataFrame, max_days: int = 60) -> Figure:
    """Detection lag per new regime: Kaplan-Meier detection curve and the switches' outcomes.

    Left: share of switches detected within x days (Kaplan-Meier, censored switches counted
    until their spell ended), with each regime's median marked where reached. Right: the share
    of switches detected within their spell, and censored because the regime ended first or
    because the series ended.
    """
    curve = detection_curve(lags, max_days=max_days)
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(11, 3.6), gridspec_kw={"width_ratios": [1.4, 1]}
    )
    for regime in REGIMES:
        values = curve[regime]
        if values.isna().all():
            continue
        left.step(curve.index, values, where="post", color=REGIME_COLORS[regime], label=regime)
        reached = np.flatnonzero(values.to_numpy() >= 0.5)
        if reached.size:
            left.plot(reached[0], values.iloc[reached[0]], "o", color=REGIME_COLORS[regime], ms=4)
    left.axhline(0.5, color="0.6", lw=0.8, ls=":")
    left.set_ylim(0, 1)
    left.set_xlim(0, max_days)
    left.set_xlabel("days after the true switch")
    left.set_ylabel("share detected (Kaplan-Meier)")
    left.set_title("How soon the detector reports a new regime", fontsize=10)
    left.legend(frameon=False, fontsize=8)

    counts = (
        lags.groupby("to_regime")["outcome"]
        .value_counts()
        .unstack(fill_value=0)
        .reindex(index=list(REGIMES), columns=list(OUTCOMES), fill_value=0)
    )
    shares = counts.div(counts.sum(axis=1).where(lambda s: s > 0), axis=0).fillna(0.0)
    colors = {"detected": "#1f77b4", "regime_ended": "#aec7e8", "series_ended": "#e0e0e0"}
    bottom = np.zeros(len(shares))
    y = np.arange(len(shares))
    for outcome in OUTCOMES:
        right.barh(
            y, shares[outcome], left=bottom, color=colors[outcome], label=outcome.replace("_", " ")
        )
        bottom += shares[outcome].to_numpy()
    right.set_yticks(y, [f"{r} (n={int(counts.loc[r].sum())})" for r in shares.index])
    right.invert_yaxis()
    right.set_xlim(0, 1)
    right.set_xlabel("share of switches")
    right.set_title("Outcome within the new regime's spell", fontsize=10)
    right.legend(frameon=False, fontsize=8, loc="lower center", bbox_to_anchor=(0.5, -0.45), ncol=3)
    fig.tight_layout()
    return fig
