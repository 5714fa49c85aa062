"""benchmarks/launch_count.py: the per-tensor reference pieces equal ganlib's in value and cost one operation per
tensor where ganlib's cost one per call, and a CLI model's step counts fewer operations in ganlib than in the
reference."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from ganlib.training import loop

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import gpu_estimate  # noqa: E402
import launch_count  # noqa: E402


def _count(fn) -> int:
    counter = gpu_estimate.Counter()
    counter.bucket = gpu_estimate._zero()
    with counter:
        fn()
    return counter.bucket["ops"]


def _net(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.Linear(5, 2))  # 6 parameters, 3 buffers


def test_the_per_tensor_ema_equals_ganlibs_and_costs_one_operation_per_tensor():
    target, source = _net(0), _net(1)
    reference = _net(0)
    source(torch.randn(4, 3))  # moves the running statistics: the buffers differ too
    ops_ref = _count(lambda: launch_count.per_tensor_ema(reference, source, 0.9))
    ops_ganlib = _count(lambda: loop.ema_update(target, source, 0.9))
    for a, b in zip(reference.state_dict().values(), target.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-7)
    assert ops_ref == 6 + 3  # one lerp_ per parameter, one copy_ per buffer
    assert ops_ganlib == 2  # one _foreach_lerp_, one _foreach_copy_


def test_the_per_tensor_gradient_norm_equals_ganlibs():
    net = _net(0)
    net(torch.randn(4, 3)).pow(2).sum().backward()
    params = list(net.parameters())
    expected = torch.cat([p.grad.flatten() for p in params]).norm()
    assert launch_count.per_tensor_grad_norm(params) == pytest.approx(float(expected), rel=1e-6)
    assert loop.grad_norm(params) == pytest.approx(float(expected), rel=1e-6)
    assert _count(lambda: launch_count.per_tensor_grad_norm(params)) >= len(params)
    assert _count(lambda: loop.grad_norm(params)) <= 4


def test_the_reference_adam_is_the_foreach_implementation_with_the_same_steps():
    a, b = _net(0), _net(0)
    opt_a, opt_b = launch_count._ForeachAdam(a.parameters(), lr=0.1, fused=True), torch.optim.Adam(b.parameters(), lr=0.1)
    assert opt_a.defaults["foreach"] is True and not opt_a.defaults.get("fused")
    for net, opt in ((a, opt_a), (b, opt_b)):
        for _ in range(3):
            opt.zero_grad()
            net(torch.randn(4, 3, generator=torch.Generator().manual_seed(2))).pow(2).sum().backward()
            opt.step()
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.allclose(p, q, atol=1e-6)


def test_a_cli_models_step_dispatches_fewer_operations_in_ganlib_than_in_the_reference(tmp_path):
    counts = {side: launch_count.ops_per_step("vanilla", side, tmp_path) for side in launch_count.SIDES}
    assert all(c["ops"] > 0 and c["steps_counted"] == gpu_estimate.COUNT_STEPS for c in counts.values())
    assert counts["ganlib fp32"]["ops"] < counts["reference"]["ops"]
    assert counts["reference"]["precision"] == counts["ganlib fp32"]["precision"] == "fp32"
    assert counts["ganlib A100"]["precision"] == "bf16"
    # the same arithmetic on every side: the FLOPs of a step do not depend on how the optimiser is launched
    assert counts["ganlib fp32"]["flops"] == counts["reference"]["flops"]
