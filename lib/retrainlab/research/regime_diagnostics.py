"""How well the causal regime detector recovers the synthetic markets' true regimes.

The synthetic markets know their regime path (``Market.regimes``); the engine only sees prices and
labels each (day, ticker) with ``fixes.regime_awareness.detect_regimes``. This module scores the
second against the first (notebook ``01_generate_data``, through ``research.study_data``):

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

The markets and the rest of notebook 01's diagnostics are in ``research.study_data``; the figures
in ``research.regime_figures``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from retrainlab.engine.market import REGIMES

__all__ = [
    "OUTCOMES",
    "UNDEFINED",
    "as_codes",
    "confusion_matrix",
    "confusion_summary",
    "detection_curve",
    "detection_lag",
    "detector_scores",
    "lag_summary",
    "paired_codes",
    "row_normalize",
]

#: The code of a day without a regime (the detector's warm-up, or no truth).
UNDEFINED = -1
#: What happened after a true regime switch (``detection_lag``'s ``outcome`` column).
OUTCOMES: tuple[str, ...] = ("detected", "regime_ended", "series_ended")


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


def paired_codes(true: Any, detected: Any) -> tuple[np.ndarray, np.ndarray]:
    """True codes (n_days,) and detected codes (n_days, n_tickers), shapes checked."""
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
    t, d = paired_codes(true, detected)
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
    t, d = paired_codes(true, detected)
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
