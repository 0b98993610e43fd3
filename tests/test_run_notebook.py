"""``python -m retrainlab run-notebook``: papermill then tidy, one process; one line on failure."""

from __future__ import annotations

import json
import subprocess
import sys

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
