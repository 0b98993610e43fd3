"""The full factorial of the fixes: every subset run, what each fix earns, which pairs interact.

The six fixes are six switches, so there are ``2**6 = 64`` systems. ``all_configs`` (the engine's,
``retrainlab.all_configs``) lists them in **standard (Yates) order**: configuration number ``m``
has fix ``FIXES[b]`` on exactly when bit ``b`` of ``m`` is set, so number 0 is OLD, number 63 is
NEW and ``FIXES[0]`` varies fastest. The work is split by job:

* ``factorial_runs``: the configurations (:func:`subset`, :func:`named_configs`), the blocks of
  the real S&P 500 panel (:func:`panel_blocks`) and every configuration on every market
  (:func:`sweep_many`, :func:`value_matrix`);
* ``factorial_stats``: pure functions of a ``(n_markets, 2**k)`` matrix of values: configuration
  means (:func:`config_means`), main effects and two-way interactions (:func:`effects`), exact
  Shapley values of ``NEW - OLD`` (:func:`shapley`), :func:`select_best`, and the
  Bonferroni-corrected verdicts;
* this module: :func:`factorial_results`, the results file of ``notebooks/06_factorial.ipynb``,
  with :func:`panel_results` for its real-panel part (it re-exports the names above, so
  ``retrainlab.factorial.shapley`` etc. keep working).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from retrainlab.engine.config import RetrainConfig
from retrainlab.engine.many import all_configs
from retrainlab.research.comparisons import deflated_sharpe_by_market
from retrainlab.research.factorial_runs import (
    PanelBlock,
    check_fixes,
    named_configs,
    panel_blocks,
    subset,
    sweep_many,
    value_matrix,
)
from retrainlab.research.factorial_stats import (
    CONFIDENCE,
    config_means,
    corrected_confidence,
    effect_design,
    effects,
    family,
    mean_ci,
    paired_difference,
    paired_test,
    select_best,
    shapley,
    shapley_weights,
)

__all__ = [
    "CONFIDENCE",
    "SHAPLEY_SUM_TOLERANCE",
    "PanelBlock",
    "all_configs",
    "sweep_many",
    "config_means",
    "corrected_confidence",
    "effect_design",
    "effects",
    "factorial_results",
    "named_configs",
    "panel_blocks",
    "panel_results",
    "paired_test",
    "select_best",
    "shapley",
    "shapley_weights",
    "subset",
    "value_matrix",
]


# --------------------------------------------------------------------------- the results file
#: A market's Shapley values sum to its NEW - OLD gain up to rounding. The results record that
#: they do within this bound, not the rounding error itself: that moves with the last bits of
#: the runs' numbers, so it would differ between CPUs (and did between solver versions: 8.9e-16
#: and 9.4e-16), which a committed results file must not.
SHAPLEY_SUM_TOLERANCE: float = 1e-12


def _label(t: tuple[int, ...], fixes: Sequence[str]) -> str:
    return " x ".join(fixes[b] for b in t)


def factorial_results(
    runs: pd.DataFrame,
    real: pd.DataFrame | None,
    params: Mapping[str, Any],
    *,
    configs: Mapping[str, RetrainConfig],
    fixes: Sequence[str],
    selection: Sequence[str],
    confirmation: Sequence[str],
    buy_and_hold: Mapping[str, float],
    panel: pd.DataFrame | None = None,
    blocks: Sequence[PanelBlock] = (),
    metric: str = "sharpe_ratio",
    confidence: float = CONFIDENCE,
) -> dict[str, Any]:
    """The results file of the factorial (``factorial.json``); every number is computed here.

    ``runs``: every configuration of ``configs`` (``named_configs(all_configs(OLD, fixes))``, in
    that order) on the ``selection`` and ``confirmation`` markets (labels); ``real``: the same on
    the real series, or None; ``buy_and_hold``: market label -> buy-and-hold Sharpe; ``panel``:
    the same on the ``blocks`` of the real S&P 500 panel, or None (then ``"panel"`` is None; see
    :func:`panel_results`).

    Configuration means, effects and Shapley values use every synthetic market (nothing is
    chosen there); the best configuration is chosen on ``selection`` only and measured on
    ``confirmation`` and the real series, against OLD, NEW, the best single fix (also chosen on
    ``selection``), buy and hold, and the oracle (the best configuration on ``confirmation`` in
    hindsight, which a practitioner could not have picked). Its DSR counts every configuration of
    the factorial as a trial.
    """
    fixes = check_fixes(fixes)
    labels = list(configs)
    k = len(fixes)
    if len(labels) != 2**k:
        raise ValueError(f"{len(labels)} configurations for {k} fixes: expected {2**k}")
    markets = [*selection, *confirmation]
    values = value_matrix(runs, labels, markets, metric)
    n_sel = len(selection)
    old, new = labels[0], labels[-1]

    # ---- every configuration
    means = config_means(values, confidence)
    sel_means = np.nanmean(values[:n_sel], axis=0)
    conf_means = np.nanmean(values[n_sel:], axis=0) if len(confirmation) else np.full(2**k, np.nan)
    real_values = None
    real_markets: list[str] = []
    if real is not None and len(real):
        real_markets = list(dict.fromkeys(real["market"]))
        real_values = value_matrix(real, labels, real_markets, metric)
    config_rows = []
    for m, label in enumerate(labels):
        row = {
            "number": m,
            "label": label,
            "fixes": list(subset(m, fixes)),
            "n_fixes": len(subset(m, fixes)),
            **means[m],
            "selection_mean": float(sel_means[m]),
            "confirmation_mean": float(conf_means[m]),
        }
        if real_values is not None:
            row["real"] = {r: float(real_values[i, m]) for i, r in enumerate(real_markets)}
        config_rows.append(row)

    # ---- main effects and two-way interactions
    est, terms, r2 = effects(values)
    names = [_label(t, fixes) for t in terms]
    judged = family(est, names, confidence)
    main = {fixes[t[0]]: judged[n] for t, n in zip(terms, names, strict=True) if len(t) == 1}
    pairs = [
        {"a": fixes[t[0]], "b": fixes[t[1]], **judged[n]}
        for t, n in zip(terms, names, strict=True)
        if len(t) == 2
    ]
    effects_out: dict[str, Any] = {
        "main": main,
        "interactions": pairs,
        "n_tests": len(names),
        "r_squared": mean_ci(r2, confidence),
        "interacting_pairs": [
            f"{p['a']} x {p['b']}" for p in pairs if p["positive"] or p["negative"]
        ],
    }
    if real_values is not None:
        real_est = effects(real_values)[0]
        effects_out["real"] = {
            r: dict(zip(names, map(float, real_est[i]), strict=True))
            for i, r in enumerate(real_markets)
        }

    # ---- Shapley values of the NEW - OLD gain
    phi = shapley(values)
    total = values[:, -1] - values[:, 0]
    shapley_out: dict[str, Any] = {
        "fixes": family(phi, list(fixes), confidence),
        "total": mean_ci(total, confidence),
        "n_tests": k,
        "per_market": {
            "markets": markets,
            **{f: phi[:, b].tolist() for b, f in enumerate(fixes)},
            "total": total.tolist(),
        },
        "sums_to_total": bool(np.nanmax(np.abs(phi.sum(axis=1) - total)) <= SHAPLEY_SUM_TOLERANCE),
        "sums_to_total_within": SHAPLEY_SUM_TOLERANCE,
    }
    if real_values is not None:
        real_phi = shapley(real_values)
        shapley_out["real"] = {
            r: {
                **{f: float(real_phi[i, b]) for b, f in enumerate(fixes)},
                "total": float(real_values[i, -1] - real_values[i, 0]),
            }
            for i, r in enumerate(real_markets)
        }

    # ---- the best configuration, chosen on selection, measured on confirmation and real data
    best = select_best(values[:n_sel])
    singles = [1 << b for b in range(k)]
    best_single = singles[int(np.nanargmax(sel_means[singles]))]
    choice: dict[str, Any] = {
        "label": labels[best],
        "number": best,
        "fixes": list(subset(best, fixes)),
        "best_single_fix": {
            "label": labels[best_single],
            "fixes": list(subset(best_single, fixes)),
        },
        "selection": {
            "markets": len(selection),
            "mean": float(sel_means[best]),
            "rank": 1,
            "best_single_fix_mean": float(sel_means[best_single]),
        },
    }
    if len(confirmation):
        conf = values[n_sel:]
        hold = np.array([buy_and_hold[m] for m in confirmation], dtype=np.float64)
        oracle = select_best(conf)
        rank = 1 + int(np.sum(conf_means > conf_means[best]))
        conf_frame = runs[runs["market"].isin(confirmation) & runs["config"].isin(labels)]
        dsr = deflated_sharpe_by_market(conf_frame, [labels[best]])
        dsr_values = np.array([d[labels[best]]["dsr"] for d in dsr.values()], dtype=np.float64)
        choice["confirmation"] = {
            "markets": len(confirmation),
            **mean_ci(conf[:, best], confidence),
            "rank": rank,
            "n_configs": 2**k,
            "vs_old": paired_difference(conf[:, 0], conf[:, best]),
            "vs_new": paired_difference(conf[:, -1], conf[:, best]),
            "vs_best_single_fix": paired_difference(conf[:, best_single], conf[:, best]),
            "vs_buy_and_hold": paired_difference(hold, conf[:, best]),
            "buy_and_hold": mean_ci(hold, confidence),
            "oracle": {
                "label": labels[oracle],
                "fixes": list(subset(oracle, fixes)),
                "mean": float(conf_means[oracle]),
            },
            "dsr": {
                "n_trials": 2**k,
                "mean": float(np.nanmean(dsr_values)),
                "share_above_95": float(np.mean(dsr_values > 0.95)),
                "by_market": {m: float(v) for m, v in zip(dsr, dsr_values, strict=True)},
            },
        }
    if real_values is not None:
        real_dsr = deflated_sharpe_by_market(real, [labels[best]])
        choice["real"] = {
            r: {
                "sharpe": float(real_values[i, best]),
                "old": float(real_values[i, 0]),
                "new": float(real_values[i, -1]),
                "best_single_fix": float(real_values[i, best_single]),
                "buy_and_hold": float(buy_and_hold[r]) if r in buy_and_hold else float("nan"),
                "rank": 1 + int(np.sum(real_values[i] > real_values[i, best])),
                "dsr": float(real_dsr[r][labels[best]]["dsr"]),
                "n_trials": 2**k,
            }
            for i, r in enumerate(real_markets)
        }

    return {
        "params": dict(params),
        "metric": metric,
        "confidence": confidence,
        "fixes": list(fixes),
        "n_configs": 2**k,
        "old": old,
        "new": new,
        "markets": {
            "selection": list(selection),
            "confirmation": list(confirmation),
            "real": real_markets,
        },
        "configs": config_rows,
        "effects": effects_out,
        "shapley": shapley_out,
        "best": choice,
        "values": {"markets": markets, "configs": labels, "matrix": values.tolist()},
        "panel": None
        if panel is None
        else panel_results(
            panel,
            blocks,
            configs=labels,
            fixes=fixes,
            best=best,
            buy_and_hold=buy_and_hold,
            metric=metric,
            confidence=confidence,
        ),
    }


def _years(first: str, last: str) -> float:
    """Calendar years from ``first`` to ``last`` (ISO dates)."""
    return (pd.Timestamp(last) - pd.Timestamp(first)).days / 365.25


def panel_results(
    panel: pd.DataFrame,
    blocks: Sequence[PanelBlock],
    *,
    configs: Sequence[str],
    fixes: Sequence[str],
    best: int,
    buy_and_hold: Mapping[str, float],
    metric: str = "sharpe_ratio",
    confidence: float = CONFIDENCE,
) -> dict[str, Any]:
    """The factorial on the real panel's blocks: ``factorial.json``'s ``"panel"``.

    ``panel``: every configuration (``configs``, standard order) on each of ``blocks``; ``best``:
    the number of the configuration chosen on the selection markets (it is not chosen again
    here). Each block is one independent market, so the blocks are the sample: the chosen
    configuration's mean Sharpe across blocks with a bootstrap CI, and three paired comparisons
    across blocks (chosen - OLD, chosen - buy and hold, NEW - OLD), one Bonferroni family: a
    comparison passes (``positive``) only when its CI at the corrected level is above zero and
    its Wilcoxon signed-rank p is below the corrected level (``factorial_stats.paired_test``).
    Its deflated Sharpe on each block counts all ``2**k`` configurations as trials.
    """
    if not blocks:
        raise ValueError("panel results need the blocks the panel sweep ran on (panel_blocks)")
    labels = list(configs)
    k = len(fixes)
    names = [b.label for b in blocks]
    values = value_matrix(panel, labels, names, metric)
    hold = np.array([buy_and_hold[n] for n in names], dtype=np.float64)
    means = np.nanmean(values, axis=0)
    chosen = labels[best]
    dsr = deflated_sharpe_by_market(panel[panel["config"].isin(labels)], [chosen])
    dsr_values = np.array([dsr[n][chosen]["dsr"] for n in names], dtype=np.float64)
    pairs = {
        "vs_old": (values[:, 0], values[:, best]),
        "vs_buy_and_hold": (hold, values[:, best]),
        "new_vs_old": (values[:, 0], values[:, -1]),
    }
    tests = {name: paired_test(a, b, len(pairs), confidence) for name, (a, b) in pairs.items()}
    return {
        "source": "skfolio.datasets.load_sp500_dataset",
        "tickers": list(blocks[0].tickers),
        "n_tickers": len(blocks[0].tickers),
        "n_blocks": len(blocks),
        "start": blocks[0].first_date,
        "end": blocks[-1].last_date,
        "years": _years(blocks[0].first_date, blocks[-1].last_date),
        "blocks": [
            {
                "label": b.label,
                "start": b.first_date,
                "end": b.last_date,
                "rows": [b.start, b.stop],
                "n_days": b.n_days,
                "years": _years(b.first_date, b.last_date),
            }
            for b in blocks
        ],
        "values": {"markets": names, "configs": labels, "matrix": values.tolist()},
        "buy_and_hold": dict(zip(names, hold.tolist(), strict=True)),
        "config_means": dict(zip(labels, means.tolist(), strict=True)),
        "n_tests": len(pairs),
        "corrected_confidence": corrected_confidence(len(pairs), confidence),
        "best": {
            "label": chosen,
            "number": best,
            "fixes": list(subset(best, fixes)),
            **mean_ci(values[:, best], confidence),
            "rank": 1 + int(np.sum(means > means[best])),
            "n_configs": 2**k,
            "old": mean_ci(values[:, 0], confidence),
            "new": mean_ci(values[:, -1], confidence),
            "buy_and_hold": mean_ci(hold, confidence),
            "vs_old": tests["vs_old"],
            "vs_buy_and_hold": tests["vs_buy_and_hold"],
            "dsr": {
                "n_trials": 2**k,
                "mean": float(np.nanmean(dsr_values)),
                "share_above_95": float(np.mean(dsr_values > 0.95)),
                "by_block": dict(zip(names, dsr_values.tolist(), strict=True)),
            },
            "by_block": {
                n: {
                    "sharpe": float(values[i, best]),
                    "old": float(values[i, 0]),
                    "new": float(values[i, -1]),
                    "buy_and_hold": float(hold[i]),
                    "rank": 1 + int(np.sum(values[i] > values[i, best])),
                    "dsr": float(dsr_values[i]),
                }
                for i, n in enumerate(names)
            },
        },
        "new_vs_old": tests["new_vs_old"],
    }
