"""Mutation tests of notebook 01's grading tests (tests/grading/test_01_optimal_discriminator.py), in-process.
How a mutant is graded, and what every list below must satisfy: the harness, tests/support/_mutation.py.
"""

import textwrap

import pytest

from _mutation import define as _define
from _mutation import fill
from _mutation import load_grading_module, mutation_tests

NOTEBOOK = "01_optimal_discriminator"
EXERCISES = ("optimal_discriminator", "js_divergence", "generator_gradients", "best_gaussian")
grading = load_grading_module(NOTEBOOK)
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # wrong answers divide by zero on purpose


# ---------------------------------------------------------------------------------------------
# The mutants: {id: (exercise function, source that redefines it)}
# ---------------------------------------------------------------------------------------------


def _given(lines, body):
    """The exercise's given first lines (outside the solution markers), then ``body``."""
    return textwrap.dedent(lines).strip("\n") + "\n" + textwrap.dedent(body).strip("\n")


def _d_star(body, prelude=""):
    given = """
        p_data = np.asarray(p_data, dtype=np.float64)
        p_g = np.asarray(p_g, dtype=np.float64)
    """
    return "optimal_discriminator", _define("def optimal_discriminator(p_data, p_g):\n", _given(given, body), prelude)


def _jsd(body, prelude=""):
    given = "p, q, x = (np.asarray(a, dtype=np.float64) for a in (p, q, x))"
    return "js_divergence", _define("def js_divergence(p, q, x):\n", _given(given, body), prelude)


JSD = """
m = {m}

def kl_to_m(r):
    ratio = np.divide(r, m, out=np.ones_like(r), where=r > 0)  # 1 where r = 0: 0 log 0 = 0
    return {integral}

return {combine}
"""
JSD_SOLUTION = dict(m="0.5 * (p + q)", integral="np.trapezoid(r * np.log(ratio), x)",
                    combine="0.5 * kl_to_m(p) + 0.5 * kl_to_m(q)")


def _jsd_with(**change):
    """A correct JSD (written unlike the solution) with the parts named in ``change`` replaced."""
    return _jsd(fill(JSD, JSD_SOLUTION, change))


def _grads(body, prelude=""):
    return "generator_gradients", _define("def generator_gradients(logits):\n", body, prelude)


GRADS = """
t = {t}
saturating = {saturating}
nonsaturating = {nonsaturating}
(grad_sat,) = torch.autograd.grad({sat_total}, t{options})
(grad_nonsat,) = torch.autograd.grad({nonsat_total}, t{options})
return {result}
"""
GRADS_SOLUTION = dict(t="logits.detach().clone().requires_grad_(True)", saturating="F.logsigmoid(-t)",
                      nonsaturating="-F.logsigmoid(t)", sat_total="saturating.sum()",
                      nonsat_total="nonsaturating.sum()", options="", result="grad_sat.detach(), grad_nonsat.detach()")


def _grads_with(**change):
    """The solution's generator_gradients with the parts named in ``change`` replaced."""
    return _grads(fill(GRADS, GRADS_SOLUTION, change))


def _fit(body, prelude=""):
    return "best_gaussian", _define("def best_gaussian(p, x, divergence, mus, sigmas):\n", body,
                                    "import numpy as np\nfrom ganlib.theory import gaussian_pdf\n" + prelude)


FIT = """
best = (float("nan"), float("nan"), {start})
for mu in {mus}:
    for sigma in {sigmas}:
        value = float(divergence({first}, {second}, x))
        if {better}:
            best = {keep}
return {result}
"""
FIT_SOLUTION = dict(start='float("inf")', mus="mus", sigmas="sigmas", first="p", second="gaussian_pdf(x, mu, sigma)",
                    better="value < best[2]", keep="(float(mu), float(sigma), value)", result="best")


def _fit_with(**change):
    """The solution's best_gaussian with the parts named in ``change`` replaced."""
    return _fit(fill(FIT, FIT_SOLUTION, change))


