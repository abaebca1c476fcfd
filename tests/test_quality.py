"""Tests for helpers/quality.py, the series' sample-quality measure (notebook 02).

References are independent of the code under test: nearest distances by brute force over every
pair with NumPy, confidences by a NumPy softmax of a hand-set linear classifier, the class
entropy by scipy.stats.entropy, and the classifier's training on a problem with a known answer.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import entropy
from torch import nn

from helpers import quality


def _images(count: int, seed: int) -> torch.Tensor:
    return torch.rand(count, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def test_nearest_distances_match_brute_force() -> None:
    samples, reference = _images(37, 0), _images(53, 1)
    a, b = samples.reshape(37, 784).double().numpy(), reference.reshape(53, 784).double().numpy()
    expected = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)).min(1)
    for chunk in (1, 5, 512):  # the chunking must not change the answer
        got = quality.nearest_distances(samples, reference, chunk=chunk)
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-4)
    # a sample that is a reference image is at distance 0 (up to float32 rounding)
    assert float(quality.nearest_distances(reference[:3], reference)[0]) < 1e-2


def _linear_judge(seed: int = 0) -> nn.Linear:
    judge = nn.Linear(784, 10)
    with torch.no_grad():
        generator = torch.Generator().manual_seed(seed)
        judge.weight.copy_(torch.randn(10, 784, generator=generator) * 0.05)
        judge.bias.copy_(torch.randn(10, generator=generator))
    return judge


def test_sample_quality_against_numpy() -> None:
    samples, reference = _images(200, 2), _images(30, 3)
    judge = _linear_judge()
    scored = quality.sample_quality(samples, judge, reference)
    logits = samples.reshape(200, 784).double().numpy() @ judge.weight.detach().double().numpy().T
    logits += judge.bias.detach().double().numpy()
    probabilities = np.exp(logits - logits.max(1, keepdims=True))
    probabilities /= probabilities.sum(1, keepdims=True)
    np.testing.assert_allclose(scored.confidence.numpy(), probabilities.max(1), rtol=1e-4)
    np.testing.assert_array_equal(scored.predicted.numpy(), probabilities.argmax(1))
    counts = np.bincount(probabilities.argmax(1), minlength=10)
    np.testing.assert_array_equal(scored.class_counts.numpy(), counts)
    assert scored.class_entropy_bits == pytest.approx(entropy(counts, base=2), abs=1e-9)
    assert scored.mean_confidence == pytest.approx(probabilities.max(1).mean(), rel=1e-4)
    assert scored.mean_nearest == pytest.approx(
        float(quality.nearest_distances(samples, reference).mean()), rel=1e-6
    )


def test_class_entropy_extremes() -> None:
    one_class = quality.SampleQuality(torch.ones(20), torch.full((20,), 3), torch.zeros(20))
    assert one_class.class_entropy_bits == 0.0
    uniform = quality.SampleQuality(torch.ones(20), torch.arange(20) % 10, torch.zeros(20))
    assert uniform.class_entropy_bits == pytest.approx(np.log2(10))


def test_train_digit_classifier_learns_a_problem_with_a_known_answer() -> None:
    # class c lights up image row c: any working classifier reaches (almost) 100 %
    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 10, (2_000,), generator=generator)
    images = 0.3 * torch.rand(2_000, 1, 28, 28, generator=generator)
    images[torch.arange(2_000), 0, labels * 2] = 1.0
    judge = quality.train_digit_classifier(images[:1_500], labels[:1_500], epochs=2)
    assert quality.classifier_accuracy(judge, images[1_500:], labels[1_500:]) > 0.98
    # seeded: the same data give the same classifier
    again = quality.train_digit_classifier(images[:1_500], labels[:1_500], epochs=2)
    for a, b in zip(judge.parameters(), again.parameters(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: quality.nearest_distances(torch.rand(3, 10), torch.rand(3, 784)), "shape"),
        (lambda: quality.nearest_distances(torch.rand(3, 784) + 1, torch.rand(3, 784)), "samples"),
        (lambda: quality.sample_quality(torch.rand(3, 784), "judge", torch.rand(3, 784)), "classifier"),
        (lambda: quality.train_digit_classifier(torch.rand(4, 784), torch.zeros(3).long()), "labels"),
        (lambda: quality.train_digit_classifier(torch.rand(4, 784), torch.full((4,), 11)), "0..9"),
    ],
)
def test_quality_rejects_bad_input(call, message) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        call()
