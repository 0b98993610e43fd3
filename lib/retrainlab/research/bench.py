"""``python -m retrainlab bench`` (``make bench``): time the walk-forward hot path.

Prints, for OLD and NEW on ``generate_market(seed=0)`` (10 tickers x 1000 days), the best of
``--repeat`` wall times of ``walk_forward``, the time spent inside model fits (the floor: every
refit is a real scikit-learn fit) and their ratio; then how the time grows with the number of
days (500, 1000, 2000) and of tickers (5, 10, 20). Targets: NEW on 10 x 1000 under 0.5 s, and at
most 1.5x its fits.

Then the 64-configuration factorial on that market: ``walk_forward_many`` against 64 separate
``walk_forward`` calls (targets: ratio <= 0.4; 64 configs x 100 markets on 2 workers <= 4 min).

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

import numpy as np

from retrainlab.engine.config import MODEL_CLASSES, NEW, OLD, RetrainConfig
from retrainlab.engine.features import compute_features
from retrainlab.engine.fixes.regime_awareness import detect_regimes
from retrainlab.engine.many import FitCache, all_configs, walk_forward_many
from retrainlab.engine.model import IMPLEMENTATIONS, fit_model, predict_proba
from retrainlab.engine.models import confidence_target, lstm_available
from retrainlab.engine.synthetic import generate_market
from retrainlab.engine.training import DesignPanel, TrainingSet, fit, one_thread
from retrainlab.engine.walkforward import walk_forward

TARGET_SECONDS = 0.5
TARGET_RATIO = 1.5
#: walk_forward_many over the 64 configurations at most this share of 64 separate runs
FACTORIAL_TARGET_RATIO = 0.4
#: 64 configurations x 100 markets (1000 days x 10 tickers) on 2 workers, at most this long
FACTORIAL_TARGET_SECONDS = 240.0


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
        "n_fits": int(result.metrics["n_fits"]),
    }


def time_factorial(
    n_days: int = 1000,
    n_tickers: int = 10,
    seed: int = 0,
    n_markets: int = 100,
    workers: int = 2,
    repeat: int = 3,
) -> dict[str, Any]:
    """The 64-configuration factorial on one market: ``walk_forward_many`` against 64 separate
    ``walk_forward`` calls, in one process, ``repeat`` times each, interleaved (many, separate,
    many, ...), each side's best time kept: on a shared machine whose speed drifts by a quarter
    within minutes, the best of neighbouring runs is the least disturbed estimate of each cost,
    and the ratio of the two is what counts. ``projected_seconds``: ``n_markets`` such markets
    on ``workers`` processes (markets are independent tasks, so ``many`` time x markets /
    workers)."""
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    market = generate_market(seed, n_days=n_days, n_tickers=n_tickers)
    configs = all_configs(OLD)
    walk_forward(market, NEW)  # warm imports and caches
    many, separate = [], []
    for _ in range(repeat):
        cache = FitCache()
        started = time.perf_counter()
        results = walk_forward_many(market, configs, cache)
        many.append(time.perf_counter() - started)
        started = time.perf_counter()
        for config in configs:
            walk_forward(market, config)
        separate.append(time.perf_counter() - started)
    return {
        "n_days": n_days,
        "n_tickers": n_tickers,
        "n_configs": len(configs),
        "repeat": len(many),
        "separate_seconds": min(separate),
        "many_seconds": min(many),
        "ratio": min(many) / min(separate),
        "n_refits": sum(len(result.fits) for result in results),
        "n_refit_requests": cache.n_requests,
        "n_distinct_fits": cache.n_fits,
        "n_markets": n_markets,
        "workers": workers,
        "projected_seconds": min(many) * n_markets / workers,
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


def _training_rows(config: RetrainConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(X, y, forward)`` of every labelled row of ``generate_market(seed=0)`` in ``config``'s
    design: the training sets the refit timings slice."""
    market = generate_market(seed=0)
    close = np.asarray(market.close, dtype=np.float64)
    features = compute_features(market.open, market.high, market.low, close, market.volume)
    panel = DesignPanel.build(features, detect_regimes(close), close, config)
    return panel.window(0, len(close) - 1 - config.horizon)


def time_model_fits(sizes: tuple[int, ...] = (300, 2500), repeat: int = 3) -> list[dict]:
    """Seconds of one refit (``engine.training.fit``, NEW without the feedback loop) per model
    class and training-set size, best of ``repeat`` after one warm-up fit (the LSTM compiles
    its training function once per padded size; later refits reuse it)."""
    rows = []
    for name in MODEL_CLASSES:
        if name == "lstm" and not lstm_available():
            rows.append({"model": name, "skipped": "the LSTM extra is not installed"})
            continue
        config = NEW.without_fix("feedback_loop").replace(model=name)
        X, y, fwd = _training_rows(config)
        for n in sizes:
            samples = TrainingSet(X[:n], y[:n], None, n, 0, confidence_target(fwd[:n]))
            times = []
            for _ in range(repeat + 1):
                started = time.perf_counter()
                fit(samples, config)
                times.append(time.perf_counter() - started)
            rows.append({"model": name, "n_samples": n, "first": times[0], "best": min(times[1:])})
    return rows


