"""Runs that describe themselves: every checkpoint records its recipe and its networks' architectures, and
``ganlib.load_run`` rebuilds a run of every CLI model so that it draws exactly what the trained run drew."""

import pytest
import torch

import ganlib
from ganlib import recipes
from ganlib.__main__ import main
from ganlib.models import architecture
from ganlib.models.conditional import UNetGenerator, build_conditional_gan
from ganlib.models.cyclegan import build_cyclegan
from ganlib.models.dcgan import build_dcgan
from ganlib.models.diffusion import DDPM, DiffusionConfig
from ganlib.models.mlp import build_mlp_gan
from ganlib.models.patchgan import PatchDiscriminator
from ganlib.models.progan import build_progan
from ganlib.models.stylegan import build_stylegan
from ganlib.models.vae import VAE
from ganlib.recipes.runs import RunError, load_run
from ganlib.train import CHECKPOINT_NAME, TrainConfig, load_checkpoint, save_checkpoint, train

# Every CLI model, with settings that make its run a few seconds on the CPU.
TINY = {"vanilla": {}, "dcgan": {}, "wgan": {}, "wgan-gp": {}, "cgan": {}, "cyclegan": {"batch_size": 2},
        "progan": {}, "stylegan": {}, "vae": {"batch_size": 8}, "ddpm": {"batch_size": 8}}
DRAW = {"sampling_steps": 2}  # the DDPM's network evaluations per image


def test_every_cli_model_is_in_the_registry_and_only_those():
    assert set(TINY) == set(recipes.RECIPES)
    for name, recipe in recipes.RECIPES.items():
        assert recipe.name == name and recipe.default_dataset in recipe.datasets and recipe.description


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """name -> (the run as training returned it, its folder): each model 2 steps."""
    runs = {}
    for name, settings in TINY.items():
        out = tmp_path_factory.mktemp(name)
        runs[name] = recipes.train(name, profile="smoke", device="cpu", out_dir=out, progress=False, steps=2,
                                   **settings), out
    return runs


@pytest.mark.parametrize("name", list(TINY))
def test_a_loaded_run_draws_what_the_trained_run_drew(trained, name):
    run, out = trained[name]
    loaded = load_run(out)
    assert loaded.record["recipe"] == name and loaded.kind == run.kind == recipes.RECIPES[name].kind
    assert loaded.steps_done == run.steps_done and set(loaded.modules) == set(run.modules)
    expected = run.sample(8, seed=3, **DRAW)
    images = loaded.sample(8, seed=3, **DRAW)
    assert images.shape == (8, *loaded.record["image_shape"][:1], *expected.shape[2:]) and images.dtype == torch.float32
    torch.testing.assert_close(images, expected, rtol=0, atol=0)
    if loaded.kind != "translation":  # a translation is a function of its inputs alone
        assert not torch.equal(images, loaded.sample(8, seed=4, **DRAW)), "another seed draws other samples"
    assert not any(p.requires_grad for m in loaded.modules.values() for p in m.parameters())


def test_the_record_is_plain_data_that_loads_with_weights_only(trained):
    for name, (run, out) in trained.items():
        record = torch.load(out / CHECKPOINT_NAME, weights_only=True)["run"]
        assert record["format"] == "ganlib-run-1" and record["recipe"] == name
        assert record["dataset"] == recipes.RECIPES[name].default_dataset
        assert record["image_shape"] == list(run.sample(1, **DRAW).shape[1:])
        for arch in record["modules"].values():
            assert arch["class"].startswith("ganlib.models.")


