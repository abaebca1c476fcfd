"""Tests of helpers.training against closed forms and hand-computed references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from helpers.training import History, cosine_schedule, evaluate, train


def mse_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    return ((model(x) - y) ** 2).mean()


def make_regression(m: int = 256, d: int = 3, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(m, d, generator=g, dtype=torch.float64)
    w = torch.tensor([[1.5], [-2.0], [0.5]], dtype=torch.float64)
    y = x @ w + 0.7 + 0.1 * torch.randn(m, 1, generator=g, dtype=torch.float64)
    return x, y


def test_converges_to_least_squares_solution():
    x, y = make_regression()
    torch.manual_seed(0)
    model = nn.Linear(3, 1).double()
    model, history = train(
        model, mse_loss, x, y, epochs=200, batch_size=64, lr=0.05,
        optimizer=lambda p: torch.optim.SGD(p, lr=0.05), progress=False,
    )
    design = np.hstack([x.numpy(), np.ones((len(x), 1))])
    solution, *_ = np.linalg.lstsq(design, y.numpy(), rcond=None)
    fitted = np.concatenate([model.weight.detach().numpy().ravel(), model.bias.detach().numpy()])
    np.testing.assert_allclose(fitted, solution.ravel(), atol=2e-2)
    assert history.epochs == 200 and history.stopped_reason == "completed"
    assert len(history.train) == len(history.seconds) == 200
    assert history.train[-1]["loss"] < history.train[0]["loss"]


def test_full_batch_gradient_descent_matches_manual_update():
    """One full-batch SGD epoch equals one hand-computed gradient step on the MSE."""
    x, y = make_regression(m=32)
    torch.manual_seed(1)
    model = nn.Linear(3, 1).double()
    w0 = model.weight.detach().clone().numpy()
    b0 = model.bias.detach().clone().numpy()
    lr = 0.1
    train(model, mse_loss, x, y, epochs=1, batch_size=32,
          optimizer=lambda p: torch.optim.SGD(p, lr=lr), lr=lr, progress=False)
    xn, yn = x.numpy(), y.numpy()
    residual = xn @ w0.T + b0 - yn  # (m, 1)
    grad_w = 2 * residual.T @ xn / len(xn)
    grad_b = 2 * residual.mean(axis=0)
    np.testing.assert_allclose(model.weight.detach().numpy(), w0 - lr * grad_w, rtol=1e-10)
    np.testing.assert_allclose(model.bias.detach().numpy(), b0 - lr * grad_b, rtol=1e-10)


def test_test_metrics_are_the_mean_over_all_examples():
    x, y = make_regression(m=250)
    torch.manual_seed(0)
    model = nn.Linear(3, 1).double()
    with torch.no_grad():
        expected = float(((model(x) - y) ** 2).mean())
    # batch sizes that do not divide 250 must still give the exact mean
    assert evaluate(model, mse_loss, x, y, batch_size=64)["loss"] == pytest.approx(expected, rel=1e-12)


def test_extra_metrics_are_averaged_and_recorded():
    x, y = make_regression(m=100)

    def loss_with_parts(model, xb, yb):
        loss = mse_loss(model, xb, yb)
        return loss, {"double": 2 * loss.item(), "batch": float(len(xb))}

    torch.manual_seed(0)
    _, history = train(nn.Linear(3, 1).double(), loss_with_parts, x, y, validation_x=x, validation_y=y,
                       epochs=2, batch_size=30, progress=False)
    for row in history.train + history.validation:
        assert row["double"] == pytest.approx(2 * row["loss"], rel=1e-9)
    # weighted mean of batch sizes 30, 30, 30, 10 -> (3*30*30 + 10*10) / 100
    assert history.train[0]["batch"] == pytest.approx((3 * 900 + 100) / 100)
    assert history.metric("double", "validation") == [row["double"] for row in history.validation]
    with pytest.raises(KeyError, match="recorded"):
        history.metric("nope")


def test_same_seed_same_result_and_batch_transform_gets_a_generator():
    x, y = make_regression(m=64)
    seen_generators = []

    def noisy(xb, generator):
        seen_generators.append(generator)
        return xb + 0.01 * torch.randn(xb.shape, generator=generator, dtype=xb.dtype)

    results = []
    for _ in range(2):
        torch.manual_seed(3)
        model, _ = train(nn.Linear(3, 1).double(), mse_loss, x, y, epochs=3, batch_size=16,
                         batch_transform=noisy, seed=7, progress=False)
        results.append(model.weight.detach().clone())
    assert torch.equal(results[0], results[1])
    assert all(isinstance(g, torch.Generator) for g in seen_generators)


def noisy_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    """A loss that draws noise from torch's global generator, as the VAE's sampled ELBO does."""
    prediction = model(x + 0.1 * torch.randn_like(x))
    return ((prediction - y) ** 2).mean()


def test_evaluation_noise_never_moves_the_training_stream():
    x, y = make_regression()

    def run(with_validation: bool):
        torch.manual_seed(7)
        model = nn.Linear(3, 1).double()
        return train(model, noisy_loss, x, y, validation_x=x[:64] if with_validation else None,
                     validation_y=y[:64] if with_validation else None, epochs=3, batch_size=32, seed=1,
                     progress=False)

    (model_a, history_a), (model_b, _) = run(True), run(False)
    for p, q in zip(model_a.parameters(), model_b.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    assert len(history_a.validation) == 3
    # evaluate repeats exactly on the same model and leaves the caller's stream alone
    torch.manual_seed(3)
    expected = torch.rand(2)
    torch.manual_seed(3)
    first = evaluate(model_a, noisy_loss, x, y)
    torch.testing.assert_close(torch.rand(2), expected, rtol=0, atol=0)
    assert evaluate(model_a, noisy_loss, x, y) == first
    assert evaluate(model_a, noisy_loss, x, y, seed=1) != first


def test_non_finite_loss_stops_with_a_clear_message():
    x, y = make_regression(m=64)
    y[40] = float("nan")
    with pytest.raises(FloatingPointError, match=r"step \d+.*learning rate"):
        train(nn.Linear(3, 1).double(), mse_loss, x, y, epochs=2, batch_size=64, progress=False)


def test_keyboard_interrupt_returns_model_and_history_so_far(capsys):
    x, y = make_regression(m=64)
    calls = {"n": 0}

    def interrupting(model, xb, yb):
        calls["n"] += 1
        if calls["n"] == 6:  # second batch of the third epoch (2 batches per epoch)
            raise KeyboardInterrupt
        return mse_loss(model, xb, yb)

    model, history = train(nn.Linear(3, 1).double(), interrupting, x, y, epochs=5,
                           batch_size=32, progress=False)
    assert isinstance(model, nn.Linear)
    assert history.interrupted and history.stopped_reason == "interrupted"
    assert history.epochs == 2 and len(history.train) == 2
    assert "interrupted" in capsys.readouterr().out


def test_time_budget_stops_after_the_epoch_that_crosses_it():
    x, y = make_regression(m=64)
    _, history = train(nn.Linear(3, 1).double(), mse_loss, x, y, epochs=50, batch_size=8,
                       time_budget_s=1e-9, progress=False)
    assert history.epochs == 1 and history.stopped_reason == "time budget"


def test_lr_schedule_sets_the_learning_rate_of_each_step():
    x, y = make_regression(m=40)
    recorded = []

    class Spy(torch.optim.SGD):
        def step(self, closure=None):
            recorded.append(self.param_groups[0]["lr"])
            return super().step(closure)

    train(nn.Linear(3, 1).double(), mse_loss, x, y, epochs=2, batch_size=10, lr=0.2,
          optimizer=lambda p: Spy(p, lr=0.2), lr_schedule=lambda s, t: (t - s) / t,
          progress=False)
    assert recorded == pytest.approx([0.2 * (8 - s) / 8 for s in range(8)])


def test_cosine_schedule_closed_form():
    schedule = cosine_schedule(warmup_fraction=0.1, final_fraction=0.0)
    total = 100
    assert schedule(0, total) == pytest.approx(0.1)
    assert schedule(9, total) == pytest.approx(1.0)
    for step in (10, 40, 55, 99):
        expected = 0.5 * (1 + math.cos(math.pi * (step - 10) / 90))
        assert schedule(step, total) == pytest.approx(expected)
    assert cosine_schedule(final_fraction=0.1)(10**6, 10) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="warmup_fraction"):
        cosine_schedule(warmup_fraction=1.0)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"epochs": 0}, ValueError, "epochs"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"lr": -1.0}, ValueError, "lr"),
        ({"validation_x": torch.zeros(3, 3), "validation_y": torch.zeros(2, 1)}, ValueError, "same length"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, match):
    x, y = make_regression(m=16)
    with pytest.raises(error, match=match):
        train(nn.Linear(3, 1).double(), mse_loss, x, y, progress=False, **kwargs)


def test_bad_loss_output_is_explained():
    x, y = make_regression(m=16)
    with pytest.raises(TypeError, match="scalar"):
        train(nn.Linear(3, 1).double(), lambda m, xb, yb: (m(xb) - yb) ** 2, x, y, progress=False)
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        train(nn.Linear(3, 1).double(), mse_loss, x.numpy(), y, progress=False)


def test_history_defaults():
    history = History()
    assert history.total_seconds == 0.0 and history.epochs == 0
