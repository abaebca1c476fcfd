"""Tests of helpers.widgets: the plain functions behind notebook 07's explorers, no browser.

References are independent of the code under test: slerp against the closed form of a rotation
in a plane, decoded PNGs against NumPy's sigmoid of a known linear decoder, the KL per dimension
against torch.distributions, the map frame against its corners and matplotlib's tab10 colours.
"""

from __future__ import annotations

import io

import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image

from helpers import widgets as W

LATENT = 3


@pytest.fixture
def linear_decoder():
    """A known decoder: logits = z @ A.T + b, with A (784, k), b (784,) as float64 NumPy."""
    torch.manual_seed(0)
    layer = torch.nn.Linear(LATENT, 784)
    with torch.no_grad():
        layer.weight.mul_(3.0)
    weight = layer.weight.detach().double().numpy()
    bias = layer.bias.detach().double().numpy()
    return layer, weight, bias


def expected_png_array(weight, bias, z, scale=W.DEFAULT_SCALE):
    """Independent reference: sigmoid in NumPy, 8-bit rounding, nearest upscale by np.kron."""
    logits = weight @ np.asarray(z, dtype=np.float64) + bias
    grey = 1.0 / (1.0 + np.exp(-logits))
    pixels = np.rint(grey * 255).reshape(28, 28)
    return np.kron(pixels, np.ones((scale, scale)))


