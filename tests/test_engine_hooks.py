"""The engine's structure: hooks, fix descriptions, labels, one home per concept, no hidden
imports, no file over ~500 lines, and no code outside the fixes asking which fix is on."""

from __future__ import annotations

import ast
import itertools
import re
from pathlib import Path

import numpy as np
import pytest

import retrainlab as rl
from retrainlab import FIXES, NEW, OLD, RetrainConfig
from retrainlab.engine import features, fixes, hooks, market, prices, regimes
from retrainlab.engine.decisions import StaticThresholds
from retrainlab.engine.fixes import regime_awareness
from retrainlab.engine.fixes.adaptive_thresholds import AdaptiveThresholds
from retrainlab.engine.fixes.regime_awareness import RegimeGram, regime_design
from retrainlab.engine.outcomes import OutcomeTable
from retrainlab.engine.training import fit
from retrainlab.live.inputs import as_histories
from retrainlab.live.training import retrain_set

PACKAGE = Path(rl.__file__).parent
ENGINE = PACKAGE / "engine"

# ---------------------------------------------------------------- hooks


def test_old_uses_every_default_and_new_one_fix_per_hook():
    old, new = hooks.hooks_for(OLD), hooks.hooks_for(NEW)
    assert old.providers == {}
    assert old.training_window() == OLD.short_window
    assert old.sample_weights(np.array([0.1, -0.3])) is None
    assert old.extra_samples(OutcomeTable.empty()).n == 0 and not old.takes_outcomes
    assert isinstance(old.thresholds(), StaticThresholds)
    np.testing.assert_array_equal(old.position_size(np.array([0.6, 0.9])), [1.0, 1.0])
    assert old.design_gram(np.ones((3, 11)), np.zeros(11), np.ones(11)) is None  # dense
    assert set(new.providers) == set(hooks.HOOK_NAMES)
    assert set(new.providers.values()) == set(FIXES)  # every fix acts through a hook
    assert new.training_window() == NEW.long_window
    assert isinstance(new.thresholds(), AdaptiveThresholds)


@pytest.mark.parametrize("fix", FIXES)
def test_each_fix_alone_changes_only_its_own_hooks(fix):
    on = hooks.hooks_for(OLD.with_fix(fix))
    assert set(on.providers.values()) == {fix}
    assert set(on.providers) == set(fixes.MODULES[fix].HOOKS)


def test_two_fixes_on_one_hook_are_refused(monkeypatch):
    monkeypatch.setitem(fixes.MODULES["long_lookback"].HOOKS, "position_size", lambda p, config: p)
    hooks.hooks_for.cache_clear()
    try:
        with pytest.raises(ValueError, match="both implement the 'position_size' hook"):
            hooks.hooks_for(OLD.with_fixes("long_lookback", "confidence_sizing"))
    finally:
        hooks.hooks_for.cache_clear()


def test_descriptions_have_one_home_in_the_fix_modules():
    assert list(fixes.DESCRIPTIONS) == list(FIXES)
    for name, module in fixes.MODULES.items():
        assert fixes.DESCRIPTIONS[name] == (module.PROBLEM, module.CHANGE)
        assert fixes.describe(name) == module.CHANGE and fixes.problem(name) == module.PROBLEM
    assert "30-day → 252-day" in fixes.describe("long_lookback")  # from the config defaults
    with pytest.raises(ValueError, match="Did you mean 'long_lookback'"):
        fixes.describe("long_lookbak")


# ---------------------------------------------------------------- labels


ALL_CONFIGS = [
    OLD.with_fixes(*(f for f, on in zip(FIXES, switches, strict=True) if on))
    for switches in itertools.product([False, True], repeat=len(FIXES))
]


@pytest.mark.parametrize("config", ALL_CONFIGS, ids=[c.label for c in ALL_CONFIGS])
def test_from_label_round_trips(config):
    assert RetrainConfig.from_label(config.label) == config


def test_from_label_examples_and_errors():
    assert RetrainConfig.from_label("OLD") == OLD and RetrainConfig.from_label("NEW") == NEW
    assert RetrainConfig.from_label("OLD+long_lookback") == OLD.with_fix("long_lookback")
    assert RetrainConfig.from_label("NEW-regime_awareness") == NEW.without_fix("regime_awareness")
    two = RetrainConfig.from_label("OLD+feedback_loop+long_lookback")
    assert two.fixes == ("feedback_loop", "long_lookback")
    with pytest.raises(ValueError, match="Did you mean 'long_lookback'"):
        RetrainConfig.from_label("OLD+long_lokback")
    with pytest.raises(ValueError, match="start with 'OLD' or 'NEW'"):
        RetrainConfig.from_label("MID+long_lookback")
    with pytest.raises(ValueError, match="non-default protocol"):
        RetrainConfig.from_label("OLD*")
    with pytest.raises(ValueError, match="names a fix twice"):
        RetrainConfig.from_label("OLD+long_lookback+long_lookback")


