"""The enhancement report: results files in, Markdown sections and rendered HTML/Markdown out.

A report section is a module ``retrainlab.research.sections.<name>`` (``TITLE``, ``REQUIRES``,
``context(results)``, ``figures(results)``) plus a Jinja2 template
``templates/sections/<name>.md.j2`` holding its prose. ``results`` maps each results-file stem
(``final_comparison``, ``ablation_feedback_loop``, ...) to its parsed JSON, so every fact the
prose states comes from a results file of the run. ``sections.ORDER`` is the report's order;
``build_section`` renders one (or a note saying why it was skipped), the report notebook loops
over them. Turning the executed report notebook into HTML and Markdown is
``retrainlab.research.render``'s job (nbformat and nbconvert are imported there only, so the
notebooks' kernels, which import this module, do not load them).
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

import jinja2
import matplotlib.figure
import numpy as np

from retrainlab.common.jsonio import read_results
from retrainlab.common.names import check_name
from retrainlab.research import sections as sections_pkg

TEMPLATES = Path(__file__).parent / "templates"
#: Results-file stem under which ``load_results`` puts the (ignored, local) run log.
RUN_LOG = "run_log"


# --------------------------------------------------------------------------- filters
def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _special(x: float) -> str | None:
    if _missing(x):
        return "n/a"
    if isinstance(x, float) and math.isinf(x):
        return "∞" if x > 0 else "-∞"
    return None


def num(x: Any, digits: int = 2) -> str:
    """A number: ``digits`` decimals (ints as ints); None/NaN print as 'n/a', inf as '∞'.

    A small negative value keeps its sign ("-0.00"): on a CI bound it says the interval reaches
    below zero.
    """
    if (text := _special(x)) is not None:
        return text
    if isinstance(x, (bool, np.bool_)):
        raise TypeError(f"num() got a bool ({x!r}); use passfail for a pass/fail")
    if isinstance(x, (int, np.integer)):
        return f"{int(x):d}"
    return f"{float(x):.{digits}f}"


def signed(x: Any, digits: int = 2) -> str:
    """A number with its sign always shown: '+0.26', '-0.04'."""
    if (text := _special(x)) is not None:
        return text
    if isinstance(x, (int, np.integer)):
        return f"{int(x):+d}"
    return f"{float(x):+.{digits}f}"


def pct(x: Any, digits: int = 1) -> str:
    """A fraction shown as a percentage: 0.123 -> '12.3%'."""
    if (text := _special(x)) is not None:
        return text
    return f"{float(x) * 100:.{digits}f}%"


def pp(x: Any, digits: int = 1) -> str:
    """A difference of two fractions in percentage points, signed: 0.012 -> '+1.2 pp'."""
    if (text := _special(x)) is not None:
        return text
    return f"{float(x) * 100:+.{digits}f} pp"


def ci(lo: Any, hi: Any, digits: int = 2, unit: str = "") -> str:
    """A confidence interval: '[0.06, 0.49]'; ``unit`` '%' or 'pp' shows fractions x 100."""
    check_name(unit, ("", "%", "pp"), "ci unit")
    if unit:
        lo = lo if _missing(lo) else float(lo) * 100
        hi = hi if _missing(hi) else float(hi) * 100
    inner = f"[{num(lo, digits)}, {num(hi, digits)}]"
    return {"": inner, "%": f"{inner} %", "pp": f"{inner} pp"}[unit]


def pval(p: Any) -> str:
    """A p-value: 3 decimals, or '<0.001'."""
    if _missing(p):
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def sci(x: Any, digits: int = 1) -> str:
    """Scientific notation for tiny differences: 2.1e-16."""
    if (text := _special(x)) is not None:
        return text
    return f"{float(x):.{digits}e}"


def passfail(ok: Any) -> str:
    """'✓ pass' / '✗ fail': a mark that renders without an emoji font, always with its word."""
    return "✓ pass" if ok else "✗ fail"


def cell(text: Any) -> str:
    """Text safe inside a Markdown table cell (a literal '|' would split the cell)."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def md_table(
    headers: Sequence[Any], rows: Sequence[Sequence[Any]], align: Sequence[str] | str | None = None
) -> str:
    """A GitHub-flavoured Markdown table; ``align`` is one letter per column (l, r, c)."""
    align = list(align) if align else ["l"] + ["r"] * (len(headers) - 1)
    if len(align) != len(headers):
        raise ValueError(f"md_table: {len(headers)} headers but {len(align)} alignments")
    marks = {"l": ":---", "r": "---:", "c": ":---:"}
    lines = ["| " + " | ".join(cell(h) for h in headers) + " |"]
    lines.append("|" + "|".join(marks[a] for a in align) + "|")
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"md_table: a row has {len(row)} cells for {len(headers)} headers")
        lines.append("| " + " | ".join(cell(c) for c in row) + " |")
    return "\n".join(lines)


