"""How the report was made: parameters, engine and package versions (and, for a local run
given a run log, wall times and the git commit, which never enter the committed report)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from retrainlab.research.sections import ABLATIONS

TITLE = "Appendix: how this report was made"
REQUIRES = ("final_comparison",)
#: The study's results files in pipeline order (the appendix lists the ones present).
STEPS: tuple[str, ...] = ("replication", "data_summary", *ABLATIONS, "final_comparison")
#: Results files that run no engine (the published validation, reproduced on its own).
NO_ENGINE: tuple[str, ...] = ("replication",)


def context(results: Mapping[str, Any]) -> dict[str, Any]:
    steps = [s for s in STEPS if s in results]
    steps += sorted(s for s in results if s not in STEPS and s != "run_log")
    return {
        "parameters": {s: results[s].get("params", {}) for s in steps},
        # which engine wrote each file (as its protocol records it)
        "engines": {s: results[s].get("protocol", {}).get("engine") for s in steps},
        "no_engine": NO_ENGINE,
        "protocol": results["final_comparison"]["protocol"],
        "run_log": results.get("run_log"),
    }


def figures(results: Mapping[str, Any]) -> list:
    return []
