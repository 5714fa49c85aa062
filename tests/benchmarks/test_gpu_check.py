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

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _counter(gpu_check):
    counter = gpu_check.gpu_estimate.Counter()
    counter.bucket = gpu_check.gpu_estimate._zero()
    return counter


def test_flops_of_a_training_step_match_the_closed_form(gpu_check):
    B, n_in, n_out = 4, 8, 16
    layer = nn.Linear(n_in, n_out, bias=False)
    x = torch.randn(B, n_in, requires_grad=True)
    with _counter(gpu_check) as counter:
        layer(x).sum().backward()
    # forward 2*B*in*out; backward: the input's gradient and the weight's gradient, 2*B*in*out each
    assert counter.bucket["flops32"] == 3 * 2 * B * n_in * n_out and counter.bucket["flops16"] == 0


def test_flops_are_counted_inside_a_double_backward(gpu_check):
    """The gradient penalty's autograd.grad(create_graph=True) is counted, where FlopCounterMode fails."""
    layer = nn.Linear(8, 1, bias=False)
    x = torch.randn(4, 8, requires_grad=True)
    with _counter(gpu_check) as counter:
        (grad,) = torch.autograd.grad(layer(x).sum(), x, create_graph=True)
        grad.pow(2).sum().backward()
    assert counter.bucket["flops32"] > 2 * 4 * 8  # more than the forward alone


def test_the_steps_counted_after_a_resume_agree_with_the_estimators_count(gpu_check, tmp_path, monkeypatch):
    """Two ways to count a step: gpu_check's difference of two resumed runs, gpu_estimate's cut-short run."""
    train = gpu_check._trainer("dcgan")
    common = dict(device="cpu", progress=False, checkpoint_every=0, profile="full", out_dir=tmp_path / "dcgan")
    train(steps=2, resume=False, **common)
    per_step = gpu_check.count_steps(train, tmp_path / "dcgan", 2, common)
    recorder = gpu_check.gpu_estimate.Recorder("t4", str(tmp_path / "counts.json"))
    monkeypatch.setattr(recorder, "plan", lambda real_plan, fp16_safe: real_plan)  # the CPU's own plan, as above
    from ganlib.training import loop
    counting = recorder.fit(loop.fit)
    for module in gpu_check.gpu_estimate.fit_holders():  # every module that imported fit, the recipes' too
        monkeypatch.setattr(module, "fit", counting)
    with recorder.counter:
        train(steps=100, resume=False, **{**common, "out_dir": tmp_path / "other"})
    counted = recorder.runs[0]["phases"]["step"]
    assert per_step["flops32"] == pytest.approx(counted["flops32"] / counted["steps"], rel=1e-9)
    assert per_step["ops"] == pytest.approx(counted["ops"] / counted["steps"], rel=0.05)  # + the loop's bookkeeping
    assert per_step["flops16"] == 0


def test_the_estimators_name_for_each_gpu(gpu_check, monkeypatch):
    cuda = torch.device("cuda")
    for name, key in (("Tesla T4", "t4"), ("NVIDIA L4", "l4"), ("NVIDIA L40S", None), ("NVIDIA A100-SXM4-40GB", "a100"),
                      ("NVIDIA H100 80GB HBM3", "h100"), ("NVIDIA H200", "h100")):
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None, name=name: name)
        assert gpu_check.estimator_gpu(cuda) == key, name
    assert gpu_check.estimator_gpu(torch.device("cpu")) is None


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
                           "--skip", "evaluation", "--out", str(tmp_path),
                           "--budget", "1e9"])  # every model, however busy the machine
    text = path.read_text()
    assert path.parent == tmp_path and path.name.startswith("gpu-check-") and path.suffix == ".md"
    assert "ratio ganlib / reference:" in text and "target at least 3x" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| model")]
    models = [row.split("|")[1].strip() for row in rows if row.split("|")[1].strip() in gpu_check.MODELS]
    assert models == list(gpu_check.MODELS)
    for row in rows[-len(models):]:
        images_per_s, flops, ops = float(row.split("|")[2]), float(row.split("|")[5]), float(row.split("|")[7])
        assert images_per_s > 0 and flops > 0 and ops > 0, row
    assert "operations per step" in text and "| n/a |" in text  # no estimate for a CPU


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
