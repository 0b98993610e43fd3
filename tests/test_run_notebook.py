"""``python -m retrainlab run-notebook``: papermill then tidy, one process; one line on failure."""

from __future__ import annotations

import json
import subprocess
import sys

import nbformat
import pytest

from conftest import KERNEL

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


def test_bad_arguments_and_unrunnable_notebooks_are_one_line_never_a_traceback(tmp_path):
    source = tmp_path / "in.ipynb"
    _notebook(source)
    out = str(tmp_path / "out.ipynb")
    cases = [
        (["--", "--bogus"], 2),  # papermill's parser refuses it
        (["--", str(source)], 2),  # no output notebook: papermill would write to stdout
        (["--", str(source), "-"], 2),
        (["--", str(tmp_path / "missing.ipynb"), out], 1),
        (["--", str(source), out, "--kernel", "no-such-kernel"], 1),
        (["--", str(source), out, "--kernel", KERNEL, "-y", "x: [1"], 1),  # bad YAML
    ]
    for args, code in cases:
        done = _cli(*args)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == code, (args, done.stderr)
        assert "Traceback" not in done.stderr, args
        assert lines[-1].startswith("run-notebook:"), (args, lines[-1])
    assert len(_cli("--", str(source)).stderr.strip().splitlines()) == 1
    # our own usage error: argparse's usage line and its error, as every command prints them
    done = _cli()
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "give papermill's arguments after --" in done.stderr
    # papermill's --help is help, not an error
    done = _cli("--", "--help")
    assert done.returncode == 0 and "Traceback" not in done.stderr and "Usage" in done.stdout