#: The filters every section template can use (also callable as functions).
FILTERS: dict[str, Any] = {
    "num": num,
    "signed": signed,
    "pct": pct,
    "pp": pp,
    "ci": ci,
    "pval": pval,
    "sci": sci,
    "passfail": passfail,
    "cell": cell,
    "md_table": md_table,
}


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The Jinja2 environment of the section templates (strict: an unknown name is an error)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        autoescape=False,  # Markdown out, not HTML
        extensions=["jinja2.ext.do"],
    )
    env.filters.update(FILTERS)
    env.globals.update(FILTERS)
    return env


# --------------------------------------------------------------------------- results
def load_results(
    results_dir: str | Path, run_log: str | Path | None = None
) -> dict[str, dict[str, Any]]:
    """Every results file in ``results_dir``, by stem: ``{"final_comparison": {...}, ...}``.

    ``run_log`` (optional, never committed) adds the run's wall times and commit under the stem
    ``run_log``; the appendix shows them only when it is given.
    """
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise FileNotFoundError(
            f"results directory {results_dir} does not exist: run `make report` first"
        )
    results = {p.stem: read_results(p) for p in sorted(results_dir.glob("*.json"))}
    if run_log and Path(run_log).exists():
        results[RUN_LOG] = read_results(run_log)
    return results


# --------------------------------------------------------------------------- sections
@dataclass(frozen=True)
class Section:
    """One rendered section: its Markdown (heading included), figures, and what was missing."""

    name: str
    title: str
    markdown: str
    figures: list[matplotlib.figure.Figure] = field(default_factory=list)
    missing: tuple[str, ...] = ()

    @property
    def skipped(self) -> bool:
        return bool(self.missing)


def section_module(name: str) -> ModuleType:
    """The module of section ``name`` (a name from ``sections.ORDER`` or another section)."""
    known = sorted(
        p.stem for p in Path(sections_pkg.__file__).parent.glob("*.py") if p.stem != "__init__"
    )
    check_name(name, known, "report section")
    module = importlib.import_module(f"{sections_pkg.__name__}.{name}")
    for attr in ("TITLE", "REQUIRES", "context", "figures"):
        if not hasattr(module, attr):
            raise TypeError(f"report section {name!r} must define {attr} (see sections/__init__)")
    return module


def missing_results(name: str, results: Mapping[str, Any]) -> tuple[str, ...]:
    """The results-file stems section ``name`` needs that ``results`` lacks."""
    return tuple(stem for stem in section_module(name).REQUIRES if stem not in results)


def section_body(name: str, results: Mapping[str, Any]) -> str:
    """The Markdown of section ``name`` without its heading (its template, filled in)."""
    module = section_module(name)
    template = environment().get_template(f"sections/{name}.md.j2")
    # one blank line at most between blocks, as the rendered Markdown has it (``_tidy_markdown``)
    return re.sub(r"\n{3,}", "\n\n", template.render(**module.context(results))).strip()


def build_section(name: str, results: Mapping[str, Any], *, with_figures: bool = True) -> Section:
    """Render section ``name`` from ``results``; a note instead when a results file is missing."""
    module = section_module(name)
    heading = "#" * getattr(module, "LEVEL", 2) + " " + module.TITLE
    absent = missing_results(name, results)
    if absent:
        note = environment().get_template("skipped.md.j2").render(missing=absent).strip()
        return Section(name, module.TITLE, f"{heading}\n\n{note}", [], absent)
    body = section_body(name, results)
    figures = list(module.figures(results)) if with_figures else []
    return Section(name, module.TITLE, f"{heading}\n\n{body}", figures)


def report_sections(results: Mapping[str, Any], *, with_figures: bool = True) -> list[Section]:
    """Every section of ``sections.ORDER``, rendered (or skipped with a note)."""
    return [build_section(n, results, with_figures=with_figures) for n in sections_pkg.ORDER]


# ------------------------------------------------------------ the study notebooks' sections
# Notebooks 00-03 show a section on the one results file they have just computed.
def replication_section(rep: Mapping[str, Any]) -> str:
    """The replication section's body for a replication results dict."""
    return section_body("replication", {"replication": rep})


def audit_section(rep: Mapping[str, Any]) -> str:
    """The audit section's body for a replication results dict."""
    return section_body("audit", {"replication": rep})


def summary_table_section(final: Mapping[str, Any]) -> str:
    """The results-summary section's body for a final-comparison results dict."""
    return section_body("summary", {"final_comparison": final})


def robustness_section(final: Mapping[str, Any]) -> str:
    """The robustness section's body for a final-comparison results dict."""
    return section_body("robustness", {"final_comparison": final})


def fixes_section(ablations: Mapping[str, Mapping[str, Any]]) -> str:
    """The fix-effects table for the ablations given (each effect judged by ``fix_family``)."""
    return section_body("fixes", {f"ablation_{fix}": a for fix, a in ablations.items()})
