"""Mutation tests of notebook 05's grading tests (tests/grading/test_05_conditional_gan.py), in-process.
How a mutant is graded, and what every list below must satisfy: the harness, tests/support/_mutation.py.

``sobel_edges`` has no reference in ganlib, so it has no delegating mutants. Its own check: every exercise has
no-ops and constants in ``EARNS_NOTHING``, at least three each.
"""

import pytest

from _mutation import define as _define
from _mutation import load_grading_module, mutation_tests

NOTEBOOK = "05_conditional_gan"
EXERCISES = ("conditional_d_loss", "projection_logit", "sobel_edges", "pix2pix_generator_loss")
grading = load_grading_module(NOTEBOOK)
pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad=True to a scalar:UserWarning")


# ---------------------------------------------------------------------------------------------
# Templates: the solution's body with named parts, and the exercise's def line
# ---------------------------------------------------------------------------------------------


def _template(exercise, header, template, solution):
    """(exercise, source) makers: ``source(body, prelude)`` for a free body, ``changed(prelude, **parts)`` for
    the solution with the parts named in ``parts`` replaced."""

    def source(body, prelude=""):
        return exercise, _define(header, body, prelude)

    def changed(prelude="", **parts):
        assert set(parts) <= set(solution), set(parts) - set(solution)
        return source(template.format(**{**solution, **parts}), prelude)

    return source, changed


_cdl_source, _cdl = _template("conditional_d_loss", "def conditional_d_loss(D, real, y, fake):\n", """
{detach}
real_logits = {real_call}
fake_logits = {fake_call}
return {result}
""", dict(detach="fake = fake.detach()", real_call="D(real, y)", fake_call="D(fake, y)",
          result="F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()"))

_proj_source, _proj = _template(
    "projection_logit", "def projection_logit(phi, psi_weight, psi_bias, class_embedding, y):\n", """
unconditional = {unconditional}
v_y = {v_y}
return {result}
""", dict(unconditional="phi @ psi_weight.T + psi_bias", v_y="class_embedding[y]",
          result="unconditional.squeeze(1) + (v_y * phi).sum(dim=1)"))

KX = "[[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]"
_sobel_source, _sobel = _template("sobel_edges", "def sobel_edges(images):\n", """
kx = torch.tensor({kx}, dtype=images.dtype, device=images.device)
kernels = {kernels}
grads = F.conv2d({ink}, kernels, padding={padding})
return {magnitude}
""", dict(kx=KX, kernels="torch.stack([kx, kx.T])[:, None]", ink="(images + 1) / 2", padding="1",
          magnitude="grads.pow(2).sum(dim=1, keepdim=True).sqrt()"))


def _p2p_source(body, prelude="", default="100.0"):
    header = f"def pix2pix_generator_loss(fake_logits, fake, target, l1_weight={default}):\n"
    return "pix2pix_generator_loss", _define(header, body, prelude)


P2P = """
adversarial = {adversarial}
l1 = {l1}
return {total}
"""
P2P_SOLUTION = dict(adversarial="F.softplus(-fake_logits).mean()", l1="(target - fake).abs().mean()",
                    total="adversarial + l1_weight * l1")


def _p2p(prelude="", default="100.0", **parts):
    assert set(parts) <= set(P2P_SOLUTION), set(parts) - set(P2P_SOLUTION)
    return _p2p_source(P2P.format(**{**P2P_SOLUTION, **parts}), prelude, default)


def _sobel_padded(mode):
    return _sobel(ink=f"F.pad((images + 1) / 2, (1, 1, 1, 1), mode={mode!r})", padding="0")


DUMMY_OPT = "torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.0)"

