"""Mutation tests of notebook 09's grading tests (tests/grading/test_09_gans_vaes_diffusion.py), in-process.
How a mutant is graded, and what every list below must satisfy: the harness, tests/support/_mutation.py.

The mutants of the four exercises: no-ops and constants (``EARNS_NOTHING``), the typical mistakes of each
(sigma = exp(logvar), KL signs and terms, nats or log10 for bits, alpha_bar unrooted or at t - 1, unbalanced
accuracy, the boundary logit 0 counted as fake, a tensor for a float, ...), and answers that call ganlib's reference
by any route (``DELEGATING``).
"""

import pytest

from _mutation import define as _define
from _mutation import fill
from _mutation import load_grading_module, mutation_tests

NOTEBOOK = "09_gans_vaes_diffusion"
EXERCISES = ("reparameterize", "negative_elbo_bits", "q_sample", "detection_accuracy")
grading = load_grading_module(NOTEBOOK)
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning")


# ---------------------------------------------------------------------------------------------
# The mutants: {id: (exercise function, source that redefines it)}
# ---------------------------------------------------------------------------------------------

TORCH = "import torch\n"
ELBO_IMPORTS = "import math\n\nimport torch\n\nfrom ganlib.likelihood import discretized_gaussian_log_likelihood\n"


def _exercise(header, default_prelude, template, solution):
    """(source, mutated) for the exercise whose ``def`` line is ``header``: ``source(body, prelude)`` is a mutant
    written out, ``mutated(prelude, **change)`` the solution's function (``template`` filled with ``solution``'s
    parts) with the parts named in ``change`` replaced."""
    name = header.split()[1].split("(")[0]

    def source(body, prelude=default_prelude):
        return name, _define(header, body, prelude)

    def mutated(prelude=default_prelude, **change):
        return source(fill(template, solution, change), prelude)

    return source, mutated


_rp_source, _rp = _exercise("def reparameterize(mu, logvar, eps):\n", TORCH, """
std = {std}
return {result}
""", dict(std="torch.exp(0.5 * logvar)", result="mu + std * eps"))

# the solution's reconstruction term and KL, also for the answers that compute part of the ELBO themselves
OWN_RECON = "discretized_gaussian_log_likelihood(x, mean, log_scale).flatten(1).sum(1)"
OWN_KL = "0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)"
_nelbo_source, _nelbo = _exercise("def negative_elbo_bits(x, mean, log_scale, mu, logvar):\n", ELBO_IMPORTS, """
recon = {recon}
kl = {kl}
dims = {dims}
return {result}
""", dict(recon=OWN_RECON, kl=OWN_KL, dims="x[0].numel()", result="(kl - recon) / (dims * math.log(2.0))"))

_qs_source, _qs = _exercise("def q_sample(x0, t, noise, alpha_bar):\n", TORCH, """
ab = {ab}
return {result}
""", dict(ab="alpha_bar[t].view(-1, *([1] * (x0.ndim - 1)))", result="ab.sqrt() * x0 + (1 - ab).sqrt() * noise"))

_da_source, _da = _exercise("def detection_accuracy(real_logits, fake_logits):\n", TORCH, """
on_real = {on_real}
on_fake = {on_fake}
return {result}
""", dict(on_real="(real_logits <= 0).float().mean()", on_fake="(fake_logits > 0).float().mean()",
          result="float(0.5 * (on_real + on_fake))"))

