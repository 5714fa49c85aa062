"""Sample-quality metrics of a generator, computed from features in float64.

Every metric here is three steps (DESIGN.md rule 11):

1. features: an extractor maps images to vectors, ``(N, d)``, or to class probabilities, ``(N, K)``.
   :func:`inception_v3_features` is torch-fidelity's FID Inception-v3, the network of published FID,
   IS and KID (2048-d pool features, 1008 logits); the shipped MNIST classifier (:func:`digit_scores`)
   is the offline stand-in for digits. Everything in steps 2 and 3 takes their output, as a
   ``torch.Tensor`` or a NumPy array, so the formulas are ganlib's own (and agree with torch-fidelity's).
2. statistics: :func:`gaussian_stats` fits a Gaussian ``(mu, Sigma)`` to a feature set.
3. a closed-form distance: :func:`frechet_distance` (FID, Heusel et al. 2017),
   :func:`inception_score` (IS, Salimans et al. 2016), :func:`kernel_inception_distance`
   (KID, Binkowski et al. 2018) and :func:`precision_recall` (Kynkaanniemi et al. 2019).

One concern per file:

- ``distances.py``  steps 2 and 3: ``gaussian_stats``, FID, IS, KID, precision/recall (NumPy/torch only)
- ``inception.py``  the FID Inception-v3: its weights file, download and feature extractor (torch-fidelity)
- ``features.py``   step 1 for many images: ``extract_features`` in batches, ``real_statistics`` cached to disk
- ``digits.py``     offline scores of digits with the shipped MNIST classifier: ``digit_scores``,
  ``predict_digits``, ``translation_scores``
- ``latent.py``     latent-space metrics: ``slerp``, ``perceptual_path_length``
- ``gate.py``       the quality gate of a shipped model: class histogram, recall and FID within stated bounds
"""

from ganlib.metrics.digits import DigitScores, TranslationScores, digit_scores, predict_digits, translation_scores
from ganlib.metrics.distances import (
    frechet_distance,
    gaussian_stats,
    inception_score,
    kernel_inception_distance,
    precision_recall,
)
from ganlib.metrics.features import extract_features, real_statistics
from ganlib.metrics.inception import (
    INCEPTION_LOGITS_DIM,
    INCEPTION_POOL_DIM,
    INCEPTION_WEIGHTS_FILE,
    InceptionWeightsUnavailable,
    inception_v3_features,
    inception_weights_path,
)
from ganlib.metrics.latent import perceptual_path_length, slerp

# Not public, but reached as ``ganlib.metrics._name`` since before the split: notebook 07's and the grading
# tests' delegation checks name the helpers of the reference answers, and evaluate crops digits.
from ganlib.metrics.digits import _crop_to_28  # noqa: F401
from ganlib.metrics.distances import (  # noqa: F401
    _fraction_inside,
    _knn_radii,
    _mmd2_unbiased_polynomial,
    _trace_sqrt_product,
)

__all__ = [
    "gaussian_stats", "frechet_distance", "inception_score", "kernel_inception_distance", "precision_recall",
    "inception_v3_features", "inception_weights_path", "InceptionWeightsUnavailable", "INCEPTION_WEIGHTS_FILE",
    "INCEPTION_POOL_DIM", "INCEPTION_LOGITS_DIM",
    "extract_features", "real_statistics",
    "DigitScores", "digit_scores", "predict_digits", "TranslationScores", "translation_scores",
    "perceptual_path_length", "slerp",
]