# The mutants: {id: (exercise function, source that redefines it)}
MUTANTS = {
    # Exercise 1: conditional_d_loss
    "cdl-returns-none": _cdl_source("return None"),
    "cdl-zero": _cdl_source("return torch.zeros(())"),
    "cdl-constant-2-log-2": _cdl_source("return torch.tensor(1.3862943611198906, requires_grad=True)"),
    "cdl-labels-ignored-zeros": _cdl(real_call="D(real, torch.zeros_like(y))",
                                     fake_call="D(fake, torch.zeros_like(y))"),
    "cdl-fake-labels-shifted": _cdl(fake_call="D(fake, (y + 1) % 10)"),
    "cdl-fake-labels-shuffled": _cdl(fake_call="D(fake, y.roll(1))"),
    "cdl-fake-labels-drawn-afresh": _cdl(fake_call="D(fake, torch.randint(10, y.shape))"),
    "cdl-real-fake-swapped": _cdl(result="F.softplus(real_logits).mean() + F.softplus(-fake_logits).mean()"),
    "cdl-images-swapped": _cdl(real_call="D(fake, y)", fake_call="D(real, y)"),
    "cdl-sign-of-the-real-term": _cdl(result="-F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()"),
    "cdl-generator-form-for-fakes": _cdl(result="F.softplus(-real_logits).mean() - F.softplus(-fake_logits).mean()"),
    "cdl-sum": _cdl(result="F.softplus(-real_logits).sum() + F.softplus(fake_logits).sum()"),
    "cdl-pooled-mean": _cdl(result="torch.cat([F.softplus(-real_logits), F.softplus(fake_logits)]).mean()"),
    "cdl-averaged": _cdl(result="0.5 * (F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean())"),
    "cdl-real-term-only": _cdl(result="F.softplus(-real_logits).mean()"),
    "cdl-fake-term-only": _cdl(result="F.softplus(fake_logits).mean()"),
    "cdl-softplus-of-the-mean-logit": _cdl(result="F.softplus(-real_logits.mean()) + F.softplus(fake_logits.mean())"),
    "cdl-bce-on-probabilities": _cdl(
        result="F.binary_cross_entropy(torch.sigmoid(real_logits), torch.ones_like(real_logits)) "
               "+ F.binary_cross_entropy(torch.sigmoid(fake_logits), torch.zeros_like(fake_logits))"),
    "cdl-naive-log-sigmoid": _cdl(
        result="-torch.log(torch.sigmoid(real_logits)).mean() - torch.log(1 - torch.sigmoid(fake_logits)).mean()"),
    "cdl-hinge": _cdl(result="F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()"),
    "cdl-least-squares": _cdl(result="0.5 * (real_logits - 1).pow(2).mean() + 0.5 * fake_logits.pow(2).mean()"),
    "cdl-wasserstein": _cdl(result="fake_logits.mean() - real_logits.mean()"),
    "cdl-not-detached": _cdl(detach="pass"),
    "cdl-fake-logits-detached": _cdl(fake_call="D(fake, y).detach()"),
    "cdl-real-logits-detached": _cdl(real_call="D(real, y).detach()"),
    "cdl-fake-term-under-no-grad": _cdl_source("""
        real_logits = D(real, y)
        with torch.no_grad():
            fake_logits = D(fake, y)
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    """),
    "cdl-loss-detached": _cdl(result="(F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()).detach()"),
    "cdl-python-float": _cdl(result="(F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()).item()"),
    "cdl-ganlib-from-import": _cdl(result="_d(real_logits, fake_logits)",
                                   prelude="from ganlib.losses import discriminator_loss as _d\n"),
    "cdl-ganlib-module-chain": _cdl(result="ganlib.losses.discriminator_loss(real_logits, fake_logits)",
                                    prelude="import ganlib.losses\n"),
    "cdl-ganlib-from-package": _cdl(result="losses.discriminator_loss(real_logits, fake_logits)",
                                    prelude="from ganlib import losses\n"),
    "cdl-ganlib-alias": _cdl(result="_ref(real_logits, fake_logits)",
                             prelude="import ganlib.losses as L\n_ref = L.discriminator_loss\n"),
    "cdl-ganlib-through-ganlib-train": _cdl(result="T.losses.discriminator_loss(real_logits, fake_logits)",
                                            prelude="import ganlib.train as T\n"),
    "cdl-ganlib-import-inside": _cdl_source("""
        from ganlib.losses import discriminator_loss
        return discriminator_loss(D(real, y), D(fake.detach(), y))
    """),
    "cdl-ganlib-swallows-the-error": _cdl_source("""
        real_logits, fake_logits = D(real, y), D(fake.detach(), y)
        try:
            return losses.discriminator_loss(real_logits, fake_logits)
        except AssertionError:
            return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    """, "from ganlib import losses\n"),
    "cdl-ganlib-discriminator-step": _cdl_source(f"""
        opt = {DUMMY_OPT}
        return discriminator_step(lambda z: fake, Conditioned(D, y), opt, real, real)["d_loss"]
    """, "from ganlib.train import Conditioned, discriminator_step\n"),

    # Exercise 2: projection_logit
    "proj-returns-none": _proj_source("return None"),
    "proj-zero": _proj_source("return torch.zeros(phi.shape[0], dtype=phi.dtype)"),
    "proj-constant": _proj_source("return torch.ones(phi.shape[0], dtype=phi.dtype)"),
    "proj-without-the-unconditional-term": _proj(result="(v_y * phi).sum(dim=1)"),
    "proj-without-the-bias": _proj(unconditional="phi @ psi_weight.T"),
    "proj-labels-ignored": _proj(result="unconditional.squeeze(1)"),
    "proj-mean-class-direction": _proj(v_y="class_embedding.mean(dim=0)"),
    "proj-first-class-for-all": _proj(v_y="class_embedding[0]"),
    "proj-every-class-summed": _proj(result="unconditional.squeeze(1) + (phi @ class_embedding.T).sum(dim=1)"),
    "proj-wrong-sum-axis": _proj(result="unconditional.squeeze(1) + (v_y * phi).sum(dim=0)"),
    "proj-sum-over-everything": _proj(result="unconditional.squeeze(1) + (v_y * phi).sum()"),
    "proj-mean-instead-of-inner-product": _proj(result="unconditional.squeeze(1) + (v_y * phi).mean(dim=1)"),
    "proj-keeps-the-column": _proj(result="unconditional + (v_y * phi).sum(dim=1, keepdim=True)"),
    "proj-broadcast-to-a-matrix": _proj(result="unconditional + (v_y * phi).sum(dim=1)"),
    "proj-squeezes-every-dim": _proj(result="(unconditional + (v_y * phi).sum(dim=1, keepdim=True)).squeeze()"),
    "proj-one-hot-without-num-classes": _proj(v_y="F.one_hot(y).to(phi.dtype) @ class_embedding"),
    "proj-normalised-class-direction": _proj(v_y="F.normalize(class_embedding[y], dim=1)"),
    "proj-projection-subtracted": _proj(result="unconditional.squeeze(1) - (v_y * phi).sum(dim=1)"),
    "proj-bias-inside-the-projection": _proj(unconditional="phi @ psi_weight.T",
                                             result="unconditional.squeeze(1) + ((v_y + psi_bias) * phi).sum(dim=1)"),
    "proj-sigmoid": _proj(result="torch.sigmoid(unconditional.squeeze(1) + (v_y * phi).sum(dim=1))"),
    "proj-ganlib-forward-on-a-stand-in": _proj_source("""
        stand_in = types.SimpleNamespace(cfg=types.SimpleNamespace(n_classes=class_embedding.shape[0]),
                                         features=lambda x: phi, psi=lambda p: p @ psi_weight.T + psi_bias,
                                         embed=lambda labels: class_embedding[labels])
        return ProjectionDiscriminator.forward(stand_in, phi, y)
    """, "import types\nfrom ganlib.models.conditional import ProjectionDiscriminator\n"),
    "proj-ganlib-module-chain": _proj_source("""
        stand_in = types.SimpleNamespace(cfg=types.SimpleNamespace(n_classes=class_embedding.shape[0]),
                                         features=lambda x: phi, psi=lambda p: p @ psi_weight.T + psi_bias,
                                         embed=lambda labels: class_embedding[labels])
        return ganlib.models.conditional.ProjectionDiscriminator.forward(stand_in, phi, y)
    """, "import types\nimport ganlib.models.conditional\n"),
    "proj-ganlib-bound-forward": _proj_source("""
        stand_in = types.SimpleNamespace(cfg=types.SimpleNamespace(n_classes=class_embedding.shape[0]),
                                         features=lambda x: phi, psi=lambda p: p @ psi_weight.T + psi_bias,
                                         embed=lambda labels: class_embedding[labels])
        return _forward(stand_in, phi, y)
    """, "import types\nfrom ganlib.models import conditional\n"
        "_forward = conditional.ProjectionDiscriminator.forward\n"),
    "proj-ganlib-module-with-patched-features": _proj_source("""
        D = ProjectionDiscriminator.__new__(ProjectionDiscriminator)
        nn.Module.__init__(D)
        D.cfg = types.SimpleNamespace(n_classes=class_embedding.shape[0])
        D.features = lambda x: phi
        D.psi = lambda p: F.linear(p, psi_weight, psi_bias)
        D.embed = lambda labels: class_embedding[labels]
        return D(phi, y)
    """, "import types\nfrom torch import nn\nfrom ganlib.models.conditional import ProjectionDiscriminator\n"),

    # Exercise 3: sobel_edges
    "sobel-returns-none": _sobel_source("return None"),
    "sobel-zeros": _sobel_source("return torch.zeros_like(images)"),
    "sobel-returns-the-images": _sobel_source("return images"),
    "sobel-constant": _sobel_source("return torch.full_like(images, 4.0)"),
    "sobel-same-kernel-twice": _sobel(kernels="torch.stack([kx, kx])[:, None]"),
    "sobel-transposed-kernel-twice": _sobel(kernels="torch.stack([kx.T, kx.T])[:, None]"),
    "sobel-wrong-sign-in-the-middle-row": _sobel(kx="[[-1.0, 0.0, 1.0], [2.0, 0.0, -2.0], [-1.0, 0.0, 1.0]]"),
    "sobel-prewitt-weights": _sobel(kx="[[-1.0, 0.0, 1.0], [-1.0, 0.0, 1.0], [-1.0, 0.0, 1.0]]"),
    "sobel-smoothing-along-the-difference": _sobel(kx="[[-1.0, -2.0, 1.0], [0.0, 0.0, 0.0], [1.0, 2.0, -1.0]]"),
    "sobel-normalised-by-8": _sobel(kernels="torch.stack([kx, kx.T])[:, None] / 8"),
    "sobel-no-padding": _sobel(padding="0"),
    "sobel-padding-2": _sobel(padding="2"),
    "sobel-replicate-padding": _sobel_padded("replicate"),
    "sobel-reflect-padding": _sobel_padded("reflect"),
    "sobel-on-the-pixels": _sobel(ink="images"),
    "sobel-on-the-pixels-halved": _sobel(ink="images", magnitude="grads.pow(2).sum(dim=1, keepdim=True).sqrt() / 2"),
    "sobel-ink-not-halved": _sobel(ink="images + 1"),
    "sobel-ink-inverted": _sobel(ink="(1 - images) / 2"),
    "sobel-l1-magnitude": _sobel(magnitude="grads.abs().sum(dim=1, keepdim=True)"),
    "sobel-squared-magnitude": _sobel(magnitude="grads.pow(2).sum(dim=1, keepdim=True)"),
    "sobel-max-magnitude": _sobel(magnitude="grads.abs().amax(dim=1, keepdim=True)"),
    "sobel-rms-of-the-two": _sobel(magnitude="grads.pow(2).mean(dim=1, keepdim=True).sqrt()"),
    "sobel-gx-only": _sobel(magnitude="grads[:, :1].abs()"),
    "sobel-signed-sum": _sobel(magnitude="grads.sum(dim=1, keepdim=True)"),
    "sobel-wrong-sum-axis": _sobel(magnitude="grads.pow(2).sum(dim=0, keepdim=True).sqrt()"),
    "sobel-no-keepdim": _sobel(magnitude="grads.pow(2).sum(dim=1).sqrt()"),
    "sobel-returns-both-gradients": _sobel(magnitude="grads"),
    "sobel-clamped-at-a-full-step": _sobel(magnitude="grads.pow(2).sum(dim=1, keepdim=True).sqrt().clamp(max=1)"),
    "sobel-divided-by-a-full-step": _sobel(magnitude="grads.pow(2).sum(dim=1, keepdim=True).sqrt() / 4"),

    # Exercise 4: pix2pix_generator_loss
    "p2p-returns-none": _p2p(total="None"),
    "p2p-zero": _p2p(total="torch.zeros(())"),
    "p2p-constant": _p2p(total="torch.tensor(0.6931471805599453, requires_grad=True)"),
    "p2p-l1-weight-not-applied": _p2p(total="adversarial + l1"),
    "p2p-l1-weight-on-the-adversarial-term": _p2p(total="l1_weight * adversarial + l1"),
    "p2p-l1-weight-on-both": _p2p(total="l1_weight * (adversarial + l1)"),
    "p2p-l1-term-subtracted": _p2p(total="adversarial - l1_weight * l1"),
    "p2p-l1-only": _p2p(total="l1_weight * l1"),
    "p2p-adversarial-only": _p2p(total="adversarial"),
    "p2p-l1-of-the-fake-alone": _p2p(l1="fake.abs().mean()"),
    "p2p-l1-of-the-target-alone": _p2p(l1="target.abs().mean()"),
    "p2p-squared-error": _p2p(l1="(target - fake).pow(2).mean()"),
    "p2p-l1-without-abs": _p2p(l1="(target - fake).mean()"),
    "p2p-abs-of-the-mean": _p2p(l1="(target - fake).mean().abs()"),
    "p2p-l1-summed-per-image": _p2p(l1="(target - fake).abs().sum(dim=(1, 2, 3)).mean()"),
    "p2p-l1-summed": _p2p(l1="(target - fake).abs().sum()"),
    "p2p-adversarial-summed-over-patches": _p2p(adversarial="F.softplus(-fake_logits).sum(dim=(1, 2, 3)).mean()"),
    "p2p-adversarial-summed": _p2p(adversarial="F.softplus(-fake_logits).sum()"),
    "p2p-softplus-of-the-mean-logit": _p2p(adversarial="F.softplus(-fake_logits.flatten(1).mean(dim=1)).mean()"),
    "p2p-first-patch-only": _p2p(adversarial="F.softplus(-fake_logits[:, :, 0, 0]).mean()"),
    "p2p-bce-on-probabilities": _p2p(
        adversarial="F.binary_cross_entropy(torch.sigmoid(fake_logits), torch.ones_like(fake_logits))"),
    "p2p-naive-log-sigmoid": _p2p(adversarial="-torch.log(torch.sigmoid(fake_logits)).mean()"),
    "p2p-saturating": _p2p(adversarial="-F.softplus(fake_logits).mean()"),
    "p2p-fake-labelled-fake": _p2p(adversarial="F.softplus(fake_logits).mean()"),
    "p2p-least-squares": _p2p(adversarial="0.5 * (fake_logits - 1).pow(2).mean()"),
    "p2p-wasserstein": _p2p(adversarial="-fake_logits.mean()"),
    "p2p-default-weight-10": _p2p(default="10.0"),
    "p2p-default-weight-1": _p2p(default="1.0"),
    "p2p-fake-detached-in-l1": _p2p(l1="(target - fake.detach()).abs().mean()"),
    "p2p-logits-detached": _p2p(adversarial="F.softplus(-fake_logits.detach()).mean()"),
    "p2p-loss-detached": _p2p(total="(adversarial + l1_weight * l1).detach()"),
    "p2p-python-float": _p2p(total="(adversarial + l1_weight * l1).item()"),
    "p2p-ganlib-from-import": _p2p(adversarial="_g(fake_logits)",
                                   prelude="from ganlib.losses import generator_loss_nonsaturating as _g\n"),
    "p2p-ganlib-module-chain": _p2p(adversarial="ganlib.losses.generator_loss_nonsaturating(fake_logits)",
                                    prelude="import ganlib.losses\n"),
    "p2p-ganlib-from-package": _p2p(adversarial="losses.generator_loss_nonsaturating(fake_logits)",
                                    prelude="from ganlib import losses\n"),
    "p2p-ganlib-alias": _p2p(adversarial="_ref(fake_logits)",
                             prelude="import ganlib.losses as L\n_ref = L.generator_loss_nonsaturating\n"),
    "p2p-ganlib-by-name": _p2p(adversarial="losses.generator_loss('non-saturating')(fake_logits)",
                               prelude="from ganlib import losses\n"),
    "p2p-ganlib-import-inside": _p2p_source("""
        from ganlib.losses import generator_loss_nonsaturating
        return generator_loss_nonsaturating(fake_logits) + l1_weight * (target - fake).abs().mean()
    """),
    "p2p-ganlib-generator-step": _p2p_source(f"""
        class _D(torch.nn.Module):
            def forward(self, image):
                return fake_logits
        opt = {DUMMY_OPT}
        return gan.generator_step(lambda x: fake, _D(), opt, None, lambda t: F.softplus(-t).mean(),
                                  target=target, l1_weight=l1_weight)["g_loss"]
    """, "from ganlib.training import gan\n"),
}

