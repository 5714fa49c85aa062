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
