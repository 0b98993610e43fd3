"""Command line: ``python -m retrainlab <command> [options]`` (``--help`` on each command)."""

from __future__ import annotations

import importlib
import sys

from retrainlab.common.names import suggest

# command -> (module, one-line help). Each module defines ``main(argv: list[str]) -> int``.
COMMANDS: dict[str, tuple[str, str]] = {
    "replicate": (
        "published.replication",
        "reproduce the published validation run (table or --json)",
    ),
    "render-report": ("research.render", "render an executed report notebook to HTML and Markdown"),
    "evaluate": (
        "research.evaluation",
        "evaluate systems and buy and hold on your prices (CIs, blocks)",
    ),
    "run-notebook": (
        "research.run_notebook",
        "execute a notebook with papermill, then tidy it (one process)",
    ),
    "tidy-notebook": (
        "research.runlog",
        "move an executed notebook's timings to the (ignored) run log",
    ),
    "compare-results": (
        "research.runlog",
        "compare a run's results files with the committed ones",
    ),
    "bench": ("research.bench", "time walk_forward (the hot path) and print the figures"),
    "signal": ("live.cli", "facade: a signal for one symbol's price file (JSON out)"),
    "record-trade": ("live.cli", "facade: record a closed trade (JSON out)"),
    "retrain": ("live.cli", "facade: retrain on price files plus recorded trades"),
    "stats": ("live.cli", "facade: model, thresholds, trades and predictions (JSON)"),
}


def _usage() -> str:
    lines = ["usage: python -m retrainlab <command> [options]", "", "commands:"]
    lines += [f"  {name:<14} {help_}" for name, (_, help_) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:  # no command: usage on stderr, a usage error
        print(_usage(), file=sys.stderr)
        return 2
    if argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(
            f"unknown command {command!r}.{suggest(command, COMMANDS)}\n\n{_usage()}",
            file=sys.stderr,
        )
        return 2
    # nbformat imports jsonschema, whose optional IRI format checker (rfc3987_syntax) builds a
    # parser at import: 0.9 s in every command that reads a notebook, for a format no notebook
    # schema uses. The commands do without it: jsonschema expects the import to fail and skips
    # that checker.
    sys.modules.setdefault("rfc3987_syntax", None)
    module = importlib.import_module(f"retrainlab.{COMMANDS[command][0]}")
    if COMMANDS[command][0] in ("live.cli", "research.runlog"):
        return module.main([command, *rest])
    return module.main(rest)


if __name__ == "__main__":
    sys.exit(main())
