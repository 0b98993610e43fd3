"""``retrainlab run-notebook``: execute a notebook with papermill, then tidy it, in one process.

``make report`` runs thirteen notebooks. Each was two interpreter starts, the ``papermill``
command and then ``retrainlab tidy-notebook``, each importing papermill's and nbformat's stack
(~1.3 s apiece); one process does both. The arguments after ``--`` are papermill's own, parsed
by its command line (``-p name value`` types its values as papermill does).
"""

from __future__ import annotations

import argparse
import sys

import click
from papermill.cli import papermill as papermill_command
from papermill.exceptions import PapermillExecutionError

from retrainlab.research.runlog import tidy_notebook

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """``retrainlab run-notebook [--run-log F] -- INPUT OUTPUT [papermill options]``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    ours, papermill_args = (
        (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if ("--" in argv) else (argv, [])
    )
    parser = argparse.ArgumentParser(
        prog="retrainlab run-notebook",
        usage="retrainlab run-notebook [--run-log F] -- INPUT OUTPUT [papermill options]",
        description="Execute a notebook with papermill, then move its timings to the run log "
        "(tidy-notebook).",
    )
    parser.add_argument("--run-log", help="JSON run log the timings go to (not committed)")
    args = parser.parse_args(ours)
    if not papermill_args:
        parser.error("give papermill's arguments after --, e.g. -- in.ipynb out.ipynb -p seeds 5")
    try:
        context = papermill_command.make_context("papermill", papermill_args)
    except click.ClickException as exc:
        print(f"run-notebook: papermill's arguments: {exc.format_message()}", file=sys.stderr)
        return 2
    source, output = context.params["notebook_path"], context.params["output_path"]
    try:
        with context:
            papermill_command.invoke(context)
    except PapermillExecutionError as exc:
        # the executed copy holds the cell's traceback; one line here
        print(
            f"run-notebook: {source} failed in cell {exc.exec_count}: {exc.ename}: "
            f"{exc.evalue} (traceback in {output})",
            file=sys.stderr,
        )
        return 1
    except (OSError, ValueError, RuntimeError) as exc:  # no such notebook or kernel, bad JSON
        print(f"run-notebook: {source}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    tidy_notebook(output, args.run_log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
