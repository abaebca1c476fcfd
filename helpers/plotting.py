"""Figures shared by the whole series: image grids, learning curves, latent scatters.

Every function validates its input and says what it expected and what arrived. Functions that
draw one panel take ``ax=None`` (a new figure is made when it is ``None``) and return the
``matplotlib.axes.Axes`` they drew into; ``ax.figure`` is the Figure. Digit classes always use
:data:`DIGIT_CMAP` so that a "3" has the same colour in every notebook.

Nothing happens at import time: pyplot is imported inside the functions that need a figure,
so importing this module never picks a backend.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib as mpl
import numpy as np

DIGIT_CMAP = "tab10"
"""The one colour map for digit classes 0-9 across the series (explained in notebook 02)."""

NUM_DIGITS = 10

SERIES_RCPARAMS: dict[str, Any] = {
    # Lean stored notebooks: small pixel counts, PNG output.
    "figure.dpi": 80,
    "savefig.dpi": 80,
    "figure.figsize": (6.0, 4.0),
    "figure.constrained_layout.use": True,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.labelsize": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linestyle": "-",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "legend.fontsize": 9,
    "image.cmap": "gray",
    "image.interpolation": "nearest",
}
"""The rcParams :func:`use_series_style` applies (notebook 00 describes the conventions)."""


# --------------------------------------------------------------------------------------------
# Style and colours
# --------------------------------------------------------------------------------------------


def use_series_style() -> dict[str, Any]:
    """Apply the series' matplotlib style (called by ``helpers.notebook.setup_notebook``).

    Imports pyplot first, so that a Jupyter inline backend has applied its own rc settings
    before ours override them. Returns the dictionary of rcParams that was applied.
    """
    import matplotlib.pyplot  # noqa: F401  (activates the backend before rcParams change)

    mpl.rcParams.update(SERIES_RCPARAMS)
    return dict(SERIES_RCPARAMS)


def digit_colors(labels: Any = None) -> np.ndarray:
    """RGBA colours of digit classes under :data:`DIGIT_CMAP` (notebook 02).

    Args:
        labels: ``None`` for the ten class colours, or integer labels of shape ``(N,)``
            with values in ``0..9`` (NumPy array, list or torch tensor).

    Returns:
        Float array of shape ``(10, 4)`` (``labels is None``) or ``(N, 4)``, RGBA in [0, 1].
    """
    palette = np.asarray(mpl.colormaps[DIGIT_CMAP].colors, dtype=float)[:NUM_DIGITS]
    palette = np.concatenate([palette[:, :3], np.ones((NUM_DIGITS, 1))], axis=1)
    if labels is None:
        return palette
    labels_np = _as_label_array(labels, "labels")
    return palette[labels_np]


# --------------------------------------------------------------------------------------------
# Input checking
# --------------------------------------------------------------------------------------------


def _to_numpy(array: Any, name: str) -> np.ndarray:
    """Convert a NumPy array, torch tensor or nested list into a NumPy array."""
    if hasattr(array, "detach") and hasattr(array, "cpu"):  # a torch tensor, without importing torch
        array = array.detach().cpu().numpy()
    try:
        result = np.asarray(array)
    except Exception as error:  # noqa: BLE001  (re-raised with a clearer message)
        raise TypeError(
            f"{name} must be a NumPy array or torch tensor, got {type(array).__name__}"
        ) from error
    if result.dtype == object:
        raise TypeError(f"{name} must hold numbers, got an array of Python objects")
    return result


def _as_label_array(labels: Any, name: str, length: int | None = None) -> np.ndarray:
    labels_np = _to_numpy(labels, name)
    if labels_np.ndim != 1:
        raise ValueError(f"{name} must have shape (N,), got shape {labels_np.shape}")
    if length is not None and labels_np.shape[0] != length:
        raise ValueError(
            f"{name} must have one entry per point: expected {length}, got {labels_np.shape[0]}"
        )
    if labels_np.size and not np.issubdtype(labels_np.dtype, np.integer):
        if not np.all(np.mod(labels_np, 1) == 0):
            raise TypeError(f"{name} must be integer digit classes, got dtype {labels_np.dtype}")
        labels_np = labels_np.astype(np.int64)
    if labels_np.size and (labels_np.min() < 0 or labels_np.max() >= NUM_DIGITS):
        raise ValueError(
            f"{name} must lie in 0..{NUM_DIGITS - 1}, got values from "
            f"{labels_np.min()} to {labels_np.max()}"
        )
    return labels_np.astype(np.int64)


def as_image_batch(images: Any, name: str = "images") -> np.ndarray:
    """Bring a batch of grey images to a float array of shape ``(N, H, W)``.

    Accepts ``(N, 1, H, W)``, ``(N, H, W)`` and flat ``(N, 784)`` (read as 28x28 MNIST images),
    as NumPy arrays or torch tensors. Raises ``ValueError`` for any other shape and for an
    empty batch.
    """
    array = _to_numpy(images, name)
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    if array.ndim == 4 and array.shape[1] == 1:
        batch = array[:, 0]
    elif array.ndim == 3:
        batch = array
    elif array.ndim == 2 and array.shape[1] == 28 * 28:
        batch = array.reshape(-1, 28, 28)
    else:
        raise ValueError(
            f"{name} must have shape (N, 1, H, W), (N, H, W) or (N, 784); got {array.shape}"
        )
    if batch.shape[0] == 0:
        raise ValueError(f"{name} is empty: got shape {array.shape}")
    return batch.astype(float)


def _new_axes(ax: Any, figsize: tuple[float, float] | None) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, new_ax = plt.subplots(figsize=figsize)
    return new_ax


# --------------------------------------------------------------------------------------------
# Image grids
# --------------------------------------------------------------------------------------------


def tile_images(images: Any, nrow: int = 10, padding: int = 1, pad_value: float = 1.0) -> np.ndarray:
    """Tile a batch of images into one 2-D array, row by row (notebook 02).

    Args:
        images: shape ``(N, 1, H, W)``, ``(N, H, W)`` or ``(N, 784)``.
        nrow: images per row of the grid (as in ``torchvision.utils.make_grid``).
        padding: pixels of ``pad_value`` between tiles and around the border.
        pad_value: value of the padding pixels (and of empty cells in the last row).

    Returns:
        Array of shape ``(rows * (H + padding) + padding, cols * (W + padding) + padding)``
        with ``cols = min(nrow, N)`` and ``rows = ceil(N / cols)``.
    """
    batch = as_image_batch(images)
    if not isinstance(nrow, int | np.integer) or nrow < 1:
        raise ValueError(f"nrow must be a positive integer (images per row), got {nrow!r}")
    if not isinstance(padding, int | np.integer) or padding < 0:
        raise ValueError(f"padding must be a non-negative integer, got {padding!r}")
    count, height, width = batch.shape
    cols = min(int(nrow), count)
    rows = math.ceil(count / cols)
    grid = np.full(
        (rows * (height + padding) + padding, cols * (width + padding) + padding),
        float(pad_value),
    )
    for index in range(count):
        row, col = divmod(index, cols)
        top = padding + row * (height + padding)
        left = padding + col * (width + padding)
        grid[top : top + height, left : left + width] = batch[index]
    return grid


def image_grid(
    images: Any,
    nrow: int = 10,
    ax: Any = None,
    title: str | None = None,
    *,
    padding: int = 1,
    pad_value: float = 1.0,
    cmap: str = "gray",
    vmin: float | None = 0.0,
    vmax: float | None = 1.0,
    figsize: tuple[float, float] | None = None,
) -> Any:
    """Show a batch of images as one tiled picture (notebook 02).

    Args:
        images: ``(N, 1, H, W)``, ``(N, H, W)`` or ``(N, 784)``; pixel values in
            ``[vmin, vmax]`` (``[0, 1]`` for MNIST). Pass ``vmin=vmax=None`` to autoscale.
        nrow: images per row.
        ax: Axes to draw into; a new figure when ``None``.
        title: Axes title.

    Returns:
        The Axes. Its only image (``ax.images[0]``) holds :func:`tile_images` of the input.
    """
    grid = tile_images(images, nrow=nrow, padding=padding, pad_value=pad_value)
    if figsize is None and ax is None:
        scale = 0.03  # inches per grid pixel: ten MNIST digits in a row are about 8.7 inches wide
        figsize = (max(2.0, grid.shape[1] * scale), max(1.0, grid.shape[0] * scale))
    ax = _new_axes(ax, figsize)
    ax.imshow(grid, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    if title is not None:
        ax.set_title(title)
    return ax


def plot_reconstructions(
    originals: Any,
    reconstructions: Any,
    n: int = 10,
    ax: Any = None,
    title: str | None = "Originals (top) and reconstructions (bottom)",
    *,
    row_labels: tuple[str, str] = ("original", "reconstruction"),
    padding: int = 1,
    figsize: tuple[float, float] | None = None,
) -> Any:
    """Originals in the top row, their reconstructions right below (notebook 02).

    Args:
        originals: ``(N, 1, H, W)``, ``(N, H, W)`` or ``(N, 784)``, pixels in [0, 1].
        reconstructions: same number of images and the same image size as ``originals``.
        n: how many pairs to show (the first ``n``; at most ``N``).
        ax: Axes to draw into; a new figure when ``None``.
        title: Axes title.
        row_labels: the y-axis labels of the two rows.

    Returns:
        The Axes; ``ax.images[0]`` holds the 2-row tiling of ``originals[:n]`` above
        ``reconstructions[:n]``.
    """
    top = as_image_batch(originals, "originals")
    bottom = as_image_batch(reconstructions, "reconstructions")
    if top.shape != bottom.shape:
        raise ValueError(
            "originals and reconstructions must have the same number and size of images; "
            f"got {top.shape} and {bottom.shape} (as (N, H, W))"
        )
    if not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    n = min(int(n), top.shape[0])
    stacked = np.concatenate([top[:n], bottom[:n]], axis=0)
    if figsize is None and ax is None:
        figsize = (max(2.0, 0.6 * n + 1.2), 1.6)
    ax = image_grid(stacked, nrow=n, ax=ax, title=title, padding=padding, figsize=figsize)
    height = top.shape[1]
    ax.set_yticks([padding + height / 2 - 0.5, 2 * padding + 1.5 * height - 0.5])
    ax.set_yticklabels(list(row_labels))
    ax.tick_params(axis="y", length=0)
    return ax


# --------------------------------------------------------------------------------------------
# Learning curves
# --------------------------------------------------------------------------------------------


def _epoch_series(records: Sequence[Mapping[str, float]], metric: str, split: str) -> np.ndarray:
    values = []
    for epoch, record in enumerate(records, start=1):
        if metric not in record:
            raise ValueError(
                f"metric {metric!r} is missing from the {split} record of epoch {epoch}; "
                f"available: {sorted(record)}"
            )
        values.append(float(record[metric]))
    return np.asarray(values)


def plot_learning_curves(
    history: Any,
    metrics: Sequence[str] = ("loss",),
    ax: Any = None,
    title: str | None = "Learning curves",
    *,
    label: str | None = None,
    ylabel: str | None = None,
    logy: bool = False,
    color: Any = None,
    figsize: tuple[float, float] | None = None,
) -> Any:
    """Per-epoch curves of a ``helpers.training.History`` (notebooks 01, 02, 06).

    Train values are solid lines with dots; validation values dashed with crosses, in the same colour
    per metric. The x axis counts epochs from 1.

    Args:
        history: anything with ``.train`` and ``.validation``: lists (one entry per epoch) of dicts
            mapping a metric name to a float. ``.validation`` may be empty.
        metrics: metric names to draw (keys of the dicts), e.g. ``("loss",)``.
        ax: Axes to draw into; a new figure when ``None``.
        title: Axes title.
        label: prefix of the legend entries (e.g. ``"k = 2"``), to overlay several runs.
        ylabel: y-axis label; by default the metric names, unless ``ax`` already has a label
            (so overlaying a second run keeps the first run's label).
        logy: logarithmic y axis.
        color: one colour for all curves (useful when overlaying runs); default cycles.

    Returns:
        The Axes, with one ``Line2D`` per (metric, split) in the order train, validation per metric.
    """
    if not (hasattr(history, "train") and hasattr(history, "validation")):
        raise TypeError(
            "history must have .train and .validation (lists of per-epoch dicts, as returned by "
            f"helpers.training.train); got {type(history).__name__}"
        )
    if isinstance(metrics, str):
        metrics = (metrics,)
    if len(metrics) == 0:
        raise ValueError("metrics must name at least one metric, got an empty sequence")
    train_records = list(history.train)
    validation_records = list(history.validation)
    if not train_records and not validation_records:
        raise ValueError("history has no epochs: .train and .validation are both empty")
    ax = _new_axes(ax, figsize)
    prefix = f"{label} " if label else ""
    for metric in metrics:
        line_color = color
        if train_records:
            values = _epoch_series(train_records, metric, "train")
            (line,) = ax.plot(
                np.arange(1, len(values) + 1), values, "-o", markersize=3, color=line_color,
                label=f"{prefix}train {metric}",
            )
            line_color = line.get_color()
        if validation_records:
            values = _epoch_series(validation_records, metric, "validation")
            ax.plot(
                np.arange(1, len(values) + 1), values, "--x", markersize=4, color=line_color,
                label=f"{prefix}validation {metric}",
            )
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    elif not ax.get_ylabel():  # a second run drawn on the same axes keeps the first label
        ax.set_ylabel(", ".join(metrics))
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend()
    if title is not None:
        ax.set_title(title)
    return ax


# --------------------------------------------------------------------------------------------
# Latent codes
# --------------------------------------------------------------------------------------------


def latent_scatter(
    codes: Any,
    labels: Any = None,
    ax: Any = None,
    title: str | None = "Latent codes",
    *,
    size: float = 4.0,
    alpha: float = 0.6,
    legend: bool = True,
    xlabel: str = "$z_1$",
    ylabel: str = "$z_2$",
    figsize: tuple[float, float] | None = None,
) -> Any:
    """Scatter 2-D latent codes, coloured by digit with :data:`DIGIT_CMAP` (notebooks 02, 06).

    Points are drawn in the order given (no shuffling), so ``ax.collections[0]`` holds one face
    colour per input row: ``digit_colors(labels)`` with its alpha set to ``alpha``.

    Args:
        codes: shape ``(N, 2)``.
        labels: integer digit classes of shape ``(N,)`` in ``0..9``, or ``None`` for one grey.
        ax: Axes to draw into; a new figure when ``None``.
        title: Axes title.
        size: marker area in points².
        alpha: marker opacity.
        legend: add a legend with one entry per digit that occurs.

    Returns:
        The Axes.
    """
    points = _to_numpy(codes, "codes").astype(float)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"codes must have shape (N, 2), got {points.shape}")
    if points.shape[0] == 0:
        raise ValueError("codes is empty: got shape (0, 2)")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    if labels is None:
        colors = np.tile(np.array([[0.5, 0.5, 0.5, 1.0]]), (points.shape[0], 1))
        label_array = None
    else:
        label_array = _as_label_array(labels, "labels", length=points.shape[0])
        colors = digit_colors(label_array)
    colors[:, 3] = alpha
    if figsize is None and ax is None:
        figsize = (5.5, 4.5)
    ax = _new_axes(ax, figsize)
    ax.scatter(points[:, 0], points[:, 1], s=size, c=colors, linewidths=0)
    if legend and label_array is not None:
        from matplotlib.lines import Line2D

        palette = digit_colors()
        handles = [
            Line2D([], [], marker="o", linestyle="", color=palette[digit], label=str(digit))
            for digit in np.unique(label_array)
        ]
        ax.legend(handles=handles, title="digit", loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    return ax


# --------------------------------------------------------------------------------------------
# Decision boundaries (notebook 01)
# --------------------------------------------------------------------------------------------


def plot_decision_boundary(
    predict_proba: Callable[[np.ndarray], np.ndarray],
    points: Any,
    labels: Any,
    ax: Any = None,
    title: str | None = "Decision boundary",
    *,
    grid_size: int = 200,
    margin: float = 0.5,
    xlabel: str = "$x_1$",
    ylabel: str = "$x_2$",
    figsize: tuple[float, float] | None = None,
) -> Any:
    """Binary classifier on 2-D inputs: probability map, the 0.5 contour, and the data (notebook 01).

    Args:
        predict_proba: maps a ``(G, 2)`` float64 array to ``(G,)`` probabilities of class 1.
        points: inputs of shape ``(N, 2)``.
        labels: classes 0/1 of shape ``(N,)`` (drawn in :data:`DIGIT_CMAP` colours 0 and 1).
        grid_size: grid points per axis for the probability map.
        margin: extra room around the data, in input units.

    Returns:
        The Axes; ``ax.collections`` holds the filled map, the 0.5 contour and the scatter.
    """
    xy = _to_numpy(points, "points").astype(float)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"points must have shape (N, 2), got {xy.shape}")
    classes = _as_label_array(labels, "labels", length=xy.shape[0])
    if classes.max() > 1:
        raise ValueError(f"labels must be 0 or 1 for a binary boundary, got max {classes.max()}")
    if grid_size < 2:
        raise ValueError(f"grid_size must be at least 2, got {grid_size}")
    x_axis = np.linspace(xy[:, 0].min() - margin, xy[:, 0].max() + margin, grid_size)
    y_axis = np.linspace(xy[:, 1].min() - margin, xy[:, 1].max() + margin, grid_size)
    grid_x, grid_y = np.meshgrid(x_axis, y_axis)
    probabilities = np.asarray(predict_proba(np.column_stack([grid_x.ravel(), grid_y.ravel()])))
    if probabilities.shape != (grid_size * grid_size,):
        raise ValueError(
            f"predict_proba must return shape ({grid_size * grid_size},) for a "
            f"({grid_size * grid_size}, 2) input, got {probabilities.shape}"
        )
    ax = _new_axes(ax, figsize if figsize is not None or ax is not None else (5.0, 4.2))
    from matplotlib.colors import LinearSegmentedColormap

    palette = digit_colors()
    two_class = LinearSegmentedColormap.from_list("two_digits", [palette[0], palette[1]])
    ax.contourf(grid_x, grid_y, probabilities.reshape(grid_size, grid_size), levels=20,
                cmap=two_class, alpha=0.35, vmin=0.0, vmax=1.0)
    ax.contour(grid_x, grid_y, probabilities.reshape(grid_size, grid_size), levels=[0.5],
               colors="k", linewidths=1.5)
    ax.scatter(xy[:, 0], xy[:, 1], c=digit_colors(classes), s=12, edgecolors="k", linewidths=0.3)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(False)
    if title is not None:
        ax.set_title(title)
    return ax
