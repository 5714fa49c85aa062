"""GAN losses as pure functions of discriminator logits.

Every function takes logits (the discriminator's raw, pre-sigmoid output) and returns a scalar
mean over the batch. The sigmoid lives inside the loss, through ``softplus``, which is the
numerically stable form of the log-sigmoid:

    -log sigmoid(t)     = softplus(-t)
    -log(1 - sigmoid(t)) = softplus(t)

so ``D(x) = sigmoid(logit)`` never has to be formed and ``log 0`` never happens. One argument
order everywhere: ``(real_logits, fake_logits)`` for the discriminator, ``(fake_logits)`` for the
generator.

Beyond the original GAN, the module holds the other objectives the course compares: the
Wasserstein critic losses with weight clipping (WGAN) or a gradient penalty (WGAN-GP), the hinge
loss and the least-squares loss. For them the "logits" are the critic's unbounded scores f(x).
Penalties return one term per sample; the caller weights them and takes the mean. A user picks a
whole objective by name from :data:`OBJECTIVES`.

CycleGAN's reconstruction terms are not functions of logits but of images: the cycle-consistency
loss and the identity loss compare an image with what comes back from the generators, one
argument order for both: ``(x, x_from_generators, y, y_from_generators)``, domain X first. The
caller weights them (lambda_cyc = 10, lambda_id = 5 in the paper).

StyleGAN2's regularisers follow the penalty convention: :func:`r1_penalty` (D's gradient at real
data) and :func:`path_length_penalty` (G's Jacobian in W) return one term per sample, and the
training task weights them and applies them lazily (every 16 and 4 iterations). BigGAN's
:func:`orthogonal_regularization` is a penalty on weights, not samples: it returns the weighted
scalar.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "discriminator_loss",
    "generator_loss_saturating",
    "generator_loss_nonsaturating",
    "GENERATOR_LOSSES",
    "generator_loss",
    "wasserstein_critic_loss",
    "wasserstein_generator_loss",
    "wasserstein_estimate",
    "gradient_penalty",
    "clip_weights_",
    "hinge_discriminator_loss",
    "hinge_generator_loss",
    "least_squares_discriminator_loss",
    "least_squares_generator_loss",
    "cycle_consistency_loss",
    "identity_loss",
    "r1_penalty",
    "path_length_penalty",
    "update_path_length_mean",
    "orthogonal_regularization",
    "orthogonal_regularization_of",
    "Objective",
    "OBJECTIVES",
    "objective",
]


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The discriminator's loss: minus the value function V(D, G) on a mini-batch.

    D maximises E[log D(x)] + E[log(1 - D(G(z)))]; we minimise the negative.

    Args:
        real_logits: D's logits on real samples, shape (B,) or (B, 1).
        fake_logits: D's logits on generated samples, shape (B,) or (B, 1).

    Returns:
        Scalar tensor.
    """
    real_term = F.softplus(-real_logits).mean()  # -log D(x)
    fake_term = F.softplus(fake_logits).mean()  # -log(1 - D(G(z)))
    return real_term + fake_term


def generator_loss_saturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """The generator's loss from the minimax game: minimise E[log(1 - D(G(z)))].

    Saturates: when D confidently rejects fakes (D(G(z)) -> 0) its gradient vanishes.
    """
    return -F.softplus(fake_logits).mean()  # log(1 - D(G(z))) = -softplus(t)


def generator_loss_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """The non-saturating generator loss (Goodfellow et al. 2014, Sec. 3): maximise E[log D(G(z))].

    Same fixed point as the saturating loss, but a strong gradient exactly when D rejects fakes.
    """
    return F.softplus(-fake_logits).mean()  # -log sigmoid(t) = -log D(G(z))


GENERATOR_LOSSES = {
    "saturating": generator_loss_saturating,
    "non-saturating": generator_loss_nonsaturating,
}


