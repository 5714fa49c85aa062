"""GAN losses as pure functions of discriminator logits.

Every function takes logits (the discriminator's raw, pre-sigmoid output) and returns a scalar
mean over the batch. The sigmoid lives inside the loss, through ``softplus``, which is the
numerically stable form of the log-sigmoid:

    -log sigmoid(t)     = softplus(-t)
    -log(1 - sigmoid(t)) = softplus(t)

so ``D(x) = sigmoid(logit)`` never has to be formed and ``log 0`` never happens. One argument
order everywhere: ``(real_logits, fake_logits)`` for the discriminator, ``(fake_logits)`` for the
generator.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

__all__ = [
    "discriminator_loss",
    "generator_loss_saturating",
    "generator_loss_nonsaturating",
    "GENERATOR_LOSSES",
    "generator_loss",
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
