"""Live explorers of a VAE's latent space, built from plain functions (notebook 07).

Every widget here is a thin shell around plain functions that take state in and give an image
out: :func:`decode_images`, :func:`image_to_png`, :func:`lerp`, :func:`slerp`,
:class:`LatentMapFrame`, :func:`render_latent_map`, :func:`traversal_latents`. Tests call those
functions without a browser; the widgets only wire them to sliders and clicks.

A *decoder* is any callable ``decode(z) -> logits`` taking a float32 tensor ``z`` of shape
``(N, k)`` on the CPU and returning Bernoulli logits of shape ``(N, 784)`` (notebook 06's
``VAE.decode``). Decoded images are the Bernoulli means ``sigmoid(logits)``, shown as PNGs in
``ipywidgets.Image`` (28x28 upscaled by nearest neighbour, 112x112 by default).

Every widget keeps CSS classes of its own (see ``CSS_CLASSES``) so a browser test can find it;
the decoded picture that changes carries the class ``vae-decoded``.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from helpers import _checks
from helpers.plotting import digit_colors, tile_images
from helpers.vi import gaussian_kl_per_dimension

Decoder = Callable[[torch.Tensor], torch.Tensor]

IMAGE_SIDE = 28
PIXELS = IMAGE_SIDE * IMAGE_SIDE
DEFAULT_SCALE = 4  # 28 px -> 112 px
ROW_BY_ROW_MAX = 16  # decode_images decodes at most this many points one at a time

CSS_CLASSES = {
    "sliders": "vae-latent-sliders",
    "map": "vae-latent-map",
    "interpolation": "vae-interpolation",
    "traversal": "vae-traversal",
    "decoded": "vae-decoded",
    "map_image": "vae-map-image",
    "status": "vae-status",
}

INTERPOLATION_METHODS = ("linear", "spherical")


# ----------------------------------------------------------------------------------------------
# Validation
# ----------------------------------------------------------------------------------------------


def _as_batch(z: Any, name: str) -> np.ndarray:
    """Latent points as a finite float64 array of shape (N, k); a vector becomes (1, k)."""
    if isinstance(z, torch.Tensor):
        z = z.detach().cpu().numpy()
    array = np.asarray(z)
    if array.dtype.kind not in "fiu" or array.dtype == bool:
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] == 0:
        raise ValueError(f"{name} must have shape (N, k) or (k,), got shape {np.shape(z)}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite")
    return array.astype(np.float64)


def _as_vector(z: Any, name: str) -> np.ndarray:
    """A latent point as a finite float64 vector of shape (k,)."""
    if np.ndim(z.detach().cpu() if isinstance(z, torch.Tensor) else z) != 1:
        raise ValueError(f"{name} must be a vector of shape (k,), got shape {np.shape(z)}")
    return _as_batch(z, name)[0]


def _check_t(t: float) -> float:
    t = float(t)
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"t must lie in [0, 1], got {t}")
    return t


def _check_codes_labels(codes: Any, labels: Any, latent_dim: int | None = None):
    codes = _as_batch(codes, "codes")
    labels_array = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels)
    if labels_array.ndim != 1 or labels_array.shape[0] != codes.shape[0]:
        raise ValueError(
            f"labels must have shape ({codes.shape[0]},) to match codes, got {labels_array.shape}"
        )
    if labels_array.dtype.kind not in "iu":
        raise TypeError(f"labels must be integers (digit classes), got dtype {labels_array.dtype}")
    if latent_dim is not None and codes.shape[1] != latent_dim:
        raise ValueError(f"codes must have {latent_dim} columns, got shape {codes.shape}")
    return codes, labels_array.astype(np.int64)


def _check_images(images: Any, count: int) -> np.ndarray:
    """Test images as float32 (N, 28, 28) in [0, 1] (accepts (N, 1, 28, 28) or (N, 784))."""
    if isinstance(images, torch.Tensor):
        images = images.detach().cpu().numpy()
    array = np.asarray(images, dtype=np.float32)
    if array.ndim == 2 and array.shape[1] == PIXELS:
        array = array.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    if array.ndim == 4 and array.shape[1] == 1:
        array = array[:, 0]
    if array.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE) or array.shape[0] != count:
        raise ValueError(
            f"images must have shape ({count}, 1, 28, 28), ({count}, 28, 28) or ({count}, 784), "
            f"got {np.shape(images)}"
        )
    return array


# ----------------------------------------------------------------------------------------------
# Plain functions: decoding and PNG bytes
# ----------------------------------------------------------------------------------------------


def _logits(decode: Decoder, points: torch.Tensor) -> torch.Tensor:
    """``decode(points)``, checked to be a tensor of shape (N, 784)."""
    logits = decode(points)
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"decode must return a torch.Tensor, got {type(logits)}")
    if logits.shape != (points.shape[0], PIXELS):
        raise ValueError(
            f"decode must return logits of shape ({points.shape[0]}, {PIXELS}), "
            f"got {tuple(logits.shape)}"
        )
    return logits


def decode_images(decode: Decoder, z: Any) -> np.ndarray:
    """Decode latent points to Bernoulli-mean images (notebook 06, the decoder p_θ(x|z)).

    Args:
        decode: ``z (N, k) float32 tensor -> logits (N, 784)``.
        z: latent points, shape (N, k) or (k,).

    Returns:
        float32 array (N, 28, 28) with pixel probabilities ``sigmoid(logits)`` in [0, 1].
    """
    if not callable(decode):
        raise TypeError(f"decode must be callable z (N, k) -> logits (N, 784), got {type(decode)}")
    batch = _as_batch(z, "z")
    points = torch.as_tensor(batch, dtype=torch.float32)
    with torch.inference_mode():
        if points.shape[0] <= ROW_BY_ROW_MAX:
            # One row at a time: a single-row forward pass stays on one thread, where a small
            # batch wakes torch's thread pool and, on a busy machine, waits for a time slice
            # (measured here: 0.05 ms per row against 40 ms for a batch of 9 under load).
            logits = torch.cat([_logits(decode, points[i : i + 1]) for i in range(len(points))])
        else:
            logits = _logits(decode, points)
        probabilities = torch.sigmoid(logits.float()).cpu().numpy()
    return probabilities.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Grey levels in [0, 1] -> uint8 by ``round(255 * clip(p, 0, 1))``."""
    return np.rint(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def image_to_png(image: Any, scale: int = DEFAULT_SCALE) -> bytes:
    """One grey image (H, W) in [0, 1], or an RGB uint8 image (H, W, 3), as PNG bytes.

    The image is upscaled ``scale`` times by nearest neighbour (28x28 -> 112x112 at 4), so
    every model pixel stays a sharp square.
    """
    from PIL import Image

    scale = _checks.positive_int(scale, "scale")
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 3 and array.dtype == np.uint8:
        picture = Image.fromarray(array)
    elif array.ndim == 2:
        if array.dtype.kind != "f":
            raise TypeError(f"a grey image must be float in [0, 1], got dtype {array.dtype}")
        picture = Image.fromarray(to_uint8(array))
    else:
        raise ValueError(
            f"image must be grey (H, W) float or RGB (H, W, 3) uint8, got shape {array.shape} "
            f"dtype {array.dtype}"
        )
    if scale != 1:
        picture = picture.resize(
            (picture.width * scale, picture.height * scale), Image.Resampling.NEAREST
        )
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def png_to_array(png: bytes) -> np.ndarray:
    """Decode PNG bytes to a uint8 array ((H, W) grey or (H, W, 3) RGB); used by tests."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as picture:
        picture.load()
        return np.asarray(picture).copy()


def decode_to_png(decode: Decoder, z: Any, scale: int = DEFAULT_SCALE) -> bytes:
    """Decode one latent point ``z`` (k,) to PNG bytes of its (28*scale)^2 image."""
    return image_to_png(decode_images(decode, _as_vector(z, "z"))[0], scale=scale)


# ----------------------------------------------------------------------------------------------
# Plain functions: interpolation
# ----------------------------------------------------------------------------------------------


def lerp(z0: Any, z1: Any, t: float) -> np.ndarray:
    """Linear interpolation ``(1 - t) z0 + t z1`` for t in [0, 1]; vectors of shape (k,)."""
    a, b = _as_vector(z0, "z0"), _as_vector(z1, "z1")
    if a.shape != b.shape:
        raise ValueError(f"z0 and z1 must have the same shape, got {a.shape} and {b.shape}")
    t = _check_t(t)
    return (1.0 - t) * a + t * b


def slerp(z0: Any, z1: Any, t: float) -> np.ndarray:
    """Spherical linear interpolation (Shoemake 1985; White 2016 for generative models).

    With Ω the angle between z0 and z1,

        slerp(z0, z1; t) = sin((1 - t) Ω) / sin Ω · z0 + sin(t Ω) / sin Ω · z1.

    The angle to z0 grows linearly, t Ω, and for two vectors of equal norm the path keeps that
    norm (it runs along a great circle), where the straight line would cut through the
    low-probability region near the origin of N(0, I_k). Falls back to :func:`lerp` when the
    vectors are (nearly) parallel; antiparallel vectors have no unique great circle and raise.
    """
    a, b = _as_vector(z0, "z0"), _as_vector(z1, "z1")
    if a.shape != b.shape:
        raise ValueError(f"z0 and z1 must have the same shape, got {a.shape} and {b.shape}")
    t = _check_t(t)
    norm_a, norm_b = np.linalg.norm(a), np.linalg.norm(b)
    if norm_a == 0.0 or norm_b == 0.0:
        raise ValueError("slerp needs two non-zero vectors: the angle to the zero vector is undefined")
    cosine = float(np.clip(a @ b / (norm_a * norm_b), -1.0, 1.0))
    omega = float(np.arccos(cosine))
    if omega < 1e-6:
        return lerp(a, b, t)
    if np.pi - omega < 1e-6:
        raise ValueError("slerp is undefined for antiparallel vectors (no unique great circle)")
    sin_omega = np.sin(omega)
    return (np.sin((1.0 - t) * omega) / sin_omega) * a + (np.sin(t * omega) / sin_omega) * b


def interpolate(z0: Any, z1: Any, t: float, method: str = "linear") -> np.ndarray:
    """``lerp`` or ``slerp`` by name: method in ``INTERPOLATION_METHODS``."""
    if method == "linear":
        return lerp(z0, z1, t)
    if method == "spherical":
        return slerp(z0, z1, t)
    raise ValueError(f"method must be one of {INTERPOLATION_METHODS}, got {method!r}")


# ----------------------------------------------------------------------------------------------
# Plain functions: the 2-D latent map
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LatentMapFrame:
    """Maps a latent rectangle onto a ``width`` x ``height`` pixel picture and back.

    Pixel coordinates are continuous: (0, 0) is the top-left corner of the picture, x grows to
    the right and y downwards; latent y grows upwards, as on a plot. Pixel (px, py) shows the
    latent point ``(x_min + px / width * (x_max - x_min), y_max - py / height * (y_max - y_min))``.
    """

    x_min: float
    x_max: float
    y_min: float
    y_max: float
    width: int = 320
    height: int = 320

    def __post_init__(self) -> None:
        if not (np.isfinite([self.x_min, self.x_max, self.y_min, self.y_max]).all()):
            raise ValueError("the latent rectangle must be finite")
        if not (self.x_max > self.x_min and self.y_max > self.y_min):
            raise ValueError(
                f"need x_min < x_max and y_min < y_max, got x [{self.x_min}, {self.x_max}], "
                f"y [{self.y_min}, {self.y_max}]"
            )
        if int(self.width) < 2 or int(self.height) < 2:
            raise ValueError(f"width and height must be >= 2 pixels, got {self.width}x{self.height}")

    @classmethod
    def around(
        cls, codes: Any, size: int = 320, coverage: float = 0.99, margin: float = 0.08
    ) -> LatentMapFrame:
        """A square frame centred on 2-D ``codes`` (N, 2) that shows the central ``coverage``
        of them on each axis, plus a ``margin`` (fraction of the span) on every side."""
        codes = _as_batch(codes, "codes")
        if codes.shape[1] != 2:
            raise ValueError(f"a latent map needs 2-D codes of shape (N, 2), got {codes.shape}")
        if not 0.0 < coverage <= 1.0:
            raise ValueError(f"coverage must lie in (0, 1], got {coverage}")
        tail = (1.0 - coverage) / 2.0
        low = np.quantile(codes, tail, axis=0)
        high = np.quantile(codes, 1.0 - tail, axis=0)
        centre = (low + high) / 2.0
        half = max(float(np.max(high - low)) / 2.0, 1e-3) * (1.0 + 2.0 * margin)
        return cls(
            float(centre[0] - half), float(centre[0] + half),
            float(centre[1] - half), float(centre[1] + half),
            int(size), int(size),
        )

    def pixel_to_latent(self, pixels: Any) -> np.ndarray:
        """Pixel coordinates (N, 2) or (2,) as (px, py) -> latent points of the same shape."""
        array = np.asarray(pixels, dtype=np.float64)
        if array.shape[-1:] != (2,) or array.ndim > 2:
            raise ValueError(f"pixels must have shape (N, 2) or (2,), got {array.shape}")
        x = self.x_min + array[..., 0] / self.width * (self.x_max - self.x_min)
        y = self.y_max - array[..., 1] / self.height * (self.y_max - self.y_min)
        return np.stack([x, y], axis=-1)

    def latent_to_pixel(self, z: Any) -> np.ndarray:
        """Latent points (N, 2) or (2,) -> continuous pixel coordinates (px, py)."""
        array = np.asarray(z, dtype=np.float64)
        if array.shape[-1:] != (2,) or array.ndim > 2:
            raise ValueError(f"z must have shape (N, 2) or (2,), got {array.shape}")
        px = (array[..., 0] - self.x_min) / (self.x_max - self.x_min) * self.width
        py = (self.y_max - array[..., 1]) / (self.y_max - self.y_min) * self.height
        return np.stack([px, py], axis=-1)

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """``(x_min, x_max, y_min, y_max)``, as matplotlib's ``imshow(extent=...)`` wants it."""
        return (self.x_min, self.x_max, self.y_min, self.y_max)


def render_latent_map(
    codes: Any, labels: Any, frame: LatentMapFrame, dot_radius: int = 1, seed: int = 0
) -> np.ndarray:
    """Draw 2-D codes as dots coloured by digit on a white RGB uint8 (height, width, 3) picture.

    Colours are ``helpers.plotting.digit_colors`` (DIGIT_CMAP). Each code lands on the pixel ``floor(frame.latent_to_pixel(code))`` and covers a square of
    side ``2 * dot_radius + 1``; codes outside the frame are left out. Dots are painted in a
    seeded random order so that no digit class always lies on top.
    """
    codes, labels = _check_codes_labels(codes, labels, latent_dim=2)
    if not isinstance(dot_radius, int) or dot_radius < 0:
        raise ValueError(f"dot_radius must be a non-negative integer, got {dot_radius!r}")
    picture = np.full((frame.height, frame.width, 3), 255, dtype=np.uint8)
    order = np.random.default_rng(seed).permutation(codes.shape[0])
    pixels = np.floor(frame.latent_to_pixel(codes[order])).astype(np.int64)
    colours = np.rint(digit_colors(labels[order])[:, :3] * 255).astype(np.uint8)
    for dy in range(-dot_radius, dot_radius + 1):
        for dx in range(-dot_radius, dot_radius + 1):
            px, py = pixels[:, 0] + dx, pixels[:, 1] + dy
            inside = (px >= 0) & (px < frame.width) & (py >= 0) & (py < frame.height)
            picture[py[inside], px[inside]] = colours[inside]
    return picture


def mark_point(picture: np.ndarray, pixel: Sequence[float], radius: int = 7) -> np.ndarray:
    """A copy of an RGB picture with a black-and-white ring and cross centred on ``pixel``."""
    from PIL import Image, ImageDraw

    base = Image.fromarray(np.asarray(picture, dtype=np.uint8))
    draw = ImageDraw.Draw(base)
    x, y = float(pixel[0]), float(pixel[1])
    for width, colour in ((4, (255, 255, 255)), (2, (0, 0, 0))):
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), outline=colour, width=width)
        draw.line((x - 2 * radius, y, x - radius, y), fill=colour, width=width)
        draw.line((x + radius, y, x + 2 * radius, y), fill=colour, width=width)
        draw.line((x, y - 2 * radius, x, y - radius), fill=colour, width=width)
        draw.line((x, y + radius, x, y + 2 * radius), fill=colour, width=width)
    return np.asarray(base).copy()


