"""Images as text: what ``show --one-by-one`` prints in a terminal."""
from __future__ import annotations

import numpy as np

__all__ = ["ascii_image"]


def ascii_image(image: np.ndarray, width: int | None = None) -> str:
    """A grayscale image as text (two characters per pixel, darker = more ink)."""
    ramp = " .:-=+*#%@"
    img = np.asarray(image, dtype=np.float64)
    if width is not None and img.shape[1] > width:
        step = -(-img.shape[1] // width)
        img = img[::step, ::step]
    lo, hi = float(img.min(initial=0)), float(img.max(initial=0))
    if hi <= lo:
        levels = np.zeros(img.shape, dtype=int)
    else:
        levels = ((img - lo) / (hi - lo) * (len(ramp) - 1)).round().astype(int)
    return "\n".join("".join(ramp[v] * 2 for v in row) for row in levels)
