"""Mutation tests of notebook 08b's grading tests (tests/grading/test_08b_stylegan_biggan.py), in-process.
How a mutant is graded, and what every list below must satisfy: the harness, tests/support/_mutation.py.
"""

import pytest

from _mutation import define as _define
from _mutation import fill
from _mutation import load_grading_module, mutation_tests

NOTEBOOK = "08b_stylegan_biggan"
EXERCISES = ("adain", "modulated_conv2d", "orthogonal_regularization")
grading = load_grading_module(NOTEBOOK)
pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad=True to a scalar:UserWarning")


# ---------------------------------------------------------------------------------------------
# The mutants: {id: (exercise function, source that redefines it)}
# ---------------------------------------------------------------------------------------------


def _adain_source(body, prelude="", eps="1e-8"):
    return "adain", _define(f"def adain(x, style_scale, style_bias, eps={eps}):\n", body, prelude)


ADAIN = """
mu = {mu}
var = {var}
normalised = {normalised}
return {result}
"""
ADAIN_SOLUTION = dict(
    mu="x.mean(dim=(2, 3), keepdim=True)", var="x.var(dim=(2, 3), keepdim=True, unbiased=False)",
    normalised="(x - mu) / torch.sqrt(var + eps)",
    result="style_scale[:, :, None, None] * normalised + style_bias[:, :, None, None]",
)


def _adain(prelude="", **change):
    """The solution's adain with the parts named in ``change`` replaced."""
    return _adain_source(fill(ADAIN, ADAIN_SOLUTION, change), prelude)


def _modconv_source(body, prelude="", defaults="demodulate=True, padding=1, eps=1e-8"):
    return "modulated_conv2d", _define(f"def modulated_conv2d(x, weight, styles, {defaults}):\n", body, prelude)


MODCONV = """
B, C_in, H, W = x.shape
C_out, _, kh, kw = weight.shape
w = {modulate}
if {flag}:
    w = {demodulate}
out = F.conv2d({x_in}, {w_in}, padding={padding}, groups={groups})
return {result}
"""
MODCONV_SOLUTION = dict(
    modulate="weight.unsqueeze(0) * styles[:, None, :, None, None]", flag="demodulate",
    demodulate="w / torch.sqrt(w.square().sum(dim=(2, 3, 4), keepdim=True) + eps)",
    x_in="x.reshape(1, B * C_in, H, W)", w_in="w.reshape(B * C_out, C_in, kh, kw)", padding="padding", groups="B",
    result="out.reshape(B, C_out, out.shape[2], out.shape[3])",
)


def _modconv(prelude="", **change):
    """The solution's modulated_conv2d with the parts named in ``change`` replaced."""
    return _modconv_source(fill(MODCONV, MODCONV_SOLUTION, change), prelude)


def _ortho_source(body, prelude="", defaults="beta=1e-4, off_diagonal=True"):
    return "orthogonal_regularization", _define(f"def orthogonal_regularization(weight, {defaults}):\n", body, prelude)


ORTHO = """
W = {rows}
gram = {gram}
eye = torch.eye(gram.shape[0], dtype=W.dtype, device=W.device)
if {flag}:
    return {off}
return {full}
"""
ORTHO_SOLUTION = dict(
    rows="weight.reshape(weight.shape[0], -1)", gram="W @ W.t()", flag="off_diagonal",
    off="beta * (gram * (1 - eye)).square().sum()", full="beta * (gram - eye).square().sum()",
)


def _ortho(prelude="", **change):
    """The solution's orthogonal_regularization with the parts named in ``change`` replaced."""
    return _ortho_source(fill(ORTHO, ORTHO_SOLUTION, change), prelude)


SCALE, BIAS = "style_scale[:, :, None, None]", "style_bias[:, :, None, None]"

