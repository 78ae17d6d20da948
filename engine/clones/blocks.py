"""Simian's blocks between the outputs and the corpus (Simian 2.5.10 as Yang et al. ran it;
tests/data/simian/rules/README.md, rules 7-10): :func:`find_blocks`, whose docstring is
the contract, over a suffix array of every stretch of output and every corpus region
that can hold one (:func:`suffix_array`, :func:`lcp_array`).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from engine.clones.automaton import MAX_SAMPLES
from engine.clones.filter import Region
from engine.clones.index import OutputIndex
from engine.clones.memorized import Snippet, corpus_match, output_stretches

UNIQUE = -(1 << 62)  # symbols from here down are unique: edges, separators


def suffix_array(text: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """The suffix array of ``text`` (non-negative dense ranks, the last symbol unique) by
    prefix doubling, and the rank of every substring of length 2**j at each position,
    for each j, which :func:`lcp_array` uses."""
    n = len(text)
    rank = text.astype(np.int64)
    levels = [rank]
    sa = np.argsort(rank, kind="stable")
    step = 1
    while n and len(np.unique(rank)) < n:
        second = np.zeros(n, np.int64)
        second[:n - step] = rank[step:] + 1
        key = rank * (n + 1) + second
        sa = np.argsort(key, kind="stable")
        ordered = key[sa]
        rank = np.empty(n, np.int64)
        rank[sa] = np.concatenate(([0], np.cumsum(ordered[1:] != ordered[:-1])))
        levels.append(rank)
        step *= 2
    return sa, levels


def lcp_array(sa: np.ndarray, levels: list[np.ndarray]) -> np.ndarray:
    """``lcp[i]``: the longest common prefix of suffixes ``sa[i-1]`` and ``sa[i]`` (0 for
    i = 0), and ``lcp[n] = 0``, by binary lifting over the doubling ranks."""
    n = len(sa)
    lcp = np.zeros(n + 1, np.int64)
    if n < 2:
        return lcp
    a, b = sa[:-1].copy(), sa[1:].copy()
    got = np.zeros(n - 1, np.int64)
    for j in range(len(levels) - 1, -1, -1):
        size = 1 << j
        ok = (a + got + size <= n) & (b + got + size <= n)
        idx = np.flatnonzero(ok)
        same = levels[j][a[idx] + got[idx]] == levels[j][b[idx] + got[idx]]
        got[idx[same]] += size
    lcp[1:n] = got
    return lcp


def intervals(lcp: np.ndarray, k: int) -> Iterable[tuple[int, int, int]]:
    """``(length, lb, rb)`` of every lcp-interval of length >= k: the suffixes
    ``sa[lb..rb]`` share their first ``length`` symbols, and no more, all of them."""
    n = len(lcp) - 1
    deep = np.flatnonzero(lcp[:n] >= k)
    if len(deep) == 0:
        return
    breaks = np.flatnonzero(np.diff(deep) > 1)
    for s, e in zip(np.concatenate(([deep[0]], deep[breaks + 1])), np.concatenate((deep[breaks], [deep[-1]]))):
        stack = [(k - 1, s - 1)]
        values = lcp[s:e + 2].tolist()
        values[-1] = k - 1
        for i, value in enumerate(values, start=s):
            lb = i - 1
            while value < stack[-1][0]:
                length, lb = stack.pop()
                yield length, lb, i - 1
            if value > stack[-1][0]:
                stack.append((value, lb))


def find_blocks(
    index: OutputIndex, regions: Callable[[], Iterable[Region]], output_text: Callable[[int], str],
    fingerprint: Callable[[list[bytes]], str], check: Callable[[], None] | None = None,
) -> list[Snippet]:
    """Every memorized Simian block, sorted by fingerprint.

    - A *place* of a sequence X of significant lines is where it occurs in one output or
      one corpus document; X is a *repeat* when it has two places or more.
    - X is a *block*, reported with all its places, when it is a repeat of K (6) lines or
      more and one of its places lies inside no place of a longer reported block (rule
      10). The longest repeat around a place is always reported, so this reads: X has a
      place where neither the line before it nor the line after it extends it into a
      longer repeat, i.e. both neighbours of that place differ from those of every other
      place of X (the edges of a document or an output count as unique).
    - A block is *memorized* when it has a place in the outputs and one in the corpus (the
      study's rule): ``len`` K..., ``train`` and ``extract`` its distinct places in the
      corpus and in the outputs, the fingerprint of its keys (``fingerprint``).

    Every place of a memorized block lies in a stretch of output whose K-line windows
    occur in the corpus and in a corpus region (:mod:`engine.clones.filter`); the one line
    around each, the neighbour, is all the rest of the text the rule needs. So the stretches
    and regions, each with its neighbours and a unique separator, make one text, and the
    lcp-intervals of its suffix array are exactly the right-maximal repeats. Simian also
    reports blocks whose places are all in the corpus or all in the outputs; they are not
    memorized and are not listed.
    """
    k = index.k
    check = check or (lambda: None)
    stretches = output_stretches(index, regions, check)
    all_regions = list(regions()) if stretches else []
    # the text: output stretches, then corpus regions, each as [left] core [right] |
    symbols: list[np.ndarray] = []
    pieces: list[tuple[int, int, int, int]] = []  # (kind: 0 output, 1 corpus; ref; core start in text; first)
    unique = UNIQUE
    at = 0
    for o, a, b in stretches:
        ids = index.outputs[o][1]
        left = ids[a - 1] if a > 0 else unique
        right = ids[b] if b < len(ids) else unique - 1
        unique -= 2
        symbols.append(np.concatenate(([left], ids[a:b], [right, unique])))
        unique -= 1
        pieces.append((0, o, at + 1, a))
        at += b - a + 3
    for g, region in enumerate(all_regions):
        if g % 1000 == 0:
            check()
        left = region.left if region.left != 0 else unique
        right = region.right if region.right != 0 else unique - 1
        unique -= 2
        symbols.append(np.concatenate(([left], np.asarray(region.ids, np.int64), [right, unique])))
        unique -= 1
        pieces.append((1, g, at + 1, 0))
        at += len(region.ids) + 3
    if not pieces:
        return []
    text = np.concatenate(symbols)
    dense = np.unique(text, return_inverse=True)[1].astype(np.int64)
    kind = np.full(len(text), 2, np.int8)  # 0 output core, 1 corpus core, 2 neither
    piece_of = np.zeros(len(text), np.int64)
    starts = np.array([p[2] for p in pieces], np.int64)
    for i, (piece_kind, _, start, _) in enumerate(pieces):
        size = len(symbols[i]) - 3
        kind[start:start + size] = piece_kind
        piece_of[start:start + size] = i
    sa, levels = suffix_array(dense)
    check()
    lcp = lcp_array(sa, levels)
    del levels
    check()
    in_outputs = np.concatenate(([0], np.cumsum(kind[sa] == 0)))
    in_corpus = np.concatenate(([0], np.cumsum(kind[sa] == 1)))
    snippets: list[Snippet] = []
    for n, (length, lb, rb) in enumerate(intervals(lcp, k)):
        if n % 1000 == 0:
            check()
        if in_outputs[rb + 1] == in_outputs[lb] or in_corpus[rb + 1] == in_corpus[lb]:
            continue
        places = sa[lb:rb + 1]
        right_unique = (lcp[lb:rb + 1] <= length) & (lcp[lb + 1:rb + 2] <= length)
        before = np.where(places > 0, dense[np.maximum(places - 1, 0)], -1 - np.arange(len(places)))
        _, inverse, counts = np.unique(before, return_inverse=True, return_counts=True)
        if not (right_unique & (counts[inverse] == 1)).any():
            continue
        snip, corpus = _snippet(index, pieces, starts, text, places, kind[places], length, output_text, fingerprint)
        _add_matches(snip, corpus, all_regions)
        snippets.append(snip)
    return sorted(snippets, key=lambda s: s.fingerprint)


def _snippet(index, pieces, starts, text, places, kinds, length, output_text, fingerprint):
    """The snippet of a block, and its first corpus places: (region, last position, size)."""
    first = int(places[0])
    keys = [index.keys[v] for v in text[first:first + length].tolist()]
    snip = Snippet(fingerprint(keys), length)
    spots = []
    for place, place_kind in zip(places.tolist(), kinds.tolist()):
        p = int(np.searchsorted(starts, place, side="right")) - 1
        _, ref, start, a = pieces[p]
        offset = place - start
        if place_kind == 0:
            output_id, _, numbers = index.outputs[ref]
            spots.append((0, ref, a + offset, output_id, int(numbers[a + offset]),
                           int(numbers[a + offset + length - 1])))
        else:
            spots.append((1, ref, offset, None, 0, 0))
    outputs = sorted(s for s in spots if s[0] == 0)
    corpus = sorted(s for s in spots if s[0] == 1)
    snip.extract, snip.train = len(outputs), len(corpus)
    snip.outputs = [(output_id, lo, hi) for _, _, _, output_id, lo, hi in outputs]
    output_id, lo, hi = outputs[0][3:]
    lines = output_text(output_id).split("\n")[lo - 1:hi]
    snip.text = "\n".join(line.removesuffix("\r") for line in lines)
    return snip, [(g, q + length - 1, length) for _, g, q, _, _, _ in corpus[:MAX_SAMPLES]]


def _add_matches(snip: Snippet, corpus: list[tuple[int, int, int]], all_regions: list[Region]) -> None:
    """A snippet's first corpus places (in corpus order), with their context."""
    for g, q, size in corpus:
        snip.matches.append(corpus_match(all_regions[g], q, size))
