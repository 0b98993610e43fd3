"""The published validation, reproduced exactly (``replication``), and its audit (``audit``).

This sub-package stands alone: it imports nothing from the engine, the research layer or the
facade, only the shared metrics and statistics (``retrainlab.analytics``)::

    from retrainlab import published
    runs = published.replicate(seed=42)        # {"OLD": PublishedResult, "NEW": PublishedResult}
"""

from retrainlab.published.replication import (
    END_DATE,
    SIGNALS,
    TICKERS,
    NewSystem,
    OldSystem,
    PublishedResult,
    backtest,
    format_table,
    generate,
    load_published_results,
    main,
    max_abs_difference,
    published_verdict,
    replicate,
)

__all__ = [
    "END_DATE",
    "SIGNALS",
    "TICKERS",
    "NewSystem",
    "OldSystem",
    "PublishedResult",
    "backtest",
    "format_table",
    "generate",
    "load_published_results",
    "main",
    "max_abs_difference",
    "published_verdict",
    "replicate",
]
