"""Mutation tests of notebook 07's grading tests (tests/grading/test_07_evaluation_is_fid.py), in-process.
How a mutant is graded, and what every list below must satisfy: the harness, tests/support/_mutation.py.
"""

import pytest

from _mutation import define as _define
from _mutation import fill
from _mutation import load_grading_module, mutation_tests

NOTEBOOK = "07_evaluation_is_fid"
EXERCISES = ("inception_score", "gaussian_stats", "frechet_distance", "kid", "manifold_precision", "truncated_normal")
grading = load_grading_module(NOTEBOOK)
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning")


# ---------------------------------------------------------------------------------------------
# The mutants: {id: (exercise function, source that redefines it)}
# ---------------------------------------------------------------------------------------------

NP = "import numpy as np\n"
TORCH = "import numpy as np\nimport torch\n"


def _is_source(body, prelude=NP):
    return "inception_score", _define("def inception_score(probs):\n", body, prelude)


IS = """
p = np.asarray(probs, dtype={dtype})
p_y = {marginal}
with np.errstate(divide="ignore", invalid="ignore"):
    log_ratio = np.where(p > 0, {log_ratio}, 0.0)
kl = {kl}
return {result}
"""
IS_SOLUTION = dict(dtype="np.float64", marginal="p.mean(axis=0, keepdims=True)", log_ratio="np.log(p) - np.log(p_y)",
                   kl="(p * log_ratio).sum(axis=1)", result="float(np.exp(kl.mean()))")


def _is(**change):
    """The solution's inception_score with the parts named in ``change`` replaced."""
    return _is_source(fill(IS, IS_SOLUTION, change))


def _gs_source(body, prelude=NP):
    return "gaussian_stats", _define("def gaussian_stats(features):\n", body, prelude)


GS = """
x = np.asarray(features, dtype={dtype})
mu = {mu}
sigma = {sigma}
return {result}
"""
GS_SOLUTION = dict(dtype="np.float64", mu="x.mean(axis=0)", sigma="np.atleast_2d(np.cov(x, rowvar=False))",
                   result="mu, sigma")


def _gs(**change):
    return _gs_source(fill(GS, GS_SOLUTION, change))


def _fd_source(body, prelude=NP):
    return "frechet_distance", _define("def frechet_distance(mu1, sigma1, mu2, sigma2):\n", body, prelude)


FD = """
mu1, mu2 = np.asarray(mu1, dtype={dtype}), np.asarray(mu2, dtype={dtype})
sigma1, sigma2 = np.asarray(sigma1, dtype={dtype}), np.asarray(sigma2, dtype={dtype})
diff = mu1 - mu2
eigenvalues = np.linalg.eigvals({product})
tr_sqrt = {tr_sqrt}
return {result}
"""
FD_SOLUTION = dict(dtype="np.float64", product="sigma1 @ sigma2",
                   tr_sqrt="np.sqrt(np.clip(eigenvalues.real, 0.0, None)).sum()",
                   result="float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_sqrt)")


def _fd(prelude=NP, **change):
    return _fd_source(fill(FD, FD_SOLUTION, change), prelude)


def _kid_source(body, prelude=NP, header="def kid(real_feats, fake_feats):\n"):
    return "kid", _define(header, body, prelude)


KID = """
x = np.asarray(real_feats, dtype={dtype})
y = np.asarray(fake_feats, dtype={dtype})
m, n, d = len(x), len(y), x.shape[1]
k = lambda a, b: {kernel}
k_xx, k_yy, k_xy = k(x, x), k(y, y), k(x, y)
xx = {xx}
yy = {yy}
return {result}
"""
KID_SOLUTION = dict(dtype="np.float64", kernel="(a @ b.T / d + 1.0) ** 3",
                    xx="(k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))",
                    yy="(k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))",
                    result="float(xx + yy - 2.0 * k_xy.mean())")


def _kid(**change):
    return _kid_source(fill(KID, KID_SOLUTION, change))


def _mp_source(body, prelude=TORCH, defaults="k=3"):
    header = f"def manifold_precision(real_feats, fake_feats, {defaults}):\n"
    return "manifold_precision", _define(header, body, prelude)


MP = """
real = torch.as_tensor(np.asarray(real_feats, dtype=np.float64))
fake = torch.as_tensor(np.asarray(fake_feats, dtype=np.float64))
radii = {radii}
inside = {inside}
return {result}
"""
MP_SOLUTION = dict(radii="torch.cdist(real, real).kthvalue(k + 1, dim=1).values",
                   inside="(torch.cdist(fake, real) <= radii[None, :]).any(dim=1)",
                   result="float(inside.double().mean())")


