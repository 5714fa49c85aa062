"""Grading tests of notebook 06 (CycleGAN): the cycle-consistency and identity losses, the image
pool's query, and the generators' objective.

Reference values come from closed forms computed in float64 (L1 means written out, gradients as
sign / numel, an objective of scaling generators and linear patch discriminators whose every term
has a closed form); the pool's exact sequence is compared with ``ganlib.training.cyclegan.ImagePool``,
whose random draws the exercise specifies.

Delegation. Every call of a submitted function goes through :func:`_run`, which disables ganlib's
references of this notebook for the duration of the call (``losses.cycle_consistency_loss``,
``losses.identity_loss``, ``ImagePool``, ``generator_objective``, ``lsgan_generator_term``): each
reference function's code is swapped for a stub that records the call and raises, so a call is caught
however the submission reached the function (``from ganlib.losses import cycle_consistency_loss as
c``, ``ganlib.losses.cycle_consistency_loss``, ``losses.cycle_consistency_loss``, an import inside
the function), even when it swallows the error. An exercise answered by calling ganlib's reference so
earns nothing (DESIGN: Notebooks). Each exercise also has a test of its own,
``test_<exercise>_is_your_own``, that adds a static check (a forbidden object bound to a global name
the function uses) and names the problem in its failure message.

Exercise 4 and exercises 1-2. The objective is graded on its own: its main tests replace the
module's ``cycle_consistency_loss`` and ``identity_loss`` by correct implementations, so a wrong
exercise 1 or 2 does not also cost exercise 4, whether the student's objective calls those helpers
(as the notebook intends) or inlines them. One further test runs the objective with the student's own
helpers and accepts either the true value or the value built from those helpers: it checks that the
objective calls them with the right arguments (or inlines them correctly), again without charging
exercise 4 for a mistake in exercise 1 or 2.
"""

import pytest
import torch
import torch.nn.functional as nnf
from torch import nn

from ganlib import losses
from ganlib.training import cyclegan

from _delegation import Delegation

NOTEBOOK = "06_cyclegan"
F64 = torch.float64

# ganlib's references of this notebook -> the exercise function that must not call them
FORBIDDEN = {
    "ganlib.losses.cycle_consistency_loss": ("cycle_consistency_loss", losses.cycle_consistency_loss),
    "ganlib.losses.identity_loss": ("identity_loss", losses.identity_loss),
    "ganlib.training.cyclegan.generator_objective": ("cyclegan_generator_loss", cyclegan.generator_objective),
    "ganlib.training.cyclegan.lsgan_generator_term": ("cyclegan_generator_loss", cyclegan.lsgan_generator_term),
}
FORBIDDEN_CLASS = ("ganlib.training.cyclegan.ImagePool", "pool_query", cyclegan.ImagePool)
EXERCISE_NUMBER = {"cycle_consistency_loss": "6.1", "identity_loss": "6.2", "pool_query": "6.3",
                   "cyclegan_generator_loss": "6.4"}
DELEGATION = Delegation(FORBIDDEN, EXERCISE_NUMBER, classes=[(*FORBIDDEN_CLASS, "query")])
_run, _assert_own_work = DELEGATION.run, DELEGATION.assert_own_work
_assert_no_bound_references = DELEGATION.assert_no_bound_references


