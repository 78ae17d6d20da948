"""Array helpers the matchings share: runs of rows given by their starts and sizes."""
from __future__ import annotations

import numpy as np


def ranges(starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """``starts[i] .. starts[i] + sizes[i] - 1`` for each i, end to end."""
    return np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes) + np.repeat(starts, sizes)


def bounds_of(counts: np.ndarray) -> np.ndarray:
    """Where each of runs of ``counts`` rows starts, and where the last ends."""
    return np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
