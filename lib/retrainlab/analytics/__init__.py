"""Pure functions over return series: performance metrics (``metrics``) and inference (``stats``).

A base layer: it imports nothing else from retrainlab, so the published run, the engine, the
research layer and the facade can all use it.
"""
