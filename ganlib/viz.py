"""Figures: sample grids, training curves, 2-D samples over D's heat map, animations, 1-D densities.

Every plotting function draws into ``ax`` when given one (so figures compose) and otherwise makes
its own figure; it returns the matplotlib ``Figure``.
"""

from __future__ import annotations

import io
import os
from typing import TYPE_CHECKING, Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib import animation
from matplotlib.figure import Figure

from ganlib.data import count_modes

if TYPE_CHECKING:
    import ipywidgets as widgets

    from ganlib.training.history import History

__all__ = [
    "image_grid",
    "show_images",
    "save_image_grid",
    "plot_history",
    "plot_2d",
    "animate_2d",
    "plot_densities_1d",
    "plot_mode_coverage",
    "figure_png",
    "slider_figure",
    "layer_table",
    "plot_critic_2d",
]


def _axes(ax, figsize=(5, 5)):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    return ax.figure, ax


def image_grid(images: torch.Tensor, nrow: int = 8) -> np.ndarray:
    """Tile images (B, C, H, W) in [-1, 1] into one (H', W', C) array in [0, 1]."""
    if images.ndim != 4:
        raise ValueError(f"expected images of shape (B, C, H, W), got {tuple(images.shape)}")
    import torchvision  # imported here: it costs seconds, and most plots do not need it

    grid = torchvision.utils.make_grid(images.detach().float().cpu(), nrow=nrow, padding=2,
                                       normalize=True, value_range=(-1, 1), pad_value=1.0)
    return grid.permute(1, 2, 0).numpy()  # (H', W', C)


def show_images(images: torch.Tensor, nrow: int = 8, title: str | None = None, ax=None) -> Figure:
    """Show a grid of images (B, C, H, W) in [-1, 1]."""
    fig, ax = _axes(ax)
    ax.imshow(image_grid(images, nrow))  # make_grid repeats a grey channel to RGB
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return fig


def save_image_grid(images: torch.Tensor, path: str | os.PathLike, nrow: int = 8) -> None:
    """Write a grid of images (B, C, H, W) in [-1, 1] to a PNG file."""
    import torchvision

    torchvision.utils.save_image(images.detach().float().cpu(), os.fspath(path), nrow=nrow,
                                 normalize=True, value_range=(-1, 1), pad_value=1.0)


