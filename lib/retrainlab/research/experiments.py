"""Experiments: many (config, market) walk-forward runs, cached, in parallel, summarised per run.

``sweep(configs, specs)`` evaluates every configuration on every market and returns one row per
run with every metric the report uses. Each run is cached with ``joblib.Memory``, keyed by the
config's fields, the market's parameters and the package's code fingerprint (version + a hash
of its source), so OLD and NEW are computed once for all six ablations and a code change never
serves a stale number. Work fans out with joblib over local cores, or over a Dask cluster when a
scheduler address is given (``dask_address=`` or ``$RETRAINLAB_DASK_SCHEDULER``): same function,
same seeds, identical results.

The statistics that compare systems over a sweep's rows (paired differences, the results files
of the ablations and of the final comparison) live in ``research.comparisons``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from joblib import Memory, Parallel, delayed, parallel_config
from tqdm.auto import tqdm  # a widget in JupyterLab (ipywidgets), text elsewhere

from retrainlab import __version__
from retrainlab.analytics import metrics
from retrainlab.common.names import check_name
from retrainlab.engine import prices
from retrainlab.engine.config import FIXES, NEW, OLD, RetrainConfig
from retrainlab.engine.market import Market
from retrainlab.engine.prices import load_real_market
from retrainlab.engine.synthetic import generate_market
from retrainlab.engine.walkforward import walk_forward

CACHE_ENV = "RETRAINLAB_CACHE"
DASK_ENV = "RETRAINLAB_DASK_SCHEDULER"
#: The project's checkout when the package runs from one (``lib/retrainlab/research/`` here).
_CHECKOUT = Path(__file__).resolve().parents[3]
#: The run cache without ``RETRAINLAB_CACHE``: ``.cache/joblib`` in the checkout (what
#: ``make clean`` removes), or the user's cache folder when the package is installed elsewhere.
DEFAULT_CACHE = (
    _CHECKOUT / ".cache" / "joblib"
    if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "lib" / "retrainlab").is_dir()
    else Path.home() / ".cache" / "retrainlab" / "joblib"
)
#: Cost levels (bps per unit of turnover) every run is also scored at.
COSTS_BPS: tuple[float, ...] = (0.0, 5.0, 10.0, 20.0)
REAL_MARKETS: tuple[str, ...] = tuple(prices.REAL_MARKETS)  # home: engine.prices


# --------------------------------------------------------------------------- markets
@dataclass(frozen=True)
class MarketSpec:
    """A market by its parameters: synthetic (seed, days, tickers, edge) or a real series.

    For a real series (``kind`` "sp500", "nasdaq" or "both") ``n_days`` keeps the most recent
    ``n_days`` rows, 0 keeps all; ``seed``, ``n_tickers`` and ``edge`` do not apply.
    """

    seed: int = 0
    n_days: int = 1000
    n_tickers: int = 10
    edge: float = 1.0
    kind: str = "synthetic"  # "synthetic", or a name accepted by market.load_real_market

    def __post_init__(self) -> None:
        check_name(self.kind, ("synthetic", *REAL_MARKETS, "both"), "market kind")

    @property
    def label(self) -> str:
        if self.kind != "synthetic":
            return self.kind if self.n_days == 0 else f"{self.kind}-last{self.n_days}d"
        return f"seed{self.seed}-{'placebo' if self.edge == 0 else f'edge{self.edge:g}'}"

    def path(self, data_dir: str | Path) -> Path:
        return Path(data_dir) / f"{self.label}-{self.n_days}d-{self.n_tickers}t.parquet"

    def build(self, data_dir: str | Path | None = None) -> Market:
        """The market: read from ``data_dir`` if 01_generate_data wrote it, else generated."""
        if self.kind != "synthetic":
            market = load_real_market(self.kind)
            if self.n_days == 0 or self.n_days >= market.n_days:
                return market
            return market.tail(self.n_days)
        if data_dir is not None and self.path(data_dir).exists():
            return Market.from_parquet(self.path(data_dir))
        return generate_market(
            self.seed, n_days=self.n_days, n_tickers=self.n_tickers, edge=self.edge
        )


def synthetic_specs(
    seeds: Iterable[int], n_days: int, n_tickers: int, edge: float
) -> list[MarketSpec]:
    """One synthetic MarketSpec per seed."""
    return [MarketSpec(int(s), n_days, n_tickers, float(edge)) for s in seeds]


# --------------------------------------------------------------------------- configurations
def ablation_configs(fix: str) -> dict[str, RetrainConfig]:
    """The four systems of one ablation: OLD, OLD + fix, NEW − fix, NEW."""
    check_name(fix, FIXES, "fix")
    return {
        "OLD": OLD,
        f"OLD+{fix}": OLD.with_fix(fix),
        f"NEW-{fix}": NEW.without_fix(fix),
        "NEW": NEW,
    }


def all_ablation_configs() -> dict[str, RetrainConfig]:
    """Every configuration the six ablations evaluate (14: OLD, NEW, 6 x OLD+fix, 6 x NEW-fix)."""
    configs: dict[str, RetrainConfig] = {}
    for fix in FIXES:
        configs.update(ablation_configs(fix))
    return configs


# --------------------------------------------------------------------------- one run
def returns_at_cost(
    returns: np.ndarray, positions: np.ndarray, cost_bps_in: float, cost_bps_out: float
) -> np.ndarray:
    """Daily returns re-costed: undo ``cost_bps_in`` per unit of turnover, charge ``cost_bps_out``.

    Turnover on day d is ``sum_j |pos[d, j] - pos[d-1, j]| / n_tickers`` (flat before day 0), the
    cost model of ``walk_forward``; a test checks this reproduces the engine's own net returns.
    """
    pos = np.nan_to_num(np.asarray(positions, dtype=float))
    prev = np.vstack([np.zeros((1, pos.shape[1])), pos[:-1]])
    daily_turnover = np.abs(pos - prev).sum(axis=1) / pos.shape[1]
    return np.asarray(returns, dtype=float) + (cost_bps_in - cost_bps_out) / 1e4 * daily_turnover


def summarize_run(result: Any, costs: Sequence[float] = COSTS_BPS) -> dict[str, float]:
    """Every per-run number the notebooks use: the engine's metrics plus costs and PSR inputs."""
    out: dict[str, float] = dict(result.metrics)
    returns = result.returns.to_numpy(dtype=float)
    # positions on the dates the return series covers (it starts at the first decision): the
    # last rows of the positions frame, as the engine makes them (a reindex if not)
    held, dates = result.positions, result.returns.index
    if len(dates) <= len(held) and held.index[len(held) - len(dates) :].equals(dates):
        positions = held.to_numpy(dtype=float)[len(held) - len(dates) :]
    else:
        positions = held.reindex(dates).to_numpy(dtype=float)
    n_signals = max(1.0, out["n_long"] + out["n_short"] + out["n_neutral"])
    out["neutral_share"] = out["n_neutral"] / n_signals
    out["long_share"] = out["n_long"] / n_signals
    sr, skew, kurt, n_obs = metrics.sharpe_moments(returns)
    out.update({"sr_per_period": sr, "skew": skew, "kurtosis": kurt, "n_obs": float(n_obs)})
    out["psr_vs_zero"] = metrics.probabilistic_sharpe_ratio(sr, 0.0, n_obs, skew, kurt)
    for cost in costs:
        net = returns_at_cost(returns, positions, result.config.cost_bps, cost)
        out[f"sharpe_at_{cost:g}bps"] = metrics.sharpe_ratio(net)
        out[f"total_return_at_{cost:g}bps"] = metrics.total_return(net)
    return {k: float(v) for k, v in out.items()}


