"""The published "Results Summary" table, rebuilt with measured values and their statistics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from retrainlab.published.document import published_document_table
from retrainlab.research import figures as fig

TITLE = "Results summary"
REQUIRES = ("final_comparison",)


def context(results: Mapping[str, Any]) -> dict[str, Any]:
    # the published document's own table (its "Improvement" column), quoted beside ours
    return {"final": results["final_comparison"], "document": published_document_table()}


def figures(results: Mapping[str, Any]) -> list:
    return [fig.paired_sharpe(results["final_comparison"])]
