"""code2seq's own counting of a predicted name (tech-srl/code2seq ``model.py``, commit
bf55ceb: ``update_per_subtoken_statistics`` and ``update_correct_predictions`` with
``BEAM_WIDTH = 0``, the default the study trained with), numpy only. It differs from
code2vec's (:mod:`engine.metrics.methodname`) in three ways, each kept here:

- a prediction is a *sequence* of sub-tokens, decoded step by step (which steps, and
  from which logits, :func:`engine.models.code2seq.code2seq_outputs` says); the words ``<UNK>``, ``<PAD>``
  and ``</S>`` are dropped from it and from the true name
  (``Common.filter_impossible_names``), nothing else is;
- when the prediction and the true name are equal once their sub-tokens are
  concatenated (``get|name`` against ``getname``), every true sub-token is a true
  positive;
- a prediction is exact when its sub-tokens equal the true ones, as a list, as a set, or
  concatenated.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from engine.metrics.methodname import name_metrics

IMPOSSIBLE = frozenset({"<UNK>", "<PAD>", "</S>"})
"""``Common.filter_impossible_names``: the words code2seq drops from both sides."""


def filtered(words: Sequence[str]) -> list[str]:
    return [w for w in words if w not in IMPOSSIBLE]


def code2seq_counts(pred: Sequence[str], true: Sequence[str]) -> tuple[int, int, int]:
    """(tp, fp, fn) of one prediction, as ``update_per_subtoken_statistics`` counts them:
    equal concatenations give tp = len(true); else each predicted sub-token found among
    the true ones is a true positive (with its repetitions), each other a false positive,
    and each true sub-token not predicted a false negative."""
    p, t = filtered(pred), filtered(true)
    if "".join(p) == "".join(t):
        return len(t), 0, 0
    return (sum(1 for w in p if w in t), sum(1 for w in p if w not in t), sum(1 for w in t if w not in p))


def code2seq_exact(pred: Sequence[str], true: Sequence[str]) -> bool:
    """``update_correct_predictions``: the filtered sub-tokens are equal as lists, as sets
    or concatenated. The middle test compares ``Common.unique`` of each: ``list(set(...))``
    since tech-srl/code2seq 3927e60 (May 2020), a set comparison; before it, repeats
    dropped in order (``name|get`` is then not ``get|name``). The study's fork ships no
    ``common.py`` of its own, so which one it ran is not known; byrote compares sets."""
    p, t = filtered(pred), filtered(true)
    return p == t or set(p) == set(t) or "".join(p) == "".join(t)


def code2seq_count_arrays(preds: Sequence[Sequence[str]], trues: Sequence[Sequence[str]]):
    """Per-sample (tp, fp, fn) int64 arrays and the exact-match bool array."""
    n = len(preds)
    counts = np.zeros((n, 3), dtype=np.int64)
    exact = np.zeros(n, dtype=bool)
    for i, (p, t) in enumerate(zip(preds, trues)):
        counts[i] = code2seq_counts(p, t)
        exact[i] = code2seq_exact(p, t)
    return counts[:, 0], counts[:, 1], counts[:, 2], exact


def decode_names(pred_ids, itos: Sequence[str]) -> list[list[str]]:
    """Each row of predicted target ids (``pred`` of
    :func:`~engine.models.code2seq.code2seq_outputs`) as its sub-tokens, up to the first id 0
    (``<PAD>``: the end word, ``end_token=target_to_index[PAD]``, or the end of a name's
    words)."""
    names = []
    for row in np.asarray(pred_ids, dtype=np.int64).reshape(len(pred_ids), -1).tolist():
        end = row.index(0) if 0 in row else len(row)
        names.append([itos[i] for i in row[:end]])
    return names


def code2seq_metrics(arrays, true_labels: Sequence[str], itos: Sequence[str]) -> dict[str, float]:
    """One epoch's method-name metrics of a code2seq model: ``arrays["pred"]`` holds each
    sample's decoded target ids ([n, steps]), ``loss`` and ``score`` one value each; the
    true names are labels (``get|name``). Counted by :func:`code2seq_count_arrays`, the
    rest as :func:`engine.metrics.methodname.name_metrics`."""
    preds = decode_names(arrays["pred"], itos)
    tp, fp, fn, exact = code2seq_count_arrays(preds, [label.split("|") for label in true_labels])
    return name_metrics(tp, fp, fn, exact, arrays["loss"], arrays["score"])
