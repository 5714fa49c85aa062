"""metrics.translation_scores: the digit kept (with its confusion matrix), FID and L1 to a ground truth."""

import math

import pytest
import torch

from ganlib.data import load_mnist_5k
from ganlib.domains import thicken
from ganlib.metrics import digit_scores, translation_scores

pytestmark = pytest.mark.usefixtures("one_thread_per_module")  # see tests/conftest.py


@pytest.fixture(scope="module")
def digits():
    data = load_mnist_5k()
    pick = torch.randperm(len(data.images), generator=torch.Generator().manual_seed(0))[:300]
    return data.images[pick], data.labels[pick]


def test_unchanged_digits_keep_their_labels_and_the_confusion_matrix_counts_them(digits):
    x, y = digits
    s = translation_scores(x, y, real=x, target=x)
    assert s.n == 300 and s.l1 == 0.0
    assert s.confusion.sum() == 300 and torch.equal(s.confusion.sum(dim=1), torch.bincount(y, minlength=10))
    assert s.accuracy == pytest.approx(s.confusion.trace().item() / 300)
    assert s.predicted.shape == (300,) and s.accuracy == pytest.approx((s.predicted == y).float().mean().item())
    assert s.accuracy == pytest.approx(digit_scores(x, y, real=x).accuracy)  # the same classifier
    assert s.fid == pytest.approx(0.0, abs=1e-6)


def test_a_scrambled_translation_has_the_same_fid_but_loses_the_digits(digits):
    x, y = digits
    t = thicken(x)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(1))
    right, scrambled = (translation_scores(out, y, real=x, target=t) for out in (t, t[perm]))
    assert scrambled.fid == pytest.approx(right.fid, rel=1e-9)  # the same set of images
    assert right.l1 == 0.0 and scrambled.l1 > 0.3
    assert right.accuracy > 0.8 and scrambled.accuracy < 0.3


def test_l1_without_a_target_is_nan_and_bad_shapes_are_refused(digits):
    x, y = digits
    assert math.isnan(translation_scores(x, y, real=x).l1)
    with pytest.raises(ValueError, match="labels must have shape"):
        translation_scores(x, y[:10], real=x)
    with pytest.raises(ValueError, match="target must have the shape"):
        translation_scores(x, y, real=x, target=x[:10])
