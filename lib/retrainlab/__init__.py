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

from retrainlab.engine.config import FIXES, NEW, OLD, RetrainConfig
from retrainlab.engine.market import REGIMES, Market

__version__ = "0.1.0"

# public name -> module that defines it (imported on first use)
_LAZY: dict[str, str] = {
    "generate_market": "engine.synthetic",
    "load_prices": "engine.prices",
    "load_real_market": "engine.prices",
    "load_sp500_panel": "engine.real_equities",
    "walk_forward": "engine.walkforward",
    "walk_forward_many": "engine.many",
    "all_configs": "engine.many",
    "WalkForwardResult": "engine.walkforward",
    "TradeOutcome": "engine.fixes.feedback_loop",
    "AdaptiveThresholds": "engine.fixes.adaptive_thresholds",
    "MLIntegration": "live.facade",
    "get_ml_signal": "live.facade",
    "record_trade": "live.facade",
    "get_ml_stats": "live.facade",
    "trigger_retraining": "live.facade",
    "StateError": "live.errors",
}
# short module names kept from the flat layout (``rl.metrics``, ``rl.stats``, ...) -> home
_SUBMODULES: dict[str, str] = {
    # the sub-packages themselves
    "analytics": "analytics",
    "common": "common",
    "engine": "engine",
    "live": "live",
    "published": "published",
    "research": "research",
    # modules by their short names
    "metrics": "analytics.metrics",
    "stats": "analytics.stats",
    "audit": "published.audit",
    "config": "engine.config",
    "market": "engine.market",
    "prices": "engine.prices",
    "synthetic": "engine.synthetic",
    "features": "engine.features",
    "model": "engine.model",
    "fixes": "engine.fixes",
    "walkforward": "engine.walkforward",
    "experiments": "research.experiments",
    "comparisons": "research.comparisons",
    "factorial": "research.factorial",
    "params": "research.params",
    "regime_diagnostics": "research.regime_diagnostics",
    "regime_figures": "research.regime_figures",
    "study_data": "research.study_data",
    "mechanisms": "research.mechanisms",
    "figures": "research.figures",
    "report": "research.report",
    "render": "research.render",
    "explore": "research.explore",
    "sections": "research.sections",
    "runlog": "research.runlog",
    "bench": "research.bench",
    "store": "live.store",
    "integration": "live.facade",
    "jsonio": "common.jsonio",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        return getattr(module, name)
    if name in _SUBMODULES:
        return importlib.import_module(f".{_SUBMODULES[name]}", __name__)
    raise AttributeError(f"module 'retrainlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*__all__, *_SUBMODULES])


__all__ = ["FIXES", "NEW", "OLD", "REGIMES", "Market", "RetrainConfig", "__version__", *_LAZY]