def plot_history(history: "History", title: str | None = None, axes: Sequence | None = None) -> Figure:
    """Two panels: the losses, and D's mean output on real and fake samples (1/2 at equilibrium)."""
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    fig = axes[0].figure
    axes[0].plot(history.step, history.d_loss, label="D loss")
    axes[0].plot(history.step, history.g_loss, label="G loss")
    axes[0].axhline(np.log(4), color="grey", ls=":", lw=1, label="D loss at equilibrium (log 4)")
    axes[0].set_xlabel("generator step")
    axes[0].set_ylabel("loss")
    axes[0].legend(fontsize=8)
    axes[1].plot(history.step, history.d_real, label="mean D(x), real")
    axes[1].plot(history.step, history.d_fake, label="mean D(G(z)), fake")
    axes[1].axhline(0.5, color="grey", ls=":", lw=1, label="1/2")
    axes[1].set_ylim(-0.02, 1.02)
    axes[1].set_xlabel("generator step")
    axes[1].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_series(history: "History", panels: dict[str, Sequence[str]], title: str | None = None,
                logy: bool = False) -> Figure:
    """One panel per entry of ``panels`` (its title -> the series it draws), against the step.

    Any metric a task reported can be drawn, e.g. CycleGAN's
    ``{"generators": ["g_gan", "cycle", "identity"], "discriminators": ["d_x_loss", "d_y_loss"]}``.
    Series a run never reported (all NaN) are left out; an unknown name raises ``AttributeError``.
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.5), squeeze=False)
    for ax, (panel, names) in zip(axes[0], panels.items()):
        for name in names:
            values = np.asarray(getattr(history, name), dtype=float)
            if len(values) and not np.isnan(values).all():
                ax.plot(history.step, values, label=name)
        ax.set_title(panel, fontsize=10)
        ax.set_xlabel("step")
        if logy:
            ax.set_yscale("log")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _lim(points: np.ndarray, margin: float = 0.5) -> float:
    return float(np.abs(points).max()) + margin


@torch.no_grad()
def _d_heatmap(D: torch.nn.Module, lim: float, n: int = 120) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xs = np.linspace(-lim, lim, n)
    gx, gy = np.meshgrid(xs, xs)
    pts = torch.tensor(np.stack([gx.ravel(), gy.ravel()], 1), dtype=torch.float32)  # (n*n, 2)
    device = next(D.parameters()).device
    prob = torch.sigmoid(D(pts.to(device))).cpu().numpy().reshape(n, n)
    return gx, gy, prob


def plot_2d(
    samples: torch.Tensor | np.ndarray,
    real: torch.Tensor | np.ndarray | None = None,
    D: torch.nn.Module | None = None,
    lim: float | None = None,
    title: str | None = None,
    ax=None,
) -> Figure:
    """Scatter generated 2-D points (orange) over real ones (black), on D's output as a heat map.

    The heat map shows D(x) = sigmoid(logit): blue where D says "fake", red where it says "real".
    """
    fig, ax = _axes(ax)
    samples = np.asarray(samples, dtype=np.float32)
    lim = lim or _lim(samples if real is None else np.asarray(real))
    if D is not None:
        gx, gy, prob = _d_heatmap(D, lim)
        mesh = ax.pcolormesh(gx, gy, prob, cmap="coolwarm", vmin=0, vmax=1, shading="auto", alpha=0.6)
        fig.colorbar(mesh, ax=ax, fraction=0.046, pad=0.04, label="D(x)")
    if real is not None:
        real = np.asarray(real)
        ax.scatter(real[:, 0], real[:, 1], s=4, c="k", alpha=0.3, label="real")
    ax.scatter(samples[:, 0], samples[:, 1], s=4, c="tab:orange", alpha=0.6, label="generated")
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=8, markerscale=3)
    if title:
        ax.set_title(title)
    return fig


def animate_2d(history: "History", real: torch.Tensor | np.ndarray, lim: float | None = None,
               interval: int = 150) -> animation.FuncAnimation:
    """Animate the 2-D snapshots of a run over the real points.

    Show it in a notebook with ``IPython.display.HTML(anim.to_jshtml())``.
    """
    real = np.asarray(real)
    lim = lim or _lim(real)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.scatter(real[:, 0], real[:, 1], s=4, c="k", alpha=0.3)
    dots = ax.scatter([], [], s=6, c="tab:orange")
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")

    def frame(i: int):
        dots.set_offsets(history.snapshots[i].numpy())
        ax.set_title(f"step {history.snapshot_steps[i]}")
        return (dots,)

    anim = animation.FuncAnimation(fig, frame, frames=len(history.snapshots), interval=interval, blit=False)
    plt.close(fig)  # the animation is what gets shown, not the static figure
    return anim


def plot_densities_1d(x: np.ndarray, p_data: np.ndarray, p_g: np.ndarray, d: np.ndarray | None = None,
                      d_label: str = "D*(x)", ax=None) -> Figure:
    """Plot p_data (black, dotted), p_g (green) and a discriminator (blue, dashed) as in the GAN paper's Fig. 1."""
    fig, ax = _axes(ax, figsize=(7, 3.5))
    ax.plot(x, p_data, "k:", lw=2, label="p_data")
    ax.plot(x, p_g, "g-", lw=2, label="p_g")
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    if d is not None:
        ax2 = ax.twinx()
        ax2.plot(x, d, "b--", lw=2, label=d_label)
        ax2.set_ylim(-0.02, 1.02)
        ax2.set_ylabel("D(x)")
        lines = ax.get_lines() + ax2.get_lines()
        ax.legend(lines, [ln.get_label() for ln in lines], loc="upper right", fontsize=8)
    else:
        ax.legend(loc="upper right", fontsize=8)
    return fig


