"""Delegation checks shared by the grading tests: an exercise answered by calling ganlib's reference earns nothing.

Not a test file (the leading underscore keeps pytest from collecting it). The grading files import it as
``from _delegation import Delegation``: pytest puts ``tests/grading`` on ``sys.path`` when it imports a
grading file (rootdir-relative "prepend" import mode, no ``__init__.py``), at the repository root as in
``python -m ganlib course grade``'s sandbox, which runs the grading files where they are.

A :class:`Delegation` is built from the notebook's references: ``forbidden`` maps a function's qualified
name to ``(exercise, function)``, ``classes`` lists ``(qualified name, exercise, class, method)`` for the
layers whose ``__init__`` and ``method`` are disabled, and ``exercise_numbers`` gives each exercise's
number for the failure messages. :meth:`Delegation.run` calls a submitted function with every reference
disabled (:func:`ganlib.checks.forbidden_calls`, the mechanism the notebooks' visible ``check_own_work``
uses too): each reference function's code is swapped for a stub that records the call and raises, and
each class's ``__init__`` and ``method`` are replaced by such stubs, so a call is caught however the
submission reached it, even when it swallows the error. :meth:`Delegation.assert_no_bound_references`
adds a static check: a forbidden object bound to a global name the function uses.
"""

from ganlib.checks import bound_references, forbidden_calls


class Delegation:
    """ganlib's references of one notebook, and the checks that a submission does not call them."""

    def __init__(self, forbidden, exercise_numbers, classes=()):
        self.forbidden = dict(forbidden)  # qualified name -> (exercise, function)
        self.classes = list(classes)  # (qualified name, exercise, class, method)
        self.exercise_numbers = dict(exercise_numbers)
        self.owners = {**{qualname: owner for qualname, (owner, _) in self.forbidden.items()},
                       **{qualname + suffix: owner for qualname, owner, _, method in self.classes
                          for suffix in ("", "." + method)}}

    def message(self, caller, qualname, owner):
        if owner == caller:
            return (f"{caller} calls {qualname}, ganlib's version of the function this exercise asks you to write: "
                    "an answer that calls it earns nothing")
        return (f"{caller} calls {qualname}, ganlib's answer to exercise {self.exercise_numbers[owner]}: call your "
                f"own {owner} or write the code")

    def _references(self):
        refs = {qualname: fn for qualname, (_, fn) in self.forbidden.items()}
        refs.update({qualname: cls for qualname, _, cls, _ in self.classes})
        return refs

    def forbidding(self, caller):
        """Within the block, every ganlib reference of this notebook records its call and raises."""
        return forbidden_calls(self._references(), lambda q: self.message(caller, q, self.owners[q]),
                               methods={qualname: [method] for qualname, _, _, method in self.classes})

    def run(self, ex, name, *args, **kwargs):
        """The submission's ``name`` called with ganlib's references of this notebook disabled."""
        with self.forbidding(name) as calls:
            result = getattr(ex, name)(*args, **kwargs)
        assert not calls, self.message(name, calls[0], self.owners[calls[0]])  # raised, and the submission caught it
        return result

    def bound_references(self, fn):
        """Global names the function's code uses that hold one of ganlib's references (bound at import)."""
        return bound_references(fn, self._references())

    def assert_no_bound_references(self, ex, name):
        bound = self.bound_references(getattr(ex, name))
        assert not bound, (self.message(name, bound[0][1], self.owners[bound[0][1]])
                           + f" (through the name {bound[0][0]!r})")

    def assert_own_work(self, ex, name, *args, **kwargs):
        self.assert_no_bound_references(ex, name)  # also where the tests' inputs do not reach the call
        self.run(ex, name, *args, **kwargs)
