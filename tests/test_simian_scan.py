"""The scan under the Simian rules against a brute-force reference written from the
definition (every repeat, rule 10 applied literally), and against Simian 2.5.10 itself:
its single-file logs of the crafted cases and the study's expected memorization.json of
the realistic run (tests/data/simian)."""
from __future__ import annotations

import dataclasses
import json
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from engine.clones.rules import segments
from engine.clones.rules.simian import fingerprint, line_key
from engine.clones.scan import scan_texts

DATA = Path(__file__).resolve().parent / "data" / "simian"


@dataclass
class Doc:
    id: str
    data: bytes


def significant(text: str) -> list[tuple[bytes, int]]:
    """(key, \\n-line number) of every line with a token."""
    return [(key, number) for number, line in segments(text) if (key := line_key(line)) is not None]


def reference(outputs: list[tuple[int, str]], documents: list[Doc], k: int) -> dict[str, tuple]:
    """{fingerprint: (len, train, extract, output places)}: every repeat of k or more lines
    over all texts; reported (rule 10) when a place lies inside no place of a longer
    reported block of the same text; memorized when it has places on both sides."""
    texts = [("output", output_id, significant(text)) for output_id, text in outputs]
    texts += [("corpus", doc.id, significant(doc.data.decode("utf-8"))) for doc in documents]
    places: dict[tuple, list[tuple[int, int]]] = {}
    for t, (_, _, lines) in enumerate(texts):
        keys = [key for key, _ in lines]
        for start in range(len(keys)):
            for end in range(start + k, len(keys) + 1):
                places.setdefault(tuple(keys[start:end]), []).append((t, start))
    reported: list[tuple[tuple, list]] = []
    covering: dict[int, list[tuple[int, int]]] = {}  # text -> [start, end) of reported places
    for size in sorted({len(x) for x in places}, reverse=True):
        now = []
        for x, where in places.items():
            if len(x) != size or len(where) < 2:
                continue
            free = any(not any(a <= start and start + size <= b for a, b in covering.get(t, ()))
                       for t, start in where)
            if free:
                now.append((x, where))
        for x, where in now:  # blocks of one length do not hide each other
            reported.append((x, where))
            for t, start in where:
                covering.setdefault(t, []).append((start, start + size))
    found = {}
    for x, where in reported:
        sides = [texts[t][0] for t, _ in where]
        if "output" in sides and "corpus" in sides:
            out = sorted((texts[t][1], texts[t][2][start][1], texts[t][2][start + len(x) - 1][1])
                         for t, start in where if texts[t][0] == "output")
            found[fingerprint(list(x), k)] = (len(x), sides.count("corpus"), sides.count("output"), out)
    return found


def scanned(outputs, documents, k) -> dict[str, tuple]:
    return {s.fingerprint: (s.len, s.train, s.extract, sorted(s.outputs))
            for s in scan_texts(outputs, documents, k, rules="simian")}


LINES = ["return total", "x = compute(a, b)", "if x > 10:", "    pass", "for item in items:", "def f(self):",
         "value.append(item)", "}", "{", "print('done')", "count += 1", "else:"]
VARIANTS = [str.upper, lambda s: "    " + s, lambda s: s.replace(", ", ","), lambda s: s.replace("'", '"'),
            lambda s: s + "  ", lambda s: s.replace(" ", "  ")]
NOISE = ["", "   ", '"""', ";", "# a comment", "import os"]


def _text(rng: random.Random, lines: list[str]) -> str:
    out = []
    for line in lines:
        if rng.random() < 0.15:
            out.append(rng.choice(NOISE))
        out.append(rng.choice(VARIANTS)(line) if rng.random() < 0.3 else line)
    return rng.choice(["\n", "\r\n"]).join(out)