def _randn(*shape, seed=0, dtype=F64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _mean_abs(a, b):
    """mean |a - b| over every element, written out: sum / count."""
    return (a - b).abs().sum() / a.numel()


def _scalar(got):
    assert isinstance(got, torch.Tensor), f"expected a scalar tensor, got {type(got).__name__}"
    assert got.ndim == 0, f"expected a scalar tensor, got shape {tuple(got.shape)}"
    return got


# x and y batches of different sizes and shapes: each direction is a mean over its own elements
SHAPES = [((3, 2, 4, 5), (5, 1, 6, 3)), ((2, 3, 4, 4), (2, 3, 4, 4))]


def _pairs_closed_form(ex, name, shapes):
    (shape_x, shape_y), seed = shapes, sum(shapes[0]) + sum(shapes[1])
    x, y = _randn(*shape_x, seed=seed), _randn(*shape_y, seed=seed + 1)
    x_out, y_out = _randn(*shape_x, seed=seed + 2) * 2, _randn(*shape_y, seed=seed + 3) + 0.5
    expected = _mean_abs(x_out, x) + _mean_abs(y_out, y)
    got = _scalar(_run(ex, name, x, x_out, y, y_out))
    assert abs(got.item() - expected.item()) < 1e-10, (
        f"got {got.item():.8f}, expected {expected.item():.8f}: mean |difference| over all elements of each "
        "batch, the two directions added")


def _pairs_small_example(ex, name, second):
    x, x_out = torch.zeros(1, 1, 1, 2, dtype=F64), torch.tensor([[[[1.0, -3.0]]]], dtype=F64)
    y, y_out = (torch.tensor([1.0, -1.0], dtype=F64).reshape(2, 1, 1, 1),
                torch.tensor([1.5, -1.5], dtype=F64).reshape(2, 1, 1, 1))
    got = _scalar(_run(ex, name, x, x_out, y, y_out)).item()
    assert abs(got - 2.5) < 1e-12, (
        f"x = (0, 0) with {second[0]} = (1, -3), y = (1), (-1) with {second[1]} = (1.5), (-1.5): expected "
        f"mean(1, 3) + mean(0.5, 0.5) = 2.5, got {got:g} (5.25: squared; 5: sums; 4.5: sums per image; "
        "1.25: averaged; 2 or 0.5: one direction; 3.5: x paired with y)")


def _pairs_gradients(ex, name):
    x, y = _randn(2, 1, 2, 3, seed=30), _randn(3, 1, 1, 2, seed=31)  # 12 and 6 elements
    x_out = _randn(2, 1, 2, 3, seed=32).requires_grad_(True)
    y_out = _randn(3, 1, 1, 2, seed=33).requires_grad_(True)
    got = _scalar(_run(ex, name, x, x_out, y, y_out))
    assert got.requires_grad, "the loss must keep its graph: no .item(), .detach() or torch.no_grad()"
    got.backward()
    assert x_out.grad is not None and y_out.grad is not None, "no gradient reached the generated images"
    sign_x, sign_y = torch.sign(x_out.detach() - x), torch.sign(y_out.detach() - y)
    assert torch.allclose(x_out.grad, sign_x / 12, atol=1e-14), "wrong gradient in x's direction: sign / numel"
    assert torch.allclose(y_out.grad, sign_y / 6, atol=1e-14), "wrong gradient in y's direction: sign / numel"


# ---------------------------------------------------------------------------------------------
# Exercise 1: cycle_consistency_loss
# ---------------------------------------------------------------------------------------------


@pytest.mark.points(1)
@pytest.mark.parametrize("shapes", SHAPES, ids=["different_batches", "same_shapes"])
def test_cycle_consistency_loss_closed_form(ex, shapes):
    _pairs_closed_form(ex, "cycle_consistency_loss", shapes)


@pytest.mark.points(1)
def test_cycle_consistency_loss_small_example(ex):
    _pairs_small_example(ex, "cycle_consistency_loss", ("x_cycled", "y_cycled"))


@pytest.mark.points(1)
def test_cycle_consistency_loss_gradients(ex):
    _pairs_gradients(ex, "cycle_consistency_loss")


@pytest.mark.points(1)
def test_cycle_consistency_loss_is_your_own(ex):
    _assert_own_work(ex, "cycle_consistency_loss", *(_randn(2, 1, 3, 3, seed=s) for s in range(4)))


# ---------------------------------------------------------------------------------------------
# Exercise 2: identity_loss
# ---------------------------------------------------------------------------------------------


@pytest.mark.points(1)
@pytest.mark.parametrize("shapes", SHAPES, ids=["different_batches", "same_shapes"])
def test_identity_loss_closed_form(ex, shapes):
    _pairs_closed_form(ex, "identity_loss", shapes)


@pytest.mark.points(1)
def test_identity_loss_small_example(ex):
    _pairs_small_example(ex, "identity_loss", ("F_of_x", "G_of_y"))


@pytest.mark.points(1)
def test_identity_loss_gradients(ex):
    _pairs_gradients(ex, "identity_loss")


@pytest.mark.points(1)
def test_identity_loss_is_your_own(ex):
    _assert_own_work(ex, "identity_loss", *(_randn(2, 1, 3, 3, seed=s) for s in range(4)))


# ---------------------------------------------------------------------------------------------
# Exercise 3: pool_query
# ---------------------------------------------------------------------------------------------


def _ids(batch):
    """Images filled with one number each (their id) -> those numbers."""
    return [float(image.flatten()[0]) for image in batch]


def _images(ids, shape=(1, 1, 1)):
    return torch.stack([torch.full(shape, float(i)) for i in ids])


@pytest.mark.points(1)
@pytest.mark.parametrize("pool_size, seed", [(5, 0), (1, 3), (4, 11)])
def test_pool_query_matches_imagepool(ex, pool_size, seed):
    reference = cyclegan.ImagePool(pool_size, seed)
    pool, generator = [], torch.Generator().manual_seed(seed)
    for step, batch_size in enumerate([3, 4, 1, 5, 2, 6, 3]):
        fakes = _randn(batch_size, 2, 3, 3, seed=100 * seed + step, dtype=torch.float32)
        expected = reference.query(fakes.clone())
        got = _run(ex, "pool_query", pool, fakes, pool_size, generator)
        assert isinstance(got, torch.Tensor) and got.shape == fakes.shape, (
            f"step {step}: expected a batch of shape {tuple(fakes.shape)}, got "
            f"{tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__}")
        assert len(pool) == len(reference.images), (
            f"step {step}: the pool (the list passed in, updated in place) holds {len(pool)} images, expected "
            f"{len(reference.images)} (at most pool_size = {pool_size})")
        assert torch.equal(got, expected), (
            f"step {step}: the returned batch differs from ImagePool's: store while filling; once full, draw "
            "torch.rand((), generator=generator) < 0.5 per image, then "
            "torch.randint(pool_size, (), generator=generator)")
        assert all(torch.equal(a, b) for a, b in zip(pool, reference.images)), f"step {step}: the stored images differ"


@pytest.mark.points(1)
def test_pool_query_fills_then_trades_images(ex):
    pool, generator = [], torch.Generator().manual_seed(5)
    first = _images([1, 2, 3])
    got = _run(ex, "pool_query", pool, first, 4, generator)
    assert _ids(got) == [1, 2, 3], "while the pool fills up, each fresh image is returned as is"
    assert _ids(pool) == [1, 2, 3], (
        "while the pool fills up, each fresh image is appended to the list `pool` passed in (updated in place)")
    got = _run(ex, "pool_query", pool, _images([4, 5, 6]), 4, generator)
    assert len(pool) == 4, f"the pool must hold pool_size = 4 images once full, it holds {len(pool)}"
    assert _ids(got)[0] == 4, "the 4th image fills the pool: it is returned as is"
    next_id = 7
    for step in range(30):  # once full: an image returned from the pool is replaced by the fresh one
        fresh = list(range(next_id, next_id + 3))
        before = _ids(pool)
        got = _ids(_run(ex, "pool_query", pool, _images(fresh), 4, generator))
        next_id += 3
        assert len(pool) == 4, f"the pool grew to {len(pool)} images (pool_size = 4)"
        assert sorted(before + fresh) == sorted(_ids(pool) + got), (
            "each image shown from the pool must be replaced there by the fresh image it stands in for "
            f"(pool {before} + fresh {fresh} became pool {_ids(pool)} + returned {got})")
        assert all(g == f or g in before + fresh[:j] for j, (g, f) in enumerate(zip(got, fresh))), (
            f"position by position, return the fresh image or one stored before it (fresh {fresh}, got {got})")


@pytest.mark.points(1)
def test_pool_query_trades_half_the_time_with_any_slot(ex):
    pool_size, generator = 8, torch.Generator().manual_seed(123)
    pool = []
    _run(ex, "pool_query", pool, _images(range(-1, -9, -1)), pool_size, generator)  # fill with ids -1..-8
    traded, n = 0, 0
    shown_initial = set()
    for step in range(250):
        fresh = list(range(8 * step + 1, 8 * step + 9))
        got = _ids(_run(ex, "pool_query", pool, _images(fresh), pool_size, generator))
        traded += sum(g != f for g, f in zip(got, fresh))
        n += len(fresh)
        shown_initial |= {g for g in got if g < 0}
    assert 0.45 < traded / n < 0.55, f"{traded / n:.1%} of the images came from the pool, expected 50%"
    assert shown_initial == set(range(-8, 0)), (
        f"every slot of the pool must be drawn uniformly (torch.randint(pool_size, ...)): of the 8 first images, "
        f"only {sorted(shown_initial)} were ever returned")


@pytest.mark.points(1)
def test_pool_query_detaches_and_stores_copies(ex):
    base = _randn(2, 1, 2, 2, seed=40, dtype=torch.float32).requires_grad_(True)
    fakes = base * 2  # attached to a graph, like G(x)
    pool, generator = [], torch.Generator().manual_seed(1)
    got = _run(ex, "pool_query", pool, fakes, 3, generator)
    assert not got.requires_grad, "the returned batch must be detached (fakes.detach()): D's step must not reach G"
    assert all(not image.requires_grad for image in pool), "the stored images must be detached"
    stored = [image.clone() for image in pool]
    with torch.no_grad():
        fakes.add_(100.0)  # G's next output may reuse the memory: the pool must hold copies
    assert all(torch.equal(a, b) for a, b in zip(pool, stored)), (
        "editing the fakes after the query changed the pool: store image.clone(), not a view of the batch")
    swapped = False
    for step in range(5):
        fakes = _randn(4, 1, 2, 2, seed=41 + step, dtype=torch.float32).requires_grad_(True) * 1
        before = [image.clone() for image in pool]
        got = _run(ex, "pool_query", pool, fakes, 3, generator)
        assert not got.requires_grad and all(not image.requires_grad for image in pool), "detach the fakes"
        stored = [image.clone() for image in pool]
        with torch.no_grad():
            fakes.mul_(-3.0).add_(7.0)
        assert all(torch.equal(a, b) for a, b in zip(pool, stored)), (
            "editing the fakes after the query changed the pool: store image.clone() when trading too")
        swapped |= len(before) == len(pool) and not all(torch.equal(a, b) for a, b in zip(before, pool))
    assert swapped, "in 5 batches of 4 with a full pool, no fresh image ever replaced a stored one"


@pytest.mark.points(1)
def test_pool_query_size_zero_returns_the_batch(ex):
    fakes = _randn(3, 1, 2, 2, seed=50, dtype=torch.float32).requires_grad_(True) * 1
    pool, generator = [], torch.Generator().manual_seed(2)
    state = generator.get_state()
    got = _run(ex, "pool_query", pool, fakes, 0, generator)
    assert isinstance(got, torch.Tensor) and torch.equal(got, fakes.detach()), "pool_size 0: return the fakes"
    assert not got.requires_grad, "pool_size 0: return the fakes detached"
    assert pool == [], "pool_size 0: store nothing"
    assert torch.equal(generator.get_state(), state), "pool_size 0: draw no random numbers"


@pytest.mark.points(1)
def test_pool_query_is_your_own(ex):
    _assert_own_work(ex, "pool_query", [], _randn(6, 1, 2, 2, seed=60, dtype=torch.float32), 3,
                     torch.Generator().manual_seed(0))


# ---------------------------------------------------------------------------------------------
# Exercise 4: cyclegan_generator_loss
# ---------------------------------------------------------------------------------------------


class _Scale(nn.Module):
    """A generator that multiplies its input by a learnable number: G(x) = a x."""

    def __init__(self, a):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(a, dtype=F64))

    def forward(self, x):
        return self.a * x


