"""Rendering the executed report notebook: ``enhancement_report.html`` (self-contained: no CDN
scripts, images inline) and ``enhancement_report.md`` (figures in a folder beside it), code
hidden; ``python -m retrainlab render-report``.

Apart from ``retrainlab.research.report`` (the sections the report notebook builds) because the
notebook toolchain it needs, nbformat and nbconvert, takes seconds to import (nbformat's schema
validation loads jsonschema and its format checkers); every notebook kernel imports the report
module, and only this step needs the toolchain.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import nbformat
from nbconvert import HTMLExporter, MarkdownExporter

from retrainlab.research.report import TEMPLATES

REPORT_NAME = "enhancement_report"


def render(notebook: str | Path, out_dir: str | Path, name: str = REPORT_NAME) -> dict[str, Path]:
    """Render an executed notebook, code hidden, to ``<name>.html`` and ``<name>.md``.

    The HTML uses the ``report_html`` template (the lab template minus every CDN script) with
    images inline. The Markdown's images go to ``<name>_files/`` beside it, linked relatively,
    so the report renders on a code host.
    """
    notebook, out_dir = Path(notebook), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    nb = nbformat.read(notebook, as_version=4)
    nb.metadata["title"] = _title(nb) or name
    hidden = {"exclude_input": True, "exclude_input_prompt": True, "exclude_output_prompt": True}

    html_exporter = HTMLExporter(
        template_name="report_html", extra_template_basedirs=[str(TEMPLATES)], **hidden
    )
    html, _ = html_exporter.from_notebook_node(nb)
    if re.search(r"<script[^>]+src=[\"']https?://", html):
        raise RuntimeError(
            "rendered HTML loads a script from the network; the report must be self-contained"
        )
    html_path = out_dir / f"{name}.html"
    html_path.write_text(html, encoding="utf-8")

    files_dir = f"{name}_files"
    md_exporter = MarkdownExporter(**hidden)
    markdown, res = md_exporter.from_notebook_node(
        nb, resources={"output_files_dir": files_dir, "unique_key": name}
    )
    figures = out_dir / files_dir
    if figures.exists():
        for old in figures.iterdir():
            old.unlink()
    for filename, data in res.get("outputs", {}).items():
        target = out_dir / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    md_path = out_dir / f"{name}.md"
    md_path.write_text(_tidy_markdown(markdown), encoding="utf-8")
    return {"html": html_path, "md": md_path}


def _title(nb: Any) -> str | None:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return None


def _tidy_markdown(text: str) -> str:
    # nbconvert leaves runs of blank lines where hidden code cells were
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m retrainlab render-report NOTEBOOK --out-dir reports``."""
    parser = argparse.ArgumentParser(prog="python -m retrainlab render-report")
    parser.add_argument("notebook", help="executed report notebook (.ipynb)")
    parser.add_argument("--out-dir", default="reports")
    parser.add_argument("--name", default=REPORT_NAME)
    args = parser.parse_args(argv)
    paths = render(args.notebook, args.out_dir, args.name)
    for kind, path in paths.items():
        print(f"wrote {kind}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
