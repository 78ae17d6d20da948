"""The metrics of the noise study (Rabin et al., seeds/001_*.txt, §4.3), numpy only (the
app and the exporters use them; no torch). Each is defined once, with the paper section it
follows: here what both tasks share, :func:`gini` (§4.3.3) and :func:`sorted_scores`
(Figures 4 and 5, §5.2); per task, :mod:`~engine.metrics.varmisuse` and
:mod:`~engine.metrics.methodname` (F1 as code2vec counts it, the critical sample ratio).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np


def gini(values) -> float:
    """The Gini coefficient of per-sample loss, §4.3.3 (Gini 1936, ref. [16]).

    The paper's definition, with L_i the loss of input program i and n programs::

        G = sum_i sum_j |L_i - L_j| / (2 n sum_i L_i)

    i.e. the relative mean absolute difference over all ordered pairs (i, j), the pair
    (i, i) included, halved. 0 means all losses are equal; the maximum, (n - 1) / n, is
    reached when a single sample carries all the loss.

    Computed in O(n log n) by sorting: with x_(1) <= ... <= x_(n) ascending and 1-based
    ranks i, sum_i sum_j |x_i - x_j| = 2 sum_i (2i - n - 1) x_(i), hence::

        G = sum_i (2i - n - 1) x_(i) / (n sum_i x_i)

    Accumulated in float64. Edge cases: no values -> nan; all values 0 (sum 0) -> 0.0
    (perfect equality). Losses are non-negative by definition (negative log-likelihoods):
    a negative, nan or infinite value raises ValueError. The result is independent of the
    order of the values and of their scale (G(c x) = G(x) for c > 0).
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"gini expects a 1-D array of per-sample losses, got shape {x.shape}")
    n = x.size
    if n == 0:
        return math.nan
    if not np.all(np.isfinite(x)):
        raise ValueError("gini: losses must be finite (found nan or inf)")
    if np.any(x < 0):
        raise ValueError(f"gini: losses must be non-negative (minimum {x.min()!r})")
    total = float(np.sum(x, dtype=np.float64))
    if total == 0.0:
        return 0.0
    xs = np.sort(x)
    ranks = np.arange(1, n + 1, dtype=np.float64)
    weighted = float(np.dot(2.0 * ranks - n - 1.0, xs))
    # The exact value is >= 0; rounding on near-equal values may leave a hair below 0.
    return max(weighted / (n * total), 0.0)


def sorted_scores(scores) -> np.ndarray:
    """Per-sample predicted scores (§4.3.1) sorted ascending, as float64.

    The distribution of the paper's Figures 4 and 5 (§5.2): one point per sample, ordered
    by score, lowest first. Returns a new array; the input is not changed.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1:
        raise ValueError(f"sorted_scores expects a 1-D array, got shape {s.shape}")
    return np.sort(s)


def mean(x: np.ndarray) -> float:
    """The mean in float64; nan for no value."""
    return float(np.mean(x, dtype=np.float64)) if x.size else math.nan



class MetricInfo(NamedTuple):
    description: str
    higher_is_better: bool | None  # None: a description of training, not a quality score
    section: str  # of Rabin et al.; "" where the metric is byrote's own


def is_count(name: str) -> bool:
    """Whether a metric counts samples (``n``, ``n_buggy``, ...: named ``n`` or ``n_*``):
    written as a whole number where it is one (a mean over trials may not be)."""
    return name == "n" or name.startswith("n_")


def trial_mean(values) -> float | None:
    """The mean over a level's trials of one figure (None, a trial's nan, left out; None
    when no trial has it)."""
    known = [float(v) for v in values if v is not None and not math.isnan(v)]
    return math.fsum(known) / len(known) if known else None


def trial_sd(values) -> float | None:
    """The sample standard deviation over a level's trials (n - 1 in the denominator);
    None with fewer than two known values."""
    known = [float(v) for v in values if v is not None and not math.isnan(v)]
    if len(known) < 2:
        return None
    mean = math.fsum(known) / len(known)
    return math.sqrt(math.fsum((v - mean) ** 2 for v in known) / (len(known) - 1))
