"""The VarMisuse metrics (Rabin et al. §4.3.1–§4.3.3) of one epoch, from per-sample arrays:
localization, repair and no-bug accuracy, the losses, their Gini, the predicted scores."""
from __future__ import annotations

from typing import Mapping

import numpy as np

from engine.metrics import MetricInfo, gini, mean


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
    - ``gini_loss``: :func:`gini` of the per-sample ``loss`` (§4.3.3: L_VM = L_loc + L_rep);
    - ``gini_loc_loss`` and ``gini_rep_loss``: one Gini per head, as the study published
      them (``gini_loss/GGNN_Py150_Localization_train.csv`` and ``..._Repair_...``): of
      ``loc_loss`` over all samples, and of ``rep_loss`` over the buggy samples (its
      score distribution's samples; a bug-free sample has no repair loss, §4.3.1);
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
        "loc_accuracy": mean(loc_correct[buggy]),
        "repair_accuracy": mean(rep_ok[buggy]),
        "nobug_accuracy": mean(loc_pred[clean] == 0),
        "joint_accuracy": mean((loc_correct & rep_ok)[buggy]),
        "loss": mean(loss),
        "loc_loss": mean(loc_loss),
        "rep_loss": mean(rep_loss),
        "gini_loss": gini(loss),
        "gini_loc_loss": gini(loc_loss),
        "gini_rep_loss": gini(rep_loss[buggy]),
        "mean_score_loc": mean(a["loc_score"].astype(np.float64)),
        "mean_score_repair": mean(a["rep_score"].astype(np.float64)[buggy]),
        "n": float(n),
        "n_buggy": float(np.count_nonzero(buggy)),
    }


METRIC_INFO: dict[str, MetricInfo] = {
    "loc_accuracy": MetricInfo("buggy samples whose predicted location is the bug", True, "4.3.2"),
    "repair_accuracy": MetricInfo("buggy samples with >= 0.5 repair mass on the correct variable", True, "4.3.2"),
    "nobug_accuracy": MetricInfo("bug-free samples predicted at token 0 (no bug)", True, "4.3.1"),
    "joint_accuracy": MetricInfo("buggy samples both localized and repaired (extra)", True, ""),
    "loss": MetricInfo("mean loss L_loc + L_rep", False, "4.3.3"),
    "loc_loss": MetricInfo("mean location loss -log P_loc(bug-location)", False, "4.3.3"),
    "rep_loss": MetricInfo("mean repair loss -log P_rep(repair-name), 0 when bug-free", False, "4.3.3"),
    "gini_loss": MetricInfo("Gini coefficient of per-sample loss (spread of loss)", None, "4.3.3"),
    "gini_loc_loss": MetricInfo("Gini coefficient of per-sample location loss", None, "4.3.3"),
    "gini_rep_loss": MetricInfo("Gini coefficient of per-sample repair loss, buggy samples", None, "4.3.3"),
    "mean_score_loc": MetricInfo("mean predicted score of the location head", None, "4.3.1"),
    "mean_score_repair": MetricInfo("mean predicted score of the repair head, buggy samples", None, "4.3.1"),
    "n": MetricInfo("samples", None, ""),
    "n_buggy": MetricInfo("samples labelled buggy", None, ""),
}