class _LinearPatchD(nn.Module):
    """A PatchGAN-like critic: (B, C, H, W) -> (B, 1, H/2, W/2), each patch w . avg_pool2(x) + c."""

    def __init__(self, w, c):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w, dtype=F64))
        self.c = nn.Parameter(torch.tensor(c, dtype=F64))

    def forward(self, x):
        return torch.einsum("bchw,c->bhw", nnf.avg_pool2d(x, 2), self.w)[:, None] + self.c


def _networks():
    return _Scale(0.8), _Scale(1.3), _LinearPatchD([0.7, -1.2], 0.4), _LinearPatchD([-0.5, 0.9], -0.3)


def _domains():
    return _randn(3, 2, 4, 4, seed=70), _randn(2, 2, 4, 4, seed=71) * 0.5 + 0.3  # batches of 3 and 2


def _expected_objective(a, b, D_X, D_Y, x, y, lambda_cyc, lambda_id):
    """Closed form with G = a *, F = b *; a and b tensors, so autograd gives the expected gradients."""
    def d(D, t):  # the critic's (B, 1, 2, 2) patch map of t, written out
        pooled = t.reshape(*t.shape[:2], 2, 2, 2, 2).mean(dim=(3, 5))  # (B, C, 2, 2)
        return (pooled * D.w.detach()[None, :, None, None]).sum(dim=1, keepdim=True) + D.c.detach()
    adversarial = ((d(D_Y, a * x) - 1) ** 2).sum() / (len(x) * 4) + ((d(D_X, b * y) - 1) ** 2).sum() / (len(y) * 4)
    cycle = (a * b - 1).abs() * (x.abs().sum() / x.numel() + y.abs().sum() / y.numel())  # F(G(x)) = ab x
    identity = (a - 1).abs() * y.abs().sum() / y.numel() + (b - 1).abs() * x.abs().sum() / x.numel()  # G(y), F(x)
    return adversarial + lambda_cyc * cycle + lambda_id * lambda_cyc * identity


