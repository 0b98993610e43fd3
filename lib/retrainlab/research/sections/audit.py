"""What the published validation measured: its claims, its trades scored correctly, many seeds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from retrainlab.research import figures as fig

TITLE = "Audit of the published validation"
REQUIRES = ("replication",)


def context(results: Mapping[str, Any]) -> dict[str, Any]:
    return {"rep": results["replication"]}


def figures(results: Mapping[str, Any]) -> list:
    rep = results["replication"]
    return [fig.audit_equity(rep), fig.audit_sharpe_differences(rep)]
