"""Out-of-fold probabilities for confident learning (cleanlab; Northcutt et al. 2021,
"Confident Learning: Estimating Uncertainty in Dataset Labels", §2), job kind ``kfold``
(:func:`kfold_job`).

The run's noisy training samples are dealt into K folds (a permutation seeded by the
run's seed); for each fold a fresh model (the run's model, preset and seed) trains on the
other K-1 folds for the run's epochs, each epoch in its seeded order, and predicts the
fold. Each sample so gets a prediction from a model that never trained on it: its
*out-of-fold* probabilities, which cleanlab ranks (``cleanlab.rank.get_label_quality_scores``)
and sorts into label issues (``cleanlab.filter.find_label_issues``).

The label is the one the study's label noise changes:

- VarMisuse: whether the sample has a bug (the noise moves samples between buggy and
  bug-free, ``changed.json``'s ``buggy_to_clean`` and ``clean_to_buggy``), its probability
  the localization head's, P(bug) = 1 - P_loc(no-bug position);
- method names with code2vec: the name (``relabelled``), its probabilities code2vec's
  softmax over the names, kept to the names some training sample carries (renormalized),
  a samples x names matrix in memory;
- code search: whether a (docstring, code) pair matches, the classifier's two
  probabilities (the noise mispairs training pairs, ``mispaired``).

Code2seq's names and code-to-text's docstrings are token sequences, not classes: cleanlab's
classification does not apply to them. A fold's
learning-rate schedule is sized on the whole training set, as the run's; each fold's
model predicts its fold's samples only.
"""
from __future__ import annotations

import numpy as np

from engine.errors import InputError

FOLDS = 5  # cleanlab's own cv_n_folds
MAX_CLASSES = 2000  # cleanlab builds classes x classes matrices beside the samples x classes one
TASKS = ("varmisuse", "methodname", "codesearch")


def check_kfold(task: str, model: str) -> None:
    """Refuse a task and model whose labels have no out-of-fold probabilities yet."""
    if task not in TASKS or (task == "methodname" and model != "code2vec"):
        raise InputError(f"out-of-fold probabilities are done for VarMisuse, code2vec's method names and code "
                         f"search, not {task} with {model}")


def check_folds(store, runs: list[dict], folds: int) -> None:
    """Refuse, before a job is queued, ``folds`` more than a run's training samples (as
    its last epoch's per-sample arrays count them; a run without one is left to its job)."""
    for run in runs:
        path = store.array_path(run["id"], int(run["epochs_done"] or 0), "train")
        if path is None or not path.is_file():  # no epoch recorded yet: its job counts the samples
            continue
        with np.load(path) as arrays:
            n = len(arrays["sample"])
        if n < folds:
            raise InputError(f"run {run['id']} has {n} training samples: they cannot be dealt into {folds} folds",
                             field="kfold")


def folds_of(n: int, folds: int, seed: int) -> np.ndarray:
    """Each of ``n`` samples' fold: its place in a permutation seeded by ``seed``, modulo ``folds``."""
    from engine.runtime import epoch_seed

    fold = np.empty(n, dtype=np.int64)
    fold[np.random.default_rng(epoch_seed(seed, 10_000 + folds)).permutation(n)] = np.arange(n) % folds
    return fold


