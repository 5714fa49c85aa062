"""Mutation tests of notebook 02's grading tests (tests/grading/test_02_vanilla_gan.py), in-process.
How a mutant is graded, and what every list below must satisfy: the harness, tests/support/_mutation.py.

Its own check: a wrong exercise 1 does not cost exercise 3 (``WRONG_HELPERS``): exercise 3's tests replace
``discriminator_loss`` by a correct one.
"""

import textwrap

import pytest

from _mutation import define as _define
from _mutation import fill
from _mutation import load_grading_module, mutation_tests

NOTEBOOK = "02_vanilla_gan"
EXERCISES = ("discriminator_loss", "generator_losses", "alternating_step")
grading = load_grading_module(NOTEBOOK)


# ---------------------------------------------------------------------------------------------
# The mutants: {id: (exercise function, source that redefines it)}
# ---------------------------------------------------------------------------------------------


def _d_loss(body, prelude=""):
    return "discriminator_loss", _define("def discriminator_loss(real_logits, fake_logits):\n", body, prelude)


def _g_losses(body, prelude=""):
    return "generator_losses", _define("def generator_losses(fake_logits):\n", body, prelude)


def _step_source(body, prelude=""):
    return "alternating_step", _define("def alternating_step(G, D, opt_g, opt_d, batches, sample_z, *, k, g_loss):\n",
                                       body, prelude)


STEP = """
for _ in {loop}:
    real = {real}
    with {no_grad}:
        fake = {fake}
    real_logits, fake_logits = {logits}
    d_loss = {d_loss}
    {d_update}
with {freeze}:
    z = {g_z}
    loss = {g_loss}
    {g_update}
return {result}
"""
STEP_SOLUTION = dict(
    loop="range(k)", real="next(batches)", no_grad="torch.no_grad()", fake="G(sample_z(real.shape[0]))",
    logits="D(real), D(fake)", d_loss="discriminator_loss(real_logits, fake_logits)",
    d_update="optimizer_step(opt_d, d_loss)", freeze="frozen(D)", g_z="sample_z(real.shape[0])",
    g_loss="g_loss(D(G(z)))", g_update="optimizer_step(opt_g, loss)",
    result='{"d_loss": d_loss.detach(), "g_loss": loss.detach(), "d_real": torch.sigmoid(real_logits.detach()).mean(), '
           '"d_fake": torch.sigmoid(fake_logits.detach()).mean()}',
)


def _step(prelude="", **change):
    """The solution's alternating_step with the parts named in ``change`` replaced."""
    return _step_source(fill(STEP, STEP_SOLUTION, change), prelude)


def _result(**change):
    """The solution's returned dict with some entries replaced."""
    entries = {"d_loss": "d_loss.detach()", "g_loss": "loss.detach()",
               "d_real": "torch.sigmoid(real_logits.detach()).mean()",
               "d_fake": "torch.sigmoid(fake_logits.detach()).mean()", **change}
    return "{" + ", ".join(f'"{name}": {value}' for name, value in entries.items() if value is not None) + "}"


NULL = "import contextlib\n"  # contextlib.nullcontext() in place of no_grad or frozen
OWN_PHASES = """
for _ in range(k):
    real = next(batches)
    with torch.no_grad():
        fake = G(sample_z(real.shape[0]))
    real_logits, fake_logits = D(real), D(fake)
    d_loss = discriminator_loss(real_logits, fake_logits)
    optimizer_step(opt_d, d_loss)
with frozen(D):
    loss = g_loss(D(G(sample_z(real.shape[0]))))
    optimizer_step(opt_g, loss)
return {"d_loss": d_loss.detach(), "g_loss": loss.detach(), "d_real": torch.sigmoid(real_logits.detach()).mean(),
        "d_fake": torch.sigmoid(fake_logits.detach()).mean()}
"""
REFERENCE_ARGS = "G, D, opt_g, opt_d, batches, sample_z, k=k, g_loss=g_loss"
KEYS = ("d_loss", "g_loss", "d_real", "d_fake")

