"""The factorial's runs: its configurations, its markets, and every configuration on each.

* :func:`subset` and :func:`named_configs`: the configurations of ``retrainlab.all_configs``
  (standard order: configuration ``m`` has ``fixes[b]`` on exactly when bit ``b`` is set);
* :class:`PanelBlock` and :func:`panel_blocks`: the real S&P 500 panel
  (``engine.real_equities``) cut into consecutive non-overlapping blocks
  (``evaluation.block_bounds``, the blocks of notebook 04), each an independent market with its
  own warm-up, so a run on one block sees that block's rows only;
* :func:`sweep_many`: every configuration on every market (a ``MarketSpec`` or a
  ``PanelBlock``), one task per market through ``walk_forward_many``, cached and in parallel like
  ``experiments.sweep``; :func:`value_matrix` turns its frame into the statistics' matrix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from joblib import Memory, Parallel, delayed
from tqdm import tqdm

from retrainlab.common.names import check_name
from retrainlab.engine.config import FIXES, RetrainConfig
from retrainlab.engine.many import walk_forward_many
from retrainlab.engine.market import Market
from retrainlab.engine.real_equities import SP500_TICKERS, load_sp500_panel
from retrainlab.research import experiments as ex
from retrainlab.research.evaluation import (
    DEFAULT_BLOCK_DAYS,
    block_bounds,
    block_market,
    buy_and_hold_sharpe,
)
from retrainlab.research.experiments import MarketSpec

__all__ = [
    "PanelBlock",
    "check_fixes",
    "named_configs",
    "panel_blocks",
    "subset",
    "sweep_many",
    "value_matrix",
]


# --------------------------------------------------------------------------- configurations
def check_fixes(fixes: Sequence[str]) -> tuple[str, ...]:
    """``fixes`` as a tuple of known fix names, each once and at least one (raises otherwise)."""
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


# --------------------------------------------------------------------------- the real panel
@dataclass(frozen=True)
class PanelBlock:
    """Rows ``[start, stop)`` of the S&P 500 panel of ``tickers``: one independent market.

    Made by :func:`panel_blocks` (``first_date`` and ``last_date`` are those rows' dates, kept
    so the label needs no data). ``build`` is ``evaluation.block_market`` of the panel: the
    block's rows only, so a walk-forward on it starts cold (its own warm-up) and cannot see a
    later block.
    """

    tickers: tuple[str, ...]
    start: int
    stop: int
    first_date: str
    last_date: str

    @property
    def label(self) -> str:
        return f"sp500_panel:{self.first_date}..{self.last_date}"

    @property
    def n_days(self) -> int:
        return self.stop - self.start

    def build(self, data_dir: str | Path | None = None) -> Market:
        """The block's market (``data_dir`` is unused: the panel ships with skfolio)."""
        return block_market(load_sp500_panel(self.tickers), self.start, self.stop)


def panel_blocks(
    n_tickers: int = len(SP500_TICKERS),
    *,
    panel_days: int = 0,
    block_days: int = DEFAULT_BLOCK_DAYS,
) -> list[PanelBlock]:
    """The panel's first ``n_tickers`` tickers cut into blocks of ``block_days`` rows.

    ``panel_days`` keeps the most recent rows only (0: all 8,313); the blocks are those of
    notebook 04 (``evaluation.block_bounds``: consecutive, non-overlapping, the remainder joins
    the last block). Default: 8 blocks of about four years.
    """
    if not 1 <= n_tickers <= len(SP500_TICKERS):
        raise ValueError(f"n_tickers must be in [1, {len(SP500_TICKERS)}], got {n_tickers}")
    if panel_days < 0:
        raise ValueError(f"panel_days must be >= 0 (0: the whole panel), got {panel_days}")
    tickers = SP500_TICKERS[:n_tickers]
    dates = load_sp500_panel(tickers).dates
    offset = len(dates) - panel_days if 0 < panel_days < len(dates) else 0
    return [
        PanelBlock(
            tickers=tickers,
            start=offset + start,
            stop=offset + stop,
            first_date=str(dates[offset + start].date()),
            last_date=str(dates[offset + stop - 1].date()),
        )
        for start, stop in block_bounds(len(dates) - offset, block_days)
    ]


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


