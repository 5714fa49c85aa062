"""Metrics of a generator's latent space: how smoothly images change along an interpolation."""

from __future__ import annotations

import torch

from ganlib.classifier import load_mnist_classifier
from ganlib.metrics.digits import _crop_to_28

__all__ = ["slerp", "perceptual_path_length"]


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation of the rows of ``a`` and ``b`` (B, d) at fractions ``t`` (B,) along the great circle."""
    a_n, b_n = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    omega = torch.acos((a_n * b_n).sum(dim=1).clamp(-1 + 1e-7, 1 - 1e-7))[:, None]  # (B, 1)
    t = t[:, None]
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


@torch.no_grad()
def perceptual_path_length(generate, a: torch.Tensor, b: torch.Tensor, *, space: str = "z", epsilon: float = 1e-4,
                           features=None, t: torch.Tensor | None = None, generator: torch.Generator | None = None,
                           batch_size: int = 250) -> tuple[float, torch.Tensor]:
    """Perceptual path length (Karras et al. 2019, Sec. 4.1, Eqs. 3-4): how much the image changes per
    unit step along an interpolation between two latents.

        l = E_t [ d(G(i(a, b; t)), G(i(a, b; t + epsilon))) / epsilon^2 ],  t ~ U(0, 1)

    with slerp as i in Z (a Gaussian's latents lie near a sphere) and lerp in W. The paper's d is
    LPIPS on VGG features; offline, the default here is the squared distance between the shipped
    MNIST classifier's 64-d features (digits only), so the numbers are comparable between models of
    this course, not with the paper's.

    Args:
        generate: latents (B, d) -> images (B, C, H, W), e.g. ``lambda z: G(z)`` or a synthesis of w.
        a, b: the interpolation's end points (N, d), in the space named by ``space``.
        space: "z" (slerp) or "w" (lerp).
        epsilon: the step (paper: 1e-4).
        features: images -> (B, F) embedding for d; default the digit classifier's features.
        t: the fractions (N,); default uniform from ``generator``.
        batch_size: pairs per forward pass.

    Returns:
        ``(mean, per-pair lengths (N,))``. The paper also drops the 1% tails before averaging; the
        per-pair values let a caller do so.
    """
    if space not in ("z", "w"):
        raise ValueError(f"space must be 'z' (slerp) or 'w' (lerp), got {space!r}")
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"a and b must be (N, d) of one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if features is None:
        model, _ = load_mnist_classifier("cpu")
        features = lambda images: model.features(_crop_to_28(images.detach().float().cpu()))
    if t is None:
        t = torch.rand(len(a), generator=generator, dtype=a.dtype)
    lengths = []
    for i in range(0, len(a), batch_size):
        ai, bi, ti = a[i:i + batch_size], b[i:i + batch_size], t[i:i + batch_size]
        if space == "z":
            p0, p1 = slerp(ai, bi, ti), slerp(ai, bi, ti + epsilon)
        else:
            p0, p1 = torch.lerp(ai, bi, ti[:, None]), torch.lerp(ai, bi, ti[:, None] + epsilon)
        f0, f1 = features(generate(p0)).double(), features(generate(p1)).double()
        lengths.append((f0 - f1).pow(2).sum(dim=1) / epsilon ** 2)
    lengths = torch.cat(lengths)
    return float(lengths.mean()), lengths