def _reference_cycle(x, x_cycled, y, y_cycled):
    return _mean_abs(x_cycled, x) + _mean_abs(y_cycled, y)


def _reference_identity(x, F_of_x, y, G_of_y):
    return _mean_abs(G_of_y, y) + _mean_abs(F_of_x, x)


def _with_reference_helpers(ex, monkeypatch):
    """Exercise 4 graded on its own: exercises 1 and 2 replaced by correct implementations."""
    monkeypatch.setattr(ex, "cycle_consistency_loss", _reference_cycle, raising=False)
    monkeypatch.setattr(ex, "identity_loss", _reference_identity, raising=False)


def _check_objective(got, expected, what):
    _scalar(got)
    assert abs(got.item() - expected.item()) < 1e-10, (
        f"{what}: got {got.item():.8f}, expected {expected.item():.8f} = E[(D_Y(G(x)) - 1)^2] + E[(D_X(F(y)) - 1)^2] "
        "(means over batch and patch map) + lambda_cyc L_cyc + lambda_id lambda_cyc L_identity")


@pytest.mark.points(2)
def test_cyclegan_generator_loss_default_weights(ex, monkeypatch):
    _with_reference_helpers(ex, monkeypatch)
    G, F, D_X, D_Y = _networks()
    x, y = _domains()
    got = _run(ex, "cyclegan_generator_loss", G, F, D_X, D_Y, x, y)
    with torch.no_grad():
        expected = _expected_objective(G.a, F.a, D_X, D_Y, x, y, 10.0, 0.5)
    _check_objective(got, expected, "defaults lambda_cyc = 10, lambda_id = 0.5")


