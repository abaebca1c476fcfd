"""Model building blocks: MLP and small convolutional encoders/decoders, and the autoencoder.

Notebook 01 builds the multilayer perceptron by hand; notebook 02 builds the autoencoder of the
paper, ``min_{θ,ϕ} Σ_i ||x^(i) − Decoder_θ(Encoder_ϕ(x^(i)))||²``, from these pieces. Later
notebooks import them instead of re-writing them.

Images travel as float tensors of shape ``(N, 1, 28, 28)`` with pixels in [0, 1]; encoders
also accept flat ``(N, 784)`` input. Latent codes have shape ``(N, k)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from helpers import _checks

IMAGE_SHAPE: tuple[int, int, int] = (1, 28, 28)
"""Shape of one MNIST image as the series stores it: (channels, height, width)."""

_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
    "softplus": nn.Softplus,
    "gelu": nn.GELU,
}


def _activation(name: str | None, argument: str) -> nn.Module | None:
    if name is None:
        return None
    if not isinstance(name, str) or name not in _ACTIVATIONS:
        raise ValueError(f"{argument} must be one of {sorted(_ACTIVATIONS)} or None, got {name!r}")
    return _ACTIVATIONS[name]()


# --------------------------------------------------------------------------------------------
# Multilayer perceptrons (notebook 01)
# --------------------------------------------------------------------------------------------


def mlp(
    sizes: Sequence[int],
    activation: str = "relu",
    output_activation: str | None = None,
) -> nn.Sequential:
    """A multilayer perceptron ``Linear → act → … → Linear [→ output act]`` (notebook 01).

    Args:
        sizes: layer widths ``(d_0, d_1, …, d_L)``, input first; at least two entries.
        activation: nonlinearity between hidden layers (``"relu"``, ``"tanh"``, …).
        output_activation: nonlinearity after the last layer, or ``None`` for none.

    Returns:
        ``nn.Sequential`` mapping ``(N, d_0)`` to ``(N, d_L)``, with
        ``Σ_l (d_{l-1} + 1) d_l`` parameters (weights and biases).
    """
    widths = _checks.widths(sizes, "sizes")
    if len(widths) < 2:
        raise ValueError(f"sizes needs an input and an output width, got {tuple(sizes)!r}")
    _activation(activation, "activation")  # validate even when there is no hidden layer
    _activation(output_activation, "output_activation")
    layers: list[nn.Module] = []
    for index, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        layers.append(nn.Linear(fan_in, fan_out))
        last = index == len(widths) - 2
        nonlinearity = _activation(output_activation if last else activation,
                                   "output_activation" if last else "activation")
        if nonlinearity is not None:
            layers.append(nonlinearity)
    return nn.Sequential(*layers)


class MLPEncoder(nn.Module):
    """Encoder_ϕ: image → latent code through a multilayer perceptron (notebook 02).

    Maps ``(N, 1, 28, 28)`` (or flat ``(N, 784)``) to ``(N, latent_dim)``. With
    ``hidden_dims=()`` it is one affine map (the linear autoencoder of notebook 02).
    """

    def __init__(
        self,
        latent_dim: int = 2,
        hidden_dims: Sequence[int] = (256,),
        input_dim: int = 784,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        self.input_dim = _checks.positive_int(input_dim, "input_dim")
        self.latent_dim = _checks.positive_int(latent_dim, "latent_dim")
        self.hidden_dims = _checks.widths(hidden_dims, "hidden_dims")
        self.net = mlp((self.input_dim, *self.hidden_dims, self.latent_dim), activation, None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 1, 28, 28)`` or ``(N, input_dim)`` → codes ``(N, latent_dim)``."""
        x = _checks.float_tensor(x, "x")
        if x.ndim < 2 or x[0].numel() != self.input_dim:
            raise ValueError(
                f"MLPEncoder expects (N, {self.input_dim}) or images with {self.input_dim} "
                f"pixels each, e.g. (N, 1, 28, 28); got shape {tuple(x.shape)}"
            )
        return self.net(x.reshape(x.shape[0], self.input_dim))