def out_of_fold(plan, folds: int = FOLDS, check=None, progress=None) -> dict[str, np.ndarray]:
    """``sample`` ids, the noisy ``label`` (1: bug) and ``pred_probs`` (n x 2) of a run's
    training samples, each predicted by the model of the fold it was left out of."""
    import torch

    from engine.runtime import epoch_seed, resolve_device
    from engine.study import _read, build_training, evaluate, heldout_subset, train_epoch
    from engine.tasks import get_task

    check_kfold(plan.task, plan.model)
    spec = get_task(plan.task, plan.model)
    cfg, device = plan.cfg, resolve_device(plan.device)
    train = _read(spec, plan.train, None)
    valid = heldout_subset(_read(spec, plan.heldout, None), 1, plan.study_seed)  # prepare wants one
    prepared = spec.prepare(train, valid, cfg)
    encoded = prepared.train
    n = len(encoded)
    if n < folds:
        raise InputError(f"{n} training samples cannot be dealt into {folds} folds")
    fold = folds_of(n, folds, plan.seed)
    probs: np.ndarray | None = None
    label = None
    for f in range(folds):
        rest = np.flatnonzero(fold != f)
        model, optim, sched = build_training(spec, plan.model, cfg, prepared, device, plan.seed + f, plan.epochs)
        step = 0
        for epoch in range(1, plan.epochs + 1):
            torch.manual_seed(epoch_seed(plan.seed + f, epoch))
            order = rest[np.random.default_rng(epoch_seed(plan.seed + f, epoch)).permutation(len(rest))]

            def report(seen: int, loss: float, epoch=epoch) -> None:
                if check is not None:
                    check()
                if progress is not None:
                    progress((f + (epoch - 1 + seen / len(order)) / plan.epochs) / folds,
                             f"fold {f + 1}/{folds}, epoch {epoch}/{plan.epochs}: training, loss {loss:.3f}")

            step = train_epoch(spec, model, optim, sched, encoded, order, cfg, device, step, report)
        held = fold == f
        arrays = evaluate(spec, model, encoded, {**cfg, "emit_probs": True}, device, check, only=np.flatnonzero(held))
        if plan.task == "varmisuse":
            p_bug = 1.0 - arrays["p_nobug"]
            fold_probs, label = np.stack([1.0 - p_bug, p_bug], axis=1), np.asarray(arrays["has_bug"], np.int64)
        else:
            fold_probs, label = arrays["probs"], np.asarray(arrays["target"], np.int64)
        if probs is None:
            probs, labels = np.full(fold_probs.shape, np.nan), np.zeros(n, dtype=np.int64)
        probs[held], labels[held] = fold_probs[held], label[held]  # each fold fills its own rows
    label = labels
    classes = np.unique(label)  # the labels some sample carries, renumbered from 0
    if len(classes) > MAX_CLASSES:
        raise InputError(f"{len(classes):,} names: cleanlab's class-by-class matrices would not fit; "
                         f"out-of-fold probabilities take at most {MAX_CLASSES:,} classes")
    kept = np.clip(probs[:, classes], 0.0, None)
    pred_probs = kept / np.maximum(kept.sum(1, keepdims=True), 1e-12)
    return {"sample": np.asarray(encoded.kept, dtype=np.int64), "label": np.searchsorted(classes, label),
            "pred_probs": pred_probs}


def oof_path(store, run_id: int, folds: int):
    return store.run_dir(run_id) / f"out_of_fold_k{folds}.npz"


def load_out_of_fold(store, run_id: int, folds: int | None) -> dict[str, np.ndarray] | None:
    """A run's out-of-fold probabilities as :func:`out_of_fold` made them (``folds``: that
    many folds; None: any), or None when its k-fold job has not run."""
    paths = [oof_path(store, run_id, folds)] if folds else sorted(store.run_dir(run_id).glob("out_of_fold_k*.npz"))
    path = next((p for p in paths if p.exists()), None)
    if path is None:
        return None
    with np.load(path) as saved:
        return {key: saved[key] for key in saved.files}


def kfold_job(ctx) -> None:
    """Job kind ``kfold``: params ``run_id`` and ``folds``; writes the run's out-of-fold
    probabilities beside its checkpoints (a file: a job cut off midway starts again)."""
    from engine.fsutil import atomic_path
    from engine.study import plan_run

    store, run_id, folds = ctx.store, int(ctx.params["run_id"]), int(ctx.params.get("folds") or FOLDS)
    plan = plan_run(store, run_id)
    result = out_of_fold(plan, folds, ctx.check_cancel, ctx.progress)
    path = oof_path(store, run_id, folds)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **result)
    ctx.progress(1.0, f"{folds} folds: out-of-fold probabilities of {len(result['sample'])} samples", force=True)


def cleanlab_scores(result: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sample ids, the suspect score: minus cleanlab's label quality (self-confidence), the
    label issues cleanlab finds) of one run's out-of-fold probabilities."""
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    labels, probs = result["label"], result["pred_probs"]
    quality = get_label_quality_scores(labels, probs)
    issues = find_label_issues(labels, probs)
    return result["sample"], -quality, issues


BOOTSTRAP_ROUNDS = 200


def estimate_noise(result: dict[str, np.ndarray], rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0) -> dict[str, float]:
    """The share of noisy labels in a run's training set, estimated from its out-of-fold
    probabilities: the off-diagonal mass of cleanlab's estimated joint of given and true
    labels (``cleanlab.count.estimate_joint``; Northcutt et al. §2.2), with a 95 % interval
    from ``rounds`` bootstrap resamples of the samples (seeded)."""
    from cleanlab.count import estimate_joint

    labels, probs = result["label"], result["pred_probs"]

    def rate(idx: np.ndarray) -> float:
        joint = estimate_joint(labels[idx], probs[idx])
        return float(1.0 - np.trace(joint))

    everything = np.arange(len(labels))
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(rounds):
        idx = rng.integers(0, len(labels), len(labels))
        if len(np.unique(labels[idx])) > 1:  # a resample of one label has no joint to speak of
            draws.append(rate(idx))
    low, high = (np.quantile(draws, [0.025, 0.975]).tolist() if draws else (np.nan, np.nan))
    return {"estimate": rate(everything), "low": low, "high": high, "rounds": len(draws)}
