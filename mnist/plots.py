"""PNG plots of a run: learning curves, image grids with predictions, confusion matrix.

Figures are built with matplotlib's object API (``matplotlib.figure.Figure``) and saved
straight to files, so nothing here ever opens a window. When there is no display the
backend is forced to Agg at import (unless ``MPLBACKEND`` says otherwise); only
:func:`show_png` opens a window, and only if :func:`display_available` says it can.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np


def display_available() -> bool:
    """True when a window can be shown: ``DISPLAY``/``WAYLAND_DISPLAY`` set on Linux/BSD
    (always on macOS/Windows) and an interactive matplotlib backend loads."""
    if sys.platform.startswith(("linux", "freebsd", "openbsd")) and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return False
    try:
        import matplotlib.pyplot as plt

        backend = plt.get_backend().lower()
    except Exception:  # noqa: BLE001 - a broken GUI toolkit means "no display"
        return False
    return backend not in {"agg", "pdf", "ps", "svg", "cairo", "template", "pgf"} and "inline" not in backend


if "MPLBACKEND" not in os.environ and sys.platform.startswith(("linux", "freebsd", "openbsd")) and not (
    os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
):
    matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402  (after choosing the backend)
from matplotlib.ticker import MaxNLocator  # noqa: E402

__all__ = [
    "display_available",
    "display_names",
    "plot_confusion",
    "plot_curves",
    "plot_image_grid",
    "plot_predictions",
    "show_png",
]

GREEN, RED = "#1a7f37", "#cf222e"
#: fonts tried first for characters the default font lacks (e.g. the Chinese MNIST class names)
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei",
             "WenQuanYi Micro Hei", "Droid Sans Fallback", "AR PL UMing CN", "AR PL UKai CN", "SimHei",
             "Microsoft YaHei", "PingFang SC", "Hiragino Sans GB", "IPAGothic")


def _charmap(path: str) -> frozenset[int]:
    from matplotlib.ft2font import FT2Font

    try:
        return frozenset(FT2Font(path).get_charmap())
    except (OSError, RuntimeError, ValueError):
        return frozenset()


def _fonts() -> list[tuple[str, str]]:
    """(family name, file) of the fonts matplotlib knows, the usual CJK families first; the
    "Last Resort" font (a box for every character) is no real glyph source and is left out."""
    from matplotlib import font_manager

    fonts = [(f.name, f.fname) for f in font_manager.fontManager.ttflist if "last resort" not in f.name.lower()]
    rank = {name: k for k, name in enumerate(CJK_FONTS)}
    return sorted(fonts, key=lambda nf: rank.get(nf[0], len(rank)))


_NAME_CACHE: dict[tuple[str, ...], tuple[list[str], str | None]] = {}


def display_names(class_names: Sequence[str], fonts: Sequence[tuple[str, str]] | None = None,
                  default_font: str | None = None) -> tuple[list[str], str | None]:
    """Class names that render, and the font family to draw them with (None: the default font).

    Names whose characters the default font lacks (e.g. 七) are drawn with an installed font that
    has them all; if there is none, those names fall back to their class index -- so a plot never
    shows empty boxes and matplotlib never warns about missing glyphs. ``fonts`` ((family, file)
    pairs) and ``default_font`` (a file) are for tests; by default matplotlib's own are used.
    """
    key = tuple(class_names)
    if fonts is None and default_font is None and key in _NAME_CACHE:
        return _NAME_CACHE[key]
    if default_font is None:
        from matplotlib import font_manager

        default_font = font_manager.findfont(font_manager.FontProperties())
    needed = {ord(c) for name in class_names for c in name if not c.isspace()}
    have = _charmap(default_font)
    result: tuple[list[str], str | None]
    if needed <= have:
        result = (list(class_names), None)
    else:
        family = next((name for name, path in (fonts if fonts is not None else _fonts())
                       if needed <= _charmap(path) | have), None)
        if family is not None:
            result = (list(class_names), family)
        else:
            result = ([name if {ord(c) for c in name if not c.isspace()} <= have else str(k)
                       for k, name in enumerate(class_names)], None)
    if fonts is None:
        _NAME_CACHE[key] = result
    return result


def _family(font: str | None) -> dict[str, Any]:
    return {"fontfamily": [font, "DejaVu Sans"]} if font else {}


def _save(fig: Figure, path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


def plot_curves(history: Sequence[Mapping[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Loss and accuracy per epoch, train vs. validation, side by side."""
    fig = Figure(figsize=(10, 4), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    epochs = [h["epoch"] for h in history]
    for ax, key, title in ((ax_loss, "loss", "loss"), (ax_acc, "accuracy", "accuracy (%)")):
        scale = 100 if key == "accuracy" else 1
        for split, style in (("train", "o-"), ("val", "s-")):
            values = [h.get(f"{split}_{key}") for h in history]
            if any(v is not None for v in values):
                ys = [np.nan if v is None else v * scale for v in values]
                ax.plot(epochs, ys, style, label=split, markersize=3)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    return _save(fig, path)


def plot_image_grid(
    images: np.ndarray,
    titles: Sequence[str],
    path: str | os.PathLike[str],
    colors: Sequence[str] | None = None,
    suptitle: str | None = None,
    ncols: int = 10,
    font: str | None = None,
) -> Path:
    """Grayscale images (N, H, W) in a grid, each with a title (optionally coloured).

    The grid is drawn as one mosaic image in a single axes (fast even for many images).
    uint8 images use the fixed range 0..255.
    """
    images = np.asarray(images)
    n = len(images)
    h, w = images.shape[1:3] if images.ndim == 3 else (28, 28)
    ncols = max(1, min(ncols, n))
    nrows = max(1, -(-n // ncols))
    gap = max(2, w // 14)
    inch_per_px = 1.3 / (w + gap)  # each cell is 1.3 inches wide
    lines = max([t.count("\n") + 1 for t in titles] or [1])
    band = int(np.ceil(lines * 8.5 / 72 / inch_per_px)) + 1  # pixel rows reserved for a title
    ch, cw = h + band + gap, w + gap
    mosaic = np.full((nrows * ch, ncols * cw), np.nan)
    for k in range(n):
        r, c = divmod(k, ncols)
        mosaic[r * ch + band : r * ch + band + h, c * cw + gap // 2 : c * cw + gap // 2 + w] = images[k]
    top = 0.45 if suptitle else 0.05  # inches above the grid
    grid_h = nrows * ch * inch_per_px
    fig = Figure(figsize=(ncols * cw * inch_per_px, grid_h + top))
    ax = fig.add_axes((0.0, 0.0, 1.0, grid_h / (grid_h + top)))
    ax.set_axis_off()
    vmin, vmax = (0, 255) if images.dtype == np.uint8 or n == 0 else (np.nanmin(mosaic), np.nanmax(mosaic))
    cmap = matplotlib.colormaps["gray"].with_extremes(bad="white")
    ax.imshow(np.ma.masked_invalid(mosaic), cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest", aspect="auto")
    for k in range(n):
        r, c = divmod(k, ncols)
        ax.text(c * cw + cw / 2 - 0.5, r * ch + band - 1, titles[k], ha="center", va="bottom", fontsize=7,
                color=colors[k] if colors else "black", linespacing=1.0, **_family(font))
    if suptitle:
        fig.text(0.5, 1 - 0.1 / (grid_h + top), suptitle, ha="center", va="top", fontsize=9, wrap=True)
    if n == 0:
        ax.text(mosaic.shape[1] / 2, mosaic.shape[0] / 2, "(no images)", ha="center", va="center")
    return _save(fig, path)


def plot_predictions(
    images: np.ndarray,
    labels: np.ndarray | None,
    predictions: np.ndarray,
    confidences: np.ndarray,
    class_names: Sequence[str],
    path: str | os.PathLike[str],
    *,
    indices: Sequence[int] | None = None,
    suptitle: str | None = None,
    ncols: int = 10,
) -> Path:
    """A grid of images titled "true -> predicted (confidence)"; wrong ones in red (class names
    that cannot be drawn are shown as their index, see :func:`display_names`)."""
    class_names, font = display_names(class_names)
    titles, colors = [], []
    for k in range(len(images)):
        pred = class_names[int(predictions[k])]
        head = f"#{indices[k]} " if indices is not None else ""
        if labels is None:
            titles.append(f"{head}{pred} ({confidences[k]:.0%})")
            colors.append("black")
        else:
            true = class_names[int(labels[k])]
            ok = labels[k] == predictions[k]
            titles.append(f"{head}{true[:9]}" + ("" if ok else f"->{pred[:9]}") + f"\n{confidences[k]:.0%}")
            colors.append(GREEN if ok else RED)
    return plot_image_grid(images, titles, path, colors, suptitle, ncols, font)


def plot_confusion(cm: np.ndarray, class_names: Sequence[str], path: str | os.PathLike[str],
                   title: str = "confusion matrix (test)") -> Path:
    """A heat map of the confusion matrix with counts (rows: true, columns: predicted)."""
    cm = np.asarray(cm)
    class_names, font = display_names(class_names)
    k = len(class_names)
    size = max(4.5, 0.55 * k + 2)
    fig = Figure(figsize=(size, size * 0.9), layout="constrained")
    ax = fig.subplots()
    # log scale keeps the (large) diagonal from washing out the errors
    im = ax.imshow(np.log1p(cm), cmap="Blues")
    ax.set_xticks(range(k), [n[:10] for n in class_names], rotation=45, ha="right", fontsize=8, **_family(font))
    ax.set_yticks(range(k), [n[:10] for n in class_names], fontsize=8, **_family(font))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    threshold = np.log1p(cm).max(initial=0) / 2
    for i in range(k):
        for j in range(k):
            if cm[i, j]:
                color = "white" if np.log1p(cm[i, j]) > threshold else "black"
                ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", fontsize=7, color=color)
    fig.colorbar(im, ax=ax, shrink=0.8, label="log(1 + count)")
    return _save(fig, path)


def show_png(path: str | os.PathLike[str], title: str | None = None) -> bool:
    """Open a saved PNG in a window if a display is available (blocks until closed).

    Returns False (and does nothing) when there is no display.
    """
    if not display_available():
        return False
    import matplotlib.pyplot as plt
    from matplotlib.image import imread

    try:
        img = imread(os.fspath(path))
        fig = plt.figure(figsize=(img.shape[1] / 100, img.shape[0] / 100))
        fig.figimage(img)
        if title and fig.canvas.manager is not None:
            fig.canvas.manager.set_window_title(title)
        plt.show()
        plt.close(fig)
    except Exception as e:  # noqa: BLE001 - e.g. DISPLAY set but the X server is unreachable
        print(f"(could not open a window: {e}; the image is saved in {path})", file=sys.stderr)
        return False
    return True
