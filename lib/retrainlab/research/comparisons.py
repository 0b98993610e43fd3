"""Comparisons: the statistics that set systems against each other over a sweep's runs.

``experiments.sweep`` returns one row per (config, market); the functions here turn those rows
into the numbers of the results files: paired differences across markets (``paired``), per-seed
tables and means, the deflated Sharpe of each system on each market, and the results files of
one ablation (``ablation_results``) and of the final comparison (``final_results``).

Nothing here runs a walk-forward or touches the run cache; every number is computed from the
frame given, so the same frame always gives the same results file. Whether a difference counts
as a pass is decided elsewhere, with the multiple-testing correction (``research.verdict``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from retrainlab.analytics import metrics
from retrainlab.analytics.stats import compare_paired
from retrainlab.engine import prices
from retrainlab.engine.fixes import DESCRIPTIONS
from retrainlab.research.experiments import COSTS_BPS, ablation_configs, protocol

__all__ = [
    "COMPARED_METRICS",
    "SAVED_METRICS",
    "ablation_results",
    "deflated_sharpe_by_market",
    "final_results",
    "paired",
    "per_seed_table",
]

# --------------------------------------------------------------------------- paired statistics
#: Metrics compared across seeds, with the direction that counts as better.
COMPARED_METRICS: dict[str, str] = {
    "sharpe_ratio": "higher",
    "total_return": "higher",
    "return_at_equal_risk": "higher",
    "max_drawdown": "higher",
    "win_rate": "higher",
    "profit_factor": "higher",
    "payoff_ratio": "higher",
    "hit_rate": "higher",
    "neutral_share": "n/a",
    "buy_sell_ratio": "n/a",
    "turnover": "lower",
    "sharpe_at_0bps": "higher",
    "sharpe_at_20bps": "higher",
}


def paired(
    frame: pd.DataFrame, a: str, b: str, metric_names: Iterable[str] = COMPARED_METRICS
) -> dict[str, dict[str, float]]:
    """Paired comparison of config ``b`` against config ``a``, per metric, matched by market.

    Infinite values (a profit factor with no losing trade) are dropped pairwise, with the count
    of pairs kept in ``n``.

    Parameters
    ----------
    frame : pd.DataFrame
        Rows of ``experiments.sweep``: columns ``config``, ``market`` and the metrics.
    a, b : str
        Config names; the difference is ``b - a``.
    metric_names : iterable of str, optional
        Metrics to compare (default: every key of ``COMPARED_METRICS``).

    Returns
    -------
    dict
        ``{metric: compare_paired(a_values, b_values).to_dict()}``.
    """
    wide = frame.pivot_table(index="market", columns="config", aggfunc="first")
    out = {}
    for name in metric_names:
        x = wide[name][a].to_numpy(dtype=float)
        y = wide[name][b].to_numpy(dtype=float)
        keep = np.isfinite(x) & np.isfinite(y)
        out[name] = compare_paired(x[keep], y[keep]).to_dict()
    return out


def per_seed_table(frame: pd.DataFrame, names: Iterable[str]) -> dict[str, dict[str, list]]:
    """Each config's per-market values, for a results file.

    Parameters
    ----------
    frame : pd.DataFrame
        Rows of ``experiments.sweep``.
    names : iterable of str
        Metrics to keep.

    Returns
    -------
    dict
        ``{config: {metric: [value per market]}}``, markets in sweep order, with ``market``
        and ``seed`` alongside the metrics.
    """
    table: dict[str, dict[str, list]] = {}
    for config, group in frame.groupby("config", sort=False):
        table[str(config)] = {n: group[n].tolist() for n in ("market", "seed", *names)}
    return table


# --------------------------------------------------------------------------- study results
#: Per-run metrics kept per seed in the results files.
SAVED_METRICS: tuple[str, ...] = tuple(
    dict.fromkeys(
        (
            *COMPARED_METRICS,
            "cagr",
            "annual_volatility",
            "n_trades",
            "exposure",
            "long_share",
            "sr_per_period",
            "skew",
            "kurtosis",
            "n_obs",
            "psr_vs_zero",
            *(f"sharpe_at_{c:g}bps" for c in COSTS_BPS),
            *(f"total_return_at_{c:g}bps" for c in COSTS_BPS),
        )
    )
)


def _means(frame: pd.DataFrame, names: Iterable[str]) -> dict[str, dict[str, float]]:
    names = list(names)
    finite = frame[names].replace([np.inf, -np.inf], np.nan)
    grouped = finite.groupby(frame["config"], sort=False).mean()
    return {str(c): {n: float(grouped.loc[c, n]) for n in names} for c in grouped.index}


def ablation_results(fix: str, frame: pd.DataFrame, params: Mapping[str, Any]) -> dict[str, Any]:
    """The results file of one ablation: per-seed metrics and the paired statistics.

    ``alone`` is OLD + fix against OLD (the fix on its own); ``in_context`` is NEW against
    NEW − fix (what the fix adds to the other five); ``new_vs_old`` is the whole package.

    Parameters
    ----------
    fix : str
        One of ``FIXES``.
    frame : pd.DataFrame
        ``experiments.sweep`` of ``experiments.ablation_configs(fix)`` over the markets.
    params : mapping
        The notebook's parameters, recorded as they are.

    Returns
    -------
    dict
        JSON-ready: ``fix``, ``description``, ``params``, ``protocol``, ``configs``,
        ``n_markets``, ``means``, ``per_seed``, ``alone``, ``in_context``, ``new_vs_old``.
    """
    labels = list(ablation_configs(fix))
    return {
        "fix": fix,
        # what the fix is, in words, from its module (the report's prose reads it from here)
        "description": dict(zip(("problem", "change"), DESCRIPTIONS[fix], strict=True)),
        "params": dict(params),
        "protocol": protocol(),
        "configs": labels,
        "n_markets": int(frame["market"].nunique()),
        "means": _means(frame, SAVED_METRICS),
        "per_seed": per_seed_table(frame, SAVED_METRICS),
        "alone": paired(frame, "OLD", f"OLD+{fix}"),
        "in_context": paired(frame, f"NEW-{fix}", "NEW"),
        "new_vs_old": paired(frame, "OLD", "NEW"),
    }


def _one_sample(values: np.ndarray) -> dict[str, float]:
    """Mean of ``values`` against zero: bootstrap CI, Wilcoxon p, share above zero."""
    values = np.asarray(values, dtype=float)
    return compare_paired(np.zeros_like(values), values).to_dict()


def deflated_sharpe_by_market(frame: pd.DataFrame, systems: Sequence[str]) -> dict[str, Any]:
    """PSR (vs 0) and DSR of each system on each market, the trials being every config run there.

    The DSR deflates a system's Sharpe by the best Sharpe expected from as many trials as there
    were configurations evaluated on that market (Bailey & Lopez de Prado), so testing fourteen
    variants and reporting the best is charged for. Sharpe ratios are per day, as the formulas
    require.

    Parameters
    ----------
    frame : pd.DataFrame
        Rows of ``experiments.sweep``: every configuration tried on each market.
    systems : sequence of str
        Configs to score; each must have run on every market of ``frame``.

    Returns
    -------
    dict
        ``{market: {"n_trials": int, system: {"sharpe_ratio", "psr_vs_zero", "dsr",
        "min_track_record_days", "n_obs"}}}``.
    """
    out: dict[str, Any] = {}
    for market, group in frame.groupby("market", sort=False):
        trials = group["sr_per_period"].to_numpy(dtype=float)
        by_config = group.set_index("config")
        row = {"n_trials": len(trials)}
        for system in systems:
            r = by_config.loc[system]
            sr, n_obs, skew, kurt = (
                float(r["sr_per_period"]),
                float(r["n_obs"]),
                float(r["skew"]),
                float(r["kurtosis"]),
            )
            row[system] = {
                "sharpe_ratio": float(r["sharpe_ratio"]),
                "psr_vs_zero": metrics.probabilistic_sharpe_ratio(sr, 0.0, n_obs, skew, kurt),
                "dsr": metrics.deflated_sharpe_ratio(sr, trials, n_obs, skew, kurt),
                "min_track_record_days": (
                    metrics.min_track_record_length(sr, 0.0, skew, kurt) if sr > 0 else float("inf")
                ),
                "n_obs": n_obs,
            }
        out[str(market)] = row
    return out


def final_results(
    runs: pd.DataFrame, placebo: pd.DataFrame, real: pd.DataFrame | None, params: Mapping[str, Any]
) -> dict[str, Any]:
    """The results file of the final comparison (OLD against NEW), every number computed here.

    Parameters
    ----------
    runs : pd.DataFrame
        Every ablation configuration on the synthetic markets (the DSR's trials).
    placebo : pd.DataFrame
        OLD and NEW on the ``edge = 0`` markets.
    real : pd.DataFrame or None
        Every configuration on the real series, or None.
    params : mapping
        The notebook's parameters, recorded as they are.

    Returns
    -------
    dict
        JSON-ready: ``params``, ``protocol``, ``means``, ``per_seed``, ``new_vs_old``,
        ``costs``, ``deflated``, ``placebo`` and, when ``real`` has rows, ``real``.
    """
    main = runs[runs["config"].isin(["OLD", "NEW"])]
    dsr = deflated_sharpe_by_market(runs, ["OLD", "NEW"])
    dsr_new = np.array([m["NEW"]["dsr"] for m in dsr.values()])
    dsr_old = np.array([m["OLD"]["dsr"] for m in dsr.values()])
    # The leak test is on gross returns: with nothing to learn, costs alone make net Sharpe
    # negative, which says nothing about leakage.
    placebo_gross = {
        c: g["sharpe_at_0bps"].to_numpy(dtype=float)
        for c, g in placebo.groupby("config", sort=False)
    }
    placebo_net = {
        c: g["sharpe_ratio"].to_numpy(dtype=float) for c, g in placebo.groupby("config", sort=False)
    }
    out: dict[str, Any] = {
        "params": dict(params),
        "protocol": protocol(),
        "n_markets": int(main["market"].nunique()),
        "n_configs_evaluated": int(runs["config"].nunique()),
        "configs_evaluated": [str(c) for c in runs["config"].unique()],
        "means": _means(runs, SAVED_METRICS),
        "per_seed": per_seed_table(main, SAVED_METRICS),
        "new_vs_old": paired(runs, "OLD", "NEW"),
        "costs": {
            f"{c:g}": paired(runs, "OLD", "NEW", [f"sharpe_at_{c:g}bps"])[f"sharpe_at_{c:g}bps"]
            for c in COSTS_BPS
        },
        "deflated": {
            "by_market": dsr,
            "NEW": {
                "mean_dsr": float(dsr_new.mean()),
                "share_above_95": float((dsr_new > 0.95).mean()),
            },
            "OLD": {
                "mean_dsr": float(dsr_old.mean()),
                "share_above_95": float((dsr_old > 0.95).mean()),
            },
            "dsr_new_vs_old": compare_paired(dsr_old, dsr_new).to_dict(),
        },
        "placebo": {
            "n_markets": int(placebo["market"].nunique()),
            "edge": sorted(float(e) for e in placebo["edge"].unique()),
            "gross_sharpe_vs_zero": {c: _one_sample(v) for c, v in placebo_gross.items()},
            "net_sharpe_vs_zero": {c: _one_sample(v) for c, v in placebo_net.items()},
            "new_vs_old": paired(
                placebo, "OLD", "NEW", ["sharpe_ratio", "sharpe_at_0bps", "hit_rate"]
            ),
            "per_seed": per_seed_table(
                placebo, ["sharpe_ratio", "sharpe_at_0bps", "hit_rate", "total_return"]
            ),
        },
    }
    if real is not None and len(real):
        shown = [
            "sharpe_ratio",
            "total_return",
            "max_drawdown",
            "hit_rate",
            "sharpe_at_20bps",
            "return_at_equal_risk",
            "n_trades",
            "n_obs",
        ]
        real_metrics = {}
        for market, group in real.groupby("market", sort=False):
            by_config = group.set_index("config")
            real_metrics[str(market)] = {
                c: by_config.loc[c, shown].astype(float).to_dict() for c in ("OLD", "NEW")
            }
        out["real"] = {
            "markets": sorted(real["market"].unique().tolist()),
            # which series ran, where from, and how many days each (for the report's prose)
            "series": {
                str(m): {
                    "kind": str(m).split("-last")[0],
                    "source": prices.REAL_MARKETS.get(str(m).split("-last")[0], ""),
                    "n_obs": float(real_metrics[str(m)]["OLD"]["n_obs"]),
                }
                for m in real_metrics
            },
            "metrics": real_metrics,
            "deflated": deflated_sharpe_by_market(real, ["OLD", "NEW"]),
        }
    return out
