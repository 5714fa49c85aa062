"""Mutation tests of notebook 08a's grading tests (tests/grading/test_08a_progressive_growing.py), in-process.
How a mutant is graded, and what every list below must satisfy: the harness, tests/support/_mutation.py.

Its own check: a float32 tensor slipped into an otherwise correct answer (``PRECISION_SLIPS``) costs only the test
of float64 precision.
"""

import pytest

from _mutation import define as _define
from _mutation import fill
from _mutation import load_grading_module, mutation_tests

NOTEBOOK = "08a_progressive_growing"
EXERCISES = ("faded_output", "minibatch_stddev", "equalized_conv2d")
grading = load_grading_module(NOTEBOOK)
pytestmark = [pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad=True to a scalar:UserWarning"),
              pytest.mark.filterwarnings("ignore:.*degrees of freedom is <= 0:UserWarning")]


# ---------------------------------------------------------------------------------------------
# The mutants: {id: (exercise function, source that redefines it)}
# ---------------------------------------------------------------------------------------------


def _fade_source(body, prelude=""):
    return "faded_output", _define("def faded_output(old, new, alpha):\n", body, prelude)


FADE = """
up = {up}
return {result}
"""
FADE_SOLUTION = dict(up="old.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)",
                     result="alpha * new + (1 - alpha) * up")


def _fade(prelude="", **change):
    """The solution's faded_output with the parts named in ``change`` replaced."""
    return _fade_source(fill(FADE, FADE_SOLUTION, change), prelude)


def _mbstd_source(body, prelude=""):
    return "minibatch_stddev", _define("def minibatch_stddev(x, group_size=4):\n", body, prelude)


MBSTD = """
B, C, H, W = x.shape
G = {G}
y = {grouped}
std = {std}
stat = {stat}
stat = {spread}
return {result}
"""
MBSTD_SOLUTION = dict(
    G="min(group_size, B)", grouped="x.reshape(G, B // G, C, H, W)",
    std="(y.var(dim=0, unbiased=False) + 1e-8).sqrt()", stat="std.mean(dim=(1, 2, 3))",
    spread="stat.repeat(G).reshape(B, 1, 1, 1).expand(B, 1, H, W)", result="torch.cat([x, stat], dim=1)",
)


def _mbstd(prelude="", **change):
    """The solution's minibatch_stddev with the parts named in ``change`` replaced."""
    return _mbstd_source(fill(MBSTD, MBSTD_SOLUTION, change), prelude)


def _conv_source(body, prelude=""):
    return "equalized_conv2d", _define("def equalized_conv2d(x, weight, bias, gain=math.sqrt(2), padding=0):\n",
                                       body, prelude)


CONV = """
c_out, c_in, k, _ = weight.shape
scale = {scale}
return {result}
"""
CONV_SOLUTION = dict(scale="gain / math.sqrt(c_in * k * k)",
                     result="F.conv2d(x, weight * scale, bias, padding=padding)")


def _conv(prelude="", **change):
    """The solution's equalized_conv2d with the parts named in ``change`` replaced."""
    return _conv_source(fill(CONV, CONV_SOLUTION, change), prelude)


NNF = "import torch.nn.functional as F\n"