def random_case(rng: random.Random) -> tuple[list[tuple[int, str]], list[Doc]]:
    alphabet = rng.sample(LINES, rng.randint(3, len(LINES)))
    base = [rng.choice(alphabet) for _ in range(rng.randint(20, 60))]
    documents = []
    for d in range(rng.randint(1, 4)):
        lines = [rng.choice(alphabet) for _ in range(rng.randint(5, 30))]
        if rng.random() < 0.7:
            at = rng.randint(0, len(base) - 8)
            lines[rng.randint(0, len(lines)):0] = base[at:at + rng.randint(6, 15)]
        documents.append(Doc(f"doc{d}", _text(rng, lines).encode("utf-8")))
    outputs = []
    for o in range(1, rng.randint(2, 5)):
        lines = [rng.choice(alphabet) for _ in range(rng.randint(5, 25))]
        at = rng.randint(0, len(base) - 8)
        lines[rng.randint(0, len(lines)):0] = base[at:at + rng.randint(4, 14)]
        outputs.append((o, _text(rng, lines)))
    return outputs, documents


@pytest.mark.parametrize("seed", range(60))
def test_random_cases_equal_the_definition(seed):
    rng = random.Random(seed)
    outputs, documents = random_case(rng)
    k = rng.choice([3, 4, 6])
    assert scanned(outputs, documents, k) == reference(outputs, documents, k)


@pytest.mark.parametrize("seed", range(40))
def test_random_cases_with_copied_documents_and_passages_equal_the_definition(seed):
    """Whole documents copied, and the same passage with the same lines around it in
    several documents: regions the scan takes once, with their number."""
    rng = random.Random(1000 + seed)
    outputs, documents = random_case(rng)
    k = rng.choice([3, 4, 6])
    passage = [rng.choice(LINES) for _ in range(rng.randint(k + 2, k + 8))]
    for d in range(rng.randint(2, 4)):  # the passage, and an output's copy of part of it
        documents.append(Doc(f"passage{d}", "\n".join(["import sys", *passage, "import os"]).encode()))
    outputs.append((len(outputs) + 1, "\n".join(["x = 1", *passage[1:], "y = 2"])))
    for d in range(rng.randint(1, 3)):
        documents.append(Doc(f"copy{d}", rng.choice(documents).data))
    if rng.random() < 0.5:  # an output that is a whole document
        outputs.append((len(outputs) + 1, rng.choice(documents).data.decode()))
    assert scanned(outputs, documents, k) == reference(outputs, documents, k)


@pytest.mark.parametrize("seed", range(20))
def test_random_cases_with_lone_carriage_returns_equal_the_definition(seed):
    """A lone \\r ends a line under Simian's rules, in outputs and documents alike; the
    places are still counted in \\n-lines."""
    rng = random.Random(3000 + seed)
    outputs, documents = random_case(rng)

    def some_cr(text: str) -> str:
        return "".join(c if c != "\n" or rng.random() > 0.2 else "\r" for c in text)

    documents = [Doc(d.id, some_cr(d.data.decode()).encode()) for d in documents]
    outputs = [(o, some_cr(text)) for o, text in outputs]
    k = rng.choice([3, 4, 6])
    assert scanned(outputs, documents, k) == reference(outputs, documents, k)


def test_a_block_at_the_end_of_a_document_with_a_lone_carriage_return_keeps_its_context():
    """The context of a corpus place runs to the document's last \\n-line, however many
    lines a lone \\r split (this once indexed past the document's line starts)."""
    from engine.clones.scan import scan_texts

    block = [f"kappa_{i} = lambda_fn(mu_{i})" for i in range(6)]
    data = ("# header\rwith a stray carriage return\n" + "\n".join(block) + "\n").encode()
    (snippet,) = scan_texts([(1, "\n".join(block))], [Doc("mixed.py", data)], 6, rules="simian")
    (place,) = snippet.matches
    assert (place.doc, place.start_line, place.end_line, place.context_start) == ("mixed.py", 2, 7, 1)
    assert place.context == data.decode()