@pytest.mark.points(1)
@pytest.mark.parametrize("lambda_cyc, lambda_id", [(2.5, 0.0), (0.0, 0.3), (3.0, 2.0)])
def test_cyclegan_generator_loss_weights(ex, monkeypatch, lambda_cyc, lambda_id):
    _with_reference_helpers(ex, monkeypatch)
    G, F, D_X, D_Y = _networks()
    x, y = _domains()
    got = _run(ex, "cyclegan_generator_loss", G, F, D_X, D_Y, x, y, lambda_cyc=lambda_cyc, lambda_id=lambda_id)
    with torch.no_grad():
        expected = _expected_objective(G.a, F.a, D_X, D_Y, x, y, lambda_cyc, lambda_id)
    _check_objective(got, expected, f"lambda_cyc = {lambda_cyc}, lambda_id = {lambda_id} (relative to lambda_cyc)")


@pytest.mark.points(1)
@pytest.mark.parametrize("lambda_cyc, lambda_id", [(10.0, 0.5), (0.0, 0.0)], ids=["all_terms", "adversarial_only"])
def test_cyclegan_generator_loss_gradients(ex, monkeypatch, lambda_cyc, lambda_id):
    _with_reference_helpers(ex, monkeypatch)
    G, F, D_X, D_Y = _networks()
    x, y = _domains()
    a, b = G.a.detach().clone().requires_grad_(True), F.a.detach().clone().requires_grad_(True)
    expected = torch.autograd.grad(_expected_objective(a, b, D_X, D_Y, x, y, lambda_cyc, lambda_id), (a, b))
    got = _scalar(_run(ex, "cyclegan_generator_loss", G, F, D_X, D_Y, x, y, lambda_cyc=lambda_cyc, lambda_id=lambda_id))
    assert got.requires_grad, "the objective must keep its graph: no .item(), .detach() or torch.no_grad()"
    got.backward()
    for name, net, grad in (("G", G, expected[0]), ("F", F, expected[1])):
        assert net.a.grad is not None, f"no gradient reached {name}"
        assert abs(net.a.grad.item() - grad.item()) < 1e-10, (
            f"{name}'s gradient is {net.a.grad.item():.8f}, expected {grad.item():.8f}: every term must reach "
            "the generators, the adversarial ones through the discriminators (no detach of the fakes)")


