"""From corpus regions to memorized snippets, with their counts on both sides.

Definitions (the scan's contract; see :mod:`engine.clones.lines` for lines and keys):

- A run of K or more consecutive kept lines of an output is *memorized* if the same
  keys occur, consecutively, in one corpus document. It is *maximal* if it cannot grow
  by the kept line before it or after it and stay memorized. Spans may overlap.
- ``train``: corpus positions where the span's keys occur (overlaps count);
  ``extract``: output positions where they form a maximal memorized span;
  ``len``: number of kept lines. Up to 50 corpus locations are kept per fingerprint,
  the first in corpus order, each with 3 lines of context on either side.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

from engine.clones.automaton import Finished, Matcher, SuffixAutomaton
from engine.clones.filter import CONTEXT, Region
from engine.clones.index import OutputIndex, covered, member, runs, window_hashes
from engine.clones.lines import fingerprint


@dataclass
class Match:
    doc: str
    start_line: int
    end_line: int
    context_start: int
    context: str


@dataclass
class Snippet:
    fingerprint: str
    len: int
    train: int = 0
    extract: int = 0
    text: str = ""
    outputs: list[tuple[int, int, int]] = field(default_factory=list)  # (output id, first line, last line)
    matches: list[Match] = field(default_factory=list)


def find_memorized(
    index: OutputIndex, regions: Callable[[], Iterable[Region]], output_text: Callable[[int], str]
) -> list[Snippet]:
    """Every memorized snippet, sorted by fingerprint. ``regions()`` yields the corpus
    regions in corpus order, the same each call (it is read three times)."""
    k = index.k
    # 1. which output windows occur in the corpus at all
    seen = [window_hashes(r.ids, k) for r in regions() if len(r.ids) >= k]
    in_corpus = np.unique(np.concatenate(seen)) if seen else np.zeros(0, np.uint64)
    # 2. an automaton over the outputs' covered stretches only
    sam = SuffixAutomaton()
    stretches = []  # (output position in index, first kept position, prefix states)
    for o, (_, ids, _) in enumerate(index.outputs):
        if len(ids) < k:
            continue
        hits = np.flatnonzero(member(window_hashes(ids, k), in_corpus))
        for a, b in runs(covered(hits, k, len(ids))):
            stretches.append((o, a, sam.add(ids[a:b].tolist())))
    # 3. the corpus regions through it
    matcher = Matcher(sam, k)
    for g, region in enumerate(regions()):
        matcher.feed(g, region.ids)
    done = Finished(matcher)
    # 4. maximal spans, grouped by fingerprint
    snippets: dict[str, Snippet] = {}
    wanted: dict[int, list] = {}  # region -> [(position, size, snippet)]
    for o, a, states in stretches:
        output_id, ids, numbers = index.outputs[o]
        spans = [done.span(s) for s in states]
        for i, (size, state) in enumerate(spans):
            if size < k or (i + 1 < len(spans) and spans[i + 1][0] >= size + 1):
                continue
            j = a + i
            first = j - size + 1
            fp = fingerprint(index.keys[v] for v in ids[first:j + 1].tolist())
            snip = snippets.get(fp)
            if snip is None:
                snip = snippets[fp] = Snippet(fp, size, train=done.train(state, size))
                lines = output_text(output_id).split("\n")[numbers[first] - 1:numbers[j]]
                snip.text = "\n".join(line.removesuffix("\r") for line in lines)
                for g, q in done.samples(state, size):
                    wanted.setdefault(g, []).append((q, size, snip))
            snip.extract += 1
            snip.outputs.append((output_id, int(numbers[first]), int(numbers[j])))
    # 5. the kept corpus locations, with their context
    if wanted:
        for g, region in enumerate(regions()):
            for q, size, snip in wanted.get(g, ()):
                start, end = region.lines[q - size + 1], region.lines[q]
                lo = max(start - CONTEXT, region.context_start)
                hi = min(end + CONTEXT, region.context_start + len(region.context) - 1)
                text = "\n".join(region.context[lo - region.context_start:hi - region.context_start + 1])
                snip.matches.append(Match(region.doc, start, end, lo, text))
    return [snippets[fp] for fp in sorted(snippets)]
