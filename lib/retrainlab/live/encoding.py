"""How the state database stores times and vectors (UTC text, float64 bytes)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def utc_now() -> pd.Timestamp:
    """The current time in UTC, as a tz-naive Timestamp (how every time is stored)."""
    return pd.Timestamp.now(tz="UTC").tz_localize(None)


def as_utc(value: Any, what: str = "time") -> pd.Timestamp:
    """``value`` (datetime, Timestamp, numpy datetime64 or ISO string) as a tz-naive UTC Timestamp.

    Aware times are converted to UTC; naive ones are taken to be UTC already.
    """
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{what} must be a date/time (datetime, Timestamp or ISO string), got {value!r}"
        ) from exc
    if ts is pd.NaT:
        raise ValueError(f"{what} is missing (NaT)")
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts


def time_text(ts: pd.Timestamp | None) -> str | None:
    """Fixed-width ISO text (microseconds), so that text order is time order in SQL."""
    return None if ts is None else ts.strftime("%Y-%m-%dT%H:%M:%S.%f")


def text_time(text: str | None) -> pd.Timestamp | None:
    """Inverse of ``time_text``."""
    return None if text is None else pd.Timestamp(text)


def vector_blob(values: np.ndarray | None) -> bytes | None:
    """A float64 vector as little-endian bytes (exact round trip), or None."""
    if values is None:
        return None
    return np.ascontiguousarray(values, dtype="<f8").tobytes()


def blob_vector(blob: bytes | None) -> np.ndarray | None:
    """Inverse of ``vector_blob`` (a writable float64 copy)."""
    if blob is None:
        return None
    return np.frombuffer(blob, dtype="<f8").astype(np.float64)


def real(value: float | None) -> float:
    """SQLite NULL (how it stores NaN) back to NaN."""
    return float("nan") if value is None else float(value)
