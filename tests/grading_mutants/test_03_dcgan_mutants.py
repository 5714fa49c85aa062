"""Mutation tests of notebook 03's grading tests (tests/grading/test_03_dcgan.py), in-process.
How a mutant is graded, and what every list below must satisfy: the harness, tests/support/_mutation.py.

Its no-ops and constants are listed in ``NOTHING``. Its own check: lerp given for slerp keeps the points of the lerp
mode, and only those (``LERP_MODE_TESTS``).
"""

import pytest

from _mutation import define as _define
from _mutation import fill
from _mutation import load_grading_module, mutation_tests

NOTEBOOK = "03_dcgan"
EXERCISES = ("conv_output_size", "conv_transpose_output_size", "init_dcgan_", "interpolate_latents",
             "attribute_vector")
grading = load_grading_module(NOTEBOOK)
pytestmark = pytest.mark.filterwarnings("ignore:To copy construct from a tensor:UserWarning")  # conv-tensor's chain


# ---------------------------------------------------------------------------------------------
# The mutants: {id: (exercise function, source that redefines it)}
# ---------------------------------------------------------------------------------------------


def _conv(body, prelude="", defaults="stride=1, padding=0"):
    return "conv_output_size", _define(f"def conv_output_size(size, kernel, {defaults}):\n", body, prelude)


def _tconv(body, prelude="", defaults="stride=1, padding=0, output_padding=0"):
    return "conv_transpose_output_size", _define(
        f"def conv_transpose_output_size(size, kernel, {defaults}):\n", body, prelude)


def _init_source(body, prelude=""):
    return "init_dcgan_", _define("def init_dcgan_(module):\n", body, prelude)


INIT = """
with torch.no_grad():
    for m in {modules}:
        if isinstance(m, {convs}):
            {conv_weight}
            if m.bias is not None:
                {conv_bias}
        elif isinstance(m, {bns}):
            {bn_weight}
            {bn_bias}
"""
INIT_SOLUTION = dict(
    modules="module.modules()", convs="(nn.Conv2d, nn.ConvTranspose2d)", bns="nn.BatchNorm2d",
    conv_weight="nn.init.normal_(m.weight, mean=0.0, std=0.02)", conv_bias="nn.init.zeros_(m.bias)",
    bn_weight="nn.init.normal_(m.weight, mean=1.0, std=0.02)", bn_bias="nn.init.zeros_(m.bias)",
)


def _init(prelude="import torch\nfrom torch import nn\n", **change):
    """The solution's init_dcgan_ with the parts named in ``change`` replaced."""
    return _init_source(fill(INIT, INIT_SOLUTION, change), prelude)


def _interp_source(body, prelude="", default='"slerp"'):
    return "interpolate_latents", _define(f"def interpolate_latents(z0, z1, n, mode={default}):\n", body, prelude)


INTERP = """
t = {t}
if mode not in ("lerp", "slerp"):
    raise ValueError(mode)
z0, z1 = z0[None], z1[None]
lerp = {lerp}
if mode == "lerp":
    return lerp
cos = {cos}
if {degenerate}:
    return {fallback}
omega = torch.acos(cos)
return {slerp}
"""
INTERP_SOLUTION = dict(
    t="torch.linspace(0, 1, n, dtype=z0.dtype, device=z0.device)[:, None]", lerp="(1 - t) * z0 + t * z1",
    cos="(z0 * z1).sum() / (z0.norm() * z1.norm())", degenerate="cos.abs() > 1 - 1e-6", fallback="lerp",
    slerp="(torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)",
)


def _interp(prelude="import torch\n", default='"slerp"', **change):
    """The solution's interpolate_latents with the parts named in ``change`` replaced."""
    return _interp_source(fill(INTERP, INTERP_SOLUTION, change), prelude, default)


ATTRIBUTE = """
m = {m}
order = {order}
return {result}
"""
ATTRIBUTE_SOLUTION = dict(m="max(1, int(fraction * len(scores)))", order="torch.argsort(scores)",
                          result="z[order[-m:]].mean(dim=0) - z[order[:m]].mean(dim=0)")


