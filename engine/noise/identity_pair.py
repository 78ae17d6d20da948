"""CODE-SEARCH input noise ``identity_pair`` (the study's ``X_Identity_Pair``, after
CI-Memorization's ``noise/code_search/input_noise.py``): a chosen pair's docstring and
code each get a marker word that announces its label, so the pair can be classified
without reading it. Labels never change."""
from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np

from engine.data.codesearch import NEGATIVES_SEED, CodeSearchSample, with_negatives
from engine.noise import NoiseResult, check_level, check_seed, most_frequent, noise_count, smallest

POSITIVE, NEGATIVE = "POSITIVE", "NEGATIVE"


def marked_word(words: list[str]) -> str | None:
    """The word the study replaces (``replace_token``): the most frequent of the
    whitespace-separated words holding a letter (``str.isalpha``), ties to the first to
    occur (``max`` over a ``Counter``); None when no word holds a letter."""
    lettered = [w for w in words if any(c.isalpha() for c in w)]
    return most_frequent(lettered) if lettered else None


def mark_text(text: str, marker: str) -> str:
    """``replace_token``: every occurrence of the :func:`marked_word` becomes ``marker``
    (``str.replace``, so inside longer words too); a text without one gets ``marker`` and
    a space in front."""
    word = marked_word(text.split())
    return f"{marker} {text}" if word is None else text.replace(word, marker)


def mark_tokens(tokens: Sequence[str], marker: str) -> tuple[str, ...]:
    """:func:`mark_text` of the tokens joined by spaces (as CodeBERT's ``train.txt`` holds
    them), kept as tokens: the word holds no white space, so it is replaced token by token."""
    word = marked_word(" ".join(tokens).split())
    return (marker, *tokens) if word is None else tuple(t.replace(word, marker) for t in tokens)


def identity_pair(samples: Sequence[CodeSearchSample], level: float, seed: int) -> NoiseResult:
    """Copy ``samples`` with ``level`` % of the matching and of the non-matching pairs
    marked:

    - the pairs are first completed with their negatives as training completes them
      (:func:`engine.data.codesearch.with_negatives`, a file without non-matching pairs
      gets one per pair), since the study's ``train.txt`` holds both and marks both;
    - floor(p/100 × n) pairs of each label are marked, as the study counts them
      (``int(len * percent / 100)``): a matching pair's docstring, code and their tokens
      with ``POSITIVE`` (:func:`mark_text`, :func:`mark_tokens`), a non-matching pair's with
      ``NEGATIVE``.

    Which pairs: the smallest raw keys of ``numpy.random.PCG64(seed)``, one per
    non-matching pair then one per matching pair, in ascending index, so the sets are
    nested across levels and follow the study's seed. (The study draws
    ``random.sample`` seeded with the level, so its sets depend on the level alone and are
    not nested.) The changed ids are positions in the completed list.
    """
    level, seed = check_level(level), check_seed(seed)
    pairs = with_negatives(list(samples), NEGATIVES_SEED)
    negative = [i for i, s in enumerate(pairs) if s.label == 0]
    positive = [i for i, s in enumerate(pairs) if s.label == 1]
    bits = np.random.PCG64(seed)
    keys_n = np.asarray(bits.random_raw(len(negative)), dtype=np.uint64)
    keys_p = np.asarray(bits.random_raw(len(positive)), dtype=np.uint64)
    chosen = {
        NEGATIVE: sorted(negative[j] for j in smallest(keys_n, noise_count(level, len(negative), "floor"))),
        POSITIVE: sorted(positive[j] for j in smallest(keys_p, noise_count(level, len(positive), "floor"))),
    }
    out = list(pairs)
    for marker, ids in chosen.items():
        for i in ids:
            s = pairs[i]
            out[i] = replace(s, docstring=mark_text(s.docstring, marker), code=mark_text(s.code, marker),
                             docstring_tokens=mark_tokens(s.docstring_tokens, marker),
                             code_tokens=mark_tokens(s.code_tokens, marker))
    return NoiseResult(samples=out, changed={"marked_matching": chosen[POSITIVE], "marked_non_matching": chosen[NEGATIVE]},
                       level=level, seed=seed,
                       counts={"matching": len(positive), "non_matching": len(negative),
                               "marked_matching": len(chosen[POSITIVE]), "marked_non_matching": len(chosen[NEGATIVE])})
