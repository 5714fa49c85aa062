"""The device plan (ganlib.training.plan) and what fit does with it, all on the CPU.

- Stand-in GPUs: ``torch.cuda.get_device_capability`` and ``get_device_name`` patched to a T4, V100, P100, A100,
  L4 and H100, and the plan checked against the rules (bf16 only from sm 8.0, fp16 with loss scaling below, fp32
  without tensor cores or for a task that is not fp16-safe).
- Every precision mode trains every CLI model a few steps on the CPU (CPU autocast takes bf16 and fp16, and the
  GradScaler runs there too), finite.
- The loss scaler: a step with an infinite gradient is skipped and the scale halves; penalties that differentiate
  through a gradient (WGAN-GP, R1, path length) come out the same under fp16 with loss scaling as in fp32, so the
  scale does not leak into them.
- Resume on a GPU: the checkpoint is read onto the CPU and every random state handed to torch is a CPU
  ByteTensor, checked with CUDA's RNG calls stood in for by functions as strict as torch's.
"""

from __future__ import annotations

import contextlib
import json
import math

import pytest
import torch
from torch import nn

from ganlib import recipes
from ganlib.training import CHECKPOINT_NAME, Context, LoopConfig, device_plan, fit, load_checkpoint
from ganlib.training import loop as loop_module
from ganlib.training.plan import PRECISIONS, DevicePlan

pytestmark = pytest.mark.usefixtures("one_thread_per_module")  # see tests/conftest.py

GPUS = {  # name, compute capability
    "t4": ("Tesla T4", (7, 5)), "v100": ("Tesla V100-SXM2-16GB", (7, 0)), "p100": ("Tesla P100-PCIE-16GB", (6, 0)),
    "a100": ("NVIDIA A100-SXM4-40GB", (8, 0)), "l4": ("NVIDIA L4", (8, 9)), "h100": ("NVIDIA H100 80GB HBM3", (9, 0)),
}


@pytest.fixture
def gpu(monkeypatch):
    """Stand in for a GPU: gpu("t4") makes torch.cuda report that card."""
    def stand_in(kind: str) -> torch.device:
        name, capability = GPUS[kind]
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: name)
        return torch.device("cuda")
    return stand_in


# --------------------------------------------------------------------------- the rules


@pytest.mark.parametrize("kind, precision, scaling", [
    ("t4", "fp16", True), ("v100", "fp16", True), ("p100", "fp32", False),
    ("a100", "bf16", False), ("l4", "bf16", False), ("h100", "bf16", False),
])
def test_auto_precision_follows_the_compute_capability(gpu, kind, precision, scaling):
    plan = device_plan(gpu(kind))
    assert plan.precision == precision and plan.loss_scaling is scaling
    assert plan.capability == GPUS[kind][1] and plan.name == GPUS[kind][0]
    assert plan.fused_optimizers and plan.cudnn_benchmark
    assert plan.channels_last is (precision != "fp32")  # NHWC only with 16-bit precision
    assert (plan.autocast() is contextlib.nullcontext) is (precision == "fp32")


def test_a_t4_plan_reads_as_the_issue_promises(gpu):
    line = device_plan(gpu("t4")).describe()
    assert line.startswith("cuda: Tesla T4 (sm 7.5): fp16 autocast with loss scaling")
    assert "channels_last" in line and "fused Adam" in line


def test_a_task_that_is_not_fp16_safe_gets_fp32_where_fp16_would_be_picked(gpu):
    assert device_plan(gpu("t4"), fp16_safe=False).precision == "fp32"
    assert device_plan(gpu("a100"), fp16_safe=False).precision == "bf16"  # bf16 has fp32's range
    assert device_plan(gpu("t4"), fp16_safe=False, precision="fp16").precision == "fp16"  # asked for: honoured


@pytest.mark.parametrize("precision", ["bf16", "fp16", "fp32"])
def test_an_explicit_precision_overrides_the_choice_on_gpus_and_the_cpu(gpu, precision):
    for device in (gpu("t4"), gpu("h100"), torch.device("cpu")):
        plan = device_plan(device, precision=precision)
        assert plan.precision == precision and plan.loss_scaling is (precision == "fp16")


def test_the_cpu_is_fp32_by_default_with_nothing_cuda_only():
    plan = device_plan("cpu")
    assert (plan.precision, plan.channels_last, plan.fused_optimizers, plan.cudnn_benchmark) == ("fp32", False, False, False)
    assert plan.describe() == "cpu: fp32"
    assert device_plan("cpu", precision="bf16").channels_last is False  # NHWC is a CUDA decision


