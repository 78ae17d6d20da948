"""The metrics of the noise study (Rabin et al., seeds/001_*.txt, §4.3).

numpy only: this module never imports torch, so the app and the exporters can use it.
Every metric is defined once, here, with the paper section it follows:

- :func:`gini`: the spread of per-sample loss (§4.3.3, "Gini coefficient");
- :func:`sorted_scores`: the predicted-score distribution of Figures 4/5 (§4.3.1, §5.2);
- :func:`repair_correct`: the repair criterion of §4.3.2 (>= 0.5 probability mass on the
  occurrences of the correct variable);
- :func:`varmisuse_metrics`: one epoch's VarMisuse metrics from per-sample arrays
  (§4.3.1–§4.3.3);
- :data:`METRIC_INFO`: name -> description, direction and section, for export and the app.
"""
from __future__ import annotations

import math
from typing import Mapping, NamedTuple

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


REPAIR_THRESHOLD = 0.5
"""§4.3.2: a repair is correct when at least half the repair probability mass falls on
occurrences of the correct variable."""


def repair_correct(target_mass) -> np.ndarray:
    """§4.3.2 repair criterion: sum of p_rep over the correct variable's occurrences >= 0.5.

    ``target_mass`` is, per sample, the repair probability summed over the repair targets
    (the positions of the correct variable). Returns a boolean array.
    """
    return np.asarray(target_mass, dtype=np.float64) >= REPAIR_THRESHOLD


VARMISUSE_ARRAYS: tuple[str, ...] = (
    "loss", "loc_loss", "rep_loss", "loc_pred", "loc_score", "loc_correct",
    "rep_target_mass", "rep_correct", "rep_score", "has_bug",
)
"""The per-sample arrays :func:`varmisuse_metrics` reads, one value per sample each."""


def _mean(x: np.ndarray) -> float:
    return float(np.mean(x, dtype=np.float64)) if x.size else math.nan