MUTANTS = {
    # Exercise 1: faded_output
    "fade-returns-none": _fade(result="None"),
    "fade-returns-new": _fade_source("return new"),
    "fade-returns-up-old": _fade(result="up"),
    "fade-zeros": _fade(result="torch.zeros_like(new)"),
    "fade-alpha-swapped": _fade(result="(1 - alpha) * new + alpha * up"),
    "fade-alpha-squared": _fade(result="alpha ** 2 * new + (1 - alpha ** 2) * up"),
    "fade-unweighted-sum": _fade(result="new + up"),
    "fade-plain-average": _fade(result="0.5 * (new + up)"),
    "fade-no-upsample": _fade(result="alpha * new + (1 - alpha) * old"),
    "fade-tiled": _fade(up="old.repeat(1, 1, 2, 2)"),
    "fade-expand-tiles": _fade(up="old[:, :, None, :, None, :].expand(-1, -1, 2, -1, 2, -1).reshape(new.shape)"),
    "fade-rows-enlarged-columns-tiled": _fade(up="old.repeat_interleave(2, dim=2).repeat(1, 1, 1, 2)"),
    "fade-height-enlarged-twice": _fade(up="old.repeat_interleave(2, dim=2).repeat_interleave(2, dim=2)"),
    "fade-bilinear": _fade(NNF, up="F.interpolate(old, scale_factor=2, mode='bilinear', align_corners=False)"),
    "fade-bilinear-align-corners": _fade(NNF, up="F.interpolate(old, scale_factor=2, mode='bilinear', "
                                                 "align_corners=True)"),
    "fade-bicubic": _fade(NNF, up="F.interpolate(old, scale_factor=2, mode='bicubic', align_corners=False)"),
    "fade-square-size": _fade(NNF, up="F.interpolate(old, size=new.shape[-1])"),
    "fade-size-swapped": _fade(NNF, up="F.interpolate(old, size=(new.shape[-1], new.shape[-2]))"),
    "fade-upsample-by-4": _fade(NNF, up="F.interpolate(old, scale_factor=4)"),
    "fade-upsample-by-4-cropped": _fade(NNF, up="F.interpolate(old, scale_factor=4)[..., :new.shape[-2], "
                                                ":new.shape[-1]]"),
    "fade-pixel-shuffle-tiled-channels": _fade(NNF, up="F.pixel_shuffle(old.repeat(1, 4, 1, 1), 2)"),
    "fade-zero-inserted": _fade_source("""
        up = torch.zeros_like(new)
        up[:, :, ::2, ::2] = old
        return alpha * new + (1 - alpha) * up
    """),
    "fade-block-divided-by-4": _fade(up="old.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3) / 4"),
    "fade-avg-pool-new": _fade(NNF, result="alpha * F.avg_pool2d(new, 2) + (1 - alpha) * old"),
    "fade-in-place": _fade(result="new.mul_(alpha).add_((1 - alpha) * up)"),
    "fade-old-detached": _fade(result="alpha * new + (1 - alpha) * up.detach()"),
    "fade-no-grad": _fade_source("""
        with torch.no_grad():
            return alpha * new + (1 - alpha) * old.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    """),
    "fade-float32": _fade(result="(alpha * new + (1 - alpha) * up).float()"),
    "fade-float32-buffer": _fade_source("""
        up = torch.zeros(new.shape)  # float32, whatever new's dtype
        for i in range(new.shape[2]):
            up[:, :, i] = old[:, :, i // 2].repeat_interleave(2, dim=-1)
        return alpha * new + (1 - alpha) * up
    """),
    "fade-ganlib-fade-in-and-upsample": _fade_source("return progan.fade_in(progan.upsample(old), new, alpha)",
                                                     "from ganlib.models import progan\n"),
    "fade-ganlib-from-import-fade-in": _fade(result="fade_in(up, new, alpha)",
                                             prelude="from ganlib.models.progan import fade_in\n"),
    "fade-ganlib-from-import-upsample": _fade(up="upsample(old)",
                                              prelude="from ganlib.models.progan import upsample\n"),
    "fade-ganlib-module-chain": _fade(up="ganlib.models.progan.upsample(old, 2)",
                                      prelude="import ganlib.models.progan\n"),
    "fade-ganlib-import-inside": _fade_source("""
        from ganlib.models.progan import fade_in, upsample
        return fade_in(upsample(old), new, alpha)
    """),
    "fade-ganlib-fade-paths": _fade_source(
        "return progan._fade_paths(lambda: old.repeat_interleave(2, 2).repeat_interleave(2, 3), lambda: new, alpha)",
        "from ganlib.models import progan\n"),
    "fade-ganlib-swallowed": _fade_source("""
        try:
            return progan.fade_in(progan.upsample(old), new, alpha)
        except Exception:
            return alpha * new + (1 - alpha) * old.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    """, "from ganlib.models import progan\n"),
    # Exercise 2: minibatch_stddev
    "mbstd-returns-none": _mbstd(result="None"),
    "mbstd-returns-x": _mbstd_source("return x"),
    "mbstd-zero-channel": _mbstd(result="torch.cat([x, torch.zeros_like(stat)], dim=1)"),
    "mbstd-ones-channel": _mbstd(result="torch.cat([x, torch.ones_like(stat)], dim=1)"),
    "mbstd-channel-first": _mbstd(result="torch.cat([stat, x], dim=1)"),
    "mbstd-only-the-channel": _mbstd(result="stat"),
    "mbstd-consecutive-groups": _mbstd_source("""
        B, C, H, W = x.shape
        G = min(group_size, B)
        y = x.reshape(B // G, G, C, H, W)  # group j = samples jG ... jG + G - 1
        std = (y.var(dim=1, unbiased=False) + 1e-8).sqrt()
        stat = std.mean(dim=(1, 2, 3)).repeat_interleave(G).reshape(B, 1, 1, 1).expand(B, 1, H, W)
        return torch.cat([x, stat], dim=1)
    """),
    "mbstd-consecutive-groups-interleaved-spread": _mbstd(
        grouped="x.reshape(B // G, G, C, H, W).transpose(0, 1)"),
    "mbstd-interleaved-groups-consecutive-spread": _mbstd(
        spread="stat.repeat_interleave(G).reshape(B, 1, 1, 1).expand(B, 1, H, W)"),
    "mbstd-unbiased-var": _mbstd(std="(y.var(dim=0) + 1e-8).sqrt()"),
    "mbstd-unbiased-std-no-eps": _mbstd(std="y.std(dim=0)"),
    "mbstd-whole-batch": _mbstd(G="B"),
    "mbstd-group-size-without-min": _mbstd(G="group_size"),
    "mbstd-no-eps": _mbstd(std="y.var(dim=0, unbiased=False).sqrt()"),
    "mbstd-eps-outside-sqrt": _mbstd(std="y.var(dim=0, unbiased=False).sqrt() + 1e-8"),
    "mbstd-eps-1e-6": _mbstd(std="(y.var(dim=0, unbiased=False) + 1e-6).sqrt()"),
    "mbstd-sqrt-of-mean-variance": _mbstd(std="y.var(dim=0, unbiased=False)",
                                          stat="(std.mean(dim=(1, 2, 3)) + 1e-8).sqrt()"),
    "mbstd-variance-not-std": _mbstd(std="y.var(dim=0, unbiased=False) + 1e-8"),
    "mbstd-per-channel": _mbstd(stat="std.mean(dim=(2, 3))",
                                spread="stat.repeat(G, 1).reshape(B, C, 1, 1).expand(B, C, H, W)"),
    "mbstd-over-channels-per-pixel": _mbstd_source("""
        std = (x.var(dim=1, keepdim=True, unbiased=False) + 1e-8).sqrt()  # (B, 1, H, W)
        return torch.cat([x, std], dim=1)
    """),
    "mbstd-per-sample": _mbstd_source("""
        B, C, H, W = x.shape
        std = x.std(dim=(1, 2, 3), unbiased=False)
        return torch.cat([x, std.reshape(B, 1, 1, 1).expand(B, 1, H, W)], dim=1)
    """),
    "mbstd-mean-abs-deviation": _mbstd(std="(y - y.mean(dim=0)).abs().mean(dim=0)"),
    "mbstd-rms-not-centred": _mbstd(std="(y.pow(2).mean(dim=0) + 1e-8).sqrt()"),
    "mbstd-max-not-mean": _mbstd(stat="std.amax(dim=(1, 2, 3))"),
    "mbstd-one-number-for-the-batch": _mbstd(stat="std.mean().expand(B // G)"),
    "mbstd-stat-detached": _mbstd(stat="std.mean(dim=(1, 2, 3)).detach()"),
    "mbstd-float32": _mbstd(result="torch.cat([x, stat], dim=1).float()"),
    "mbstd-float32-buffer": _mbstd_source("""
        B, C, H, W = x.shape
        G = min(group_size, B)
        n = B // G
        channel = torch.empty(B, 1, H, W)  # float32, whatever x's dtype
        for j in range(n):
            channel[j::n] = (x[j::n].var(dim=0, unbiased=False) + 1e-8).sqrt().mean()
        return torch.cat([x, channel.to(x.dtype)], dim=1)
    """),
    "mbstd-centres-x-in-place": _mbstd(
        grouped="x.reshape(G, B // G, C, H, W); y -= y.mean(dim=0, keepdim=True)",
        std="(y.pow(2).mean(dim=0) + 1e-8).sqrt()"),
    "mbstd-ganlib-from-import": _mbstd_source("return minibatch_stddev_ref(x, group_size)",
                                              "from ganlib.models.progan import minibatch_stddev as "
                                              "minibatch_stddev_ref\n"),
    "mbstd-ganlib-module-chain": _mbstd_source("return ganlib.models.progan.minibatch_stddev(x, group_size)",
                                               "import ganlib.models.progan\n"),
    "mbstd-ganlib-stylegan-reexport": _mbstd_source("return stylegan.minibatch_stddev(x, group_size)",
                                                    "from ganlib.models import stylegan\n"),
    "mbstd-ganlib-layer": _mbstd_source("return progan.MinibatchStdDev(group_size)(x)",
                                        "from ganlib.models import progan\n"),
    "mbstd-ganlib-layer-forward-on-a-stand-in": _mbstd_source("""
        return progan.MinibatchStdDev.forward(types.SimpleNamespace(group_size=group_size), x)
    """, "import types\nfrom ganlib.models import progan\n"),
    "mbstd-ganlib-import-inside": _mbstd_source("""
        from ganlib.models.progan import minibatch_stddev as reference
        return reference(x, group_size)
    """),
    "mbstd-ganlib-swallowed": _mbstd_source("""
        try:
            return progan.minibatch_stddev(x, group_size)
        except Exception:
            B, C, H, W = x.shape
            G = min(group_size, B)
            std = (x.reshape(G, B // G, C, H, W).var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))
            return torch.cat([x, std.repeat(G).reshape(B, 1, 1, 1).expand(B, 1, H, W)], dim=1)
    """, "from ganlib.models import progan\n"),
    # Exercise 3: equalized_conv2d
    "conv-returns-none": _conv(result="None"),
    "conv-zeros": _conv(result="torch.zeros(1)"),
    "conv-fan-in-from-c-out": _conv(scale="gain / math.sqrt(c_out * k * k)"),
    "conv-fan-in-without-k": _conv(scale="gain / math.sqrt(c_in)"),
    "conv-fan-in-k-once": _conv(scale="gain / math.sqrt(c_in * k)"),
    "conv-fan-in-numel": _conv(scale="gain / math.sqrt(weight.numel())"),
    "conv-no-sqrt": _conv(scale="gain / (c_in * k * k)"),
    "conv-precedence": _conv(scale="gain / math.sqrt(c_in) * k"),
    "conv-inverted": _conv(scale="math.sqrt(c_in * k * k) / gain"),
    "conv-gain-ignored": _conv(scale="1 / math.sqrt(c_in * k * k)"),
    "conv-gain-hardcoded": _conv(scale="math.sqrt(2) / math.sqrt(c_in * k * k)"),
    "conv-gain-squared": _conv(scale="gain ** 2 / math.sqrt(c_in * k * k)"),
    "conv-gain-inside-sqrt": _conv(scale="math.sqrt(gain / (c_in * k * k))"),
    "conv-scale-1-over-fan-in": _conv(scale="1 / (c_in * k * k)"),
    "conv-no-scale": _conv(scale="1.0"),
    "conv-bias-scaled": _conv(result="F.conv2d(x, weight * scale, bias * scale, padding=padding)"),
    "conv-output-scaled": _conv(result="F.conv2d(x, weight, bias, padding=padding) * scale"),
    "conv-x-and-weight-scaled": _conv(result="F.conv2d(x * scale, weight * scale, bias, padding=padding)"),
    "conv-no-bias": _conv(result="F.conv2d(x, weight * scale, None, padding=padding)"),
    "conv-padding-ignored": _conv(result="F.conv2d(x, weight * scale, bias)"),
    "conv-padding-same": _conv(result="F.conv2d(x, weight * scale, bias, padding='same')"),
    "conv-transpose": _conv(result="F.conv_transpose2d(x, weight.transpose(0, 1) * scale, bias, padding=padding)"),
    "conv-wrong-groups": _conv(result="F.conv2d(x, weight * scale, bias, padding=padding, groups=c_in)"),
    "conv-weight-detached": _conv(result="F.conv2d(x, weight.detach() * scale, bias, padding=padding)"),
    "conv-in-place": _conv(result="F.conv2d(x, weight.mul_(scale), bias, padding=padding)"),
    "conv-float32": _conv(result="F.conv2d(x.float(), (weight * scale).float(), bias.float(), padding=padding)"),
    "conv-float32-scale": _conv(scale="torch.tensor(gain / math.sqrt(c_in * k * k))", prelude="import torch\n"),
    "conv-nn-conv2d-copy": _conv_source("""
        c_out, c_in, k, _ = weight.shape
        layer = torch.nn.Conv2d(c_in, c_out, k, padding=padding).to(x.dtype)
        with torch.no_grad():
            layer.weight.copy_(weight * gain / math.sqrt(c_in * k * k))
            layer.bias.copy_(bias)
        return layer(x)
    """, "import torch\n"),
    "conv-ganlib-from-import": _conv_source("""
        c_out, c_in, k, _ = weight.shape
        layer = EqualizedConv2d(c_in, c_out, k, padding=padding, gain=gain).to(x.dtype)
        layer.weight, layer.bias = torch.nn.Parameter(weight), torch.nn.Parameter(bias)
        return layer(x)
    """, "import torch\nfrom ganlib.models.progan import EqualizedConv2d\n"),
    "conv-ganlib-module-chain": _conv_source("""
        c_out, c_in, k, _ = weight.shape
        layer = ganlib.models.progan.EqualizedConv2d(c_in, c_out, k, padding=padding, gain=gain).to(x.dtype)
        with torch.no_grad():
            layer.weight.copy_(weight)
            layer.bias.copy_(bias)
        return layer(x)
    """, "import torch\nimport ganlib.models.progan\n"),
    "conv-ganlib-stylegan-reexport": _conv_source("""
        c_out, c_in, k, _ = weight.shape
        layer = stylegan.EqualizedConv2d(c_in, c_out, k, padding=padding, gain=gain)
        layer.weight, layer.bias = torch.nn.Parameter(weight), torch.nn.Parameter(bias)
        return layer(x)
    """, "import torch\nfrom ganlib.models import stylegan\n"),
    "conv-ganlib-forward-on-a-stand-in": _conv_source("""
        c_out, c_in, k, _ = weight.shape
        stand_in = types.SimpleNamespace(weight=weight, bias=bias, weight_scale=gain / math.sqrt(c_in * k * k),
                                         stride=1, padding=padding)
        return progan.EqualizedConv2d.forward(stand_in, x)
    """, "import types\nfrom ganlib.models import progan\n"),
    "conv-ganlib-swallowed": _conv_source("""
        c_out, c_in, k, _ = weight.shape
        try:
            layer = progan.EqualizedConv2d(c_in, c_out, k, padding=padding, gain=gain)
        except Exception:
            pass
        return F.conv2d(x, weight * gain / math.sqrt(c_in * k * k), bias, padding=padding)
    """, "from ganlib.models import progan\n"),
}

