"""Encoding VarMisuse samples once, and cutting them into padded batches, after the
reference implementation (VHellendoorn/ICLR20-Great, data/data_loader.py).

:func:`encode_samples` turns samples into flat numpy arrays (one pass, at the start of a
run); :func:`iter_batches` cuts them into :class:`Batch` es of tensors in the order the
caller gives (it shuffles; nothing is bucketed here), each padded to its longest sample.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Iterator, Sequence

import numpy as np
import torch

from engine.data.varmisuse import EDGE_TYPES, VarMisuseSample
from engine.errors import InputError

_EDGE_ID = {name: i for i, name in enumerate(EDGE_TYPES)}


@dataclass
class Batch:
    index: torch.Tensor  # [B] long: positions in the encoded dataset
    subtokens: torch.Tensor  # [B, T, S] long, 0 = padding
    mask: torch.Tensor  # [B, T] bool: real tokens
    edges: torch.Tensor  # [E, 4] long: (batch, src, dst, edge type id in 0..21)
    candidates: torch.Tensor  # [B, T] bool: repair candidates
    var_ids: torch.Tensor  # [B, T] long: variable (name) id per candidate, -1 elsewhere
    error_location: torch.Tensor  # [B] long, 0 = no bug
    targets: torch.Tensor  # [B, T] bool: repair targets
    has_bug: torch.Tensor  # [B] bool

    def __len__(self) -> int:
        return int(self.index.shape[0])

    def to(self, device):
        """The same batch with every tensor on ``device``."""
        return type(self)(**{f.name: getattr(self, f.name).to(device, non_blocking=True) for f in fields(self)})


@dataclass
class EncodedDataset:
    """Samples as flat arrays; sample ``i`` owns ``x[off[i]:off[i+1]]`` of each ragged ``x``."""

    kept: np.ndarray  # [N] indices of the kept samples in the input list
    n_dropped: int  # samples longer than max_len (or empty)
    lengths: np.ndarray  # [N] tokens per sample
    tok_off: np.ndarray  # [N+1]
    token_ids: np.ndarray  # [sum len] row of each token in token_table
    token_table: np.ndarray  # [U, S] sub-token ids of each distinct token string
    token_nsub: np.ndarray  # [U] number of sub-tokens of each
    edge_off: np.ndarray  # [N+1]
    edges: np.ndarray  # [sum E, 3] (src, dst, type) with reverse edges
    cand_off: np.ndarray  # [N+1]
    cand_pos: np.ndarray  # [sum C] candidate positions
    cand_var: np.ndarray  # [sum C] variable id of each candidate within its sample
    target_off: np.ndarray  # [N+1]
    target_pos: np.ndarray  # [sum R]
    error_location: np.ndarray  # [N]
    has_bug: np.ndarray  # [N] bool

    def __len__(self) -> int:
        return int(self.lengths.shape[0])


def _offsets(sizes: list[int]) -> np.ndarray:
    off = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=off[1:])
    return off


def _cat(parts: list[np.ndarray], width: int | None = None) -> np.ndarray:
    if parts:
        return np.concatenate(parts).astype(np.int32, copy=False)
    return np.zeros((0,) if width is None else (0, width), dtype=np.int32)


def encode_samples(samples: Sequence[VarMisuseSample], vocab, max_len: int) -> EncodedDataset:
    """Encode every sample of at most ``max_len`` tokens; count the longer ones as dropped.

    Conventions, after the reference (VHellendoorn/ICLR20-Great, data/data_loader.py):

    - samples longer than ``max_len`` tokens are dropped (``max_sequence_length``, 512
      there); so are empty ones;
    - edges keep the 11 names of :data:`EDGE_TYPES` (others, and edges with an end outside
      the sample, are dropped), numbered 0..10 in that order, and each gets a reverse edge
      of type ``11 + type`` (the reference doubles the index instead: forward ``2t``,
      reverse ``2t + 1``; only the numbering differs);
    - repair candidates are the integer positions; the repair targets are added to them
      (a target is an occurrence of the correct variable, so it is a candidate by
      definition, and a target outside the pointer domain could never be predicted).
    """
    table: dict[str, int] = {}
    kept, lengths, token_ids, edges, cand_pos, cand_var, target_pos = [], [], [], [], [], [], []
    error_location, has_bug = [], []
    for i, s in enumerate(samples):
        n = len(s.tokens)
        if n > max_len or n == 0:
            continue
        loc = int(s.error_location)
        targets = sorted({int(t) for t in s.repair_targets})
        cands = sorted({int(c) for c in s.repair_candidates if isinstance(c, (int, np.integer))} | set(targets))
        if not 0 <= loc < n:
            raise InputError(f"sample {i}: error_location {loc} outside its {n} tokens")
        if any(not 0 <= p < n for p in cands):
            raise InputError(f"sample {i}: a repair target or candidate lies outside its {n} tokens")

        kept.append(i)
        lengths.append(n)
        token_ids.append(np.fromiter((table.setdefault(t, len(table)) for t in s.tokens), np.int32, n))
        e = [(a, b, _EDGE_ID[name]) for a, b, name in s.edges
             if name in _EDGE_ID and 0 <= a < n and 0 <= b < n]
        e = np.asarray(e, dtype=np.int32).reshape(-1, 3)
        rev = np.stack([e[:, 1], e[:, 0], e[:, 2] + len(EDGE_TYPES)], axis=1)
        edges.append(np.concatenate([e, rev]))
        names: dict[str, int] = {}
        cand_pos.append(np.asarray(cands, dtype=np.int32))
        cand_var.append(np.asarray([names.setdefault(s.tokens[p], len(names)) for p in cands], dtype=np.int32))
        target_pos.append(np.asarray(targets, dtype=np.int32))
        error_location.append(loc)
        has_bug.append(bool(s.has_bug))

    S = vocab.max_subtokens
    token_table = np.zeros((max(len(table), 1), S), dtype=np.int32)
    token_nsub = np.ones(max(len(table), 1), dtype=np.int32)
    for tok, row in table.items():
        ids = vocab.encode(tok)
        token_table[row, : len(ids)] = ids
        token_nsub[row] = len(ids)
    return EncodedDataset(
        kept=np.asarray(kept, dtype=np.int64),
        n_dropped=len(samples) - len(kept),
        lengths=np.asarray(lengths, dtype=np.int64),
        tok_off=_offsets(lengths),
        token_ids=_cat(token_ids),
        token_table=token_table,
        token_nsub=token_nsub,
        edge_off=_offsets([len(e) for e in edges]),
        edges=_cat(edges, 3),
        cand_off=_offsets([len(c) for c in cand_pos]),
        cand_pos=_cat(cand_pos),
        cand_var=_cat(cand_var),
        target_off=_offsets([len(t) for t in target_pos]),
        target_pos=_cat(target_pos),
        error_location=np.asarray(error_location, dtype=np.int64),
        has_bug=np.asarray(has_bug, dtype=bool),
    )


def _ragged(values: np.ndarray, off: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``values`` of the samples ``idx``, and the batch row of each."""
    sizes = off[idx + 1] - off[idx]
    rows = np.repeat(np.arange(len(idx)), sizes)
    starts = np.repeat(off[idx] - np.cumsum(sizes) + sizes, sizes)
    take = starts + np.arange(int(sizes.sum()))
    return values[take], rows


