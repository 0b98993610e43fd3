"""Packaging: every imported package is declared, the engine and the facade run without the
notebook stack, and requirements.in / requirements.lock cover pyproject.toml."""

from __future__ import annotations

import ast
import functools
import re
import subprocess
import sys
import textwrap
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lib" / "retrainlab"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
#: Sub-packages that `pip install .` (no extras) must serve; the research layer needs [research].
CORE_PARTS = ("__init__.py", "__main__.py", "common", "analytics", "published", "engine", "live")
#: Modules of the core sub-packages that serve an extra, and may import its packages.
OPTIONAL_MODULES: dict[str, str] = {
    "engine/real_equities.py": "equities",
    "engine/models/lstm.py": "lstm",
}
#: Extras installed from their own lock, not from requirements.in (`make setup-lstm`).
SEPARATE_LOCKS: dict[str, str] = {"lstm": "requirements-lstm.lock"}
#: Packages of the extras that a facade user must not need.
NOTEBOOK_STACK = (
    "skfolio",
    "matplotlib",
    "seaborn",
    "jinja2",
    "papermill",
    "nbconvert",
    "nbformat",
    "nbclient",
    "ipykernel",
    "IPython",
    "jupyterlab",
    "jupyter_server",
    "distributed",
    "dask",
)


def _name(requirement: str) -> str:
    """The normalised distribution name of a requirement line (``Foo_bar[x]>=1`` -> foo-bar)."""
    name = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement).group(1)
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared(with_extras: bool = False) -> dict[str, set[str]]:
    """Distribution names per group ("core" and each extra); ``with_extras`` adds the extras a
    requirement asks for ("dask[distributed]" also brings the "distributed" distribution)."""
    project = PYPROJECT["project"]
    groups = {"core": project["dependencies"], **project["optional-dependencies"]}
    out = {}
    for group, requirements in groups.items():
        names = {_name(r) for r in requirements} - {"retrainlab"}
        if with_extras:
            names |= {_name(x) for r in requirements for x in re.findall(r"\[([\w-]+)\]", r)}
        out[group] = names
    return out


def _third_party_imports(path: Path) -> set[str]:
    """Top-level names of every absolute import in ``path`` (functions included)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    # importlib.import_module("arch.data.sp500") and the like: the module named in a string
    for match in re.finditer(r"[\"']([a-z_]+)\.data\.\w+[\"']", path.read_text()):
        names.add(match.group(1))
    return {n for n in names if n not in sys.stdlib_module_names and n != "retrainlab"}


@functools.cache
def _module_distributions() -> dict[str, list[str]]:
    return metadata.packages_distributions()  # scans every installed distribution: once


def _distributions(module: str) -> set[str]:
    return {_name(d) for d in _module_distributions().get(module, [module])}


@pytest.mark.parametrize(
    "path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_every_imported_package_is_declared_where_it_is_needed(path):
    declared = _declared(with_extras=True)
    relative = path.relative_to(PACKAGE).as_posix()
    core = relative.split("/")[0] in CORE_PARTS
    allowed = declared["core"] if core else set().union(*declared.values())
    if relative in OPTIONAL_MODULES:
        allowed = allowed | declared[OPTIONAL_MODULES[relative]]
    for module in _third_party_imports(path):
        assert _distributions(module) & allowed, (
            f"{path.relative_to(ROOT)} imports {module!r}, which pyproject.toml does not declare "
            f"{'as a core dependency' if core else 'in any extra'}"
        )


def test_engine_and_facade_run_without_the_notebook_stack(tmp_path):
    # A fresh interpreter where the notebook stack cannot be imported (as after `pip install .`,
    # even though this venv has it): the public API, a walk-forward, the facade end to end, the
    # published run and its audit must all work.
    script = textwrap.dedent(
        f"""
        import importlib.abc
        import sys

        class Absent(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {NOTEBOOK_STACK!r}:
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
                return None

        sys.meta_path.insert(0, Absent())
        import retrainlab as rl
        import retrainlab.engine, retrainlab.live, retrainlab.published, retrainlab.analytics
        from retrainlab.live import cli, facade, store

        market = rl.generate_market(seed=0, n_days=260, n_tickers=2)
        rl.walk_forward(market, rl.NEW)
        ml = rl.MLIntegration(state_dir={str(tmp_path / "state")!r}, config=rl.NEW)
        bars = market.ohlcv(0)
        ml.get_signal("T0", bars)
        ml.record_trade("T0", "long", entry=100.0, exit_price=101.0, size=1000.0)
        ml.trigger_retraining(market)
        ml.get_stats()
        ml.close()
        rl.published.replicate(seed=42, n_days=150, n_tickers=2)
        from retrainlab.published import audit
        audit.audit_one_seed(0, n_days=200, n_tickers=2)
        stack = {NOTEBOOK_STACK!r}
        print(sorted(m for m in sys.modules if m.split(".")[0] in stack))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout


def test_requirements_cover_pyproject_and_the_lock_pins_them():
    listed = {
        _name(line)
        for line in (ROOT / "requirements.in").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    declared = _declared()
    for extra, lock in SEPARATE_LOCKS.items():
        pinned = {_name(line) for line in (ROOT / lock).read_text().splitlines() if "==" in line}
        assert declared[extra] <= pinned, f"{lock} does not pin {declared[extra] - pinned}"
    wanted = set().union(
        *(names for group, names in declared.items() if group not in SEPARATE_LOCKS)
    )
    assert not wanted - listed, f"in pyproject.toml, not in requirements.in: {wanted - listed}"
    assert not listed - wanted - {"setuptools", "wheel"}, (
        f"in requirements.in, not in pyproject.toml: {listed - wanted - {'setuptools', 'wheel'}}"
    )
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert re.fullmatch(r"[A-Za-z0-9._\-]+==\S+", line), f"not an exact pin: {line!r}"
            pins[_name(line)] = line
    assert not listed - set(pins), f"requirements.in names not pinned: {listed - set(pins)}"
    body = [
        line for line in (ROOT / "requirements.lock").read_text().splitlines() if line[:1] != "#"
    ]
    assert body == sorted(body, key=lambda s: s.upper()), (
        "keep requirements.lock sorted (make lock)"
    )