# ----------------------------------------------------------------------------------------------
# Plain functions: which dimensions matter, traversals
# ----------------------------------------------------------------------------------------------


def top_dimensions_by_kl(mu: Any, logvar: Any, count: int = 10) -> np.ndarray:
    """Indices of the ``count`` latent dimensions with the largest average KL, largest first.

    The KL of dimension j is ``helpers.vi.gaussian_kl_per_dimension`` (notebook 05's closed
    form) averaged over the N encoded images; a dimension with KL near zero is not used.

    Args:
        mu, logvar: (N, k) posterior parameters of N images (arrays or tensors).

    Returns:
        int64 array (count,).
    """
    mu_array, logvar_array = _as_batch(mu, "mu"), _as_batch(logvar, "logvar")
    if mu_array.shape != logvar_array.shape:
        raise ValueError(f"mu and logvar must match, got {mu_array.shape} and {logvar_array.shape}")
    kl = gaussian_kl_per_dimension(torch.from_numpy(mu_array), torch.from_numpy(logvar_array))
    kl = kl.mean(dim=0).numpy()
    if not isinstance(count, int) or not 1 <= count <= kl.shape[0]:
        raise ValueError(f"count must be an integer in [1, {kl.shape[0]}], got {count!r}")
    return np.argsort(-kl, kind="stable")[:count]


