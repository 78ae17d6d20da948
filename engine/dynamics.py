"""Per-sample training dynamics of a run, and memorization detectors scored against the
labels byrote flipped (Rabin et al. §6.2, "Are we memorizing now?").

From the training arrays the run stored at every epoch (``sample``, ``loss`` and what says
whether a prediction was right), per training sample:

- ``p``: the probability the model gives the sample's training label at each epoch,
  ``exp(-loss)`` (VarMisuse: the joint of its location and repair, as its loss is their
  sum; method names and code search: the label's softmax probability; code2seq: the whole
  name's; code-to-text: the geometric mean of its tokens');
- **confidence** and **variability** (dataset cartography, Swayamdipta et al. 2020, §2):
  the mean of ``p`` over the epochs and its standard deviation (population, as their
  code's ``np.std``);
- **correctness**: the share of epochs it was predicted right (VarMisuse: the location,
  and for a buggy sample the repair too; code-to-text has no such figure);
- **first learned**: the first epoch it was predicted right (Toneva et al. 2019), None if
  never; **forgetting events**: how often it went from right to wrong between two epochs.

Detectors rank the training samples, most suspect first, by a score where higher is more
suspect: ``loss`` (the last epoch's), ``confidence`` (low), ``late_learning`` (the first
epoch learned; never: one past the last), ``forgetting`` (forgetting events; never
learned: infinitely many, as Toneva et al. count them), ``aum`` (a low area under the
margin, Pleiss et al. 2020: the mean over the epochs of the label's logit minus the
largest other; VarMisuse: the localization head's; method names with code2vec, code
search; not code2seq or code-to-text, whose labels are sequences). Each ranking is scored against
the flipped samples (the run's ``changed.json``) with scikit-learn: precision and recall
at k (k = the number flipped unless given; ties in sample order), ROC AUC and average
precision. ``cleanlab``: minus cleanlab's label quality of the sample's out-of-fold
probabilities (engine.kfold; its row also counts the label issues cleanlab finds), for
the runs whose k-fold job ran.
"""
from __future__ import annotations

import json
import math

import numpy as np

from engine.errors import InputError

DETECTORS = ("loss", "confidence", "late_learning", "forgetting", "aum", "cleanlab")
NEEDS_CORRECTNESS = ("late_learning", "forgetting")


def correct_of(task: str, arrays) -> np.ndarray | None:
    """Whether each sample was predicted right at one epoch; None where the task has no
    such figure (code-to-text's BLEU)."""
    if task == "varmisuse":
        return np.asarray(arrays["loc_correct"], bool) & (np.asarray(arrays["rep_correct"], bool)
                                                           | ~np.asarray(arrays["has_bug"], bool))
    return np.asarray(arrays["correct"], bool) if "correct" in arrays else None