@pytest.mark.points(1)
def test_cyclegan_generator_loss_with_your_own_helpers(ex, monkeypatch):
    G, F, D_X, D_Y = _networks()
    x, y = _domains()
    a, b = G.a.detach(), F.a.detach()
    expected = [_expected_objective(a, b, D_X, D_Y, x, y, 3.0, 0.4).item()]  # helpers inlined, or correct
    try:  # the same objective built from the submission's own exercises 1 and 2, right or wrong
        adversarial = _expected_objective(a, b, D_X, D_Y, x, y, 0.0, 0.0)
        cycle = _run(ex, "cycle_consistency_loss", x, b * a * x, y, a * b * y)
        identity = _run(ex, "identity_loss", x, b * x, y, a * y)
        expected.append(float(adversarial + 3.0 * cycle + 0.4 * 3.0 * identity))
    except Exception:  # noqa: BLE001 - helpers that fail on these inputs: exercise 4 is graded with correct ones
        _with_reference_helpers(ex, monkeypatch)
    got = _scalar(_run(ex, "cyclegan_generator_loss", G, F, D_X, D_Y, x, y, lambda_cyc=3.0, lambda_id=0.4))
    assert any(abs(got.item() - e) < 1e-10 for e in expected), (
        f"got {got.item():.8f}, expected {expected[0]:.8f}: call cycle_consistency_loss(x, F(G(x)), y, G(F(y))) "
        "and identity_loss(x, F(x), y, G(y))")


@pytest.mark.points(1)
def test_cyclegan_generator_loss_is_your_own(ex, monkeypatch):
    _assert_no_bound_references(ex, "cyclegan_generator_loss")  # its helpers as the submission bound them
    _with_reference_helpers(ex, monkeypatch)  # then correct ones, so a failing exercise 1 or 2 costs nothing here
    G, F, D_X, D_Y = _networks()
    _assert_own_work(ex, "cyclegan_generator_loss", G, F, D_X, D_Y, *_domains())
