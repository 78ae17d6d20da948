"""The METHOD-NAME task with code2seq (Rabin et al. §3.1.3; Alon et al. 2019): the
method-name task of :mod:`engine.tasks.methodname` (data, noise, critical sample ratio)
with code2seq's vocabularies and encoding (:mod:`engine.models.c2s_batching`), model
and outputs (:mod:`engine.models.code2seq`) and counting
(:mod:`engine.metrics.code2seq`).
"""
from __future__ import annotations

import numpy as np

from engine.metrics.code2seq import code2seq_exact, code2seq_metrics, decode_names
from engine.presets import CODE2SEQ_BEFORE
from engine.tasks.methodname import MethodNameTask, prediction_keys


class Code2SeqTask(MethodNameTask):
    model_name = "code2seq"
    refused_format = ("c2v", "code2vec's hashed")  # paths as numbers: no nodes to read

    def vocabs(self, train: list, cfg: dict):
        from engine.models.c2s_batching import C2SVocabs

        return C2SVocabs.build(train, cfg)

    def encode(self, samples: list, vocabs, cfg: dict, train: bool):
        from engine.models.c2s_batching import encode_code2seq

        return encode_code2seq(samples, vocabs, cfg)

    def build_model(self, model: str, cfg: dict, prepared):
        from engine.models.code2seq import build_code2seq

        return build_code2seq(cfg, prepared.vocabs)

    def batches(self, encoded, order: np.ndarray, cfg: dict):
        from engine.models.c2s_batching import iter_c2s_batches

        return iter_c2s_batches(encoded, order, cfg)

    def outputs(self, model, batch, cfg: dict) -> dict:
        from engine.models.code2seq import code2seq_outputs

        score = cfg.get("score", CODE2SEQ_BEFORE["score"])
        decoding = cfg.get("decoding", CODE2SEQ_BEFORE["decoding"])
        forced, greedy = model(batch, greedy=not (model.training and decoding == "study"))
        return code2seq_outputs(forced, greedy, batch, score, decoding, training=model.training)

    def objective(self, out: dict, cfg: dict):
        """code2seq's loss: the summed cross-entropy of each sample's words and end word,
        averaged over the batch."""
        return out["objective"].float().mean()

    def name_metrics(self, arrays: dict, encoded, prepared) -> dict[str, float]:
        return code2seq_metrics(arrays, encoded.labels, prepared.vocabs.targets.itos)

    def csr_keys(self, out: dict) -> np.ndarray:
        """Each name as decoded alone, up to its own end word (``alone``): under the study's
        decoding a name's words after its end word depend on its batch-mates, which differ
        between an original program and its candidates, so comparing them would call a
        sample critical for its batch, not for the renaming."""
        return prediction_keys(out.get("alone", out["pred"]))

    def epoch_metrics(self, arrays: dict, encoded, prepared) -> dict[str, float]:
        """The task's metrics; the split's per-sample ``correct`` (the data maps' read,
        :mod:`engine.dynamics`) becomes code2seq's exact match of each name against its
        label, as the epoch's exact match counts it (out-of-vocabulary and cut true words
        included, which the model's ids cannot show)."""
        arrays["correct"] = self.exact(arrays, encoded, prepared)
        return super().epoch_metrics(arrays, encoded, prepared)

    def exact(self, out: dict, encoded, prepared) -> np.ndarray:
        names = decode_names(out["pred"], prepared.vocabs.targets.itos)
        return np.fromiter((code2seq_exact(p, t.split("|")) for p, t in zip(names, encoded.labels)),
                           dtype=bool, count=len(names))


TASK = Code2SeqTask()