# mutants that look wrong but compute what the solution computes: skipped in the score, and checked to
# keep every point (so the claim stays true)
EQUIVALENT = {
    "fade-nearest-exact": "for an exact factor 2, 'nearest-exact' reads source pixel floor((i + 0.5) / 2) = "
                          "floor(i / 2), the same pixel as 'nearest'",
    "fade-area": "upsampling by 2 with 'area' (adaptive average pooling) averages a window of exactly one source "
                 "pixel, (i // 2, j // 2)",
    "mbstd-mean-of-channel-means": "every channel has H W pixels, so the mean over C of the per-channel means over "
                                   "H, W is the mean over C, H, W",
    "mbstd-reshape-minus-one": "B // G is the only size -1 can take: B is a multiple of G",
    "conv-fan-in-from-x": "conv2d requires x's channels to equal the weight's C_in, so x.shape[1] is C_in",
    "conv-bias-added-afterwards": "conv2d adds the bias to every pixel of its channel, as bias[:, None, None] does",
}
MUTANTS.update({
    "fade-nearest-exact": _fade(NNF, up="F.interpolate(old, scale_factor=2, mode='nearest-exact')"),
    "fade-area": _fade(NNF, up="F.interpolate(old, scale_factor=2, mode='area')"),
    "mbstd-mean-of-channel-means": _mbstd(stat="std.mean(dim=(2, 3)).mean(dim=1)"),
    "mbstd-reshape-minus-one": _mbstd(grouped="x.reshape(G, -1, C, H, W)"),
    "conv-fan-in-from-x": _conv(scale="gain / math.sqrt(x.shape[1] * k * k)"),
    "conv-bias-added-afterwards": _conv(result="F.conv2d(x, weight * scale, None, padding=padding) "
                                               "+ bias[:, None, None]"),
})

