"""Tests of ganlib.checks: one friendly line per check, in Python and in a real notebook kernel."""

import sys

import nbformat
import pytest
import torch
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from ganlib.checks import CheckFailed, check_close, check_true


def test_a_passing_check_prints_one_tick_line(capsys):
    check_close("two plus two", torch.tensor(4.0), 4)
    check_true("it holds", True)
    assert capsys.readouterr().out == "✓ two plus two\n✓ it holds\n"


@pytest.mark.parametrize("got, expected, message", [
    (torch.tensor([1.0, 2.0]), [1.0, 2.5], "✗ values: expected [1.  2.5], got [1. 2.]"),
    (torch.zeros(2, 3), torch.zeros(3), "✗ values: expected shape (3,), got shape (2, 3)"),
    (None, 1.0, "✗ values: your function returned None; did you forget `return`?"),
    (float("nan"), 1.0, "✗ values: expected 1, got nan"),
])
def test_a_failing_check_says_what_was_expected_and_what_came_back(got, expected, message):
    with pytest.raises(CheckFailed) as info:
        check_close("values", got, expected)
    assert str(info.value) == message
    assert isinstance(info.value, AssertionError)  # pytest-style code that catches AssertionError still works


def _run_cells(*sources: str) -> list:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    client = NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True)
    client.kernel_manager_kwargs = {"kernel_cmd": [sys.executable, "-m", "ipykernel_launcher", "-f",
                                                   "{connection_file}"]}
    client.execute()
    return [[o for o in cell.outputs if o.output_type == "error"] for cell in nb.cells]


def test_in_a_notebook_failed_checks_and_unwritten_exercises_show_one_line_other_errors_a_traceback():
    errors = _run_cells(
        "from ganlib.checks import check_close",
        "check_close('D*(x) at p_data = p_g', 0.25, 0.5)",
        "def f():\n    raise NotImplementedError('Exercise 2.1 (f): replace this line with your code')\nf()",
        "def g():\n    return 1 / 0\ng()",
    )
    assert errors[0] == []
    (check,), (todo,), (other,) = errors[1], errors[2], errors[3]
    assert check.traceback == ["✗ D*(x) at p_data = p_g: expected 0.5, got 0.25"]
    assert len(todo.traceback) == 1 and todo.traceback[0].startswith("✗ Exercise 2.1 (f) is not written yet")
    assert other.ename == "ZeroDivisionError" and len(other.traceback) > 1  # a real bug keeps its traceback


def test_verdict_prints_one_line_that_says_whether_the_claim_held(capsys):
    from ganlib.checks import verdict

    assert verdict("A beats B", 0.9 > 0.8, "0.90 vs 0.80") is True
    assert verdict("C beats D", False) is False
    assert capsys.readouterr().out.splitlines() == ["VERDICT held: A beats B (0.90 vs 0.80)",
                                                     "VERDICT not held here: C beats D"]