MUTANTS = {
    # Exercise 1: optimal_discriminator
    "dstar-returns-none": _d_star("return None"),
    "dstar-returns-p-data": _d_star("return p_data"),
    "dstar-one-half": _d_star("return np.full_like(p_data, 0.5)"),
    "dstar-zeros": _d_star("return np.zeros_like(p_data)"),
    "dstar-swapped": _d_star("""
        total = p_data + p_g
        return np.divide(p_g, total, out=np.full_like(total, 0.5), where=total > 0)
    """),
    "dstar-likelihood-ratio": _d_star("return np.divide(p_data, p_g, out=np.full_like(p_g, 0.5), where=p_g > 0)"),
    "dstar-no-guard": _d_star("return p_data / (p_data + p_g)"),
    "dstar-nan-to-zero": _d_star("""
        total = p_data + p_g
        return np.divide(p_data, total, out=np.zeros_like(total), where=total > 0)
    """),
    "dstar-epsilon": _d_star("return p_data / (p_data + p_g + 1e-8)"),
    "dstar-epsilon-both": _d_star("return (p_data + 1e-8) / (p_data + p_g + 2e-8)"),
    "dstar-clipped": _d_star("""
        total = p_data + p_g
        return np.clip(np.divide(p_data, total, out=np.full_like(total, 0.5), where=total > 0), 1e-7, 1 - 1e-7)
    """),
    "dstar-float32": _d_star("""
        total = p_data + p_g
        return np.divide(p_data, total, out=np.full_like(total, 0.5), where=total > 0).astype(np.float32)
    """),
    "dstar-flattened": _d_star("""
        total = (p_data + p_g).ravel()
        return np.divide(p_data.ravel(), total, out=np.full_like(total, 0.5), where=total > 0)
    """),
    "dstar-in-place": _d_star("""
        total = p_data + p_g
        np.divide(p_data, total, out=p_data, where=total > 0)
        p_data[total == 0] = 0.5
        return p_data
    """),
    "dstar-sigmoid-of-difference": _d_star("return 1 / (1 + np.exp(-(p_data - p_g)))"),
    "dstar-ganlib-from-import": _d_star("return _reference(p_data, p_g)",
                                        "from ganlib.theory import optimal_discriminator as _reference\n"),
    "dstar-ganlib-module-chain": _d_star("return ganlib.theory.optimal_discriminator(p_data, p_g)",
                                         "import ganlib\n"),
    "dstar-ganlib-module-alias": _d_star("return th.optimal_discriminator(p_data, p_g)",
                                         "from ganlib import theory as th\n"),
    "dstar-ganlib-import-inside": _d_star("""
        from ganlib.theory import optimal_discriminator as reference
        return reference(p_data, p_g)
    """),
    "dstar-ganlib-swallowed": _d_star("""
        try:
            return theory.optimal_discriminator(p_data, p_g)
        except Exception:
            total = p_data + p_g
            return np.divide(p_data, total, out=np.full_like(total, 0.5), where=total > 0)
    """, "from ganlib import theory\n"),
    # Exercise 2: js_divergence
    "jsd-returns-none": _jsd("return None"),
    "jsd-zero": _jsd("return 0.0"),
    "jsd-log2": _jsd("return float(np.log(2))"),
    "jsd-one-kl-only": _jsd_with(combine="kl_to_m(p)"),
    "jsd-no-halves": _jsd_with(combine="kl_to_m(p) + kl_to_m(q)"),
    "jsd-mean-of-the-two-densities-forgotten": _jsd_with(m="p + q"),
    "jsd-in-bits": _jsd_with(combine="(0.5 * kl_to_m(p) + 0.5 * kl_to_m(q)) / np.log(2)"),
    "jsd-riemann-sum": _jsd_with(integral="np.sum(r * np.log(ratio)) * (x[1] - x[0])"),
    "jsd-trapezoid-without-grid": _jsd_with(integral="np.trapezoid(r * np.log(ratio))"),
    "jsd-left-riemann-sum": _jsd_with(integral="np.sum((r * np.log(ratio))[:-1] * np.diff(x))"),
    "jsd-symmetrised-kl": _jsd("""
        def kl(a, b):
            ratio = np.divide(a, b, out=np.ones_like(a), where=a > 0)
            return np.trapezoid(a * np.log(ratio), x)

        return 0.5 * kl(p, q) + 0.5 * kl(q, p)
    """),
    "jsd-kl-reversed": _jsd("""
        m = 0.5 * (p + q)

        def kl_from_m(r):
            ratio = np.divide(m, r, out=np.ones_like(r), where=m > 0)
            return np.trapezoid(m * np.log(ratio), x)

        return 0.5 * kl_from_m(p) + 0.5 * kl_from_m(q)
    """),
    "jsd-no-zero-log-zero": _jsd("""
        m = 0.5 * (p + q)
        return 0.5 * np.trapezoid(p * np.log(p / m), x) + 0.5 * np.trapezoid(q * np.log(q / m), x)
    """),
    "jsd-epsilon-in-the-log": _jsd("""
        m = 0.5 * (p + q)
        kl = lambda r: np.trapezoid(r * np.log((r + 1e-8) / (m + 1e-8)), x)
        return 0.5 * kl(p) + 0.5 * kl(q)
    """),
    "jsd-entropy-form-without-halves": _jsd("""
        m = 0.5 * (p + q)
        h = lambda r: -np.trapezoid(special.xlogy(r, r), x)
        return h(m) - h(p) - h(q)
    """, "from scipy import special\n"),
    "jsd-renormalised-densities": _jsd("""
        p, q = p / p.sum(), q / q.sum()  # as probability vectors: forgets the grid
        m = 0.5 * (p + q)
        kl = lambda r: np.sum(special.rel_entr(r, m))
        return 0.5 * kl(p) + 0.5 * kl(q)
    """, "from scipy import special\n"),
    "jsd-ganlib-from-import": _jsd("return _reference(p, q, x)",
                                   "from ganlib.theory import js_divergence as _reference\n"),
    "jsd-ganlib-module-chain": _jsd("return ganlib.theory.js_divergence(p, q, x)", "import ganlib.theory\n"),
    "jsd-ganlib-module-alias": _jsd("return th.js_divergence(p, q, x)", "import ganlib.theory as th\n"),
    "jsd-ganlib-kl": _jsd("""
        m = 0.5 * (p + q)
        return 0.5 * theory.kl_divergence(p, m, x) + 0.5 * theory.kl_divergence(q, m, x)
    """, "from ganlib import theory\n"),
    "jsd-ganlib-optimal-value": _jsd("return (theory.optimal_value(p, q, x) + np.log(4)) / 2",
                                     "from ganlib import theory\n"),
    "jsd-ganlib-value-at-d-star": _jsd("""
        total = p + q
        d = np.divide(p, total, out=np.full_like(total, 0.5), where=total > 0)
        with np.errstate(all="ignore"):
            return (theory.value_function(d, p, q, x) + np.log(4)) / 2
    """, "from ganlib import theory\n"),
    "jsd-ganlib-swallowed": _jsd("""
        try:
            return theory.js_divergence(p, q, x)
        except Exception:
            m = 0.5 * (p + q)
            kl = lambda r: np.trapezoid(special.rel_entr(r, m), x)
            return 0.5 * kl(p) + 0.5 * kl(q)
    """, "from ganlib import theory\nfrom scipy import special\n"),
    # Exercise 3: generator_gradients
    "grads-returns-none": _grads("return None"),
    "grads-returns-the-logits": _grads("return logits, logits"),
    "grads-zeros": _grads("return torch.zeros_like(logits), torch.zeros_like(logits)"),
    "grads-minus-one-and-zero": _grads("return torch.zeros_like(logits), -torch.ones_like(logits)"),
    "grads-swapped": _grads_with(result="grad_nonsat.detach(), grad_sat.detach()"),
    "grads-saturating-sign": _grads_with(saturating="-F.logsigmoid(-t)"),
    "grads-nonsaturating-sign": _grads_with(nonsaturating="F.logsigmoid(t)"),
    "grads-saturating-wrong-identity": _grads_with(saturating="F.logsigmoid(t)"),
    "grads-nonsaturating-of-minus-t": _grads_with(nonsaturating="-F.logsigmoid(-t)"),
    "grads-naive-saturating": _grads_with(saturating="torch.log(1 - torch.sigmoid(t))"),
    "grads-naive-nonsaturating": _grads_with(nonsaturating="-torch.log(torch.sigmoid(t))"),
    "grads-means": _grads_with(sat_total="saturating.mean()", nonsat_total="nonsaturating.mean()"),
    "grads-graph-kept": _grads_with(options=", create_graph=True", result="grad_sat, grad_nonsat"),
    "grads-of-the-input-itself": _grads_with(t="logits.requires_grad_(True)"),
    "grads-input-accumulates": _grads("""
        t = logits if logits.requires_grad else logits.detach().clone().requires_grad_(True)
        F.logsigmoid(-t).sum().backward(retain_graph=True)
        grad_sat = t.grad.clone()
        t.grad = None
        (-F.logsigmoid(t)).sum().backward()
        return grad_sat, t.grad.clone()
    """),
    "grads-flattened": _grads_with(t="logits.detach().flatten().clone().requires_grad_(True)"),
    "grads-with-respect-to-d": _grads("""
        d = torch.sigmoid(logits.detach())  # derivatives in D(G(z)), not in the logit
        return -1 / (1 - d), -1 / d
    """),
    "grads-float32": _grads_with(result="grad_sat.detach().float(), grad_nonsat.detach().float()"),
    "grads-ganlib-losses": _grads("""
        t = logits.detach().clone().requires_grad_(True)
        (grad_sat,) = torch.autograd.grad(losses.generator_loss_saturating(t) * t.numel(), t)
        (grad_nonsat,) = torch.autograd.grad(losses.generator_loss_nonsaturating(t) * t.numel(), t)
        return grad_sat, grad_nonsat
    """, "from ganlib import losses\n"),
    "grads-ganlib-from-import": _grads("""
        t = logits.detach().clone().requires_grad_(True)
        (grad_sat,) = torch.autograd.grad(_sat(t) * t.numel(), t)
        (grad_nonsat,) = torch.autograd.grad(_nonsat(t) * t.numel(), t)
        return grad_sat, grad_nonsat
    """, "from ganlib.losses import generator_loss_nonsaturating as _nonsat, generator_loss_saturating as _sat\n"),
    "grads-ganlib-module-chain": _grads("""
        t = logits.detach().clone().requires_grad_(True)
        (grad_nonsat,) = torch.autograd.grad(ganlib.losses.generator_loss_nonsaturating(t) * t.numel(), t)
        return -1 - grad_nonsat, grad_nonsat  # -sigmoid(t) = -1 + (1 - sigmoid(t))
    """, "import ganlib.losses\n"),
    "grads-ganlib-swallowed": _grads("""
        t = logits.detach().clone().requires_grad_(True)
        try:
            loss = losses.generator_loss_nonsaturating(t) * t.numel()
        except Exception:
            loss = -F.logsigmoid(t).sum()
        (grad_nonsat,) = torch.autograd.grad(loss, t)
        return -torch.sigmoid(t.detach()), grad_nonsat
    """, "from ganlib import losses\n"),
    # Exercise 4: best_gaussian
    "fit-returns-none": _fit("return None"),
    "fit-constant": _fit("return 0.0, 1.0, 0.0"),
    "fit-first-candidate": _fit("return float(mus[0]), float(sigmas[0]), float(divergence(p, gaussian_pdf(x, mus[0], sigmas[0]), x))"),
    "fit-argmax": _fit_with(start='-float("inf")', better="value > best[2]"),
    "fit-arguments-swapped": _fit_with(first="gaussian_pdf(x, mu, sigma)", second="p"),
    "fit-sigma-as-variance": _fit_with(second="gaussian_pdf(x, mu, np.sqrt(sigma))"),
    "fit-unnormalised-density": _fit_with(second="np.exp(-0.5 * ((x - mu) / sigma) ** 2)"),
    "fit-mu-and-sigma-swapped": _fit_with(result="best[1], best[0], best[2]"),
    "fit-zipped-grid": _fit("""
        best = (float("nan"), float("nan"), float("inf"))
        for mu, sigma in zip(mus, sigmas):
            value = float(divergence(p, gaussian_pdf(x, mu, sigma), x))
            if value < best[2]:
                best = (float(mu), float(sigma), value)
        return best
    """),
    "fit-last-of-ties": _fit_with(better="value <= best[2]"),
    "fit-indices": _fit("""
        values = np.array([[divergence(p, gaussian_pdf(x, mu, sigma), x) for sigma in sigmas] for mu in mus])
        i, j = np.unravel_index(np.argmin(values), values.shape)
        return float(i), float(j), float(values[i, j])
    """),
    "fit-last-value": _fit_with(result="best[0], best[1], value"),
    "fit-grid-transposed": _fit("""
        values = np.array([[divergence(p, gaussian_pdf(x, mu, sigma), x) for sigma in sigmas] for mu in mus])
        i, j = np.unravel_index(np.argmin(values), values.T.shape)  # the shape of the wrong axis order
        return float(mus[i]), float(sigmas[j]), float(values[i, j])
    """),
    "fit-moment-matching": _fit("""
        mean = np.trapezoid(x * p, x)  # fits the mean and std of p, whatever the divergence
        std = np.sqrt(np.trapezoid((x - mean) ** 2 * p, x))
        mu = mus[np.argmin(np.abs(np.asarray(mus) - mean))]
        sigma = sigmas[np.argmin(np.abs(np.asarray(sigmas) - std))]
        return float(mu), float(sigma), float(divergence(p, gaussian_pdf(x, mu, sigma), x))
    """),
    "fit-ganlib-from-import": _fit("return _reference(p, x, divergence, mus, sigmas)",
                                   "from ganlib.theory import best_gaussian as _reference\n"),
    "fit-ganlib-module-chain": _fit("return ganlib.theory.best_gaussian(p, x, divergence, mus, sigmas)",
                                    "import ganlib.theory\n"),
    "fit-ganlib-module-alias": _fit("return th.best_gaussian(p, x, divergence, mus, sigmas)",
                                    "from ganlib import theory as th\n"),
    "fit-ganlib-swallowed": _fit("""
        try:
            return theory.best_gaussian(p, x, divergence, mus, sigmas)
        except Exception:
            return min(((float(m), float(s), float(divergence(p, gaussian_pdf(x, m, s), x))) for m in mus for s in sigmas),
                       key=lambda t: t[2])
    """, "from ganlib import theory\n"),
}

