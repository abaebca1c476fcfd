"""VAE quality against training time: notebook 06's recipe beside the PyTorch examples VAE.

Both recipes train in the same process, on the same 50,000 training images (the training part
of ``helpers.data.train_validation_split``), with the same number of torch threads, and are
evaluated by the same code: the negative ELBO (``helpers.training.evaluate`` with
``helpers.vae.negative_elbo``) and the importance-weighted estimate of −log p(x) with K = 1000
samples (``helpers.vae.iwae_bounds``). Lower is better for both.

Every comparison (the table over budgets, the time-to-reach ratio) is made on the 10,000
validation images, binarized once with ``helpers.data.binarize_fixed(validation.images,
seed=VALIDATION_BINARIZATION_SEED)``. The test images, binarized once with
``binarize_fixed(test.images, seed=TEST_BINARIZATION_SEED)`` exactly as notebook 06 does, are
evaluated once, at the end, for the headline budget's two models only: the numbers notebook 06
reports.

* **Ours**: ``helpers.recipes.VAE_32D`` trained by ``helpers.recipes.train_recipe``. The recipe
  trains a fixed number of epochs with a cosine learning-rate schedule over the whole run, so a
  snapshot in the middle of a long run is not what the recipe gives at a shorter budget; for
  each budget B it is trained afresh with its epoch count set to round(B / seconds per epoch).
* **Reference**: the VAE of the PyTorch examples (``examples/vae/main.py``), written out below as
  that file defines it: fc1 784→400, fc21/fc22 400→20, fc3 20→400, fc4 400→784, ReLU, sigmoid
  output, loss = binary cross-entropy summed over pixels and batch + the closed-form KL, Adam
  with learning rate 1e-3, batch 128. Two deliberate differences, for comparability: it trains on
  dynamically binarized images (the example feeds grey levels to its Bernoulli likelihood), and
  it uses the series' training plumbing (batches indexed from in-memory tensors, Adam's fused CPU
  kernel), so the comparison is between recipes, not data loaders. Its learning rate is
  constant, so one run serves every budget: the weights are copied whenever the cumulative
  training time crosses a budget, and the copies are evaluated afterwards. For evaluation its
  weights are moved into a ``helpers.vae.VAE`` of the same shape (the same function: sigmoid +
  BCE equals BCE on logits), so both recipes go through the very same IWAE code.

The ratio reported: how long the reference needs to reach our 60-second IWAE result, and how
many nats we are ahead at equal training time.

Run alone: ``python -m bench.quality [--smoke] [--out FILE] [--budgets 15,30,60,120]``.
"""

from __future__ import annotations

import argparse
import copy
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from bench.common import FIGURE_DPI, Section, figure_path, log, markdown_table, script_main

TEST_BINARIZATION_SEED = 0
"""The seed notebook 06 passes to ``helpers.data.binarize_fixed`` for the test set
(tests/test_bench.py checks that the notebook still uses it)."""

VALIDATION_BINARIZATION_SEED = 0
"""The seed notebook 06 passes to ``helpers.data.binarize_fixed`` for the validation images."""

REFERENCE = {"hidden": 400, "latent": 20, "lr": 1e-3, "batch_size": 128}
"""The PyTorch examples VAE's configuration."""

HEADLINE_BUDGET_S = 60.0
EVAL_SEED = 0


