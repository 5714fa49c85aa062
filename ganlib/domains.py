"""Unpaired image domains for CycleGAN (notebook 06): two sets of images, X and Y, and no pairs.

CycleGAN learns two translators from two unpaired collections: ``G: X -> Y`` and ``F: Y -> X``.
This module gives it data at three levels of cost:

- **Digits, offline** (:func:`load_domains` ``"mnist-typeset"``, the default): handwritten
  digits (the bundled mnist-5k) against typeset ones (:func:`typeset_digits`, rendered from the
  fonts that ship with matplotlib). Nothing is downloaded; the shipped MNIST classifier tells
  whether a translation kept the digit.
- **Digits with a hidden ground truth** (``"mnist-thick"``): two disjoint halves of mnist-5k, the
  second one drawn with thicker strokes (:func:`thicken`). The sets are unpaired, but the true
  translation of every X image is known, so a translation error can be measured exactly.
- **The CycleGAN photo sets** (``"horse2zebra"``, ``"apple2orange"``,
  ``"summer2winter_yosemite"``, ``"monet2photo"``, Zhu et al. 2017): downloaded once into
  ``data_root(root) / "cyclegan"``.

Batches come from :class:`UnpairedBatches`: an x batch and an independently shuffled y batch per
step, resumable bitwise like :class:`ganlib.data.InMemoryBatches`.

See ``data/README.md`` for the provenance and licence of every dataset and font.
"""

from __future__ import annotations

import functools
import math
import os
import pathlib
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ganlib.data import (
    DatasetUnavailableError,
    ImageDataset,
    InMemoryBatches,
    _make_generator,
    _require_keys,
    data_root,
    load_mnist_5k,
)

__all__ = [
    "TYPESET_FONTS",
    "DOMAIN_PAIRS",
    "CYCLEGAN_URL",
    "typeset_digits",
    "thicken",
    "DomainPair",
    "load_domains",
    "UnpairedBatches",
    "make_unpaired_batches",
]

# ---------------------------------------------------------------------------------------------
# Typeset digits
# ---------------------------------------------------------------------------------------------

#: face name -> font file in matplotlib's ``mpl-data/fonts/ttf``: upright faces that draw all ten
#: digits legibly (sans, mono, serif, and Computer Modern; regular and bold). Licences: data/README.md.
TYPESET_FONTS: dict[str, str] = {
    "DejaVu Sans": "DejaVuSans.ttf",
    "DejaVu Sans Bold": "DejaVuSans-Bold.ttf",
    "DejaVu Sans Mono": "DejaVuSansMono.ttf",
    "DejaVu Serif": "DejaVuSerif.ttf",
    "DejaVu Serif Bold": "DejaVuSerif-Bold.ttf",
    "STIXGeneral": "STIXGeneral.ttf",
    "STIXGeneral Bold": "STIXGeneralBol.ttf",
    "cmr10": "cmr10.ttf",  # Computer Modern Roman
    "cmss10": "cmss10.ttf",  # Computer Modern Sans
    "cmtt10": "cmtt10.ttf",  # Computer Modern Typewriter
}

_DIGIT_CLASSES = tuple(str(digit) for digit in range(10))
_SUPERSAMPLE = 4  # glyphs are placed on a canvas 4x the output size ...
_ATLAS_FACTOR = 2  # ... kept at 2x, warped at 2x, then area-averaged to 1x
_BOX = 20 / 28  # MNIST: the glyph's bounding box fits a 20x20 box of the 28x28 image
# Random affine jitter of typeset_digits(jitter=True), drawn uniformly per digit:
_ROTATION_DEG = 10.0  # rotation in [-10, 10] degrees
_SCALE = (0.85, 1.1)  # isotropic scale
_SHEAR = 0.15  # horizontal shear in [-0.15, 0.15]
_SHIFT_PX = 1.5  # translation in [-1.5, 1.5] pixels of a 28x28 image, each axis (scaled with size)
_STROKE_RADII = (-1, 0, 1, 2)  # stroke variants: erode / keep / dilate, in canvas pixels (1/4 px)


