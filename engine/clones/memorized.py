"""From corpus regions to memorized spans under the ``lines`` rules, with their counts on
both sides (:func:`find_memorized`, whose docstring is the contract; Yang et al.,
seeds/003), and the pieces both rule sets share: the output stretches whose windows occur
in the corpus (:func:`output_stretches`), what a matching finds (:class:`Found`: the
snippets column by column, :class:`Snippets`, and the corpus places to read,
:class:`Wanted`) and a corpus place with its context (:func:`corpus_match`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import numpy as np

from engine.clones import automaton
from engine.clones.arrays import bounds_of, ranges
from engine.clones.filter import CONTEXT, Region, symbol_batches
from engine.clones.index import OutputIndex, covered, lookup, member, runs, window_hashes, window_hashes_of


@dataclass(slots=True)
class Match:
    doc: str
    start_line: int
    end_line: int
    context_start: int
    context: str


@dataclass(slots=True)
class Snippet:
    fingerprint: str
    len: int
    train: int = 0
    extract: int = 0
    text: str = ""
    outputs: list[tuple[int, int, int]] = field(default_factory=list)  # (output id, first line, last line)
    matches: list[Match] = field(default_factory=list)


@dataclass
class Snippets:
    """Snippets column by column, as a matching finds them: snippet i is
    ``fingerprint[i]``, ``len[i]`` kept lines, ``train[i]`` places in the corpus and
    ``extract[i]`` in the outputs, ``text[i]``; its output places are rows
    ``bounds[i]:bounds[i+1]`` of ``output_id``, ``first`` and ``last`` (its first and last
    line there). A scan stores them as they are, with no object per snippet or place;
    :meth:`objects` makes a :class:`Snippet` of each."""
    fingerprint: list[str]
    len: np.ndarray
    train: np.ndarray
    extract: np.ndarray
    bounds: np.ndarray
    output_id: np.ndarray
    first: np.ndarray
    last: np.ndarray
    text: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.fingerprint)

    @classmethod
    def of(cls, snippets: list[Snippet]) -> "Snippets":
        """The columns of ``snippets``, in their order, each one's places in theirs."""
        places = np.array([place for s in snippets for place in s.outputs], np.int64).reshape(-1, 3)
        column = lambda name: np.array([getattr(s, name) for s in snippets], np.int64)  # noqa: E731
        return cls([s.fingerprint for s in snippets], column("len"), column("train"), column("extract"),
                   bounds_of(np.array([len(s.outputs) for s in snippets], np.int64)), places[:, 0], places[:, 1],
                   places[:, 2], [s.text for s in snippets])

    @classmethod
    def joined(cls, parts: list["Snippets"]) -> "Snippets":
        """The snippets of ``parts``, one part after the other."""
        if not parts:
            return cls.of([])
        joined = {name: np.concatenate([getattr(part, name) for part in parts])
                  for name in ("len", "train", "extract", "output_id", "first", "last")}
        counts = np.concatenate([np.diff(part.bounds) for part in parts])
        return cls([fp for part in parts for fp in part.fingerprint], bounds=bounds_of(counts),
                   text=[text for part in parts for text in part.text], **joined)

    def by_fingerprint(self) -> tuple["Snippets", np.ndarray]:
        """The snippets sorted by fingerprint (without texts: they are made after), and
        the new number of each. Snippets of one fingerprint become one: Simian lists one
        entry per fingerprint (rule 9, tests/data/simian/rules/README.md), and its
        fingerprint, a hash of line hashes, is shared by blocks whose lines' hashes
        collide. The entry then has the places of all of them (the output places sorted),
        their counts summed and the first one's length."""
        order = np.array(sorted(range(len(self)), key=self.fingerprint.__getitem__), np.int64)
        fingerprints = [self.fingerprint[i] for i in order.tolist()]
        counts = np.diff(self.bounds)[order]
        rows = ranges(self.bounds[:-1][order], counts)
        output_id, first, last = self.output_id[rows], self.first[rows], self.last[rows]
        new = np.ones(len(order), bool)
        new[1:] = [a != b for a, b in zip(fingerprints[1:], fingerprints[:-1])]
        group = np.cumsum(new) - 1
        new_of = np.empty(len(self), np.int64)
        new_of[order] = group
        if new.all():
            return Snippets(fingerprints, self.len[order], self.train[order], self.extract[order], bounds_of(counts),
                            output_id, first, last), new_of
        starts = np.flatnonzero(new)
        place_group = np.repeat(group, counts)
        shared = (np.bincount(group) > 1)[place_group]  # the places of merged snippets, sorted anew
        at = np.lexsort((np.arange(len(rows)), np.where(shared, last, 0), np.where(shared, first, 0),
                         np.where(shared, output_id, 0), place_group))
        return Snippets([fingerprints[i] for i in starts.tolist()], self.len[order][starts],
                        np.add.reduceat(self.train[order], starts), np.add.reduceat(self.extract[order], starts),
                        bounds_of(np.add.reduceat(counts, starts)), output_id[at], first[at], last[at]), new_of

    def rows(self) -> Iterator[tuple[str, int, int, int, str]]:
        """``(fingerprint, len, train, extract, text)`` of each snippet ("" before the texts
        are made: :func:`attach_texts`)."""
        return zip(self.fingerprint, self.len.tolist(), self.train.tolist(), self.extract.tolist(),
                   self.text or [""] * len(self))

    def place_rows(self) -> Iterator[tuple[str, int, int, int]]:
        """``(fingerprint, output id, first line, last line)`` of each output place."""
        owners = np.array(self.fingerprint, object).repeat(np.diff(self.bounds)).tolist()
        return zip(owners, self.output_id.tolist(), self.first.tolist(), self.last.tolist())

    def memorized_outputs(self) -> int:
        """How many outputs hold a snippet."""
        return len(np.unique(self.output_id))

    def objects(self) -> list[Snippet]:
        """A :class:`Snippet` of each, with its output places."""
        places = list(zip(self.output_id.tolist(), self.first.tolist(), self.last.tolist()))
        bounds = self.bounds.tolist()
        return [Snippet(fp, n, train, extract, text, places[a:b])
                for (fp, n, train, extract, text), a, b in zip(self.rows(), bounds[:-1], bounds[1:])]


