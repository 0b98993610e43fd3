"""The six fixes of the published report, one module each, named exactly as in ``FIXES``.

=====================  ==============================================================
module                 what it does when its switch is on
=====================  ==============================================================
profit_weighted_loss   sample weights = |forward return| scaled to mean 1
feedback_loop          closed ``TradeOutcome`` s re-enter training (label bug fixed)
adaptive_thresholds    ``AdaptiveThresholds``: quantiles of the model's own probabilities
regime_awareness       causal regime detector; one-hots and regime x feature interactions
long_lookback          252-day training window instead of 30
confidence_sizing      bet size 0.5 + m(p), m from the AFML ch. 10 formula
=====================  ==============================================================
"""
