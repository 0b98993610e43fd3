"""The factorial: the 64 configurations, effects, Shapley values, selection, the results file."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import retrainlab as rl
from conftest import environ, execute_notebook, run_setup_cells
from retrainlab import experiments as ex
from retrainlab import jsonio
from retrainlab.engine.real_equities import SP500_TICKERS
from retrainlab.research import evaluation as ev
from retrainlab.research import factorial as fx
from retrainlab.research import factorial_runs as fr


# --------------------------------------------------------------------------- configurations
def test_all_configs_are_every_subset_in_standard_order_old_first_new_last():
    configs = rl.all_configs(base=rl.OLD)
    assert len(configs) == 64
    assert configs[0] == rl.OLD and configs[-1] == rl.NEW
    assert len({c.fixes for c in configs}) == 64
    for m, config in enumerate(configs):
        assert config.fixes == fx.subset(m)
        assert set(rl.FIXES).issuperset(config.fixes)
    assert configs[1].fixes == (rl.FIXES[0],)  # FIXES[0] varies fastest
    assert configs[2].fixes == (rl.FIXES[1],)


def test_all_configs_keeps_the_base_protocol_and_overrides_its_switches():
    base = rl.NEW.replace(horizon=3, cost_bps=10.0)
    configs = rl.all_configs(base)
    assert configs[0].fixes == () and configs[-1].fixes == rl.FIXES
    assert {(c.horizon, c.cost_bps) for c in configs} == {(3, 10.0)}


def test_all_configs_of_a_subset_of_fixes():
    configs = rl.all_configs(rl.OLD, ["long_lookback", "feedback_loop"])
    assert [c.fixes for c in configs] == [
        (),
        ("long_lookback",),
        ("feedback_loop",),
        ("feedback_loop", "long_lookback"),  # .fixes lists in FIXES order
    ]
    assert list(fx.named_configs(configs)) == [
        "OLD",
        "OLD+long_lookback",
        "OLD+feedback_loop",
        "OLD+feedback_loop+long_lookback",
    ]


def test_bad_fix_names_are_refused_with_a_suggestion():
    with pytest.raises(ValueError, match="Did you mean 'long_lookback'"):
        rl.all_configs(rl.OLD, ["long_lookbak"])
    with pytest.raises(ValueError, match="once"):
        rl.all_configs(rl.OLD, ["long_lookback", "long_lookback"])
    with pytest.raises(ValueError, match="at least one fix"):
        rl.all_configs(rl.OLD, [])
    with pytest.raises(TypeError, match="RetrainConfig"):
        rl.all_configs("OLD")


# --------------------------------------------------------------------------- toy factorials
def _toy(k: int, value) -> np.ndarray:
    """One market's 2**k values in standard order from ``value(set of fix indices on)``."""
    return np.array([value({b for b in range(k) if m >> b & 1}) for m in range(2**k)])


MAIN = np.array([0.10, -0.05, 0.20, 0.0, 0.03, -0.02])
PAIR = 0.12  # fixes 0 and 1 together earn this much more
TRIPLE = -0.09  # fixes 2, 3 and 4 together


def _known(on: set[int]) -> float:
    return 0.3 + sum(MAIN[b] for b in on) + PAIR * ({0, 1} <= on) + TRIPLE * ({2, 3, 4} <= on)


def test_shapley_of_a_toy_factorial_with_known_effects():
    values = _toy(6, _known)
    phi = fx.shapley(values)[0]
    # additive parts go to their own fix; a k-way synergy is shared equally among its k fixes
    expected = MAIN + [PAIR / 2, PAIR / 2, TRIPLE / 3, TRIPLE / 3, TRIPLE / 3, 0.0]
    np.testing.assert_allclose(phi, expected, atol=1e-14)
    assert phi.sum() == pytest.approx(values[-1] - values[0], abs=1e-14)


def test_shapley_sums_to_new_minus_old_and_matches_the_permutation_definition():
    rng = np.random.default_rng(3)
    values = rng.normal(size=(5, 16))
    phi = fx.shapley(values)
    np.testing.assert_allclose(phi.sum(axis=1), values[:, -1] - values[:, 0], atol=1e-8)
    # Shapley value = the fix's marginal gain averaged over every order of switching fixes on
    k = 4
    brute = np.zeros((5, k))
    orders = list(itertools.permutations(range(k)))
    for order in orders:
        mask = 0
        for b in order:
            brute[:, b] += values[:, mask | 1 << b] - values[:, mask]
            mask |= 1 << b
    np.testing.assert_allclose(phi, brute / len(orders), atol=1e-12)


