"""A small MNIST classifier, trained by the repository on the bundled digits and shipped with ganlib.

It stands in for Inception-v3 when there is no internet: its penultimate layer gives features for
an offline Fréchet distance on digits, its softmax gives class probabilities for an Inception-Score-
like measure and for checking that a conditional generator draws the digit it was asked for.

The weights (``assets/mnist_classifier.pt``) are produced by ``scripts/train_mnist_classifier.py``
from ``mnist-5k``: 4,000 digits to train on, 1,000 (100 per class) held out; the script records the
held-out accuracy in the file next to the weights.
"""

from __future__ import annotations

import importlib.resources
import io

import torch
from torch import nn

__all__ = ["MNISTClassifier", "load_mnist_classifier", "WEIGHTS_NAME"]

WEIGHTS_NAME = "mnist_classifier.pt"


class MNISTClassifier(nn.Module):
    """Two conv blocks and a hidden layer: (B, 1, 28, 28) in [-1, 1] -> 10 logits.

    ``features(x)`` returns the hidden layer's activations (B, feature_dim): the representation
    on which Fréchet distances between sets of digits are computed.
    """

    def __init__(self, width: int = 16, feature_dim: int = 64):
        super().__init__()
        self.feature_dim = feature_dim
        self.trunk = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, w, 14, 14)
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 2w, 7, 7)
            nn.Flatten(),
            nn.Linear(2 * width * 7 * 7, feature_dim), nn.ReLU(),  # (B, feature_dim)
        )
        self.head = nn.Linear(feature_dim, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        assert x.ndim == 4 and tuple(x.shape[1:]) == (1, 28, 28), (
            f"the MNIST classifier expects images of shape (B, 1, 28, 28) in [-1, 1], got {tuple(x.shape)}"
        )
        return self.trunk(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # (B, 10) logits


def load_mnist_classifier(device: str | torch.device = "cpu") -> tuple[MNISTClassifier, dict]:
    """The shipped classifier in eval mode, and its record (held-out accuracy, training settings).

    Returns:
        ``(model, info)`` where ``info`` holds ``test_accuracy``, ``n_train``, ``n_test``, ``epochs``.

    Raises:
        FileNotFoundError: the weights are missing; run ``python scripts/train_mnist_classifier.py``.
    """
    resource = importlib.resources.files("ganlib") / "assets" / WEIGHTS_NAME
    if not resource.is_file():
        raise FileNotFoundError(
            f"ganlib/assets/{WEIGHTS_NAME} is missing; recreate it with `python scripts/train_mnist_classifier.py`"
        )
    state = torch.load(io.BytesIO(resource.read_bytes()), map_location=device, weights_only=True)
    model = MNISTClassifier(**state["config"])
    model.load_state_dict(state["weights"])
    return model.to(device).eval(), dict(state["info"])
