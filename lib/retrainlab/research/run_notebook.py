"""``retrainlab run-notebook``: execute a notebook with papermill, then tidy it, in one process.

``make report`` runs thirteen notebooks. Each was two interpreter starts, the ``papermill``
command and then ``retrainlab tidy-notebook``, each importing papermill's and nbformat's stack
(~1.3 s apiece); one process does both. The arguments after ``--`` are papermill's own, parsed
by its command line (``-p name value`` types its values as papermill does).

The notebook runs on papermill's own engine (nbclient) with one setting changed: how long the
kernel is given to exit once the last cell has run (``KERNEL_EXIT_SECONDS``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

import click
from papermill.cli import papermill as papermill_command
from papermill.engines import NBClientEngine, papermill_engines
from papermill.exceptions import PapermillExecutionError
from traitlets.config import Config

from retrainlab.common.names import one_line
from retrainlab.research.runlog import tidy_notebook

__all__ = ["KERNEL_EXIT_SECONDS", "main"]

#: Seconds the kernel manager waits for the kernel to exit when asked, before SIGTERM (half of
#: it) and SIGKILL (the other half); jupyter_client's default is 5. A kernel whose sweeps started
#: joblib workers does not exit when asked: ipykernel first terminates its children and waits up
#: to 14 s for them, and the resource trackers those workers start ignore SIGTERM. So each such
#: notebook ended in 2.5 s of waiting with both cores idle (measured: after 06, after 05), then
#: papermill's SIGTERM. Half a second lets the kernel stop its workers; the outputs and results
#: files are written by then, and the trackers exit when the kernel does.
KERNEL_EXIT_SECONDS: float = 1.0


class _Engine(NBClientEngine):
    """papermill's nbclient engine, waiting ``KERNEL_EXIT_SECONDS`` for the kernel to exit."""

    @classmethod
    def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, **kwargs: Any) -> Any:
        exit_wait = Config({"KernelManager": {"shutdown_wait_time": KERNEL_EXIT_SECONDS}})
        return super().execute_managed_notebook(nb_man, kernel_name, config=exit_wait, **kwargs)


class _WithoutTracebacks(logging.Formatter):
    """Log records without their tracebacks: the kernel manager logs one when it cannot start a
    kernel, and a failure here ends in one line of its own."""

    def formatException(self, exc_info: object) -> str:  # logging's name
        return ""

    def formatStack(self, stack_info: str) -> str:  # logging's name
        return ""


def main(argv: list[str] | None = None) -> int:
    """``retrainlab run-notebook [--run-log F] -- INPUT OUTPUT [papermill options]``.

    Exit 0: executed and tidied; 1: the notebook failed (one line; the executed copy holds the
    cell's traceback) or could not be run; 2: bad arguments. A kernel that dies is papermill's
    own case: it prints the traceback and exits 138.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    split = argv.index("--") if "--" in argv else len(argv)
    ours, papermill_args = argv[:split], argv[split + 1 :]
    parser = argparse.ArgumentParser(
        prog="retrainlab run-notebook",
        usage="retrainlab run-notebook [--run-log F] -- INPUT OUTPUT [papermill options]",
        description="Execute a notebook with papermill, then move its timings to the run log "
        "(tidy-notebook).",
    )
    parser.add_argument("--run-log", help="JSON run log the timings go to (not committed)")
    try:
        args = parser.parse_args(ours)
        if not papermill_args:
            parser.error("give papermill's arguments after --, e.g. -- in.ipynb out.ipynb")
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2), already printed
        return int(exc.code or 0)
    try:
        context = papermill_command.make_context("papermill", papermill_args)
    except click.exceptions.Exit as exc:  # papermill's --help or --version, already printed
        return exc.exit_code
    except click.ClickException as exc:
        print(
            f"run-notebook: papermill's arguments: {one_line(exc.format_message())}",
            file=sys.stderr,
        )
        return 2
    source, output = context.params["notebook_path"], context.params["output_path"]
    if output in (None, "", "-"):
        print(
            "run-notebook: give papermill an output notebook path (the tidy step rewrites it), "
            "not stdout",
            file=sys.stderr,
        )
        return 2
    # before papermill's own logging.basicConfig, which then leaves these handlers alone
    handler = logging.StreamHandler()
    handler.setFormatter(_WithoutTracebacks("%(message)s"))
    logging.basicConfig(level=context.params["log_level"], handlers=[handler])
    papermill_engines.register(None, _Engine)  # the default engine, in this process only
    try:
        with context:
            papermill_command.invoke(context)
        tidy_notebook(output, args.run_log)
    except PapermillExecutionError as exc:
        print(
            f"run-notebook: {source} failed in cell {exc.exec_count}: {exc.ename}: "
            f"{one_line(exc.evalue)} (traceback in {output})",
            file=sys.stderr,
        )
        return 1
    except click.ClickException as exc:
        print(f"run-notebook: {source}: {one_line(exc.format_message())}", file=sys.stderr)
        return 2
    except Exception as exc:  # no such notebook or kernel, bad YAML: one line, never a traceback
        print(f"run-notebook: {source}: {type(exc).__name__}: {one_line(exc)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
