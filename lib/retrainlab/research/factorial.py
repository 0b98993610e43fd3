"""The full factorial of the fixes: every subset run, what each fix earns, which pairs interact.

The six fixes are six switches, so there are ``2**6 = 64`` systems. ``all_configs`` (the engine's,
``retrainlab.all_configs``) lists them in
**standard (Yates) order**: configuration number ``m`` has fix ``FIXES[b]`` on exactly when bit
``b`` of ``m`` is set, so number 0 is OLD, number 63 is NEW and ``FIXES[0]`` varies fastest. Every
analysis below takes a matrix ``values`` of shape ``(n_markets, 2**k)`` (one Sharpe ratio per
market and configuration, columns in that order) and is a small pure function:

* :func:`config_means`: each configuration's mean across markets with a bootstrap CI;
* :func:`effects`: main effects and two-way interactions, a least-squares regression of each
  market's 64 values on the ±1-coded design (intercept, ``k`` switches, ``k(k-1)/2`` products);
  the design is orthogonal, so each coefficient is a contrast and the per-market estimates are
  averaged across markets with a bootstrap CI (a cluster bootstrap: markets are the clusters);
* :func:`shapley`: the exact Shapley value of each fix for the gain ``NEW - OLD`` on each market,
  the game being ``v(S) = value of the configuration with the fixes S on``; the ``k`` values sum
  to ``NEW - OLD`` on every market (efficiency);
* :func:`select_best`: the configuration with the highest mean on the selection markets, measured
  afterwards on markets it was not chosen on.

:func:`sweep_many` runs the configurations market by market through ``walk_forward_many`` (each
distinct training problem fitted once per market), cached and in parallel like
``experiments.sweep``; :func:`factorial_results` assembles the results file of
``notebooks/06_factorial.ipynb``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from joblib import Memory, Parallel, delayed
from tqdm import tqdm

from retrainlab.analytics import metrics
from retrainlab.analytics.stats import bootstrap_mean_ci, compare_paired
from retrainlab.common.names import check_name
from retrainlab.engine.config import FIXES, RetrainConfig
from retrainlab.engine.many import all_configs, walk_forward_many
from retrainlab.engine.market import Market
from retrainlab.engine.walkforward import first_decision_day
from retrainlab.research import experiments as ex
from retrainlab.research.comparisons import deflated_sharpe_by_market
from retrainlab.research.experiments import MarketSpec

__all__ = [
    "all_configs",
    "buy_and_hold_sharpe",
    "sweep_many",
    "config_means",
    "corrected_confidence",
    "effect_design",
    "effects",
    "factorial_results",
    "named_configs",
    "select_best",
    "shapley",
    "shapley_weights",
    "subset",
    "value_matrix",
]

#: Family-wise confidence of every pass/fail statement (Bonferroni-corrected per family).
CONFIDENCE = 0.95


# --------------------------------------------------------------------------- configurations
def _check_fixes(fixes: Sequence[str]) -> tuple[str, ...]:
    fixes = tuple(check_name(f, FIXES, "fix") for f in fixes)
    if not fixes:
        raise ValueError("a factorial needs at least one fix; pass e.g. fixes=retrainlab.FIXES")
    if len(set(fixes)) != len(fixes):
        raise ValueError(f"each fix may appear once in a factorial, got {list(fixes)}")
    return fixes


def subset(number: int, fixes: Sequence[str] = FIXES) -> tuple[str, ...]:
    """The fixes switched on in configuration ``number`` (bit ``b`` set: ``fixes[b]`` on)."""
    fixes = tuple(fixes)
    if not 0 <= number < 2 ** len(fixes):
        raise ValueError(f"configuration number must be in [0, {2 ** len(fixes)}), got {number}")
    return tuple(f for b, f in enumerate(fixes) if number >> b & 1)


def named_configs(configs: Sequence[RetrainConfig]) -> dict[str, RetrainConfig]:
    """``{config.label: config}`` in the given order (labels are unique within a factorial)."""
    named = {c.label: c for c in configs}
    if len(named) != len(configs):
        raise ValueError("configurations with the same label: pass distinct configurations")
    return named


# --------------------------------------------------------------------------- inputs
def value_matrix(
    frame: pd.DataFrame,
    configs: Sequence[str],
    markets: Sequence[str] | None = None,
    metric: str = "sharpe_ratio",
) -> np.ndarray:
    """``(n_markets, n_configs)`` array of ``metric`` from a sweep frame, in the given orders.

    ``frame`` has one row per (``config``, ``market``) as ``experiments.sweep`` returns;
    ``markets`` defaults to the frame's own order. Raises if a (config, market) run is missing.
    """
    markets = list(dict.fromkeys(frame["market"])) if markets is None else list(markets)
    wide = frame.pivot_table(index="market", columns="config", values=metric, aggfunc="first")
    missing = [c for c in configs if c not in wide.columns]
    missing += [m for m in markets if m not in wide.index]
    if missing:
        raise ValueError(
            f"the sweep has no runs for {missing[:3]}: run every config on every market"
        )
    return wide.loc[markets, list(configs)].to_numpy(dtype=np.float64)


def buy_and_hold_sharpe(market: Market, start: int) -> float:
    """Sharpe ratio of the equal-weight buy and hold of ``market`` from row ``start``.

    Daily return ``mean_j(close[t, j] / close[t-1, j] - 1)`` (constant weights, as the engine's
    books), from ``start`` (the walk-forward's first decision day) on; no costs.
    """
    close = np.asarray(market.close, dtype=np.float64)
    daily = (close[1:] / close[:-1] - 1.0).mean(axis=1)
    return metrics.sharpe_ratio(daily[max(start, 0) :])


# --------------------------------------------------------------------------- the runs
def _evaluate_market(
    config_fields: list[dict[str, Any]],
    spec_fields: dict[str, Any],
    data_dir: str | None,
    version: str,
) -> dict[str, Any]:
    """Every config on one market (``walk_forward_many``), summarised; plus buy and hold.

    ``version`` (the package's code fingerprint) is part of the cache key only."""
    configs = [RetrainConfig(**fields) for fields in config_fields]
    market = MarketSpec(**spec_fields).build(data_dir)
    results = walk_forward_many(market, configs)
    return {
        "summaries": [ex.summarize_run(r) for r in results],
        "buy_and_hold": buy_and_hold_sharpe(market, first_decision_day(configs[0])),
    }


def _evaluate_market_cached(
    location: str | None,
    config_fields: list[dict[str, Any]],
    spec_fields: dict[str, Any],
    data_dir: str | None,
    version: str,
) -> dict[str, Any]:
    # module-level so it pickles to workers; data_dir does not change results (markets read
    # from disk equal the generated ones), so it is not part of the cache key
    cached = Memory(location, verbose=0).cache(_evaluate_market, ignore=["data_dir"])
    return cached(config_fields, spec_fields, data_dir, version)


def sweep_many(
    configs: Mapping[str, RetrainConfig],
    specs: Sequence[MarketSpec],
    *,
    n_jobs: int = 2,
    use_cache: bool = True,
    cache_location: str | Path | None = None,
    data_dir: str | Path | None = None,
    progress: bool = True,
    desc: str = "markets",
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Every named config on every market, one task per market through ``walk_forward_many``.

    Returns ``(frame, buy_and_hold)``: the frame has the rows and columns of
    ``experiments.sweep`` (config, market, seed, edge and every ``summarize_run`` metric;
    ordered by config then market) and the numbers are the same, since ``walk_forward_many``
    equals ``walk_forward`` run by run; ``buy_and_hold`` maps each market's label to the Sharpe
    of its equal-weight buy and hold. Cached per (configs, market, code) in
    ``experiments.cache_dir()``; local joblib workers (a market is one task: 64 runs).
    """
    location = None if not use_cache else str(cache_location or ex.cache_dir())
    version = ex.code_version()
    data = None if data_dir is None else str(data_dir)
    fields = [asdict(c) for c in configs.values()]
    calls = (
        delayed(_evaluate_market_cached)(location, fields, asdict(spec), data, version)
        for spec in specs
    )
    runner = Parallel(n_jobs=n_jobs, return_as="generator")
    answers = list(
        tqdm(runner(calls), total=len(specs), desc=desc, disable=not progress, mininterval=1.0)
    )
    rows = [
        {"config": name, "market": spec.label, "seed": spec.seed, "edge": spec.edge, **summary}
        for c, name in enumerate(configs)
        for spec, answer in zip(specs, answers, strict=True)
        for summary in (answer["summaries"][c],)
    ]
    hold = {spec.label: answer["buy_and_hold"] for spec, answer in zip(specs, answers, strict=True)}
    return pd.DataFrame(rows), hold


# --------------------------------------------------------------------------- statistics
def corrected_confidence(n_tests: int, confidence: float = CONFIDENCE) -> float:
    """Per-test confidence for a family of ``n_tests`` (Bonferroni): ``1 - (1 - c) / n``."""
    return 1.0 - (1.0 - confidence) / max(int(n_tests), 1)


def _mean_ci(values: np.ndarray, confidence: float, seed: int = 0) -> dict[str, float]:
    """Mean of one sample with its bootstrap CI (``analytics.stats.bootstrap_mean_ci``)."""
    values = np.asarray(values, dtype=np.float64)
    low, high = bootstrap_mean_ci(values, confidence=confidence, seed=seed)
    finite = values[np.isfinite(values)]
    return {
        "mean": float(finite.mean()) if finite.size else float("nan"),
        "ci_low": low,
        "ci_high": high,
        "n": int(finite.size),
    }


def _with_verdict(stat: dict[str, float], corrected: float) -> dict[str, Any]:
    """Adds ``positive``/``negative``: the CI at the family-corrected level excludes zero."""
    stat = dict(stat)
    excludes = stat.pop("corrected_low") > 0, stat.pop("corrected_high") < 0
    stat["corrected_confidence"] = corrected
    stat["positive"], stat["negative"] = bool(excludes[0]), bool(excludes[1])
    return stat


def _family(columns: np.ndarray, names: Sequence[str], confidence: float) -> dict[str, Any]:
    """Mean, 95% CI and a Bonferroni-corrected verdict of each column, as one family of tests."""
    corrected = corrected_confidence(len(names), confidence)
    out = {}
    for j, name in enumerate(names):
        stat = _mean_ci(columns[:, j], confidence)
        low, high = bootstrap_mean_ci(columns[:, j], confidence=corrected, seed=0)
        stat.update(corrected_low=low, corrected_high=high)
        out[name] = _with_verdict(stat, corrected)
    return out


def config_means(values: np.ndarray, confidence: float = CONFIDENCE) -> list[dict[str, float]]:
    """Each configuration's mean across markets with its bootstrap CI (one dict per column)."""
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    return [_mean_ci(values[:, j], confidence) for j in range(values.shape[1])]


def _n_fixes(n_configs: int) -> int:
    k = int(round(math.log2(n_configs))) if n_configs > 0 else -1
    if k < 1 or 2**k != n_configs:
        raise ValueError(f"a factorial has 2**k configurations (k >= 1), got {n_configs}")
    return k


def effect_design(k: int) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """The ±1-coded regression design of a ``2**k`` factorial in standard order.

    Returns ``(X, terms)``: ``X`` is ``(2**k, 1 + k + k(k-1)/2)`` with columns intercept, each
    switch ``x_b = +1`` when fix ``b`` is on else ``-1``, and each product ``x_a * x_b``;
    ``terms`` names them as index tuples ``()``, ``(b,)``, ``(a, b)``.
    """
    bits = (np.arange(2**k)[:, None] >> np.arange(k)) & 1
    x = 2.0 * bits - 1.0
    terms: list[tuple[int, ...]] = [(), *((b,) for b in range(k)), *combinations(range(k), 2)]
    columns = [np.prod(x[:, list(t)], axis=1) if t else np.ones(2**k) for t in terms]
    return np.column_stack(columns), terms


def effects(values: np.ndarray) -> tuple[np.ndarray, list[tuple[int, ...]], np.ndarray]:
    """Per-market main effects and two-way interactions, in Sharpe units.

    Each market's ``2**k`` values are regressed (least squares) on :func:`effect_design`. The
    design is orthogonal, so the estimates equal the classic factorial contrasts whatever the
    higher-order terms are:

    * main effect of fix ``b`` = ``2 * beta_b`` = mean over the configurations with ``b`` on minus
      mean over those with it off (what switching ``b`` on earns, averaged over the others);
    * interaction of ``a`` and ``b`` = ``4 * beta_ab`` = the double difference
      ``v(a,b) - v(a) - v(b) + v(none)``, averaged over the other switches: how much more ``a``
      earns when ``b`` is on than when it is off (symmetric in ``a`` and ``b``).

    Returns ``(estimates, terms, r_squared)``: ``estimates`` is ``(n_markets, k + k(k-1)/2)``
    (the main effects, then the pairs in ``terms`` order, intercept dropped) and ``r_squared``
    the share of each market's variance across configurations the model explains (the rest is
    three-way and higher interactions).
    """
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    k = _n_fixes(values.shape[1])
    X, terms = effect_design(k)
    beta = np.linalg.lstsq(X, values.T, rcond=None)[0].T  # (n_markets, n_terms)
    scale = np.array([{0: 1.0, 1: 2.0, 2: 4.0}[len(t)] for t in terms])
    fitted = beta @ X.T
    centred = values - values.mean(axis=1, keepdims=True)
    total = (centred**2).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = np.where(total > 0, 1.0 - ((values - fitted) ** 2).sum(axis=1) / total, np.nan)
    return (beta * scale)[:, 1:], terms[1:], r2


def shapley_weights(k: int) -> np.ndarray:
    """``(2**k, k)`` matrix ``W`` with ``values @ W`` = the exact Shapley values of the ``k`` fixes.

    Player ``b``'s Shapley value is ``sum over S not containing b of
    |S|! (k - |S| - 1)! / k! * (v(S + b) - v(S))``: configuration ``m`` enters with weight
    ``+w(|m| - 1)`` if ``b`` is in ``m`` and ``-w(|m|)`` if not. Each column sums to zero, so
    only differences of ``v`` matter (``v(OLD)`` need not be subtracted first).
    """
    size = np.array([bin(m).count("1") for m in range(2**k)])
    weight = [math.factorial(s) * math.factorial(k - s - 1) / math.factorial(k) for s in range(k)]
    W = np.empty((2**k, k))
    for b in range(k):
        on = (np.arange(2**k) >> b & 1).astype(bool)
        W[on, b] = [weight[s - 1] for s in size[on]]
        W[~on, b] = [-weight[s] for s in size[~on]]
    return W


def shapley(values: np.ndarray) -> np.ndarray:
    """``(n_markets, k)`` exact Shapley value of each fix for ``v(all fixes) - v(no fix)``.

    ``values`` is ``(n_markets, 2**k)`` in standard order (``all_configs``). Each row sums to
    ``values[:, -1] - values[:, 0]`` (NEW - OLD) up to rounding.
    """
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    return values @ shapley_weights(_n_fixes(values.shape[1]))


def select_best(values: np.ndarray) -> int:
    """Index of the configuration with the highest mean across markets (ties: the first)."""
    means = np.nanmean(np.atleast_2d(np.asarray(values, dtype=np.float64)), axis=0)
    return int(np.nanargmax(means))


# --------------------------------------------------------------------------- the results file
def _label(t: tuple[int, ...], fixes: Sequence[str]) -> str:
    return " x ".join(fixes[b] for b in t)


def _paired(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    return compare_paired(a, b).to_dict()


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
    metric: str = "sharpe_ratio",
    confidence: float = CONFIDENCE,
) -> dict[str, Any]:
    """The results file of the factorial (``factorial.json``); every number is computed here.

    ``runs``: every configuration of ``configs`` (``named_configs(all_configs(OLD, fixes))``, in
    that order) on the ``selection`` and ``confirmation`` markets (labels); ``real``: the same on
    the real series, or None; ``buy_and_hold``: market label -> buy-and-hold Sharpe.

    Configuration means, effects and Shapley values use every synthetic market (nothing is
    chosen there); the best configuration is chosen on ``selection`` only and measured on
    ``confirmation`` and the real series, against OLD, NEW, the best single fix (also chosen on
    ``selection``), buy and hold, and the oracle (the best configuration on ``confirmation`` in
    hindsight, which a practitioner could not have picked). Its DSR counts every configuration of
    the factorial as a trial.
    """
    fixes = _check_fixes(fixes)
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
    family = _family(est, names, confidence)
    main = {fixes[t[0]]: family[n] for t, n in zip(terms, names, strict=True) if len(t) == 1}
    pairs = [
        {"a": fixes[t[0]], "b": fixes[t[1]], **family[n]}
        for t, n in zip(terms, names, strict=True)
        if len(t) == 2
    ]
    effects_out: dict[str, Any] = {
        "main": main,
        "interactions": pairs,
        "n_tests": len(names),
        "r_squared": _mean_ci(r2, confidence),
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
        "fixes": _family(phi, list(fixes), confidence),
        "total": _mean_ci(total, confidence),
        "n_tests": k,
        "per_market": {
            "markets": markets,
            **{f: phi[:, b].tolist() for b, f in enumerate(fixes)},
            "total": total.tolist(),
        },
        "max_abs_sum_error": float(np.nanmax(np.abs(phi.sum(axis=1) - total))),
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
            **_mean_ci(conf[:, best], confidence),
            "rank": rank,
            "n_configs": 2**k,
            "vs_old": _paired(conf[:, 0], conf[:, best]),
            "vs_new": _paired(conf[:, -1], conf[:, best]),
            "vs_best_single_fix": _paired(conf[:, best_single], conf[:, best]),
            "vs_buy_and_hold": _paired(hold, conf[:, best]),
            "buy_and_hold": _mean_ci(hold, confidence),
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
    }
