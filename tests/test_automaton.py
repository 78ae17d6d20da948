"""The lines rules' compiled automaton (engine/clones/_automaton.c) against the Python one
(engine/clones/automaton.py), whose results test_scan_exact checks against a brute force."""
from __future__ import annotations

import random
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from engine.clones import automaton
from engine.clones.filter import FilterStats, RegionColumns, filter_documents
from engine.clones.index import OutputIndex
from engine.clones.memorized import _stretches, find_memorized

needs_kernel = pytest.mark.skipif(not automaton.compiled, reason="needs the compiled kernel")


def python_spans(stretches, regions, k):
    sam = automaton.SuffixAutomaton()
    states = [sam.add(s) for s in stretches]
    matcher = automaton.Matcher(sam, k)
    for g, ids in enumerate(regions):
        matcher.feed(g, ids)
    done = automaton.Finished(matcher)
    spans = automaton.maximal_spans(done, states, k)
    return spans, {state: (done.train(state, size), done.samples(state, size)) for _, _, size, state in spans}


def compiled_spans(stretches, regions, k, chunk):
    match = automaton.CompiledMatch([np.array(s, np.int64) for s in stretches], k)
    for first in range(0, len(regions), chunk):
        part = regions[first:first + chunk]
        match.feed(np.array([i for ids in part for i in ids], np.int64),
                   np.cumsum([0] + [len(ids) for ids in part]), first)
    rows, counts = match.span_rows()
    spans = [tuple(r) for r in rows.tolist()]
    return spans, {state: counts(state, size) for _, _, size, state in spans}


@needs_kernel
@pytest.mark.parametrize("seed", range(40))
def test_the_kernel_gives_the_pythons_spans_counts_and_samples(seed):
    """Small alphabets, so that strings repeat far more than 50 times in the corpus and
    the samples are cut; regions fed in chunks of any size."""
    rng = random.Random(seed)
    symbols = rng.choice([2, 3, 5, 12])
    k = rng.randint(1, 4)
    stretches = [[rng.randint(1, symbols) for _ in range(rng.randint(0, 30))] for _ in range(rng.randint(1, 8))]
    regions = [[rng.randint(1, symbols) for _ in range(rng.randint(0, 40))] for _ in range(rng.randint(0, 60))]
    want_spans, want_counts = python_spans(stretches, regions, k)
    spans, counts = compiled_spans(stretches, regions, k, rng.randint(1, 70))
    assert [(s, i, size) for s, i, size, _ in spans] == [(s, i, size) for s, i, size, _ in want_spans]
    # states are numbered the same way (the same online construction)
    assert spans == want_spans and counts == want_counts


@needs_kernel
def test_samples_are_the_first_fifty_in_corpus_order_and_train_counts_all():
    stretches = [[1, 2, 3]]
    regions = [[1, 2, 3, 1, 2, 3]] * 40  # 80 places of the whole stretch
    spans, counts = compiled_spans(stretches, regions, 3, 7)
    assert [(s, i, size) for s, i, size, _ in spans] == [(0, 2, 3)]
    train, samples = counts[spans[0][3]]
    assert train == 80
    assert samples == [(g, q) for g in range(25) for q in (2, 5)]


@needs_kernel
@pytest.mark.parametrize("n", [70, 1500])
def test_a_run_of_equal_lines_a_deep_suffix_link_chain(n):
    """n equal lines make a chain of n states: the walk's path grows past its first 64."""
    stretches = [[1] * n, [2, 1, 1, 1, 2]]
    regions = [[1] * (n + 3), [2, 1, 1, 1], [1] * 40]
    want = python_spans(stretches, regions, 3)
    assert compiled_spans(stretches, regions, 3, 2) == want
    spans, counts = want
    assert (0, n - 1, n, spans[0][3]) in spans and counts[spans[0][3]] == (4, [(0, n - 1), (0, n), (0, n + 1), (0, n + 2)])


@needs_kernel
def test_no_match_crosses_from_one_stretch_into_the_next():
    spans, _ = compiled_spans([[1, 2], [3, 4]], [[1, 2, 3, 4]], 3, 1)
    assert spans == []
    spans, counts = compiled_spans([[1, 2], [3, 4]], [[1, 2, 3, 4]], 2, 1)
    assert [(s, i, size) for s, i, size, _ in spans] == [(0, 1, 2), (1, 1, 2)]
    assert [counts[state] for *_, state in spans] == [(1, [(0, 1)]), (1, [(0, 3)])]