MUTANTS = {
    # Exercise 1: discriminator_loss
    "dloss-returns-none": _d_loss("return None"),
    "dloss-constant-2-log-2": _d_loss("return torch.tensor(1.3862944, requires_grad=True)"),
    "dloss-zero": _d_loss("return (0 * real_logits).sum() + (0 * fake_logits).sum()"),
    "dloss-mean-logits": _d_loss("return fake_logits.mean() - real_logits.mean()"),
    "dloss-signs-swapped": _d_loss("return F.softplus(real_logits).mean() + F.softplus(-fake_logits).mean()"),
    "dloss-arguments-swapped": _d_loss("return F.softplus(-fake_logits).mean() + F.softplus(real_logits).mean()"),
    "dloss-minus-v-sign": _d_loss("return -(F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean())"),
    "dloss-sums": _d_loss("return F.softplus(-real_logits).sum() + F.softplus(fake_logits).sum()"),
    "dloss-mean-of-both-terms": _d_loss(
        "return torch.cat([F.softplus(-real_logits).flatten(), F.softplus(fake_logits).flatten()]).mean()"),
    "dloss-only-real-term": _d_loss("return F.softplus(-real_logits).mean()"),
    "dloss-only-fake-term": _d_loss("return F.softplus(fake_logits).mean()"),
    "dloss-naive-log-sigmoid": _d_loss(
        "return -torch.log(torch.sigmoid(real_logits)).mean() - torch.log(1 - torch.sigmoid(fake_logits)).mean()"),
    "dloss-bce-on-probabilities": _d_loss("""
        real_p, fake_p = torch.sigmoid(real_logits), torch.sigmoid(fake_logits)
        return (F.binary_cross_entropy(real_p, torch.ones_like(real_p))
                + F.binary_cross_entropy(fake_p, torch.zeros_like(fake_p)))
    """),
    "dloss-bce-labels-swapped": _d_loss("""
        return (F.binary_cross_entropy_with_logits(real_logits, torch.zeros_like(real_logits))
                + F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits)))
    """),
    "dloss-mean-over-the-batch-axis-only": _d_loss(
        "return F.softplus(-real_logits).mean(dim=0) + F.softplus(fake_logits).mean(dim=0)"),
    "dloss-detached": _d_loss("return (F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()).detach()"),
    "dloss-python-float": _d_loss(
        "return torch.tensor((F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()).item())"),
    "dloss-hinge": _d_loss("return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()"),
    "dloss-least-squares": _d_loss("return 0.5 * ((real_logits - 1) ** 2).mean() + 0.5 * (fake_logits ** 2).mean()"),
    "dloss-ganlib-from-import": _d_loss("return _reference(real_logits, fake_logits)",
                                        "from ganlib.losses import discriminator_loss as _reference\n"),
    "dloss-ganlib-module-chain": _d_loss("return ganlib.losses.discriminator_loss(real_logits, fake_logits)",
                                         "import ganlib.losses\n"),
    "dloss-ganlib-module-alias": _d_loss("return L.discriminator_loss(real_logits, fake_logits)",
                                         "from ganlib import losses as L\n"),
    "dloss-ganlib-objective": _d_loss("return losses.objective('gan').d_loss(real_logits, fake_logits)",
                                      "from ganlib import losses\n"),
    "dloss-ganlib-import-inside": _d_loss("""
        from ganlib.losses import discriminator_loss as reference
        return reference(real_logits, fake_logits)
    """),
    "dloss-ganlib-swallowed": _d_loss("""
        try:
            return losses.discriminator_loss(real_logits, fake_logits)
        except Exception:
            return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    """, "from ganlib import losses\n"),
    # Exercise 2: generator_losses
    "glosses-returns-none": _g_losses("return None"),
    "glosses-constants": _g_losses("return torch.tensor(-0.6931472), torch.tensor(0.6931472)"),
    "glosses-zeros": _g_losses("zero = (0 * fake_logits).sum()\nreturn zero, zero"),
    "glosses-logits-mean": _g_losses("return fake_logits.mean(), -fake_logits.mean()"),
    "glosses-swapped": _g_losses("return F.softplus(-fake_logits).mean(), -F.softplus(fake_logits).mean()"),
    "glosses-saturating-sign": _g_losses("return F.softplus(fake_logits).mean(), F.softplus(-fake_logits).mean()"),
    "glosses-nonsaturating-sign": _g_losses("return -F.softplus(fake_logits).mean(), -F.softplus(-fake_logits).mean()"),
    "glosses-saturating-wrong-identity": _g_losses(
        "return F.logsigmoid(fake_logits).mean(), F.softplus(-fake_logits).mean()"),
    "glosses-nonsaturating-wrong-identity": _g_losses(
        "return -F.softplus(fake_logits).mean(), F.softplus(fake_logits).mean()"),
    "glosses-both-saturating": _g_losses("return -F.softplus(fake_logits).mean(), F.softplus(fake_logits).mean() * 0 + "
                                         "-F.softplus(fake_logits).mean()"),
    "glosses-sums": _g_losses("return -F.softplus(fake_logits).sum(), F.softplus(-fake_logits).sum()"),
    "glosses-naive": _g_losses(
        "p = torch.sigmoid(fake_logits)\nreturn torch.log(1 - p).mean(), -torch.log(p).mean()"),
    "glosses-naive-saturating": _g_losses(
        "return torch.log(1 - torch.sigmoid(fake_logits)).mean(), F.softplus(-fake_logits).mean()"),
    "glosses-mean-over-the-batch-axis-only": _g_losses(
        "return -F.softplus(fake_logits).mean(dim=0), F.softplus(-fake_logits).mean(dim=0)"),
    "glosses-detached": _g_losses(
        "return -F.softplus(fake_logits).mean().detach(), F.softplus(-fake_logits).mean().detach()"),
    "glosses-least-squares-for-non-saturating": _g_losses(
        "return -F.softplus(fake_logits).mean(), 0.5 * ((fake_logits - 1) ** 2).mean()"),
    "glosses-ganlib-from-import": _g_losses("return _sat(fake_logits), _ns(fake_logits)", """
        from ganlib.losses import generator_loss_nonsaturating as _ns
        from ganlib.losses import generator_loss_saturating as _sat
    """),
    "glosses-ganlib-module-chain": _g_losses(
        "return ganlib.losses.generator_loss_saturating(fake_logits), F.softplus(-fake_logits).mean()",
        "import ganlib\n"),
    "glosses-ganlib-registry": _g_losses(
        "return (losses.GENERATOR_LOSSES['saturating'](fake_logits),\n"
        "        losses.generator_loss('non-saturating')(fake_logits))",
        "from ganlib import losses\n"),
    "glosses-ganlib-import-inside": _g_losses("""
        from ganlib import losses as reference
        return -F.softplus(fake_logits).mean(), reference.generator_loss_nonsaturating(fake_logits)
    """),
    "glosses-ganlib-swallowed": _g_losses("""
        try:
            return losses.generator_loss_saturating(fake_logits), losses.generator_loss_nonsaturating(fake_logits)
        except Exception:
            return -F.softplus(fake_logits).mean(), F.softplus(-fake_logits).mean()
    """, "from ganlib import losses\n"),
    "glosses-ganlib-discriminator-loss": _g_losses("""
        never = torch.full_like(fake_logits, 100.0)  # softplus(-100) ~ 0: only the fake term is left
        return -losses.discriminator_loss(never, fake_logits), F.softplus(-fake_logits).mean()
    """, "from ganlib import losses\n"),
    # Exercise 3: alternating_step
    "step-returns-none": _step_source("return None"),
    "step-constant-dict": _step_source(
        'return {"d_loss": torch.tensor(1.3863), "g_loss": torch.tensor(0.6931), "d_real": torch.tensor(0.5), '
        '"d_fake": torch.tensor(0.5)}'),
    "step-metrics-without-updates": _step_source("""
        real = next(batches)
        with torch.no_grad():
            real_logits, fake_logits = D(real), D(G(sample_z(real.shape[0])))
            loss = g_loss(D(G(sample_z(real.shape[0]))))
            return {"d_loss": discriminator_loss(real_logits, fake_logits), "g_loss": loss,
                    "d_real": torch.sigmoid(real_logits).mean(), "d_fake": torch.sigmoid(fake_logits).mean()}
    """),
    "step-trains-but-returns-constants": _step(
        result='{"d_loss": torch.tensor(1.3863), "g_loss": torch.tensor(0.6931), "d_real": torch.tensor(0.5), '
               '"d_fake": torch.tensor(0.5)}'),
    "step-k-plus-one": _step(loop="range(k + 1)"),
    "step-one-d-update": _step(loop="range(1)"),
    "step-k-minus-one": _step(loop="range(max(k - 1, 1))"),
    "step-fakes-not-detached": _step(NULL, no_grad="contextlib.nullcontext()"),
    "step-fakes-detached-after-the-loss": _step(NULL, no_grad="contextlib.nullcontext()",
                                                d_update="optimizer_step(opt_d, d_loss); opt_g.zero_grad()"),
    "step-d-not-frozen": _step(NULL, freeze="contextlib.nullcontext()"),
    "step-d-not-frozen-grads-cleared": _step(NULL, freeze="contextlib.nullcontext()",
                                             g_update="optimizer_step(opt_g, loss); opt_d.zero_grad(set_to_none=True)"),
    "step-g-update-also-steps-d": _step(NULL, freeze="contextlib.nullcontext()",
                                        g_update="optimizer_step(opt_g, loss); opt_d.step()"),
    "step-d-left-frozen": _step_source("""
        for _ in range(k):
            real = next(batches)
            with torch.no_grad():
                fake = G(sample_z(real.shape[0]))
            real_logits, fake_logits = D(real), D(fake)
            d_loss = discriminator_loss(real_logits, fake_logits)
            optimizer_step(opt_d, d_loss)
        D.requires_grad_(False)  # and never unfrozen
        loss = g_loss(D(G(sample_z(real.shape[0]))))
        optimizer_step(opt_g, loss)
        return {"d_loss": d_loss.detach(), "g_loss": loss.detach(),
                "d_real": torch.sigmoid(real_logits.detach()).mean(), "d_fake": torch.sigmoid(fake_logits.detach()).mean()}
    """),
    "step-g-phase-without-grad": _step(freeze="torch.no_grad()"),
    "step-g-fakes-detached": _step(g_loss="g_loss(D(G(z).detach()))"),
    "step-same-z-for-g": _step(fake="G(z_d := sample_z(real.shape[0]))", g_z="z_d"),
    "step-fresh-real-batch-for-g": _step(g_z="sample_z(next(batches).shape[0])"),
    "step-one-real-batch-for-all-d-updates": _step(real="real if _ else next(batches)"),
    "step-g-batch-size-fixed": _step(g_z="sample_z(64)"),
    "step-d-loss-arguments-swapped": _step(d_loss="discriminator_loss(fake_logits, real_logits)"),
    "step-d-ascends": _step(d_update="optimizer_step(opt_d, -d_loss)"),
    "step-g-ascends": _step(g_update="optimizer_step(opt_g, -loss)"),
    "step-g-loss-ignored": _step("import torch.nn.functional as F\n", g_loss="F.softplus(-D(G(z))).mean()"),
    "step-g-loss-of-negated-logits": _step(g_loss="g_loss(-D(G(z)))"),
    "step-g-loss-of-probabilities": _step(g_loss="g_loss(torch.sigmoid(D(G(z))))"),
    "step-no-zero-grad-for-g": _step(g_update="loss.backward(); opt_g.step()"),
    "step-no-zero-grad-for-d": _step(d_update="d_loss.backward(); opt_d.step()"),
    "step-zero-grad-after-backward": _step(d_update="d_loss.backward(); opt_d.zero_grad(); opt_d.step()"),
    "step-no-d-step": _step(d_update="opt_d.zero_grad(); d_loss.backward()"),
    "step-no-g-step": _step(g_update="opt_g.zero_grad(); loss.backward()"),
    "step-g-phase-first": _step_source("""
        with frozen(D):
            loss = g_loss(D(G(sample_z(batches.batch_size if hasattr(batches, 'batch_size') else 32))))
            optimizer_step(opt_g, loss)
        for _ in range(k):
            real = next(batches)
            with torch.no_grad():
                fake = G(sample_z(real.shape[0]))
            real_logits, fake_logits = D(real), D(fake)
            d_loss = discriminator_loss(real_logits, fake_logits)
            optimizer_step(opt_d, d_loss)
        return {"d_loss": d_loss.detach(), "g_loss": loss.detach(),
                "d_real": torch.sigmoid(real_logits.detach()).mean(), "d_fake": torch.sigmoid(fake_logits.detach()).mean()}
    """),
    "step-metrics-after-the-update": _step(result=_result(d_real="torch.sigmoid(D(real)).mean().detach()",
                                                          d_fake="torch.sigmoid(D(fake)).mean().detach()")),
    "step-d-real-as-mean-logit": _step(result=_result(d_real="real_logits.detach().mean()")),
    "step-d-fake-from-the-g-phase": _step(result=_result(d_fake="torch.sigmoid(D(G(z))).mean().detach()")),
    "step-d-real-and-d-fake-swapped": _step(result=_result(d_real="torch.sigmoid(fake_logits.detach()).mean()",
                                                           d_fake="torch.sigmoid(real_logits.detach()).mean()")),
    "step-d-accuracy-for-d-real": _step(result=_result(d_real="(real_logits.detach() > 0).float().mean()")),
    "step-g-loss-after-the-update": _step(result=_result(g_loss="g_loss(D(G(z))).detach()")),
    "step-metrics-not-detached": _step(result=_result(d_loss="d_loss", g_loss="loss")),
    "step-metrics-as-floats": _step(result=_result(d_loss="d_loss.item()", g_loss="loss.item()",
                                                   d_real="torch.sigmoid(real_logits).mean().item()",
                                                   d_fake="torch.sigmoid(fake_logits).mean().item()")),
    "step-metric-missing": _step(result=_result(d_fake=None)),
    "step-d-loss-averaged-over-k": _step_source("""
        total = 0.0
        for _ in range(k):
            real = next(batches)
            with torch.no_grad():
                fake = G(sample_z(real.shape[0]))
            real_logits, fake_logits = D(real), D(fake)
            d_loss = discriminator_loss(real_logits, fake_logits)
            optimizer_step(opt_d, d_loss)
            total = total + d_loss.detach() / k
        with frozen(D):
            loss = g_loss(D(G(sample_z(real.shape[0]))))
            optimizer_step(opt_g, loss)
        return {"d_loss": total, "g_loss": loss.detach(), "d_real": torch.sigmoid(real_logits.detach()).mean(),
                "d_fake": torch.sigmoid(fake_logits.detach()).mean()}
    """),
    "step-metrics-of-the-first-d-update": _step_source("""
        first = None
        for _ in range(k):
            real = next(batches)
            with torch.no_grad():
                fake = G(sample_z(real.shape[0]))
            real_logits, fake_logits = D(real), D(fake)
            d_loss = discriminator_loss(real_logits, fake_logits)
            optimizer_step(opt_d, d_loss)
            first = first or {"d_loss": d_loss.detach(), "d_real": torch.sigmoid(real_logits.detach()).mean(),
                              "d_fake": torch.sigmoid(fake_logits.detach()).mean()}
        with frozen(D):
            loss = g_loss(D(G(sample_z(real.shape[0]))))
            optimizer_step(opt_g, loss)
        return {**first, "g_loss": loss.detach()}
    """),
    "step-ganlib-train-step-from-import": _step_source(
        f"out = _train_step({REFERENCE_ARGS})\nreturn {{name: out[name] for name in {KEYS}}}",
        "from ganlib.train import train_step as _train_step\n"),
    "step-ganlib-module-chain": _step_source(
        f"out = ganlib.training.gan.train_step({REFERENCE_ARGS})\nreturn {{name: out[name] for name in {KEYS}}}",
        "import ganlib.training.gan\n"),
    "step-ganlib-module-alias": _step_source(
        f"out = g.train_step({REFERENCE_ARGS})\nreturn {{name: out[name] for name in {KEYS}}}",
        "from ganlib.training import gan as g\n"),
    "step-ganlib-phases": _step_source(f"""
        for _ in range(k):
            real = next(batches)
            d = gan.discriminator_step(G, D, opt_d, real, sample_z(real.shape[0]))
        g = gan.generator_step(G, D, opt_g, sample_z(real.shape[0]), g_loss)
        return {{name: {{**d, **g}}[name] for name in {KEYS}}}
    """, "from ganlib.training import gan\n"),
    "step-ganlib-generator-step-only": _step_source(f"""
        for _ in range(k):
            real = next(batches)
            with torch.no_grad():
                fake = G(sample_z(real.shape[0]))
            real_logits, fake_logits = D(real), D(fake)
            d_loss = discriminator_loss(real_logits, fake_logits)
            optimizer_step(opt_d, d_loss)
        g = generator_step(G, D, opt_g, sample_z(real.shape[0]), g_loss)
        return {{"d_loss": d_loss.detach(), "g_loss": g["g_loss"], "d_real": torch.sigmoid(real_logits.detach()).mean(),
                "d_fake": torch.sigmoid(fake_logits.detach()).mean()}}
    """, "from ganlib.train import generator_step\n"),
    "step-ganlib-discriminator-loss": _step("from ganlib import losses\n",
                                            d_loss="losses.discriminator_loss(real_logits, fake_logits)"),
    "step-ganlib-import-inside": _step_source(f"""
        from ganlib.train import train_step as reference
        out = reference({REFERENCE_ARGS})
        return {{name: out[name] for name in {KEYS}}}
    """),
    "step-ganlib-swallowed": _step_source(textwrap.dedent(f"""
        try:
            out = gan.train_step({REFERENCE_ARGS})
            return {{name: out[name] for name in {KEYS}}}
        except Exception:
            pass
    """) + OWN_PHASES, "from ganlib.training import gan\n"),
}

