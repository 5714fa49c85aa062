"""Mutation tests of notebook 06's grading tests (tests/grading/test_06_cyclegan.py), in-process.
How a mutant is graded, and what every list below must satisfy: the harness, tests/support/_mutation.py.

Its own check: a wrong exercise 1 or 2 does not cost exercise 4 (``WRONG_HELPERS``), which is graded on its own.
"""

import pytest

from _mutation import define as _define
from _mutation import fill
from _mutation import load_grading_module, mutation_tests

NOTEBOOK = "06_cyclegan"
EXERCISES = ("cycle_consistency_loss", "identity_loss", "pool_query", "cyclegan_generator_loss")
grading = load_grading_module(NOTEBOOK)
pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad=True to a scalar:UserWarning")


# ---------------------------------------------------------------------------------------------
# The mutants: {id: (exercise function, source that redefines it)}
# ---------------------------------------------------------------------------------------------


def _cycle(body, prelude=""):
    return "cycle_consistency_loss", _define("def cycle_consistency_loss(x, x_cycled, y, y_cycled):\n", body, prelude)


def _identity(body, prelude=""):
    return "identity_loss", _define("def identity_loss(x, F_of_x, y, G_of_y):\n", body, prelude)


def _pool_source(body, prelude=""):
    return "pool_query", _define("def pool_query(pool, fakes, pool_size, generator):\n", body, prelude)


POOL = """
{detach}
{zero}
out = []
for image in fakes:
    if {filling}:
        {store}
        out.append({fill_out})
    elif {coin}:
        {draw}
        out.append({traded})
        {replace}
    else:
        out.append(image)
return {result}
"""
POOL_SOLUTION = dict(
    detach="fakes = fakes.detach()", zero="if pool_size == 0: return fakes", filling="len(pool) < pool_size",
    store="pool.append(image.clone())", fill_out="image", coin="torch.rand((), generator=generator) < 0.5",
    draw="i = int(torch.randint(pool_size, (), generator=generator))", traded="pool[i]",
    replace="pool[i] = image.clone()", result="torch.stack(out)",
)


def _pool(prelude="", **change):
    """The solution's pool_query with the parts named in ``change`` replaced."""
    return _pool_source(fill(POOL, POOL_SOLUTION, change), prelude)


OBJECTIVE = """
fake_y, fake_x = G(x), F(y)
{logits}
adversarial = {adversarial}
cycle = {cycle}
identity = {identity}
return {total}
"""
OBJECTIVE_SOLUTION = dict(
    logits="d_y, d_x = D_Y(fake_y), D_X(fake_x)", adversarial="(d_y - 1).pow(2).mean() + (d_x - 1).pow(2).mean()",
    cycle="cycle_consistency_loss(x, F(fake_y), y, G(fake_x))", identity="identity_loss(x, F(x), y, G(y))",
    total="adversarial + lambda_cyc * cycle + lambda_id * lambda_cyc * identity",
)


def _objective(prelude="", lambda_cyc="10.0", lambda_id="0.5", **change):
    """The solution's cyclegan_generator_loss with the parts named in ``change`` replaced."""
    header = f"def cyclegan_generator_loss(G, F, D_X, D_Y, x, y, lambda_cyc={lambda_cyc}, lambda_id={lambda_id}):\n"
    return "cyclegan_generator_loss", _define(header, fill(OBJECTIVE, OBJECTIVE_SOLUTION, change), prelude)


