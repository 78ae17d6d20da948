"""The store's keyset pages and filters of memorized snippets, against Python's sort."""
from __future__ import annotations

import hashlib
import random

import pytest

from engine.store import Store

ORDERS = ("train", "extract", "len", "first_line", "fingerprint")
WORDS = ["def", "return", "self", "import", "value", "Total", "x_y", "50%", "CamelCase", "foo", "bar",
         "print", "len", "data", "Key"]


def sort_key(order: str):
    if order in ("train", "extract", "len"):
        return lambda s: (-s[order], s["fingerprint"])
    if order == "first_line":
        return lambda s: (s["first_line"], s["fingerprint"])
    return lambda s: s["fingerprint"]


def make_snippets(n: int, seed: int, tag: str = "") -> list[dict]:
    """``n`` snippets with many ties on every sort key and texts of ordinary words."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        lines = [" ".join(rng.choices(WORDS, k=rng.randint(1, 4))) for _ in range(rng.randint(6, 9))]
        if i % 50 == 0:
            lines[3] += f" needle{i}"  # sparse: a few snippets hold "needle"
        if i % 7 == 0:
            lines[0] = "    def f():"  # a tie on the first line, shown and sorted without its indent
        if tag:
            lines[-1] += " " + tag
        text = "\n".join(lines) + ("\n" if i % 3 else "")
        out.append({
            "fingerprint": hashlib.md5(f"{seed}-{i}".encode()).hexdigest(),
            "len": len(lines), "train": rng.choice([1, 1, 1, 2, 2, 3, 7, 50]),
            "extract": rng.choice([1, 1, 2, 3]), "text": text, "first_line": text.split("\n")[0].strip(),
        })
    return out


def save(store: Store, scan_id: int, snippets: list[dict]) -> None:
    store.save_scan_results(
        scan_id, [(s["fingerprint"], s["len"], s["train"], s["extract"], s["text"]) for s in snippets],
        [], [], state="done")


@pytest.fixture
def filled(store):
    set_id = store.add_output_set(name="gen", source="sample", created=1.0)
    scan = store.add_scan(set_id=set_id, source="scan", corpus={}, corpus_label="c", created=1.0)
    other = store.add_scan(set_id=set_id, source="scan", corpus={}, corpus_label="c2", created=1.0)
    snippets = make_snippets(500, seed=1, tag="firstsave")
    save(store, scan, snippets)
    save(store, other, make_snippets(40, seed=2, tag="otherscan"))  # never shows in ``scan``
    return store, scan, snippets


def public(rows):
    return [{**{k: r[k] for k in ("fingerprint", "len", "train", "extract", "first_line")}, "pii": r.get("pii")}
            for r in rows]


def walk_forward(store, flt, order, limit, reverse=False):
    rows, page = [], store.snippet_page(flt, order, limit=limit, reverse=reverse)
    while page:
        assert len(page) <= limit
        rows += page
        if len(page) < limit:
            break
        page = store.snippet_page(flt, order, after=page[-1], limit=limit, reverse=reverse)
    return rows


def walk_backward(store, flt, order, limit, reverse=False):
    pages, page = [], store.snippet_page(flt, order, last=True, limit=limit, reverse=reverse)
    while page:
        pages.insert(0, page)
        if len(page) < limit:
            break
        page = store.snippet_page(flt, order, before=page[0], limit=limit, reverse=reverse)
    return [row for page in pages for row in page]


def expected(snippets, order, prefix="", text=""):
    keep = [s for s in snippets if s["fingerprint"].startswith(prefix.lower()) and text.lower() in s["text"].lower()]
    return public(sorted(keep, key=sort_key(order)))


@pytest.mark.parametrize("order", ORDERS)
def test_every_order_walks_forward_and_backward(filled, order):
    store, scan, snippets = filled
    flt = store.snippet_filter(scan)
    want = expected(snippets, order)
    assert len(want) == 500
    assert walk_forward(store, flt, order, 37) == want
    assert walk_backward(store, flt, order, 37) == want
    assert store.snippet_page(flt, order, last=True, limit=10) == want[-10:]
    assert store.snippet_page(flt, order, limit=10) == want[:10]
    # from any row: the next page starts right after it, the previous ends right before it
    for i in (0, 1, 99, 250, 498, 499):
        assert store.snippet_page(flt, order, after=want[i], limit=5) == want[i + 1:i + 6]
        assert store.snippet_page(flt, order, before=want[i], limit=5) == want[max(0, i - 5):i]
    assert store.snippet_filter_count(flt) == 500


@pytest.mark.parametrize("order", ORDERS)
def test_every_order_reversed_is_exactly_the_reverse_both_ways(filled, order):
    """A sort key pressed again in the browser: ties by fingerprint reversed too."""
    store, scan, snippets = filled
    flt = store.snippet_filter(scan)
    want = expected(snippets, order)[::-1]
    assert walk_forward(store, flt, order, 37, reverse=True) == want
    assert walk_backward(store, flt, order, 37, reverse=True) == want
    for i in (0, 1, 250, 499):
        assert store.snippet_page(flt, order, after=want[i], limit=5, reverse=True) == want[i + 1:i + 6]
        assert store.snippet_page(flt, order, before=want[i], limit=5, reverse=True) == want[max(0, i - 5):i]
    text_flt = store.snippet_filter(scan, text="needle")  # the trigram index's rows, reversed as well
    assert walk_forward(store, text_flt, order, 4, reverse=True) == expected(snippets, order, text="needle")[::-1]


def test_page_rows_carry_the_first_line(filled):
    store, scan, snippets = filled
    rows = store.snippet_page(store.snippet_filter(scan), "first_line", limit=500)
    assert {r["fingerprint"]: r["first_line"] for r in rows} == {s["fingerprint"]: s["first_line"] for s in snippets}


def test_the_first_line_is_whole_past_a_nul_and_without_its_white_space(store):
    set_id = store.add_output_set(name="gen", source="sample", created=1.0)
    scan = store.add_scan(set_id=set_id, source="scan", corpus={}, corpus_label="c", created=1.0)
    texts = {"a" * 32: "\t\tnul = '\\x00' + '\x00x'\r\nrest\n", "b" * 32: "  )\n", "c" * 32: "alpha\n"}
    save(store, scan, [{"fingerprint": fp, "len": 6, "train": 1, "extract": 1, "text": t} for fp, t in texts.items()])
    rows = store.snippet_page(store.snippet_filter(scan), "first_line")
    assert [r["first_line"] for r in rows] == [")", "alpha", "nul = '\\x00' + '\x00x'"]


@pytest.mark.parametrize("prefix", ["a", "ab", "AB", "f0", "0123456789"])
def test_prefix_filter(filled, prefix):
    store, scan, snippets = filled
    flt = store.snippet_filter(scan, prefix=prefix)
    for order in ("train", "fingerprint"):
        want = expected(snippets, order, prefix=prefix)
        assert walk_forward(store, flt, order, 4) == want
        assert walk_backward(store, flt, order, 4) == want
    assert store.snippet_filter_count(flt) == len(expected(snippets, "train", prefix=prefix))


TEXTS = ["needle", "NEEDLE1", "50%", "%", "x_y", "_", "camelcase", "Total x", "ke", "f", "def f():\n",
         "no such text at all", "otherscan"]


@pytest.mark.parametrize("candidates", [None, 10])
@pytest.mark.parametrize("text", TEXTS)
def test_text_filter(filled, text, candidates):
    """Both paths (few hits: sorted candidates; many: the sort index read until full)
    give exactly the rows holding ``text`` in any case, ``%`` and ``_`` literally."""
    store, scan, snippets = filled
    if candidates is not None:
        store.TEXT_CANDIDATES = candidates
    flt = store.snippet_filter(scan, text=text)
    for order in ("train", "first_line"):
        want = expected(snippets, order, text=text)
        assert walk_forward(store, flt, order, 6) == want
        assert walk_backward(store, flt, order, 6) == want
    assert store.snippet_filter_count(flt) == len(expected(snippets, "train", text=text))


def test_text_filters_hit_both_paths(filled):
    """The data makes "needle" sparse and "def" dense, so the tests above cover both."""
    store, scan, snippets = filled
    store.TEXT_CANDIDATES = 10
    assert 0 < len(expected(snippets, "train", text="needle")) <= 10
    assert store.snippet_filter(scan, text="needle").rowids is not None
    assert len(expected(snippets, "train", text="def")) > 10
    assert store.snippet_filter(scan, text="def").rowids is None


def test_prefix_and_text_together(filled):
    store, scan, snippets = filled
    want = expected(snippets, "extract", prefix="c", text="value")
    for candidates in (5000, 3):  # few text hits: candidate rows; many: the sort index
        store.TEXT_CANDIDATES = candidates
        flt = store.snippet_filter(scan, prefix="c", text="Value")
        assert want and walk_forward(store, flt, "extract", 3) == want
        assert walk_backward(store, flt, "extract", 3) == want


@pytest.mark.parametrize("candidates", [5000, 3])
def test_count_of_prefix_and_text_together(filled, candidates):
    """The count of a prefix-and-text filter is that of the rows its pages give.

    Store bug (fails with candidates=5000): ``snippet_filter`` sets ``flt.count`` to the
    number of text candidates without applying the prefix, and ``snippet_filter_count``
    returns it as is (346 for 18 rows here)."""
    store, scan, snippets = filled
    store.TEXT_CANDIDATES = candidates
    flt = store.snippet_filter(scan, prefix="c", text="Value")
    assert store.snippet_filter_count(flt) == len(expected(snippets, "train", prefix="c", text="value")) == 18


def test_resaving_and_deleting_keep_the_text_index(filled):
    store, scan, _ = filled
    assert store.snippet_filter_count(store.snippet_filter(scan, text="needle")) == 10
    fresh = make_snippets(60, seed=3, tag="brandnew")
    save(store, scan, fresh)
    for candidates in (5000, 5):
        store.TEXT_CANDIDATES = candidates
        needle = store.snippet_filter(scan, text="needle")
        assert walk_forward(store, needle, "train", 4) == expected(fresh, "train", text="needle")
        assert walk_forward(store, store.snippet_filter(scan, text="brandnew"), "train", 7) == expected(fresh, "train")
        flt = store.snippet_filter(scan, text="firstsave")
        assert store.snippet_page(flt, "train") == [] and store.snippet_filter_count(flt) == 0
    # the other scan's texts are found after this scan's delete, and this scan's are gone
    other = scan + 1
    store.delete_scan(scan)
    store.TEXT_CANDIDATES = 5000
    assert store.snippet_filter_count(store.snippet_filter(other, text="otherscan")) == 40
    assert store.snippet_filter_count(store.snippet_filter(scan, text="brandnew")) == 0
    # a scan saved after the delete reuses rowids: the index must not mix the old texts in
    again = store.add_scan(set_id=1, source="scan", corpus={}, corpus_label="c3", created=2.0)
    save(store, again, make_snippets(30, seed=4, tag="third"))
    assert store.snippet_filter_count(store.snippet_filter(again, text="third")) == 30
    assert store.snippet_filter_count(store.snippet_filter(again, text="brandnew")) == 0
    assert store.snippet_filter_count(store.snippet_filter(other, text="third")) == 0


def test_pages_of_an_empty_or_unknown_filter(filled):
    store, scan, _ = filled
    flt = store.snippet_filter(scan + 100)
    assert store.snippet_page(flt, "train") == [] and store.snippet_page(flt, "len", last=True) == []
    assert store.snippet_filter_count(flt) == 0
    from engine.errors import InputError

    with pytest.raises(InputError):
        store.snippet_page(store.snippet_filter(scan), "nonsense")
