"""The first screen: a layered verdict computed from the results files, every line with its CI.

Layers (issue 9):

1. ``published`` — what the published validation measured. It compared two fixed rules on one
   seed: no model trained, no fix exercised, no CI. No line passes here by construction (the
   rule is: no pass without a CI that excludes zero).
2. ``synthetic`` — NEW against OLD, against the best simple alternative (the best single fix
   OLD + fix, picked by mean Sharpe on the same markets, which favours the alternative), and,
   when ``sensitivity`` results are present, against buy and hold with the oracle as ceiling;
   NEW against OLD at the highest cost; the two-sided placebo (a CI excluding zero in either
   direction is a fail), with its rerun on fresh seeds when present.
3. ``real`` — on the S&P 500 panel (whole period, stationary-bootstrap CI; blocks paired
   across blocks) and on the arch indices: NEW against OLD, against the best single fix
   (the one picked on the synthetic markets: out of sample here) and against buy and hold.
4. ``fixes`` — each fix alone (OLD + fix − OLD) and in context (NEW − (NEW − fix)): twelve
   tests, Holm-adjusted; the word (helps / hurts / no clear effect) follows the adjusted p.

Every synthetic comparison is a :func:`stats.paired_bootstrap` of per-market Sharpe ratios
(markets sorted by seed first), so CI and p come from the same draws and never disagree.
A line passes only when its CI lies entirely on the claimed side of zero (after Holm where
there is a family). :func:`verdict` returns plain data; the report's template words it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from retrainlab.analytics.stats import holm_adjust, paired_bootstrap, sign_test_p
from retrainlab.engine.config import FIXES
from retrainlab.research.regime_scoring import score_confusion, trend_threshold_vs_drift

__all__ = [
    "ALPHA",
    "MARKS",
    "best_single_fix",
    "break_even_cost",
    "compare_per_seed",
    "correct_claims",
    "fix_family",
    "per_seed",
    "verdict",
]

#: Family-wise error rate of every test on the screen (two-sided).
ALPHA = 0.05
#: Pass / fail with words beside the mark (an emoji font may be missing).
MARKS: dict[bool, str] = {True: "✓ pass", False: "✗ fail"}


# --------------------------------------------------------------------------- per-seed data
def per_seed(
    results: Mapping[str, Any], label: str, metric: str = "sharpe_ratio"
) -> tuple[np.ndarray, np.ndarray]:
    """``(seeds, values)`` of ``metric`` for configuration ``label`` on the synthetic markets.

    Read from the first ablation results file (then ``final_comparison``) that has the
    label; raises ``KeyError`` naming the label when none has it.
    """
    sources = [results[f"ablation_{fix}"] for fix in FIXES if f"ablation_{fix}" in results]
    if "final_comparison" in results:
        sources.append(results["final_comparison"])
    for source in sources:
        table = source.get("per_seed", {}).get(label)
        if table is not None and metric in table:
            values = np.array([np.nan if v is None else v for v in table[metric]], dtype=float)
            return np.asarray(table["seed"], dtype=np.int64), values
    raise KeyError(f"no per-seed {metric!r} of {label!r} in the results files")


def compare_per_seed(
    a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray], *, seed: int = 0
) -> dict[str, Any]:
    """B − A over the markets both have (matched by seed): paired bootstrap and sign test."""
    seeds_a, va = a
    seeds_b, vb = b
    common = np.intersect1d(seeds_a, seeds_b)
    if common.size == 0:
        raise ValueError("the two systems share no market seed")
    x = dict(zip(seeds_a.tolist(), va.tolist(), strict=True))
    y = dict(zip(seeds_b.tolist(), vb.tolist(), strict=True))
    xa = np.array([x[s] for s in common.tolist()])
    yb = np.array([y[s] for s in common.tolist()])
    res = paired_bootstrap(xa, yb, common, seed=seed)
    keep = np.isfinite(xa) & np.isfinite(yb)
    return {
        **res.to_dict(),
        "mean_diff": res.estimate,
        "mean_a": float(np.nanmean(xa)),
        "mean_b": float(np.nanmean(yb)),
        "share_b_wins": float(np.mean(yb[keep] > xa[keep])) if keep.any() else float("nan"),
        "sign_p": sign_test_p(xa, yb),
    }


def _line(layer: str, line_id: str, claim: str, passed: bool, stat: Any, **extra: Any) -> dict:
    return {
        "layer": layer,
        "id": line_id,
        "claim": claim,
        "passed": bool(passed),
        "mark": MARKS[bool(passed)],
        "stat": stat,
        **extra,
    }


def _positive(stat: Mapping[str, Any] | None) -> bool:
    return stat is not None and stat.get("ci_low") is not None and stat["ci_low"] > 0


def _excludes_zero(stat: Mapping[str, Any]) -> bool:
    low, high = stat.get("ci_low"), stat.get("ci_high")
    return low is not None and high is not None and (low > 0 or high < 0)


def _p_values(value: Any) -> list[float]:
    """Every ``p_value`` inside a line's statistics (nested mappings)."""
    if isinstance(value, Mapping):
        own = [float(value["p_value"])] if value.get("p_value") is not None else []
        return own + [p for v in value.values() for p in _p_values(v)]
    return []


