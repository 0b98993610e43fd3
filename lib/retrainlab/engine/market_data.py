"""What a walk-forward computes once per market: ``MarketData``.

Closes, base features, detected regimes (codes) and the design rows of every (day, ticker),
the closed trades given from outside, and the result tables that depend on the market only
(``regime_tables``). ``walk_forward`` builds one per run; ``walk_forward_many`` builds one per
regime source and shares it between configurations (with a ``DesignPanel`` per design).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from retrainlab.engine.config import RetrainConfig
from retrainlab.engine.features import FEATURE_NAMES, compute_features, usable_features
from retrainlab.engine.fixes.feedback_loop import TradeOutcome
from retrainlab.engine.fixes.regime_awareness import detect_market_regimes, detect_regimes
from retrainlab.engine.market import Market
from retrainlab.engine.outcomes import OutcomeTable
from retrainlab.engine.regimes import regime_codes, regime_names
from retrainlab.engine.training import DesignPanel

__all__ = ["MarketData"]


@dataclass(frozen=True, eq=False)
class MarketData:
    """What the run computes once per market: closes, base features, detected regimes (codes),
    the design rows of every (day, ticker), and the closed trades given from outside."""

    dates: np.ndarray  # datetime64[ns], (n,)
    index: pd.DatetimeIndex  # the market's dates, as the result tables' index
    tickers: tuple[str, ...]
    close: np.ndarray  # (n, k)
    features: np.ndarray  # (n, k, n_features): the usable features only
    feature_names: tuple[str, ...]  # FEATURE_NAMES less those reading an absent field
    regimes: np.ndarray  # (n, k) codes
    panel: DesignPanel
    external: OutcomeTable

    @classmethod
    def build(
        cls, market: Market, config: RetrainConfig, outcomes: Sequence[TradeOutcome] | None
    ) -> MarketData:
        close = np.asarray(market.close, dtype=np.float64)
        absent = market.absent_fields
        names = usable_features(absent)
        bars = (market.open, market.high, market.low, close, market.volume)
        features = compute_features(*bars, absent=absent) if absent else compute_features(*bars)
        if absent:
            # close-only data: the features that read an absent field are dropped, not filled
            features = features[..., [FEATURE_NAMES.index(n) for n in names]]
            if outcomes:
                raise ValueError(
                    f"market {market.name!r} lacks {', '.join(absent)}: closed-trade outcomes "
                    "(full feature vectors) cannot be fed to a walk-forward on it"
                )
        regimes = detect_regimes(close)
        if config.regime_source == "true":  # the generator's regimes: a ceiling, synthetic only
            if market.regimes is None:
                raise ValueError(
                    f"regime_source='true' needs a market with true regimes (a synthetic one); "
                    f"{market.name!r} has none"
                )
            regimes = np.repeat(regime_codes(market.regimes)[:, None], close.shape[1], axis=1)
        # shared by the runs (walk_forward_many: every config's) and by their results
        features.setflags(write=False)
        regimes.setflags(write=False)
        tickers = {t: j for j, t in enumerate(market.tickers)}
        day = {d: i for i, d in enumerate(market.dates)}

        def lookup(o: TradeOutcome) -> tuple[np.ndarray, int] | None:
            # an outcome without features takes this market's at its entry date, if it has it
            i, j = day.get(pd.Timestamp(o.entry_time)), tickers.get(o.symbol)
            return None if i is None or j is None else (features[i, j], int(regimes[i, j]))

        return cls(
            dates=market.dates.values,
            index=market.dates,
            tickers=tuple(market.tickers),
            close=close,
            features=features,
            feature_names=names,
            regimes=regimes,
            panel=DesignPanel.build(features, regimes, close, config),
            external=OutcomeTable.from_records(outcomes or (), lookup),
        )

    def with_panel(self, panel: DesignPanel) -> MarketData:
        """This market's data with another design panel (a config with another design or
        horizon). The regime tables do not depend on the design: built once, shared."""
        other = dataclasses.replace(self, panel=panel)
        # where cached_property keeps its value (the instance dict: frozen does not guard it)
        other.__dict__["regime_tables"] = self.regime_tables
        return other

    @cached_property
    def regime_tables(self) -> tuple[pd.DataFrame, pd.Series]:
        """The detected regimes by (date, ticker) and the market's, as labelled tables: built
        once, then copied into each result (``walk_forward_many``'s configs share them)."""
        by_ticker = pd.DataFrame(
            regime_names(self.regimes), index=self.index, columns=list(self.tickers)
        )
        market = pd.Series(
            regime_names(detect_market_regimes(self.close)),
            index=self.index,
            name="detected_regime",
        )
        return by_ticker, market
