"""Notebook parameter validation: unknown names, types, value rules."""

from __future__ import annotations

import pytest

from retrainlab import params


def _ns(source: str) -> dict:
    namespace: dict = {}
    exec(source, namespace)
    return namespace


DECLARED = (
    "seed: int = 42\nedge: float = 1.0\nfix: str = 'feedback_loop'\nseed_list: list[int] = [1]\n"
)


def test_valid_parameters_are_returned_and_coerced():
    ns = _ns(DECLARED + "edge = 2\n")  # papermill injects an int for a float
    assert params.validate(ns, "nb") == {
        "seed": 42,
        "edge": 2.0,
        "fix": "feedback_loop",
        "seed_list": [1],
    }
    assert isinstance(ns["edge"], float)


def test_unknown_parameter_is_named_with_a_suggestion():
    with pytest.raises(ValueError, match=r"unknown parameter 'sed'.*Did you mean 'seed'"):
        params.validate(_ns(DECLARED + "sed = 3\n"), "nb")


def test_imports_and_functions_are_not_parameters():
    ns = _ns("import math\nfrom math import sqrt\n" + DECLARED)
    assert "seed" in params.validate(ns, "nb")


@pytest.mark.parametrize(
    ("injected", "error", "match"),
    [
        ("seed = 4.5", TypeError, "'seed' must be int"),
        ("seed = True", TypeError, "'seed' must be an int"),
        ("seed = -1", ValueError, "'seed' must be a seed"),
        ("edge = -0.5", ValueError, "'edge' must be >= 0"),
        ("edge = 'big'", TypeError, "'edge' must be float"),
        ("fix = 'feedbak_loop'", ValueError, "Did you mean 'feedback_loop'.*Valid fixes"),
        ("seed_list = 3", TypeError, "'seed_list' must be a list"),
        ("seed_list = [1, 'a']", TypeError, "'seed_list' must be int"),
    ],
)
def test_bad_values_fail_naming_the_parameter(injected, error, match):
    with pytest.raises(error, match=match):
        params.validate(_ns(DECLARED + injected + "\n"), "nb")


def test_rerun_after_later_cells_does_not_flag_their_names():
    ns = _ns(DECLARED)
    params.validate(ns, "nb")
    ns["result_table"] = [1, 2]  # created by a later cell
    params.validate(ns, "nb")


def test_notebook_without_annotations_is_refused():
    with pytest.raises(ValueError, match="declares no parameters"):
        params.validate({"seed": 1}, "nb")
