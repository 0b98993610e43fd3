"""The study's synthetic markets, written for the notebooks and diagnosed (notebook 01).

``generate_markets(seeds, n_days, n_tickers, edge, data_dir)`` is notebook ``01_generate_data``'s
loop: for each seed, the market with the planted edge and its placebo twin (``edge = 0``: the same
regime path and shocks, nothing to learn), written to Parquet where
``experiments.MarketSpec.build`` reads them back, then diagnosed while in memory:

* the causal detector against the true regimes (``research.regime_diagnostics``: confusion
  matrix, detection lag);
* ``regime_return_stats(markets)``: per-regime realised drift and volatility against the
  generator's parameters;
* the oracle's hit rate (``engine.synthetic.oracle_hit_rate``), the ceiling for any model of the
  planted edge.

``DataDiagnostics.summary()`` is the JSON-ready digest the notebook writes to
``data_summary.json``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import TqdmWarning

from retrainlab.engine.fixes.regime_awareness import detect_regimes
from retrainlab.engine.market import REGIMES, Market
from retrainlab.engine.synthetic import generate_market, oracle_hit_rate
from retrainlab.research.experiments import MarketSpec
from retrainlab.research.regime_diagnostics import (
    as_codes,
    confusion_matrix,
    confusion_summary,
    detection_lag,
    lag_summary,
    row_normalize,
)

with warnings.catch_warnings():
    # without ipywidgets tqdm.auto warns once and falls back to a text bar, which is fine here
    warnings.simplefilter("ignore", TqdmWarning)
    from tqdm.auto import tqdm

__all__ = [
    "ORACLE_HORIZONS",
    "DataDiagnostics",
    "check_seed_in",
    "generate_markets",
    "market_kinds",
    "oracle_summary",
    "regime_return_stats",
    "seed_range",
]

#: Holding horizons at which the oracle hit rate is reported (1 day, and the engine's default 5).
ORACLE_HORIZONS: tuple[int, ...] = (1, 5)


# --------------------------------------------------------------------------- seeds
def seed_range(first_seed: int, seeds: int) -> range:
    """The seeds ``first_seed .. first_seed + seeds - 1``, with the counts checked."""
    for name, value, low in (("seeds", seeds, 1), ("first_seed", first_seed, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return range(int(first_seed), int(first_seed) + int(seeds))


def check_seed_in(seed: int, seeds: range, name: str = "figures_seed") -> int:
    """``seed`` if it is one of ``seeds``, else a ValueError naming the valid range."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed not in seeds:
        raise ValueError(
            f"{name}={seed!r} is not one of the generated seeds "
            f"{seeds.start}..{seeds.stop - 1}; pick one of them (or widen the "
            "seed range)"
        )
    return int(seed)


# --------------------------------------------------------------------------- returns per regime
def _return_sums(market: Market) -> np.ndarray:
    """Per regime: [ticker-days, sum simple return, sum log return, sum squared log return].

    Day t's return (close[t-1] -> close[t]) belongs to day t's regime, as in the generator.
    """
    if market.regimes is None:
        raise ValueError(f"market {market.name!r} has no true regimes (only synthetic markets do)")
    codes = as_codes(market.regimes)[1:]
    logret = np.log(market.close[1:] / market.close[:-1])
    out = np.zeros((len(REGIMES), 4))
    for i in range(len(REGIMES)):
        r = logret[codes == i].ravel()
        out[i] = (r.size, np.expm1(r).sum(), r.sum(), np.square(r).sum())
    return out


def _generator_params(market: Market) -> tuple[float, np.ndarray, np.ndarray]:
    try:
        p = market.params
        return float(p["edge"]), np.asarray(p["drift"], float), np.asarray(p["vol"], float)
    except KeyError as exc:
        raise ValueError(
            f"market {market.name!r} does not record the generator's parameters "
            f"({exc.args[0]!r} missing): pass markets from generate_market, not "
            "ones read back from Parquet"
        ) from exc


