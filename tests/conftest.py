"""Shared test infrastructure: the papermill runner, environment overrides, and notebook runs
executed once per test session and shared by every xdist worker.

Notebook runs are the slow part of the suite (a kernel start and the package import each). A
run is identified by a key; the first worker that needs it executes it under a file lock in the
session's shared temporary folder, every other worker (and every later test) reads the files it
wrote. Tests that execute notebooks are marked ``notebook`` and collected first, so that with
``--dist load --maxschedchunk 1`` (``make test``) the long runs start at once, on both workers.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import papermill as pm
import pytest
from filelock import FileLock
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines
from papermill.iorw import load_notebook_node
from papermill.log import logger as papermill_logger
from papermill.parameterize import parameterize_notebook

import retrainlab as rl
from live_markets import predictable_market
from retrainlab.engine.config import NEW
from retrainlab.live.facade import MLIntegration
from retrainlab.research import experiments as ex

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
KERNEL = "retrainlab"

#: The tiny study every pipeline notebook runs (2 markets of 300 days x 3 tickers).
TINY_STUDY: dict[str, Any] = {"seeds": 2, "first_seed": 3, "n_days": 300, "n_tickers": 3}
#: The sweeps of 02 and 03 on one core: the two xdist workers already use both.
TINY_SWEEP: dict[str, Any] = {**TINY_STUDY, "n_jobs": 1}
#: Fixtures that execute notebooks: a test using one is marked ``notebook``.
NOTEBOOK_FIXTURES: frozenset[str] = frozenset(
    {"notebook_runs", "pipeline", "pipeline_stage", "study_runs"}
)


# --------------------------------------------------------------------------- facade fixtures
@pytest.fixture(scope="session")
def market() -> rl.Market:
    """A market the facade's model can learn (``live_markets``): 320 days x 3 tickers. Modules
    that need another market define their own ``market``."""
    return predictable_market(seed=11, n_days=320, n_tickers=3)


@pytest.fixture
def ml(tmp_path: Path) -> Iterator[MLIntegration]:
    """A facade under NEW on a fresh state directory in the test's temporary folder."""
    with MLIntegration(tmp_path / "state", config=NEW) as instance:
        yield instance


# --------------------------------------------------------------------------- one runner
class WidgetSafeClient(PapermillNotebookClient):
    """papermill's notebook client without nbclient's stand-in for the ``Output`` widget.

    The stand-in answers every output a kernel routes into an ``ipywidgets.Output`` (explore's
    ``interactive_output``) with a ``comm_msg`` sent on the shell socket, from the coroutine
    that reads IOPub, while another coroutine waits on that same socket for the cell's
    ``execute_reply`` (nbclient issue 312). The send reads the socket's edge-triggered ZMQ
    events, so a reply that arrived just before it is never signalled to the waiting poll: the
    cell then ends only when its execution timeout fires (600 s, and the test passes), or never
    without one. Without the stand-in the client writes nothing to the shell socket while a cell
    runs; what the kernel prints or displays into an ``Output`` widget lands in the cell's own
    outputs instead, where the tests read it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.widget_registry = {}  # no widget model gets a client-side stand-in


class WidgetSafeEngine(NBClientEngine):
    """papermill's default engine (same arguments) running ``WidgetSafeClient``."""

    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man: Any,
        kernel_name: str,
        log_output: bool = False,
        stdout_file: Any = None,
        stderr_file: Any = None,
        start_timeout: int = 60,
        execution_timeout: int | None = None,
        **kwargs: Any,
    ) -> Any:
        for unused in ("input_path", "timeout", "startup_timeout"):
            kwargs.pop(unused, None)
        return WidgetSafeClient(
            nb_man,
            timeout=execution_timeout,
            startup_timeout=start_timeout,
            kernel_name=kernel_name,
            log=papermill_logger,
            log_output=log_output,
            stdout_file=stdout_file,
            stderr_file=stderr_file,
            **kwargs,
        ).execute()


ENGINE = "retrainlab-widget-safe"
papermill_engines.register(ENGINE, WidgetSafeEngine)