def plot_mode_coverage(histories: "dict[str, History]", mixture, ax=None, title: str | None = None) -> Figure:
    """Modes covered over training, one line per run, from each run's 2-D sample snapshots.

    Every snapshot of every history is scored with :func:`ganlib.data.count_modes`; a line that
    climbs to ``mixture.n_modes`` and stays there is a run that found every mode, a line that
    drops and climbs again is mode hopping.

    Args:
        histories: run label -> :class:`~ganlib.train.History` with 2-D snapshots (N, 2). Use a
            few hundred samples per snapshot (``TrainConfig.n_snapshot``) for a steady count.
        mixture: the target :class:`~ganlib.data.GaussianMixture`.
        ax: draw into these axes; by default a new figure.
        title: the axes title.

    Returns:
        The matplotlib Figure.
    """
    fig, ax = _axes(ax, figsize=(7, 3.5))
    for label, history in histories.items():
        modes = [count_modes(s, mixture).n_modes for s in history.snapshots]
        ax.plot(history.snapshot_steps, modes, marker=".", label=label)
    ax.axhline(mixture.n_modes, color="grey", ls=":", lw=1, label=f"all {mixture.n_modes} modes")
    ax.set_ylim(-0.3, mixture.n_modes + 0.5)
    ax.set_xlabel("generator step")
    ax.set_ylabel("modes covered")
    ax.legend(fontsize=8, loc="upper left")
    if title:
        ax.set_title(title)
    return fig