@pytest.mark.parametrize("seed", range(20))
def test_random_cases_in_tiny_batches_equal_the_definition(seed, monkeypatch):
    """The intervals examined a few places at a time, and the regions hashed a few lines
    at a time, give the same blocks."""
    from engine.clones import blocks, memorized

    monkeypatch.setattr(blocks, "INTERVAL_BATCH", 3)
    monkeypatch.setattr(memorized, "BATCH_LINES", 5)
    rng = random.Random(2000 + seed)
    outputs, documents = random_case(rng)
    k = rng.choice([3, 4, 6])
    assert scanned(outputs, documents, k) == reference(outputs, documents, k)


def test_a_copied_document_is_a_block_even_when_every_output_place_lies_in_a_longer_one():
    """The document's two copies are the only places whose neighbours (its edges) are
    their own: the block is reported for them, and memorized through the outputs."""
    body = [f"value_{i} = compute({i})" for i in range(8)]
    documents = [Doc("a", "\n".join(body).encode()), Doc("b", "\n".join(body).encode())]
    output = "\n".join(["start()", *body, "stop()"])
    outputs = [(1, output), (2, output)]
    got = scanned(outputs, documents, 6)
    assert got == reference(outputs, documents, 6)
    assert [v[:3] for v in got.values()] == [(8, 2, 2)]


@pytest.mark.parametrize("keep", [1, 2, 3, 5, 50])
def test_the_corpus_places_kept_are_the_first_in_corpus_order(monkeypatch, keep):
    """Each snippet keeps its first ``keep`` corpus places in corpus order (document, then
    line), counting every copy of a copied document and every place inside one document,
    whatever the distinct regions they were folded into; ``train`` counts them all."""
    from engine.clones import blocks

    monkeypatch.setattr(blocks, "MAX_SAMPLES", keep)
    rng = random.Random(keep)
    block = [f"step_{i} = run({i})" for i in range(7)]
    docs = []
    for d in range(12):
        kind = rng.choice(["copy", "twice", "other"])
        if kind == "copy":
            text = "\n".join(["pre = 0", *block, "post = 1"])
        elif kind == "twice":
            text = "\n".join([f"a{d} = 1", *block, f"b{d} = 2", *block, f"c{d} = 3"])
        else:
            text = "\n".join([f"x{d} = {d}", *block, f"y{d} = {d}"])
        docs.append(Doc(f"d{d:02d}", text.encode()))
    outputs = [(1, "\n".join(["out = 0", *block, "end = 1"]))]
    [snip] = [s for s in scan_texts(outputs, docs, 6, rules="simian") if s.len == 7]
    places = [(doc.id, start + 1) for doc in docs
              for start, line in enumerate(doc.data.decode().split("\n")) if line == block[0]]
    assert snip.train == len(places) and (len(places) > keep or keep == 50)  # 50: every place kept
    assert [(m.doc, m.start_line) for m in snip.matches] == places[:keep]


def test_rule_10_partial_overlap_and_nested():
    """A shorter block is reported only when one of its places lies outside every longer
    block: the README's nested and partial_overlap cases in miniature."""
    a = [f"a{i} = {i}" for i in range(6)]
    x, b = [f"x{i}()" for i in range(3)], [f"b{i} = {i}" for i in range(3)]
    docs = [Doc("doc", "\n".join(["head"] + x + a + ["tail"]).encode())]
    outputs = [(1, "\n".join(["o"] + x + a + ["p"])), (2, "\n".join(["q"] + a + b + ["r"])),
               (3, "\n".join(["s"] + a + b + ["t"]))]
    got = scanned(outputs, docs, 6)
    assert got == reference(outputs, docs, 6)
    assert sorted((n, train, extract) for n, train, extract, _ in got.values()) == [(9, 1, 1)]  # X+A only
    docs.append(Doc("other", "\n".join(["c"] + a + ["d"]).encode()))  # A now has a free place
    got = scanned(outputs, docs, 6)
    assert sorted((n, train, extract) for n, train, extract, _ in got.values()) == [(6, 2, 3), (9, 1, 1)]


# -- Simian itself -----------------------------------------------------------------------------
def study_outputs(folder: Path) -> list[tuple[int, str]]:
    from engine.formats.outputs_dir import read_output_dir

    return read_output_dir(folder / "all")