def _finish_return_stats(
    sums: np.ndarray, edge: float, drift: np.ndarray, vol: np.ndarray
) -> pd.DataFrame:
    n = sums[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_simple = sums[:, 1] / n
        mean_log = sums[:, 2] / n
        var = (sums[:, 3] - n * mean_log**2) / (n - 1)
    frame = pd.DataFrame(
        {
            "n_obs": n.astype(np.int64),
            "drift_realised": mean_simple,
            "drift_generator": edge * drift + 0.0,  # + 0.0: no -0.0 in results files
            "vol_realised": np.sqrt(np.maximum(var, 0.0)),
            "vol_generator": vol,
        },
        index=pd.Index(REGIMES, name="regime"),
    )
    return frame


def regime_return_stats(markets: Iterable[Market]) -> pd.DataFrame:
    """Realised daily drift and volatility per true regime, beside the generator's values.

    Pools every ticker-day of every market. ``drift_realised`` is the mean simple daily return
    (the generator's drift is an expected simple return, scaled by ``edge``); ``vol_realised``
    the standard deviation (ddof 1) of daily log returns (the generator's ``vol``). The planted
    momentum/reversion term adds to both, so they differ from the parameters by more than
    sampling noise at ``edge > 0``. All markets must share edge, drift and vol.

    Returns a DataFrame indexed by regime with n_obs, drift_realised, drift_generator,
    vol_realised, vol_generator.
    """
    total: np.ndarray | None = None
    params: tuple[float, np.ndarray, np.ndarray] | None = None
    for market in markets:
        this = _generator_params(market)
        if params is None:
            params = this
        elif not (
            this[0] == params[0]
            and np.array_equal(this[1], params[1])
            and np.array_equal(this[2], params[2])
        ):
            raise ValueError(
                "regime_return_stats pools markets of one generator setting; "
                f"{market.name!r} has different edge/drift/vol"
            )
        sums = _return_sums(market)
        total = sums if total is None else total + sums
    if total is None or params is None:
        raise ValueError("regime_return_stats needs at least one market")
    return _finish_return_stats(total, *params)


# --------------------------------------------------------------------------- oracle
def oracle_summary(per_seed: pd.DataFrame) -> dict[str, dict[str, float | None]]:
    """Mean, min, max and count (non-NaN) of each column of a per-seed hit-rate table."""
    out: dict[str, dict[str, float | None]] = {}
    for column in per_seed.columns:
        values = per_seed[column].dropna()
        out[str(column)] = {
            "mean": float(values.mean()) if len(values) else None,
            "min": float(values.min()) if len(values) else None,
            "max": float(values.max()) if len(values) else None,
            "n_seeds": len(values),
        }
    return out


def _oracle_rates(edge_market: Market | None, placebo: Market) -> dict[str, float]:
    """Oracle hit rates of one seed (nan where the oracle abstains)."""
    out: dict[str, float] = {}
    for h in ORACLE_HORIZONS:
        out[f"edge_h{h}"] = (
            oracle_hit_rate(edge_market, h) if edge_market is not None else float("nan")
        )
        out[f"placebo_h{h}"] = oracle_hit_rate(placebo, h)
        # The edge oracle's calls scored on the placebo twin (same shocks, nothing planted):
        # a causal call with no edge should score about one half.
        twin = None if edge_market is None else replace(placebo, planted=edge_market.planted)
        out[f"edge_calls_on_placebo_h{h}"] = (
            oracle_hit_rate(twin, h) if twin is not None else float("nan")
        )
    return out


# --------------------------------------------------------------------------- the notebook's loop
@dataclass
class DataDiagnostics:
    """Everything ``generate_markets`` measured, keyed by market kind ("edge", "placebo").

    Attributes
    ----------
    kinds : kind -> edge of that kind's markets (``market_kinds(edge)``).
    files : Parquet files written, in order (seed, then edge before placebo).
    confusion : kind -> confusion_matrix counts, pooled over seeds and tickers.
    lags : kind -> detection_lag frame of every seed (with a ``seed`` column).
    oracle : per-seed oracle hit rates (index seed; columns ``<kind>_h<horizon>`` and
        ``edge_calls_on_placebo_h<horizon>``).
    returns : kind -> regime_return_stats over the seeds.
    """

    kinds: dict[str, float] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    confusion: dict[str, pd.DataFrame] = field(default_factory=dict)
    lags: dict[str, pd.DataFrame] = field(default_factory=dict)
    oracle: pd.DataFrame = field(default_factory=pd.DataFrame)
    returns: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def primary(self) -> str:
        """The kind the single-market figures show: "edge", or "placebo" when edge was 0."""
        return "edge" if "edge" in self.kinds else "placebo"

    def summary(self) -> dict[str, Any]:
        """A JSON-ready digest (for ``report.write_results``): no per-day data."""
        return {
            "confusion": {
                kind: {
                    "counts": _frame_dict(counts),
                    "row_normalised": _frame_dict(row_normalize(counts)),
                    **confusion_summary(counts),
                }
                for kind, counts in self.confusion.items()
            },
            "detection_lag": {
                kind: _frame_dict(lag_summary(lags)) for kind, lags in self.lags.items()
            },
            "oracle_hit_rate": oracle_summary(self.oracle),
            "regime_returns": {kind: _frame_dict(stats) for kind, stats in self.returns.items()},
        }


def _frame_dict(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """``{row: {column: value}}`` with plain Python values (each column keeps its type)."""
    return {
        str(i): {str(c): v for c, v in row.items()}
        for i, row in frame.to_dict(orient="index").items()
    }


def market_kinds(edge: float) -> dict[str, float]:
    """The markets made per seed: ``{"edge": edge, "placebo": 0.0}`` (only placebo if edge is 0)."""
    if not (
        isinstance(edge, (int, float, np.floating))
        and not isinstance(edge, bool)
        and math.isfinite(edge)
        and edge >= 0
    ):
        raise ValueError(f"edge must be a finite number >= 0, got {edge!r}")
    return {"placebo": 0.0} if edge == 0 else {"edge": float(edge), "placebo": 0.0}


def generate_markets(
    seeds: Iterable[int],
    n_days: int,
    n_tickers: int,
    edge: float,
    data_dir: str | Path,
    *,
    progress: bool = True,
) -> DataDiagnostics:
    """Generate, write and diagnose each seed's edge market and its placebo twin.

    For every seed: ``generate_market(seed, n_days, n_tickers, e)`` for ``e`` in ``edge`` and 0,
    written with ``Market.to_parquet`` to ``experiments.MarketSpec(seed, n_days, n_tickers,
    e).path(data_dir)`` (so later notebooks read exactly these markets); the engine's detector
    (``detect_regimes`` on each ticker's closes) scored against the true regimes; the oracle hit
    rates; the per-regime return sums. Existing files are overwritten. A tqdm bar runs over
    seeds when ``progress``.
    """
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("generate_markets needs at least one seed")
    kinds = market_kinds(edge)
    out = DataDiagnostics(kinds=kinds)
    sums: dict[str, np.ndarray] = {}
    params: dict[str, tuple[float, np.ndarray, np.ndarray]] = {}
    lags: dict[str, list[pd.DataFrame]] = {kind: [] for kind in kinds}
    oracle_rows = {}
    for seed in tqdm(seeds, desc="markets (seeds)", disable=not progress, mininterval=0.5):
        made: dict[str, Market] = {}
        for kind, e in kinds.items():
            market = generate_market(seed, n_days=n_days, n_tickers=n_tickers, edge=e)
            out.files.append(
                market.to_parquet(MarketSpec(seed, n_days, n_tickers, e).path(data_dir))
            )
            detected = detect_regimes(market.close)
            counts = confusion_matrix(market.regimes, detected)
            out.confusion[kind] = (
                counts if kind not in out.confusion else out.confusion[kind] + counts
            )
            lag = detection_lag(market.regimes, detected, tickers=market.tickers)
            lags[kind].append(lag.assign(seed=seed))
            s = _return_sums(market)
            sums[kind] = s if kind not in sums else sums[kind] + s
            params[kind] = _generator_params(market)
            made[kind] = market
        oracle_rows[seed] = _oracle_rates(made.get("edge"), made["placebo"])
    out.lags = {kind: pd.concat(frames, ignore_index=True) for kind, frames in lags.items()}
    out.returns = {kind: _finish_return_stats(sums[kind], *params[kind]) for kind in kinds}
    oracle = pd.DataFrame.from_dict(oracle_rows, orient="index")
    oracle.index.name = "seed"
    out.oracle = oracle
    return out