@needs_kernel
def test_the_kernel_refuses_bad_input():
    from engine.clones import _automaton

    ok = np.array([1, 2], np.int64)
    with pytest.raises(ValueError):
        _automaton.build(np.array([0, 2], np.int64), np.array([0, 2], np.int64), 1, 50)  # no symbol 0
    with pytest.raises(ValueError):
        _automaton.build(np.array([1 << 31], np.int64), np.array([0, 1], np.int64), 1, 50)
    with pytest.raises(ValueError):
        _automaton.build(ok, np.array([0, 3], np.int64), 1, 50)  # bounds past the end
    with pytest.raises(ValueError):
        _automaton.build(ok, np.array([0, 2], np.int64), 0, 50)
    with pytest.raises(ValueError):
        _automaton.build(ok, np.array([0, 2], np.int64), 1, 256)
    a = _automaton.build(ok, np.array([0, 2], np.int64), 1, 50)
    with pytest.raises(ValueError):
        _automaton.feed(a, ok, np.array([1, 2], np.int64), 0)  # bounds not from 0
    with pytest.raises(ValueError):
        _automaton.feed(a, ok, np.array([0, 2, 1, 2], np.int64), 0)  # decreasing
    _automaton.feed(a, np.array([1, 2, 0, 1 << 40, 2], np.int64), np.array([0, 5], np.int64), 0)  # unknown ids: no match
    rows, states, train, bounds, refs = (np.frombuffer(b, np.int64) for b in _automaton.spans(a))
    assert rows.reshape(-1, 4)[:, :3].tolist() == [[0, 1, 2]]
    assert train.tolist() == [1] and refs.tolist() == [1] and bounds.tolist() == [0, 1]
    with pytest.raises(ValueError, match="has given its spans"):  # its transitions are freed
        _automaton.feed(a, ok, np.array([0, 2], np.int64), 1)
    with pytest.raises(ValueError, match="has given its spans"):
        _automaton.spans(a)


def scan_parts(seed):
    rng = random.Random(seed)
    alphabet = [f"l{i}" for i in range(3)]
    docs = [(f"d{i}", "\n".join(rng.choice(alphabet) for _ in range(300))) for i in range(6)]
    outputs = []
    for o in range(1, 30):
        src = docs[rng.randrange(6)][1].split("\n")
        a = rng.randrange(250)
        outputs.append((o, "\n".join(src[a:a + (3 if o % 3 == 0 else rng.randint(3, 40))])))
    index = OutputIndex(3)
    for o, text in outputs:
        index.add(o, text)
    documents = [SimpleNamespace(id=d, data=t.encode()) for d, t in docs]
    batches = []
    for i in range(0, 6, 2):  # a batch per two documents, as shards give them
        batches += filter_documents(documents[i:i + 2], index.table(), index.window_set(), 3, False, FilterStats())
    return index, outputs, batches


def result(index, outputs, regions, group_lines=None):
    texts = dict(outputs)
    return [(s.fingerprint, s.len, s.train, s.extract, s.outputs, s.matches)
            for s in find_memorized(index, regions, lambda ids: ((i, texts[i]) for i in ids), index.fingerprints,
                                    group_lines).attach()]


@pytest.mark.parametrize("seed", range(4))
def test_any_grouping_batching_and_kernel_gives_the_same_snippets(seed, monkeypatch):
    """Memory is bounded by matching groups of outputs one at a time: any grouping, the
    regions batch by batch or one by one, in the kernel or in Python (where the groups
    feed only the regions that share a window with them) give the same snippets."""
    index, outputs, batches = scan_parts(seed)
    assert len(batches) > 1 and all(b.seen_at is not None for b in batches)
    columns = RegionColumns(lambda: batches)
    one_by_one = [r for b in batches for r in b.regions()]
    whole = result(index, outputs, columns, group_lines=10**9)
    assert len(whole) > 10 and max(s[2] for s in whole) > 50  # samples are cut
    for kernel in (True, False) if automaton.compiled else (False,):
        monkeypatch.setattr(automaton, "compiled", kernel)
        for group_lines in (None, 1, 25):
            assert result(index, outputs, columns, group_lines) == whole, (kernel, group_lines)
        assert result(index, outputs, lambda: one_by_one, 40) == whole


