"""Friendly checks that a student runs right after an exercise.

Each check prints one line: a tick and what passed, or raises :class:`CheckFailed` (an
``AssertionError``) with one line saying what was expected and what came back. They compare
against values the notebook states, so they reveal no solution.

In a notebook, importing this module also shortens two kinds of error to that one line instead of
a traceback: a failed check, and an exercise that is not written yet (the
``NotImplementedError("Exercise N.M ...")`` of the student notebooks). Every other error keeps its
full traceback, which a student needs to debug their code. The cell still fails, so "Run All"
stops at the first exercise that is not done.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np
import torch

__all__ = ["CheckFailed", "bound_references", "check_close", "check_own_work", "check_true", "forbidden_calls",
           "qualified_name", "verdict"]


# How a verdict line starts; ``course run`` finds them in the executed notebooks' outputs by these prefixes.
VERDICT_HELD = "VERDICT held: "
VERDICT_NOT_HELD = "VERDICT not held here: "


class CheckFailed(AssertionError):
    """A student check failed; the message is the whole story (what, expected, got)."""


def _array(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


def _short(a: np.ndarray) -> str:
    return np.array2string(a, precision=4, threshold=6, suppress_small=True) if a.ndim else f"{float(a):.6g}"


def check_close(what: str, got, expected, *, rtol: float = 1e-4, atol: float = 1e-6) -> None:
    """Pass if ``got`` matches ``expected`` (same shape, elementwise within tolerance).

    Args:
        what: what is being checked, in words, e.g. ``"D*(x) where p_data = 3 p_g"``.
        got: the student's value (number, array or tensor).
        expected: the right value.
    """
    if got is None:
        raise CheckFailed(f"✗ {what}: your function returned None; did you forget `return`?")
    g, e = _array(got), _array(expected)
    if g.shape != e.shape:
        raise CheckFailed(f"✗ {what}: expected shape {e.shape}, got shape {g.shape}")
    if not np.all(np.isfinite(g) | ~np.isfinite(e)) or not np.allclose(g, e, rtol=rtol, atol=atol, equal_nan=True):
        raise CheckFailed(f"✗ {what}: expected {_short(e)}, got {_short(g)}")
    print(f"✓ {what}")


def check_true(what: str, condition: bool, hint: str = "") -> None:
    """Pass if ``condition`` holds; otherwise fail with ``hint``."""
    if not condition:
        raise CheckFailed(f"✗ {what}" + (f": {hint}" if hint else ""))
    print(f"✓ {what}")


def qualified_name(obj) -> str:
    """``module.qualname`` of a function or class, e.g. ``"ganlib.losses.gradient_penalty"``."""
    return f"{obj.__module__}.{obj.__qualname__}"


@contextlib.contextmanager
def forbidden_calls(references: Mapping[str, object], message: Callable[[str], str],
                    methods: Mapping[str, Sequence[str]] | None = None) -> Iterator[list[str]]:
    """Within the block, every reference records its call and raises ``AssertionError(message(name))``.

    Used by :func:`check_own_work` and by the hidden grading tests: an exercise answered by calling ganlib's
    own implementation of it earns nothing (DESIGN: Notebooks).

    Args:
        references: qualified name -> a function or a class. A function's code object is swapped for a
            stub, so the call is caught however the caller reached it: ``from ganlib.losses import f as g``,
            ``ganlib.losses.f``, ``losses.f``, an import inside the caller. A class has its ``__init__``
            (and the ``methods`` named for it) replaced.
        message: the error's text, given the qualified name that was called.
        methods: qualified class name -> methods of that class to disable too (e.g. ``{"...ImagePool": ["query"]}``).

    Yields:
        The list of qualified names called so far (also when the caller swallowed the error).
    """
    calls: list[str] = []
    restore: list[Callable[[], None]] = []
    try:
        for name, obj in references.items():
            if isinstance(obj, type):
                for attr in ("__init__", *(methods or {}).get(name, ())):
                    label = name if attr == "__init__" else f"{name}.{attr}"

                    def stub(*args, _label=label, **kwargs):
                        calls.append(_label)
                        raise AssertionError(message(_label))

                    had, old = attr in vars(obj), vars(obj).get(attr)
                    setattr(obj, attr, stub)
                    restore.append(lambda obj=obj, attr=attr, had=had, old=old:
                                   setattr(obj, attr, old) if had else delattr(obj, attr))
            else:
                # A decorated function (``@torch.no_grad()``, ``functools.wraps``): disable the function it wraps,
                # whose code has no free variables; the wrapper then calls the stub.
                obj = inspect.unwrap(obj)
                # The stub runs with the reference's own globals: it finds the call list there.
                namespace: dict = {}
                exec(f"def stub(*args, **kwargs):\n    _forbidden_calls.append({name!r})\n"
                     f"    raise AssertionError({message(name)!r})", namespace)
                glob, had, old = obj.__globals__, "_forbidden_calls" in obj.__globals__, obj.__globals__.get("_forbidden_calls")
                glob["_forbidden_calls"] = calls
                restore.append(lambda glob=glob, had=had, old=old:
                               glob.__setitem__("_forbidden_calls", old) if had else glob.pop("_forbidden_calls", None))
                code = obj.__code__
                obj.__code__ = namespace["stub"].__code__
                restore.append(lambda obj=obj, code=code: setattr(obj, "__code__", code))
        yield calls
    finally:
        for undo in reversed(restore):
            undo()


def bound_references(fn: Callable, references: Mapping[str, object]) -> list[tuple[str, str]]:
    """(global name, qualified name) for every reference bound to a global name that ``fn``'s code uses.

    A static complement to :func:`forbidden_calls`: it finds a reference the inputs of a check do not reach
    (a branch never taken), through an import at the top of the notebook (``from ganlib.losses import f``).
    """
    by_id = {id(obj): name for name, obj in references.items()}
    by_id.update({id(inspect.unwrap(obj)): name for name, obj in references.items() if callable(obj)})
    found, codes = [], [fn.__code__]
    while codes:
        code = codes.pop()
        codes += [c for c in code.co_consts if hasattr(c, "co_names")]  # nested functions, lambdas
        found += [(n, by_id[id(fn.__globals__[n])]) for n in code.co_names
                  if n in fn.__globals__ and id(fn.__globals__[n]) in by_id]
    return found


def check_own_work(fn: Callable, references: Sequence[object] | object, *args, **kwargs):
    """Pass if ``fn(*args, **kwargs)`` runs without calling ganlib's reference(s) of the exercise.

    The visible counterpart of the hidden grading tests' delegation check: an answer that calls the
    ganlib function the exercise asks you to write earns nothing, and this says so before you submit.

    Args:
        fn: the exercise function you wrote.
        references: ganlib's implementation(s) of the same exercise (functions or classes).
        *args, **kwargs: inputs to call ``fn`` with.

    Returns:
        What ``fn`` returned.
    """
    refs = references if isinstance(references, (list, tuple)) else [references]
    named = {qualified_name(r): r for r in refs}
    listing = ", ".join(named)

    def message(name: str) -> str:
        return (f"✗ {fn.__name__} calls {name}, ganlib's own answer to this exercise: an answer that calls it "
                "earns nothing. Write the computation yourself.")

    bound = bound_references(fn, named)
    if bound:
        raise CheckFailed(message(bound[0][1]) + f" (it is bound to the name {bound[0][0]!r})")
    with forbidden_calls(named, message) as calls:
        try:
            result = fn(*args, **kwargs)
        except AssertionError:
            if not calls:
                raise
            result = None
    if calls:
        raise CheckFailed(message(calls[0]))
    print(f"✓ {fn.__name__} is your own work: it does not call {listing}")
    return result


def _one_line_errors(shell, etype, value, tb, tb_offset=None):
    """IPython handler: one line for a failed check or an unwritten exercise, else the usual traceback.

    IPython ignores a custom handler's return value when user code raises, so the handler shows
    the error itself; ``_showtraceback`` is how an IPython shell (a Jupyter kernel's included)
    sends an error output, so the cell is still marked failed and "Run All" stops there.
    """
    message = str(value)
    if issubclass(etype, NotImplementedError) and message.startswith("Exercise "):
        name = message.split(":")[0]
        message = (f"✗ {name} is not written yet: replace the `raise NotImplementedError(...)` line in its cell "
                   "with your code, run that cell, then run this one again.")
    elif not issubclass(etype, CheckFailed):  # any other error: the student needs the whole traceback
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
        return None
    shell._showtraceback(etype, value, [message])
    return [message]


def _install_one_line_errors() -> None:
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: nothing to install
        return
    shell = get_ipython()
    if shell is not None and hasattr(shell, "set_custom_exc"):
        shell.set_custom_exc((CheckFailed, NotImplementedError), _one_line_errors)


_install_one_line_errors()


def verdict(claim: str, held: bool, evidence: str = "") -> bool:
    """Print whether a claim a reading makes held in this run, computed from the run's own numbers.

    Prints one line, ``VERDICT held: CLAIM (EVIDENCE)`` or ``VERDICT not held here: CLAIM (EVIDENCE)``,
    so a run on another machine, profile or seed shows which claims of the reading it supports.
    Nothing is raised either way: an effect that did not appear is a result, not an error.

    Returns:
        ``held``, as a bool.
    """
    held = bool(held)
    print(f"{VERDICT_HELD if held else VERDICT_NOT_HELD}{claim}" + (f" ({evidence})" if evidence else ""))
    return held