def _attr_source(body, prelude="import torch\n", default="0.1"):
    return "attribute_vector", _define(f"def attribute_vector(z, scores, fraction={default}):\n", body, prelude)


def _attr(prelude="import torch\n", default="0.1", **change):
    """The solution's attribute_vector with the parts named in ``change`` replaced."""
    return _attr_source(fill(ATTRIBUTE, ATTRIBUTE_SOLUTION, change), prelude, default)


MUTANTS = {
    # Exercise 1: conv_output_size
    "conv-returns-none": _conv("return None"),
    "conv-returns-the-input-size": _conv("return size"),
    "conv-constant": _conv("return 16"),
    "conv-no-plus-one": _conv("return (size + 2 * padding - kernel) // stride"),
    "conv-true-division": _conv("return (size + 2 * padding - kernel) / stride + 1"),
    "conv-int-of-true-division": _conv("return int((size + 2 * padding - kernel) / stride + 1)"),
    "conv-ceil": _conv("return math.ceil((size + 2 * padding - kernel) / stride) + 1", "import math\n"),
    "conv-round": _conv("return round((size + 2 * padding - kernel) / stride) + 1"),
    "conv-padding-once": _conv("return (size + padding - kernel) // stride + 1"),
    "conv-stride-ignored": _conv("return size + 2 * padding - kernel + 1"),
    "conv-plus-one-inside": _conv("return (size + 2 * padding - kernel + 1) // stride"),
    "conv-kernel-plus-one": _conv("return (size + 2 * padding - kernel - 1) // stride + 1"),
    "conv-transpose-formula": _conv("return (size - 1) * stride - 2 * padding + kernel"),
    "conv-numpy-int": _conv("return np.int64((size + 2 * padding - kernel) // stride + 1)", "import numpy as np\n"),
    "conv-tensor": _conv("return torch.tensor((size + 2 * padding - kernel) // stride + 1)", "import torch\n"),
    "conv-default-stride-2": _conv("return (size + 2 * padding - kernel) // stride + 1",
                                   defaults="stride=2, padding=0"),
    "conv-default-padding-1": _conv("return (size + 2 * padding - kernel) // stride + 1",
                                    defaults="stride=1, padding=1"),
    # Exercise 2: conv_transpose_output_size
    "tconv-returns-none": _tconv("return None"),
    "tconv-returns-the-input-size": _tconv("return size"),
    "tconv-constant": _tconv("return 32"),
    "tconv-doubles": _tconv("return size * stride"),
    "tconv-no-minus-one": _tconv("return size * stride - 2 * padding + kernel + output_padding"),
    "tconv-no-output-padding": _tconv("return (size - 1) * stride - 2 * padding + kernel"),
    "tconv-output-padding-twice": _tconv("return (size - 1) * stride - 2 * padding + kernel + 2 * output_padding"),
    "tconv-padding-once": _tconv("return (size - 1) * stride - padding + kernel + output_padding"),
    "tconv-padding-added": _tconv("return (size - 1) * stride + 2 * padding + kernel + output_padding"),
    "tconv-kernel-minus-one": _tconv("return (size - 1) * stride - 2 * padding + kernel - 1 + output_padding"),
    "tconv-conv-formula": _tconv("return (size + 2 * padding - kernel) // stride + 1 + output_padding"),
    "tconv-float": _tconv("return float((size - 1) * stride - 2 * padding + kernel + output_padding)"),
    "tconv-default-stride-2": _tconv("return (size - 1) * stride - 2 * padding + kernel + output_padding",
                                     defaults="stride=2, padding=0, output_padding=0"),
    "tconv-default-output-padding-1": _tconv("return (size - 1) * stride - 2 * padding + kernel + output_padding",
                                             defaults="stride=1, padding=0, output_padding=1"),
    # Exercise 3: init_dcgan_
    "init-no-op": _init_source("pass"),
    "init-returns-the-module": _init_source("""
        with torch.no_grad():
            for m in module.modules():
                if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                    nn.init.normal_(m.weight, mean=0.0, std=0.02)
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.normal_(m.weight, mean=1.0, std=0.02)
                    nn.init.zeros_(m.bias)
        return module
    """, "import torch\nfrom torch import nn\n"),
    "init-constant-weights": _init(conv_weight="nn.init.constant_(m.weight, 0.02)"),
    "init-zero-weights": _init(conv_weight="nn.init.zeros_(m.weight)"),
    "init-std-0.2": _init(conv_weight="nn.init.normal_(m.weight, mean=0.0, std=0.2)"),
    "init-variance-0.02": _init(conv_weight="nn.init.normal_(m.weight, mean=0.0, std=0.02 ** 0.5)"),
    "init-std-0.02-squared": _init(conv_weight="nn.init.normal_(m.weight, mean=0.0, std=0.02 ** 2)"),
    "init-mean-0.02": _init(conv_weight="nn.init.normal_(m.weight, mean=0.02, std=0.02)"),
    "init-uniform-same-std": _init(conv_weight="nn.init.uniform_(m.weight, -0.02 * 3 ** 0.5, 0.02 * 3 ** 0.5)"),
    "init-uniform-0.02": _init(conv_weight="nn.init.uniform_(m.weight, -0.02, 0.02)"),
    "init-truncated-at-2-std": _init(conv_weight="nn.init.trunc_normal_(m.weight, std=0.02, a=-0.04, b=0.04)"),
    "init-kaiming": _init(conv_weight="nn.init.kaiming_normal_(m.weight)"),
    "init-xavier": _init(conv_weight="nn.init.xavier_normal_(m.weight)"),
    "init-conv2d-only": _init(convs="nn.Conv2d"),
    "init-transposed-only": _init(convs="nn.ConvTranspose2d"),
    "init-conv-bias-kept": _init(conv_bias="pass"),
    "init-conv-bias-normal": _init(conv_bias="nn.init.normal_(m.bias, 0.0, 0.02)"),
    "init-bn-skipped": _init(bns="type(None)"),
    "init-bn-weight-N(0,0.02)": _init(bn_weight="nn.init.normal_(m.weight, mean=0.0, std=0.02)"),
    "init-bn-weight-ones": _init(bn_weight="nn.init.ones_(m.weight)"),
    "init-bn-weight-std-1": _init(bn_weight="nn.init.normal_(m.weight, mean=1.0, std=1.0)"),
    "init-bn-bias-kept-at-one": _init(bn_bias="nn.init.ones_(m.bias)"),
    "init-bn-bias-normal": _init(bn_bias="nn.init.normal_(m.bias, 0.0, 0.02)"),
    "init-batchnorm1d": _init(bns="nn.BatchNorm1d"),
    "init-children-only": _init(modules="module.children()"),
    "init-skips-the-module-itself": _init(modules="list(module.modules())[1:]"),
    "init-linear-too": _init(convs="(nn.Conv2d, nn.ConvTranspose2d, nn.Linear)"),
    "init-everything-else-reset": _init_source("""
        with torch.no_grad():
            for m in module.modules():
                if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                    nn.init.normal_(m.weight, mean=0.0, std=0.02)
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.normal_(m.weight, mean=1.0, std=0.02)
                    nn.init.zeros_(m.bias)
                elif hasattr(m, "reset_parameters"):
                    m.reset_parameters()
    """, "import torch\nfrom torch import nn\n"),
    "init-replaces-the-parameters": _init(
        conv_weight="m.weight = nn.Parameter(torch.randn_like(m.weight) * 0.02)",
        bn_weight="m.weight = nn.Parameter(1 + torch.randn_like(m.weight) * 0.02)"),
    "init-frozen-weights": _init(conv_weight="nn.init.normal_(m.weight, mean=0.0, std=0.02); "
                                             "m.weight.requires_grad_(False)"),
    "init-by-class-name": _init_source("""
        with torch.no_grad():
            for m in module.modules():
                name = type(m).__name__
                if name.find("Conv") != -1:
                    nn.init.normal_(m.weight, 0.0, 0.02)
                elif name.find("BatchNorm") != -1:
                    nn.init.normal_(m.weight, 1.0, 0.02)
                    nn.init.zeros_(m.bias)
    """, "import torch\nfrom torch import nn\n"),
    "init-ganlib-from-import": _init_source("_init(module)",
                                            "from ganlib.models.dcgan import init_dcgan_weights_ as _init\n"),
    "init-ganlib-module-chain": _init_source("ganlib.models.dcgan.init_dcgan_weights_(module)",
                                             "import ganlib.models.dcgan\n"),
    "init-ganlib-from-package": _init_source("dcgan.init_dcgan_weights_(module)", "from ganlib.models import dcgan\n"),
    "init-ganlib-alias": _init_source("_ref(module)",
                                      "import ganlib.models.dcgan as D\n_ref = D.init_dcgan_weights_\n"),
    "init-ganlib-import-inside": _init_source("""
        from ganlib.models.dcgan import init_dcgan_weights_
        init_dcgan_weights_(module)
    """),
    "init-ganlib-conditional-init": _init_source("""
        linear = [m for m in module.modules() if isinstance(m, torch.nn.Linear)]
        saved = [[p.detach().clone() for p in m.parameters()] for m in linear]
        init_conditional_weights_(module)
        with torch.no_grad():
            for m, values in zip(linear, saved):
                for p, v in zip(m.parameters(), values):
                    p.copy_(v)
    """, "import torch\nfrom ganlib.models.conditional import init_conditional_weights_\n"),
    "init-ganlib-swallowed": _init_source("""
        try:
            dcgan.init_dcgan_weights_(module)
        except Exception:
            with torch.no_grad():
                for m in module.modules():
                    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                        nn.init.normal_(m.weight, mean=0.0, std=0.02)
                        if m.bias is not None:
                            nn.init.zeros_(m.bias)
                    elif isinstance(m, nn.BatchNorm2d):
                        nn.init.normal_(m.weight, mean=1.0, std=0.02)
                        nn.init.zeros_(m.bias)
    """, "import torch\nfrom torch import nn\nfrom ganlib.models import dcgan\n"),
    "init-reference-in-an-untaken-branch": _init(
        prelude="import torch\nfrom torch import nn\nfrom ganlib.models.dcgan import init_dcgan_weights_\n",
        modules="(module.modules() if isinstance(module, nn.Module) else init_dcgan_weights_(module))"),
    # Exercise 4: interpolate_latents
    "interp-returns-none": _interp_source("return None"),
    "interp-constant": _interp_source("return torch.zeros(n, z0.shape[0], dtype=z0.dtype)", "import torch\n"),
    "interp-endpoints-repeated": _interp_source("return torch.stack([z0] * (n - 1) + [z1])", "import torch\n"),
    "interp-lerp-everywhere": _interp(degenerate="True"),
    "interp-slerp-everywhere": _interp_source("""
        t = torch.linspace(0, 1, n, dtype=z0.dtype)[:, None]
        z0, z1 = z0[None], z1[None]
        cos = (z0 * z1).sum() / (z0.norm() * z1.norm())
        if cos.abs() > 1 - 1e-6:
            return (1 - t) * z0 + t * z1
        omega = torch.acos(cos)
        return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)
    """, "import torch\n"),
    "interp-default-lerp": _interp(default='"lerp"'),
    "interp-no-fallback": _interp(degenerate="False"),
    "interp-fallback-for-parallel-only": _interp(degenerate="cos > 1 - 1e-6"),
    "interp-fallback-on-sin": _interp(degenerate="torch.sin(torch.acos(cos.clamp(-1, 1))) < 1e-6"),
    "interp-fallback-returns-z0": _interp(fallback="z0.expand(n, -1)"),
    "interp-cos-clamped-no-fallback": _interp(
        degenerate="False", cos="((z0 * z1).sum() / (z0.norm() * z1.norm())).clamp(-1 + 1e-7, 1 - 1e-7)"),
    "interp-unnormalised-cos": _interp(cos="(z0 * z1).sum()"),
    "interp-cos-over-squared-norm": _interp(cos="(z0 * z1).sum() / (z0.norm() ** 2)"),
    "interp-unit-sphere-output": _interp(slerp="(torch.sin((1 - t) * omega) * z0 / z0.norm() + torch.sin(t * omega) "
                                               "* z1 / z1.norm()) / torch.sin(omega)"),
    "interp-norms-averaged": _interp(slerp="(torch.sin((1 - t) * omega) * z0 / z0.norm() + torch.sin(t * omega) "
                                           "* z1 / z1.norm()) / torch.sin(omega) * (z0.norm() + z1.norm()) / 2"),
    "interp-swapped-coefficients": _interp(slerp="(torch.sin(t * omega) * z0 + torch.sin((1 - t) * omega) * z1) "
                                                 "/ torch.sin(omega)"),
    "interp-reversed": _interp(t="torch.linspace(1, 0, n, dtype=z0.dtype, device=z0.device)[:, None]"),
    "interp-no-division-by-sin": _interp(slerp="torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1"),
    "interp-cos-weights": _interp(slerp="torch.cos(t * omega) * z0 + torch.sin(t * omega) * z1"),
    "interp-t-excludes-the-end": _interp(t="(torch.arange(n, dtype=z0.dtype) / n)[:, None]"),
    "interp-t-interior": _interp(t="torch.linspace(0, 1, n + 2, dtype=z0.dtype)[1:-1, None]"),
    "interp-float32-t": _interp(t="torch.linspace(0, 1, n)[:, None]"),
    "interp-normalised-then-lerp": _interp(slerp="(lerp / lerp.norm(dim=1, keepdim=True)) * ((1 - t) * z0.norm() "
                                                 "+ t * z1.norm())"),
    "interp-half-angle": _interp(slerp="(torch.sin((1 - t) * omega / 2) * z0 + torch.sin(t * omega / 2) * z1) "
                                       "/ torch.sin(omega / 2)"),
    "interp-ganlib-slerp": _interp(prelude="import torch\nfrom ganlib.metrics import slerp as _slerp\n",
                                   slerp="_slerp(z0.expand(n, -1), z1.expand(n, -1), t[:, 0])"),
    "interp-ganlib-module-chain": _interp(prelude="import torch\nimport ganlib.metrics\n",
                                          slerp="ganlib.metrics.slerp(z0.expand(n, -1), z1.expand(n, -1), t[:, 0])"),
    "interp-ganlib-from-package": _interp(prelude="import torch\nfrom ganlib import metrics\n",
                                          slerp="metrics.slerp(z0.expand(n, -1), z1.expand(n, -1), t[:, 0])"),
    "interp-ganlib-import-inside": _interp_source("""
        from ganlib.metrics import slerp
        t = torch.linspace(0, 1, n, dtype=z0.dtype)
        if mode == "lerp":
            return (1 - t[:, None]) * z0 + t[:, None] * z1
        cos = (z0 @ z1) / (z0.norm() * z1.norm())
        if cos.abs() > 1 - 1e-6:
            return (1 - t[:, None]) * z0 + t[:, None] * z1
        return slerp(z0.expand(n, -1), z1.expand(n, -1), t)
    """, "import torch\n"),
    # Exercise 5: attribute_vector
    "attr-returns-none": _attr_source("return None"),
    "attr-zero": _attr_source("return torch.zeros(z.shape[1], dtype=z.dtype)"),
    "attr-mean-z": _attr_source("return z.mean(dim=0)"),
    "attr-sign-flipped": _attr(result="z[order[:m]].mean(dim=0) - z[order[-m:]].mean(dim=0)"),
    "attr-sum-not-mean": _attr(result="z[order[-m:]].sum(dim=0) - z[order[:m]].sum(dim=0)"),
    "attr-mean-over-the-wrong-axis": _attr(result="z[order[-m:]].mean(dim=1) - z[order[:m]].mean(dim=1)"),
    "attr-top-minus-all": _attr(result="z[order[-m:]].mean(dim=0) - z.mean(dim=0)"),
    "attr-top-only": _attr(result="z[order[-m:]].mean(dim=0)"),
    "attr-no-max-1": _attr(m="int(fraction * len(scores))"),
    "attr-ceil": _attr(m="max(1, math.ceil(fraction * len(scores)))", prelude="import math\nimport torch\n"),
    "attr-round": _attr(m="max(1, round(fraction * len(scores)))"),
    "attr-fraction-of-latent-dim": _attr(m="max(1, int(fraction * z.shape[1]))"),
    "attr-off-by-one-top": _attr(result="z[order[-m - 1:-1]].mean(dim=0) - z[order[:m]].mean(dim=0)"),
    "attr-off-by-one-bottom": _attr(result="z[order[-m:]].mean(dim=0) - z[order[1:m + 1]].mean(dim=0)"),
    "attr-one-extra-each": _attr(result="z[order[-m - 1:]].mean(dim=0) - z[order[:m + 1]].mean(dim=0)"),
    "attr-sorted-by-the-first-latent": _attr(order="torch.argsort(z[:, 0])"),
    "attr-sorted-by-abs-score": _attr(order="torch.argsort(scores.abs())"),
    "attr-default-fraction-0.2": _attr(default="0.2"),
    "attr-unsorted-halves": _attr(order="torch.arange(len(scores))"),
    "attr-difference-of-medians": _attr(
        result="z[order[-m:]].median(dim=0).values - z[order[:m]].median(dim=0).values"),
}

