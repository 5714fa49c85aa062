"""benchmarks/gpu_check.py, the one-command GPU check: its FLOP count, its table of peaks, and a CPU dry run.

No speed is asserted here (speed is measured in benchmarks/, side by side, on the machine in question); the dry
run proves that every part of the check still runs and writes its report, so a session lent a GPU can trust it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_flops_of_a_training_step_match_the_closed_form(gpu_check):
    B, n_in, n_out = 4, 8, 16
    layer = nn.Linear(n_in, n_out, bias=False)
    x = torch.randn(B, n_in, requires_grad=True)
    with gpu_check.TotalFlops() as counter:
        layer(x).sum().backward()
    # forward 2*B*in*out; backward: the input's gradient and the weight's gradient, 2*B*in*out each
    assert counter.total == 3 * 2 * B * n_in * n_out


def test_flops_are_counted_inside_a_double_backward(gpu_check):
    """The gradient penalty's autograd.grad(create_graph=True) is counted, where FlopCounterMode fails."""
    layer = nn.Linear(8, 1, bias=False)
    x = torch.randn(4, 8, requires_grad=True)
    with gpu_check.TotalFlops() as counter:
        (grad,) = torch.autograd.grad(layer(x).sum(), x, create_graph=True)
        grad.pow(2).sum().backward()
    assert counter.total > 2 * 4 * 8  # more than the forward alone


def test_the_peak_comes_from_the_most_specific_name_or_the_user(gpu_check, monkeypatch):
    cuda = torch.device("cuda")
    for name, tflops in (("NVIDIA H200", 989.4), ("NVIDIA H100 PCIe", 756.0), ("NVIDIA A100-SXM4-80GB", 312.0),
                         ("NVIDIA L40S", 362.1), ("NVIDIA L4", 121.0)):
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None, name=name: name)
        assert gpu_check.peak_flops(cuda, None)[0] == pytest.approx(tflops * 1e12), name
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Some New GPU")
    peak, source = gpu_check.peak_flops(cuda, None)
    assert peak is None and "--peak-tflops" in source
    assert gpu_check.peak_flops(cuda, 100.0) == (100e12, "--peak-tflops")


def test_a_cpu_dry_run_writes_the_report_with_every_model(gpu_check, tmp_path):
    path = gpu_check.main(["--device", "cpu", "--steps", "2", "--warmup", "1", "--speed-steps", "2",
                           "--skip", "evaluation", "--out", str(tmp_path)])
    text = path.read_text()
    assert path.parent == tmp_path and path.name.startswith("gpu-check-") and path.suffix == ".md"
    assert "ratio ganlib / reference:" in text and "target at least 3x" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| model")]
    models = [row.split("|")[1].strip() for row in rows if row.split("|")[1].strip() in gpu_check.MODELS]
    assert models == list(gpu_check.MODELS)
    for row in rows[-len(models):]:
        images_per_s, flops = float(row.split("|")[2]), float(row.split("|")[5])
        assert images_per_s > 0 and flops > 0, row


def test_an_unknown_model_is_refused(gpu_check, tmp_path):
    with pytest.raises(SystemExit, match="unknown model"):
        gpu_check.main(["--device", "cpu", "--models", "dcgan,biggan", "--out", str(tmp_path)])


def test_the_full_evaluation_part_times_the_evaluate_command(gpu_check, tmp_path, monkeypatch):
    monkeypatch.setenv("GANLIB_DATA", str(tmp_path / "data"))  # the real statistics' cache goes there
    path = gpu_check.main(["--device", "cpu", "--steps", "2", "--warmup", "1", "--skip", "speed", "--models", "dcgan",
                           "--eval-n", "8", "--out", str(tmp_path)])
    text = path.read_text()
    assert "## One full evaluation" in text and "FID, KID and IS of 8 samples of the dcgan run" in text
    assert "stand-in weights (offline)" in text or "torch-fidelity's FID Inception weights" in text
    seconds = float(text.split("- seconds: ")[1].splitlines()[0])
    assert seconds > 0
