"""A pre-trained encoder (CodeBERT, any RoBERTa-style model by Hugging Face id or local
directory) fine-tuned to classify (docstring, code) pairs, as CodeBERT's code search does
(microsoft/CodeBERT ``codesearch/run_classifier.py``; CI-Memorization's copy logs the
per-sample figures): :func:`encode_pairs` (one tokenization), :func:`iter_pair_batches`
and :func:`pair_outputs`; :func:`build_local_encoder` makes a RoBERTa from scratch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from engine.errors import InputError
from engine.models.batching import Batch
from engine.models.margins import label_margin


@dataclass
class PairBatch:
    index: torch.Tensor  # [B] long: positions in the encoded dataset
    input_ids: torch.Tensor  # [B, T] long
    attention_mask: torch.Tensor  # [B, T] long
    target: torch.Tensor  # [B] long: 1 the docstring describes the code, 0 not

    __len__ = Batch.__len__
    to = Batch.to


@dataclass
class EncodedPairs:
    kept: np.ndarray  # [N] indices in the input list (every sample is kept)
    n_dropped: int
    off: np.ndarray  # [N+1] into ``ids``
    ids: np.ndarray  # flat token ids
    target: np.ndarray  # [N] int64
    pad_id: int

    def __len__(self) -> int:
        return int(self.target.shape[0])

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.off)

    @property
    def labels(self) -> list[int]:
        return self.target.tolist()


def encode_pairs(samples: Sequence, tokenizer, max_len: int) -> EncodedPairs:
    """Each pair as the tokenizer joins a pair of texts (RoBERTa: ``<s> docstring </s></s>
    code </s>``), cut to ``max_len`` tokens by shortening the longer text first
    (``truncation="longest_first"``, as ``convert_examples_to_features`` does with
    ``max_seq_length`` 200)."""
    if max_len < 4:
        raise InputError(f"max_len must be at least 4, not {max_len}")
    encoded = tokenizer([s.docstring for s in samples], [s.code for s in samples], truncation="longest_first",
                        max_length=max_len)["input_ids"]
    off = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=off[1:])
    return EncodedPairs(kept=np.arange(len(samples), dtype=np.int64), n_dropped=0, off=off,
                        ids=np.fromiter((t for e in encoded for t in e), dtype=np.int64, count=int(off[-1])),
                        target=np.asarray([s.label for s in samples], dtype=np.int64),
                        pad_id=int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0))


def make_pair_batch(encoded: EncodedPairs, idx: np.ndarray) -> PairBatch:
    """One batch of the pairs ``idx``, padded to its longest."""
    from engine.models.c2v_batching import ragged_slots

    idx = np.asarray(idx, dtype=np.int64)
    sizes, rows, cols, take = ragged_slots(encoded.off, idx)
    T = int(sizes.max()) if len(idx) else 0
    ids = np.full((len(idx), T), encoded.pad_id, dtype=np.int64)
    ids[rows, cols] = encoded.ids[take]
    mask = np.zeros((len(idx), T), dtype=np.int64)
    mask[rows, cols] = 1
    return PairBatch(index=torch.from_numpy(idx.copy()), input_ids=torch.from_numpy(ids),
                     attention_mask=torch.from_numpy(mask), target=torch.from_numpy(encoded.target[idx]))


def iter_pair_batches(encoded: EncodedPairs, order: np.ndarray, cfg: dict) -> Iterator[PairBatch]:
    from engine.models.c2v_batching import batch_indices

    for idx in batch_indices(order, int(cfg.get("batch_size") or 0), "code-search"):
        yield make_pair_batch(encoded, idx)


def pair_outputs(logits: torch.Tensor, batch, with_probs: bool = False) -> dict[str, torch.Tensor]:
    """Per-sample outputs ([B] each) of a batch's two logits, as the study's
    ``run_classifier.py`` logs them: ``loss`` the cross-entropy of the label, ``pred`` the
    argmax, ``score`` the largest softmax probability (``max(score_t)``), ``correct``
    pred == label, ``target`` the label, ``margin`` its logit minus the other's (Pleiss et
    al. 2020), and with ``with_probs``, ``probs``: the two probabilities (engine.kfold). In float32
    whatever autocast is in force."""
    with torch.autocast(logits.device.type, enabled=False):
        logits = logits.float()
        probs = torch.softmax(logits, dim=-1)
        score, pred = probs.max(-1)
        out = {"loss": F.cross_entropy(logits, batch.target, reduction="none"), "pred": pred, "score": score,
               "correct": pred == batch.target, "target": batch.target,
               "margin": label_margin(logits, batch.target)}
        if with_probs:
            out["probs"] = probs
        return out


def build_local_encoder(folder, texts: Sequence[str], vocab_size: int = 400, layers: int = 1, width: int = 32,
                        heads: int = 2, ff: int = 64, positions: int = 514, seed: int = 0):
    """A RoBERTa with random weights and a byte-level BPE tokenizer of ``vocab_size``
    tokens trained on ``texts``, saved as a model directory (``folder``): for tests (no
    download), benchmarks (``codebert-base``'s sizes: 12 layers, 768 wide, 12 heads,
    3,072) and from-scratch baselines. The tokenizer joins pairs as RoBERTa's does."""
    from pathlib import Path

    from tokenizers import ByteLevelBPETokenizer
    from tokenizers.processors import RobertaProcessing
    from transformers import PreTrainedTokenizerFast, RobertaConfig, RobertaModel

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(list(texts), vocab_size=vocab_size,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe._tokenizer.post_processor = RobertaProcessing(("</s>", 2), ("<s>", 0))  # <s> A </s></s> B </s>
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, bos_token="<s>", eos_token="</s>",
                                        sep_token="</s>", cls_token="<s>", pad_token="<pad>", unk_token="<unk>",
                                        mask_token="<mask>")
    tokenizer.save_pretrained(str(folder))
    config = RobertaConfig(vocab_size=len(tokenizer), hidden_size=width, num_hidden_layers=layers,
                           num_attention_heads=heads, intermediate_size=ff, max_position_embeddings=positions,
                           type_vocab_size=1, pad_token_id=tokenizer.pad_token_id, bos_token_id=0, eos_token_id=2)
    torch.manual_seed(seed)
    RobertaModel(config).save_pretrained(str(folder))
    return folder