def corpus_documents(folder: Path) -> list[Doc]:
    docs = []
    for shard in sorted((folder / "corpus_jsonl").glob("*.jsonl")):
        for line in shard.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                docs.append(Doc(record["path"], record["content"].encode("utf-8")))
    return docs


KERNELS = [pytest.param(True, id="compiled"), pytest.param(False, id="python")]


@pytest.mark.slow
@pytest.mark.parametrize("use_compiled", KERNELS)
def test_the_realistic_run_gives_the_studys_memorization_json(use_compiled, monkeypatch):
    """With the compiled kernel, and with its pure-Python fallback (which numbers every
    unknown line, not only the neighbours the blocks need)."""
    from engine.clones import linekeys

    if use_compiled and not linekeys.compiled:
        pytest.skip("the compiled kernel is not built")
    monkeypatch.setattr(linekeys, "compiled", use_compiled)
    folder = DATA / "realistic"
    want = json.loads((folder / "expected_memorization.json").read_text())
    got = {s.fingerprint: {"train": s.train, "extract": s.extract, "len": s.len}
           for s in scan_texts(study_outputs(folder), corpus_documents(folder), 6, rules="simian")}
    assert got == want


@pytest.mark.parametrize("use_compiled", KERNELS)
def test_every_crafted_case_agrees_with_simians_single_file_log(use_compiled, monkeypatch):
    from engine.clones import linekeys
    from engine.formats.simian import read_simian_log

    if use_compiled and not linekeys.compiled:
        pytest.skip("the compiled kernel is not built")
    monkeypatch.setattr(linekeys, "compiled", use_compiled)

    folder = DATA / "rules"
    log = read_simian_log(folder / "simian_single.log")
    want = {}
    for block in log.blocks:
        files = [loc.path.rsplit("/", 1)[-1] for loc in block.locations]
        train = sum(name == "both" for name in files)
        extract = sum(name.startswith("all") for name in files)
        if train and extract:
            want[block.fingerprint] = {"train": train, "extract": extract, "len": block.lines}
    got = {s.fingerprint: {"train": s.train, "extract": s.extract, "len": s.len}
           for s in scan_texts(study_outputs(folder), corpus_documents(folder), 6, rules="simian")}
    assert got == want


@pytest.mark.slow
def test_the_realistic_run_through_the_scan_job_and_the_export(tmp_path, capsys):
    """`byrote sample import` of the study's merged outputs, `byrote scan` (the default
    rules) over the corpus records, a shard a file, in a pool of 2 workers, then `byrote
    export memorization`: the study's memorization.json, the same keys and values."""
    from cli.main import main

    folder = DATA / "realistic"
    db, out = tmp_path / "s.db", tmp_path / "memorization.json"
    steps = [["sample", "import", str(folder)],
             ["scan", "--outputs", "1", "--corpus", str(folder / "corpus_jsonl"), "--text-field", "content",
              "--workers", "2", "--foreground"],
             ["export", "memorization", "--scan", "1", "--out", str(out)]]
    for step in steps:
        assert main(["--db", str(db), *step]) == 0, capsys.readouterr()
    from engine.store import Store

    store = Store(db)
    assert store.scan(1)["rules"] == "simian" and store.scan(1)["n_shards"] == 2
    store.close()
    assert json.loads(out.read_text()) == json.loads((folder / "expected_memorization.json").read_text())


def _indexed(outputs, k):
    from engine.clones.index import OutputIndex

    index = OutputIndex(k, False, "simian")
    for output_id, text in outputs:
        index.add(output_id, text)
    return index


def _region_batches(outputs, documents, k, index=None) -> list:
    from engine.clones.filter import FilterStats, filter_documents

    index = index or _indexed(outputs, k)
    return list(filter_documents(documents, index.table(), index.window_set(), k, False, FilterStats(),
                                 rules="simian"))