# mutants that look wrong but compute what the solution computes: skipped in the score, and checked to
# keep every point (so the claim stays true)
EQUIVALENT = {
    "sobel-kernels-swapped": "the magnitude sqrt(gx^2 + gy^2) does not depend on which gradient is called x",
    "sobel-kernel-flipped": "a true convolution flips the kernel, which negates both gradients; the squares do not "
                            "see the sign",
    "sobel-one-kernel-negated": "negating one gradient leaves its square unchanged",
    "p2p-mean-of-patch-means": "every image has a logit map of the same size, so the mean of the per-image means is "
                               "the mean over batch and map",
    "p2p-l1-mean-of-image-means": "every image has the same number of pixels, so the mean of the per-image means is "
                                  "the mean over every pixel",
    "cdl-mean-of-image-terms": "both terms average over the same batch size B, so the mean of the per-example sums "
                               "is the sum of the two means",
}
MUTANTS.update({
    "sobel-kernels-swapped": _sobel(kernels="torch.stack([kx.T, kx])[:, None]"),
    "sobel-kernel-flipped": _sobel(kx="[[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]"),
    "sobel-one-kernel-negated": _sobel(kernels="torch.stack([kx, -kx.T])[:, None]"),
    "p2p-mean-of-patch-means": _p2p(adversarial="F.softplus(-fake_logits).mean(dim=(1, 2, 3)).mean()"),
    "p2p-l1-mean-of-image-means": _p2p(l1="(target - fake).abs().flatten(1).mean(dim=1).mean()"),
    "cdl-mean-of-image-terms": _cdl(result="(F.softplus(-real_logits) + F.softplus(fake_logits)).mean()"),
})

