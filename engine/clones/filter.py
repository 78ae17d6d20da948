"""One pass over corpus documents, keeping only the regions that may hold memorized spans
(:func:`filter_documents`, :func:`batch_regions`), so the exact matching later
(:mod:`engine.clones.memorized`, :mod:`engine.clones.blocks`) sees only regions. Regions
are found, kept and written column by column (:class:`RegionBatch`; one ``.npz`` per
shard, :func:`write_regions`), with no Python work per line and little per region.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from engine.clones.index import covered, runs, window_hits_at
from engine.clones.linekeys import LineTable
from engine.fsutil import atomic_path

CONTEXT = 3  # lines of context kept on each side of a corpus match


@dataclass
class Region:
    doc: str                 # corpus document id
    ids: list[int]           # vocabulary ids of the region's kept lines
    lines: list[int]         # their 1-based line numbers in the document
    context_start: int       # line number of the first context line
    context: str             # the document's lines from lines[0]-3 to lines[-1]+3, joined
    left: int = 0            # the kept line before it and after it (Simian rules only): a
    right: int = 0           # vocabulary id, linekeys.unknown_symbol of its key, 0 at the document's edge


@dataclass
class RegionBatch:
    """Regions column by column: region r holds ``ids[bounds[r]:bounds[r+1]]`` (and the
    same slice of ``lines``) of document ``docs[doc[r]]``, and the raw bytes
    ``context[context_bounds[r]:context_bounds[r+1]]``, lines ``context_start[r]``
    onwards; ``seen_at``: the positions in the outputs' window set of the windows the
    batch's regions hold (None in a shard written before they were noted)."""
    docs: list[str]
    doc: np.ndarray
    bounds: np.ndarray
    ids: np.ndarray
    lines: np.ndarray
    context_start: np.ndarray
    context_bounds: np.ndarray
    context: bytes
    left: np.ndarray
    right: np.ndarray
    seen_at: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.doc)

    def regions(self) -> Iterator[Region]:
        b, cb = self.bounds.tolist(), self.context_bounds.tolist()
        for r, (d, start, left, right) in enumerate(zip(self.doc.tolist(), self.context_start.tolist(),
                                                        self.left.tolist(), self.right.tolist())):
            yield Region(self.docs[d], self.ids[b[r]:b[r + 1]].tolist(), self.lines[b[r]:b[r + 1]].tolist(),
                         start, self.context[cb[r]:cb[r + 1]].decode("utf-8"), left, right)

    def region(self, r: int) -> Region:
        """Region ``r`` alone, as :meth:`regions` gives it."""
        a, b = int(self.bounds[r]), int(self.bounds[r + 1])
        ca, cb = int(self.context_bounds[r]), int(self.context_bounds[r + 1])
        return Region(self.docs[int(self.doc[r])], self.ids[a:b].tolist(), self.lines[a:b].tolist(),
                      int(self.context_start[r]), self.context[ca:cb].decode("utf-8"), int(self.left[r]),
                      int(self.right[r]))


@dataclass
class RegionSymbols:
    """The symbols of a batch's regions alone, what their distinct ones are made of
    (:func:`~engine.clones.blocks.find_blocks`): region r is ``left[r]``,
    ``ids[bounds[r]:bounds[r+1]]``, ``right[r]``; ``seen_at`` as :class:`RegionBatch`'s.
    A :class:`RegionBatch` serves as one too."""
    bounds: np.ndarray
    ids: np.ndarray
    left: np.ndarray
    right: np.ndarray
    seen_at: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.bounds) - 1


@dataclass
class RegionColumns:
    """Regions in corpus order as the matching reads them: called, one by one (as every
    ``regions()`` the matching takes); :attr:`batches` gives them batch by batch, column by
    column, for the array work that needs no Region objects (every call, the same), and
    :attr:`symbols`, where given, the same batches' symbols alone (read without the
    documents' names and contexts, the bulk of a regions file)."""
    batches: Callable[[], Iterable[RegionBatch]]
    symbols: Callable[[], Iterable[RegionSymbols]] | None = None

    def __call__(self) -> Iterator[Region]:
        for batch in self.batches():
            yield from batch.regions()


def symbol_batches(regions: Callable[[], Iterable[Region]]) -> Callable[[], Iterable[RegionSymbols]] | None:
    """How to read ``regions`` batch by batch for their symbols alone: a
    :class:`RegionColumns`' symbols where it has them, else its batches; None for regions
    that come one by one."""
    return getattr(regions, "symbols", None) or getattr(regions, "batches", None)


