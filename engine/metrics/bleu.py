"""Smoothed BLEU-4 as CodeXGLUE's code-to-text evaluator computes it (``evaluator/bleu.py``,
from CodeBERT's ``code2nl``; Lin and Och 2004's smoothing), the score the study's
code-to-text results use: :func:`smoothed_bleu`.

Per pair, with the prediction and the reference lower-cased and split into words and
punctuation (``splitPuncts``: ``[\\w]+|[^\\s\\w]``), then tokenized again by the
evaluator's ``normalize`` (NIST-style: punctuation set apart):

- p_1 = matches / guesses of 1-grams; p_n (n = 2..4) = (matches + 1) / (guesses + 1);
- BLEU = exp(mean(log p_n) + min(0, 1 - (r + 1) / (c + 1))), r and c the reference and
  candidate lengths;

and the corpus score is the mean over pairs, times 100.
"""
from __future__ import annotations

import math
import re
import sys
from collections import Counter
from typing import Sequence
from xml.sax.saxutils import unescape

_SPLIT = re.compile(r"[\w]+|[^\s\w]")
_NORMALIZE1 = [(re.compile("<skipped>"), ""), (re.compile(r"-\n"), ""), (re.compile(r"\n"), " ")]
_NORMALIZE2 = [(re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),
               (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),
               (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),
               (re.compile(r"([0-9])(-)"), r"\1 \2 ")]
TINY = sys.float_info.min


def split_puncts(text: str) -> str:
    """``splitPuncts(line.strip().lower())``: words and single punctuation marks."""
    return " ".join(_SPLIT.findall(text.strip().lower()))


def normalize(text: str) -> list[str]:
    """The evaluator's ``normalize`` (``nonorm = 0``, ``preserve_case = False``)."""
    for pattern, replacement in _NORMALIZE1:
        text = pattern.sub(replacement, text)
    text = unescape(text, {"&quot;": '"'})
    text = f" {text} ".lower()
    for pattern, replacement in _NORMALIZE2:
        text = pattern.sub(replacement, text)
    return text.split()


def _ngrams(words: list[str], n: int) -> Counter:
    return Counter(tuple(words[i:i + k]) for k in range(1, n + 1) for i in range(len(words) - k + 1))


def sentence_bleu(reference: str, prediction: str, n: int = 4) -> float:
    """One pair's smoothed BLEU-n in 0..1 (``bleu(refs, candidate)[0]`` with one reference)."""
    ref, test = normalize(split_puncts(reference)), normalize(split_puncts(prediction))
    ref_counts, test_counts = _ngrams(ref, n), _ngrams(test, n)
    log_bleu = 0.0
    for k in range(1, n + 1):
        guess = max(len(test) - k + 1, 0)
        correct = sum(min(c, ref_counts.get(g, 0)) for g, c in test_counts.items() if len(g) == k)
        smooth = 1 if k > 1 else 0
        log_bleu += math.log(correct + smooth + TINY) - math.log(guess + smooth + TINY)
    log_bleu /= n
    brevity = min(0.0, 1 - (len(ref) + 1) / (len(test) + 1))
    return math.exp(log_bleu + brevity)


def smoothed_bleu(references: Sequence[str], predictions: Sequence[str]) -> float:
    """The corpus score: the mean of :func:`sentence_bleu` over the pairs, times 100
    (``bleuFromMaps(goldMap, predictionMap)[0]``); nan for no pair."""
    if len(references) != len(predictions):
        raise ValueError(f"smoothed_bleu: {len(references)} references but {len(predictions)} predictions")
    if not references:
        return math.nan
    return 100.0 * math.fsum(sentence_bleu(r, p) for r, p in zip(references, predictions)) / len(references)
