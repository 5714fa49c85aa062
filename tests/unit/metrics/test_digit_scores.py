"""Tests of ganlib.metrics.digit_scores: offline FID, IS, accuracy, precision and recall of digits
measured with the shipped MNIST classifier."""

import math

import pytest
import torch

from ganlib.data import load_mnist_5k, pad_to
from ganlib.metrics import digit_scores

pytestmark = pytest.mark.usefixtures("one_thread_per_module")  # see tests/conftest.py


@pytest.fixture(scope="module")
def digits():
    d = load_mnist_5k()
    perm = torch.randperm(len(d), generator=torch.Generator().manual_seed(0))
    return d.images[perm], d.labels[perm]


def test_real_digits_score_like_real_digits(digits):
    images, labels = digits
    s = digit_scores(images[:1000], labels[:1000], real=images[1000:])
    assert s.fid < 10  # two halves of one dataset: near the real-vs-real floor
    assert s.inception_score > 8  # confident and balanced over 10 classes: close to the maximum 10
    assert s.accuracy > 0.95  # the classifier's held-out accuracy is 0.979
    assert s.precision > 0.85 and s.recall > 0.85
    assert s.n == 1000


def test_padded_32px_digits_give_the_same_scores_as_28px(digits):
    images, labels = digits
    a = digit_scores(images[:300], labels[:300], real=images[1000:2000])
    b = digit_scores(pad_to(images[:300], 32), labels[:300], real=images[1000:2000])
    assert a == b


def test_one_class_repeated_is_caught_by_fid_and_recall_not_by_accuracy(digits):
    images, labels = digits
    sevens = images[labels == 7][:1]
    collapsed = sevens.repeat(200, 1, 1, 1)
    s = digit_scores(collapsed, torch.full((200,), 7), real=images[1000:])
    assert s.accuracy == 1.0  # every sample is the digit it was asked for...
    assert s.inception_score < 1.5  # ...but one class only: IS near its minimum 1
    assert s.recall < 0.05 and s.fid > 100  # and the collapse shows in recall and FID


def test_noise_scores_badly_and_accuracy_is_nan_without_labels():
    noise = torch.rand(300, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    s = digit_scores(noise)
    assert math.isnan(s.accuracy)
    assert s.precision < 0.05 and s.fid > 100


def test_bad_shapes_say_what_is_expected():
    with pytest.raises(ValueError, match=r"\(N, 1, S, S\) with S >= 28"):
        digit_scores(torch.zeros(10, 3, 32, 32))
    with pytest.raises(ValueError, match="labels must have shape"):
        digit_scores(torch.zeros(10, 1, 28, 28), torch.zeros(3, dtype=torch.long))


def test_class_sorted_samples_score_like_shuffled_ones(digits):
    """IS splits the samples into chunks; a conditional G's class-sorted output must not fool it."""
    images, labels = digits
    order = torch.argsort(labels[:1000], stable=True)
    sorted_scores = digit_scores(images[:1000][order], labels[:1000][order], real=images[1000:])
    shuffled = digit_scores(images[:1000], labels[:1000], real=images[1000:])
    assert sorted_scores.inception_score > 8
    assert abs(sorted_scores.inception_score - shuffled.inception_score) < 0.2


def test_predict_digits_reads_the_bundled_digits_and_padded_ones():
    from ganlib import metrics

    ds = load_mnist_5k()
    images, labels = ds.images[:300], ds.labels[:300]
    predicted = metrics.predict_digits(images, device="cpu")
    assert predicted.shape == (300,) and predicted.dtype == torch.int64
    assert (predicted == labels).double().mean() > 0.9  # the classifier's held-out accuracy is about 97 %
    assert torch.equal(metrics.predict_digits(pad_to(images, 32), device="cpu"), predicted)  # padding is cropped away