# The mutants: {id: (exercise function, source that redefines it)}
MUTANTS = {
    # Exercise 1: cycle_consistency_loss
    "cycle-returns-none": _cycle("return None"),
    "cycle-zero": _cycle("return torch.zeros(())"),
    "cycle-constant": _cycle("return torch.tensor(1.0, requires_grad=True)"),
    "cycle-sum": _cycle("return (x_cycled - x).abs().sum() + (y_cycled - y).abs().sum()"),
    "cycle-per-image-sums": _cycle("return (x_cycled - x).abs().flatten(1).sum(1).mean() "
                                   "+ (y_cycled - y).abs().flatten(1).sum(1).mean()"),
    "cycle-squared": _cycle("return (x_cycled - x).pow(2).mean() + (y_cycled - y).pow(2).mean()"),
    "cycle-forward-only": _cycle("return (x_cycled - x).abs().mean()"),
    "cycle-backward-only": _cycle("return (y_cycled - y).abs().mean()"),
    "cycle-averaged": _cycle("return 0.5 * ((x_cycled - x).abs().mean() + (y_cycled - y).abs().mean())"),
    "cycle-wrong-pairing": _cycle("return (y_cycled - x).abs().mean() + (x_cycled - y).abs().mean()"),
    "cycle-pooled-mean": _cycle("return torch.cat([(x_cycled - x).abs().flatten(), "
                                "(y_cycled - y).abs().flatten()]).mean()"),
    "cycle-abs-of-mean": _cycle("return (x_cycled - x).mean().abs() + (y_cycled - y).mean().abs()"),
    "cycle-detached": _cycle("return ((x_cycled - x).abs().mean() + (y_cycled - y).abs().mean()).detach()"),
    "cycle-python-float": _cycle("return ((x_cycled - x).abs().mean() + (y_cycled - y).abs().mean()).item()"),
    "cycle-ganlib-from-import": _cycle("return _c(x, x_cycled, y, y_cycled)",
                                       "from ganlib.losses import cycle_consistency_loss as _c\n"),
    "cycle-ganlib-module-chain": _cycle("return ganlib.losses.cycle_consistency_loss(x, x_cycled, y, y_cycled)",
                                        "import ganlib.losses\n"),
    "cycle-ganlib-from-package": _cycle("return losses.cycle_consistency_loss(x, x_cycled, y, y_cycled)",
                                        "from ganlib import losses\n"),
    "cycle-ganlib-alias": _cycle("return _ref(x, x_cycled, y, y_cycled)",
                                 "import ganlib.losses as L\n_ref = L.cycle_consistency_loss\n"),
    "cycle-ganlib-import-inside": _cycle("""
        from ganlib.losses import cycle_consistency_loss as c
        return c(x, x_cycled, y, y_cycled)
    """),
    "cycle-ganlib-swallowed": _cycle("""
        try:
            return losses.cycle_consistency_loss(x, x_cycled, y, y_cycled)
        except Exception:
            return (x_cycled - x).abs().mean() + (y_cycled - y).abs().mean()
    """, "from ganlib import losses\n"),
    # Exercise 2: identity_loss
    "identity-returns-none": _identity("return None"),
    "identity-zero": _identity("return torch.zeros(())"),
    "identity-constant": _identity("return torch.tensor(1.0, requires_grad=True)"),
    "identity-sum": _identity("return (G_of_y - y).abs().sum() + (F_of_x - x).abs().sum()"),
    "identity-per-image-sums": _identity("return (G_of_y - y).abs().flatten(1).sum(1).mean() "
                                         "+ (F_of_x - x).abs().flatten(1).sum(1).mean()"),
    "identity-squared": _identity("return (G_of_y - y).pow(2).mean() + (F_of_x - x).pow(2).mean()"),
    "identity-x-only": _identity("return (F_of_x - x).abs().mean()"),
    "identity-y-only": _identity("return (G_of_y - y).abs().mean()"),
    "identity-averaged": _identity("return ((G_of_y - y).abs().mean() + (F_of_x - x).abs().mean()) / 2"),
    "identity-F-of-x-vs-y": _identity("return (G_of_y - x).abs().mean() + (F_of_x - y).abs().mean()"),
    "identity-one-term-vs-other-domain": _identity("return (G_of_y - y).abs().mean() + (F_of_x - y).abs().mean()"),
    "identity-pooled-mean": _identity("return torch.cat([(G_of_y - y).abs().flatten(), "
                                      "(F_of_x - x).abs().flatten()]).mean()"),
    "identity-detached": _identity("""
        with torch.no_grad():
            return (G_of_y - y).abs().mean() + (F_of_x - x).abs().mean()
    """),
    "identity-ganlib-from-import": _identity("return _i(x, F_of_x, y, G_of_y)",
                                             "from ganlib.losses import identity_loss as _i\n"),
    "identity-ganlib-module-chain": _identity("return ganlib.losses.identity_loss(x, F_of_x, y, G_of_y)",
                                              "import ganlib\n"),
    "identity-ganlib-from-package": _identity("return losses.identity_loss(x, F_of_x, y, G_of_y)",
                                              "from ganlib import losses\n"),
    "identity-ganlib-cycle-reference": _identity("return _c(x, F_of_x, y, G_of_y)",
                                                 "from ganlib.losses import cycle_consistency_loss as _c\n"),
    # Exercise 3: pool_query
    "pool-returns-none": _pool_source("return None"),
    "pool-returns-fakes": _pool_source("return fakes"),
    "pool-returns-fakes-detached": _pool_source("return fakes.detach()"),
    "pool-constant": _pool_source("return torch.zeros_like(fakes)"),
    "pool-no-clone": _pool(store="pool.append(image)", replace="pool[i] = image"),
    "pool-no-clone-when-filling": _pool(store="pool.append(image)"),
    "pool-no-clone-when-trading": _pool(replace="pool[i] = image"),
    "pool-does-not-store-the-fresh-one": _pool(replace="pass"),
    "pool-returns-fresh-after-trade": _pool(traded="image"),
    "pool-always-trades": _pool(coin="True"),
    "pool-always-trades-after-drawing": _pool(coin="torch.rand((), generator=generator) < 2"),
    "pool-never-trades": _pool(coin="False"),
    "pool-never-trades-after-drawing": _pool(coin="torch.rand((), generator=generator) < 0"),
    "pool-probability-0.3": _pool(coin="torch.rand((), generator=generator) < 0.3"),
    "pool-probability-0.7": _pool(coin="torch.rand((), generator=generator) < 0.7"),
    "pool-complementary-coin": _pool(coin="torch.rand((), generator=generator) >= 0.5"),
    "pool-index-drawn-before-the-coin": _pool(
        coin="(i := int(torch.randint(pool_size, (), generator=generator))) >= 0 "
             "and torch.rand((), generator=generator) < 0.5", draw="pass"),
    "pool-global-rng": _pool(coin="torch.rand(()) < 0.5", draw="i = int(torch.randint(pool_size, ()))"),
    "pool-index-off-by-one": _pool(draw="i = int(torch.randint(pool_size - 1, (), generator=generator))"),
    "pool-python-random-index": _pool(draw="i = random.randrange(pool_size)", prelude="import random\n"),
    "pool-not-detached": _pool(detach="pass"),
    "pool-size-zero-unhandled": _pool(zero="pass"),
    "pool-size-zero-returns-empty": _pool(zero="if pool_size == 0: return fakes[:0]"),
    "pool-size-zero-not-detached": _pool(detach="if pool_size == 0: return fakes", zero="fakes = fakes.detach()"),
    "pool-grows-when-trading": _pool(replace="pool.append(image.clone())"),
    "pool-fills-one-too-many": _pool(filling="len(pool) <= pool_size"),
    "pool-fill-phase-returns-zeros": _pool(fill_out="torch.zeros_like(image)"),
    "pool-rebinds-the-list": _pool(detach="fakes = fakes.detach(); pool = list(pool)"),
    "pool-one-coin-per-batch": _pool(detach="fakes = fakes.detach(); coin = torch.rand((), generator=generator) < 0.5",
                                     coin="coin"),
    "pool-reversed-output": _pool(result="torch.stack(out[::-1])"),
    "pool-returns-a-list": _pool(result="out"),
    "pool-ganlib-from-import": _pool_source("""
        p = ImagePool(pool_size)
        p.images, p.generator = pool, generator
        return p.query(fakes)
    """, "from ganlib.training.cyclegan import ImagePool\n"),
    "pool-ganlib-module-chain": _pool_source("""
        p = ganlib.training.cyclegan.ImagePool(pool_size)
        p.images, p.generator = pool, generator
        return p.query(fakes)
    """, "import ganlib.training.cyclegan\n"),
    "pool-ganlib-query-on-a-stand-in": _pool_source("""
        p = types.SimpleNamespace(size=pool_size, images=pool, generator=generator)
        return cyclegan.ImagePool.query(p, fakes)
    """, "import types\nfrom ganlib.training import cyclegan\n"),
    # Exercise 4: cyclegan_generator_loss
    "objective-returns-none": _objective(total="None"),
    "objective-zero": _objective(total="torch.zeros(())"),
    "objective-constant": _objective(total="torch.tensor(1.0, requires_grad=True)"),
    "objective-lambda-id-absolute": _objective(total="adversarial + lambda_cyc * cycle + lambda_id * identity"),
    "objective-lambda-id-forgotten": _objective(total="adversarial + lambda_cyc * (cycle + identity)"),
    "objective-non-saturating": _objective(
        adversarial="torch.nn.functional.softplus(-d_y).mean() + torch.nn.functional.softplus(-d_x).mean()"),
    "objective-bce-with-logits": _objective(
        adversarial="sum(torch.nn.functional.binary_cross_entropy_with_logits(d, torch.ones_like(d)) "
                    "for d in (d_y, d_x))"),
    "objective-lsgan-target-0-saturating": _objective(adversarial="-(d_y.pow(2).mean() + d_x.pow(2).mean())"),
    "objective-map-summed": _objective(adversarial="(d_y - 1).pow(2).sum(dim=(1, 2, 3)).mean() "
                                                   "+ (d_x - 1).pow(2).sum(dim=(1, 2, 3)).mean()"),
    "objective-batch-summed": _objective(adversarial="(d_y - 1).pow(2).mean(dim=(1, 2, 3)).sum() "
                                                     "+ (d_x - 1).pow(2).mean(dim=(1, 2, 3)).sum()"),
    "objective-pooled-adversarial-mean": _objective(
        adversarial="2 * torch.cat([d_y.flatten(), d_x.flatten()]).sub(1).pow(2).mean()"),
    "objective-discriminators-swapped": _objective(logits="d_y, d_x = D_X(fake_y), D_Y(fake_x)"),
    "objective-fakes-detached": _objective(logits="d_y, d_x = D_Y(fake_y.detach()), D_X(fake_x.detach())"),
    "objective-discriminators-under-no-grad": _objective(
        logits="with torch.no_grad(): d_y, d_x = D_Y(fake_y), D_X(fake_x)"),
    "objective-real-images-to-D": _objective(logits="d_y, d_x = D_Y(y), D_X(x)"),
    "objective-identity-missing": _objective(total="adversarial + lambda_cyc * cycle"),
    "objective-cycle-missing": _objective(total="adversarial + lambda_id * lambda_cyc * identity"),
    "objective-adversarial-missing": _objective(total="lambda_cyc * cycle + lambda_id * lambda_cyc * identity"),
    "objective-mao-half": _objective(
        total="0.5 * adversarial + lambda_cyc * cycle + lambda_id * lambda_cyc * identity"),
    "objective-cycle-against-y": _objective(cycle="cycle_consistency_loss(y, F(fake_y), x, G(fake_x))"),
    "objective-cycle-same-direction-twice": _objective(cycle="cycle_consistency_loss(x, F(fake_y), x, F(fake_y))"),
    "objective-cycle-wrong-generators": _objective(cycle="cycle_consistency_loss(x, G(fake_y), y, F(fake_x))"),
    "objective-cycle-detached": _objective(
        cycle="cycle_consistency_loss(x, F(fake_y.detach()), y, G(fake_x.detach()))"),
    "objective-identity-swapped-roles": _objective(identity="identity_loss(x, G(x), y, F(y))"),
    "objective-identity-wrong-domain": _objective(identity="identity_loss(y, F(x), x, G(y))"),
    "objective-default-lambda-cyc-5": _objective(lambda_cyc="5.0"),
    "objective-default-lambda-id-0": _objective(lambda_id="0.0"),
    "objective-python-float": _objective(
        total="float(adversarial + lambda_cyc * cycle + lambda_id * lambda_cyc * identity)"),
    "objective-ganlib-from-import": _objective(
        total="_g(G, F, D_X, D_Y, x, y, lambda_cyc=lambda_cyc, lambda_id=lambda_id).total",
        prelude="from ganlib.training.cyclegan import generator_objective as _g\n"),
    "objective-ganlib-module-chain": _objective(
        total="ganlib.training.cyclegan.generator_objective(G, F, D_X, D_Y, x, y, lambda_cyc=lambda_cyc, "
              "lambda_id=lambda_id).total", prelude="import ganlib.training.cyclegan\n"),
    "objective-ganlib-lsgan-term": _objective(
        adversarial="cyclegan.lsgan_generator_term(d_y) + cyclegan.lsgan_generator_term(d_x)",
        prelude="from ganlib.training import cyclegan\n"),
    "objective-ganlib-cycle-reference": _objective(cycle="losses.cycle_consistency_loss(x, F(fake_y), y, G(fake_x))",
                                                   prelude="from ganlib import losses\n"),
    "objective-ganlib-identity-bound-at-import": _objective(prelude="from ganlib.losses import identity_loss\n"),
}