def concat_batches(batches: list[RegionBatch]) -> RegionBatch:
    """One batch holding the regions of several, in order."""
    docs: list[str] = []
    parts: dict[str, list] = {name: [] for name in ("doc", "bounds", "ids", "lines", "context_start", "context_bounds",
                                                    "left", "right")}
    ends = [0, 0]
    for batch in batches:
        parts["doc"].append(batch.doc + len(docs))
        parts["bounds"].append(batch.bounds[1:] + ends[0])
        parts["context_bounds"].append(batch.context_bounds[1:] + ends[1])
        for name in ("ids", "lines", "context_start", "left", "right"):
            parts[name].append(getattr(batch, name))
        docs.extend(batch.docs)
        ends = [ends[0] + len(batch.ids), ends[1] + len(batch.context)]
    zero = np.zeros(1, np.int64)
    joined = {name: np.concatenate(values or [np.zeros(0, np.int64)]).astype(np.int64) for name, values in parts.items()}
    joined["bounds"] = np.concatenate([zero, joined["bounds"]])
    joined["context_bounds"] = np.concatenate([zero, joined["context_bounds"]])
    seen = [b.seen_at for b in batches]
    seen_at = None if any(x is None for x in seen) else np.unique(np.concatenate([np.zeros(0, np.int64), *seen]))
    return RegionBatch(docs, context=b"".join(b.context for b in batches), seen_at=seen_at, **joined)


@dataclass
class FilterStats:
    docs: int = 0
    skipped: int = 0   # not UTF-8
    bytes: int = 0
    regions: int = 0


BATCH_BYTES = 1 << 20  # documents are matched against the windows this many bytes at a time
_BREAK = np.zeros(1, np.int64)  # between two documents: an unknown line, which no window spans


def batch_regions(batch: list[tuple[str, bytes, np.ndarray, np.ndarray | None, np.ndarray | None]],
                  windows: np.ndarray, k: int, simian: bool = False) -> RegionBatch | None:
    """The regions of a batch of documents ``(id, bytes, vocabulary id of each line, the
    1-based line number of each or None for 1, 2, ..., the offset of each line's first
    byte or None)``, in document order; one set of array operations for the whole batch.
    With ``simian``, each region also gets its neighbours (:class:`Region`)."""
    parts = [part for _, _, ids, _, _ in batch for part in (ids, _BREAK)]
    offsets = np.cumsum([0] + [len(ids) + 1 for _, _, ids, _, _ in batch])
    ids = np.concatenate(parts)
    kept_at = np.flatnonzero(ids != -1)
    kept = ids[kept_at]
    hits, hit_at = window_hits_at(kept, k, windows)
    if len(hits) == 0:
        return None
    seen_at = np.unique(hit_at)  # for the matching (engine.clones.memorized.output_stretches)
    mask = covered(hits, k, len(kept))
    found = np.array(runs(mask), np.int64).reshape(-1, 2)
    at = kept_at[mask]                                   # positions of the regions' lines
    doc_of_line = np.searchsorted(offsets, at, side="right") - 1
    lines = at - offsets[doc_of_line] + 1
    n_lines = np.diff(offsets) - 1  # of each document, in \n-lines as the regions' numbers
    if any(numbers is not None for _, _, _, numbers, _ in batch):  # a lone \r split a line (Simian rules)
        lines = np.array([n if (numbers := batch[d][3]) is None else int(numbers[n - 1])
                          for d, n in zip(doc_of_line.tolist(), lines.tolist())], np.int64)
        for d, (_, _, _, numbers, _) in enumerate(batch):
            if numbers is not None:  # the last kept line's number: the count of \n-lines
                n_lines[d] = numbers[-1]
    bounds = np.concatenate(([0], np.cumsum(found[:, 1] - found[:, 0])))
    first_line, last_line = lines[bounds[:-1]], lines[bounds[1:] - 1]
    region_doc = doc_of_line[bounds[:-1]]
    context_start = np.maximum(first_line - CONTEXT, 1)
    context_end = np.minimum(last_line + CONTEXT, n_lines[region_doc])
    begins, ends = _context_bytes(batch, region_doc, context_start, context_end)
    docs, local, context = [], {}, []
    for d, begin, end in zip(region_doc.tolist(), begins.tolist(), ends.tolist()):
        if d not in local:
            local[d] = len(docs)
            # a file name that is not UTF-8 (surrogate escapes) is kept readable, as \udcXX
            docs.append(batch[d][0].encode("utf-8", "backslashreplace").decode("utf-8"))
        context.append(batch[d][1][begin:end])
    sizes = np.fromiter(map(len, context), np.int64, len(context))
    left = right = np.zeros(len(found), np.int64)
    if simian:
        left, right = _neighbours(offsets, kept_at, kept, found)
    return RegionBatch(
        docs=docs, doc=np.array([local[d] for d in region_doc.tolist()], np.int64), bounds=bounds,
        ids=kept[mask], lines=lines, context_start=context_start,
        context_bounds=np.concatenate(([0], np.cumsum(sizes))), context=b"".join(context), left=left, right=right,
        seen_at=seen_at,
    )