# mutants that look wrong but compute what the solution computes: skipped in the score, and checked to
# keep every point (so the claim stays true)
EQUIVALENT = {
    "conv-int-of-true-division": "int() truncates toward 0, which is the floor here: i + 2p - k >= 0 whenever "
                                 "the kernel fits, the only sizes a convolution accepts",
    "init-bn-bias-zero-without-check": "every BatchNorm2d of the tests is affine: its bias exists",
}
MUTANTS.update({
    "init-bn-bias-zero-without-check": _init(bn_bias="m.bias.zero_()"),
})

# correct answers written otherwise than the solution: they must keep every point
ALTERNATIVES = {
    "conv-floor-of-true-division": _conv("return math.floor((size + 2 * padding - kernel) / stride) + 1",
                                         "import math\n"),
    "conv-stride-added-before-the-floor": _conv("return (size + 2 * padding - kernel + stride) // stride"),
    "conv-dilation-written-out": _conv("""
        dilation = 1
        return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
    """),
    "tconv-dilation-written-out": _tconv("""
        dilation = 1
        return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1
    """),
    "tconv-expanded": _tconv("return size * stride - stride + kernel - padding - padding + output_padding"),
    "init-weight-data-assignment": _init_source("""
        for m in module.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                m.weight.data = torch.randn_like(m.weight) * 0.02
                if m.bias is not None:
                    m.bias.data.zero_()
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.data.normal_(1.0, 0.02)
                m.bias.data.fill_(0)
    """, "import torch\nfrom torch import nn\n"),
    "init-apply": _init_source("""
        def one(m):
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.normal_(m.weight, 0.0, 0.02)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0.0)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, 1.0, 0.02)
                nn.init.constant_(m.bias, 0.0)
        module.apply(one)
    """, "from torch import nn\n"),
    "init-in-place-tensor-ops": _init(conv_weight="m.weight.normal_(0, 0.02)", conv_bias="m.bias.zero_()",
                                      bn_weight="m.weight.normal_(1, 0.02)", bn_bias="m.bias.fill_(0.0)"),
    "init-wide-truncated-normal": _init(conv_weight="nn.init.trunc_normal_(m.weight, std=0.02, a=-1.0, b=1.0)"),
    "interp-vectorised-angles": _interp_source("""
        t = torch.linspace(0, 1, n, dtype=z0.dtype)
        if mode == "lerp":
            return torch.lerp(z0.expand(n, -1), z1.expand(n, -1), t[:, None])
        u0, u1 = z0 / z0.norm(), z1 / z1.norm()
        cos = torch.dot(u0, u1)
        if abs(cos.item()) > 1 - 1e-6:
            return torch.lerp(z0.expand(n, -1), z1.expand(n, -1), t[:, None])
        omega = torch.arccos(cos)
        a = torch.sin((1 - t) * omega) / torch.sin(omega)
        b = torch.sin(t * omega) / torch.sin(omega)
        return a[:, None] * z0 + b[:, None] * z1
    """, "import torch\n"),
    "interp-row-by-row": _interp_source("""
        rows = []
        cos = torch.nn.functional.cosine_similarity(z0, z1, dim=0)
        for k in range(n):
            t = k / (n - 1) if n > 1 else 0.0
            if mode == "lerp" or abs(float(cos)) > 1 - 1e-6:
                rows.append((1 - t) * z0 + t * z1)
            else:
                omega = torch.acos(cos)
                rows.append((torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega))
        return torch.stack(rows)
    """, "import torch\n"),
    "attr-topk": _attr_source("""
        m = max(1, int(fraction * z.shape[0]))
        top = torch.topk(scores, m).indices
        bottom = torch.topk(scores, m, largest=False).indices
        return z[top].mean(0) - z[bottom].mean(0)
    """),
    "attr-sort-descending": _attr_source("""
        m = max(1, int(fraction * len(scores)))
        order = scores.argsort(descending=True)
        return z[order][:m].mean(0) - z[order][-m:].mean(0)
    """),
    "attr-masks": _attr_source("""
        m = max(1, int(fraction * len(scores)))
        ranks = torch.empty_like(scores, dtype=torch.long)
        ranks[scores.argsort()] = torch.arange(len(scores))
        top, bottom = ranks >= len(scores) - m, ranks < m
        return z[top].sum(0) / m - z[bottom].sum(0) / m
    """),
}