# correct answers written otherwise than the solution: they must keep every point
ALTERNATIVES = {
    "cdl-bce-with-logits": _cdl(
        result="F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits)) "
               "+ F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))"),
    "cdl-logsigmoid": _cdl(result="-F.logsigmoid(real_logits).mean() - F.logsigmoid(-fake_logits).mean()"),
    "cdl-one-call-on-both-batches": _cdl_source("""
        logits = D(torch.cat([real, fake.detach()]), torch.cat([y, y]))  # (2B,)
        real_logits, fake_logits = logits[: len(real)], logits[len(real):]
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    """),
    "proj-einsum": _proj(unconditional="torch.einsum('bf,of->bo', phi, psi_weight) + psi_bias",
                         result="unconditional[:, 0] + torch.einsum('bf,bf->b', v_y, phi)"),
    "proj-f-linear-and-embedding": _proj(unconditional="F.linear(phi, psi_weight, psi_bias)",
                                         v_y="F.embedding(y, class_embedding)"),
    "proj-one-hot": _proj(v_y="F.one_hot(y, class_embedding.shape[0]).to(phi.dtype) @ class_embedding"),
    "proj-directions-added-first": _proj_source(
        "return (phi * (psi_weight + class_embedding[y])).sum(dim=1) + psi_bias"),
    "proj-gathered-scores": _proj_source(
        "return (phi @ psi_weight.T + psi_bias)[:, 0] + (phi @ class_embedding.T).gather(1, y[:, None])[:, 0]"),
    "sobel-two-convolutions-and-hypot": _sobel_source(f"""
        ink = (images + 1) / 2
        kx = torch.tensor({KX}, dtype=images.dtype)
        gx = F.conv2d(ink, kx.view(1, 1, 3, 3), padding=1)
        gy = F.conv2d(ink, kx.T.reshape(1, 1, 3, 3), padding=1)
        return torch.hypot(gx, gy)
    """),
    "sobel-explicit-zero-padding": _sobel_padded("constant"),
    "sobel-separable-filters": _sobel_source("""
        ink = F.pad((images + 1) / 2, (1, 1, 1, 1))
        diff, smooth = torch.tensor([-1.0, 0.0, 1.0]), torch.tensor([1.0, 2.0, 1.0])
        gx = F.conv2d(F.conv2d(ink, diff.view(1, 1, 1, 3)), smooth.view(1, 1, 3, 1))
        gy = F.conv2d(F.conv2d(ink, smooth.view(1, 1, 1, 3)), diff.view(1, 1, 3, 1))
        return (gx ** 2 + gy ** 2) ** 0.5
    """),
    "p2p-bce-with-logits-and-l1-loss": _p2p(
        adversarial="F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))",
        l1="F.l1_loss(fake, target)"),
    "p2p-sums-over-element-counts": _p2p(adversarial="F.softplus(-fake_logits).sum() / fake_logits.numel()",
                                         l1="torch.sum(torch.abs(fake - target)) / target.numel()"),
    "p2p-logsigmoid-and-L1Loss": _p2p(adversarial="-F.logsigmoid(fake_logits).mean()", l1="nn.L1Loss()(target, fake)",
                                      prelude="from torch import nn\n"),
}