def make_batch(encoded: EncodedDataset, idx: np.ndarray) -> Batch:
    """One padded batch of the encoded samples ``idx`` (positions in ``encoded``)."""
    idx = np.asarray(idx, dtype=np.int64)
    B, lengths = len(idx), encoded.lengths[idx]
    T = int(lengths.max())
    tok, rows = _ragged(encoded.token_ids, encoded.tok_off, idx)
    cols = np.arange(len(tok)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    S = int(encoded.token_nsub[tok].max())
    subtokens = np.zeros((B, T, S), dtype=np.int64)
    subtokens[rows, cols] = encoded.token_table[tok, :S]
    mask = np.zeros((B, T), dtype=bool)
    mask[rows, cols] = True

    e, erows = _ragged(encoded.edges, encoded.edge_off, idx)
    edges = np.concatenate([erows[:, None], e], axis=1).astype(np.int64)

    pos, crows = _ragged(encoded.cand_pos, encoded.cand_off, idx)
    var, _ = _ragged(encoded.cand_var, encoded.cand_off, idx)
    candidates = np.zeros((B, T), dtype=bool)
    candidates[crows, pos] = True
    var_ids = np.full((B, T), -1, dtype=np.int64)
    var_ids[crows, pos] = var

    pos, trows = _ragged(encoded.target_pos, encoded.target_off, idx)
    targets = np.zeros((B, T), dtype=bool)
    targets[trows, pos] = True
    return Batch(
        index=torch.from_numpy(idx.copy()),
        subtokens=torch.from_numpy(subtokens),
        mask=torch.from_numpy(mask),
        edges=torch.from_numpy(edges),
        candidates=torch.from_numpy(candidates),
        var_ids=torch.from_numpy(var_ids),
        error_location=torch.from_numpy(encoded.error_location[idx]),
        targets=torch.from_numpy(targets),
        has_bug=torch.from_numpy(encoded.has_bug[idx]),
    )


def iter_batches(encoded: EncodedDataset, order: np.ndarray, cfg: dict | None = None, *,
                 max_tokens: int | None = None, batch_size: int | None = None) -> Iterator[Batch]:
    """Batches of ``encoded`` in ``order``: consecutive samples while batch size x longest
    length stays within ``max_tokens`` (``cfg["batch_tokens"]``), or ``batch_size`` samples
    (``cfg["batch_size"]``) at a time. A sample longer than ``max_tokens`` goes alone.

    ``max_tokens`` is the reference's ``max_batch_size``, counted the same way (batch size
    x longest sample)."""
    cfg = cfg or {}
    if max_tokens is None and batch_size is None:
        max_tokens, batch_size = cfg.get("batch_tokens"), cfg.get("batch_size")
    if not max_tokens and not batch_size:
        raise InputError("a preset needs batch_tokens or batch_size")
    order = np.asarray(order, dtype=np.int64)
    if batch_size:
        for start in range(0, len(order), int(batch_size)):
            yield make_batch(encoded, order[start : start + int(batch_size)])
        return
    lengths = encoded.lengths[order]
    start, longest = 0, 0
    for i, n in enumerate(lengths):
        longest = max(longest, int(n))
        if i > start and longest * (i - start + 1) > max_tokens:
            yield make_batch(encoded, order[start:i])
            start, longest = i, int(n)
    if start < len(order):
        yield make_batch(encoded, order[start:])
