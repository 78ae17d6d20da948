"""A suffix automaton over output lines (Blumer et al.'s DAWG, built online), matched
against corpus regions: for every output position j it gives E(j), the length of the
longest memorized run of lines ending there, and the corpus counts and first locations
of any span (:class:`Finished`, whose docstring gives the definitions).
:class:`CompiledMatch` is the same matching in the C kernel (``_automaton.c``), used
where it is built.
"""
from __future__ import annotations

from typing import Callable, Iterable, Sequence

import numpy as np

from engine.clones.arrays import ranges

try:
    from engine.clones import _automaton
except ImportError:  # no compiler at install time: the classes below, in Python
    _automaton = None

compiled: bool = _automaton is not None
"""Whether the kernel is built (and used by default; tests set it off)."""

MAX_SAMPLES = 50

Span = tuple[int, int, int, int]
"""A maximal memorized span: ``(stretch, position in the stretch, E, state)``."""
Counts = Callable[[int, int], tuple[int, list[tuple[int, int]]]]
"""``(state, E)`` of a span -> ``(train, samples)``: :meth:`Finished.train` and
:meth:`Finished.samples`."""


class SuffixAutomaton:
    """A suffix automaton over integer symbols; sequences are separated by unique
    negative symbols so that no match crosses from one into the next."""

    def __init__(self) -> None:
        self.next: list[dict[int, int]] = [{}]
        self.link: list[int] = [-1]
        self.length: list[int] = [0]
        self.last = 0
        self._separators = 0

    def _extend(self, c: int) -> int:
        nxt, link, length = self.next, self.link, self.length
        cur = len(length)
        nxt.append({})
        length.append(length[self.last] + 1)
        link.append(0)
        p = self.last
        while p != -1 and c not in nxt[p]:
            nxt[p][c] = cur
            p = link[p]
        if p != -1:
            q = nxt[p][c]
            if length[p] + 1 == length[q]:
                link[cur] = q
            else:
                clone = len(length)
                nxt.append(dict(nxt[q]))
                length.append(length[p] + 1)
                link.append(link[q])
                while p != -1 and nxt[p].get(c) == q:
                    nxt[p][c] = clone
                    p = link[p]
                link[q] = link[cur] = clone
        self.last = cur
        return cur

    def add(self, symbols: Iterable[int]) -> list[int]:
        """Append one sequence (symbols >= 1); returns the prefix state of each position."""
        states = [self._extend(c) for c in symbols]
        self._separators += 1
        self._extend(-self._separators)
        return states


class Matcher:
    """Feeds corpus regions through an automaton and keeps what the counts need.

    The automaton recognizes every substring of the outputs. Feeding a corpus region
    through it yields, at each region position q, the state s_q and length l_q of the
    longest suffix of the region up to q that occurs in the outputs.
    """

    def __init__(self, automaton: SuffixAutomaton, min_lines: int):
        self.sam = automaton
        self.k = min_lines
        self.hist: dict[tuple[int, int], int] = {}   # (state, length) -> corpus positions
        self.best: dict[int, int] = {}               # state -> longest length reached
        self.top: dict[int, list] = {}                # first refs reaching best[state]
        self.refs: dict[int, list] = {}               # first refs reaching state at all

    def feed(self, region: int, symbols: Sequence[int]) -> None:
        """Match one region; a ref is ``(region, position in region)``."""
        nxt, link, length, k = self.sam.next, self.sam.link, self.sam.length, self.k
        hist, best, top, refs = self.hist, self.best, self.top, self.refs
        s = n = 0
        for q, c in enumerate(symbols):
            while s and c not in nxt[s]:
                s = link[s]
                n = length[s]
            t = nxt[s].get(c)
            if t is None:
                s = n = 0
                continue
            s, n = t, n + 1
            if n < k:
                continue
            key = (s, n)
            hist[key] = hist.get(key, 0) + 1
            ref = (region, q)
            b = best.get(s, 0)
            if n > b:
                best[s] = n
                top[s] = [ref]
            elif n == b and len(top[s]) < MAX_SAMPLES:
                top[s].append(ref)
            mine = refs.setdefault(s, [])
            if len(mine) < MAX_SAMPLES:
                mine.append(ref)


