"""The model-class study: OLD, NEW, each single fix and buy and hold, for every model class.

Does the verdict on the six fixes depend on the model? For each class in ``MODEL_CLASSES``
(``engine.models``) the same systems run on the same markets:

* synthetic markets: one Sharpe ratio per (system, market); each comparison is paired across
  markets (``analytics.stats.compare_paired``: BCa bootstrap CI of the mean difference,
  Wilcoxon p), with the CI at the Bonferroni level ``1 - alpha / m`` and Holm-adjusted p over the
  ``m`` comparisons of a class, so a pass survives the number of tests;
* the real equity panel (``engine.real_equities.load_sp500_panel``: S&P 500 constituents, close
  only) cut into independent blocks (``evaluation.block_bounds``/``block_market``, each block its
  own walk-forward with its own warm-up, as in notebook 04): one Sharpe ratio per (system,
  block); the comparisons are paired across blocks, the same statistics.

Comparisons per class: NEW vs OLD, each OLD+fix vs OLD, NEW vs buy and hold, NEW vs the best
single fix (the best simple alternative). Buy and hold is ``evaluation.buy_and_hold``: the
equal-weight book of every ticker from the first decision date, paying the entry cost once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from retrainlab.analytics import metrics
from retrainlab.analytics.stats import compare_paired
from retrainlab.engine.config import FIXES, OLD, RetrainConfig
from retrainlab.engine.market import Market
from retrainlab.research.evaluation import (
    BUY_AND_HOLD,
    DEFAULT_BLOCK_DAYS,
    block_bounds,
    block_market,
    buy_and_hold_sharpe,
    system_returns,
)
from retrainlab.research.experiments import provenance, sweep

#: The systems of the study, per model class (buy and hold is added beside them).
SYSTEMS: tuple[str, ...] = ("OLD", "NEW", *(f"OLD+{fix}" for fix in FIXES))
#: Family-wise error rate of each class's family of comparisons.
ALPHA: float = 0.05


def refused_fixes(model: str) -> tuple[str, ...]:
    """The fixes ``RetrainConfig`` refuses with ``model`` (docs/models.md)."""
    out = []
    for fix in FIXES:
        try:
            OLD.with_fix(fix).replace(model=model)
        except ValueError:
            out.append(fix)
    return tuple(out)


def systems_for(model: str) -> tuple[str, ...]:
    """The ``SYSTEMS`` a class can run: a fix it refuses has no OLD+fix (and "NEW" is NEW
    without it, see ``system_config``)."""
    refused = refused_fixes(model)
    return tuple(s for s in SYSTEMS if not (s.startswith("OLD+") and s[4:] in refused))


def system_config(system: str, model: str) -> RetrainConfig:
    """The ``RetrainConfig`` of ``system`` (a ``SYSTEMS`` label) with model class ``model``.
    "NEW" is every fix the class accepts (for the LSTM: NEW without the feedback loop)."""
    if system == "OLD":
        base = OLD
    elif system == "NEW":
        base = OLD.with_fixes(*(f for f in FIXES if f not in refused_fixes(model)))
    elif system.startswith("OLD+") and system[4:] in FIXES:
        base = OLD.with_fix(system[4:])
    else:
        raise ValueError(f"unknown study system {system!r}; systems: {', '.join(SYSTEMS)}")
    return base.replace(model=model)


def study_configs(models: Sequence[str]) -> dict[str, RetrainConfig]:
    """Every (class, system) configuration, named ``"<class>:<system>"``."""
    return {f"{m}:{s}": system_config(s, m) for m in models for s in systems_for(m)}


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm step-down adjusted p-values (monotone, capped at 1)."""
    p = np.asarray(pvalues, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    adjusted = np.empty_like(p)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, (len(p) - rank) * p[i])
        adjusted[i] = min(1.0, running)
    return adjusted


def comparisons(values: Mapping[str, np.ndarray]) -> list[dict[str, Any]]:
    """The family of one class: paired comparisons of per-unit Sharpe ratios (markets or years)
    in ``values`` (system -> array, aligned), Bonferroni-level CIs and Holm-adjusted p."""
    singles = [s for s in SYSTEMS if s.startswith("OLD+") and s in values]
    best_fix = max(singles, key=lambda s: np.nanmean(values[s]))
    pairs = [("NEW", "OLD"), *((s, "OLD") for s in singles)]
    pairs += [("NEW", BUY_AND_HOLD), ("NEW", best_fix)]
    level = 1.0 - ALPHA / len(pairs)
    rows = []
    for b, a in pairs:
        c = compare_paired(values[a], values[b], confidence=level)
        rows.append(
            {
                "system": b,
                "baseline": a,
                "label": f"{b} vs {a}"
                + (" (best single fix)" if (b, a) == ("NEW", best_fix) else ""),
                "n": c.n,
                "mean_baseline": c.mean_a,
                "mean_system": c.mean_b,
                "mean_diff": c.mean_diff,
                "ci_low": c.ci_low,
                "ci_high": c.ci_high,
                "ci_level": level,
                "p": c.wilcoxon_p,
                "share_wins": c.share_b_wins,
            }
        )
    for row, p_holm in zip(rows, holm([r["p"] for r in rows]), strict=True):
        row["p_holm"] = float(p_holm)
    return judge(rows)


