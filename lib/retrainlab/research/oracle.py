"""The oracle: the synthetic market's planted signal traded with the systems' own protocol.

The generator knows, at each close, the predictable part of the next day's log return
(``Market.planted``) and the regime's volatility. The oracle's probability that a ticker rises
the next day is ``Phi(planted[t] / vol[regime[t]])`` (normal shocks); it then goes through the
same steps as a model's probability: the config's threshold policy and position-size hook
(``engine.hooks``), the same decision dates and holding period, the same execution lag, and
the engine's ``mark_to_market`` with the same costs. Synthetic markets only: it is the ceiling
of what this test bed lets any system earn with that protocol.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from retrainlab.engine.config import RetrainConfig
from retrainlab.engine.decisions import signal_codes
from retrainlab.engine.hooks import hooks_for
from retrainlab.engine.market import Market
from retrainlab.engine.regimes import regime_codes
from retrainlab.engine.results import mark_to_market
from retrainlab.engine.synthetic import VOL
from retrainlab.engine.walkforward import decision_days, first_decision_day

__all__ = ["ORACLE", "oracle_positions", "oracle_probabilities", "oracle_returns"]

#: Label of the oracle in every table and results file.
ORACLE = "oracle"


def oracle_probabilities(market: Market) -> np.ndarray:
    """``Phi(planted / vol of the day's true regime)``, shape (n_days, n_tickers).

    Raises ``ValueError`` on a market without a planted signal or true regimes (a real one).
    """
    if market.planted is None or market.regimes is None:
        raise ValueError(
            f"the oracle needs a synthetic market (planted signal and true regimes); "
            f"{market.name!r} has none"
        )
    vol = np.asarray(market.params.get("vol", VOL), dtype=float)
    sigma = vol[regime_codes(market.regimes)][:, None]
    return norm.cdf(np.asarray(market.planted, dtype=float) / sigma)


def oracle_positions(market: Market, config: RetrainConfig) -> np.ndarray:
    """Positions (n_days x n_tickers) from the oracle's probabilities under ``config``'s
    decision dates, thresholds, sizes, holding period and execution lag."""
    probs = oracle_probabilities(market)
    hooks = hooks_for(config)
    policy = hooks.thresholds()
    positions = np.zeros(probs.shape)
    for t in decision_days(market.n_days, config):
        p = probs[t]
        long_t, short_t = policy.thresholds
        code = signal_codes(p, long_t, short_t)
        policy.observe(p)
        traded = np.flatnonzero(code)
        if traded.size:
            fill = int(t) + config.execution_lag
            sizes = code[traded] * hooks.position_size(p[traded])
            positions[fill : fill + config.horizon, traded] = sizes
    return positions


def oracle_returns(market: Market, config: RetrainConfig) -> pd.Series:
    """Daily net returns of the oracle under ``config``, on the walk-forward's dates."""
    net = mark_to_market(oracle_positions(market, config), market.close, config.cost_bps)
    start = min(first_decision_day(config), market.n_days)
    return pd.Series(net[start:], index=market.dates[start:], name=ORACLE)
