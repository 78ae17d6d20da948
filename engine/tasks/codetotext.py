"""The CODE-TO-TEXT task (CodeBERT on CodeSearchNet, the extended study of Rabin et al.):
generate a function's docstring. Samples are code-search samples
(:mod:`engine.data.codesearch`); the label noise swaps docstrings
(:func:`engine.noise.codesearch.noise_codesearch`); the model is CodeXGLUE's
:class:`engine.models.seq2seq.Seq2Seq`; smoothed BLEU-4 is :mod:`engine.metrics.bleu`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.metrics import MetricInfo, gini, mean
from engine.metrics.bleu import smoothed_bleu
from engine.tasks import TASK_SCORE_COLUMNS
from engine.tasks.codesearch import CodeSearchTask


@dataclass
class Prepared:
    tokenizer: Any
    train: Any
    valid: Any


CODETOTEXT_METRIC_INFO: dict[str, MetricInfo] = {
    "bleu": MetricInfo("smoothed BLEU-4 of the greedy-decoded docstrings, x 100 (held-out only)", True, ""),
    "loss": MetricInfo("mean per-sample cross-entropy of the docstring's tokens", False, "4.3.3"),
    "gini_loss": MetricInfo("Gini coefficient of per-sample loss (spread of loss)", None, "4.3.3"),
    "mean_score": MetricInfo("mean predicted score (mean largest token probability)", None, "4.3.1"),
    "n": MetricInfo("samples", None, ""),
}


class CodeToTextTask(CodeSearchTask):
    name = "codetotext"
    score_columns = TASK_SCORE_COLUMNS["codetotext"]

    def check(self, cfg: dict, samples: list, path: str) -> None:
        from engine.errors import InputError

        super().check(cfg, samples, path)
        if any(s.label == 0 for s in samples):
            raise InputError("code-to-text trains on matching pairs only; this file holds non-matching ones", path)

    def prepare(self, train: list, valid: list, cfg: dict) -> Prepared:
        from engine.lm.hub import load_tokenizer
        from engine.models.seq2seq import encode_texts

        tokenizer = load_tokenizer(cfg["encoder"], bool(cfg.get("trust_remote_code", False)))
        sizes = int(cfg["max_source_len"]), int(cfg["max_target_len"])
        return Prepared(tokenizer, encode_texts(train, tokenizer, *sizes), encode_texts(valid, tokenizer, *sizes))

    def build_model(self, model: str, cfg: dict, prepared: Prepared):
        import torch

        from engine.lm.hub import from_pretrained
        from engine.models.seq2seq import Seq2Seq

        encoder = from_pretrained("AutoModel", cfg["encoder"], bool(cfg.get("trust_remote_code", False)),
                                  dtype=torch.float32)
        tok = prepared.tokenizer
        return Seq2Seq(encoder, cfg, tok.cls_token_id if tok.cls_token_id is not None else tok.bos_token_id,
                       tok.sep_token_id if tok.sep_token_id is not None else tok.eos_token_id)

    def batches(self, encoded, order: np.ndarray, cfg: dict):
        from engine.models.seq2seq import iter_text_batches

        return iter_text_batches(encoded, order, cfg)

    def outputs(self, model, batch, cfg: dict) -> dict:
        """Teacher-forced loss and score; in evaluation also the greedy-decoded docstring."""
        from engine.models.seq2seq import seq2seq_outputs

        out = seq2seq_outputs(model(batch), batch)
        if not model.training:
            out["generated"] = model.generate(batch, int(cfg.get("beam_size", 1)))
        return out

    def objective(self, out: dict, cfg: dict):
        """CodeXGLUE's loss: the mean cross-entropy over every real target token of the batch."""
        return out["loss_sum"].float().sum() / out["tokens"].float().sum().clamp(min=1)

    def epoch_metrics(self, arrays: dict, encoded, prepared: Prepared) -> dict[str, float]:
        """``loss`` and its Gini and ``mean_score`` from the teacher-forced pass; ``bleu``
        where the split was decoded (held-out data, and training data under
        ``train_eval=pass``)."""
        loss = np.asarray(arrays["loss"], dtype=np.float64)
        values = {"loss": mean(loss), "gini_loss": gini(loss),
                  "mean_score": mean(np.asarray(arrays["score"], dtype=np.float64)), "n": float(len(loss))}
        if "generated" in arrays:
            values["bleu"] = smoothed_bleu(encoded.labels, decode(prepared.tokenizer, arrays["generated"]))
        return values


def decode(tokenizer, generated) -> list[str]:
    """Each row of decoded ids as text, up to the end token."""
    eos = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
    texts = []
    for row in np.asarray(generated).tolist():
        cut = row.index(eos) if eos in row else len(row)
        texts.append(tokenizer.decode(row[:cut], skip_special_tokens=True, clean_up_tokenization_spaces=False))
    return texts


TASK = CodeToTextTask()
