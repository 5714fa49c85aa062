"""The mutation harness of the grading tests, shared by ``tests/grading_mutants/test_<notebook>_mutants.py``.

Not a test file: ``tests/support`` is put on ``sys.path`` by ``tests/conftest.py``, and a mutation file imports
this module as ``_mutation``.

What a mutant is. Each mutant is the source of one wrong exercise function (a no-op, a constant, a call to
ganlib's reference, a typical mistake), written with :func:`define` or, from a template of the solution's named
parts, with :func:`fill`. It is exec'd into a fresh module of the solution's exercise cells (``load_exercises``),
replacing the solution's function, and the grading tests of that exercise (``tests/grading/test_<notebook>.py``,
read by :func:`load_grading_module`) are called directly on it, in-process: ``ex`` is the module, ``monkeypatch``
a fresh ``pytest.MonkeyPatch``, parametrised tests run once per case. A mutant is killed when at least one of them
fails (it loses points).

The lists a mutation file gives, and what the generic tests check of them:

- ``MUTANTS``: {id: (exercise function, source that redefines it)}. Every exercise has at least ``min_mutants``
  of them, and every one must lose points; the file's mutation score is printed (``pytest -s ... -k score``).
- ``EQUIVALENT``: {mutant id: why} for the mutants that look wrong but compute what the solution computes, so
  cannot lose points: skipped in the score, and checked to keep every point (so the claim stays true).
- ``ALTERNATIVES``: correct answers written otherwise than the solution: like the solution, they must keep
  every point.
- ``DELEGATING``: the answers that call ganlib's reference (ids with ``-ganlib-`` in them, unless the file says
  why one is not): they must lose every point of their exercise (DESIGN: an exercise answered by calling the
  ganlib function it asks for earns nothing).
- ``EARNS_NOTHING`` (``NOTHING`` in some files; optional): the no-ops and constants, which must lose every point
  of their exercise too (issue 11: no test may pass a no-op).
- ``listed``: more lists of mutant ids that a file's own checks use (``WRONG_HELPERS``, ``PRECISION_SLIPS``);
  their ids must be known mutants.

How a file uses it. It ends with the section "The tests"::

    HARNESS = mutation_tests(notebook=NOTEBOOK, grading=grading, exercises=EXERCISES, mutants=MUTANTS, ...,
                             min_delegating=..., min_mutants=..., count_equivalent=..., min_points=...)
    globals().update(HARNESS.tests)

:func:`mutation_tests` returns the generic tests of one notebook (``.tests``, by name: added to the file's globals,
pytest collects them there) and the helpers ``.grade`` and ``.mutant_module``, with which the file writes the
checks that are its notebook's own, after that call.
"""

import functools
import importlib.util
import inspect
import itertools
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from ganlib.course import load_exercises

ROOT = Path(__file__).resolve().parents[2]
GRADING = ROOT / "tests" / "grading"


