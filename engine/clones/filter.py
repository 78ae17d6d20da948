"""One pass over corpus documents: keep only the regions that may hold memorized spans.

Per document, one walk over the raw bytes (:class:`~engine.clones.linekeys.LineTable`,
compiled) folds case, cuts lines, strips them and looks every key up in the outputs'
vocabulary. A kept line
whose key is in no output breaks every run; a window of K kept lines can only be
memorized if all K ids are known and its hash is among the outputs' window hashes. A
*region* is a maximal run of kept lines covered by such windows: every memorized
occurrence lies inside one region, so the exact matching later sees only regions.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from engine.clones.index import covered, member, runs, window_hashes
from engine.clones.linekeys import LineTable
from engine.fsutil import atomic_open

CONTEXT = 3  # lines of context kept on each side of a corpus match


@dataclass
class Region:
    doc: str                 # corpus document id
    ids: list[int]           # vocabulary ids of the region's kept lines
    lines: list[int]         # their 1-based line numbers in the document
    context_start: int       # line number of the first context line
    context: str             # the document's lines from lines[0]-3 to lines[-1]+3, joined


@dataclass
class FilterStats:
    docs: int = 0
    skipped: int = 0   # not UTF-8
    bytes: int = 0
    regions: int = 0


BATCH_BYTES = 1 << 20  # documents are matched against the windows this many bytes at a time
_BREAK = np.zeros(1, np.int64)  # between two documents: an unknown line, which no window spans


def batch_regions(batch: list[tuple[str, bytes, np.ndarray]], windows: np.ndarray, k: int) -> Iterator[Region]:
    """The regions of a batch of documents ``(id, bytes, vocabulary id of each line)``,
    in document order; one set of array operations for the whole batch."""
    parts = [part for _, _, ids in batch for part in (ids, _BREAK)]
    offsets = np.cumsum([0] + [len(ids) + 1 for _, _, ids in batch])
    ids = np.concatenate(parts)
    kept_at = np.flatnonzero(ids != -1)
    kept = ids[kept_at]
    gaps = np.concatenate(([0], np.cumsum(kept == 0)))
    starts = np.flatnonzero(gaps[k:] == gaps[:-k])  # windows of K known ids
    if len(starts) == 0:
        return
    hits = starts[member(window_hashes(kept, k, starts), windows)]
    if len(hits) == 0:
        return
    found = runs(covered(hits, k, len(kept)))
    docs = np.searchsorted(offsets, kept_at[[a for a, _ in found]], side="right") - 1
    split: dict[int, list[bytes]] = {}
    for (a, b), d in zip(found, docs.tolist()):
        doc_id, data, _ = batch[d]
        raw_lines = split.get(d) or split.setdefault(d, data.split(b"\n"))
        numbers = (kept_at[a:b] - offsets[d] + 1).tolist()
        first = max(numbers[0] - CONTEXT, 1)
        last = min(numbers[-1] + CONTEXT, len(raw_lines))
        context = b"\n".join(raw_lines[first - 1:last]).decode("utf-8")
        yield Region(doc_id, kept[a:b].tolist(), numbers, first, context)


def filter_documents(
    documents: Iterable, table: LineTable, windows: np.ndarray, k: int, case_sensitive: bool,
    stats: FilterStats, check: Callable[[], None] | None = None,
) -> Iterator[Region]:
    """Regions of every document, in order; counts documents, bytes and skipped ones."""
    batch: list[tuple[str, bytes, np.ndarray]] = []
    size = 0

    def flush() -> list[Region]:
        found = list(batch_regions(batch, windows, k))
        stats.regions += len(found)
        batch.clear()
        return found

    for i, doc in enumerate(documents):
        if check is not None and i % 256 == 0:
            check()
        stats.docs += 1
        data = doc.data
        stats.bytes += 0 if data is None else len(data)
        ids = None if data is None else table.ids(data, case_sensitive)
        if ids is None:
            stats.skipped += 1
            continue
        batch.append((doc.id, data, ids))
        size += len(data)
        if size >= BATCH_BYTES:
            yield from flush()
            size = 0
    if batch:
        yield from flush()


def write_regions(path: Path, regions: Iterable[Region]) -> None:
    """One JSON object per region, written atomically."""
    with atomic_open(path) as fh:
        for r in regions:
            fh.write(json.dumps([r.doc, r.ids, r.lines, r.context_start, r.context], ensure_ascii=False))
            fh.write("\n")


def read_regions(path: Path) -> Iterator[Region]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            yield Region(*json.loads(line))