def test_shapley_gives_nothing_to_a_fix_that_never_matters():
    values = _toy(3, lambda on: 1.0 + 0.5 * (0 in on) - 0.25 * (2 in on) * (0 in on))
    phi = fx.shapley(values)[0]
    assert phi[1] == pytest.approx(0.0, abs=1e-15)


def test_effects_recover_known_main_effects_and_interactions():
    values = _toy(6, _known)
    est, terms, r2 = fx.effects(values)
    by_term = dict(zip(terms, est[0], strict=True))
    assert len(terms) == 6 + 15
    # main effect = mean(on) - mean(off); the pair and the triple add their share when present
    expected_main = MAIN + [PAIR / 2, PAIR / 2, TRIPLE / 4, TRIPLE / 4, TRIPLE / 4, 0.0]
    np.testing.assert_allclose([by_term[(b,)] for b in range(6)], expected_main, atol=1e-12)
    # interaction = v(ab) - v(a) - v(b) + v(none), averaged over the others
    assert by_term[(0, 1)] == pytest.approx(PAIR, abs=1e-12)
    assert by_term[(2, 3)] == pytest.approx(TRIPLE / 2, abs=1e-12)  # the third is on half the time
    assert by_term[(0, 5)] == pytest.approx(0.0, abs=1e-12)
    # the three-way synergy is what the two-way model leaves unexplained
    assert 0 < r2[0] < 1


def test_effects_explain_everything_without_higher_interactions():
    values = _toy(4, lambda on: 0.2 * (0 in on) + 0.1 * (0 in on) * (3 in on) - 0.3 * (1 in on))
    est, terms, r2 = fx.effects(values)
    assert r2[0] == pytest.approx(1.0)
    assert dict(zip(terms, est[0], strict=True))[(0, 3)] == pytest.approx(0.1)


def test_analysis_refuses_a_non_factorial_number_of_columns():
    with pytest.raises(ValueError, match="2\\*\\*k"):
        fx.shapley(np.zeros((2, 6)))
    with pytest.raises(ValueError, match="2\\*\\*k"):
        fx.effects(np.zeros((2, 1)))


def test_select_best_takes_the_highest_mean_and_the_first_on_ties():
    values = np.array([[0.1, 0.5, 0.5, 0.2], [0.3, 0.1, 0.1, 0.9]])
    assert fx.select_best(values) == 3
    assert fx.select_best(values[:, :3]) == 1


def test_config_means_and_corrected_confidence():
    values = np.array([[1.0, 2.0], [3.0, 2.0], [2.0, 2.0]])
    out = fx.config_means(values)
    assert out[0]["mean"] == pytest.approx(2.0) and out[0]["ci_low"] < 2.0 < out[0]["ci_high"]
    assert out[1]["ci_low"] == out[1]["ci_high"] == 2.0
    assert fx.corrected_confidence(5) == pytest.approx(0.99)


def test_buy_and_hold_is_the_evaluation_baseline_and_never_cached(tmp_path, monkeypatch):
    """The factorial's buy and hold is the studies' one definition (the base config's cost and
    execution lag, from its first decision date), and a cached sweep still computes it afresh:
    it is research code, outside the engine-only cache key."""
    specs = [ex.MarketSpec(seed, 200, 2) for seed in (0, 1)]
    configs = fx.named_configs(rl.all_configs(rl.OLD, ["long_lookback"]))
    kwargs = dict(n_jobs=1, cache_location=tmp_path, progress=False)
    _, hold = fx.sweep_many(configs, specs, **kwargs)
    for spec in specs:
        assert hold[spec.label] == ev.buy_and_hold_sharpe(spec.build(), rl.OLD)
    assert ev.buy_and_hold_sharpe(specs[0].build()) == rl.metrics.sharpe_ratio(
        ev.buy_and_hold(specs[0].build(), cost_bps=rl.OLD.cost_bps, execution_lag=1).to_numpy()
    )
    monkeypatch.setattr(fr, "buy_and_hold_sharpe", lambda market, config: -1.0)
    frame, hold_again = fx.sweep_many(configs, specs, **kwargs)  # runs served from the cache
    assert set(hold_again.values()) == {-1.0} and len(frame) == 2 * len(specs)


