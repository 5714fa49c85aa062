"""Tests of ganlib.recipes: every named model builds, trains, and a finished run is loaded, not retrained."""

import pytest
import torch

from ganlib import recipes
from ganlib.train import sample

pytestmark = pytest.mark.usefixtures("one_thread_per_module")  # see tests/conftest.py


@pytest.mark.parametrize("name", list(recipes.MODELS))
def test_every_recipe_builds_models_for_padded_mnist(name):
    G, D = recipes.build_models(name, (1, 32, 32))
    z = torch.randn(2, G.cfg.latent_dim)
    if recipes.MODELS[name].family == "conditional":
        y = torch.tensor([3, 4])
        assert G(z, y).shape == (2, 1, 32, 32) and D(G(z, y), y).shape == (2,)
    else:
        assert G(z).shape == (2, 1, 32, 32) and D(G(z)).shape == (2,)


def test_unknown_names_and_a_conditional_model_on_toy_data_are_refused():
    with pytest.raises(ValueError, match="unknown model 'biggan'; choose one of: vanilla"):
        recipes.build_models("biggan", (1, 32, 32))
    with pytest.raises(ValueError, match="needs class labels"):
        recipes.build_models("cgan", (2,))
    with pytest.raises(ValueError, match="unknown dataset"):
        recipes.train_recipe("dcgan", "imagenet", steps=1, progress=False)


def test_a_finished_run_is_loaded_instead_of_retrained(tmp_path):
    first = recipes.train_recipe("cgan", out_dir=tmp_path, steps=3, batch_size=16, checkpoint_every=0, progress=False,
                                 device="cpu")
    assert first.steps_done == 3 and (tmp_path / "checkpoint.pt").is_file()
    with pytest.warns(UserWarning, match="seed"):  # the checkpoint's settings win, and the user is told
        again = recipes.train_recipe("cgan", out_dir=tmp_path, steps=3, batch_size=16, seed=5, progress=False,
                                     device="cpu")
    z = torch.randn(10, first.G.cfg.latent_dim)
    assert torch.equal(sample(first.G_ema, 0, z=z), sample(again.G_ema, 0, z=z))  # loaded, despite another seed
    assert again.history.to_dict() == first.history.to_dict()


def test_train_recipe_adds_a_g_regularizer_and_logs_it():
    import functools

    from ganlib import losses

    ortho = functools.partial(losses.orthogonal_regularization_of, beta=1e-4)
    run = recipes.train_recipe("dcgan", "mnist-5k", profile="smoke", device="cpu", steps=3, progress=False, g_regularizer=ortho)
    plain = recipes.train_recipe("dcgan", "mnist-5k", profile="smoke", device="cpu", steps=3, progress=False)
    assert all(v > 0 for v in run.history.g_reg)
    assert not any(p1.equal(p2) for p1, p2 in zip(run.G.parameters(), plain.G.parameters()) if p1.ndim > 1)


def test_truncated_normal_stays_inside_and_refuses_a_bad_threshold():
    import math

    from ganlib.train import truncated_normal

    z = truncated_normal(2000, 50, 0.7, generator=torch.Generator().manual_seed(0))
    assert z.shape == (2000, 50) and z.dtype == torch.float32 and bool((z.abs() <= 0.7).all())
    pdf, mass = math.exp(-0.7 ** 2 / 2) / math.sqrt(2 * math.pi), math.erf(0.7 / math.sqrt(2))
    assert z.var().item() == pytest.approx(1 - 2 * 0.7 * pdf / mass, abs=0.003)  # the truncated normal's variance
    assert torch.equal(truncated_normal(5, 3, math.inf, generator=torch.Generator().manual_seed(1)),
                       torch.randn(5, 3, generator=torch.Generator().manual_seed(1)))
    with pytest.raises(ValueError, match="must be positive"):
        truncated_normal(2, 2, 0.0)
