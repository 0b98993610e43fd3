"""The production facade: signals, trade feedback, retraining, persistence and concurrency.

Every test runs against its own temporary state directory. Markets are small (a few hundred
days, 2-3 tickers) so the whole file stays fast.
"""

from __future__ import annotations

import collections
import json
import os
import pickle
import re
import subprocess
import sys
import textwrap
import threading
import zipfile

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from scipy import stats
from sklearn.dummy import DummyClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

import retrainlab as rl
from live_markets import predictable_market
from retrainlab.engine.config import NEW, OLD
from retrainlab.engine.features import MIN_HISTORY, compute_features
from retrainlab.engine.fixes.confidence_sizing import confidence
from retrainlab.engine.fixes.feedback_loop import TradeOutcome
from retrainlab.engine.fixes.regime_awareness import detect_regimes
from retrainlab.engine.model import design_matrix
from retrainlab.live.facade import ENV_STATE_DIR, KEEP_MODELS, MLIntegration, NotAStateDatabase
from retrainlab.live.inputs import Bars, as_bars, as_histories
from retrainlab.live.models import TRUSTED_TYPES, save_model_file
from retrainlab.live.records import SIGNALS, momentum_probability
from retrainlab.live.serving import prune

H = NEW.horizon


def _db_count(ml, table):
    return ml.store.count(table)


def _trade_loop(ml, market, days, size=1000.0):
    """Signals on each ticker's history up to T, and a trade held T -> T+h when not neutral."""
    n = 0
    for t in days:
        for j, symbol in enumerate(market.tickers):
            sig = ml.signal(symbol, market.ohlcv(j).iloc[: t + 1])
            if sig.signal != "neutral":
                ml.record_trade(
                    symbol, sig.signal, market.close[t, j], market.close[t + H, j], size
                )
                n += 1
    return n


@pytest.fixture(scope="module")
def trained(tmp_path_factory, market):
    """A state directory with fallback signals, their trades and one retrain (read-only: tests
    that write work on a copy, ``_copy_state``)."""
    path = tmp_path_factory.mktemp("trained")
    with MLIntegration(path, config=NEW) as ml:
        n_trades = _trade_loop(ml, market, range(70, 300, 5))
        report = ml.trigger_retraining()
    return path, n_trades, report


# ----------------------------------------------------------------------------- price data


def test_as_bars_accepts_frames_dicts_and_series(market):
    frame = market.ohlcv(0)
    bars = as_bars(frame, "X")
    assert bars.dates.equals(market.dates)
    np.testing.assert_array_equal(bars.close, market.close[:, 0])
    np.testing.assert_array_equal(bars.volume, market.volume[:, 0])

    undated = as_bars({"Close": [10.0, 11.0, 10.5], "volume": [5, 6, 7]})
    assert undated.dates is None
    np.testing.assert_array_equal(undated.open, [10.0, 11.0, 10.5])  # open = close
    np.testing.assert_array_equal(undated.high, undated.close)
    np.testing.assert_array_equal(undated.volume, [5.0, 6.0, 7.0])

    only_close = as_bars(pd.DataFrame({"close": [3.0, 4.0]}))
    np.testing.assert_array_equal(only_close.volume, [1.0, 1.0])  # volume = 1 when missing
    series = as_bars(pd.Series([1.0, 2.0, 3.0], index=pd.date_range("2024-01-01", periods=3)))
    assert series.n == 3 and series.dates is not None

    # open given: high/low are the envelope of open and close
    filled = as_bars({"open": [10.0, 12.0], "close": [11.0, 11.5]})
    np.testing.assert_array_equal(filled.high, [11.0, 12.0])
    np.testing.assert_array_equal(filled.low, [10.0, 11.5])


