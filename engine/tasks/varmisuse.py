"""The VarMisuse task (Rabin et al. §3.2): localize and repair a misused variable.

Data in the GREAT format (:mod:`engine.formats.great`), label noise of §4.1
(:mod:`engine.noise.varmisuse`), Transformer / GGNN / GREAT cores under Vasic et al.'s
two-pointer head (:mod:`engine.models`), metrics of §4.3 (:mod:`engine.metrics.varmisuse`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.metrics.varmisuse import varmisuse_metrics
from engine.formats import great
from engine.noise import varmisuse as noise
from engine.data.varmisuse import VarMisuseSample
from engine.errors import InputError
from engine.tasks import TASK_SCORE_COLUMNS


@dataclass
class Prepared:
    vocab: Any
    train: Any  # encoded training set (noisy labels)
    valid: Any  # encoded held-out set (clean labels)


class VarMisuseTask:
    name = "varmisuse"
    score_columns = TASK_SCORE_COLUMNS["varmisuse"]
    # export layout of the published results (CI-Memorization): names, folders, heads
    display_names = {"transformer": "Transformer", "ggnn": "GGNN", "great": "Great"}
    heldout_name = "held"
    export_names = {
        "loc_accuracy": ("accuracy", "Localization"),
        "repair_accuracy": ("accuracy", "Repair"),
        "nobug_accuracy": ("accuracy", "NoBug"),
        "joint_accuracy": ("accuracy", "Joint"),
        "loc_loss": ("loss", "Localization"),
        "rep_loss": ("loss", "Repair"),
        "gini_loc_loss": ("gini_loss", "Localization"),
        "gini_rep_loss": ("gini_loss", "Repair"),
        "mean_score_loc": ("mean_score", "Localization"),
        "mean_score_repair": ("mean_score", "Repair"),
    }

    def read(self, path: str) -> list[VarMisuseSample]:
        return great.read_great(path)

    def format_of(self, path: str) -> str:
        return "jsonl"  # GREAT JSON lines, whatever the file is called

    def write(self, samples: list[VarMisuseSample], path: str) -> None:
        great.write_great(samples, path)

    def noise(self, samples: list[VarMisuseSample], level: float, seed: int):
        return noise.noise_varmisuse(samples, level, seed)

    def check(self, cfg: dict, samples: list, path: str) -> None:
        """Refuse, before anything is queued, data the worker could not train on."""
        if not any(len(s.tokens) <= cfg["max_len"] for s in samples):
            raise InputError(f"no sample has at most max_len={cfg['max_len']} tokens", path)

    def prepare(self, train: list[VarMisuseSample], valid: list[VarMisuseSample], cfg: dict) -> Prepared:
        from engine.models.batching import encode_samples
        from engine.models.vocab import Vocab

        vocab = Vocab.build(train, cfg["vocab_size"], max_subtokens=cfg.get("max_subtokens", 10))
        return Prepared(
            vocab=vocab,
            train=encode_samples(train, vocab, cfg["max_len"]),
            valid=encode_samples(valid, vocab, cfg["max_len"]),
        )

    def build_model(self, model: str, cfg: dict, prepared: Prepared):
        from engine.models import build_model

        return build_model(model, cfg, len(prepared.vocab))

    def batches(self, encoded, order: np.ndarray, cfg: dict):
        from engine.models.batching import iter_batches

        return iter_batches(encoded, order, cfg)

    def outputs(self, model, batch, cfg: dict) -> dict:
        from engine.models.pointer import pointer_outputs

        loc_logits, rep_logits = model(batch)
        return pointer_outputs(loc_logits, rep_logits, batch, cfg.get("score", "target"))

    def objective(self, out: dict, cfg: dict):
        from engine.models.pointer import pointer_objective

        return pointer_objective(out, cfg.get("objective", "study"))

    def extra_arrays(self, predict, prepared: Prepared, split: str, arrays: dict) -> dict[str, np.ndarray]:
        return {}

    def epoch_metrics(self, arrays: dict[str, np.ndarray], encoded=None, prepared=None) -> dict[str, float]:
        return varmisuse_metrics(arrays)


TASK = VarMisuseTask()
