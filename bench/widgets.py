"""Widget latency: kernel-side seconds from a slider event to new PNG bytes (notebook 07).

For the 2-D model (``helpers.recipes.VAE_2D``) and the larger model
(``helpers.recipes.VAE_32D``), two numbers per slider event, median and 95th percentile:

* **decode → PNG**: ``helpers.widgets.decode_to_png`` alone (the decoder, sigmoid, uint8, the
  nearest-neighbour upscale to 112 × 112 and PNG encoding);
* **slider event**: ``helpers.widgets.time_slider_updates`` on a
  ``helpers.widgets.latent_slider_explorer``: setting the slider's value runs the widget's
  observer, which decodes and stores the PNG in the ``ipywidgets.Image``. The browser's share
  (the message over the websocket and drawing the image) is not included.

Weights: notebook 06's checkpoint for the recipe when one exists in the cache and matches the
data (``helpers.recipes.load_checkpoint``); otherwise the recipe trained briefly here
(``--train-epochs``), since the cost of decoding depends on the architecture, not on how well
it was trained. Slider values jump between far-apart points so every event changes the image.

Run alone: ``python -m bench.widgets [--smoke] [--out FILE] [--events 300]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from bench.common import Section, log, markdown_table, median, percentile, script_main

WARMUP_EVENTS = 10


def slider_values(count: int, limit: float = 3.0) -> list[float]:
    """``count`` values in [-limit, limit] that alternate in sign and never repeat, so
    consecutive values are at least ``limit / 3`` apart (every event redraws)."""
    values = []
    for i in range(count):
        magnitude = limit / 3 + (2 * limit / 3) * ((i * 0.6180339887) % 1.0)
        values.append(round(magnitude if i % 2 == 0 else -magnitude, 6))
    return values


def get_model(recipe, train_images, epochs: int, train_limit: int | None):
    """(model, how its weights were obtained): the notebook 06 checkpoint, else a short training."""
    from bench.quality import fixed_epochs
    from helpers.recipes import load_checkpoint, train_recipe

    model = load_checkpoint(recipe, train_images)
    if model is not None:
        return model, "notebook 06 checkpoint"
    images = train_images if train_limit is None else train_images[:train_limit]
    if recipe.train_images is not None:
        images = images[: recipe.train_images]
    short = fixed_epochs(recipe, epochs, len(images))
    model, _ = train_recipe(short, images, progress=False)
    return model, f"recipe trained {epochs} epoch(s) here (no checkpoint)"


def time_plain(decode, latent_dim: int, values: Sequence[float]) -> list[float]:
    """Seconds per ``decode_to_png`` call, moving latent dimension 0 through ``values``."""
    import numpy as np

    from helpers.widgets import decode_to_png

    z = np.zeros(latent_dim)
    out = []
    for value in values:
        z[0] = value
        began = time.perf_counter()
        decode_to_png(decode, z)
        out.append(time.perf_counter() - began)
    return out


def time_widget(decode, latent_dim: int, values: Sequence[float]) -> list[float]:
    """Seconds per slider event through the explorer widget of notebook 07."""
    import numpy as np

    from helpers.widgets import latent_slider_explorer, time_slider_updates

    explorer = latent_slider_explorer(decode, np.zeros(latent_dim), dims=[0])
    slider = explorer.controls["z0"]
    return [float(s) for s in time_slider_updates(explorer, slider, values)]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("widgets")
    group.add_argument(
        "--events", type=int, default=300, help="slider events per model (default 300)"
    )
    group.add_argument(
        "--train-epochs",
        type=int,
        default=2,
        help="epochs to train a model when notebook 06's checkpoint is missing (default 2)",
    )


def measure(args: argparse.Namespace) -> Section:
    import torch

    from helpers.data import load_mnist
    from helpers.recipes import VAE_2D, VAE_32D

    events = 20 if args.smoke else max(20, args.events)
    epochs = 1 if args.smoke else max(1, args.train_epochs)
    train_limit = 1000 if args.smoke else None
    train = load_mnist("train")
    values = slider_values(events + WARMUP_EVENTS)
    rows, notes, ok = [], [], True
    for label, recipe in (
        ("2-D latent (VAE_2D)", VAE_2D),
        ("main (VAE_32D)", VAE_32D),
    ):
        model, origin = get_model(recipe, train.images, epochs, train_limit)
        model = model.to("cpu").eval()
        k = recipe.latent_dim
        with torch.inference_mode():
            plain = time_plain(model.decode, k, values)[WARMUP_EVENTS:]
        try:
            widget = time_widget(model.decode, k, values)[WARMUP_EVENTS:]
            widget_cells = [
                f"{median(widget) * 1e3:.2f} ms",
                f"{percentile(widget, 95) * 1e3:.2f} ms",
            ]
        except Exception as error:  # noqa: BLE001 - reported in the table and the notes
            ok = False
            widget_cells = ["failed", "failed"]
            notes.append(f"Widget latency, {label}: {type(error).__name__}: {error}")
        log(
            f"widgets: {label}: decode→PNG median {median(plain) * 1e3:.2f} ms; slider {widget_cells[0]}"
        )
        rows.append(
            [
                label,
                f"784-{'-'.join(map(str, recipe.hidden_dims))}-{k}",
                origin,
                f"{median(plain) * 1e3:.2f} ms",
                f"{percentile(plain, 95) * 1e3:.2f} ms",
                *widget_cells,
            ]
        )
    table = markdown_table(
        ["model", "layers", "weights", "decode→PNG median", "p95", "slider event median", "p95"],
        rows,
        align="lllrrrr",
    )
    body = "\n".join(
        [
            f"Kernel-side time per slider event, {events} events per model after {WARMUP_EVENTS} "
            f"warm-up events, {torch.get_num_threads()} torch thread(s), 112 × 112 PNG. "
            '"decode→PNG" is `helpers.widgets.decode_to_png` alone; "slider event" sets the value '
            "of a `latent_slider_explorer` slider and waits for its observer to store the new PNG "
            "(`helpers.widgets.time_slider_updates`). Sending the image to the browser and drawing "
            "it are not included; a frame at 60 Hz lasts 16.7 ms.",
            "",
            table,
        ]
    )
    return Section("widgets", "Widget latency", body, ok=ok, notes=notes)


def main(argv: Sequence[str] | None = None) -> int:
    return script_main("widgets", add_arguments, measure, argv, __doc__.splitlines()[0])


if __name__ == "__main__":
    raise SystemExit(main())