def traversal_latents(z: Any, dim: int, values: Any) -> np.ndarray:
    """Copies of ``z`` (k,) with coordinate ``dim`` set to each of ``values`` (V,): shape (V, k).

    Every other coordinate keeps its value, so the decoded row shows what dimension ``dim``
    alone does to this image.
    """
    base = _as_vector(z, "z")
    if not isinstance(dim, int | np.integer) or isinstance(dim, bool):
        raise TypeError(f"dim must be an integer, got {type(dim).__name__}")
    if not 0 <= dim < base.shape[0]:
        raise ValueError(f"dim must lie in [0, {base.shape[0] - 1}], got {dim}")
    sweep = _as_vector(values, "values")
    latents = np.repeat(base[None, :], sweep.shape[0], axis=0)
    latents[:, dim] = sweep
    return latents


# ----------------------------------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------------------------------


def time_slider_updates(explorer: Explorer, slider: Any, values: Sequence[float]) -> np.ndarray:
    """Kernel-side seconds from a new slider value to new PNG bytes, one per value.

    Sets ``slider.value`` to each value in turn (its observer runs synchronously and writes the
    new PNG into ``explorer.image``) and checks after each that the image bytes changed.
    """
    seconds = []
    for value in values:
        before = explorer.image.value
        start = time.perf_counter()
        slider.value = value
        elapsed = time.perf_counter() - start
        if explorer.image.value == before:
            raise RuntimeError(f"setting the slider to {value} did not change the decoded image")
        seconds.append(elapsed)
    return np.asarray(seconds)


