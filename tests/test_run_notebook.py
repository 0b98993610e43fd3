"""``python -m retrainlab run-notebook``: papermill then tidy, one process; one line on failure."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from conftest import KERNEL
from retrainlab.research import run_notebook

pytestmark = pytest.mark.notebook


def _notebook(path) -> None:
    parameters = nbformat.v4.new_code_cell("x = 1")
    parameters.metadata["tags"] = ["parameters"]
    body = nbformat.v4.new_code_cell(
        "if x == 0:\n    raise ValueError('x must not be 0')\nprint('x is', x)"
    )
    notebook = nbformat.v4.new_notebook(cells=[parameters, body])
    notebook.metadata["kernelspec"] = {"name": KERNEL, "language": "python", "display_name": KERNEL}
    nbformat.write(notebook, path)


def _run(tmp_path, x):
    source, out, log = tmp_path / "in.ipynb", tmp_path / "out.ipynb", tmp_path / "log.json"
    _notebook(source)
    command = [sys.executable, "-m", "retrainlab", "run-notebook", "--run-log", str(log), "--"]
    command += [str(source), str(out), "--kernel", KERNEL, "-p", "x", str(x)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300), out, log


def test_run_notebook_executes_with_typed_parameters_then_tidies(tmp_path):
    done, out, log = _run(tmp_path, 7)
    assert done.returncode == 0, done.stderr
    nb = nbformat.read(out, as_version=4)
    assert "x is 7" in "".join(o.get("text", "") for o in nb.cells[-1].outputs)  # -p typed it
    # tidied: papermill's times are gone from the notebook and are in the run log
    assert "start_time" not in nb.metadata["papermill"]
    assert "out" in json.loads(log.read_text())["timings"]


def test_a_failing_cell_is_one_line_and_the_traceback_stays_in_the_notebook(tmp_path):
    done, out, _ = _run(tmp_path, 0)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("run-notebook:") and "ValueError: x must not be 0" in last
    assert str(out) in last and "Traceback" not in done.stderr
    assert "x must not be 0" in out.read_text()


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "retrainlab", "run-notebook", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_bad_arguments_are_one_line_never_a_traceback(tmp_path, capsys):
    # in process: these fail while parsing, before papermill logs or starts anything
    source = tmp_path / "in.ipynb"
    _notebook(source)
    for args, code in (
        (["--", "--bogus"], 2),  # papermill's parser refuses it
        (["--", str(source)], 2),  # no output notebook: papermill would write to stdout
        (["--", str(source), "-"], 2),
    ):
        assert run_notebook.main(args) == code, args
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and err.startswith("run-notebook:"), args
    # our own usage error: argparse's usage line and its error, as every command prints them
    assert run_notebook.main([]) == 2
    assert "give papermill's arguments after --" in capsys.readouterr().err
    # papermill's --help is help, not an error
    assert run_notebook.main(["--", "--help"]) == 0
    assert "Usage" in capsys.readouterr().out


def test_notebooks_that_cannot_run_are_one_line_never_a_traceback(tmp_path):
    # as a command: the kernel manager logs a traceback that the command must not print
    source = tmp_path / "in.ipynb"
    _notebook(source)
    out = str(tmp_path / "out.ipynb")
    for args in (
        ["--", str(tmp_path / "missing.ipynb"), out],
        ["--", str(source), out, "--kernel", "no-such-kernel"],
        ["--", str(source), out, "--kernel", KERNEL, "-y", "x: [1"],  # bad YAML
    ):
        done = _cli(*args)
        assert done.returncode == 1, (args, done.stderr)
        assert "Traceback" not in done.stderr, args
        assert done.stderr.strip().splitlines()[-1].startswith("run-notebook:"), args


def test_the_kernel_gets_its_short_exit_wait(monkeypatch):
    # the engine run-notebook registers hands nbclient the kernel manager's exit wait
    seen = {}

    class Client:
        def __init__(self, nb_man, **kwargs):
            seen.update(kwargs)

        def execute(self):
            return "executed"

    monkeypatch.setattr("papermill.engines.PapermillNotebookClient", Client)
    assert run_notebook._Engine.execute_managed_notebook(None, KERNEL) == "executed"
    wait = seen["config"]["KernelManager"]["shutdown_wait_time"]
    assert wait == run_notebook.KERNEL_EXIT_SECONDS < 5  # jupyter_client's default: 5 s
    assert seen["kernel_name"] == KERNEL


def test_a_kernel_with_workers_ends_and_leaves_no_process_behind(tmp_path):
    # joblib's workers and their resource trackers (which ignore SIGTERM) are the kernel's
    # children: they go when the kernel is stopped after its short wait
    source, out = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    cell = nbformat.v4.new_code_cell(
        "import math, os, subprocess\n"
        "from joblib import Parallel, delayed\n"
        "Parallel(n_jobs=2)(delayed(math.sqrt)(i) for i in range(4))\n"
        "ps = ['ps', '--ppid', str(os.getpid()), '-o', 'pid=']\n"
        "print('children', *subprocess.run(ps, capture_output=True, text=True).stdout.split())"
    )
    notebook = nbformat.v4.new_notebook(cells=[cell])
    notebook.metadata["kernelspec"] = {"name": KERNEL, "language": "python", "display_name": KERNEL}
    nbformat.write(notebook, source)
    done = subprocess.run(
        [sys.executable, "-m", "retrainlab", "run-notebook", "--", str(source), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    text = "".join(o.get("text", "") for o in nbformat.read(out, as_version=4).cells[0].outputs)
    children = [int(pid) for pid in text.split("children", 1)[1].split()]
    assert len(children) >= 3  # two workers and at least one resource tracker
    deadline = time.monotonic() + 60  # a wait for an outcome, not a timing assertion
    alive = children
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in children if Path(f"/proc/{pid}").exists()]
        time.sleep(0.2)
    assert alive == [], f"processes left behind: {alive}"
