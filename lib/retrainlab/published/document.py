"""The published document itself: its "Results Summary" table, and our run beside it."""

from __future__ import annotations

import re
from importlib import resources
from typing import Any


def published_document_table() -> dict[str, dict[str, str]]:
    """The published report's "Results Summary" table, parsed from the shipped document.

    Returns ``{metric: {"OLD": text, "NEW": text, "Improvement": text}}`` exactly as printed.
    """
    text = (resources.files("retrainlab.published") / "data" / "as_published_report.md").read_text(
        "utf-8"
    )
    section = text.split("### Results Summary", 1)[1].split("\n---\n", 1)[0]
    table: dict[str, dict[str, str]] = {}
    for line in section.splitlines():
        cells = [c.replace("**", "").strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] not in ("Metric",) and not cells[0].startswith("-"):
            table[cells[0]] = {"OLD": cells[1], "NEW": cells[2], "Improvement": cells[3]}
    return table


# metric in the document -> (summary key, scale, how the document prints it)
_DOCUMENT_METRICS: dict[str, tuple[str, float, str]] = {
    "Sharpe Ratio": ("sharpe", 1.0, "plain"),
    "Total Return": ("total_return", 100.0, "percent"),
    "Win Rate": ("win_rate", 100.0, "percent"),
    "Profit Factor": ("payoff_ratio", 1.0, "plain"),
    "Signal Filtering": ("neutral", 1.0, "count"),
}


def _first_number(text: str) -> tuple[float, int]:
    """The first number in ``text`` and its count of decimals ("44.37%" -> (44.37, 2))."""
    match = re.search(r"[-+]?\d+(?:\.(\d+))?", text)
    if match is None:
        raise ValueError(f"no number in {text!r}")
    return float(match.group(0)), len(match.group(1) or "")


def compare_with_document(reproduced: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Each number of the published summary table beside the reproduced value at its precision.

    ``reproduced`` is ``{"OLD": summary, "NEW": summary}`` (``PublishedResult.summary()``).
    A value matches (✓) when the reproduced number, rounded to the document's decimals, equals it.
    """
    document = published_document_table()
    rows = []
    for metric, (key, scale, kind) in _DOCUMENT_METRICS.items():
        printed = document[metric]
        row: dict[str, Any] = {"metric": metric, "key": key}
        for system in ("OLD", "NEW"):
            shown, decimals = _first_number(printed[system])
            summary = reproduced[system]
            value = summary["signals"]["neutral"] if kind == "count" else summary[key] * scale
            ours = round(value, decimals)
            # the reproduced number printed in the document's own format ("44.37%", "28 neutral")
            as_printed = re.sub(
                r"[-+]?\d+(?:\.\d+)?", f"{ours:.{decimals}f}", printed[system], count=1
            )
            row[system] = {
                "document": printed[system],
                "reproduced": ours,
                "reproduced_text": as_printed,
                "matches": bool(abs(ours - shown) < 0.5 * 10**-decimals),
            }
        rows.append(row)
    return rows
