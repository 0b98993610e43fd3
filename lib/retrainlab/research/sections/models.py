"""Does the verdict depend on the model class? (reads model_study.json: ``make study-models``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TITLE = "Does the verdict depend on the model class?"
REQUIRES = ("model_study",)

#: How each data set is named in the prose.
DATA = {"synthetic": "synthetic markets", "real": "the real equity panel"}


def context(results: Mapping[str, Any]) -> dict[str, Any]:
    study = results["model_study"]
    tables = {}
    for data in DATA:
        rows = []
        for model, per_data in study["classes"].items():
            if data not in per_data:
                continue
            comparisons = {(c["system"], c["baseline"]): c for c in per_data[data]["comparisons"]}
            summary = per_data[data]["summary"]
            new_old = comparisons[("NEW", "OLD")]
            new_bh = comparisons[("NEW", "buy_and_hold")]
            rows.append(
                {
                    "model": model,
                    "new_old": new_old,
                    "new_bh": new_bh,
                    "best_fix": next(
                        c for c in per_data[data]["comparisons"] if "best single fix" in c["label"]
                    ),
                    "summary": summary,
                }
            )
        if rows:
            tables[data] = rows
    return {
        "study": study,
        "protocol": study["protocol"],
        "tables": tables,
        "data_names": DATA,
        "verdict": study["verdict"],
        "not_run": study.get("not_run", {}),
    }


def figures(results: Mapping[str, Any]) -> list:
    return []