# --------------------------------------------------------------------------- the runs
Spec = MarketSpec | PanelBlock


def _evaluate_market(
    config_fields: list[dict[str, Any]],
    spec: Spec,
    market: Market,
    version: str,
    location: str | None = None,
) -> list[dict[str, Any]]:
    """Every config on ``market`` (built from ``spec``) through ``walk_forward_many``, each run
    summarised. ``spec``, the configs and ``version`` (the engine's code fingerprint) are the
    cache key; ``market`` is not hashed (``spec`` determines it). The summaries of a synthetic or
    index market are also filed in ``experiments.sweep``'s run cache at ``location``
    (``experiments.remember_runs``), so the ablation and comparison sweeps of the same markets
    load them."""
    configs = [RetrainConfig(**fields) for fields in config_fields]
    summaries = [ex.summarize_run(r) for r in walk_forward_many(market, configs)]
    if isinstance(spec, MarketSpec):
        ex.remember_runs(location, config_fields, spec, summaries, version)
    return summaries


def _evaluate_market_cached(
    location: str | None,
    config_fields: list[dict[str, Any]],
    spec: Spec,
    data_dir: str | None,
    version: str,
) -> dict[str, Any]:
    # module-level so it pickles to workers; data_dir does not change results (markets read
    # from disk equal the generated ones), so it is not part of the cache key
    market = spec.build(data_dir)
    cached = Memory(location, verbose=0).cache(_evaluate_market, ignore=["market", "location"])
    # Buy and hold is research code, outside the engine-only cache key, so it is computed on
    # every call (one market's closes: milliseconds), never served from the cache.
    return {
        "summaries": cached(config_fields, spec, market, version, location),
        "buy_and_hold": buy_and_hold_sharpe(market, RetrainConfig(**config_fields[0])),
    }


def _spec_columns(spec: Spec) -> dict[str, Any]:
    """The frame's columns that describe a market: seed and edge, or a block's dates."""
    if isinstance(spec, PanelBlock):
        return {"start": spec.first_date, "end": spec.last_date}
    return {"seed": spec.seed, "edge": spec.edge}


def sweep_many(
    configs: Mapping[str, RetrainConfig],
    specs: Sequence[Spec],
    *,
    n_jobs: int = 2,
    use_cache: bool = True,
    cache_location: str | Path | None = None,
    data_dir: str | Path | None = None,
    progress: bool = True,
    desc: str = "markets",
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Every named config on every market, one task per market through ``walk_forward_many``.

    ``specs`` are ``MarketSpec`` (synthetic or index series) or ``PanelBlock`` (a block of the
    real panel). Returns ``(frame, buy_and_hold)``: the frame has the rows and columns of
    ``experiments.sweep`` (config, market, seed, edge, or a block's start and end dates, and
    every ``summarize_run`` metric; ordered by config then market) and the numbers are the
    same, since ``walk_forward_many`` equals ``walk_forward`` run by run; ``buy_and_hold`` maps
    each market's label to the Sharpe of ``evaluation.buy_and_hold_sharpe`` (the studies' one
    buy and hold: the base config's cost and execution lag, from its first decision date). The
    runs are cached per (configs, market, engine code) in ``experiments.cache_dir()``; buy and
    hold is computed on every call. Local joblib workers (a market is one task).
    """
    location = None if not use_cache else str(cache_location or ex.cache_dir())
    version = ex.code_version()
    data = None if data_dir is None else str(data_dir)
    fields = [asdict(c) for c in configs.values()]
    calls = (
        delayed(_evaluate_market_cached)(location, fields, spec, data, version) for spec in specs
    )
    runner = Parallel(n_jobs=n_jobs, return_as="generator")
    answers = list(
        tqdm(runner(calls), total=len(specs), desc=desc, disable=not progress, mininterval=1.0)
    )
    rows = [
        {"config": name, "market": spec.label, **_spec_columns(spec), **summary}
        for c, name in enumerate(configs)
        for spec, answer in zip(specs, answers, strict=True)
        for summary in (answer["summaries"][c],)
    ]
    hold = {spec.label: answer["buy_and_hold"] for spec, answer in zip(specs, answers, strict=True)}
    return pd.DataFrame(rows), hold
