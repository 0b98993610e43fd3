"""How well the causal regime detector recovers the synthetic markets' true regimes.

The synthetic markets know their regime path (``Market.regimes``); the engine only sees prices and
labels each (day, ticker) with ``fixes.regime_awareness.detect_regimes``. This module scores the
second against the first, for notebook ``01_generate_data``:

* ``confusion_matrix(true, detected)``: counts of (true regime, detected regime) pairs, pooled
  over days and tickers (rows true, columns detected); ``row_normalize`` turns them into the
  share of each true regime's days given each label (the diagonal is the detector's recall).
* ``detection_lag(true, detected)``: one row per true regime switch (and ticker) with the number
  of days until the detector first reports the new regime. A switch the detector never reports
  while the new regime lasts is *censored*: ``outcome`` says whether the regime ended first
  (``"regime_ended"``) or the series did (``"series_ended"``), and ``lag`` is NaN.
  ``lag_summary`` gives per-regime medians both among detected switches and by Kaplan-Meier,
  which counts a censored switch as "not detected for ``spell_days`` days" instead of dropping
  it (dropping them would make a detector that reports only the long, easy spells look fast).
* ``regime_return_stats(markets)``: per-regime realised drift and volatility against the
  generator's parameters.
* ``generate_markets(...)``: the notebook's loop: generate each seed's edge and placebo market,
  write it to Parquet where ``experiments.MarketSpec.build`` looks for it, and collect all of the
  above.

Figures (``plot_regimes``, ``plot_confusion``, ``plot_detection_lag``) return matplotlib Figures.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from retrainlab.engine.market import REGIMES, Market

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = [
    "OUTCOMES",
    "REGIME_COLORS",
    "DataDiagnostics",
    "as_codes",
    "check_seed_in",
    "confusion_matrix",
    "confusion_summary",
    "detection_curve",
    "detection_lag",
    "detector_scores",
    "generate_markets",
    "lag_summary",
    "market_kinds",
    "oracle_summary",
    "plot_confusion",
    "plot_detection_lag",
    "plot_regimes",
    "regime_return_stats",
    "row_normalize",
    "seed_range",
]

UNDEFINED = -1
#: What happened after a true regime switch (``detection_lag``'s ``outcome`` column).
OUTCOMES: tuple[str, ...] = ("detected", "regime_ended", "series_ended")
#: One colour per regime, used by every figure here.
REGIME_COLORS: dict[str, str] = {
    "bull": "#2ca02c",
    "bear": "#d62728",
    "volatile": "#ff7f0e",
    "sideways": "#7f7f7f",
}
#: Holding horizons at which the oracle hit rate is reported (1 day, and the engine's default 5).
ORACLE_HORIZONS: tuple[int, ...] = (1, 5)


# --------------------------------------------------------------------------- inputs
def as_codes(regimes: Any) -> np.ndarray:
    """Regime codes (int64, ``REGIMES`` order, -1 undefined) from codes or names.

    Accepts arrays, lists, Series or DataFrames of int codes (-1..3) or of regime names
    (``None``/NaN meaning undefined); the shape is kept. Unknown names or codes raise
    ``ValueError`` (a typo must not silently become "undefined").
    """
    values = regimes.to_numpy() if isinstance(regimes, (pd.Series, pd.DataFrame)) else regimes
    values = np.asarray(values)
    if values.dtype.kind in "iu":
        codes = values.astype(np.int64)
        bad = (codes < UNDEFINED) | (codes >= len(REGIMES))
        if bad.any():
            raise ValueError(
                f"regime code {int(codes[bad].flat[0])} is not one of -1 (undefined) "
                f"or 0..{len(REGIMES) - 1} ({', '.join(REGIMES)})"
            )
        return codes
    if values.dtype.kind == "b":
        raise ValueError("regimes must be codes or names, got booleans")
    lookup = {name: i for i, name in enumerate(REGIMES)}
    flat = values.ravel()
    codes = np.empty(flat.shape, dtype=np.int64)
    for i, value in enumerate(flat.tolist()):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            codes[i] = UNDEFINED
        elif isinstance(value, str) and value in lookup:
            codes[i] = lookup[value]
        else:
            raise ValueError(
                f"unknown regime {value!r}; valid: {', '.join(REGIMES)} (or None for undefined)"
            )
    return codes.reshape(values.shape)


def _pair(true: Any, detected: Any) -> tuple[np.ndarray, np.ndarray]:
    """True codes (n_days,) and detected codes (n_days, n_tickers), checked."""
    t = as_codes(true)
    d = as_codes(detected)
    if t.ndim != 1:
        raise ValueError(f"true regimes must be 1-D (one per day), got shape {t.shape}")
    if d.ndim == 1:
        d = d[:, None]
    if d.ndim != 2 or d.shape[0] != t.shape[0]:
        raise ValueError(
            f"detected regimes must be (n_days,) or (n_days, n_tickers) with "
            f"n_days={t.shape[0]} like the true regimes, got shape {d.shape}"
        )
    return t, d


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


# --------------------------------------------------------------------------- confusion matrix
def confusion_matrix(true: Any, detected: Any, *, include_undefined: bool = False) -> pd.DataFrame:
    """Counts of (true regime, detected regime) over every day and ticker.

    Parameters
    ----------
    true : (n_days,) regime codes or names: the true path (one regime per day for the panel).
    detected : (n_days,) or (n_days, n_tickers) codes or names; every ticker is scored against
        the same true path, so a panel counts each (day, ticker) once.
    include_undefined : bool, default False
        Add a column ``"undefined"`` counting days the detector had no label (its warm-up).
        By default those days are left out: they say nothing about the detector's accuracy.
        Days whose true regime is undefined are always left out.

    Returns
    -------
    DataFrame of int64 counts, index ``true`` = REGIMES, columns ``detected`` = REGIMES (plus
    ``"undefined"``). Counts from several markets add up: pool seeds with ``sum``.
    """
    t, d = _pair(true, detected)
    t = np.broadcast_to(t[:, None], d.shape).ravel()
    d = d.ravel()
    keep = t != UNDEFINED
    k = len(REGIMES)
    # shift detected codes by one so that -1 (undefined) lands in column 0
    counts = np.bincount(t[keep] * (k + 1) + d[keep] + 1, minlength=k * (k + 1))
    counts = counts.reshape(k, k + 1)
    frame = pd.DataFrame(
        counts[:, 1:],
        index=pd.Index(REGIMES, name="true"),
        columns=pd.Index(REGIMES, name="detected"),
        dtype=np.int64,
    )
    if include_undefined:
        frame["undefined"] = counts[:, 0].astype(np.int64)
    return frame


def row_normalize(counts: pd.DataFrame) -> pd.DataFrame:
    """Each row divided by its total (share of a true regime's days per label); empty rows NaN."""
    totals = counts.sum(axis=1).astype(float)
    return counts.astype(float).div(totals.where(totals > 0), axis=0)


def confusion_summary(counts: pd.DataFrame) -> dict[str, Any]:
    """Accuracy, per-regime recall and precision of a confusion matrix of counts.

    Only the four regime columns are scored (an ``"undefined"`` column is ignored).
    ``recall[r]`` = share of true-``r`` days labelled ``r``; ``precision[r]`` = share of days
    labelled ``r`` that truly were ``r``; ``accuracy`` = share of all scored days labelled right;
    ``chance_accuracy`` = the accuracy of a detector that labels at random with the same
    label frequencies (independent of the truth), the baseline accuracy must beat.
    NaN where a denominator is zero.
    """
    square = counts.loc[list(REGIMES), list(REGIMES)].to_numpy(dtype=float)
    total = square.sum()
    diag = np.diag(square)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = diag / square.sum(axis=1)
        precision = diag / square.sum(axis=0)
        accuracy = diag.sum() / total if total else float("nan")
        chance = (
            float((square.sum(axis=1) * square.sum(axis=0)).sum() / total**2)
            if total
            else float("nan")
        )
    return {
        "n": int(total),
        "accuracy": float(accuracy),
        "chance_accuracy": chance,
        "recall": {r: float(v) for r, v in zip(REGIMES, recall, strict=True)},
        "precision": {r: float(v) for r, v in zip(REGIMES, precision, strict=True)},
    }


def detector_scores(confusions: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per confusion matrix (e.g. per market kind): n, accuracy, chance accuracy, recall.

    ``recall <regime>`` is the diagonal of the row-normalised matrix.
    """
    rows = {}
    for kind, counts in confusions.items():
        s = confusion_summary(counts)
        rows[kind] = {
            "n": s["n"],
            "accuracy": s["accuracy"],
            "chance_accuracy": s["chance_accuracy"],
            **{f"recall {r}": v for r, v in s["recall"].items()},
        }
    return pd.DataFrame.from_dict(rows, orient="index")


# --------------------------------------------------------------------------- detection lag
_LAG_COLUMNS = (
    "ticker",
    "day",
    "from_regime",
    "to_regime",
    "spell_days",
    "lag",
    "detected",
    "outcome",
)


def detection_lag(true: Any, detected: Any, tickers: Sequence[str] | None = None) -> pd.DataFrame:
    """Days from each true regime switch until the detector first reports the new regime.

    A switch happens on day ``s`` when ``true[s] != true[s-1]``; the new regime's spell lasts
    ``spell_days`` days (until the next switch, or the end of the series). The lag is
    ``d - s`` for the first day ``d`` of that spell on which the detector says the new regime
    (0: it agreed on the switch day). If it never does during the spell, the switch is
    censored: ``lag`` is NaN, ``detected`` False, and ``outcome`` is ``"regime_ended"`` (the
    true regime changed again first) or ``"series_ended"`` (the data ended first). Detections
    after the spell ended are not counted: by then the regime they name is over.

    Switches on a day the detector has no label for that ticker (-1: its warm-up) are skipped:
    the lag would measure the warm-up, not the detector. The first day is not a switch.

    Parameters
    ----------
    true : (n_days,) codes or names.
    detected : (n_days,) or (n_days, n_tickers) codes or names; a DataFrame's columns name the
        tickers.
    tickers : names for the detected columns (default: the DataFrame's columns, else 0, 1, ...).

    Returns
    -------
    DataFrame, one row per (switch, ticker), ordered by day then ticker, with columns ticker,
    day (row index of the switch), from_regime, to_regime, spell_days, lag (float, NaN if
    censored), detected (bool), outcome (one of ``OUTCOMES``).
    """
    if tickers is None and isinstance(detected, pd.DataFrame):
        tickers = [str(c) for c in detected.columns]
    t, d = _pair(true, detected)
    n, k = d.shape
    names: list[Any] = list(range(k)) if tickers is None else list(tickers)
    if len(names) != k:
        raise ValueError(f"got {len(names)} ticker names for {k} detected columns")
    switches = np.flatnonzero(t[1:] != t[:-1]) + 1
    switches = switches[t[switches] != UNDEFINED]
    ends = np.append(switches[1:], n)[: len(switches)]
    rows: list[tuple[Any, ...]] = []
    for s, e in zip(switches.tolist(), ends.tolist(), strict=True):
        spell = t[s:e]
        stop = np.flatnonzero(spell != spell[0])  # the true regime became undefined
        e = s + int(stop[0]) if stop.size else e
        new, old = int(t[s]), int(t[s - 1])
        window = d[s:e] == new  # (spell_days, k)
        found = window.any(axis=0)
        first = window.argmax(axis=0)
        for j in range(k):
            if d[s, j] == UNDEFINED:
                continue
            if found[j]:
                lag, outcome = float(first[j]), "detected"
            else:
                lag, outcome = float("nan"), "series_ended" if e == n else "regime_ended"
            rows.append(
                (
                    names[j],
                    s,
                    REGIMES[old] if old != UNDEFINED else None,
                    REGIMES[new],
                    e - s,
                    lag,
                    bool(found[j]),
                    outcome,
                )
            )
    frame = pd.DataFrame(rows, columns=list(_LAG_COLUMNS))
    return frame.astype(
        {"day": np.int64, "spell_days": np.int64, "lag": np.float64, "detected": bool}
    )


def _km(lag: np.ndarray, spell_days: np.ndarray, detected: np.ndarray, max_days: int) -> np.ndarray:
    """Kaplan-Meier probability of detection by lag 0..max_days (1 - survival)."""
    lag_int = np.where(detected, np.nan_to_num(lag), -1).astype(np.int64)
    surv = 1.0
    out = np.empty(max_days + 1)
    for x in range(max_days + 1):
        at_risk = int(np.sum(detected & (lag_int >= x)) + np.sum(~detected & (spell_days > x)))
        events = int(np.sum(detected & (lag_int == x)))
        if at_risk > 0:
            surv *= 1.0 - events / at_risk
        out[x] = 1.0 - surv
    return out


def detection_curve(lags: pd.DataFrame, max_days: int | None = None) -> pd.DataFrame:
    """Kaplan-Meier share of switches detected within x days, per new regime.

    A detected switch is an event at its lag; a censored one (never detected during its spell)
    leaves the risk set after ``spell_days`` days without an event. So the curve estimates
    "probability the detector has reported the new regime by day x, had the regime lasted that
    long", using every switch instead of only the detected ones.

    Returns a DataFrame indexed by day x = 0..max_days (default: the longest spell or lag), one
    column per regime in ``REGIMES`` order (NaN columns for regimes with no switch).
    """
    _check_lags(lags)
    if max_days is None:
        longest = pd.concat([lags["spell_days"].astype(float), lags["lag"]]).max()
        max_days = 0 if pd.isna(longest) else int(longest)
    if max_days < 0:
        raise ValueError(f"max_days must be >= 0, got {max_days}")
    curve = {}
    for regime in REGIMES:
        sub = lags[lags["to_regime"] == regime]
        if sub.empty:
            curve[regime] = np.full(max_days + 1, np.nan)
            continue
        curve[regime] = _km(
            sub["lag"].to_numpy(float),
            sub["spell_days"].to_numpy(np.int64),
            sub["detected"].to_numpy(bool),
            max_days,
        )
    return pd.DataFrame(curve, index=pd.RangeIndex(max_days + 1, name="days"))


def _check_lags(lags: pd.DataFrame) -> None:
    missing = [c for c in _LAG_COLUMNS if c not in lags.columns]
    if missing:
        raise ValueError(f"lags must be a detection_lag() frame; missing columns {missing}")


def lag_summary(lags: pd.DataFrame) -> pd.DataFrame:
    """Per new regime: how many switches were detected, and how fast.

    Columns: ``n_switches``; ``n_detected`` and ``share_detected`` (within the spell);
    ``n_regime_ended`` and ``n_series_ended`` (the two kinds of censoring); ``median_lag``,
    ``q25_lag``, ``q75_lag`` (over detected switches only, so optimistic when many are
    censored); ``km_median_lag`` (Kaplan-Meier median, counting censored switches as not
    detected for their ``spell_days``: NaN when fewer than half are ever detected by that
    estimate). Index: REGIMES in order; regimes without a switch have n_switches 0 and NaNs.
    """
    _check_lags(lags)
    curve = detection_curve(lags)
    rows = {}
    for regime in REGIMES:
        sub = lags[lags["to_regime"] == regime]
        done = sub.loc[sub["detected"], "lag"]
        reached = np.flatnonzero(curve[regime].to_numpy() >= 0.5)
        rows[regime] = {
            "n_switches": len(sub),
            "n_detected": int(sub["detected"].sum()),
            "share_detected": float(sub["detected"].mean()) if len(sub) else float("nan"),
            "n_regime_ended": int((sub["outcome"] == "regime_ended").sum()),
            "n_series_ended": int((sub["outcome"] == "series_ended").sum()),
            "median_lag": float(done.median()) if len(done) else float("nan"),
            "q25_lag": float(done.quantile(0.25)) if len(done) else float("nan"),
            "q75_lag": float(done.quantile(0.75)) if len(done) else float("nan"),
            "km_median_lag": float(reached[0]) if reached.size else float("nan"),
        }
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "regime"
    return frame


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
    from dataclasses import replace

    from retrainlab.engine.synthetic import oracle_hit_rate

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


def _tqdm() -> Any:
    """``tqdm.auto.tqdm`` without its warning when ipywidgets is missing (a text bar is fine)."""
    import warnings

    from tqdm import TqdmWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TqdmWarning)
        from tqdm.auto import tqdm
    return tqdm


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
    tqdm = _tqdm()  # before importing experiments, which imports tqdm.auto too
    from retrainlab.engine.fixes.regime_awareness import detect_regimes
    from retrainlab.engine.synthetic import generate_market
    from retrainlab.research.experiments import MarketSpec

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


# --------------------------------------------------------------------------- figures
def _spans(codes: np.ndarray) -> list[tuple[int, int, int]]:
    """Runs of equal codes as (start, stop, code), stop exclusive."""
    if codes.size == 0:
        return []
    breaks = np.flatnonzero(codes[1:] != codes[:-1]) + 1
    starts = np.concatenate([[0], breaks])
    stops = np.concatenate([breaks, [codes.size]])
    return [(int(a), int(b), int(codes[a])) for a, b in zip(starts, stops, strict=True)]


def _shade(ax: Any, dates: pd.DatetimeIndex, codes: np.ndarray) -> None:
    """Shade each run of a regime; undefined (-1) runs are left white."""
    # a span covers its days up to the next span's first day, so runs tile the axis
    edges = (
        dates.append(pd.DatetimeIndex([dates[-1] + (dates[-1] - dates[-2])]))
        if len(dates) > 1
        else dates.append(dates)
    )
    for a, b, code in _spans(codes):
        if code != UNDEFINED:
            ax.axvspan(edges[a], edges[b], color=REGIME_COLORS[REGIMES[code]], alpha=0.25, lw=0)


def _ticker_indices(market: Market, tickers: Sequence[str | int] | None) -> list[int]:
    if tickers is None:
        return list(range(min(3, market.n_tickers)))
    out = []
    for t in tickers:
        if isinstance(t, (int, np.integer)) and not isinstance(t, bool):
            if not 0 <= t < market.n_tickers:
                raise ValueError(f"ticker index {t} out of range 0..{market.n_tickers - 1}")
            out.append(int(t))
        elif t in market.tickers:
            out.append(market.tickers.index(t))
        else:
            from retrainlab.common.names import suggest

            raise ValueError(
                f"unknown ticker {t!r}.{suggest(str(t), market.tickers)} "
                f"Tickers: {', '.join(market.tickers)}"
            )
    if not out:
        raise ValueError("tickers is empty: name at least one ticker to plot")
    return out


def plot_regimes(
    market: Market, detected: Any = None, tickers: Sequence[str | int] | None = None
) -> Figure:
    """Prices of a few tickers with the true regimes (left) and the detected ones (right) shaded.

    One row per ticker, the same price line in both columns: on the left the true
    regime path shaded, on the right that ticker's detected regimes (``detected``: (n_days,
    n_tickers) codes or names, default ``detect_regimes(market.close)``; unshaded = undefined,
    the detector's warm-up). ``tickers``: names or column indices (default the first three).
    """
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    if market.regimes is None:
        raise ValueError(f"market {market.name!r} has no true regimes to shade")
    if detected is None:
        from retrainlab.engine.fixes.regime_awareness import detect_regimes

        detected = detect_regimes(market.close)
    true, det = _pair(market.regimes, detected)
    if det.shape[1] != market.n_tickers:
        raise ValueError(
            f"detected has {det.shape[1]} columns, the market {market.n_tickers} tickers"
        )
    columns = _ticker_indices(market, tickers)
    fig, axes = plt.subplots(
        len(columns), 2, figsize=(11, 2.3 * len(columns) + 0.6), sharex=True, squeeze=False
    )
    for row, j in enumerate(columns):
        for col, codes in enumerate((true, det[:, j])):
            ax = axes[row, col]
            _shade(ax, market.dates, codes)
            ax.plot(market.dates, market.close[:, j], color="black", lw=0.9)
            ax.margins(x=0)
            locator = mdates.AutoDateLocator()
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
            if col == 0:
                ax.set_ylabel(f"{market.tickers[j]} close", fontsize=9)
    axes[0, 0].set_title("true regimes (generator)", fontsize=10)
    axes[0, 1].set_title("detected regimes (detect_regimes, per ticker)", fontsize=10)
    handles = [Patch(color=REGIME_COLORS[r], alpha=0.4, label=r) for r in REGIMES]
    handles.append(Patch(facecolor="white", edgecolor="0.7", label="undefined (warm-up)"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False, fontsize=8)
    fig.suptitle(market.name, fontsize=11)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def plot_confusion(matrices: pd.DataFrame | Mapping[str, pd.DataFrame]) -> Figure:
    """Row-normalised confusion heatmap(s): rows true regime, columns detected, share annotated.

    ``matrices``: counts from ``confusion_matrix`` (one panel), or a mapping title -> counts
    (one panel each, side by side). Only the four regime columns are drawn.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    panels = {"": matrices} if isinstance(matrices, pd.DataFrame) else dict(matrices)
    if not panels:
        raise ValueError("plot_confusion needs at least one confusion matrix")
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels) + 0.8, 4), squeeze=False)
    for ax, (title, counts) in zip(axes[0], panels.items(), strict=True):
        square = counts.loc[list(REGIMES), list(REGIMES)]
        shares = row_normalize(square)
        sns.heatmap(
            shares,
            ax=ax,
            vmin=0,
            vmax=1,
            cmap="Blues",
            annot=True,
            fmt=".2f",
            cbar=ax is axes[0, -1],
            square=True,
            linewidths=0.5,
            cbar_kws={"label": "share of the true regime's days"},
        )
        ax.set_xlabel("detected regime")
        ax.set_ylabel("true regime")
        n = int(square.to_numpy().sum())
        ax.set_title(f"{title} ({n:,} ticker-days)".strip(), fontsize=10)
    fig.tight_layout()
    return fig