# ----------------------------------------------------------------------------------------------
# Widgets
# ----------------------------------------------------------------------------------------------


@dataclass
class Explorer:
    """A built widget and the parts a notebook or a test needs to drive it.

    Attributes:
        widget: the box to display (displaying the Explorer displays it).
        image: the ``ipywidgets.Image`` whose PNG changes (CSS class ``vae-decoded``).
        controls: name -> control widget (sliders, dropdowns).
        title: what the widget shows, for the plain-text view of a notebook without a kernel.
        z: the latent point (or points) decoded last, shape (k,).
        handle_click: for the latent map, the click handler (takes an ipyevents event dict).
    """

    widget: Any
    image: Any
    controls: dict[str, Any]
    title: str = "Latent-space explorer"
    z: np.ndarray | None = None
    handle_click: Callable[[dict], None] | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = self.widget._repr_mimebundle_(**kwargs)
        if isinstance(bundle, dict):  # a short text for viewers without a kernel
            bundle["text/plain"] = (
                f"{self.title} (a live widget: run the notebook in JupyterLab; "
                "the static figure below shows the same view)"
            )
        return bundle


def _decoded_image(scale: int, css_class: str | None = None):
    import ipywidgets as widgets

    side = IMAGE_SIDE * scale
    image = widgets.Image(format="png", width=side, height=side)
    image.layout.width = f"{side}px"
    image.layout.height = f"{side}px"
    image.add_class(CSS_CLASSES["decoded"])
    if css_class:
        image.add_class(css_class)
    return image