def execute_notebook(name: str, out: Path, **parameters: Any) -> Path:
    """Execute ``notebooks/<name>.ipynb`` with papermill into ``out`` (the project's kernel, run
    from ``notebooks/`` like ``make report``); returns ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    pm.execute_notebook(
        str(NOTEBOOKS / f"{name}.ipynb"),
        str(out),
        parameters=parameters,
        engine_name=ENGINE,
        kernel_name=KERNEL,
        cwd=str(NOTEBOOKS),
        progress_bar=False,
        # a cell that runs this long fails the test instead of stalling CI
        execution_timeout=600,
    )
    return out


def run_setup_cells(name: str, **parameters: Any) -> dict[str, Any]:
    """The opening of ``notebooks/<name>.ipynb`` as papermill runs it -- the parameters cell, the
    cell papermill injects for ``parameters`` and the validation cell after it -- executed in
    this process; returns their namespace. Tests of a refused parameter need only these cells
    (``test_notebooks.py`` keeps one kernel run that shows such a refusal fails a papermill run),
    so they skip a kernel start and the notebook's imports (~3 s each)."""
    nb = parameterize_notebook(load_notebook_node(str(NOTEBOOKS / f"{name}.ipynb")), parameters)
    tags = [cell.metadata.get("tags", []) for cell in nb.cells]
    injected = next(i for i, t in enumerate(tags) if "injected-parameters" in t)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    for cell in nb.cells[: injected + 2]:
        if cell.cell_type == "code":
            exec(compile(cell.source, f"{name}.ipynb:{cell.id}", "exec"), namespace)
    return namespace


@contextlib.contextmanager
def environ(**values: str) -> Iterator[None]:
    """Set environment variables (inherited by notebook kernels) and restore them afterwards."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in values.items():
            mp.setenv(name, value)
        yield


@pytest.fixture
def run_notebook() -> Callable[..., Path]:
    """``run_notebook(name, out, **parameters)``: ``execute_notebook`` for one test's own run."""
    return execute_notebook


# --------------------------------------------------------------------------- shared runs
class NotebookRuns:
    """Runs executed once per session, whichever worker asks first.

    ``get(key, produce)`` calls ``produce(folder)`` once for ``key`` (a file-system-safe name);
    ``produce`` writes its files into ``folder`` and returns a JSON-able value, which every
    caller gets. A failed run is not retried by the next caller: it fails with the first error.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def folder(self, key: str) -> Path:
        return self.root / key

    def get(self, key: str, produce: Callable[[Path], Any]) -> Any:
        folder = self.folder(key)
        done, failed = self.root / f"{key}.done.json", self.root / f"{key}.failed.txt"
        with FileLock(str(self.root / f"{key}.lock")):
            if done.exists():
                return json.loads(done.read_text())["value"]
            if failed.exists():
                raise RuntimeError(f"shared run {key!r} failed earlier:\n{failed.read_text()}")
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            try:
                value = produce(folder)
            except BaseException as exc:
                failed.write_text(f"{type(exc).__name__}: {exc}")
                raise
            done.write_text(json.dumps({"value": value}))
            return value


@pytest.fixture(scope="session")
def notebook_runs(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> NotebookRuns:
    """The session's shared runs; under xdist their folder is common to all workers."""
    base = tmp_path_factory.getbasetemp()
    is_worker = hasattr(request.config, "workerinput")  # an xdist worker: basetemp/popen-gwN
    return NotebookRuns((base.parent if is_worker else base) / "notebook-runs")