def _matched_both_ways(outputs, documents, k) -> tuple[list, list, list, list]:
    """The snippets with their corpus places, from regions given batch by batch (array
    work), from the same regions given one by one, batch by batch without the windows
    the filter noted, and batch by batch with their symbols apart (as a scan reads its
    shards' files)."""
    from engine.clones.filter import RegionColumns, RegionSymbols
    from engine.clones.scan import match

    index = _indexed(outputs, k)
    batches = _region_batches(outputs, documents, k, index)
    texts = dict(outputs)
    read = lambda ids: ((i, texts[i]) for i in ids)  # noqa: E731
    regions = [region for batch in batches for region in batch.regions()]
    seen = lambda found: [(s.fingerprint, s.len, s.train, s.extract, s.outputs,  # noqa: E731
                           [(m.doc, m.start_line, m.end_line, m.context) for m in s.matches]) for s in found]
    unnoted = [dataclasses.replace(batch, seen_at=None) for batch in batches]  # shards of before the windows were noted
    symbols = [RegionSymbols(b.bounds, b.ids, b.left, b.right, b.seen_at) for b in batches]
    return (seen(match(index, RegionColumns(lambda: batches), read).attach()),
            seen(match(index, lambda: regions, read).attach()),
            seen(match(index, RegionColumns(lambda: unnoted), read).attach()),
            seen(match(index, RegionColumns(lambda: batches, lambda: symbols), read).attach()))


@pytest.mark.parametrize("seed", range(15))
@pytest.mark.parametrize("batch_bytes", [1, 1 << 20], ids=["a-document-a-batch", "one-batch"])
def test_regions_in_batches_and_one_by_one_give_the_same_snippets_and_places(seed, batch_bytes, monkeypatch):
    """Distinct regions found in array operations, within a batch and across batches (a
    copy's regions in a later batch than the first's), as the one-by-one way finds them."""
    from engine.clones import filter as filter_module

    monkeypatch.setattr(filter_module, "BATCH_BYTES", batch_bytes)
    rng = random.Random(3000 + seed)
    outputs, documents = random_case(rng)
    for d in range(rng.randint(1, 4)):  # copies: distinct regions standing for several
        documents.append(Doc(f"copy{d}", rng.choice(documents).data))
    batched, one_by_one, unnoted, apart = _matched_both_ways(outputs, documents, rng.choice([3, 4, 6]))
    assert batched == one_by_one == unnoted == apart


@pytest.mark.parametrize("seed", range(10))
def test_the_windows_a_batch_notes_are_those_its_regions_hold(seed, monkeypatch, tmp_path):
    """The filter notes, per batch and per shard file, the places in the outputs' window
    set of the windows its regions hold: the windows of K ids inside each region that the
    set has, and no other."""
    from engine.clones import filter as filter_module
    from engine.clones.filter import concat_batches, read_regions, write_regions
    from engine.clones.index import window_hashes_of

    monkeypatch.setattr(filter_module, "BATCH_BYTES", 1)
    rng = random.Random(4000 + seed)
    outputs, documents = random_case(rng)
    k = rng.choice([3, 4, 6])
    index = _indexed(outputs, k)
    windows = index.window_set()
    batches = _region_batches(outputs, documents, k, index)
    where = {h: at for at, h in enumerate(windows.tolist())}

    def held(batch) -> list[int]:
        hashes = window_hashes_of([np.asarray(r.ids, np.int64) for r in batch.regions()], k)[0]
        return sorted({where[h] for h in hashes.tolist() if h in where})

    for batch in batches:
        assert batch.seen_at.tolist() == held(batch)
    whole = concat_batches(batches)
    write_regions(tmp_path / "shard.npz", batches)
    assert read_regions(tmp_path / "shard.npz").seen_at.tolist() == held(whole) == whole.seen_at.tolist()