# mutants that look wrong but compute what the solution computes: skipped in the score, and checked to
# keep every point (so the claim stays true)
EQUIVALENT = {
    "jsd-entropy-form": "JSD = H(m) - (H(p) + H(q)) / 2 is the same sum of x log x terms regrouped, by the "
                        "trapezoid rule on the same grid; the rounding stays below 1e-12",
    "grads-nonsaturating-as-one-minus-sigmoid": "-(1 - sigmoid(t)) in float64 loses only about 1e-16 absolutely "
                                                "to cancellation, far below the tests' atol 1e-12 (and in float32, "
                                                "at t = +-50, both forms round to the same values)",
}
MUTANTS.update({
    "jsd-entropy-form": _jsd("""
        m = 0.5 * (p + q)
        h = lambda r: -np.trapezoid(special.xlogy(r, r), x)
        return h(m) - 0.5 * h(p) - 0.5 * h(q)
    """, "from scipy import special\n"),
    "grads-nonsaturating-as-one-minus-sigmoid": _grads("""
        t = logits.detach()
        return -torch.sigmoid(t), -(1 - torch.sigmoid(t))
    """),
})

# correct answers written otherwise than the solution: they must keep every point
ALTERNATIVES = {
    "dstar-where-with-safe-denominator": _d_star("""
        total = p_data + p_g
        safe = np.where(total > 0, total, 1.0)
        return np.where(total > 0, p_data / safe, 0.5)
    """),
    "dstar-nan-to-num": _d_star("""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.nan_to_num(p_data / (p_data + p_g), nan=0.5)
    """),
    "dstar-centred": _d_star("""
        total = p_data + p_g
        return 0.5 + 0.5 * (p_data - p_g) / np.where(total > 0, total, 1.0)
    """),
    "jsd-rel-entr": _jsd("""
        m = 0.5 * (p + q)
        return 0.5 * np.trapezoid(special.rel_entr(p, m), x) + 0.5 * np.trapezoid(special.rel_entr(q, m), x)
    """, "from scipy import special\n"),
    "jsd-xlogy-and-spacing": _jsd("""
        m = 0.5 * (p + q)
        dx = x[1] - x[0]  # an evenly spaced grid
        kl = lambda r: np.trapezoid(special.xlogy(r, r) - special.xlogy(r, np.where(r > 0, m, 1.0)), dx=dx)
        return (kl(p) + kl(q)) / 2
    """, "from scipy import special\n"),
    "jsd-masked-sums": _jsd("""
        m = (p + q) / 2
        total = 0.0
        for r in (p, q):
            f = np.zeros_like(r)
            mask = r > 0
            f[mask] = r[mask] * np.log(r[mask] / m[mask])
            total += 0.5 * np.sum((f[1:] + f[:-1]) / 2 * np.diff(x))
        return total
    """),
    "grads-softplus-one-backward": _grads("""
        t = logits.detach().clone().requires_grad_(True)
        u = logits.detach().clone().requires_grad_(True)
        (-F.softplus(t).sum() + F.softplus(-u).sum()).backward()
        return t.grad, u.grad
    """),
    "grads-functional": _grads("""
        t = logits.detach()
        sat = torch.func.grad(lambda v: -F.softplus(v).sum())(t)
        nonsat = torch.func.grad(lambda v: F.softplus(-v).sum())(t)
        return sat, nonsat
    """),
    "grads-closed-forms": _grads("""
        t = logits.detach()
        return -torch.sigmoid(t), -torch.sigmoid(-t)  # the derivatives, by hand
    """),
    "fit-min-with-key": _fit("""
        candidates = ((float(mu), float(sigma)) for mu in mus for sigma in sigmas)
        scored = ((mu, sigma, float(divergence(p, gaussian_pdf(x, mu, sigma), x))) for mu, sigma in candidates)
        return min(scored, key=lambda t: t[2])  # min keeps the first of equal keys
    """),
    "fit-argmin-of-a-table": _fit("""
        values = np.array([[divergence(p, gaussian_pdf(x, mu, sigma), x) for sigma in sigmas] for mu in mus])
        i, j = np.unravel_index(np.argmin(values), values.shape)  # argmin: the first minimum, row-major
        return float(mus[i]), float(sigmas[j]), float(values[i, j])
    """),
    "fit-scipy-density": _fit("""
        best = None
        for mu in mus:
            for sigma in sigmas:
                value = divergence(p, stats.norm.pdf(x, loc=mu, scale=sigma), x)
                if best is None or value < best[2]:
                    best = (float(mu), float(sigma), float(value))
        return best
    """, "from scipy import stats\n"),
}