def _latent_slider(description: str, value: float, limit: float, step: float):
    import ipywidgets as widgets

    return widgets.FloatSlider(
        value=float(np.clip(value, -limit, limit)),
        min=-limit,
        max=limit,
        step=step,
        description=description,
        continuous_update=True,
        readout_format=".2f",
        style={"description_width": "60px"},
        layout=widgets.Layout(width="320px"),
    )


def latent_slider_explorer(
    decode: Decoder,
    base_z: Any,
    dims: Sequence[int] | None = None,
    limit: float = 3.0,
    step: float = 0.05,
    scale: int = DEFAULT_SCALE,
    labels: Sequence[str] | None = None,
) -> Explorer:
    """One slider per chosen latent dimension, decoding live as a slider moves (notebook 07 §2).

    Args:
        decode: ``z (N, k) -> logits (N, 784)``.
        base_z: the starting latent point (k,); dimensions without a slider keep its values.
        dims: which dimensions get a slider (default: all); at most 16.
        limit: sliders run over [-limit, limit] (the prior N(0, 1) puts 99.7 % of its mass in
            [-3, 3]).
        labels: optional slider descriptions, one per dim (default ``z[j]``).

    CSS class of the box: ``vae-latent-sliders``; sliders carry ``vae-slider-<j>``.
    """
    import ipywidgets as widgets

    base = _as_vector(base_z, "base_z")
    dims = list(range(base.shape[0])) if dims is None else [int(d) for d in dims]
    if not dims or len(dims) > 16:
        raise ValueError(f"give between 1 and 16 dims, got {len(dims)}")
    if len(set(dims)) != len(dims) or not all(0 <= d < base.shape[0] for d in dims):
        raise ValueError(f"dims must be distinct indices in [0, {base.shape[0] - 1}], got {dims}")
    if labels is not None and len(labels) != len(dims):
        raise ValueError(f"labels must have one entry per dim ({len(dims)}), got {len(labels)}")
    if not limit > 0 or not step > 0:
        raise ValueError(f"limit and step must be positive, got limit={limit}, step={step}")
    scale = _checks.positive_int(scale, "scale")

    image = _decoded_image(scale)
    sliders = []
    for position, dim in enumerate(dims):
        description = labels[position] if labels is not None else f"z[{dim}]"
        slider = _latent_slider(description, base[dim], limit, step)
        slider.add_class(f"vae-slider-{dim}")
        sliders.append(slider)
    explorer = Explorer(
        widget=None, image=image, controls={f"z{d}": s for d, s in zip(dims, sliders, strict=True)},
        title=f"Latent sliders for {len(dims)} of {base.shape[0]} dimensions",
    )

    def update(_change: Any = None) -> None:
        z = base.copy()
        for dim, slider in zip(dims, sliders, strict=True):
            z[dim] = slider.value
        explorer.z = z
        image.value = decode_to_png(decode, z, scale=scale)

    for slider in sliders:
        slider.observe(update, names="value")
    update()
    explorer.widget = widgets.HBox(
        [widgets.VBox(sliders), image], layout=widgets.Layout(align_items="center")
    )
    explorer.widget.add_class(CSS_CLASSES["sliders"])
    return explorer