class MLPDecoder(nn.Module):
    """Decoder_θ: latent code → image through a multilayer perceptron (notebook 02).

    Maps ``(N, latent_dim)`` to ``(N, *output_shape)``. The default sigmoid output keeps pixels
    in (0, 1) like MNIST; ``output_activation=None`` gives an affine output (linear autoencoder).
    """

    def __init__(
        self,
        latent_dim: int = 2,
        hidden_dims: Sequence[int] = (256,),
        output_shape: Sequence[int] = IMAGE_SHAPE,
        activation: str = "relu",
        output_activation: str | None = "sigmoid",
    ) -> None:
        super().__init__()
        self.latent_dim = _checks.positive_int(latent_dim, "latent_dim")
        self.hidden_dims = _checks.widths(hidden_dims, "hidden_dims")
        self.output_shape = _checks.widths(output_shape, "output_shape")
        output_dim = 1
        for size in self.output_shape:
            output_dim *= size
        self.net = mlp((self.latent_dim, *self.hidden_dims, output_dim), activation,
                       output_activation)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Codes ``(N, latent_dim)`` → images ``(N, *output_shape)``."""
        z = _checks.float_tensor(z, "z")
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(
                f"MLPDecoder expects codes of shape (N, {self.latent_dim}), got {tuple(z.shape)}"
            )
        return self.net(z).reshape(z.shape[0], *self.output_shape)


# --------------------------------------------------------------------------------------------
# A small convolutional pair (notebook 02, exercise; notebook 06)
# --------------------------------------------------------------------------------------------


def _two_channels(channels: Sequence[int]) -> tuple[int, int]:
    widths = _checks.widths(channels, "channels")
    if len(widths) != 2:
        raise ValueError(f"channels must name two widths (c1, c2), got {tuple(channels)!r}")
    return widths


class ConvEncoder(nn.Module):
    """Two stride-2 convolutions and a linear layer: ``(N, 1, 28, 28)`` → ``(N, latent_dim)``.

    Feature maps: 1×28×28 → c₁×14×14 → c₂×7×7 → flatten → latent (kernel 4, stride 2,
    padding 1 halves the size exactly). Explained beside the MLP in notebook 02.
    """

    def __init__(self, latent_dim: int = 2, channels: Sequence[int] = (16, 32),
                 activation: str = "relu") -> None:
        super().__init__()
        self.latent_dim = _checks.positive_int(latent_dim, "latent_dim")
        self.channels = _two_channels(channels)
        c1, c2 = self.channels
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, kernel_size=4, stride=2, padding=1),
            _activation(activation, "activation"),
            nn.Conv2d(c1, c2, kernel_size=4, stride=2, padding=1),
            _activation(activation, "activation"),
            nn.Flatten(),
        )
        self.head = nn.Linear(c2 * 7 * 7, self.latent_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 1, 28, 28)`` → ``(N, latent_dim)``."""
        x = _checks.float_tensor(x, "x")
        if x.ndim == 2 and x.shape[1] == 784:
            x = x.reshape(-1, *IMAGE_SHAPE)
        if tuple(x.shape[1:]) != IMAGE_SHAPE:
            raise ValueError(
                f"ConvEncoder expects images of shape (N, 1, 28, 28), got {tuple(x.shape)}"
            )
        return self.head(self.features(x))