class Wanted:
    """Corpus places to read, column by column: place i lies in region ``region[i]`` (its
    number in corpus order), ends at the region's position ``last[i]``, holds ``size[i]``
    kept lines and is a place of snippet ``owner[i]`` (numbered in the order the snippets
    were added in, until :meth:`renumber`). A matching adds them a batch at a time, with
    no Python work per place."""

    def __init__(self) -> None:
        self.snippets = 0  # how many were added
        self._parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, snippets: int, region: np.ndarray, last: np.ndarray, size: np.ndarray,
            owner: np.ndarray) -> None:
        """``snippets`` more snippets, and places of theirs (``owner`` numbers them from 0)."""
        if len(region):
            self._parts.append((np.asarray(region, np.int64), np.asarray(last, np.int64),
                                np.asarray(size, np.int64), np.asarray(owner, np.int64) + self.snippets))
        self.snippets += snippets

    def renumber(self, new_of: np.ndarray) -> None:
        """Snippet i is now ``new_of[i]``."""
        self._parts = [(region, last, size, new_of[owner]) for region, last, size, owner in self._parts]

    def by_region(self) -> tuple[list[int], list[int], list[int], list[int], list[int]]:
        """The places in corpus order (region, then position, then the order they were
        added in): the regions, where each one's places start in the other columns (and
        where the last one's end), their positions, sizes and snippets."""
        if not self._parts:
            return [], [0], [], [], []
        region, last, size, owner = (np.concatenate(column) for column in zip(*self._parts))
        order = np.lexsort((np.arange(len(region)), last, region))
        region = region[order]
        starts = np.flatnonzero(np.concatenate(([True], region[1:] != region[:-1])))
        return (region[starts].tolist(), [*starts.tolist(), len(region)], last[order].tolist(),
                size[order].tolist(), owner[order].tolist())