@pytest.mark.parametrize(
    "price_data, error, match",
    [
        (pd.DataFrame({"close": []}), ValueError, "empty price history"),
        ({"close": []}, ValueError, "empty price history"),
        ({"close": [1.0, np.nan, 2.0]}, ValueError, "'close' has missing \\(NaN\\) prices.*row 1"),
        ({"close": [1.0, -2.0]}, ValueError, "non-positive prices"),
        ({"close": [1.0, 0.0]}, ValueError, "non-positive prices"),
        ({"close": [1.0, np.inf]}, ValueError, "infinite prices"),
        ({"close": [1.0, 2.0], "volume": [1.0, -5.0]}, ValueError, "negative or infinite"),
        ({"close": [1.0, 2.0], "high": [0.5, 2.0]}, ValueError, "inconsistent bars"),
        ({"clsoe": [1.0, 2.0]}, ValueError, "unknown key 'clsoe'. Did you mean 'close'"),
        ({"open": [1.0, 2.0]}, ValueError, "missing 'close'"),
        ({"close": [1.0, 2.0], "open": [1.0]}, ValueError, "different lengths"),
        ({"close": [[1.0, 2.0]]}, ValueError, "must be 1-D"),
        ({"close": ["a", "b"]}, ValueError, "not numeric"),
        (
            pd.DataFrame({"close": [1.0, np.nan]}, index=pd.date_range("2024-01-01", periods=2)),
            ValueError,
            "missing \\(NaN\\) prices",
        ),
        (
            pd.DataFrame({"close": [1.0, 2.0]}, index=pd.to_datetime(["2024-01-02", "2024-01-01"])),
            ValueError,
            "not sorted",
        ),
        ([1.0, 2.0, 3.0], TypeError, "DataFrame of OHLCV bars or a dict of arrays"),
        (np.array([1.0, 2.0]), TypeError, "DataFrame of OHLCV bars or a dict of arrays"),
    ],
)
def test_bad_price_data_is_refused(price_data, error, match):
    with pytest.raises(error, match=match):
        as_bars(price_data, "AAPL")


def test_as_histories(market):
    histories = as_histories(market)
    assert list(histories) == list(market.tickers)
    np.testing.assert_array_equal(histories["SYN01"].close, market.close[:, 1])
    from_dict = as_histories({"A": market.ohlcv(0), "B": {"close": market.close[:, 1]}})
    assert from_dict["B"].dates is None
    with pytest.raises(ValueError, match="looks like one price history"):
        as_histories({"close": market.close[:, 0]})
    with pytest.raises(ValueError, match="no symbols"):
        as_histories({})
    broken = market.replace_prices(
        close=np.where(np.arange(320)[:, None] == 7, np.nan, market.close)
    )
    with pytest.raises(ValueError, match="ticker 'SYN00'.*NaN"):
        as_histories(broken)


def test_bars_parquet_round_trip_is_exact(market):
    for bars in (as_bars(market.ohlcv(2), "S"), as_bars({"close": market.close[:50, 0]})):
        back = Bars.from_parquet_bytes(bars.to_parquet_bytes())
        assert back.digest() == bars.digest()
        for f in ("open", "high", "low", "close", "volume"):
            assert getattr(back, f).tobytes() == getattr(bars, f).tobytes()


# ----------------------------------------------------------------------------- fallback


def test_momentum_probability_is_phi_of_the_t_statistic():
    close = np.exp(np.cumsum(np.random.default_rng(3).normal(0.002, 0.01, 40)))
    r = np.diff(np.log(close[-21:]))
    t = stats.ttest_1samp(r, 0.0).statistic
    assert momentum_probability(close) == pytest.approx(stats.norm.cdf(t), rel=1e-12)
    assert momentum_probability(np.array([5.0])) == 0.5
    assert momentum_probability(np.array([5.0, 5.0, 5.0])) == 0.5
    assert momentum_probability(np.array([1.0, 2.0, 4.0, 8.0])) == 1.0  # steady growth


def test_fallback_serves_without_a_model_and_is_logged(ml, market):
    frame = market.ohlcv(0).iloc[:120]
    signal, p, conf = ml.get_signal("SYN00", frame)
    assert signal in SIGNALS
    assert p == momentum_probability(frame["close"].to_numpy())
    assert conf == pytest.approx(confidence(p))
    expected = "long" if p > 0.55 else "short" if p < 0.45 else "neutral"
    assert signal == expected
    row = ml.store.recent_predictions(1)[0]
    assert (row["source"], row["reason"], row["signal"]) == ("fallback", "no trained model", signal)
    stats_ = ml.get_stats()
    assert stats_["fallback_served"] and stats_["last_source"] == "fallback"
    assert not stats_["model_loaded"]


def test_fallback_serves_when_history_is_too_short(trained, market, tmp_path):
    _copy_state(trained[0], tmp_path / "copy")
    with MLIntegration(tmp_path / "copy") as ml:
        assert ml.model is not None
        short = ml.signal("SYN01", market.ohlcv(1).iloc[: MIN_HISTORY - 1])
        long_enough = ml.signal("SYN01", market.ohlcv(1).iloc[:MIN_HISTORY])
    assert short.source == "fallback" and "too little data" in short.reason
    assert long_enough.source == "model"


# ----------------------------------------------------------------------------- trades


