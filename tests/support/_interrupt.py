"""A training run killed mid-way, for the exact-resume tests (not a test file: the underscore keeps pytest away)."""


class Killed(Exception):
    """Raised where a real run would have been killed."""


class DiesAfter:
    """Batches that stop the run (like a killed process) when asked for batch ``n + 1``, by ``next`` or ``take``."""

    def __init__(self, inner, n):
        self.inner, self.n, self.count = inner, n, 0

    def _tick(self):
        self.count += 1
        if self.count > self.n:
            raise Killed

    def __next__(self):
        self._tick()
        return next(self.inner)

    def take(self, k):
        self._tick()
        return self.inner.take(k)

    def state_dict(self):
        return self.inner.state_dict()

    def load_state_dict(self, state):
        self.inner.load_state_dict(state)