def test_the_factorial_files_its_runs_where_the_sweeps_look(tmp_path, monkeypatch):
    """After the factorial, an ablation sweep of the same markets loads every run (none is run
    again) and its numbers equal a sweep computed from scratch."""
    specs = [ex.MarketSpec(seed, 200, 2) for seed in (0, 1)]
    configs = fx.named_configs(rl.all_configs(rl.OLD, ["feedback_loop", "long_lookback"]))
    fx.sweep_many(configs, specs, n_jobs=1, cache_location=tmp_path, progress=False)
    ablation = {"OLD": rl.OLD, "OLD+long_lookback": rl.OLD.with_fixes("long_lookback")}
    fresh = ex.sweep(ablation, specs, n_jobs=1, use_cache=False, progress=False)

    def refuse(*args, **kwargs):
        raise AssertionError("a run the factorial filed was run again")

    monkeypatch.setattr(ex, "evaluate", refuse)
    loaded = ex.sweep(ablation, specs, n_jobs=1, cache_location=tmp_path, progress=False)
    pd.testing.assert_frame_equal(loaded, fresh)
    with pytest.raises(AssertionError, match="run again"):  # a config the factorial did not run
        ex.sweep({"NEW": rl.NEW}, specs[:1], n_jobs=1, cache_location=tmp_path, progress=False)


# --------------------------------------------------------------------------- the results file
def _frame(values: np.ndarray, labels, markets, rng) -> pd.DataFrame:
    """A sweep-like frame: the Sharpe values plus the per-run inputs the DSR needs."""
    rows = []
    for i, market in enumerate(markets):
        for m, label in enumerate(labels):
            sr = values[i, m] / np.sqrt(252)
            rows.append(
                {
                    "config": label,
                    "market": market,
                    "sharpe_ratio": values[i, m],
                    "sr_per_period": sr,
                    "n_obs": 900.0,
                    "skew": 0.0,
                    "kurtosis": 3.0 + rng.uniform(),
                }
            )
    return pd.DataFrame(rows)


def test_factorial_results_on_a_toy_sweep():
    rng = np.random.default_rng(0)
    fixes = ["profit_weighted_loss", "feedback_loop", "adaptive_thresholds"]
    configs = fx.named_configs(rl.all_configs(rl.OLD, fixes))
    labels = list(configs)
    selection = [f"sel{i}" for i in range(12)]
    confirmation = [f"conf{i}" for i in range(20)]
    markets = selection + confirmation
    # fix 0 earns 0.3, fix 1 costs 0.1, fix 2 earns 0.2 but only with fix 0 on
    truth = _toy(3, lambda on: 0.3 * (0 in on) - 0.1 * (1 in on) + 0.2 * ({0, 2} <= on))
    values = truth + rng.normal(scale=0.05, size=(len(markets), 8))
    runs = _frame(values, labels, markets, rng)
    real = _frame(truth[None, :], labels, ["sp500"], rng)
    hold = dict.fromkeys([*markets, "sp500"], 0.1)
    out = fx.factorial_results(
        runs,
        real,
        {"seeds": 12},
        configs=configs,
        fixes=fixes,
        selection=selection,
        confirmation=confirmation,
        buy_and_hold=hold,
    )
    assert out["n_configs"] == 8 and out["old"] == "OLD" and out["new"] == labels[-1]
    assert [c["label"] for c in out["configs"]] == labels
    shap = out["shapley"]
    assert shap["sums_to_total"] is True and shap["sums_to_total_within"] == 1e-12
    means = {f: shap["fixes"][f]["mean"] for f in fixes}
    assert sum(means.values()) == pytest.approx(shap["total"]["mean"])
    assert means["profit_weighted_loss"] == pytest.approx(0.4, abs=0.03)  # 0.3 + half the pair
    assert shap["fixes"]["feedback_loop"]["negative"]
    main = out["effects"]["main"]
    assert main["profit_weighted_loss"]["positive"] and main["feedback_loop"]["negative"]
    assert out["effects"]["interacting_pairs"] == ["profit_weighted_loss x adaptive_thresholds"]
    best = out["best"]
    assert best["fixes"] == ["profit_weighted_loss", "adaptive_thresholds"]
    assert best["best_single_fix"]["fixes"] == ["profit_weighted_loss"]
    conf = best["confirmation"]
    assert conf["vs_old"]["ci_low"] > 0 and conf["vs_best_single_fix"]["ci_low"] > 0
    assert conf["dsr"]["n_trials"] == 8 and len(conf["dsr"]["by_market"]) == 20
    assert best["real"]["sp500"]["rank"] == 1 and best["real"]["sp500"]["n_trials"] == 8
    assert out["values"]["matrix"][0] == pytest.approx(values[0].tolist())