def test_record_trade_takes_the_latest_prediction(ml, market):
    first = ml.signal("SYN00", market.ohlcv(0).iloc[:100])
    ml.signal("SYN01", market.ohlcv(1).iloc[:150])  # another symbol: not matched
    latest = ml.signal("SYN00", market.ohlcv(0).iloc[:130])
    outcome = ml.record_trade("SYN00", "Short", entry=100.0, exit_price=90.0, size=500)
    expected = compute_features(
        *(
            market.ohlcv(0).iloc[:130][f].to_numpy()
            for f in ("open", "high", "low", "close", "volume")
        )
    )[-1]
    np.testing.assert_array_equal(outcome.features, expected)
    assert outcome.probability == latest.probability != first.probability
    assert outcome.confidence == latest.confidence
    assert outcome.regime == latest.regime
    assert outcome.direction == "short" and outcome.label == 0  # the underlying fell
    assert outcome.pnl_pct == pytest.approx(0.1)  # a profitable short
    stored = ml.outcomes()
    assert len(stored) == 1
    np.testing.assert_array_equal(stored[0].features, expected)
    assert stored[0].exit_time == outcome.exit_time


def test_record_trade_with_entry_time_before_any_prediction_is_unmatched(ml, market):
    ml.signal("SYN00", market.ohlcv(0).iloc[:100])
    outcome = ml.record_trade(
        "SYN00", "long", 10.0, 11.0, 1.0, entry_time="2001-01-01", exit_time="2001-01-05"
    )
    assert outcome.features is None and np.isnan(outcome.probability)
    assert outcome.entry_time == pd.Timestamp("2001-01-01")
    # a trade for a symbol never signalled is stored too, without features
    assert ml.record_trade("ZZZ", "long", 10.0, 11.0, 1.0).features is None
    assert _db_count(ml, "trades") == 2


@pytest.mark.parametrize(
    "args, kwargs, error, match",
    [
        (("AAPL", "buy", 100.0, 101.0, 1.0), {}, ValueError, "unknown trade direction 'buy'"),
        (("AAPL", "lnog", 100.0, 101.0, 1.0), {}, ValueError, "Did you mean 'long'"),
        (("AAPL", None, 100.0, 101.0, 1.0), {}, TypeError, "direction"),
        (("AAPL", "long", 0.0, 101.0, 1.0), {}, ValueError, "entry must be > 0"),
        (("AAPL", "long", -5.0, 101.0, 1.0), {}, ValueError, "entry must be > 0"),
        (("AAPL", "long", float("nan"), 101.0, 1.0), {}, ValueError, "entry must be a finite"),
        (("AAPL", "long", 100.0, float("inf"), 1.0), {}, ValueError, "exit_price must be a finite"),
        (("AAPL", "long", 100.0, float("nan"), 1.0), {}, ValueError, "exit_price must be a finite"),
        (("AAPL", "long", 100.0, 101.0, 0.0), {}, ValueError, "size must be > 0"),
        (("AAPL", "long", 100.0, 101.0, -1.0), {}, ValueError, "size must be > 0"),
        (("AAPL", "long", 100.0, 101.0, float("nan")), {}, ValueError, "size must be a finite"),
        (("AAPL", "long", "100", 101.0, 1.0), {}, TypeError, "entry must be a number"),
        (("AAPL", "long", True, 101.0, 1.0), {}, TypeError, "entry must be a number"),
        ((123, "long", 100.0, 101.0, 1.0), {}, TypeError, "symbol must be a string"),
        ((None, "long", 100.0, 101.0, 1.0), {}, TypeError, "symbol must be a string"),
        (("", "long", 100.0, 101.0, 1.0), {}, ValueError, "non-empty"),
        ((" AAPL", "long", 100.0, 101.0, 1.0), {}, ValueError, "spaces"),
        (
            ("AAPL", "long", 100.0, 101.0, 1.0),
            {"entry_time": "2024-02-01", "exit_time": "2024-01-01"},
            ValueError,
            "after exit_time",
        ),
        (
            ("AAPL", "long", 100.0, 101.0, 1.0),
            {"exit_time": "not a time"},
            ValueError,
            "exit_time must be a date/time",
        ),
    ],
)
def test_bad_trade_is_refused_and_stores_nothing(ml, args, kwargs, error, match):
    with pytest.raises(error, match=match):
        ml.record_trade(*args, **kwargs)
    assert _db_count(ml, "trades") == 0


