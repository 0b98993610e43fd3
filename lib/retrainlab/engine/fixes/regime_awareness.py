"""Fix 4, regime awareness: a causal regime detector, fed to the model as one-hots and interactions.

The detector is a rule a practitioner would write, from the trailing 20- and 60-day returns and
the 20-day volatility of the ticker's own closes (row ``t`` uses closes ``t-60 .. t`` only):

1. **volatile** if the annualised 20-day volatility (sample std of daily log returns x sqrt(252))
   is above ``VOLATILE_VOL = 0.30`` (the level conventionally read as stress, e.g. VIX > 30;
   calm equity markets run at 10-20 %);
2. else **bull** if the 60-day return is above ``TREND_RETURN = +0.05`` (a > 20 % annualised
   pace) and the 20-day return is positive (the trend is still on);
3. else **bear** if the 60-day return is below ``-TREND_RETURN`` and the 20-day return negative;
4. else **sideways**.

Volatility is checked first because in stress the trend rules are unreliable. Codes follow
``retrainlab.engine.regimes.REGIMES`` (0 bull, 1 bear, 2 volatile, 3 sideways); -1 where the 60-day
window is not full. The thresholds were chosen a priori, not fitted to any synthetic truth.

For the model, ``regime_design`` appends one-hot regime columns and regime x feature
interactions to the base features, so a linear model can give a feature (e.g. momentum) a
different sign in each regime. Rows with an undefined regime get zeros in every new column.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from retrainlab.engine.config import RetrainConfig
from retrainlab.engine.features import MIN_HISTORY, lag_ratio, log_returns, rolling_std
from retrainlab.engine.regimes import (
    BEAR,
    BULL,
    REGIMES,
    SIDEWAYS,
    UNDEFINED,
    VOLATILE,
    regime_names,
)

__all__ = [
    "REGIME_HISTORY",
    "TREND_RETURN",
    "VOLATILE_VOL",
    "detect_market_regimes",
    "detect_regimes",
    "market_index",
    "regime_columns",
    "regime_design",
    "regime_names",
]

PROBLEM = "No regime awareness"
CHANGE = "detected regime as inputs and regime × feature interactions"

#: Annualised 20-day volatility above which a day is "volatile".
VOLATILE_VOL: float = 0.30
#: 60-day return beyond which a day is trending (bull above +x, bear below -x).
TREND_RETURN: float = 0.05
#: Rows needed before the regime is defined (the 60-day return needs close[t-60]): the
#: features' longest window too, so it is the engine's one minimum history.
REGIME_HISTORY: int = MIN_HISTORY


def detect_regimes(close: np.ndarray) -> np.ndarray:
    """Causal regime codes for closes of shape (n_days,) or (n_days, n_tickers).

    Returns an int array of the same shape: ``REGIMES`` codes, -1 where undefined (the first
    ``REGIME_HISTORY - 1`` rows, or where a close is not finite and positive).
    """
    close = np.asarray(close, dtype=np.float64)
    if close.ndim not in (1, 2):
        raise ValueError(f"close must be 1-D or 2-D, got shape {close.shape}")
    with np.errstate(invalid="ignore", divide="ignore"):
        ret20 = lag_ratio(close, 20) - 1.0
        ret60 = lag_ratio(close, 60) - 1.0
        vol = rolling_std(log_returns(close), 20, ddof=1) * np.sqrt(252.0)
    codes = np.full(close.shape, SIDEWAYS, dtype=np.int64)
    codes[(ret60 < -TREND_RETURN) & (ret20 < 0)] = BEAR
    codes[(ret60 > TREND_RETURN) & (ret20 > 0)] = BULL
    codes[vol > VOLATILE_VOL] = VOLATILE
    undefined = ~(np.isfinite(ret20) & np.isfinite(ret60) & np.isfinite(vol))
    codes[undefined] = UNDEFINED
    return codes


def market_index(close: np.ndarray) -> np.ndarray:
    """Equal-weight index of a (n_days, n_tickers) panel: exp of the cumulated mean log return."""
    close = np.asarray(close, dtype=np.float64)
    if close.ndim == 1:
        return close.copy()
    logret = np.zeros(len(close))
    if len(close) > 1:
        logret[1:] = np.log(close[1:] / close[:-1]).mean(axis=1)
    return np.exp(np.cumsum(logret))


def detect_market_regimes(close: np.ndarray) -> np.ndarray:
    """Regime codes (n_days,) of the equal-weight index of the panel (for comparing with truth)."""
    return detect_regimes(market_index(close))


def regime_design(X: np.ndarray, regimes: np.ndarray) -> np.ndarray:
    """Append one-hot regime columns and regime x feature interactions to ``X``.

    Parameters
    ----------
    X : (n_samples, n_features) base features.
    regimes : (n_samples,) int codes, -1 undefined.

    Returns
    -------
    (n_samples, n_features + n_regimes + n_regimes * n_features) array: ``X``, then one column
    per regime (1.0 in the sample's regime), then for each regime (in ``REGIMES`` order) the
    features multiplied by that regime's indicator.
    """
    X = np.asarray(X, dtype=np.float64)
    regimes = np.asarray(regimes)
    if X.ndim != 2 or regimes.shape != X.shape[:1]:
        raise ValueError(f"need X (n, f) and regimes (n,), got {X.shape} and {regimes.shape}")
    n, f = X.shape
    k = len(REGIMES)
    onehot = (regimes[:, None] == np.arange(k)).astype(np.float64)
    out = np.empty((n, f + k + k * f))
    out[:, :f] = X
    out[:, f : f + k] = onehot
    out[:, f + k :] = (onehot[:, :, None] * X[:, None, :]).reshape(n, k * f)
    return out


def regime_columns(feature_names: Sequence[str]) -> list[str]:
    """Column names of ``regime_design`` for base features ``feature_names``."""
    names = list(feature_names)
    names += [f"regime_{r}" for r in REGIMES]
    names += [f"{r}*{f}" for r in REGIMES for f in feature_names]
    return names


def design_with_regimes(
    features: np.ndarray, regimes: np.ndarray | None, config: RetrainConfig
) -> np.ndarray:
    """The ``design`` hook: ``regime_design(features, regimes)`` (regime codes required)."""
    if regimes is None:
        raise ValueError("regime_awareness is on: the design matrix needs the regime codes")
    return regime_design(features, regimes)


def columns_with_regimes(feature_names: Sequence[str], config: RetrainConfig) -> list[str]:
    """The ``design_columns`` hook: ``regime_columns(feature_names)``."""
    return regime_columns(feature_names)


HOOKS: dict[str, Callable] = {"design": design_with_regimes, "design_columns": columns_with_regimes}