# ----------------------------------------------------------------------------------------------
# The reference recipe, as pytorch/examples vae/main.py defines it
# ----------------------------------------------------------------------------------------------
class ExamplesVAE(nn.Module):
    """The PyTorch examples VAE: 784-400-20 encoder, 20-400-784 decoder with a sigmoid output.

    Shapes: ``forward(x)``: x (N, 1, 28, 28) or (N, 784) → (recon (N, 784) probabilities,
    mu (N, 20), logvar (N, 20)).
    """

    def __init__(self) -> None:
        super().__init__()
        hidden, latent = REFERENCE["hidden"], REFERENCE["latent"]
        self.fc1 = nn.Linear(784, hidden)
        self.fc21 = nn.Linear(hidden, latent)
        self.fc22 = nn.Linear(hidden, latent)
        self.fc3 = nn.Linear(latent, hidden)
        self.fc4 = nn.Linear(hidden, 784)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu: Tensor, logvar: Tensor) -> Tensor:
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z: Tensor) -> Tensor:
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def examples_loss(recon_x: Tensor, x: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """Reconstruction + KL divergence summed over all elements and the batch (as the example)."""
    bce = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def to_series_vae(reference: ExamplesVAE):
    """The same function as a ``helpers.vae.VAE`` (decoder returns logits: fc4's output), so the
    series' evaluation code (``iwae_bounds``, ``negative_elbo``) applies unchanged."""
    from helpers.vae import VAE

    model = VAE(input_dim=784, hidden_dims=(REFERENCE["hidden"],), latent_dim=REFERENCE["latent"])
    mapping = {
        "encoder_body.0": "fc1",
        "encoder_mu": "fc21",
        "encoder_logvar": "fc22",
        "decoder.0": "fc3",
        "decoder.2": "fc4",
    }
    source = reference.state_dict()
    state = {
        f"{ours}.{p}": source[f"{theirs}.{p}"].clone()
        for ours, theirs in mapping.items()
        for p in ("weight", "bias")
    }
    model.load_state_dict(state)  # strict: fails loudly if helpers.vae.VAE's layout changes
    return model.eval()


@dataclass
class Trained:
    """One trained model and how long it trained."""

    recipe: str
    budget_s: float
    train_seconds: float
    epochs: float
    model: nn.Module
    neg_elbo: float = math.nan
    neg_iwae: float = math.nan
    test_neg_elbo: float = math.nan
    test_neg_iwae: float = math.nan


def train_reference(
    images: Tensor, budgets: Sequence[float], seed: int = 0
) -> tuple[list[Trained], float]:
    """Train the reference once, copying its weights when the training clock crosses each budget.

    The clock counts only training steps (binarizing the batch, forward, backward, Adam), not the
    copying. Returns the snapshots (as ``helpers.vae.VAE``) and the measured seconds per epoch.
    """
    from helpers.data import binarize_dynamic
    from helpers.training import default_optimizer

    budgets = sorted(budgets)
    torch.manual_seed(seed)
    model = ExamplesVAE()
    optimizer = default_optimizer(REFERENCE["lr"])(iter(model.parameters()))
    generator = torch.Generator().manual_seed(seed)
    batch_size = REFERENCE["batch_size"]
    m = len(images)
    steps_per_epoch = math.ceil(m / batch_size)
    snapshots: list[Trained] = []
    clock, steps = 0.0, 0
    model.train()
    while len(snapshots) < len(budgets):
        order = torch.randperm(m, generator=generator)
        for start in range(0, m, batch_size):
            began = time.perf_counter()
            data = binarize_dynamic(images[order[start : start + batch_size]], generator)
            recon_batch, mu, logvar = model(data)
            loss = examples_loss(recon_batch, data, mu, logvar)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            clock += time.perf_counter() - began
            steps += 1
            if not math.isfinite(loss.item()):
                raise FloatingPointError(
                    f"the reference's loss became {loss.item()} at step {steps}"
                )
            budget = budgets[len(snapshots)]
            if clock >= budget:
                frozen = to_series_vae(copy.deepcopy(model).eval())
                snapshots.append(
                    Trained("reference", budget, clock, steps / steps_per_epoch, frozen)
                )
                log(
                    f"quality: reference crossed {budget:g} s after {steps / steps_per_epoch:.1f} epochs"
                )
                if len(snapshots) == len(budgets):
                    break
    return snapshots, clock / (steps / steps_per_epoch)


def fixed_epochs(recipe, epochs: int, num_images: int):
    """``recipe`` (a ``helpers.recipes.Recipe``) trained for exactly ``epochs`` epochs over the
    first ``num_images`` training images: its reference set becomes those images, so the
    recipes' epoch rule does not scale the count."""
    import dataclasses

    return dataclasses.replace(recipe, epochs=epochs, train_images=num_images)


def train_ours(images: Tensor, budget_s: float, seconds_per_epoch: float, seed: int = 0) -> Trained:
    """Notebook 06's recipe with its epoch count set to fit ``budget_s``."""
    import dataclasses

    from helpers.recipes import VAE_32D, train_recipe

    epochs = max(1, round(budget_s / seconds_per_epoch))
    recipe = dataclasses.replace(fixed_epochs(VAE_32D, epochs, len(images)), seed=seed)
    model, history = train_recipe(recipe, images, progress=False)
    log(f"quality: ours, budget {budget_s:g} s: {epochs} epochs in {history.total_seconds:.1f} s")
    return Trained("ours", budget_s, history.total_seconds, float(history.epochs), model)


def nats(model: nn.Module, binary: Tensor, num_samples: int) -> tuple[float, float]:
    """(−ELBO, IWAE estimate of −log p(x) with ``num_samples`` samples), mean nats per image."""
    from helpers.training import evaluate
    from helpers.vae import iwae_bounds, negative_elbo

    neg_elbo = evaluate(model, negative_elbo, binary, seed=EVAL_SEED)["loss"]
    bounds = iwae_bounds(model, binary, ks=(num_samples,), seed=EVAL_SEED)
    return neg_elbo, -float(bounds[num_samples].double().mean())


def score(trained: Trained, validation_binary: Tensor, num_samples: int) -> None:
    """Fill in the validation −ELBO and IWAE estimate: what every comparison here uses."""
    trained.neg_elbo, trained.neg_iwae = nats(trained.model, validation_binary, num_samples)


def score_test(trained: Trained, test_binary: Tensor, num_samples: int) -> None:
    """Fill in the test −ELBO and IWAE estimate; called once per reported model, at the end."""
    trained.test_neg_elbo, trained.test_neg_iwae = nats(trained.model, test_binary, num_samples)


def time_to_reach(snapshots: Sequence[Trained], target: float) -> tuple[float | None, str]:
    """Training seconds the reference needs to reach ``target`` nats (IWAE), by linear
    interpolation between snapshots; (None, why) when it does not within its last snapshot."""
    points = sorted((s.train_seconds, s.neg_iwae) for s in snapshots)
    for index, (t, value) in enumerate(points):
        if value <= target:
            if index == 0:
                return t, f"≤ {_s(t)} s"
            t0, v0 = points[index - 1]
            estimate = t0 + (t - t0) * (v0 - target) / (v0 - value)
            return estimate, f"{_s(estimate)} s"
    return None, f"> {_s(points[-1][0])} s (its best: {min(v for _, v in points):.2f} nats)"


def _s(value: float) -> str:
    """Seconds with a precision that suits their size: 0.42, 7.3, 184."""
    return f"{value:.2f}" if value < 1 else f"{value:.1f}" if value < 10 else f"{value:.0f}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("quality")
    group.add_argument(
        "--budgets",
        default="15,30,60,120",
        help="training budgets in seconds (default 15,30,60,120)",
    )
    group.add_argument(
        "--reference-extra",
        default="240",
        help="extra budgets for the reference alone, to see when it catches up (default 240; '' for none)",
    )
    group.add_argument(
        "--iwae-k", type=int, default=1000, help="importance samples K (default 1000)"
    )
    group.add_argument(
        "--validation-images", type=int, default=None,
        help="first N validation images (default all)",
    )
    group.add_argument(
        "--test-images", type=int, default=None, help="first N test images (default all)"
    )
    group.add_argument(
        "--train-images", type=int, default=None, help="first N training images (default all)"
    )


def _floats(text: str) -> list[float]:
    values = [float(part) for part in text.split(",") if part.strip()]
    if any(v <= 0 for v in values):
        raise ValueError(f"budgets must be positive seconds, got {text!r}")
    return values


def _figure(args: argparse.Namespace, ours: list[Trained], reference: list[Trained], k: int):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.0, 3.6), dpi=FIGURE_DPI, layout="constrained")
    ax = fig.add_subplot()
    for runs, label, color in (
        (ours, "ours (notebook 06 recipe)", "#c44e52"),
        (reference, "reference (PyTorch examples)", "#4c72b0"),
    ):
        t = [r.train_seconds for r in runs]
        ax.plot(t, [r.neg_iwae for r in runs], "o-", color=color, label=f"{label}: IWAE K={k}")
        ax.plot(
            t,
            [r.neg_elbo for r in runs],
            "s--",
            color=color,
            alpha=0.6,
            markersize=4,
            label=f"{label}: −ELBO",
        )
    ax.set_xlabel("training seconds (same machine, same threads)")
    ax.set_ylabel("validation nats per image (lower is better)")
    ax.set_title("Validation −log p(x) estimates against training time")
    ax.legend(fontsize=7)
    path = figure_path(args, "quality")
    fig.savefig(path)
    return path


