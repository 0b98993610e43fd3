"""The retraining system: market data, features, model, the six fixes and the walk-forward.

Imports flow downwards only: ``config`` ← ``market`` ← ``features`` ← ``fixes`` ← ``model`` ←
``walkforward``. The research layer and the live facade build on this package; it imports
neither.
"""
