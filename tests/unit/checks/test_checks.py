"""Tests of ganlib.checks: one friendly line per check, in Python and in a real notebook kernel."""

import sys

import nbformat
import pytest
import torch
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from ganlib import losses
from ganlib.checks import CheckFailed, check_close, check_own_work, check_true, forbidden_calls
from ganlib.training.cyclegan import ImagePool


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

    assert verdict("A beats B", 0.9 > 0.8, "0.90 vs 0.80").held is True
    assert verdict("C beats D", False).held is False
    assert capsys.readouterr().out.splitlines() == ["VERDICT held: A beats B (0.90 vs 0.80)",
                                                     "VERDICT not held here: C beats D"]


def test_in_a_notebook_a_cell_ending_in_a_verdict_shows_only_its_line():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "from ganlib.checks import Effect, verdict\nverdict('shown once', Effect(1.0, 0.5, 'by hand'))")])
    client = NotebookClient(nb, timeout=120, kernel_name="python3")
    client.kernel_manager_kwargs = {"kernel_cmd": [sys.executable, "-m", "ipykernel_launcher", "-f",
                                                   "{connection_file}"]}
    client.execute()
    [output] = nb.cells[0].outputs  # the printed line, and no Judgement(...) or True after it
    assert output.output_type == "stream"
    assert output.text == "VERDICT held: shown once (effect +1 ± 0.5, by hand)\n"


# Students' answers to "write the non-saturating G loss", written four ways; ganlib's reference is
# losses.generator_loss_nonsaturating. Module-level, so global names resolve as in a notebook.
import ganlib  # noqa: E402
from ganlib.losses import generator_loss_nonsaturating as _aliased  # noqa: E402


def _own(fake_logits):
    return torch.nn.functional.softplus(-fake_logits).mean()


def _attribute_chain(fake_logits):
    return ganlib.losses.generator_loss_nonsaturating(fake_logits)


def _alias(fake_logits):
    return _aliased(fake_logits) if fake_logits.numel() > 100 else _own(fake_logits)  # branch the check never takes


def _swallowed(fake_logits):
    try:
        return losses.generator_loss_nonsaturating(fake_logits)
    except Exception:  # noqa: BLE001 - a submission hiding the call
        return _own(fake_logits)


def test_check_own_work_passes_own_code_and_returns_its_result(capsys):
    logits = torch.tensor([0.5, -1.0])
    result = check_own_work(_own, losses.generator_loss_nonsaturating, logits)
    assert torch.equal(result, _own(logits))
    assert capsys.readouterr().out == ("✓ _own is your own work: it does not call "
                                       "ganlib.losses.generator_loss_nonsaturating\n")


@pytest.mark.parametrize("answer, through", [(_attribute_chain, ""), (_alias, " (it is bound to the name '_aliased')"),
                                             (_swallowed, "")])
def test_check_own_work_names_the_reference_however_it_is_called(answer, through):
    with pytest.raises(CheckFailed) as info:
        check_own_work(answer, [losses.generator_loss_nonsaturating], torch.tensor([0.5, -1.0]))
    assert str(info.value) == (f"✗ {answer.__name__} calls ganlib.losses.generator_loss_nonsaturating, ganlib's own "
                               "answer to this exercise: an answer that calls it earns nothing. Write the computation "
                               "yourself." + through)
    # the reference works again afterwards
    assert torch.allclose(losses.generator_loss_nonsaturating(torch.tensor([0.0])), torch.log(torch.tensor(2.0)))


def test_forbidden_calls_disables_functions_and_classes_and_restores_them():
    before = losses.generator_loss_nonsaturating.__code__
    refs = {"g": losses.generator_loss_nonsaturating, "pool": ImagePool}
    with forbidden_calls(refs, lambda name: f"no {name}", methods={"pool": ["query"]}) as calls:
        with pytest.raises(AssertionError, match="no g"):
            losses.generator_loss_nonsaturating(torch.zeros(1))
        with pytest.raises(AssertionError, match="no pool"):
            ImagePool(2)
        with pytest.raises(AssertionError, match="no pool.query"):
            ImagePool.query(None, torch.zeros(1, 1))
        assert calls == ["g", "pool", "pool.query"]
    assert losses.generator_loss_nonsaturating.__code__ is before
    assert "__init__" in vars(ImagePool) and "_forbidden_calls" not in vars(losses)
    assert ImagePool(0).query(torch.ones(2, 1)).shape == (2, 1)


@torch.no_grad()
def _decorated_reference(x):
    return x * 2


def test_forbidden_calls_also_disables_a_decorated_function():
    def answer(x):
        return _decorated_reference(x)

    with pytest.raises(CheckFailed, match="calls tests.test_checks._decorated_reference|calls test_checks._decorated_reference"):
        check_own_work(answer, _decorated_reference, torch.ones(1))
    with forbidden_calls({"ref": _decorated_reference}, lambda name: f"no {name}") as calls:
        with pytest.raises(AssertionError, match="no ref"):
            _decorated_reference(torch.ones(1))
    assert calls == ["ref"] and torch.equal(_decorated_reference(torch.ones(1)), torch.full((1,), 2.0))
