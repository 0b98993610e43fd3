"""The terms a reader needs, with the run's own parameters where a definition has one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TITLE = "Glossary"
REQUIRES = ("final_comparison",)


def context(results: Mapping[str, Any]) -> dict[str, Any]:
    final = results["final_comparison"]
    return {"protocol": final["protocol"], "final": final}


def figures(results: Mapping[str, Any]) -> list:
    return []
