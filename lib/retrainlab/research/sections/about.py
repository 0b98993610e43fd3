"""What the report is and how to read it (no numbers)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TITLE = "What this report is"
REQUIRES: tuple[str, ...] = ()


def context(results: Mapping[str, Any]) -> dict[str, Any]:
    return {}


def figures(results: Mapping[str, Any]) -> list:
    return []
