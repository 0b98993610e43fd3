"""The report's sections, in order. Each is a module here plus a template.

A section ``<name>`` is ``sections/<name>.py`` defining::

    TITLE: str                               # the section heading
    REQUIRES: tuple[str, ...]                # results-file stems it reads; skipped (with a
                                             # note) when any is missing
    LEVEL: int = 2                           # optional heading level
    def context(results) -> dict[str, Any]   # facts and numbers, from ``results`` only
    def figures(results) -> list[Figure]     # may return []

and ``templates/sections/<name>.md.j2``, the prose in Markdown with the numbers injected through
the filters of ``retrainlab.research.report`` (num, signed, pct, pp, ci, pval, sci, passfail,
cell, md_table). ``results`` maps each results-file stem to its parsed JSON. Add a section by
writing both files and naming it in ``ORDER``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from retrainlab.engine.config import FIXES

#: The report's sections, first to last.
ORDER: tuple[str, ...] = (
    "verdict",
    "about",
    "summary",
    "real_equities",
    "fixes",
    "factorial",
    "fix_notes",
    "published_checklist",
    "robustness",
    "sensitivity",
    "models",
    "replication",
    "audit",
    "glossary",
    "appendix",
)

#: The results-file stems of the six ablations, in ``FIXES`` order.
ABLATIONS: tuple[str, ...] = tuple(f"ablation_{fix}" for fix in FIXES)


def ablations(results: Mapping[str, Any]) -> dict[str, Any]:
    """``{fix: ablation results}`` for every fix whose results file is present, in FIXES order."""
    return {fix: results[f"ablation_{fix}"] for fix in FIXES if f"ablation_{fix}" in results}