def latent_map_explorer(
    decode: Decoder,
    codes: Any,
    labels: Any,
    frame: LatentMapFrame | None = None,
    start: Sequence[float] = (0.0, 0.0),
    scale: int = DEFAULT_SCALE,
    step: float = 0.01,
) -> Explorer:
    """A 2-D latent map of coded images (coloured by digit); a click picks the point to decode.

    The map is a pre-rendered picture (:func:`render_latent_map`) in an ``ipywidgets.Image``;
    ipyevents reports the clicked pixel, :meth:`LatentMapFrame.pixel_to_latent` turns it into
    z, and the marker is redrawn with PIL. Two sliders (z[0], z[1]) show the point and are the
    fallback where the front end cannot send clicks: moving them moves the marker too.

    Args:
        codes: (N, 2) latent means of the images; labels: (N,) digit classes.
        frame: the latent rectangle shown (default: :meth:`LatentMapFrame.around` the codes).

    CSS classes: box ``vae-latent-map``, map picture ``vae-map-image``, decoded ``vae-decoded``.
    """
    import ipywidgets as widgets

    codes, labels = _check_codes_labels(codes, labels, latent_dim=2)
    frame = LatentMapFrame.around(codes) if frame is None else frame
    start_z = _as_vector(start, "start")
    if start_z.shape != (2,):
        raise ValueError(f"start must be a 2-D latent point, got shape {start_z.shape}")
    scale = _checks.positive_int(scale, "scale")
    base_picture = render_latent_map(codes, labels, frame)

    map_image = widgets.Image(format="png", width=frame.width, height=frame.height)
    map_image.layout.width = f"{frame.width}px"
    map_image.layout.height = f"{frame.height}px"
    map_image.add_class(CSS_CLASSES["map_image"])
    image = _decoded_image(scale)
    slider_x = widgets.FloatSlider(
        value=float(np.clip(start_z[0], frame.x_min, frame.x_max)), min=frame.x_min,
        max=frame.x_max, step=step, description="z[0]", readout_format=".2f",
        continuous_update=True,
    )
    slider_y = widgets.FloatSlider(
        value=float(np.clip(start_z[1], frame.y_min, frame.y_max)), min=frame.y_min,
        max=frame.y_max, step=step, description="z[1]", readout_format=".2f",
        continuous_update=True,
    )
    slider_x.add_class("vae-slider-0")
    slider_y.add_class("vae-slider-1")
    status = widgets.HTML(value="")
    status.add_class(CSS_CLASSES["status"])
    explorer = Explorer(
        widget=None, image=image, controls={"z0": slider_x, "z1": slider_y},
        title=f"Latent map of {codes.shape[0]:,} codes; click to decode",
        extras={"map_image": map_image, "frame": frame, "status": status, "clicks": 0},
    )
    holding = {"active": False}

    def show(z: np.ndarray) -> None:
        explorer.z = z
        image.value = decode_to_png(decode, z, scale=scale)
        map_image.value = image_to_png(mark_point(base_picture, frame.latent_to_pixel(z)), scale=1)
        status.value = f"z = ({z[0]:.2f}, {z[1]:.2f}); clicks: {explorer.extras['clicks']}"

    def update(_change: Any = None) -> None:
        """A slider moved. The front end rounds a value set from a click to the slider's step
        and sends it back; such an echo (within half a step of the point shown) is ignored."""
        if holding["active"]:
            return
        z = np.array([slider_x.value, slider_y.value])
        if explorer.z is not None and np.all(np.abs(z - explorer.z) <= step / 2):
            return
        show(z)

    def handle_click(event: dict) -> None:
        """ipyevents click -> latent point; dataX/dataY are in the picture's own pixels."""
        px = event.get("dataX", event.get("relativeX"))
        py = event.get("dataY", event.get("relativeY"))
        if px is None or py is None:
            return
        z = frame.pixel_to_latent(np.array([px, py], dtype=np.float64))
        z = np.clip(z, [frame.x_min, frame.y_min], [frame.x_max, frame.y_max])
        explorer.extras["clicks"] += 1
        show(z)
        holding["active"] = True
        try:  # the sliders follow the click without decoding again
            slider_x.value, slider_y.value = float(z[0]), float(z[1])
        finally:
            holding["active"] = False

    slider_x.observe(update, names="value")
    slider_y.observe(update, names="value")
    explorer.handle_click = handle_click
    show(np.array([slider_x.value, slider_y.value]))
    try:
        from ipyevents import Event
    except ImportError:  # the sliders remain as the fallback
        explorer.extras["events"] = None
        status.value += " (ipyevents missing: use the sliders)"
    else:
        events = Event(source=map_image, watched_events=["click"], prevent_default_action=True)
        events.on_dom_event(handle_click)
        explorer.extras["events"] = events
    explorer.widget = widgets.HBox(
        [map_image, widgets.VBox([image, slider_x, slider_y, status])],
        layout=widgets.Layout(align_items="center"),
    )
    explorer.widget.add_class(CSS_CLASSES["map"])
    return explorer


