"""Vocabularies, one-pass encoding and padded batches for the code2vec model, after
tech-srl/code2vec (files and commits cited where used): :meth:`C2VVocabs.build`,
:func:`encode_methodname` (what is kept and dropped) and :func:`iter_c2v_batches`.

Contexts are stored ragged (flat arrays with offsets); a batch is padded to its own
widest sample, with a mask, so small methods cost less than ``max_contexts``.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import torch

from engine.errors import InputError
from engine.metrics.methodname import OOV, legal_name
from engine.models.batching import Batch


class C2VVocab:
    """word <-> id; id 0 is :data:`OOV` (padding and unknown words alike)."""

    def __init__(self, words: Sequence[str]):
        words = list(words)
        if not words or words[0] != OOV:
            raise ValueError(f"a code2vec vocabulary starts with {OOV}")
        self.itos = words
        self.stoi = {w: i for i, w in enumerate(words)}
        if len(self.stoi) != len(words):
            raise ValueError("a vocabulary lists a word twice")

    @classmethod
    def from_counts(cls, counts: Counter, max_size: int) -> "C2VVocab":
        """The ``max_size`` most frequent words (ties: alphabetical) after :data:`OOV`."""
        ranked = sorted((w for w in counts if w != OOV), key=lambda w: (-counts[w], w))
        return cls([OOV] + ranked[: max(0, int(max_size))])

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, word) -> int:
        return self.stoi.get(word, 0)


@dataclass
class C2VVocabs:
    tokens: C2VVocab
    paths: C2VVocab
    targets: C2VVocab

    @classmethod
    def build(cls, samples: Sequence, cfg: dict) -> "C2VVocabs":
        """Count terminals, paths and labels over ``samples`` (all their contexts, before
        any ``max_contexts`` cut, as code2vec's histograms) and keep the preset's sizes.

        Three vocabularies, built from the (noisy) training set by frequency
        (vocabularies.py ``create_from_freq_dict``; ties broken alphabetically here, so
        the result does not depend on sample order): terminals (the start and end tokens
        of the path-contexts share one vocabulary), paths, and targets (whole labels,
        ``get|foo|bar``). Each keeps at most ``token_vocab_size`` / ``path_vocab_size`` /
        ``target_vocab_size`` entries after index 0, the joined padding/out-of-vocabulary
        word :data:`~engine.metrics.methodname.OOV` (config.py
        ``SEPARATE_OOV_AND_PAD = False``).
        """
        tok: Counter = Counter()
        path: Counter = Counter()
        target: Counter = Counter()
        for s in samples:
            target[s.label] += 1
            for start, p, end in s.contexts:
                tok[start] += 1
                tok[end] += 1
                path[p] += 1
        return cls(
            tokens=C2VVocab.from_counts(tok, cfg["token_vocab_size"]),
            paths=C2VVocab.from_counts(path, cfg["path_vocab_size"]),
            targets=C2VVocab.from_counts(target, cfg["target_vocab_size"]),
        )

    def legal_targets(self) -> np.ndarray:
        """[V_target] bool: the names code2vec may predict (:func:`legal_name`; never OOV)."""
        return np.fromiter((legal_name(w) for w in self.targets.itos), dtype=bool, count=len(self.targets))

    def sizes(self) -> tuple[int, int, int]:
        return len(self.tokens), len(self.paths), len(self.targets)

    def to_json(self) -> str:
        return json.dumps({"tokens": self.tokens.itos, "paths": self.paths.itos, "targets": self.targets.itos})

    @classmethod
    def from_json(cls, data: str | dict) -> "C2VVocabs":
        if isinstance(data, str):
            data = json.loads(data)
        return cls(C2VVocab(data["tokens"]), C2VVocab(data["paths"]), C2VVocab(data["targets"]))


@dataclass
class C2VBatch:
    index: torch.Tensor  # [B] long: positions in the encoded dataset
    starts: torch.Tensor  # [B, C] long: start-terminal ids, 0 = padding
    paths: torch.Tensor  # [B, C] long: path ids
    ends: torch.Tensor  # [B, C] long: end-terminal ids
    mask: torch.Tensor  # [B, C] bool: real (valid) contexts
    target: torch.Tensor  # [B] long: label id, 0 = out of the target vocabulary

    __len__ = Batch.__len__
    to = Batch.to


@dataclass
class C2VEncoded:
    """Samples as flat arrays; sample ``i`` owns ``contexts[off[i]:off[i+1]]``."""

    kept: np.ndarray  # [N] indices of the kept samples in the input list
    n_dropped: int  # samples without a valid context, or (train) with an OOV label
    off: np.ndarray  # [N+1]
    contexts: np.ndarray  # [sum C, 3] int32: (start, path, end) ids
    target: np.ndarray  # [N] int64, 0 = OOV
    labels: list  # [N] the kept samples' labels as strings (for the metrics)

    def __len__(self) -> int:
        return int(self.target.shape[0])

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.off)


def encode_methodname(samples: Sequence, vocabs: C2VVocabs, max_contexts: int, *, train: bool,
                      seed: int = 0) -> C2VEncoded:
    """Encode ``samples`` once, after tech-srl/code2vec:

    - A path-context is *valid* when any of its three ids is not 0
      (path_context_reader.py ``context_valid_mask``); invalid ones are dropped here
      (code2vec masks them out, which is the same for the model).
    - A sample with more than ``max_contexts`` valid contexts keeps ``max_contexts`` of
      them: the contexts whose three parts are all in the vocabularies first, then those
      found in part, each class sampled at random (preprocess.py ``process_file``, commit
      6cd58d3b). The draw is seeded (``seed``, raw PCG64 output as in
      :mod:`engine.noise.varmisuse`: one key per valid context of each sample that needs
      a cut, samples in ascending order, contexts in order), and the kept contexts stay
      in their original order.
    - Dropped samples (path_context_reader.py ``_filter_input_rows``): a sample without a
      valid context, always; when ``train=True``, also a sample whose label is outside
      the target vocabulary (code2vec never trains on an OOV target). Held-out samples
      with an OOV label are kept: their target id is 0 and they can never be predicted
      correctly.
    """
    if int(max_contexts) < 1:
        raise InputError("max_contexts must be at least 1")
    tok, path, tgt = vocabs.tokens.stoi, vocabs.paths.stoi, vocabs.targets.stoi
    bits = np.random.PCG64(int(seed))
    kept, parts, target, labels = [], [], [], []
    for i, s in enumerate(samples):
        label_id = tgt.get(s.label, 0)
        if train and label_id == 0:
            continue
        ids = np.asarray([(tok.get(a, 0), path.get(p, 0), tok.get(b, 0)) for a, p, b in s.contexts],
                         dtype=np.int32).reshape(-1, 3)
        found = (ids != 0).sum(axis=1)
        ids = ids[found > 0]
        if len(ids) == 0:
            continue
        if len(ids) > max_contexts:
            keys = np.asarray(bits.random_raw(len(ids)), dtype=np.uint64)
            partial = (found[found > 0] < 3).astype(np.uint64)  # 0: fully found, 1: in part
            order = np.lexsort((np.arange(len(ids)), keys, partial))
            ids = ids[np.sort(order[:max_contexts])]
        kept.append(i)
        parts.append(ids)
        target.append(label_id)
        labels.append(s.label)
    off = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum([len(p) for p in parts], out=off[1:])
    return C2VEncoded(
        kept=np.asarray(kept, dtype=np.int64),
        n_dropped=len(samples) - len(kept),
        off=off,
        contexts=np.concatenate(parts) if parts else np.zeros((0, 3), dtype=np.int32),
        target=np.asarray(target, dtype=np.int64),
        labels=labels,
    )


def ragged_slots(off: np.ndarray, idx: np.ndarray):
    """Where the contexts of samples ``idx`` go in a batch padded to its widest sample:
    (contexts per sample, their batch rows, their columns, their flat positions)."""
    sizes = off[idx + 1] - off[idx]
    rows = np.repeat(np.arange(len(idx)), sizes)
    cols = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    return sizes, rows, cols, np.repeat(off[idx], sizes) + cols


def make_c2v_batch(encoded: C2VEncoded, idx: np.ndarray) -> C2VBatch:
    """One batch of the encoded samples ``idx``, padded to its widest sample."""
    idx = np.asarray(idx, dtype=np.int64)
    sizes, rows, cols, take = ragged_slots(encoded.off, idx)
    B, C = len(idx), int(sizes.max()) if len(idx) else 0
    ctx = np.zeros((3, B, C), dtype=np.int64)
    ctx[:, rows, cols] = encoded.contexts[take].T
    mask = np.zeros((B, C), dtype=bool)
    mask[rows, cols] = True
    return C2VBatch(
        index=torch.from_numpy(idx.copy()),
        starts=torch.from_numpy(ctx[0]),
        paths=torch.from_numpy(ctx[1]),
        ends=torch.from_numpy(ctx[2]),
        mask=torch.from_numpy(mask),
        target=torch.from_numpy(encoded.target[idx]),
    )


def batch_indices(order: np.ndarray, size: int, what: str) -> Iterator[np.ndarray]:
    """``order`` in consecutive chunks of ``size`` sample positions (the last may be
    shorter), for the tasks batched by sample count; ``what`` names the preset kind in
    the error for a size below 1."""
    if int(size) < 1:
        raise InputError(f"a {what} preset needs batch_size >= 1")
    order = np.asarray(order, dtype=np.int64)
    for start in range(0, len(order), int(size)):
        yield order[start:start + int(size)]


def iter_c2v_batches(encoded: C2VEncoded, order: np.ndarray, cfg: dict | None = None, *,
                     batch_size: int | None = None) -> Iterator[C2VBatch]:
    """Batches of ``batch_size`` (``cfg["batch_size"]``) samples of ``encoded`` in ``order``."""
    for idx in batch_indices(order, int(batch_size or (cfg or {}).get("batch_size") or 0), "methodname"):
        yield make_c2v_batch(encoded, idx)