# correct answers written otherwise than the solution: they must keep every point
ALTERNATIVES = {
    "fade-interpolate-nearest": _fade(NNF, up="F.interpolate(old, scale_factor=2, mode='nearest')"),
    "fade-interpolate-to-new-size": _fade(NNF, up="F.interpolate(old, size=new.shape[-2:])"),
    "fade-upsample-module": _fade(up="torch.nn.Upsample(scale_factor=2)(old)"),
    "fade-kron": _fade(up="torch.kron(old, old.new_ones(2, 2))"),
    "fade-expand-blocks": _fade(
        up="old[:, :, :, None, :, None].expand(-1, -1, -1, 2, -1, 2).reshape(new.shape)"),
    "fade-index": _fade(up="old[:, :, torch.arange(new.shape[2]) // 2][:, :, :, torch.arange(new.shape[3]) // 2]"),
    "fade-pixel-shuffle": _fade(NNF, up="F.pixel_shuffle(old.repeat_interleave(4, dim=1), 2)"),
    "fade-transposed-conv-of-ones": _fade(
        NNF, up="F.conv_transpose2d(old, old.new_ones(old.shape[1], 1, 2, 2), stride=2, groups=old.shape[1])"),
    "fade-lerp": _fade(result="torch.lerp(up, new, alpha)"),
    "fade-difference-form": _fade(result="up + alpha * (new - up)"),
    "fade-endpoint-shortcuts": _fade_source("""
        if alpha == 1:
            return new
        up = old.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
        return up if alpha == 0 else alpha * new + (1 - alpha) * up
    """),
    "fade-loops": _fade_source("""
        up = torch.empty_like(new)
        for i in range(new.shape[2]):
            for j in range(new.shape[3]):
                up[:, :, i, j] = old[:, :, i // 2, j // 2]
        return alpha * new + (1 - alpha) * up
    """),
    "mbstd-std-unbiased-false": _mbstd(std="(y.std(dim=0, unbiased=False) ** 2 + 1e-8).sqrt()"),
    "mbstd-correction-0": _mbstd(std="torch.sqrt(torch.var(y, dim=0, correction=0) + 1e-8)"),
    "mbstd-written-out": _mbstd(std="(((y - y.mean(dim=0)) ** 2).mean(dim=0) + 1e-8).sqrt()"),
    "mbstd-mean-of-squares": _mbstd(std="((y ** 2).mean(dim=0) - y.mean(dim=0) ** 2 + 1e-8).sqrt()"),
    "mbstd-var-mean": _mbstd(std="(torch.var_mean(y, dim=0, unbiased=False)[0] + 1e-8) ** 0.5"),
    "mbstd-paper-spread": _mbstd(spread="stat.reshape(1, B // G, 1, 1, 1).expand(G, B // G, 1, H, W)"
                                        ".reshape(B, 1, H, W)"),
    "mbstd-index-spread": _mbstd(spread="stat[torch.arange(B) % (B // G)].reshape(B, 1, 1, 1).expand(B, 1, H, W)"),
    "mbstd-loops": _mbstd_source("""
        B, C, H, W = x.shape
        G = min(group_size, B)
        n = B // G
        channel = torch.empty(B, 1, H, W, dtype=x.dtype)
        for j in range(n):
            group = x[j::n]
            std = torch.sqrt(((group - group.mean(dim=0)) ** 2).mean(dim=0) + 1e-8)
            channel[j::n] = std.mean()
        return torch.cat([x, channel], dim=1)
    """),
    "conv-output-scaled-then-bias": _conv(result="F.conv2d(x, weight, None, padding=padding) * scale "
                                                 "+ bias[:, None, None]"),
    "conv-input-scaled": _conv(result="F.conv2d(x * scale, weight, bias, padding=padding)"),
    "conv-negative-power": _conv(scale="gain * (c_in * k * k) ** -0.5"),
    "conv-sqrt-then-k": _conv(scale="gain / math.sqrt(c_in) / k"),
    "conv-fan-in-from-a-filter": _conv(scale="gain / math.sqrt(weight[0].numel())"),
    "conv-torch-conv2d-tuple-padding": _conv(result="torch.conv2d(x, weight * scale, bias, 1, (padding, padding))"),
    "conv-unfold": _conv_source("""
        c_out, c_in, k, _ = weight.shape
        B, _, H, W = x.shape
        columns = F.unfold(x, k, padding=padding)  # (B, C_in k k, L)
        out = (weight * gain / math.sqrt(c_in * k * k)).reshape(c_out, -1) @ columns + bias[:, None]
        return out.reshape(B, c_out, H + 2 * padding - k + 1, W + 2 * padding - k + 1)
    """),
}