# --------------------------------------------------------------------------- the real panel
def test_panel_blocks_are_consecutive_non_overlapping_and_the_default_is_eight():
    blocks = fx.panel_blocks()
    assert len(blocks) == 8 and all(b.tickers == SP500_TICKERS for b in blocks)
    assert blocks[0].start == 0 and blocks[-1].stop == 8313
    assert all(a.stop == b.start for a, b in itertools.pairwise(blocks))
    assert all(a.last_date < b.first_date for a, b in itertools.pairwise(blocks))
    assert all(b.n_days >= 1008 for b in blocks)
    assert len({b.label for b in blocks}) == 8
    recent = fx.panel_blocks(3, panel_days=700, block_days=300)
    assert [(b.start, b.stop) for b in recent] == [(7613, 7913), (7913, 8313)]
    with pytest.raises(ValueError, match="at least 126"):
        fx.panel_blocks(3, block_days=100)
    with pytest.raises(ValueError, match=r"n_tickers must be in \[1, 20\]"):
        fx.panel_blocks(21)


def test_a_panel_block_holds_its_own_rows_only():
    """Causality across blocks: a block's market ends on its last date, so its walk-forward
    (causal within the block) cannot see a later block; its rows are the panel's, untouched."""
    block = fx.panel_blocks(3, panel_days=700, block_days=300)[0]
    market = block.build()
    panel = rl.load_sp500_panel(block.tickers)
    assert market.n_days == block.n_days == 300
    assert str(market.dates[0].date()) == block.first_date
    assert str(market.dates[-1].date()) == block.last_date
    np.testing.assert_array_equal(market.close, panel.close[block.start : block.stop])
    assert market.absent_fields == panel.absent_fields  # close-only, like the whole panel


def _panel_toy(rng, gain_best: float):
    fixes = ["profit_weighted_loss", "feedback_loop", "adaptive_thresholds"]
    configs = fx.named_configs(rl.all_configs(rl.OLD, fixes))
    labels = list(configs)
    selection = [f"sel{i}" for i in range(6)]
    # the chosen configuration is number 5 (fixes 0 and 2): it leads on the selection markets
    truth = _toy(3, lambda on: 0.3 * (on == {0, 2}))
    runs = _frame(truth + rng.normal(scale=0.01, size=(6, 8)), labels, selection, rng)
    blocks = fx.panel_blocks(3, panel_days=2400, block_days=300)
    panel_values = rng.normal(scale=0.05, size=(len(blocks), 8))
    panel_values[:, 5] += gain_best
    panel = _frame(panel_values, labels, [b.label for b in blocks], rng)
    hold = {**dict.fromkeys(selection, 0.1), **dict.fromkeys([b.label for b in blocks], 0.0)}
    kwargs = dict(configs=configs, fixes=fixes, selection=selection, confirmation=[])
    return runs, panel, blocks, hold, kwargs, panel_values


def test_panel_results_are_added_without_changing_the_other_fields():
    rng = np.random.default_rng(1)
    runs, panel, blocks, hold, kwargs, values = _panel_toy(rng, gain_best=1.0)
    without = fx.factorial_results(runs, None, {}, buy_and_hold=hold, **kwargs)
    with_panel = fx.factorial_results(
        runs, None, {}, buy_and_hold=hold, panel=panel, blocks=blocks, **kwargs
    )
    assert without["panel"] is None
    for name in set(with_panel) - {"panel"}:  # every other field is exactly as before
        assert json.dumps(jsonio.jsonable(with_panel[name])) == json.dumps(
            jsonio.jsonable(without[name])
        ), name
    out = with_panel["panel"]
    assert out["n_blocks"] == 8 and out["best"]["number"] == 5 == with_panel["best"]["number"]
    np.testing.assert_allclose(out["values"]["matrix"], values)
    assert out["best"]["mean"] == pytest.approx(values[:, 5].mean())
    assert out["best"]["vs_old"]["positive"] and out["best"]["vs_buy_and_hold"]["positive"]
    assert not out["new_vs_old"]["positive"]  # NEW (number 7) has no planted gain here
    assert out["best"]["rank"] == 1 and out["best"]["dsr"]["n_trials"] == 8
    assert out["best"]["vs_old"]["wilcoxon_p"] < out["best"]["vs_old"]["alpha"]