def measure(args: argparse.Namespace) -> Section:
    from helpers.data import binarize_fixed, is_full_dataset, load_mnist, train_validation_split
    from helpers.recipes import VAE_32D

    if args.smoke:
        budgets, extra, k = [0.4, 0.8], [], min(args.iwae_k, 10)
        train_limit = args.train_images or 1000
        validation_limit = args.validation_images or 200
        test_limit = args.test_images or 200
    else:
        budgets, extra, k = _floats(args.budgets), _floats(args.reference_extra), args.iwae_k
        train_limit, validation_limit = args.train_images, args.validation_images
        test_limit = args.test_images
    train, validation = train_validation_split(load_mnist("train"))
    test = load_mnist("test")
    full = is_full_dataset(train) and is_full_dataset(test)
    validation_binary = binarize_fixed(
        validation.images, seed=VALIDATION_BINARIZATION_SEED
    )[:validation_limit]
    test_binary = binarize_fixed(test.images, seed=TEST_BINARIZATION_SEED)[:test_limit]
    images = (
        train.images
        if VAE_32D.train_images is None
        else train.images[: VAE_32D.train_images]
    )
    images = images[:train_limit]
    threads = torch.get_num_threads()

    log(
        f"quality: reference up to {max(budgets + extra):g} s on {len(images):,} images, {threads} threads"
    )
    reference, seconds_per_epoch = train_reference(images, budgets + extra)
    ours = [train_ours(images, budget, seconds_per_epoch) for budget in budgets]
    for trained in ours + reference:
        began = time.perf_counter()
        score(trained, validation_binary, k)
        log(
            f"quality: {trained.recipe} @ {trained.budget_s:g} s: −ELBO {trained.neg_elbo:.2f}, "
            f"IWAE {trained.neg_iwae:.2f} nats ({time.perf_counter() - began:.0f} s to evaluate)"
        )

    by_budget = {r.budget_s: r for r in reference}
    rows = []
    for mine in ours:
        theirs = by_budget[mine.budget_s]
        rows.append(
            [
                f"{mine.budget_s:g} s",
                f"{mine.train_seconds:.1f} s ({mine.epochs:.0f} ep)",
                f"{mine.neg_elbo:.2f}",
                f"**{mine.neg_iwae:.2f}**",
                f"{theirs.train_seconds:.1f} s ({theirs.epochs:.1f} ep)",
                f"{theirs.neg_elbo:.2f}",
                f"{theirs.neg_iwae:.2f}",
                f"{theirs.neg_iwae - mine.neg_iwae:+.2f}",
            ]
        )
    for theirs in reference[len(budgets) :]:
        rows.append(
            [
                f"{theirs.budget_s:g} s (reference only)",
                "–",
                "–",
                "–",
                f"{theirs.train_seconds:.1f} s ({theirs.epochs:.1f} ep)",
                f"{theirs.neg_elbo:.2f}",
                f"{theirs.neg_iwae:.2f}",
                "–",
            ]
        )
    table = markdown_table(
        [
            "budget",
            "ours: trained",
            "ours −ELBO",
            f"ours IWAE K={k}",
            "reference: trained",
            "reference −ELBO",
            f"reference IWAE K={k}",
            "ours ahead (nats)",
        ],
        rows,
    )

    headline = HEADLINE_BUDGET_S if HEADLINE_BUDGET_S in budgets else max(budgets)
    mine = next(r for r in ours if r.budget_s == headline)
    needed, needed_text = time_to_reach(reference, mine.neg_iwae)
    ahead = by_budget[headline].neg_iwae - mine.neg_iwae
    # The test set, once: only the two headline models, after every comparison is made.
    for trained in (mine, by_budget[headline]):
        score_test(trained, test_binary, k)
        log(
            f"quality: test, {trained.recipe} @ {headline:g} s: −ELBO {trained.test_neg_elbo:.2f}, "
            f"IWAE {trained.test_neg_iwae:.2f} nats"
        )
    test_table = markdown_table(
        ["model", "trained", "validation −ELBO", f"validation IWAE K={k}", "test −ELBO",
         f"test IWAE K={k}"],
        [
            [
                name,
                f"{run.train_seconds:.1f} s",
                f"{run.neg_elbo:.2f}",
                f"{run.neg_iwae:.2f}",
                f"{run.test_neg_elbo:.2f}",
                f"**{run.test_neg_iwae:.2f}**" if run is mine else f"{run.test_neg_iwae:.2f}",
            ]
            for name, run in (("ours", mine), ("reference", by_budget[headline]))
        ],
    )
    if needed is not None:
        ratio = (
            f"{needed_text}, {needed / mine.train_seconds:.1f} times our {_s(mine.train_seconds)} s"
        )
    else:
        longest = max(r.train_seconds for r in reference)
        ratio = f"{needed_text}, more than {longest / mine.train_seconds:.1f} times our {_s(mine.train_seconds)} s"

    recipes = markdown_table(
        ["", "ours: notebook 06 (`helpers.recipes.VAE_32D`)", "reference: PyTorch examples VAE"],
        [
            [
                "model",
                f"MLP 784-{'-'.join(map(str, VAE_32D.hidden_dims))}-{VAE_32D.latent_dim}, ReLU, Bernoulli logits",
                f"MLP 784-{REFERENCE['hidden']}-{REFERENCE['latent']}, ReLU, sigmoid output",
            ],
            [
                "optimizer",
                f"Adam, peak lr {VAE_32D.lr:g}, linear warm-up over "
                f"{VAE_32D.warmup_fraction:.0%} of the steps, "
                f"{VAE_32D.lr_schedule} schedule over the run"
                + (
                    "; decoder output bias starts at the pixels' log-odds"
                    if VAE_32D.output_bias == "pixel_log_odds"
                    else ""
                ),
                f"Adam, lr {REFERENCE['lr']:g} constant",
            ],
            ["batch", f"{VAE_32D.batch_size}", f"{REFERENCE['batch_size']}"],
            ["loss", "−ELBO, mean per image", "BCE + KL summed over the batch"],
            [
                "time budget B",
                f"epochs = round(B / {seconds_per_epoch:.2f} s per epoch), trained afresh for each B",
                "one run, weights copied when its clock crosses each B",
            ],
        ],
        align="lll",
    )
    figure = _figure(args, ours, reference, k)
    data_note = (
        f"{len(images):,} training images, the first {len(validation_binary):,} validation and "
        f"{len(test_binary):,} test images"
        if not full or train_limit or validation_limit or test_limit
        else f"all {len(images):,} training images, all {len(validation_binary):,} validation "
        f"images and all {len(test_binary):,} test images"
    )
    epochs_note = (
        f" (Notebook 06 itself trains {VAE_32D.epochs} epochs: about "
        f"{VAE_32D.epochs * seconds_per_epoch:.0f} s at this machine's "
        f"{seconds_per_epoch:.2f} s per epoch.)"
        if full and not train_limit
        else ""
    )
    body = "\n".join(
        [
            f"Both recipes trained in one process with {threads} torch thread(s) on {data_note} "
            "(training images dynamically binarized for both; the PyTorch example itself trains "
            "on grey levels). The validation images (carved from the training split by "
            "`helpers.data.train_validation_split`) are binarized once with "
            f"`helpers.data.binarize_fixed(validation.images, seed={VALIDATION_BINARIZATION_SEED})`"
            " and decide every comparison below; the test set, binarized once with "
            f"`binarize_fixed(test.images, seed={TEST_BINARIZATION_SEED})` as in notebook 06, is "
            "evaluated once, at the end, for the headline models only. Both are scored by the "
            "same code: −ELBO (`helpers.training.evaluate` "
            f"with `helpers.vae.negative_elbo`, one sample) and −log p(x) estimated by the "
            f"importance-weighted bound with K = {k} (`helpers.vae.iwae_bounds`). Nats per image, "
            'lower is better. "Trained" is the training clock (steps only, no evaluation).',
            "",
            recipes,
            "",
            table,
            "",
            f"**Ratio (validation).** Our {headline:g}-second result is {mine.neg_iwae:.2f} nats "
            f"(IWAE); the reference needs {ratio} to reach it. At equal time ({headline:g} s) we "
            f"are {abs(ahead):.2f} nats {'ahead' if ahead >= 0 else 'behind'}.{epochs_note}",
            "",
            f"**Test set, evaluated once** for the {headline:g}-second models, after the "
            "comparison above was made:",
            "",
            test_table,
            "",
            f"![Quality against training time]({figure.name})",
            "",
            "*Figure: validation −log p(x) estimated by IWAE (solid) and the validation −ELBO "
            "(dashed) of both "
            "recipes against training seconds; the gap between solid and dashed is how loose the "
            "ELBO is.*",
        ]
    )
    notes = []
    if not full:
        notes.append(
            "Quality ran on the offline 5,000-image MNIST subset (or a slice): its nats are not "
            "comparable with published full-MNIST numbers."
        )
    return Section("quality", "VAE quality against training time", body, notes=notes)


def main(argv: Sequence[str] | None = None) -> int:
    return script_main("quality", add_arguments, measure, argv, __doc__.splitlines()[0])


if __name__ == "__main__":
    raise SystemExit(main())
