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
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["CheckFailed", "Effect", "Judgement", "bootstrap", "bound_references", "check_close", "check_own_work",
           "check_true", "forbidden_calls", "judge_at", "qualified_name", "seeds_differ", "seeds_exceed", "verdict"]


# How a verdict line starts; ``course run`` finds them in the executed notebooks' outputs by these prefixes.
VERDICT_HELD = "VERDICT held: "
VERDICT_NOT_HELD = "VERDICT not held here: "
VERDICT_WITHIN_NOISE = "VERDICT within noise: "
VERDICT_NOT_JUDGED = "VERDICT not judged: "
OUTCOMES = {"held": VERDICT_HELD, "not held": VERDICT_NOT_HELD, "within noise": VERDICT_WITHIN_NOISE,
            "not judged": VERDICT_NOT_JUDGED}  # outcome: its line's prefix


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


# --------------------------------------------------------------------------- verdicts: claims judged against noise
#
# A reading claims an effect ("batch norm keeps G's activations in range", "the penalty critic tracks quality").
# Its verdict compares the effect this run measured with a yardstick of the run's own noise:
#
#     held          effect >  noise      the effect stands out of the noise, in the claimed direction
#     not held      effect < -noise      it stands out, the other way
#     within noise  |effect| <= noise    this budget cannot tell the effect from chance
#     not judged    the run is too short to judge (smoke, or under a notebook's stated minimum)
#
# ``effect`` is signed so that positive supports the claim (a difference "with minus without", or a statistic
# minus the value the claim must beat); ``noise`` is the half-width of the yardstick: two standard errors across
# seeds for a training outcome (:func:`seeds_differ`, :func:`seeds_exceed`), a bootstrap interval for a metric of
# samples (:func:`bootstrap`). A claim whose evidence has no noise (a closed form, an exact count, a ratio of a
# hundred) passes a bool instead.

PROFILE_ORDER = ("smoke", "quick", "colab", "full")  # shortest first
_judging = {"profile": None, "minimum": "quick"}  # set by judge_at; None: judge every verdict


@dataclass(frozen=True)
class Effect:
    """A measured effect and its noise: ``value`` (positive supports the claim) and ``noise`` (a half-width)."""

    value: float
    noise: float
    yardstick: str  # how the noise was measured, e.g. "2 SE over 3 seeds"

    def __post_init__(self):
        if not (math.isfinite(self.value) and math.isfinite(self.noise)) or self.noise < 0:
            raise ValueError(f"an effect needs a finite value and a finite noise >= 0, got {self.value} ± {self.noise}")

    @property
    def outcome(self) -> str:
        """``held``, ``not held`` or ``within noise``."""
        return "held" if self.value > self.noise else "not held" if self.value < -self.noise else "within noise"

    def __str__(self) -> str:
        return f"effect {self.value:+.4g} ± {self.noise:.3g}, {self.yardstick}"


def _seed_values(values, what: str) -> np.ndarray:
    a = _array(values).ravel()
    if a.size < 2:
        raise ValueError(f"{what}: the noise across seeds needs at least two seeds, got {a.size}; run more seeds "
                         "or pass an Effect with a noise measured another way")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{what}: a seed gave a non-finite value ({_short(a)}); that run diverged, so there is "
                         "nothing to compare")
    return a


def seeds_differ(a, b, *, k: float = 2.0) -> Effect:
    """Effect of "A is larger than B" measured over seeds: mean(a) - mean(b), noise ``k`` standard errors.

    The standard error of a difference of means with the sample variances of each side (Welch):
    ``sqrt(var(a)/n_a + var(b)/n_b)``, ``ddof = 1``. Two standard errors is the usual yardstick for "stands
    out of the noise" (about a 95 % interval for a normal spread); with two or three seeds it is itself a
    rough estimate, which is why the verdict says how many seeds it rests on.

    Args:
        a, b: one number per seed for each setting (at least two each). Pass ``b`` minus ``a``'s order
            (``seeds_differ(without, with_)``) for a claim that A is *smaller*.
    """
    a, b = _seed_values(a, "seeds_differ(a, ...)"), _seed_values(b, "seeds_differ(..., b)")
    se = math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    seeds = f"{a.size} seeds" if a.size == b.size else f"{a.size} and {b.size} seeds"
    return Effect(float(a.mean() - b.mean()), k * se, f"{k:g} SE over {seeds}")


def seeds_exceed(values, threshold: float = 0.0, *, k: float = 2.0) -> Effect:
    """Effect of "the value is above ``threshold``" over seeds: mean - threshold, noise ``k`` standard errors."""
    a = _seed_values(values, "seeds_exceed")
    return Effect(float(a.mean() - threshold), k * float(a.std(ddof=1)) / math.sqrt(a.size),
                  f"{k:g} SE over {a.size} seeds")


