"""A small denoising diffusion probabilistic model (DDPM; Ho, Jain and Abbeel 2020), for notebook 09.

**Forward process.** Over T steps a fixed schedule beta_1 .. beta_T adds Gaussian noise,
q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I), which composes to a closed form at any t
(Ho et al., Eq. 4), with alpha_bar_t = prod_{s <= t} (1 - beta_s):

    q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I),   x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps

**Training.** A U-Net eps_theta(x_t, t) predicts the noise; the loss is Ho et al.'s L_simple (Eq. 14),
|| eps - eps_theta(x_t, t) ||^2 with t uniform in 1..T.

**Sampling.** Ancestral sampling runs the learned reverse process from x_T ~ N(0, I) down to x_0, T network
evaluations (Algorithm 2): x_{t-1} = (x_t - beta_t / sqrt(1 - alpha_bar_t) eps_theta) / sqrt(1 - beta_t) + sigma_t z,
with sigma_t^2 = beta_t. DDIM (Song, Meng and Ermon 2021, Eq. 12) reuses the same network on a subsequence of
the steps, deterministically for eta = 0: tens of evaluations instead of T.

**Likelihood.** The variational bound (Ho et al., Eq. 5) L = L_T + sum_{t>1} L_{t-1} + L_0 bounds -log p(x_0):
L_{t-1} = KL(q(x_{t-1} | x_t, x_0) || p_theta(x_{t-1} | x_t)) between two Gaussians, L_0 the discretised
Gaussian decoder (:mod:`ganlib.likelihood`), L_T ~ 0. :func:`bits_per_dim` estimates the sum over t by
sampling t uniformly (unbiased), and reports it in bits per dimension, next to the VAE's ELBO.

Time steps are 0-based in the code, t = 0 .. T - 1, as in Ho et al.'s released code: ``betas[t]`` is beta_{t+1}.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganlib import likelihood

__all__ = ["DiffusionConfig", "NoiseSchedule", "UNet", "DDPM", "q_sample", "simple_loss", "timestep_embedding"]


@dataclass
class DiffusionConfig:
    """Sizes of the U-Net and the noise schedule (Ho et al. 2020: T = 1000, betas linear 1e-4 -> 0.02)."""

    channels: int = 1  # 1 (digits) or 3
    image_size: int = 32
    width: int = 32  # channels at full resolution (Ho et al.'s CIFAR-10 model: 128)
    channel_mult: tuple[int, ...] = (1, 2, 2)  # per resolution 32, 16, 8
    attention_resolution: int = 8  # self-attention in the blocks at this resolution (Ho et al.: 16)
    timesteps: int = 1000  # T
    beta_start: float = 1e-4  # beta_1
    beta_end: float = 0.02  # beta_T

    def __post_init__(self) -> None:
        if self.image_size % 2 ** (len(self.channel_mult) - 1):
            raise ValueError(f"image_size {self.image_size} must halve {len(self.channel_mult) - 1} times")
        if not 0 < self.beta_start < self.beta_end < 1:
            raise ValueError(f"need 0 < beta_start < beta_end < 1, got {self.beta_start}, {self.beta_end}")
        if self.timesteps < 2:
            raise ValueError(f"timesteps must be at least 2, got {self.timesteps}")


class NoiseSchedule(nn.Module):
    """beta_t and the quantities derived from it, as buffers (they follow the model to its device)."""

    def __init__(self, timesteps: int, beta_start: float, beta_end: float):
        super().__init__()
        betas = torch.linspace(beta_start, beta_end, timesteps, dtype=torch.float64)  # Ho et al., Sec. 4
        alpha_bar = torch.cumprod(1 - betas, 0)
        alpha_bar_prev = torch.cat([torch.ones(1, dtype=torch.float64), alpha_bar[:-1]])
        posterior_var = betas * (1 - alpha_bar_prev) / (1 - alpha_bar)  # beta~_t of q(x_{t-1} | x_t, x_0), Eq. 7
        for name, value in dict(betas=betas, alpha_bar=alpha_bar, alpha_bar_prev=alpha_bar_prev,
                                posterior_var=posterior_var,
                                # the reverse process's variance sigma_t^2 = beta_t (Ho et al.'s "fixed large");
                                # at t = 1 beta~_2 instead of beta_1, as in their code, for a finite L_0 scale
                                reverse_var=torch.cat([posterior_var[1:2], betas[1:]])).items():
            self.register_buffer(name, value.float(), persistent=False)
        self.timesteps = timesteps

    def at(self, name: str, t: torch.Tensor) -> torch.Tensor:
        """The schedule's ``name`` at the (B,) integer steps t, shaped (B, 1, 1, 1) for images."""
        return getattr(self, name)[t].view(-1, 1, 1, 1)