def correct_claims(lines: list[dict], alpha: float) -> int:
    """Bonferroni over the claim lines of the synthetic and real layers; returns their number.

    A claim that passed on its 95% CI keeps its pass only if the p of the evidence that made it
    pass (the smallest p in its statistics) times the number of claims is below ``alpha``. The
    placebo line is left alone: it passes when *no* CI excludes zero, and a correction would
    only make that easier. The fix tests have their own family (Holm, ``fix_family``).
    """
    family = [line for line in lines if line["layer"] in ("synthetic", "real")]
    for line in family:
        if not line["passed"] or line["id"] == "placebo":
            continue
        p_values = _p_values({"stat": line["stat"], "in_new": line.get("in_new")})
        if not p_values or min(p_values) * len(family) >= alpha:
            line.update(passed=False, mark=MARKS[False], corrected_away=True)
    return len(family)


# --------------------------------------------------------------------------- building blocks
def best_single_fix(results: Mapping[str, Any]) -> str:
    """The ``OLD+fix`` label with the highest mean Sharpe on the synthetic markets."""
    means = {}
    for fix in FIXES:
        try:
            _, values = per_seed(results, f"OLD+{fix}")
        except KeyError:
            continue
        means[f"OLD+{fix}"] = float(np.nanmean(values))
    if not means:
        raise KeyError("no OLD+fix results: run the ablation notebooks first")
    return max(means, key=lambda k: means[k])