@dataclass
class Found:
    """What a matching finds: the snippets (:class:`Snippets`, sorted by fingerprint), and
    the corpus places each keeps (the first 50 in corpus order), which one more pass over
    the regions reads with their context. :meth:`matches` streams them, so a scan stores
    them as they come (the contexts of 100,000 places are 100 MB); :meth:`attach` puts
    them on the snippets as objects."""
    snippets: Snippets
    wanted: Wanted
    regions: Callable[[], Iterable[Region]]
    check: Callable[[], None] = lambda: None

    def matches(self) -> Iterator[tuple[int, Match]]:
        """``(snippet, place)`` in corpus order (so each snippet's places in its own order):
        the snippet by its number in :attr:`snippets`; the first MAX_SAMPLES of each (a
        snippet made of several blocks has theirs, :meth:`Snippets.by_fingerprint`)."""
        wanted, bounds, last, size, owner = self.wanted.by_region()
        kept = [0] * len(self.snippets)
        for j, region in enumerate(self._wanted_regions(wanted)):
            context = region.context.split("\n")  # once per region, for all its places
            for i in range(bounds[j], bounds[j + 1]):
                snippet = owner[i]
                if kept[snippet] < automaton.MAX_SAMPLES:
                    kept[snippet] += 1
                    yield snippet, corpus_match(region, last[i], size[i], context)

    def _wanted_regions(self, wanted: list[int]) -> Iterator[Region]:
        """The regions numbered ``wanted`` (ascending), in corpus order: where the regions
        come batch by batch, only those are made into Region objects."""
        if not wanted:
            return
        batches = getattr(self.regions, "batches", None)
        if batches is None:
            keep = set(wanted)
            for g, region in enumerate(self.regions()):
                if g > wanted[-1]:
                    return
                if g % 1000 == 0:
                    self.check()
                if g in keep:
                    yield region
            return
        first, i = 0, 0
        for batch in batches():
            self.check()
            end = first + len(batch)
            while i < len(wanted) and wanted[i] < end:
                yield batch.region(wanted[i] - first)
                i += 1
            if i == len(wanted):
                return
            first = end

    def attach(self) -> list[Snippet]:
        """The snippets as objects, each with its places (``matches``)."""
        snippets = self.snippets.objects()
        for i, match in self.matches():
            snippets[i].matches.append(match)
        self.wanted = Wanted()
        return snippets


BATCH_LINES = 1 << 20  # region lines hashed at once in output_stretches
GROUP_LINES = 250_000  # output lines per automaton: bounds the matching's memory
GROUP_LINES_COMPILED = 1 << 20  # the same in the kernel: at most about 150 bytes a line, 24 a matched corpus line


def _groups(stretches: list[tuple[int, int, int]], size: int) -> list[list[tuple[int, int, int]]]:
    groups: list[list[tuple[int, int, int]]] = [[]]
    lines = 0
    for stretch in stretches:
        if lines >= size:
            groups.append([])
            lines = 0
        groups[-1].append(stretch)
        lines += stretch[2] - stretch[1]
    return groups


def output_stretches(index: OutputIndex, corpus_ids: Iterable[np.ndarray],
                     check: Callable[[], None], seen_at: np.ndarray | None = None) -> list[tuple[int, int, int]]:
    """``(output, first, end)``: the runs of an output's kept lines covered by K-line
    windows that occur in the corpus (``corpus_ids``: the ids of each region, or of each
    distinct region; or ``seen_at``, where the filter noted them: their positions in the
    window set, repeats allowed): only there can a memorized span lie. ``output`` is the
    output's position in the index; memory is sized by the outputs."""
    return list(zip(*(column.tolist() for column in stretch_columns(index, corpus_ids, check, seen_at))))