# mutants that look wrong but compute what the solution computes: skipped in the score, and checked to
# keep every point (so the claim stays true)
EQUIVALENT = {
    "dloss-fake-term-through-logsigmoid-of-minus": "-logsigmoid(-t) is softplus(t) exactly: the same stable function",
    "step-d-on-the-concatenated-batch": "the toy discriminator has no batch statistics (no batch norm), so D on "
                                        "cat([real, fake]) gives the same logits as two calls, up to float rounding",
}
MUTANTS.update({
    "dloss-fake-term-through-logsigmoid-of-minus": _d_loss(
        "return F.softplus(-real_logits).mean() - F.logsigmoid(-fake_logits).mean()"),
    "step-d-on-the-concatenated-batch": _step(logits="D(torch.cat([real, fake])).split(real.shape[0])"),
})

# correct answers written otherwise than the solution: they must keep every point
ALTERNATIVES = {
    "dloss-bce-with-logits": _d_loss("""
        real_term = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
        fake_term = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
        return real_term + fake_term
    """),
    "dloss-logsigmoid": _d_loss("return -F.logsigmoid(real_logits).mean() - F.logsigmoid(-fake_logits).mean()"),
    "dloss-written-out": _d_loss("""
        stable = lambda t: t.clamp(min=0) + torch.log1p(torch.exp(-t.abs()))  # softplus(t)
        return stable(-real_logits).mean() + stable(fake_logits).mean()
    """),
    "glosses-logsigmoid": _g_losses("return F.logsigmoid(-fake_logits).mean(), -F.logsigmoid(fake_logits).mean()"),
    "glosses-bce-with-logits": _g_losses("""
        ones, zeros = torch.ones_like(fake_logits), torch.zeros_like(fake_logits)
        return (-F.binary_cross_entropy_with_logits(fake_logits, zeros),
                F.binary_cross_entropy_with_logits(fake_logits, ones))
    """),
    "glosses-flattened": _g_losses("""
        t = fake_logits.flatten()
        return -F.softplus(t).sum() / t.numel(), F.softplus(-t).sum() / t.numel()
    """),
    "step-written-out": _step_source("""
        for _ in range(k):
            real = next(batches)
            fake = G(sample_z(len(real))).detach()  # detach instead of no_grad
            real_logits, fake_logits = D(real), D(fake)
            d_loss = discriminator_loss(real_logits, fake_logits)
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
        for p in D.parameters():
            p.requires_grad_(False)
        try:
            loss = g_loss(D(G(sample_z(len(real)))))
            opt_g.zero_grad()
            loss.backward()
            opt_g.step()
        finally:
            for p in D.parameters():
                p.requires_grad_(True)
        metrics = dict(d_loss=d_loss, g_loss=loss, d_real=torch.sigmoid(real_logits).mean(),
                       d_fake=torch.sigmoid(fake_logits).mean())
        return {name: value.detach() for name, value in metrics.items()}
    """),
    "step-backward-into-g-only": _step_source("""
        for _ in range(k):
            real = next(batches)
            with torch.no_grad():
                fake = G(sample_z(real.shape[0]))
            real_logits, fake_logits = D(real), D(fake)
            d_loss = discriminator_loss(real_logits, fake_logits)
            optimizer_step(opt_d, d_loss)
        loss = g_loss(D(G(sample_z(real.shape[0]))))
        opt_g.zero_grad()
        loss.backward(inputs=list(G.parameters()))  # D's weights take no gradient
        opt_g.step()
        return {"d_loss": d_loss.detach(), "g_loss": loss.detach(),
                "d_real": torch.sigmoid(real_logits).mean().detach(),
                "d_fake": torch.sigmoid(fake_logits).mean().detach()}
    """),
    "step-requires-grad-toggled": _step_source("""
        for _ in range(k):
            real = next(batches)
            z = sample_z(real.shape[0])
            with torch.no_grad():
                fake = G(z)
            logits = D(torch.cat([real, fake]))
            real_logits, fake_logits = logits[:len(real)], logits[len(real):]
            d_loss = discriminator_loss(real_logits, fake_logits)
            optimizer_step(opt_d, d_loss)
        D.requires_grad_(False)
        loss = g_loss(D(G(sample_z(real.shape[0]))))
        optimizer_step(opt_g, loss)
        D.requires_grad_(True)
        with torch.no_grad():
            return {"d_loss": d_loss.detach(), "g_loss": loss.detach(), "d_real": real_logits.sigmoid().mean(),
                    "d_fake": fake_logits.sigmoid().mean()}
    """),
}