def _first_index_of(labels: np.ndarray, digit: int) -> int:
    matches = np.flatnonzero(labels == digit)
    if matches.size == 0:
        raise ValueError(f"no image with digit {digit} among the {labels.shape[0]} given")
    return int(matches[0])


def interpolation_explorer(
    decode: Decoder,
    codes: Any,
    labels: Any,
    images: Any,
    start_index: int = 0,
    end_index: int = 1,
    scale: int = DEFAULT_SCALE,
) -> Explorer:
    """Interpolate between the codes of two images chosen by index or by digit (notebook 07 §4).

    A slider t in [0, 1] and a method switch (linear / spherical) pick the latent point
    ``interpolate(codes[a], codes[b], t, method)``, which is decoded live; the two chosen images
    are shown at the ends. Choosing a digit picks the first image of that digit.

    Args:
        codes: (N, k) latent means; labels: (N,) digits; images: (N, 1, 28, 28) in [0, 1].

    CSS class of the box: ``vae-interpolation``; the t slider carries ``vae-slider-t``.
    """
    import ipywidgets as widgets

    codes, labels = _check_codes_labels(codes, labels)
    pictures = _check_images(images, codes.shape[0])
    scale = _checks.positive_int(scale, "scale")
    count = codes.shape[0]
    for name, index in (("start_index", start_index), ("end_index", end_index)):
        if not 0 <= int(index) < count:
            raise ValueError(f"{name} must lie in [0, {count - 1}], got {index}")

    def endpoint_controls(index: int, title: str):
        index_box = widgets.BoundedIntText(
            value=int(index), min=0, max=count - 1, description=f"{title} #",
            layout=widgets.Layout(width="170px"),
        )
        digit_box = widgets.Dropdown(
            options=[("by index", -1)] + [(str(d), d) for d in range(10)], value=-1,
            description="digit", layout=widgets.Layout(width="170px"),
        )
        picture = _decoded_image(scale, "vae-endpoint")
        picture.remove_class(CSS_CLASSES["decoded"])
        return index_box, digit_box, picture

    start_box, start_digit, start_picture = endpoint_controls(start_index, "from")
    end_box, end_digit, end_picture = endpoint_controls(end_index, "to")
    method = widgets.ToggleButtons(options=list(INTERPOLATION_METHODS), value="linear")
    t_slider = widgets.FloatSlider(
        value=0.5, min=0.0, max=1.0, step=0.02, description="t", readout_format=".2f",
        continuous_update=True, layout=widgets.Layout(width="320px"),
    )
    t_slider.add_class("vae-slider-t")
    image = _decoded_image(scale)
    status = widgets.HTML(value="")
    status.add_class(CSS_CLASSES["status"])
    explorer = Explorer(
        widget=None, image=image,
        controls={"start": start_box, "end": end_box, "start_digit": start_digit,
                  "end_digit": end_digit, "method": method, "t": t_slider},
        title="Interpolation between two images (linear or spherical)",
        extras={"status": status},
    )

    def update(_change: Any = None) -> None:
        a, b = int(start_box.value), int(end_box.value)
        z = interpolate(codes[a], codes[b], t_slider.value, method.value)
        explorer.z = z
        image.value = decode_to_png(decode, z, scale=scale)
        status.value = (
            f"digits {labels[a]} → {labels[b]}, t = {t_slider.value:.2f}, "
            f"|z| = {np.linalg.norm(z):.2f} (ends {np.linalg.norm(codes[a]):.2f}, "
            f"{np.linalg.norm(codes[b]):.2f})"
        )

    def update_endpoints(_change: Any = None) -> None:
        start_picture.value = image_to_png(pictures[int(start_box.value)], scale=scale)
        end_picture.value = image_to_png(pictures[int(end_box.value)], scale=scale)
        update()

    def pick_digit(index_box: Any) -> Callable[[Any], None]:
        def handler(change: Any) -> None:
            if change["new"] >= 0:
                index_box.value = _first_index_of(labels, int(change["new"]))
        return handler

    start_digit.observe(pick_digit(start_box), names="value")
    end_digit.observe(pick_digit(end_box), names="value")
    start_box.observe(update_endpoints, names="value")
    end_box.observe(update_endpoints, names="value")
    method.observe(update, names="value")
    t_slider.observe(update, names="value")
    update_endpoints()
    explorer.widget = widgets.VBox([
        widgets.HBox([
            widgets.VBox([start_box, start_digit, start_picture]),
            widgets.VBox([t_slider, method, image, status],
                         layout=widgets.Layout(align_items="center")),
            widgets.VBox([end_box, end_digit, end_picture]),
        ]),
    ])
    explorer.widget.add_class(CSS_CLASSES["interpolation"])
    return explorer