def _font_dir() -> pathlib.Path:
    import matplotlib  # deferred: only needed to render the atlas once

    return pathlib.Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def _render_glyph(path: pathlib.Path, char: str) -> torch.Tensor:
    """One glyph, large and unhinted, cropped to its bounding box: (h, w) float32 ink in [0, 1]."""
    from matplotlib.ft2font import FT2Font, LoadFlags

    font = FT2Font(str(path))
    font.set_size(160, 72)  # 160 px per em: digits about 110 px tall
    font.set_text(char, flags=LoadFlags.NO_HINTING)
    font.draw_glyphs_to_bitmap(antialiased=True)
    ink = torch.from_numpy(font.get_image().copy()).float() / 255.0  # (h, w)
    rows, cols = ink.sum(1).nonzero().squeeze(1), ink.sum(0).nonzero().squeeze(1)
    if len(rows) == 0:
        raise ValueError(f"the font {path.name} draws nothing for the digit {char!r}")
    return ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _place_like_mnist(glyph: torch.Tensor, canvas: int) -> torch.Tensor:
    """Fit ``glyph`` (h, w) into a box of ``_BOX * canvas`` by its longer side, then place it so
    that its centre of mass is the canvas centre (the MNIST recipe). Returns (canvas, canvas)."""
    h, w = glyph.shape
    scale = _BOX * canvas / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    small = F.interpolate(glyph[None, None], size=(new_h, new_w), mode="bilinear", antialias=True,
                          align_corners=False)[0, 0].clamp(0, 1)  # (new_h, new_w)
    mass = small.sum()
    com_y = (small.sum(1) * torch.arange(new_h)).sum() / mass + 0.5  # in pixel units, from the top edge
    com_x = (small.sum(0) * torch.arange(new_w)).sum() / mass + 0.5
    top, left = round(canvas / 2 - com_y.item()), round(canvas / 2 - com_x.item())
    out = torch.zeros(canvas, canvas)
    # paste with clipping (a glyph never reaches the border in practice)
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + new_h, canvas), min(left + new_w, canvas)
    out[y0:y1, x0:x1] = small[y0 - top:y1 - top, x0 - left:x1 - left]
    return out


