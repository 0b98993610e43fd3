"""The skfolio S&P 500 panel as a close-only Market (retrainlab.engine.real_equities)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from retrainlab.engine import real_equities
from retrainlab.engine.features import FEATURE_NAMES
from retrainlab.engine.real_equities import (
    ABSENT_FIELDS,
    CLOSE_ONLY_MISSING,
    SP500_TICKERS,
    load_sp500_panel,
    sp500_prices,
)


@pytest.fixture(scope="module")
def panel():
    return load_sp500_panel()


def test_panel_shape_dates_and_tickers(panel):
    assert panel.close.shape == (8313, 20)
    assert panel.tickers == SP500_TICKERS
    assert str(panel.dates[0].date()) == "1990-01-02"
    assert str(panel.dates[-1].date()) == "2022-12-28"
    assert panel.dates.is_monotonic_increasing and not panel.dates.has_duplicates
    assert np.all(np.isfinite(panel.close)) and np.all(panel.close > 0)
    raw = sp500_prices()
    np.testing.assert_array_equal(panel.close, raw.to_numpy(dtype=float))


def test_absent_fields_are_nan_not_constants(panel):
    assert panel.params["absent"] == list(ABSENT_FIELDS)
    for name in ABSENT_FIELDS:
        assert np.isnan(getattr(panel, name)).all(), name


def test_missing_features_are_exactly_those_using_absent_fields():
    assert set(CLOSE_ONLY_MISSING) <= set(FEATURE_NAMES)
    assert {f for fields in CLOSE_ONLY_MISSING.values() for f in fields} <= set(ABSENT_FIELDS)


def test_subset_and_dates():
    m = load_sp500_panel(["MSFT", "KO"], start="2000-01-01", end="2000-12-31")
    assert m.tickers == ("MSFT", "KO")
    assert m.dates[0].year == 2000 and m.dates[-1].year == 2000
    assert m.params["start"].startswith("2000-01")


def test_bad_selection_errors():
    with pytest.raises(ValueError, match="MSFT"):
        load_sp500_panel(["MSFTT"])
    with pytest.raises(ValueError, match="no dates"):
        load_sp500_panel(start="2030-01-01")
    with pytest.raises(ValueError, match="twice"):
        load_sp500_panel(["KO", "KO"])


def test_stale_quotes_in_rrc_are_as_documented():
    close = sp500_prices()["RRC"].to_numpy()
    unchanged = np.diff(close) == 0
    assert unchanged[:2000].mean() == pytest.approx(0.45, abs=0.01)
    assert unchanged.mean() == pytest.approx(0.13, abs=0.01)


def test_engine_drops_features_that_read_absent_fields():
    import retrainlab as rl
    from retrainlab.engine.features import FEATURE_NAMES, compute_features, usable_features

    m = load_sp500_panel(["MSFT", "KO"], start="2001-01-01", end="2002-06-30")
    assert m.absent_fields == ABSENT_FIELDS
    names = usable_features(m.absent_fields)
    assert set(FEATURE_NAMES) - set(names) == set(CLOSE_ONLY_MISSING)
    f = compute_features(m.open, m.high, m.low, m.close, m.volume, absent=m.absent_fields)
    for j, name in enumerate(FEATURE_NAMES):
        assert np.isnan(f[..., j]).all() == (name in CLOSE_ONLY_MISSING), name
    with pytest.raises(ValueError, match="NaN"):
        compute_features(m.open, m.high, m.low, m.close, m.volume)  # absent not declared
    for config in (rl.OLD, rl.NEW):
        r = rl.walk_forward(m, config)
        base = [c for c in r.coefficients.columns if c in FEATURE_NAMES]
        assert base == list(names)
        assert not any(x in c for c in r.coefficients.columns for x in CLOSE_ONLY_MISSING)
        assert np.isfinite(r.returns).all() and r.metrics["n_fits"] > 0


def test_close_only_csv_marks_filled_fields_absent(tmp_path):
    import retrainlab as rl

    m = load_sp500_panel(["MSFT"], start="2001-01-01", end="2001-12-31")
    path = tmp_path / "msft.csv"
    pd.DataFrame({"date": m.dates, "close": m.close[:, 0]}).to_csv(path, index=False)
    loaded = rl.load_prices(path)
    assert set(loaded.absent_fields) == {"open", "high", "low", "volume"}


def test_the_panel_is_skfolio_s_own_data_read_without_importing_skfolio():
    # the same frame as skfolio's loader, bit for bit, from a process that never imports it
    from skfolio.datasets import load_sp500_dataset

    pd.testing.assert_frame_equal(sp500_prices(), load_sp500_dataset(), check_exact=True)
    code = (
        "import sys; from retrainlab.engine import real_equities as r; r.load_sp500_panel(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('skfolio', 'cvxpy')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_missing_skfolio_is_named_with_its_fix(monkeypatch):
    monkeypatch.setattr(real_equities.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match=r"retrainlab\[equities\]"):
        sp500_prices()