@pytest.mark.parametrize("seed", range(5))
def test_a_shard_files_symbols_read_alone_are_its_regions(seed, monkeypatch, tmp_path):
    """A regions file's symbols read alone (bounds, ids, neighbours, noted windows) are
    those of the whole batch read back, also from a file written before the neighbours
    and the windows were kept (zeros and None, as the whole read gives)."""
    from engine.clones import filter as filter_module
    from engine.clones.filter import read_region_symbols, read_regions, write_regions

    monkeypatch.setattr(filter_module, "BATCH_BYTES", 1)
    rng = random.Random(4500 + seed)
    outputs, documents = random_case(rng)
    write_regions(tmp_path / "shard.npz", _region_batches(outputs, documents, rng.choice([3, 4, 6])))
    with np.load(tmp_path / "shard.npz") as f:  # the same file, as an older byrote wrote it
        kept = [name for name in f.files if name not in ("left", "right", "seen_at")]
        np.savez(tmp_path / "old.npz", **{name: f[name] for name in kept})
    for path in (tmp_path / "shard.npz", tmp_path / "old.npz"):
        whole, symbols = read_regions(path), read_region_symbols(path)
        assert len(symbols) == len(whole) > 0
        for name in ("bounds", "ids", "left", "right"):
            assert getattr(symbols, name).tolist() == getattr(whole, name).tolist()
        assert (symbols.seen_at is None) == (whole.seen_at is None) == (path.name == "old.npz")
        if symbols.seen_at is not None:
            assert symbols.seen_at.tolist() == whole.seen_at.tolist()
    assert not read_region_symbols(tmp_path / "old.npz").left.any()


def test_the_distinct_regions_read_the_symbols_alone(monkeypatch):
    """Where the regions come with their symbols apart, the distinct regions are made of
    those: the whole batches are read for the corpus places only (once)."""
    from engine.clones.filter import RegionColumns, RegionSymbols
    from engine.clones.scan import match

    rng = random.Random(4600)
    outputs, documents = random_case(rng)
    for d in range(3):
        documents.append(Doc(f"copy{d}", rng.choice(documents).data))
    index = _indexed(outputs, 4)
    batches = _region_batches(outputs, documents, 4, index)
    texts = dict(outputs)
    reads = {"batches": 0, "symbols": 0}

    def counted(name, items):
        def read():
            reads[name] += 1
            return iter(items)
        return read

    symbols = [RegionSymbols(b.bounds, b.ids, b.left, b.right, b.seen_at) for b in batches]
    found = match(index, RegionColumns(counted("batches", batches), counted("symbols", symbols)),
                  lambda ids: ((i, texts[i]) for i in ids)).attach()
    assert found and any(s.matches for s in found)
    assert reads == {"batches": 1, "symbols": 1}


@pytest.mark.parametrize("batch_bytes", [1, 1 << 20], ids=["a-document-a-batch", "one-batch"])
def test_regions_whose_hashes_collide_are_told_apart(monkeypatch, batch_bytes):
    """Every region hashed alike (multipliers 0): the comparison symbol by symbol finds
    the difference and the regions are taken one by one, with the same result."""
    from engine.clones import blocks, filter as filter_module

    monkeypatch.setattr(filter_module, "BATCH_BYTES", batch_bytes)
    one, two = ([f"{name}_{i} = run({i})" for i in range(7)] for name in ("left", "right"))
    documents = [Doc(f"d{d}", "\n".join(["pre = 0", *block, "post = 1"]).encode())
                 for d, block in enumerate((one, two, one))]  # two regions of one size, and a copy
    outputs = [(1, "\n".join(["a = 0", *one, "b = 1", *two, "c = 2"]))]
    expected = scanned(outputs, documents, 4)
    assert sorted(v[:3] for v in expected.values()) == [(7, 1, 1), (7, 2, 1)]
    distinct = blocks._distinct_columns(_region_batches(outputs, documents, 4), lambda: None)
    assert (len(distinct.texts), distinct.weights, distinct.first) == (2, [2, 1], [[0, 2], [1]])
    calls = []
    slow = blocks._distinct_one_by_one
    monkeypatch.setattr(blocks, "HASH_BASES", (0, 0))
    monkeypatch.setattr(blocks, "_distinct_one_by_one", lambda *a: calls.append(1) or slow(*a))
    assert scanned(outputs, documents, 4) == expected and calls == [1]


