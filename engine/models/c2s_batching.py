"""Vocabularies, one-pass encoding and padded batches for the code2seq model, after
tech-srl/code2seq (commit bf55ceb: ``model.py``, ``reader.py``, ``common.py``):
:meth:`C2SVocabs.build`, :func:`encode_code2seq` and :func:`iter_c2s_batches`.

A path-context ``(start, path, end)`` is read in either layout byrote holds: code2seq's
(``.c2s``: terminals are ``|``-joined sub-tokens, the path its ``|``-joined nodes,
``Nm1|Mth|Bk|Ret|Nm0``) or code2vec's (byrote's ``.jsonl`` and ``.c2v`` text paths:
``(identifier0)^(call)_(identifier1)``, whose nodes are the bracketed pieces).
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import torch

from engine.errors import InputError
from engine.models.batching import Batch
from engine.models.c2v_batching import batch_indices, ragged_slots

PAD, UNK, SOS = "<PAD>", "<UNK>", "<S>"
"""code2seq's special words (``Common``): padding, which also ends a decoded name
(id 0), the unknown word (id 1) and, in the target vocabulary, the start word (id 2)."""


def path_nodes(path: str) -> list[str]:
    """The nodes of a path, from the start terminal up and down to the end one: code2seq's
    ``Nm1|Mth|Nm0`` split at ``|``; code2vec's ``(a)^(b)_(c)`` as ``a``, ``b``, ``c``."""
    if path.startswith("(") and path.endswith(")"):
        return path[1:-1].replace(")^(", ")_(").split(")_(")
    return path.split("|")


def terminal_subtokens(terminal: str) -> list[str]:
    """A terminal's sub-tokens: code2seq writes them ``|``-joined; a code2vec terminal
    (normalized to one lower-case word) is one sub-token."""
    return terminal.split("|")


class C2SVocab:
    """word <-> id, the special words first."""

    def __init__(self, words: Sequence[str]):
        self.itos = list(words)
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("a vocabulary lists a word twice")

    @classmethod
    def from_counts(cls, counts: Counter, specials: Sequence[str], max_size: int | None) -> "C2SVocab":
        """``specials``, then the ``max_size`` most frequent words (ties: alphabetical;
        code2seq ``Common.load_vocab_from_dict``, whose ties follow its dictionary order)."""
        ranked = sorted((w for w in counts if w not in specials), key=lambda w: (-counts[w], w))
        return cls(list(specials) + (ranked if max_size is None else ranked[: max(0, int(max_size))]))

    def __len__(self) -> int:
        return len(self.itos)

    def ids(self, words: Sequence[str], width: int) -> list[int]:
        """The first ``width`` words as ids (unknown: 1), padded with 0."""
        out = [self.stoi.get(w, 1) for w in words[:width]]
        return out + [0] * (width - len(out))


@dataclass
class C2SVocabs:
    subtokens: C2SVocab  # terminals' sub-tokens
    nodes: C2SVocab  # path nodes
    targets: C2SVocab  # the names' sub-tokens

    @classmethod
    def build(cls, samples: Sequence, cfg: dict) -> "C2SVocabs":
        """Count over ``samples`` (the noisy training set), as code2seq's ``preprocess.py``
        histograms do: terminal sub-tokens (at most ``subtoken_vocab_size`` kept), path
        nodes (all), and the labels' sub-tokens (at most ``target_vocab_size``)."""
        sub: Counter = Counter()
        node: Counter = Counter()
        target: Counter = Counter()
        for s in samples:
            target.update(s.label.split("|"))
            for start, path, end in s.contexts:
                sub.update(terminal_subtokens(start))
                sub.update(terminal_subtokens(end))
                node.update(path_nodes(path))
        return cls(C2SVocab.from_counts(sub, (PAD, UNK), cfg["subtoken_vocab_size"]),
                   C2SVocab.from_counts(node, (PAD, UNK), None),
                   C2SVocab.from_counts(target, (PAD, UNK, SOS), cfg["target_vocab_size"]))

    def sizes(self) -> tuple[int, int, int]:
        return len(self.subtokens), len(self.nodes), len(self.targets)

    def to_json(self) -> str:
        return json.dumps({"subtokens": self.subtokens.itos, "nodes": self.nodes.itos, "targets": self.targets.itos})


@dataclass
class C2SBatch:
    index: torch.Tensor  # [B] long: positions in the encoded dataset
    starts: torch.Tensor  # [B, C, P] long: start terminals' sub-token ids, 0 = padding
    nodes: torch.Tensor  # [B, C, L] long: path node ids
    path_len: torch.Tensor  # [B, C] long: nodes per path (0 for padding)
    ends: torch.Tensor  # [B, C, P] long: end terminals' sub-token ids
    mask: torch.Tensor  # [B, C] bool: real contexts
    pad_slots: torch.Tensor  # [B] float: the sample's empty slots up to max_contexts
    target: torch.Tensor  # [B, T+1] long: the name's sub-token ids, then 0 (end) and padding
    target_len: torch.Tensor  # [B] long: sub-tokens in ``target`` (at most T)

    __len__ = Batch.__len__
    to = Batch.to


