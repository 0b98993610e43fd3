"""The facade's operator CLI: ``python -m retrainlab signal|record-trade|retrain|stats``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from live_markets import predictable_market
from retrainlab.__main__ import main as dispatch
from retrainlab.live.cli import main, symbol_frames
from retrainlab.live.facade import MLIntegration


@pytest.fixture(scope="module")
def market():
    return predictable_market(seed=5, n_days=200, n_tickers=2)


@pytest.fixture
def files(tmp_path, market):
    """One CSV per ticker (dates in a column) and one long Parquet file with both."""
    for j, ticker in enumerate(market.tickers):
        market.ohlcv(j).to_csv(tmp_path / f"{ticker}.csv", index_label="date")
    market.to_long().to_parquet(tmp_path / "all.parquet")
    return tmp_path


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def test_signal_record_retrain_stats(capsys, files, tmp_path, market):
    state = str(tmp_path / "state")
    code, out, _ = run(
        capsys, "signal", "--prices", str(files / "SYN00.csv"), "--state-dir", state, "--create"
    )
    assert code == 0
    assert out["symbol"] == "SYN00" and out["signal"] in ("long", "short", "neutral")
    assert out["source"] == "fallback" and out["n_bars"] == 200

    code, out, _ = run(
        capsys,
        "record-trade",
        "--symbol",
        "SYN00",
        "--direction",
        "short",
        "--entry",
        "100",
        "--exit",
        "95",
        "--size",
        "1000",
        "--exit-time",
        "2024-01-02T10:00:00+01:00",
        "--state-dir",
        state,
    )
    assert code == 0
    assert out["matched_prediction"] and len(out["features"]) == 11
    assert out["pnl_pct"] == pytest.approx(0.05) and out["label"] == 0
    assert out["exit_time"] == "2024-01-02T09:00:00"  # stored in UTC

    code, out, _ = run(capsys, "retrain", "--state-dir", state)  # the history stored above
    assert code == 0 and out["ok"] and out["version"] == 1
    assert out["symbols"] == ["SYN00"] and out["n_feedback"] == 1

    code, out, _ = run(
        capsys, "retrain", "--prices", str(files / "all.parquet"), "--state-dir", state
    )
    assert code == 0 and out["symbols"] == ["SYN00", "SYN01"] and out["version"] == 2

    code, out, _ = run(capsys, "stats", "--state-dir", state)
    assert code == 0
    assert out["model_version"] == 2 and out["n_trades"] == 1 and out["n_predictions"] == 1
    assert out["pnl"] == pytest.approx(50.0)

    code, out, _ = run(
        capsys,
        "signal",
        "--prices",
        str(files / "all.parquet"),
        "--symbol",
        "SYN01",
        "--state-dir",
        state,
    )
    assert code == 0 and out["source"] == "model" and out["model_version"] == 2
    with MLIntegration(state) as ml:  # the CLI used the same state as the API
        assert ml.get_stats()["n_predictions"] == 2


def test_retrain_that_cannot_run_exits_1_with_the_reason(capsys, tmp_path):
    code, out, _ = run(capsys, "retrain", "--state-dir", str(tmp_path), "--create")
    assert code == 1 and not out["ok"] and "no price histories" in out["reason"]


@pytest.mark.parametrize(
    "argv, match",
    [
        (
            [
                "record-trade",
                "--symbol",
                "A",
                "--direction",
                "lnog",
                "--entry",
                "1",
                "--exit",
                "2",
                "--size",
                "1",
            ],
            "Did you mean 'long'",
        ),
        (
            [
                "record-trade",
                "--symbol",
                "A",
                "--direction",
                "long",
                "--entry",
                "-1",
                "--exit",
                "2",
                "--size",
                "1",
            ],
            "entry must be > 0",
        ),
        (
            [
                "record-trade",
                "--symbol",
                "A",
                "--direction",
                "long",
                "--entry",
                "nan",
                "--exit",
                "2",
                "--size",
                "1",
            ],
            "entry must be a finite",
        ),
        (
            [
                "record-trade",
                "--symbol",
                "A",
                "--direction",
                "long",
                "--entry",
                "1",
                "--exit",
                "2",
                "--size",
                "0",
            ],
            "size must be > 0",
        ),
        (["signal", "--prices", "all.parquet"], "holds 2 symbols.*--symbol"),
        (["signal", "--prices", "all.parquet", "--symbol", "SYN0"], "no symbol 'SYN0'"),
        (["signal", "--prices", "missing.csv"], "does not exist"),
        (["signal", "--prices", "notes.txt"], "expected a .csv"),
        (["retrain", "--prices", "SYN00.csv", "SYN00.csv"], "more than one price file"),
    ],
)
def test_bad_input_exits_2_and_stores_nothing(capsys, files, tmp_path, monkeypatch, argv, match):
    monkeypatch.chdir(files)
    (files / "notes.txt").write_text("hello")
    state = tmp_path / "state"
    code, out, err = run(capsys, *argv, "--state-dir", str(state), "--create")
    assert code == 2 and out is None
    assert err.startswith("error: ") and re.search(match, err)
    if (state / "state.db").exists():
        with MLIntegration(state) as ml:
            stats = ml.get_stats()
        assert stats["n_trades"] == stats["n_predictions"] == stats["n_retrains"] == 0


def test_bad_price_file_content_is_refused(capsys, tmp_path):
    path = tmp_path / "X.csv"
    path.write_text("date,close\n2024-01-01,10\n2024-01-02,-3\n")
    code, _, err = run(
        capsys, "signal", "--prices", str(path), "--state-dir", str(tmp_path / "s"), "--create"
    )
    assert code == 2 and "non-positive prices" in err


def test_foreign_state_database_is_refused(capsys, tmp_path):
    (tmp_path / "state.db").write_bytes(b"not a database at all")
    code, _, err = run(capsys, "stats", "--state-dir", str(tmp_path))
    assert code == 2 and "not a retrainlab state database" in err
    assert (tmp_path / "state.db").read_bytes() == b"not a database at all"


def test_usage_errors(capsys):
    assert main(["record-trade", "--symbol", "A"]) == 2  # argparse: missing options
    assert "required" in capsys.readouterr().err
    assert main(["stats", "--help"]) == 0


def test_read_price_file_variants(tmp_path, market):
    frame = market.ohlcv(0)
    frame.to_csv(tmp_path / "A.B.csv")  # unnamed date index column
    ((symbol, got),) = symbol_frames(tmp_path / "A.B.csv").items()
    assert symbol == "A" and "date" in got.columns
    frame.reset_index(drop=True).to_csv(tmp_path / "C.csv")  # unnamed row-number column
    ((_, got),) = symbol_frames(tmp_path / "C.csv").items()
    assert list(got.columns) == ["open", "high", "low", "close", "volume"]
    long = symbol_frames(_write(market.to_long(), tmp_path / "long.parquet"))
    assert list(long) == list(market.tickers)
    np.testing.assert_array_equal(long["SYN01"]["close"], market.close[:, 1])


def _write(frame, path):
    frame.to_parquet(path)
    return path


def test_dispatcher_runs_the_cli(tmp_path, monkeypatch, capsys):
    """``python -m retrainlab stats`` reaches this CLI and honours $RETRAINLAB_STATE_DIR; a
    state directory that does not exist is an error (one line, exit 2), never a new state."""
    env = {**os.environ, "RETRAINLAB_STATE_DIR": str(tmp_path / "env")}
    missing = subprocess.run(
        [sys.executable, "-m", "retrainlab", "stats"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert missing.returncode == 2 and missing.stdout == ""
    assert missing.stderr.count("\n") == 1 and "does not exist" in missing.stderr
    assert not (tmp_path / "env").exists()
    monkeypatch.setenv("RETRAINLAB_STATE_DIR", str(tmp_path / "env"))
    assert dispatch(["stats", "--create"]) == 0  # the same dispatcher, in this process
    out = json.loads(capsys.readouterr().out)
    assert out["state_dir"] == str(tmp_path / "env") and out["model_loaded"] is False
