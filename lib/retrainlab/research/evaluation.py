"""Evaluate systems on one market the way a referee would: whole period and independent blocks.

* :func:`buy_and_hold` — the fair baseline: equal weight in every ticker, held from the first
  decision date (filled ``execution_lag`` days later), constant weights rebalanced daily, the
  same cost per unit of turnover as the walk-forward (``walk_forward``'s cost model: entering
  the book costs one unit of turnover once).
* :func:`system_returns` — daily net returns of each configuration (``walk_forward``, cached
  with joblib, in parallel) and of buy and hold, on the same dates.
* :func:`evaluate_market` — (1) one walk-forward over the whole period, each paired Sharpe
  difference with a stationary-bootstrap CI and p (``stats.sharpe_difference_ci``); (2)
  non-overlapping blocks of ``block_days`` (default 1008, about four years), each an
  independent walk-forward with its own warm-up, the per-block Sharpe differences paired
  across blocks (``stats.paired_bootstrap``, sign test).
* ``python -m retrainlab evaluate --prices FILE ...`` — the same on a user's price file
  (:func:`main`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from joblib import Memory, Parallel, delayed

from retrainlab.analytics import metrics
from retrainlab.analytics.stats import paired_bootstrap, sharpe_difference_ci, sign_test_p
from retrainlab.common.jsonio import jsonable
from retrainlab.common.names import check_name
from retrainlab.engine.bars import LAYOUTS
from retrainlab.engine.config import FIXES, NEW, OLD, RetrainConfig
from retrainlab.engine.market import Market
from retrainlab.engine.prices import load_prices
from retrainlab.engine.results import mark_to_market
from retrainlab.engine.walkforward import first_decision_day, walk_forward
from retrainlab.research.experiments import cache_dir, code_version

__all__ = [
    "BUY_AND_HOLD",
    "DEFAULT_BLOCK_DAYS",
    "MIN_BLOCK_DAYS",
    "block_bounds",
    "block_market",
    "buy_and_hold",
    "evaluate_market",
    "last_days",
    "main",
    "study_configs",
    "study_pairs",
    "system_returns",
]

#: Label of the buy-and-hold baseline in every table and results file.
BUY_AND_HOLD = "buy_and_hold"
#: About four years of trading days.
DEFAULT_BLOCK_DAYS = 1008
#: A block must hold the warm-up (60 days) and some decisions after it.
MIN_BLOCK_DAYS = 126

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


# --------------------------------------------------------------------------- configurations
def study_configs() -> dict[str, RetrainConfig]:
    """OLD, NEW and each single fix alone (OLD + fix): the systems of every real-data table."""
    return {"OLD": OLD, "NEW": NEW, **{f"OLD+{fix}": OLD.with_fix(fix) for fix in FIXES}}


def study_pairs(labels: Sequence[str]) -> list[tuple[str, str]]:
    """The comparisons ``(a, b)`` of the real-data study, as ``b - a``: NEW against OLD and
    against each single fix, and every system against buy and hold."""
    fixes = [label for label in labels if label.startswith("OLD+")]
    pairs = [("OLD", "NEW"), *((fix, "NEW") for fix in fixes)]
    return pairs + [(BUY_AND_HOLD, label) for label in labels]


# --------------------------------------------------------------------------- baselines
def buy_and_hold(
    market: Market, *, cost_bps: float = 5.0, execution_lag: int = 1, first_day: int = 60
) -> pd.Series:
    """Daily net returns of equal-weight buy and hold, on the walk-forward's dates.

    The decision to hold every ticker with weight ``1 / n_tickers`` is taken at the close of
    row ``first_day`` (the systems' first decision date) and filled ``execution_lag`` rows
    later; from then the book is constant weights (rebalanced daily, like the systems'
    positions, without charging for that drift). Day t's return is
    ``mean_j(position[t-1, j] * simple_return[t, j])`` minus ``cost_bps / 1e4`` times that
    day's turnover, which is 1 on the fill day and 0 after. The series starts at
    ``first_day`` like ``WalkForwardResult.returns``.
    """
    if cost_bps < 0:
        raise ValueError(f"cost_bps must be >= 0, got {cost_bps!r}")
    if execution_lag < 0 or first_day < 0:
        raise ValueError("execution_lag and first_day must be >= 0")
    close = np.asarray(market.close, dtype=np.float64)
    n = len(close)
    positions = np.zeros(close.shape)
    positions[first_day + execution_lag :] = 1.0
    net = mark_to_market(positions, close, cost_bps)  # the walk-forward's own cost model
    start = min(first_day, n)
    return pd.Series(net[start:], index=market.dates[start:], name=BUY_AND_HOLD)


def buy_and_hold_under(market: Market, config: RetrainConfig = OLD) -> pd.Series:
    """``buy_and_hold`` under ``config``'s protocol: its cost and execution lag, decided at its
    first decision date (the baseline every study sets beside systems run with ``config``)."""
    return buy_and_hold(
        market,
        cost_bps=config.cost_bps,
        execution_lag=config.execution_lag,
        first_day=first_decision_day(config),
    )


def buy_and_hold_sharpe(market: Market, config: RetrainConfig = OLD) -> float:
    """Sharpe ratio of ``buy_and_hold_under(market, config)``."""
    return metrics.sharpe_ratio(buy_and_hold_under(market, config).to_numpy())


# --------------------------------------------------------------------------- running systems
def _returns_of(market: Market, config: RetrainConfig, version: str) -> pd.Series:
    # ``version`` only keys the cache: a code change never serves a stale series.
    return walk_forward(market, config).returns


def _runner(use_cache: bool) -> Callable[..., pd.Series]:
    if not use_cache:
        return _returns_of
    return Memory(str(cache_dir()), verbose=0).cache(_returns_of)


def system_returns(
    market: Market,
    configs: Mapping[str, RetrainConfig],
    *,
    n_jobs: int = 1,
    use_cache: bool = True,
    progress: Progress = _quiet,
) -> pd.DataFrame:
    """Daily net returns of each named config and of buy and hold (last column), same dates.

    Buy and hold uses the first config's cost and execution lag; every config must share
    them (a comparison at different costs or lags is not a fair one) or this raises.
    """
    if not configs:
        raise ValueError("no configurations to evaluate")
    first = next(iter(configs.values()))
    for label, config in configs.items():
        if config.cost_bps != first.cost_bps or config.execution_lag != first.execution_lag:
            raise ValueError(
                f"configuration {label!r} has a different cost or execution lag from the "
                "first; compare systems under one protocol"
            )
        if label == BUY_AND_HOLD:
            raise ValueError(f"{BUY_AND_HOLD!r} is the baseline's label; rename the config")
    run = _runner(use_cache)
    version = code_version()
    labels = list(configs)
    progress(f"{market.name}: {len(labels)} walk-forward run(s) on {market.n_days} days")
    series = Parallel(n_jobs=n_jobs)(
        delayed(run)(market, configs[label], version) for label in labels
    )
    frame = pd.concat([s.rename(label) for label, s in zip(labels, series, strict=True)], axis=1)
    frame[BUY_AND_HOLD] = buy_and_hold_under(market, first).reindex(frame.index)
    return frame


# --------------------------------------------------------------------------- blocks
def block_bounds(n_days: int, block_days: int = DEFAULT_BLOCK_DAYS) -> list[tuple[int, int]]:
    """``[start, stop)`` rows of consecutive non-overlapping blocks of ``block_days``.

    The remainder (fewer than ``block_days`` rows) joins the last block; a series shorter
    than one block is one block.
    """
    if isinstance(block_days, bool) or not isinstance(block_days, int):
        raise ValueError(f"block_days must be an integer, got {block_days!r}")
    if block_days < MIN_BLOCK_DAYS:
        raise ValueError(
            f"block_days must be at least {MIN_BLOCK_DAYS} (the warm-up plus some "
            f"decisions), got {block_days}"
        )
    count = max(1, n_days // block_days)
    edges = [i * block_days for i in range(count)] + [n_days]
    return list(zip(edges[:-1], edges[1:], strict=True))


def block_market(market: Market, start: int, stop: int) -> Market:
    """Rows ``[start, stop)`` of ``market`` as a market of their own (for an independent run)."""
    rows = slice(start, stop)
    return Market(
        dates=market.dates[rows],
        tickers=market.tickers,
        open=market.open[rows].copy(),
        high=market.high[rows].copy(),
        low=market.low[rows].copy(),
        close=market.close[rows].copy(),
        volume=market.volume[rows].copy(),
        regimes=None if market.regimes is None else market.regimes.iloc[rows],
        planted=None if market.planted is None else market.planted[rows].copy(),
        name=f"{market.name}[{start}:{stop}]",
        params={**market.params, "block": [start, stop]},
    )


def last_days(market: Market, days: int) -> Market:
    """The most recent ``days`` rows of ``market`` (0, or more than it has: all of it)."""
    if days < 0:
        raise ValueError(f"days must be >= 0 (0: all of it), got {days}")
    if days == 0 or days >= market.n_days:
        return market
    return block_market(market, market.n_days - days, market.n_days)


# --------------------------------------------------------------------------- evaluation
def _summary(returns: pd.DataFrame) -> dict[str, dict[str, float]]:
    return {
        "sharpe": {c: metrics.sharpe_ratio(returns[c].to_numpy()) for c in returns},
        "total_return": {c: metrics.total_return(returns[c].to_numpy()) for c in returns},
        "max_drawdown": {c: metrics.max_drawdown(returns[c].to_numpy()) for c in returns},
    }


def _pair_key(a: str, b: str) -> str:
    return f"{b} - {a}"


def evaluate_market(
    market: Market,
    configs: Mapping[str, RetrainConfig],
    *,
    pairs: Sequence[tuple[str, str]] | None = None,
    block_days: int | None = DEFAULT_BLOCK_DAYS,
    n_resamples: int = 2000,
    seed: int = 0,
    n_jobs: int = 1,
    use_cache: bool = True,
    progress: Progress = _quiet,
) -> dict[str, Any]:
    """Whole-period and block evaluation of ``configs`` (and buy and hold) on ``market``.

    ``pairs`` lists ``(a, b)`` labels to compare as ``b - a`` (buy and hold is
    ``"buy_and_hold"``); default: every other label against the first config. Returns a
    JSON-ready dict:

    * ``whole``: ``sharpe``, ``total_return``, ``max_drawdown`` per label, ``start``/``end``
      dates and ``n_days`` of the return series;
    * ``comparisons``: ``"b - a"`` -> the whole-period Sharpe difference with its stationary
      block bootstrap CI and p (``BootstrapDifference`` fields, ``mean_diff`` = estimate);
    * ``paired``: label -> the same, against the first config (the CLI's table);
    * ``blocks``: one entry per block (``start``, ``end``, ``n_days``, ``sharpe`` per label);
    * ``block_comparisons``: ``"b - a"`` -> mean of the per-block Sharpe differences with an
      i.i.d. bootstrap CI and p across blocks, ``share_b_wins`` and the sign test p.

    ``block_days=None`` skips the blocks.
    """
    labels = [*configs, BUY_AND_HOLD]
    pairs = list(pairs) if pairs is not None else [(labels[0], b) for b in labels[1:]]
    for a, b in pairs:
        check_name(a, labels, "label in pairs")
        check_name(b, labels, "label in pairs")
    bounds = block_bounds(market.n_days, block_days) if block_days is not None else []
    whole = system_returns(market, configs, n_jobs=n_jobs, use_cache=use_cache, progress=progress)
    first = next(iter(configs.values()))
    out: dict[str, Any] = {
        "market": market.name,
        "tickers": list(market.tickers),
        "configs": labels,
        "cost_bps": first.cost_bps,
        "execution_lag": first.execution_lag,
        "n_resamples": n_resamples,
        "seed": seed,
        "whole": {
            **_summary(whole),
            "start": str(whole.index[0].date()),
            "end": str(whole.index[-1].date()),
            "n_days": len(whole),
        },
    }
    progress(f"{market.name}: stationary bootstrap of {len(pairs)} paired difference(s)")
    comparisons = {}
    for i, (a, b) in enumerate(pairs):
        res = sharpe_difference_ci(whole[a], whole[b], n_resamples=n_resamples, seed=seed + i)
        comparisons[_pair_key(a, b)] = {"a": a, "b": b, "mean_diff": res.estimate, **res.to_dict()}
    out["comparisons"] = comparisons
    out["paired"] = {
        b: comparisons[_pair_key(labels[0], b)] for b in labels[1:] if (labels[0], b) in pairs
    }
    out["blocks"], out["block_comparisons"] = [], {}
    if block_days is None:
        return out
    sharpes: dict[str, list[float]] = {label: [] for label in labels}
    for k, (start, stop) in enumerate(bounds):
        progress(f"{market.name}: block {k + 1}/{len(bounds)} (rows {start}..{stop - 1})")
        returns = system_returns(
            block_market(market, start, stop),
            configs,
            n_jobs=n_jobs,
            use_cache=use_cache,
            progress=_quiet,
        )
        summary = _summary(returns)
        out["blocks"].append(
            {
                "start": str(market.dates[start].date()),
                "end": str(market.dates[stop - 1].date()),
                "n_days": stop - start,
                "sharpe": summary["sharpe"],
            }
        )
        for label in labels:
            sharpes[label].append(summary["sharpe"][label])
    index = np.arange(len(bounds))
    for a, b in pairs:
        x, y = np.array(sharpes[a]), np.array(sharpes[b])
        res = paired_bootstrap(x, y, index, n_resamples=n_resamples, seed=seed)
        keep = np.isfinite(x) & np.isfinite(y)
        out["block_comparisons"][_pair_key(a, b)] = {
            "a": a,
            "b": b,
            "mean_diff": res.estimate,
            **res.to_dict(),
            "share_b_wins": float(np.mean(y[keep] > x[keep])) if keep.any() else float("nan"),
            "sign_p": sign_test_p(x, y),
        }
    return out


# --------------------------------------------------------------------------- the CLI
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m retrainlab evaluate",
        description=(
            "Evaluate retraining systems and buy and hold on your own prices: whole-period "
            "Sharpe with stationary-bootstrap CIs of each difference to the first config, "
            "and independent blocks. Progress goes to stderr."
        ),
    )
    parser.add_argument("--prices", required=True, help="CSV or Parquet price file")
    parser.add_argument("--layout", default="auto", help=f"one of {', '.join(LAYOUTS)}")
    parser.add_argument(
        "--configs",
        nargs="+",
        default=["OLD", "NEW"],
        help="labels: OLD, NEW, OLD+fix[+fix], NEW-fix (the first is the reference)",
    )
    parser.add_argument(
        "--block-days", type=int, default=DEFAULT_BLOCK_DAYS, help="days per block (0: none)"
    )
    parser.add_argument("--cost-bps", type=float, default=None, help="cost per unit turnover")
    parser.add_argument("--n-resamples", type=int, default=2000, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    return parser


def _table(result: Mapping[str, Any]) -> str:
    lines = [
        f"{result['market']}: {result['whole']['start']}..{result['whole']['end']} "
        f"({result['whole']['n_days']} days), cost {result['cost_bps']:g} bps, "
        f"execution lag {result['execution_lag']}",
        f"{'system':<28}{'Sharpe':>8}   difference to {result['configs'][0]} [95% CI]",
    ]
    for label in result["configs"]:
        row = f"{label:<28}{result['whole']['sharpe'][label]:>8.2f}"
        if label in result["paired"]:
            p = result["paired"][label]
            row += f"   {p['mean_diff']:+.2f} [{p['ci_low']:+.2f}, {p['ci_high']:+.2f}]"
        lines.append(row)
    for block in result["blocks"]:
        cells = "  ".join(f"{k} {v:.2f}" for k, v in block["sharpe"].items())
        lines.append(f"block {block['start']}..{block['end']}: {cells}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m retrainlab evaluate``: 0 done, 2 bad input (one line on stderr)."""
    args = _parser().parse_args(list(argv) if argv is not None else None)

    def progress(message: str) -> None:
        print(f"[evaluate] {message}", file=sys.stderr, flush=True)

    try:
        check_name(args.layout, LAYOUTS, "layout")
        configs = {label: RetrainConfig.from_label(label) for label in args.configs}
        if len(configs) != len(args.configs):
            raise ValueError("a configuration is named twice in --configs")
        if args.cost_bps is not None:
            if args.cost_bps < 0:
                raise ValueError(f"--cost-bps must be >= 0, got {args.cost_bps:g}")
            configs = {
                k: dataclasses.replace(c, cost_bps=args.cost_bps) for k, c in configs.items()
            }
        if args.block_days < 0 or 0 < args.block_days < MIN_BLOCK_DAYS:
            raise ValueError(
                f"--block-days must be 0 (no blocks) or at least {MIN_BLOCK_DAYS}, "
                f"got {args.block_days}"
            )
        progress(f"reading {args.prices}")
        market = load_prices(args.prices, layout=args.layout)
        result = evaluate_market(
            market,
            configs,
            block_days=args.block_days or None,
            n_resamples=args.n_resamples,
            seed=args.seed,
            progress=progress,
        )
    except (ValueError, TypeError, OSError, ImportError, KeyError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"error: {message}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(jsonable(result), indent=1, sort_keys=True))
    else:
        print(_table(result))
    return 0