# mutants that look wrong but compute what the solution computes: skipped in the score, and checked to
# keep every point (so the claim stays true)
EQUIVALENT = {
    "cycle-mean-of-image-means": "every image of a batch has the same number of elements, so the mean of the "
                                 "per-image means is the mean over all elements",
    "pool-index-over-len-pool": "a stored image is drawn only once the pool is full, when len(pool) == pool_size",
    "pool-returns-a-copy-of-the-stored": "torch.stack copies the images anyway",
    "objective-mean-of-patch-means": "every image has a patch map of the same size, so the mean of the per-image "
                                     "means is the mean over batch and map",
}
MUTANTS.update({
    "cycle-mean-of-image-means": _cycle("return (x_cycled - x).abs().flatten(1).mean(1).mean() "
                                        "+ (y_cycled - y).abs().flatten(1).mean(1).mean()"),
    "pool-index-over-len-pool": _pool(draw="i = int(torch.randint(len(pool), (), generator=generator))"),
    "pool-returns-a-copy-of-the-stored": _pool(traded="pool[i].clone()"),
    "objective-mean-of-patch-means": _objective(adversarial="(d_y - 1).pow(2).mean(dim=(1, 2, 3)).mean() "
                                                            "+ (d_x - 1).pow(2).mean(dim=(1, 2, 3)).mean()"),
})

