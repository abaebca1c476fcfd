"""Recipes: everything needed to re-train a model of the series exactly, and its checkpoints.

A :class:`Recipe` is one frozen value that fixes a trained model: the architecture, the
optimizer's schedule, the number of epochs, the training images and the seed. The same recipe on
the same data and machine gives the same weights, so a saved checkpoint is reused only when its
recipe and a fingerprint of its training data match.

The recipes of the series are named by what they train: :data:`AUTOENCODER_2D` (taught in
notebook 02), :data:`VAE_32D` and :data:`VAE_2D` (notebook 06). Every recipe trains on the training part of
``helpers.data.train_validation_split`` (50,000 images on full MNIST) and is judged on the
validation part; the test set is evaluated once, for the numbers a notebook reports. One rule
sets the epochs on a training set of another size (the offline subset's 3,333-image training
part): a recipe's budget is a number of images seen, ``epochs`` passes over its reference set,
so a smaller set gets proportionally more epochs (:meth:`Recipe.epochs_for`).

Checkpoints live in ``helpers.paths.checkpoint_dir()``, are written atomically (a temporary file
renamed into place, so an interrupted save never leaves a file that a later run half-reads) and
are read with ``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from helpers import _checks
from helpers.data import FULL_SIZES, binarize_dynamic, validation_size
from helpers.models import Autoencoder, autoencoder_loss, mlp_autoencoder
from helpers.paths import atomic_write, checkpoint_dir
from helpers.training import History, cosine_schedule, seeded_random_state, train
from helpers.vae import VAE, negative_elbo

__all__ = [
    "AUTOENCODER_2D",
    "LR_SCHEDULES",
    "MODEL_KINDS",
    "OUTPUT_BIAS_INITS",
    "VAE_2D",
    "VAE_32D",
    "Recipe",
    "build_model",
    "checkpoint_config",
    "checkpoint_path",
    "init_output_bias",
    "load_checkpoint",
    "load_or_train",
    "save_checkpoint",
    "train_recipe",
]

MODEL_KINDS = ("autoencoder", "vae")
"""What a recipe can train: notebook 02's MLP autoencoder (squared error) or notebook 06's MLP
VAE (Bernoulli decoder, negative ELBO on dynamically binarized images)."""

LR_SCHEDULES = ("constant", "cosine")
"""Learning-rate schedules after the optional linear warm-up."""

OUTPUT_BIAS_INITS = (None, "pixel_log_odds")
"""How a VAE's decoder output bias starts: None keeps PyTorch's initialization,
"pixel_log_odds" calls :func:`init_output_bias` on the training images before training."""


@dataclasses.dataclass(frozen=True)
class Recipe:
    """One trained model of the series, fixed completely (notebooks 02 and 06).

    Attributes:
        name: what it trains, e.g. "vae_32d"; also the checkpoint's file name and the label of
            the progress bar.
        model: "autoencoder" (``helpers.models.mlp_autoencoder``, sigmoid output, squared error)
            or "vae" (``helpers.vae.VAE`` with a Bernoulli decoder, negative ELBO).
        latent_dim: k, the size of the code z.
        hidden_dims: encoder hidden widths; the decoder mirrors them.
        epochs: passes over the reference training set (see :meth:`epochs_for`).
        batch_size: images per Adam step.
        lr: peak learning rate of Adam (fused on CPU where available).
        lr_schedule: "constant", or "cosine" decay to zero after the warm-up.
        warmup_fraction: fraction of the steps over which the learning rate rises linearly
            from 0 to ``lr`` (0 for none).
        output_bias: None or "pixel_log_odds" (VAE only; see :data:`OUTPUT_BIAS_INITS`).
        train_images: train on the first this many training images; None for all of them.
        seed: seeds the initial weights, the batch order, the binarization and the VAE's noise.
    """

    name: str
    model: str
    latent_dim: int
    hidden_dims: tuple[int, ...]
    epochs: int
    batch_size: int
    lr: float
    lr_schedule: str = "constant"
    warmup_fraction: float = 0.0
    output_bias: str | None = None
    train_images: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or not all(
            c.isalnum() or c in "_-" for c in self.name
        ):
            raise ValueError(
                f"name must be a non-empty file-name-safe string (letters, digits, _ and -), "
                f"got {self.name!r}"
            )
        _checks.choice(self.model, "model", MODEL_KINDS)
        checked = {  # stored as plain Python values, so the recipe round-trips through JSON
            "latent_dim": _checks.positive_int(self.latent_dim, "latent_dim"),
            "hidden_dims": _checks.widths(self.hidden_dims, "hidden_dims"),
            "epochs": _checks.positive_int(self.epochs, "epochs"),
            "batch_size": _checks.positive_int(self.batch_size, "batch_size"),
            "lr": _checks.positive_number(self.lr, "lr"),
            "warmup_fraction": _checks.number_in(
                self.warmup_fraction, "warmup_fraction", 0.0, 1.0, high_open=True
            ),
            "train_images": None
            if self.train_images is None
            else _checks.positive_int(self.train_images, "train_images"),
            "seed": _checks.non_negative_int(self.seed, "seed"),
        }
        for field_name, value in checked.items():
            object.__setattr__(self, field_name, value)
        _checks.choice(self.lr_schedule, "lr_schedule", LR_SCHEDULES)
        _checks.choice(self.output_bias, "output_bias", OUTPUT_BIAS_INITS)
        if self.output_bias is not None and self.model != "vae":
            raise ValueError(f"output_bias applies to a VAE only, got model={self.model!r}")

    @property
    def reference_images(self) -> int:
        """Size of the training set ``epochs`` refers to: ``train_images``, else the 50,000 images
        of full MNIST's training part (``helpers.data.train_validation_split``)."""
        if self.train_images is not None:
            return self.train_images
        return FULL_SIZES["train"] - validation_size(FULL_SIZES["train"])

    def epochs_for(self, num_images: int) -> int:
        """Epochs over ``num_images`` images that see as many images as ``epochs`` passes over
        :attr:`reference_images`: ``max(1, round(epochs · reference_images / num_images))``.

        On full MNIST's 50,000-image training part this is ``epochs``; on the offline subset's
        3,333 training images, proportionally more, so the number of gradient steps (and the training time) stays about the same.
        """
        _checks.positive_int(num_images, "num_images")
        return max(1, round(self.epochs * self.reference_images / num_images))

    def as_dict(self) -> dict[str, Any]:
        """The recipe as plain data (lists instead of tuples), as stored in checkpoints."""
        return json.loads(json.dumps(dataclasses.asdict(self)))


