"""What the study screen plots, as plain data: colours, curves, score distributions, order.

No Textual here (and no torch): every function takes and returns plain values, so the
study screen's pictures can be checked by hand-computed numbers.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from engine.noise import level_name
from engine.tasks import TASK_HEADLINES

RGB = tuple[int, int, int]

# the paper's five noise levels: from clean (green) to all-noise (red)
LEVEL_COLOURS: dict[float, RGB] = {
    0.0: (60, 180, 75),     # green
    25.0: (70, 200, 230),   # cyan
    50.0: (235, 200, 30),   # yellow
    75.0: (245, 130, 48),   # orange
    100.0: (230, 25, 75),   # red
}
# any other level: blue, purple, magenta, olive, brown, teal, pink, lavender, grey
EXTRA_COLOURS: tuple[RGB, ...] = (
    (0, 110, 220), (145, 30, 180), (240, 50, 230), (128, 128, 0), (170, 110, 40),
    (0, 128, 128), (250, 160, 190), (180, 160, 255), (150, 150, 150),
)


def level_colour(level: float) -> RGB:
    """The colour of a noise level, the same on every screen and in every study.

    A level outside the standard five takes an extra colour by its quarter-percent
    steps modulo 9, so 5, 10, 20, ..., 90 % all differ from each other.
    """
    level = float(level)
    if level in LEVEL_COLOURS:
        return LEVEL_COLOURS[level]
    return EXTRA_COLOURS[round(level * 4) % len(EXTRA_COLOURS)]


def level_label(level: float) -> str:
    """25.0 -> '25%' (legends, table columns)."""
    return f"{level_name(float(level))}%"


def curve_series(table: Mapping[float, Mapping[int, float | None]]) -> list[tuple[float, list[int], list[float]]]:
    """``{level: {epoch: value}}`` -> ``[(level, epochs, values)]`` by level, epochs ascending.

    Missing values (nan, recorded as NULL) and infinite ones (a diverged loss) are left
    out; a level without any value is left out altogether.
    """
    series = []
    for level in sorted(table):
        points = [(int(e), float(v)) for e, v in sorted(table[level].items()) if v is not None and math.isfinite(v)]
        if points:
            series.append((float(level), [e for e, _ in points], [v for _, v in points]))
    return series


def trial_band(trials: Mapping[float, Mapping[int, Mapping[int, float | None]]],
               kind: str = "minmax") -> tuple[list, list]:
    """The band around the mean curve of several trials, ``(lower, upper)`` series like
    :func:`curve_series`: the smallest and largest trial (``minmax``), or the mean minus
    and plus one standard deviation (``sd``, :func:`engine.metrics.trial_sd`; epochs with
    fewer than two trials are left out)."""
    from engine.metrics import trial_mean, trial_sd

    lower: dict[float, dict[int, float | None]] = {}
    upper: dict[float, dict[int, float | None]] = {}
    for level, per in trials.items():
        for epoch, values in per.items():
            known = [v for v in values.values() if v is not None and math.isfinite(v)]
            if kind == "sd":
                mean, sd = trial_mean(known), trial_sd(known)
                lo, hi = (None, None) if sd is None else (mean - sd, mean + sd)
            else:
                lo, hi = (min(known), max(known)) if known else (None, None)
            lower.setdefault(level, {})[epoch] = lo
            upper.setdefault(level, {})[epoch] = hi
    return curve_series(lower), curve_series(upper)


def sorted_scores(values: Sequence[float] | np.ndarray, points: int = 200) -> tuple[list[float], list[float]]:
    """The sorted predicted-score distribution (the paper's Figures 4 and 5).

    Scores sorted descending, at no more than ``points`` ranks spread evenly over the
    whole range (first and last included, exact values at each); x is the rank
    normalised to 0..1, so levels with different sample counts align. Nan and ±inf are
    dropped.
    """
    scores = np.asarray(values, dtype=np.float64).ravel()
    scores = -np.sort(-scores[np.isfinite(scores)])
    n = len(scores)
    if n == 0:
        return [], []
    if n == 1:
        return [0.0], [float(scores[0])]
    ranks = np.unique(np.round(np.linspace(0, n - 1, min(n, max(2, points)))).astype(np.int64))
    return (ranks / (n - 1)).tolist(), scores[ranks].tolist()


def metric_order(names: Iterable[str], task: str) -> list[str]:
    """The metrics to cycle through: the task's headline ones first (in headline order),
    then the others alphabetically."""
    names = set(names)
    headline = [m for m in TASK_HEADLINES.get(task, ()) if m in names]
    return headline + sorted(names - set(headline))


_UNIT_WORDS = ("accuracy", "score", "precision", "recall", "exact_match", "gini")


def bounds(metric: str) -> tuple[float, float] | None:
    """y-axis bounds: [0, 1] for accuracies, ratios, scores and the Gini coefficient;
    None (automatic) for losses, counts and anything unknown."""
    if metric.startswith("csr_") or any(word in metric for word in _UNIT_WORDS):
        return (0.0, 1.0)
    return None


SMOOTHING = (0.0, 0.6, 0.9)  # the weights the smoothing key cycles through (0: raw)
MARGIN = 0.05  # of the data's range, above and below a fitted y-axis


def smooth(values: Sequence[float], weight: float) -> list[float]:
    """TensorBoard's smoothing of a curve: an exponential moving average, ``last =
    weight * last + (1 - weight) * value``, divided by ``1 - weight**i`` (i the values so
    far) so that it does not start from 0. Weight 0 returns the values."""
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"smoothing weight must be in [0, 1), not {weight}")
    out, last = [], 0.0
    for i, value in enumerate(values, 1):
        last = weight * last + (1.0 - weight) * value
        out.append(last / (1.0 - weight ** i) if weight else value)
    return out


def y_limits(metric: str, series: Iterable[tuple[float, list, list]], full: bool) -> tuple[float, float] | None:
    """The y-axis of a curve plot: with ``full``, [0, 1] for a metric in that range
    (:func:`bounds`), else automatic (None); otherwise fitted to the values drawn with
    :data:`MARGIN` of their range above and below (a flat curve: 5 % of its value, or
    0.01 at 0), kept within [0, 1] for such a metric. None with nothing to draw."""
    unit = bounds(metric)
    values = [v for _, _, ys in series for v in ys if v is not None and math.isfinite(v)]
    if full or not values:
        return unit if full or unit else None
    lo, hi = min(values), max(values)
    margin = (hi - lo) * MARGIN if hi > lo else (abs(hi) * MARGIN or 0.01)
    lo, hi = lo - margin, hi + margin
    if unit:
        lo, hi = max(lo, unit[0]), min(hi, unit[1])
    return lo, hi


def values_at(series: Iterable[tuple[float, list, list]], x: int | None) -> list[tuple[float, float | None]]:
    """``(level, value)`` of each curve at x (None where it has no value there)."""
    return [(level, dict(zip(xs, ys)).get(x)) for level, xs, ys in series]


def default_epoch(epochs_done: Iterable[int]) -> int | None:
    """The epoch whose distributions to show first: the last one every run has finished,
    else the latest any run has; None before the first."""
    done = [int(e) for e in epochs_done]
    if not done or max(done) == 0:
        return None
    return min(done) or max(done)


def step(items: Sequence, current, by: int):
    """The item ``by`` places after ``current`` in ``items``, cyclically (the first if
    ``current`` is not among them); None for no items."""
    if not items:
        return None
    if current not in items:
        return items[0]
    return items[(list(items).index(current) + by) % len(items)]
