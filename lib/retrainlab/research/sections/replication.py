"""The published validation re-run from its description, number by number."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TITLE = "The published validation, reproduced"
REQUIRES = ("replication",)


def context(results: Mapping[str, Any]) -> dict[str, Any]:
    rep = results["replication"]
    cells = [row[s]["matches"] for row in rep["document_comparison"] for s in ("OLD", "NEW")]
    return {"rep": rep, "n_ok": sum(cells), "n_all": len(cells)}


def figures(results: Mapping[str, Any]) -> list:
    return []
