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
    context_start: int       # line number of context[0]
    context: list[str]       # the document's lines from lines[0]-3 to lines[-1]+3


@dataclass
class FilterStats:
    docs: int = 0
    skipped: int = 0   # not UTF-8
    bytes: int = 0
    regions: int = 0


def document_regions(doc_id: str, data: bytes, ids: np.ndarray, windows: np.ndarray, k: int) -> list[Region]:
    """The regions of one document, given the vocabulary id of each of its lines."""
    if np.count_nonzero(ids > 0) < k:
        return []
    kept_at = np.flatnonzero(ids != -1)
    kept = ids[kept_at]
    gaps = np.concatenate(([0], np.cumsum(kept == 0)))
    starts = np.flatnonzero(gaps[k:] == gaps[:-k])  # windows of K known ids
    if len(starts) == 0:
        return []
    hits = starts[member(window_hashes(kept, k, starts), windows)]
    if len(hits) == 0:
        return []
    raw_lines = data.split(b"\n")  # only documents with a region get here
    found = []
    for a, b in runs(covered(hits, k, len(kept))):
        numbers = (kept_at[a:b] + 1).tolist()
        first = max(numbers[0] - CONTEXT, 1)
        last = min(numbers[-1] + CONTEXT, len(raw_lines))
        context = [line.decode("utf-8").removesuffix("\r") for line in raw_lines[first - 1:last]]
        found.append(Region(doc_id, kept[a:b].tolist(), numbers, first, context))
    return found


def filter_documents(
    documents: Iterable, table: LineTable, windows: np.ndarray, k: int, case_sensitive: bool,
    stats: FilterStats, check: Callable[[], None] | None = None,
) -> Iterator[Region]:
    """Regions of every document, in order; counts documents, bytes and skipped ones."""
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
        for region in document_regions(doc.id, data, ids, windows, k):
            stats.regions += 1
            yield region


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