def _context_bytes(batch, region_doc, first, last) -> tuple[np.ndarray, np.ndarray]:
    """The byte range of lines ``first..last`` (1-based, ``\\n``-lines) of each region's
    document, its last newline left out: from the line starts the kernel gives where lines
    are ``\\n``-lines, else from the document's newlines."""
    begins, ends = np.zeros(len(first), np.int64), np.zeros(len(first), np.int64)
    by_doc = np.flatnonzero(np.diff(region_doc, prepend=-1)).tolist() + [len(region_doc)]
    for a, b in zip(by_doc[:-1], by_doc[1:]):
        _, data, _, numbers, starts = batch[int(region_doc[a])]
        if starts is None or numbers is not None:
            starts = np.concatenate(([0], np.flatnonzero(np.frombuffer(data, np.uint8) == 10) + 1))
        bound = np.append(starts, len(data) + 1)  # a line ends a byte before the next starts
        begins[a:b] = bound[first[a:b] - 1]
        ends[a:b] = bound[last[a:b]] - 1
    return begins, ends


def _neighbours(offsets, kept_at, kept, found) -> tuple[np.ndarray, np.ndarray]:
    """The kept line before and after each region (``found``: kept positions [start,
    end)): its id or unknown symbol (:meth:`~engine.clones.linekeys.LineTable.simian_ids`),
    or 0 at the document's edge."""
    if len(found) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    a, b = found[:, 0], found[:, 1]
    doc = np.searchsorted(offsets, kept_at[a], side="right") - 1
    before = np.maximum(a - 1, 0)
    after = np.minimum(b, len(kept) - 1)
    # the line before lies in the document; the one after is not its break (_BREAK)
    has_left = (a > 0) & (kept_at[before] >= offsets[doc])
    has_right = (b < len(kept)) & (kept_at[after] < offsets[doc + 1] - 1)
    return np.where(has_left, kept[before], 0), np.where(has_right, kept[after], 0)


def filter_documents(
    documents: Iterable, table: LineTable, windows: np.ndarray, k: int, case_sensitive: bool,
    stats: FilterStats, check: Callable[[], None] | None = None, rules: str = "lines",
) -> Iterator[RegionBatch]:
    """Regions of every document, in order, a batch at a time; counts documents, bytes
    and skipped ones.

    Per document, one walk over the raw bytes (:class:`~engine.clones.linekeys.LineTable`,
    compiled) cuts lines, makes their keys under ``rules`` and looks every key up in the
    outputs' vocabulary. A kept line whose key is in no output breaks every run; a window of K
    kept lines can only be memorized if all K ids are known and its hash is among the
    outputs' window hashes. A *region* is a maximal run of kept lines covered by such
    windows (:func:`batch_regions`): every memorized occurrence lies inside one region.
    """
    batch: list[tuple[str, bytes, np.ndarray, np.ndarray | None, np.ndarray | None]] = []
    size = 0
    simian = rules == "simian"

    def flush() -> list[RegionBatch]:
        found = batch_regions(batch, windows, k, simian)
        batch.clear()
        if found is None:
            return []
        stats.regions += len(found)
        return [found]

    for i, doc in enumerate(documents):
        if check is not None and i % 256 == 0:
            check()
        stats.docs += 1
        data = doc.data
        stats.bytes += 0 if data is None else len(data)
        if data is None:
            found = None
        elif simian:
            found = table.simian_ids(data, k)
        else:
            found = table.ids(data, case_sensitive)
            found = None if found is None else (found, None, None)
        if found is None:
            stats.skipped += 1
            continue
        batch.append((doc.id, data, *found))
        size += len(data)
        if size >= BATCH_BYTES:
            yield from flush()
            size = 0
    if batch:
        yield from flush()


def write_regions(path: Path, batches: Iterable[RegionBatch]) -> None:
    """All regions of a shard as one ``.npz`` file, written atomically."""
    whole = concat_batches(list(batches))
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, docs=np.frombuffer("\0".join(whole.docs).encode("utf-8"), np.uint8),
                 n_docs=np.array([len(whole.docs)]), doc=whole.doc, bounds=whole.bounds, ids=whole.ids,
                 lines=whole.lines, context_start=whole.context_start, context_bounds=whole.context_bounds,
                 context=np.frombuffer(whole.context, np.uint8), left=whole.left, right=whole.right,
                 **({} if whole.seen_at is None else {"seen_at": whole.seen_at}))


def read_regions(path: Path) -> RegionBatch:
    with np.load(path, allow_pickle=False) as f:
        docs = f["docs"].tobytes().decode("utf-8").split("\0") if int(f["n_docs"][0]) else []
        symbols = _symbols(f)
        return RegionBatch(docs, f["doc"], symbols.bounds, symbols.ids, f["lines"], f["context_start"],
                           f["context_bounds"], f["context"].tobytes(), symbols.left, symbols.right, symbols.seen_at)


def read_region_symbols(path: Path) -> RegionSymbols:
    """The symbols of :func:`read_regions`' batch alone (its other columns are not read)."""
    with np.load(path, allow_pickle=False) as f:
        return _symbols(f)


def _symbols(f) -> RegionSymbols:
    bounds = f["bounds"]
    none = np.zeros(len(bounds) - 1, np.int64)  # a shard written before the Simian rules
    return RegionSymbols(bounds, f["ids"], f["left"] if "left" in f else none, f["right"] if "right" in f else none,
                         f["seen_at"] if "seen_at" in f else None)