@dataclass
class C2SEncoded:
    """Samples as flat arrays; sample ``i`` owns contexts ``off[i]:off[i+1]``."""

    kept: np.ndarray  # [N] indices of the kept samples in the input list
    n_dropped: int  # samples without a context
    off: np.ndarray  # [N+1]
    starts: np.ndarray  # [M, P] int32
    nodes: np.ndarray  # [M, L] int32
    path_len: np.ndarray  # [M] int16
    ends: np.ndarray  # [M, P] int32
    target: np.ndarray  # [N, T+1] int64
    target_len: np.ndarray  # [N] int64
    labels: list  # [N] the kept samples' labels (for the metrics)
    max_contexts: int

    def __len__(self) -> int:
        return int(self.target.shape[0])

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.off)


def encode_code2seq(samples: Sequence, vocabs: C2SVocabs, cfg: dict, seed: int = 0) -> C2SEncoded:
    """Encode ``samples`` once, as code2seq's reader does (``reader.py``):

    - each terminal keeps its first ``max_name_parts`` (5) sub-tokens and each path its
      first ``max_path_length`` (9) nodes; words outside a vocabulary are ``<UNK>``;
    - the name keeps its first ``max_target_parts`` (6) sub-tokens, followed by the end
      word ``<PAD>`` (id 0); sub-tokens outside the target vocabulary are ``<UNK>``, and
      no sample is dropped for its name (code2seq trains on every row);
    - a sample with more than ``max_contexts`` (200) contexts keeps ``max_contexts`` of
      them, drawn once with a seeded generator and kept in order (code2seq redraws them
      every epoch; a sample with fewer is unchanged either way, since the model does not
      depend on the order of its contexts);
    - a sample without any context is dropped.
    """
    P, L, T = int(cfg["max_name_parts"]), int(cfg["max_path_length"]), int(cfg["max_target_parts"])
    max_contexts = int(cfg["max_contexts"])
    if min(P, L, T, max_contexts) < 1:
        raise InputError("max_name_parts, max_path_length, max_target_parts and max_contexts must be at least 1")
    rng = np.random.default_rng(seed)
    kept, sizes, starts, nodes, path_len, ends, target, target_len, labels = ([] for _ in range(9))
    for i, s in enumerate(samples):
        contexts = s.contexts
        if not contexts:
            continue
        if len(contexts) > max_contexts:
            contexts = [contexts[k] for k in np.sort(rng.choice(len(contexts), max_contexts, replace=False))]
        for start, path, end in contexts:
            starts.append(vocabs.subtokens.ids(terminal_subtokens(start), P))
            parts = path_nodes(path)
            nodes.append(vocabs.nodes.ids(parts, L))
            path_len.append(min(len(parts), L))
            ends.append(vocabs.subtokens.ids(terminal_subtokens(end), P))
        words = s.label.split("|")
        kept.append(i)
        sizes.append(len(contexts))
        target.append(vocabs.targets.ids(words, T) + [0])
        target_len.append(min(len(words), T))
        labels.append(s.label)
    off = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=off[1:])
    return C2SEncoded(
        kept=np.asarray(kept, dtype=np.int64), n_dropped=len(samples) - len(kept), off=off,
        starts=np.asarray(starts, dtype=np.int32).reshape(-1, P),
        nodes=np.asarray(nodes, dtype=np.int32).reshape(-1, L),
        path_len=np.asarray(path_len, dtype=np.int16), ends=np.asarray(ends, dtype=np.int32).reshape(-1, P),
        target=np.asarray(target, dtype=np.int64).reshape(-1, T + 1), target_len=np.asarray(target_len, dtype=np.int64),
        labels=labels, max_contexts=max_contexts,
    )


def make_c2s_batch(encoded: C2SEncoded, idx: np.ndarray) -> C2SBatch:
    """One batch of the encoded samples ``idx``, padded to its widest sample."""
    idx = np.asarray(idx, dtype=np.int64)
    sizes, rows, cols, take = ragged_slots(encoded.off, idx)
    B, C = len(idx), int(sizes.max()) if len(idx) else 0

    def spread(flat: np.ndarray) -> torch.Tensor:
        out = np.zeros((B, C) + flat.shape[1:], dtype=np.int64)
        out[rows, cols] = flat[take]
        return torch.from_numpy(out)

    mask = np.zeros((B, C), dtype=bool)
    mask[rows, cols] = True
    return C2SBatch(
        index=torch.from_numpy(idx.copy()), starts=spread(encoded.starts), nodes=spread(encoded.nodes),
        path_len=spread(encoded.path_len), ends=spread(encoded.ends), mask=torch.from_numpy(mask),
        pad_slots=torch.from_numpy(np.maximum(encoded.max_contexts - sizes, 0).astype(np.float32)),
        target=torch.from_numpy(encoded.target[idx]), target_len=torch.from_numpy(encoded.target_len[idx]),
    )


def iter_c2s_batches(encoded: C2SEncoded, order: np.ndarray, cfg: dict) -> Iterator[C2SBatch]:
    """Batches of ``cfg["batch_size"]`` samples of ``encoded`` in ``order``."""
    for idx in batch_indices(order, int(cfg.get("batch_size") or 0), "code2seq"):
        yield make_c2s_batch(encoded, idx)