def test_the_stretches_from_the_noted_windows_equal_those_from_the_regions():
    """Shards written before the filter noted windows (``seen_at`` None) take the regions'
    ids instead."""
    index, _, batches = scan_parts(7)
    noted = _stretches(index, RegionColumns(lambda: batches), lambda: None)
    old = [replace(b, seen_at=None) for b in batches]
    assert noted and _stretches(index, RegionColumns(lambda: old), lambda: None) == noted
    mixed = batches[:1] + old[1:]
    assert _stretches(index, RegionColumns(lambda: mixed), lambda: None) == noted
    assert _stretches(index, lambda: [r for b in batches for r in b.regions()], lambda: None) == noted


def test_the_kernels_counts_of_many_states_are_those_of_each_and_refuse_an_unknown_one():
    """The kernel's counts gathered for many states at once are each state's own (its
    train count and its samples, state after state); a state the kernel found no span at
    is refused, never answered with a neighbour's counts."""
    from engine.clones.automaton import KernelCounts

    states = np.array([7, 3, 11], np.int64)  # as the kernel lists them: in no order
    refs = np.array([(5 << 32) | 2, (1 << 32) | 9, (4 << 32) | 0, (8 << 32) | 1], np.int64)
    counts = KernelCounts(states, np.array([2, 1, 3], np.int64), np.array([0, 2, 3, 4], np.int64), refs)
    assert counts(3, 6) == (1, [(4, 0)]) and counts(7, 6) == (2, [(5, 2), (1, 9)])
    train, samples, region, position = counts.many([11, 7, 3])
    assert train.tolist() == [3, 2, 1] and samples.tolist() == [1, 2, 1]
    assert list(zip(region.tolist(), position.tolist())) == [(8, 1), (5, 2), (1, 9), (4, 0)]
    assert [len(column) for column in counts.many([])] == [0, 0, 0, 0]
    for unknown in ([5], [12], [3, 2]):
        with pytest.raises(KeyError):
            counts.many(unknown)


def test_a_snippet_without_an_output_place_gets_no_text_by_mistake():
    """Every snippet's text comes from its first output place; a snippet without one is
    refused rather than given the next snippet's text."""
    from engine.clones.memorized import Snippets, attach_texts

    snippets = Snippets(["a", "b"], np.array([6, 6]), np.array([1, 1]), np.array([0, 1]), np.array([0, 0, 1]),
                        np.array([1]), np.array([1]), np.array([6]))
    with pytest.raises(ValueError, match="without an output place"):
        attach_texts(snippets, lambda ids: ((i, "x\n" * 6) for i in ids))


def test_snippet_texts_from_lines_read_ahead_equal_those_read_after():
    """A matching reads its outputs' lines ahead up to a number of characters; the
    snippets' texts come from those and from the outputs read after, each output read once."""
    from engine.clones.memorized import Snippet, Snippets, attach_texts, output_lines

    texts = {1: "a\nb\r\nc\nd", 2: "e\nf\ng", 3: "h\r\ni\r\nj"}
    asked: list[list[int]] = []

    def output_texts(ids):
        asked.append(list(ids))
        return ((i, texts[i]) for i in ids)

    def snippets():
        return Snippets.of([Snippet("x", 2, outputs=[(1, 2, 3)]), Snippet("y", 2, outputs=[(3, 1, 2), (1, 1, 2)]),
                            Snippet("z", 3, outputs=[(2, 1, 3)])])

    read = output_lines(output_texts, [1, 2, 3], most=len(texts[1]) + 1)  # stops after the output that passes it
    assert read == {1: ["a", "b", "c", "d"], 2: ["e", "f", "g"]}
    ahead, after = snippets(), snippets()
    asked.clear()
    attach_texts(ahead, output_texts, read)
    assert asked == [[3]]
    attach_texts(after, output_texts)
    assert ahead.text == after.text == ["b\nc", "h\ni", "e\nf\ng"]