def varmisuse_metrics(arrays: Mapping[str, np.ndarray]) -> dict[str, float]:
    """One epoch's VarMisuse metrics from per-sample arrays (§4.3).

    ``arrays`` holds one 1-D array per name in :data:`VARMISUSE_ARRAYS`, all of the same
    length n (one entry per sample):

    - ``has_bug``: the label the sample was trained on / evaluated against (noisy labels
      on the training split, clean ones on held-out data);
    - ``loc_pred``: argmax_i p_loc(token_i), the predicted bug location (§4.3.2);
    - ``loc_correct``: ``loc_pred`` equals the labelled error location (0 when bug-free);
    - ``loc_score``: the predicted score of the location head (§4.3.1);
    - ``rep_target_mass``: the repair probability summed over the repair targets;
    - ``rep_correct``, ``rep_score``: the repair head's correctness flag and predicted score;
    - ``loc_loss`` = -log P_loc(bug-location), ``rep_loss`` = -log P_rep(repair-name), and
      ``loss`` = ``loc_loss`` + ``rep_loss`` (§4.3.3, L_VM). Repair predictions are
      ignored for bug-free samples (§4.3.1), so their ``rep_loss`` must be 0.

    Returns (floats; nan where the population is empty):

    - ``loc_accuracy``: share of BUGGY samples whose predicted location is the error
      location (§4.3.2);
    - ``repair_accuracy``: share of buggy samples with >= 0.5 repair mass on the correct
      variable (§4.3.2, :func:`repair_correct` of ``rep_target_mass``);
    - ``nobug_accuracy``: share of bug-free samples whose predicted location is token 0
      (§4.3.1: "for bug-free samples, the location component should point to token 0");
    - ``joint_accuracy`` (an extra, not in the paper): share of buggy samples both
      localized and repaired;
    - ``loss``, ``loc_loss``, ``rep_loss``: means over all samples (so loss = loc_loss +
      rep_loss);
    - ``gini_loss``: :func:`gini` of the per-sample ``loss`` (§4.3.3);
    - ``mean_score_loc``: mean ``loc_score`` over all samples (§4.3.1);
    - ``mean_score_repair``: mean ``rep_score`` over buggy samples (§4.3.1: repair
      predictions are ignored for bug-free samples);
    - ``n``, ``n_buggy``: the sample counts.

    ``rep_correct`` must agree with :func:`repair_correct` of ``rep_target_mass``; the
    accuracy is computed from the mass, so the threshold lives in one place.
    Raises ValueError on a missing array, mismatched lengths, or arrays that break the
    definitions above.
    """
    missing = [k for k in VARMISUSE_ARRAYS if k not in arrays]
    if missing:
        raise ValueError(f"varmisuse_metrics: missing arrays: {', '.join(missing)}")
    a = {k: np.asarray(arrays[k]) for k in VARMISUSE_ARRAYS}
    for k, v in a.items():
        if v.ndim != 1:
            raise ValueError(f"varmisuse_metrics: array {k!r} must be 1-D, got shape {v.shape}")
    lengths = {k: v.shape[0] for k, v in a.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"varmisuse_metrics: arrays differ in length: {lengths}")

    has_bug = a["has_bug"].astype(bool)
    loss = a["loss"].astype(np.float64)
    loc_loss = a["loc_loss"].astype(np.float64)
    rep_loss = a["rep_loss"].astype(np.float64)
    loc_pred = a["loc_pred"].astype(np.int64)
    loc_correct = a["loc_correct"].astype(bool)
    rep_ok = repair_correct(a["rep_target_mass"])

    if not np.allclose(loss, loc_loss + rep_loss, rtol=1e-5, atol=1e-5):
        raise ValueError("varmisuse_metrics: loss must equal loc_loss + rep_loss per sample (§4.3.3)")
    if np.any(rep_loss[~has_bug] != 0):
        raise ValueError("varmisuse_metrics: rep_loss must be 0 on bug-free samples (repair is ignored, §4.3.1)")
    if np.any(a["rep_correct"].astype(bool)[has_bug] != rep_ok[has_bug]):
        raise ValueError("varmisuse_metrics: rep_correct disagrees with rep_target_mass >= 0.5 (§4.3.2)")

    n = int(has_bug.size)
    buggy = has_bug
    clean = ~has_bug
    return {
        "loc_accuracy": _mean(loc_correct[buggy]),
        "repair_accuracy": _mean(rep_ok[buggy]),
        "nobug_accuracy": _mean(loc_pred[clean] == 0),
        "joint_accuracy": _mean((loc_correct & rep_ok)[buggy]),
        "loss": _mean(loss),
        "loc_loss": _mean(loc_loss),
        "rep_loss": _mean(rep_loss),
        "gini_loss": gini(loss),
        "mean_score_loc": _mean(a["loc_score"].astype(np.float64)),
        "mean_score_repair": _mean(a["rep_score"].astype(np.float64)[buggy]),
        "n": float(n),
        "n_buggy": float(np.count_nonzero(buggy)),
    }


class MetricInfo(NamedTuple):
    description: str
    higher_is_better: bool | None  # None: a description of training, not a quality score
    section: str  # of Rabin et al.; "" where the metric is byrote's own


METRIC_INFO: dict[str, MetricInfo] = {
    "loc_accuracy": MetricInfo("buggy samples whose predicted location is the bug", True, "4.3.2"),
    "repair_accuracy": MetricInfo("buggy samples with >= 0.5 repair mass on the correct variable", True, "4.3.2"),
    "nobug_accuracy": MetricInfo("bug-free samples predicted at token 0 (no bug)", True, "4.3.1"),
    "joint_accuracy": MetricInfo("buggy samples both localized and repaired (extra)", True, ""),
    "loss": MetricInfo("mean loss L_loc + L_rep", False, "4.3.3"),
    "loc_loss": MetricInfo("mean location loss -log P_loc(bug-location)", False, "4.3.3"),
    "rep_loss": MetricInfo("mean repair loss -log P_rep(repair-name), 0 when bug-free", False, "4.3.3"),
    "gini_loss": MetricInfo("Gini coefficient of per-sample loss (spread of loss)", None, "4.3.3"),
    "mean_score_loc": MetricInfo("mean predicted score of the location head", None, "4.3.1"),
    "mean_score_repair": MetricInfo("mean predicted score of the repair head, buggy samples", None, "4.3.1"),
    "n": MetricInfo("samples", None, ""),
    "n_buggy": MetricInfo("samples labelled buggy", None, ""),
}
