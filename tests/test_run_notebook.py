"""``python -m retrainlab run-notebook``: papermill, then tidy, in one process; one line on failure."""

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


def test_bad_arguments_are_one_line(tmp_path):
    missing = [str(tmp_path / "missing.ipynb"), str(tmp_path / "out.ipynb")]
    for extra, code in ((["--", "--bogus"], 2), ([], 2), (["--", *missing], 1)):
        done = subprocess.run(
            [sys.executable, "-m", "retrainlab", "run-notebook", *extra],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == code and "Traceback" not in done.stderr
        assert "run-notebook" in done.stderr.strip().splitlines()[-1]