@pytest.mark.parametrize(
    "symbol, price_data, error",
    [
        (42, {"close": [1.0, 2.0]}, TypeError),
        (("AAPL",), {"close": [1.0, 2.0]}, TypeError),
        ("AAPL", {"close": []}, ValueError),
        ("AAPL", {"close": [1.0, float("nan")]}, ValueError),
        ("AAPL", pd.DataFrame(), ValueError),
        ("AAPL", None, TypeError),
    ],
)
def test_bad_signal_request_stores_nothing(ml, symbol, price_data, error):
    with pytest.raises(error):
        ml.get_signal(symbol, price_data)
    assert _db_count(ml, "predictions") == 0 and _db_count(ml, "prices") == 0


def test_record_outcome_validates(ml):
    good = TradeOutcome(
        "A",
        "long",
        10.0,
        11.0,
        2.0,
        pd.Timestamp("2020-01-01"),
        pd.Timestamp("2020-01-06"),
        features=np.arange(11.0),
        regime=1,
        probability=0.6,
        confidence=0.3,
    )
    stored = ml.record_outcome(good)
    assert stored.entry_time == good.entry_time and stored.regime == 1
    with pytest.raises(ValueError, match="finite"):
        ml.record_outcome(TradeOutcome("A", "long", 10.0, 11.0, features=np.full(11, np.nan)))
    with pytest.raises(ValueError, match="size must be > 0"):
        ml.record_outcome(TradeOutcome("A", "long", 10.0, 11.0, size=0.0))
    with pytest.raises(TypeError):
        ml.record_outcome({"symbol": "A"})
    assert _db_count(ml, "trades") == 1


# ----------------------------------------------------------------------------- retraining


def test_retrain_without_data_says_why(ml):
    report = ml.trigger_retraining()
    assert not report and not report.ok and not report.promoted and report.version is None
    assert "no price histories" in report.reason and "get_signal" in report.reason
    assert ml.model is None
    row = ml.store.retrains()[-1]
    assert row["status"] == "failed" and "no price histories" in row["reason"]
    assert ml.get_stats()["last_retrain"]["status"] == "failed"


def test_retrain_on_too_little_data_says_why(ml, market):
    report = ml.trigger_retraining({"SYN00": market.ohlcv(0).iloc[:70]})
    assert not report.ok and "cannot fit" in report.reason
    assert ml.model is None


def test_bad_retrain_input_is_refused_before_anything_is_stored(ml, market):
    with pytest.raises(ValueError, match="NaN"):
        ml.trigger_retraining({"SYN00": {"close": [1.0, float("nan")]}})
    with pytest.raises(TypeError, match="Market"):
        ml.trigger_retraining([1, 2, 3])
    assert _db_count(ml, "retrains") == 0


@pytest.mark.parametrize("config", [OLD, NEW.without_fix("feedback_loop"), NEW])
def test_retrain_trains_exactly_the_walk_forward_model(tmp_path, config):
    """At a refit date R the walk-forward and the facade fit the same model, bit for bit: same
    samples (window, purge, order), weights, feedback outcomes and fit."""
    n_days = 61 + 21 * 6  # the last row is a refit date
    market = predictable_market(seed=4, n_days=n_days, n_tickers=3)
    result = rl.walk_forward(market, config)
    last_fit = result.fits.iloc[-1]
    assert last_fit["date"] == market.dates[-1] and last_fit["fitted"]
    with MLIntegration(tmp_path, config=config) as ml:
        if config.feedback_loop:  # the walk-forward's own closed trades, imported
            for outcome in result.trade_outcomes():
                if outcome.exit_time < market.dates[-1]:
                    ml.record_outcome(outcome)
        report = ml.trigger_retraining(market)
        assert report.promoted, report.reason
        logit = ml.model[-1]
    assert report.n_market == last_fit["n_market"]
    assert report.n_feedback == last_fit["n_feedback"]
    if config.feedback_loop:
        assert report.n_feedback > 0
    mine = np.append(logit.coef_[0], logit.intercept_[0])
    np.testing.assert_array_equal(mine, result.coefficients.iloc[-1].to_numpy())


def test_retrain_report_and_feedback_changes_the_model(trained, tmp_path):
    path, n_trades, report = trained
    assert report.ok and bool(report) and report.version == 1
    assert n_trades > 20
    assert report.n_outcomes == n_trades
    assert report.n_feedback == n_trades  # every trade matched a prediction with features
    assert report.n_samples == report.n_market + report.n_feedback
    assert report.symbols == ("SYN00", "SYN01", "SYN02")
    v = report.validation
    assert v["n_test"] > 0 and v["n_train"] > 0 and v["holdout_rows"] >= 1
    for key in ("log_loss", "accuracy", "auc", "base_rate", "baseline_log_loss"):
        assert np.isfinite(v[key])
    assert 0 <= v["accuracy"] <= 1 and 0 <= v["auc"] <= 1
    json.dumps(report.to_dict(), allow_nan=False)  # JSON-safe

    # the same histories without the outcomes give a different model: the feedback was used
    with MLIntegration(path) as ml:
        histories, model = ml.histories(), ml.model
    with MLIntegration(tmp_path / "other", config=NEW) as other:
        plain = other.trigger_retraining(histories)
        assert plain.ok and plain.n_feedback == 0 and plain.n_market == report.n_market
        assert not np.array_equal(other.model[-1].coef_, model[-1].coef_)


