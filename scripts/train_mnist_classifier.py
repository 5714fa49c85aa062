"""Train the offline MNIST classifier on the bundled digits and write ``ganlib/assets/mnist_classifier.pt``.

The 5,000 digits of ``mnist-5k`` are split per class: 400 of each class to train on, the other
100 of each held out. The held-out accuracy is stored with the weights (``load_mnist_classifier``
returns it) and printed. Deterministic on the CPU for a given seed.

    python scripts/train_mnist_classifier.py [--epochs 15] [--seed 0] [--out ganlib/assets/mnist_classifier.pt]
"""

from __future__ import annotations

import argparse
import io
import os
from pathlib import Path

import torch
import torch.nn.functional as F

from ganlib import config, data
from ganlib.classifier import MNISTClassifier


def split_per_class(labels: torch.Tensor, n_test_per_class: int, generator: torch.Generator):
    """Indices (train, test) with ``n_test_per_class`` random test digits of every class."""
    train_idx, test_idx = [], []
    for c in range(10):
        idx = torch.nonzero(labels == c).squeeze(1)
        idx = idx[torch.randperm(len(idx), generator=generator)]
        test_idx.append(idx[:n_test_per_class])
        train_idx.append(idx[n_test_per_class:])
    return torch.cat(train_idx), torch.cat(test_idx)


def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random shifts of up to 2 pixels, so the classifier does not depend on exact centring."""
    padded = F.pad(x, (2, 2, 2, 2), value=-1.0)  # (B, 1, 32, 32), background -1
    dx, dy = torch.randint(0, 5, (2,), generator=generator).tolist()
    return padded[:, :, dy:dy + 28, dx:dx + 28]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "ganlib" / "assets" / "mnist_classifier.pt"))
    args = p.parse_args()

    generator = config.seed_everything(args.seed)
    ds = data.load_images("mnist-5k")
    train_idx, test_idx = split_per_class(ds.labels, 100, generator)
    x_train, y_train = ds.images[train_idx], ds.labels[train_idx]
    x_test, y_test = ds.images[test_idx], ds.labels[test_idx]

    model = MNISTClassifier()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=generator)
        for start in range(0, len(order), 64):
            batch = order[start:start + 64]
            loss = F.cross_entropy(model(augment(x_train[batch], generator)), y_train[batch])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sched.step()
        model.eval()
        with torch.no_grad():
            accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
        print(f"epoch {epoch + 1:2d}: held-out accuracy {accuracy:.4f}")

    info = {"test_accuracy": accuracy, "n_train": len(x_train), "n_test": len(x_test), "epochs": args.epochs,
            "seed": args.seed}
    state = {"config": {"width": 16, "feature_dim": model.feature_dim},
             "weights": model.state_dict(),
             "info": info}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    tmp = Path(args.out).with_suffix(".tmp")
    tmp.write_bytes(buffer.getvalue())
    os.replace(tmp, args.out)  # atomic
    print(f"wrote {args.out} ({len(buffer.getvalue()) / 1024:.0f} KiB), held-out accuracy {accuracy:.4f}")


if __name__ == "__main__":
    main()
