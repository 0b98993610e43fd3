"""Tests of the regime-detector diagnostics: hand-checked confusion counts, lags and censoring."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from retrainlab import regime_diagnostics as rd  # noqa: E402
from retrainlab import regime_figures as rf  # noqa: E402
from retrainlab import study_data as sd  # noqa: E402
from retrainlab.engine.fixes.regime_awareness import detect_regimes  # noqa: E402
from retrainlab.engine.market import REGIMES, Market  # noqa: E402
from retrainlab.engine.synthetic import generate_market  # noqa: E402
from retrainlab.research.experiments import MarketSpec  # noqa: E402

BULL, BEAR, VOLATILE, SIDEWAYS = range(4)
U = -1


# --------------------------------------------------------------------------- as_codes
def test_as_codes_accepts_names_codes_and_none():
    assert rd.as_codes(["bull", None, "sideways", float("nan")]).tolist() == [0, -1, 3, -1]
    assert rd.as_codes(np.array([[2, -1]])).tolist() == [[2, -1]]
    frame = pd.DataFrame({"A": ["bear", None], "B": ["volatile", "bull"]})
    assert rd.as_codes(frame).tolist() == [[1, 2], [-1, 0]]


@pytest.mark.parametrize("bad", [["bul"], [4], [-2], [True]])
def test_as_codes_refuses_unknown_regimes(bad):
    with pytest.raises(ValueError, match="regime|booleans"):
        rd.as_codes(np.array(bad))


def test_seed_range_checks_counts():
    assert sd.seed_range(3, 2) == range(3, 5)
    with pytest.raises(ValueError, match="seeds must be an integer >= 1"):
        sd.seed_range(0, 0)
    with pytest.raises(ValueError, match="first_seed"):
        sd.seed_range(-1, 2)
    with pytest.raises(ValueError, match="seeds"):
        sd.seed_range(0, 2.0)


def test_check_seed_in_names_the_range():
    assert sd.check_seed_in(4, range(3, 5)) == 4
    with pytest.raises(
        ValueError, match=r"figures_seed=5 is not one of the generated seeds 3\.\.4"
    ):
        sd.check_seed_in(5, range(3, 5))


# --------------------------------------------------------------------------- confusion matrix
def test_confusion_matrix_hand_checked():
    true = ["bull", "bull", "bear", "bear", "volatile", "sideways"]
    detected = np.array(
        [[U, BULL], [BULL, BULL], [BULL, BEAR], [BEAR, BEAR], [SIDEWAYS, VOLATILE], [SIDEWAYS, U]]
    )
    counts = rd.confusion_matrix(true, detected, include_undefined=True)
    expected = pd.DataFrame(0, index=list(REGIMES), columns=[*REGIMES, "undefined"])
    expected.loc["bull", "bull"] = 3
    expected.loc["bull", "undefined"] = 1
    expected.loc["bear", "bull"] = 1
    expected.loc["bear", "bear"] = 3
    expected.loc["volatile", "sideways"] = 1
    expected.loc["volatile", "volatile"] = 1
    expected.loc["sideways", "sideways"] = 1
    expected.loc["sideways", "undefined"] = 1
    assert counts.to_numpy().tolist() == expected.to_numpy().tolist()
    assert counts.index.name == "true" and counts.columns.name == "detected"
    # undefined detections are left out by default
    plain = rd.confusion_matrix(true, detected)
    assert list(plain.columns) == list(REGIMES)
    assert int(plain.to_numpy().sum()) == 10

    shares = rd.row_normalize(plain)
    assert shares.loc["bull", "bull"] == 1.0
    assert shares.loc["bear"].tolist() == [0.25, 0.75, 0.0, 0.0]
    summary = rd.confusion_summary(plain)
    assert summary["n"] == 10
    assert summary["accuracy"] == pytest.approx(8 / 10)
    assert summary["recall"]["volatile"] == 0.5
    assert summary["precision"]["bull"] == pytest.approx(3 / 4)
    assert summary["precision"]["sideways"] == pytest.approx(1 / 2)
    # chance: row totals (3, 4, 2, 1) x column totals (4, 3, 1, 2) / 10**2
    assert summary["chance_accuracy"] == pytest.approx((12 + 12 + 2 + 2) / 100)
    scores = rd.detector_scores({"a": plain})
    assert scores.loc["a", "accuracy"] == pytest.approx(0.8)
    assert scores.loc["a", "recall bear"] == 0.75 and scores.loc["a", "n"] == 10


def test_confusion_matrix_pools_by_addition_and_handles_empty_rows():
    a = rd.confusion_matrix(["bull", "bull"], [BULL, BEAR])
    b = rd.confusion_matrix(["bull", "bear"], [BULL, BEAR])
    pooled = a + b
    assert pooled.loc["bull", "bull"] == 2 and pooled.loc["bull", "bear"] == 1
    shares = rd.row_normalize(pooled)
    assert shares.loc["volatile"].isna().all()
    assert shares.loc["bull"].sum() == pytest.approx(1.0)


def test_confusion_matrix_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="n_days=3"):
        rd.confusion_matrix(["bull"] * 3, np.zeros((4, 2), dtype=int))
    with pytest.raises(ValueError, match="1-D"):
        rd.confusion_matrix(np.zeros((3, 2), dtype=int), np.zeros((3, 2), dtype=int))


# --------------------------------------------------------------------------- detection lag
# true path: bull x3, bear x4 (days 3-6), volatile x2 (days 7-8), bull x2 (days 9-10, to the end)
TRUE = np.array([BULL] * 3 + [BEAR] * 4 + [VOLATILE] * 2 + [BULL] * 2)
DETECTED = np.array(
    [
        # ticker A: bear seen 2 days late; volatile never (regime ended); bull never (series ended)
        # ticker B: bear on the switch day; volatile after 1 day; bull on day 10 (lag 1)
        # ticker C: undefined on day 3 (switch skipped), then like B for volatile; bull at once
        [U, U, U],
        [U, U, U],
        [BULL, BULL, U],
        [BULL, BEAR, U],  # day 3: switch to bear
        [SIDEWAYS, BEAR, U],
        [BEAR, BEAR, BEAR],  # A detects bear: lag 2
        [BEAR, SIDEWAYS, BEAR],
        [BEAR, BEAR, BEAR],  # day 7: switch to volatile
        [SIDEWAYS, VOLATILE, VOLATILE],
        [VOLATILE, SIDEWAYS, BULL],  # day 9: switch to bull; A's volatile comes too late
        [SIDEWAYS, BULL, BULL],
    ]
)


def test_detection_lag_hand_checked():
    lags = rd.detection_lag(TRUE, DETECTED, tickers=["A", "B", "C"])
    got = {
        (r.ticker, r.day): (
            r.from_regime,
            r.to_regime,
            r.spell_days,
            None if np.isnan(r.lag) else r.lag,
            r.detected,
            r.outcome,
        )
        for r in lags.itertuples()
    }
    assert got == {
        ("A", 3): ("bull", "bear", 4, 2.0, True, "detected"),
        ("B", 3): ("bull", "bear", 4, 0.0, True, "detected"),
        ("A", 7): ("bear", "volatile", 2, None, False, "regime_ended"),
        ("B", 7): ("bear", "volatile", 2, 1.0, True, "detected"),
        ("C", 7): ("bear", "volatile", 2, 1.0, True, "detected"),
        ("A", 9): ("volatile", "bull", 2, None, False, "series_ended"),
        ("B", 9): ("volatile", "bull", 2, 1.0, True, "detected"),
        ("C", 9): ("volatile", "bull", 2, 0.0, True, "detected"),
    }
    assert lags["day"].is_monotonic_increasing
    assert lags["lag"].dtype == np.float64 and lags["detected"].dtype == bool


def test_detection_lag_one_dimensional_and_dataframe_inputs():
    one = rd.detection_lag(TRUE, DETECTED[:, 0])
    assert one["ticker"].tolist() == [0, 0, 0]
    assert one["outcome"].tolist() == ["detected", "regime_ended", "series_ended"]
    frame = pd.DataFrame(DETECTED[:, :2], columns=["X", "Y"])
    named = rd.detection_lag([REGIMES[c] for c in TRUE], frame)
    assert set(named["ticker"]) == {"X", "Y"}
    assert len(named) == 6


def test_detection_lag_no_switch_gives_empty_frame():
    lags = rd.detection_lag([BULL] * 5, [BULL] * 5)
    assert lags.empty and list(lags.columns)[:3] == ["ticker", "day", "from_regime"]
    summary = rd.lag_summary(lags)
    assert summary["n_switches"].tolist() == [0, 0, 0, 0]
    assert summary["median_lag"].isna().all()


def test_lag_summary_and_kaplan_meier_hand_checked():
    # bull switches: detected after 0 and 2 days, one censored after a 1-day spell.
    lags = pd.DataFrame(
        {
            "ticker": [0, 0, 0],
            "day": [10, 20, 30],
            "from_regime": ["bear"] * 3,
            "to_regime": ["bull"] * 3,
            "spell_days": [5, 9, 1],
            "lag": [0.0, 2.0, np.nan],
            "detected": [True, True, False],
            "outcome": ["detected", "detected", "regime_ended"],
        }
    )
    curve = rd.detection_curve(lags, max_days=3)
    # x=0: 3 at risk, 1 event -> S=2/3; x=1: 1 at risk (censored left), 0 events;
    # x=2: 1 at risk, 1 event -> S=0.
    assert curve["bull"].tolist() == pytest.approx([1 / 3, 1 / 3, 1.0, 1.0])
    assert curve["bear"].isna().all()
    summary = rd.lag_summary(lags)
    row = summary.loc["bull"]
    assert row["n_switches"] == 3 and row["n_detected"] == 2
    assert row["share_detected"] == pytest.approx(2 / 3)
    assert row["n_regime_ended"] == 1 and row["n_series_ended"] == 0
    assert row["median_lag"] == 1.0
    assert row["km_median_lag"] == 2.0
    assert np.isnan(summary.loc["bear", "km_median_lag"])


def test_kaplan_meier_without_censoring_is_the_empirical_cdf():
    rng = np.random.default_rng(0)
    lag = rng.integers(0, 15, size=40).astype(float)
    lags = pd.DataFrame(
        {
            "ticker": 0,
            "day": np.arange(40),
            "from_regime": "bull",
            "to_regime": "sideways",
            "spell_days": lag.astype(int) + 30,
            "lag": lag,
            "detected": True,
            "outcome": "detected",
        }
    )
    curve = rd.detection_curve(lags, max_days=20)["sideways"].to_numpy()
    ecdf = np.array([np.mean(lag <= x) for x in range(21)])
    np.testing.assert_allclose(curve, ecdf, atol=1e-12)
    assert rd.lag_summary(lags).loc["sideways", "km_median_lag"] == float(
        np.flatnonzero(ecdf >= 0.5)[0]
    )


def test_detection_lag_agrees_with_the_real_detector_day_by_day():
    market = generate_market(seed=2, n_days=400, n_tickers=3)
    detected = detect_regimes(market.close)
    true = rd.as_codes(market.regimes)
    lags = rd.detection_lag(market.regimes, detected)
    assert len(lags) > 0
    for r in lags.itertuples():
        code = REGIMES.index(r.to_regime)
        spell = detected[r.day : r.day + r.spell_days, r.ticker]
        assert (true[r.day : r.day + r.spell_days] == code).all()
        if r.detected:
            assert spell[int(r.lag)] == code and not (spell[: int(r.lag)] == code).any()
        else:
            assert not (spell == code).any()
            assert (r.outcome == "series_ended") == (r.day + r.spell_days == market.n_days)


# --------------------------------------------------------------------------- returns per regime
def _tiny_market() -> Market:
    close = np.array([[100.0], [110.0], [99.0], [99.0]])
    dates = pd.bdate_range("2020-01-01", periods=4)
    return Market(
        dates,
        ("T",),
        close,
        close,
        close,
        close,
        np.ones_like(close),
        regimes=pd.Series(["bull", "bull", "bear", "bear"], index=dates),
        name="tiny",
        params={
            "edge": 0.5,
            "drift": [0.002, -0.002, 0.0, 0.001],
            "vol": [0.01, 0.02, 0.03, 0.004],
        },
    )


def test_regime_return_stats_hand_checked():
    stats = sd.regime_return_stats([_tiny_market(), _tiny_market()])
    # day 1 (bull): +10%; day 2 (bear): -10%; day 3 (bear): 0 -- twice
    assert stats.loc["bull", "n_obs"] == 2 and stats.loc["bear", "n_obs"] == 4
    assert stats.loc["bull", "drift_realised"] == pytest.approx(0.10)
    assert stats.loc["bear", "drift_realised"] == pytest.approx(-0.05)
    assert stats.loc["bull", "vol_realised"] == pytest.approx(0.0, abs=1e-12)
    assert stats.loc["bear", "vol_realised"] == pytest.approx(
        np.std([np.log(0.9), 0, np.log(0.9), 0], ddof=1)
    )
    assert stats.loc["bear", "drift_generator"] == pytest.approx(-0.001)
    assert stats["vol_generator"].tolist() == [0.01, 0.02, 0.03, 0.004]
    assert stats.loc["volatile", "n_obs"] == 0 and np.isnan(stats.loc["volatile", "drift_realised"])


def test_regime_return_stats_refuses_mixed_or_unparameterised_markets():
    m = _tiny_market()
    other = Market(
        m.dates,
        m.tickers,
        m.open,
        m.high,
        m.low,
        m.close,
        m.volume,
        regimes=m.regimes,
        name="other",
        params={**m.params, "edge": 1.0},
    )
    with pytest.raises(ValueError, match="one generator setting"):
        sd.regime_return_stats([m, other])
    bare = Market(
        m.dates, m.tickers, m.open, m.high, m.low, m.close, m.volume, regimes=m.regimes, name="bare"
    )
    with pytest.raises(ValueError, match="generator's parameters"):
        sd.regime_return_stats([bare])
    with pytest.raises(ValueError, match="at least one market"):
        sd.regime_return_stats([])


def test_regime_return_stats_recovers_the_generator_on_the_placebo():
    stats = sd.regime_return_stats(
        [generate_market(s, n_days=600, n_tickers=5, edge=0.0) for s in range(3)]
    )
    np.testing.assert_allclose(stats["vol_realised"], stats["vol_generator"], rtol=0.08)
    assert (stats["drift_realised"].abs() < 0.002).all()
    assert (stats["drift_generator"] == 0).all()


# --------------------------------------------------------------------------- the notebook's loop
def test_generate_markets_writes_both_twins_where_marketspec_reads(tmp_path):
    diag = sd.generate_markets(range(1, 3), 150, 2, 0.5, tmp_path, progress=False)
    expected = [MarketSpec(s, 150, 2, e).path(tmp_path) for s in (1, 2) for e in (0.5, 0.0)]
    assert diag.files == expected
    for s in (1, 2):
        for e in (0.5, 0.0):
            made = generate_market(s, n_days=150, n_tickers=2, edge=e)
            back = MarketSpec(s, 150, 2, e).build(tmp_path)
            np.testing.assert_array_equal(back.close, made.close)
            assert back.regimes.tolist() == made.regimes.tolist()
    # pooled confusion = sum of each market's own
    want = sum(
        rd.confusion_matrix(m.regimes, detect_regimes(m.close))
        for m in (generate_market(s, n_days=150, n_tickers=2, edge=0.5) for s in (1, 2))
    )
    pd.testing.assert_frame_equal(diag.confusion["edge"], want)
    assert set(diag.lags) == {"edge", "placebo"} and set(diag.lags["edge"]["seed"]) <= {1, 2}
    assert diag.oracle.index.tolist() == [1, 2]
    assert diag.oracle["placebo_h1"].isna().all()
    assert (diag.oracle["edge_h1"] > 0).all()
    summary = diag.summary()
    assert set(summary) == {"confusion", "detection_lag", "oracle_hit_rate", "regime_returns"}
    assert summary["confusion"]["edge"]["counts"]["bull"]["bull"] == int(want.loc["bull", "bull"])


def test_generate_markets_placebo_only_when_edge_is_zero(tmp_path):
    diag = sd.generate_markets([0], 120, 1, 0.0, tmp_path, progress=False)
    assert [p.name for p in diag.files] == ["seed0-placebo-120d-1t.parquet"]
    assert set(diag.confusion) == {"placebo"} and diag.primary == "placebo"
    assert diag.oracle["edge_h1"].isna().all()
    with pytest.raises(ValueError, match="edge"):
        sd.market_kinds(-1.0)
    with pytest.raises(ValueError, match="at least one seed"):
        sd.generate_markets([], 120, 1, 1.0, tmp_path, progress=False)


def test_edge_calls_score_about_half_on_the_placebo_twin(tmp_path):
    diag = sd.generate_markets(range(3), 500, 4, 1.0, tmp_path, progress=False)
    summary = sd.oracle_summary(diag.oracle)
    assert summary["edge_h1"]["mean"] > 0.53
    assert abs(summary["edge_calls_on_placebo_h1"]["mean"] - 0.5) < 0.02
    assert summary["placebo_h1"] == {"mean": None, "min": None, "max": None, "n_seeds": 0}


# --------------------------------------------------------------------------- figures
@pytest.fixture(scope="module")
def small_market():
    return generate_market(seed=5, n_days=250, n_tickers=4)


def test_plot_regimes_one_row_per_ticker(small_market):
    fig = rf.plot_regimes(small_market, tickers=["SYN01", 3])
    assert len(fig.axes) == 4
    assert fig.axes[0].get_ylabel() == "SYN01 close"
    assert len(fig.axes[0].patches) > 0 and len(fig.axes[1].patches) > 0
    plt.close(fig)
    with pytest.raises(ValueError, match="Did you mean 'SYN01'"):
        rf.plot_regimes(small_market, tickers=["SYN1"])
    with pytest.raises(ValueError, match="columns"):
        rf.plot_regimes(small_market, detected=np.zeros((250, 2), dtype=int))


def test_plot_confusion_and_lag_figures(small_market):
    detected = detect_regimes(small_market.close)
    counts = rd.confusion_matrix(small_market.regimes, detected)
    fig = rf.plot_confusion({"edge": counts, "again": counts})
    assert len([ax for ax in fig.axes if ax.get_xlabel() == "detected regime"]) == 2
    plt.close(fig)
    fig = rf.plot_detection_lag(rd.detection_lag(small_market.regimes, detected), max_days=30)
    assert len(fig.axes) == 2
    plt.close(fig)
