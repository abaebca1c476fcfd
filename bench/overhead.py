"""The training loop's cost beyond the optimizer steps themselves, for notebook 06's main recipe.

``helpers.training.train`` does more per step than forward, backward and Adam: it picks the
batch (a random permutation, then ``index_select``), binarizes it afresh
(``helpers.data.binarize_dynamic``), sets the scheduled learning rate, checks the loss is finite,
sums the metrics and updates the progress bar. This benchmark measures how much that costs:

* **loop epoch**: one epoch of ``helpers.recipes.train_recipe`` with ``VAE_32D`` (batch 256,
  warm-up and cosine schedule, dynamic binarization, progress bar on), as
  ``History.seconds`` reports it (the evaluation pass is not in it);
* **steps alone**: the same number of steps of the same model and optimizer on one fixed,
  already binarized batch: ``negative_elbo``, ``zero_grad``, ``backward``, ``step``, nothing else;
* **data alone**: the loop's batch selection and binarization without any step, for the record.

Each repeat times the second of two epochs (the first pays for one-time allocations) and the
two sides alternate, so a drift in the machine's speed hits both. The overhead is
median(loop) / median(steps) − 1 over the repeats (five by default: a shared VM's speed moves by
5-10 % between epochs); the budget is 15 %. The ratio of the fastest epochs of each side is
shown beside it, since interference from other processes only ever adds time.

Run alone: ``python -m bench.overhead [--smoke] [--overhead-repeats 3]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import time

from bench.common import Section, log, markdown_table, script_main

BUDGET = 0.15
"""The loop may cost at most this fraction of the steps' own time per epoch."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("overhead")
    group.add_argument(
        "--overhead-repeats", type=int, default=5,
        help="alternating loop/steps measurements, each the second of two epochs (default 5)",
    )


def _loop_epoch_seconds(recipe, images) -> float:
    from helpers.recipes import train_recipe

    two = dataclasses.replace(recipe, epochs=2, train_images=len(images))
    _, history = train_recipe(two, images, progress=True)
    return history.seconds[-1]


def _steps_alone_seconds(recipe, images) -> float:
    import torch

    from helpers.data import binarize_dynamic
    from helpers.recipes import build_model, init_output_bias
    from helpers.training import default_optimizer
    from helpers.vae import negative_elbo

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)
        model = init_output_bias(build_model(recipe), images)
        optimizer = default_optimizer(recipe.lr)(iter(model.parameters()))
        batch = binarize_dynamic(images[: recipe.batch_size], torch.Generator().manual_seed(0))
        steps = math.ceil(len(images) / recipe.batch_size)
        model.train()
        seconds = []
        for _ in range(2):
            began = time.perf_counter()
            for _ in range(steps):
                loss, _ = negative_elbo(model, batch)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            seconds.append(time.perf_counter() - began)
    return seconds[-1]


def _data_alone_seconds(recipe, images) -> float:
    import torch

    from helpers.data import binarize_dynamic

    generator = torch.Generator().manual_seed(0)
    order = torch.randperm(len(images), generator=generator)
    began = time.perf_counter()
    for start in range(0, len(images), recipe.batch_size):
        batch = images.index_select(0, order[start : start + recipe.batch_size])
        binarize_dynamic(batch, generator)
    return time.perf_counter() - began


def measure(args: argparse.Namespace) -> Section:
    from helpers.data import load_mnist
    from helpers.recipes import VAE_32D

    train = load_mnist("train")
    images = train.images[:2_048] if args.smoke else train.images
    repeats = 1 if args.smoke else max(1, args.overhead_repeats)
    loop, steps, data = [], [], []
    for repeat in range(repeats):
        loop.append(_loop_epoch_seconds(VAE_32D, images))
        steps.append(_steps_alone_seconds(VAE_32D, images))
        data.append(_data_alone_seconds(VAE_32D, images))
        log(
            f"overhead: repeat {repeat + 1}/{repeats}: loop epoch {loop[-1]:.2f} s, "
            f"steps alone {steps[-1]:.2f} s, data alone {data[-1]:.2f} s"
        )
    loop_s, steps_s, data_s = (statistics.median(v) for v in (loop, steps, data))
    overhead = loop_s / steps_s - 1.0
    fastest = min(loop) / min(steps) - 1.0
    within = overhead <= BUDGET
    step_count = math.ceil(len(images) / VAE_32D.batch_size)
    table = markdown_table(
        [f"per epoch (median of {repeats})", "seconds", "share of the steps' time"],
        [
            ["loop epoch (`train_recipe`, `VAE_32D`)", f"{loop_s:.2f}", f"{loop_s / steps_s:.0%}"],
            ["steps alone (one fixed batch)", f"{steps_s:.2f}", "100%"],
            ["batch selection + binarization alone", f"{data_s:.2f}", f"{data_s / steps_s:.0%}"],
            ["**loop overhead**", f"{loop_s - steps_s:.2f}", f"**{overhead:+.1%}**"],
            ["loop overhead, fastest epoch of each side", f"{min(loop) - min(steps):.2f}",
             f"{fastest:+.1%}"],
        ],
        align="lrr",
    )
    body = "\n".join(
        [
            f"One epoch of notebook 06's main recipe ({step_count:,} steps of batch "
            f"{VAE_32D.batch_size} over {len(images):,} images) through `helpers.training.train`, "
            "against the same number of forward/backward/Adam steps on one fixed batch. "
            f"Budget: at most {BUDGET:.0%} overhead; "
            + ("**within budget**." if within else "**over budget**."),
            "",
            table,
            "",
            "Every repeat (loop, steps, data): "
            + "; ".join(f"{a:.2f} / {b:.2f} / {c:.2f} s" for a, b, c in zip(loop, steps, data, strict=True))
            + ".",
        ]
    )
    notes = [] if within or args.smoke else [
        f"Training-loop overhead {overhead:.1%} exceeds the {BUDGET:.0%} budget."
    ]
    return Section("overhead", "Training-loop overhead", body, ok=True, notes=notes)


def main(argv=None) -> int:
    return script_main(
        "overhead", add_arguments, measure, argv,
        "Measure the training loop's cost beyond the optimizer steps (notebook 06's recipe).",
    )


if __name__ == "__main__":
    raise SystemExit(main())
