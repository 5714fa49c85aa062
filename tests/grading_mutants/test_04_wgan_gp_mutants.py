"""Mutation tests of notebook 04's grading tests (tests/grading/test_04_wgan_gp.py), in-process.
How a mutant is graded, and what every list below must satisfy: the harness, tests/support/_mutation.py.

Its answers that do nothing are listed in ``NOTHING``: a no-op clipping, an ``emd_1d`` that returns 0, constant
losses.
"""

import pytest

from _mutation import define as _define
from _mutation import fill
from _mutation import load_grading_module, mutation_tests

NOTEBOOK = "04_wgan_gp"
EXERCISES = ("critic_loss", "generator_loss_w", "gradient_penalty", "emd_1d", "clip_weights")
grading = load_grading_module(NOTEBOOK)
pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad=True to a scalar:UserWarning")


# ---------------------------------------------------------------------------------------------
# The mutants: {id: (exercise function, source that redefines it)}
# ---------------------------------------------------------------------------------------------


def _critic(body, prelude="import torch\n"):
    return "critic_loss", _define("def critic_loss(real_scores, fake_scores):\n", body, prelude)


def _gen(body, prelude="import torch\n"):
    return "generator_loss_w", _define("def generator_loss_w(fake_scores):\n", body, prelude)


def _gp_source(body, prelude="import torch\n"):
    return "gradient_penalty", _define("def gradient_penalty(critic, real, fake):\n", body, prelude)


GP = """
B = real.shape[0]
eps = {eps}
x_hat = {x_hat}
scores = {scores}
(grad,) = {grad}
grad_norm = {norm}
return {penalty}
"""
GP_SOLUTION = dict(
    eps="torch.rand((B,) + (1,) * (real.ndim - 1), device=real.device, dtype=real.dtype)",
    x_hat="(eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)",
    scores="critic(x_hat).reshape(B)", grad="torch.autograd.grad(scores.sum(), x_hat, create_graph=True)",
    norm="grad.flatten(1).norm(dim=1)", penalty="(grad_norm - 1) ** 2",
)


def _gp(prelude="import torch\n", **change):
    """The solution's gradient_penalty with the parts named in ``change`` replaced."""
    return _gp_source(fill(GP, GP_SOLUTION, change), prelude)


def _emd(body, prelude="import torch\n"):
    return "emd_1d", _define("def emd_1d(x, y):\n", body, prelude)


def _clip(body, prelude="import torch\n"):
    return "clip_weights", _define("def clip_weights(module, c):\n", body, prelude)