MUTANTS = {
    # Exercise 1: adain
    "adain-returns-none": _adain_source("return None"),
    "adain-returns-x": _adain_source("return x"),
    "adain-zeros": _adain_source("return torch.zeros_like(x)"),
    "adain-constant-bias": _adain_source(f"return {BIAS}.expand_as(x)"),
    "adain-unbiased-variance": _adain(var="x.var(dim=(2, 3), keepdim=True)"),
    "adain-unbiased-std": _adain(var="x.std(dim=(2, 3), keepdim=True) ** 2"),
    "adain-batch-statistics": _adain(mu="x.mean(dim=(0, 2, 3), keepdim=True)",
                                     var="x.var(dim=(0, 2, 3), keepdim=True, unbiased=False)"),
    "adain-layer-norm": _adain(mu="x.mean(dim=(1, 2, 3), keepdim=True)",
                               var="x.var(dim=(1, 2, 3), keepdim=True, unbiased=False)"),
    "adain-statistics-over-channels": _adain(mu="x.mean(dim=1, keepdim=True)",
                                             var="x.var(dim=1, keepdim=True, unbiased=False)"),
    "adain-statistics-over-rows-only": _adain(mu="x.mean(dim=2, keepdim=True)",
                                              var="x.var(dim=2, keepdim=True, unbiased=False)"),
    "adain-eps-outside-sqrt": _adain(normalised="(x - mu) / (torch.sqrt(var) + eps)"),
    "adain-no-eps": _adain(normalised="(x - mu) / torch.sqrt(var)"),
    "adain-eps-hard-coded": _adain(normalised="(x - mu) / torch.sqrt(var + 1e-8)"),
    "adain-divides-by-variance": _adain(normalised="(x - mu) / (var + eps)"),
    "adain-no-mean-subtraction": _adain(normalised="x / torch.sqrt(var + eps)"),
    "adain-no-normalisation": _adain(normalised="x - mu"),
    "adain-scale-bias-swapped": _adain(result=f"{BIAS} * normalised + {SCALE}"),
    "adain-bias-before-scaling": _adain(result=f"{SCALE} * (normalised + {BIAS})"),
    "adain-styles-wrong-axis": _adain(
        result="style_scale[:, None, :, None] * normalised + style_bias[:, None, :, None]"),
    "adain-styles-on-last-axis": _adain(
        result="style_scale[:, None, None, :] * normalised + style_bias[:, None, None, :]"),
    "adain-abs-scale": _adain(result=f"{SCALE}.abs() * normalised + {BIAS}"),
    "adain-scale-plus-one": _adain(result=f"(1 + {SCALE}) * normalised + {BIAS}"),
    "adain-bias-forgotten": _adain(result=f"{SCALE} * normalised"),
    "adain-statistics-detached": _adain(mu="x.mean(dim=(2, 3), keepdim=True).detach()",
                                        var="x.var(dim=(2, 3), keepdim=True, unbiased=False).detach()"),
    "adain-output-detached": _adain(result=f"({SCALE} * normalised + {BIAS}).detach()"),
    "adain-in-place": _adain(normalised="x.sub_(mu).div_(torch.sqrt(var + eps))"),
    "adain-float32": _adain(result=f"({SCALE} * normalised + {BIAS}).float()"),
    "adain-ganlib-from-import": _adain_source("return _adain(x, style_scale, style_bias, eps)",
                                              "from ganlib.models.stylegan import adain as _adain\n"),
    "adain-ganlib-module-chain": _adain_source("return ganlib.models.stylegan.adain(x, style_scale, style_bias, eps)",
                                               "import ganlib.models.stylegan\n"),
    "adain-ganlib-import-inside": _adain_source("""
        from ganlib.models.stylegan import adain as reference
        return reference(x, style_scale, style_bias, eps=eps)
    """),
    "adain-ganlib-swallowed": _adain_source(f"""
        try:
            return stylegan.adain(x, style_scale, style_bias, eps)
        except Exception:
            mu, var = x.mean(dim=(2, 3), keepdim=True), x.var(dim=(2, 3), keepdim=True, unbiased=False)
            return {SCALE} * (x - mu) / torch.sqrt(var + eps) + {BIAS}
    """, "from ganlib.models import stylegan\n"),
    # Exercise 2: modulated_conv2d
    "modconv-returns-none": _modconv_source("return None"),
    "modconv-returns-x": _modconv_source("return x"),
    "modconv-zeros": _modconv_source("return torch.zeros(x.shape[0], weight.shape[0], x.shape[2], x.shape[3])"),
    "modconv-plain-conv": _modconv_source("return F.conv2d(x, weight, padding=padding)"),
    "modconv-styles-on-output-channels": _modconv(modulate="weight.unsqueeze(0) * styles[:, :, None, None, None]"),
    "modconv-styles-squared": _modconv(modulate="weight.unsqueeze(0) * styles[:, None, :, None, None] ** 2"),
    "modconv-abs-styles": _modconv(modulate="weight.unsqueeze(0) * styles.abs()[:, None, :, None, None]"),
    "modconv-weight-transposed": _modconv(
        modulate="weight.transpose(0, 1).unsqueeze(0) * styles[:, None, :, None, None]"),
    "modconv-demod-over-output-channels": _modconv(
        demodulate="w / torch.sqrt(w.square().sum(dim=(1, 3, 4), keepdim=True) + eps)"),
    "modconv-demod-over-kernel-only": _modconv(
        demodulate="w / torch.sqrt(w.square().sum(dim=(3, 4), keepdim=True) + eps)"),
    "modconv-demod-over-input-channels-only": _modconv(
        demodulate="w / torch.sqrt(w.square().sum(dim=2, keepdim=True) + eps)"),
    "modconv-demod-over-everything": _modconv(
        demodulate="w / torch.sqrt(w.square().sum(dim=(1, 2, 3, 4), keepdim=True) + eps)"),
    "modconv-demod-over-the-batch": _modconv(
        demodulate="w / torch.sqrt(w.square().sum(dim=(0, 2, 3, 4), keepdim=True) + eps)"),
    "modconv-demod-without-sqrt": _modconv(demodulate="w / (w.square().sum(dim=(2, 3, 4), keepdim=True) + eps)"),
    "modconv-demod-by-l1-norm": _modconv(demodulate="w / (w.abs().sum(dim=(2, 3, 4), keepdim=True) + eps)"),
    "modconv-demod-unmodulated-weight": _modconv(
        demodulate="w / torch.sqrt(weight.square().sum(dim=(1, 2, 3), keepdim=True).unsqueeze(0) + eps)"),
    "modconv-eps-outside-sqrt": _modconv(
        demodulate="w / (torch.sqrt(w.square().sum(dim=(2, 3, 4), keepdim=True)) + eps)"),
    "modconv-no-eps": _modconv(demodulate="w / torch.sqrt(w.square().sum(dim=(2, 3, 4), keepdim=True))"),
    "modconv-demod-detached": _modconv(
        demodulate="w / torch.sqrt(w.square().sum(dim=(2, 3, 4), keepdim=True) + eps).detach()"),
    "modconv-always-demodulates": _modconv(flag="True"),
    "modconv-never-demodulates": _modconv(flag="False"),
    "modconv-demodulate-inverted": _modconv(flag="not demodulate"),
    "modconv-ignores-padding": _modconv(padding="1"),
    "modconv-same-padding": _modconv(padding="kh // 2"),
    "modconv-no-groups": _modconv(groups="1"),
    "modconv-weights-interleaved": _modconv(w_in="w.transpose(0, 1).reshape(B * C_out, C_in, kh, kw)"),
    "modconv-inputs-interleaved": _modconv(x_in="x.transpose(0, 1).reshape(1, B * C_in, H, W)"),
    "modconv-output-interleaved": _modconv(result="out.reshape(C_out, B, out.shape[2], out.shape[3]).transpose(0, 1)"),
    "modconv-kernel-flipped": _modconv(w_in="w.flip(-1, -2).reshape(B * C_out, C_in, kh, kw)"),
    "modconv-weight-detached": _modconv(modulate="weight.detach().unsqueeze(0) * styles[:, None, :, None, None]"),
    "modconv-styles-detached": _modconv(modulate="weight.unsqueeze(0) * styles.detach()[:, None, :, None, None]"),
    "modconv-float32": _modconv(result="out.reshape(B, C_out, out.shape[2], out.shape[3]).float()"),
    "modconv-instance-norm-instead": _modconv_source("""
        out = F.conv2d(x * styles[:, :, None, None], weight, padding=padding)
        if demodulate:  # AdaIN's normalisation of the activations, not Eq. 3
            mu, var = out.mean(dim=(2, 3), keepdim=True), out.var(dim=(2, 3), keepdim=True, unbiased=False)
            out = (out - mu) / torch.sqrt(var + eps)
        return out
    """),
    "modconv-unfused-demod-without-styles": _modconv_source("""
        out = F.conv2d(x * styles[:, :, None, None], weight, padding=padding)
        if demodulate:
            out = out * torch.rsqrt(weight.square().sum(dim=(1, 2, 3)) + eps)[None, :, None, None]
        return out
    """),
    "modconv-unfused-in-place": _modconv_source("""
        x *= styles[:, :, None, None]
        out = F.conv2d(x, weight, padding=padding)
        if demodulate:
            out = out * torch.rsqrt(styles.square() @ weight.square().sum(dim=(2, 3)).t() + eps)[:, :, None, None]
        return out
    """),
    "modconv-ganlib-from-import": _modconv_source("return _mc(x, weight, styles, demodulate, padding, eps)",
                                                  "from ganlib.models.stylegan import modulated_conv2d as _mc\n"),
    "modconv-ganlib-unfused": _modconv_source(
        "return stylegan.modulated_conv2d(x, weight, styles, demodulate=demodulate, padding=padding, eps=eps, "
        "fused=False)", "from ganlib.models import stylegan\n"),
    "modconv-ganlib-module-chain": _modconv_source(
        "return ganlib.models.stylegan.modulated_conv2d(x, weight, styles, demodulate, padding, eps)",
        "import ganlib.models.stylegan\n"),
    "modconv-ganlib-import-inside": _modconv_source("""
        from ganlib.models.stylegan import modulated_conv2d as reference
        return reference(x, weight, styles, demodulate=demodulate, padding=padding, eps=eps)
    """),
    "modconv-ganlib-swallowed": _modconv_source("""
        try:
            return stylegan.modulated_conv2d(x, weight, styles, demodulate, padding, eps, fused=False)
        except Exception:
            return torch.cat([F.conv2d(x[b:b + 1], _w(weight * styles[b][None, :, None, None]), padding=padding)
                              for b in range(len(x))])
    """, """
        from ganlib.models import stylegan
        _w = lambda w: w / torch.sqrt(w.square().sum(dim=(1, 2, 3), keepdim=True) + 1e-8)
    """),
    "modconv-ganlib-adain-instead": _modconv_source("""
        out = F.conv2d(x * styles[:, :, None, None], weight, padding=padding)
        ones = torch.ones(out.shape[:2], dtype=out.dtype)
        return stylegan.adain(out, ones, 0 * ones, eps) if demodulate else out
    """, "from ganlib.models import stylegan\n"),
    # Exercise 3: orthogonal_regularization
    "ortho-returns-none": _ortho_source("return None"),
    "ortho-zero": _ortho_source("return torch.zeros((), dtype=weight.dtype)"),
    "ortho-constant": _ortho_source("return torch.tensor(1.0, requires_grad=True)"),
    "ortho-columns": _ortho(gram="W.t() @ W"),
    "ortho-missing-beta": _ortho(off="(gram * (1 - eye)).square().sum()", full="(gram - eye).square().sum()"),
    "ortho-beta-squared": _ortho(off="beta ** 2 * (gram * (1 - eye)).square().sum()",
                                 full="beta ** 2 * (gram - eye).square().sum()"),
    "ortho-half-beta": _ortho(off="beta / 2 * (gram * (1 - eye)).square().sum()",
                              full="beta / 2 * (gram - eye).square().sum()"),
    "ortho-norm-not-squared": _ortho(off="beta * torch.linalg.matrix_norm(gram * (1 - eye))",
                                     full="beta * torch.linalg.matrix_norm(gram - eye)"),
    "ortho-square-of-the-sum": _ortho(off="beta * (gram * (1 - eye)).sum() ** 2",
                                      full="beta * (gram - eye).sum() ** 2"),
    "ortho-flag-inverted": _ortho(flag="not off_diagonal"),
    "ortho-always-off-diagonal": _ortho(flag="True"),
    "ortho-always-full": _ortho(flag="False"),
    "ortho-diagonal-kept": _ortho(off="beta * gram.square().sum()"),
    "ortho-off-diagonal-minus-identity": _ortho(off="beta * (gram * (1 - eye) - eye).square().sum()"),
    "ortho-full-subtracts-ones": _ortho(full="beta * (gram - 1).square().sum()"),
    "ortho-full-expanded-with-1-for-n": _ortho(full="beta * (gram.square().sum() - 2 * gram.trace() + 1)"),
    "ortho-off-diagonal-diagonal-not-squared": _ortho(off="beta * (gram.square().sum() - gram.diagonal().sum())"),
    "ortho-mean": _ortho(off="beta * (gram * (1 - eye)).square().mean()", full="beta * (gram - eye).square().mean()"),
    "ortho-abs": _ortho(off="beta * (gram * (1 - eye)).abs().sum()", full="beta * (gram - eye).abs().sum()"),
    "ortho-wrong-flatten": _ortho(rows="weight.reshape(-1, weight.shape[0])"),
    "ortho-first-kernel-position": _ortho(rows="weight[:, :, 0, 0] if weight.ndim == 4 else weight"),
    "ortho-kernel-summed": _ortho(rows="weight.sum(dim=(2, 3)) if weight.ndim == 4 else weight"),
    "ortho-cosine-similarities": _ortho(
        rows="torch.nn.functional.normalize(weight.reshape(weight.shape[0], -1), dim=1)"),
    "ortho-detached": _ortho(off="beta * (gram * (1 - eye)).square().sum().detach()",
                             full="beta * (gram - eye).square().sum().detach()"),
    "ortho-python-float": _ortho(off="beta * (gram * (1 - eye)).square().sum().item()",
                                 full="beta * (gram - eye).square().sum().item()"),
    "ortho-float32": _ortho(off="beta * (gram * (1 - eye)).square().sum().float()",
                            full="beta * (gram - eye).square().sum().float()"),
    "ortho-default-beta-1e-3": _ortho_source(ORTHO.format(**ORTHO_SOLUTION), defaults="beta=1e-3, off_diagonal=True"),
    "ortho-default-full-form": _ortho_source(ORTHO.format(**ORTHO_SOLUTION), defaults="beta=1e-4, off_diagonal=False"),
    "ortho-ganlib-from-import": _ortho_source("return _ortho(weight, beta, off_diagonal=off_diagonal)",
                                              "from ganlib.losses import orthogonal_regularization as _ortho\n"),
    "ortho-ganlib-module-chain": _ortho_source(
        "return ganlib.losses.orthogonal_regularization(weight, beta, off_diagonal=off_diagonal)", "import ganlib\n"),
    "ortho-ganlib-of-a-module": _ortho_source("""
        holder = torch.nn.Module()
        holder.weight = weight
        return losses.orthogonal_regularization_of(holder, beta, off_diagonal)
    """, "from ganlib import losses\n"),
    "ortho-ganlib-import-inside": _ortho_source("""
        from ganlib.losses import orthogonal_regularization as reference
        return reference(weight, beta=beta, off_diagonal=off_diagonal)
    """),
    "ortho-ganlib-swallowed": _ortho_source("""
        try:
            return losses.orthogonal_regularization(weight, beta, off_diagonal=off_diagonal)
        except Exception:
            W = weight.reshape(weight.shape[0], -1)
            gram, eye = W @ W.t(), torch.eye(W.shape[0], dtype=W.dtype)
            return beta * ((gram * (1 - eye)) if off_diagonal else (gram - eye)).square().sum()
    """, "from ganlib import losses\n"),
}