def decoded_array(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as picture:
        assert picture.format == "PNG"
        return np.asarray(picture, dtype=np.float64)


@pytest.fixture
def dataset():
    rng = np.random.default_rng(1)
    codes = rng.normal(size=(200, LATENT))
    labels = np.arange(200) % 10
    images = rng.random((200, 1, 28, 28)).astype(np.float32)
    return codes, labels, images


# ----------------------------------------------------------------------------------------------
# Interpolation
# ----------------------------------------------------------------------------------------------


def plane_basis(dim: int, seed: int) -> np.ndarray:
    """Two orthonormal vectors (2, dim) spanning a random plane."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(dim, 2)))
    return q.T


@pytest.mark.parametrize("dim", [2, 5, 32])
@pytest.mark.parametrize("angles", [(0.3, 1.9), (-2.0, 0.5), (0.0, 3.0)])
def test_slerp_matches_rotation_in_a_plane(dim, angles):
    """Unit vectors at angles θ0, θ1 in a plane: slerp(t) is the unit vector at θ0 + t(θ1 − θ0)."""
    theta0, theta1 = angles
    basis = plane_basis(dim, seed=dim)
    a = np.cos(theta0) * basis[0] + np.sin(theta0) * basis[1]
    b = np.cos(theta1) * basis[0] + np.sin(theta1) * basis[1]
    omega = abs(theta1 - theta0)
    for t in np.linspace(0.0, 1.0, 11):
        theta = theta0 + t * (theta1 - theta0)
        expected = np.cos(theta) * basis[0] + np.sin(theta) * basis[1]
        got = W.slerp(a, b, t)
        np.testing.assert_allclose(got, expected, atol=1e-12)
        assert np.linalg.norm(got) == pytest.approx(1.0, abs=1e-12)
        angle_to_a = np.arccos(np.clip(got @ a, -1.0, 1.0))
        assert angle_to_a == pytest.approx(t * omega, abs=1e-6)
    np.testing.assert_allclose(W.slerp(a, b, 0.0), a, atol=1e-12)
    np.testing.assert_allclose(W.slerp(a, b, 1.0), b, atol=1e-12)


def test_slerp_keeps_a_common_norm_and_lerp_does_not():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=16), rng.normal(size=16)
    b *= np.linalg.norm(a) / np.linalg.norm(b)
    radius = np.linalg.norm(a)
    for t in (0.1, 0.5, 0.9):
        assert np.linalg.norm(W.slerp(a, b, t)) == pytest.approx(radius, rel=1e-12)
    # The straight line between two distinct points on a sphere passes strictly inside it.
    assert np.linalg.norm(W.lerp(a, b, 0.5)) < radius * 0.99


def test_slerp_of_parallel_vectors_is_the_straight_line():
    a = np.array([1.0, 2.0, -1.0])
    for t in (0.0, 0.25, 1.0):
        np.testing.assert_allclose(W.slerp(a, 3.0 * a, t), (1 + 2 * t) * a, atol=1e-12)


def test_lerp_against_geometry():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=7), rng.normal(size=7)
    np.testing.assert_allclose(W.lerp(a, b, 0.0), a)
    np.testing.assert_allclose(W.lerp(a, b, 1.0), b)
    np.testing.assert_allclose(W.lerp(a, b, 0.5), (a + b) / 2)
    for t in (0.2, 0.7):
        point = W.lerp(a, b, t)
        # on the segment, at the fraction t of its length from a
        assert np.linalg.norm(point - a) == pytest.approx(t * np.linalg.norm(b - a))
        assert np.linalg.norm(b - point) == pytest.approx((1 - t) * np.linalg.norm(b - a))


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((np.ones(3), np.ones(2), 0.5), ValueError),  # shapes differ
        ((np.ones(3), np.ones(3), 1.5), ValueError),  # t outside [0, 1]
        ((np.ones(3), np.ones(3), -0.1), ValueError),
        ((np.zeros(3), np.ones(3), 0.5), ValueError),  # zero vector: no angle
        ((np.array([1.0, 0.0]), np.array([-1.0, 0.0]), 0.5), ValueError),  # antiparallel
        ((np.ones((2, 3)), np.ones(3), 0.5), ValueError),  # not a vector
        ((np.array([np.nan, 1.0]), np.ones(2), 0.5), ValueError),
        ((np.array(["a", "b"]), np.ones(2), 0.5), TypeError),
    ],
)
def test_slerp_rejects_bad_input(args, error):
    with pytest.raises(error):
        W.slerp(*args)


def test_interpolate_dispatches_and_rejects_unknown_method():
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    np.testing.assert_allclose(W.interpolate(a, b, 0.5, "linear"), [0.5, 0.5])
    np.testing.assert_allclose(W.interpolate(a, b, 0.5, "spherical"), [np.sqrt(0.5)] * 2)
    with pytest.raises(ValueError, match="method"):
        W.interpolate(a, b, 0.5, "cubic")


# ----------------------------------------------------------------------------------------------
# Decoding to PNG
# ----------------------------------------------------------------------------------------------


def test_decode_to_png_matches_numpy_reference(linear_decoder):
    layer, weight, bias = linear_decoder
    z = np.array([0.5, -1.0, 2.0])
    png = W.decode_to_png(layer, z)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    got = decoded_array(png)
    assert got.shape == (112, 112)
    # float32 in the decoder against float64 here: rounding may differ by one grey level
    assert np.max(np.abs(got - expected_png_array(weight, bias, z))) <= 1


@pytest.mark.parametrize("count", [1, 5, W.ROW_BY_ROW_MAX + 1, 40])
def test_decode_images_matches_numpy_for_small_and_large_batches(linear_decoder, count):
    layer, weight, bias = linear_decoder
    z = np.random.default_rng(count).normal(size=(count, LATENT))
    expected = 1.0 / (1.0 + np.exp(-(z @ weight.T + bias)))
    got = W.decode_images(layer, z)
    assert got.shape == (count, 28, 28) and got.dtype == np.float32
    np.testing.assert_allclose(got.reshape(count, 784), expected, atol=1e-5)


def test_decode_images_checks_the_decoder():
    with pytest.raises(TypeError, match="callable"):
        W.decode_images("not a decoder", np.zeros(2))
    with pytest.raises(ValueError, match="784"):
        W.decode_images(lambda z: torch.zeros(z.shape[0], 100), np.zeros(2))
    with pytest.raises(TypeError, match="torch.Tensor"):
        W.decode_images(lambda z: np.zeros((1, 784)), np.zeros(2))
    with pytest.raises(ValueError, match="finite"):
        W.decode_images(lambda z: torch.zeros(1, 784), np.array([np.inf, 0.0]))


def test_image_to_png_round_trip_and_errors():
    grey = np.linspace(0, 1, 28 * 28).reshape(28, 28)
    np.testing.assert_array_equal(
        W.png_to_array(W.image_to_png(grey, scale=1)), np.rint(grey * 255).astype(np.uint8)
    )
    rgb = np.zeros((5, 6, 3), dtype=np.uint8)
    rgb[2, 3] = (10, 20, 30)
    np.testing.assert_array_equal(W.png_to_array(W.image_to_png(rgb, scale=1)), rgb)
    with pytest.raises(ValueError, match="scale"):
        W.image_to_png(grey, scale=0)
    with pytest.raises(ValueError, match="shape"):
        W.image_to_png(np.zeros((2, 3, 4)))
    with pytest.raises(TypeError, match="float"):
        W.image_to_png(np.zeros((4, 4), dtype=np.int64))


# ----------------------------------------------------------------------------------------------
# The latent map
# ----------------------------------------------------------------------------------------------


def test_frame_corners_and_round_trip():
    frame = W.LatentMapFrame(-2.0, 4.0, -1.0, 1.0, width=300, height=100)
    np.testing.assert_allclose(frame.pixel_to_latent([0, 0]), [-2.0, 1.0])  # top left
    np.testing.assert_allclose(frame.pixel_to_latent([300, 100]), [4.0, -1.0])  # bottom right
    np.testing.assert_allclose(frame.pixel_to_latent([150, 50]), [1.0, 0.0])  # centre
    np.testing.assert_allclose(frame.latent_to_pixel([1.0, 0.5]), [150, 25])
    points = np.random.default_rng(0).uniform(-5, 5, size=(100, 2))
    np.testing.assert_allclose(frame.pixel_to_latent(frame.latent_to_pixel(points)), points)
    pixels = np.random.default_rng(1).uniform(0, 300, size=(100, 2))
    np.testing.assert_allclose(frame.latent_to_pixel(frame.pixel_to_latent(pixels)), pixels)


def test_frame_rejects_bad_rectangles_and_shapes():
    with pytest.raises(ValueError, match="x_min < x_max"):
        W.LatentMapFrame(1.0, 1.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="finite"):
        W.LatentMapFrame(0.0, np.inf, 0.0, 1.0)
    frame = W.LatentMapFrame(0.0, 1.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="shape"):
        frame.pixel_to_latent(np.zeros(3))
    with pytest.raises(ValueError, match="2-D codes"):
        W.LatentMapFrame.around(np.zeros((5, 3)))


def test_frame_around_covers_the_codes():
    codes = np.random.default_rng(2).normal(size=(5000, 2)) * [1.0, 3.0]
    frame = W.LatentMapFrame.around(codes, size=200, coverage=0.99)
    pixels = frame.latent_to_pixel(codes)
    inside = np.all((pixels >= 0) & (pixels < 200), axis=1)
    assert inside.mean() >= 0.99
    # square pixels: one pixel spans the same latent distance on both axes
    assert (frame.x_max - frame.x_min) == pytest.approx(frame.y_max - frame.y_min)


def test_render_latent_map_colours_dots_by_digit():
    frame = W.LatentMapFrame(0.0, 10.0, 0.0, 10.0, width=100, height=100)
    codes = np.array([[2.05, 7.05], [8.05, 1.05]])  # pixels (20, 29) and (80, 89)
    picture = W.render_latent_map(codes, np.array([3, 7]), frame, dot_radius=1)
    tab10 = matplotlib.colormaps["tab10"]
    for (px, py), digit in (((20, 29), 3), ((80, 89), 7)):
        expected = np.rint(np.asarray(tab10(digit)[:3]) * 255)
        np.testing.assert_array_equal(picture[py, px], expected)
        np.testing.assert_array_equal(picture[py + 1, px - 1], expected)  # 3x3 dot
    assert (picture == 255).all(axis=2).sum() == 100 * 100 - 2 * 9  # the rest stays white
    with pytest.raises(ValueError, match="labels"):
        W.render_latent_map(codes, np.array([1, 2, 3]), frame)


def test_map_click_decodes_the_clicked_latent_point():
    torch.manual_seed(0)
    layer = torch.nn.Linear(2, 784)
    weight = layer.weight.detach().double().numpy()
    bias = layer.bias.detach().double().numpy()
    codes = np.random.default_rng(0).normal(size=(300, 2))
    frame = W.LatentMapFrame(-3.0, 3.0, -3.0, 3.0, width=240, height=240)
    explorer = W.latent_map_explorer(layer, codes, np.arange(300) % 10, frame=frame)
    map_before = W.png_to_array(explorer.extras["map_image"].value)
    explorer.handle_click({"dataX": 60, "dataY": 200, "relativeX": 0, "relativeY": 0})
    # by hand: x = -3 + 60/240 * 6 = -1.5, y = 3 - 200/240 * 6 = -2.0
    expected_z = np.array([-1.5, -2.0])
    np.testing.assert_allclose(explorer.z, expected_z, atol=1e-12)
    assert explorer.controls["z0"].value == pytest.approx(-1.5)  # the sliders follow
    got = decoded_array(explorer.image.value)
    assert np.max(np.abs(got - expected_png_array(weight, bias, explorer.z))) <= 1
    # the marker moved: the clicked pixel changed on the map
    map_after = W.png_to_array(explorer.extras["map_image"].value)
    assert not np.array_equal(map_before[190:210, 50:70], map_after[190:210, 50:70])
    # the fallback sliders drive the same decode; a front-end echo within half a step does not
    explorer.controls["z0"].value = 1.0
    np.testing.assert_allclose(explorer.z, [1.0, -2.0])
    decoded_before = explorer.image.value
    explorer.controls["z1"].value = -2.004
    np.testing.assert_allclose(explorer.z, [1.0, -2.0])
    assert explorer.image.value == decoded_before
    assert "vae-latent-map" in explorer.widget._dom_classes


# ----------------------------------------------------------------------------------------------
# Widgets driven from Python, as the front end would
# ----------------------------------------------------------------------------------------------


def test_slider_explorer_decodes_the_slider_values(linear_decoder):
    layer, weight, bias = linear_decoder
    base = np.array([0.1, 0.2, 0.3])
    explorer = W.latent_slider_explorer(layer, base, dims=[2, 0])
    assert "vae-latent-sliders" in explorer.widget._dom_classes
    assert "vae-decoded" in explorer.image._dom_classes
    explorer.controls["z2"].value = -1.5
    explorer.controls["z0"].value = 2.0
    expected_z = np.array([2.0, 0.2, -1.5])  # dim 1 has no slider and keeps its base value
    np.testing.assert_allclose(explorer.z, expected_z)
    got = decoded_array(explorer.image.value)
    assert np.max(np.abs(got - expected_png_array(weight, bias, expected_z))) <= 1


def test_time_slider_updates_measures_and_checks_changes(linear_decoder):
    layer, _, _ = linear_decoder
    explorer = W.latent_slider_explorer(layer, np.zeros(3))
    seconds = W.time_slider_updates(explorer, explorer.controls["z0"], [0.5, 1.0, -1.0])
    assert seconds.shape == (3,) and np.all(seconds > 0)
    constant = W.latent_slider_explorer(lambda z: torch.zeros(z.shape[0], 784), np.zeros(3))
    with pytest.raises(RuntimeError, match="did not change"):
        W.time_slider_updates(constant, constant.controls["z0"], [1.0])


def test_slider_explorer_rejects_bad_dims(linear_decoder):
    layer, _, _ = linear_decoder
    with pytest.raises(ValueError, match="dims"):
        W.latent_slider_explorer(layer, np.zeros(3), dims=[0, 3])
    with pytest.raises(ValueError, match="dims"):
        W.latent_slider_explorer(layer, np.zeros(3), dims=[1, 1])
    with pytest.raises(ValueError, match="labels"):
        W.latent_slider_explorer(layer, np.zeros(3), dims=[0], labels=["a", "b"])


def test_interpolation_explorer_ends_and_middle(linear_decoder, dataset):
    layer, weight, bias = linear_decoder
    codes, labels, images = dataset
    explorer = W.interpolation_explorer(layer, codes, labels, images, start_index=4, end_index=9)
    explorer.controls["t"].value = 0.0
    np.testing.assert_allclose(explorer.z, codes[4])
    explorer.controls["t"].value = 1.0
    np.testing.assert_allclose(explorer.z, codes[9])
    explorer.controls["method"].value = "spherical"
    explorer.controls["t"].value = 0.5
    a, b = codes[4], codes[9]
    omega = np.arccos(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
    expected = (a + b) * np.sin(omega / 2) / np.sin(omega)  # closed form at t = 1/2
    np.testing.assert_allclose(explorer.z, expected, atol=1e-12)
    got = decoded_array(explorer.image.value)
    assert np.max(np.abs(got - expected_png_array(weight, bias, expected))) <= 1
    # choosing a digit picks the first image of that digit
    explorer.controls["end_digit"].value = 7
    assert explorer.controls["end"].value == 7 and labels[7] == 7
    assert "vae-interpolation" in explorer.widget._dom_classes


def test_interpolation_explorer_rejects_bad_input(linear_decoder, dataset):
    layer, _, _ = linear_decoder
    codes, labels, images = dataset
    with pytest.raises(ValueError, match="start_index"):
        W.interpolation_explorer(layer, codes, labels, images, start_index=200)
    with pytest.raises(ValueError, match="images"):
        W.interpolation_explorer(layer, codes, labels, images[:10])
    with pytest.raises(TypeError, match="integers"):
        W.interpolation_explorer(layer, codes, labels.astype(float), images)


# ----------------------------------------------------------------------------------------------
# Traversals and KL per dimension
# ----------------------------------------------------------------------------------------------


def test_traversal_changes_only_the_chosen_dimension():
    z = np.array([0.3, -1.2, 0.8, 2.0])
    values = np.linspace(-3, 3, 7)
    latents = W.traversal_latents(z, 2, values)
    assert latents.shape == (7, 4)
    np.testing.assert_array_equal(latents[:, 2], values)
    np.testing.assert_array_equal(np.delete(latents, 2, axis=1), np.tile(np.delete(z, 2), (7, 1)))
    with pytest.raises(ValueError, match="dim"):
        W.traversal_latents(z, 4, values)
    with pytest.raises(TypeError, match="integer"):
        W.traversal_latents(z, 1.0, values)


def test_traversal_explorer_strip_holds_the_decoded_sweep(linear_decoder, dataset):
    layer, weight, bias = linear_decoder
    codes, labels, images = dataset
    explorer = W.traversal_explorer(layer, codes, labels, images, dims=[1, 2], index=5, steps=5,
                                    scale=1)
    explorer.controls["dim"].value = 2
    strip = decoded_array(explorer.image.value)
    assert strip.shape == (30, 5 * 29 + 1)  # 1-pixel padding around and between tiles
    values = np.linspace(-3, 3, 5)
    for step, value in enumerate(values):
        z = codes[5].copy()
        z[2] = value
        tile = strip[1:29, 1 + 29 * step : 29 + 29 * step]
        assert np.max(np.abs(tile - expected_png_array(weight, bias, z, scale=1))) <= 1
    assert "vae-traversal" in explorer.widget._dom_classes


def test_top_dimensions_by_kl_ranks_by_torch_distributions_kl():
    rng = np.random.default_rng(5)
    mu = rng.normal(size=(50, 6))
    logvar = rng.normal(scale=0.5, size=(50, 6))
    reference = torch.distributions.kl_divergence(
        torch.distributions.Normal(torch.tensor(mu), torch.tensor(np.exp(0.5 * logvar))),
        torch.distributions.Normal(0.0, 1.0),
    ).mean(dim=0).numpy()
    order = W.top_dimensions_by_kl(mu, logvar, count=6)
    np.testing.assert_array_equal(order, np.argsort(-reference, kind="stable"))
    assert np.all(np.diff(reference[order]) <= 0)
    with pytest.raises(ValueError, match="count"):
        W.top_dimensions_by_kl(mu, logvar, count=7)
    with pytest.raises(ValueError, match="match"):
        W.top_dimensions_by_kl(mu, logvar[:, :5])
