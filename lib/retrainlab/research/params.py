"""Validation of notebook parameters (papermill passes unknown names silently; we do not).

Each notebook's parameters cell declares its parameters with annotations::

    seed: int = 42  # the published run's seed

and the next cell calls ``params = rl.params.validate(globals(), "00_replication")``. That:

* refuses any parameter papermill injected that the notebook does not declare, naming it with a
  "did you mean" hint (a typo such as ``-p n_seed 10`` would otherwise be ignored);
* checks each value's type against its annotation (an int is accepted for a float);
* applies the notebook's value rules below (ranges, choices such as ``fix in FIXES``);
* returns the parameters as a plain dict, for the results file.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from typing import Any

from retrainlab.common.names import check_name, suggest
from retrainlab.engine.config import FIXES

# names an IPython namespace has that are not parameters
_NOT_PARAMETERS = frozenset({"In", "Out", "get_ipython", "exit", "quit", "open", "display"})
_SNAPSHOT = "__retrainlab_params__"


def _positive(name: str, value: Any) -> None:
    if value <= 0:
        raise ValueError(f"parameter {name!r} must be > 0, got {value!r}")


def _non_negative(name: str, value: Any) -> None:
    if value < 0:
        raise ValueError(f"parameter {name!r} must be >= 0, got {value!r}")


def _at_least(minimum: int) -> Callable[[str, Any], None]:
    def check(name: str, value: Any) -> None:
        if value < minimum:
            raise ValueError(f"parameter {name!r} must be >= {minimum}, got {value!r}")

    return check


def _fix(name: str, value: Any) -> None:
    if value not in FIXES:
        raise ValueError(
            f"parameter {name!r}: unknown fix {value!r}.{suggest(value, FIXES)} "
            f"Valid fixes: {', '.join(FIXES)}."
        )


def _fixes(name: str, value: Any) -> None:
    for fix in value:
        _fix(name, fix)
    if not value or len(set(value)) != len(value):
        raise ValueError(f"parameter {name!r} must list at least one fix, each once; got {value!r}")


def _seed(name: str, value: Any) -> None:
    if not 0 <= value < 2**32:
        raise ValueError(f"parameter {name!r} must be a seed in [0, 2**32), got {value!r}")


#: Value rules by parameter name, shared by every notebook that declares the name.
RULES: dict[str, Callable[[str, Any], None]] = {
    "seed": _seed,
    "first_seed": _seed,
    "first_audit_seed": _seed,
    "n_days": _at_least(106),
    "n_tickers": _positive,
    "n_seeds": _positive,
    "seeds": _positive,
    "figures_seed": _seed,
    "n_seeds_audit": _at_least(2),
    "n_jobs": _positive,
    "edge": _non_negative,
    "fix": _fix,
    "fixes": _fixes,
    "confirmation_seeds": _non_negative,
    "cost_bps": _non_negative,
    "real_days": _non_negative,
    "panel_days": _non_negative,
    "panel_tickers": _non_negative,
    "block_days": _at_least(126),
    "index_block_days": _non_negative,
    "n_resamples": _positive,
    "placebo_seeds": _positive,
    "placebo_first_seed": _seed,
    "best_fix": lambda name, value: value == "" or _fix(name, value),
    "real_markets": lambda name, value: [
        check_name(v, ("sp500", "nasdaq"), f"value in parameter {name!r}:") for v in value
    ],
}


def validate(namespace: dict[str, Any], notebook: str) -> dict[str, Any]:
    """Check the parameters in a notebook's ``globals()`` and return them as a dict.

    Raises ``ValueError`` naming the first problem: an undeclared (unknown or misspelled)
    parameter, a value of the wrong type, or a value outside its rule.
    """
    declared: dict[str, Any] = {
        k: v for k, v in namespace.get("__annotations__", {}).items() if not k.startswith("_")
    }
    if not declared:
        raise ValueError(
            f"notebook {notebook!r} declares no parameters: annotate them in the "
            "parameters cell, e.g. `seed: int = 42  # help`"
        )
    # On an interactive re-run of the validation cell, names created by later cells are not
    # parameters: only names present at the first validation are considered.
    snapshot = namespace.setdefault(_SNAPSHOT, frozenset(namespace))
    unknown = [
        name
        for name, value in namespace.items()
        if name in snapshot
        and name not in declared
        and not name.startswith("_")
        and name not in _NOT_PARAMETERS
        and _is_plain(value)
    ]
    if unknown:
        name = sorted(unknown)[0]
        raise ValueError(
            f"unknown parameter {name!r} for notebook {notebook!r}.{suggest(name, declared)} "
            f"Valid parameters: {', '.join(declared)}."
        )
    values: dict[str, Any] = {}
    for name, annotation in declared.items():
        if name not in namespace:
            raise ValueError(f"parameter {name!r} of notebook {notebook!r} has no value")
        value = _coerce(name, namespace[name], annotation)
        if name in RULES and value is not None:
            RULES[name](name, value)
        namespace[name] = value
        values[name] = value
    return values


def _is_plain(value: Any) -> bool:
    """Parameters are plain data (what papermill can inject), not imported modules or functions."""
    return value is None or isinstance(value, (bool, int, float, str, list, tuple, dict))


def _coerce(name: str, value: Any, annotation: Any) -> Any:
    """Check ``value`` against ``annotation``; ints are accepted (and converted) for floats."""
    if isinstance(annotation, str):  # `from __future__ import annotations` in the notebook
        annotation = eval(
            annotation,
            {"list": list, "int": int, "float": float, "str": str, "bool": bool, "None": None},
        )
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        errors = []
        for option in options:
            try:
                return _coerce(name, value, option)
            except (TypeError, ValueError) as exc:
                errors.append(str(exc))
        raise TypeError(errors[0])
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"parameter {name!r} must be a list, got {value!r}")
        item = args[0] if args else Any
        return [value_ if item is Any else _coerce(name, value_, item) for value_ in value]
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation is int and isinstance(value, bool):
        raise TypeError(f"parameter {name!r} must be an int, got the bool {value!r}")
    if isinstance(annotation, type) and not isinstance(value, annotation):
        raise TypeError(
            f"parameter {name!r} must be {annotation.__name__}, got "
            f"{type(value).__name__} {value!r}"
        )
    return value