def _mp(**change):
    return _mp_source(fill(MP, MP_SOLUTION, change))


def _tn_source(body, prelude="import torch\n"):
    return "truncated_normal", _define("def truncated_normal(n, dim, psi, generator=None):\n", body, prelude)


TN = """
z = {first}
outside = {outside}
while outside.any():
    z[outside] = {redraw}
    outside = {outside}
return {result}
"""
TN_SOLUTION = dict(first="torch.randn(n, dim, generator=generator)", outside="z.abs() > psi",
                   redraw="torch.randn(int(outside.sum()), generator=generator)", result="z")


def _tn(**change):
    return _tn_source(fill(TN, TN_SOLUTION, change))


MUTANTS = {
    # Exercise 1: inception_score
    "is-returns-none": _is_source("return None"),
    "is-constant-one": _is_source("return 1.0"),
    "is-constant-k": _is_source("return float(np.shape(probs)[1])"),
    "is-marginal-over-classes": _is(marginal="p.mean(axis=1, keepdims=True)"),
    "is-marginal-summed": _is(marginal="p.sum(axis=0, keepdims=True)"),
    "is-marginal-uniform": _is(marginal="np.full((1, p.shape[1]), 1.0 / p.shape[1])"),
    "is-marginal-of-the-first-image": _is(marginal="p[:1]"),
    "is-exp-missing": _is(result="float(kl.mean())"),
    "is-exp-of-the-sum": _is(result="float(np.exp(kl.sum()))"),
    "is-mean-of-exp": _is(result="float(np.exp(kl).mean())"),
    "is-kl-summed-over-images": _is(kl="(p * log_ratio).sum(axis=0)"),
    "is-kl-without-weights": _is(kl="log_ratio.sum(axis=1)"),
    "is-kl-reversed": _is(log_ratio="np.log(p_y) - np.log(p)"),
    "is-log2": _is(log_ratio="np.log2(p) - np.log2(p_y)"),
    "is-log10": _is(log_ratio="np.log10(p) - np.log10(p_y)"),
    "is-zero-probabilities-give-nan": _is(kl="(p * (np.log(p) - np.log(p_y))).sum(axis=1)"),
    "is-sharpness-only": _is(log_ratio="np.log(p)"),
    "is-diversity-only": _is(result="float(np.exp(-(p_y * np.log(np.where(p_y > 0, p_y, 1.0))).sum()))"),
    "is-float32": _is(dtype="np.float32"),
    "is-ten-splits": _is_source("""
        scores = []
        for part in np.array_split(np.asarray(probs, dtype=np.float64), 10):
            p_y = part.mean(axis=0)
            with np.errstate(divide="ignore", invalid="ignore"):
                kl = (part * np.where(part > 0, np.log(part) - np.log(p_y), 0.0)).sum(axis=1)
            scores.append(np.exp(kl.mean()))
        return float(np.mean(scores))
    """),
    "is-softmax-of-the-probabilities": _is_source("""
        logits = np.asarray(probs, dtype=np.float64)
        p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)  # the rows are probabilities already
        log_ratio = np.log(np.where(p > 0, p, 1.0)) - np.log(np.where(p > 0, p.mean(axis=0), 1.0))
        return float(np.exp((p * log_ratio).sum(axis=1).mean()))
    """),
    "is-ganlib-from-import": _is_source("return _is(probs, splits=1)[0]",
                                        "from ganlib.metrics import inception_score as _is\n"),
    "is-ganlib-module-chain": _is_source("return ganlib.metrics.inception_score(probs, 1)[0]",
                                         "import ganlib.metrics\n"),
    "is-ganlib-module-alias": _is_source("return m.inception_score(probs, splits=1)[0]",
                                         "from ganlib import metrics as m\n"),
    "is-ganlib-import-inside": _is_source("""
        from ganlib.metrics import inception_score as reference
        return reference(probs, splits=1)[0]
    """),
    "is-ganlib-swallowed": _is_source("""
        try:
            return metrics.inception_score(probs, splits=1)[0]
        except Exception:
            p = np.asarray(probs, dtype=np.float64)
            log_ratio = np.log(np.where(p > 0, p, 1.0)) - np.log(np.where(p > 0, p.mean(axis=0), 1.0))
            return float(np.exp((p * log_ratio).sum(axis=1).mean()))
    """, "import numpy as np\nfrom ganlib import metrics\n"),
    # Exercise 2: gaussian_stats
    "gs-returns-none": _gs_source("return None"),
    "gs-zeros": _gs_source("d = np.shape(features)[1]\nreturn np.zeros(d), np.zeros((d, d))"),
    "gs-standard-normal": _gs_source("d = np.shape(features)[1]\nreturn np.zeros(d), np.eye(d)"),
    "gs-biased-covariance": _gs(sigma="np.cov(x, rowvar=False, bias=True)"),
    "gs-ddof-2": _gs(sigma="np.cov(x, rowvar=False, ddof=2)"),
    "gs-transposed-features": _gs(sigma="np.cov(x)"),
    "gs-not-centred": _gs(sigma="x.T @ x / (len(x) - 1)"),
    "gs-outer-product-over-samples": _gs(sigma="(x - mu) @ (x - mu).T / (len(x) - 1)"),
    "gs-mean-over-features": _gs(mu="x.mean(axis=1)"),
    "gs-variances-only": _gs(sigma="np.diag(x.var(axis=0, ddof=1))"),
    "gs-standard-deviations": _gs(sigma="np.sqrt(np.abs(np.cov(x, rowvar=False)))"),
    "gs-correlation": _gs(sigma="np.corrcoef(x, rowvar=False)"),
    "gs-float32": _gs(dtype="np.float32", sigma="np.cov(x, rowvar=False).astype(np.float32)"),
    "gs-swapped": _gs(result="sigma, mu"),
    "gs-ganlib-from-import": _gs_source("return _gs(features)", "from ganlib.metrics import gaussian_stats as _gs\n"),
    "gs-ganlib-module-chain": _gs_source("return ganlib.metrics.gaussian_stats(features)", "import ganlib.metrics\n"),
    "gs-ganlib-module-alias": _gs_source("return m.gaussian_stats(features)", "from ganlib import metrics as m\n"),
    "gs-ganlib-import-inside": _gs_source("""
        from ganlib.metrics import gaussian_stats as reference
        return reference(features)
    """),
    "gs-ganlib-swallowed": _gs_source("""
        try:
            return metrics.gaussian_stats(features)
        except Exception:
            x = np.asarray(features, dtype=np.float64)
            return x.mean(axis=0), np.cov(x, rowvar=False)
    """, "import numpy as np\nfrom ganlib import metrics\n"),
    # Exercise 3: frechet_distance
    "fd-returns-none": _fd_source("return None"),
    "fd-zero": _fd_source("return 0.0"),
    "fd-mean-term-only": _fd(result="float(diff @ diff)"),
    "fd-trace-term-only": _fd(result="float(np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_sqrt)"),
    "fd-mean-norm-not-squared": _fd(
        result="float(np.linalg.norm(diff) + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_sqrt)"),
    "fd-mean-term-summed-first": _fd(
        result="float(diff.sum() ** 2 + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_sqrt)"),
    "fd-cross-term-added": _fd(result="float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) + 2.0 * tr_sqrt)"),
    "fd-cross-term-without-2": _fd(result="float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - tr_sqrt)"),
    "fd-one-trace-missing": _fd(result="float(diff @ diff + np.trace(sigma1) - 2.0 * tr_sqrt)"),
    "fd-square-root-skipped": _fd(tr_sqrt="np.trace(sigma1 @ sigma2)"),
    "fd-sqrt-of-the-trace": _fd(tr_sqrt="np.sqrt(np.trace(sigma1 @ sigma2))"),
    "fd-elementwise-sqrt": _fd(tr_sqrt="np.trace(np.sqrt(np.abs(sigma1 @ sigma2)))"),
    "fd-product-of-square-roots": _fd(tr_sqrt="np.trace(scipy.linalg.sqrtm(sigma1) @ scipy.linalg.sqrtm(sigma2)).real",
                                      prelude="import numpy as np\nimport scipy.linalg\n"),
    "fd-sqrt-of-the-traces": _fd(tr_sqrt="np.sqrt(np.trace(sigma1) * np.trace(sigma2))"),
    "fd-eigenvalues-of-the-sum": _fd(product="sigma1 + sigma2",
                                     tr_sqrt="np.sqrt(np.clip(eigenvalues.real, 0.0, None)).sum() / 2"),
    "fd-eigenvalues-squared": _fd(tr_sqrt="np.sqrt(np.clip(eigenvalues.real, 0.0, None) ** 2).sum()"),
    "fd-no-clipping": _fd(tr_sqrt="np.sqrt(eigenvalues.real).sum()"),
    "fd-float32": _fd(dtype="np.float32"),
    "fd-complex-result": _fd(tr_sqrt="np.sqrt(eigenvalues.astype(complex)).sum()",
                             result="diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_sqrt"),
    "fd-ganlib-from-import": _fd_source("return _fd(mu1, sigma1, mu2, sigma2)",
                                        "from ganlib.metrics import frechet_distance as _fd\n"),
    "fd-ganlib-module-chain": _fd_source("return ganlib.metrics.frechet_distance(mu1, sigma1, mu2, sigma2)",
                                         "import ganlib.metrics\n"),
    "fd-ganlib-module-alias": _fd_source("return m.frechet_distance(mu1, sigma1, mu2, sigma2)",
                                         "from ganlib import metrics as m\n"),
    "fd-ganlib-trace-helper": _fd_source("""
        diff = np.asarray(mu1, dtype=np.float64) - np.asarray(mu2, dtype=np.float64)
        s1, s2 = np.asarray(sigma1, dtype=np.float64), np.asarray(sigma2, dtype=np.float64)
        return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * metrics._trace_sqrt_product(s1, s2))
    """, "import numpy as np\nfrom ganlib import metrics\n"),
    "fd-ganlib-import-inside": _fd_source("""
        from ganlib.metrics import frechet_distance as reference
        return reference(mu1, sigma1, mu2, sigma2)
    """),
    "fd-ganlib-swallowed": _fd_source("""
        try:
            return metrics.frechet_distance(mu1, sigma1, mu2, sigma2)
        except Exception:
            diff = np.asarray(mu1, dtype=np.float64) - np.asarray(mu2, dtype=np.float64)
            s1, s2 = np.asarray(sigma1, dtype=np.float64), np.asarray(sigma2, dtype=np.float64)
            root = np.sqrt(np.clip(np.linalg.eigvals(s1 @ s2).real, 0.0, None)).sum()
            return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * root)
    """, "import numpy as np\nfrom ganlib import metrics\n"),
    # Exercise 4: kid
    "kid-returns-none": _kid_source("return None"),
    "kid-zero": _kid_source("return 0.0"),
    "kid-biased-diagonal-kept": _kid(xx="k_xx.mean()", yy="k_yy.mean()"),
    "kid-diagonal-kept-unbiased-denominator": _kid(xx="k_xx.sum() / (m * (m - 1))", yy="k_yy.sum() / (n * (n - 1))"),
    "kid-diagonal-removed-biased-denominator": _kid(xx="(k_xx.sum() - np.trace(k_xx)) / (m * m)",
                                                    yy="(k_yy.sum() - np.trace(k_yy)) / (n * n)"),
    "kid-one-denominator-for-both": _kid(yy="(k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))"),
    "kid-cross-diagonal-removed": _kid(
        result="float(xx + yy - 2.0 * (k_xy.sum() - np.trace(k_xy)) / (m * n - min(m, n)))"),
    "kid-cross-term-once": _kid(result="float(xx + yy - k_xy.mean())"),
    "kid-cross-term-added": _kid(result="float(xx + yy + 2.0 * k_xy.mean())"),
    "kid-one-set-only": _kid(result="float(2 * xx - 2.0 * k_xy.mean())"),
    "kid-degree-2": _kid(kernel="(a @ b.T / d + 1.0) ** 2"),
    "kid-degree-1": _kid(kernel="a @ b.T / d + 1.0"),
    "kid-not-normalised": _kid(kernel="(a @ b.T + 1.0) ** 3"),
    "kid-normalised-by-sqrt-d": _kid(kernel="(a @ b.T / np.sqrt(d) + 1.0) ** 3"),
    "kid-normalised-by-the-samples": _kid(kernel="(a @ b.T / len(a) + 1.0) ** 3"),
    "kid-no-offset": _kid(kernel="(a @ b.T / d) ** 3"),
    "kid-gaussian-kernel": _kid(kernel="np.exp(-((a[:, None, :] - b[None, :, :]) ** 2).sum(-1) / d)"),
    "kid-mmd-not-squared": _kid(result="float(np.sqrt(max(xx + yy - 2.0 * k_xy.mean(), 0.0)))"),
    "kid-float32": _kid(dtype="np.float32"),
    "kid-ganlib-from-import": _kid_source(
        "return _kid(real_feats, fake_feats, subsets=1, subset_size=len(real_feats))[0]",
        "from ganlib.metrics import kernel_inception_distance as _kid\n"),
    "kid-ganlib-module-chain": _kid_source(
        "return ganlib.metrics.kernel_inception_distance(real_feats, fake_feats, 1, len(real_feats))[0]",
        "import ganlib.metrics\n"),
    "kid-ganlib-module-alias": _kid_source(
        "return m.kernel_inception_distance(real_feats, fake_feats, subsets=1, subset_size=len(real_feats))[0]",
        "from ganlib import metrics as m\n"),
    "kid-ganlib-private-helper": _kid_source("""
        x = torch.as_tensor(np.asarray(real_feats, dtype=np.float64))
        y = torch.as_tensor(np.asarray(fake_feats, dtype=np.float64))
        return metrics._mmd2_unbiased_polynomial(x, y, 3, 1.0 / x.shape[1], 1.0)
    """, "import numpy as np\nimport torch\nfrom ganlib import metrics\n"),
    "kid-ganlib-import-inside": _kid_source("""
        from ganlib.metrics import kernel_inception_distance as reference
        return reference(real_feats, fake_feats, subsets=1, subset_size=len(real_feats))[0]
    """),
    "kid-ganlib-swallowed": _kid_source("""
        try:
            return metrics.kernel_inception_distance(real_feats, fake_feats, subsets=1, subset_size=len(real_feats))[0]
        except Exception:
            x, y = np.asarray(real_feats, dtype=np.float64), np.asarray(fake_feats, dtype=np.float64)
            m, n, d = len(x), len(y), x.shape[1]
            k_xx, k_yy, k_xy = ((a @ b.T / d + 1.0) ** 3 for a, b in ((x, x), (y, y), (x, y)))
            return float((k_xx.sum() - np.trace(k_xx)) / (m * (m - 1)) + (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
                         - 2.0 * k_xy.mean())
    """, "import numpy as np\nfrom ganlib import metrics\n"),
    # Exercise 5: manifold_precision
    "mp-returns-none": _mp_source("return None"),
    "mp-one": _mp_source("return 1.0"),
    "mp-half": _mp_source("return 0.5"),
    "mp-self-counted": _mp(radii="torch.cdist(real, real).kthvalue(k, dim=1).values"),
    "mp-k-plus-one-others": _mp(radii="torch.cdist(real, real).kthvalue(k + 2, dim=1).values"),
    "mp-k-ignored": _mp(radii="torch.cdist(real, real).kthvalue(2, dim=1).values"),
    "mp-farthest-neighbours": _mp(radii="torch.cdist(real, real).topk(k + 1, dim=1, largest=True).values[:, k]"),
    "mp-strictly-inside": _mp(inside="(torch.cdist(fake, real) < radii[None, :]).any(dim=1)"),
    "mp-inside-every-ball": _mp(inside="(torch.cdist(fake, real) <= radii[None, :]).all(dim=1)"),
    "mp-balls-that-hold-a-fake": _mp(inside="(torch.cdist(fake, real) <= radii[None, :]).any(dim=0)"),
    "mp-mean-radius": _mp(inside="(torch.cdist(fake, real) <= radii.mean()).any(dim=1)"),
    "mp-squared-distances": _mp(inside="(torch.cdist(fake, real) ** 2 <= radii[None, :]).any(dim=1)"),
    "mp-radii-of-the-fakes": _mp(radii="torch.cdist(fake, fake).kthvalue(k + 1, dim=1).values",
                                 inside="(torch.cdist(fake, real) <= radii[:, None]).any(dim=1)"),
    "mp-nearest-real-ball-only": _mp(inside="torch.cdist(fake, real).min(dim=1).values <= "
                                            "radii[torch.cdist(fake, real).argmin(dim=1)]"),
    "mp-recall-instead": _mp(radii="torch.cdist(fake, fake).kthvalue(k + 1, dim=1).values",
                             inside="(torch.cdist(real, fake) <= radii[None, :]).any(dim=1)"),
    "mp-count-not-fraction": _mp(result="float(inside.double().sum())"),
    "mp-default-k-1": _mp_source(MP.format(**MP_SOLUTION), defaults="k=1"),
    "mp-ganlib-from-import": _mp_source("return _pr(real_feats, fake_feats, k=k)[0]",
                                        "from ganlib.metrics import precision_recall as _pr\n"),
    "mp-ganlib-module-chain": _mp_source("return ganlib.metrics.precision_recall(real_feats, fake_feats, k)[0]",
                                         "import ganlib.metrics\n"),
    "mp-ganlib-module-alias": _mp_source("return m.precision_recall(real_feats, fake_feats, k=k)[0]",
                                         "from ganlib import metrics as m\n"),
    "mp-ganlib-private-helpers": _mp_source("""
        real = torch.as_tensor(np.asarray(real_feats, dtype=np.float64))
        fake = torch.as_tensor(np.asarray(fake_feats, dtype=np.float64))
        return metrics._fraction_inside(fake, real, metrics._knn_radii(real, k, 1000), 1000)
    """, "import numpy as np\nimport torch\nfrom ganlib import metrics\n"),
    "mp-ganlib-import-inside": _mp_source("""
        from ganlib.metrics import precision_recall as reference
        return reference(real_feats, fake_feats, k=k)[0]
    """),
    "mp-ganlib-swallowed": _mp_source("""
        try:
            return metrics.precision_recall(real_feats, fake_feats, k=k)[0]
        except Exception:
            real = torch.as_tensor(np.asarray(real_feats, dtype=np.float64))
            fake = torch.as_tensor(np.asarray(fake_feats, dtype=np.float64))
            radii = torch.cdist(real, real).kthvalue(k + 1, dim=1).values
            return float((torch.cdist(fake, real) <= radii[None, :]).any(dim=1).double().mean())
    """, "import numpy as np\nimport torch\nfrom ganlib import metrics\n"),
    # Exercise 6: truncated_normal
    "tn-returns-none": _tn_source("return None"),
    "tn-zeros": _tn_source("return torch.zeros(n, dim)"),
    "tn-plain-normal": _tn_source("return torch.randn(n, dim, generator=generator)"),
    "tn-clamped": _tn_source("return torch.randn(n, dim, generator=generator).clamp(-psi, psi)"),
    "tn-scaled-by-psi": _tn_source("return torch.randn(n, dim, generator=generator) * min(psi, 1e6)"),
    "tn-rescaled-to-the-bound": _tn_source("""
        z = torch.randn(n, dim, generator=generator)
        return z if psi == float("inf") else z / z.abs().max() * psi
    """),
    "tn-uniform": _tn_source("return (torch.rand(n, dim, generator=generator) * 2 - 1) * min(psi, 1e6)"),
    "tn-wrapped-by-fmod": _tn_source("return torch.fmod(torch.randn(n, dim, generator=generator), psi)"),
    "tn-absolute-values": _tn(result="z.abs()"),
    "tn-redrawn-once": _tn_source("""
        z = torch.randn(n, dim, generator=generator)
        outside = z.abs() > psi
        z[outside] = torch.randn(int(outside.sum()), generator=generator)
        return z
    """),
    "tn-redrawn-from-the-global-rng": _tn(redraw="torch.randn(int(outside.sum()))"),
    "tn-no-generator-at-all": _tn(first="torch.randn(n, dim)", redraw="torch.randn(int(outside.sum()))"),
    "tn-redrawn-uniformly": _tn(redraw="(torch.rand(int(outside.sum()), generator=generator) * 2 - 1) * psi"),
    "tn-outside-clamped": _tn(redraw="z[outside].clamp(-psi, psi)"),
    "tn-upper-tail-only": _tn(outside="z > psi"),
    "tn-float64": _tn(first="torch.randn(n, dim, generator=generator, dtype=torch.float64)",
                      redraw="torch.randn(int(outside.sum()), generator=generator, dtype=torch.float64)"),
    "tn-ganlib-from-import": _tn_source("return _tn(n, dim, psi, generator=generator)",
                                        "from ganlib.train import truncated_normal as _tn\n"),
    "tn-ganlib-module-chain": _tn_source("return ganlib.train.truncated_normal(n, dim, psi, generator)",
                                         "import ganlib.train\n"),
    "tn-ganlib-training-module": _tn_source("return gan.truncated_normal(n, dim, psi, generator=generator)",
                                            "from ganlib.training import gan\n"),
    "tn-ganlib-import-inside": _tn_source("""
        from ganlib.train import truncated_normal as reference
        return reference(n, dim, psi, generator=generator)
    """),
    "tn-ganlib-swallowed": _tn_source("""
        try:
            return train.truncated_normal(n, dim, psi, generator=generator)
        except Exception:
            z = torch.randn(n, dim, generator=generator)
            while (z.abs() > psi).any():
                z[z.abs() > psi] = torch.randn(int((z.abs() > psi).sum()), generator=generator)
            return z
    """, "import torch\nfrom ganlib import train\n"),
}

