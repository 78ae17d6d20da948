"""Label noise for METHOD-NAME (Rabin et al., seeds/001_*.txt, §4.1).

:func:`noise_methodname` copies a method-name training set with a given share of each
label's samples relabelled to another label of the set, seeded and nested across levels
like :mod:`engine.noise.varmisuse`; its docstring holds the definition.
"""
from __future__ import annotations

import dataclasses
from collections import defaultdict
from typing import Any, Sequence

import numpy as np

from engine.noise import NoiseResult, check_level, check_seed, noise_count, smallest
from engine.errors import InputError


def noise_methodname(samples: Sequence[Any], level: float, seed: int) -> NoiseResult:
    """Copy ``samples`` with ``level`` % METHOD-NAME label noise (Rabin et al. §4.1).

    The paper: "for the METHODNAME task, we introduce noise by replacing the method name
    label with another randomly chosen label from the set of available labels", at
    {0, 25, 50, 75, 100} % noise, "where [...] 100%-noise denotes a dataset where all
    labels in the training set are fully replaced with different labels".

    byrote's definition, for a noise level p in [0, 100] percent:

    - Label groups: the samples sharing one ``label`` (the whole name, sub-tokens joined
      by ``|``) form a group; the label set is the L distinct labels of the input.
    - Counts: in a group of n_g samples exactly k_g = floor(p/100 * n_g) samples are
      relabelled (exact on the decimal ``level``: :func:`engine.noise.noise_count`), as the
      study's generator counts them (CI-Memorization, its label-shuffling noise for method
      names: ``(int)(p * n)`` per name). With groups of 8, 4, 3 and 1 samples, 25 % gives 2,
      1, 0 and 0 (3 * 0.25 = 0.75 -> 0); 50 % gives 4, 2, 1 and 0. A name used once keeps
      its samples below 100 %, which on Java-Small/Med (mostly such names) makes the
      effective rate well below p: the study's curves have that rate. (byrote before
      definitions version 2 rounded half up: 1 and 2 in the groups of 3 above.)
    - New label: drawn uniformly from the L - 1 labels *other* than the sample's own, so
      no relabelled sample keeps its label, and at 100 % every label changes.
    - What changes: only ``label``. ``name`` keeps the method's name as written in the
      source (for ``.c2v`` input, the label as read), like ``source``, ``file`` and
      ``line``: they describe the program, not its training target. The model trains and
      is scored on ``label``, and the writers of :mod:`engine.formats.code2vec` serialize
      ``label``. Every other field is shared with the input (``contexts`` is not copied:
      treat it as read-only).
    - Only one label in the input and p > 0: there is no other label to draw, so
      :class:`~engine.errors.InputError`. A level outside 0–100, or a negative or
      non-integer seed: InputError.

    Randomness: the raw 64-bit output of ``numpy.random.PCG64(seed)`` (``random_raw``),
    the stream :mod:`engine.noise.varmisuse` uses, which NumPy keeps fixed across versions
    and platforms. Draw order, fixed and independent of the level:

    1. one selection key per sample, in ascending sample index;
    2. one label key per sample, in ascending sample index.

    In each group the k_g samples with the smallest (selection key, index) are relabelled.
    A relabelled sample i takes ``others[(label_key_i * (L - 1)) >> 64]``, where
    ``others`` is the sorted list (Python string order) of the labels other than its own:
    a multiply-shift map of the 64-bit key onto 0..L-2, uniform up to a bias below
    (L - 1) / 2**64. All keys are drawn whatever the level, so for one seed the relabelled
    sets are nested across levels (the 25 % set lies inside the 50 % set) and a sample
    relabelled at two levels gets the same new label at both.

    ``samples`` are dataclass instances with a string ``label`` (e.g.
    :class:`engine.data.methodname.MethodNameSample`); the result holds new instances
    (:func:`dataclasses.replace`). ``changed`` is ``{"relabelled": sorted indices}``,
    0-based indices into the input list (the 0-based line of a JSON-lines or ``.c2v``
    file); ``counts`` has ``samples``, ``labels`` (distinct labels) and ``relabelled``.
    Deterministic for a given ``seed``; level 0 returns an exact copy. Only training data
    is ever noised (§4.1; the test set stays clean): pass only the training split.
    """
    lv = check_level(level)
    sd = check_seed(seed)

    groups: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(samples):
        label = getattr(s, "label", None)
        if not isinstance(label, str):
            raise InputError(f"sample {i} has no string label (got {type(label).__name__})")
        groups[label].append(i)
    labels = sorted(groups)
    L = len(labels)
    if L == 1 and lv > 0:
        raise InputError(f"{lv:g}% noise needs at least 2 distinct labels to swap between; the data has only {labels[0]!r}")

    n = len(samples)
    bits = np.random.PCG64(sd)
    select_keys = np.asarray(bits.random_raw(n), dtype=np.uint64)
    label_keys = np.asarray(bits.random_raw(n), dtype=np.uint64)

    relabel: dict[int, str] = {}
    for rank, label in enumerate(labels):
        members = np.asarray(groups[label], dtype=np.int64)  # ascending
        k = noise_count(lv, len(members), "floor")
        others = labels[:rank] + labels[rank + 1:]
        for j in smallest(select_keys[members], k):
            i = int(members[j])
            relabel[i] = others[(int(label_keys[i]) * (L - 1)) >> 64]

    out = [dataclasses.replace(s, label=relabel[i]) if i in relabel else dataclasses.replace(s)
           for i, s in enumerate(samples)]
    return NoiseResult(
        samples=out,
        changed={"relabelled": sorted(relabel)},
        level=lv,
        seed=sd,
        counts={"samples": n, "labels": L, "relabelled": len(relabel)},
    )
