"""Regime names and codes: the one home of the four market regimes and their integer codes.

Code ``i`` means ``REGIMES[i]``; ``UNDEFINED`` (-1) marks a day whose regime is unknown (the
detector's window is not full, or the name is missing). Every array of regime codes in the
package (detected or true) uses these codes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

#: Regime names, in code order (regime code i means REGIMES[i]).
REGIMES: tuple[str, ...] = ("bull", "bear", "volatile", "sideways")
BULL, BEAR, VOLATILE, SIDEWAYS = range(len(REGIMES))
#: Code of an unknown regime.
UNDEFINED: int = -1

_CODES: dict[str, int] = {name: i for i, name in enumerate(REGIMES)}
_NAMES = np.array([*REGIMES, None], dtype=object)  # index -1 (UNDEFINED) -> None


def regime_code(name: Any) -> int:
    """The code of one regime name; ``UNDEFINED`` for None or an unknown name."""
    return _CODES.get(name, UNDEFINED) if isinstance(name, str) else UNDEFINED


def regime_codes(regimes: Any) -> np.ndarray:
    """Integer codes (``REGIMES.index(name)``) for regime names; -1 for missing or unknown."""
    return np.array([regime_code(x) for x in regimes], dtype=np.int64)


def regime_names(codes: np.ndarray) -> np.ndarray:
    """Map codes to names (object array of the same shape); -1 becomes None."""
    return _NAMES[np.asarray(codes)]


def regime_series(regimes: Any, dates: pd.DatetimeIndex) -> pd.Series:
    """The true regime path as a Series of regime names (str) indexed by ``dates``.

    ``regimes`` holds codes (0..3, meaning ``REGIMES[i]``) or names; anything else raises.
    """
    values = np.asarray(regimes)
    if values.shape != (len(dates),):
        raise ValueError(
            f"regimes has shape {values.shape}, expected ({len(dates)},) (one regime per date)"
        )
    if np.issubdtype(values.dtype, np.integer):
        bad = (values < 0) | (values >= len(REGIMES))
        if bad.any():
            raise ValueError(
                f"regime code {int(values[bad][0])} on {dates[bad][0].date()} is "
                f"not one of 0..{len(REGIMES) - 1} ({', '.join(REGIMES)})"
            )
        names = np.asarray(REGIMES, dtype=object)[values]
    else:
        names = values.astype(object)
        known = np.isin(names, np.asarray(REGIMES, dtype=object))
        if not known.all():
            i = int(np.flatnonzero(~known)[0])
            raise ValueError(
                f"unknown regime {names[i]!r} on {dates[i].date()}; valid: {', '.join(REGIMES)}"
            )
    return pd.Series(list(names), index=dates, name="regime", dtype="str")