# answers that call ganlib's reference: they must lose every point of their exercise (DESIGN: an exercise
# answered by calling the ganlib function it asks for earns nothing)
DELEGATING = [m for m in MUTANTS if "-ganlib-" in m]

# answers that do nothing useful: they must lose every point of their exercise too
NOTHING = ["conv-returns-none", "conv-constant", "tconv-returns-none", "tconv-constant", "init-no-op",
           "interp-returns-none", "interp-constant", "attr-returns-none", "attr-zero"]

# lerp given for slerp keeps the points of the lerp mode, and those only
LERP_MODE_TESTS = {"test_interpolate_latents_shapes_dtypes_and_exact_endpoints[lerp]",
                   "test_interpolate_latents_lerp_is_the_straight_line[]"}


# ---------------------------------------------------------------------------------------------
# The tests: the harness's generic ones (tests/support/_mutation.py), then this notebook's own
# ---------------------------------------------------------------------------------------------

HARNESS = mutation_tests(
    notebook=NOTEBOOK, grading=grading, exercises=EXERCISES, mutants=MUTANTS, equivalent=EQUIVALENT,
    alternatives=ALTERNATIVES, delegating=DELEGATING, earns_nothing=NOTHING, min_delegating=8,
    min_mutants=10, count_equivalent=False, min_alternatives=2, min_points=4)
globals().update(HARNESS.tests)



def test_lerp_for_slerp_keeps_only_the_points_of_the_lerp_mode():
    outcomes = HARNESS.grade(HARNESS.mutant_module("interp-lerp-everywhere"), "interpolate_latents")
    kept = {case for (case, _), error in outcomes.items() if error is None}
    assert kept == LERP_MODE_TESTS, f"lerp everywhere keeps {sorted(kept)}"
