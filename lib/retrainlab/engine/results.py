"""``WalkForwardResult`` and the steps that turn a walk-forward's state into it: marking the
book to market (daily returns), closing trades, and the summaries (``metrics``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple, get_type_hints

import numpy as np
import pandas as pd

from retrainlab.analytics import metrics as m
from retrainlab.engine.config import RetrainConfig
from retrainlab.engine.decisions import SIDES
from retrainlab.engine.fixes.confidence_sizing import confidence
from retrainlab.engine.fixes.feedback_loop import TradeOutcome
from retrainlab.engine.outcomes import signed_pnl
from retrainlab.engine.regimes import REGIMES, regime_code

#: The text columns' values as pandas string arrays: a column is one ``take`` of them, where a
#: column built from Python strings costs pandas a conversion per row (half of a trades table).
_SIDE_NAMES = pd.array(SIDES, dtype="str")  # code + 1: short, neutral, long
_REGIME_NAMES = pd.array([*REGIMES, None], dtype="str")  # by code; UNDEFINED (-1): the last


def side_table(codes: np.ndarray, index: pd.Index, columns: list[str]) -> pd.DataFrame:
    """The side (short, neutral, long) of each decision code (-1, 0, 1) in ``codes``
    (n, len(columns)), as a frame of strings."""
    table = pd.DataFrame(
        {j: _SIDE_NAMES.take(codes[:, j] + 1) for j in range(codes.shape[1])}, index=index
    )
    table.columns = pd.Index(columns)
    return table


__all__ = [
    "FitLogRow",
    "RunTables",
    "TRADE_COLUMNS",
    "TradeFills",
    "WalkForwardResult",
    "fit_tables",
    "mark_to_market",
    "summarise",
    "trade_fills",
    "trade_table",
]

#: Columns of ``WalkForwardResult.trades``.
TRADE_COLUMNS: tuple[str, ...] = (
    "ticker",
    "decision_date",
    "entry_date",
    "exit_date",
    "side",
    "size",
    "prob",
    "confidence",
    "regime",
    "entry_price",
    "exit_price",
    "pnl_pct",
    "trade_return",
)


@dataclass(eq=False)
class WalkForwardResult:
    """Everything one walk-forward run produced.

    Attributes
    ----------
    config : the ``RetrainConfig`` that ran.
    market_name : ``Market.name``.
    returns : daily net portfolio returns from the first decision date (``pd.Series``).
    positions : (dates x tickers) signed size held from each date's close to the next.
    probabilities : (dates x tickers) the model's P(close[t+h] > close[t]); NaN where no decision
        or no model.
    signals : (decision dates x tickers) "long" / "short" / "neutral".
    thresholds : (decision dates) ``long_threshold`` and ``short_threshold`` in force.
    trades : one row per closed position (``TRADE_COLUMNS``): ticker, decision_date (the
        decision's close), entry_date and exit_date (the fills, ``execution_lag`` trading days
        later, and ``horizon`` days after that), side, size, prob, confidence, regime (at the
        decision), entry_price, exit_price (closes at the fills), pnl_pct, trade_return.
    regimes : (dates x tickers) detected regime names (None where undefined).
    market_regimes : detected regime of the equal-weight index, per date (for comparing with
        ``Market.regimes``).
    fits : one row per refit date: date, fitted, n_market, n_feedback, n_positive, n_iter,
        seconds.
    coefficients : (fit dates x design columns + "intercept") coefficients of each fitted model
        (in the scaler's standardised units).
    metrics : plain floats: ``metrics.portfolio_metrics`` of ``returns`` (positions from the
        first decision date), ``metrics.trade_metrics`` of ``trades.trade_return``, signal counts
        (``n_long``, ``n_short``, ``n_neutral``, ``buy_sell_ratio``), ``hit_rate`` (share of
        decisions with a probability and a known outcome where ``sign(p - 0.5)`` matches the
        realised h-day direction; neutral decisions included: it scores the model, not the
        thresholds), ``n_scored_decisions`` and ``n_fits``.
    fit_seconds, total_seconds : time inside ``fit_model`` and in the whole run.
    features : (n_days, n_tickers, n_features) base features (``FEATURE_NAMES``).
    tables : the ``RunTables`` behind ``probabilities`` ... ``coefficients`` (read-only
        properties): each is built from the run's arrays when first read, so a sweep that only
        summarises its runs never builds them.
    """

    config: RetrainConfig
    market_name: str
    returns: pd.Series
    positions: pd.DataFrame
    metrics: dict[str, float]
    fit_seconds: float
    total_seconds: float
    tables: RunTables = field(repr=False)
    features: np.ndarray = field(repr=False)

    # The run's other tables (described above), built when first read: ``RunTables``.
    @property
    def probabilities(self) -> pd.DataFrame:
        return self.tables.probabilities

    @property
    def signals(self) -> pd.DataFrame:
        return self.tables.signals

    @property
    def thresholds(self) -> pd.DataFrame:
        return self.tables.thresholds

    @property
    def trades(self) -> pd.DataFrame:
        return self.tables.trades

    @property
    def regimes(self) -> pd.DataFrame:
        return self.tables.regimes

    @property
    def market_regimes(self) -> pd.Series:
        return self.tables.market_regimes

    @property
    def fits(self) -> pd.DataFrame:
        return self.tables.fits

    @property
    def coefficients(self) -> pd.DataFrame:
        return self.tables.coefficients

    @property
    def fit_dates(self) -> list[pd.Timestamp]:
        """Dates at which a model was actually fitted."""
        return list(self.fits.loc[self.fits["fitted"], "date"])

    @property
    def fit_share(self) -> float:
        """Share of the run's wall time spent inside model fits."""
        return self.fit_seconds / self.total_seconds if self.total_seconds > 0 else float("nan")

    def trade_outcomes(self) -> list[TradeOutcome]:
        """The closed trades as ``TradeOutcome`` records (features and regime at the decision)."""
        tickers = list(self.positions.columns)
        day = {d: i for i, d in enumerate(self.positions.index)}
        out = []
        for row in self.trades.itertuples(index=False):
            out.append(
                TradeOutcome(
                    symbol=row.ticker,
                    direction=row.side,
                    entry_price=row.entry_price,
                    exit_price=row.exit_price,
                    size=row.size,
                    entry_time=row.entry_date,
                    exit_time=row.exit_date,
                    features=self.features[day[row.decision_date], tickers.index(row.ticker)],
                    regime=regime_code(row.regime),
                    probability=row.prob,
                    confidence=row.confidence,
                )
            )
        return out

    def summary(self) -> pd.Series:
        """``metrics`` as a Series named after the config's label."""
        return pd.Series(self.metrics, name=self.config.label)

    def __repr__(self) -> str:
        metrics = self.metrics
        return (
            f"WalkForwardResult({self.config.label} on {self.market_name}: "
            f"{len(self.returns)} days, {self.tables.n_trades} trades, "
            f"sharpe={metrics.get('sharpe_ratio', float('nan')):.3f}, "
            f"{self.tables.n_fits} fits)"
        )


def mark_to_market(positions: np.ndarray, close: np.ndarray, cost_bps: float) -> np.ndarray:
    """Daily net portfolio returns: ``mean_j(positions[t-1, j] * simple_return[t, j])`` minus
    ``cost_bps / 1e4`` times the day's turnover ``mean_j |positions[t, j] - positions[t-1, j]|``."""
    n, k = close.shape
    simple = np.zeros((n, k))
    simple[1:] = close[1:] / close[:-1] - 1.0
    held = np.zeros((n, k))
    held[1:] = positions[:-1]
    trade = np.abs(np.diff(positions, axis=0, prepend=0.0))
    return (held * simple).sum(axis=1) / k - cost_bps * 1e-4 * trade.sum(axis=1) / k


class TradeFills(NamedTuple):
    """The closed trades' numbers (``trade_fills``), one array per column, in trade order: the
    ``ticker`` (column), decision, entry and exit rows, the side code (-1, 1), ``size``,
    ``prob``, the entry and exit closes, ``pnl_pct`` and ``trade_return`` (``size * pnl_pct``)."""

    ticker: np.ndarray
    decision_row: np.ndarray
    entry_row: np.ndarray
    exit_row: np.ndarray
    side: np.ndarray
    size: np.ndarray
    prob: np.ndarray
    entry_price: np.ndarray
    exit_price: np.ndarray
    pnl_pct: np.ndarray
    trade_return: np.ndarray


def trade_fills(
    *,
    decision: np.ndarray,
    ticker: np.ndarray,
    decision_day: np.ndarray,
    codes: np.ndarray,
    probs: np.ndarray,
    positions: np.ndarray,
    close: np.ndarray,
    horizon: int,
    lag: int,
) -> TradeFills:
    """The trades whose exit fill lies inside the data.

    ``decision``/``ticker``: decision number and ticker of every position opened, in order;
    a decision on row ``d`` fills at ``d + lag`` and exits ``horizon`` rows later.
    """
    n = len(close)
    entry = decision_day[decision] + lag
    closed = entry + horizon <= n - 1
    dec, tic, entry = decision[closed], ticker[closed], entry[closed]
    exit_ = entry + horizon
    side = codes[dec, tic]
    size = np.abs(positions[entry, tic])
    p0, p1 = close[entry, tic], close[exit_, tic]
    pnl = signed_pnl(side.astype(np.float64), p0, p1)
    return TradeFills(
        tic, decision_day[dec], entry, exit_, side, size, probs[dec, tic], p0, p1, pnl, size * pnl
    )


def trade_table(
    fills: TradeFills, *, regimes: np.ndarray, dates: pd.DatetimeIndex, tickers: list[str]
) -> pd.DataFrame:
    """``fills`` as a ``TRADE_COLUMNS`` frame (``regimes``: the run's regime codes by row and
    ticker, taken at each decision)."""
    # the dict is in TRADE_COLUMNS order (tested): no ``columns=``, which reindexes the dict
    return pd.DataFrame(
        {
            "ticker": pd.array(tickers, dtype="str").take(fills.ticker),
            "decision_date": dates[fills.decision_row],
            "entry_date": dates[fills.entry_row],
            "exit_date": dates[fills.exit_row],
            "side": _SIDE_NAMES.take(fills.side + 1),
            "size": fills.size,
            "prob": fills.prob,
            "confidence": confidence(fills.prob),
            "regime": _REGIME_NAMES.take(regimes[fills.decision_row, fills.ticker]),
            "entry_price": fills.entry_price,
            "exit_price": fills.exit_price,
            "pnl_pct": fills.pnl_pct,
            "trade_return": fills.trade_return,
        }
    )


class FitLogRow(NamedTuple):
    """One refit of a run (a row of ``WalkForwardResult.fits``, with its date for ``day``)."""

    day: int  # the refit's row in the market
    fitted: bool  # False: the samples could not be fit, the previous model stays
    n_market: int  # market samples in the training set
    n_feedback: int  # samples from closed trades (``feedback_loop``)
    n_positive: int  # samples labelled 1
    n_iter: int  # solver iterations (boosting rounds, optimiser steps)
    seconds: float  # time in the fit


#: Columns of the refit log rows (``fit_tables``), in order.
FIT_LOG_COLUMNS: tuple[str, ...] = FitLogRow._fields
#: Their array types, from the field types (the row's one home)
_FIT_LOG_TYPES = tuple(
    {int: np.int64, bool: bool, float: np.float64}[kind]
    for kind in get_type_hints(FitLogRow).values()
)


def fit_tables(
    rows: list[FitLogRow],
    coefficients: list[np.ndarray],
    dates: pd.DatetimeIndex,
    columns: list[str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(fits, coefficients)`` frames: one row per refit (``rows``) and one per fitted model,
    indexed by date (no rows for a model class without coefficients: ``coefficients`` empty)."""
    # column by column from typed arrays: a frame from a list of row tuples infers every
    # column's type, which cost more than the rest of a result's tables together
    by_column = list(zip(*rows, strict=True)) or [()] * len(FIT_LOG_COLUMNS)
    values = {
        name: np.array(column, dtype=kind)
        for name, kind, column in zip(FIT_LOG_COLUMNS, _FIT_LOG_TYPES, by_column, strict=True)
    }
    day = values.pop("day")
    fits = pd.DataFrame({"date": dates[day], **values})
    fit_dates = dates[day[values["fitted"]]] if coefficients else dates[:0]
    table = pd.DataFrame(
        np.array(coefficients).reshape(len(coefficients), len(columns)),
        index=pd.DatetimeIndex(fit_dates, name="date"),
        columns=columns,
    )
    return fits, table


class RunTables:
    """A run's tables (``WalkForwardResult`` describes them), each built the first time it is
    read from what the run left: its own arrays, the arrays ``walk_forward_many`` shares between
    runs (read only), and the market's regime codes (read only) and regime tables (built once
    per market, shared, copied here when read). Nothing writes to those after the run, so a
    table built late is the one built at once (the tests compare every table of ``walk_forward``
    and ``walk_forward_many``, and check that changing one result's tables leaves another's as
    they were). A sweep reads a run's returns, positions and ``metrics`` only, so it never builds
    these (README, Performance: the time that saves).
    """

    def __init__(
        self,
        *,
        dates: pd.DatetimeIndex,
        tickers: list[str],
        days: np.ndarray,
        probs: np.ndarray,
        codes: np.ndarray,
        thresholds: np.ndarray,
        fills: TradeFills,
        regimes: np.ndarray,
        regime_tables: tuple[pd.DataFrame, pd.Series],
        fit_rows: list[FitLogRow],
        coefficients: list[np.ndarray],
        columns: list[str],
    ) -> None:
        self._dates, self._tickers, self._days = dates, tickers, days
        self._probs, self._codes, self._thresholds = probs, codes, thresholds
        self._fills, self._regimes, self._regime_tables = fills, regimes, regime_tables
        self._fit_rows, self._coefficients, self._columns = fit_rows, coefficients, columns

    @property
    def n_trades(self) -> int:
        """Closed trades (rows of ``trades``)."""
        return len(self._fills.size)

    @property
    def n_fits(self) -> int:
        """Refits that fitted a model."""
        return sum(row.fitted for row in self._fit_rows)

    @cached_property
    def probabilities(self) -> pd.DataFrame:
        """``WalkForwardResult.probabilities``."""
        full = np.full((len(self._dates), len(self._tickers)), np.nan)
        full[self._days] = self._probs
        return pd.DataFrame(full, index=self._dates, columns=self._tickers)

    @cached_property
    def signals(self) -> pd.DataFrame:
        """``WalkForwardResult.signals``."""
        return side_table(self._codes, self._dates[self._days], self._tickers)

    @cached_property
    def thresholds(self) -> pd.DataFrame:
        """``WalkForwardResult.thresholds``."""
        return pd.DataFrame(
            # a copy: walk_forward_many's runs may share their decisions' arrays, and a frame
            # over an array does not copy it under pandas < 3
            self._thresholds.copy(),
            index=self._dates[self._days],
            columns=["long_threshold", "short_threshold"],
        )

    @cached_property
    def trades(self) -> pd.DataFrame:
        """``WalkForwardResult.trades``."""
        return trade_table(
            self._fills, regimes=self._regimes, dates=self._dates, tickers=self._tickers
        )

    @cached_property
    def regimes(self) -> pd.DataFrame:
        """``WalkForwardResult.regimes``."""
        return self._regime_tables[0].copy()

    @cached_property
    def market_regimes(self) -> pd.Series:
        """``WalkForwardResult.market_regimes``."""
        return self._regime_tables[1].copy()

    @cached_property
    def _fit_tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        return fit_tables(self._fit_rows, self._coefficients, self._dates, self._columns)

    @property
    def fits(self) -> pd.DataFrame:
        """``WalkForwardResult.fits``."""
        return self._fit_tables[0]

    @property
    def coefficients(self) -> pd.DataFrame:
        """``WalkForwardResult.coefficients``."""
        return self._fit_tables[1]


def summarise(
    returns: pd.Series,
    positions: np.ndarray,
    trade_returns: np.ndarray,
    codes: np.ndarray,
    probs: np.ndarray,
    forward: np.ndarray,
    n_fits: int,
) -> dict[str, float]:
    """Portfolio, trade and signal summaries (``retrainlab.analytics.metrics``), the decisions'
    hit rate (``forward``: each decision's realised h-day return) and ``n_fits``, as one dict."""
    out = dict(m.portfolio_metrics(returns.to_numpy(), positions))
    out.update(m.trade_metrics(trade_returns))
    n_long, n_short = float(np.sum(codes > 0)), float(np.sum(codes < 0))
    out.update(
        {
            "n_long": n_long,
            "n_short": n_short,
            "n_neutral": float(codes.size) - n_long - n_short,
            "buy_sell_ratio": (
                n_long / n_short if n_short else (float("inf") if n_long else float("nan"))
            ),
        }
    )
    # hit rate of decisions: sign(p - 0.5) against the realised h-day direction
    scored = np.isfinite(probs) & np.isfinite(forward) & (probs != 0.5) & (forward != 0)
    hits = np.sign(probs[scored] - 0.5) == np.sign(forward[scored])
    out["hit_rate"] = float(hits.mean()) if hits.size else float("nan")
    out["n_scored_decisions"] = float(hits.size)
    out["n_fits"] = float(n_fits)
    return out
