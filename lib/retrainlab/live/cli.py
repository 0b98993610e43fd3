"""Operator commands for the production facade (JSON on stdout)::

    python -m retrainlab signal --prices AAPL.csv [--symbol AAPL] [--state-dir DIR]
    python -m retrainlab record-trade --symbol AAPL --direction long --entry 150 --exit 155 \\
        --size 10000 [--entry-time T] [--exit-time T] [--state-dir DIR]
    python -m retrainlab retrain [--prices FILE ...] [--state-dir DIR]
    python -m retrainlab stats [--state-dir DIR]

The same calls as the Python API (``retrainlab.integration.MLIntegration``), on the state
directory ``--state-dir``, else ``$RETRAINLAB_STATE_DIR``, else the user data folder.

Price files are CSV (``.csv``, ``.csv.gz``) or Parquet (``.parquet``, ``.pq``) with a ``close``
column (``open``, ``high``, ``low``, ``volume``, ``date`` optional, names case-insensitive).
A file with a ``ticker`` or ``symbol`` column holds several symbols; otherwise its symbol is
``--symbol`` or the file name up to the first dot (``AAPL.csv`` -> ``AAPL``).

A command on a state directory without ``state.db`` is refused (a mistyped ``--state-dir``
never starts a silent new state); ``--create`` starts one.

Exit status: 0 done (a retrain whose model was not promoted included: its report says why);
1 a retrain that could not run (its report, with the reason, is still printed); 2 bad input or
a state directory that cannot be used (one line on stderr, nothing stored).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from retrainlab.common.jsonio import jsonable
from retrainlab.common.names import one_line, suggest
from retrainlab.engine.bars import TICKER_COLUMNS
from retrainlab.engine.prices import read_price_file
from retrainlab.live.errors import StateError
from retrainlab.live.facade import MLIntegration

COMMANDS: tuple[str, ...] = ("signal", "record-trade", "retrain", "stats")


def symbol_frames(path: str | Path) -> dict[str, pd.DataFrame]:
    """``{symbol: frame}`` from one price file read by ``engine.prices.read_price_file``
    (several symbols if it has a ``ticker``/``symbol`` column, else one named after the file)."""
    path = Path(path)
    frame = read_price_file(path)
    ticker = next((c for c in frame.columns if str(c).strip().lower() in TICKER_COLUMNS), None)
    if ticker is None:
        return {path.name.split(".")[0]: frame}
    if frame[ticker].isna().any():
        raise ValueError(f"{path}: column {str(ticker)!r} has a missing symbol")
    body = frame.drop(columns=ticker)
    return {
        str(symbol): part.reset_index(drop=True)
        for symbol, part in body.groupby(frame[ticker].astype(str), sort=False)
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m retrainlab", description="Production facade: signals, trades, retraining."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.add_argument(
            "--state-dir",
            default=None,
            help="state directory (default: $RETRAINLAB_STATE_DIR or the user data folder)",
        )
        p.add_argument(
            "--create",
            action="store_true",
            help="start a new state if the state directory holds none (else: an error)",
        )
        return p

    p = add("signal", "a signal for one symbol's price file (JSON out)")
    p.add_argument("--prices", required=True, help="CSV or Parquet file of the symbol's bars")
    p.add_argument(
        "--symbol",
        default=None,
        help="symbol (default: the file name; required to pick one symbol of a multi-symbol file)",
    )

    p = add("record-trade", "record a closed trade (JSON out)")
    p.add_argument("--symbol", required=True)
    p.add_argument("--direction", required=True, help="long or short")
    p.add_argument("--entry", required=True, type=float, help="entry price")
    p.add_argument("--exit", required=True, type=float, dest="exit_price", help="exit price")
    p.add_argument("--size", required=True, type=float, help="position notional (> 0)")
    p.add_argument("--entry-time", default=None, help="ISO time (UTC if no zone)")
    p.add_argument("--exit-time", default=None, help="ISO time (UTC if no zone; default now)")

    p = add("retrain", "retrain on price files (or the stored histories) plus recorded trades")
    p.add_argument(
        "--prices",
        nargs="+",
        default=None,
        metavar="FILE",
        help="CSV or Parquet files (default: the histories stored by 'signal')",
    )

    add("stats", "model, thresholds, trades and predictions (JSON)")
    return parser


def _one_symbol(
    frames: dict[str, pd.DataFrame], symbol: str | None, path: str
) -> tuple[str, pd.DataFrame]:
    if len(frames) == 1:
        ((name, frame),) = frames.items()
        return symbol or name, frame
    if symbol is None:
        raise ValueError(
            f"{path} holds {len(frames)} symbols ({', '.join(frames)}); pick one with --symbol"
        )
    if symbol not in frames:
        raise ValueError(
            f"{path} has no symbol {symbol!r}.{suggest(symbol, frames)} Symbols: "
            f"{', '.join(frames)}"
        )
    return symbol, frames[symbol]


def _run(args: argparse.Namespace) -> tuple[Any, int]:
    if args.command == "signal":  # read the file before touching the state directory
        symbol, frame = _one_symbol(symbol_frames(args.prices), args.symbol, args.prices)
    elif args.command == "retrain" and args.prices:
        histories: dict[str, pd.DataFrame] = {}
        for path in args.prices:
            for symbol, frame in symbol_frames(path).items():
                if symbol in histories:
                    raise ValueError(f"symbol {symbol!r} appears in more than one price file")
                histories[symbol] = frame
    with MLIntegration(args.state_dir, create=args.create) as ml:
        if args.command == "signal":
            return ml.signal(symbol, frame).to_dict(), 0
        if args.command == "record-trade":
            outcome = ml.record_trade(
                args.symbol,
                args.direction,
                args.entry,
                args.exit_price,
                args.size,
                entry_time=args.entry_time,
                exit_time=args.exit_time,
            )
            out = outcome.to_dict()
            out.update(
                pnl_pct=outcome.pnl_pct,
                label=outcome.label,
                matched_prediction=not math.isnan(outcome.probability),
            )
            return out, 0
        if args.command == "retrain":
            report = ml.trigger_retraining(histories if args.prices else None)
            return report.to_dict(), 0 if report.ok else 1
        return ml.get_stats(), 0


def main(argv: list[str] | None = None) -> int:
    """Run one facade command (``argv[0]`` in ``COMMANDS``); print JSON; return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2), already printed
        return int(exc.code or 0)
    try:
        result, code = _run(args)
    except (StateError, ValueError, TypeError, OSError) as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug: still one line, never a traceback
        print(f"error: unexpected failure, please report it: {exc!r}", file=sys.stderr)
        return 1 if args.command == "retrain" else 2
    print(json.dumps(jsonable(result), indent=2, allow_nan=False))
    return code


if __name__ == "__main__":
    sys.exit(main())
