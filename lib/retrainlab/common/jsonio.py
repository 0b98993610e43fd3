"""One home for JSON: JSON-safe values (``jsonable``) and results files (``write_results``,
``read_results``). Results files, facade records and the CLI all go through here."""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def jsonable(value: Any) -> Any:
    """A JSON-safe copy: NaN/inf -> None, numpy -> Python, times -> ISO text, tuples -> lists."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [jsonable(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (numbers.Integral,)):
        return int(value)
    if isinstance(value, numbers.Real):
        x = float(value)
        return x if math.isfinite(x) else None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return jsonable(value.to_dict())
    return value


#: Significant digits of every float in a results file: far more than the report prints (at most
#: four), far fewer than the 17 of a double, so noise from the BLAS kernel of another CPU (about
#: 1e-11 relative) does not reach the file.
RESULTS_DIGITS = 10


def round_floats(value: Any, digits: int = RESULTS_DIGITS) -> Any:
    """A copy of a JSON-safe value with every float rounded to ``digits`` significant digits."""
    if isinstance(value, dict):
        return {k: round_floats(v, digits) for k, v in value.items()}
    if isinstance(value, list):
        return [round_floats(v, digits) for v in value]
    if isinstance(value, float):
        return float(f"{value:.{digits}g}")
    return value


def write_results(path: str | Path, payload: Mapping[str, Any]) -> Path:
    """Write a results file deterministically, atomically: sorted keys, no timestamps, floats at
    ``RESULTS_DIGITS`` significant digits."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = round_floats(jsonable(payload))
    text = json.dumps(data, indent=1, sort_keys=True, allow_nan=False)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def read_results(path: str | Path) -> dict[str, Any]:
    """Read a results file, with a clear error if it is missing (run the step that writes it)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"results file {path} is missing: run `make report` (or the "
            "notebook that writes it) first"
        )
    return json.loads(path.read_text(encoding="utf-8"))