def test_draws_follow_the_run_kind(trained):
    cgan, _ = trained["cgan"]
    threes = cgan.sample(4, seed=0, labels=torch.full((4,), 3))
    z = torch.randn(4, cgan.G_ema.cfg.latent_dim, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(threes, ganlib.train.sample(cgan.G_ema, 4, z=z, labels=torch.full((4,), 3)))
    cyclegan, _ = trained["cyclegan"]
    x = cyclegan.pair.test_x.images[:3]
    torch.testing.assert_close(cyclegan.sample(3, inputs=x), ganlib.train.translate(cyclegan.G, x))
    torch.testing.assert_close(cyclegan.sample(3, direction="y2x"),
                               ganlib.train.translate(cyclegan.F, cyclegan.pair.test_y.images[:3]))
    dcgan, _ = trained["dcgan"]
    with pytest.raises(RunError, match="labels= is for a class-conditional run"):
        dcgan.sample(2, labels=torch.zeros(2, dtype=torch.long))
    with pytest.raises(RunError, match="inputs= is for a translation run"):
        dcgan.sample(2, inputs=x)


def test_a_pix2pix_run_of_a_notebook_is_rebuilt_and_needs_its_inputs(tmp_path):
    """A run trained with ganlib.train.train (a notebook's own G and D) records its networks too."""
    from ganlib.data import InMemoryBatches

    G, D = UNetGenerator(1, 1, width=8, depth=3, n_dropout=1), PatchDiscriminator(2, width=8, n_layers=2)
    x = torch.rand(16, 1, 16, 16) * 2 - 1
    batches = InMemoryBatches(x, 4, targets=-x, generator=torch.Generator().manual_seed(0))
    train(G, D, batches, TrainConfig(steps=2, batch_size=4, checkpoint_every=0, log_every=1), out_dir=tmp_path,
          progress=False, snapshot_inputs=x[:2])
    loaded = load_run(tmp_path)
    assert loaded.kind == "translation" and "recipe" not in loaded.record
    torch.testing.assert_close(loaded.sample(3, inputs=x), ganlib.train.translate(G, x[:3]))
    with pytest.raises(RunError, match="inputs=conditions"):
        loaded.sample(3)


@pytest.mark.parametrize("name", ["dcgan", "vae"])
def test_a_checkpoint_without_a_record_still_loads(trained, tmp_path, name):
    """Checkpoints written before runs recorded themselves: today's checkpoint with its record taken out."""
    run, out = trained[name]
    state = load_checkpoint(out / CHECKPOINT_NAME)
    del state["run"]
    save_checkpoint(tmp_path / CHECKPOINT_NAME, state)
    loaded = load_run(tmp_path)
    assert loaded.record["format"] == "legacy" and loaded.record["recipe"] == name
    assert loaded.record["image_shape"] == [1, 32, 32]
    torch.testing.assert_close(loaded.sample(5, seed=1, **DRAW), run.sample(5, seed=1, **DRAW), rtol=0, atol=0)


def test_a_folder_without_a_checkpoint_or_with_foreign_networks_says_what_to_do(tmp_path):
    with pytest.raises(RunError, match="holds no checkpoint.pt"):
        load_run(tmp_path)
    save_checkpoint(tmp_path / CHECKPOINT_NAME, {"task": {"name": "gan", "state": {}}, "step": 1,
                                                 "run": {"format": "ganlib-run-1", "task": "gan", "modules": {}}})
    with pytest.raises(RunError, match="rebuild it yourself"):
        load_run(tmp_path)
    save_checkpoint(tmp_path / CHECKPOINT_NAME, {"task": {"name": "gan", "state": {}}, "step": 1, "G": {},
                                                 "run": {"format": "ganlib-run-1", "task": "gan",
                                                         "modules": {"G": {"class": "os.system", "arguments": {}}}}})
    with pytest.raises(RunError, match="must name a class of ganlib.models"):
        load_run(tmp_path)


@pytest.mark.parametrize("build", [
    lambda: build_dcgan(), lambda: build_mlp_gan(), lambda: build_conditional_gan("mnist32", "projection"),
    lambda: tuple(build_cyclegan().values()), lambda: build_progan(), lambda: build_stylegan(),
    lambda: (VAE(), DDPM(DiffusionConfig(width=16)), UNetGenerator(1, 1, width=8), PatchDiscriminator(2)),
])
def test_every_network_of_the_course_is_described_and_rebuilt(build):
    for net in build():
        copy = architecture.rebuild(architecture.describe(net))
        assert type(copy) is type(net)
        copy.load_state_dict(net.state_dict())  # strict: the same parameters and buffers, of the same shapes


def test_a_network_that_is_not_ganlibs_is_not_described():
    assert architecture.describe(torch.nn.Linear(2, 2)) is None
    with pytest.raises(architecture.ArchitectureError, match="has no field"):
        architecture.rebuild({"class": "ganlib.models.vae.VAE", "config": {"no_such_field": 1}})


def test_evaluate_scores_a_run_of_every_cli_model(trained, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GANLIB_DATA", str(tmp_path / "data"))
    for name, (run, out) in trained.items():
        report = tmp_path / f"{name}.json"
        assert main(["evaluate", "--real", "mnist-5k", "--fake", str(out), "--n", "80", "--metrics", "fid,is",
                     "--sampling-steps", "2", "--device", "cpu", "--no-progress", "--json", str(report)]) == 0, name
        printed = capsys.readouterr().out
        assert f"({name}, objective" in printed and "fid" in printed
