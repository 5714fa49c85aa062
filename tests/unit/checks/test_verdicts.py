"""Verdicts with a noise yardstick (ganlib.checks): effects, their noise, and the four outcomes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganlib import checks
from ganlib.checks import Effect, bootstrap, judge_at, seeds_differ, seeds_exceed, verdict


@pytest.fixture(autouse=True)
def _judge_everything():
    """judge_at keeps module state (a notebook sets it once); every test starts and ends with none set."""
    checks._judging.update(profile=None, minimum="quick")
    yield
    checks._judging.update(profile=None, minimum="quick")


def test_seeds_differ_is_the_difference_of_means_with_two_welch_standard_errors():
    a, b = [1.0, 2.0, 3.0], [0.0, 0.5, 1.0]
    effect = seeds_differ(a, b)
    se = math.sqrt(np.var(a, ddof=1) / 3 + np.var(b, ddof=1) / 3)  # sqrt(1/3 + 0.25/3)
    assert effect.value == pytest.approx(1.5)
    assert effect.noise == pytest.approx(2 * se) and effect.noise == pytest.approx(1.2910, abs=1e-4)
    assert effect.outcome == "held" and effect.yardstick == "2 SE over 3 seeds"
    assert seeds_differ(b, a).outcome == "not held"  # the same gap, claimed the other way
    assert seeds_differ([1.0, 2.0], [1.5, 1.4]).outcome == "within noise"
    assert seeds_differ(a, b, k=3.0).noise == pytest.approx(3 * se)


def test_seeds_exceed_compares_a_mean_over_seeds_with_a_threshold():
    effect = seeds_exceed([0.60, 0.70, 0.65], threshold=0.5)
    assert effect.value == pytest.approx(0.15)
    assert effect.noise == pytest.approx(2 * 0.05 / math.sqrt(3))
    assert effect.outcome == "held"
    assert seeds_exceed([0.60, 0.70, 0.65], threshold=0.64).outcome == "within noise"


@pytest.mark.parametrize("values", [[0.5], [], [1.0, float("nan")]])
def test_a_noise_across_seeds_needs_two_finite_seeds(values):
    with pytest.raises(ValueError, match="at least two seeds|non-finite"):
        seeds_differ(values, [1.0, 2.0])


def test_an_effect_refuses_a_negative_or_non_finite_noise():
    with pytest.raises(ValueError, match="finite noise >= 0"):
        Effect(1.0, -0.1, "by hand")
    with pytest.raises(ValueError):
        Effect(float("inf"), 0.1, "by hand")


def test_the_bootstrap_interval_of_a_mean_matches_the_normal_theory_width():
    x = torch.randn(2000, generator=torch.Generator().manual_seed(0))
    effect = bootstrap(lambda s: s.mean(), x)
    half_width = 1.96 * float(x.std()) / math.sqrt(len(x))  # the 95 % interval of a mean, normal theory
    assert effect.value == pytest.approx(float(x.mean()))
    assert effect.noise == pytest.approx(half_width, rel=0.15)
    assert bootstrap(lambda s: s.mean(), x) == effect  # its seed makes it repeat
    shifted = bootstrap(lambda s: s.mean(), x + 0.2)  # mean 0.2, far more than the interval's width
    assert shifted.outcome == "held" and bootstrap(lambda s: s.mean(), x + 0.2, threshold=0.4).outcome == "not held"


def test_the_bootstrap_resamples_each_sample_on_its_own():
    a = np.zeros(50)
    b = np.arange(50, dtype=float)
    effect = bootstrap(lambda p, q: q.mean() - p.mean(), a, b, threshold=20.0)
    assert effect.value == pytest.approx(24.5 - 20.0)
    spread = 1.96 * np.std(b, ddof=1) / math.sqrt(50)  # a stays all zeros: only b's resampling moves it
    assert effect.noise == pytest.approx(spread, rel=0.25)
    with pytest.raises(ValueError, match="at least two items"):
        bootstrap(np.mean, np.zeros(1))


def test_a_measured_verdict_prints_its_outcome_effect_and_the_reading_for_that_outcome(capsys):
    got = verdict("A beats B", seeds_differ([1.0, 2.0, 3.0], [0.0, 0.5, 1.0]), "2.00 vs 0.50",
                  if_held="A's rule helps at this budget", if_within_noise="cannot tell at this budget")
    assert got and got.outcome == "held" and got.effect.value == pytest.approx(1.5)
    noisy = verdict("C beats D", seeds_differ([1.0, 2.0], [1.5, 1.4]), if_held="unused",
                    if_within_noise="two seeds cannot resolve a gap this small")
    assert not noisy and noisy.outcome == "within noise"
    assert capsys.readouterr().out.splitlines() == [
        "VERDICT held: A beats B (effect +1.5 ± 1.29, 2 SE over 3 seeds; 2.00 vs 0.50)",
        "    A's rule helps at this budget",
        "VERDICT within noise: C beats D (effect +0.05 ± 1, 2 SE over 2 seeds)",
        "    two seeds cannot resolve a gap this small",
    ]


def test_smoke_runs_and_runs_under_a_stated_minimum_are_not_judged(capsys):
    assert judge_at("smoke") == "smoke"
    strong = Effect(10.0, 0.1, "by hand")
    assert verdict("a strong effect", strong).outcome == "not judged"
    assert verdict("an exact fact", True).outcome == "not judged"
    judge_at("quick")
    assert verdict("a strong effect", strong).outcome == "held"
    assert verdict("a strong effect", strong, judged=False).outcome == "not judged"  # the notebook's own minimum
    judge_at("quick", minimum="colab")
    assert verdict("a strong effect", strong).outcome == "not judged"
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "VERDICT not judged: a strong effect (effect +10 ± 0.1, by hand)"
    assert lines[1] == "    " + checks.NOT_JUDGED_MEANS
    assert not any(line.startswith("VERDICT held") for line in lines[:4])
    with pytest.raises(ValueError, match="unknown profile 'tiny'"):
        judge_at("tiny")


def test_a_bool_verdict_is_for_claims_without_noise(capsys):
    assert verdict("exact", np.bool_(True)).outcome == "held"
    assert verdict("exact", torch.tensor(False)).outcome == "not held"
    assert capsys.readouterr().out.splitlines() == ["VERDICT held: exact", "VERDICT not held here: exact"]