def test_execution_lag_is_part_of_the_protocol():
    assert OLD.execution_lag == 1 and NEW.execution_lag == 1
    assert OLD.label == "OLD" and NEW.label == "NEW"
    assert OLD.replace(execution_lag=0).label == "OLD*"
    assert OLD.replace(execution_lag=0).key() != OLD.key()
    for bad in (-1, 0.5, True):
        with pytest.raises(ValueError, match="execution_lag"):
            OLD.replace(execution_lag=bad)


# ---------------------------------------------------------------- structure


def _engine_files() -> list[Path]:
    return sorted(ENGINE.rglob("*.py"))


def test_no_import_inside_a_function_in_the_engine():
    hidden = []
    for path in _engine_files():
        tree = ast.parse(path.read_text())
        top = {id(node) for node in tree.body}
        hidden += [
            f"{path.relative_to(PACKAGE)}:{node.lineno}"
            for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in top
        ]
    assert hidden == []


def test_no_engine_file_over_500_lines():
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in _engine_files()
        if (n := len(p.read_text().splitlines())) > 500
    }
    assert long == {}


def test_no_code_outside_the_fixes_and_the_config_asks_which_fix_is_on():
    """``config.<fix>`` / ``getattr(config, "<fix>")`` only in engine/fixes and engine/config."""
    pattern = re.compile(
        r"(?<!fixes)\.("
        + "|".join(FIXES)
        + r")\b(?!\s*import)|getattr\([^)]*[\"']("
        + "|".join(FIXES)
        + r")[\"']"
    )
    offenders = []
    for folder in ("engine", "live/training.py", "research/bench.py"):
        for path in (
            sorted((PACKAGE / folder).rglob("*.py"))
            if (PACKAGE / folder).is_dir()
            else [PACKAGE / folder]
        ):
            relative = path.relative_to(PACKAGE).as_posix()
            if relative.startswith("engine/fixes/") or relative == "engine/config.py":
                continue
            for i, line in enumerate(path.read_text().splitlines(), 1):
                code = line.split("#")[0]
                if pattern.search(code) and not code.lstrip().startswith(("from ", "import ")):
                    offenders.append(f"{relative}:{i}: {line.strip()}")
    assert offenders == []


def test_one_home_for_regimes_minimum_history_and_real_markets():
    assert market.REGIMES is regimes.REGIMES is rl.REGIMES
    assert prices.DEFAULT_MIN_ROWS == regime_awareness.REGIME_HISTORY == features.MIN_HISTORY
    assert set(prices.REAL_MARKETS) == {"sp500", "nasdaq"}
    assert regimes.regime_names(np.array([0, -1])).tolist() == ["bull", None]


@pytest.mark.parametrize("config", [OLD, NEW], ids=["OLD", "NEW"])
def test_retrain_set_is_the_walk_forwards_last_refit(config):
    """live.training.retrain_set + engine.training.fit on a market's histories and the run's
    own closed trades give the walk-forward's last model, bit for bit (one code path)."""
    market = rl.generate_market(seed=4, n_days=61 + 21 * 6, n_tickers=3)  # last row: a refit
    result = rl.walk_forward(market, config)
    last = market.dates[-1]
    outcomes = [o for o in result.trade_outcomes() if o.exit_time < last]
    _, samples = retrain_set(as_histories(market), outcomes, config)
    assert samples.n_market == result.fits.iloc[-1]["n_market"]
    assert samples.n_feedback == result.fits.iloc[-1]["n_feedback"]
    logit = fit(samples, config)[-1]
    np.testing.assert_array_equal(
        np.append(logit.coef_[0], logit.intercept_[0]), result.coefficients.iloc[-1].to_numpy()
    )


def test_the_regime_design_gives_its_gram_to_the_logistic_solver_only():
    aware = OLD.with_fix("regime_awareness")
    X = regime_design(np.ones((6, 11)), np.array([0, 1, 2, 3, -1, 0]))
    mean, scale = X.mean(axis=0), np.ones(X.shape[1])
    assert isinstance(hooks.hooks_for(aware).design_gram(X, mean, scale), RegimeGram)
    boosted = aware.replace(model="gradient_boosting")  # no Newton solver, another design
    assert hooks.hooks_for(boosted).design_gram(X, mean, scale) is None