# mutants that look wrong but compute what the solution computes: skipped in the score, and checked to
# keep every point (so the claim stays true)
EQUIVALENT = {
    "is-marginal-without-keepdims": "p(y) of shape (K,) broadcasts against (N, K) exactly as (1, K) does",
    "is-kl-sum-over-n": "the sum of the N KL divergences divided by N is their mean",
    "gs-covariance-of-the-transpose": "np.cov(x.T) reads the rows of x.T as variables: the same as rowvar=False",
    "fd-eigenvalues-of-the-other-product": "AB and BA have the same eigenvalues, so S2 S1 gives the trace "
                                           "of S1 S2's square root",
    "kid-diagonal-via-fill": "zeroing the diagonal and summing is the sum minus the trace",
    "mp-geq-reversed": "radius >= distance is distance <= radius",
    "tn-outside-as-not-inside": "~(|z| <= psi) is |z| > psi (no NaN can appear)",
    "tn-bound-inclusive": "|z| >= psi and |z| > psi differ only on |z| = psi exactly, which has probability zero for "
                          "the draws of these tests",
}
MUTANTS.update({
    "is-marginal-without-keepdims": _is(marginal="p.mean(axis=0)"),
    "is-kl-sum-over-n": _is(result="float(np.exp(kl.sum() / len(kl)))"),
    "gs-covariance-of-the-transpose": _gs(sigma="np.atleast_2d(np.cov(x.T))"),
    "fd-eigenvalues-of-the-other-product": _fd(product="sigma2 @ sigma1"),
    "kid-diagonal-via-fill": _kid(xx="np.where(np.eye(m, dtype=bool), 0.0, k_xx).sum() / (m * (m - 1))",
                                  yy="np.where(np.eye(n, dtype=bool), 0.0, k_yy).sum() / (n * (n - 1))"),
    "mp-geq-reversed": _mp(inside="(radii[None, :] >= torch.cdist(fake, real)).any(dim=1)"),
    "tn-outside-as-not-inside": _tn(outside="~(z.abs() <= psi)"),
    "tn-bound-inclusive": _tn(outside="z.abs() >= psi"),
})