def test_blocks_whose_line_hashes_collide_make_one_entry(tmp_path):
    """Two blocks that differ in one line whose Simian line hashes are equal ("bba" and
    "a aa") have one fingerprint. Simian lists one entry per fingerprint, so the scan
    makes one snippet of both: their output places, their corpus places in corpus order,
    their counts summed, the text of the first output place; and the store saves it (its
    key is the fingerprint: two snippets of one fingerprint failed the whole save)."""
    from engine.clones.filter import RegionColumns
    from engine.clones.rules.simian import line_hash, line_key
    from engine.clones.scan import match, save_snippets
    from engine.store import Store

    assert line_hash(line_key("bba")) == line_hash(line_key("a aa"))  # the premise
    one = [f"int x{i} = f({i});" for i in range(8)]
    two = list(one)
    one[3], two[3] = "bba", "a aa"
    outputs = [(1, "\n".join(one)), (2, "\n".join(["pp", *two]))]
    documents = [Doc("d1", "\n".join(["zz", *one, "yy"]).encode()),
                 Doc("d2", "\n".join(["qq", *two, "ww"]).encode())]
    found = scan_texts(outputs, documents, 6, rules="simian")
    assert len(found) == 1
    snip = found[0]
    assert (snip.len, snip.train, snip.extract, snip.outputs) == (8, 2, 2, [(1, 1, 8), (2, 2, 9)])
    assert [(m.doc, m.start_line, m.end_line) for m in snip.matches] == [("d1", 2, 9), ("d2", 2, 9)]
    assert snip.text == outputs[0][1]

    index = _indexed(outputs, 6)
    batches = _region_batches(outputs, documents, 6, index)
    texts = dict(outputs)
    store = Store(tmp_path / "s.db")
    scan_id = store.add_scan(set_id=1, min_lines=6, state="running")
    found = match(index, RegionColumns(lambda: batches), lambda ids: ((i, texts[i]) for i in ids))
    save_snippets(store, scan_id, found, state="done")
    assert store.snippet_count(scan_id) == 1
    places = store.snippet_outputs(scan_id, snip.fingerprint)
    assert [(r["output_id"], r["start_line"]) for r in places] == [(1, 1), (2, 2)]
    assert [(r["rank"], r["doc"]) for r in store.snippet_matches(scan_id, snip.fingerprint)] == [(1, "d1"), (2, "d2")]
    store.close()


def test_packed_sort_is_lexsort():
    """The matching's sort of integer keys packed into one int64 orders rows as
    ``np.lexsort`` does, ties in index order, and falls back to it where the keys' ranges
    do not fit in 63 bits."""
    from engine.clones import blocks

    rng = np.random.default_rng(7)
    keys = (rng.integers(-5, 5, 2000), rng.integers(0, 3, 2000), rng.integers(10**6, 10**6 + 4, 2000))
    assert blocks._lexsort(keys).tolist() == np.lexsort(keys).tolist()
    wide = (rng.integers(0, 1 << 40, 500), rng.integers(0, 1 << 40, 500))  # 80 bits: lexsort itself
    assert blocks._lexsort(wide).tolist() == np.lexsort(wide).tolist()
    assert blocks._lexsort((np.zeros(0, np.int64), np.zeros(0, np.int64))).tolist() == []


def test_matching_pauses_the_garbage_collector(monkeypatch):
    """The collector is off while a scan matches and as it was after, also after an error;
    what the matching made is in the oldest generation, and nothing stays frozen."""
    import gc

    from engine.clones import scan

    seen, made = [], []
    monkeypatch.setattr(scan, "find_blocks",
                        lambda *a, **k: seen.append(gc.isenabled()) or made.append([object()]) or 1 / 0)
    index = scan.OutputIndex(6, False, "simian")
    for was in (True, False):
        (gc.enable if was else gc.disable)()
        try:
            with pytest.raises(ZeroDivisionError):
                scan.match(index, lambda: [], lambda ids: [])
            assert gc.isenabled() is was
        finally:
            gc.enable()
    assert seen == [False, False]
    oldest = {id(o) for o in gc.get_objects(generation=2)}
    assert gc.get_freeze_count() == 0 and all(id(m) in oldest for m in made)