def judge(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mark each comparison ``helps`` / ``hurts``: its corrected CI excludes zero **and** its
    Holm-adjusted p is below ``ALPHA`` (with a handful of markets a bootstrap CI can exclude
    zero by itself while the test cannot reject: no pass then)."""
    for row in rows:
        significant = row["p_holm"] < ALPHA
        row["helps"] = bool(row["ci_low"] > 0 and significant)
        row["hurts"] = bool(row["ci_high"] < 0 and significant)
    return rows


def means(values: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Mean Sharpe ratio of each system over the markets (or years)."""
    return {s: float(np.nanmean(v)) for s, v in values.items()}


def rejudge(study: dict[str, Any]) -> dict[str, Any]:
    """``study`` (a results payload) with ``helps``/``hurts``, the summaries and the verdict
    recomputed from its own comparison rows by ``judge`` (the statistics are unchanged)."""
    for per_data in study["classes"].values():
        for res in per_data.values():
            judge(res["comparisons"])
            res["summary"] = class_summary(res["comparisons"], res["summary"]["mean_sharpe"])
    study["verdict"] = {d: verdict(study["classes"], d) for d in study["verdict"]}
    return study


def block_sharpes(
    panel: Market,
    configs: Mapping[str, RetrainConfig],
    block_days: int = DEFAULT_BLOCK_DAYS,
    *,
    n_jobs: int = 2,
    progress: Callable[[str], None] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """Each named config and buy and hold on each independent block of ``panel``
    (``evaluation.block_bounds``): the blocks (``start``, ``end``, ``n_days``) and, per label,
    the array of per-block Sharpe ratios (``evaluation.system_returns``: cached, parallel)."""
    bounds = block_bounds(panel.n_days, block_days)
    blocks: list[dict[str, Any]] = []
    sharpes: dict[str, list[float]] = {label: [] for label in [*configs, BUY_AND_HOLD]}
    for k, (start, stop) in enumerate(bounds):
        if progress is not None:
            progress(f"{panel.name}: block {k + 1}/{len(bounds)} (rows {start}..{stop - 1})")
        returns = system_returns(block_market(panel, start, stop), configs, n_jobs=n_jobs)
        blocks.append(
            {
                "start": str(panel.dates[start].date()),
                "end": str(panel.dates[stop - 1].date()),
                "n_days": stop - start,
            }
        )
        for label in sharpes:
            sharpes[label].append(metrics.sharpe_ratio(returns[label].to_numpy()))
    return blocks, {label: np.array(v, dtype=float) for label, v in sharpes.items()}


def class_summary(rows: Sequence[Mapping[str, Any]], mean_sharpe: Mapping[str, float]) -> dict:
    """What the verdict reads for one class: NEW vs OLD, fixes that help / hurt, NEW vs B&H
    (``mean_sharpe``: system -> mean Sharpe ratio, reported beside)."""
    by = {(r["system"], r["baseline"]): r for r in rows}
    new_old = by[("NEW", "OLD")]
    return {
        "mean_sharpe": dict(mean_sharpe),
        "new_beats_old": new_old["helps"],
        "new_worse_than_old": new_old["hurts"],
        "new_beats_buy_and_hold": by[("NEW", BUY_AND_HOLD)]["helps"],
        "fixes_that_help": [f for f in FIXES if by.get((f"OLD+{f}", "OLD"), {}).get("helps")],
        "fixes_that_hurt": [f for f in FIXES if by.get((f"OLD+{f}", "OLD"), {}).get("hurts")],
        "fixes_not_run": [f for f in FIXES if (f"OLD+{f}", "OLD") not in by],
    }


def verdict(classes: Mapping[str, Mapping[str, Any]], data: str) -> dict[str, Any]:
    """Does the verdict (NEW vs OLD; which fixes help/hurt) on ``data`` ("synthetic"/"real")
    depend on the model class? Compares the classes' summaries."""
    present = {m: c[data]["summary"] for m, c in classes.items() if data in c}
    # fixes every class ran (a refused fix is no disagreement)
    common = [f for f in FIXES if not any(f in s["fixes_not_run"] for s in present.values())]
    outcomes = {
        m: (
            s["new_beats_old"],
            s["new_worse_than_old"],
            tuple(f for f in s["fixes_that_help"] if f in common),
            tuple(f for f in s["fixes_that_hurt"] if f in common),
        )
        for m, s in present.items()
    }
    # the smallest Holm-adjusted p each family could reach: exact two-sided Wilcoxon with n
    # pairs and no ties gives at least 2 / 2^n, times the family's size at Holm's first step
    smallest = {
        m: min(1.0, len(c[data]["comparisons"]) * 2.0 / 2.0 ** c[data]["comparisons"][0]["n"])
        for m, c in classes.items()
        if data in c
    }
    return {
        "classes": list(present),
        "compared_fixes": common,
        "smallest_holm_p": smallest,
        "can_pass": any(p < ALPHA for p in smallest.values()),
        "depends_on_class": len(set(outcomes.values())) > 1,
        "any_class_new_beats_old": any(s["new_beats_old"] for s in present.values()),
    }


def frame_values(frame: pd.DataFrame, model: str, bh: Mapping[str, float]) -> dict[str, np.ndarray]:
    """Per-market Sharpe ratios of one class's systems from a ``sweep`` frame, plus buy and hold
    (``bh``: market label -> Sharpe ratio), aligned by market."""
    wide = frame.pivot_table(
        index="market", columns="config", values="sharpe_ratio", aggfunc="first"
    )
    markets = list(wide.index)
    out = {s: wide[f"{model}:{s}"].to_numpy(dtype=float) for s in systems_for(model)}
    out[BUY_AND_HOLD] = np.array([bh[m] for m in markets], dtype=float)
    return out


def run_study(
    models: Sequence[str],
    specs: Sequence[Any],
    panel: Market | None,
    *,
    block_days: int = DEFAULT_BLOCK_DAYS,
    n_jobs: int = 2,
    data_dir: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run the study: every (class, system) on every synthetic ``specs`` market (``MarketSpec``,
    through ``experiments.sweep``: cached, parallel) and on each ``block_days`` block of the
    real ``panel`` (a ``Market``, e.g. ``real_equities.load_sp500_panel()``), if any.

    Returns the results-file payload (without ``params``): ``protocol``, ``classes`` (per class
    and data set: ``comparisons`` and ``summary``) and ``verdict`` (per data set).
    """
    configs = study_configs(models)
    classes: dict[str, dict[str, Any]] = {m: {} for m in models}
    protocol: dict[str, Any] = {
        **provenance(),  # which engine and packages produced the runs, as in every results file
        "classes": list(models),
        "systems": [*SYSTEMS, BUY_AND_HOLD],
        "metric": "sharpe_ratio",
        "alpha": ALPHA,
        "n_comparisons": {m: len(systems_for(m)) + 1 for m in models},
        "new_per_class": {m: system_config("NEW", m).label for m in models},
        "synthetic": None,
        "real": None,
    }
    if specs:
        frame = sweep(configs, specs, n_jobs=n_jobs, data_dir=data_dir, progress=progress,
                      desc="model study runs")  # fmt: skip
        bh = {s.label: buy_and_hold_sharpe(s.build(data_dir)) for s in specs}
        for m in models:
            values = frame_values(frame, m, bh)
            rows = comparisons(values)
            classes[m]["synthetic"] = {
                "comparisons": rows,
                "summary": class_summary(rows, means(values)),
            }
        spec0 = specs[0]
        protocol["synthetic"] = {
            "n_markets": len(specs),
            "seeds": [s.seed for s in specs],
            "n_days": spec0.n_days,
            "n_tickers": spec0.n_tickers,
            "edge": spec0.edge,
        }
    if panel is not None:
        blocks, sharpes = block_sharpes(
            panel, configs, block_days, n_jobs=n_jobs, progress=print if progress else None
        )
        for m in models:
            values = {s: sharpes[f"{m}:{s}"] for s in systems_for(m)}
            values[BUY_AND_HOLD] = sharpes[BUY_AND_HOLD]
            rows = comparisons(values)
            classes[m]["real"] = {
                "comparisons": rows,
                "summary": class_summary(rows, means(values)),
            }
        protocol["real"] = {
            "market": panel.name,
            "tickers": list(panel.tickers),
            "n_tickers": len(panel.tickers),
            "n_days": panel.n_days,
            "start": str(panel.dates[0].date()),
            "end": str(panel.dates[-1].date()),
            "block_days": block_days,
            "n_blocks": len(blocks),
            "blocks": blocks,
        }
    return {
        "protocol": protocol,
        "classes": classes,
        "verdict": {d: verdict(classes, d) for d in ("synthetic", "real") if protocol[d]},
    }