AUTOENCODER_2D = Recipe(
    name="autoencoder_2d", model="autoencoder", latent_dim=2, hidden_dims=(256, 64),
    epochs=6, batch_size=256, lr=2e-3,
)
"""The k = 2 MLP autoencoder of notebook 02: 784-256-64-2 and back, squared error, Adam 2e-3
constant, 6 epochs over the 50,000 training images (as many images seen as 5 epochs of all
60,000)."""

VAE_32D = Recipe(
    name="vae_32d", model="vae", latent_dim=32, hidden_dims=(400,),
    epochs=21, batch_size=256, lr=8e-3, lr_schedule="cosine", warmup_fraction=0.05,
    output_bias="pixel_log_odds",
)
"""The 32-dimensional VAE of notebook 06: a 784-400-32 MLP VAE on dynamically binarized MNIST,
batches of 256, fused Adam with a peak learning rate of 8e-3 reached by a linear warm-up over the
first 5 % of the steps and decayed to zero with a cosine, the decoder's output bias started at the
pixels' log-odds, 21 epochs over the 50,000 training images (about as many steps as 18 epochs of
all 60,000). Notebook 06 re-checks this choice on the validation images and measures its time."""

VAE_2D = Recipe(
    name="vae_2d", model="vae", latent_dim=2, hidden_dims=(400,),
    epochs=8, batch_size=256, lr=8e-3, lr_schedule="cosine", warmup_fraction=0.05,
    output_bias="pixel_log_odds",
)
"""The 2-D VAE of notebooks 06 and 07, whose whole latent space can be drawn: :data:`VAE_32D`'s
architecture and schedule with k = 2, for 8 epochs over the 50,000 training images (1,568
steps; on the offline subset's 3,333 images, 120 epochs: as many images seen)."""


