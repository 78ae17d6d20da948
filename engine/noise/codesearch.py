"""CODE-SEARCH label noise: a matching pair gets another sample's docstring and keeps its
label, so the label is wrong (the extended study's label noise for code search, after
Rabin et al. §4.1's label noise of the other tasks)."""
from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np

from engine.data.codesearch import CodeSearchSample
from engine.errors import InputError
from engine.noise import NoiseResult, check_level, check_seed, noise_count, smallest


def noise_codesearch(samples: Sequence[CodeSearchSample], level: float, seed: int) -> NoiseResult:
    """Copy ``samples`` with ``level`` % of the matching pairs (label 1) mispaired:

    - exactly round-half-up(p/100 × n) of the n matching pairs change
      (:func:`engine.noise.noise_count`), chosen by the smallest selection keys;
    - a chosen pair takes the docstring (and its tokens) of another matching pair: the
      chosen pairs, in ascending order of a second key, pass their docstrings one place
      on (a cyclic shift), so none keeps its own; with one chosen pair, it takes the
      docstring of the first matching pair not chosen. Its label stays 1: it is now wrong;
    - non-matching pairs (label 0) never change.

    Randomness as the other tasks' noise: the raw 64-bit output of
    ``numpy.random.PCG64(seed)``, one selection key then one order key per matching pair,
    in ascending index, drawn whatever the level, so the chosen sets are nested across
    levels. Fewer than two matching pairs with p > 0: there is no other docstring to take,
    an :class:`~engine.errors.InputError`.
    """
    level, seed = check_level(level), check_seed(seed)
    positives = np.asarray([i for i, s in enumerate(samples) if s.label == 1], dtype=np.int64)
    k = noise_count(level, len(positives))
    bits = np.random.PCG64(seed)
    select = np.asarray(bits.random_raw(len(positives)), dtype=np.uint64)
    order_keys = np.asarray(bits.random_raw(len(positives)), dtype=np.uint64)
    out = list(samples)
    chosen = np.zeros(0, dtype=np.int64)
    if k:
        if len(positives) < 2:
            raise InputError("code-search noise needs at least two matching pairs to exchange docstrings")
        picked = smallest(select, k)
        chosen = np.sort(positives[picked])
        ring = positives[picked[np.lexsort((picked, order_keys[picked]))]]
        if k == 1:
            donors = [int(next(i for i in positives if i != ring[0]))]
        else:
            donors = np.roll(ring, 1).tolist()
        for target, donor in zip(ring.tolist(), donors):
            out[target] = replace(samples[target], docstring=samples[donor].docstring,
                                  docstring_tokens=samples[donor].docstring_tokens)
    return NoiseResult(samples=out, changed={"mispaired": chosen.tolist()}, level=level, seed=seed,
                       counts={"matching": int(len(positives)), "mispaired": int(k)})