def time_logistic_fits(sizes: tuple[int, ...] = (300, 2500), repeat: int = 3) -> list[dict]:
    """Seconds of one logistic fit (``model.fit_model``, NEW's regime x feature design, profit
    weights) by each implementation, best of ``repeat`` after a warm-up, and the largest gap
    between the two implementations' probabilities on the training rows."""
    config = NEW.without_fix("feedback_loop")
    X, y, fwd = _training_rows(config)
    rows = []
    for n in sizes:
        weights = np.abs(fwd[:n]) + 1e-3  # profit-weighted-loss-like weights
        fitted = {}
        for implementation in IMPLEMENTATIONS:
            times = []
            with one_thread():
                for _ in range(repeat + 1):
                    started = time.perf_counter()
                    model = fit_model(X[:n], y[:n], weights, config, implementation=implementation)
                    times.append(time.perf_counter() - started)
            fitted[implementation] = predict_proba(model, X[:n])
            row = {"implementation": implementation, "n_samples": n, "n_columns": X.shape[1]}
            rows.append(row | {"best": min(times[1:])})
        gap = float(np.max(np.abs(fitted["numpy"] - fitted["scikit-learn"])))
        for row in rows[-len(IMPLEMENTATIONS) :]:
            row["max_probability_gap"] = gap
    return rows


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
        "--quick",
        action="store_true",
        help="only the 10 x 1000 case, no scaling grid, no per-model-class refit times; "
        "the factorial on 2 x 200",
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
    # --quick (the test suite's smoke run): the factorial on a small market, same code path
    factorial = (
        time_factorial(200, 2, repeat=1) if args.quick else time_factorial(repeat=args.repeat)
    )
    new = rows[1]
    verdict = {
        "new_seconds_ok": new["seconds"] < TARGET_SECONDS,
        "new_ratio_ok": new["ratio"] <= TARGET_RATIO,
        "factorial_ratio_ok": factorial["ratio"] <= FACTORIAL_TARGET_RATIO,
        "factorial_projection_ok": factorial["projected_seconds"] <= FACTORIAL_TARGET_SECONDS,
    }
    # one refit per model class (skipped by --quick: the LSTM compiles for a while first)
    fits = [] if args.quick else time_model_fits(repeat=args.repeat)
    logistic = time_logistic_fits(sizes=(300,) if args.quick else (300, 2500), repeat=args.repeat)
    if args.json:
        print(
            json.dumps(
                {
                    "main": rows,
                    "scaling": scaling,
                    "factorial": factorial,
                    "targets": verdict,
                    "model_fits": fits,
                    "logistic_fits": logistic,
                },
                indent=2,
            )
        )
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
        f = factorial
        print(
            f"factorial, {f['n_configs']} configurations on one market "
            f"({f['n_tickers']} x {f['n_days']}), best of {f['repeat']} interleaved runs each:\n"
            f"  64 separate walk_forward calls {f['separate_seconds']:7.2f} s\n"
            f"  walk_forward_many              {f['many_seconds']:7.2f} s   ratio "
            f"{f['ratio']:.2f} (target <= {FACTORIAL_TARGET_RATIO}: "
            f"{'met' if verdict['factorial_ratio_ok'] else 'NOT met'}); "
            f"{f['n_distinct_fits']} distinct fits of {f['n_refits']} refits "
            f"({f['n_refit_requests']} asked for; the others shared with another config)\n"
            f"  projected {f['n_configs']} x {f['n_markets']} such markets on {f['workers']} "
            "workers: "
            f"{f['projected_seconds'] / 60:.1f} min (target <= "
            f"{FACTORIAL_TARGET_SECONDS / 60:.0f} min: "
            f"{'met' if verdict['factorial_projection_ok'] else 'NOT met'})"
        )
    if fits and not args.json:
        print(
            "one refit per model class (RetrainConfig.model), "
            f"best of {args.repeat} after a warm-up:"
        )
        for row in fits:
            if "skipped" in row:
                print(f"  {row['model']:<18} skipped: {row['skipped']} (make setup-lstm)")
            else:
                print(
                    f"  {row['model']:<18} {row['n_samples']:>5} samples  {row['best']:7.3f} s"
                    f"   (first fit {row['first']:.3f} s)"
                )
    if not args.json:
        print(
            f"one logistic fit (NEW's design, {logistic[0]['n_columns']} columns) by each "
            f"implementation (model.fit_model), best of {args.repeat}:"
        )
        for row in logistic:
            print(
                f"  {row['implementation']:<13} {row['n_samples']:>5} samples  "
                f"{row['best'] * 1e3:7.2f} ms   (largest probability gap between the two: "
                f"{row['max_probability_gap']:.1e})"
            )
    if args.profile:
        print(profile_walk_forward(NEW))
    return 0


if __name__ == "__main__":
    sys.exit(main())