# ----------------------------------------------------------------------------------------------
# Building and training
# ----------------------------------------------------------------------------------------------
def _check_recipe(recipe: Any) -> Recipe:
    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe must be a helpers.recipes.Recipe, got {type(recipe).__name__}")
    return recipe


def _recipe_images(recipe: Recipe, train_images: Any) -> Tensor:
    """The training images a recipe uses: all of them, or the first ``recipe.train_images``."""
    images = _checks.float_tensor(train_images, "train_images")
    if images.dim() != 4 or tuple(images.shape[1:]) != (1, 28, 28) or len(images) == 0:
        raise ValueError(
            f"train_images must have shape (N, 1, 28, 28) with N ≥ 1, got {tuple(images.shape)}"
        )
    return images if recipe.train_images is None else images[: recipe.train_images]


def build_model(recipe: Recipe) -> Autoencoder | VAE:
    """The untrained model a recipe describes, with torch's current random initialization."""
    recipe = _check_recipe(recipe)
    if recipe.model == "autoencoder":
        return mlp_autoencoder(recipe.latent_dim, recipe.hidden_dims)
    return VAE(784, recipe.hidden_dims, recipe.latent_dim, likelihood="bernoulli")


@torch.no_grad()
def init_output_bias(model: VAE, images: Tensor, clamp: float = 1e-3) -> VAE:
    """Start a Bernoulli decoder at the average image: output bias b_d = logit(mean pixel d).

    With the weights near zero at initialization, the untrained decoder then predicts each pixel's
    marginal probability instead of ½ everywhere, and the first gradient steps go into what the
    code should explain rather than into learning the background (notebook 06).

    Args:
        model: a VAE with ``likelihood="bernoulli"``; its last decoder layer's bias is overwritten.
        images: (N, 1, 28, 28) or (N, D) grey levels in [0, 1] (the probabilities that dynamic
            binarization uses, so their mean is the probability that pixel d is 1).
        clamp: the means are clipped to [clamp, 1 − clamp] so always-black pixels get a finite
            logit (−6.9 at the default).

    Returns:
        the model (changed in place).
    """
    if not isinstance(model, VAE):
        raise TypeError(f"model must be a helpers.vae.VAE, got {type(model).__name__}")
    if model.likelihood != "bernoulli":
        raise ValueError(f"init_output_bias needs a Bernoulli decoder, got {model.likelihood!r}")
    if not isinstance(clamp, float) or not 0.0 < clamp < 0.5:
        raise ValueError(f"clamp must be a float in (0, 0.5), got {clamp!r}")
    x_flat = model.flatten(_checks.probabilities(images, "images"))
    if x_flat.shape[0] == 0:
        raise ValueError("images must hold at least one image, got 0")
    means = x_flat.double().mean(0)
    bias = model.decoder[-1].bias
    bias.copy_(torch.logit(means.clamp(clamp, 1 - clamp)).to(bias))
    return model