MUTANTS = {
    # Exercise 1: reparameterize
    "rp-pass": _rp_source("pass"),
    "rp-zeros": _rp_source("return torch.zeros_like(eps)"),
    "rp-returns-mu": _rp(result="mu"),
    "rp-returns-eps": _rp(result="eps"),
    "rp-eps-forgotten": _rp(result="mu + std"),
    "rp-sigma-is-the-variance": _rp(std="torch.exp(logvar)"),
    "rp-sigma-is-logvar": _rp(std="logvar"),
    "rp-logvar-times-eps": _rp_source("return mu + logvar * eps"),
    "rp-sqrt-of-logvar": _rp(std="torch.sqrt(logvar)"),
    "rp-sqrt-of-abs-logvar": _rp(std="torch.sqrt(logvar.abs())"),
    "rp-exp-of-twice-logvar": _rp(std="torch.exp(2 * logvar)"),
    "rp-half-the-variance": _rp(std="0.5 * torch.exp(logvar)"),
    "rp-exp-of-abs-logvar": _rp(std="torch.exp(0.5 * logvar.abs())"),
    "rp-minus-sigma-eps": _rp(result="mu - std * eps"),
    "rp-times-mu": _rp(result="mu * std * eps"),
    "rp-fresh-noise": _rp(result="mu + std * torch.randn_like(mu)"),
    "rp-detached": _rp(result="(mu + std * eps).detach()"),
    "rp-no-grad": _rp_source("""
        with torch.no_grad():
            return mu + torch.exp(0.5 * logvar) * eps
    """),
    "rp-logvar-detached": _rp(std="torch.exp(0.5 * logvar.detach())"),
    "rp-through-numpy": _rp_source("""
        z = mu.detach().numpy() + np.exp(0.5 * logvar.detach().numpy()) * eps.numpy()
        return torch.as_tensor(z)
    """, "import numpy as np\nimport torch\n"),
    "rp-in-place": _rp_source("""
        eps.mul_(torch.exp(0.5 * logvar))
        return eps.add_(mu)
    """),
    "rp-float32": _rp(result="mu.float() + std.float() * eps.float()"),
    "rp-ganlib-from-import": _rp_source("return _reparameterize(mu, logvar, eps)",
                                        "from ganlib.models.vae import reparameterize as _reparameterize\n"),
    "rp-ganlib-module-chain": _rp_source("return ganlib.models.vae.reparameterize(mu, logvar, eps)",
                                         "import ganlib.models.vae\n"),
    "rp-ganlib-module-alias": _rp_source("return v.reparameterize(mu, logvar, eps)",
                                         "from ganlib.models import vae as v\n"),
    "rp-ganlib-import-inside": _rp_source("""
        from ganlib.models.vae import reparameterize as reference
        return reference(mu, logvar, eps)
    """),
    "rp-ganlib-swallowed": _rp_source("""
        try:
            return vae.reparameterize(mu, logvar, eps)
        except Exception:
            return mu + torch.exp(0.5 * logvar) * eps
    """, "import torch\nfrom ganlib.models import vae\n"),
    # Exercise 2: negative_elbo_bits
    "nelbo-pass": _nelbo_source("pass"),
    "nelbo-zeros": _nelbo_source("return torch.zeros(len(x), dtype=x.dtype)"),
    "nelbo-kl-only": _nelbo(result="kl / (dims * math.log(2.0))"),
    "nelbo-recon-only": _nelbo(result="-recon / (dims * math.log(2.0))"),
    "nelbo-kl-negated": _nelbo(kl="-0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)"),
    "nelbo-kl-logvar-sign": _nelbo(kl="0.5 * (mu.pow(2) + logvar.exp() - 1 + logvar).sum(1)"),
    "nelbo-kl-exp-sign": _nelbo(kl="0.5 * (mu.pow(2) - logvar.exp() + 1 + logvar).sum(1)"),
    "nelbo-kl-mu-sign": _nelbo(kl="0.5 * (-mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)"),
    "nelbo-kl-minus-one-missing": _nelbo(kl="0.5 * (mu.pow(2) + logvar.exp() - logvar).sum(1)"),
    "nelbo-kl-logvar-term-missing": _nelbo(kl="0.5 * (mu.pow(2) + logvar.exp() - 1).sum(1)"),
    "nelbo-kl-half-missing": _nelbo(kl="(mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)"),
    "nelbo-kl-mu-not-squared": _nelbo(kl="0.5 * (mu + logvar.exp() - 1 - logvar).sum(1)"),
    "nelbo-kl-mean-over-latents": _nelbo(kl="0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).mean(1)"),
    "nelbo-kl-summed-over-the-batch": _nelbo(kl="0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum()"),
    "nelbo-kl-mean-over-the-batch": _nelbo(kl="0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1).mean()"),
    "nelbo-kl-logvar-as-variance": _nelbo(kl="0.5 * (mu.pow(2) + logvar - 1 - logvar.log()).sum(1)"),
    "nelbo-kl-logvar-as-variance-clamped": _nelbo(
        kl="0.5 * (mu.pow(2) + logvar.clamp_min(1e-8) - 1 - logvar.clamp_min(1e-8).log()).sum(1)"),
    "nelbo-kl-sigma-for-variance": _nelbo(kl="0.5 * (mu.pow(2) + (0.5 * logvar).exp() - 1 - logvar).sum(1)"),
    "nelbo-kl-reversed": _nelbo(kl="0.5 * (mu.pow(2) * (-logvar).exp() + (-logvar).exp() - 1 + logvar).sum(1)"),
    "nelbo-in-nats": _nelbo(result="(kl - recon) / dims"),
    "nelbo-log10": _nelbo(result="(kl - recon) / (dims * math.log(10.0))"),
    "nelbo-bits-per-image": _nelbo(result="(kl - recon) / math.log(2.0)"),
    "nelbo-times-ln2": _nelbo(result="(kl - recon) * math.log(2.0) / dims"),
    "nelbo-recon-mean-over-pixels": _nelbo(recon=OWN_RECON.replace(".sum(1)", ".mean(1)")),
    "nelbo-recon-summed-over-the-batch": _nelbo(recon="discretized_gaussian_log_likelihood(x, mean, log_scale).sum()"),
    "nelbo-recon-per-channel": _nelbo(recon="discretized_gaussian_log_likelihood(x, mean, log_scale).sum(dim=(2, 3))"),
    "nelbo-recon-added": _nelbo(result="(kl + recon) / (dims * math.log(2.0))"),
    "nelbo-elbo-not-negated": _nelbo(result="(recon - kl) / (dims * math.log(2.0))"),
    "nelbo-scalar-mean": _nelbo(result="((kl - recon) / (dims * math.log(2.0))).mean()"),
    "nelbo-scalar-sum": _nelbo(result="((kl - recon) / (dims * math.log(2.0))).sum()"),
    "nelbo-divided-by-the-batch": _nelbo(result="(kl - recon) / (dims * math.log(2.0)) / len(x)"),
    "nelbo-dims-of-the-batch": _nelbo(dims="x.numel()"),
    "nelbo-dims-one-channel": _nelbo(dims="x.shape[-1] * x.shape[-2]"),
    "nelbo-dims-hard-coded": _nelbo(dims="32 * 32"),  # the notebook's digits: right there, wrong in general
    "nelbo-dims-latent": _nelbo(dims="mu.shape[1]"),
    "nelbo-dims-plus-latent": _nelbo(dims="x[0].numel() + mu.shape[1]"),
    "nelbo-recon-continuous-density": _nelbo(
        recon="torch.distributions.Normal(mean, log_scale.exp()).log_prob(x).flatten(1).sum(1)"),
    "nelbo-recon-scale-for-log-scale": _nelbo(
        recon="discretized_gaussian_log_likelihood(x, mean, log_scale.exp()).flatten(1).sum(1)"),
    "nelbo-recon-x-and-mean-swapped": _nelbo(
        recon="discretized_gaussian_log_likelihood(mean, x, log_scale).flatten(1).sum(1)"),
    "nelbo-recon-squared-error": _nelbo(recon="-(x - mean).pow(2).flatten(1).sum(1)"),
    "nelbo-recon-no-edge-bins": _nelbo_source("""
        scale = log_scale.exp()
        normal = torch.distributions.Normal(0.0, 1.0)
        mass = normal.cdf((x - mean + 1 / 255) / scale) - normal.cdf((x - mean - 1 / 255) / scale)
        recon = mass.clamp_min(1e-30).log().flatten(1).sum(1)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)
        return (kl - recon) / (x[0].numel() * math.log(2.0))
    """),
    "nelbo-float32": _nelbo(result="((kl - recon) / (dims * math.log(2.0))).float()"),
    "nelbo-ganlib-elbo-terms-from-import": _nelbo_source("""
        recon, kl = elbo_terms(x, mean, log_scale, mu, logvar)
        return (kl - recon) / (x[0].numel() * math.log(2.0))
    """, "import math\nfrom ganlib.models.vae import elbo_terms\n"),
    "nelbo-ganlib-module-chain": _nelbo_source("""
        recon, kl = ganlib.models.vae.elbo_terms(x, mean, log_scale, mu, logvar)
        return ganlib.likelihood.bits_per_dim(kl - recon, x[0].numel())
    """, "import ganlib.likelihood\nimport ganlib.models.vae\n"),
    "nelbo-ganlib-module-alias": _nelbo_source("""
        recon, kl = v.elbo_terms(x, mean, log_scale, mu, logvar)
        return (kl - recon) / (x[0].numel() * math.log(2.0))
    """, "import math\nfrom ganlib.models import vae as v\n"),
    "nelbo-ganlib-normal-kl": _nelbo(
        kl="likelihood.normal_kl(mu, logvar, 0.0, 0.0).sum(1)",
        prelude=ELBO_IMPORTS + "from ganlib import likelihood\n"),
    "nelbo-ganlib-bits-per-dim": _nelbo(
        result="bits_per_dim(kl - recon, dims)",
        prelude="import math\nfrom ganlib.likelihood import bits_per_dim, discretized_gaussian_log_likelihood\n"),
    "nelbo-ganlib-import-inside": _nelbo_source(f"""
        from ganlib.likelihood import normal_kl
        recon = {OWN_RECON}
        return (normal_kl(mu, logvar, 0.0, 0.0).sum(1) - recon) / (x[0].numel() * math.log(2.0))
    """),
    "nelbo-ganlib-swallowed": _nelbo_source(f"""
        try:
            recon, kl = vae.elbo_terms(x, mean, log_scale, mu, logvar)
        except Exception:
            recon, kl = {OWN_RECON}, {OWN_KL}
        return (kl - recon) / (x[0].numel() * math.log(2.0))
    """, ELBO_IMPORTS + "from ganlib.models import vae\n"),
    # Exercise 3: q_sample
    "qs-pass": _qs_source("pass"),
    "qs-zeros": _qs_source("return torch.zeros_like(x0)"),
    "qs-returns-x0": _qs(result="x0"),
    "qs-returns-noise": _qs(result="noise"),
    "qs-x0-plus-noise": _qs(result="x0 + noise"),
    "qs-alpha-bar-not-square-rooted": _qs(result="ab * x0 + (1 - ab).sqrt() * noise"),
    "qs-one-minus-not-square-rooted": _qs(result="ab.sqrt() * x0 + (1 - ab) * noise"),
    "qs-no-square-roots": _qs(result="ab * x0 + (1 - ab) * noise"),
    "qs-one-minus-the-root": _qs(result="ab.sqrt() * x0 + (1 - ab.sqrt()) * noise"),
    "qs-weights-swapped": _qs(result="(1 - ab).sqrt() * x0 + ab.sqrt() * noise"),
    "qs-noise-weight-plus": _qs(result="ab.sqrt() * x0 + (1 + ab).sqrt() * noise"),
    "qs-step-t-minus-one": _qs(ab="alpha_bar[t - 1].view(-1, *([1] * (x0.ndim - 1)))"),
    "qs-step-t-plus-one": _qs(ab="alpha_bar[(t + 1).clamp(max=len(alpha_bar) - 1)].view(-1, *([1] * (x0.ndim - 1)))"),
    "qs-first-step-for-all": _qs(ab="alpha_bar[t[0]]"),
    "qs-last-step-for-all": _qs(ab="alpha_bar[t[-1]]"),
    "qs-mean-alpha-bar": _qs(ab="alpha_bar[t].mean()"),
    "qs-cumprod-again": _qs(ab="torch.cumprod(alpha_bar, 0)[t].view(-1, *([1] * (x0.ndim - 1)))"),
    "qs-alpha-bar-as-betas": _qs(ab="torch.cumprod(1 - alpha_bar, 0)[t].view(-1, *([1] * (x0.ndim - 1)))"),
    "qs-alpha-bar-as-one-beta": _qs(ab="(1 - alpha_bar[t]).view(-1, *([1] * (x0.ndim - 1)))"),
    "qs-alpha-not-alpha-bar": _qs(
        ab="(alpha_bar[t] / torch.cat([alpha_bar.new_ones(1), alpha_bar[:-1]])[t]).view(-1, *([1] * (x0.ndim - 1)))"),
    "qs-broadcast-over-the-wrong-axes": _qs(ab="alpha_bar[t][:, None, None]"),
    "qs-broadcast-over-the-width": _qs(ab="alpha_bar[t].view(-1, 1)"),
    "qs-float32": _qs(result="(ab.sqrt() * x0 + (1 - ab).sqrt() * noise).float()"),
    "qs-in-place": _qs(result="x0.mul_(ab.sqrt()).add_((1 - ab).sqrt() * noise)"),
    "qs-noise-in-place": _qs(result="noise.mul_((1 - ab).sqrt()).add_(ab.sqrt() * x0)"),
    "qs-ganlib-from-import": _qs_source("return _q_sample(x0, t, noise, alpha_bar)",
                                        "from ganlib.models.diffusion import q_sample as _q_sample\n"),
    "qs-ganlib-module-chain": _qs_source("return ganlib.models.diffusion.q_sample(x0, t, noise, alpha_bar)",
                                         "import ganlib.models.diffusion\n"),
    "qs-ganlib-module-alias": _qs_source("return d.q_sample(x0, t, noise, alpha_bar)",
                                         "from ganlib.models import diffusion as d\n"),
    "qs-ganlib-import-inside": _qs_source("""
        from ganlib.models.diffusion import q_sample as reference
        return reference(x0, t, noise, alpha_bar)
    """),
    "qs-ganlib-through-simple-loss": _qs_source("""
        seen = []
        diffusion.simple_loss(lambda x_t, steps: seen.append(x_t) or torch.zeros_like(x_t), x0, t, noise, alpha_bar)
        return seen[0]
    """, "import torch\nfrom ganlib.models import diffusion\n"),
    "qs-ganlib-swallowed": _qs_source("""
        try:
            return diffusion.q_sample(x0, t, noise, alpha_bar)
        except Exception:
            ab = alpha_bar[t].view(-1, 1, 1, 1)
            return ab.sqrt() * x0 + (1 - ab).sqrt() * noise
    """, "import torch\nfrom ganlib.models import diffusion\n"),
    # Exercise 4: detection_accuracy
    "da-pass": _da_source("pass"),
    "da-half": _da_source("return 0.5"),
    "da-one": _da_source("return 1.0"),
    "da-zero": _da_source("return 0.0"),
    "da-plain-accuracy": _da(result="float(((real_logits <= 0).sum() + (fake_logits > 0).sum()) "
                                    "/ (len(real_logits) + len(fake_logits)))"),
    "da-plain-accuracy-of-the-concatenation": _da_source("""
        logits = torch.cat([real_logits, fake_logits])
        labels = torch.cat([torch.zeros(len(real_logits)), torch.ones(len(fake_logits))])
        return float(((logits > 0).float() == labels).float().mean())
    """),
    "da-fakes-at-zero": _da(on_fake="(fake_logits >= 0).float().mean()"),
    "da-reals-below-zero": _da(on_real="(real_logits < 0).float().mean()"),
    "da-boundary-flipped": _da(on_real="(real_logits < 0).float().mean()", on_fake="(fake_logits >= 0).float().mean()"),
    "da-labels-swapped": _da(on_real="(real_logits > 0).float().mean()", on_fake="(fake_logits <= 0).float().mean()"),
    "da-one-minus": _da(result="float(1 - 0.5 * (on_real + on_fake))"),
    "da-tensor": _da(result="0.5 * (on_real + on_fake)"),
    "da-numpy-float32": _da(result="np.float32(0.5 * (on_real + on_fake))",
                            prelude="import numpy as np\nimport torch\n"),
    "da-sigmoid-above-zero": _da(on_real="(torch.sigmoid(real_logits) <= 0).float().mean()",
                                 on_fake="(torch.sigmoid(fake_logits) > 0).float().mean()"),
    "da-sigmoid-above-zero-for-fakes": _da(on_fake="(torch.sigmoid(fake_logits) > 0).float().mean()"),
    "da-reals-only": _da(result="float(on_real)"),
    "da-fakes-only": _da(result="float(on_fake)"),
    "da-product": _da(result="float(on_real * on_fake)"),
    "da-sum": _da(result="float(on_real + on_fake)"),
    "da-percent": _da(result="float(50 * (on_real + on_fake))"),
    "da-counts": _da(on_real="(real_logits <= 0).float().sum()", on_fake="(fake_logits > 0).float().sum()"),
    "da-floor-division": _da(on_real="(real_logits <= 0).sum() // len(real_logits)",
                             on_fake="(fake_logits > 0).sum() // len(fake_logits)"),
    "da-mean-logit": _da(on_real="(real_logits.mean() <= 0).float()", on_fake="(fake_logits.mean() > 0).float()"),
    "da-ganlib-from-import": _da_source("return _accuracy(real_logits, fake_logits)",
                                        "from ganlib.forensics import detection_accuracy as _accuracy\n"),
    "da-ganlib-module-chain": _da_source("return ganlib.forensics.detection_accuracy(real_logits, fake_logits)",
                                         "import ganlib.forensics\n"),
    "da-ganlib-module-alias": _da_source("return f.detection_accuracy(real_logits, fake_logits)",
                                         "from ganlib import forensics as f\n"),
    "da-ganlib-import-inside": _da_source("""
        from ganlib.forensics import detection_accuracy as reference
        return reference(real_logits, fake_logits)
    """),
    "da-ganlib-swallowed": _da_source("""
        try:
            return forensics.detection_accuracy(real_logits, fake_logits)
        except Exception:
            return 0.5 * (float((real_logits <= 0).float().mean()) + float((fake_logits > 0).float().mean()))
    """, "import torch\nfrom ganlib import forensics\n"),
}