def test_old_config_ignores_outcomes_and_says_so(tmp_path, market):
    with MLIntegration(tmp_path, config=OLD) as ml:
        _trade_loop(ml, market, range(70, 200, 10))
        report = ml.trigger_retraining()
    assert report.ok and report.n_feedback == 0
    assert any("feedback_loop is off" in note for note in report.notes)


def test_validation_is_purged_and_out_of_sample(tmp_path, market):
    """The hold-out rows come after every training row by at least the horizon."""
    from retrainlab.live.training import HOLDOUT_FRACTION, market_samples

    histories = as_histories(market)
    samples = market_samples(histories, NEW)
    with MLIntegration(tmp_path, config=NEW) as ml:
        v = ml.trigger_retraining(market).validation
    rows = np.unique(samples.rel)
    m = max(1, round(HOLDOUT_FRACTION * rows.size))
    assert v["holdout_rows"] == m
    assert v["n_test"] == int(np.sum(samples.rel >= rows[-m]))
    assert v["n_train"] == int(np.sum(samples.rel + H <= rows[-m]))
    assert v["n_train"] + v["n_test"] + (H - 1) * market.n_tickers == len(samples.y)


# ----------------------------------------------------------------------------- thresholds


def test_adaptive_thresholds_follow_logged_model_probabilities(trained, market, tmp_path):
    path, _, _ = trained
    target = tmp_path / "copy"
    _copy_state(path, target)
    with MLIntegration(target) as ml:
        assert ml.thresholds == (0.55, 0.45)  # base, until 50 model probabilities
        for t in range(250, 270):
            for j, symbol in enumerate(market.tickers):
                ml.signal(symbol, market.ohlcv(j).iloc[: t + 1])
        rows = ml.store.query(
            "SELECT probability, long_threshold, short_threshold FROM "
            "predictions WHERE source = 'model' ORDER BY id"
        )
        probs = np.array([r["probability"] for r in rows])
        assert probs.size == 60

        def expected(history):
            lo, hi = np.quantile(history, [0.35, 0.65])
            return float(np.clip(hi, 0.4, 0.6)), float(np.clip(lo, 0.4, 0.6))

        assert ml.thresholds == expected(probs)
        assert ml.thresholds != (0.55, 0.45)
        # each signal was classified with the thresholds of the probabilities before it
        last = rows[-1]
        assert (last["long_threshold"], last["short_threshold"]) == expected(probs[:-1])
        thresholds = ml.thresholds
    with MLIntegration(target) as again:
        assert again.thresholds == thresholds


def _copy_state(source, target):
    """Copy a state directory (database through SQLite's backup API, and the model files)."""
    import shutil
    import sqlite3

    target.mkdir(parents=True)
    src = sqlite3.connect(source / "state.db")
    dst = sqlite3.connect(target / "state.db")
    src.backup(dst)
    src.close()
    dst.close()
    shutil.copytree(source / "models", target / "models")


# ----------------------------------------------------------------------------- model files


def test_model_file_is_skops_with_only_expected_types(trained):
    path, _, _ = trained
    files = sorted((path / "models").iterdir())
    assert [f.name for f in files] == ["model-000001.skops"]  # no temp file left behind
    assert zipfile.is_zipfile(files[0])
    with zipfile.ZipFile(files[0]) as z:
        assert "schema.json" in z.namelist()
    assert set(sio.get_untrusted_types(file=files[0])) <= set(TRUSTED_TYPES)


def _serves_fallback_saying(target, market, match):
    """The state directory opens; the fallback serves and says why (stats, prediction log)."""
    with MLIntegration(target) as ml:
        assert ml.model is None and ml.model_version is None
        assert re.search(match, ml.serving_note)
        sig = ml.signal("SYN00", market.ohlcv(0).iloc[:200])
        stats_ = ml.get_stats()
        n = ml.record_trade("SYN00", "long", 100.0, 101.0, 1.0)  # the state still works
    assert sig.source == "fallback" and re.search(match, sig.reason)
    assert stats_["model_pointer"] == 1 and stats_["model_version"] is None
    assert re.search(match, stats_["serving_note"]) and "fallback" in stats_["serving_note"]
    assert n.features is not None


