"""Input noise: the extended study's second kind of noise, which changes what a model
reads and never its labels (CI-Memorization's ``X_*`` results beside the label
shuffling of ``Y_Label_Shuffling``). :data:`NOISE_KINDS` lists the kinds each task takes;
:func:`apply_noise` applies one.

The kinds: ``injecting_repair`` for VarMisuse (:func:`inject_repair`), ``method_leakage``
and ``statement_deletion`` for method names (:mod:`engine.noise.method_leakage`,
:mod:`engine.noise.statement_deletion`), ``identity_pair`` for code search
(:mod:`engine.noise.identity_pair`) and ``token_masking`` for code-to-text
(:mod:`engine.noise.token_masking`).
"""
from __future__ import annotations

import importlib
from dataclasses import replace

import numpy as np

from engine.errors import InputError
from engine.noise import NoiseResult, check_level, check_seed, most_frequent, noise_count, smallest

LABEL = "label"
NOISE_KINDS: dict[str, tuple[str, ...]] = {
    "varmisuse": (LABEL, "injecting_repair"),
    "methodname": (LABEL, "method_leakage", "statement_deletion"),
    "codesearch": (LABEL, "identity_pair"),
    "codetotext": (LABEL, "token_masking"),
}
"""Task -> the noise kinds it takes; the first, label noise, is each task's own
``noise`` (Rabin et al. §4.1)."""

STUDY_NAMES = {LABEL: "Y_Label_Shuffling", "injecting_repair": "X_Injecting_Repair",
               "method_leakage": "X_Method_Leakage", "statement_deletion": "X_Statement_Deletion",
               "identity_pair": "X_Identity_Pair", "token_masking": "X_Token_Masking"}
"""Each kind's folder in the study's published results (``data/summary/data/<task>/``)."""

TARGET, BUGGY, NONBUGGY = "TARGET", "BUGGY", "NONBUGGY"


def noise_label(cfg: dict) -> str:
    """"" for label noise, else the input noise of a study's settings and " · " (the app's
    study title)."""
    kind = cfg.get("noise_kind", LABEL)
    return "" if kind == LABEL else f"input noise {kind} · "


def check_kind(task: str, kind: str) -> str:
    """``kind`` if ``task`` takes it, else one :class:`InputError` line."""
    kinds = NOISE_KINDS.get(task, (LABEL,))
    if kind not in kinds:
        raise InputError(f"noise kind {kind!r} does not fit {task} (choose from {', '.join(kinds)})",
                         field="noise_kind")
    return kind


def apply_noise(spec, samples: list, level: float, seed: int, kind: str = LABEL) -> NoiseResult:
    """``samples`` with ``level`` % noise of ``kind`` (task ``spec``)."""
    if check_kind(spec.name, kind) == LABEL:
        return spec.noise(samples, level, seed)
    module, function = INPUT_NOISE[kind]
    return getattr(importlib.import_module(module), function)(samples, level, seed)


def inject_repair(samples: list, level: float, seed: int) -> NoiseResult:
    """VarMisuse input noise ``injecting_repair``, after CI-Memorization's
    ``noise_generation/variable_misuse/noise_util.py``: marker tokens announce the answer.

    - A chosen buggy sample (``input_noise_to_buggy``): every token equal to the token at
      its first repair target becomes ``TARGET``, then the token at its error location
      becomes ``BUGGY``.
    - A chosen bug-free sample (``input_noise_to_correct``): every occurrence of its most
      frequent token (:func:`most_frequent`) becomes ``NONBUGGY``.
    - Labels, edges and candidates never change. Which samples: as the label noise counts
      and draws them (:func:`engine.noise.varmisuse.noise_varmisuse`): exactly
      round-half-up(p/100 × n) buggy and bug-free samples each, the smallest raw PCG64
      keys (one per buggy sample, then one per bug-free sample, in ascending index), so
      the chosen sets are nested across levels. (The study's script marks the sample it
      reads; its choice of samples per level is not published.)
    """
    level, seed = check_level(level), check_seed(seed)
    buggy = [i for i, s in enumerate(samples) if s.has_bug]
    clean = [i for i, s in enumerate(samples) if not s.has_bug]
    bits = np.random.PCG64(seed)
    keys_b = np.asarray(bits.random_raw(len(buggy)), dtype=np.uint64)
    keys_c = np.asarray(bits.random_raw(len(clean)), dtype=np.uint64)
    marked_b = sorted(buggy[j] for j in smallest(keys_b, noise_count(level, len(buggy))))
    marked_c = sorted(clean[j] for j in smallest(keys_c, noise_count(level, len(clean))))
    out = list(samples)
    for i in marked_b:
        s = samples[i]
        target = s.tokens[s.repair_targets[0]]
        tokens = [TARGET if t == target else t for t in s.tokens]
        tokens[s.error_location] = BUGGY
        out[i] = _with_tokens(s, tokens)
    for i in marked_c:
        s = samples[i]
        if s.tokens:  # a sample without tokens has nothing to mark
            word = most_frequent(s.tokens)
            out[i] = _with_tokens(s, [NONBUGGY if t == word else t for t in s.tokens])
    return NoiseResult(samples=out, changed={"marked_buggy": marked_b, "marked_clean": marked_c}, level=level,
                       seed=seed, counts={"buggy": len(buggy), "clean": len(clean), "marked_buggy": len(marked_b),
                                          "marked_clean": len(marked_c)})


def _with_tokens(sample, tokens: list[str]):
    return replace(sample, tokens=tokens, raw=dict(sample.raw, source_tokens=tokens))


INPUT_NOISE = {"injecting_repair": (__name__, "inject_repair"),
               "method_leakage": ("engine.noise.method_leakage", "method_leakage"),
               "statement_deletion": ("engine.noise.statement_deletion", "statement_deletion"),
               "identity_pair": ("engine.noise.identity_pair", "identity_pair"),
               "token_masking": ("engine.noise.token_masking", "token_masking")}
"""Each input noise's (module, function), imported when applied: the app, which shows the
kinds, never loads a parser for them."""
