"""Interactive exploration (notebooks/explore.ipynb): one market, any set of fixes, OLD beside it
and buy and hold beside both.

Runs are cached in memory by (market, config), so switching back to a configuration already
seen redraws at once. Buy and hold is the studies' own (``evaluation.buy_and_hold``: equal
weight, decided at the first decision date and filled after OLD's execution lag, OLD's cost per
unit of turnover), so the three lines are scored alike and match the report's baseline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from retrainlab.analytics import metrics
from retrainlab.common.names import check_name
from retrainlab.engine.config import FIXES, OLD, RetrainConfig
from retrainlab.engine.market import Market
from retrainlab.engine.walkforward import WalkForwardResult, walk_forward
from retrainlab.research import evaluation
from retrainlab.research.experiments import EQUAL_RISK_VOLATILITY, MarketSpec


@dataclass(frozen=True)
class Line:
    """One system on the chosen market: daily net returns, positions, and its signals if any."""

    name: str
    returns: pd.Series
    positions: pd.DataFrame
    signals: pd.DataFrame | None = None

    @property
    def signal_mix(self) -> dict[str, float]:
        """Share of long, short and neutral decisions (no signals: always long)."""
        if self.signals is None:
            return {"long": 1.0, "short": 0.0, "neutral": 0.0}
        values = self.signals.to_numpy().ravel()
        values = values[pd.notna(values)]
        n = max(len(values), 1)
        return {s: float(np.sum(values == s)) / n for s in ("long", "short", "neutral")}


@lru_cache(maxsize=32)
def market(spec: MarketSpec) -> Market:
    """The market of ``spec`` (generated or loaded once per session)."""
    return spec.build()


@lru_cache(maxsize=256)
def run(spec: MarketSpec, config: RetrainConfig) -> WalkForwardResult:
    """``walk_forward(market(spec), config)``, cached in memory for the session."""
    return walk_forward(market(spec), config)


def config_with(fixes: Sequence[str], base: RetrainConfig = OLD) -> RetrainConfig:
    """``base`` with exactly the fixes named (others off); unknown names raise with a hint."""
    for name in fixes:
        check_name(name, FIXES, "fix")
    return base.replace(**{name: name in fixes for name in FIXES})


def buy_and_hold(mkt: Market, config: RetrainConfig = OLD) -> Line:
    """``evaluation.buy_and_hold_under(mkt, config)`` with its book (weight 1 in every ticker
    once filled) for the charts."""
    returns = evaluation.buy_and_hold_under(mkt, config)
    positions = pd.DataFrame(0.0, index=returns.index, columns=list(mkt.tickers))
    positions.iloc[config.execution_lag :] = 1.0
    return Line("buy and hold", returns, positions)


def lines(spec: MarketSpec, fixes: Sequence[str]) -> dict[str, Line]:
    """OLD, the chosen configuration (OLD + ``fixes``) and buy and hold on one market."""
    old, chosen = run(spec, OLD), run(spec, config_with(fixes))
    out = {}
    for result in (old, chosen):
        positions = result.positions.loc[result.returns.index[0] :]
        out[result.config.label] = Line(
            result.config.label, result.returns, positions, result.signals
        )
    out["buy and hold"] = buy_and_hold(market(spec), OLD)
    return out


def metrics_table(systems: Mapping[str, Line]) -> pd.DataFrame:
    """Sharpe, total return, return at equal volatility, drawdown, turnover and signal mix."""
    rows = {}
    for name, line in systems.items():
        r = line.returns.to_numpy(dtype=float)
        row = {
            "Sharpe": metrics.sharpe_ratio(r),
            "total return": metrics.total_return(r),
            f"return at {EQUAL_RISK_VOLATILITY:.0%} vol": metrics.return_at_equal_risk(
                r, EQUAL_RISK_VOLATILITY
            ),
            "max drawdown": metrics.max_drawdown(r),
            "turnover / day": metrics.turnover(line.positions.to_numpy(dtype=float)),
        }
        row.update({f"{k} share": v for k, v in line.signal_mix.items()})
        rows[name] = row
    return pd.DataFrame(rows).T