# correct answers written otherwise than the solution: they must keep every point
ALTERNATIVES = {
    "cycle-l1-loss": _cycle("return F.l1_loss(x_cycled, x) + F.l1_loss(y_cycled, y)",
                            "import torch.nn.functional as F\n"),
    "cycle-L1Loss-module": _cycle("""
        l1 = nn.L1Loss()
        return l1(x_cycled, x) + l1(y_cycled, y)
    """, "from torch import nn\n"),
    "identity-l1-loss-other-order": _identity("return F.l1_loss(x, F_of_x) + F.l1_loss(y, G_of_y)",
                                              "import torch.nn.functional as F\n"),
    "pool-draws-of-shape-1": _pool(coin="torch.rand(1, generator=generator).item() < 0.5",
                                   draw="i = torch.randint(0, pool_size, (1,), generator=generator).item()"),
    "pool-index-loop": _pool_source("""
        fakes = fakes.detach()
        if pool_size == 0:
            return fakes
        out = fakes.clone()
        for k in range(fakes.shape[0]):
            if len(pool) < pool_size:
                pool.append(fakes[k].clone())
            elif torch.rand((), generator=generator).item() < 0.5:
                i = torch.randint(pool_size, (), generator=generator).item()
                out[k] = pool[i]
                pool[i] = fakes[k].clone()
        return out
    """),
    "objective-ganlib-least-squares-doubled": _objective(
        adversarial="2 * losses.least_squares_generator_loss(d_y) + 2 * losses.least_squares_generator_loss(d_x)",
        prelude="from ganlib import losses\n"),
    "objective-mse-loss": _objective(adversarial="sum(nnf.mse_loss(d, torch.ones_like(d)) for d in (d_y, d_x))",
                                     prelude="import torch.nn.functional as nnf\n"),
    "objective-helpers-inlined": _objective(cycle="(F(fake_y) - x).abs().mean() + (G(fake_x) - y).abs().mean()",
                                            identity="(F(x) - x).abs().mean() + (G(y) - y).abs().mean()"),
    "objective-weights-factored": _objective(total="adversarial + lambda_cyc * (cycle + lambda_id * identity)"),
}