def test_channels_last_needs_convolutions_and_permission(gpu):
    assert not device_plan(gpu("t4"), convolutional=False).channels_last
    assert not device_plan(gpu("t4"), channels_last=False).channels_last


def test_compile_only_when_asked_and_where_it_works(gpu):
    assert not device_plan(gpu("t4")).compile
    assert device_plan(gpu("t4"), compile=True).compile
    assert device_plan("cpu", compile=True).compile
    assert not device_plan(gpu("p100"), compile=True).compile  # Triton needs sm >= 7.0


def test_an_unknown_precision_names_the_valid_ones():
    with pytest.raises(ValueError, match="unknown precision 'half'; choose one of: auto, bf16, fp16, fp32"):
        device_plan("cpu", precision="half")


def test_the_plan_is_plain_data(gpu):
    state = device_plan(gpu("t4")).to_dict()
    assert state["capability"] == [7, 5] and state["precision"] == "fp16"
    assert all(isinstance(v, (str, bool, list, type(None))) for v in state.values())


# --------------------------------------------------------------------------- fit follows, prints and records it


class _Square(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.lin = nn.Linear(4, 1)

    def forward(self, x):
        return self.lin(x).squeeze(1)


class _Batches:
    def __init__(self):
        self.g = torch.Generator().manual_seed(0)

    def __next__(self):
        return torch.randn(8, 4, generator=self.g)

    def state_dict(self):
        return {"g": self.g.get_state()}

    def load_state_dict(self, state):
        self.g.set_state(state["g"])


class _RegressionTask:
    """One network fitted to a target; on the steps listed in ``blow_up`` the loss is multiplied by inf."""

    name = "regression"
    eager = ()
    metric_names = ("norm",)

    def __init__(self, blow_up: tuple[int, ...] = (), weight: float = 1.0):
        self.modules = {"M": _Square()}
        self.weight = weight  # of the loss
        self.ema = {}
        self.blow_up = blow_up
        self.before_step: list[torch.Tensor] = []

    def optimizers(self, *, fused):
        return {"m": torch.optim.SGD(self.modules["M"].parameters(), lr=0.1)}

    def step(self, ctx: Context, batches):
        x = next(batches)
        self.before_step.append(self.modules["M"].lin.weight.detach().clone())
        with ctx.autocast():
            pred = ctx.modules["M"](x).float()
        loss = self.weight * (pred - x.sum(1)).pow(2).mean()
        if ctx.progress.step in self.blow_up:
            loss = loss * math.inf
        return {"norm": ctx.optimize("m", loss)}

    def snapshot(self):
        return torch.zeros(1)

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


def test_fit_prints_its_plan_once_and_records_it_in_checkpoint_and_history(tmp_path, capsys):
    cfg = LoopConfig(steps=3, batch_size=8, log_every=1, precision="bf16")
    history = fit(_RegressionTask(), _Batches(), cfg, out_dir=tmp_path)
    out = capsys.readouterr().out
    assert out.count("cpu: bf16 autocast (asked for)") == 1
    saved = load_checkpoint(tmp_path / CHECKPOINT_NAME)
    assert saved["plan"]["precision"] == "bf16" and saved["plan"]["device"] == "cpu"
    assert history.plans == [{"step": 0, **saved["plan"]}]
    # resumed in another precision: the history keeps both parts' plans, the loop warns about the change
    with pytest.warns(UserWarning, match="precision"):
        history = fit(_RegressionTask(), _Batches(), LoopConfig(steps=5, batch_size=8, log_every=1, precision="fp32"),
                      out_dir=tmp_path, resume=True, progress=False)
    assert [(p["step"], p["precision"]) for p in history.plans] == [(0, "bf16"), (3, "fp32")]
    assert load_checkpoint(tmp_path / CHECKPOINT_NAME)["history"]["plans"] == history.plans


def test_fit_places_the_modules_as_the_plan_says(monkeypatch):
    """A stand-in plan with channels_last on the CPU: convolutional modules and image batches go NHWC."""
    def nhwc_plan(device, **settings):
        return DevicePlan(device="cpu", name="cpu", capability=None, precision="bf16", loss_scaling=False,
                          channels_last=True, fused_optimizers=False, compile=False, cudnn_benchmark=False)
    monkeypatch.setattr(loop_module, "device_plan", nhwc_plan)
    run = recipes.train_recipe("dcgan", "mnist-5k", steps=2, progress=False, out_dir=None, device="cpu")
    conv = next(m for m in run.D.modules() if isinstance(m, nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert run.history.plans[0]["channels_last"] is True


# --------------------------------------------------------------------------- the loss scaler


def test_a_step_with_an_infinite_gradient_is_skipped_and_the_scale_halves(tmp_path):
    """Two fp16 runs, identical until their last step, which the second makes infinite: that step changes no
    weight, reports a norm of 0, and leaves the scale at half the first run's (GradScaler starts at 2^16, which
    this model's fp16 backward may overflow in its first steps too: those are skipped alike in both runs)."""
    cfg = LoopConfig(steps=6, batch_size=8, log_every=1, precision="fp16")
    runs = {}
    for name, blow_up in (("control", ()), ("inf", (5,))):
        task = _RegressionTask(blow_up=blow_up)
        history = fit(task, _Batches(), cfg, out_dir=tmp_path / name, progress=False)
        scale = load_checkpoint(tmp_path / name / CHECKPOINT_NAME)["scalers"]["m"]["scale"]
        runs[name] = (task, history, scale)
    control, inf = runs["control"], runs["inf"]
    assert control[1].norm[5] > 0  # the control's last step was a real update ...
    assert inf[1].norm[:5] == control[1].norm[:5] and inf[1].norm[5] == 0.0  # ... the other's was skipped
    assert torch.equal(inf[0].before_step[5], inf[0].modules["M"].lin.weight.detach())
    assert inf[2] == control[2] / 2


def test_the_scaled_steps_update_as_fp32_does_and_outside_fit_nothing_is_scaled():
    """Loss scaling changes no update beyond fp16's rounding: the gradient is unscaled before the norm and the step.
    (The loss is small enough that 2^16 times its gradient fits fp16, so no step is skipped.)"""
    runs = {}
    for precision in ("fp32", "fp16"):
        task = _RegressionTask(weight=1e-2)
        history = fit(task, _Batches(), LoopConfig(steps=5, batch_size=8, log_every=1, precision=precision),
                      progress=False)
        runs[precision] = (history.norm, task.modules["M"].lin.weight.detach())
        assert not loop_module._LOSS_SCALERS  # fit unregisters its scalers
    assert runs["fp16"][0] == pytest.approx(runs["fp32"][0], rel=1e-2)
    assert torch.allclose(runs["fp16"][1], runs["fp32"][1], rtol=1e-2, atol=1e-3)


def _first_step(name: str, precision: str, **settings) -> dict[str, float]:
    trainer = {"wgan-gp": recipes.train_recipe, "progan": recipes.train_progan,
               "stylegan": recipes.train_stylegan}[name]
    args = ("wgan-gp",) if name == "wgan-gp" else ()
    run = trainer(*args, "mnist-5k" if name == "wgan-gp" else "mnist-5k", steps=1, progress=False, out_dir=None,
                  device="cpu", precision=precision, **settings)
    return {k: v[0] for k, v in run.history.series.items() if not math.isnan(v[0])}


@pytest.mark.parametrize("name, penalties, settings", [
    ("wgan-gp", ("gp",), {"k": 1}),  # one critic update: the first, from the same weights
    ("progan", ("gp",), {"objective": "wgan-gp"}),
    ("stylegan", ("r1", "pl"), {}),  # both regularisers run at step 0
])
def test_penalties_through_a_gradient_are_unscaled_under_fp16(name, penalties, settings, monkeypatch):
    """A penalty computed in fp32 outside autocast sees true gradients: under fp16 with loss scaling its value and
    the first step's gradient norms equal fp32's to fp16's rounding (a leaked scale would be off by the scale).
    The scaler starts at 2^8 here, not GradScaler's 2^16, so that the first step does not overflow and is not skipped."""
    monkeypatch.setattr(DevicePlan, "grad_scaler",
                        lambda self: torch.amp.GradScaler("cpu", init_scale=2.0 ** 8) if self.loss_scaling else None)
    fp32, fp16 = _first_step(name, "fp32", **settings), _first_step(name, "fp16", **settings)
    for key in (*penalties, "d_grad_norm", "g_grad_norm"):
        assert key in fp16 and fp16[key] == pytest.approx(fp32[key], rel=5e-2), key


# --------------------------------------------------------------------------- every CLI model in every precision


def _train(model: str, precision: str):
    """Two steps of a CLI model on small batches (CPU fp16 kernels are slow; the code path is what counts)."""
    common = dict(steps=2, progress=False, out_dir=None, device="cpu", precision=precision)
    if model == "cyclegan":
        return recipes.train_cyclegan("mnist-typeset", batch_size=4, **common)
    if model == "progan":
        return recipes.train_progan("mnist-5k", batch_sizes={4: 8}, **common)
    if model in ("stylegan", "vae", "ddpm"):
        return {"stylegan": recipes.train_stylegan, "vae": recipes.train_vae,
                "ddpm": recipes.train_ddpm}[model]("mnist-5k", batch_size=8, **common)
    return recipes.train_recipe(model, "mnist-5k", batch_size=8, **common)


CLI_MODELS = [*recipes.MODELS, "cyclegan", "progan", "stylegan", "vae", "ddpm"]


@pytest.mark.slow
@pytest.mark.parametrize("precision", [p for p in PRECISIONS if p != "auto"])
@pytest.mark.parametrize("model", CLI_MODELS)
def test_every_cli_model_trains_in_every_precision_on_the_cpu(model, precision):
    run = _train(model, precision)
    history = run.history
    assert history.step[-1] == 2 and history.plans[0]["precision"] == precision
    assert history.plans[0]["loss_scaling"] is (precision == "fp16")
    values = [v for series in history.series.values() for v in series if not math.isnan(v)]
    assert values and all(math.isfinite(v) for v in values)


def test_the_cli_takes_precision(tmp_path, capsys):
    from ganlib.__main__ import main

    assert main(["train", "vanilla", "--dataset", "ring8", "--steps", "3", "--precision", "fp16", "--out",
                 str(tmp_path / "run")]) == 0
    saved = load_checkpoint(tmp_path / "run" / CHECKPOINT_NAME)
    assert saved["plan"]["precision"] == "fp16" and set(saved["scalers"]) == {"g", "d"}
    written = json.loads((tmp_path / "run" / "history.json").read_text())
    assert written["plans"] == [{"step": 0, **saved["plan"]}]
    assert "cpu: fp16 autocast with loss scaling (asked for)" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["train", "vanilla", "--precision", "half"])
    assert "invalid choice: 'half'" in capsys.readouterr().err


# --------------------------------------------------------------------------- resume on a GPU, without one


def test_resume_reads_the_checkpoint_onto_the_cpu_whatever_the_device(tmp_path, monkeypatch):
    fit(_RegressionTask(), _Batches(), LoopConfig(steps=2, batch_size=8), out_dir=tmp_path, progress=False)
    seen = []
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **kw: seen.append(kw.get("map_location")) or real_load(*a, **kw))
    fit(_RegressionTask(), _Batches(), LoopConfig(steps=3, batch_size=8), out_dir=tmp_path, resume=True, progress=False)
    assert seen == ["cpu"]


def test_the_cuda_rng_path_of_save_and_restore_hands_torch_cpu_byte_tensors(monkeypatch):
    restored = []

    def _strict_set_rng_state(states):  # as strict as torch.cuda.set_rng_state_all: CPU ByteTensors only
        for t in states:
            if t.device.type != "cpu" or t.dtype != torch.uint8:
                raise TypeError("RNG state must be a torch.ByteTensor")
        restored.extend(states)

    cuda_state = [torch.randint(0, 255, (16,), dtype=torch.uint8)]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: [t.clone() for t in cuda_state])
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", _strict_set_rng_state)
    noise = torch.Generator().manual_seed(3)
    state = loop_module._rng_state(noise)
    assert "cuda" in state
    # states that are not CPU ByteTensors (as a checkpoint mapped onto a GPU holds them) are brought back first
    mapped = {"torch": state["torch"].to(torch.int64), "noise": state["noise"].to(torch.int64),
              "cuda": [t.to(torch.int64) for t in state["cuda"]]}
    before = torch.randn(3, generator=noise)
    loop_module._set_rng_state(mapped, noise)
    assert torch.equal(torch.randn(3, generator=noise), before)
    assert len(restored) == 1 and torch.equal(restored[0], cuda_state[0])


@pytest.mark.slow
def test_compile_wraps_what_a_step_does_not_differentiate_twice(monkeypatch):
    """WGAN-GP with compile: G is compiled, D (the penalty's double backward) stays eager, and the compiled run
    computes what the eager one does (Inductor's fused kernels round differently: a tolerance, not equality)."""
    compiled = []
    real_compile = torch.compile
    monkeypatch.setattr(torch, "compile", lambda module, **kw: compiled.append(type(module).__name__) or
                        real_compile(module, **kw))
    settings = dict(steps=2, batch_size=8, k=1, progress=False, out_dir=None, device="cpu")
    eager = recipes.train_recipe("wgan-gp", "mnist-5k", **settings)
    assert compiled == []
    run = recipes.train_recipe("wgan-gp", "mnist-5k", compile=True, **settings)
    assert compiled == [type(run.G).__name__] and run.history.plans[0]["compile"] is True
    for name in ("g_loss", "d_loss", "gp"):
        assert getattr(run.history, name) == pytest.approx(getattr(eager.history, name), rel=1e-3, abs=1e-5), name
