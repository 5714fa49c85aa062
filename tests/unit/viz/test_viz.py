"""Tests of ganlib.viz: every figure draws on tiny inputs; grids map [-1, 1] to [0, 1] exactly."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.animation import FuncAnimation  # noqa: E402
from matplotlib.collections import QuadMesh  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ganlib import viz  # noqa: E402
from ganlib.models.mlp import build_mlp_gan  # noqa: E402
from ganlib.train import History  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _history(n_logs: int = 4, n_snapshots: int = 3) -> History:
    h = History()
    for i in range(1, n_logs + 1):
        h.record(10 * i, {"d_loss": 1.4 - 0.1 * i, "g_loss": 0.7 + 0.1 * i, "d_real": 0.5 + 0.05 * i,
                          "d_fake": 0.5 - 0.05 * i})
    g = torch.Generator().manual_seed(0)
    for i in range(n_snapshots):
        h.snapshot_steps.append(10 * i)
        h.snapshots.append(torch.randn(20, 2, generator=g))
    return h


def _points(n: int = 50, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 2, generator=torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------- image grids


def test_image_grid_shape_and_range():
    images = torch.rand(6, 3, 5, 7, generator=torch.Generator().manual_seed(0)) * 2 - 1
    grid = viz.image_grid(images, nrow=3)
    # 3 columns x 2 rows of 5x7 images with 2-pixel padding around and between them
    assert grid.shape == (2 + 2 * (5 + 2), 2 + 3 * (7 + 2), 3)
    assert grid.min() >= 0 and grid.max() <= 1


def test_image_grid_maps_minus_one_to_zero_and_one_to_one():
    images = torch.full((2, 1, 4, 4), -1.0)
    images[1] = 1.0
    images[0, 0, 1, 2] = 0.0  # a mid-grey pixel
    grid = viz.image_grid(images, nrow=2)
    assert grid.shape == (2 + 4 + 2, 2 + 2 * (4 + 2), 3)  # grey becomes RGB
    # image 0 starts at (2, 2), image 1 at (2, 2 + 4 + 2)
    np.testing.assert_allclose(grid[2, 2], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(grid[2, 8], [1.0, 1.0, 1.0])
    np.testing.assert_allclose(grid[2 + 1, 2 + 2], [0.5, 0.5, 0.5], atol=1e-7)
    # the normalisation is the fixed range [-1, 1], not the batch's own min and max
    dim = viz.image_grid(torch.zeros(1, 1, 3, 3))
    np.testing.assert_allclose(dim[2:5, 2:5], 0.5, atol=1e-7)


def test_image_grid_rejects_non_image_batches():
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        viz.image_grid(torch.zeros(4, 8, 8))


def test_show_images_returns_a_figure():
    fig = viz.show_images(torch.zeros(4, 1, 6, 6), nrow=2, title="digits")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_title() == "digits" and len(ax.images) == 1
    fig2, ax2 = plt.subplots()
    assert viz.show_images(torch.zeros(4, 1, 6, 6), ax=ax2) is fig2  # draws into the given axes


def test_save_image_grid_writes_a_readable_png(tmp_path):
    images = torch.full((4, 1, 3, 3), 1.0)
    images[0] = -1.0
    path = tmp_path / "grid.png"
    viz.save_image_grid(images, path, nrow=2)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    png = mpimg.imread(path)
    assert png.shape[:2] == (2 + 2 * (3 + 2), 2 + 2 * (3 + 2))
    np.testing.assert_allclose(png[2, 2, :3], 0.0)  # image 0 is black
    np.testing.assert_allclose(png[2, 7, :3], 1.0)  # image 1 is white


# --------------------------------------------------------------------------- curves and 2-D plots


def test_plot_history_draws_both_panels():
    h = _history()
    fig = viz.plot_history(h, title="run")
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    d_loss_line = fig.axes[0].get_lines()[0]
    np.testing.assert_array_equal(d_loss_line.get_xdata(), h.step)
    np.testing.assert_allclose(d_loss_line.get_ydata(), h.d_loss)


def test_plot_history_of_an_empty_history():
    assert isinstance(viz.plot_history(History()), Figure)


def test_plot_2d_without_d_has_no_heat_map():
    fig = viz.plot_2d(_points(), real=_points(seed=1), title="t")
    assert isinstance(fig, Figure)
    assert not any(isinstance(c, QuadMesh) for c in fig.axes[0].collections)


def test_plot_2d_with_d_draws_its_heat_map():
    torch.manual_seed(0)
    _, D = build_mlp_gan("toy2d", d_hidden=(8,))
    fig = viz.plot_2d(_points(), real=_points(seed=1), D=D, lim=3.0)
    meshes = [c for c in fig.axes[0].collections if isinstance(c, QuadMesh)]
    assert len(meshes) == 1
    values = np.asarray(meshes[0].get_array())
    assert values.min() >= 0 and values.max() <= 1  # sigmoid of D's logits
    assert fig.axes[0].get_xlim() == (-3.0, 3.0)


def test_plot_2d_accepts_numpy_and_an_axes():
    fig, ax = plt.subplots()
    assert viz.plot_2d(_points().numpy(), ax=ax) is fig


def test_animate_2d_has_one_frame_per_snapshot():
    h = _history(n_snapshots=5)
    anim = viz.animate_2d(h, _points())
    assert isinstance(anim, FuncAnimation)
    frames = list(anim.new_frame_seq())
    assert len(frames) == len(h.snapshots) == 5
    anim._func(4)  # draw the last frame: its points are the last snapshot
    dots = anim._fig.axes[0].collections[-1]
    np.testing.assert_allclose(dots.get_offsets(), h.snapshots[4].numpy())
    assert anim._fig.axes[0].get_title() == "step 40"
    anim._draw_was_started = True  # silence "animation was deleted without rendering"


def test_plot_densities_1d():
    x = np.linspace(-3, 3, 50)
    p, q = np.exp(-x ** 2), np.exp(-(x - 1) ** 2)
    fig = viz.plot_densities_1d(x, p, q)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    fig = viz.plot_densities_1d(x, p, q, d=p / (p + q))
    assert len(fig.axes) == 2  # D gets its own [0, 1] axis
    np.testing.assert_allclose(fig.axes[1].get_lines()[0].get_ydata(), p / (p + q))


def test_module_exports_exist():
    for name in viz.__all__:
        assert callable(getattr(viz, name))


def test_layer_table_lists_shapes_and_counts_parameters():
    from ganlib.models.dcgan import build_dcgan

    G, D = build_dcgan("mnist32")
    table = viz.layer_table(G, (G.cfg.latent_dim,))
    lines = table.splitlines()
    assert lines[1].startswith("input") and "(B, 100)" in lines[1]
    assert "(B, 1, 32, 32)" in lines[-2]  # the last layer (Tanh) gives the image
    total = int(lines[-1].split()[-1].replace(",", ""))
    assert total == sum(p.numel() for p in G.parameters())
    per_layer = sum(int(line.split()[-1].replace(",", "")) for line in lines[2:-1])
    assert per_layer == total  # every parameter belongs to exactly one listed layer
    assert G.training  # the mode is restored
    assert viz.layer_table(G, (G.cfg.latent_dim,)) == table  # deterministic: usable as a golden output


def test_plot_critic_2d_draws_the_raw_scores():
    critic = torch.nn.Linear(2, 1)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[1.0, 0.0]]))  # f(x) = x_0: ranges over [-lim, lim]
        critic.bias.zero_()
    fig = viz.plot_critic_2d(torch.nn.Sequential(critic, torch.nn.Flatten(0)), samples=np.zeros((5, 2)),
                             real=np.ones((5, 2)), lim=2.0, title="t")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    levels = next(c for c in ax.collections if hasattr(c, "levels")).levels
    assert levels.min() <= -1.9 and levels.max() >= 1.9  # the contours cover f's range [-2, 2], not sigmoid's
    assert ax.get_title() == "t"
    assert ax.get_xlim() == (-2.0, 2.0)
    plt.close(fig)


def test_layer_table_names_instance_norm_and_reflection_padding_briefly():
    model = torch.nn.Sequential(torch.nn.ReflectionPad2d(3), torch.nn.Conv2d(1, 4, 7), torch.nn.InstanceNorm2d(4))
    table = viz.layer_table(model, (1, 8, 8))
    assert "ReflectionPad2d(3)" in table and "InstanceNorm2d(4)" in table and "eps" not in table


def test_plot_series_draws_the_named_series_and_skips_unreported_ones():
    h = History(names=("a", "b", "never"))
    for step in (1, 2, 3):
        h.record(step, {"a": step, "b": -step})
    fig = viz.plot_series(h, {"first": ["a", "never"], "second": ["b"]})
    first, second = fig.axes
    assert [line.get_label() for line in first.lines] == ["a"] and [line.get_label() for line in second.lines] == ["b"]
    with pytest.raises(AttributeError, match="no series 'zzz'"):
        viz.plot_series(h, {"x": ["zzz"]})