# mutants that look wrong but compute what the solution computes: skipped in the score, and checked to
# keep every point (so the claim stays true)
EQUIVALENT = {
    "adain-variance-as-mean-of-squares": "E[x^2] - E[x]^2 is the biased variance; in float64 the rounding stays "
                                         "far below the tests' tolerances",
    "adain-unbiased-variance-rescaled": "the unbiased variance times (n - 1) / n is the biased one",
    "modconv-styles-on-the-activations": "a convolution is linear in each input channel, so convolving s_i x_i "
                                         "with w equals convolving x_i with s_i w; the demodulation is still "
                                         "computed from w' = s_i w",
    "ortho-identity-subtracted-then-masked": "(G - I) * (1 - I) = G * (1 - I), since I * (1 - I) = 0",
    "ortho-squared-before-masking": "the mask holds 0s and 1s, so masking the squares squares the masked entries",
}
MUTANTS.update({
    "adain-variance-as-mean-of-squares": _adain(var="(x * x).mean(dim=(2, 3), keepdim=True) - mu ** 2"),
    "adain-unbiased-variance-rescaled": _adain(
        var="x.var(dim=(2, 3), keepdim=True) * (x.shape[2] * x.shape[3] - 1) / (x.shape[2] * x.shape[3])"),
    "modconv-styles-on-the-activations": _modconv(
        modulate="weight.unsqueeze(0).expand(B, -1, -1, -1, -1)",
        demodulate="w / torch.sqrt((w * styles[:, None, :, None, None]).square().sum(dim=(2, 3, 4), keepdim=True) "
                   "+ eps)",
        x_in="(x * styles[:, :, None, None]).reshape(1, B * C_in, H, W)"),
    "ortho-identity-subtracted-then-masked": _ortho(off="beta * ((gram - eye) * (1 - eye)).square().sum()"),
    "ortho-squared-before-masking": _ortho(off="beta * (gram.square() * (1 - eye)).sum()"),
})