class Pipeline:
    """The report pipeline (00 -> 04) on the tiny study, one stage per shared run.

    Every stage writes its results file into one shared ``results`` folder and reads markets from
    one ``data`` folder; all stages share one run cache, so OLD and NEW are computed once. Each
    method runs its stage (and the stages it needs) on first use and returns where it wrote.
    """

    def __init__(self, runs: NotebookRuns) -> None:
        self.runs = runs
        self.root = runs.root / "pipeline"
        self.results = self.root / "results"
        self.data = self.root / "data"
        self.cache = self.root / "cache"

    def _run(self, key: str, name: str, out_name: str | None = None, **parameters: Any) -> Path:
        def produce(folder: Path) -> str:
            with environ(**{ex.CACHE_ENV: str(self.cache)}):
                out = execute_notebook(name, folder / f"{out_name or name}.ipynb", **parameters)
            return str(out)

        return Path(self.runs.get(key, produce))

    def replication(self) -> Path:
        """00_replication (3 audit seeds); its executed copy."""
        return self._run(
            "00_replication",
            "00_replication",
            n_seeds_audit=3,
            n_jobs=1,
            results_dir=str(self.results),
        )

    def data_notebook(self) -> Path:
        """01_generate_data: the tiny study's markets into ``data``; its executed copy."""
        return self._run(
            "01_generate_data",
            "01_generate_data",
            **TINY_STUDY,
            edge=1.0,
            figures_seed=TINY_STUDY["first_seed"] + 1,
            data_dir=str(self.data),
            results_dir=str(self.results),
        )

    def ablation(self, fix: str) -> Path:
        """02_ablation of ``fix`` on the markets 01 wrote; its executed copy."""
        self.data_notebook()
        return self._run(
            f"02_ablation_{fix}",
            "02_ablation",
            f"02_ablation_{fix}",
            fix=fix,
            **TINY_SWEEP,
            figures_seed=TINY_STUDY["first_seed"],
            data_dir=str(self.data),
            results_dir=str(self.results),
        )

    def final_comparison(self) -> Path:
        """03_final_comparison (with the last 300 days of the S&P 500); its executed copy."""
        self.data_notebook()
        return self._run(
            "03_final_comparison",
            "03_final_comparison",
            **TINY_SWEEP,
            real_markets=["sp500"],
            real_days=300,
            data_dir=str(self.data),
            results_dir=str(self.results),
        )

    def report(self) -> Mapping[str, Path]:
        """Every stage, then the report notebook, rendered: ``executed``, ``html``, ``md``."""
        self.replication()
        for fix in rl.FIXES:
            self.ablation(fix)
        self.final_comparison()

        def produce(folder: Path) -> dict[str, str]:
            executed = execute_notebook(
                "10_enhancement_report",
                folder / "10_enhancement_report.ipynb",
                results_dir=str(self.results),
            )
            paths = rl.render.render(executed, folder / "out")
            return {"executed": str(executed), **{k: str(v) for k, v in paths.items()}}

        return {k: Path(v) for k, v in self.runs.get("10_enhancement_report", produce).items()}


@pytest.fixture(scope="session")
def pipeline_stage(notebook_runs: NotebookRuns) -> Pipeline:
    """The tiny report pipeline, run stage by stage on demand, shared by every worker."""
    return Pipeline(notebook_runs)


class Studies:
    """The study notebooks 04_real_equities and 05_sensitivity on tiny parameters, each one
    shared run with its own results folder and run cache (they are not part of the tiny
    pipeline, whose report shows their sections as skipped). Each method returns the parsed
    results file its notebook wrote."""

    def __init__(self, runs: NotebookRuns) -> None:
        self.runs = runs

    def _run(
        self, name: str, results_file: str, *, data_dir: bool = False, **parameters: Any
    ) -> dict[str, Any]:
        def produce(folder: Path) -> dict[str, Any]:
            if data_dir:
                parameters["data_dir"] = str(folder / "data")
            with environ(**{ex.CACHE_ENV: str(folder / "cache")}):
                out = folder / f"{name}.ipynb"
                execute_notebook(name, out, results_dir=str(folder), **parameters)
            return json.loads((folder / results_file).read_text())

        return self.runs.get(name, produce)

    def real_equities(self) -> dict[str, Any]:
        """04_real_equities: 2 panel stocks x 300 days in blocks of 150, the last 300 days of the
        S&P 500, 50 bootstrap resamples."""
        return self._run(
            "04_real_equities",
            "real_equities.json",
            panel_tickers=2,
            panel_days=300,
            block_days=150,
            real_markets=["sp500"],
            real_days=300,
            n_resamples=50,
            n_jobs=1,
        )

    def sensitivity(self) -> dict[str, Any]:
        """05_sensitivity: 2 markets of 250 days x 2 tickers per condition, 2 placebo seeds."""
        return self._run(
            "05_sensitivity",
            "sensitivity.json",
            data_dir=True,
            seeds=2,
            n_days=250,
            n_tickers=2,
            placebo_seeds=2,
            best_fix="long_lookback",
            n_jobs=1,
        )


@pytest.fixture(scope="session")
def study_runs(notebook_runs: NotebookRuns) -> Studies:
    """The study notebooks 04 and 05, each run once per session, shared by every worker."""
    return Studies(notebook_runs)


# --------------------------------------------------------------------------- ordering
def _order(item: pytest.Item) -> tuple[bool, int]:
    mark = item.get_closest_marker("notebook")
    return mark is None, mark.kwargs.get("order", 50) if mark else 0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Notebook tests first, by ``pytest.mark.notebook(order=...)`` (stable otherwise): they hold
    the longest runs, and an order that starts independent runs first keeps both workers busy
    instead of one waiting for a run the other holds."""
    for item in items:
        if NOTEBOOK_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.notebook)
    items.sort(key=_order)