def plot_detection_lag(lags: pd.DataFrame, max_days: int = 60) -> Figure:
    """Detection lag per new regime: Kaplan-Meier detection curve and the switches' outcomes.

    Left: share of switches detected within x days (Kaplan-Meier, censored switches counted
    until their spell ended), with each regime's median marked where reached. Right: the share
    of switches detected within their spell, and censored because the regime ended first or
    because the series ended.
    """
    import matplotlib.pyplot as plt

    curve = detection_curve(lags, max_days=max_days)
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(11, 3.6), gridspec_kw={"width_ratios": [1.4, 1]}
    )
    for regime in REGIMES:
        values = curve[regime]
        if values.isna().all():
            continue
        left.step(curve.index, values, where="post", color=REGIME_COLORS[regime], label=regime)
        reached = np.flatnonzero(values.to_numpy() >= 0.5)
        if reached.size:
            left.plot(reached[0], values.iloc[reached[0]], "o", color=REGIME_COLORS[regime], ms=4)
    left.axhline(0.5, color="0.6", lw=0.8, ls=":")
    left.set_ylim(0, 1)
    left.set_xlim(0, max_days)
    left.set_xlabel("days after the true switch")
    left.set_ylabel("share detected (Kaplan-Meier)")
    left.set_title("How soon the detector reports a new regime", fontsize=10)
    left.legend(frameon=False, fontsize=8)

    counts = (
        lags.groupby("to_regime")["outcome"]
        .value_counts()
        .unstack(fill_value=0)
        .reindex(index=list(REGIMES), columns=list(OUTCOMES), fill_value=0)
    )
    shares = counts.div(counts.sum(axis=1).where(lambda s: s > 0), axis=0).fillna(0.0)
    colors = {"detected": "#1f77b4", "regime_ended": "#aec7e8", "series_ended": "#e0e0e0"}
    bottom = np.zeros(len(shares))
    y = np.arange(len(shares))
    for outcome in OUTCOMES:
        right.barh(
            y, shares[outcome], left=bottom, color=colors[outcome], label=outcome.replace("_", " ")
        )
        bottom += shares[outcome].to_numpy()
    right.set_yticks(y, [f"{r} (n={int(counts.loc[r].sum())})" for r in shares.index])
    right.invert_yaxis()
    right.set_xlim(0, 1)
    right.set_xlabel("share of switches")
    right.set_title("Outcome within the new regime's spell", fontsize=10)
    right.legend(frameon=False, fontsize=8, loc="lower center", bbox_to_anchor=(0.5, -0.45), ncol=3)
    fig.tight_layout()
    return fig