# answers that call ganlib's reference: they must lose every point of their exercise (DESIGN: an exercise
# answered by calling the ganlib function it asks for earns nothing); objective-ganlib-identity-bound-at-import
# is not among them: its import replaces the student's exercise 2, which loses every point, while the objective
# loses only its test_..._is_your_own (graded with correct helpers, it computes the right thing)
DELEGATING = [m for m in MUTANTS if "-ganlib-" in m and m != "objective-ganlib-identity-bound-at-import"]

# wrong answers to exercises 1 and 2 that must not cost exercise 4 (it is graded on its own)
WRONG_HELPERS = ["cycle-returns-none", "cycle-squared", "cycle-forward-only", "cycle-wrong-pairing",
                 "identity-sum", "identity-F-of-x-vs-y", "identity-x-only"]


# ---------------------------------------------------------------------------------------------
# The tests: the harness's generic ones (tests/support/_mutation.py), then this notebook's own
# ---------------------------------------------------------------------------------------------

HARNESS = mutation_tests(
    notebook=NOTEBOOK, grading=grading, exercises=EXERCISES, mutants=MUTANTS, equivalent=EQUIVALENT,
    alternatives=ALTERNATIVES, delegating=DELEGATING, listed=[WRONG_HELPERS], min_delegating=12,
    min_mutants=10, count_equivalent=True, min_points=4)
globals().update(HARNESS.tests)


@pytest.mark.parametrize("mutant_id", WRONG_HELPERS)
def test_a_wrong_helper_does_not_cost_the_objective(mutant_id):
    outcomes = HARNESS.grade(HARNESS.mutant_module(mutant_id), "cyclegan_generator_loss")
    failed = {case: error for case, error in outcomes.items() if error is not None}
    assert not failed, f"a wrong {MUTANTS[mutant_id][0]} ({mutant_id}) costs exercise 4: {failed}"