def q_sample(x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, alpha_bar: torch.Tensor) -> torch.Tensor:
    """x_t ~ q(x_t | x_0) in closed form (Ho et al., Eq. 4): sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps.

    Args:
        x0: clean images (B, C, H, W); t: (B,) integer steps in 0 .. T-1; noise: eps, like x0;
        alpha_bar: the schedule's cumulative products, (T,).
    """
    ab = alpha_bar[t].view(-1, *([1] * (x0.ndim - 1)))  # (B, 1, 1, 1)
    return ab.sqrt() * x0 + (1 - ab).sqrt() * noise


def simple_loss(eps_model, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, alpha_bar: torch.Tensor
                ) -> torch.Tensor:
    """Ho et al.'s L_simple (Eq. 14) per image, (B,): the mean over pixels of (eps - eps_theta(x_t, t))^2,
    with x_t = q_sample(x0, t, eps). ``eps_model(x_t, t)`` predicts the noise."""
    return (noise - eps_model(q_sample(x0, t, noise, alpha_bar), t)).pow(2).flatten(1).mean(1)


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of the steps t (B,) -> (B, dim), as the Transformer's positions (Ho et al., App. B)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    angles = t.float()[:, None] * freqs[None]  # (B, half)
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class _ResBlock(nn.Module):
    """GroupNorm, SiLU, conv; the step's embedding added in between; a residual connection."""

    def __init__(self, c_in: int, c_out: int, t_dim: int):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(8, c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.t_proj = nn.Linear(t_dim, c_out)
        self.norm2, self.conv2 = nn.GroupNorm(8, c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        nn.init.zeros_(self.conv2.weight)  # each block starts as the identity
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: torch.Tensor, t_emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.t_proj(t_emb)[:, :, None, None]
        return self.skip(x) + self.conv2(F.silu(self.norm2(h)))


class _Attention(nn.Module):
    """Single-head self-attention over the pixels of a feature map, with a residual connection."""

    def __init__(self, c: int):
        super().__init__()
        self.norm, self.qkv, self.out = nn.GroupNorm(8, c), nn.Conv2d(c, 3 * c, 1), nn.Conv2d(c, c, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, H, W = x.shape
        q, k, v = self.qkv(self.norm(x)).flatten(2).transpose(1, 2).chunk(3, dim=2)  # (B, HW, C) each
        h = F.scaled_dot_product_attention(q, k, v)  # (B, HW, C)
        return x + self.out(h.transpose(1, 2).reshape(B, C, H, W))


class UNet(nn.Module):
    """eps_theta(x_t, t): a small U-Net, one residual block per resolution on each side, attention at 8 px."""

    def __init__(self, cfg: DiffusionConfig):
        super().__init__()
        self.cfg = cfg
        w, t_dim = cfg.width, 4 * cfg.width
        self.t_mlp = nn.Sequential(nn.Linear(w, t_dim), nn.SiLU(), nn.Linear(t_dim, t_dim))
        self.stem = nn.Conv2d(cfg.channels, w, 3, padding=1)
        widths = [w * m for m in cfg.channel_mult]
        self.down, self.down_attn, self.downsample = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        c, res = w, cfg.image_size
        for i, c_out in enumerate(widths):
            self.down.append(_ResBlock(c, c_out, t_dim))
            self.down_attn.append(_Attention(c_out) if res == cfg.attention_resolution else nn.Identity())
            last = i == len(widths) - 1
            self.downsample.append(nn.Identity() if last else nn.Conv2d(c_out, c_out, 3, stride=2, padding=1))
            c, res = c_out, res if last else res // 2
        self.mid1, self.mid_attn, self.mid2 = _ResBlock(c, c, t_dim), _Attention(c), _ResBlock(c, c, t_dim)
        self.up, self.up_attn, self.upsample = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for i, c_skip in reversed(list(enumerate(widths))):
            self.up.append(_ResBlock(c + c_skip, c_skip, t_dim))  # the encoder's feature map comes in as a skip
            self.up_attn.append(_Attention(c_skip) if res == cfg.attention_resolution else nn.Identity())
            first = i == 0
            self.upsample.append(nn.Identity() if first else nn.Upsample(scale_factor=2, mode="nearest"))
            c, res = c_skip, res if first else res * 2
        self.head = nn.Sequential(nn.GroupNorm(8, c), nn.SiLU(), nn.Conv2d(c, cfg.channels, 3, padding=1))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) noisy images and (B,) steps -> (B, C, H, W) predicted noise."""
        assert x.ndim == 4 and t.shape == (x.shape[0],), f"expected x (B, C, H, W) and t (B,), got {tuple(x.shape)}, {tuple(t.shape)}"
        t_emb = self.t_mlp(timestep_embedding(t, self.cfg.width))
        h, skips = self.stem(x), []
        for block, attn, down in zip(self.down, self.down_attn, self.downsample):
            h = attn(block(h, t_emb))
            skips.append(h)
            h = down(h)
        h = self.mid2(self.mid_attn(self.mid1(h, t_emb)), t_emb)
        for block, attn, up in zip(self.up, self.up_attn, self.upsample):
            h = up(attn(block(torch.cat([h, skips.pop()], dim=1), t_emb)))
        return self.head(h)


class DDPM(nn.Module):
    """The noise-prediction network and its schedule: training loss, samplers and the likelihood bound."""

    def __init__(self, cfg: DiffusionConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or DiffusionConfig()
        self.net = UNet(cfg)
        self.schedule = NoiseSchedule(cfg.timesteps, cfg.beta_start, cfg.beta_end)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.net(x_t, t)

    def loss(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Ho et al.'s L_simple (Eq. 14) per image, (B,): :func:`simple_loss` with this model and schedule."""
        return simple_loss(self, x0, t, noise, self.schedule.alpha_bar)

    def _mean_from_eps(self, x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """mu_theta(x_t, t) = (x_t - beta_t / sqrt(1 - alpha_bar_t) eps) / sqrt(1 - beta_t) (Ho et al., Eq. 11)."""
        s = self.schedule
        return (x_t - s.at("betas", t) / (1 - s.at("alpha_bar", t)).sqrt() * eps) / (1 - s.at("betas", t)).sqrt()

    @torch.no_grad()
    def sample(self, n: int, steps: int | None = None, *, generator: torch.Generator | None = None,
               eta: float = 0.0) -> torch.Tensor:
        """n images in [-1, 1], (n, C, H, W): ancestral sampling over all T steps when ``steps`` is None or T
        (Algorithm 2), else DDIM over ``steps`` evenly spaced steps (eta = 0: deterministic)."""
        device, cfg = self.schedule.betas.device, self.cfg
        x = torch.randn(n, cfg.channels, cfg.image_size, cfg.image_size, generator=generator).to(device)
        draw = lambda: torch.randn(x.shape, generator=generator).to(device)
        T = cfg.timesteps
        if steps is None or steps == T:
            for i in reversed(range(T)):
                t = torch.full((n,), i, device=device, dtype=torch.long)
                mean = self._mean_from_eps(x, t, self(x, t))
                x = mean + (self.schedule.at("betas", t).sqrt() * draw() if i > 0 else 0)  # sigma_t^2 = beta_t
            return x.clamp(-1, 1)
        if not 1 <= steps <= T:
            raise ValueError(f"steps must be in 1 .. {T}, got {steps}")
        ab = self.schedule.alpha_bar
        seq = torch.linspace(T - 1, 0, steps, device=device).round().long().tolist()  # T-1 ... 0
        for i, j in zip(seq, seq[1:] + [-1]):  # from step i to step j (j = -1: the clean image)
            t = torch.full((n,), i, device=device, dtype=torch.long)
            eps = self(x, t)
            a_i, a_j = ab[i], ab[j] if j >= 0 else torch.ones((), device=device)
            x0 = ((x - (1 - a_i).sqrt() * eps) / a_i.sqrt()).clamp(-1, 1)  # the predicted clean image, in range
            eps = (x - a_i.sqrt() * x0) / (1 - a_i).sqrt()  # the noise that clamped x0 implies (as diffusers' DDIM)
            sigma = eta * ((1 - a_j) / (1 - a_i) * (1 - a_i / a_j)).sqrt()  # Song et al., Eq. 16
            x = a_j.sqrt() * x0 + (1 - a_j - sigma ** 2).clamp_min(0).sqrt() * eps
            if eta > 0 and j >= 0:
                x = x + sigma * draw()
        return x.clamp(-1, 1)

    @torch.no_grad()
    def bound_terms(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """The term L_t of the variational bound for each image at its step t (B,), in nats (B,).

        t = 0 gives L_0 = -log p_theta(x_0 | x_1) (discretised Gaussian decoder); t >= 1 gives
        KL(q(x_t | x_{t+1}, x_0) || p_theta(x_t | x_{t+1})) with 0-based t, from x_{t+1} drawn with ``noise``.
        """
        s = self.schedule
        x_next = q_sample(x0, t, noise, s.alpha_bar)  # x at the step t (0-based): the "x_{t+1}" of the paper
        model_mean = self._mean_from_eps(x_next, t, self(x_next, t))
        model_logvar = s.at("reverse_var", t).log()
        # q(x_{t-1} | x_t, x_0)'s mean (Ho et al., Eq. 7), in the code's 0-based steps
        ab, ab_prev, beta = s.at("alpha_bar", t), s.at("alpha_bar_prev", t), s.at("betas", t)
        true_mean = (ab_prev.sqrt() * beta / (1 - ab)) * x0 + ((1 - beta).sqrt() * (1 - ab_prev) / (1 - ab)) * x_next
        true_logvar = s.at("posterior_var", t).clamp_min(1e-20).log()
        kl = likelihood.normal_kl(true_mean, true_logvar, model_mean, model_logvar).flatten(1).sum(1)
        decoder_nll = -likelihood.discretized_gaussian_log_likelihood(x0, model_mean, 0.5 * model_logvar).flatten(1).sum(1)
        return torch.where(t == 0, decoder_nll, kl)

    @torch.no_grad()
    def prior_term(self, x0: torch.Tensor) -> torch.Tensor:
        """L_T = KL(q(x_T | x_0) || N(0, I)) per image, in nats (B,): near zero for T = 1000."""
        ab = self.schedule.alpha_bar[-1]
        mean, logvar = ab.sqrt() * x0, (1 - ab).log().expand_as(x0)
        return likelihood.normal_kl(mean, logvar, 0.0, 0.0).flatten(1).sum(1)

    @torch.no_grad()
    def bits_per_dim(self, x0: torch.Tensor, t_samples: int = 0, *, generator: torch.Generator | None = None
                     ) -> torch.Tensor:
        """The variational bound on -log p(x_0) per image, in bits per dimension (B,).

        ``t_samples = 0`` sums all T terms (T network evaluations per image); otherwise each image's sum over
        t >= 1 is estimated from ``t_samples`` steps drawn uniformly, times (T - 1) / t_samples (unbiased), and
        L_0 is always computed exactly.
        """
        device, T, B = x0.device, self.cfg.timesteps, x0.shape[0]
        steps = range(1, T) if t_samples <= 0 else None
        total = self.prior_term(x0) + self.bound_terms(x0, torch.zeros(B, dtype=torch.long, device=device),
                                                       torch.randn(x0.shape, generator=generator).to(device))
        draws = list(steps) if steps is not None else [None] * t_samples
        weight = 1.0 if steps is not None else (T - 1) / t_samples
        for i in draws:
            t = (torch.full((B,), i, dtype=torch.long) if i is not None
                 else torch.randint(1, T, (B,), generator=generator)).to(device)
            total = total + weight * self.bound_terms(x0, t, torch.randn(x0.shape, generator=generator).to(device))
        return likelihood.bits_per_dim(total, x0[0].numel())