def stretch_columns(index: OutputIndex, corpus_ids: Iterable[np.ndarray], check: Callable[[], None],
                    seen_at: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`output_stretches` as three arrays: the outputs, the firsts and the ends."""
    k = index.k
    windows = index.window_set()
    seen = np.zeros(len(windows), bool)
    if seen_at is not None:
        seen[seen_at] = True
        corpus_ids = ()
    batch: list[np.ndarray] = []

    def mark() -> None:
        at, found = lookup(window_hashes_of(batch, k)[0], windows)
        seen[at[found]] = True
        batch.clear()

    size = 0
    for g, ids in enumerate(corpus_ids):
        if g % 1000 == 0:
            check()
        if len(ids) >= k:
            batch.append(np.asarray(ids, np.int64))
            size += len(ids)
            if size >= BATCH_LINES:
                mark()
                size = 0
    if batch:
        mark()
    whole = [ids if len(ids) >= k else ids[:0] for _, ids, _ in index.outputs]
    _, owner, start = index.windows()  # an output shorter than K has none
    hits = seen[index.window_positions()]
    # the outputs end to end, each followed by one gap position that no window covers
    offsets = np.cumsum([0] + [len(ids) + 1 for ids in whole])
    mask = covered(offsets[owner[hits]] + start[hits], k, int(offsets[-1]))
    ends = np.array(runs(mask), np.int64).reshape(-1, 2)
    o = np.searchsorted(offsets, ends[:, 0], side="right") - 1
    return o, ends[:, 0] - offsets[o], ends[:, 1] - offsets[o]


def find_memorized(
    index: OutputIndex, regions: Callable[[], Iterable[Region]], output_texts: OutputTexts,
    fingerprints: Callable[[np.ndarray, np.ndarray], list[str]], group_lines: int | None = None,
    check: Callable[[], None] | None = None,
) -> Found:
    """Every memorized snippet. ``regions()`` yields the corpus regions in corpus order,
    the same each call (it is read once per group of outputs, once before and once more
    for the corpus places, :class:`Found`); where it has ``batches``
    (:class:`~engine.clones.filter.RegionColumns`) they are read column by column, and
    where it has ``symbols``, the matching reads those alone.

    - A run of K or more consecutive kept lines of an output is *memorized* if the same
      keys occur, consecutively, in one corpus document. It is *maximal* if it cannot
      grow by the kept line before it or after it and stay memorized. Spans may overlap.
    - A snippet per fingerprint (:class:`Snippets`): ``train``: corpus positions where the span's
      keys occur (overlaps count); ``extract``: output positions where they form a
      maximal memorized span; ``len``: number of kept lines. Up to 50 corpus locations
      are kept per fingerprint, the first in corpus order, each with 3 lines of context
      on either side.
    """
    k = index.k
    check = check or (lambda: None)
    use_kernel = automaton.compiled
    if group_lines is None:
        group_lines = GROUP_LINES_COMPILED if use_kernel else GROUP_LINES
    stretches = _stretches(index, regions, check)
    # 2. per group of outputs: an automaton over its stretches, the regions through it
    ids, numbers, output_at, output_ids = index.columns()
    made: dict[str, int] = {}  # fingerprint -> snippet, numbered in the order they are made
    lens: list[int] = []
    trains: list[np.ndarray] = []
    # by group: the new snippets' corpus places (region, position of the last line, lines,
    # snippet), and the spans' places in the outputs (snippet, output id, first line, last line)
    corpus: list[tuple[np.ndarray, ...]] = []
    places: list[tuple[np.ndarray, ...]] = []
    groups = _groups(stretches, group_lines)
    for group in groups:
        parts = [index.outputs[o][1][a:b] for o, a, b in group]
        if use_kernel:
            spans, counts = _compiled_spans(parts, regions, k, check)
        else:
            spans, counts = _python_spans(parts, regions, k, check, select=len(groups) > 1)
        # 3. maximal spans, grouped by fingerprint (a state and its E are one string): each
        # state's first span names it, in the order the spans come
        stretch, end, size, state = spans.T
        table = np.array(group, np.int64).reshape(-1, 3)
        o = table[stretch, 0]
        at = output_at[o] + table[stretch, 1] + end  # each span's last line in the index's columns
        states, firsts = np.unique(state, return_index=True)
        by_first = np.argsort(firsts)
        snippet_of = [0] * len(states)
        heads = firsts[by_first]
        fresh: list[int] = []  # the states that make new snippets
        lines = size[heads]
        named = fingerprints(ids[ranges(at[heads] - lines + 1, lines)], lines)
        for slot, n, st, fp in zip(by_first.tolist(), lines.tolist(), state[heads].tolist(), named):
            u = snippet_of[slot] = made.setdefault(fp, len(made))
            if u == len(lens):
                lens.append(n)
                fresh.append(st)
        first_new = len(lens) - len(fresh)
        train, samples, g, q = _counted(counts, fresh, lens[first_new:])
        trains.append(train)
        corpus.append((g, q, np.repeat(np.array(lens[first_new:], np.int64), samples),
                       np.repeat(np.arange(first_new, len(lens)), samples)))
        places.append((np.array(snippet_of, np.int64)[np.searchsorted(states, state)], output_ids[o],
                       numbers[at - size + 1], numbers[at]))
        del spans, counts
    # 4. every snippet's output places in the order its spans came; the texts from the
    # outputs; the kept corpus locations are read with their context by Found
    owners, place_output, place_first, place_last = (np.concatenate(column) for column in zip(*places))
    order = np.argsort(owners, kind="stable")
    extract = np.bincount(owners, minlength=len(made)).astype(np.int64)
    found, new_of = Snippets(list(made), np.array(lens, np.int64), np.concatenate(trains), extract,
                             bounds_of(extract), place_output[order], place_first[order],
                             place_last[order]).by_fingerprint()
    attach_texts(found, output_texts)
    wanted = Wanted()
    wanted.add(len(found), *(np.concatenate(column) for column in zip(*corpus)))
    wanted.renumber(new_of)
    return Found(found, wanted, regions, check)


def _stretches(index: OutputIndex, regions: Callable[[], Iterable[Region]],
               check: Callable[[], None]) -> list[tuple[int, int, int]]:
    """:func:`output_stretches` from the windows the filter noted, where every batch has
    them, else from the regions' ids."""
    batches = symbol_batches(regions)
    if batches is not None:
        noted = []
        for batch in batches():
            check()
            if batch.seen_at is None:  # a shard written before the filter noted them
                break
            noted.append(batch.seen_at)
        else:
            return output_stretches(index, (), check, np.concatenate([np.zeros(0, np.int64), *noted]))
    return output_stretches(index, (region.ids for region in regions()), check)


CHUNK_REGIONS = 4096  # regions handed to the kernel at once, where they come one by one


def _region_chunks(regions: Callable[[], Iterable[Region]],
                   check: Callable[[], None]) -> Iterator[tuple[np.ndarray, np.ndarray, int]]:
    """``(ids, bounds, first)``: the regions in corpus order, column by column: region
    ``first + r`` holds ``ids[bounds[r]:bounds[r+1]]``."""
    batches = symbol_batches(regions)
    first = 0
    if batches is not None:
        for batch in batches():
            check()
            yield batch.ids, batch.bounds, first
            first += len(batch)
        return
    chunk: list[list[int]] = []
    for region in regions():
        chunk.append(region.ids)
        if len(chunk) == CHUNK_REGIONS:
            check()
            yield _columns(chunk), np.cumsum([0] + [len(ids) for ids in chunk]), first
            first += len(chunk)
            chunk = []
    if chunk:
        yield _columns(chunk), np.cumsum([0] + [len(ids) for ids in chunk]), first


def _columns(chunk: list[list[int]]) -> np.ndarray:
    return np.fromiter((i for ids in chunk for i in ids), np.int64)


def _counted(counts: automaton.Counts, states: list[int],
             sizes: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(train, samples, region, position)`` of spans ``(state, size)``: each one's train
    count and number of samples, and the samples of all, span after span; from the
    kernel's counts at once (:meth:`~engine.clones.automaton.KernelCounts.many`), else one
    by one."""
    many = getattr(counts, "many", None)
    if many is not None:
        return many(states)
    found = [counts(state, size) for state, size in zip(states, sizes)]
    refs = np.array([ref for _, samples in found for ref in samples], np.int64).reshape(-1, 2)
    return (np.array([train for train, _ in found], np.int64), np.array([len(s) for _, s in found], np.int64),
            refs[:, 0], refs[:, 1])


def _compiled_spans(parts: list[np.ndarray], regions: Callable[[], Iterable[Region]], k: int,
                    check: Callable[[], None]) -> tuple[np.ndarray, automaton.Counts]:
    """The group's maximal spans (rows ``(stretch, position, size, state)``) and their
    counts, every region fed through the kernel."""
    match = automaton.CompiledMatch(parts, k)
    for ids, bounds, first in _region_chunks(regions, check):
        match.feed(ids, bounds, first)
    return match.span_rows()


def _python_spans(parts: list[np.ndarray], regions: Callable[[], Iterable[Region]], k: int,
                  check: Callable[[], None], select: bool) -> tuple[np.ndarray, automaton.Counts]:
    """The same in Python; with ``select``, only the regions that share a window with the
    group are fed."""
    sam = automaton.SuffixAutomaton()
    states = [sam.add(part.tolist()) for part in parts]
    mine = np.unique(np.concatenate([window_hashes(part, k) for part in parts])) if select else None
    matcher = automaton.Matcher(sam, k)
    for g, region in enumerate(regions()):
        if g % 1000 == 0:
            check()
        if mine is None or member(window_hashes(region.ids, k), mine).any():
            matcher.feed(g, region.ids)
    done = automaton.Finished(matcher)
    spans = np.array(automaton.maximal_spans(done, states, k), np.int64).reshape(-1, 4)
    return spans, lambda state, size: (done.train(state, size), done.samples(state, size))


OutputTexts = Callable[[list[int]], Iterable[tuple[int, str]]]
"""Given output ids in ascending order, ``(id, text)`` of each, in that order."""


READ_AHEAD_CHARS = 64_000_000  # the most output text :func:`output_lines` holds for a matching


def output_lines(output_texts: OutputTexts, ids: list[int], most: int = READ_AHEAD_CHARS) -> dict[int, list[str]]:
    """The lines of outputs ``ids`` (ascending; ``\\r`` dropped) by id, read in id order
    until ``most`` characters are held: a matching reads them ahead, while the suffix
    array is sorted without the GIL."""
    found: dict[int, list[str]] = {}
    held = 0
    for output_id, text in output_texts(ids):
        found[output_id] = _lines(text)
        held += len(text)
        if held >= most:
            break
    return found


def _lines(text: str) -> list[str]:
    lines = text.split("\n")
    return [line.removesuffix("\r") for line in lines] if "\r" in text else lines


def attach_texts(snippets: Snippets, output_texts: OutputTexts, read: dict[int, list[str]] | None = None) -> None:
    """Each snippet's text: its lines in its first output place (``\\r`` dropped), every
    output read once, in id order (``read``: the lines of those already read)."""
    read = read or {}
    at = snippets.bounds[:-1]
    if (np.diff(snippets.bounds) < 1).any():
        raise ValueError("a snippet without an output place has no text")
    ids, los, his = (column[at].tolist() for column in (snippets.output_id, snippets.first, snippets.last))
    texts = [""] * len(ids)
    rest: dict[int, list[int]] = {}  # the snippets of outputs not read yet
    for i, (output_id, lo, hi) in enumerate(zip(ids, los, his)):
        lines = read.get(output_id)
        if lines is None:
            rest.setdefault(output_id, []).append(i)
        else:
            texts[i] = "\n".join(lines[lo - 1:hi])
    for output_id, text in output_texts(sorted(rest)):
        lines = _lines(text)
        for i in rest[output_id]:
            texts[i] = "\n".join(lines[los[i] - 1:his[i]])
    snippets.text = texts


def corpus_match(region: Region, q: int, size: int, context: list[str] | None = None) -> Match:
    """The corpus location of ``size`` kept lines of a region ending at its position
    ``q``, with up to CONTEXT lines of context on either side (``\r`` at a line's end
    dropped). ``context``: the region's context split into lines, where the caller has it."""
    start, end = region.lines[q - size + 1], region.lines[q]
    if context is None:
        context = region.context.split("\n")
    lo = max(start - CONTEXT, region.context_start)
    hi = min(end + CONTEXT, region.context_start + len(context) - 1)
    # one "\r" off each line's end: inside the text "\r\n" becomes "\n", then the last line's
    text = "\n".join(context[lo - region.context_start:hi - region.context_start + 1])
    return Match(region.doc, start, end, lo, text.replace("\r\n", "\n").removesuffix("\r"))
