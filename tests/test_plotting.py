"""Tests for helpers.plotting: the drawn artists hold exactly the data that went in.

References are independent of the code under test: tilings are built with NumPy reshapes and
explicit padding, colours come from matplotlib's own tab10 colormap.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from types import SimpleNamespace  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from helpers import plotting  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _reference_tiling(images: np.ndarray, ncol: int, pad: int, pad_value: float) -> np.ndarray:
    """Tile (N, H, W) row-major with `pad` pixels around every tile, built with np.pad/np.block."""
    count, height, width = images.shape
    rows = -(-count // ncol)
    blank = np.full((height, width), pad_value)
    cells = [images[i] if i < count else blank for i in range(rows * ncol)]
    # each tile gets padding on its top and left; the grid gets one more on bottom and right
    padded = [np.pad(c, ((pad, 0), (pad, 0)), constant_values=pad_value) for c in cells]
    grid = np.block([[padded[r * ncol + c] for c in range(ncol)] for r in range(rows)])
    return np.pad(grid, ((0, pad), (0, pad)), constant_values=pad_value)


def test_digit_cmap_is_tab10_and_colours_match_matplotlib():
    assert plotting.DIGIT_CMAP == "tab10"
    labels = np.array([0, 3, 9, 3, 1])
    expected = matplotlib.colormaps["tab10"](labels)  # tab10 maps integer i to colour i
    np.testing.assert_allclose(plotting.digit_colors(labels), expected)
    assert plotting.digit_colors().shape == (10, 4)
    np.testing.assert_allclose(plotting.digit_colors(), matplotlib.colormaps["tab10"](np.arange(10)))


def test_tile_images_without_padding_is_a_reshape():
    rng = np.random.default_rng(0)
    images = rng.random((6, 1, 28, 28))
    grid = plotting.tile_images(images, nrow=3, padding=0)
    # rows of 3 images: (2, 3, 28, 28) -> (2, 28, 3, 28) -> (56, 84)
    expected = images[:, 0].reshape(2, 3, 28, 28).transpose(0, 2, 1, 3).reshape(56, 84)
    np.testing.assert_array_equal(grid, expected)


@pytest.mark.parametrize("count,nrow,pad", [(7, 3, 1), (10, 10, 2), (1, 5, 1), (12, 5, 0)])
def test_image_grid_pixels_equal_the_tiled_input(count, nrow, pad):
    rng = np.random.default_rng(count)
    images = rng.random((count, 1, 28, 28)).astype(np.float32)
    ax = plotting.image_grid(torch.from_numpy(images), nrow=nrow, padding=pad, title="grid")
    shown = np.asarray(ax.images[0].get_array())
    expected = _reference_tiling(images[:, 0].astype(float), min(nrow, count), pad, 1.0)
    np.testing.assert_allclose(shown, expected, rtol=0, atol=1e-7)
    assert ax.get_title() == "grid"
    assert ax.images[0].get_clim() == (0.0, 1.0)


def test_image_grid_accepts_flat_and_3d_input():
    rng = np.random.default_rng(1)
    images = rng.random((4, 28, 28))
    from_flat = plotting.image_grid(images.reshape(4, 784), nrow=2).images[0].get_array()
    from_3d = plotting.image_grid(images, nrow=2).images[0].get_array()
    np.testing.assert_array_equal(np.asarray(from_flat), np.asarray(from_3d))


@pytest.mark.parametrize("bad", [np.zeros((3, 2, 28, 28)), np.zeros((3, 100)), np.zeros(5),
                                 np.zeros((0, 1, 28, 28))])
def test_image_grid_rejects_bad_shapes(bad):
    with pytest.raises(ValueError, match="images"):
        plotting.image_grid(bad)


def test_image_grid_rejects_bad_nrow():
    with pytest.raises(ValueError, match="nrow"):
        plotting.image_grid(np.zeros((3, 28, 28)), nrow=0)


def test_plot_reconstructions_puts_originals_above_reconstructions():
    rng = np.random.default_rng(2)
    originals = rng.random((8, 1, 28, 28))
    reconstructions = rng.random((8, 1, 28, 28))
    ax = plotting.plot_reconstructions(originals, reconstructions, n=5)
    shown = np.asarray(ax.images[0].get_array())
    # 2 rows of 5 tiles with 1 px padding: rows start at y = 1 and y = 30
    for j in range(5):
        left = 1 + j * 29
        np.testing.assert_allclose(shown[1:29, left : left + 28], originals[j, 0])
        np.testing.assert_allclose(shown[30:58, left : left + 28], reconstructions[j, 0])
    assert shown.shape == (2 * 29 + 1, 5 * 29 + 1)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["original", "reconstruction"]


def test_plot_reconstructions_rejects_mismatched_batches():
    with pytest.raises(ValueError, match="same number"):
        plotting.plot_reconstructions(np.zeros((4, 1, 28, 28)), np.zeros((3, 1, 28, 28)))


def test_latent_scatter_colours_and_positions():
    rng = np.random.default_rng(3)
    codes = rng.normal(size=(50, 2))
    labels = rng.integers(0, 10, size=50)
    ax = plotting.latent_scatter(torch.tensor(codes), torch.tensor(labels), alpha=0.5)
    collection = ax.collections[0]
    np.testing.assert_allclose(collection.get_offsets(), codes)
    expected = matplotlib.colormaps["tab10"](labels)
    expected[:, 3] = 0.5
    np.testing.assert_allclose(collection.get_facecolors(), expected)
    legend_labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend_labels == [str(d) for d in np.unique(labels)]
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()


@pytest.mark.parametrize(
    "codes,labels,message",
    [
        (np.zeros((5, 3)), np.zeros(5, dtype=int), "shape \\(N, 2\\)"),
        (np.zeros((5, 2)), np.zeros(4, dtype=int), "one entry per point"),
        (np.zeros((5, 2)), np.full(5, 10), "0..9"),
        (np.zeros((5, 2)), np.full(5, 0.5), "integer"),
    ],
)
def test_latent_scatter_rejects_bad_input(codes, labels, message):
    with pytest.raises((ValueError, TypeError), match=message):
        plotting.latent_scatter(codes, labels)


def test_plot_learning_curves_draws_the_history_values():
    history = SimpleNamespace(
        train=[{"loss": 3.0, "kl": 1.0}, {"loss": 2.0, "kl": 1.5}, {"loss": 1.5, "kl": 1.7}],
        validation=[{"loss": 3.2, "kl": 1.1}, {"loss": 2.4, "kl": 1.4}, {"loss": 2.0, "kl": 1.6}],
    )
    ax = plotting.plot_learning_curves(history, metrics=("loss", "kl"), label="run")
    assert len(ax.lines) == 4
    expected = [[3.0, 2.0, 1.5], [3.2, 2.4, 2.0], [1.0, 1.5, 1.7], [1.1, 1.4, 1.6]]
    for line, values in zip(ax.lines, expected, strict=True):
        np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3])
        np.testing.assert_array_equal(line.get_ydata(), values)
    assert [line.get_label() for line in ax.lines] == [
        "run train loss", "run validation loss", "run train kl", "run validation kl"]
    assert ax.lines[0].get_color() == ax.lines[1].get_color()
    assert ax.get_xlabel() == "epoch"


def test_a_second_run_on_the_same_axes_keeps_the_first_ylabel():
    history = SimpleNamespace(train=[{"loss": 2.0}, {"loss": 1.0}], validation=[])
    ax = plotting.plot_learning_curves(history, label="k = 2", ylabel="squared error per image")
    plotting.plot_learning_curves(history, label="k = 16", ax=ax, title=None)
    assert ax.get_ylabel() == "squared error per image"
    fresh = plotting.plot_learning_curves(history, metrics=("loss",))
    assert fresh.get_ylabel() == "loss"
    plotting.plot_learning_curves(history, ax=fresh, ylabel="nats")  # an explicit label wins
    assert fresh.get_ylabel() == "nats"


def test_plot_learning_curves_with_training_history():
    from helpers.training import History

    history = History(train=[{"loss": 1.0}, {"loss": 0.5}], validation=[])
    ax = plotting.plot_learning_curves(history)
    assert len(ax.lines) == 1
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [1.0, 0.5])


def test_plot_learning_curves_errors():
    with pytest.raises(TypeError, match=".train and .validation"):
        plotting.plot_learning_curves({"loss": [1.0]})
    history = SimpleNamespace(train=[{"loss": 1.0}], validation=[])
    with pytest.raises(ValueError, match="'acc' is missing"):
        plotting.plot_learning_curves(history, metrics=("acc",))
    with pytest.raises(ValueError, match="no epochs"):
        plotting.plot_learning_curves(SimpleNamespace(train=[], validation=[]))


def test_use_series_style_sets_rcparams():
    with matplotlib.rc_context():
        applied = plotting.use_series_style()
        assert matplotlib.rcParams["figure.dpi"] == 80
        assert matplotlib.rcParams["axes.grid"] is True
        assert applied["figure.dpi"] == 80


def test_decision_boundary_contour_lies_on_the_true_boundary():
    rng = np.random.default_rng(4)
    points = rng.uniform(-2, 2, size=(40, 2))
    labels = (points[:, 0] + points[:, 1] > 0).astype(int)

    def predict(grid):  # true boundary: x1 + x2 = 0
        return 1.0 / (1.0 + np.exp(-5.0 * (grid[:, 0] + grid[:, 1])))

    ax = plotting.plot_decision_boundary(predict, points, labels, grid_size=101)
    contour = ax.collections[1]
    vertices = np.concatenate([path.vertices for path in contour.get_paths()])
    assert len(vertices) > 10
    # contour lines interpolate linearly between grid points 0.05 apart: allow 1e-3
    np.testing.assert_allclose(vertices[:, 0] + vertices[:, 1], 0.0, atol=1e-3)
    np.testing.assert_allclose(ax.collections[2].get_facecolors(),
                               matplotlib.colormaps["tab10"](labels))


def test_decision_boundary_rejects_wrong_output_shape():
    with pytest.raises(ValueError, match="predict_proba must return"):
        plotting.plot_decision_boundary(lambda g: g, np.zeros((3, 2)), np.zeros(3, dtype=int))
