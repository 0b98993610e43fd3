"""``python -m retrainlab bench`` (``make bench``): time the walk-forward hot path.

Prints, for OLD and NEW on ``generate_market(seed=0)`` (10 tickers x 1000 days), the best of
``--repeat`` wall times of ``walk_forward``, the time spent inside model fits (the floor: every
refit is a real scikit-learn fit) and their ratio; then how the time grows with the number of
days (500, 1000, 2000) and of tickers (5, 10, 20). Targets: NEW on 10 x 1000 under 0.5 s, and at
most 1.5x its fits.

What keeps the rest cheap: features, regimes and the design matrix are computed once per market
on numpy arrays; each refit slices a contiguous block of rows; predictions are one vectorised
call per refit segment; pandas objects are built once at the end; BLAS/OpenMP run one thread.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import time
from typing import Any

from retrainlab.engine.config import NEW, OLD, RetrainConfig
from retrainlab.engine.synthetic import generate_market
from retrainlab.engine.walkforward import walk_forward

TARGET_SECONDS = 0.5
TARGET_RATIO = 1.5


def time_walk_forward(
    config: RetrainConfig, n_days: int = 1000, n_tickers: int = 10, repeat: int = 3, seed: int = 0
) -> dict[str, Any]:
    """Best-of-``repeat`` timing of ``walk_forward(generate_market(seed, ...), config)``.

    Returns the best run's ``seconds`` (wall), ``fit_seconds`` (inside ``fit_model``), their
    ``ratio``, ``fit_share``, ``n_fits`` and the market shape. The market is generated once,
    outside the timing.
    """
    market = generate_market(seed, n_days=n_days, n_tickers=n_tickers)
    best = None
    for _ in range(max(1, repeat)):
        started = time.perf_counter()
        result = walk_forward(market, config)
        seconds = time.perf_counter() - started
        if best is None or seconds < best[0]:
            best = (seconds, result)
    seconds, result = best
    return {
        "config": config.label,
        "n_days": n_days,
        "n_tickers": n_tickers,
        "seconds": seconds,
        "fit_seconds": result.fit_seconds,
        "fit_share": result.fit_seconds / seconds,
        "ratio": seconds / result.fit_seconds if result.fit_seconds else float("nan"),
        "n_fits": int(result.fits["fitted"].sum()),
    }


def profile_walk_forward(
    config: RetrainConfig, n_days: int = 1000, n_tickers: int = 10, top: int = 25
) -> str:
    """cProfile of one walk-forward run, the ``top`` entries by cumulative time, as text."""
    market = generate_market(0, n_days=n_days, n_tickers=n_tickers)
    walk_forward(market, config)  # warm caches and imports
    profiler = cProfile.Profile()
    profiler.enable()
    walk_forward(market, config)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def _line(row: dict[str, Any]) -> str:
    return (
        f"  {row['config']:<4} {row['n_tickers']:>3} x {row['n_days']:>4}   "
        f"{row['seconds']:7.3f} s   fits {row['fit_seconds']:6.3f} s "
        f"({row['fit_share']:5.1%}, {row['n_fits']:>3} fits)   total/fits {row['ratio']:4.2f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m retrainlab bench",
        description="Time walk_forward (OLD and NEW) and print the figures.",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; the best counts")
    parser.add_argument(
        "--quick", action="store_true", help="only the 10 x 1000 case, no scaling grid"
    )
    parser.add_argument(
        "--profile", action="store_true", help="also print a cProfile of NEW on 10 x 1000"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")

    rows = [time_walk_forward(cfg, repeat=args.repeat) for cfg in (OLD, NEW)]
    scaling: list[dict[str, Any]] = []
    if not args.quick:
        for n_days in (500, 2000):
            scaling += [
                time_walk_forward(cfg, n_days=n_days, repeat=args.repeat) for cfg in (OLD, NEW)
            ]
        for n_tickers in (5, 20):
            scaling += [
                time_walk_forward(cfg, n_tickers=n_tickers, repeat=args.repeat)
                for cfg in (OLD, NEW)
            ]
    new = rows[1]
    verdict = {
        "new_seconds_ok": new["seconds"] < TARGET_SECONDS,
        "new_ratio_ok": new["ratio"] <= TARGET_RATIO,
    }
    if args.json:
        print(json.dumps({"main": rows, "scaling": scaling, "targets": verdict}, indent=2))
    else:
        print(f"walk_forward, generate_market(seed=0), best of {args.repeat}:")
        for row in rows:
            print(_line(row))
        print(
            f"target: NEW under {TARGET_SECONDS} s -> "
            f"{'met' if verdict['new_seconds_ok'] else 'NOT met'}; "
            f"NEW at most {TARGET_RATIO}x its fits -> "
            f"{'met' if verdict['new_ratio_ok'] else 'NOT met'}"
        )
        if scaling:
            print(
                "scaling (days: 500 / 1000 / 2000 at 10 tickers; tickers: 5 / 10 / 20 at "
                "1000 days):"
            )
            by_key = {(r["config"], r["n_tickers"], r["n_days"]): r for r in rows + scaling}
            for label in ("OLD", "NEW"):
                for key in ((10, 500), (10, 1000), (10, 2000), (5, 1000), (20, 1000)):
                    print(_line(by_key[(label, *key)]))
    if args.profile:
        print(profile_walk_forward(NEW))
    return 0


if __name__ == "__main__":
    sys.exit(main())
