"""DCGAN training speed: the widely used reference recipe vs ganlib's trainer, in one run.

Both sides train the same DCGAN architecture (ganlib.models.dcgan) with the same batch size,
optimiser and number of steps on the same data:

(a) reference: the recipe of the pytorch/examples DCGAN script, written here from its
    description: fp32 throughout, a torch.utils.data.DataLoader over a dataset (shuffling, worker
    processes, pinned memory on CUDA), a discriminator ending in nn.Sigmoid with nn.BCELoss, the
    labels built with torch.full every step, and the generator step reusing the D step's fakes.
(b) ganlib.train.train: data kept in memory (on the GPU when it fits), logits with softplus
    losses, and on CUDA the device plan (ganlib.training.device_plan: bf16 autocast from compute capability
    8.0, fp16 with loss scaling on a T4 or V100; channels_last, fused Adam), named in its label.

It prints images per second for each and the ratio. Run from the repository root:

    python benchmarks/train_speed.py                   # CPU: mnist32 preset, batch 64
    python benchmarks/train_speed.py --device cuda     # GPU: cifar32 preset, batch 64
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from ganlib import config, data
from ganlib.data import pad_to
from ganlib.models.dcgan import build_dcgan
from ganlib.train import TrainConfig, train
from ganlib.training import device_plan


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def reference_train(G: nn.Module, D: nn.Module, images: torch.Tensor, batch_size: int, steps: int,
                    device: torch.device, workers: int) -> None:
    """The pytorch/examples DCGAN loop: fp32, DataLoader, Sigmoid + BCELoss."""
    netG, netD = G.to(device), nn.Sequential(D, nn.Sigmoid()).to(device)  # D outputs a probability
    criterion = nn.BCELoss()
    optD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    dataset = torch.utils.data.TensorDataset(images)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=True,
                                         num_workers=workers, pin_memory=device.type == "cuda",
                                         persistent_workers=workers > 0)
    step = 0
    while step < steps:
        for (real_cpu,) in loader:
            real = real_cpu.to(device)
            b = real.size(0)
            # (1) Update D: maximize log(D(x)) + log(1 - D(G(z)))
            netD.zero_grad()
            label = torch.full((b,), 1.0, device=device)
            errD_real = criterion(netD(real), label)
            errD_real.backward()
            fake = netG(torch.randn(b, G.cfg.latent_dim, device=device))
            label.fill_(0.0)
            errD_fake = criterion(netD(fake.detach()), label)
            errD_fake.backward()
            optD.step()
            # (2) Update G: maximize log(D(G(z)))
            netG.zero_grad()
            label.fill_(1.0)
            errG = criterion(netD(fake), label)
            errG.backward()
            optG.step()
            step += 1
            if step == steps:
                break


def timed(fn, device: torch.device) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def measure(device: torch.device, preset: str | None = None, batch_size: int = 64, steps: int | None = None,
            warmup: int | None = None, workers: int = 2) -> dict:
    """Time both sides in one run; returns the settings, images/s of each side and the ratio ganlib / reference."""
    cuda = device.type == "cuda"
    preset = preset or ("cifar32" if cuda else "mnist32")
    steps = steps or (300 if cuda else 30)
    warmup = warmup if warmup is not None else (50 if cuda else 3)
    B = batch_size

    if preset.startswith("cifar") or preset.startswith("celeba"):
        size = 64 if preset.endswith("64") else 32
        # Random images of the right shape: the speed does not depend on the pixels' content.
        images = torch.rand(10_000, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    else:
        images = pad_to(data.load_images("mnist-5k").images, 32)  # (5000, 1, 32, 32)

    def fresh():
        torch.manual_seed(0)
        return build_dcgan(preset)

    results = {}
    G, D = fresh()
    reference_train(G, D, images, B, warmup, device, workers)
    results["reference (fp32, DataLoader, Sigmoid+BCELoss)"] = timed(
        lambda: reference_train(G, D, images, B, steps, device, workers), device)

    G, D = fresh()
    batches = data.InMemoryBatches(images, B, device=device, generator=torch.Generator().manual_seed(0))
    cfg = lambda n: TrainConfig(steps=n, batch_size=B, log_every=max(n, 1), n_snapshot=8)
    train(G, D, batches, cfg(warmup), device=device, progress=False)
    results[f"ganlib.train ({device_plan(device).describe()})"] = timed(
        lambda: train(G, D, batches, cfg(steps), device=device, progress=False), device)

    speeds = {label: steps * B / seconds for label, seconds in results.items()}
    ref, ours = speeds.values()
    return {"preset": preset, "batch_size": B, "steps": steps, "warmup": warmup,
            "machine": torch.cuda.get_device_name(device) if cuda else f"CPU, {torch.get_num_threads()} threads",
            "images_per_s": speeds, "ratio": ours / ref}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--preset", default=None, help="DCGAN preset (default: mnist32 on CPU, cifar32 on CUDA)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=None, help="timed steps (default: 30 on CPU, 300 on CUDA)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps first (default: 3 on CPU, 50 on CUDA)")
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers of the reference (its default: 2)")
    args = p.parse_args()
    r = measure(config.get_device(args.device), args.preset, args.batch_size, args.steps, args.warmup, args.workers)
    print(f"DCGAN {r['preset']}, batch {r['batch_size']}, {r['steps']} timed steps after {r['warmup']} warm-up steps, "
          f"on {r['machine']}")
    for label, speed in r["images_per_s"].items():
        print(f"  {label:55s} {speed:9.0f} images/s")
    print(f"  ratio ganlib / reference: {r['ratio']:.2f}x")


if __name__ == "__main__":
    main()
