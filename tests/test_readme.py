"""Every shell command of the README runs as printed (in the project's environment, as the README
says: after `source .venv/bin/activate`), except the few listed here with the reason."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import retrainlab as rl

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
VENV_BIN = Path(sys.executable).parent

#: Commands not run here, by their start, and why.
NOT_RUN: dict[str, str] = {
    "make report": "the whole pipeline: minutes (the notebook tests run it small)",
    "make test": "this test suite itself",
    "make lab": "starts a JupyterLab server",
    "export RETRAINLAB_DASK_SCHEDULER": "needs a Dask cluster",
}


def readme_commands() -> list[str]:
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    lines = [line.strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def test_the_readme_has_shell_commands_and_says_how_to_activate():
    assert len(readme_commands()) >= 6
    assert "source .venv/bin/activate" in README.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A folder with the README's example files (AAPL.csv) and the project's .venv beside them."""
    tmp = tmp_path_factory.mktemp("readme")
    (tmp / ".venv").symlink_to(ROOT / ".venv")
    (tmp / "Makefile").symlink_to(ROOT / "Makefile")
    market = rl.generate_market(seed=3, n_days=400, n_tickers=1)
    market.ohlcv(0).to_csv(tmp / "AAPL.csv", index_label="date")
    # The facade commands share one state; xdist may run them on any worker in any order, so
    # the state exists before them (the README's first `signal --create` then finds it).
    rl.MLIntegration(tmp / "state", create=True).close()
    return tmp


@pytest.mark.parametrize("command", readme_commands())
def test_readme_command_runs_as_printed(command, workdir):
    skipped = next((why for start, why in NOT_RUN.items() if command.startswith(start)), None)
    if skipped:
        pytest.skip(f"not run here: {skipped}")
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",  # as after `activate`
        "VIRTUAL_ENV": str(VENV_BIN.parent),
        "RETRAINLAB_STATE_DIR": str(workdir / "state"),  # never the user's own state
        "MPLBACKEND": "Agg",
    }
    done = subprocess.run(
        ["bash", "-c", command], cwd=workdir, env=env, capture_output=True, text=True, timeout=300
    )
    documented = re.search(r"exit (\d+) if", command)
    allowed = {0} | ({int(documented.group(1))} if documented else set())
    assert done.returncode in allowed, f"{command!r} -> {done.returncode}\n{done.stderr[-2000:]}"
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
