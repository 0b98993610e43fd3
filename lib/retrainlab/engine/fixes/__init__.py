"""The six fixes of the published report, one module each, named exactly as in ``FIXES``.

Each module owns its fix: what it changes, through the engine's hooks (``HOOKS``: hook name ->
function, see ``retrainlab.engine.hooks``), and its description (``PROBLEM``, the published
report's name for what was wrong, and ``CHANGE``, one line on what the fix does). ``MODULES``
maps each name in ``FIXES`` to its module; ``DESCRIPTIONS`` and ``describe`` read the
descriptions. Adding a fix: docs/adding-a-fix.md.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from retrainlab.common.names import check_name
from retrainlab.engine.config import FIXES

__all__ = ["DESCRIPTIONS", "FIXES", "MODULES", "describe", "problem"]

#: name -> the fix's module (``retrainlab.engine.fixes.<name>``), in ``FIXES`` order.
MODULES: dict[str, ModuleType] = {
    name: importlib.import_module(f"{__name__}.{name}") for name in FIXES
}

#: name -> (problem, change): what the published report said was wrong, and what the fix does.
DESCRIPTIONS: dict[str, tuple[str, str]] = {
    name: (module.PROBLEM, module.CHANGE) for name, module in MODULES.items()
}


def describe(name: str) -> str:
    """One line on what fix ``name`` does (its module's ``CHANGE``)."""
    return DESCRIPTIONS[check_name(name, FIXES, "fix")][1]


def problem(name: str) -> str:
    """What the published report said was wrong, for fix ``name`` (its module's ``PROBLEM``)."""
    return DESCRIPTIONS[check_name(name, FIXES, "fix")][0]