class Finished:
    """E(j) at every prefix state, and the corpus counts and refs of any span.

    Let an output's kept keys be k_1..k_m. For a position j, E(j) is the largest length
    L such that k_{j-L+1..j} occurs as consecutive kept lines of one corpus document (0
    if none). A span of L >= K lines ending at j is memorized iff L <= E(j), and the
    maximal memorized spans are exactly ``[j-E(j)+1, j]`` for the j with E(j) >= K and
    E(j+1) < E(j) + 1 (the span cannot grow to the right; it cannot grow to the left by
    the choice of E(j)).

    With s_q and l_q as fed by :class:`Matcher`: every output end position j whose
    prefix state has an ancestor u (in the suffix-link tree) reached by the corpus gets
    E(j) >= min(length reached at u, len(u)); the maximum over the ancestors is E(j). A
    string S of state t occurs in the corpus ending at q iff t is an ancestor of s_q, or
    t == s_q and l_q >= |S|: that gives every count by summing a histogram of reached
    (state, length) pairs over the subtree.
    """

    def __init__(self, matcher: Matcher):
        sam = matcher.sam
        link, length = sam.link, sam.length
        n = len(length)
        order = sorted(range(1, n), key=length.__getitem__, reverse=True)  # children first
        reached_below = [False] * n
        below = [0] * n             # corpus positions whose state is a strict descendant
        own = [0] * n
        self._lengths: dict[int, list[tuple[int, int]]] = {}  # state -> [(length, count)]
        for (s, size), c in matcher.hist.items():
            own[s] += c
            self._lengths.setdefault(s, []).append((size, c))
        subrefs: dict[int, list] = {}  # first refs of the strict subtree
        for u in order:
            p = link[u]
            if u in matcher.best or reached_below[u]:
                reached_below[p] = True
                below[p] += own[u] + below[u]
                mine = sorted(matcher.refs.get(u, []) + subrefs.get(u, []))[:MAX_SAMPLES]
                if mine:
                    subrefs[p] = sorted(subrefs.get(p, []) + mine)[:MAX_SAMPLES]
        eff = [0] * n
        for u in range(1, n):
            eff[u] = length[u] if reached_below[u] else matcher.best.get(u, 0)
        self.emax = [0] * n
        self.earg = [0] * n
        for u in reversed(order):  # parents first
            if eff[u]:
                self.emax[u], self.earg[u] = eff[u], u
            else:
                p = link[u]
                self.emax[u], self.earg[u] = self.emax[p], self.earg[p]
        self._m = matcher
        self._below = below
        self._subrefs = subrefs
        self._reached_below = reached_below

    def span(self, prefix_state: int) -> tuple[int, int]:
        """``(E, state)``: E(j) at the position whose prefix state is given, and the
        state of the span of E lines ending there (0, 0 if none)."""
        return self.emax[prefix_state], self.earg[prefix_state]

    def train(self, state: int, size: int) -> int:
        """Corpus positions where the string of ``state`` with ``size`` lines ends."""
        at = sum(c for n, c in self._lengths.get(state, ()) if n >= size)
        return at + self._below[state]

    def samples(self, state: int, size: int) -> list[tuple[int, int]]:
        """The first refs (in corpus order, at most 50) where a span's string ends.

        Only for a span's ``(state, E)``: then E is either the longest length reached
        at the state (the refs kept in ``top``) or the state's own length, with the
        refs of its subtree.
        """
        here = self._m.top.get(state, []) if self._m.best.get(state, 0) == size else []
        return sorted(here + self._subrefs.get(state, []))[:MAX_SAMPLES]


def maximal_spans(done: Finished, prefix_states: list[list[int]], k: int) -> list[Span]:
    """The maximal memorized spans of each stretch (its positions' prefix states): the
    positions j with E(j) >= k whose next position's E is not E(j) + 1."""
    spans = []
    for s, states in enumerate(prefix_states):
        ends = [done.span(p) for p in states]
        for i, (size, state) in enumerate(ends):
            if size >= k and not (i + 1 < len(ends) and ends[i + 1][0] >= size + 1):
                spans.append((s, i, size, state))
    return spans


class CompiledMatch:
    """The automaton of some output stretches, the matcher and :class:`Finished` in the
    kernel: the same spans, counts and samples, with no Python object per state."""

    def __init__(self, stretches: list[np.ndarray], k: int):
        bounds = np.cumsum([0] + [len(s) for s in stretches], dtype=np.int64)
        ids = np.concatenate([np.zeros(0, np.int64), *stretches]).astype(np.int64, copy=False)
        self._automaton = _automaton.build(ids, bounds, k, MAX_SAMPLES)

    def feed(self, ids: np.ndarray, bounds: np.ndarray, first: int) -> None:
        """Regions ``first``, ``first + 1``, ... (``ids[bounds[r]:bounds[r+1]]``), the
        next ones in corpus order."""
        _automaton.feed(self._automaton, np.ascontiguousarray(ids, np.int64),
                        np.ascontiguousarray(bounds, np.int64), first)

    def span_rows(self) -> tuple[np.ndarray, "KernelCounts"]:
        """The maximal spans (as :func:`maximal_spans`) as rows of an array (n × 4), and
        their counts."""
        rows, states, train, bounds, refs = (np.frombuffer(b, np.int64)
                                             for b in _automaton.spans(self._automaton))
        self._automaton = None
        return rows.reshape(-1, 4), KernelCounts(states, train, bounds, refs)


class KernelCounts:
    """The kernel's counts of the spans' states (the kernel reports one E per state, so
    the state alone says which): called as :data:`Counts`, or :meth:`many` for many
    states at once, in array operations."""

    def __init__(self, states: np.ndarray, train: np.ndarray, bounds: np.ndarray, refs: np.ndarray):
        self._order = np.argsort(states)
        self._states, self._train, self._bounds, self._refs = states[self._order], train, bounds, refs

    def many(self, states: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(train, samples, region, position)``: each state's train count and number of
        samples, and the samples of all, state after state (a sample is a ref: its
        region and its position there)."""
        states = np.asarray(states, np.int64)
        where = np.minimum(np.searchsorted(self._states, states), max(len(self._states) - 1, 0))
        if len(states) and (not len(self._states) or (self._states[where] != states).any()):
            raise KeyError("a state the kernel found no span at")
        at = self._order[where]
        lo, hi = self._bounds[at], self._bounds[at + 1]
        refs = self._refs[ranges(lo, hi - lo)]
        return self._train[at], hi - lo, refs >> 32, refs & 0xFFFFFFFF

    def __call__(self, state: int, size: int) -> tuple[int, list[tuple[int, int]]]:
        train, _, region, position = self.many([state])
        return int(train[0]), list(zip(region.tolist(), position.tolist()))
