"""The scan against a brute-force reference written straight from its definition."""
from __future__ import annotations

import hashlib
import random
from types import SimpleNamespace

import pytest

from engine.clones.scan import scan_texts

WHITE = " \t\r\n\x0b\x0c"


def ref_kept(text: str, case_sensitive: bool) -> list[tuple[str, int]]:
    kept = []
    for number, line in enumerate(text.split("\n"), 1):
        key = line.strip(WHITE)
        if not case_sensitive:
            key = key.lower()
        if key not in ("", "{", "}"):
            kept.append((key, number))
    return kept


def reference(outputs, docs, k, case_sensitive=False):
    """Every maximal memorized span, by brute force: {fp: (len, train, extract, locations, first 50 matches)}."""
    doc_kept = [(doc_id, ref_kept(text, case_sensitive)) for doc_id, text in docs]
    occ_cache: dict[tuple, list] = {}

    def occurrences(seq: tuple) -> list:
        if seq not in occ_cache:
            found = []
            for doc_id, kept in doc_kept:
                keys = [key for key, _ in kept]
                for p in range(len(keys) - len(seq) + 1):
                    if tuple(keys[p:p + len(seq)]) == seq:
                        found.append((doc_id, kept[p][1], kept[p + len(seq) - 1][1]))
            occ_cache[seq] = found
        return occ_cache[seq]

    result: dict[str, list] = {}
    for output_id, text in outputs:
        kept = ref_kept(text, case_sensitive)
        keys = [key for key, _ in kept]
        m = len(keys)

        def memorized(i, j):
            return i >= 0 and j < m and j - i + 1 >= k and bool(occurrences(tuple(keys[i:j + 1])))

        for i in range(m):
            for j in range(i + k - 1, m):
                if memorized(i, j) and not memorized(i - 1, j) and not memorized(i, j + 1):
                    seq = tuple(keys[i:j + 1])
                    fp = hashlib.md5("\n".join(seq).encode()).hexdigest()
                    occ = occurrences(seq)
                    entry = result.setdefault(fp, [len(seq), len(occ), 0, [], occ[:50]])
                    entry[2] += 1
                    entry[3].append((output_id, kept[i][1], kept[j][1]))
    return result


def observed(outputs, docs, k, case_sensitive=False):
    documents = [SimpleNamespace(id=d, data=t.encode()) for d, t in docs]
    got = {}
    for s in scan_texts(outputs, documents, k, case_sensitive, rules="lines"):
        got[s.fingerprint] = [s.len, s.train, s.extract, sorted(s.outputs),
                              [(m.doc, m.start_line, m.end_line) for m in s.matches]]
    return got


def assert_same(outputs, docs, k, case_sensitive=False):
    want = reference(outputs, docs, k, case_sensitive)
    for entry in want.values():
        entry[3].sort()
    got = observed(outputs, docs, k, case_sensitive)
    assert got == want
    return got


def lines(prefix, n):
    return [f"{prefix} = value_{prefix}_{i}" for i in range(n)]


def test_one_planted_clone_with_case_indentation_blanks_and_braces():
    doc = ["import os", *lines("a", 8), "def tail():", "    return 1"]
    output = ["# model says", "IMPORT OS", "", *[("\t  " + l.upper()) for l in lines("a", 4)], "{", "",
              *lines("a", 8)[4:], "}", "something else"]
    got = assert_same([(1, "\n".join(output))], [("d.py", "\n".join(doc))], 6)
    [(fp, entry)] = got.items()
    assert entry[0] == 9 and entry[1] == 1 and entry[2] == 1
    assert entry[3] == [(1, 2, 13)]  # lines 2..13 of the output, ignored lines inside
    assert entry[4] == [("d.py", 1, 9)]


def test_window_chain_that_never_occurs_whole_gives_two_overlapping_spans():
    run = lines("w", 7)
    docs = [("one", "\n".join(run[:6])), ("two", "\n".join(run[1:]))]
    got = assert_same([(5, "\n".join(run))], docs, 6)
    assert sorted(e[3][0][1:] for e in got.values()) == [(1, 6), (2, 7)]