def train_recipe(
    recipe: Recipe,
    train_images: Tensor,
    *,
    validation_images: Tensor | None = None,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> tuple[Autoencoder | VAE, History]:
    """Train the model a recipe describes (notebooks 02 and 06), with ``helpers.training.train``.

    The model is built and trained under ``recipe.seed`` with torch's random state forked, so the
    run repeats exactly and leaves the caller's random stream untouched. An autoencoder minimizes
    the mean squared error per image; a VAE minimizes the negative ELBO on images binarized
    afresh in every batch (``helpers.data.binarize_dynamic``).

    Args:
        recipe: e.g. :data:`VAE_32D`.
        train_images: (N, 1, 28, 28) grey levels in [0, 1]; the recipe may use only the first
            ``recipe.train_images``; labels are not used.
        validation_images: optional held-out images, evaluated after every epoch (for a VAE,
            already binarized, e.g. ``helpers.data.binarize_fixed(validation.images)`` for the
            split of ``helpers.data.train_validation_split``). Evaluation draws its
            noise from generators of its own, so it does not change the trained model.
        device: where to train (default: the CPU).
        progress: show a progress bar per epoch.

    Returns:
        (model in eval mode, helpers.training.History); it ran ``recipe.epochs_for(N)`` epochs.
    """
    recipe = _check_recipe(recipe)
    images = _recipe_images(recipe, train_images)
    # "constant" is the same schedule with the cosine ending where it starts (final_fraction 1)
    schedule = cosine_schedule(
        warmup_fraction=recipe.warmup_fraction,
        final_fraction=0.0 if recipe.lr_schedule == "cosine" else 1.0,
    )
    is_vae = recipe.model == "vae"
    with seeded_random_state(recipe.seed, device if device is not None else "cpu"):
        model = build_model(recipe)
        if recipe.output_bias == "pixel_log_odds":
            init_output_bias(model, images)
        model, history = train(
            model,
            negative_elbo if is_vae else autoencoder_loss,
            images,
            validation_x=validation_images,
            epochs=recipe.epochs_for(len(images)),
            batch_size=recipe.batch_size,
            lr=recipe.lr,
            lr_schedule=schedule,
            batch_transform=binarize_dynamic if is_vae else None,
            device=device,
            seed=recipe.seed,
            progress=progress,
            desc=recipe.name,
        )
    return model.eval(), history


# ----------------------------------------------------------------------------------------------
# Checkpoints
# ----------------------------------------------------------------------------------------------
def checkpoint_config(recipe: Recipe, train_images: Tensor) -> dict[str, Any]:
    """Everything that determines a trained model: the recipe and a fingerprint of its data.

    The fingerprint (number of images and their pixel sum) keeps a model trained on the offline
    subset's 4,000 training images from being mistaken for one trained on full MNIST, and vice
    versa.
    """
    recipe = _check_recipe(recipe)
    used = _recipe_images(recipe, train_images)
    return {
        "recipe": recipe.as_dict(),
        "num_train_images": int(used.shape[0]),
        "train_pixel_sum": round(float(used.sum(dtype=torch.float64)), 1),
    }


def checkpoint_path(recipe: Recipe) -> Path:
    """``helpers.paths.checkpoint_dir() / f"{recipe.name}.pt"`` (no disk access)."""
    return checkpoint_dir() / f"{_check_recipe(recipe).name}.pt"


def save_checkpoint(model: nn.Module, recipe: Recipe, train_images: Tensor) -> Path:
    """Write the model's weights with its recipe and data fingerprint to :func:`checkpoint_path`.

    The weights must be those of the model the recipe describes (checked by loading them into
    :func:`build_model`'s model), so every checkpoint written can be read back. The file is
    written with ``helpers.paths.atomic_write``: a reader sees the old checkpoint or the new one,
    never half of one.

    Returns:
        The checkpoint's path.
    """
    recipe = _check_recipe(recipe)
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    state = {key: value.detach().cpu() for key, value in model.state_dict().items()}
    with seeded_random_state(0):  # building the reference model draws random weights
        reference = build_model(recipe)
    try:
        if type(model) is not type(reference):
            raise TypeError(f"it is a {type(model).__name__}")
        reference.load_state_dict(state, strict=True)
    except (TypeError, RuntimeError) as error:
        raise ValueError(
            f"recipe {recipe.name!r} trains the {type(reference).__name__} of latent size "
            f"{recipe.latent_dim} with hidden widths {recipe.hidden_dims}; the model given does "
            f"not match it ({str(error).splitlines()[0]})"
        ) from None
    payload = {"config": checkpoint_config(recipe, train_images), "state_dict": state}
    return atomic_write(checkpoint_path(recipe), lambda handle: torch.save(payload, handle))


def load_checkpoint(recipe: Recipe, train_images: Tensor) -> Autoencoder | VAE | None:
    """The model saved by :func:`save_checkpoint` for this recipe and these data, in eval mode on
    the CPU (read with ``torch.load(weights_only=True)``), or None.

    None when there is no checkpoint, when it was saved for another recipe or other data, or
    when the file cannot be read (corrupt, truncated, foreign): then with a warning that names
    the file and says it will be retrained. The caller retrains (see :func:`load_or_train`).
    """
    recipe = _check_recipe(recipe)
    path = checkpoint_path(recipe)
    if not path.is_file():
        return None
    config = checkpoint_config(recipe, train_images)
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(saved, dict) or not {"config", "state_dict"} <= set(saved):
            raise ValueError("not a checkpoint written by helpers.recipes.save_checkpoint")
        if saved["config"] != config:
            return None
        with seeded_random_state(0):  # the weights are overwritten below
            model = build_model(recipe)
        model.load_state_dict(saved["state_dict"])
    except Exception as error:  # noqa: BLE001 - any unreadable file means "retrain"
        warnings.warn(
            f"could not read checkpoint {path.name} ({type(error).__name__}: {error}); "
            "it will be retrained",
            stacklevel=2,
        )
        return None
    return model.eval()


def load_or_train(
    recipe: Recipe,
    train_images: Tensor,
    *,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> tuple[Autoencoder | VAE, bool]:
    """The checkpoint saved for ``recipe`` if it matches these data; else train it and save it.

    Returns:
        (model in eval mode, loaded) where ``loaded`` is True when it came from the checkpoint.
    """
    model = load_checkpoint(recipe, train_images)
    if model is not None:
        return (model.to(device) if device is not None else model), True
    path = checkpoint_path(recipe)
    if path.is_file():
        print(
            f"The checkpoint {path.name} does not match this recipe and these training images "
            "(or could not be read): training the recipe now and replacing it."
        )
    model, _ = train_recipe(recipe, train_images, device=device, progress=progress)
    save_checkpoint(model, recipe, train_images)
    return model, False


# ----------------------------------------------------------------------------------------------
# The small decoders whose posteriors notebooks 04 and 05 compute on a grid
# ----------------------------------------------------------------------------------------------
GRID_DECODER_1D = Recipe(
    name="grid_decoder_1d", model="vae", latent_dim=1, hidden_dims=(256,),
    epochs=4, batch_size=256, lr=3e-3, seed=1,
)
"""The k = 1 decoder of notebook 04: a 784-256-1 MLP VAE (Bernoulli decoder) trained with the
negative ELBO on dynamically binarized images, Adam 3e-3 constant, batches of 256, 4 epochs over
the 50,000 training images (200,000 images seen; 60 epochs of the offline subset's 3,333).
Deliberately small and short-trained: only its decoder is used, to make a posterior visible."""

GRID_DECODER_2D = dataclasses.replace(GRID_DECODER_1D, name="grid_decoder_2d", latent_dim=2, seed=2)
"""The k = 2 decoder of notebooks 04 and 05: :data:`GRID_DECODER_1D` with k = 2 (seed 2).
Notebook 04 computes its posteriors exactly on a grid; notebook 05 fits Gaussians q to them."""

__all__ += ["GRID_DECODER_1D", "GRID_DECODER_2D"]
