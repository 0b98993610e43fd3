"""The research layer: sweeps of the engine over markets, statistics, diagnostics, figures and
the rendered report. It builds on ``retrainlab.engine``; nothing in the engine imports it.
"""