def traversal_explorer(
    decode: Decoder,
    codes: Any,
    labels: Any,
    images: Any,
    dims: Sequence[int],
    index: int = 0,
    limit: float = 3.0,
    steps: int = 9,
    scale: int = 3,
) -> Explorer:
    """Encode an image, then sweep one chosen latent dimension (notebook 07 §5).

    Shows the image, and a strip of ``steps`` decodes of ``traversal_latents(codes[index], dim,
    linspace(-limit, limit, steps))``: only coordinate ``dim`` changes along the strip.

    Args:
        codes: (N, k) latent means; labels: (N,); images: (N, 1, 28, 28).
        dims: the dimensions offered in the dropdown (e.g. the top ones by KL).

    CSS class of the box: ``vae-traversal``; the strip carries ``vae-decoded``.
    """
    import ipywidgets as widgets

    codes, labels = _check_codes_labels(codes, labels)
    pictures = _check_images(images, codes.shape[0])
    scale = _checks.positive_int(scale, "scale")
    dims = [int(d) for d in dims]
    if not dims or not all(0 <= d < codes.shape[1] for d in dims):
        raise ValueError(f"dims must be indices in [0, {codes.shape[1] - 1}], got {dims}")
    if not isinstance(steps, int) or steps < 2:
        raise ValueError(f"steps must be an integer >= 2, got {steps!r}")
    if not 0 <= int(index) < codes.shape[0]:
        raise ValueError(f"index must lie in [0, {codes.shape[0] - 1}], got {index}")
    values = np.linspace(-limit, limit, steps)

    index_box = widgets.BoundedIntText(
        value=int(index), min=0, max=codes.shape[0] - 1, description="image #",
        layout=widgets.Layout(width="170px"),
    )
    dim_box = widgets.Dropdown(
        options=[(f"z[{d}]", d) for d in dims], value=dims[0], description="sweep",
        layout=widgets.Layout(width="170px"),
    )
    original = _decoded_image(DEFAULT_SCALE, "vae-original")
    original.remove_class(CSS_CLASSES["decoded"])
    strip_width = steps * (IMAGE_SIDE + 1) + 1
    image = widgets.Image(format="png", width=strip_width * scale)
    image.add_class(CSS_CLASSES["decoded"])
    status = widgets.HTML(value="")
    status.add_class(CSS_CLASSES["status"])
    explorer = Explorer(
        widget=None, image=image, controls={"index": index_box, "dim": dim_box},
        title="Latent traversal of an encoded image",
        extras={"status": status, "values": values},
    )

    def update(_change: Any = None) -> None:
        row = int(index_box.value)
        latents = traversal_latents(codes[row], int(dim_box.value), values)
        explorer.z = latents
        original.value = image_to_png(pictures[row], scale=DEFAULT_SCALE)
        strip = tile_images(decode_images(decode, latents), nrow=steps).astype(np.float32)
        image.value = image_to_png(strip, scale=scale)
        status.value = (
            f"digit {labels[row]}: z[{dim_box.value}] swept over {values[0]:.1f} … "
            f"{values[-1]:.1f} ({steps} steps); encoded value {codes[row, dim_box.value]:.2f}"
        )

    index_box.observe(update, names="value")
    dim_box.observe(update, names="value")
    update()
    explorer.widget = widgets.VBox([
        widgets.HBox([widgets.VBox([index_box, dim_box]), original]), image, status,
    ])
    explorer.widget.add_class(CSS_CLASSES["traversal"])
    return explorer