def evaluate(
    config: RetrainConfig, spec: MarketSpec, data_dir: str | None = None, code_version: str = ""
) -> dict[str, float]:
    """Run ``walk_forward(spec.build(), config)`` and summarise it (``code_version`` keys
    caches)."""
    market = spec.build(data_dir)
    return summarize_run(walk_forward(market, config))


# --------------------------------------------------------------------------- caching and sweeps
#: What a cached run depends on, relative to the package root: the engine, the metrics and the
#: names it uses, and this module (``evaluate``/``summarize_run``). The statistics that compare
#: runs (``analytics/stats.py``, ``research/comparisons.py``), the report, its templates and
#: figures, the notebooks and the live facade are not in the key: editing them reruns no
#: walk-forward.
CACHE_KEY_SOURCES: tuple[str, ...] = (
    "engine",
    "analytics/__init__.py",
    "analytics/metrics.py",
    "common",
    "research/experiments.py",
)
PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def engine_sources() -> list[Path]:
    """The source files the run cache key hashes (see ``CACHE_KEY_SOURCES``), sorted."""
    files: list[Path] = []
    for entry in CACHE_KEY_SOURCES:
        path = PACKAGE_ROOT / entry
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return files


@lru_cache(maxsize=1)
def code_version() -> str:
    """Package version plus a hash of the engine's source: an engine change invalidates caches.

    Only ``CACHE_KEY_SOURCES`` count; the hash is of relative paths and bytes, so the same code
    gives the same key in any checkout.
    """
    digest = hashlib.sha256(__version__.encode())
    for path in engine_sources():
        digest.update(path.relative_to(PACKAGE_ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return f"{__version__}+{digest.hexdigest()[:12]}"


#: Annualised volatility every run is scaled to for "return at equal volatility"
#: (``metrics.portfolio_metrics``; a test checks the two agree).
EQUAL_RISK_VOLATILITY = 0.10
#: Packages whose versions can change a number; recorded in the results' protocol.
NUMERIC_PACKAGES: tuple[str, ...] = ("numpy", "scipy", "scikit-learn", "pandas", "joblib")


def provenance() -> dict[str, Any]:
    """What produced a results file's runs: the engine's code version (``code_version``) and
    the versions of the numeric packages (Python as major.minor: patch releases do not change
    numbers). Part of every ``protocol``; a study with its own protocol records it too."""
    return {
        "engine": code_version(),
        "environment": {
            "python": "{}.{}".format(*sys.version_info[:2]),
            **{name: metadata.version(name) for name in NUMERIC_PACKAGES},
        },
    }


def protocol(config: RetrainConfig = OLD) -> dict[str, Any]:
    """The facts of a study's protocol, written into its results file for the report's prose.

    Every non-fix field of ``config`` (horizon, windows, cost, thresholds, ...: whatever the
    engine defines, so a new field such as an execution lag appears by itself), the cost levels
    every run is scored at, the equal-volatility target, the fixes and the ``provenance``.
    """
    return {
        **config.protocol(),
        "cost_levels_bps": list(COSTS_BPS),
        "equal_risk_volatility": EQUAL_RISK_VOLATILITY,
        "fixes": list(FIXES),
        **provenance(),
    }


def cache_dir() -> Path:
    """Where runs are cached: ``$RETRAINLAB_CACHE`` or ``.cache/joblib`` in the project."""
    return Path(os.environ.get(CACHE_ENV, DEFAULT_CACHE))


def _memory(location: str | Path | None) -> Memory:
    return Memory(None if location is None else str(location), verbose=0)


def _run_memory(location: str | Path | None) -> Any:
    """The run cache: ``_evaluate_fields`` memoized in ``location``, keyed by the config's and
    the market's fields and the code version (``data_dir`` and ``known`` are not in the key)."""
    return _memory(location).cache(_evaluate_fields, ignore=["data_dir", "known"])


def _evaluate_cached(
    location: str | None,
    config_fields: dict[str, Any],
    spec_fields: dict[str, Any],
    data_dir: str | None,
    version: str,
) -> dict[str, float]:
    # Module-level so it pickles to Dask workers; ``data_dir`` does not change results
    # (markets read from disk equal the generated ones), so it is not part of the cache key.
    return _run_memory(location)(config_fields, spec_fields, data_dir, version)


def _evaluate_fields(
    config_fields: dict[str, Any],
    spec_fields: dict[str, Any],
    data_dir: str | None,
    version: str,
    known: dict[str, float] | None = None,
) -> dict[str, float]:
    # ``known``: this very summary, already computed by ``walk_forward_many`` (equal to
    # ``evaluate`` bit for bit); see ``remember_runs``.
    if known is not None:
        return known
    return evaluate(RetrainConfig(**config_fields), MarketSpec(**spec_fields), data_dir, version)


def remember_runs(
    location: str | Path | None,
    config_fields: Sequence[dict[str, Any]],
    spec: MarketSpec,
    summaries: Sequence[dict[str, float]],
    version: str,
) -> None:
    """File ``summaries`` (``summarize_run`` of each config in ``config_fields`` on ``spec``,
    computed by ``walk_forward_many``, which equals ``walk_forward`` run by run) in the run cache
    under the keys ``sweep`` looks up, so that a later sweep of those configs on that market loads
    them instead of running them again. A no-op without a cache (``location`` None)."""
    if location is None:
        return
    memory = _run_memory(location)
    spec_fields = asdict(spec)
    for fields, summary in zip(config_fields, summaries, strict=True):
        memory(fields, spec_fields, None, version, known=summary)


@contextlib.contextmanager
def _backend(n_jobs: int, dask_address: str | None) -> Iterator[int]:
    address = dask_address or os.environ.get(DASK_ENV) or None
    if address is None:
        yield n_jobs
        return
    from distributed import Client  # here, not at the top: Dask is the optional [dask] extra

    with Client(address), parallel_config(backend="dask"):
        yield -1  # as many tasks at once as the cluster has workers


def sweep(
    configs: Mapping[str, RetrainConfig],
    specs: Sequence[MarketSpec],
    *,
    n_jobs: int = 2,
    use_cache: bool = True,
    cache_location: str | Path | None = None,
    data_dir: str | Path | None = None,
    dask_address: str | None = None,
    progress: bool = True,
    desc: str = "walk-forward runs",
) -> pd.DataFrame:
    """Evaluate every named config on every market; one row per (config, market).

    Returns a frame with columns ``config``, ``market``, ``seed``, ``edge`` and every metric of
    ``summarize_run``, ordered by config then market (independent of the backend and of the
    order work finishes in).
    """
    location = None if not use_cache else str(cache_location or cache_dir())
    version = code_version()
    data = None if data_dir is None else str(data_dir)
    jobs = [(name, config, spec) for name, config in configs.items() for spec in specs]
    arguments = [(asdict(config), asdict(spec), data, version) for _, config, spec in jobs]
    results: list[dict[str, float] | None] = [None] * len(jobs)
    # runs already in the cache are loaded here; only the others go to workers, so a sweep the
    # cache serves whole (an ablation after the factorial) starts no worker at all
    memory = None if location is None else _run_memory(location)
    missing = []
    for index, args in enumerate(arguments):
        if memory is not None and memory.check_call_in_cache(*args):
            results[index] = memory(*args)
        else:
            missing.append(index)
    if missing:
        calls = (delayed(_evaluate_cached)(location, *arguments[i]) for i in missing)
        with _backend(n_jobs, dask_address) as workers:
            runner = Parallel(n_jobs=workers, return_as="generator")
            bar = tqdm(
                runner(calls), total=len(missing), desc=desc, disable=not progress, mininterval=1.0
            )
            for index, summary in zip(missing, bar, strict=True):
                results[index] = summary
    rows = []
    for (name, _, spec), summary in zip(jobs, results, strict=True):
        rows.append(
            {"config": name, "market": spec.label, "seed": spec.seed, "edge": spec.edge, **summary}
        )
    return pd.DataFrame(rows)
