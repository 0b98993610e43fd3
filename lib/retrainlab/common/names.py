"""Name checking with a "did you mean" hint, shared by configs, notebook parameters and the CLI,
and the command lines' one-line messages."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def suggest(name: str, valid: Iterable[str]) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest valid name, or ``""`` if none is close."""
    close = difflib.get_close_matches(str(name), list(valid), n=1, cutoff=0.5)
    return f" Did you mean {close[0]!r}?" if close else ""


def check_name(name: str, valid: Iterable[str], what: str) -> str:
    """Return ``name`` if it is one of ``valid``; otherwise raise ``ValueError`` naming the
    options."""
    valid = tuple(valid)
    if name not in valid:
        raise ValueError(
            f"unknown {what} {name!r}.{suggest(name, valid)} Valid choices: {', '.join(valid)}."
        )
    return name


def one_line(text: object) -> str:
    """``text`` on one line (its whitespace runs, newlines included, as single spaces): how a
    command line reports a failure, whatever the message holds."""
    return " ".join(str(text).split())