def test_panel_verdict_needs_the_wilcoxon_test_too():
    # 8 blocks, 6 large gains and 2 tiny losses: the corrected bootstrap CI is above zero but
    # the exact signed-rank p (2 * 5 / 256 = 0.039) is above 0.05 / 3, so no pass
    diff = np.array([1.0, 1.1, 0.9, 1.2, 1.05, 0.95, -0.01, -0.02])
    out = fx.paired_test(np.zeros(8), diff, n_tests=3)
    assert out["corrected_ci_low"] > 0 and out["wilcoxon_p"] == pytest.approx(10 / 256)
    assert not out["positive"] and not out["negative"]
    out = fx.paired_test(np.zeros(8), np.abs(diff), n_tests=3)
    assert out["positive"] and out["alpha"] == pytest.approx(0.05 / 3)
    assert fx.paired_test(np.zeros(8), np.abs(diff), n_tests=1)["corrected_confidence"] == 0.95


# --------------------------------------------------------------------------- notebook and section
TEMPLATE = Path(rl.__file__).parent / "research" / "templates" / "sections" / "factorial.md.j2"
TINY_FIXES = ["profit_weighted_loss", "feedback_loop", "long_lookback"]


@pytest.fixture
def tiny_run(notebook_runs):
    """06_factorial under papermill: 2 + 2 markets of 300 days x 3 tickers, 3 fixes, sp500, and
    the last 600 days of the panel's first 3 tickers in 2 blocks; executed once per session,
    whichever worker asks first (tests/conftest.py ``NotebookRuns``)."""

    def produce(folder: Path) -> dict:
        with environ(**{ex.CACHE_ENV: str(folder / "cache")}):  # inherited by the kernel
            execute_notebook(
                "06_factorial",
                folder / "06_factorial.ipynb",
                seeds=2,
                confirmation_seeds=2,
                n_days=300,
                n_tickers=3,
                fixes=TINY_FIXES,
                real_markets=["sp500"],
                real_days=300,
                panel_tickers=3,
                panel_days=600,
                block_days=300,
                n_jobs=1,
                data_dir=str(folder / "data"),
                results_dir=str(folder / "results"),
            )
        return jsonio.read_results(folder / "results" / "factorial.json")

    fac = notebook_runs.get("06_factorial", produce)
    return notebook_runs.folder("06_factorial"), fac


def test_notebook_writes_the_factorial_from_real_runs(tiny_run):
    _, fac = tiny_run
    assert fac["fixes"] == TINY_FIXES and fac["n_configs"] == 8
    assert fac["markets"]["selection"] == ["seed0-edge1", "seed1-edge1"]
    assert fac["markets"]["confirmation"] == ["seed2-edge1", "seed3-edge1"]
    assert fac["markets"]["real"] == ["sp500-last300d"]
    # the matrix holds the walk-forward's own Sharpe ratios: recompute one run
    market = ex.MarketSpec(3, 300, 3).build()
    config = rl.all_configs(rl.OLD, TINY_FIXES)[5]
    # (results files hold 10 significant digits: jsonio.RESULTS_DIGITS)
    sharpe = rl.walk_forward(market, config).metrics["sharpe_ratio"]
    assert fac["values"]["matrix"][3][5] == pytest.approx(sharpe, rel=1e-9)
    values = np.array(fac["values"]["matrix"])
    per_market = fac["shapley"]["per_market"]
    phi = np.array([per_market[f] for f in TINY_FIXES]).T
    np.testing.assert_allclose(phi.sum(axis=1), values[:, -1] - values[:, 0], atol=1e-8)
    assert fac["best"]["real"]["sp500-last300d"]["n_trials"] == 8
    assert fac["best"]["confirmation"]["dsr"]["n_trials"] == 8