def epoch_arrays(store, run: dict, task: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(sample ids, ``p`` as epochs x samples, correctness and margins as epochs x samples
    or None) of a run's training split, over the samples every epoch holds, in sample
    order (runs trained before margins were stored have none)."""
    per_epoch = []
    for epoch in range(1, int(run["epochs_done"] or 0) + 1):
        path = store.array_path(run["id"], epoch, "train")
        if path is None:
            raise InputError(f"run {run['id']} has no training arrays of epoch {epoch}")
        with np.load(path) as arrays:
            per_epoch.append((np.asarray(arrays["sample"]), np.exp(-np.asarray(arrays["loss"], float)),
                              correct_of(task, arrays),
                              np.asarray(arrays["margin"], float) if "margin" in arrays.files else None))
    if not per_epoch:
        return np.zeros(0, np.int64), np.zeros((0, 0)), None, None
    common = per_epoch[0][0]
    for ids, *_ in per_epoch[1:]:
        common = np.intersect1d(common, ids)

    def aligned(ids, values):  # values of the common samples, in their order
        order = np.argsort(ids, kind="stable")
        return values[order[np.searchsorted(ids[order], common)]]

    p = np.stack([aligned(ids, values) for ids, values, _, _ in per_epoch])
    correct = None if per_epoch[0][2] is None else np.stack([aligned(ids, c) for ids, _, c, _ in per_epoch])
    margins = None if any(m is None for *_, m in per_epoch) else np.stack([aligned(e[0], e[3]) for e in per_epoch])
    return common, p, correct, margins


def dynamics(p: np.ndarray, correct: np.ndarray | None) -> dict[str, np.ndarray]:
    """The per-sample figures of the module's docstring from ``p`` and correctness
    (epochs x samples)."""
    out = {"confidence": p.mean(0), "variability": p.std(0)}
    if correct is not None:
        epochs = correct.shape[0]
        learned = correct.any(0)
        out["correctness"] = correct.mean(0)
        out["first_learned"] = np.where(learned, correct.argmax(0) + 1, epochs + 1).astype(float)
        out["forgetting"] = (correct[:-1] & ~correct[1:]).sum(0).astype(float)
        out["forgetting"][~learned] = math.inf
    return out


def detector_scores(p: np.ndarray, correct: np.ndarray | None, last_loss: np.ndarray,
                    margins: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Each detector's score per sample, higher is more suspect (those the run's arrays
    allow): ``aum`` is minus the area under the margin, the mean margin over the epochs."""
    d = dynamics(p, correct)
    scores = {"loss": last_loss, "confidence": -d["confidence"]}
    if correct is not None:
        scores["late_learning"] = d["first_learned"]
        scores["forgetting"] = d["forgetting"]
    if margins is not None:
        scores["aum"] = -margins.mean(0)
    return scores


def flipped_ids(store, run: dict) -> set[int]:
    """The training samples whose label the run's noise changed (every list of its
    ``changed.json``)."""
    if not run.get("changed_path"):
        return set()
    record = json.loads(store.file_path(run["changed_path"]).read_text())
    return {int(i) for key, value in record.items() if isinstance(value, list) for i in value}


def score_ranking(scores: np.ndarray, flipped: np.ndarray, k: int | None = None) -> dict[str, float]:
    """Precision and recall at k (ties in sample order), ROC AUC and average precision
    (scikit-learn) of one detector's scores against the flipped samples. An infinite score
    ranks at its end of the order; a NaN one (a diverged loss) lowest of all, as the
    least suspect."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    k = int(flipped.sum()) if k is None else k
    big = np.finfo(float).max
    finite = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=-big, posinf=big, neginf=-big / 2)
    order = np.lexsort((np.arange(len(finite)), -finite))
    top = flipped[order[:k]]
    both = 0 < flipped.sum() < len(flipped)
    return {"k": k, "precision_at_k": float(top.mean()) if k else math.nan,
            "recall_at_k": float(top.sum() / flipped.sum()) if flipped.sum() else math.nan,
            "roc_auc": float(roc_auc_score(flipped, finite)) if both else math.nan,
            "average_precision": float(average_precision_score(flipped, finite)) if both else math.nan}


def noisy_runs(store, study_id: int, detectors: tuple[str, ...] = DETECTORS) -> list[dict]:
    """The runs whose detectors can be scored, the study and the detectors checked first
    (no array is read). Refused: a study without noise, a run of fewer than 2 epochs, an
    unknown detector."""
    unknown = [d for d in detectors if d not in DETECTORS]
    if unknown:
        raise InputError(f"unknown detector {unknown[0]!r} (known: {', '.join(DETECTORS)})", field="detectors")
    store.study(study_id)  # an unknown id says so
    runs = [r for r in store.runs(study_id) if r["level"] > 0]
    if not runs:
        raise InputError(f"study {study_id} has no noisy level: nothing flipped to score the detectors against")
    for run in runs:
        if (run["epochs_done"] or 0) < 2:
            raise InputError(f"run {run['id']} ({run['level']:g}% noise) has {run['epochs_done'] or 0} epoch(s) "
                             "done: the dynamics need 2 or more")
    return runs


def study_detectors(store, study_id: int, detectors: tuple[str, ...] = DETECTORS, k: int | None = None,
                    folds: int | None = None) -> list[dict]:
    """For each noisy run of a study (:func:`noisy_runs`): each detector's figures
    (``score_ranking``), with the run's level, trial, sample and flipped counts."""
    study = store.study(study_id)
    rows = []
    for run in noisy_runs(store, study_id, detectors):
        ids, p, correct, margins = epoch_arrays(store, run, study["task"])
        path = store.array_path(run["id"], int(run["epochs_done"]), "train")
        with np.load(path) as arrays:
            last = dict(zip(np.asarray(arrays["sample"]).tolist(), np.asarray(arrays["loss"], float).tolist()))
        scores = detector_scores(p, correct, np.array([last[i] for i in ids.tolist()]), margins)
        flipped = np.isin(ids, sorted(flipped_ids(store, run)))
        issues = None
        found = _out_of_fold(store, run["id"], folds)
        if found is not None:
            oof_ids, suspect, issue_mask = found
            at = {int(i): n for n, i in enumerate(oof_ids.tolist())}
            floor = float(np.min(suspect)) - 1.0 if len(suspect) else 0.0  # not scored: the least suspect
            scores["cleanlab"] = np.array([suspect[at[i]] if i in at else floor for i in ids.tolist()])
            issues = int(issue_mask.sum())
        for name in detectors:
            if name not in scores:
                continue  # no correctness (code-to-text), or no margins (runs trained before they were stored)
            rows.append({"run": run["id"], "level": run["level"], "trial": run.get("trial") or 0,
                         "detector": name, "samples": int(len(ids)), "flipped": int(flipped.sum()),
                         **score_ranking(scores[name], flipped, k),
                         **({"label_issues": issues} if name == "cleanlab" else {})})
    return rows


def _out_of_fold(store, run_id: int, folds: int | None):
    """cleanlab's scores of a run's out-of-fold probabilities (engine.kfold), or None when
    its k-fold job has not run (``folds``: that many folds; None: any)."""
    from engine.kfold import cleanlab_scores, load_out_of_fold

    result = load_out_of_fold(store, run_id, folds)
    return None if result is None else cleanlab_scores(result)


# -- the data map of one run (dataset cartography) ---------------------------------------------
REGIONS = ("easy-to-learn", "ambiguous", "hard-to-learn")


def regions(confidence: np.ndarray, variability: np.ndarray) -> np.ndarray:
    """Each sample's region of the data map, by Swayamdipta et al.'s thirds (§3): the third
    of highest variability is ``ambiguous``; of the rest, the third of lowest confidence
    (over all samples) ``hard-to-learn`` and of highest ``easy-to-learn``; "" for the middle."""
    out = np.full(len(confidence), "", dtype=object)
    if not len(confidence):
        return out
    high_var = variability >= np.quantile(variability, 2 / 3)
    low_conf, high_conf = confidence <= np.quantile(confidence, 1 / 3), confidence >= np.quantile(confidence, 2 / 3)
    out[high_conf] = "easy-to-learn"
    out[low_conf] = "hard-to-learn"
    out[high_var] = "ambiguous"
    return out


def data_map(store, run: dict, task: str) -> dict:
    """A run's data map: per training sample its id, confidence, variability, region and
    whether its label was flipped; refused for a run of fewer than 2 epochs."""
    if (run["epochs_done"] or 0) < 2:
        raise InputError(f"run {run['id']} ({run['level']:g}% noise) has {run['epochs_done'] or 0} epoch(s) done: "
                         "the data map needs 2 or more")
    ids, p, correct, _ = epoch_arrays(store, run, task)
    d = dynamics(p, correct)
    return {"ids": ids, "confidence": d["confidence"], "variability": d["variability"],
            "region": regions(d["confidence"], d["variability"]),
            "flipped": np.isin(ids, sorted(flipped_ids(store, run)))}


def describe_label(task: str, sample) -> str:
    """A training label in words: VarMisuse's bug and repair, a method's name; the label
    of other tasks as they store it."""
    if task == "varmisuse":
        if not sample.has_bug:
            return "no bug"
        tokens, at = sample.tokens, sample.error_location
        repair = {tokens[t] for t in sample.repair_targets if t < len(tokens)}
        return f"bug at token {at} ({tokens[at] if at < len(tokens) else '?'}), repair: {', '.join(sorted(repair))}"
    return str(getattr(sample, "label", "-"))


def sample_code(task: str, sample) -> str:
    if task == "varmisuse":
        return " ".join(sample.tokens)
    return getattr(sample, "source", None) or getattr(sample, "code", None) or "(no source: path-contexts only)"


def sample_view(store, run: dict, sample_id: int, samples: dict | None = None) -> dict:
    """One training sample of a run: its code, its training (noisy) label, its clean
    label (from the study's own training file; when flipped), whether it was flipped, and
    ``p`` at each epoch. ``samples`` caches the two files' samples by path and the run's
    epoch arrays."""
    from engine.tasks import get_task

    study = store.study(run["study_id"])
    spec = get_task(study["task"], study["model"])
    cache = samples if samples is not None else {}

    def read(path):
        if str(path) not in cache:
            cache[str(path)] = spec.read(str(path))
        return cache[str(path)]

    noisy = read(store.file_path(run["train_path"]))[sample_id]
    flipped = sample_id in flipped_ids(store, run)
    clean_label = None
    if flipped:
        try:
            clean_label = describe_label(study["task"], read(study["train_path"])[sample_id])
        except (OSError, InputError, IndexError):
            clean_label = "(the study's training file cannot be read any more)"
    key = ("epochs", run["id"])
    if key not in cache:
        cache[key] = epoch_arrays(store, run, study["task"])
    ids, p, _, _ = cache[key]
    at = np.searchsorted(ids, sample_id)
    curve = p[:, at].tolist() if at < len(ids) and ids[at] == sample_id else []
    return {"sample": sample_id, "code": sample_code(study["task"], noisy), "label": describe_label(study["task"], noisy),
            "clean_label": clean_label, "flipped": flipped, "p": curve}
