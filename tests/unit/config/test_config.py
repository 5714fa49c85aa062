"""Tests of ganlib.config: profiles, device choice, seeding."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from ganlib import config
from ganlib.config import PROFILES, get_device, pick, resolve_profile, seed_everything

# --------------------------------------------------------------------------- resolve_profile


@pytest.mark.parametrize("name", PROFILES)
def test_explicit_profile_names_resolve_to_themselves(name, monkeypatch):
    monkeypatch.setenv("GANLIB_PROFILE", "full" if name != "full" else "smoke")  # must be ignored
    assert resolve_profile(name) == name
    assert resolve_profile(f"  {name.upper()} ") == name  # case and whitespace do not matter


@pytest.mark.parametrize("env", PROFILES)
def test_auto_reads_ganlib_profile(env, monkeypatch):
    monkeypatch.setenv("GANLIB_PROFILE", env)
    assert resolve_profile("auto") == env
    assert resolve_profile() == env  # "auto" is the default


def test_auto_without_env_picks_by_cuda(monkeypatch):
    monkeypatch.delenv("GANLIB_PROFILE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_profile("auto") == "quick"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_profile("auto") == "colab"  # a GPU session's profile; full is opt-in


@pytest.mark.parametrize("env", ["", "auto"])
def test_auto_with_empty_or_auto_env_falls_back(env, monkeypatch):
    monkeypatch.setenv("GANLIB_PROFILE", env)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_profile("auto") == "quick"


def test_unknown_profile_raises_listing_valid_names():
    with pytest.raises(ValueError, match="bogus") as info:
        resolve_profile("bogus")
    for name in ("auto", *PROFILES):
        assert name in str(info.value)


def test_bad_env_profile_raises_naming_the_variable(monkeypatch):
    monkeypatch.setenv("GANLIB_PROFILE", "turbo")
    with pytest.raises(ValueError, match="GANLIB_PROFILE") as info:
        resolve_profile("auto")
    assert "turbo" in str(info.value)
    for name in PROFILES:
        assert name in str(info.value)


# --------------------------------------------------------------------------- pick


def test_pick_returns_the_value_of_the_profile(monkeypatch):
    assert pick("smoke", smoke=1, quick=2, colab=4, full=3) == 1
    assert pick("quick", smoke=1, quick=2, colab=4, full=3) == 2
    assert pick("colab", smoke=1, quick=2, colab=4, full=3) == 4
    assert pick("full", smoke=1, quick=2, colab=4, full=3) == 3
    monkeypatch.setenv("GANLIB_PROFILE", "quick")
    assert pick("auto", smoke="a", quick="b", colab="d", full="c") == "b"
    with pytest.raises(TypeError, match="colab"):  # every profile needs its value: none is silently borrowed
        pick("quick", smoke=1, quick=2, full=3)


def test_pick_rejects_unknown_profile():
    with pytest.raises(ValueError, match="choose one of"):
        pick("medium", smoke=1, quick=2, colab=4, full=3)


# --------------------------------------------------------------------------- get_device


def _has_mps() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def test_cpu_is_cpu():
    assert get_device("cpu") == torch.device("cpu")
    assert get_device(" CPU ") == torch.device("cpu")


def test_a_torch_device_passes_through():
    device = torch.device("cpu")
    assert get_device(device) is device


def test_auto_on_a_cpu_machine_is_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    if _has_mps():
        pytest.skip("this machine has MPS, which auto prefers over the CPU")
    assert get_device("auto") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
@pytest.mark.parametrize("name", ["cuda", "cuda:1"])
def test_cuda_without_cuda_raises(name):
    with pytest.raises(ValueError, match="CUDA is not available"):
        get_device(name)


@pytest.mark.parametrize("name", ["tpu", "gpu", "", "cpu0"])
def test_unknown_device_raises_listing_valid_ones(name):
    with pytest.raises(ValueError, match="unknown device") as info:
        get_device(name)
    for valid in config.DEVICES:
        assert valid in str(info.value)


# --------------------------------------------------------------------------- seed_everything


def _draw() -> tuple:
    return torch.randn(5), np.random.rand(5), [random.random() for _ in range(5)]


def test_seed_everything_makes_every_rng_repeat():
    gen1 = seed_everything(1234)
    t1, n1, r1 = _draw()
    g1 = torch.randn(5, generator=gen1)
    gen2 = seed_everything(1234)
    t2, n2, r2 = _draw()
    g2 = torch.randn(5, generator=gen2)
    assert torch.equal(t1, t2)
    assert np.array_equal(n1, n2)
    assert r1 == r2
    assert torch.equal(g1, g2)


def test_seed_everything_different_seeds_differ():
    seed_everything(1)
    a = _draw()
    seed_everything(2)
    b = _draw()
    assert not torch.equal(a[0], b[0])
    assert not np.array_equal(a[1], b[1])
    assert a[2] != b[2]


def test_returned_generator_is_a_cpu_generator_seeded_with_the_seed():
    gen = seed_everything(77)
    assert isinstance(gen, torch.Generator)
    assert gen.device.type == "cpu"
    assert gen.initial_seed() == 77
    assert torch.equal(torch.randn(4, generator=gen), torch.randn(4, generator=torch.Generator().manual_seed(77)))


def test_run_dir_uses_ganlib_runs_else_runs(monkeypatch, tmp_path):
    from ganlib.config import run_dir

    monkeypatch.delenv("GANLIB_RUNS", raising=False)
    assert run_dir("05-cgan") == Path("runs") / "05-cgan"
    monkeypatch.setenv("GANLIB_RUNS", str(tmp_path))
    assert run_dir("05-cgan") == tmp_path / "05-cgan"
    for bad in ("", "a/b", "..", "a\\b"):
        with pytest.raises(ValueError, match="plain folder name"):
            run_dir(bad)