# mutants that look wrong but compute what the solution computes: skipped in the score, and checked to
# keep every point (so the claim stays true)
EQUIVALENT = {
    "rp-sqrt-of-the-variance": "sqrt(exp(logvar)) is exp(logvar / 2), and so is its derivative",
    "rp-eps-times-sigma-plus-mu": "the sum and the product commute",
    "nelbo-kl-from-the-variance": "log(exp(logvar)) is logvar (to rounding)",
    "nelbo-kl-two-sums": "the sum over the latents is linear: sum(mu^2) + sum(exp) - d - sum(logvar)",
    "nelbo-dims-from-the-shape": "x[0].numel() is C * H * W for (B, C, H, W) images",
    "nelbo-log2-of-e": "dividing by ln 2 is multiplying by log2(e)",
    "qs-steps-with-three-new-axes": "alpha_bar[t, None, None, None] is alpha_bar[t] shaped (B, 1, 1, 1)",
    "qs-four-dimensions-only": "the docstring's x0 is (B, C, H, W): a view to (B, 1, 1, 1) is the solution's for every "
                               "input it allows",
    "da-not-positive-for-reals": "~(logit > 0) is logit <= 0 (no NaN logits here)",
    "da-fractions-by-sum-over-len": "the sum of the 0/1 values over their count is their mean",
}
MUTANTS.update({
    "rp-sqrt-of-the-variance": _rp(std="torch.exp(logvar).sqrt()"),
    "rp-eps-times-sigma-plus-mu": _rp(result="eps * std + mu"),
    "nelbo-kl-from-the-variance": _nelbo(kl="0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar.exp().log()).sum(1)"),
    "nelbo-kl-two-sums": _nelbo(kl="0.5 * (mu.pow(2).sum(1) + logvar.exp().sum(1) - mu.shape[1] - logvar.sum(1))"),
    "nelbo-dims-from-the-shape": _nelbo(dims="x.shape[1] * x.shape[2] * x.shape[3]"),
    "nelbo-log2-of-e": _nelbo(result="(kl - recon) * math.log2(math.e) / dims"),
    "qs-steps-with-three-new-axes": _qs(ab="alpha_bar[t, None, None, None]"),
    "qs-four-dimensions-only": _qs(ab="alpha_bar[t].view(len(t), 1, 1, 1)"),
    "da-not-positive-for-reals": _da(on_real="(~(real_logits > 0)).float().mean()"),
    "da-fractions-by-sum-over-len": _da(on_real="(real_logits <= 0).sum() / len(real_logits)",
                                        on_fake="(fake_logits > 0).sum() / len(fake_logits)"),
})