def test_model_file_with_foreign_types_is_refused(trained, tmp_path, market):
    path, _, _ = trained
    target = tmp_path / "copy"
    _copy_state(path, target)
    model_file = target / "models" / "model-000001.skops"
    payload = sio.load(model_file, trusted=list(TRUSTED_TYPES))
    payload["extra"] = collections.Counter("abc")
    save_model_file(model_file, payload)
    _serves_fallback_saying(target, market, "holds types this facade never writes: collections")


def test_any_other_sklearn_estimator_is_refused(trained, tmp_path, market):
    """Issue 11 item 6: skops trusts many scikit-learn types by default; the facade does not."""
    path, _, _ = trained
    target = tmp_path / "copy"
    _copy_state(path, target)
    model_file = target / "models" / "model-000001.skops"
    payload = sio.load(model_file, trusted=list(TRUSTED_TYPES))
    X = np.random.default_rng(0).normal(size=(20, payload["model"].n_features_in_))
    payload["model"] = Pipeline(
        [("scaler", FunctionTransformer()), ("logit", DummyClassifier())]
    ).fit(X, np.arange(20) % 2)
    save_model_file(model_file, payload)
    _serves_fallback_saying(target, market, "FunctionTransformer|DummyClassifier")


class _Trap:
    """Unpickling this creates a marker file: proof that a file was unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_pickle_in_place_of_the_model_is_never_unpickled(trained, tmp_path, market):
    path, _, _ = trained
    target = tmp_path / "copy"
    _copy_state(path, target)
    marker = tmp_path / "unpickled"
    (target / "models" / "model-000001.skops").write_bytes(pickle.dumps(_Trap(marker)))
    _serves_fallback_saying(target, market, "not a readable skops file")
    assert not marker.exists()


def test_missing_model_file_never_stops_the_state_from_opening(trained, tmp_path, market):
    path, _, _ = trained
    target = tmp_path / "copy"
    _copy_state(path, target)
    (target / "models" / "model-000001.skops").unlink()
    _serves_fallback_saying(target, market, "cannot be loaded.*No such file")


def test_old_model_files_are_pruned_but_never_the_served_one_or_the_one_before(tmp_path, market):
    with MLIntegration(tmp_path, config=OLD) as ml:
        for _ in range(KEEP_MODELS + 2):
            assert ml.trigger_retraining(market).promoted
        names = sorted(f.name for f in (tmp_path / "models").iterdir())
        assert names == [f"model-{v:06d}.skops" for v in range(3, 6)]  # the KEEP_MODELS newest
        assert ml.model_version == 5
        # pruning with keep=0 still keeps the served model and the one promoted before it
        prune(tmp_path / "models", ml.store, keep=0)
        names = sorted(f.name for f in (tmp_path / "models").iterdir())
        assert names == ["model-000004.skops", "model-000005.skops"]


# ----------------------------------------------------------------------------- state directory


def test_config_is_bound_to_the_state_directory(tmp_path):
    MLIntegration(tmp_path, config=OLD).close()
    with MLIntegration(tmp_path) as ml:
        assert ml.config == OLD
    with pytest.raises(ValueError, match="belongs to config OLD.*not NEW"):
        MLIntegration(tmp_path, config=NEW)


def test_foreign_database_in_state_dir_is_refused(tmp_path):
    db = tmp_path / "state.db"
    db.write_text("date,close\n2024-01-01,1\n")
    with pytest.raises(NotAStateDatabase, match="not a retrainlab state database"):
        MLIntegration(tmp_path)
    assert db.read_text() == "date,close\n2024-01-01,1\n"


def test_price_histories_are_stored_only_when_changed(ml, market):
    ml.get_signal("SYN00", market.ohlcv(0).iloc[:100])
    stamp = ml.store.prices()[0]["updated_at"]
    ml.get_signal("SYN00", market.ohlcv(0).iloc[:100])
    assert ml.store.prices()[0]["updated_at"] == stamp
    ml.get_signal("SYN00", market.ohlcv(0).iloc[:120])
    ml.get_signal("SYN01", {"close": market.close[:80, 1]})
    histories = ml.histories()
    assert list(histories) == ["SYN00", "SYN01"]
    assert histories["SYN00"].dates.equals(market.dates[:120])
    assert histories["SYN01"].dates is None
    assert histories["SYN01"].close.tobytes() == market.close[:80, 1].tobytes()


def test_stats(ml, market):
    ml.get_signal("SYN00", market.ohlcv(0).iloc[:100])
    ml.get_signal("SYN01", market.ohlcv(1).iloc[:100])
    ml.record_trade("SYN00", "long", 100.0, 110.0, 10.0)  # +10 %, P&L 1.0
    ml.record_trade("SYN00", "short", 100.0, 90.0, 5.0)  # +10 %, P&L 0.5
    ml.record_trade("SYN01", "long", 100.0, 95.0, 2.0)  # -5 %, P&L -0.1
    s = ml.get_stats()
    assert s["n_trades"] == 3 and s["n_predictions"] == 2
    assert s["win_rate"] == pytest.approx(2 / 3)
    assert s["pnl"] == pytest.approx(1.4)
    assert s["profit_factor"] == pytest.approx(0.2 / 0.05)
    assert s["last_100"]["n"] == 2 and s["last_100"]["fallback"] == 2
    assert sum(s["last_100"][k] for k in SIGNALS) == 2
    assert s["thresholds"]["long"] == 0.55 and s["thresholds"]["adaptive"]
    assert s["model_loaded"] is False and s["last_retrain"] is None
    assert s["symbols"] == ["SYN00", "SYN01"]
    json.dumps(s, allow_nan=False)


# ----------------------------------------------------------------------------- shared instance


def test_get_instance_is_shared_and_uses_the_environment(tmp_path, monkeypatch, market):
    monkeypatch.setenv(ENV_STATE_DIR, str(tmp_path / "env"))
    MLIntegration.reset_instance()
    try:
        got = []
        threads = [
            threading.Thread(target=lambda: got.append(MLIntegration.get_instance()))
            for _ in range(8)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len({id(x) for x in got}) == 1
        assert got[0].state_dir == tmp_path / "env"
        with pytest.raises(ValueError, match="reset_instance"):
            MLIntegration.get_instance(tmp_path / "elsewhere")
        # the module-level functions of the published example, on the shared instance
        signal, prob, conf = rl.get_ml_signal("SYN00", market.ohlcv(0).iloc[:100])
        assert signal in SIGNALS and 0 <= prob <= 1 and 0 <= conf <= 1
        rl.record_trade("SYN00", "long", entry=150.0, exit_price=155.0, size=10000)
        stats_ = rl.get_ml_stats()
        assert stats_["n_trades"] == 1 and stats_["pnl"] == pytest.approx(10000 * 5 / 150)
        report = MLIntegration.get_instance().trigger_retraining()  # as published
        assert report.ok and report.n_market == 100 - MIN_HISTORY - H + 1
        assert report.n_feedback == 1
        assert rl.trigger_retraining().version == 2
    finally:
        MLIntegration.reset_instance()


# ----------------------------------------------------------------------------- end to end


def test_end_to_end_signals_trades_retrain_and_new_signal(trained, market, tmp_path):
    path, n_trades, report = trained
    assert report.n_feedback == n_trades > 0
    data = market.ohlcv(2).iloc[:310]
    _copy_state(path, tmp_path / "copy")
    with MLIntegration(tmp_path / "copy") as ml:
        sig = ml.signal("SYN02", data)
        assert sig.source == "model" and sig.model_version == report.version
        # the probability is the new model's, computed independently with sklearn
        bars = [data[f].to_numpy() for f in ("open", "high", "low", "close", "volume")]
        x = design_matrix(compute_features(*bars)[-1:], detect_regimes(bars[3])[-1:], NEW)
        model = sio.load(path / "models" / "model-000001.skops", trusted=list(TRUSTED_TYPES))[
            "model"
        ]
        assert sig.probability == pytest.approx(model.predict_proba(x)[0, 1], abs=1e-12)
        assert sig.probability != momentum_probability(bars[3])  # not the fallback's
        assert sig.confidence == pytest.approx(confidence(sig.probability))
        stats_ = ml.get_stats()
    assert stats_["model_loaded"] and stats_["model_version"] == 1
    assert stats_["model_validation"]["log_loss"] == pytest.approx(
        report.validation["log_loss"], rel=1e-15
    )
    assert stats_["last_source"] == "model"
    assert stats_["n_trades"] == n_trades


# ----------------------------------------------------------------------------- restart


_RESTART = textwrap.dedent("""
    import json, sys
    import pandas as pd
    from retrainlab.live.facade import MLIntegration
    with MLIntegration(sys.argv[1]) as ml:
        out = {"thresholds": list(ml.thresholds), "version": ml.model_version,
               "config": ml.config.label,
               "outcomes": [o.to_dict() for o in ml.outcomes()]}
        out["probability"] = ml.signal("SYN00", pd.read_parquet(sys.argv[2])).probability
    print(json.dumps(out, default=str))
