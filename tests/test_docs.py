"""The project cites only files it contains (docs, README, docstrings, tests, notebooks)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TRACKED = subprocess.run(
    ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
).stdout.split()
CITING = [
    p
    for p in TRACKED
    if p.endswith((".py", ".md", ".ipynb", ".j2"))
    and p.split("/")[0] in ("lib", "tests", "notebooks", "docs", "README.md")
]
# a Markdown file name, not a template (.md.j2) nor a pattern (<name>.md, *.md)
CITATION = re.compile(r"(?<![\w<>*{}/.-])((?:[\w.-]+/)*[\w-]+\.md)(?![\w.])")


def _exists(cited: str, citing: str) -> bool:
    if "/" not in cited:
        return any(Path(t).name == cited for t in TRACKED)
    here = (ROOT / citing).parent
    return any(
        (base / cited).resolve().relative_to(ROOT).as_posix() in TRACKED
        for base in (ROOT, here)
        if (base / cited).resolve().is_relative_to(ROOT)
    ) or any(t.endswith("/" + cited) for t in TRACKED)


@pytest.mark.parametrize("citing", CITING)
def test_every_cited_markdown_file_is_in_the_repository(citing):
    text = (ROOT / citing).read_text(encoding="utf-8")
    missing = sorted({c for c in CITATION.findall(text) if not _exists(c, citing)})
    assert not missing, f"{citing} cites files the repository does not contain: {missing}"
