"""How conditional the synthetic verdict is on the test bed: the same comparisons as the
generator moves (planted ``edge`` 0.25, 0.5, 1, 2; regimes half as long), plus buy and hold
on every market and the placebo rerun on fresh seeds.

Runs go through ``experiments.sweep`` where a ``MarketSpec`` describes the market (so the
main condition reuses the ablations' cached runs); markets with other regime durations use
this module's own cached runner. Every comparison is a ``stats.paired_bootstrap`` over
markets (sorted by seed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from joblib import Memory, Parallel, delayed

from retrainlab.analytics import metrics
from retrainlab.analytics.stats import paired_bootstrap, sign_test_p
from retrainlab.engine.config import RetrainConfig
from retrainlab.engine.market import Market
from retrainlab.engine.synthetic import DURATION, generate_market
from retrainlab.engine.walkforward import walk_forward
from retrainlab.research import experiments as ex
from retrainlab.research.evaluation import BUY_AND_HOLD, buy_and_hold_under
from retrainlab.research.oracle import ORACLE, oracle_returns

__all__ = ["Condition", "compare", "condition_table", "default_conditions", "run_condition"]


@dataclass(frozen=True)
class Condition:
    """One test bed: the planted edge and the regimes' expected durations (days)."""

    name: str
    edge: float = 1.0
    duration: tuple[float, ...] = field(default=DURATION)

    @property
    def standard_regimes(self) -> bool:
        return tuple(self.duration) == tuple(DURATION)


def default_conditions() -> list[Condition]:
    """Edge 0.25, 0.5, 1 (the study's), 2, and edge 1 with every regime half as long."""
    return [
        *(Condition(f"edge {e:g}", e) for e in (0.25, 0.5, 1.0, 2.0)),
        Condition("shorter regimes", 1.0, tuple(d / 2 for d in DURATION)),
    ]


def _market(
    condition: Condition, seed: int, n_days: int, n_tickers: int, data_dir: str | None
) -> Market:
    if condition.standard_regimes:
        return ex.MarketSpec(seed, n_days, n_tickers, condition.edge).build(data_dir)
    return generate_market(
        seed, n_days=n_days, n_tickers=n_tickers, edge=condition.edge, duration=condition.duration
    )


def _summary_fields(
    config_fields: dict[str, Any],
    condition: dict[str, Any],
    seed: int,
    n_days: int,
    n_tickers: int,
    version: str,
) -> dict[str, float]:
    # ``version`` keys the cache only.
    cond = Condition(condition["name"], condition["edge"], tuple(condition["duration"]))
    market = _market(cond, seed, n_days, n_tickers, None)
    return ex.summarize_run(walk_forward(market, RetrainConfig(**config_fields)))


def _baselines(market: Market, config: RetrainConfig) -> list[dict[str, Any]]:
    """Buy and hold, and the oracle when the market has a planted signal (net and gross)."""
    net = buy_and_hold_under(market, config).to_numpy()
    gross = buy_and_hold_under(market, config.replace(cost_bps=0.0)).to_numpy()
    rows = [
        {
            "label": BUY_AND_HOLD,
            "sharpe_ratio": metrics.sharpe_ratio(net),
            "sharpe_at_0bps": metrics.sharpe_ratio(gross),
        }
    ]
    if market.planted is not None and np.any(market.planted):
        rows.append(
            {
                "label": ORACLE,
                "sharpe_ratio": metrics.sharpe_ratio(oracle_returns(market, config).to_numpy()),
                "sharpe_at_0bps": metrics.sharpe_ratio(
                    oracle_returns(market, config.replace(cost_bps=0.0)).to_numpy()
                ),
            }
        )
    return rows


def run_condition(
    condition: Condition,
    configs: Mapping[str, RetrainConfig],
    seeds: Sequence[int],
    *,
    n_days: int,
    n_tickers: int,
    n_jobs: int = 2,
    data_dir: str | None = None,
    use_cache: bool = True,
    progress: bool = True,
) -> pd.DataFrame:
    """One row per (label, seed): ``sharpe_ratio`` and ``sharpe_at_0bps`` of every config and
    of buy and hold (at the first config's cost and lag) on the condition's markets."""
    seeds = sorted(int(s) for s in seeds)
    if condition.standard_regimes:
        specs = ex.synthetic_specs(seeds, n_days, n_tickers, condition.edge)
        runs = ex.sweep(
            configs,
            specs,
            n_jobs=n_jobs,
            use_cache=use_cache,
            data_dir=data_dir,
            progress=progress,
            desc=condition.name,
        )
        frame = runs[["config", "seed", "sharpe_ratio", "sharpe_at_0bps"]].rename(
            columns={"config": "label"}
        )
    else:
        run = _summary_fields
        if use_cache:
            run = Memory(str(ex.cache_dir()), verbose=0).cache(_summary_fields)
        version = ex.code_version()
        cond = asdict(condition)
        jobs = [(label, config, s) for label, config in configs.items() for s in seeds]
        out = Parallel(n_jobs=n_jobs)(
            delayed(run)(asdict(config), cond, s, n_days, n_tickers, version)
            for _, config, s in jobs
        )
        frame = pd.DataFrame(
            [
                {
                    "label": label,
                    "seed": s,
                    "sharpe_ratio": o["sharpe_ratio"],
                    "sharpe_at_0bps": o["sharpe_at_0bps"],
                }
                for (label, _, s), o in zip(jobs, out, strict=True)
            ]
        )
    first = next(iter(configs.values()))
    rows = []
    for s in seeds:
        for row in _baselines(_market(condition, s, n_days, n_tickers, data_dir), first):
            rows.append({"seed": s, **row})
    return pd.concat([frame, pd.DataFrame(rows)], ignore_index=True)


def compare(
    frame: pd.DataFrame, a: str, b: str, metric: str = "sharpe_ratio", seed: int = 0
) -> dict[str, Any]:
    """``b - a`` of ``metric`` across the frame's seeds: paired bootstrap and sign test."""
    wide = frame.pivot(index="seed", columns="label", values=metric).sort_index()
    x, y = wide[a].to_numpy(dtype=float), wide[b].to_numpy(dtype=float)
    res = paired_bootstrap(x, y, wide.index.to_numpy(), seed=seed)
    return {
        **res.to_dict(),
        "mean_diff": res.estimate,
        "mean_a": float(np.nanmean(x)),
        "mean_b": float(np.nanmean(y)),
        "sign_p": sign_test_p(x, y),
    }


def condition_table(frame: pd.DataFrame, metric: str = "sharpe_ratio") -> dict[str, Any]:
    """Per-seed values ``{"seed": [...], metric: {label: [...]}}`` of a condition (JSON-ready)."""
    wide = frame.pivot(index="seed", columns="label", values=metric).sort_index()
    return {
        "seed": [int(s) for s in wide.index],
        metric: {c: wide[c].tolist() for c in wide.columns},
    }