# answers that call ganlib's reference: they must lose every point of their exercise (DESIGN: an exercise
# answered by calling the ganlib function it asks for earns nothing)
DELEGATING = [m for m in MUTANTS if "-ganlib-" in m]

# a no-op or a constant: must lose every point of its exercise too (issue 11: no test may pass a no-op)
EARNS_NOTHING = ["dloss-returns-none", "dloss-constant-2-log-2", "dloss-zero", "glosses-returns-none",
                 "glosses-constants", "glosses-zeros", "step-returns-none", "step-constant-dict",
                 "step-metrics-without-updates"]

# wrong answers to exercise 1: exercise 3's tests replace discriminator_loss by a correct one, so they keep
# every point of exercise 3 with the solution's alternating_step
WRONG_HELPERS = ["dloss-signs-swapped", "dloss-sums", "dloss-returns-none", "dloss-naive-log-sigmoid"]


# ---------------------------------------------------------------------------------------------
# The tests: the harness's generic ones (tests/support/_mutation.py), then this notebook's own
# ---------------------------------------------------------------------------------------------

HARNESS = mutation_tests(
    notebook=NOTEBOOK, grading=grading, exercises=EXERCISES, mutants=MUTANTS, equivalent=EQUIVALENT,
    alternatives=ALTERNATIVES, delegating=DELEGATING, listed=[WRONG_HELPERS], earns_nothing=EARNS_NOTHING,
    min_delegating=15, min_mutants=15, count_equivalent=False, min_alternatives=3, min_points=6)
globals().update(HARNESS.tests)



@pytest.mark.parametrize("mutant_id", WRONG_HELPERS)
def test_a_wrong_discriminator_loss_does_not_cost_the_step(mutant_id):
    outcomes = HARNESS.grade(HARNESS.mutant_module(mutant_id), "alternating_step")
    failed = {case: error for case, error in outcomes.items() if error is not None}
    assert not failed, f"a wrong discriminator_loss ({mutant_id}) costs exercise 3: {failed}"