""")


def _outcome_dicts(outcomes):
    return json.loads(json.dumps([o.to_dict() for o in outcomes], default=str))


def test_new_process_continues_where_the_last_stopped(trained, market, tmp_path):
    path, _, _ = trained
    target = tmp_path / "copy"
    _copy_state(path, target)
    data = market.ohlcv(0).iloc[:300]
    data.to_parquet(tmp_path / "prices.parquet")
    with MLIntegration(target) as ml:
        for t in range(250, 270):  # enough model signals to move the adaptive thresholds
            for j, symbol in enumerate(market.tickers):
                ml.signal(symbol, market.ohlcv(j).iloc[: t + 1])
        thresholds = ml.thresholds
        outcomes = _outcome_dicts(ml.outcomes())
        version = ml.model_version
    assert thresholds != (0.55, 0.45)
    done = subprocess.run(
        [sys.executable, "-c", _RESTART, str(target), str(tmp_path / "prices.parquet")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    got = json.loads(done.stdout)
    assert tuple(got["thresholds"]) == thresholds
    assert got["version"] == version == 1 and got["config"] == "NEW"
    assert got["outcomes"] == outcomes
    with MLIntegration(target) as ml:  # the same signal here gives the same probability
        assert ml.signal("SYN00", data).probability == got["probability"]


# ----------------------------------------------------------------------------- concurrency


def test_eight_threads_lose_no_row(ml, market):
    frame = market.ohlcv(0).iloc[:100]
    barrier = threading.Barrier(8)
    errors = []

    def work(i):
        try:
            barrier.wait()
            for k in range(500):
                ml.record_trade(
                    f"S{i}", "long" if k % 2 else "short", 100.0 + k % 7, 101.0, 1.0 + k
                )
                if k % 50 == 0:
                    ml.get_signal(f"S{i}", frame)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert _db_count(ml, "trades") == 8 * 500
    assert _db_count(ml, "predictions") == 8 * 10
    rows = ml.store.query(
        "SELECT symbol, COUNT(*) AS n, SUM(size) AS s FROM trades GROUP BY symbol"
    )
    assert {r["symbol"]: (r["n"], r["s"]) for r in rows} == {
        f"S{i}": (500, sum(1.0 + k for k in range(500))) for i in range(8)
    }
    assert ml.store.integrity_check() == "ok"


_WORKER = textwrap.dedent("""
    import pathlib, sys, time
    import pandas as pd
    from retrainlab.live.facade import MLIntegration
    state, name, prices, retrain, sync = sys.argv[1:6]
    frame = pd.read_parquet(prices)
    with MLIntegration(state) as ml:
        pathlib.Path(sync, "ready-" + name).touch()
        while not pathlib.Path(sync, "go").exists():  # start writing together
            time.sleep(0.005)
        for k in range(1000):
            ml.record_trade(name, "long" if k % 2 else "short", 100.0, 99.0 + k % 5, 1.0)
            if k % 50 == 0:
                ml.get_signal(name, frame)
            if retrain == "yes" and k == 500:
                assert ml.trigger_retraining().ok
