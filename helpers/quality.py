"""The series' one measure of sample quality: do decoded samples look like digits?

A generative model's samples are judged here by two numbers that need no human eye, and by
what they cannot see:

- **Classifier confidence.** A small MLP digit classifier, trained on the training images
  (:func:`train_digit_classifier`), reads each sample. Its mean top-class probability says how
  much the samples look like *some* digit; the histogram of its predicted classes says whether
  all ten digits come out or only a few (:attr:`SampleQuality.class_entropy_bits`, at most
  log₂ 10 ≈ 3.32 bits when every class is equally common). It cannot see blur the classifier
  tolerates, nor a sample that copies a training image.
- **Distance to the nearest training image.** The Euclidean distance in pixel space from each
  sample to its closest training image (:func:`nearest_distances`). Small means "lies where the
  data lie"; large means the sample is far from every digit the model saw. Near zero for every
  sample would mean copying, which this measure alone would score as perfect.

Samples are decoder means (grey levels in [0, 1]), compared with grey-level training images.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from helpers import _checks
from helpers.models import mlp
from helpers.training import evaluate, seeded_random_state, train

__all__ = [
    "CLASSIFIER_HIDDEN_DIMS",
    "SampleQuality",
    "classifier_accuracy",
    "nearest_distances",
    "sample_quality",
    "train_digit_classifier",
]

CLASSIFIER_HIDDEN_DIMS: tuple[int, ...] = (256,)
"""Hidden widths of the judge: a 784-256-10 MLP with ReLU (notebook 01's network, larger)."""


class SampleQuality(NamedTuple):
    """What :func:`sample_quality` measured on N samples.

    Attributes:
        confidence: (N,) the classifier's top-class probability for each sample.
        predicted: (N,) int64 predicted class of each sample.
        nearest: (N,) Euclidean pixel distance from each sample to its nearest training image.
    """

    confidence: Tensor
    predicted: Tensor
    nearest: Tensor

    @property
    def mean_confidence(self) -> float:
        """Mean top-class probability, in [0.1, 1]."""
        return float(self.confidence.mean())

    @property
    def class_counts(self) -> Tensor:
        """(10,) how many samples the classifier put in each class."""
        return torch.bincount(self.predicted, minlength=10)

    @property
    def class_entropy_bits(self) -> float:
        """Entropy of the predicted-class histogram in bits: log₂ 10 ≈ 3.32 when all ten digits
        are equally common, 0 when every sample is the same digit."""
        share = self.class_counts.double() / len(self.predicted)
        share = share[share > 0]
        return float(-(share * share.log2()).sum())

    @property
    def mean_nearest(self) -> float:
        """Mean distance to the nearest training image."""
        return float(self.nearest.mean())


def _flat_images(images: Tensor, name: str) -> Tensor:
    images = _checks.probabilities(images, name)
    if images.dim() == 4 and tuple(images.shape[1:]) == (1, 28, 28):
        images = images.reshape(len(images), 784)
    if images.dim() != 2 or images.shape[1] != 784 or len(images) == 0:
        raise ValueError(
            f"{name} must have shape (N, 1, 28, 28) or (N, 784) with N ≥ 1, got "
            f"{tuple(images.shape)}"
        )
    return images.float()


def _classifier_loss(model: nn.Module, x: Tensor, y: Tensor) -> tuple[Tensor, dict[str, float]]:
    logits = model(x.reshape(len(x), -1))
    loss = nn.functional.cross_entropy(logits, y)
    return loss, {"accuracy": float((logits.argmax(1) == y).float().mean())}


def train_digit_classifier(
    images: Tensor,
    labels: Tensor,
    *,
    epochs: int = 3,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> nn.Module:
    """Train the judge of :func:`sample_quality`: a 784-256-10 MLP digit classifier.

    Adam (1e-3), batches of 128, cross-entropy, ``epochs`` passes; seeded, so the same images
    give the same classifier.

    Args:
        images: (N, 1, 28, 28) or (N, 784) training images, grey levels in [0, 1].
        labels: (N,) int64 digit labels 0..9.
        epochs, seed, device: as for ``helpers.training.train``.

    Returns:
        The classifier in eval mode, on ``device`` (default CPU); it maps (N, 784) to logits
        (N, 10).
    """
    x = _flat_images(images, "images")
    if not isinstance(labels, Tensor) or labels.dtype != torch.int64 or labels.shape != (len(x),):
        raise ValueError(
            f"labels must be an int64 tensor of shape ({len(x)},), got "
            f"{getattr(labels, 'dtype', type(labels).__name__)} {tuple(getattr(labels, 'shape', ()))}"
        )
    if int(labels.min()) < 0 or int(labels.max()) > 9:
        raise ValueError("labels must be digit classes 0..9")
    with seeded_random_state(seed, device if device is not None else "cpu"):
        model = mlp((784, *CLASSIFIER_HIDDEN_DIMS, 10))
        model, _ = train(
            model, _classifier_loss, x, labels, epochs=_checks.positive_int(epochs, "epochs"),
            batch_size=128, lr=1e-3, device=device, seed=seed, progress=False,
            desc="digit classifier",
        )
    return model.eval()


def classifier_accuracy(classifier: nn.Module, images: Tensor, labels: Tensor) -> float:
    """Fraction of ``images`` (N, 1, 28, 28) the classifier labels correctly (labels (N,))."""
    x = _flat_images(images, "images")
    return evaluate(classifier, _classifier_loss, x, labels)["accuracy"]


@torch.no_grad()
def nearest_distances(samples: Tensor, reference: Tensor, chunk: int = 512) -> Tensor:
    """Euclidean distance from each sample to its nearest reference image.

    Args:
        samples: (N, 1, 28, 28) or (N, 784), values in [0, 1].
        reference: (M, 1, 28, 28) or (M, 784), values in [0, 1], e.g. the training images.
        chunk: samples per block; memory is about ``chunk · M · 4`` bytes (100 MB at the
            default with M = 50,000).

    Returns:
        (N,) float32 distances ``min_j ||samples_i − reference_j||``.
    """
    a = _flat_images(samples, "samples")
    b = _flat_images(reference, "reference").to(a.device)
    _checks.positive_int(chunk, "chunk")
    b_squared = (b * b).sum(1)
    out = []
    for start in range(0, len(a), chunk):
        block = a[start : start + chunk]
        # ||a − b||² = ||a||² − 2 a·b + ||b||², minimized over b; clamp the rounding below zero
        squared = (block * block).sum(1, keepdim=True) - 2 * block @ b.T + b_squared
        out.append(squared.min(1).values.clamp_min(0).sqrt())
    return torch.cat(out)


@torch.no_grad()
def sample_quality(samples: Tensor, classifier: nn.Module, reference: Tensor) -> SampleQuality:
    """Score samples with the series' measure (see the module docstring for what it can see).

    Args:
        samples: (N, 1, 28, 28) or (N, 784) decoded images in [0, 1].
        classifier: from :func:`train_digit_classifier`.
        reference: the training images the nearest-image distance is taken to.

    Returns:
        :class:`SampleQuality` with per-sample confidences, predicted classes and distances.
    """
    x = _flat_images(samples, "samples")
    if not isinstance(classifier, nn.Module):
        raise TypeError(f"classifier must be a torch.nn.Module, got {type(classifier).__name__}")
    device = next(classifier.parameters()).device
    was_training = classifier.training
    classifier.eval()
    try:
        probabilities = torch.softmax(classifier(x.to(device)), dim=1).cpu()
    finally:
        classifier.train(was_training)
    if probabilities.shape != (len(x), 10):
        raise ValueError(f"classifier must output (N, 10) logits, got {tuple(probabilities.shape)}")
    confidence, predicted = probabilities.max(1)
    nearest = nearest_distances(x, reference).cpu()
    return SampleQuality(confidence=confidence, predicted=predicted, nearest=nearest)
