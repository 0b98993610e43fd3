"""A market the facade's model can learn (a planted cycle), so that its retrains pass the
promotion rule; the synthetic test-bed markets mostly do not at these small sizes."""

from __future__ import annotations

import numpy as np

import retrainlab as rl


def predictable_market(
    seed: int = 11, n_days: int = 320, n_tickers: int = 3, period: float = 24.0
) -> rl.Market:
    """``generate_market``'s calendar and tickers with closes ``100 exp(0.08 sin(2 pi t /
    period + phase) + small random walk)`` (open = high = low = close)."""
    base = rl.generate_market(seed=seed, n_days=n_days, n_tickers=n_tickers)
    rng = np.random.default_rng(seed)
    t = np.arange(n_days)[:, None]
    phase = rng.uniform(0.0, 2 * np.pi, n_tickers)[None, :]
    walk = np.cumsum(rng.normal(0.0, 0.004, (n_days, n_tickers)), axis=0)
    close = 100.0 * np.exp(0.08 * np.sin(2 * np.pi * t / period + phase) + walk)
    return base.replace_prices(open=close, high=close, low=close, close=close)
