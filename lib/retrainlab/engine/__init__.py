"""The retraining system: market data, features, model, the six fixes and the walk-forward.

Imports flow one way (each module imports only those before it):
``config``, ``regimes``, ``features`` ← ``bars`` ← ``market`` ← ``prices``, ``synthetic`` ←
``decisions``, ``outcomes`` ← ``fixes`` (one module per fix) ← ``hooks`` ← ``model`` ←
``training`` ← ``results`` ← ``walkforward``. The fixes change the system only through the
hooks (docs/adding-a-fix.md); ``training`` is the one code path of a refit, shared with the
live facade. The research layer and the live facade build on this package; it imports neither.
"""
