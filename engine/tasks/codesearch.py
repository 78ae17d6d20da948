"""The CODE-SEARCH task (CodeBERT on CodeSearchNet, the extended study of Rabin et al.):
does a docstring describe a piece of code? Samples and files in
:mod:`engine.data.codesearch`, noise in :mod:`engine.noise.codesearch`, the fine-tuned
encoder in :mod:`engine.models.pair_classifier`; the metrics here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.data import codesearch as data
from engine.data.codesearch import NEGATIVES_SEED
from engine.metrics import MetricInfo, gini, mean
from engine.noise.codesearch import noise_codesearch
from engine.tasks import TASK_SCORE_COLUMNS



def codesearch_metrics(arrays: dict) -> dict[str, float]:
    """One epoch's figures from the per-sample arrays: ``accuracy`` (the study's ``acc``,
    ``simple_accuracy``: predictions equal to the labels), ``loss`` and its Gini, the
    ``mean_score`` (the largest softmax probability, as the study logs ``max(score_t)``)
    and ``n``."""
    loss = np.asarray(arrays["loss"], dtype=np.float64)
    return {"accuracy": mean(np.asarray(arrays["correct"], dtype=np.float64)), "loss": mean(loss),
            "gini_loss": gini(loss), "mean_score": mean(np.asarray(arrays["score"], dtype=np.float64)),
            "n": float(len(loss))}


CODESEARCH_METRIC_INFO: dict[str, MetricInfo] = {
    "accuracy": MetricInfo("pairs whose match / no-match is predicted right", True, "4.3.2"),
    "loss": MetricInfo("mean cross-entropy of the pair's label", False, "4.3.3"),
    "gini_loss": MetricInfo("Gini coefficient of per-sample loss (spread of loss)", None, "4.3.3"),
    "mean_score": MetricInfo("mean predicted score (largest softmax probability)", None, "4.3.1"),
    "n": MetricInfo("pairs", None, ""),
}


@dataclass
class Prepared:
    tokenizer: Any
    train: Any
    valid: Any


class CodeSearchTask:
    name = "codesearch"
    score_columns = TASK_SCORE_COLUMNS["codesearch"]
    display_names = {"codebert": "CodeBERT"}
    heldout_name = "dev"
    export_names: dict[str, tuple[str, str]] = {}

    def format_of(self, path: str) -> str:
        return "jsonl"

    def read(self, path: str) -> list[data.CodeSearchSample]:
        return data.read_codesearch(path)

    def write(self, samples: list, path: str) -> None:
        data.write_codesearch(path, samples)

    def noise(self, samples: list, level: float, seed: int):
        return noise_codesearch(samples, level, seed)

    def check(self, cfg: dict, samples: list, path: str) -> None:
        from engine.lm.hub import check_model

        check_model(cfg["encoder"])

    def prepare(self, train: list, valid: list, cfg: dict) -> Prepared:
        from engine.lm.hub import load_tokenizer
        from engine.models.pair_classifier import encode_pairs

        tokenizer = load_tokenizer(cfg["encoder"], bool(cfg.get("trust_remote_code", False)))
        return Prepared(tokenizer,
                        encode_pairs(data.with_negatives(train, NEGATIVES_SEED), tokenizer, int(cfg["max_len"])),
                        encode_pairs(data.with_negatives(valid, NEGATIVES_SEED), tokenizer, int(cfg["max_len"])))

    def build_model(self, model: str, cfg: dict, prepared: Prepared):
        from engine.lm.hub import load_sequence_classifier

        return pair_model(load_sequence_classifier(cfg["encoder"], 2, bool(cfg.get("trust_remote_code", False))))

    def batches(self, encoded, order: np.ndarray, cfg: dict):
        from engine.models.pair_classifier import iter_pair_batches

        return iter_pair_batches(encoded, order, cfg)

    def outputs(self, model, batch, cfg: dict) -> dict:
        from engine.models.pair_classifier import pair_outputs

        return pair_outputs(model(batch), batch, with_probs=bool(cfg.get("emit_probs")))

    def objective(self, out: dict, cfg: dict):
        """The classifier's loss: the mean cross-entropy over the batch."""
        return out["loss"].float().mean()

    def extra_arrays(self, predict, prepared: Prepared, split: str, arrays: dict) -> dict[str, np.ndarray]:
        return {}

    def epoch_metrics(self, arrays: dict, encoded, prepared: Prepared) -> dict[str, float]:
        return codesearch_metrics(arrays)


def pair_model(classifier):
    """The classifier as the study's loop calls a model: ``model(batch)`` -> [B, 2] logits."""
    import torch

    class _PairModel(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, batch):
            return self.inner(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits

    return _PairModel(classifier)


TASK = CodeSearchTask()