MUTANTS = {
    # Exercise 1: critic_loss
    "critic-returns-none": _critic("return None"),
    "critic-zero": _critic("return torch.zeros(())"),
    "critic-constant": _critic("return torch.tensor(-1.0, requires_grad=True)"),
    "critic-sign-flipped": _critic("return real_scores.mean() - fake_scores.mean()"),
    "critic-fake-only": _critic("return fake_scores.mean()"),
    "critic-real-only": _critic("return -real_scores.mean()"),
    "critic-sums": _critic("return fake_scores.sum() - real_scores.sum()"),
    "critic-pooled-mean": _critic("return torch.cat([fake_scores.flatten(), -real_scores.flatten()]).mean()"),
    "critic-mean-of-differences": _critic("return (fake_scores - real_scores).mean()"),
    "critic-mean-over-dim-0": _critic("return fake_scores.mean(0) - real_scores.mean(0)"),
    "critic-gan-loss": _critic("return torch.nn.functional.softplus(-real_scores).mean() "
                               "+ torch.nn.functional.softplus(fake_scores).mean()"),
    "critic-hinge-loss": _critic("return torch.relu(1 - real_scores).mean() + torch.relu(1 + fake_scores).mean()"),
    "critic-absolute-value": _critic("return (fake_scores.mean() - real_scores.mean()).abs()"),
    "critic-detached": _critic("return (fake_scores.mean() - real_scores.mean()).detach()"),
    "critic-python-float": _critic("return (fake_scores.mean() - real_scores.mean()).item()"),
    "critic-ganlib-from-import": _critic("return _c(real_scores, fake_scores)",
                                         "from ganlib.losses import wasserstein_critic_loss as _c\n"),
    "critic-ganlib-module-chain": _critic("return ganlib.losses.wasserstein_critic_loss(real_scores, fake_scores)",
                                          "import ganlib.losses\n"),
    "critic-ganlib-from-package": _critic("return losses.wasserstein_critic_loss(real_scores, fake_scores)",
                                          "from ganlib import losses\n"),
    "critic-ganlib-estimate": _critic("return -losses.wasserstein_estimate(real_scores, fake_scores)",
                                      "from ganlib import losses\n"),
    "critic-ganlib-objective": _critic('return losses.objective("wgan").d_loss(real_scores, fake_scores)',
                                       "from ganlib import losses\n"),
    "critic-ganlib-generator-reference": _critic(
        "return losses.wasserstein_generator_loss(real_scores) - losses.wasserstein_generator_loss(fake_scores)",
        "from ganlib import losses\n"),
    "critic-ganlib-import-inside": _critic("""
        from ganlib.losses import wasserstein_critic_loss
        return wasserstein_critic_loss(real_scores, fake_scores)
    """),
    "critic-ganlib-swallowed": _critic("""
        try:
            return losses.wasserstein_critic_loss(real_scores, fake_scores)
        except Exception:
            return fake_scores.mean() - real_scores.mean()
    """, "from ganlib import losses\n"),
    # Exercise 2: generator_loss_w
    "gen-returns-none": _gen("return None"),
    "gen-zero": _gen("return torch.zeros(())"),
    "gen-constant": _gen("return torch.tensor(-1.0, requires_grad=True)"),
    "gen-sign-flipped": _gen("return fake_scores.mean()"),
    "gen-sum": _gen("return -fake_scores.sum()"),
    "gen-mean-over-dim-0": _gen("return -fake_scores.mean(0)"),
    "gen-non-saturating": _gen("return torch.nn.functional.softplus(-fake_scores).mean()"),
    "gen-saturating": _gen("return -torch.nn.functional.softplus(fake_scores).mean()"),
    "gen-squared": _gen("return -(fake_scores ** 2).mean()"),
    "gen-detached": _gen("return -fake_scores.detach().mean()"),
    "gen-python-float": _gen("return -fake_scores.mean().item()"),
    "gen-ganlib-from-import": _gen("return _g(fake_scores)",
                                   "from ganlib.losses import wasserstein_generator_loss as _g\n"),
    "gen-ganlib-module-chain": _gen("return ganlib.losses.wasserstein_generator_loss(fake_scores)",
                                    "import ganlib.losses\n"),
    "gen-ganlib-hinge": _gen("return losses.hinge_generator_loss(fake_scores)", "from ganlib import losses\n"),
    "gen-ganlib-critic-reference": _gen("return -losses.wasserstein_critic_loss(torch.zeros(1), fake_scores)",
                                        "import torch\nfrom ganlib import losses\n"),
    "gen-ganlib-import-inside": _gen("""
        from ganlib.losses import wasserstein_generator_loss
        return wasserstein_generator_loss(fake_scores)
    """),
    # Exercise 3: gradient_penalty
    "gp-returns-none": _gp_source("return None"),
    "gp-zeros": _gp_source("return torch.zeros(real.shape[0])"),
    "gp-constant": _gp_source("return torch.ones(real.shape[0], requires_grad=True)"),
    "gp-one-eps-for-the-batch": _gp(eps="torch.rand(1, device=real.device, dtype=real.dtype)"),
    "gp-one-eps-for-the-batch-broadcast": _gp(
        eps="torch.rand((1,) + (1,) * (real.ndim - 1), dtype=real.dtype).expand((B,) + (1,) * (real.ndim - 1))"),
    "gp-eps-per-element": _gp(eps="torch.rand(real.shape, device=real.device, dtype=real.dtype)"),
    "gp-eps-fixed-half": _gp(eps="torch.full((B,) + (1,) * (real.ndim - 1), 0.5, dtype=real.dtype)"),
    "gp-eps-normal": _gp(eps="torch.randn((B,) + (1,) * (real.ndim - 1), device=real.device, dtype=real.dtype)"),
    "gp-eps-drawn-after-another-draw": _gp(
        eps="torch.rand(()) * 0 + torch.rand((B,) + (1,) * (real.ndim - 1), dtype=real.dtype)"),
    "gp-interpolate-swapped": _gp(x_hat="(eps * fake.detach() + (1 - eps) * real.detach()).requires_grad_(True)"),
    "gp-at-the-real-points": _gp(x_hat="real.detach().clone().requires_grad_(True)"),
    "gp-at-the-fake-points": _gp(x_hat="fake.detach().clone().requires_grad_(True)"),
    "gp-not-detached": _gp(
        x_hat="eps * real + (1 - eps) * fake",
        scores="critic(x_hat.requires_grad_(True) if not x_hat.requires_grad else x_hat).reshape(B)"),
    "gp-real-requires-grad-in-place": _gp(x_hat="eps * real.requires_grad_(True) + (1 - eps) * fake.detach()"),
    "gp-no-create-graph": _gp(grad="torch.autograd.grad(scores.sum(), x_hat)"),
    "gp-retain-graph-only": _gp(grad="torch.autograd.grad(scores.sum(), x_hat, retain_graph=True)"),
    "gp-gradient-detached": _gp(grad="[g.detach() for g in torch.autograd.grad(scores.sum(), x_hat, "
                                     "create_graph=True)]"),
    "gp-gradient-of-the-mean": _gp(grad="torch.autograd.grad(scores.mean(), x_hat, create_graph=True)"),
    "gp-norm-not-squared": _gp(penalty="(grad_norm - 1).abs()"),
    "gp-squared-norm": _gp(penalty="grad_norm ** 2"),
    "gp-squared-norm-minus-one": _gp(penalty="(grad_norm ** 2 - 1) ** 2"),
    "gp-one-sided": _gp(penalty="torch.relu(grad_norm - 1) ** 2"),
    "gp-penalty-on-abs-grad": _gp(norm="grad.flatten(1).abs()", penalty="((grad_norm - 1) ** 2).sum(dim=1)"),
    "gp-penalty-on-abs-grad-mean": _gp(norm="grad.flatten(1).abs()", penalty="((grad_norm - 1) ** 2).mean(dim=1)"),
    "gp-l1-norm": _gp(norm="grad.flatten(1).abs().sum(dim=1)"),
    "gp-norm-over-dim-1": _gp(norm="grad.norm(dim=1)"),
    "gp-norm-over-the-last-dim": _gp(norm="grad.norm(dim=-1)"),
    "gp-norm-over-the-batch": _gp(norm="grad.norm()"),
    "gp-norm-over-dim-0": _gp(norm="grad.flatten(1).norm(dim=0)"),
    "gp-mean-returned": _gp(penalty="((grad_norm - 1) ** 2).mean()"),
    "gp-weighted-by-lambda": _gp(penalty="10 * (grad_norm - 1) ** 2"),
    "gp-ganlib-from-import": _gp_source("return _gp(critic, real, fake)",
                                        "from ganlib.losses import gradient_penalty as _gp\n"),
    "gp-ganlib-module-chain": _gp_source("return ganlib.losses.gradient_penalty(critic, real, fake)",
                                         "import ganlib.losses\n"),
    "gp-ganlib-from-package": _gp_source("return losses.gradient_penalty(critic, real, fake)",
                                         "from ganlib import losses\n"),
    "gp-ganlib-alias": _gp_source("return _ref(critic, real, fake)",
                                  "import ganlib.losses as L\n_ref = L.gradient_penalty\n"),
    "gp-ganlib-import-inside": _gp_source("""
        from ganlib.losses import gradient_penalty
        return gradient_penalty(critic, real, fake)
    """),
    "gp-ganlib-swallowed": _gp_source("""
        try:
            return losses.gradient_penalty(critic, real, fake)
        except AssertionError:
            return torch.zeros(real.shape[0])
    """, "import torch\nfrom ganlib import losses\n"),
    # Exercise 4: emd_1d
    "emd-returns-none": _emd("return None"),
    "emd-zero": _emd("return torch.zeros(())"),
    "emd-constant": _emd("return torch.tensor(1.0)"),
    "emd-unsorted": _emd("return (x - y).abs().mean()"),
    "emd-one-sorted": _emd("return (torch.sort(x).values - y).abs().mean()"),
    "emd-opposite-orders": _emd("return (torch.sort(x).values - torch.sort(y, descending=True).values).abs().mean()"),
    "emd-sum": _emd("return (torch.sort(x).values - torch.sort(y).values).abs().sum()"),
    "emd-squared": _emd("return ((torch.sort(x).values - torch.sort(y).values) ** 2).mean()"),
    "emd-w2": _emd("return ((torch.sort(x).values - torch.sort(y).values) ** 2).mean().sqrt()"),
    "emd-max": _emd("return (torch.sort(x).values - torch.sort(y).values).abs().max()"),
    "emd-difference-of-means": _emd("return (x.mean() - y.mean()).abs()"),
    "emd-no-abs": _emd("return (torch.sort(x).values - torch.sort(y).values).mean()"),
    "emd-abs-of-mean": _emd("return (torch.sort(x).values - torch.sort(y).values).mean().abs()"),
    "emd-sorted-in-place": _emd("""
        x[:] = torch.sort(x).values
        y[:] = torch.sort(y).values
        return (x - y).abs().mean()
    """),
    "emd-sorted-in-place-with-data": _emd("""
        x.data, y.data = torch.sort(x).values, torch.sort(y).values
        return (x - y).abs().mean()
    """),
    "emd-python-float": _emd("return (torch.sort(x).values - torch.sort(y).values).abs().mean().item()"),
    "emd-float32": _emd("return (torch.sort(x).values - torch.sort(y).values).abs().float().mean()"),
    "emd-off-by-one": _emd("return (torch.sort(x).values[1:] - torch.sort(y).values[:-1]).abs().mean()"),
    "emd-quantiles-at-midpoints-only": _emd("""
        q = torch.tensor([0.25, 0.5, 0.75], dtype=x.dtype)
        return (torch.quantile(x, q) - torch.quantile(y, q)).abs().mean()
    """),
    # Exercise 5: clip_weights
    "clip-no-op": _clip("pass"),
    "clip-returns-the-module": _clip("""
        with torch.no_grad():
            for p in module.parameters():
                p.clamp_(-c, c)
        return module
    """),
    "clip-weights-only": _clip("""
        with torch.no_grad():
            for name, p in module.named_parameters():
                if name.endswith("weight"):
                    p.clamp_(-c, c)
    """),
    "clip-linear-layers-only": _clip("""
        with torch.no_grad():
            for m in module.modules():
                if isinstance(m, torch.nn.Linear):
                    m.weight.clamp_(-c, c)
                    m.bias.clamp_(-c, c)
    """),
    "clip-top-level-only": _clip("""
        with torch.no_grad():
            for p in module.parameters(recurse=False):
                p.clamp_(-c, c)
    """),
    "clip-positive-side-only": _clip("""
        with torch.no_grad():
            for p in module.parameters():
                p.clamp_(max=c)
    """),
    "clip-to-zero-and-c": _clip("""
        with torch.no_grad():
            for p in module.parameters():
                p.clamp_(0, c)
    """),
    "clip-bounds-swapped": _clip("""
        with torch.no_grad():
            for p in module.parameters():
                p.clamp_(c, -c)
    """),
    "clip-scales-instead": _clip("""
        with torch.no_grad():
            for p in module.parameters():
                p.mul_(c / p.abs().max().clamp(min=c))
    """),
    "clip-out-of-place": _clip("""
        for p in module.parameters():
            p = p.clamp(-c, c)
    """),
    "clip-replaces-the-parameters": _clip("""
        for m in module.modules():
            for name, p in list(m.named_parameters(recurse=False)):
                setattr(m, name, torch.nn.Parameter(p.detach().clamp(-c, c)))
    """),
    "clip-frozen": _clip("""
        with torch.no_grad():
            for p in module.parameters():
                p.clamp_(-c, c)
                p.requires_grad_(False)
    """),
    "clip-buffers-too": _clip("""
        with torch.no_grad():
            for t in module.state_dict().values():
                if t.is_floating_point():
                    t.clamp_(-c, c)
    """),
    "clip-the-gradients": _clip("torch.nn.utils.clip_grad_value_(module.parameters(), c)"),
    "clip-the-gradient-norm": _clip("torch.nn.utils.clip_grad_norm_(module.parameters(), c)"),
    "clip-ganlib-from-import": _clip("_clip(module, c)", "from ganlib.losses import clip_weights_ as _clip\n"),
    "clip-ganlib-module-chain": _clip("ganlib.losses.clip_weights_(module, c)", "import ganlib.losses\n"),
    "clip-ganlib-from-package": _clip("losses.clip_weights_(module, c)", "from ganlib import losses\n"),
    "clip-ganlib-import-inside": _clip("""
        from ganlib.losses import clip_weights_
        clip_weights_(module, c)
    """),
    "clip-ganlib-swallowed": _clip("""
        try:
            losses.clip_weights_(module, c)
        except AssertionError:
            with torch.no_grad():
                for p in module.parameters():
                    p.clamp_(-c, c)
    """, "import torch\nfrom ganlib import losses\n"),
}

