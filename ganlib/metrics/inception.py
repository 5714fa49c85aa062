"""torch-fidelity's FID Inception-v3, the network of published FID, IS and KID, as a feature extractor.

The weights live in torch.hub's folder (:func:`inception_weights_path`), downloaded once when missing;
offline, :class:`InceptionWeightsUnavailable` says which file to put where, and that digits need no
download (:func:`ganlib.metrics.digit_scores`). torch-fidelity is imported only when the network is built.
"""

from __future__ import annotations

import hashlib
import io
import os
import socket
from pathlib import Path

import torch

__all__ = [
    "inception_v3_features",
    "inception_weights_path",
    "InceptionWeightsUnavailable",
    "INCEPTION_WEIGHTS_FILE",
    "INCEPTION_POOL_DIM",
    "INCEPTION_LOGITS_DIM",
]

#: torch-fidelity's FID Inception-v3: Google's 2015-12-05 TensorFlow graph, the network behind published
#: FID, IS and KID (the graph pytorch-fid ports too), converted to a PyTorch state dict.
INCEPTION_WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_POOL_DIM = 2048  # pool features: FID, KID, precision/recall
INCEPTION_LOGITS_DIM = 1008  # logits (1000 ImageNet classes and 8 unused): IS
_INCEPTION_OUTPUTS = ("pool", "logits", "both")
_DOWNLOAD_TIMEOUT_S = 30.0  # per network operation; torch.hub's urlopen has none, so a dead network could hang


class InceptionWeightsUnavailable(RuntimeError):
    """The FID Inception-v3 weights could not be found, downloaded or read."""


def inception_weights_path() -> Path:
    """Where torch-fidelity keeps its Inception weights: ``<torch hub dir>/checkpoints/INCEPTION_WEIGHTS_FILE``.

    The folder is torch.hub's (``$TORCH_HOME/hub/checkpoints``, by default ``~/.cache/torch/hub/checkpoints``),
    shared with torch-fidelity itself, so a file downloaded by either is found by both.
    """
    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_WEIGHTS_FILE


def _weights_unavailable(reason: str) -> InceptionWeightsUnavailable:
    """The one message for every way the Inception weights can be missing: what, where, and the offline alternative."""
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3

    return InceptionWeightsUnavailable(
        f"the FID Inception-v3 weights are unavailable: {reason}. Scores comparable with papers need torch-fidelity's "
        f"file {INCEPTION_WEIGHTS_FILE} ({URL_INCEPTION_V3}): put it in {inception_weights_path().parent} (it is "
        "downloaded there automatically when online), or pass its path with --inception-weights FILE "
        "(weights=FILE in Python). Digits need no download: --features digits uses the bundled MNIST classifier "
        "(ganlib.classifier, metrics.digit_scores)."
    )


def _inception_weights_file(weights: str | os.PathLike | None) -> Path:
    """The weights file to read: ``weights`` itself, else torch-fidelity's cached file, downloaded when missing."""
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise _weights_unavailable(f"there is no file {path}")
        return path
    path = inception_weights_path()
    if path.is_file():
        return path
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(_DOWNLOAD_TIMEOUT_S)  # offline: fail within seconds instead of hanging
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # ~95 MB with a progress bar; written to a .partial file, renamed when complete
        torch.hub.download_url_to_file(URL_INCEPTION_V3, str(path), progress=True)
    except Exception as e:  # URLError, timeouts, SSL and permission errors: all mean "no file"
        raise _weights_unavailable(f"they are not in {path.parent} and the download failed "
                                   f"({type(e).__name__}: {str(e)[:200]})") from e
    finally:
        socket.setdefaulttimeout(previous)
    return path


def inception_v3_features(weights: str | os.PathLike | None = None, device: str | torch.device = "cpu",
                          output: str = "pool") -> torch.nn.Module:
    """The FID Inception-v3 of torch-fidelity as a feature extractor for images in [-1, 1].

    The network and its resizing are torch-fidelity's ``FeatureExtractorInceptionV3``
    (``"inception-v3-compat"``): the TensorFlow graph that published FID, IS and KID use, resizing
    to 299 x 299 exactly as TensorFlow 1.x did. Only the input convention is ganlib's: images
    ``(B, 1 or 3, H, W)`` in [-1, 1] become the uint8 pixels the graph was fed,
    ``round((x + 1) * 127.5)`` clamped to 0..255, grey repeated to three channels.

    Args:
        weights: ``None`` reads torch-fidelity's file from :func:`inception_weights_path`, downloading
            it once when missing (needs internet); a path reads that file (a state dict of
            ``FeatureExtractorInceptionV3``). Either is loaded with ``weights_only=True``.
        device: where the network runs.
        output: ``"pool"``: the (B, 2048) pool features (FID, KID, precision/recall);
            ``"logits"``: the (B, 1008) logits without bias (torch-fidelity's ``logits_unbiased``,
            whose softmax IS uses); ``"both"``: their concatenation (B, 2048 + 1008), pool first,
            from one forward pass.

    Returns:
        A module in eval mode without gradients; its ``weights_sha256`` is the SHA-256 of the weights
        file (to name caches of features by the weights that made them).

    Raises:
        InceptionWeightsUnavailable: offline and not cached, or the file is missing, corrupt or not
            this network's; the message names the file, the folder to put it in, ``--inception-weights``
            and the digit classifier as the offline alternative.
    """
    if output not in _INCEPTION_OUTPUTS:
        raise ValueError(f"output must be one of {', '.join(_INCEPTION_OUTPUTS)}, got {output!r}")
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    path = _inception_weights_file(weights)
    raw = path.read_bytes()  # ~95 MB, read once: hashed and loaded
    try:
        state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
        # torch-fidelity reads its file with weights_only=False; it gets the tensors just read, re-serialised in
        # memory, so no pickled code from the file ever runs.
        buffer = io.BytesIO()
        torch.save(state, buffer)
        buffer.seek(0)
        net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"],
                                          feature_extractor_weights_path=buffer)
    except Exception as e:  # unpickling errors on a corrupt file, missing keys or shapes of another network
        first_line = (str(e).splitlines() or [""])[0][:200]
        raise _weights_unavailable(f"{path} is corrupt or not a state dict of torch-fidelity's "
                                   f"FeatureExtractorInceptionV3 ({type(e).__name__}: {first_line})") from e
    return _InceptionFeatures(net, output, hashlib.sha256(raw).hexdigest()).to(device).eval()


class _InceptionFeatures(torch.nn.Module):
    """Images in [-1, 1] -> torch-fidelity's uint8 input -> pool features, logits or both."""

    def __init__(self, net: torch.nn.Module, output: str, weights_sha256: str):
        super().__init__()
        self.net, self.output, self.weights_sha256 = net, output, weights_sha256

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.ndim == 4 and x.shape[1] in (1, 3) and x.is_floating_point(), (
            f"expected float images (B, 1 or 3, H, W) in [-1, 1], got {x.dtype} {tuple(x.shape)}")
        pixels = ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)  # (B, C, H, W) 0..255
        pool, logits = self.net(pixels.expand(-1, 3, -1, -1))  # grey -> RGB; (B, 2048), (B, 1008)
        if self.output == "pool":
            return pool
        return logits if self.output == "logits" else torch.cat([pool, logits], dim=1)  # (B, 3056)