# correct answers written otherwise than the solution: they must keep every point
ALTERNATIVES = {
    "adain-var-mean": _adain_source(f"""
        var, mu = torch.var_mean(x, dim=(2, 3), keepdim=True, correction=0)
        return {SCALE} * (x - mu) * torch.rsqrt(var + eps) + {BIAS}
    """),
    "adain-instance-norm": _adain_source(f"return {SCALE} * F.instance_norm(x, eps=eps) + {BIAS}",
                                         "import torch.nn.functional as F\n"),
    "adain-flattened-pixels": _adain_source("""
        flat = x.flatten(2)  # (B, C, H * W)
        centred = flat - flat.mean(dim=-1, keepdim=True)
        std = torch.sqrt(centred.pow(2).mean(dim=-1, keepdim=True) + eps)
        return (style_scale.unsqueeze(-1) * centred / std + style_bias.unsqueeze(-1)).view_as(x)
    """),
    "adain-biased-std": _adain(var="x.std(dim=(2, 3), keepdim=True, unbiased=False) ** 2"),
    "modconv-unfused": _modconv_source("""
        out = F.conv2d(x * styles[:, :, None, None], weight, padding=padding)  # modulate the activations
        if demodulate:
            dcoefs = torch.rsqrt(styles.square() @ weight.square().sum(dim=(2, 3)).t() + eps)  # (B, C_out)
            out = out * dcoefs[:, :, None, None]
        return out
    """),
    "modconv-loop": _modconv_source("""
        outs = []
        for b in range(x.shape[0]):
            w = weight * styles[b].view(1, -1, 1, 1)
            if demodulate:
                w = w * (w.pow(2).sum(dim=[1, 2, 3], keepdim=True) + eps).rsqrt()
            outs.append(F.conv2d(x[b].unsqueeze(0), w, padding=padding))
        return torch.cat(outs, dim=0)
    """),
    "modconv-einsum-and-explicit-padding": _modconv_source("""
        B, C_in, H, W = x.shape
        w = torch.einsum("oikl,bi->boikl", weight, styles)
        if demodulate:
            w = w / torch.linalg.vector_norm(w, dim=(2, 3, 4), keepdim=True).square().add(eps).sqrt()
        x = F.pad(x, [padding] * 4).view(1, B * C_in, H + 2 * padding, W + 2 * padding)
        out = F.conv2d(x, w.flatten(0, 1), groups=B)
        return out.view(B, -1, *out.shape[-2:])
    """),
    "ortho-einsum": _ortho(gram='torch.einsum("ij,kj->ik", W, W)'),
    "ortho-matrix-norm": _ortho(off="beta * torch.linalg.matrix_norm(gram * (1 - eye)) ** 2",
                                full="beta * torch.linalg.matrix_norm(gram - eye) ** 2"),
    "ortho-masked-fill": _ortho_source("""
        W = weight.flatten(1)
        gram = W @ W.T
        diagonal = torch.eye(len(gram), dtype=torch.bool)
        if off_diagonal:
            return beta * gram.masked_fill(diagonal, 0).pow(2).sum()
        return beta * (gram - diagonal.to(gram.dtype)).pow(2).sum()
    """),
    "ortho-expanded": _ortho(off="beta * (gram.square().sum() - gram.diagonal().square().sum())",
                             full="beta * (gram.square().sum() - 2 * gram.trace() + len(gram))"),
}

# answers that call ganlib's reference: they must lose every point of their exercise (DESIGN: an exercise
# answered by calling the ganlib function it asks for earns nothing); modconv-ganlib-adain-instead is not among
# them: it calls ganlib's adain (exercise 1's reference) only to demodulate, so its demodulate=False cases compute
# the right thing and keep their points, while every demodulated case is lost
DELEGATING = [m for m in MUTANTS if "-ganlib-" in m and m != "modconv-ganlib-adain-instead"]


# ---------------------------------------------------------------------------------------------
# The tests: the harness's generic ones (tests/support/_mutation.py), then this notebook's own
# ---------------------------------------------------------------------------------------------

HARNESS = mutation_tests(
    notebook=NOTEBOOK, grading=grading, exercises=EXERCISES, mutants=MUTANTS, equivalent=EQUIVALENT,
    alternatives=ALTERNATIVES, delegating=DELEGATING, min_delegating=12,
    min_mutants=20, count_equivalent=False, min_alternatives=3, min_points=8)
globals().update(HARNESS.tests)
