"""Simian's blocks between the outputs and the corpus (Simian 2.5.10 as Yang et al. ran it;
tests/data/simian/rules/README.md, rules 7-10): :func:`find_blocks`, whose docstring is
the contract, over a suffix array of every stretch of output and every corpus region
that can hold one (:func:`sorted_suffixes`: the compiled kernel's SA-IS, or
:func:`suffix_array` and :func:`lcp_array` in NumPy).
"""
from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import numpy as np

from engine.clones.arrays import bounds_of, ranges
from engine.clones.automaton import MAX_SAMPLES
from engine.clones.filter import Region, RegionSymbols, symbol_batches
from engine.clones.index import OutputIndex
from engine.clones.linekeys import lcp_intervals, suffix_and_lcp, witnessed
from engine.clones.memorized import Found, OutputTexts, Snippets, Wanted, attach_texts, output_lines, stretch_columns

UNIQUE = -(1 << 62)  # symbols from here down are unique: edges, separators


def suffix_array(text: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """The suffix array of ``text`` (non-negative dense ranks, the last symbol unique) by
    prefix doubling, and the rank of every substring of length 2**j at each position,
    for each j, which :func:`lcp_array` uses."""
    n = len(text)
    small = np.int32 if n < 2**31 - 1 else np.int64  # the ranks kept for every level: half the memory
    rank = text.astype(np.int64)
    levels = [rank.astype(small)]
    sa = np.argsort(rank)  # ties in any order: their ranks are equal, and at the end none are left
    step = 1
    while n and levels[-1][sa[-1]] < n - 1:  # until every rank is distinct
        second = np.zeros(n, np.int64)
        second[:n - step] = rank[step:] + 1
        key = rank * (n + 1) + second
        del second
        sa = np.argsort(key)
        ordered = key[sa]
        del key
        rank = np.empty(n, np.int64)
        rank[sa] = np.concatenate(([0], np.cumsum(ordered[1:] != ordered[:-1])))
        del ordered
        levels.append(rank.astype(small))
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


def sorted_suffixes(dense: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The suffix array and the lcp array of ``dense`` (numbers from 0, the last its only 0):
    the compiled kernel's (SA-IS and Kasai, linear), else :func:`suffix_array` and
    :func:`lcp_array` (prefix doubling, a round per doubling of the longest repeat)."""
    arrays = suffix_and_lcp(dense)
    if arrays is None:  # the doubling wants the ranks without gaps
        sa, levels = suffix_array(np.unique(dense, return_inverse=True)[1].astype(np.int64))
        arrays = sa, lcp_array(sa, levels)
    return arrays


def interval_rows(lcp: np.ndarray, k: int) -> np.ndarray:
    """:func:`intervals` as rows ``(length, lb, rb)``, from the compiled kernel where built."""
    rows = lcp_intervals(lcp, k)
    if rows is None:
        rows = np.fromiter(itertools.chain.from_iterable(intervals(lcp, k)), np.int64).reshape(-1, 3)
    return rows


def find_blocks(
    index: OutputIndex, regions: Callable[[], Iterable[Region]], output_texts: OutputTexts,
    fingerprints: Callable[[np.ndarray, np.ndarray], list[str]], check: Callable[[], None] | None = None,
) -> Found:
    """Every memorized Simian block. ``regions()`` yields the corpus regions in corpus
    order, the same each call (it is read once here, and once more for the corpus places,
    :class:`~engine.clones.memorized.Found`).

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
      corpus and in the outputs, the fingerprint of its lines' ids (``fingerprints``: of
      many spans at once, their ids end to end and their lengths).

    Every place of a memorized block lies in a stretch of output whose K-line windows
    occur in the corpus and in a corpus region (:mod:`engine.clones.filter`); the one line
    around each, the neighbour, is all the rest of the text the rule needs. So the stretches
    and the regions, each with its neighbours and a unique separator, make one text, and
    the lcp-intervals of its suffix array are exactly the right-maximal repeats. Regions
    with the same lines and neighbours (a licence header in a thousand files) enter the
    text once, with their number: memory follows the distinct regions, not the corpus.
    Simian also reports blocks whose places are all in the corpus or all in the outputs;
    they are not memorized and are not listed.
    """
    k = index.k
    check = check or (lambda: None)
    distinct = _distinct_regions(regions, check)  # the one pass over the regions here
    o, a, b = stretch_columns(index, (text[1:-1] for text in distinct.texts), check, distinct.seen_at)
    if not len(o):
        return Found(Snippets.of([]), Wanted(), regions, check)
    # the text: output stretches, then distinct regions, each as [left] core [right] |
    ids, numbers, output_at, output_ids = index.columns()
    begin, n_outputs = output_at[o] + a, len(o)
    in_stretches = ranges(begin, b - a)
    # a region's symbols are [left] core [right] already
    regions_flat = np.concatenate([np.zeros(0, np.int64), *distinct.texts])
    region_sizes = np.array([len(text) for text in distinct.texts], np.int64)
    region_ends = np.cumsum(region_sizes)
    in_region = np.ones(len(regions_flat), bool)
    in_region[region_ends - region_sizes] = in_region[region_ends - 1] = False
    lefts = np.concatenate((np.where(a > 0, ids[np.maximum(begin - 1, 0)], 0), regions_flat[region_ends - region_sizes]))
    rights = np.concatenate((np.where(output_at[o] + b < output_at[o + 1], ids[np.minimum(begin + b - a, len(ids) - 1)], 0),
                             regions_flat[region_ends - 1]))
    text, starts, sizes = _joined(np.concatenate((ids[in_stretches], regions_flat[in_region])),
                                  np.concatenate((b - a, region_sizes - 2)), lefts, rights)
    del regions_flat, in_region
    weight_of = np.concatenate((np.ones(n_outputs, np.int64), np.array(distinct.weights, np.int64)))
    # a distinct region with both neighbours edges is a whole document
    whole_of = np.concatenate((np.zeros(n_outputs, bool), (lefts == 0)[n_outputs:] & (rights == 0)[n_outputs:]))
    dense = _dense(text, len(sizes))
    piece_of = np.full(len(text), -1, np.int64)  # -1: a neighbour or a separator
    piece_of[ranges(starts, sizes)] = np.repeat(np.arange(len(sizes)), sizes)
    table = _PieceTable(
        piece_of, starts, sizes, weight_of, whole_of, n_outputs,
        output_id=output_ids[o], line_at=np.cumsum(b - a) - (b - a), line_numbers=numbers[in_stretches],
    )
    # the suffix array and the blocks in a thread (the kernel and NumPy's sorts do not hold
    # the GIL), while this one reads the outputs' lines for the snippets' texts and hashes
    # the stretches' lines for their fingerprints
    stop = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(_sorted_and_reported, dense, table, k, lambda: _stop_if(stop))
        try:
            read = output_lines(output_texts, np.unique(output_ids[o]).tolist())
            index.line_hashes(ids[in_stretches])  # every block's lines are some of these: its fingerprint's
            while not wait([future], timeout=0.25).done:
                check()
            sa, reported = future.result()
        except BaseException:  # a cancel or an error here stops the thread at its next batch
            stop.set()
            raise
    check()
    wanted = Wanted()
    parts: list[Snippets] = []
    for batch in _batches(reported[:, 2] - reported[:, 1] + 1):
        check()
        parts.append(_snippets(table, sa, text, distinct, reported[batch], fingerprints, wanted))
    snippets, new_of = Snippets.joined(parts).by_fingerprint()
    wanted.renumber(new_of)
    attach_texts(snippets, output_texts, read)
    return Found(snippets, wanted, regions, check)


class _Stopped(Exception):
    """The matching that started a thread stopped (cancelled, or failed) before it."""


def _stop_if(stop: threading.Event) -> None:
    if stop.is_set():
        raise _Stopped


def _sorted_and_reported(dense: np.ndarray, table: "_PieceTable", k: int,
                         check: Callable[[], None]) -> tuple[np.ndarray, np.ndarray]:
    """The suffix array of ``dense`` and the rows of :func:`_reported`."""
    sa, lcp = sorted_suffixes(dense)
    check()
    in_sa = table.piece_of[sa]
    in_outputs = np.concatenate(([0], np.cumsum((in_sa >= 0) & (in_sa < table.n_outputs))))
    in_corpus = np.concatenate(([0], np.cumsum(in_sa >= table.n_outputs)))
    del in_sa
    return sa, _reported(lcp, sa, dense, in_outputs, in_corpus, table, k, check)


def _dense(text: np.ndarray, pieces: int) -> np.ndarray:
    """``text`` renumbered for the suffix array, equal symbols to equal numbers, without
    sorting it: the 3 unique symbols of each of the ``pieces`` (below UNIQUE) first, in
    reverse so that the last separator, the text's last symbol, is the only 0; then the
    neighbours' hashes of lines no output holds (negative: :func:`~engine.clones.linekeys.unknown_symbol`),
    ranked among themselves; then the outputs' line ids (positive), as they are."""
    uniques = 3 * pieces
    out = np.empty(len(text), np.int64)
    low = text <= UNIQUE
    out[low] = uniques - 1 - (UNIQUE - text[low])
    hashed = (text < 0) & ~low
    values, ranks = np.unique(text[hashed], return_inverse=True)
    out[hashed] = uniques + ranks
    ids = text > 0
    out[ids] = uniques + len(values) + text[ids]
    return out


def _joined(cores: np.ndarray, sizes: np.ndarray, lefts: np.ndarray,
            rights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The text of the pieces, each as ``[left] core [right] separator`` (``cores``: the
    pieces' cores end to end, of ``sizes``), and where each core starts and its size. An
    edge (0) and every separator are symbols of their own, below UNIQUE: three per piece."""
    span = sizes + 3
    at = np.cumsum(span) - span  # each piece's left neighbour
    fresh = UNIQUE - 3 * np.arange(len(sizes), dtype=np.int64)
    text = np.empty(int(span.sum()), np.int64)
    text[at] = np.where(lefts != 0, lefts, fresh)
    text[at + sizes + 1] = np.where(rights != 0, rights, fresh - 1)
    text[at + sizes + 2] = fresh - 2
    text[ranges(at + 1, sizes)] = cores
    return text, at + 1, sizes


@dataclass
class _PieceTable:
    """Per text position, the piece it lies in (-1: a neighbour or a separator); per
    piece, where its core starts, its size, how many places it stands for and whether it
    is a whole document; per output stretch, its output and its lines' numbers."""
    piece_of: np.ndarray
    starts: np.ndarray
    sizes: np.ndarray
    weight_of: np.ndarray
    whole_of: np.ndarray
    n_outputs: int            # pieces 0..n_outputs-1 are output stretches, the rest distinct regions
    output_id: np.ndarray     # per output stretch: its output
    line_at: np.ndarray       # per output stretch: where its lines' numbers start in line_numbers
    line_numbers: np.ndarray  # the output line numbers of the stretches' lines, stretch after stretch


INTERVAL_BATCH = 1 << 20  # places examined at once: bounds the memory of :func:`_reported`


def _reported(lcp, sa, dense, in_outputs, in_corpus, table: _PieceTable, k: int,
              check: Callable[[], None]) -> np.ndarray:
    """The lcp-intervals ``(length, lb, rb)`` (rows) of the memorized blocks, in the order of
    :func:`intervals`: those with a place in the outputs and one in the corpus, and a
    *witness* place (:func:`find_blocks`, rule 10): its right neighbour differs from every
    other place's (``lcp`` on both sides at most ``length``), its left neighbour too (its
    symbol unique among the interval's), and it stands for one place or is a whole
    document. The intervals are examined a batch of places at a time (:func:`_witnessed`)."""
    found = interval_rows(lcp, k)
    check()
    lb, rb = found[:, 1], found[:, 2]
    rows = found[(in_outputs[rb + 1] != in_outputs[lb]) & (in_corpus[rb + 1] != in_corpus[lb])]
    kept = np.zeros(len(rows), bool)
    for batch in _batches(rows[:, 2] - rows[:, 1] + 1):
        check()
        kept[batch] = _witnessed(rows[batch], sa, lcp, dense, table)
    return rows[kept]


def _witnessed(rows: np.ndarray, sa, lcp, dense, table: _PieceTable) -> np.ndarray:
    """Whether each interval ``(length, lb, rb)`` of ``rows`` has a witness place
    (:func:`_reported`): the compiled kernel's answer, else every place of the intervals
    examined together in array operations."""
    answer = witnessed(rows, sa, lcp, dense, table.piece_of, table.whole_of, table.starts, table.sizes,
                       table.weight_of)
    if answer is not None:
        return answer
    length, lb, rb = rows[:, 0], rows[:, 1], rows[:, 2]
    w = rb - lb + 1
    owner = np.repeat(np.arange(len(rows)), w)
    starts = np.cumsum(w) - w
    at = ranges(lb, w)  # suffix array rows
    places, size = sa[at], length[owner]
    witness = (lcp[at] <= size) & (lcp[at + 1] <= size)
    before = np.where(places > 0, dense[np.maximum(places - 1, 0)], -1 - at)
    order = _lexsort((before, owner))
    same = (owner[order][1:] == owner[order][:-1]) & (before[order][1:] == before[order][:-1])
    shared = np.zeros(len(order), bool)
    shared[1:] |= same
    shared[:-1] |= same
    witness[order[shared]] = False
    piece = table.piece_of[places]
    # no place starts on a neighbour: that neighbour's line would then be in a window
    # the outputs and the corpus share, hence in the stretch or region itself
    assert (piece >= 0).all()
    # a place that stands for several regions shares both neighbours with its copies,
    # unless it is a whole document (each copy's edges are its own)
    whole = table.whole_of[piece] & (places == table.starts[piece]) & (table.sizes[piece] == size)
    witness &= (table.weight_of[piece] == 1) | whole
    return np.logical_or.reduceat(witness, starts) if len(starts) else np.zeros(0, bool)


@dataclass
class DistinctRegions:
    """The corpus regions with equal symbols (left neighbour, ids, right neighbour) taken
    once: ``texts[u]`` and how many regions have it, ``weights[u]``, and the first
    ``MAX_SAMPLES`` of them in corpus order, ``first[u]``."""
    texts: list[np.ndarray] = field(default_factory=list)
    weights: list[int] = field(default_factory=list)
    first: list[list[int]] = field(default_factory=list)
    seen_at: np.ndarray | None = None  # the windows the regions hold, where the filter noted them (repeats kept)
    _arrays: tuple[np.ndarray, np.ndarray] | None = None

    def first_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """``first`` end to end, and where each distinct region's list starts (its
        ``len(first) + 1`` offsets)."""
        if self._arrays is None:
            sizes = np.array([len(f) for f in self.first], np.int64)
            flat = np.fromiter(itertools.chain.from_iterable(self.first), np.int64, int(sizes.sum()))
            self._arrays = flat, np.concatenate(([0], np.cumsum(sizes)))
        return self._arrays


def _distinct_regions(regions: Callable[[], Iterable[Region]], check: Callable[[], None]) -> DistinctRegions:
    """The distinct regions: in array operations where the regions come column by column
    (:class:`~engine.clones.filter.RegionColumns`: their symbols alone where it has them),
    else region by region."""
    batches = symbol_batches(regions)
    found = _distinct_columns(batches(), check) if batches is not None else None
    return found if found is not None else _distinct_one_by_one(regions, check)


def _distinct_one_by_one(regions: Callable[[], Iterable[Region]], check: Callable[[], None]) -> DistinctRegions:
    found = DistinctRegions()
    seen: dict[bytes, int] = {}
    for g, region in enumerate(regions()):
        if g % 1000 == 0:
            check()
        text = np.array([region.left, *region.ids, region.right], np.int64)
        u = seen.setdefault(text.tobytes(), len(found.texts))
        if u == len(found.texts):
            found.texts.append(text)
            found.weights.append(0)
            found.first.append([])
        found.weights[u] += 1
        if len(found.first[u]) < MAX_SAMPLES:
            found.first[u].append(g)
    return found


HASH_BASES = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F)  # odd 64-bit multipliers: two independent hashes


def _distinct_columns(batches: Iterable[RegionSymbols], check: Callable[[], None]) -> DistinctRegions | None:
    """:func:`_distinct_one_by_one` in array operations, a batch at a time (memory: the
    distinct regions and one batch): each region's symbols (left neighbour, ids, right
    neighbour) hashed twice, the batch's regions grouped by both hashes and their size and
    each compared with its group's first, symbol by symbol, and each group's first with
    the distinct region of the same first hash from earlier batches (:func:`_merge_groups`);
    with them, the windows the batches' regions hold, where the filter noted them. None,
    for the slow way, if two regions with the same hashes differ."""
    found = DistinctRegions()
    seen: dict[int, int] = {}  # first hash -> distinct region
    offset = 0
    noted: list[np.ndarray] | None = []  # the windows each batch holds, while every batch has them
    for batch in batches:
        check()
        if noted is not None and batch.seen_at is None:
            noted = None
        elif noted is not None:
            noted.append(batch.seen_at)
        n = len(batch)
        if n == 0:
            continue
        sizes = np.diff(batch.bounds)
        span = sizes + 2
        at = np.cumsum(span) - span
        flat = np.empty(int(span.sum()), np.int64)
        flat[at], flat[at + span - 1] = batch.left, batch.right
        flat[ranges(at + 1, sizes)] = batch.ids
        h1, h2 = _hashes(flat, span, at)
        order = np.lexsort((np.arange(n), h2, h1, span))  # groups together, each in corpus order
        new = np.zeros(n, bool)
        new[0] = True
        for key in (span, h1, h2):
            new[1:] |= key[order][1:] != key[order][:-1]
        begins = np.flatnonzero(new)  # where each group starts in ``order``
        firsts = order[begins]
        group = np.empty(n, np.int64)
        group[order] = np.cumsum(new) - 1
        if not np.array_equal(flat, flat[ranges(at[firsts[group]], span)]):
            return None
        by_first = np.argsort(firsts)  # the groups in corpus order, as the slow way meets them
        first = firsts[by_first]
        if not _merge_groups(found, seen, flat, at[first], span[first], h1[first].tolist(),
                             np.diff(np.append(begins, n))[by_first], begins[by_first], order + offset):
            return None
        offset += n
    found.seen_at = None if noted is None else np.concatenate([np.zeros(0, np.int64), *noted])
    return found


def _merge_groups(found: DistinctRegions, seen: dict[int, int], flat: np.ndarray, at: np.ndarray, span: np.ndarray,
                  keys: list[int], counts: np.ndarray, begins: np.ndarray, members: np.ndarray) -> bool:
    """One batch's groups of equal regions (in corpus order: each one's symbols at ``at``
    in ``flat``, its ``span``, first hash, size, and where its regions, in corpus order,
    start in ``members``) added to ``found``: a group whose hash is new as a distinct
    region of its own, the others to the distinct region they equal. False, with
    ``found`` half done, if two groups of one hash differ (the caller falls back)."""
    if len(set(keys)) < len(keys):  # two groups of the batch share the first hash
        return False
    known = list(map(seen.get, keys))
    fresh = np.array([u is None for u in known], bool)
    base = len(found.texts)
    seen.update(zip((k for k, f in zip(keys, fresh.tolist()) if f), range(base, base + int(fresh.sum()))))
    # the new distinct regions: their symbols gathered at once, each a view of them
    a, s = at[fresh], span[fresh]
    gathered = flat[ranges(a, s)]
    ends = np.cumsum(s).tolist()
    found.texts += [gathered[e - n:e] for e, n in zip(ends, s.tolist())]
    found.weights += counts[fresh].tolist()
    listed = members.tolist()
    found.first += [listed[b:b + min(c, MAX_SAMPLES)]
                    for b, c in zip(begins[fresh].tolist(), counts[fresh].tolist())]
    for i in np.flatnonzero(~fresh).tolist():  # groups equal to a distinct region of an earlier batch
        u = known[i]
        if not np.array_equal(found.texts[u], flat[int(at[i]):int(at[i]) + int(span[i])]):
            return False
        found.weights[u] += int(counts[i])
        room = MAX_SAMPLES - len(found.first[u])
        if room > 0:
            found.first[u] += listed[int(begins[i]):int(begins[i]) + min(room, int(counts[i]))]
    return True


def _hashes(flat: np.ndarray, span: np.ndarray, at: np.ndarray) -> list[np.ndarray]:
    """Two 64-bit polynomial hashes of each run ``flat[at[r]:at[r] + span[r]]``."""
    pos = np.arange(len(flat)) - np.repeat(at, span)  # each symbol's place in its run
    symbols = flat.view(np.uint64)
    out = []
    with np.errstate(over="ignore"):
        for base in HASH_BASES:
            powers = np.cumprod(np.full(int(span.max()), base, np.uint64))  # base ** (1 + place), mod 2 ** 64
            out.append(np.add.reduceat(symbols * powers[pos], at))
    return out


def _batches(widths: np.ndarray) -> Iterable[slice]:
    """Consecutive slices of the intervals with about INTERVAL_BATCH places each (at least
    one interval each): bounds the memory of :func:`_reported` and :func:`_snippets`."""
    ends = np.cumsum(widths)
    first = 0
    while first < len(widths):
        last = max(int(np.searchsorted(ends, ends[first] - widths[first] + INTERVAL_BATCH, side="right")), first + 1)
        yield slice(first, last)
        first = last


def _lexsort(keys: tuple[np.ndarray, ...]) -> np.ndarray:
    """``np.lexsort(keys)`` (integer keys, the last the primary; ties in index order) as one
    stable argsort of the keys packed into an int64, where their ranges fit in 63 bits:
    about ten times faster on a matching's places."""
    packed, total = np.zeros(len(keys[0]), np.int64), 1
    for key in keys if len(keys[0]) else ():  # the least significant first
        low = int(key.min())
        total, step = total * (int(key.max()) - low + 1), total
        if total >= 1 << 63:
            return np.lexsort(keys)
        packed += (key - low) * step
    return np.argsort(packed, kind="stable")


def _snippets(table: _PieceTable, sa, text, distinct: "DistinctRegions", reported: np.ndarray,
              fingerprints, wanted: Wanted) -> Snippets:
    """The snippets of the blocks ``reported`` (rows ``(length, lb, rb)``: the places
    ``sa[lb..rb]``), in that order, every block's places in array operations: its output
    places sorted, its corpus places counted (a distinct region stands for ``weight``
    places), its first MAX_SAMPLES corpus places in corpus order sent to ``wanted``, its
    fingerprint from the lines at its first place."""
    length, lb, rb = reported[:, 0], reported[:, 1], reported[:, 2]
    width = rb - lb + 1
    count = len(length)
    owner = np.repeat(np.arange(count), width)
    places = sa[ranges(lb, width)]
    piece = table.piece_of[places]
    offsets = places - table.starts[piece]
    size = length[owner]
    # output places: (output id, first line, last line), sorted
    mine = piece < table.n_outputs
    out, q = piece[mine], offsets[mine]
    at = table.line_at[out] + q
    ids, first, last = table.output_id[out], table.line_numbers[at], table.line_numbers[at + size[mine] - 1]
    order = _lexsort((first, ids, owner[mine]))  # one first line in one output: one place, one last line
    extract = np.bincount(owner[mine], minlength=count)
    # corpus places: the distinct regions, each standing for its weight
    regions, q, held = piece[~mine] - table.n_outputs, offsets[~mine], owner[~mine]
    train = np.bincount(held, table.weight_of[regions + table.n_outputs], minlength=count).astype(np.int64)
    made = Snippets(fingerprints(text[ranges(sa[lb], length)], length), length.copy(), train, extract,
                    bounds_of(extract), ids[order], first[order], last[order])
    # each block's first MAX_SAMPLES corpus places in corpus order (region number, then
    # place). A distinct region lists its first copies in corpus order, so a place whose
    # first copy comes after MAX_SAMPLES other places' first copies adds none: those places
    # are left out before the copies are spread, which bounds the arrays by MAX_SAMPLES**2
    # a block
    flat, ptr = distinct.first_arrays()
    held, _, q, regions = _first_of_each(held, flat[ptr[regions]], q, regions)
    copies = ptr[regions + 1] - ptr[regions]
    g = flat[ranges(ptr[regions], copies)]
    held, g, q = _first_of_each(np.repeat(held, copies), g, np.repeat(q, copies))
    wanted.add(count, g, q + length[held] - 1, length[held], held)
    return made


def _first_of_each(held: np.ndarray, g: np.ndarray, q: np.ndarray, *more: np.ndarray) -> tuple[np.ndarray, ...]:
    """The rows ``(held, g, q, *more)`` sorted by block (``held``), then (g, q), and the
    first MAX_SAMPLES of each block kept."""
    order = _lexsort((q, g, held))
    sorted_held = held[order]
    new = np.ones(len(order), bool)
    new[1:] = sorted_held[1:] != sorted_held[:-1]
    rank = np.arange(len(order))
    keep = order[rank - np.maximum.accumulate(np.where(new, rank, 0)) < MAX_SAMPLES]
    return (held[keep], g[keep], q[keep], *(m[keep] for m in more))