# slips of precision only (a float32 tensor along the way, the output still of the inputs' dtype): they must lose
# the test that checks float64 precision, and no other (the values are graded to float32 precision elsewhere)
PRECISION_SLIPS = ["fade-float32-buffer", "mbstd-float32-buffer", "conv-float32-scale"]

# answers that call ganlib's reference: they must lose every point of their exercise (DESIGN: an exercise
# answered by calling the ganlib function it asks for earns nothing)
DELEGATING = [m for m in MUTANTS if "-ganlib-" in m]


# ---------------------------------------------------------------------------------------------
# The tests: the harness's generic ones (tests/support/_mutation.py), then this notebook's own
# ---------------------------------------------------------------------------------------------

HARNESS = mutation_tests(
    notebook=NOTEBOOK, grading=grading, exercises=EXERCISES, mutants=MUTANTS, equivalent=EQUIVALENT,
    alternatives=ALTERNATIVES, delegating=DELEGATING, listed=[PRECISION_SLIPS], min_delegating=15,
    min_mutants=20, count_equivalent=True, min_alternatives=5, min_points=8)
globals().update(HARNESS.tests)


@pytest.mark.parametrize("mutant_id", PRECISION_SLIPS)
def test_a_precision_slip_costs_only_the_precision_test(mutant_id):
    exercise = MUTANTS[mutant_id][0]
    outcomes = HARNESS.grade(HARNESS.mutant_module(mutant_id), exercise)
    lost = sorted(case for case, error in outcomes.items() if error is not None)
    assert lost == [(f"test_{exercise}_keeps_dtype_and_inputs[]", 1)], (
        f"{mutant_id} computes in float32 along the way: it must lose test_{exercise}_keeps_dtype_and_inputs "
        f"only, it loses {lost}")
