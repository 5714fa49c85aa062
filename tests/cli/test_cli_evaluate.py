"""``python -m ganlib evaluate``, in process on tiny inputs: its scores equal ganlib.metrics' closed forms
computed here on the same features, the real statistics are cached and reused, bad input is one line."""

import json

import numpy as np
import pytest
import torch
from _inception_weights import make_inception_weights, smooth_images
from PIL import Image

from ganlib import metrics
from ganlib.__main__ import main
from ganlib.classifier import load_mnist_classifier
from ganlib.data import load_mnist_5k
from ganlib.models.conditional import build_conditional_gan
from ganlib.recipes import build_models
from ganlib.train import save_checkpoint

N = 200  # fakes sampled: two batches of 100


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A dcgan run on mnist-5k, 2 steps, written by the CLI (its G_ema draws (1, 32, 32) digits)."""
    out = tmp_path_factory.mktemp("runs") / "dcgan"
    assert main(["train", "dcgan", "--dataset", "mnist-5k", "--steps", "2", "--profile", "smoke", "--out", str(out),
                 "--device", "cpu", "--no-progress"]) == 0
    return out


@pytest.fixture(autouse=True)
def data_root(tmp_path, monkeypatch):
    """The statistics cache (DATA_ROOT/stats) in a fresh folder for every test."""
    monkeypatch.setenv("GANLIB_DATA", str(tmp_path / "data"))
    return tmp_path / "data"


def _evaluate(tmp_path, *args):
    out = tmp_path / "scores.json"
    rc = main(["evaluate", *args, "--json", str(out), "--device", "cpu", "--no-progress"])
    assert rc == 0
    return json.loads(out.read_text())


def _values(report) -> dict:
    return {row["metric"]: (row["value"], row["std"]) for row in report["rows"]}


def _digit_features(images):
    """The shipped classifier on 28 px digits (cropped from 32): (N, 64) features, (N, 10) probabilities."""
    model, _ = load_mnist_classifier("cpu")
    top = (images.shape[-1] - 28) // 2
    with torch.no_grad():
        feats = model.features(images[:, :, top:top + 28, top:top + 28])
        return feats.double(), torch.softmax(model.head(feats), dim=1).double()


def test_scores_of_a_run_equal_ganlibs_closed_forms_on_the_same_features(run_dir, tmp_path, capsys):
    report = _evaluate(tmp_path, "--real", "mnist-5k", "--fake", str(run_dir), "--metrics", "fid,kid,is,pr",
                       "--n", str(N), "--batch-size", "100", "--seed", "3")
    printed = capsys.readouterr().out
    assert f"{N} of 5000 images" in printed and "digits" in printed and "metric" in printed

    # The same images, made here: the run's G_ema rebuilt by the recipe, the same two batches of latents.
    state = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    G, _ = build_models("dcgan", (1, 32, 32))
    G.load_state_dict(state["G_ema"])
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        fake = torch.cat([G.eval()(torch.randn(100, G.cfg.latent_dim, generator=g)) for _ in range(2)])
    real = load_mnist_5k().images[torch.randperm(5000, generator=torch.Generator().manual_seed(0))[:N]]
    real_f, _ = _digit_features(real)
    fake_f, probs = _digit_features(fake)

    fid = metrics.frechet_distance(*metrics.gaussian_stats(real_f), *metrics.gaussian_stats(fake_f))
    kid = metrics.kernel_inception_distance(real_f, fake_f, subsets=100, subset_size=N,
                                            generator=torch.Generator().manual_seed(3))
    order = torch.randperm(N, generator=torch.Generator().manual_seed(3))
    inception = metrics.inception_score(probs[order], splits=10)
    precision, recall = metrics.precision_recall(real_f, fake_f, k=3)
    got = _values(report)
    # float32 features from batches of 100 here and there: equal up to float32 round-off.
    assert got["fid"][0] == pytest.approx(fid, rel=1e-5)
    assert got["kid"][0] == pytest.approx(kid[0], rel=1e-5)
    assert got["kid"][1] == pytest.approx(kid[1], rel=1e-3, abs=1e-6)
    assert got["is"][0] == pytest.approx(inception[0], rel=1e-6)
    assert got["is"][1] == pytest.approx(inception[1], rel=1e-4, abs=1e-9)
    assert got["precision"][0] == pytest.approx(precision) and got["recall"][0] == pytest.approx(recall)
    rows = {row["metric"]: row for row in report["rows"]}
    assert rows["fid"]["n_real"] == N and rows["fid"]["n_fake"] == N and rows["is"]["n_real"] is None
    assert {row["features"] for row in report["rows"]} == {"digits"}
    assert report["settings"] == {"real": "mnist-5k", "fake": str(run_dir), "metrics": ["fid", "kid", "is", "pr"],
                                  "n": N, "features": "auto", "inception_weights": None, "device": "cpu",
                                  "batch_size": 100, "seed": 3, "sampling_steps": 50}


def test_real_statistics_are_cached_and_reused(run_dir, tmp_path, data_root, capsys, monkeypatch):
    extracted = []
    original = metrics.extract_features

    def counting(extractor, images, *args, **kwargs):  # real_statistics' extraction of the real images
        extracted.append(len(images))
        return original(extractor, images, *args, **kwargs)

    monkeypatch.setattr(metrics.features, "extract_features", counting)
    args = ("--real", "mnist-5k", "--fake", str(run_dir), "--n", "100")
    first = _evaluate(tmp_path, *args)
    cache, = (data_root / "stats").iterdir()
    assert cache.name.startswith("mnist-5k-28px-n100-digits-") and extracted == [100]
    assert f"written to {cache}" in capsys.readouterr().out
    second = _evaluate(tmp_path, *args)
    assert extracted == [100], "the real images were run through the classifier again"
    assert f"reused {cache}" in capsys.readouterr().out
    assert _values(first) == _values(second)


def test_everything_of_a_small_real_set_is_used_and_said(run_dir, tmp_path, capsys):
    report = _evaluate(tmp_path, "--real", "mnist-5k", "--fake", str(run_dir), "--n", "5001", "--batch-size", "2000",
                       "--metrics", "is")
    assert "5000 of 5000 images (1, 28, 28) (--n 5001 capped by the set's size)" in capsys.readouterr().out
    assert report["rows"][0]["n_fake"] == 5001


def _write_folder(folder, images):
    """Save images in [-1, 1] (N, C, H, W) as PNG files in ``folder``/sub/ (a subfolder: read recursively)."""
    (folder / "sub").mkdir(parents=True)
    for i, x in enumerate(images):
        pixels = ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).squeeze(2).numpy()
        Image.fromarray(pixels).save(folder / "sub" / f"{i:03d}.png")
    return folder


def test_inception_features_of_image_folders_with_given_weights(tmp_path, capsys):
    weights = make_inception_weights(tmp_path / "inception.pth")
    real, fake = smooth_images(6, seed=11), smooth_images(6, shift=0.5, seed=12)  # RGB: auto picks Inception
    real_dir, fake_dir = _write_folder(tmp_path / "real", real), _write_folder(tmp_path / "fake", fake)
    report = _evaluate(tmp_path, "--real", str(real_dir), "--fake", str(fake_dir), "--inception-weights", str(weights),
                       "--batch-size", "6")
    printed = capsys.readouterr().out
    assert "FID Inception-v3" in printed and "note: gaussian_stats: only 6 samples" in printed

    net = metrics.inception_v3_features(weights=weights)
    to_png = lambda x: ((x + 1) * 127.5).round() / 127.5 - 1  # noqa: E731  what a PNG keeps
    with torch.no_grad():
        real_f, fake_f = net(to_png(real)), net(to_png(fake))  # (6, 2048) each
    with pytest.warns(UserWarning, match="singular"):
        fid = metrics.frechet_distance(*metrics.gaussian_stats(real_f), *metrics.gaussian_stats(fake_f))
    (value, std), = _values(report).values()
    assert value == pytest.approx(fid, rel=1e-5) and std is None and value > 0
    assert report["rows"][0]["features"] == "inception" and report["rows"][0]["n_real"] == 6


def test_a_folder_of_grey_digits_is_scored_with_the_classifier_and_equals_itself(tmp_path):
    digits = _write_folder(tmp_path / "digits", load_mnist_5k().images[:40])  # (40, 1, 28, 28)
    report = _evaluate(tmp_path, "--real", str(digits), "--fake", str(digits), "--metrics", "fid,pr")
    got = _values(report)
    assert {row["features"] for row in report["rows"]} == {"digits"}  # auto: grey 28 px
    assert got["fid"][0] == pytest.approx(0.0, abs=1e-8)  # the same images: equal Gaussians, FID = 0
    assert got["precision"][0] == 1.0 and got["recall"][0] == 1.0


def test_grey_digits_saved_as_rgb_are_read_as_grey(tmp_path):
    from ganlib.evaluate import read_image_folder

    digits = load_mnist_5k().images[:3]  # (3, 1, 28, 28)
    folder = _write_folder(tmp_path / "digits", digits.expand(-1, 3, -1, -1))  # as save_image writes them
    read = read_image_folder(folder)
    assert read.shape == (3, 1, 28, 28)
    torch.testing.assert_close(read, ((digits + 1) * 127.5).round() / 127.5 - 1)


def _error(capsys, *args) -> str:
    assert main(["evaluate", *args, "--device", "cpu", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


def test_bad_input_is_one_line_and_exit_code_2(run_dir, tmp_path, capsys):
    empty, broken, no_checkpoint = tmp_path / "empty", tmp_path / "broken", tmp_path / "no_checkpoint"
    for folder in (empty, broken, no_checkpoint):
        folder.mkdir()
    (broken / "checkpoint.pt").write_bytes(b"\x00 not a checkpoint")
    (no_checkpoint / "history.json").write_text("{}")  # a run folder whose checkpoint is gone
    (no_checkpoint / "samples.png").write_bytes((run_dir / "samples.png").read_bytes())  # not a set of fakes
    run = ("--fake", str(run_dir))
    assert "neither a folder nor an image dataset" in _error(capsys, "--real", "mnist-6k", *run)
    assert "no .png/.jpg/.jpeg images in" in _error(capsys, "--real", "mnist-5k", "--fake", str(empty))
    assert "holds no checkpoint.pt" in _error(capsys, "--real", "mnist-5k", "--fake", str(no_checkpoint))
    assert "no such folder" in _error(capsys, "--real", "mnist-5k", "--fake", str(tmp_path / "nowhere"))
    assert "unknown metric 'fud'" in _error(capsys, "--real", "mnist-5k", *run, "--metrics", "fid,fud")
    assert "is corrupt or unreadable" in _error(capsys, "--real", "mnist-5k", "--fake", str(broken))
    err = _error(capsys, "--real", "mnist-5k", *run, "--features", "inception", "--inception-weights",
                 str(tmp_path / "missing.pth"))
    assert metrics.INCEPTION_WEIGHTS_FILE in err and "--inception-weights FILE" in err and "--features digits" in err
    rgb = _write_folder(tmp_path / "rgb", smooth_images(3))
    assert "use --features inception" in _error(capsys, "--real", str(rgb), *run, "--features", "digits")
    (rgb / "sub" / "999.png").write_bytes(b"not a png")
    assert "cannot read the image" in _error(capsys, "--real", "mnist-5k", "--fake", str(rgb))
    mixed = _write_folder(tmp_path / "mixed", smooth_images(2, size=32))
    Image.new("RGB", (28, 28)).save(mixed / "other.png")
    assert "different sizes" in _error(capsys, "--real", "mnist-5k", "--fake", str(mixed))


def test_runs_it_cannot_sample_say_to_pass_a_folder_of_images(tmp_path, capsys):
    cyclegan, conditional = tmp_path / "cyclegan", tmp_path / "cgan"
    save_checkpoint(cyclegan / "checkpoint.pt", {"task": {"name": "cyclegan", "state": {}}, "step": 1})
    G, _ = build_conditional_gan("mnist32", "projection", channels=1, image_size=32)
    save_checkpoint(conditional / "checkpoint.pt", {"task": {"name": "gan", "state": {}}, "step": 1,
                                                    "G_ema": G.state_dict(), "config": {"objective": "gan"}})
    for folder, kind in ((cyclegan, "is a cyclegan run"), (conditional, "none of vanilla, dcgan, wgan, wgan-gp")):
        err = _error(capsys, "--real", "mnist-5k", "--fake", str(folder))
        assert kind in err and "--fake FOLDER" in err


def test_a_wgan_gp_run_is_rebuilt_with_its_recipe(tmp_path):
    """A checkpoint without a record (written before runs described themselves) is rebuilt by trial."""
    from ganlib.recipes.runs import load_run

    G, _ = build_models("wgan-gp", (3, 32, 32))
    save_checkpoint(tmp_path / "checkpoint.pt", {"task": {"name": "gan", "state": {}}, "step": 7,
                                                 "G_ema": G.state_dict(), "config": {"objective": "wgan-gp"}})
    run = load_run(tmp_path)
    loaded = run.G_ema
    assert (run.record["recipe"], run.record["image_shape"], run.steps_done) == ("wgan-gp", [3, 32, 32], 7)
    for (name, a), (_, b) in zip(G.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
    assert not any(p.requires_grad for p in loaded.parameters()) and not loaded.training
    assert np.isfinite(loaded(torch.randn(2, G.cfg.latent_dim)).numpy()).all()


@pytest.mark.parametrize("model", ["vae", "ddpm"])
def test_a_vae_or_ddpm_run_is_sampled_with_its_own_sampler(tmp_path, capsys, model):
    """The likelihood models of notebook 09: the FID of the evaluated run equals ganlib's on the same samples."""
    from ganlib.recipes import build_likelihood_model
    from ganlib.sampling import draw

    out = tmp_path / model
    assert main(["train", model, "--steps", "2", "--profile", "smoke", "--out", str(out), "--device", "cpu",
                 "--batch-size", "8", "--sampling-steps", "2", "--no-progress"]) == 0
    n = 80  # more samples than the 64 feature dimensions: a non-singular covariance
    report = _evaluate(tmp_path, "--real", "mnist-5k", "--fake", str(out), "--n", str(n), "--batch-size", str(n),
                       "--seed", "5", "--sampling-steps", "3")
    printed = capsys.readouterr().out
    assert (f"({model}, objective {'ELBO' if model == 'vae' else 'L_simple'}, step 2)" in printed
            and ("3 steps (DDIM)" in printed) == (model == "ddpm"))
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    net = build_likelihood_model(model)
    net.load_state_dict(state["vae" if model == "vae" else "model_ema"])
    fake = draw(net.eval(), n, generator=torch.Generator().manual_seed(5), steps=3, batch_size=n)
    real = load_mnist_5k().images[torch.randperm(5000, generator=torch.Generator().manual_seed(0))[:n]]
    fid = metrics.frechet_distance(*metrics.gaussian_stats(_digit_features(real)[0]),
                                   *metrics.gaussian_stats(_digit_features(fake)[0]))
    assert _values(report)["fid"][0] == pytest.approx(fid, rel=1e-9)
