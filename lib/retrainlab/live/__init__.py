"""The live facade a trading engine calls: signals, trade feedback, retraining, persisted state.

Built on ``retrainlab.engine`` (the same features, model and fixes as the walk-forward).
"""