def generator_loss(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """Look up a generator loss by the name a user types (CLI, notebook parameter)."""
    try:
        return GENERATOR_LOSSES[name]
    except KeyError:
        raise ValueError(
            f"unknown generator loss {name!r}; choose one of: {', '.join(GENERATOR_LOSSES)}"
        ) from None


# --------------------------------------------------------------------------- Wasserstein (WGAN)


def wasserstein_critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """The WGAN critic's loss (Arjovsky et al. 2017, Eq. 3): minus the Wasserstein estimate.

    By the Kantorovich-Rubinstein duality, W(p_data, p_g) = sup over 1-Lipschitz f of
    E[f(x)] - E[f(G(z))]; the critic maximises that difference, so it minimises its negative.
    The Lipschitz constraint is not in the loss: add :func:`clip_weights_` (WGAN) or
    :func:`gradient_penalty` (WGAN-GP).

    Args:
        real_scores: critic scores f(x) on real samples, shape (B,) or (B, 1).
        fake_scores: critic scores f(G(z)) on generated samples, shape (B,) or (B, 1).

    Returns:
        Scalar tensor.
    """
    return fake_scores.mean() - real_scores.mean()  # E[f(G(z))] - E[f(x)]


def wasserstein_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """The WGAN generator's loss: raise the critic's score of fakes (Arjovsky et al. 2017, Alg. 1).

    Args:
        fake_scores: critic scores f(G(z)), shape (B,) or (B, 1).

    Returns:
        Scalar tensor.
    """
    return -fake_scores.mean()  # -E[f(G(z))]


def wasserstein_estimate(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """The critic's estimate of W(p_data, p_g), for plotting: E[f(x)] - E[f(G(z))].

    Equal to ``-wasserstein_critic_loss(real_scores, fake_scores)``, detached from the graph. It
    estimates the distance (up to the critic's Lipschitz constant) only while the critic is
    near its optimum, i.e. after its n_critic steps.

    Args:
        real_scores: critic scores f(x), shape (B,) or (B, 1).
        fake_scores: critic scores f(G(z)), shape (B,) or (B, 1).

    Returns:
        Detached scalar tensor.
    """
    return (real_scores.mean() - fake_scores.mean()).detach()  # E[f(x)] - E[f(G(z))]


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The WGAN-GP gradient penalty, one term per sample (Gulrajani et al. 2017, Eq. 3, Alg. 1).

    At x_hat = eps * x + (1 - eps) * G(z), eps ~ U[0, 1] drawn once per sample, the penalty is
    (||grad_x_hat f(x_hat)||_2 - 1)^2. The caller weights it, ``lam * penalty.mean()`` with
    lam = 10 in the paper, and adds it to :func:`wasserstein_critic_loss`.

    The gradient is taken with ``create_graph=True``, so backpropagating the penalty trains the
    critic (a double backward). Consequences:

    - run it eagerly: ``torch.compile`` does not support this double backward;
    - run it in float32: ``real`` and ``fake`` are cast to at least float32 and the norm is
      taken in that precision. bf16 autocast around the critic works; fp16 autocast does not
      without unscaling the inner gradient, so keep the penalty outside fp16 autocast;
    - the critic must treat samples independently (no batch norm in training mode: use
      ``d_batchnorm=False``, layer norm or nothing), or each sample's gradient mixes the batch.

    ``real`` and ``fake`` are detached: the penalty trains the critic only.

    Args:
        critic: maps a batch (B, ...) to scores of shape (B,) or (B, 1).
        real: real samples, shape (B, ...), e.g. images (B, C, H, W) or 2-D points (B, 2).
        fake: generated samples, the same shape as ``real``.
        generator: optional random generator for eps (on ``real.device``), for reproducibility.

    Returns:
        Per-sample penalties, shape (B,), in float32 (float64 if the inputs are float64).
    """
    assert real.shape == fake.shape and real.ndim >= 2, (
        f"gradient_penalty expects real and fake of the same shape (B, ...), "
        f"got {tuple(real.shape)} and {tuple(fake.shape)}"
    )
    B = real.shape[0]
    dtype = torch.promote_types(real.dtype, torch.float32)  # fp32 at least, fp64 stays fp64
    real, fake = real.detach().to(dtype), fake.detach().to(dtype)
    # One eps per sample, broadcast over the other dimensions: (B, 1, 1, 1) for images, (B, 1) for points.
    eps = torch.rand((B,) + (1,) * (real.ndim - 1), generator=generator, device=real.device, dtype=dtype)
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)  # (B, ...), on the segment x -- G(z)
    scores = critic(x_hat)  # (B,) or (B, 1)
    assert scores.numel() == B, f"the critic must return one score per sample, shape (B,); got {tuple(scores.shape)}"
    # Samples are independent, so the gradient of the sum is each score's gradient w.r.t. its own input.
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)  # (B, ...)
    grad_norm = torch.linalg.vector_norm(grad.flatten(1), dim=1)  # (B,) ||grad_x_hat f(x_hat)||_2
    return (grad_norm - 1) ** 2  # (B,)  Eq. 3: (||grad f(x_hat)||_2 - 1)^2


def clip_weights_(module: nn.Module, c: float) -> None:
    """Clip every parameter of ``module`` to [-c, c], in place (Arjovsky et al. 2017, Alg. 1).

    WGAN's crude way to keep the critic K-Lipschitz; call it after each critic update. The
    paper uses c = 0.01 and RMSProp (``TrainConfig(optimizer="rmsprop")``).

    Args:
        module: the critic.
        c: the clipping bound, > 0.
    """
    assert c > 0, f"clip bound must be positive, got {c}"
    # no_grad inside rather than as a decorator: a plain function, which the delegation checks can disable
    params = list(module.parameters())
    if not params:
        return
    with torch.no_grad():  # two foreach kernels for all the parameters, not one clamp per tensor
        torch._foreach_clamp_min_(params, -c)
        torch._foreach_clamp_max_(params, c)


# --------------------------------------------------------------------------- hinge, least squares


def hinge_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The hinge loss of D (Lim & Ye 2017; Miyato et al. 2018).

    Zero once real logits are >= 1 and fake logits <= -1: D stops pushing beyond the margin.

    Args:
        real_logits: D's logits on real samples, shape (B,) or (B, 1).
        fake_logits: D's logits on generated samples, shape (B,) or (B, 1).

    Returns:
        Scalar tensor.
    """
    real_term = F.relu(1 - real_logits).mean()  # E[max(0, 1 - D(x))]
    fake_term = F.relu(1 + fake_logits).mean()  # E[max(0, 1 + D(G(z)))]
    return real_term + fake_term


def hinge_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The generator's loss paired with the hinge D loss: raise D's logit of fakes.

    Args:
        fake_logits: D's logits on generated samples, shape (B,) or (B, 1).

    Returns:
        Scalar tensor.
    """
    return -fake_logits.mean()  # -E[D(G(z))]


def least_squares_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The least-squares (LSGAN) loss of D (Mao et al. 2017, Eq. 9 with a = 0, b = c = 1).

    D regresses its raw output to 1 on real samples and 0 on fakes; no sigmoid. The means run over
    every element, so a PatchGAN's map (B, 1, h, w) counts each patch as one sample: the loss is the
    average over the B * h * w patch scores, as ``nn.MSELoss()`` computes it.

    CycleGAN uses this loss for D_X and D_Y (Zhu et al. 2017, Sec. 4, "Training details"). The
    paper divides D's objective by 2, which slows D's learning relative to G's (Appendix 7.1);
    the authors' code writes ``(MSE(D(y), 1) + MSE(D(G(x)), 0)) * 0.5``. That is exactly this
    function, whose terms carry the 1/2 of Mao et al.

    Args:
        real_logits: D's outputs on real samples, shape (B,), (B, 1) or a patch map (B, 1, h, w).
        fake_logits: D's outputs on generated samples, the same kinds of shape.

    Returns:
        Scalar tensor.
    """
    real_term = 0.5 * ((real_logits - 1) ** 2).mean()  # 1/2 E[(D(x) - 1)^2]
    fake_term = 0.5 * (fake_logits ** 2).mean()  # 1/2 E[D(G(z))^2]
    return real_term + fake_term


def least_squares_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The least-squares (LSGAN) loss of G (Mao et al. 2017, Eq. 9 with c = 1).

    The mean runs over every element, patches of a (B, 1, h, w) map included. CycleGAN's G loss
    (Zhu et al. 2017, Sec. 4) is E[(D(G(x)) - 1)^2] without the 1/2, i.e. twice this function: to
    weigh it against ``lambda_cyc = 10`` as the authors' code does, use
    ``2 * least_squares_generator_loss(...)`` (or this function with lambda_cyc = 5 and
    lambda_id = 2.5: the same objective halved, which Adam's updates barely notice).

    Args:
        fake_logits: D's outputs on generated samples, shape (B,), (B, 1) or a patch map (B, 1, h, w).

    Returns:
        Scalar tensor.
    """
    return 0.5 * ((fake_logits - 1) ** 2).mean()  # 1/2 E[(D(G(z)) - 1)^2]


# --------------------------------------------------------------------------- CycleGAN reconstruction terms


def _check_same_shape(name: str, a: torch.Tensor, b: torch.Tensor, a_name: str, b_name: str) -> None:
    """Raise ValueError unless ``a`` and ``b`` have one shape: broadcasting would hide the mistake."""
    if a.shape != b.shape:
        raise ValueError(
            f"{name} expects {a_name} and {b_name} of the same shape (B, C, H, W), "
            f"got {tuple(a.shape)} and {tuple(b.shape)}"
        )


def cycle_consistency_loss(x: torch.Tensor, x_cycled: torch.Tensor, y: torch.Tensor,
                           y_cycled: torch.Tensor) -> torch.Tensor:
    """CycleGAN's cycle-consistency loss (Zhu et al. 2017, Eq. 2): both round trips return home.

    L_cyc(G, F) = E_x ||F(G(x)) - x||_1 + E_y ||G(F(y)) - y||_1. Each expectation is taken as the
    mean absolute error over every element of its batch (``nn.L1Loss()``, as in the authors'
    code), and the two directions are summed, so each contributes on the scale of one pixel. The
    caller multiplies by lambda_cyc (10 in the paper, Eq. 3).

    Args:
        x: real images of domain X, shape (B, C_X, H, W).
        x_cycled: their round trip F(G(x)), the shape of ``x``.
        y: real images of domain Y, shape (B', C_Y, H', W').
        y_cycled: their round trip G(F(y)), the shape of ``y``.

    Returns:
        Scalar tensor.

    Raises:
        ValueError: if ``x_cycled`` and ``x``, or ``y_cycled`` and ``y``, differ in shape.
    """
    _check_same_shape("cycle_consistency_loss", x, x_cycled, "x", "x_cycled")
    _check_same_shape("cycle_consistency_loss", y, y_cycled, "y", "y_cycled")
    forward_cycle = (x_cycled - x).abs().mean()  # E||F(G(x)) - x||_1: x -> G -> F -> x
    backward_cycle = (y_cycled - y).abs().mean()  # E||G(F(y)) - y||_1: y -> F -> G -> y
    return forward_cycle + backward_cycle  # Eq. 2


def identity_loss(x: torch.Tensor, F_of_x: torch.Tensor, y: torch.Tensor, G_of_y: torch.Tensor) -> torch.Tensor:
    """CycleGAN's identity loss (Zhu et al. 2017, Sec. 5.2, after Taigman et al. 2017).

    L_identity(G, F) = E_y ||G(y) - y||_1 + E_x ||F(x) - x||_1: fed an image already of its target
    domain, each generator should leave it unchanged. It keeps colour composition in painting ->
    photo translation. Means and sum as in :func:`cycle_consistency_loss`; it needs C_X = C_Y.
    The weighting is the caller's: the paper and the authors' code use
    lambda_id = 0.5 * lambda_cyc (5 with lambda_cyc = 10).

    Args:
        x: real images of domain X, shape (B, C, H, W).
        F_of_x: F(x), the Y -> X generator applied to them, the shape of ``x``.
        y: real images of domain Y, shape (B', C, H', W').
        G_of_y: G(y), the X -> Y generator applied to them, the shape of ``y``.

    Returns:
        Scalar tensor.

    Raises:
        ValueError: if ``F_of_x`` and ``x``, or ``G_of_y`` and ``y``, differ in shape.
    """
    _check_same_shape("identity_loss", x, F_of_x, "x", "F_of_x")
    _check_same_shape("identity_loss", y, G_of_y, "y", "G_of_y")
    x_term = (F_of_x - x).abs().mean()  # E||F(x) - x||_1
    y_term = (G_of_y - y).abs().mean()  # E||G(y) - y||_1
    return x_term + y_term


# --------------------------------------------------------------------------- StyleGAN2's and BigGAN's regularisers


def r1_penalty(D: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor) -> torch.Tensor:
    """The R1 penalty, one term per sample: ||grad_x D(x)||^2 at real data (Mescheder et al. 2018, Eq. 9).

    R1(psi) = gamma/2 E_{x ~ p_data} ||grad_x D_psi(x)||^2 penalises D's gradient on the data only,
    which makes the game locally convergent where the unregularised one oscillates. The caller
    weights it, ``gamma / 2 * r1.mean()`` (StyleGAN2: gamma = 10 at 1024 px; far smaller for small
    images), and adds it to D's loss; StyleGAN2 does so lazily, every 16 steps, times 16.

    As in :func:`gradient_penalty`: the gradient is taken with ``create_graph=True`` (a double
    backward: keep it eager, outside fp16 autocast), in at least float32, and per-sample terms need
    a D that treats samples independently; a minibatch-stddev layer mixes them slightly, which
    StyleGAN2 accepts. ``real`` is detached: the penalty trains D only.

    Args:
        D: maps images (B, ...) to logits of shape (B,) or (B, 1).
        real: real samples (B, ...).

    Returns:
        Per-sample squared gradient norms, shape (B,), float32 (float64 for float64 inputs).
    """
    assert real.ndim >= 2, f"r1_penalty expects a batch (B, ...), got {tuple(real.shape)}"
    dtype = torch.promote_types(real.dtype, torch.float32)
    x = real.detach().to(dtype).requires_grad_(True)  # (B, ...)
    logits = D(x)  # (B,) or (B, 1)
    assert logits.numel() == x.shape[0], f"D must return one logit per sample, got {tuple(logits.shape)}"
    (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=True)  # (B, ...): samples are independent
    return grad.square().flatten(1).sum(dim=1)  # (B,)  ||grad_x D(x)||_2^2


def path_length_penalty(
    synthesis: Callable[[torch.Tensor], torch.Tensor],
    ws: torch.Tensor,
    pl_mean: torch.Tensor | float,
    *,
    noise: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """StyleGAN2's path length regulariser, one term per sample (Karras et al. 2020, Sec. 3.2, Eq. 4).

    E_{w, y ~ N(0, I)} (||J_w^T y||_2 - a)^2, with J_w = dg(w)/dw the Jacobian of the synthesis
    network at w and ``a`` the running mean of the lengths: a fixed-size step in W should change
    the image by a fixed amount, in every direction, whatever w. J_w^T y is one backward pass,
    the gradient of (g(w) . y).sum() with respect to w, no Jacobian is formed. As in the paper's
    code, y is scaled by 1/sqrt(H W) (so lengths do not grow with the resolution) and the length
    of a sample is sqrt(mean over layers of sum over w_dim of (J^T y)^2), i.e. ws holds one w per
    layer and the layers' squared lengths are averaged.

    The penalty here measures from ``pl_mean`` as passed in (the mean *before* this batch); the
    paper's code first moves the mean by this batch's lengths, a difference of ``decay`` (1 %) of
    the gap. Update the mean with :func:`update_path_length_mean`. The caller weights the penalty
    (``pl_weight = 2``) and applies it lazily (every 4 steps, times 4, on half a batch).

    The gradient is taken with ``create_graph=True`` (a double backward through G: keep it eager).

    Args:
        synthesis: maps ws (B, num_layers, w_dim) to images (B, C, H, W), e.g. ``G.synthesis``.
        ws: the w's (B, num_layers, w_dim); if they do not require gradients they are made a leaf
            that does (then the penalty trains the synthesis network only).
        pl_mean: a, the running mean of the lengths (a float or a 0-dim tensor).
        noise: y before its 1/sqrt(H W) scaling, (B, C, H, W); by default drawn N(0, I).
        generator: random generator for y (on ``ws.device``).

    Returns:
        ``(penalty, lengths)``: (B,) each; penalty = (lengths - a)^2, lengths = ||J_w^T y|| (with graph).
    """
    assert ws.ndim == 3, f"path_length_penalty expects ws (B, num_layers, w_dim), got {tuple(ws.shape)}"
    if not ws.requires_grad:
        ws = ws.detach().requires_grad_(True)
    images = synthesis(ws)  # (B, C, H, W)
    B, _, H, W = images.shape
    if noise is None:
        noise = torch.randn(images.shape, device=images.device, dtype=images.dtype, generator=generator)
    assert noise.shape == images.shape, f"noise must have the images' shape {tuple(images.shape)}, got {tuple(noise.shape)}"
    y = noise / math.sqrt(H * W)  # y ~ N(0, I / (H W))
    (grads,) = torch.autograd.grad((images * y).sum(), ws, create_graph=True)  # (B, L, w_dim): J_w^T y
    grads = grads.to(torch.promote_types(grads.dtype, torch.float32))  # fp32 at least, fp64 stays fp64
    lengths = grads.square().sum(dim=2).mean(dim=1).sqrt()  # (B,)  ||J_w^T y||_2, layers averaged
    return (lengths - pl_mean) ** 2, lengths  # (B,), (B,)  Eq. 4: (||J_w^T y||_2 - a)^2


def update_path_length_mean(pl_mean: torch.Tensor | float, lengths: torch.Tensor,
                            decay: float = 0.01) -> torch.Tensor:
    """The running mean ``a`` of path lengths after one batch: a + decay (mean(lengths) - a).

    Pure: returns the new mean (a detached 0-dim tensor) and leaves ``pl_mean`` alone.
    """
    target = lengths.detach().to(torch.promote_types(lengths.dtype, torch.float32)).mean()
    return torch.as_tensor(pl_mean, dtype=target.dtype, device=target.device).lerp(target, decay)  # a <- a + d (mean - a)


def _filter_rows(weight: torch.Tensor) -> torch.Tensor:
    """A weight as a matrix with one row per output unit: (out, in) or (out, in * k * k)."""
    assert weight.ndim >= 2, f"orthogonal regularisation needs a matrix or a kernel, got {tuple(weight.shape)}"
    return weight.reshape(weight.shape[0], -1)


def orthogonal_regularization(weight: torch.Tensor, beta: float = 1e-4, *, off_diagonal: bool = True) -> torch.Tensor:
    """BigGAN's orthogonal regularisation of one weight (Brock et al. 2019, Sec. 3.1).

    With the weight as a matrix W of one row per output filter, (out, in) for a dense layer and
    (out, in * k * k) for a convolution, the Gram matrix G = W W^T (out x out) holds the dot
    products between filters. Then

    - ``off_diagonal=True``: R_beta(W) = beta ||W W^T ⊙ (1 - I)||_F^2, BigGAN's relaxed form: filters
      pushed towards mutual orthogonality, their norms left free. The paper writes W^T W with the
      filters as W's columns; the authors' code (``utils.ortho``) forms W W^T over the rows of
      ``weight.view(out, -1)``, as here. Their code adds 2 beta (G ⊙ (1 - I)) W to the gradient,
      which is the gradient of beta/2 times this value: use beta/2 here to match its steps exactly.
    - ``off_diagonal=False``: R_beta(W) = beta ||W W^T - I||_F^2, the lecture's form
      beta ||W^T W - I||_F^2 (Brock et al. 2017) with the same Gram matrix of filters: also pins
      every filter's norm to 1. For a convolution with out > in * k * k it cannot reach 0 (the Gram
      matrix has rank at most in * k * k).

    Args:
        weight: (out, in) or (out, in, k, k).
        beta: the strength (BigGAN: 1e-4).
        off_diagonal: the relaxed form (True) or the full one (False).

    Returns:
        A scalar, already weighted by beta.
    """
    W = _filter_rows(weight)  # (out, n)
    gram = W @ W.t()  # (out, out): W W^T, dot products between filters
    eye = torch.eye(W.shape[0], dtype=W.dtype, device=W.device)
    if off_diagonal:
        return beta * (gram * (1 - eye)).square().sum()  # beta ||W W^T ⊙ (1 - I)||_F^2
    return beta * (gram - eye).square().sum()  # beta ||W W^T - I||_F^2


def orthogonal_regularization_of(module: nn.Module, beta: float = 1e-4, off_diagonal: bool = True) -> torch.Tensor:
    """:func:`orthogonal_regularization` summed over every weight matrix and kernel of ``module``.

    Counted: the ``weight`` of every submodule that has one with two or more dimensions (``nn.Linear``,
    ``nn.Conv*``, the equalised layers of :mod:`ganlib.models.progan`); embeddings (``nn.Embedding``)
    are left out, as BigGAN leaves out its shared class embedding. Under a parametrisation (spectral
    norm) ``module.weight`` is the normalised weight, which is what gets penalised.

    Returns:
        A scalar (0 for a module without weights).
    """
    total = torch.zeros(())
    for m in module.modules():
        weight = getattr(m, "weight", None)
        if isinstance(m, nn.Embedding) or not isinstance(weight, torch.Tensor) or weight.ndim < 2:
            continue
        total = total.to(weight) + orthogonal_regularization(weight, beta, off_diagonal=off_diagonal)
    return total


# --------------------------------------------------------------------------- objectives by name


@dataclass(frozen=True, kw_only=True)
class Objective:
    """A GAN objective: the pair of losses and the critic constraint that go with it.

    The training loop minimises ``d_loss(real_logits, fake_logits)``, plus
    ``gp_weight * gradient_penalty(D, real, fake).mean()`` when ``gp_weight > 0``, then clips D's
    weights to [-clip, clip] when ``clip`` is set; and minimises ``g_loss(fake_logits)`` for G.
    """

    d_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (real_logits, fake_logits) -> scalar
    g_loss: Callable[[torch.Tensor], torch.Tensor]  # (fake_logits) -> scalar
    gp_weight: float = 0.0  # lambda of the gradient penalty; 0 = none
    clip: float | None = None  # weight-clipping bound c after each D step; None = no clipping
    description: str  # one line for the CLI's help


OBJECTIVES: dict[str, Objective] = {
    "gan": Objective(
        d_loss=discriminator_loss, g_loss=generator_loss_nonsaturating,
        description="original GAN D loss with the non-saturating G loss (Goodfellow et al. 2014)",
    ),
    "gan-saturating": Objective(
        d_loss=discriminator_loss, g_loss=generator_loss_saturating,
        description="the minimax game as written: G minimises log(1 - D(G(z))), which saturates",
    ),
    "wgan": Objective(
        d_loss=wasserstein_critic_loss, g_loss=wasserstein_generator_loss, clip=0.01,
        description="Wasserstein GAN with weight clipping at c = 0.01 (Arjovsky et al. 2017)",
    ),
    "wgan-gp": Objective(
        d_loss=wasserstein_critic_loss, g_loss=wasserstein_generator_loss, gp_weight=10.0,
        description="Wasserstein GAN with gradient penalty, lambda = 10 (Gulrajani et al. 2017)",
    ),
    "hinge": Objective(
        d_loss=hinge_discriminator_loss, g_loss=hinge_generator_loss,
        description="hinge loss (Lim & Ye 2017), as used with spectral norm (Miyato et al. 2018)",
    ),
    "lsgan": Objective(
        d_loss=least_squares_discriminator_loss, g_loss=least_squares_generator_loss,
        description="least-squares GAN, targets 0 / 1 (Mao et al. 2017)",
    ),
}


def objective(name: str) -> Objective:
    """Look up an objective by the name a user types (CLI, notebook parameter).

    Args:
        name: one of the keys of :data:`OBJECTIVES`.

    Returns:
        The :class:`Objective`.
    """
    try:
        return OBJECTIVES[name]
    except KeyError:
        raise ValueError(f"unknown objective {name!r}; choose one of: {', '.join(OBJECTIVES)}") from None