@functools.lru_cache(maxsize=8)
def _glyph_atlas(size: int, faces: tuple[str, ...]) -> torch.Tensor:
    """Every (face, digit, stroke) glyph, MNIST-centred: (F, 10, S, 2 size, 2 size) ink in [0, 1].

    Rendered once per process and size; S = len(_STROKE_RADII).
    """
    canvas = _SUPERSAMPLE * size
    font_dir = _font_dir()
    glyphs = torch.stack([
        torch.stack([_place_like_mnist(_render_glyph(font_dir / TYPESET_FONTS[face], str(digit)), canvas)
                     for digit in range(10)])
        for face in faces
    ]).reshape(-1, 1, canvas, canvas)  # (F * 10, 1, canvas, canvas)
    strokes = []
    for radius in _STROKE_RADII:  # morphology on the fine canvas: sub-pixel stroke-width changes
        k = 2 * abs(radius) + 1
        if radius >= 0:
            strokes.append(F.max_pool2d(glyphs, k, stride=1, padding=abs(radius)))
        else:
            strokes.append(-F.max_pool2d(-glyphs, k, stride=1, padding=abs(radius)))
    atlas = torch.stack(strokes, dim=1)  # (F * 10, S, 1, canvas, canvas)
    atlas = F.avg_pool2d(atlas.flatten(0, 2)[:, None], _SUPERSAMPLE // _ATLAS_FACTOR)  # area-downsample to 2x
    return atlas.reshape(len(faces), 10, len(_STROKE_RADII), _ATLAS_FACTOR * size, _ATLAS_FACTOR * size)


def _check_faces(fonts: Sequence[str] | None) -> tuple[str, ...]:
    if fonts is None:
        return tuple(TYPESET_FONTS)
    if isinstance(fonts, str):
        fonts = (fonts,)
    faces = tuple(fonts)
    unknown = [face for face in faces if face not in TYPESET_FONTS]
    if unknown or not faces:
        raise ValueError(f"unknown font faces {unknown or '(none given)'}; choose from {', '.join(TYPESET_FONTS)}")
    return faces


def _affine_jitter(n: int, generator: torch.Generator) -> torch.Tensor:
    """(n, 2, 3) ``affine_grid`` matrices (output -> input, normalised coordinates) of random
    rotations, scales, shears and shifts about the image centre."""
    u = torch.rand(n, 5, generator=generator, dtype=torch.float64) * 2 - 1  # (n, 5) uniform in [-1, 1]
    angle = u[:, 0] * math.radians(_ROTATION_DEG)
    lo, hi = _SCALE
    scale = lo + (u[:, 1] + 1) / 2 * (hi - lo)
    shear = u[:, 2] * _SHEAR
    shift = u[:, 3:5] * (_SHIFT_PX * 2 / 28)  # 28x28 pixels -> normalised units (the image spans 2)
    # Forward map p_out = A p_in + t with A = R(angle) Sh(shear) diag(scale); grid_sample needs the
    # inverse: p_in = A^-1 (p_out - t), A^-1 = diag(1/scale) Sh(-shear) R(-angle).
    cos, sin = torch.cos(angle), torch.sin(angle)
    r_inv = torch.stack([torch.stack([cos, sin], -1), torch.stack([-sin, cos], -1)], -2)  # (n, 2, 2) R(-angle)
    sh_inv = torch.eye(2, dtype=torch.float64).repeat(n, 1, 1)
    sh_inv[:, 0, 1] = -shear
    a_inv = (sh_inv @ r_inv) / scale[:, None, None]  # (n, 2, 2)
    b = -(a_inv @ shift[:, :, None])  # (n, 2, 1)
    return torch.cat([a_inv, b], dim=2).float()  # (n, 2, 3)


def typeset_digits(
    n: int,
    *,
    seed: int = 0,
    size: int = 28,
    fonts: Sequence[str] | None = None,
    jitter: bool = True,
) -> ImageDataset:
    """Digits 0-9 typeset in the fonts that ship with matplotlib, centred like MNIST.

    Each (face, digit) glyph is rendered once per process (cached), fitted by its bounding box into
    a 20x20 box and placed by its centre of mass in a 28x28 image (both scaled with ``size``),
    like MNIST's own preprocessing. Each sample then gets a random rotation (+-10 degrees), scale
    (0.85-1.1), shear (+-0.15), shift (+-1.5 px) and stroke width, all drawn from a
    ``torch.Generator`` seeded with ``seed`` and applied in one batched ``grid_sample`` at twice the
    resolution followed by 2x2 area averaging. 5000 digits take a fraction of a second.

    Args:
        n: how many digits. Labels are balanced: ``n // 10`` per class, the first ``n % 10``
            classes get one more.
        seed: the same seed gives bitwise-identical images, labels and order.
        size: the image height and width (28 as MNIST).
        fonts: face names from :data:`TYPESET_FONTS`; ``None`` uses all. Faces are used in turn
            within each class, so every face draws about ``n / (10 * len(fonts))`` of each digit.
        jitter: apply the random affine and stroke-width jitter; ``False`` gives the clean glyphs.

    Returns:
        An :class:`ImageDataset` named ``"typeset"``: images (n, 1, size, size) float32 in [-1, 1],
        white digits on black; label ``i`` is the digit ``i``; classes ``"0"`` to ``"9"``; the
        order is shuffled (by ``seed``).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be an int >= 0, got {n!r}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 8:
        raise ValueError(f"size must be an int >= 8, got {size!r}")
    faces = _check_faces(fonts)
    atlas = _glyph_atlas(size, faces)  # (F, 10, S, 2 size, 2 size)
    generator = torch.Generator().manual_seed(seed)

    # Balanced labels and faces: item k is digit k % 10 in face (k // 10) % F, then shuffled.
    k = torch.arange(n)
    order = torch.randperm(n, generator=generator)  # (n,)
    digits, face_idx = (k % 10)[order], ((k // 10) % len(faces))[order]  # (n,), (n,)
    if jitter:
        stroke_idx = torch.randint(len(_STROKE_RADII), (n,), generator=generator)  # (n,)
        theta = _affine_jitter(n, generator)  # (n, 2, 3)
    else:
        stroke_idx = torch.full((n,), _STROKE_RADII.index(0))
        theta = torch.eye(2, 3).repeat(n, 1, 1)  # (n, 2, 3) identity

    fine = _ATLAS_FACTOR * size
    ink = torch.empty(n, 1, size, size)
    for start in range(0, n, 1024):  # chunks keep the gathered glyphs small (about 13 MB at 28x28)
        sl = slice(start, start + 1024)
        src = atlas[face_idx[sl], digits[sl], stroke_idx[sl]][:, None]  # (b, 1, 2 size, 2 size)
        grid = F.affine_grid(theta[sl], [len(src), 1, fine, fine], align_corners=False)  # (b, 2s, 2s, 2)
        warped = F.grid_sample(src, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        ink[sl] = F.avg_pool2d(warped, _ATLAS_FACTOR)  # (b, 1, size, size)
    images = ink.clamp_(0, 1) * 2 - 1  # ink 0..1 -> [-1, 1], white on black
    return ImageDataset(images.contiguous(), digits.long(), "typeset", _DIGIT_CLASSES)


# ---------------------------------------------------------------------------------------------
# Thick strokes: a translation with a known answer
# ---------------------------------------------------------------------------------------------


def thicken(images: torch.Tensor, radius: int = 1) -> torch.Tensor:
    """Thicker strokes: grey-level dilation of white-on-black images by a square.

    Each output pixel is the maximum of the (2 radius + 1) x (2 radius + 1) square around it, so
    a single white pixel becomes a 3x3 block for ``radius=1``. A pure, deterministic function: it
    is the hidden ground-truth translation of the ``"mnist-thick"`` domain pair.

    Args:
        images: (N, C, H, W) in [-1, 1], bright strokes on a dark background.
        radius: the half-width of the square; 0 returns a copy.

    Returns:
        (N, C, H, W), same dtype and device, ``>= images`` everywhere.
    """
    assert images.ndim == 4, f"thicken expects (N, C, H, W), got {tuple(images.shape)}"
    if isinstance(radius, bool) or not isinstance(radius, int) or radius < 0:
        raise ValueError(f"radius must be an int >= 0, got {radius!r}")
    if radius == 0:
        return images.clone()
    return F.max_pool2d(images, 2 * radius + 1, stride=1, padding=radius)  # (N, C, H, W)


# ---------------------------------------------------------------------------------------------
# Domain pairs
# ---------------------------------------------------------------------------------------------


@dataclass(eq=False)  # eq=False: tensor fields cannot be compared with ==
class DomainPair:
    """Two image domains for unpaired translation, each with a train and a held-out test split.

    CycleGAN learns ``G: X -> Y`` (maps an ``train_x`` image to one that looks drawn from
    ``train_y``) and ``F: Y -> X`` (the way back); the cycle losses ask ``F(G(x)) ~ x`` and
    ``G(F(y)) ~ y``. The X and Y sets are not paired: no image of Y is the translation of an
    image of X.

    Labels (the digit, where there is one; else all 0) are for EVALUATION ONLY, e.g. checking
    with a classifier that ``G(x)`` is still the digit ``x`` was. Unpaired training never reads
    them.

    Attributes:
        name: the pair's name, one of :data:`DOMAIN_PAIRS`.
        train_x, train_y: the training images of X and Y.
        test_x, test_y: held-out images of X and Y.
        train_x_target: (N, C, H, W) the true translation of ``train_x.images`` into Y where one
            is known (``"mnist-thick"``), else ``None``: the pairs for a pix2pix upper bound.
        test_x_target: the same for ``test_x.images``: an exact translation error for ``G``.
    """

    name: str
    train_x: ImageDataset
    train_y: ImageDataset
    test_x: ImageDataset
    test_y: ImageDataset
    train_x_target: torch.Tensor | None = None  # (N, C, H, W) like train_x.images
    test_x_target: torch.Tensor | None = None  # (N, C, H, W) like test_x.images

    def __post_init__(self) -> None:
        for images, target, what in ((self.train_x.images, self.train_x_target, "train_x_target"),
                                     (self.test_x.images, self.test_x_target, "test_x_target")):
            if target is not None and target.shape != images.shape:
                raise ValueError(f"{what} must have the shape of its x images {tuple(images.shape)}, "
                                 f"got {tuple(target.shape)}")


#: the CycleGAN datasets of Zhu et al. (2017) that :func:`load_domains` downloads.
CYCLEGAN_SETS: tuple[str, ...] = ("horse2zebra", "apple2orange", "summer2winter_yosemite", "monet2photo")
#: every name :func:`load_domains` knows; the first needs no download and is the default.
DOMAIN_PAIRS: tuple[str, ...] = ("mnist-typeset", "mnist-thick", *CYCLEGAN_SETS)
#: where the CycleGAN zips are downloaded from (``{name}`` is one of :data:`CYCLEGAN_SETS`).
CYCLEGAN_URL = "https://efrosgans.eecs.berkeley.edu/cyclegan/datasets/{name}.zip"

_CYCLEGAN_FOLDERS = ("trainA", "trainB", "testA", "testB")
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
_TYPESET_TEST_SEED_OFFSET = 1_000_003  # the typeset test set uses seed + this: its own stream


def _split_per_class(labels: torch.Tensor, counts: Sequence[int], generator: torch.Generator
                     ) -> list[torch.Tensor]:
    """Disjoint index sets, part j holding ``counts[j]`` items of every class, each set in a
    shuffled order; a class's items are assigned to parts by one seeded permutation."""
    parts: list[list[torch.Tensor]] = [[] for _ in counts]
    for cls in range(int(labels.max()) + 1):
        idx = (labels == cls).nonzero().squeeze(1)
        idx = idx[torch.randperm(len(idx), generator=generator)]
        assert len(idx) >= sum(counts), f"class {cls} has {len(idx)} items, fewer than {sum(counts)}"
        start = 0
        for j, count in enumerate(counts):
            parts[j].append(idx[start:start + count])
            start += count
    out = []
    for chunks in parts:
        idx = torch.cat(chunks)
        out.append(idx[torch.randperm(len(idx), generator=generator)])
    return out


def _subset(dataset: ImageDataset, idx: torch.Tensor, name: str | None = None) -> ImageDataset:
    return ImageDataset(dataset.images[idx].contiguous(), dataset.labels[idx], name or dataset.name,
                        dataset.classes)


def _pad(images: torch.Tensor, size: int) -> torch.Tensor:
    """Pad (N, C, 28, 28) digits with the black background (-1) to size x size, centred."""
    margin = size - images.shape[-1]
    before = margin // 2
    return F.pad(images, (before, margin - before, before, margin - before), value=-1.0)


def _pad_dataset(dataset: ImageDataset, size: int) -> ImageDataset:
    return ImageDataset(_pad(dataset.images, size), dataset.labels, dataset.name, dataset.classes)


def _mnist_typeset(seed: int) -> DomainPair:
    mnist = load_mnist_5k()
    train_idx, test_idx = _split_per_class(mnist.labels, (450, 50), torch.Generator().manual_seed(seed))
    return DomainPair(
        name="mnist-typeset",
        train_x=_subset(mnist, train_idx),
        train_y=typeset_digits(len(train_idx), seed=seed),
        test_x=_subset(mnist, test_idx),
        test_y=typeset_digits(len(test_idx), seed=seed + _TYPESET_TEST_SEED_OFFSET),
    )


def _mnist_thick(seed: int) -> DomainPair:
    mnist = load_mnist_5k()
    # Two disjoint halves of 250 digits per class, 10% of each held out: 225 + 25 + 225 + 25.
    x_train, x_test, y_train, y_test = _split_per_class(mnist.labels, (225, 25, 225, 25),
                                                        torch.Generator().manual_seed(seed))
    thick = ImageDataset(thicken(mnist.images), mnist.labels, "mnist-thick", mnist.classes)
    train_x, test_x = _subset(mnist, x_train), _subset(mnist, x_test)
    return DomainPair(
        name="mnist-thick",
        train_x=train_x,
        train_y=_subset(thick, y_train),
        test_x=test_x,
        test_y=_subset(thick, y_test),
        train_x_target=thicken(train_x.images),
        test_x_target=thicken(test_x.images),
    )


def _cyclegan_help(name: str, folder: pathlib.Path) -> str:
    url = CYCLEGAN_URL.format(name=name)
    return (f"To use it offline, download {url} on a machine with internet, unzip it, and copy its "
            f"folders trainA, trainB, testA and testB (JPEG images) into {folder}/ (so that "
            f"{folder / 'trainA'} holds the images), or point GANLIB_DATA (or root=) at a folder "
            f"whose cyclegan/{name}/ holds them; see data/README.md. The digit pairs need no "
            "download: load_domains('mnist-typeset').")


def _has_folders(folder: pathlib.Path) -> bool:
    return all((folder / sub).is_dir() for sub in _CYCLEGAN_FOLDERS)


def _download_cyclegan(name: str, cyclegan_dir: pathlib.Path, folder: pathlib.Path) -> None:
    """Download and unzip ``{name}.zip`` into a temporary folder next to ``folder``, then move the
    missing ``trainA``... subfolders into place. Nothing already on disk is touched; a failure
    leaves no half-extracted folder behind."""
    from torchvision.datasets.utils import download_and_extract_archive  # deferred: torchvision import

    url = CYCLEGAN_URL.format(name=name)
    cyclegan_dir.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{name}-download-", dir=cyclegan_dir))
    try:
        try:
            download_and_extract_archive(url, download_root=str(staging), filename=f"{name}.zip")
        except Exception as err:  # network errors, HTTP errors, a corrupt zip: all mean "not available"
            cause = ("the downloaded file is not a valid zip archive (an interrupted download, or the server "
                     "sent something else)" if isinstance(err, (zipfile.BadZipFile, EOFError))
                     else "downloading it failed; this machine may be offline or the server unreachable")
            raise DatasetUnavailableError(
                f"could not load the CycleGAN dataset {name!r} from {url}: {cause} "
                f"({type(err).__name__}: {str(err).strip()}). Expected the folders {folder}/trainA, "
                "trainB, testA and testB. " + _cyclegan_help(name, folder)
            ) from err
        extracted = staging / name
        missing = [sub for sub in _CYCLEGAN_FOLDERS if not (extracted / sub).is_dir()]
        if missing:
            raise DatasetUnavailableError(
                f"could not load the CycleGAN dataset {name!r}: the archive from {url} has no folders "
                f"{', '.join(f'{name}/{sub}' for sub in missing)}. " + _cyclegan_help(name, folder))
        folder.mkdir(exist_ok=True)
        for sub in _CYCLEGAN_FOLDERS:
            if not (folder / sub).exists():  # never overwrite what is already there
                os.replace(extracted / sub, folder / sub)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # the zip and leftovers: only our own temporary folder


def _read_folder(folder: pathlib.Path, size: int, name: str, dataset_folder: pathlib.Path) -> torch.Tensor:
    """All images of ``folder`` in file-name order, RGB, resized (shorter side, then a centre crop)
    to size x size with antialiasing: (N, 3, size, size) float32 in [-1, 1]."""
    from PIL import Image  # PIL, not torchvision.io, whose image decoding is deprecated since 0.29
    from torchvision.transforms.v2 import functional as TF

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
    if not files:
        raise DatasetUnavailableError(
            f"could not load the CycleGAN dataset {name!r}: {folder} holds no .jpg or .png images. "
            + _cyclegan_help(name, dataset_folder))
    images = torch.empty(len(files), 3, size, size, dtype=torch.uint8)
    for i, path in enumerate(files):
        try:
            with Image.open(path) as file:
                pixels = np.asarray(file.convert("RGB"))  # (h, w, 3) uint8
        except Exception as err:
            raise DatasetUnavailableError(
                f"could not load the CycleGAN dataset {name!r}: the image {path} cannot be decoded "
                f"({type(err).__name__}: {str(err).strip()}); replace it or delete the folder "
                f"{dataset_folder} to download it again. " + _cyclegan_help(name, dataset_folder)) from err
        image = torch.from_numpy(pixels.copy()).permute(2, 0, 1)  # (3, h, w)
        image = TF.resize(image, [size], antialias=True)  # shorter side -> size
        images[i] = TF.center_crop(image, [size, size])  # (3, size, size)
    return images.float() / 127.5 - 1.0  # (N, 3, size, size) in [-1, 1]


def _cyclegan(name: str, root: str | os.PathLike | None, size: int, download: bool) -> DomainPair:
    cyclegan_dir = data_root(root) / "cyclegan"
    folder = cyclegan_dir / name
    if not _has_folders(folder):
        if not download:
            missing = [str(folder / sub) for sub in _CYCLEGAN_FOLDERS if not (folder / sub).is_dir()]
            raise DatasetUnavailableError(
                f"could not load the CycleGAN dataset {name!r}: the folders {', '.join(missing)} are not "
                "there and download=False. " + _cyclegan_help(name, folder))
        _download_cyclegan(name, cyclegan_dir, folder)
    sets = {}
    for sub in _CYCLEGAN_FOLDERS:
        images = _read_folder(folder / sub, size, name, folder)
        domain = sub[-1]  # "A" or "B"
        sets[sub] = ImageDataset(images, torch.zeros(len(images), dtype=torch.int64), f"{name}/{domain}", (domain,))
    return DomainPair(name=name, train_x=sets["trainA"], train_y=sets["trainB"],
                      test_x=sets["testA"], test_y=sets["testB"])


def load_domains(
    name: str = "mnist-typeset",
    *,
    root: str | os.PathLike | None = None,
    size: int | None = None,
    seed: int = 0,
    download: bool = True,
) -> DomainPair:
    """Two unpaired image domains, X and Y, with train and test splits.

    - ``"mnist-typeset"`` (offline): X = handwritten digits (mnist-5k), Y = typeset digits
      (:func:`typeset_digits`). mnist-5k is split by ``seed`` into 4500 training digits and 500
      held out (50 per class); Y has 4500 + 500 digits, the test set from its own seed stream.
    - ``"mnist-thick"`` (offline): mnist-5k split by ``seed`` into two disjoint halves (250 per class
      each); X = half A as it is, Y = half B thickened (:func:`thicken`, radius 1); 10% of each half
      (25 per class) is held out. ``train_x_target`` / ``test_x_target`` = ``thicken(x)``: the
      hidden ground truth.
    - ``"horse2zebra"``, ``"apple2orange"``, ``"summer2winter_yosemite"``, ``"monet2photo"``: the
      CycleGAN sets (Zhu et al. 2017), X = ``trainA``/``testA``, Y = ``trainB``/``testB``, read from
      ``data_root(root) / "cyclegan" / name``, downloaded from :data:`CYCLEGAN_URL` first if needed.
      RGB, labels all 0.

    Args:
        name: one of :data:`DOMAIN_PAIRS`.
        root: the download folder of the CycleGAN sets; see :func:`ganlib.data.data_root`.
        size: image height and width. Digits: 28 (default) or 32 (padded with the black
            background, like ``ganlib.data.pad_to``). CycleGAN sets: default 128 (the paper uses 256);
            images are resized by their shorter side with antialiasing and centre-cropped.
        seed: the splits and the typeset digits; the same seed gives the same pair.
        download: CycleGAN sets only: allow downloading a missing set.

    Returns:
        A :class:`DomainPair` of float32 images in [-1, 1]: (N, 1, size, size) digits or
        (N, 3, size, size) photos.

    Raises:
        ValueError: for an unknown name (the message lists the valid ones) or a bad size.
        DatasetUnavailableError: a CycleGAN set is not on disk and cannot be downloaded or unzipped.
    """
    if not isinstance(name, str):
        raise TypeError(f"a domain pair name must be a string, got {type(name).__name__}; "
                        f"choose from {', '.join(DOMAIN_PAIRS)}")
    key = name.strip().lower()
    if key not in DOMAIN_PAIRS:
        raise ValueError(f"unknown domain pair {name!r}; choose from {', '.join(DOMAIN_PAIRS)} "
                         "('mnist-typeset' and 'mnist-thick' need no download)")
    if key in CYCLEGAN_SETS:
        size = 128 if size is None else size
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"size must be a positive int, got {size!r}")
        return _cyclegan(key, root, size, download)

    size = 28 if size is None else size
    if size not in (28, 32) or isinstance(size, bool):
        raise ValueError(f"the digit pairs come in size 28 or 32 (padded), got {size!r}")
    pair = _mnist_typeset(seed) if key == "mnist-typeset" else _mnist_thick(seed)
    if size == 32:
        pair = DomainPair(
            name=pair.name,
            train_x=_pad_dataset(pair.train_x, 32), train_y=_pad_dataset(pair.train_y, 32),
            test_x=_pad_dataset(pair.test_x, 32), test_y=_pad_dataset(pair.test_y, 32),
            train_x_target=None if pair.train_x_target is None else _pad(pair.train_x_target, 32),
            test_x_target=None if pair.test_x_target is None else _pad(pair.test_x_target, 32),
        )
    return pair