# mutants that look wrong but compute what the solution computes: skipped in the score, and checked to
# keep every point (so the claim stays true)
EQUIVALENT = {
    "critic-sign-flipped-twice": "-(E f(x) - E f(G(z))) is E f(G(z)) - E f(x), written the other way round",
    "gen-minus-mean-of-negated": "-(x).mean() and (-x).mean() are the same number and the same gradient",
}
MUTANTS.update({
    "critic-sign-flipped-twice": _critic("return -(real_scores.mean() - fake_scores.mean())"),
    "gen-minus-mean-of-negated": _gen("return (-fake_scores).mean()"),
})

# correct answers written otherwise than the solution: they must keep every point
ALTERNATIVES = {
    "critic-flattened": _critic("return fake_scores.flatten().mean() - real_scores.flatten().mean()"),
    "critic-sum-over-count": _critic("return fake_scores.sum() / fake_scores.numel() "
                                     "- real_scores.sum() / real_scores.numel()"),
    "gen-torch-mean": _gen("return torch.mean(-fake_scores)"),
    "gen-negated-sum-over-count": _gen("return fake_scores.sum().neg() / fake_scores.numel()"),
    "gp-view-and-linalg": _gp_source("""
        eps = torch.rand([real.size(0)] + [1] * (real.dim() - 1), dtype=real.dtype, device=real.device)
        x_hat = eps * real.detach() + (1 - eps) * fake.detach()
        x_hat.requires_grad_()
        out = critic(x_hat)
        grad = torch.autograd.grad(outputs=out, inputs=x_hat, grad_outputs=torch.ones_like(out),
                                   create_graph=True, retain_graph=True)[0]
        return (torch.linalg.vector_norm(grad.view(grad.size(0), -1), dim=1) - 1).pow(2)
    """),
    "gp-lerp-and-sqrt": _gp_source("""
        B = real.shape[0]
        eps = torch.rand((B,) + (1,) * (real.ndim - 1), device=real.device, dtype=real.dtype)
        x_hat = torch.lerp(fake.detach(), real.detach(), eps).requires_grad_(True)
        (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
        return (grad.pow(2).flatten(1).sum(dim=1).sqrt() - 1) ** 2
    """),
    "emd-sort-method": _emd("return (x.sort()[0] - y.sort()[0]).abs().mean()"),
    "emd-cdf-integral": _emd("""
        points = torch.sort(torch.cat([x, y])).values
        widths = points[1:] - points[:-1]
        cdf_x = torch.searchsorted(torch.sort(x).values, points[:-1], right=True).to(x.dtype) / len(x)
        cdf_y = torch.searchsorted(torch.sort(y).values, points[:-1], right=True).to(y.dtype) / len(y)
        return ((cdf_x - cdf_y).abs() * widths).sum()
    """),
    "emd-l1-loss": _emd("return torch.nn.functional.l1_loss(torch.sort(x)[0], torch.sort(y)[0])"),
    "clip-data-assignment": _clip("""
        for p in module.parameters():
            p.data = p.data.clamp(-c, c)
    """),
    "clip-copy": _clip("""
        with torch.no_grad():
            for m in module.modules():
                for p in m.parameters(recurse=False):
                    p.copy_(torch.clamp(p, min=-c, max=c))
    """),
    "clip-state-dict-parameters": _clip("""
        with torch.no_grad():
            for _, p in module.named_parameters():
                p.data.clamp_(-c, c)
    """),
}

# answers that call ganlib's reference: they must lose every point of their exercise (DESIGN: an exercise
# answered by calling the ganlib function it asks for earns nothing)
DELEGATING = [m for m in MUTANTS if "-ganlib-" in m]

# answers that do nothing useful: they must lose every point of their exercise too
NOTHING = ["critic-returns-none", "critic-zero", "critic-constant", "gen-returns-none", "gen-zero", "gen-constant",
           "gp-returns-none", "gp-zeros", "gp-constant", "emd-returns-none", "emd-zero", "emd-constant", "clip-no-op"]


# ---------------------------------------------------------------------------------------------
# The tests: the harness's generic ones (tests/support/_mutation.py), then this notebook's own
# ---------------------------------------------------------------------------------------------

HARNESS = mutation_tests(
    notebook=NOTEBOOK, grading=grading, exercises=EXERCISES, mutants=MUTANTS, equivalent=EQUIVALENT,
    alternatives=ALTERNATIVES, delegating=DELEGATING, earns_nothing=NOTHING, min_delegating=12,
    min_mutants=10, count_equivalent=False, min_alternatives=2, min_points=4)
globals().update(HARNESS.tests)
