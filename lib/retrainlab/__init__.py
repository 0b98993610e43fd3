"""retrainlab: reproduce, audit and honestly re-run the "ML Retraining Enhancement Report"."""

from __future__ import annotations

from .config import FIXES, NEW, OLD, RetrainConfig
from .market import REGIMES, Market

__version__ = "0.1.0"

__all__ = ["FIXES", "NEW", "OLD", "REGIMES", "Market", "RetrainConfig", "__version__"]