class ConvDecoder(nn.Module):
    """Mirror of :class:`ConvEncoder`: ``(N, latent_dim)`` → ``(N, 1, 28, 28)`` (notebook 02).

    latent → c₂×7×7 → c₁×14×14 → 1×28×28 with transposed convolutions (kernel 4, stride 2,
    padding 1 doubles the size exactly), sigmoid output by default.
    """

    def __init__(self, latent_dim: int = 2, channels: Sequence[int] = (16, 32),
                 activation: str = "relu", output_activation: str | None = "sigmoid") -> None:
        super().__init__()
        self.latent_dim = _checks.positive_int(latent_dim, "latent_dim")
        self.channels = _two_channels(channels)
        c1, c2 = self.channels
        layers: list[nn.Module] = [
            nn.Linear(self.latent_dim, c2 * 7 * 7),
            _activation(activation, "activation"),
            nn.Unflatten(1, (c2, 7, 7)),
            nn.ConvTranspose2d(c2, c1, kernel_size=4, stride=2, padding=1),
            _activation(activation, "activation"),
            nn.ConvTranspose2d(c1, 1, kernel_size=4, stride=2, padding=1),
        ]
        final = _activation(output_activation, "output_activation")
        if final is not None:
            layers.append(final)
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``(N, latent_dim)`` → ``(N, 1, 28, 28)``."""
        z = _checks.float_tensor(z, "z")
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(
                f"ConvDecoder expects codes of shape (N, {self.latent_dim}), got {tuple(z.shape)}"
            )
        return self.net(z)


# --------------------------------------------------------------------------------------------
# The autoencoder (notebook 02)
# --------------------------------------------------------------------------------------------


class Autoencoder(nn.Module):
    """``x ↦ Decoder_θ(Encoder_ϕ(x))``, the paper's autoencoder (notebook 02, section 2).

    ``encode``: ``(N, 1, 28, 28)`` → ``(N, k)``; ``decode``: ``(N, k)`` → ``(N, 1, 28, 28)``;
    calling the module reconstructs: ``(N, 1, 28, 28)`` → ``(N, 1, 28, 28)``.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module) -> None:
        super().__init__()
        if not isinstance(encoder, nn.Module) or not isinstance(decoder, nn.Module):
            raise TypeError(
                "encoder and decoder must be torch.nn.Module instances, got "
                f"{type(encoder).__name__} and {type(decoder).__name__}"
            )
        enc_k = getattr(encoder, "latent_dim", None)
        dec_k = getattr(decoder, "latent_dim", None)
        if enc_k is not None and dec_k is not None and enc_k != dec_k:
            raise ValueError(f"encoder gives {enc_k}-dim codes but decoder expects {dec_k}")
        self.encoder = encoder
        self.decoder = decoder
        self.latent_dim: int | None = enc_k if enc_k is not None else dec_k

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Encoder_ϕ(x): images ``(N, 1, 28, 28)`` → codes ``(N, k)``."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Decoder_θ(z): codes ``(N, k)`` → images ``(N, 1, 28, 28)``."""
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction Decoder_θ(Encoder_ϕ(x)), same shape as ``x`` for image input."""
        return self.decode(self.encode(x))


def mlp_autoencoder(
    latent_dim: int = 2,
    hidden_dims: Sequence[int] = (256,),
    activation: str = "relu",
    output_activation: str | None = "sigmoid",
) -> Autoencoder:
    """An MLP autoencoder 784 → hidden_dims → k → reversed(hidden_dims) → 784 (notebook 02).

    ``hidden_dims=()`` with ``output_activation=None`` gives the linear autoencoder
    ``x ↦ W_d (W_e x + b_e) + b_d`` that notebook 02 compares with PCA.
    """
    hidden = _checks.widths(hidden_dims, "hidden_dims")
    encoder = MLPEncoder(latent_dim, hidden, activation=activation)
    decoder = MLPDecoder(latent_dim, tuple(reversed(hidden)), activation=activation,
                         output_activation=output_activation)
    return Autoencoder(encoder, decoder)


def conv_autoencoder(latent_dim: int = 2, channels: Sequence[int] = (16, 32)) -> Autoencoder:
    """The small convolutional autoencoder: :class:`ConvEncoder` + :class:`ConvDecoder`."""
    return Autoencoder(ConvEncoder(latent_dim, channels), ConvDecoder(latent_dim, channels))


def count_parameters(module: nn.Module, trainable_only: bool = True) -> int:
    """Number of scalar parameters of ``module`` (notebook 01 counts them by hand)."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


# --------------------------------------------------------------------------------------------
# The objective of notebook 02
# --------------------------------------------------------------------------------------------


def squared_error_per_image(x: torch.Tensor, reconstruction: torch.Tensor) -> torch.Tensor:
    """``||x^(i) − x̂^(i)||²`` for each image: ``(N, …)`` and ``(N, …)`` → ``(N,)`` (notebook 02)."""
    x = _checks.float_tensor(x, "x")
    reconstruction = _checks.float_tensor(reconstruction, "reconstruction")
    if x.shape[0] != reconstruction.shape[0] or x[0].numel() != reconstruction[0].numel():
        raise ValueError(
            f"x and reconstruction must hold the same images, got {tuple(x.shape)} and "
            f"{tuple(reconstruction.shape)}"
        )
    difference = x.reshape(x.shape[0], -1) - reconstruction.reshape(x.shape[0], -1)
    return difference.pow(2).sum(dim=1)


def autoencoder_loss(model: nn.Module, x_batch: torch.Tensor, y_batch: Any = None) -> torch.Tensor:
    """The paper's objective on a batch, as a mean over images (notebook 02, section 2).

    ``(1/B) Σ_{i in batch} ||x^(i) − Decoder_θ(Encoder_ϕ(x^(i)))||²``. Dividing the paper's sum
    by the batch size B changes the scale, not the minimiser. Signature fits
    ``helpers.training.train(model, loss_fn, ...)``; ``y_batch`` is ignored (no labels).
    """
    return squared_error_per_image(x_batch, model(x_batch)).mean()