# answers that call ganlib's reference: they must lose every point of their exercise (DESIGN: an exercise
# answered by calling the ganlib function it asks for earns nothing)
DELEGATING = [m for m in MUTANTS if "-ganlib-" in m]

# a no-op or a constant: must lose every point of its exercise too (issue 11: no test may pass a no-op)
EARNS_NOTHING = ["cdl-returns-none", "cdl-zero", "cdl-constant-2-log-2", "proj-returns-none", "proj-zero",
                 "proj-constant", "sobel-returns-none", "sobel-zeros", "sobel-returns-the-images", "sobel-constant",
                 "p2p-returns-none", "p2p-zero", "p2p-constant"]


# ---------------------------------------------------------------------------------------------
# The tests: the harness's generic ones (tests/support/_mutation.py), then this notebook's own
# ---------------------------------------------------------------------------------------------

HARNESS = mutation_tests(
    notebook=NOTEBOOK, grading=grading, exercises=EXERCISES, mutants=MUTANTS, equivalent=EQUIVALENT,
    alternatives=ALTERNATIVES, delegating=DELEGATING, earns_nothing=EARNS_NOTHING, min_delegating=15,
    min_mutants=20, count_equivalent=False, min_alternatives=3, min_points=4)
globals().update(HARNESS.tests)


def test_the_no_ops_and_constants_are_listed():
    assert len(EARNS_NOTHING) >= 3 * len(EXERCISES)
    assert {MUTANTS[m][0] for m in EARNS_NOTHING} == set(EXERCISES)