def test_a_cancel_while_the_thread_sorts_stops_it(monkeypatch):
    """The suffix array and the blocks are found in a thread while the matching reads the
    outputs' lines; a cancel while it waits ends the matching with the cancel's error and
    the thread before its blocks."""
    import time

    from engine.clones import blocks
    from engine.clones.filter import RegionColumns

    lines = [f"value_{i} = compute({i})" for i in range(8)]
    outputs = [(1, "\n".join(["a = 0", *lines, "b = 1"]))]
    documents = [Doc("d0", "\n".join(["c = 2", *lines, "d = 3"]).encode())]
    index = _indexed(outputs, 6)
    batches = _region_batches(outputs, documents, 6, index)
    texts = dict(outputs)
    args = (index, RegionColumns(lambda: batches), lambda ids: ((i, texts[i]) for i in ids), index.fingerprints)
    assert len(blocks.find_blocks(*args).snippets) == 1
    sorted_suffixes, reported, started = blocks.sorted_suffixes, blocks._reported, []
    found: list[int] = []

    class Cancelled(Exception):
        pass

    def cancel():
        if started:
            raise Cancelled

    def slow(dense):
        started.append(1)
        time.sleep(0.6)  # the waiting matching checks for a cancel every 0.25 s
        return sorted_suffixes(dense)

    monkeypatch.setattr(blocks, "sorted_suffixes", slow)
    monkeypatch.setattr(blocks, "_reported", lambda *a: found.append(1) or reported(*a))
    t0 = time.perf_counter()
    with pytest.raises(Cancelled):
        blocks.find_blocks(*args, check=cancel)
    assert started and found == [] and time.perf_counter() - t0 >= 0.6  # the thread ended first


@pytest.mark.parametrize("seed", range(4))
def test_the_kernels_witnesses_are_the_array_operations(seed, monkeypatch):
    """Whether an interval has a witness place (rule 10): the kernel's answer, which
    compares the left neighbours pairwise up to 16 places and sorts beyond, equals the
    array operations' on random scans with intervals of 2 to 60 places; and the snippets
    are the reference's."""
    from engine.clones import blocks, linekeys

    if not linekeys.compiled:
        pytest.skip("the compiled kernel is not built")
    rng = random.Random(seed)
    block = [f"shared_{i} = table[{i}]" for i in range(8)]
    documents, outputs = [], []
    for d in range(rng.randrange(60, 100)):  # the block in many documents, its neighbours mostly shared
        left = rng.choice(["pre = 0", "start()", "pre = 0", f"own_{d} = {d}"])
        right = rng.choice(["post = 1", "post = 1", f"end_{d}()"])
        cut, end = rng.randrange(0, 3), rng.randrange(6, 9)
        documents.append(Doc(f"d{d}", "\n".join([left, *block[cut:end], right]).encode()))
    for o in range(1, 8):
        cut, end = rng.randrange(0, 3), rng.randrange(6, 9)
        outputs.append((o, "\n".join([rng.choice(["pre = 0", "start()", f"mine_{o} = {o}"]), *block[cut:end],
                                      rng.choice(["post = 1", "tail = 2"])])))
    compared = []
    real = blocks._witnessed

    def both(rows, *rest):
        kernel = real(rows, *rest)
        with monkeypatch.context() as patched:
            patched.setattr(linekeys, "compiled", False)
            arrays = real(rows, *rest)
        assert kernel.tolist() == arrays.tolist()
        compared.append((int((rows[:, 2] - rows[:, 1] + 1).max()) if len(rows) else 0, int(kernel.sum()), len(rows)))
        return kernel

    monkeypatch.setattr(blocks, "_witnessed", both)
    assert scanned(outputs, documents, 6) == reference(outputs, documents, 6)
    assert max(c[0] for c in compared) > 16 and 0 < sum(c[1] for c in compared) < sum(c[2] for c in compared)
