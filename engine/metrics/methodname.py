"""The metrics of the METHOD-NAME task (Rabin et al., seeds/001_*.txt, §4.3), numpy only:
sub-token precision, recall and F1, exact match, one epoch's metrics, and the critical
sample ratio's bookkeeping (§4.3.4). Like :mod:`engine.metrics` (whose
:func:`~engine.metrics.gini` is the one Gini used here), it never imports torch. Every
definition follows code2vec's own evaluation (tech-srl/code2vec, cited by file and commit
in each function) unless it says otherwise.

A *label* is a method name as code2vec writes its targets: lower-case sub-tokens joined
by ``|`` (``getFooBar`` -> ``get|foo|bar``).
"""
from __future__ import annotations

import math
import re
from collections import Counter
from typing import Mapping, Sequence

import numpy as np

from engine.metrics import MetricInfo, gini, mean

OOV = "<PAD_OR_OOV>"
"""The one special word of every code2vec vocabulary, at index 0: padding and
out-of-vocabulary share it (code2vec config.py ``SEPARATE_OOV_AND_PAD = False``,
vocabularies.py ``_SpecialVocabWords_JoinedOovPad``)."""

SPECIAL_NAMES = frozenset({OOV, "<OOV>", "<PAD>", "<UNK>", "<unk>", "<pad>"})
"""Vocabulary place-holders, never a real prediction (code2vec's ``OOV`` and ``PAD``
in both of its layouts, and byrote's VarMisuse ``<pad>``/``<unk>``)."""

_LEGAL = re.compile(r"[a-zA-Z0-9|]*[a-zA-Z][a-zA-Z0-9|]*")


def legal_name(name) -> bool:
    """True when ``name`` may be reported as a prediction.

    code2vec common.py (commit 01d17316), ``legal_method_names_checker``: a name is
    possible when it is not the OOV word and matches ``^[a-zA-Z|]+$``;
    ``filter_impossible_names`` drops the other names from the top-k list before any
    metric is computed, so the prediction is the highest-scoring *legal* name.
    :class:`engine.models.code2vec.Code2Vec` applies the rule by masking illegal
    vocabulary entries before its argmax.

    One deviation: digits are allowed (the name must still contain an ASCII letter and
    nothing but letters, digits and ``|``). code2vec's Java extractor deletes digits
    from names, so its regex never rejects a real target; byrote's labels keep digit
    runs as sub-tokens (:func:`engine.data.methodname.method_label`: ``utf8`` ->
    ``utf|8``), and the unchanged regex would make every such name impossible to
    predict. Special words (:data:`SPECIAL_NAMES`), the empty name and names without a
    letter (``_``) stay illegal.
    """
    return isinstance(name, str) and name not in SPECIAL_NAMES and _LEGAL.fullmatch(name) is not None


def subtokens(label) -> list[str]:
    """The sub-tokens of a label: ``label.split('|')`` (code2vec ``get_subtokens``).

    The empty label, ``None`` and the special vocabulary words (:data:`SPECIAL_NAMES`)
    have no sub-tokens: they stand for "no prediction" (see :func:`subtoken_counts`).
    """
    if label is None or label == "" or label in SPECIAL_NAMES:
        return []
    return str(label).split("|")


def subtoken_counts(pred_label, true_label) -> tuple[int, int, int]:
    """(tp, fp, fn) of one prediction, counted exactly as code2vec counts them.

    code2vec tensorflow_model.py (commit 04e57f63), ``SubtokensEvaluationMetric.
    update_batch``, which counts with ``Counter``s; the older model.py
    ``update_per_subtoken_statistics`` loops over the lists and gives the same numbers:

    - every predicted sub-token, *with its repetitions*, that occurs anywhere in the true
      name is a true positive; every other predicted sub-token is a false positive;
    - every true sub-token, with its repetitions, that occurs nowhere in the prediction
      is a false negative.

    So membership is tested against the *set* of the other side: a repeated sub-token is
    counted once per occurrence on its own side, never matched one-to-one. Examples
    (checked in tests/test_metrics_methodname.py)::

        pred get|get|name, true get|name      -> tp 3, fp 0, fn 0
        pred get|get|get,  true get|name      -> tp 3, fp 0, fn 1
        pred name,         true get|name|name -> tp 1, fp 0, fn 1
        pred set|value,    true get|value     -> tp 1, fp 1, fn 1

    Impossible predictions: code2vec never scores the OOV word or a name that fails
    :func:`legal_name`; it takes the first legal name of the top-k instead (and crashes
    with an IndexError when there is none). Here a prediction that is empty, ``None`` or
    a special vocabulary word (:data:`SPECIAL_NAMES`) counts as *no prediction*:
    no predicted sub-token, so tp = fp = 0 and every true sub-token is a false negative.
    Any other string is counted as given: filtering (:func:`legal_name`) is the
    predictor's job, as it is in code2vec, and byrote's model never predicts an
    illegal name. The true label is always counted as written (code2vec scores the
    original name string, even when it is outside the target vocabulary).
    """
    pred = Counter(subtokens(pred_label))
    true = Counter(subtokens(true_label))
    tp = sum(n for s, n in pred.items() if s in true)
    fp = sum(n for s, n in pred.items() if s not in true)
    fn = sum(n for s, n in true.items() if s not in pred)
    return tp, fp, fn


