"""What METHOD-NAME input noise shares (``method_leakage``, ``statement_deletion``): the
choice of methods, the rewrite of a chosen method's source through tree-sitter, and its
path-contexts extracted again as the dataset builder extracted them. Labels never change.

The study's generator for these kinds (CI-Memorization's
``code/noise_generation/method_name``, javaparser 3.14) is published without its
``NoiseHandler``, the class that rewrites a method: its ``Common.java`` names the kinds
(``X_Method_Variable``, ``X_Remove_Statement``), reads one method per file and writes it back
with javaparser's printer, and holds the test of a removable statement
(``isSingleStatement``). Where the rest is not published byrote says what it does.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable, Sequence

import numpy as np

from engine.data.methodname import MethodNameSample
from engine.data.pathcontexts import ParsedMethod, extract_contexts, method_contexts, parse_method, style_of
from engine.errors import InputError
from engine.noise import NoiseResult, check_level, check_seed, noise_count, smallest

Rewrite = Callable[[ParsedMethod, str, int], "str | None"]
"""(parsed method, language, the sample's choice key) -> the rewritten source, or None
when the method offers nothing to rewrite."""


def rewrite_methods(samples: Sequence[MethodNameSample], level: float, seed: int, kind: str,
                    rewrite: Rewrite, done: str) -> NoiseResult:
    """Copy ``samples`` with ``level`` % of them rewritten by ``rewrite``.

    - Which: floor(p/100 × n) samples (Java's ``(int)(p * n)``, as the study's method-name
      generator counts), the smallest raw keys of ``numpy.random.PCG64(seed)``, one per
      sample in ascending index, so the sets are nested across levels. A second key per
      sample (drawn after all the first ones) chooses within the method
      (``(key * m) >> 64`` of its m choices), so a sample chosen at 25 % is rewritten the
      same way at 50 %.
    - A chosen method with nothing to rewrite, or whose rewrite leaves no path-context or
      changes none of the sample's (a long method's sampled contexts may all miss the
      rewritten part), keeps its sample. The rewritten ones are listed under ``done``
      (the changed ids: what the noise-rate detectors look for), and ``counts`` has
      ``chosen`` and ``chosen_unchanged`` beside them, so the effective rate is on record.
    - The rewritten sample keeps its name, label, file and line; its ``source`` is the new
      text and its contexts are extracted from it (:func:`contexts_after`).
    - Samples without source (read from ``.c2v``/``.c2s``/``.raw`` lines) cannot be
      rewritten: :class:`InputError`, before anything is made.
    """
    level, seed = check_level(level), check_seed(seed)
    missing = next((i for i, s in enumerate(samples) if not s.source or not s.lang), None)
    if missing is not None:
        raise InputError(f"input noise {kind} rewrites each method's source, which sample {missing + 1} lacks "
                         f"(.c2v/.c2s/.raw lines hold none): build the dataset as JSON lines with "
                         f"`byrote dataset build methodname`", field="noise_kind")
    n = len(samples)
    bits = np.random.PCG64(seed)
    keys = np.asarray(bits.random_raw(n), dtype=np.uint64)
    choice = [int(k) for k in bits.random_raw(n)]
    chosen = sorted(int(i) for i in smallest(keys, noise_count(level, n, "floor")))
    out, rewritten, unchanged = list(samples), [], []
    for i in chosen:
        s = samples[i]
        try:
            parsed = parse_method(s.source, s.lang)
            source = rewrite(parsed, s.lang, choice[i])
            contexts = contexts_after(s, parsed, source) if source is not None else []
        except InputError:  # a source whose method tree-sitter does not find
            source, contexts = None, []
        if not contexts or contexts == s.contexts:
            unchanged.append(i)
            continue
        out[i] = replace(s, source=source, contexts=contexts)
        rewritten.append(i)
    return NoiseResult(samples=out, changed={done: rewritten}, level=level, seed=seed,
                       counts={"samples": n, "chosen": len(chosen), done: len(rewritten),
                               "chosen_unchanged": len(unchanged)})


def choose(key: int, m: int) -> int:
    """The choice a 64-bit ``key`` makes among ``m`` things (``(key * m) >> 64``)."""
    return (key * m) >> 64


def contexts_after(sample: MethodNameSample, parsed: ParsedMethod, source: str) -> list:
    """The path-contexts of the rewritten ``source`` of ``sample`` (whose own source is
    ``parsed``), in the sample's style.

    A sample that holds all its method's contexts gets all of the new method's. A sample
    the builder sampled (``max_contexts`` of n) keeps its sampled positions where the
    rewrite keeps the tree's shape (a renaming): the same positions of the new list, found
    by matching the sample's contexts, in order, against the original's full list. Where
    the shape changed (a deleted statement) the new method is sampled again with as many
    contexts and the builder's default seed (0).
    """
    style = style_of(sample.contexts)
    old = method_contexts(parsed.root, parsed.method, sample.lang, None, style=style)
    new = extract_contexts(source, sample.lang, None, style=style)
    kept = len(sample.contexts)
    if kept >= len(old):
        return new
    if len(new) == len(old):
        positions, j = [], 0
        for context in sample.contexts:
            while j < len(old) and old[j] != context:
                j += 1
            if j == len(old):
                break
            positions.append(j)
            j += 1
        if len(positions) == kept:
            return [new[p] for p in positions]
    return extract_contexts(source, sample.lang, kept, seed=0, style=style)
