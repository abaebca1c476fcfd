"""Tests for helpers/recipes.py: the recipe type and its one epoch rule, training entry points,
atomic checkpoints and load-or-train.

References: the closed-form warm-up and cosine schedule, the data's own pixel means, and
bit-for-bit comparisons between independent training runs.
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings

import pytest
import torch

from helpers import models, recipes, vae


def tiny(**overrides) -> recipes.Recipe:
    """A VAE recipe small enough to train in a test: 784-16-2, one epoch over 300 images."""
    fields = dict(
        name="tiny", model="vae", latent_dim=2, hidden_dims=(16,), epochs=1, batch_size=100,
        lr=1e-3, lr_schedule="cosine", train_images=300,
    )
    return recipes.Recipe(**{**fields, **overrides})


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_CACHE_DIR", str(tmp_path))
    return tmp_path


# ----------------------------------------------------------------------------------------------
# The recipe type
# ----------------------------------------------------------------------------------------------
def test_series_recipes_say_what_they_train():
    assert (recipes.AUTOENCODER_2D.model, recipes.AUTOENCODER_2D.latent_dim) == ("autoencoder", 2)
    assert (recipes.VAE_32D.model, recipes.VAE_32D.latent_dim) == ("vae", 32)
    assert (recipes.VAE_2D.model, recipes.VAE_2D.latent_dim) == ("vae", 2)
    names = {r.name for r in (recipes.AUTOENCODER_2D, recipes.VAE_32D, recipes.VAE_2D)}
    assert names == {"autoencoder_2d", "vae_32d", "vae_2d"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        recipes.VAE_32D.epochs = 1  # type: ignore[misc]


def test_one_epoch_rule_keeps_the_images_seen():
    # the reference is full MNIST's training part: 60,000 − 10,000 validation images
    assert recipes.VAE_32D.reference_images == 50_000
    assert recipes.VAE_32D.epochs_for(50_000) == 21
    assert recipes.VAE_32D.epochs_for(3_333) == 315  # round(21 × 50,000 / 3,333) = round(315.03)
    assert recipes.VAE_2D.epochs_for(3_333) == 120  # round(8 × 50,000 / 3,333) = round(120.01)
    assert recipes.AUTOENCODER_2D.epochs_for(3_333) == 90  # round(6 × 50,000 / 3,333) = round(90.01)
    capped = dataclasses.replace(recipes.VAE_2D, train_images=30_000, epochs=4)
    assert capped.reference_images == 30_000 and capped.epochs_for(3_333) == 36  # 4 × 30,000 / 3,333
    assert recipes.AUTOENCODER_2D.epochs_for(1_000_000) == 1  # never zero
    with pytest.raises(ValueError, match="num_images"):
        recipes.VAE_32D.epochs_for(0)


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"name": "a/b"}, "name"),
        ({"model": "gan"}, "model"),
        ({"latent_dim": 0}, "latent_dim"),
        ({"hidden_dims": 16}, "hidden_dims"),
        ({"epochs": 1.5}, "epochs"),
        ({"lr": 0}, "lr"),
        ({"lr_schedule": "step"}, "lr_schedule"),
        ({"warmup_fraction": 1.0}, "warmup_fraction"),
        ({"warmup_fraction": "0.1"}, "warmup_fraction"),
        ({"output_bias": "zeros"}, "output_bias"),
        ({"model": "autoencoder", "output_bias": "pixel_log_odds"}, "VAE only"),
        ({"train_images": 0}, "train_images"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_recipes_get_a_clear_error(overrides, message):
    with pytest.raises((ValueError, TypeError), match=message):
        tiny(**overrides)


def test_as_dict_is_plain_data():
    plain = recipes.VAE_32D.as_dict()
    assert plain["hidden_dims"] == [400] and plain["name"] == "vae_32d"
    assert recipes.Recipe(**{**plain, "hidden_dims": tuple(plain["hidden_dims"])}) == recipes.VAE_32D


# ----------------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------------
def test_train_recipe_autoencoder_is_deterministic_and_learns():
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(256, 1, 28, 28, generator=generator) ** 3
    recipe = recipes.Recipe(name="ae", model="autoencoder", latent_dim=2, hidden_dims=(32,),
                            epochs=3, batch_size=64, lr=3e-3, seed=5, train_images=256)
    model_a, history_a = recipes.train_recipe(recipe, images, validation_images=images[:64], progress=False)
    model_b, _ = recipes.train_recipe(recipe, images, validation_images=images[:64], progress=False)
    assert isinstance(model_a, models.Autoencoder)
    for a, b in zip(model_a.parameters(), model_b.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert history_a.epochs == 3
    assert history_a.train[-1]["loss"] < history_a.train[0]["loss"]
    with torch.no_grad():
        direct = models.autoencoder_loss(model_a, images[:64]).item()
    assert history_a.validation[-1]["loss"] == pytest.approx(direct, rel=1e-5)


def test_train_recipe_scales_epochs_on_a_smaller_set_and_uses_the_first_images():
    images = torch.rand(32, 1, 28, 28)
    small = recipes.Recipe(name="ae", model="autoencoder", latent_dim=2, hidden_dims=(8,),
                           epochs=1, batch_size=16, lr=1e-3, train_images=64)
    _, history = recipes.train_recipe(small, images, progress=False)
    assert history.epochs == 2  # 1 epoch of 64 images = 2 epochs of 32
    more = torch.cat([images, torch.rand(40, 1, 28, 28)])
    a, _ = recipes.train_recipe(dataclasses.replace(small, train_images=32), more, progress=False)
    b, _ = recipes.train_recipe(dataclasses.replace(small, train_images=32), images, progress=False)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_recording_held_out_loss_does_not_change_the_trained_vae():
    """Evaluation noise comes from its own generator: the same recipe trains the same model
    whether or not a held-out negative ELBO is recorded after every epoch."""
    generator = torch.Generator().manual_seed(1)
    images = torch.rand(300, 1, 28, 28, generator=generator)
    held_out = (torch.rand(50, 1, 28, 28, generator=generator) < 0.5).float()
    recipe = tiny(epochs=3)
    with_eval, history = recipes.train_recipe(recipe, images, validation_images=held_out, progress=False)
    without, _ = recipes.train_recipe(recipe, images, progress=False)
    assert len(history.validation) == 3
    for p, q in zip(with_eval.parameters(), without.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_train_recipe_leaves_the_callers_random_stream_alone():
    images = torch.rand(200, 1, 28, 28)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    recipes.train_recipe(tiny(), images, progress=False)
    torch.testing.assert_close(torch.rand(3), expected, rtol=0, atol=0)


def test_init_output_bias_makes_the_untrained_decoder_predict_pixel_means():
    torch.manual_seed(0)
    images = torch.rand(500, 1, 28, 28) * torch.linspace(0, 1, 784).reshape(1, 1, 28, 28)
    images[:, :, 0, 0] = 0.0  # an always-black pixel gets the clamped probability, not −inf
    model = vae.VAE(hidden_dims=(16,), latent_dim=2)
    with torch.no_grad():
        model.decoder[-1].weight.zero_()  # so the decoder's output is its bias alone
    recipes.init_output_bias(model, images)
    probabilities = model.mean_image(torch.randn(3, 2))
    expected = images.reshape(500, 784).double().mean(0).clamp(1e-3, 1 - 1e-3).float()
    torch.testing.assert_close(probabilities, expected.expand(3, 784), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="Bernoulli"):
        recipes.init_output_bias(vae.VAE(hidden_dims=(), latent_dim=2, likelihood="gaussian"), images)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        recipes.init_output_bias(model, images * 2)
    with pytest.raises(ValueError, match="shape"):
        recipes.init_output_bias(model, torch.rand(5, 10))


def test_train_recipe_applies_warmup_and_output_bias(monkeypatch):
    images = torch.rand(300, 1, 28, 28) * 0.5
    recipe = tiny(warmup_fraction=0.2, output_bias="pixel_log_odds", train_images=None)
    seen = {}

    def fake_train(model, loss_fn, x, **kwargs):  # records what train_recipe passes on
        seen["bias"] = model.decoder[-1].bias.detach().clone()
        seen["schedule"] = kwargs["lr_schedule"]
        seen["epochs"] = kwargs["epochs"]
        return model, None

    monkeypatch.setattr(recipes, "train", fake_train)
    recipes.train_recipe(recipe, images, progress=False)
    expected_bias = torch.logit(images.reshape(300, 784).double().mean(0)).float()
    torch.testing.assert_close(seen["bias"], expected_bias, rtol=1e-5, atol=1e-5)
    assert seen["epochs"] == 167  # 1 epoch over the 50,000-image training part = 166.7 over 300
    schedule = seen["schedule"]
    # linear warm-up over the first 20 of 100 steps, then a half cosine from 1 to 0
    assert schedule(0, 100) == pytest.approx(1 / 20) and schedule(19, 100) == pytest.approx(1.0)
    assert schedule(60, 100) == pytest.approx(0.5 * (1 + math.cos(math.pi * 40 / 80)))
    recipes.train_recipe(dataclasses.replace(recipe, lr_schedule="constant"), images, progress=False)
    constant = seen["schedule"]  # the same warm-up, then the full rate to the end
    assert constant(0, 100) == pytest.approx(1 / 20) and constant(99, 100) == pytest.approx(1.0)


def test_train_recipe_rejects_bad_images():
    with pytest.raises(TypeError, match="Recipe"):
        recipes.train_recipe({"name": "x"}, torch.rand(4, 1, 28, 28))
    with pytest.raises(ValueError, match="28, 28"):
        recipes.train_recipe(recipes.AUTOENCODER_2D, torch.rand(4, 784))
    with pytest.raises(TypeError, match="floating-point"):
        recipes.train_recipe(recipes.AUTOENCODER_2D, torch.zeros(4, 1, 28, 28, dtype=torch.uint8))


# ----------------------------------------------------------------------------------------------
# Checkpoints
# ----------------------------------------------------------------------------------------------
def test_checkpoint_config_tells_data_and_recipes_apart():
    images = torch.rand(100, 1, 28, 28)
    recipe = tiny()
    config = recipes.checkpoint_config(recipe, images)
    assert config == recipes.checkpoint_config(recipe, images.clone())
    assert config != recipes.checkpoint_config(recipe, images[:50])
    assert config != recipes.checkpoint_config(dataclasses.replace(recipe, seed=1), images)
    assert recipes.checkpoint_config(dataclasses.replace(recipe, train_images=50), images) == (
        recipes.checkpoint_config(dataclasses.replace(recipe, train_images=50), images[:50])
    )


@pytest.mark.parametrize("kind", ["vae", "autoencoder"])
def test_checkpoint_round_trip_loads_with_weights_only(cache, monkeypatch, kind):
    images = torch.rand(200, 1, 28, 28)
    recipe = tiny(model=kind)
    model, _ = recipes.train_recipe(recipe, images, progress=False)
    path = recipes.save_checkpoint(model, recipe, images)
    assert path == recipes.checkpoint_path(recipe) and path.parent == cache / "checkpoints"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    loaded = recipes.load_checkpoint(recipe, images)
    assert calls == [True]
    assert loaded is not None and not loaded.training and type(loaded) is type(model)
    for p, q in zip(loaded.parameters(), model.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    assert recipes.load_checkpoint(dataclasses.replace(recipe, seed=1), images) is None
    assert recipes.load_checkpoint(recipe, images[:100]) is None


def test_save_checkpoint_rejects_a_model_the_recipe_does_not_describe(cache):
    images = torch.rand(3, 1, 28, 28)
    with pytest.raises(ValueError, match="is a VAE"):
        recipes.save_checkpoint(vae.VAE(hidden_dims=(4,), latent_dim=2), recipes.AUTOENCODER_2D, images)
    wider = tiny(hidden_dims=(32,))
    model = recipes.build_model(wider)
    with pytest.raises(ValueError, match="does not match"):
        recipes.save_checkpoint(model, tiny(), images)  # the weights of a 784-32-2 VAE
    assert not recipes.checkpoint_path(tiny()).exists()


def test_a_recipe_with_numpy_integers_round_trips_through_a_checkpoint(cache):
    import numpy as np

    recipe = tiny(seed=np.int64(3), epochs=np.int64(1))
    assert type(recipe.seed) is int and recipe.as_dict()["seed"] == 3
    images = torch.rand(300, 1, 28, 28)
    model, _ = recipes.train_recipe(recipe, images, progress=False)
    recipes.save_checkpoint(model, recipe, images)
    assert recipes.load_checkpoint(tiny(seed=3), images) is not None


def test_load_or_train_says_when_it_replaces_a_checkpoint_of_other_data(cache, capsys):
    recipe = tiny()
    first = torch.rand(300, 1, 28, 28)
    recipes.load_or_train(recipe, first, progress=False)
    assert capsys.readouterr().out == ""
    _, loaded = recipes.load_or_train(recipe, torch.rand(300, 1, 28, 28), progress=False)
    assert not loaded
    assert "tiny.pt does not match" in capsys.readouterr().out


def test_interrupted_save_leaves_the_old_checkpoint_and_no_temporary_file(cache, monkeypatch):
    images = torch.rand(200, 1, 28, 28)
    recipe = tiny()
    model, _ = recipes.train_recipe(recipe, images, progress=False)
    path = recipes.save_checkpoint(model, recipe, images)
    before = path.read_bytes()
    real_save = torch.save

    def save_half_then_fail(obj, handle, *args, **kwargs):
        real_save(obj, handle, *args, **kwargs)
        handle.seek(handle.tell() // 2)
        handle.truncate()
        raise KeyboardInterrupt  # the user stopped the kernel mid-write

    monkeypatch.setattr(torch, "save", save_half_then_fail)
    with torch.no_grad():
        next(model.parameters()).add_(1.0)
    with pytest.raises(KeyboardInterrupt):
        recipes.save_checkpoint(model, recipe, images)
    assert path.read_bytes() == before
    assert sorted(os.listdir(path.parent)) == [path.name]


@pytest.mark.parametrize("content", [b"not a checkpoint", b""])
def test_corrupt_or_foreign_checkpoint_warns_and_retrains(cache, content):
    images = torch.rand(200, 1, 28, 28)
    recipe = tiny()
    path = recipes.checkpoint_path(recipe)
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model, loaded = recipes.load_or_train(recipe, images, progress=False)
    assert not loaded
    assert any("tiny.pt" in str(w.message) and "retrained" in str(w.message) for w in caught)
    assert recipes.load_checkpoint(recipe, images) is not None  # the retrained one replaced it
    torch.save({"something": torch.zeros(2)}, path)  # a readable file that is not ours
    with pytest.warns(UserWarning, match="retrained"):
        assert recipes.load_checkpoint(recipe, images) is None


def test_load_or_train_trains_once_then_loads(cache):
    images = torch.rand(300, 1, 28, 28)
    recipe = tiny(epochs=2, train_images=200)
    model, _ = recipes.train_recipe(recipe, images, progress=False)
    first, loaded = recipes.load_or_train(recipe, images, progress=False)
    assert not loaded and recipes.checkpoint_path(recipe).is_file()
    second, loaded = recipes.load_or_train(recipe, images, progress=False)
    assert loaded
    z = torch.zeros(1, 2)
    torch.testing.assert_close(first.decode(z), model.decode(z), rtol=0, atol=0)
    torch.testing.assert_close(second.decode(z), model.decode(z), rtol=0, atol=0)


# ----------------------------------------------------------------------------------------------
# The grid decoders of notebooks 04 and 05
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("recipe", [recipes.GRID_DECODER_1D, recipes.GRID_DECODER_2D])
def test_grid_decoder_recipe_is_the_hand_written_training_run(recipe):
    # Independent reference: build and train the documented model by hand with helpers.training
    # (784-256-k VAE, Adam 3e-3 constant, batch 256, dynamic binarization, seeded with the
    # recipe's seed) and compare it weight for weight with what the recipe trains.
    from helpers import data, training

    assert recipe.latent_dim in (1, 2) and recipe.name == f"grid_decoder_{recipe.latent_dim}d"
    assert recipe.epochs * recipe.reference_images == 200_000  # images seen, as documented
    images = torch.rand(96, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    short = dataclasses.replace(recipe, epochs=1, train_images=96)
    ours, _ = recipes.train_recipe(short, images, progress=False)
    with training.seeded_random_state(recipe.seed):
        model = vae.VAE(784, (256,), recipe.latent_dim, likelihood="bernoulli")
        model, _ = training.train(
            model, vae.negative_elbo, images, epochs=1, batch_size=256, lr=3e-3,
            batch_transform=data.binarize_dynamic, seed=recipe.seed, progress=False,
        )
    for a, b in zip(ours.parameters(), model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