def normalize_name(name: str) -> str:
    """code2vec common.py ``normalize_word``: drop every character but ASCII letters, and
    lower-case (a name with nothing left is only lower-cased). ``get|foo`` -> ``getfoo``.

    Digits are kept here (code2vec drops them), for the reason given in
    :func:`legal_name`: otherwise ``utf|8`` and ``utf|16`` would be the same name.
    """
    stripped = re.sub(r"[^a-zA-Z0-9]", "", name)
    return stripped.lower() if stripped else name.lower()


def exact_match(pred_label, true_label) -> bool:
    """code2vec's top-1 exact match (common.py ``get_first_match_word_from_top_predictions``,
    rank 0): the prediction and the true name are equal after :func:`normalize_name`
    (which drops the ``|`` separators and case). No prediction (see
    :func:`subtoken_counts`) never matches."""
    if not subtokens(pred_label):
        return False
    return normalize_name(str(pred_label)) == normalize_name(str(true_label))


def subtoken_count_arrays(pred_labels: Sequence, true_labels: Sequence) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-sample (tp, fp, fn) int64 arrays of :func:`subtoken_counts`; each distinct
    (prediction, truth) pair is counted once."""
    if len(pred_labels) != len(true_labels):
        raise ValueError(f"subtoken_count_arrays: {len(pred_labels)} predictions but {len(true_labels)} true labels")
    cache: dict[tuple, tuple[int, int, int]] = {}
    out = np.zeros((len(pred_labels), 3), dtype=np.int64)
    for i, pair in enumerate(zip(pred_labels, true_labels)):
        counts = cache.get(pair)
        if counts is None:
            counts = cache[pair] = subtoken_counts(*pair)
        out[i] = counts
    return out[:, 0], out[:, 1], out[:, 2]


def precision_recall_f1(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """Micro-averaged precision, recall and F1 from dataset totals (§4.3.2).

    P = tp / (tp + fp), R = tp / (tp + fn), F1 = 2PR / (P + R), as code2vec's
    ``SubtokensEvaluationMetric`` computes them from the sums over all samples (so a
    long name weighs more than a short one). code2vec divides by zero in the degenerate
    cases; byrote defines them as 0.0: P = 0 when nothing was predicted (tp + fp = 0),
    R = 0 when there is no true sub-token (tp + fn = 0), F1 = 0 when P + R = 0.
    """
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2.0 * p * r / (p + r) if p + r else 0.0
    return float(p), float(r), float(f1)


METHODNAME_ARRAYS: tuple[str, ...] = ("loss", "pred", "score")
"""The per-sample arrays :func:`methodname_metrics` reads, one value per sample each."""


def methodname_metrics(arrays: Mapping[str, np.ndarray], true_labels: Sequence[str],
                       target_names: Sequence[str]) -> dict[str, float]:
    """One epoch's METHOD-NAME metrics from per-sample arrays (§4.3).

    ``arrays`` holds, per sample (1-D, length n, as :func:`engine.study.evaluate` collects
    them from :func:`engine.models.code2vec.code2vec_outputs`):

    - ``pred``: the predicted name's index in the target vocabulary;
    - ``score``: its softmax probability over all names (the predicted score, §4.3.1);
    - ``loss``: -log q(true name) (§4.3.3).

    ``true_labels`` are the n labels the samples were trained on / evaluated against, as
    strings (noisy on the training split, clean on held-out data), in the same order;
    ``target_names[pred]`` is the predicted label. The strings are needed because a
    held-out name outside the target vocabulary still has sub-tokens to find.

    Returns floats (nan for every rate when n = 0):

    - ``precision``, ``recall``, ``f1_score``: sub-token P/R/F1 micro-averaged over the
      samples (:func:`subtoken_counts` summed, then :func:`precision_recall_f1`);
    - ``exact_match``: share of samples whose prediction equals the true name
      (:func:`exact_match`, code2vec's top-1 accuracy);
    - ``loss``: mean per-sample loss; ``gini_loss``: :func:`engine.metrics.gini` of the
      per-sample loss (§4.3.3);
    - ``mean_score``: mean predicted score (§4.3.1);
    - ``n``: the sample count.
    """
    missing = [k for k in METHODNAME_ARRAYS if k not in arrays]
    if missing:
        raise ValueError(f"methodname_metrics: missing arrays: {', '.join(missing)}")
    a = {k: np.asarray(arrays[k]) for k in METHODNAME_ARRAYS}
    n = len(true_labels)
    for k, v in a.items():
        if v.ndim != 1 or v.shape[0] != n:
            raise ValueError(f"methodname_metrics: array {k!r} has shape {v.shape}, expected ({n},)")
    pred_ids = a["pred"].astype(np.int64)
    if n and (pred_ids.min() < 0 or pred_ids.max() >= len(target_names)):
        raise ValueError("methodname_metrics: a prediction lies outside the target vocabulary")
    pred_labels = [target_names[i] for i in pred_ids.tolist()]
    tp, fp, fn = subtoken_count_arrays(pred_labels, list(true_labels))
    exact = np.fromiter((exact_match(pl, tl) for pl, tl in zip(pred_labels, true_labels)), dtype=bool, count=n)
    return name_metrics(tp, fp, fn, exact, a["loss"], a["score"])


def name_metrics(tp, fp, fn, exact, loss, score) -> dict[str, float]:
    """The epoch metrics of a method-name model from per-sample counts, whatever counted
    them (code2vec's :func:`subtoken_count_arrays`, code2seq's
    :func:`engine.metrics.code2seq.code2seq_count_arrays`); see :func:`methodname_metrics`."""
    n = len(exact)
    loss = np.asarray(loss, dtype=np.float64)
    if n == 0:
        p = r = f1 = math.nan
    else:
        p, r, f1 = precision_recall_f1(int(np.sum(tp)), int(np.sum(fp)), int(np.sum(fn)))
    return {
        "precision": p,
        "recall": r,
        "f1_score": f1,
        "exact_match": mean(exact),
        "loss": mean(loss),
        "gini_loss": gini(loss),
        "mean_score": mean(np.asarray(score, dtype=np.float64)),
        "n": float(n),
    }


def critical_flags(original_pred, candidate_pred, candidate_owner, n: int | None = None) -> np.ndarray:
    """Which samples are critical (§4.3.4), given the predictions; a bool array of length n.

    ``original_pred[i]`` is the name predicted for input program i, M(t_i);
    ``candidate_pred[j]`` the name predicted for candidate program j, M(t_j), a
    single-place variable renaming of program ``candidate_owner[j]``. Predictions may be
    vocabulary ids or label strings (compared with ``!=``). Sample i is critical when
    some candidate of its own has M(t_j) != M(t_i) (δ = 1: one transformation away). A
    sample without a candidate (a method without variables) has no program within δ,
    so it is not critical. ``n`` defaults to ``len(original_pred)``.
    """
    orig = np.asarray(original_pred)
    cand = np.asarray(candidate_pred)
    owner = np.asarray(candidate_owner, dtype=np.int64)
    n = orig.shape[0] if n is None else int(n)
    if orig.ndim != 1 or orig.shape[0] != n:
        raise ValueError(f"critical_flags: original_pred must be 1-D of length {n}")
    if cand.shape != owner.shape or cand.ndim != 1:
        raise ValueError("critical_flags: candidate_pred and candidate_owner must be 1-D of one length")
    if owner.size and (owner.min() < 0 or owner.max() >= n):
        raise ValueError("critical_flags: a candidate owner lies outside the samples")
    critical = np.zeros(n, dtype=bool)
    if owner.size:
        critical[owner[cand != orig[owner]]] = True
    return critical


def csr(critical, correct) -> dict[str, float]:
    """The critical sample ratio (§4.3.4): CSR = #critical samples / #samples.

    ``critical`` (see :func:`critical_flags`) and ``correct`` (the original program's
    prediction is right, :func:`exact_match`) are boolean arrays over the same test
    samples. Returns ``csr_all`` over all samples, ``csr_correct`` over the correctly
    predicted ones and ``csr_incorrect`` over the others (the paper's Figure 8 and its
    two splits); each is nan when its group is empty.
    """
    c = np.asarray(critical, dtype=bool)
    ok = np.asarray(correct, dtype=bool)
    if c.ndim != 1 or c.shape != ok.shape:
        raise ValueError(f"csr: critical {c.shape} and correct {ok.shape} must be 1-D of one length")
    return {
        "csr_all": mean(c),
        "csr_correct": mean(c[ok]),
        "csr_incorrect": mean(c[~ok]),
    }


METHODNAME_METRIC_INFO: dict[str, MetricInfo] = {
    "precision": MetricInfo("sub-token precision, micro-averaged (code2vec)", True, "4.3.2"),
    "recall": MetricInfo("sub-token recall, micro-averaged (code2vec)", True, "4.3.2"),
    "f1_score": MetricInfo("sub-token F1 = 2PR/(P+R), micro-averaged (code2vec)", True, "4.3.2"),
    "exact_match": MetricInfo("samples whose predicted name is the true name", True, "4.3.2"),
    "loss": MetricInfo("mean loss -log q(true name)", False, "4.3.3"),
    "gini_loss": MetricInfo("Gini coefficient of per-sample loss (spread of loss)", None, "4.3.3"),
    "mean_score": MetricInfo("mean predicted score (softmax probability of the predicted name)", None, "4.3.1"),
    "n": MetricInfo("samples", None, ""),
    "csr_all": MetricInfo("critical sample ratio, all test samples", None, "4.3.4"),
    "csr_correct": MetricInfo("critical sample ratio, correctly predicted samples", None, "4.3.4"),
    "csr_incorrect": MetricInfo("critical sample ratio, incorrectly predicted samples", None, "4.3.4"),
}
"""Name -> description, direction and section for the METHOD-NAME metrics; the keys
shared with :data:`engine.metrics.varmisuse.METRIC_INFO` (``loss``, ``gini_loss``, ``n``) keep their
meaning."""
