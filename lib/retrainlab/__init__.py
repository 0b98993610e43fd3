"""retrainlab: reproduce, audit and honestly re-run the "ML Retraining Enhancement Report".

The public API, imported lazily so ``import retrainlab`` stays fast::

    import retrainlab as rl
    market = rl.generate_market(seed=0)
    result = rl.walk_forward(market, rl.NEW)
    rl.published.replicate(seed=42)
"""

from __future__ import annotations

import importlib
from typing import Any

from .config import FIXES, NEW, OLD, RetrainConfig
from .market import REGIMES, Market

__version__ = "0.1.0"

# public name -> module that defines it (imported on first use)
_LAZY: dict[str, str] = {
    "generate_market": "synthetic",
    "load_prices": "market",
    "load_real_market": "market",
    "walk_forward": "walkforward",
    "WalkForwardResult": "walkforward",
    "TradeOutcome": "fixes.feedback_loop",
    "AdaptiveThresholds": "fixes.adaptive_thresholds",
    "MLIntegration": "integration",
    "get_ml_signal": "integration",
    "record_trade": "integration",
    "get_ml_stats": "integration",
    "trigger_retraining": "integration",
}
_SUBMODULES = ("audit", "figures", "metrics", "published", "stats", "fixes", "integration", "report",
               "mechanisms", "regime_diagnostics", "market", "config", "bench", "store",
               "experiments", "params", "synthetic", "walkforward", "features", "model")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        return getattr(module, name)
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'retrainlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*__all__, *_SUBMODULES])


__all__ = ["FIXES", "NEW", "OLD", "REGIMES", "Market", "RetrainConfig", "__version__", *_LAZY]