def break_even_cost(costs: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The cost (bps) at which the CI of NEW − OLD first reaches zero, interpolated.

    ``costs`` maps a cost in bps (as text) to a paired comparison with ``ci_low``. Linear
    interpolation of ``ci_low`` between the two measured costs that bracket zero; ``None``
    with ``beyond`` when it stays above zero up to the highest cost measured, and 0 when it
    is not above zero even without costs.
    """
    grid = sorted((float(c), s["ci_low"]) for c, s in costs.items() if s.get("ci_low") is not None)
    if not grid:
        return {"bps": None, "beyond": None, "grid": []}
    if grid[0][1] <= 0:
        return {"bps": 0.0, "beyond": None, "grid": [c for c, _ in grid]}
    for (c0, l0), (c1, l1) in zip(grid[:-1], grid[1:], strict=True):
        if l1 <= 0 < l0:
            return {
                "bps": c0 + (c1 - c0) * l0 / (l0 - l1),
                "beyond": None,
                "grid": [c for c, _ in grid],
            }
    return {"bps": None, "beyond": grid[-1][0], "grid": [c for c, _ in grid]}


def fix_family(results: Mapping[str, Any], alpha: float = ALPHA) -> list[dict[str, Any]]:
    """Each fix alone and in context (12 tests), Holm-adjusted over the family.

    ``word`` per test: "helps" / "hurts" when the Holm-adjusted p is below ``alpha`` (by the
    sign of the difference), else "no clear effect"; the raw p sits beside it.
    """
    tests = []
    for fix in FIXES:
        if f"ablation_{fix}" not in results:
            continue
        alone = compare_per_seed(per_seed(results, "OLD"), per_seed(results, f"OLD+{fix}"))
        context = compare_per_seed(per_seed(results, f"NEW-{fix}"), per_seed(results, "NEW"))
        tests += [(fix, "alone", alone), (fix, "in_context", context)]
    adjusted = holm_adjust([t[2]["p_value"] for t in tests]) if tests else []
    out: dict[str, dict[str, Any]] = {}
    for (fix, kind, stat), p_adj in zip(tests, adjusted, strict=True):
        significant = p_adj < alpha
        word = ("helps" if stat["mean_diff"] > 0 else "hurts") if significant else "no clear effect"
        entry = out.setdefault(fix, {"fix": fix})
        entry[kind] = {**stat, "p_holm": float(p_adj), "word": word}
    for entry in out.values():
        words = {entry["alone"]["word"], entry["in_context"]["word"]}
        entry["helps"] = "helps" in words and "hurts" not in words
        entry["n_tests"] = len(tests)
    return list(out.values())


# --------------------------------------------------------------------------- layers
def _published(results: Mapping[str, Any]) -> list[dict]:
    rep = results.get("replication")
    if rep is None:
        return []
    checks = rep["published_verdict"]["checks"]
    claims = rep["claims"]
    stat = {
        "published_checks_passed": sum(bool(c["passed"]) for c in checks),
        "published_checks": len(checks),
        "claims_hold": sum(bool(c["holds"]) for c in claims),
        "claims": len(claims),
        "reproduced_exactly": bool(rep["exact_match"]["matches"]),
        "seeds": 1,
        "has_ci": False,
    }
    # One seed, two fixed rules: there is no CI, so this line cannot pass.
    return [
        _line(
            "published",
            "published_tested_fixes",
            "published validation tested the fixes",
            False,
            stat,
        )
    ]


def _synthetic(results: Mapping[str, Any], best: str | None) -> list[dict]:
    lines = []
    old, new = per_seed(results, "OLD"), per_seed(results, "NEW")
    s = compare_per_seed(old, new)
    lines.append(_line("synthetic", "new_vs_old", "NEW beats OLD", _positive(s), s))
    if best is not None:
        s = compare_per_seed(per_seed(results, best), new)
        lines.append(
            _line(
                "synthetic",
                "new_vs_best_fix",
                "NEW beats the best single fix",
                _positive(s),
                s,
                best=best,
            )
        )
    sens = results.get("sensitivity", {}).get("base")
    if sens is not None:
        seeds = np.asarray(sens["seed"], dtype=np.int64)
        bh = (seeds, np.asarray(sens["sharpe_ratio"]["buy_and_hold"], dtype=float))
        s = compare_per_seed(bh, new)
        lines.append(
            _line("synthetic", "new_vs_buy_and_hold", "NEW beats buy and hold", _positive(s), s)
        )
        if "oracle" in sens["sharpe_ratio"]:
            oracle = (seeds, np.asarray(sens["sharpe_ratio"]["oracle"], dtype=float))
            s = compare_per_seed(oracle, new)
            lines.append(
                _line(
                    "synthetic",
                    "new_vs_oracle",
                    "NEW reaches the oracle (ceiling)",
                    _positive(s),
                    s,
                )
            )
    regime = results.get("sensitivity", {}).get("regime")
    if regime is not None:
        true = regime["true: OLD+regime_awareness[true] - OLD"]
        detected = regime["detected: OLD+regime_awareness - OLD"]
        in_new = regime["NEW[true regimes] - NEW"]
        lines.append(
            _line(
                "synthetic",
                "regime_idea",
                "regime inputs help when the regimes are true (alone or within NEW)",
                _positive(true) or _positive(in_new),
                true,
                in_new=in_new,
            )
        )
        lines.append(
            _line(
                "synthetic",
                "regime_detector",
                "regime inputs help with the detected regimes",
                _positive(detected),
                detected,
            )
        )
    final = results.get("final_comparison")
    if final is not None:
        top = max(final["costs"], key=float)
        costly = compare_per_seed(
            per_seed(results, "OLD", f"sharpe_at_{top}bps"),
            per_seed(results, "NEW", f"sharpe_at_{top}bps"),
        )
        lines.append(
            _line(
                "synthetic",
                "costs",
                "NEW beats OLD at the highest cost",
                _positive(costly),
                costly,
                cost_bps=float(top),
            )
        )
        costs = {
            c: compare_per_seed(
                per_seed(results, "OLD", f"sharpe_at_{c}bps"),
                per_seed(results, "NEW", f"sharpe_at_{c}bps"),
            )
            for c in final["costs"]
        }
        lines[-1]["break_even"] = break_even_cost(costs)
        lines[-1]["by_cost"] = costs
        placebo = final["placebo"]["per_seed"]
        stats = {}
        for label, table in placebo.items():
            seeds = np.asarray(table["seed"], dtype=np.int64)
            gross = np.asarray(table["sharpe_at_0bps"], dtype=float)
            stats[label] = compare_per_seed((seeds, np.zeros_like(gross)), (seeds, gross))
        fresh = results.get("sensitivity", {}).get("placebo_fresh")
        fresh_stats = {}
        if fresh is not None:
            seeds = np.asarray(fresh["seed"], dtype=np.int64)
            for label, values in fresh["sharpe_at_0bps"].items():
                if label == "buy_and_hold":  # holding a drift-free market is not a leak test
                    continue
                v = np.asarray(values, dtype=float)
                fresh_stats[label] = compare_per_seed((seeds, np.zeros_like(v)), (seeds, v))
        passed = not any(_excludes_zero(s) for s in stats.values())
        lines.append(
            _line(
                "synthetic",
                "placebo",
                "no system shows an edge either way before costs on the placebo markets",
                passed,
                stats,
                fresh_seeds=fresh_stats,
                fresh_passed=(not any(_excludes_zero(s) for s in fresh_stats.values()))
                if fresh_stats
                else None,
            )
        )
    return lines


def _real(results: Mapping[str, Any], best: str | None) -> list[dict]:
    real = results.get("real_equities")
    if real is None:
        return []
    lines = []
    series = {"panel": real.get("panel"), **real.get("indices", {})}
    series = {name: ev for name, ev in series.items() if ev is not None}
    for name, ev in series.items():
        comp = ev["comparisons"]
        for other, line_id in (
            ("OLD", "new_vs_old"),
            (best, "new_vs_best_fix"),
            ("buy_and_hold", "new_vs_buy_and_hold"),
        ):
            key = f"NEW - {other}"
            if other is None or key not in comp:
                continue
            s = comp[key]
            lines.append(
                _line(
                    "real",
                    f"{name}:{line_id}",
                    f"NEW beats {other} on {name}",
                    _positive(s),
                    s,
                    series=name,
                    other=other,
                    blocks=ev.get("block_comparisons", {}).get(key),
                )
            )
    return lines


def verdict(results: Mapping[str, Any], alpha: float = ALPHA) -> dict[str, Any]:
    """The layered verdict from the results files (``{stem: parsed JSON}``).

    Missing layers are skipped (their inputs absent). ``headline_passed`` is true only when
    NEW beats OLD *and* the best single fix on the synthetic markets and beats OLD, the best
    single fix and buy and hold on the real panel, each with a CI above zero.
    """
    try:
        best = best_single_fix(results)
    except KeyError:
        best = None
    lines = [*_published(results)]
    if any(k.startswith("ablation_") for k in results) or "final_comparison" in results:
        lines += _synthetic(results, best)
    lines += _real(results, best)
    n_claims = correct_claims(lines, alpha)
    fixes = fix_family(results, alpha)
    for entry in fixes:
        lines.append(
            _line(
                "fixes",
                f"fix:{entry['fix']}",
                f"fix {entry['fix']} helps after Holm",
                entry["helps"],
                {"alone": entry["alone"], "in_context": entry["in_context"]},
                fix=entry["fix"],
            )
        )
    regime = None
    if "data_summary" in results:
        counts = pd.DataFrame(results["data_summary"]["confusion"]["edge"]["counts"]).T
        regime = {**score_confusion(counts), "threshold": trend_threshold_vs_drift()}
    by_id = {line["id"]: line for line in lines}
    needed = [
        "new_vs_old",
        "new_vs_best_fix",
        "panel:new_vs_old",
        "panel:new_vs_best_fix",
        "panel:new_vs_buy_and_hold",
    ]
    return {
        "alpha": alpha,
        "best_single_fix": best,
        "lines": lines,
        "fixes": fixes,
        "regime": regime,
        "n_claims": n_claims,
        "headline_passed": all(by_id.get(i, {}).get("passed", False) for i in needed),
        "n_passed": sum(line["passed"] for line in lines),
        "n_lines": len(lines),
    }
