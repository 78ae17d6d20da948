"""CODE-TO-TEXT input noise ``token_masking`` (the study's ``X_Token_Masking``, after
CI-Memorization's ``code/noise_generation/code_text/input_noise.py``): in a chosen
sample's code, every word of its docstring (and the word's singular and verb lemma)
becomes ``MASK``, so the code no longer gives the docstring's words away. The docstring,
the target, never changes.

The word forms are the study's: NLTK's English stop words and WordNet lemmatizer, and
pluralizer's singular (:func:`nltk_word_forms`); they are an optional extra
(``pip install 'byrote[masking]'`` and ``python -m nltk.downloader stopwords wordnet``),
refused in one line when absent.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np

from engine.errors import InputError
from engine.noise import NoiseResult, check_level, check_seed, noise_count, smallest

MASK = "MASK"
INSTALL = "pip install 'byrote[masking]', then python -m nltk.downloader stopwords wordnet"


@dataclass(frozen=True)
class WordForms:
    """What the masking needs to know of English: the stop words, a word's singular and
    its lemma as a verb."""
    stopwords: frozenset[str]
    singular: Callable[[str], str]
    verb_lemma: Callable[[str], str]


@functools.lru_cache(maxsize=1)
def nltk_word_forms() -> WordForms:
    """The study's word forms: ``stopwords.words('english')`` and
    ``WordNetLemmatizer().lemmatize(word, 'v')`` from NLTK, ``Pluralizer().singular``;
    an :class:`~engine.errors.InputError` naming what to install when one is missing."""
    try:
        from nltk.corpus import stopwords
        from nltk.stem import WordNetLemmatizer
        from pluralizer import Pluralizer
    except ImportError as e:
        raise InputError(f"noise kind token_masking needs nltk and pluralizer ({e.name} is not installed): "
                         f"{INSTALL}", field="noise_kind") from None
    try:
        stop = frozenset(stopwords.words("english"))
        lemmatizer = WordNetLemmatizer()
        lemmatizer.lemmatize("masks", "v")  # loads WordNet now, not in the middle of a study
    except LookupError:
        raise InputError(f"noise kind token_masking needs NLTK's stopwords and wordnet data: {INSTALL}",
                         field="noise_kind") from None
    plural = Pluralizer()
    return WordForms(stop, lambda w: str(plural.singular(w)), lambda w: str(lemmatizer.lemmatize(w, "v")))


def masked_words(docstring_tokens: Sequence[str], forms: WordForms) -> list[str]:
    """The words to mask, in the order they are masked: the docstring's tokens stripped
    and lower-cased, kept when longer than one character, starting with a letter
    (``str.isalpha``) and not a stop word; then the singular of each and the verb lemma of
    each singular; shortest first (the study's ``sorted(..., key=len)``; words of one
    length, which it leaves in set order, alphabetically)."""
    words = {w for w in (str(t).strip().lower() for t in docstring_tokens)
             if len(w) > 1 and w[0].isalpha() and w not in forms.stopwords}
    singulars = {forms.singular(w) for w in words}
    lemmas = {forms.verb_lemma(w) for w in singulars}
    return sorted(words | singulars | lemmas, key=lambda w: (len(w), w))


def word_pattern(word: str) -> re.Pattern:
    """A masked word as the study matches it: the word without ``?`` read as a regular
    expression, ignoring case (so ``e.g`` matches ``eag``); a word that is no valid
    expression (``f(x``, where the study's script stops) is matched as plain text."""
    word = word.replace("?", "")
    try:
        return re.compile(word, re.IGNORECASE)
    except re.error:
        return re.compile(re.escape(word), re.IGNORECASE)


def mask_sample(sample, forms: WordForms):
    """``sample`` with each :func:`masked_words` pattern replaced by ``MASK`` in its code and
    in each of its code tokens, one word after another."""
    code, tokens = sample.code, list(sample.code_tokens)
    for word in masked_words(sample.docstring_tokens, forms):
        pattern = word_pattern(word)
        code = pattern.sub(MASK, code)
        tokens = [pattern.sub(MASK, t) for t in tokens]
    return replace(sample, code=code, code_tokens=tuple(tokens))


def token_masking(samples: Sequence, level: float, seed: int, forms: WordForms | None = None) -> NoiseResult:
    """Copy ``samples`` with floor(p/100 × n) of them masked (:func:`mask_sample`), as the
    study counts them (``int(len * percent / 100)``). Which: the smallest raw keys of
    ``numpy.random.PCG64(seed)``, one per sample in ascending index, so the sets are nested
    across levels and follow the study's seed (the study draws ``random.sample`` seeded
    with the level). ``forms``: the study's (:func:`nltk_word_forms`) unless given."""
    level, seed = check_level(level), check_seed(seed)
    forms = forms or nltk_word_forms()
    keys = np.asarray(np.random.PCG64(seed).random_raw(len(samples)), dtype=np.uint64)
    chosen = sorted(smallest(keys, noise_count(level, len(samples), "floor")).tolist())
    out = list(samples)
    for i in chosen:
        out[i] = mask_sample(samples[i], forms)
    return NoiseResult(samples=out, changed={"masked": chosen}, level=level, seed=seed,
                       counts={"samples": len(samples), "masked": len(chosen)})
