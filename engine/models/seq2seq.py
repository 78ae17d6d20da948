"""Docstring generation with a pre-trained encoder and a Transformer decoder, as
CodeXGLUE's code-to-text model (CI-Memorization's ``CodeBERT/code_text/model.py``, the
``Seq2Seq`` of CodeBERT's ``code2nl``): :func:`encode_texts`, :func:`iter_text_batches`,
:class:`Seq2Seq` and :func:`seq2seq_outputs`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.errors import InputError
from engine.models.batching import Batch
from engine.models.c2v_batching import batch_indices, ragged_slots


@dataclass
class TextBatch:
    index: torch.Tensor  # [B] long
    source: torch.Tensor  # [B, S] long: the code's token ids, padded
    source_mask: torch.Tensor  # [B, S] long
    target: torch.Tensor  # [B, T] long: <s> docstring </s>, padded
    target_mask: torch.Tensor  # [B, T] long

    __len__ = Batch.__len__
    to = Batch.to


@dataclass
class EncodedTexts:
    kept: np.ndarray
    n_dropped: int
    src_off: np.ndarray
    src: np.ndarray
    tgt_off: np.ndarray
    tgt: np.ndarray
    pad_id: int
    references: list  # the docstrings as the metric compares them

    def __len__(self) -> int:
        return len(self.kept)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.src_off)

    @property
    def labels(self) -> list:
        return self.references


def encode_texts(samples: Sequence, tokenizer, max_source: int, max_target: int) -> EncodedTexts:
    """CodeXGLUE's ``convert_examples_to_features``: the source is the code tokens joined by
    spaces, the target the docstring tokens joined by spaces, each tokenized with the
    encoder's special tokens (``<s> ... </s>``) and cut to ``max_source`` /
    ``max_target`` tokens."""
    if min(max_source, max_target) < 3:
        raise InputError("max_source_len and max_target_len must be at least 3")
    sources = tokenizer([" ".join(s.code_tokens) for s in samples], truncation=True, max_length=max_source)["input_ids"]
    targets = [" ".join(s.docstring_tokens) for s in samples]
    encoded_t = tokenizer(targets, truncation=True, max_length=max_target)["input_ids"]

    def flat(rows):
        off = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum([len(r) for r in rows], out=off[1:])
        return off, np.fromiter((t for r in rows for t in r), dtype=np.int64, count=int(off[-1]))

    src_off, src = flat(sources)
    tgt_off, tgt = flat(encoded_t)
    return EncodedTexts(kept=np.arange(len(samples), dtype=np.int64), n_dropped=0, src_off=src_off, src=src,
                        tgt_off=tgt_off, tgt=tgt, pad_id=int(tokenizer.pad_token_id or 0), references=targets)


def _padded(off: np.ndarray, flat: np.ndarray, idx: np.ndarray, pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    sizes, rows, cols, take = ragged_slots(off, idx)
    width = int(sizes.max()) if len(idx) else 0
    ids = np.full((len(idx), width), pad, dtype=np.int64)
    ids[rows, cols] = flat[take]
    mask = np.zeros((len(idx), width), dtype=np.int64)
    mask[rows, cols] = 1
    return torch.from_numpy(ids), torch.from_numpy(mask)


def iter_text_batches(encoded: EncodedTexts, order: np.ndarray, cfg: dict) -> Iterator[TextBatch]:
    for idx in batch_indices(order, int(cfg.get("batch_size") or 0), "code-to-text"):
        source, source_mask = _padded(encoded.src_off, encoded.src, idx, encoded.pad_id)
        target, target_mask = _padded(encoded.tgt_off, encoded.tgt, idx, encoded.pad_id)
        yield TextBatch(torch.from_numpy(idx.copy()), source, source_mask, target, target_mask)


class Seq2Seq(nn.Module):
    """CodeXGLUE's ``Seq2Seq``: the encoder reads the code; a Transformer decoder
    (``decoder_layers`` of ``nn.TransformerDecoderLayer(d_model=hidden, nhead=heads)``,
    torch's defaults otherwise) reads the target's embeddings through the encoder's own
    embedding layer under a causal mask, attending to the code's non-padding positions;
    logits are ``lm_head(tanh(dense(h)))`` with ``lm_head`` tied to the encoder's word
    embeddings."""

    def __init__(self, encoder, cfg: dict, bos_id: int, eos_id: int):
        super().__init__()
        config = encoder.config
        self.encoder = encoder
        layer = nn.TransformerDecoderLayer(d_model=config.hidden_size, nhead=config.num_attention_heads)
        self.decoder = nn.TransformerDecoder(layer, num_layers=int(cfg["decoder_layers"]))
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.lm_head.weight = encoder.embeddings.word_embeddings.weight
        self.bos_id, self.eos_id = bos_id, eos_id
        self.max_target = int(cfg["max_target_len"])

    def _decode(self, memory, source_mask, target) -> torch.Tensor:
        T = target.shape[1]
        causal = torch.triu(torch.full((T, T), float("-inf"), device=target.device), diagonal=1)
        embedded = self.encoder.embeddings(target).transpose(0, 1)
        out = self.decoder(embedded, memory, tgt_mask=causal, memory_key_padding_mask=source_mask == 0)
        return self.lm_head(torch.tanh(self.dense(out))).transpose(0, 1)

    def forward(self, batch) -> torch.Tensor:
        """[B, T, V] teacher-forced logits (position t predicts token t + 1)."""
        memory = self.encoder(batch.source, attention_mask=batch.source_mask)[0].transpose(0, 1)
        return self._decode(memory, batch.source_mask, batch.target)

    @torch.no_grad()
    def generate(self, batch, beam_size: int = 1) -> torch.Tensor:
        """[B, max_target_len - 1] decoded ids after ``<s>``, ``</s>`` from the end on:
        greedy with ``beam_size`` 1, else CodeXGLUE's beam search (:meth:`beam_search`)."""
        if beam_size <= 1:
            return self.greedy(batch)
        memory = self.encoder(batch.source, attention_mask=batch.source_mask)[0].transpose(0, 1)
        rows = []
        for i in range(batch.source.shape[0]):
            words = self.beam_search(memory[:, i:i + 1], batch.source_mask[i:i + 1], beam_size)
            rows.append((words + [self.eos_id] * self.max_target)[:self.max_target - 1])
        return torch.tensor(rows, dtype=torch.long, device=batch.source.device)

    @torch.no_grad()
    def beam_search(self, memory, source_mask, k: int) -> list[int]:
        """One sample's best hypothesis (its words before ``</s>``) by CodeXGLUE's ``Beam``:
        k hypotheses ranked by summed log-probability, no length penalty; a hypothesis that
        emitted ``</s>`` gets no children and is kept as finished; the search ends when the
        best hypothesis has just emitted ``</s>`` and k are finished, or after
        ``max_target_len - 1`` steps (as greedy decoding: the longest target, less ``<s>``;
        CodeXGLUE allows one more); the best finished one wins (unfinished ones fill up
        to k)."""
        memory, source_mask = memory.repeat(1, k, 1), source_mask.repeat(k, 1)
        ids = torch.zeros((k, 1), dtype=torch.long, device=memory.device)
        ids[0, 0] = self.bos_id
        scores = torch.zeros(k, device=memory.device)
        back, words, finished, eos_top = [], [ids[:, 0].clone()], [], False
        for _ in range(self.max_target - 1):
            if eos_top and len(finished) >= k:
                break
            logp = torch.log_softmax(self._decode(memory, source_mask, ids)[:, -1].float(), dim=-1)
            if back:
                total = logp + scores[:, None]
                total[words[-1] == self.eos_id] = -1e20
            else:
                total = logp[0]
            scores, flat = total.reshape(-1).topk(k)
            origin = torch.div(flat, logp.shape[-1], rounding_mode="floor")
            word = flat - origin * logp.shape[-1]
            back.append(origin)
            words.append(word)
            finished += [(float(scores[i]), len(words) - 1, i) for i in range(k) if int(word[i]) == self.eos_id]
            eos_top = int(word[0]) == self.eos_id
            ids = torch.cat([ids[origin], word[:, None]], dim=1)
        if not finished:
            finished.append((float(scores[0]), len(words) - 1, 0))
        finished.sort(key=lambda f: -f[0])
        if len(finished) != k:
            rest = sorted(((float(scores[i]), len(words) - 1, i) for i in range(k) if int(words[-1][i]) != self.eos_id),
                          key=lambda f: -f[0])
            finished += rest[:k - len(finished)]
        _, step, i = finished[0]
        hyp = []
        for j in range(step - 1, -1, -1):
            hyp.append(int(words[j + 1][i]))
            i = int(back[j][i])
        hyp.reverse()
        return hyp[:hyp.index(self.eos_id)] if self.eos_id in hyp else hyp

    @torch.no_grad()
    def greedy(self, batch) -> torch.Tensor:
        """Greedy decoding of the batch, all samples at once (a beam of 1)."""
        memory = self.encoder(batch.source, attention_mask=batch.source_mask)[0].transpose(0, 1)
        B = batch.source.shape[0]
        ids = torch.full((B, 1), self.bos_id, dtype=torch.long, device=batch.source.device)
        done = torch.zeros(B, dtype=torch.bool, device=ids.device)
        for _ in range(self.max_target - 1):
            word = self._decode(memory, batch.source_mask, ids)[:, -1].argmax(-1)
            word = word.masked_fill(done, self.eos_id)
            ids = torch.cat([ids, word[:, None]], dim=1)
            done |= word == self.eos_id
            if bool(done.all()):
                break
        out = ids[:, 1:]
        return F.pad(out, (0, self.max_target - 1 - out.shape[1]), value=self.eos_id)


def seq2seq_outputs(logits: torch.Tensor, batch) -> dict[str, torch.Tensor]:
    """Per-sample outputs, as the study's ``model.py`` logs them (``memorization_flag``):
    over the target's real positions after ``<s>`` (``target_mask[:, 1:]``), ``loss`` the
    mean cross-entropy, ``score`` the mean of the largest softmax probability; and the
    sums the objective needs (CodeXGLUE's loss is the mean over all real target tokens of
    the batch). In float32 whatever autocast is in force."""
    with torch.autocast(logits.device.type, enabled=False):
        shifted = logits[:, :-1].float()
        labels = batch.target[:, 1:]
        active = batch.target_mask[:, 1:].float()
        crossent = F.cross_entropy(shifted.transpose(1, 2), labels, reduction="none") * active
        count = active.sum(-1).clamp(min=1)
        best = torch.softmax(shifted, dim=-1).amax(-1)
        return {"loss": crossent.sum(-1) / count, "score": (best * active).sum(-1) / count,
                "loss_sum": crossent.sum(-1), "tokens": active.sum(-1)}
