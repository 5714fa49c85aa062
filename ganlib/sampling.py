"""Drawing from a trained network: one place for every family's samples.

- :func:`sample`: n images (or points) of a generator G(z), or of a class-conditional G(z, y) with labels;
- :func:`translate`: an image-to-image G(x) (pix2pix, CycleGAN's G and F) applied to given images;
- :func:`truncated_normal`: latents for the truncation trick;
- :func:`draw`: n samples of any family (a G(z), a VAE, a DDPM) in batches from one seeded stream, with a
  progress bar; what ``python -m ganlib evaluate`` and :meth:`ganlib.recipes.runs.Run.sample` use.

Every function runs the network in eval mode (dropout off, batch norm's running statistics) and returns
float32 tensors on the CPU, whatever the network's device, so a seed gives the same images everywhere.
"""

from __future__ import annotations

import torch
from torch import nn

from ganlib.models.diffusion import DDPM
from ganlib.models.vae import VAE
from ganlib.progress import progress_bar

__all__ = ["sample", "translate", "truncated_normal", "draw", "family_of", "n_classes_of", "is_translator"]


def n_classes_of(G: nn.Module) -> int | None:
    """The number of classes of a class-conditional G(z, y), None for an unconditional one."""
    return getattr(getattr(G, "cfg", None), "n_classes", None)


def is_translator(G: nn.Module) -> bool:
    """True for an image-to-image G(x) such as the pix2pix U-Net: it has no latent size."""
    return getattr(getattr(G, "cfg", None), "latent_dim", None) is None


@torch.no_grad()
def _eval_forward(G: nn.Module, *inputs: torch.Tensor) -> torch.Tensor:
    device = next(G.parameters()).device
    was_training = G.training
    G.eval()
    try:
        return G(*(t.to(device) for t in inputs)).float().cpu()
    finally:
        G.train(was_training)


def truncated_normal(n: int, dim: int, psi: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Latents for the truncation trick (Brock et al. 2019, Sec. 3.1): (n, dim) float32 standard normals
    conditioned on |z_i| <= psi, every entry outside redrawn until it falls inside (psi = inf: no truncation).

    Notebook 07 asks students to write this; notebook 08b uses it for BigGAN's truncation sweep.
    """
    if not psi > 0:
        raise ValueError(f"the truncation threshold psi must be positive, got {psi}")
    z = torch.randn(n, dim, generator=generator)
    outside = z.abs() > psi
    while outside.any():
        z[outside] = torch.randn(int(outside.sum()), generator=generator)
        outside = z.abs() > psi
    return z


def sample(G: nn.Module, n: int, *, generator: torch.Generator | None = None, z: torch.Tensor | None = None,
           labels: torch.Tensor | None = None) -> torch.Tensor:
    """Draw ``n`` samples from G in eval mode, returned on the CPU as (n, *data_shape).

    Args:
        G: a generator with ``G.cfg.latent_dim``; unconditional G(z) or class-conditional G(z, y).
        n: how many samples (ignored when ``z`` is given).
        generator: CPU random generator for z.
        z: latent codes (n, latent_dim) to use instead of fresh ones.
        labels: class labels (n,) for a conditional G; by default 0, 1, ..., n_classes - 1, 0, 1, ...
            so that a grid with ``nrow=n_classes`` shows one class per column.
    """
    if z is None:
        z = torch.randn(n, G.cfg.latent_dim, generator=generator)  # (n, latent_dim), CPU generator
    n_classes = n_classes_of(G)
    if n_classes is None:
        if labels is not None:
            raise ValueError("labels were given but G is unconditional (its config has no n_classes)")
        return _eval_forward(G, z)
    if labels is None:
        labels = torch.arange(len(z)) % n_classes  # (n,)
    if labels.shape != (len(z),):
        raise ValueError(f"labels must have shape ({len(z)},) like z's batch, got {tuple(labels.shape)}")
    return _eval_forward(G, z, labels.long())


def translate(G: nn.Module, conditions: torch.Tensor) -> torch.Tensor:
    """An image-to-image G applied in eval mode (dropout off, batch norm's running statistics):
    conditions (B, C_in, H, W) -> images (B, C_out, H, W) on the CPU."""
    return _eval_forward(G, conditions)


def family_of(model: nn.Module) -> str:
    """"vae", "ddpm" or "gan" (anything with ``cfg.latent_dim`` that maps z to an image)."""
    return "vae" if isinstance(model, VAE) else "ddpm" if isinstance(model, DDPM) else "gan"


@torch.no_grad()
def draw(model: nn.Module, n: int, *, generator: torch.Generator, steps: int | None = None, batch_size: int = 500,
         progress: bool = False) -> torch.Tensor:
    """n samples (n, C, H, W) of an unconditional G(z), a VAE or a DDPM, in batches, on the CPU (the VAE's and the
    DDPM's clamped to [-1, 1], the pixel range; a G's as it makes them: a tanh output is in range already, and a
    toy G's 2-D points must not be clipped).

    Args:
        model: a generator with ``cfg.latent_dim``, a :class:`~ganlib.models.vae.VAE` or a
            :class:`~ganlib.models.diffusion.DDPM`, on any device.
        n: how many samples.
        generator: CPU random generator: the z (or the DDPM's x_T and steps) of all batches come from it in turn.
        steps: the DDPM's network evaluations per sample: None = all T (ancestral), fewer = DDIM.
        batch_size: samples per forward pass.
        progress: show a progress bar over the batches.
    """
    family, out = family_of(model), []
    starts = range(0, n, batch_size)
    for start in progress_bar(starts, initial=0, total=len(starts), desc="sampling", enabled=progress):
        b = min(batch_size, n - start)
        if family == "gan":
            out.append(sample(model, b, generator=generator))
        elif family == "vae":
            out.append(model.sample(b, generator=generator).float().cpu().clamp(-1, 1))
        else:
            out.append(model.sample(b, steps, generator=generator).float().cpu().clamp(-1, 1))
    return torch.cat(out)