def test_notebook_runs_the_factorial_on_the_panel_blocks(tiny_run):
    _, fac = tiny_run
    panel = fac["panel"]
    blocks = fx.panel_blocks(3, panel_days=600, block_days=300)
    assert panel["n_blocks"] == 2 and panel["tickers"] == ["AAPL", "AMD", "BAC"]
    assert [b["label"] for b in panel["blocks"]] == [b.label for b in blocks]
    assert panel["end"] == "2022-12-28"
    # the panel matrix holds the walk-forward's own Sharpe ratios on each block: recompute one
    config = rl.all_configs(rl.OLD, TINY_FIXES)[6]
    sharpe = rl.walk_forward(blocks[1].build(), config).metrics["sharpe_ratio"]
    assert panel["values"]["matrix"][1][6] == pytest.approx(sharpe, rel=1e-9)
    # the configuration chosen on the selection markets, measured (not re-chosen) on the panel
    best = panel["best"]
    assert best["label"] == fac["best"]["label"] and best["number"] == fac["best"]["number"]
    values = np.array(panel["values"]["matrix"])
    column = [best["by_block"][b.label]["sharpe"] for b in blocks]
    np.testing.assert_allclose(column, values[:, best["number"]])
    assert best["mean"] == pytest.approx(values[:, best["number"]].mean())
    gain = values[:, best["number"]] - values[:, 0]
    assert best["vs_old"]["mean_diff"] == pytest.approx(gain.mean())
    assert panel["new_vs_old"]["mean_diff"] == pytest.approx(np.mean(values[:, -1] - values[:, 0]))
    assert best["dsr"]["n_trials"] == 8
    assert set(best["dsr"]["by_block"]) == {b.label for b in blocks}
    assert panel["n_tests"] == 3 and panel["corrected_confidence"] == pytest.approx(1 - 0.05 / 3)


def test_notebook_refuses_an_unknown_fix(tmp_path):
    with pytest.raises(ValueError, match="Did you mean 'long_lookback'"):
        run_setup_cells("06_factorial", fixes=["long_lookbak"], results_dir=str(tmp_path))


def _convention_filters() -> dict:
    """The filters the team conventions say the report renderer provides (for rendering here)."""

    def num(x, digits=2):
        return "n/a" if x is None else f"{x:.{digits}f}"

    def signed(x, digits=2):
        return "n/a" if x is None else f"{x:+.{digits}f}"

    def pct(x, digits=1):
        return "n/a" if x is None else f"{100 * x:.{digits}f}%"

    return {
        "num": num,
        "signed": signed,
        "pct": pct,
        "ci": lambda lo, hi, digits=2: f"[{num(lo, digits)}, {num(hi, digits)}]",
        "pval": lambda p: "<0.001" if p < 0.001 else f"{p:.3f}",
        "passfail": lambda ok: "✓ pass" if ok else "✗ fail",
    }


def test_section_reads_its_numbers_from_the_results_file(tiny_run):
    import jinja2

    from retrainlab.research.sections import factorial as section

    tmp, fac = tiny_run
    assert section.REQUIRES == ("factorial",)
    altered = json.loads(json.dumps(fac))
    altered["shapley"]["fixes"]["feedback_loop"]["mean"] = 9.87654  # no computation gives this
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.filters.update(_convention_filters())
    text = env.from_string(TEMPLATE.read_text()).render(**section.context({"factorial": altered}))
    assert "+9.88" in text
    assert fac["best"]["label"] in text and "sp500-last300d" in text
    for block in fac["panel"]["blocks"]:
        assert f"{block['start']} to {block['end']}" in text
    altered["panel"]["n_blocks"] = 97  # the prose reads the panel's facts from the file
    altered["panel"]["best"]["mean"] = 7.65432
    text = env.from_string(TEMPLATE.read_text()).render(**section.context({"factorial": altered}))
    assert "97 non-overlapping blocks" in text and "7.65" in text
    figures = section.figures({"factorial": fac})
    assert len(figures) == 2
    values, significant = section.interaction_matrix(fac)
    assert values.shape == (3, 3) and np.allclose(values, values.T)
    assert values[0, 0] == fac["effects"]["main"]["profit_weighted_loss"]["mean"]


def test_fixes_parameter_rule():
    from retrainlab import params

    ns = {"__annotations__": {"fixes": "list[str]"}, "fixes": ["long_lookback"]}
    assert params.validate(ns, "06_factorial") == {"fixes": ["long_lookback"]}
    for bad, message in (([], "at least one fix"), (["long_lookback"] * 2, "each once")):
        ns = {"__annotations__": {"fixes": "list[str]"}, "fixes": bad}
        with pytest.raises(ValueError, match=message):
            params.validate(ns, "06_factorial")