def load_grading_module(notebook):
    """``tests/grading/test_<notebook>.py`` imported as the module ``grading_<notebook>``."""
    if str(GRADING) not in sys.path:  # where pytest finds the grading files' shared module (_delegation)
        sys.path.insert(0, str(GRADING))
    spec = importlib.util.spec_from_file_location(f"grading_{notebook}", GRADING / f"test_{notebook}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def define(header, body, prelude=""):
    """Source of a mutant: import lines ``prelude``, the ``def`` line ``header``, then ``body`` indented."""
    body = textwrap.indent(textwrap.dedent(body).strip("\n"), "    ")
    return textwrap.dedent(prelude).lstrip("\n") + header + body + "\n"


def fill(template, solution, change):
    """``template`` filled with the solution's parts, those named in ``change`` replaced by a mistake.

    A mutant built from a template changes one named part of an otherwise correct answer; a name that is not
    one of the solution's parts (a typo) fails here instead of silently giving the solution back.
    """
    assert set(change) <= set(solution), set(change) - set(solution)
    return template.format(**{**solution, **change})


def _cases(test):
    """(keyword arguments, points) of every case pytest would generate from ``test``'s marks."""
    marks = getattr(test, "pytestmark", [])
    points = next((mark.args[0] for mark in marks if mark.name == "points"), 1)
    grids = []
    for mark in marks:
        if mark.name == "parametrize":
            names, values = mark.args[0], mark.args[1]
            names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
            assert not any(hasattr(v, "marks") for v in values), "pytest.param is not supported here"
            grids.append([dict(zip(names, v if len(names) > 1 else (v,))) for v in values])
    return [({k: v for case in combo for k, v in case.items()}, points) for combo in itertools.product(*grids)]


def mutation_tests(*, notebook, grading, exercises, mutants, equivalent, alternatives, delegating, listed=(),
                   earns_nothing=(), min_delegating, min_mutants, count_equivalent, min_alternatives=None, min_points):
    """The generic mutation tests of notebook ``notebook`` (file stem), and the helpers they share.

    ``grading`` is its grading module (:func:`load_grading_module`); ``mutants`` and ``alternatives`` map an id
    to (exercise, source); ``equivalent`` maps a mutant to why it cannot lose points; ``delegating`` lists the
    mutants that call ganlib's reference; ``earns_nothing`` the no-ops and constants, which must lose every point
    of their exercise, like the delegating ones; ``listed`` more lists of mutant ids that must be known. The minimums
    are those the notebook's lists must reach (``count_equivalent``: whether equivalent mutants count towards
    ``min_mutants``; ``min_alternatives`` None: not checked).
    """
    solution = ROOT / "solutions" / f"{notebook}.ipynb"
    label = notebook.split("_")[0]

    def _grading_tests(exercise):
        tests = [(name, fn) for name, fn in vars(grading).items()
                 if name.startswith(f"test_{exercise}_") and inspect.isfunction(fn)]
        assert len(tests) >= 3, f"the grading tests of {exercise} were not found"
        return tests

    def _grade(module, exercise):
        """{test case: None if it passed, else the error} for every grading test of ``exercise`` on ``module``."""
        outcomes = {}
        for name, test in _grading_tests(exercise):
            for params, points in _cases(test):
                with pytest.MonkeyPatch.context() as mp:
                    fixtures = {"ex": module, "monkeypatch": mp}
                    unknown = set(inspect.signature(test).parameters) - set(params) - set(fixtures)
                    assert not unknown, f"{name} needs fixtures this harness does not provide: {unknown}"
                    kwargs = {arg: fixtures[arg] for arg in inspect.signature(test).parameters if arg in fixtures}
                    try:
                        test(**kwargs, **params)
                        error = None
                    except (Exception, pytest.fail.Exception) as exc:  # noqa: BLE001 - any failure loses the points
                        error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                outcomes[(f"{name}[{'-'.join(map(str, params.values()))}]", points)] = error
        return outcomes

    def _mutant_module(mutant_id):
        exercise, source = {**mutants, **alternatives}[mutant_id]
        module = load_exercises(solution)
        original = getattr(module, exercise)
        exec(compile(source, f"<mutant {mutant_id}>", "exec"), module.__dict__)
        assert getattr(module, exercise) is not original, f"mutant {mutant_id} does not redefine {exercise}"
        return module

    @functools.lru_cache(maxsize=None)
    def _killed_by(mutant_id):
        """The grading tests of the mutant's exercise that fail on it."""
        exercise = mutants[mutant_id][0]
        return [case for case, error in _grade(_mutant_module(mutant_id), exercise).items() if error is not None]

    def test_every_exercise_has_mutants_and_the_names_are_known():
        assert set(equivalent) <= set(mutants) and all(set(ids) <= set(mutants) for ids in (*listed, earns_nothing))
        assert not set(alternatives) & set(mutants)
        assert len(delegating) >= min_delegating
        for exercise in exercises:
            assert sum(target == exercise and (count_equivalent or m not in equivalent)
                       for m, (target, _) in mutants.items()) >= min_mutants, exercise
            if min_alternatives is not None:
                assert sum(target == exercise for target, _ in alternatives.values()) >= min_alternatives, exercise

    @pytest.mark.parametrize("exercise", exercises)
    def test_the_solution_keeps_every_point(exercise):
        outcomes = _grade(load_exercises(solution), exercise)
        failed = {case: error for case, error in outcomes.items() if error is not None}
        assert not failed, f"the solution loses points: {failed}"
        assert sum(points for _, points in outcomes) >= min_points

    @pytest.mark.parametrize("mutant_id", sorted(mutants))
    def test_mutant_loses_points(mutant_id):
        if mutant_id in equivalent:
            pytest.skip(f"equivalent mutant: {equivalent[mutant_id]}")
        assert _killed_by(mutant_id), f"mutant {mutant_id} keeps every point of {mutants[mutant_id][0]}"

    def test_mutation_score():
        scored = [m for m in mutants if m not in equivalent]
        survivors = [m for m in scored if not _killed_by(m)]
        score = 1 - len(survivors) / len(scored)
        print(f"notebook {label} mutation score: {len(scored) - len(survivors)}/{len(scored)} = {score:.0%} "
              f"({len(equivalent)} equivalent mutants skipped)")
        assert not survivors, f"surviving mutants: {survivors}"

    @pytest.mark.parametrize("mutant_id", delegating)
    def test_delegation_earns_nothing(mutant_id):
        exercise = mutants[mutant_id][0]
        kept = [case for case, error in _grade(_mutant_module(mutant_id), exercise).items() if error is None]
        assert not kept, f"{mutant_id} calls ganlib's reference and still earns {kept}"

    @pytest.mark.parametrize("mutant_id", earns_nothing)
    def test_a_no_op_or_a_constant_earns_nothing(mutant_id):
        kept = [case for case, error in _grade(_mutant_module(mutant_id), mutants[mutant_id][0]).items() if error is None]
        assert not kept, f"{mutant_id} is a no-op or a constant and still earns {kept}"

    @pytest.mark.parametrize("mutant_id", sorted(equivalent))
    def test_equivalent_mutant_keeps_every_point(mutant_id):
        exercise = mutants[mutant_id][0]
        lost = {case: error for case, error in _grade(_mutant_module(mutant_id), exercise).items() if error is not None}
        assert not lost, f"{mutant_id} is listed as equivalent but loses {lost}: take it out of EQUIVALENT"

    @pytest.mark.parametrize("alternative", sorted(alternatives))
    def test_a_correct_answer_written_otherwise_keeps_every_point(alternative):
        exercise = alternatives[alternative][0]
        lost = {case: error for case, error in _grade(_mutant_module(alternative), exercise).items()
                if error is not None}
        assert not lost, f"the correct answer {alternative} loses points: {lost}"

    tests = {name: fn for name, fn in locals().items() if name.startswith("test_")}
    if not earns_nothing:  # no list given: no test, rather than one pytest skips for its empty parameter set
        del tests["test_a_no_op_or_a_constant_earns_nothing"]
    return SimpleNamespace(tests=tests, grade=_grade, mutant_module=_mutant_module)