# answers that call ganlib's reference: they must lose every point of their exercise (DESIGN: an exercise
# answered by calling the ganlib function it asks for earns nothing)
DELEGATING = [m for m in MUTANTS if "-ganlib-" in m]

# a no-op or a constant: must lose every point of its exercise too (issue 11: no test may pass a no-op)
EARNS_NOTHING = ["dstar-returns-none", "dstar-returns-p-data", "dstar-one-half", "dstar-zeros", "jsd-returns-none",
                 "jsd-zero", "jsd-log2", "grads-returns-none", "grads-returns-the-logits", "grads-zeros",
                 "grads-minus-one-and-zero", "fit-returns-none", "fit-constant"]


# ---------------------------------------------------------------------------------------------
# The tests: the harness's generic ones (tests/support/_mutation.py), then this notebook's own
# ---------------------------------------------------------------------------------------------

HARNESS = mutation_tests(
    notebook=NOTEBOOK, grading=grading, exercises=EXERCISES, mutants=MUTANTS, equivalent=EQUIVALENT,
    alternatives=ALTERNATIVES, delegating=DELEGATING, earns_nothing=EARNS_NOTHING, min_delegating=12,
    min_mutants=12, count_equivalent=False, min_alternatives=3, min_points=4)
globals().update(HARNESS.tests)