# correct answers written otherwise than the solution: they must keep every point
ALTERNATIVES = {
    "rp-addcmul": _rp_source("return torch.addcmul(mu, (logvar / 2).exp(), eps)"),
    "rp-power-of-e": _rp_source("return mu + math.e ** (logvar / 2) * eps", "import math\n"),
    "rp-chained-methods": _rp_source("return logvar.mul(0.5).exp().mul(eps).add(mu)"),
    "nelbo-torch-distributions": _nelbo_source("""
        q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
        kl = torch.distributions.kl_divergence(q, torch.distributions.Normal(torch.zeros_like(mu), 1.0)).sum(1)
        recon = discretized_gaussian_log_likelihood(x, mean, log_scale).sum(dim=(1, 2, 3))
        return (kl - recon) / math.log(2) / x[0].numel()
    """),
    "nelbo-kingma-form": _nelbo_source("""
        kl = -0.5 * torch.sum(1 + logvar - mu**2 - torch.exp(logvar), dim=1)
        log_px = discretized_gaussian_log_likelihood(x, mean, log_scale).reshape(len(x), -1).sum(-1)
        return -(log_px - kl) / (x[0].numel() * math.log(2))
    """),
    "nelbo-own-discretised-likelihood": _nelbo_source("""
        scale = log_scale.exp()
        lower = torch.where(x < -1 + 1e-6, torch.full_like(x, -math.inf), (x - mean - 1 / 255) / scale)
        upper = torch.where(x > 1 - 1e-6, torch.full_like(x, math.inf), (x - mean + 1 / 255) / scale)
        above = lower > 0  # take the upper tails there: no cancellation
        mass = torch.where(above, torch.special.ndtr(-lower) - torch.special.ndtr(-upper),
                           torch.special.ndtr(upper) - torch.special.ndtr(lower))
        recon = mass.log().flatten(1).sum(1)
        kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(1)
        return (kl - recon) / (math.log(2) * x[0].numel())
    """),
    "qs-reshape-and-torch-sqrt": _qs_source("""
        a = alpha_bar[t].reshape(len(t), 1, 1, 1)
        return torch.sqrt(a) * x0 + torch.sqrt(1 - a) * noise
    """),
    "qs-loop-over-images": _qs_source("""
        rows = [alpha_bar[s] ** 0.5 * x0[i] + (1 - alpha_bar[s]) ** 0.5 * noise[i] for i, s in enumerate(t)]
        return torch.stack(rows)
    """),
    "qs-einsum": _qs_source("""
        ab = alpha_bar.gather(0, t)
        return torch.einsum("b,bchw->bchw", ab.sqrt(), x0) + torch.einsum("b,bchw->bchw", (1 - ab).sqrt(), noise)
    """),
    "da-numpy": _da_source("""
        real = real_logits.detach().cpu().numpy()
        fake = fake_logits.detach().cpu().numpy()
        return float((np.mean(real <= 0) + np.mean(fake > 0)) / 2)
    """, "import numpy as np\nimport torch\n"),
    "da-weighted-concatenation": _da_source("""
        logits = torch.cat([real_logits, fake_logits]).double()
        labels = torch.cat([torch.zeros(len(real_logits)), torch.ones(len(fake_logits))]).double()
        weights = torch.cat([torch.full((len(real_logits),), 1 / len(real_logits)),
                             torch.full((len(fake_logits),), 1 / len(fake_logits))]).double()
        correct = ((logits > 0).double() == labels).double()
        return (weights * correct).sum().item() / 2
    """),
    "da-sigmoid-probability": _da_source("""
        p_real, p_fake = torch.sigmoid(real_logits), torch.sigmoid(fake_logits)
        return ((p_real <= 0.5).float().mean().item() + (p_fake > 0.5).float().mean().item()) / 2
    """),
}

# answers that call ganlib's reference: they must lose every point of their exercise (DESIGN: an exercise
# answered by calling the ganlib function it asks for earns nothing)
DELEGATING = [m for m in MUTANTS if "-ganlib-" in m]
# no-ops and constants: they must lose every point of their exercise too
EARNS_NOTHING = ["rp-pass", "rp-zeros", "nelbo-pass", "nelbo-zeros", "qs-pass", "qs-zeros", "da-pass", "da-half",
                 "da-one", "da-zero"]


# ---------------------------------------------------------------------------------------------
# The tests: the harness's generic ones (tests/support/_mutation.py)
# ---------------------------------------------------------------------------------------------

HARNESS = mutation_tests(
    notebook=NOTEBOOK, grading=grading, exercises=EXERCISES, mutants=MUTANTS, equivalent=EQUIVALENT,
    alternatives=ALTERNATIVES, delegating=DELEGATING, earns_nothing=EARNS_NOTHING, min_delegating=20,
    min_mutants=15, count_equivalent=False, min_alternatives=3, min_points=5)
globals().update(HARNESS.tests)
