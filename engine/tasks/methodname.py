"""The METHOD-NAME task (Rabin et al. §3.1): predict a method's name from its body.

Samples in :mod:`engine.data.methodname` and their files in :mod:`engine.formats.code2vec`,
per-label-group noise in :mod:`engine.noise.methodname`, the code2vec-style model in
:mod:`engine.models.code2vec`, metrics (sub-token F1 as code2vec counts it, exact match,
predicted score, Gini, critical sample ratio) in :mod:`engine.metrics.methodname`; the
critical sample ratio's candidates are made here (:meth:`MethodNameTask._prepare_csr`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.metrics import methodname as mm
from engine.data import methodname as data
from engine.formats import code2vec
from engine.noise.methodname import noise_methodname
from engine.errors import InputError
from engine.tasks import TASK_SCORE_COLUMNS


@dataclass
class Prepared:
    vocabs: Any
    train: Any  # encoded training set (noisy labels)
    valid: Any  # encoded held-out set (clean labels)
    # the evaluated programs, re-extracted like their candidates, encoded in chunks (CSR_CHUNK)
    csr_originals: list = field(default_factory=list)
    csr_original_pos: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # -> valid position
    csr_candidates: list = field(default_factory=list)  # the candidate programs, encoded in chunks
    csr_owner: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # -> valid position
    csr_evaluated: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # per valid position


CSR_CHUNK = 20_000
"""Programs of the critical sample ratio encoded at once: their extracted contexts, as
Python objects, are held for one chunk only (the study measured every held-out sample:
235,907 on Java-Med, about six programs each)."""


def prediction_keys(pred: np.ndarray) -> np.ndarray:
    """One comparable value per prediction: the id (code2vec) or the decoded row of ids
    (code2seq) as bytes."""
    pred = np.asarray(pred)
    if pred.ndim == 1:
        return pred.astype(object)
    rows = np.ascontiguousarray(pred)
    return np.fromiter((row.tobytes() for row in rows), dtype=object, count=len(rows))


class MethodNameTask:
    name = "methodname"
    score_columns = TASK_SCORE_COLUMNS["methodname"]
    display_names = {"code2vec": "code2vec", "code2seq": "code2seq"}
    heldout_name = "test"
    export_names: dict[str, tuple[str, str]] = {}
    model_name = "code2vec"
    refused_format = ("c2s", "code2seq's")  # the format whose contexts the model cannot read

    def read(self, path: str) -> list[data.MethodNameSample]:
        return code2vec.read_methodname(path)

    def format_of(self, path: str) -> str:
        return code2vec.format_of(path)

    def write(self, samples: list[data.MethodNameSample], path: str) -> None:
        code2vec.write_methodname(path, samples)

    def noise(self, samples: list[data.MethodNameSample], level: float, seed: int):
        return noise_methodname(samples, level, seed)

    def check(self, cfg: dict, samples: list, path: str) -> None:
        if not any(s.contexts for s in samples):
            raise InputError("no sample has a path-context", path)
        fmt, whose = self.refused_format
        if code2vec.format_of(path) == fmt:
            raise InputError(f"a .{fmt} file holds {whose} contexts; {self.model_name} does not read them", path)

    def prepare(self, train: list, valid: list, cfg: dict) -> Prepared:
        vocabs = self.vocabs(train, cfg)
        prepared = Prepared(vocabs=vocabs, train=self.encode(train, vocabs, cfg, train=True),
                            valid=self.encode(valid, vocabs, cfg, train=False))
        self._prepare_csr(prepared, valid, cfg)
        return prepared

    # the model's own parts: code2vec's here, code2seq's in engine.tasks.code2seq
    def vocabs(self, train: list, cfg: dict):
        from engine.models.c2v_batching import C2VVocabs

        return C2VVocabs.build(train, cfg)

    def encode(self, samples: list, vocabs, cfg: dict, train: bool):
        from engine.models.c2v_batching import encode_methodname

        return encode_methodname(samples, vocabs, cfg["max_contexts"], train=train)

    def name_metrics(self, arrays: dict, encoded, prepared: Prepared) -> dict[str, float]:
        return mm.methodname_metrics(arrays, encoded.labels, prepared.vocabs.targets.itos)

    def exact(self, out: dict, encoded, prepared: Prepared) -> np.ndarray:
        """Whether each prediction of ``out`` (the arrays of ``encoded``) is right."""
        return np.asarray(out["correct"], dtype=bool)

    def csr_keys(self, out: dict) -> np.ndarray:
        """What the critical sample ratio compares of each prediction of ``out``."""
        return prediction_keys(out["pred"])

    def _prepare_csr(self, prepared: Prepared, valid: list, cfg: dict) -> None:
        """Pick the CSR samples and make their candidates, once per run (candidates depend
        only on the data; each epoch predicts them in batches, :meth:`MethodNameTask.extra_arrays`).

        The critical sample ratio (§4.3.4) is measured every epoch on the held-out set,
        for a seeded random subset of at most ``csr_samples`` samples that carry their
        source: every one in the ``paper`` presets (:data:`engine.presets.ALL`), as the
        study measured it (its published ratios are multiples of 1/31,118 on Java-Small and
        of 1/235,907 on Java-Med: one fixed set, the whole test set, every epoch):

        - one candidate program per variable renames that variable alone
          (:func:`engine.data.rename.rename_candidates`, tree-sitter): every identifier of
          its name (``csr_renaming="names"``, the study's transformation) or its own
          occurrences (``"scope"``);
        - the original and its candidates are re-extracted with the builder's own
          extraction and the same context sampling, so only the renaming tells them apart;
        - a sample is critical when some candidate's predicted name differs from the
          original's; csr_correct / csr_incorrect split by whether that original
          program's prediction is right (:func:`engine.metrics.methodname.csr`).

        The original program is re-extracted exactly as its candidates are (same function,
        same context sampling), so that a sample is critical because of the renaming alone,
        never because a different subset of its contexts was sampled.
        """
        from engine.data.pathcontexts import extract_contexts, style_of
        from engine.data.rename import rename_candidates

        limit = int(cfg.get("csr_samples", 0))
        renaming = cfg.get("csr_renaming", "scope")  # a study made before the setting renamed by scope
        max_contexts = cfg["max_contexts"]
        originals, original_pos, candidates, owner = [], [], [], []
        kept_pos, cand_owner = [], []

        def encode_chunk() -> None:
            if originals:
                encoded = self.encode(originals, prepared.vocabs, cfg, train=False)
                if len(encoded):  # a chunk with nothing kept is not predicted at all
                    prepared.csr_originals.append(encoded)
                    kept_pos.append(np.asarray(original_pos, dtype=np.int64)[np.asarray(encoded.kept, dtype=np.int64)])
            if candidates:
                encoded = self.encode(candidates, prepared.vocabs, cfg, train=False)
                if len(encoded):
                    prepared.csr_candidates.append(encoded)
                    cand_owner.append(np.asarray(owner, dtype=np.int64)[np.asarray(encoded.kept, dtype=np.int64)])
            for chunk in (originals, original_pos, candidates, owner):
                chunk.clear()

        chosen = 0
        kept = np.asarray(prepared.valid.kept)
        # a seeded sample of the held-out set, not the first files of the sorted tree
        for pos in np.random.default_rng(0).permutation(len(kept)):
            if chosen >= limit:
                break
            pos = int(pos)
            sample = valid[int(kept[pos])]
            if not sample.source or not sample.lang:
                continue
            try:
                programs = rename_candidates(sample.source, sample.lang, renaming)
                style = style_of(sample.contexts)  # candidates extracted as the dataset was
                original = extract_contexts(sample.source, sample.lang, max_contexts, style=style)
            except InputError:
                continue
            if not original:
                continue
            chosen += 1
            originals.append(data.MethodNameSample(name=sample.name, label=sample.label, contexts=original))
            original_pos.append(pos)
            for _variable, program in programs:
                contexts = extract_contexts(program, sample.lang, max_contexts, style=style)
                candidates.append(data.MethodNameSample(name=sample.name, label=sample.label, contexts=contexts))
                owner.append(pos)
            if len(originals) + len(candidates) >= CSR_CHUNK:
                encode_chunk()
        encode_chunk()
        prepared.csr_evaluated = np.zeros(len(prepared.valid.kept), dtype=bool)
        if kept_pos:
            prepared.csr_original_pos = np.concatenate(kept_pos)
            prepared.csr_evaluated[prepared.csr_original_pos] = True
        if cand_owner:
            prepared.csr_owner = np.concatenate(cand_owner)

    def build_model(self, model: str, cfg: dict, prepared: Prepared):
        from engine.models.code2vec import build_code2vec

        return build_code2vec(cfg, prepared.vocabs)

    def batches(self, encoded, order: np.ndarray, cfg: dict):
        from engine.models.c2v_batching import iter_c2v_batches

        return iter_c2v_batches(encoded, order, cfg)

    def outputs(self, model, batch, cfg: dict) -> dict:
        from engine.models.code2vec import code2vec_outputs

        return code2vec_outputs(model(batch), batch, model.legal, cfg.get("score", "top10"),
                                probs=bool(cfg.get("emit_probs")))

    def objective(self, out: dict, cfg: dict):
        """code2vec's loss: the mean cross-entropy over the batch."""
        return out["loss"].float().mean()

    def extra_arrays(self, predict, prepared: Prepared, split: str, arrays: dict) -> dict[str, np.ndarray]:
        """Per-sample ``csr_evaluated`` and ``critical`` on the held-out split (§4.3.4)."""
        if split != "valid":
            return {}
        n = len(arrays["pred"])
        critical = np.zeros(n, dtype=bool)
        original_correct = np.zeros(n, dtype=bool)
        if prepared.csr_originals:
            # M(t_i) and its correctness on the re-extracted original, the very program
            # whose candidates are compared with it
            outs = [(predict(chunk), chunk) for chunk in prepared.csr_originals]
            original_pred = np.zeros(n, dtype=object)
            original_pred[prepared.csr_original_pos] = np.concatenate([self.csr_keys(out) for out, _ in outs])
            original_correct[prepared.csr_original_pos] = np.concatenate(
                [self.exact(out, chunk, prepared) for out, chunk in outs])
            if prepared.csr_candidates:
                candidate_pred = np.concatenate([self.csr_keys(predict(chunk)) for chunk in prepared.csr_candidates])
                evaluated = prepared.csr_evaluated[prepared.csr_owner]  # owners whose original was kept
                critical = mm.critical_flags(original_pred, candidate_pred[evaluated],
                                             prepared.csr_owner[evaluated], n)
        return {"csr_evaluated": prepared.csr_evaluated.copy(), "critical": critical,
                "csr_original_correct": original_correct}

    def epoch_metrics(self, arrays: dict[str, np.ndarray], encoded, prepared: Prepared) -> dict[str, float]:
        values = self.name_metrics(arrays, encoded, prepared)
        if "critical" in arrays:
            chosen = arrays["csr_evaluated"]
            values.update(mm.csr(arrays["critical"][chosen], arrays["csr_original_correct"][chosen]))
        return values


TASK = MethodNameTask()