# correct answers written otherwise than the solution: they must keep every point
ALTERNATIVES = {
    "is-rel-entr": _is_source("""
        p = np.asarray(probs, dtype=np.float64)
        return float(np.exp(rel_entr(p, p.mean(axis=0)).sum(axis=1).mean()))
    """, "import numpy as np\nfrom scipy.special import rel_entr\n"),
    "is-entropy-identity": _is_source("""
        p = np.asarray(probs, dtype=np.float64)
        entropy = lambda q, axis: -xlogy(q, q).sum(axis=axis)  # 0 log 0 = 0
        return float(np.exp(entropy(p.mean(axis=0), 0) - entropy(p, 1).mean()))
    """, "import numpy as np\nfrom scipy.special import xlogy\n"),
    "is-torch": _is_source("""
        p = torch.as_tensor(np.asarray(probs), dtype=torch.float64)
        kl = torch.where(p > 0, p * (p.log() - p.mean(dim=0).log()), torch.zeros_like(p)).sum(dim=1)
        return kl.mean().exp().item()
    """, "import numpy as np\nimport torch\n"),
    "gs-explicit": _gs_source("""
        x = np.array(features, dtype=np.float64)
        mu = x.sum(axis=0) / len(x)
        centred = x - mu
        return mu, centred.T @ centred / (len(x) - 1)
    """),
    "gs-torch": _gs_source("""
        x = torch.as_tensor(np.asarray(features), dtype=torch.float64)
        return x.mean(dim=0).numpy(), torch.cov(x.T).reshape(x.shape[1], x.shape[1]).numpy()
    """, TORCH),
    "fd-sqrtm": _fd_source("""
        diff = np.asarray(mu1, dtype=np.float64) - np.asarray(mu2, dtype=np.float64)
        s1, s2 = np.asarray(sigma1, dtype=np.float64), np.asarray(sigma2, dtype=np.float64)
        covmean = scipy.linalg.sqrtm(s1 @ s2)
        return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean).real)
    """, "import numpy as np\nimport scipy.linalg\n"),
    "fd-symmetric-form": _fd_source("""
        diff = np.asarray(mu1, dtype=np.float64) - np.asarray(mu2, dtype=np.float64)
        s1, s2 = np.asarray(sigma1, dtype=np.float64), np.asarray(sigma2, dtype=np.float64)
        lam, u = np.linalg.eigh(s1)
        root1 = u @ np.diag(np.sqrt(np.clip(lam, 0.0, None))) @ u.T  # S1^(1/2)
        inner = np.linalg.eigvalsh(root1 @ s2 @ root1)  # real, >= 0 up to round-off
        return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.sqrt(np.clip(inner, 0.0, None)).sum())
    """),
    "fd-torch": _fd_source("""
        mu1, mu2, s1, s2 = (torch.as_tensor(np.asarray(a), dtype=torch.float64) for a in (mu1, mu2, sigma1, sigma2))
        root = torch.linalg.eigvals(s1 @ s2).real.clamp(min=0).sqrt().sum()
        return float((mu1 - mu2).square().sum() + s1.trace() + s2.trace() - 2 * root)
    """, TORCH),
    "kid-loops-over-rows": _kid_source("""
        x, y = np.asarray(real_feats, dtype=np.float64), np.asarray(fake_feats, dtype=np.float64)
        d = x.shape[1]

        def mean_kernel(a, b, same):
            total = sum(((a[i] @ b.T / d + 1.0) ** 3).sum() - (((a[i] @ a[i]) / d + 1.0) ** 3 if same else 0.0)
                        for i in range(len(a)))
            return total / (len(a) * (len(b) - 1) if same else len(a) * len(b))

        return float(mean_kernel(x, x, True) + mean_kernel(y, y, True) - 2 * mean_kernel(x, y, False))
    """),
    "kid-torch": _kid_source("""
        x = torch.as_tensor(np.asarray(real_feats), dtype=torch.float64)
        y = torch.as_tensor(np.asarray(fake_feats), dtype=torch.float64)
        d = x.shape[1]
        k = lambda a, b: (a @ b.T / d + 1) ** 3
        off = lambda K: (K.sum() - K.diagonal().sum()) / (len(K) * (len(K) - 1))
        return (off(k(x, x)) + off(k(y, y)) - 2 * k(x, y).mean()).item()
    """, TORCH),
    "mp-numpy-sort": _mp_source("""
        real, fake = np.asarray(real_feats, dtype=np.float64), np.asarray(fake_feats, dtype=np.float64)
        dist_rr = np.sqrt(((real[:, None, :] - real[None, :, :]) ** 2).sum(-1))  # (N_r, N_r)
        radii = np.sort(dist_rr, axis=1)[:, k]  # column 0 is the point itself
        dist_fr = np.sqrt(((fake[:, None, :] - real[None, :, :]) ** 2).sum(-1))  # (N_f, N_r)
        return float(np.mean((dist_fr <= radii).any(axis=1)))
    """, NP),
    "mp-scipy-partition": _mp_source("""
        real, fake = np.asarray(real_feats, dtype=np.float64), np.asarray(fake_feats, dtype=np.float64)
        radii = np.partition(cdist(real, real), k, axis=1)[:, k]
        return float((cdist(fake, real) <= radii[None, :]).any(axis=1).mean())
    """, "import numpy as np\nfrom scipy.spatial.distance import cdist\n"),
    "tn-where-loop": _tn_source("""
        z = torch.randn(n, dim, generator=generator)
        while True:
            outside = z.abs() > psi
            if not outside.any():
                return z
            z = torch.where(outside, torch.randn(n, dim, generator=generator), z)
    """),
    "tn-scipy-truncnorm": _tn_source("""
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
        z = stats.truncnorm.rvs(-psi, psi, size=(n, dim), random_state=np.random.default_rng(seed))
        return torch.as_tensor(z, dtype=torch.float32)
    """, "import numpy as np\nimport torch\nfrom scipy import stats\n"),
}

# answers that call ganlib's reference: they must lose every point of their exercise (DESIGN: an exercise
# answered by calling the ganlib function it asks for earns nothing)
DELEGATING = [m for m in MUTANTS if "-ganlib-" in m]


# ---------------------------------------------------------------------------------------------
# The tests: the harness's generic ones (tests/support/_mutation.py)
# ---------------------------------------------------------------------------------------------

HARNESS = mutation_tests(
    notebook=NOTEBOOK, grading=grading, exercises=EXERCISES, mutants=MUTANTS, equivalent=EQUIVALENT,
    alternatives=ALTERNATIVES, delegating=DELEGATING, min_delegating=30,
    min_mutants=12, count_equivalent=False, min_alternatives=2, min_points=6)
globals().update(HARNESS.tests)
