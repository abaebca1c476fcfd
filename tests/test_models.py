"""Tests for helpers.models against independent references.

Parameter counts come from the formula Σ (fan_in + 1) fan_out, forward passes from a manual
NumPy computation with the same weights, gradients from finite differences (float64).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import models


def _linear_count(fan_in: int, fan_out: int) -> int:
    return (fan_in + 1) * fan_out


def _conv_count(c_in: int, c_out: int, kernel: int) -> int:
    return c_in * c_out * kernel * kernel + c_out


def test_mlp_parameter_count_matches_formula():
    net = models.mlp((784, 256, 64, 2))
    expected = _linear_count(784, 256) + _linear_count(256, 64) + _linear_count(64, 2)
    assert models.count_parameters(net) == expected == 217_538


@pytest.mark.parametrize("k,hidden", [(2, (256, 64)), (16, (128,)), (8, ())])
def test_mlp_autoencoder_parameter_count_matches_formula(k, hidden):
    widths = (784, *hidden, k)
    encoder = sum(_linear_count(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True))
    back = widths[::-1]
    decoder = sum(_linear_count(a, b) for a, b in zip(back[:-1], back[1:], strict=True))
    model = models.mlp_autoencoder(k, hidden)
    assert models.count_parameters(model.encoder) == encoder
    assert models.count_parameters(model.decoder) == decoder
    assert models.count_parameters(model) == encoder + decoder


def test_conv_autoencoder_parameter_count_matches_formula():
    k, c1, c2 = 4, 16, 32
    encoder = _conv_count(1, c1, 4) + _conv_count(c1, c2, 4) + _linear_count(c2 * 49, k)
    # transposed convolutions have the same weight count as the convolutions they mirror
    decoder = _linear_count(k, c2 * 49) + _conv_count(c1, c2, 4) - c2 + c1 + _conv_count(1, c1, 4) - c1 + 1
    model = models.conv_autoencoder(k, (c1, c2))
    assert models.count_parameters(model.encoder) == encoder
    assert models.count_parameters(model.decoder) == decoder


@pytest.mark.parametrize("factory", [lambda: models.mlp_autoencoder(3, (32,)),
                                     lambda: models.conv_autoencoder(3, (4, 8))])
def test_autoencoder_shapes(factory):
    torch.manual_seed(0)
    model = factory()
    x = torch.rand(5, 1, 28, 28)
    z = model.encode(x)
    assert z.shape == (5, 3)
    assert model.encode(x.reshape(5, 784)).shape == (5, 3)
    torch.testing.assert_close(model.encode(x.reshape(5, 784)), z)
    x_hat = model.decode(z)
    assert x_hat.shape == (5, 1, 28, 28)
    assert model(x).shape == x.shape
    assert torch.all((x_hat > 0) & (x_hat < 1))  # sigmoid output
    assert model.latent_dim == 3


def test_mlp_with_known_weights_matches_numpy():
    rng = np.random.default_rng(0)
    sizes = (5, 7, 4, 3)
    net = models.mlp(sizes, activation="tanh", output_activation="sigmoid").double()
    weights, biases = [], []
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    for layer, (fan_in, fan_out) in zip(linears, zip(sizes[:-1], sizes[1:], strict=True), strict=True):
        w = rng.normal(size=(fan_out, fan_in))
        b = rng.normal(size=fan_out)
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(w))
            layer.bias.copy_(torch.from_numpy(b))
        weights.append(w)
        biases.append(b)
    x = rng.normal(size=(6, 5))
    a = x
    for index, (w, b) in enumerate(zip(weights, biases, strict=True)):
        a = a @ w.T + b
        a = np.tanh(a) if index < len(weights) - 1 else 1.0 / (1.0 + np.exp(-a))
    out = net(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(out, a, rtol=1e-12, atol=1e-12)


def test_linear_autoencoder_is_the_affine_composition():
    torch.manual_seed(1)
    model = models.mlp_autoencoder(4, (), output_activation=None).double()
    enc = model.encoder.net[0]
    dec = model.decoder.net[0]
    x = np.random.default_rng(1).random((3, 784))
    expected = (x @ enc.weight.detach().numpy().T + enc.bias.detach().numpy()) @ \
        dec.weight.detach().numpy().T + dec.bias.detach().numpy()
    out = model(torch.from_numpy(x).reshape(3, 1, 28, 28)).detach().numpy().reshape(3, 784)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-10)


def test_autoencoder_loss_is_mean_squared_error_per_image():
    torch.manual_seed(2)
    model = models.mlp_autoencoder(2, (16,))
    x = torch.rand(7, 1, 28, 28)
    with torch.no_grad():
        loss = models.autoencoder_loss(model, x).item()
        x_hat = model(x).numpy()
    expected = np.mean(np.sum((x.numpy() - x_hat).reshape(7, -1) ** 2, axis=1))
    assert loss == pytest.approx(expected, rel=1e-5)


def test_autoencoder_loss_gradient_matches_finite_differences():
    torch.manual_seed(3)
    model = models.mlp_autoencoder(2, (6,), activation="tanh").double()
    x = torch.rand(3, 1, 28, 28, dtype=torch.float64)
    params = list(model.parameters())

    def loss_of(*values):
        with torch.no_grad():
            for p, v in zip(params, values, strict=True):
                p.copy_(v)
        return models.autoencoder_loss(model, x)

    loss = models.autoencoder_loss(model, x)
    grads = torch.autograd.grad(loss, params)
    eps = 1e-6
    rng = np.random.default_rng(3)
    for p, g in zip(params, grads, strict=True):
        flat = p.detach().view(-1)
        for index in rng.choice(flat.numel(), size=min(5, flat.numel()), replace=False):
            original = flat[index].item()
            with torch.no_grad():
                flat[index] = original + eps
                plus = models.autoencoder_loss(model, x).item()
                flat[index] = original - eps
                minus = models.autoencoder_loss(model, x).item()
                flat[index] = original
            numeric = (plus - minus) / (2 * eps)
            assert g.view(-1)[index].item() == pytest.approx(numeric, rel=1e-5, abs=1e-7)


@pytest.mark.parametrize(
    "call,error,message",
    [
        (lambda: models.mlp((784,)), ValueError, "input and an output"),
        (lambda: models.mlp((784, 0)), ValueError, "positive integer"),
        (lambda: models.mlp((784, 10), activation="swishy"), ValueError, "activation"),
        (lambda: models.MLPEncoder(latent_dim=0), ValueError, "latent_dim"),
        (lambda: models.MLPEncoder(hidden_dims=256), TypeError, "sequence"),
        (lambda: models.MLPEncoder(2)(torch.rand(3, 100)), ValueError, "784"),
        (lambda: models.MLPEncoder(2)(torch.zeros(3, 784, dtype=torch.int64)), TypeError, "floating"),
        (lambda: models.MLPDecoder(2)(torch.rand(3, 3)), ValueError, r"\(N, 2\)"),
        (lambda: models.ConvEncoder(2)(torch.rand(3, 1, 32, 32)), ValueError, "28, 28"),
        (lambda: models.ConvEncoder(2, channels=(8,)), ValueError, "two widths"),
        (lambda: models.Autoencoder(models.MLPEncoder(2), models.MLPDecoder(3)), ValueError, "2-dim"),
        (lambda: models.Autoencoder("enc", models.MLPDecoder(3)), TypeError, "nn.Module"),
        (lambda: models.count_parameters(3), TypeError, "nn.Module"),
        (lambda: models.squared_error_per_image(torch.rand(2, 784), torch.rand(3, 784)),
         ValueError, "same images"),
    ],
)
def test_bad_input_gets_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()