def bootstrap(statistic: Callable[..., float], *samples, threshold: float = 0.0, resamples: int = 1000,
              level: float = 0.95, seed: int = 0) -> Effect:
    """Effect of "``statistic(*samples)`` is above ``threshold``", with a percentile bootstrap interval as noise.

    Each sample (a tensor or array whose first axis indexes items: images, features, per-item scores) is
    resampled with replacement, independently of the others, ``resamples`` times; the noise is the larger
    distance from the estimate to either end of the ``level`` percentile interval, so "held" means the whole
    interval lies above ``threshold``.

    Args:
        statistic: a function of the samples, returning a number (e.g. a recall, a difference of two FIDs).
        samples: one or more samples, each indexed along its first axis.
        threshold: the value the claim says the statistic exceeds.
        seed: the resampling's seed, so the verdict repeats.
    """
    if not samples:
        raise ValueError("bootstrap needs at least one sample to resample")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    sizes = [len(s) for s in samples]
    if min(sizes) < 2:
        raise ValueError(f"bootstrap needs at least two items in every sample, got sizes {sizes}")
    rng = np.random.default_rng(seed)
    estimate = float(statistic(*samples))

    def pick(sample, index):
        return sample[torch.as_tensor(index)] if isinstance(sample, torch.Tensor) else np.asarray(sample)[index]

    draws = np.array([float(statistic(*(pick(s, rng.integers(0, len(s), len(s))) for s in samples)))
                      for _ in range(resamples)])
    low, high = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
    noise = max(estimate - low, high - estimate, 0.0)
    return Effect(estimate - threshold, float(noise), f"{100 * level:g} % bootstrap interval, {resamples} resamples")


def judge_at(profile: str, minimum: str = "quick") -> str:
    """Judge verdicts only in runs of at least profile ``minimum``: smoke's few steps print *not judged*.

    A notebook calls it once, after resolving its profile (``PROFILE = judge_at(ganlib.resolve_profile(PROFILE))``);
    until then, and in scripts and tests, every verdict is judged.

    Returns:
        ``profile``, so the call can wrap the assignment.
    """
    for name in (profile, minimum):
        if name not in PROFILE_ORDER:
            raise ValueError(f"unknown profile {name!r}; choose one of: {', '.join(PROFILE_ORDER)}")
    _judging.update(profile=profile, minimum=minimum)
    return profile


def _judged_here() -> bool:
    profile = _judging["profile"]
    return profile is None or PROFILE_ORDER.index(profile) >= PROFILE_ORDER.index(_judging["minimum"])


@dataclass(frozen=True)
class Judgement:
    """What :func:`verdict` printed: the claim, its outcome, and the effect it rests on (None for a bool claim)."""

    claim: str
    outcome: str  # one of OUTCOMES
    effect: Effect | None = None
    evidence: str = ""

    @property
    def held(self) -> bool:
        return self.outcome == "held"

    def __bool__(self) -> bool:
        return self.held

    def _ipython_display_(self) -> None:
        """Shows nothing: the verdict line is already printed, so a cell that ends in ``verdict(...)`` adds no
        stray ``Judgement(...)`` (or ``True``) output."""


NOT_JUDGED_MEANS = "this run is too short to judge the claim; run the quick profile or longer to see it tested"


def verdict(claim: str, held: bool | Effect, evidence: str = "", *, judged: bool | None = None,
            if_held: str = "", if_not_held: str = "", if_within_noise: str = "",
            if_not_judged: str = NOT_JUDGED_MEANS) -> Judgement:
    """Print whether a claim a reading makes held in this run, computed from the run's own numbers.

    Prints one line, ``VERDICT <outcome>: CLAIM (EFFECT; EVIDENCE)``, where the outcome is ``held``,
    ``not held here``, ``within noise`` or ``not judged``, so a run on another machine, profile or seed shows
    which claims of the reading it supports; then, indented, the reading for that outcome (``if_held`` and
    so on): what to conclude from it. Nothing is raised either way: an effect that did not appear is a result,
    not an error.

    Args:
        claim: the claim, in words.
        held: an :class:`Effect` (from :func:`seeds_differ`, :func:`seeds_exceed`, :func:`bootstrap`, or built
            by hand) for a measured claim; a bool only for a claim whose evidence carries no noise.
        evidence: the numbers behind it, as the cell printed them.
        judged: False for a run too short to judge (below the notebook's stated minimum); None follows
            :func:`judge_at` (smoke is not judged).
        if_held, if_not_held, if_within_noise, if_not_judged: what the outcome means, printed under the line.

    Returns:
        The :class:`Judgement`; it is true when the claim held.
    """
    effect = held if isinstance(held, Effect) else None
    if judged is False or (judged is None and not _judged_here()):
        outcome = "not judged"
    elif effect is not None:
        outcome = effect.outcome
    else:  # a bool, numpy's or a one-element tensor's
        outcome = "held" if bool(held) else "not held"
    details = "; ".join(part for part in (str(effect) if effect else "", evidence) if part)
    print(f"{OUTCOMES[outcome]}{claim}" + (f" ({details})" if details else ""))
    meaning = {"held": if_held, "not held": if_not_held, "within noise": if_within_noise,
               "not judged": if_not_judged}[outcome]
    if meaning:
        print(f"    {meaning}")
    return Judgement(claim, outcome, effect, evidence)