# ---------------------------------------------------------------------------------------------
# Unpaired batches
# ---------------------------------------------------------------------------------------------


class UnpairedBatches:
    """An infinite iterator of ``(x_batch, y_batch)``: one batch from each domain, shuffled
    independently, so an x and the y next to it have nothing to do with each other.

    Two :class:`ganlib.data.InMemoryBatches` underneath, each with its own CPU generator seeded
    from two draws of ``generator``. ``state_dict()`` / ``load_state_dict()`` hold both, so a
    resumed run gets bitwise-identical batches. Images only: no labels are read.

    Example::

        pair = load_domains("mnist-typeset")
        batches = UnpairedBatches(pair.train_x.images, pair.train_y.images, 64, device=device)
        x, y = next(batches)  # (64, 1, 28, 28), (64, 1, 28, 28) on device
    """

    def __init__(
        self,
        x_images: torch.Tensor,
        y_images: torch.Tensor,
        batch_size: int,
        *,
        device: torch.device | str = "cpu",
        generator: torch.Generator | None = None,
    ) -> None:
        """Args:
            x_images: (N_x, C, H, W) images of domain X.
            y_images: (N_y, C', H', W') images of domain Y (any sizes; usually those of X).
            batch_size: images per batch from each domain, at most min(N_x, N_y).
            device: where batches are delivered.
            generator: a CPU generator from which the two shuffling generators are seeded;
                ``None`` makes one seeded from ``torch.initial_seed()``.
        """
        for images, what in ((x_images, "x_images"), (y_images, "y_images")):
            if not isinstance(images, torch.Tensor) or images.ndim != 4:
                shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
                raise ValueError(f"{what} must be a tensor of shape (N, C, H, W), got {shape}")
        parent = _make_generator(generator)
        seeds = torch.randint(0, 2**62, (2,), generator=parent).tolist()
        self.x = InMemoryBatches(x_images, batch_size, device=device,
                                 generator=torch.Generator().manual_seed(seeds[0]))
        self.y = InMemoryBatches(y_images, batch_size, device=device,
                                 generator=torch.Generator().manual_seed(seeds[1]))
        self.batch_size = batch_size

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next pair of batches, (B, C, H, W) each, on ``device``."""
        return next(self.x), next(self.y)

    def state_dict(self) -> dict:
        """``{"x": ..., "y": ...}``: the two :meth:`InMemoryBatches.state_dict` (tensors and ints only)."""
        return {"x": self.x.state_dict(), "y": self.y.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        """Continue from a :meth:`state_dict` taken on an iterator over the same images.

        Args:
            state: the dict returned by :meth:`state_dict`.
        """
        _require_keys(state, ("x", "y"), "UnpairedBatches")
        self.x.load_state_dict(state["x"])
        self.y.load_state_dict(state["y"])


def make_unpaired_batches(
    pair: DomainPair,
    batch_size: int,
    *,
    device: torch.device | str = "cpu",
    generator: torch.Generator | None = None,
) -> UnpairedBatches:
    """:class:`UnpairedBatches` of a pair's training images, ``(x, y)`` per step (labels unused).

    Args:
        pair: from :func:`load_domains`.
        batch_size: images per batch from each domain.
        device: where batches are delivered.
        generator: a CPU generator; ``None`` makes one seeded from ``torch.initial_seed()``.
    """
    return UnpairedBatches(pair.train_x.images, pair.train_y.images, batch_size, device=device,
                           generator=generator)