def test_snippet_repeated_in_corpus_and_outputs_with_overlaps():
    snippet = lines("s", 6)
    # "x x x x x x x" (7 equal lines) holds the 6-line run twice, overlapping
    docs = [(f"f{i}", "\n".join(snippet + ["other"] + snippet)) for i in range(30)]
    docs.append(("same", "\n".join(["x"] * 7)))
    outputs = [(i, "\n".join(["noise"] + snippet + ["more"])) for i in range(1, 4)]
    outputs.append((9, "\n".join(["x"] * 8)))
    got = assert_same(outputs, docs, 6)
    fp = hashlib.md5("\n".join(snippet).encode()).hexdigest()
    assert got[fp][1] == 60 and got[fp][2] == 3 and len(got[fp][4]) == 50


def test_spans_at_first_and_last_line_of_a_document():
    body = lines("edge", 10)
    docs = [("d", "\n".join(body))]
    outputs = [(1, "\n".join(body[:6])), (2, "\n".join(body[4:])), (3, "\n".join(body))]
    assert_same(outputs, docs, 6)


def test_case_sensitive_scan_does_not_fold():
    body = lines("c", 6)
    docs = [("d", "\n".join(body))]
    outputs = [(1, "\n".join(l.upper() for l in body)), (2, "\n".join(body))]
    got = assert_same(outputs, docs, 6, case_sensitive=True)
    assert [e[3] for e in got.values()] == [[(2, 1, 6)]]
    assert len(assert_same(outputs, docs, 6)) == 1  # folded: both outputs, one fingerprint


def test_non_ascii_case_folds_like_str_lower():
    body = [f"ÄÖÜ_{i} = 'Straße'" for i in range(6)]
    assert_same([(1, "\n".join(l.lower() for l in body))], [("d", "\n".join(body))], 6)


KERNELS = [pytest.param(True, id="compiled"), pytest.param(False, id="python")]


@pytest.fixture(params=KERNELS)
def kernel(request, monkeypatch):
    """The lines rules' matching in the compiled automaton, and in Python."""
    from engine.clones import automaton

    if request.param and not automaton.compiled:
        pytest.skip("the compiled kernel is not built")
    monkeypatch.setattr(automaton, "compiled", request.param)
    return request.param


@pytest.mark.parametrize("seed", range(25))
@pytest.mark.parametrize("k", [2, 3, 6])
def test_random_corpora_with_planted_clones(seed, k, kernel):
    rng = random.Random(seed * 31 + k)
    alphabet = [f"line_{i}()" for i in range(rng.choice([4, 8, 20]))] + ["", "{", "}", "  "]
    docs = []
    for d in range(rng.randint(1, 6)):
        docs.append((f"doc{d}", "\n".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))))
    outputs = []
    for o in range(1, rng.randint(2, 8)):
        parts = []
        for _ in range(rng.randint(1, 4)):
            if docs and rng.random() < 0.7:
                src = docs[rng.randrange(len(docs))][1].split("\n")
                a = rng.randrange(len(src) + 1)
                piece = src[a:a + rng.randint(0, 20)]
                if rng.random() < 0.3:
                    piece = [("    " + p.upper()) for p in piece]
                parts.extend(piece)
            else:
                parts.extend(rng.choice(alphabet) for _ in range(rng.randint(0, 10)))
        outputs.append((o, "\n".join(parts)))
    assert_same(outputs, docs, k)


@pytest.mark.parametrize("size", [0, 1, 5, 3000])
def test_the_sieved_membership_test_is_exact(size):
    """The filter's bit sieve before the binary search changes no answer, for sets of any
    size and values in and out of them."""
    import numpy as np

    from engine.clones.index import member, member_sieved

    rng = np.random.default_rng(size)
    windows = np.unique(rng.integers(0, 2**64, size, dtype=np.uint64, endpoint=False))
    values = np.concatenate([rng.integers(0, 2**64, 5000, dtype=np.uint64, endpoint=False), windows[::2],
                             windows[::3] + np.uint64(1), windows[::3] & np.uint64(0xFFFFF)])
    rng.shuffle(values)
    want = member(values, windows)
    assert np.array_equal(member_sieved(values, windows), want)
    assert np.array_equal(member_sieved(values, windows), want)  # the sieve is kept for the same set
    assert want.sum() >= len(windows[::2])