def figure_png(fig) -> bytes:
    """Render a matplotlib figure to PNG bytes and close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def slider_figure(draw: Callable[..., "plt.Figure"], **sliders) -> "widgets.VBox":
    """Sliders that redraw a figure: ``draw(**values)`` must return a new matplotlib Figure.

    Each keyword is a slider widget (e.g. ``mu=widgets.FloatSlider(...)``). The figure is shown as
    an ``Image`` widget holding a PNG, updated whenever a slider moves. Unlike ``ipywidgets.interact``
    this uses no ``Output`` widget, whose capture can deadlock notebook runners (papermill, nbval)
    that execute the notebook without a browser; in a static view the first drawing is shown.
    """
    import ipywidgets as widgets  # imported here: only notebooks need it

    image = widgets.Image(format="png")

    def redraw(_change=None) -> None:
        image.value = figure_png(draw(**{name: s.value for name, s in sliders.items()}))

    for s in sliders.values():
        s.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox(list(sliders.values())), image])


def _describe_layer(module: torch.nn.Module) -> str:
    name = type(module).__name__
    if isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
        return (f"{name}({module.in_channels}->{module.out_channels}, kernel {module.kernel_size[0]}, "
                f"stride {module.stride[0]}, pad {module.padding[0]})")
    if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
        return f"{name}({module.num_features})"
    if isinstance(module, torch.nn.modules.instancenorm._InstanceNorm):
        return f"{name}({module.num_features}{', affine' if module.affine else ''})"
    if isinstance(module, torch.nn.ReflectionPad2d):
        return f"{name}({module.padding[0]})"
    extra = module.extra_repr()
    return f"{name}({extra})" if extra else name


@torch.no_grad()
def layer_table(model: torch.nn.Module, input_shape: Sequence[int]) -> str:
    """A text table of ``model``'s layers in call order: each one's output shape and parameter count.

    The model runs once, in eval mode, on zeros of shape ``(1, *input_shape)``; forward hooks on its
    layers (modules without children, or with a parametrization such as spectral norm) record the
    shapes. Shapes are printed with the batch dimension as ``B``. The text is deterministic, so a
    notebook can store it as a golden output.

    Args:
        model: a network, e.g. a DCGAN generator or discriminator.
        input_shape: one input's shape without the batch dimension, e.g. ``(100,)`` or ``(1, 32, 32)``.

    Returns:
        The table, one line per layer, with a header and the total parameter count.
    """
    from torch.nn.utils import parametrize

    layers = []
    for module in model.modules():
        inside = any(module in set(p.modules()) for p in layers if parametrize.is_parametrized(p))
        if not inside and (parametrize.is_parametrized(module) or not any(module.children())):
            layers.append(module)
    rows: list[tuple[str, tuple[int, ...], int]] = []
    hooks = [m.register_forward_hook(
        lambda m, _inputs, out: rows.append((_describe_layer(m), tuple(out.shape[1:]), sum(p.numel() for p in m.parameters()))))
        for m in layers]
    was_training = model.training
    model.eval()
    try:
        model(torch.zeros(1, *input_shape, device=next(model.parameters()).device))
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    shape = lambda s: "(" + ", ".join(["B", *map(str, s)]) + ")"
    width = max(len(r[0]) for r in rows)
    lines = [f"{'layer':<{width}}  {'output shape':<18}  {'parameters':>10}",
             f"{'input':<{width}}  {shape(tuple(input_shape)):<18}  {'':>10}"]
    lines += [f"{name:<{width}}  {shape(s):<18}  {n:>10,}" for name, s, n in rows]
    lines.append(f"{'total':<{width}}  {'':<18}  {sum(p.numel() for p in model.parameters()):>10,}")
    return "\n".join(lines)


@torch.no_grad()
def plot_critic_2d(
    critic: torch.nn.Module,
    samples: torch.Tensor | np.ndarray | None = None,
    real: torch.Tensor | np.ndarray | None = None,
    lim: float = 3.0,
    levels: int = 15,
    title: str | None = None,
    ax=None,
) -> Figure:
    """Contour lines of a critic's raw scores f(x) on 2-D points, under real and generated samples.

    Unlike :func:`plot_2d`, which shows a discriminator's probability sigmoid(logit), this shows
    the unbounded value f(x) of a Wasserstein critic (or any D's logit): a 1-Lipschitz critic rises
    by at most ``d`` over a distance ``d``, so evenly spaced contour lines that crowd together mark
    where it is steep. The critic is put in eval mode while it is evaluated.

    Args:
        critic: maps points (N, 2) to scores (N,).
        samples: generated points (N, 2), drawn orange; optional.
        real: real points (M, 2), drawn black; optional.
        lim: the square [-lim, lim]^2 shown.
        levels: number of contour levels.
        title: the axes title.
        ax: draw into these axes; by default a new figure.

    Returns:
        The matplotlib Figure.
    """
    fig, ax = _axes(ax)
    xs = np.linspace(-lim, lim, 150)
    gx, gy = np.meshgrid(xs, xs)
    pts = torch.tensor(np.stack([gx.ravel(), gy.ravel()], 1), dtype=torch.float32)  # (n*n, 2)
    was_training = critic.training
    critic.eval()
    try:
        f = critic(pts.to(next(critic.parameters()).device)).float().cpu().numpy().reshape(gx.shape)
    finally:
        critic.train(was_training)
    filled = ax.contourf(gx, gy, f, levels=levels, cmap="viridis", alpha=0.75)
    ax.contour(gx, gy, f, levels=filled.levels, colors="k", linewidths=0.3, alpha=0.5)
    fig.colorbar(filled, ax=ax, fraction=0.046, pad=0.04, label="critic f(x)")
    for points, color, label in ((real, "k", "real"), (samples, "tab:orange", "generated")):
        if points is not None:
            points = np.asarray(points, dtype=np.float32)
            ax.scatter(points[:, 0], points[:, 1], s=4, c=color, alpha=0.5, label=label)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    if samples is not None or real is not None:
        ax.legend(loc="upper right", fontsize=8, markerscale=3)
    if title:
        ax.set_title(title)
    return fig