""")


def test_two_processes_share_one_state_directory(tmp_path, market):
    """Two processes write trades and predictions at once, one of them retrains meanwhile."""
    import time

    state, sync = tmp_path / "state", tmp_path / "sync"
    sync.mkdir()
    MLIntegration(state, config=OLD).close()
    market.ohlcv(0).iloc[:200].to_parquet(tmp_path / "prices.parquet")
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _WORKER,
                str(state),
                name,
                str(tmp_path / "prices.parquet"),
                retrain,
                str(sync),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        for name, retrain in (("A", "yes"), ("B", "no"))
    ]
    deadline = time.monotonic() + 120
    while not all((sync / f"ready-{n}").exists() for n in "AB"):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), [
            p.communicate()[1] for p in procs if p.poll() is not None
        ]
        time.sleep(0.01)
    (sync / "go").touch()
    for p in procs:
        _, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
    with MLIntegration(state) as ml:
        assert ml.store.integrity_check() == "ok"
        counts = dict(ml.store.query("SELECT symbol, COUNT(*) FROM trades GROUP BY symbol"))
        assert counts == {"A": 1000, "B": 1000}
        assert _db_count(ml, "predictions") == 40
        assert ml.model_version == 1 and ml.model is not None
        assert ml.get_stats()["last_retrain"]["status"] == "ok"
