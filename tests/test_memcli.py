"""The memorization commands: memorized, export memorization/snippets, import simian,
sample import, outputs, and their refusals of bad input (one line, exit 2, nothing left
behind)."""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from test_scan_job import build, cli, expected, outputs

from engine.formats.memorization_json import read_memorization_json
from engine.formats.outputs_dir import merge_content, write_merged, write_output_dir
from engine.formats.snippet_text import read_snippets
from cli.main import main

SIMIAN = Path(__file__).resolve().parent / "data" / "simian"
PRIVACY_LOG = SIMIAN / "simian-2.5.10_privacy-style_GENERATED.log"
REPO_LOG = SIMIAN / "simian-2.5.10_privacy-repo-py-scan_GENERATED.log"
SHARD0 = "<your-folder>/clone/save/codeparrot/codeparrot-clean/0"
FP = re.compile(r"\b[0-9a-f]{32}\b")
HEADER = (
    "Similarity Analyser 2.5.10 - http://www.harukizaemon.com/simian\n"
    "Copyright (c) 2003-2018 Simon Harris.  All rights reserved.\n"
    "Simian is not free unless used solely for non-commercial or evaluation purposes.\n"
    "{failOnDuplication=true, ignoreCharacterCase=true, threshold=6}\n"
)
CLOSE = ("Found 6 duplicate lines in 2 blocks in 2 files\n"  # Simian's closing summary: a log without it was cut
         "Processed a total of 100 significant (120 raw) lines in 2 files\n"
         "Processing time: 0.010sec\n")


def _run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(code, err, *needles):
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert re.match(r"byrote( [a-z]+)*: error: ", lines[0]), lines[0]  # usage errors name the command
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def _open(db: Path):
    from engine.store import Store

    return Store(db)


@pytest.fixture(autouse=True)
def wide_enough(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")  # rich tables: the same width in every terminal


@pytest.fixture(scope="module")
def scanned(tmp_path_factory):
    """Scan 1 of the planted corpus of test_scan_job, and the brute-force reference."""
    root = tmp_path_factory.mktemp("memcli")
    corpus, outs = build(root)
    db = root / "byrote.db"
    assert cli("--db", str(db), "sample", "import", str(outs))[0] == 0
    code, out = cli("--db", str(db), "scan", "--rules", "lines", "--outputs", "1", "--corpus", str(corpus),
                    "--workers", "1", "--name", "planted \x1b[31m", "--foreground")
    assert code == 0, out
    store = _open(db)
    yield {"db": db, "store": store, "want": expected(), "root": root, "corpus": corpus}
    store.close()


def _by(want: dict, column: int) -> list[str]:
    return sorted(want, key=lambda fp: (-want[fp][column], fp))


# -- 4. memorized, the exports, and the store's orderings ------------------------------
def test_a_scan_keeps_its_name_for_the_listings(scanned, capsys):
    import json

    code, out = cli("--db", str(scanned["db"]), "scans", "--json")
    assert code == 0 and [s["name"] for s in json.loads(out)] == ["planted \x1b[31m"]  # data, escaped in JSON
    code, out = cli("--db", str(scanned["db"]), "scans")
    assert "planted \\x1b[31m" in out and "\x1b" not in out  # escaped on the terminal


def test_export_memorization_equals_the_store(scanned, tmp_path, capsys):
    out = tmp_path / "memorization.json"
    code, stdout, err = _run(["--db", scanned["db"], "export", "memorization", "--scan", 1, "--out", out], capsys)
    assert code == 0, err
    assert stdout == f"{out}: 9 memorized snippets\n"
    text = out.read_text()
    data = json.loads(text)
    want = scanned["want"]
    rows = list(scanned["store"].iter_snippets(1, "train"))
    assert list(data) == [r["fingerprint"] for r in rows] == _by(want, 1)
    assert data == {r["fingerprint"]: {"train": r["train"], "extract": r["extract"], "len": r["len"]} for r in rows}
    assert data == {fp: {"train": e[1], "extract": e[2], "len": e[0]} for fp, e in want.items()}
    assert text == json.dumps(data, indent=4) + "\n"  # upstream's layout
    assert read_memorization_json(out) == data


def test_an_export_to_standard_output_holds_the_file_alone(scanned):
    """``--out /dev/stdout``: the JSON alone on standard output, the command's message on
    standard error; a reader that stops early (``| head``) ends the command quietly with
    128 + SIGPIPE."""
    import subprocess
    import sys

    command = [sys.executable, "-P", "-m", "cli", "--db", str(scanned["db"]), "export", "memorization", "--scan", "1",
               "--out", "/dev/stdout"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)) == 9 and done.stderr == "/dev/stdout: 9 memorized snippets\n"
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # before the command writes anything
    err = proc.communicate(timeout=120)[1]
    assert proc.returncode == 141 and err == b""


def test_export_snippets_has_one_text_per_output_location(scanned, tmp_path, capsys):
    out = tmp_path / "snippets.txt"
    code, stdout, err = _run(["--db", scanned["db"], "export", "snippets", "--scan", 1, "--out", out], capsys)
    assert code == 0, err
    assert stdout == f"{out}: 9 memorized snippets\n"
    records = read_snippets(out)
    want = scanned["want"]
    texts = dict(outputs())
    assert [fp for fp, _ in records] == _by(want, 1)
    for fp, got in records:
        locations = want[fp][3]
        assert got == ["\n".join(texts[o].split("\n")[a - 1:b]) + "\n" for o, a, b in locations], fp
    double = dict(records)[next(fp for fp, e in want.items() if e[2] == 2 and e[3][0][0] == 1)]
    assert len(double) == 2 and double[0] == double[1]  # outputs 1 and 10 are equal


def test_memorized_prints_only_the_fingerprints_with_the_prefix(scanned, capsys):
    want = scanned["want"]
    db = scanned["db"]
    for prefix in {fp[:2] for fp in want} | {"f", "F2", "0", "ff"}:
        code, out, err = _run(["--db", db, "memorized", "--scan", 1, "--order", "extract", "--prefix", prefix],
                              capsys)
        assert code == 0, err
        matching = [fp for fp in _by(want, 2) if fp.startswith(prefix.lower())]
        assert FP.findall(out) == matching, prefix
    assert len([fp for fp in want if fp.startswith("f")]) == 2
    code, out, _ = _run(["--db", db, "memorized", "--scan", 1, "--order", "extract", "--top", 3], capsys)
    assert FP.findall(out) == _by(want, 2)[:3]
    code, out, _ = _run(["--db", db, "memorized", "--scan", 1, "--order", "len", "--top", 2], capsys)
    assert FP.findall(out) == _by(want, 0)[:2]
    row = next(line for line in out.splitlines() if FP.search(line))
    assert row.split()[1:4] == ["18", "1", "1"] and "alpha_12 = load('a', 12)" in row  # len train extract, first line


def test_store_orders_snippets_and_finds_them_by_output(scanned):
    store, want = scanned["store"], scanned["want"]
    for order, column in (("train", 1), ("extract", 2), ("len", 0)):
        rows = list(store.iter_snippets(1, order))
        assert [r["fingerprint"] for r in rows] == _by(want, column), order
        keys = [(-r[order], r["fingerprint"]) for r in rows]
        assert keys == sorted(keys)
        page = store.snippet_page(store.snippet_filter(1), order, after=rows[1], limit=3)
        assert [r["fingerprint"] for r in page] == [r["fingerprint"] for r in rows[2:5]]
    assert [r["fingerprint"] for r in store.iter_snippets(1, "fingerprint")] == sorted(want)
    assert store.snippet_count(1) == 9
    for output_id, _ in outputs():
        spans = sorted((a, b, fp) for fp, e in want.items() for o, a, b in e[3] if o == output_id)
        got = store.snippets_of_output(1, output_id)
        assert [(r["start_line"], r["end_line"], r["fingerprint"]) for r in got] == spans, output_id
        for r in got:
            assert (r["len"], r["train"], r["extract"]) == tuple(want[r["fingerprint"]][:3])
    assert [(r["start_line"], r["end_line"], r["len"]) for r in store.snippets_of_output(1, 6)] == [
        (2, 7, 6), (9, 14, 6), (16, 23, 8)]
    assert store.snippets_of_output(1, 5) == [] and store.snippets_of_output(1, 99) == []
    assert store.outputs_with_snippets(1) == 7
    from engine.errors import InputError

    with pytest.raises(InputError, match="unknown order 'size'"):
        list(store.iter_snippets(1, "size"))


# -- 5. import simian ----------------------------------------------------------------------
def simian_expected(paths, is_output=lambda p: p.rsplit("/", 1)[-1] == "all") -> dict:
    """The study's rule, written again from the log text: {fp: [len, output locations, train locations]}."""
    result: dict[str, list] = {}
    for path in paths:
        blocks: list[list] = []
        for line in Path(path).read_text().splitlines():
            if m := re.fullmatch(r"Found (\d+) duplicate lines with fingerprint ([0-9a-f]{32}) in the following files:",
                                 line):
                blocks.append([int(m[1]), m[2], []])
            elif m := re.fullmatch(r" Between lines (\d+) and (\d+) in (.+)", line):
                blocks[-1][2].append((m[3], int(m[1]), int(m[2])))
        for n, fp, locations in blocks:
            outs = [loc for loc in locations if is_output(loc[0])]
            train = [loc for loc in locations if not is_output(loc[0])]
            if outs and train:
                entry = result.setdefault(fp, [n, [], []])
                entry[1] += [loc for loc in outs if loc not in entry[1]]
                entry[2] += [loc for loc in train if loc not in entry[2]]
    return result


def _stored_simian(store, scan_id: int) -> dict:
    got = {}
    for s in store.iter_snippets(scan_id):
        fp = s["fingerprint"]
        assert s["text"] is None
        got[fp] = [s["len"], s["train"], s["extract"],
                   [(o["output_id"], o["start_line"], o["end_line"]) for o in store.snippet_outputs(scan_id, fp)],
                   [(m["rank"], m["doc"], m["start_line"], m["end_line"], m["context_start"], m["context"])
                    for m in store.snippet_matches(scan_id, fp)]]
    return got


def _as_stored(want: dict) -> dict:
    return {fp: [n, len(train), len(outs), sorted((1, a, b) for _, a, b in outs),
                 [(rank, p, a, b, None, None) for rank, (p, a, b) in enumerate(train[:50], 1)]]
            for fp, (n, outs, train) in want.items()}


def test_import_simian_of_the_privacy_style_log(tmp_path, capsys):
    db = tmp_path / "s.db"
    code, out, err = _run(["--db", db, "import", "simian", PRIVACY_LOG], capsys)
    assert code == 0, err
    assert out.startswith("scan 1: 25 memorized snippets from 1 Simian log (")
    store = _open(db)
    want = simian_expected([PRIVACY_LOG])
    assert len(want) == 25  # 27 blocks; two are clones inside `all` only
    assert _stored_simian(store, 1) == _as_stored(want)
    last = store.snippet(1, "111742866ee9bd8073fe1ca5a8fe144d")  # the log's last block, dropped upstream
    assert (last["len"], last["train"], last["extract"]) == (233, 1, 1)
    assert store.snippet_outputs(1, last["fingerprint"]) == [{"output_id": 1, "start_line": 39, "end_line": 314}]
    assert [(m["doc"], m["start_line"], m["end_line"]) for m in store.snippet_matches(1, last["fingerprint"])] == [
        (SHARD0, 40, 315)]
    two = store.snippet(1, "75a887a13d94c0685e8474d53f269ee5")
    assert (two["len"], two["train"], two["extract"]) == (6, 1, 2)
    assert [(o["start_line"], o["end_line"]) for o in store.snippet_outputs(1, two["fingerprint"])] == [
        (719, 724), (1020, 1025)]
    for only_in_all in ("b48e524729d143168afc79ba33f73cf6", "164fbf41b68b15a98e56af2e2111f58f"):
        assert not store.snippet_page(store.snippet_filter(1, prefix=only_in_all))
    scan = store.scan(1)
    assert scan["source"] == "simian" and scan["state"] == "done" and scan["set_id"] is None
    assert scan["stats"]["snippets"] == 25 and scan["stats"]["logs"] == 1
    assert [p.rsplit("/", 1)[-1] for p in scan["stats"]["output_files"]] == ["all"]
    assert scan["corpus"] == {"simian_logs": [str(PRIVACY_LOG)]}
    assert store.jobs() == []

    mem = tmp_path / "memorization.json"
    code, out, err = _run(["--db", db, "export", "memorization", "--scan", 1, "--out", mem], capsys)
    assert code == 0, err
    data = json.loads(mem.read_text())
    assert list(data) == sorted(want, key=lambda fp: (-len(want[fp][2]), fp))
    assert data == {fp: {"train": len(t), "extract": len(o), "len": n} for fp, (n, o, t) in want.items()}
    assert data["111742866ee9bd8073fe1ca5a8fe144d"] == {"train": 1, "extract": 1, "len": 233}


def test_import_simian_of_the_repository_scan_and_of_both_logs(tmp_path, capsys):
    db = tmp_path / "s.db"
    code, out, err = _run(["--db", db, "import", "simian", REPO_LOG], capsys)
    assert code == 0, err
    assert out.startswith("scan 1: 0 memorized snippets from 1 Simian log (")  # no `all` in it
    code, out, err = _run(["--db", db, "import", "simian", REPO_LOG, "--outputs-name", "eva_window.py"], capsys)
    assert code == 0, err
    assert out.startswith("scan 2: 13 memorized snippets from 1 Simian log (")
    code, out, err = _run(["--db", db, "import", "simian", PRIVACY_LOG, REPO_LOG], capsys)
    assert code == 0, err
    assert out.startswith("scan 3: 25 memorized snippets from 2 Simian logs")
    store = _open(db)
    assert store.snippet_count(1) == 0 and store.scan(1)["stats"]["snippets"] == 0
    window = simian_expected([REPO_LOG], lambda p: p.rsplit("/", 1)[-1] == "eva_window.py")
    assert len(window) == 13
    assert _stored_simian(store, 2) == _as_stored(window)
    assert sum(e[1] for e in _stored_simian(store, 2).values()) == 15
    both = simian_expected([PRIVACY_LOG, REPO_LOG])
    assert _stored_simian(store, 3) == _as_stored(both) == _stored_simian_of_one(tmp_path, capsys)
    assert store.scan(3)["stats"]["snippets"] == 25 and store.scan(3)["stats"]["logs"] == 2

    mem = tmp_path / "m.json"
    assert _run(["--db", db, "export", "memorization", "--scan", 3, "--out", mem], capsys)[0] == 0
    assert read_memorization_json(mem) == {
        fp: {"train": len(t), "extract": len(o), "len": n}
        for fp, (n, o, t) in sorted(both.items(), key=lambda kv: (-len(kv[1][2]), kv[0]))}
    empty = tmp_path / "empty.json"
    assert _run(["--db", db, "export", "memorization", "--scan", 1, "--out", empty], capsys)[0] == 0
    assert empty.read_text() == "{}\n"


def _stored_simian_of_one(tmp_path, capsys) -> dict:
    db = tmp_path / "one.db"
    assert _run(["--db", db, "import", "simian", PRIVACY_LOG], capsys)[0] == 0
    return _stored_simian(_open(db), 1)


def test_export_snippets_of_a_simian_scan_is_refused_in_one_line(tmp_path, capsys):
    """A Simian log holds no text: nothing to export, and the line says why and what to do
    (it named the output file before, as if that were at fault)."""
    db = tmp_path / "s.db"
    assert _run(["--db", db, "import", "simian", PRIVACY_LOG], capsys)[0] == 0
    out = tmp_path / "snippets.txt"
    code, _, err = _run(["--db", db, "export", "snippets", "--scan", 1, "--out", out], capsys)
    _one_line_error(code, err, "scan 1 holds no text of its snippets", "--outputs ID")
    assert "snippets.txt" not in err and not out.exists()


def test_import_simian_of_logs_against_chunked_merged_outputs(tmp_path, capsys):
    fp = "0123456789abcdef0123456789abcdef"
    logs = []
    for i, chunk in enumerate(("all_1-100", "all_101-200")):
        log = tmp_path / f"{i}.log"
        log.write_text(HEADER + f"Found 6 duplicate lines with fingerprint {fp} in the following files:\n"
                       f" Between lines 10 and 15 in /x/results/{chunk}\n Between lines 3 and 8 in /x/train/{i}\n" + CLOSE)
        logs.append(log)
    db = tmp_path / "s.db"
    code, out, err = _run(["--db", db, "import", "simian", *logs], capsys)
    assert code == 0 and "Traceback" not in err
    assert out.startswith("scan 1: 1 memorized snippet from 2 Simian logs")
    store = _open(db)
    assert [(s["train"], s["extract"]) for s in store.iter_snippets(1)] == [(2, 2)]
    assert len(store.snippet_outputs(1, fp)) == 2


# -- 6. sample import -------------------------------------------------------------------------
TEXTS = {
    1: "def f():\n    return 1\n",
    2: "a = 1\r\nb = 2\r\n",
    3: "x\n\n\ny = 'ü'\n",
    12: "no newline at the end",
}


def _stored_outputs(store, set_id: int) -> list[tuple]:
    return [(r["id"], r["text"], r["md5"], r["n_tokens"]) for r in store.outputs(set_id)]


def test_sample_import_of_separate_files(tmp_path, capsys):
    folder = tmp_path / "run1"
    write_output_dir(TEXTS.items(), folder)
    (folder / ".DS_Store").write_bytes(b"\xff")  # hidden: skipped
    db = tmp_path / "s.db"
    code, out, err = _run(["--db", db, "sample", "import", folder], capsys)
    assert code == 0, err
    assert out == f"output set 1: 4 outputs imported from {folder}\n"
    store = _open(db)
    assert _stored_outputs(store, 1) == [(i, t, hashlib.md5(t.encode()).hexdigest(), None) for i, t in TEXTS.items()]
    s = store.output_set(1)
    assert (s["name"], s["source"], s["model"], s["n"], s["count"]) == ("run1", "import", None, 4, 4)
    assert s["config"] == {"path": str(folder)}
    assert store.max_output_id(1) == 12
    # upstream's layout: the folder holding seperate/
    parent = tmp_path / "results"
    write_output_dir(TEXTS.items(), parent / "seperate")
    code, out, err = _run(["--db", db, "sample", "import", parent, "--name", "again"], capsys)
    assert code == 0, err
    assert _stored_outputs(store, 2) == _stored_outputs(store, 1) and store.output_set(2)["name"] == "again"
    code, out, err = _run(["--db", db, "outputs"], capsys)
    assert code == 0, err
    rows = [line.split() for line in out.splitlines()[1:]]
    assert [r[:5] for r in rows] == [["1", "run1", "import", "-", "4/4"], ["2", "again", "import", "-", "4/4"]]


def test_sample_import_takes_db_and_name_on_either_side_and_refuses_sampling_options(tmp_path, capsys):
    folder = tmp_path / "run1"
    write_output_dir(TEXTS.items(), folder)
    db = tmp_path / "s.db"
    assert _run(["sample", "import", "--db", db, folder], capsys)[0] == 0
    assert _run(["--db", db, "sample", "--name", "before", "import", folder], capsys)[0] == 0
    assert _run(["--db", db, "sample", "import", folder, "--name", "after"], capsys)[0] == 0
    assert [_open(db).output_set(i)["name"] for i in (1, 2, 3)] == ["run1", "before", "after"]
    code, _, err = _run(["--db", db, "sample", "--model", "m", "--top-k", "5", "import", folder], capsys)
    _one_line_error(code, err, "--model, --top-k: options of sampling, not of sample import")
    assert len(_open(db).output_sets()) == 3


def test_sample_import_of_merged_outputs(tmp_path, capsys):
    folder = tmp_path / "merged"
    folder.mkdir()
    write_merged(TEXTS.items(), folder / "all", folder / "map.json")
    spans = json.loads((folder / "map.json").read_text())
    db = tmp_path / "s.db"
    for set_id, target in enumerate((folder, folder / "all"), 1):
        code, out, err = _run(["--db", db, "sample", "import", target], capsys)
        assert code == 0, err
        assert out == f"output set {set_id}: 4 outputs imported from {target}\n"
    store = _open(db)
    got = _stored_outputs(store, 1)
    assert [(i, t) for i, t, _, _ in got] == [(i, merge_content(t)) for i, t in TEXTS.items()]
    assert [t for _, t, _, _ in got][1:3] == ["a = 1\nb = 2\n", "x\ny = 'ü'\n"]  # CRLF and empty lines gone
    for i, text, md5, _ in got:
        assert md5 == hashlib.md5(text.encode()).hexdigest() == spans[str(i)]["md5"]
    assert _stored_outputs(store, 2) == got
    assert store.output_set(1)["n"] == 4 and store.output_set(2)["name"] == "all"


# -- 7. bad input: one line, exit 2, nothing left behind -----------------------------------
@pytest.fixture
def with_outputs(tmp_path, capsys):
    """A database holding output set 1 and the planted corpus (no scan yet)."""
    corpus, outs = build(tmp_path)
    db = tmp_path / "s.db"
    assert _run(["--db", db, "sample", "import", outs], capsys)[0] == 0
    return db, corpus


def _nothing_scanned(db: Path) -> None:
    store = _open(db)
    assert store.scans() == [] and store.jobs() == []
    assert [s["id"] for s in store.output_sets()] == [1]
    assert not (store.files / "scans").exists()
    store.close()


def test_scan_refuses_spans_shorter_than_two_lines(with_outputs, capsys):
    db, corpus = with_outputs
    code, out, err = _run(["--db", db, "scan", "--outputs", 1, "--corpus", corpus, "--min-lines", 1], capsys)
    _one_line_error(code, err, "--min-lines must be from 2 to 100,000, not 1")
    assert out == ""
    _nothing_scanned(db)


def test_scan_of_an_unknown_or_empty_output_set(with_outputs, capsys):
    db, corpus = with_outputs
    code, _, err = _run(["--db", db, "scan", "--outputs", 5, "--corpus", corpus, "--foreground"], capsys)
    _one_line_error(code, err, "no output set with id 5")
    _nothing_scanned(db)
    store = _open(db)
    empty = store.add_output_set(name="empty", source="import", model=None, n=0)
    code, _, err = _run(["--db", db, "scan", "--outputs", empty, "--corpus", corpus, "--foreground"], capsys)
    _one_line_error(code, err, f"output set {empty} holds no outputs yet")
    assert store.scans() == [] and store.jobs() == []


def test_scan_with_a_text_field_the_records_lack(with_outputs, tmp_path, capsys):
    db, _ = with_outputs
    records = tmp_path / "jl"
    records.mkdir()
    lines = [json.dumps({"content": "\n".join(f"line_{i}_{j}" for j in range(8)), "repo": f"r{i}"}) for i in range(3)]
    (records / "part.jsonl").write_text("\n".join(lines) + "\n")
    for corpus in (records, records / "part.jsonl"):
        code, _, err = _run(["--db", db, "scan", "--outputs", 1, "--corpus", corpus, "--text-field", "text",
                             "--foreground"], capsys)
        _one_line_error(code, err, f"{records / 'part.jsonl'}:1: no field 'text' (fields: content, repo)")
    _nothing_scanned(db)


def test_scan_of_a_corpus_without_a_readable_document(with_outputs, tmp_path, capsys):
    db, _ = with_outputs
    latin = tmp_path / "latin"
    (latin / "sub").mkdir(parents=True)
    (latin / "a.py").write_bytes("x = 'é'\n".encode("latin-1"))
    (latin / "sub" / "b.py").write_bytes(b"\xff\xfe\x00")
    code, _, err = _run(["--db", db, "scan", "--outputs", 1, "--corpus", latin, "--foreground"], capsys)
    _one_line_error(code, err, str(latin), "the corpus has no readable document (2 not UTF-8)")
    code, _, err = _run(["--db", db, "scan", "--outputs", 1, "--corpus", tmp_path / "nope", "--foreground"], capsys)
    _one_line_error(code, err, f"{tmp_path / 'nope'}: no such file or directory")
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = _run(["--db", db, "scan", "--outputs", 1, "--corpus", empty, "--foreground"], capsys)
    _one_line_error(code, err, str(empty), "no file matches *")
    _nothing_scanned(db)


def test_scan_refuses_unknown_rules_and_case_sensitive_simian_rules(with_outputs, capsys):
    db, corpus = with_outputs
    code, _, err = _run(["--db", db, "scan", "--outputs", 1, "--corpus", corpus, "--rules", "jplag"], capsys)
    _one_line_error(code, err, "--rules", "'jplag'")
    for rules in ([], ["--rules", "simian"]):  # simian is the default
        code, _, err = _run(["--db", db, "scan", "--outputs", 1, "--corpus", corpus, *rules, "--case-sensitive"],
                            capsys)
        _one_line_error(code, err, "--case-sensitive does not go with --rules simian")
    _nothing_scanned(db)


@pytest.mark.parametrize("size", ["nan", "inf"])
def test_scan_refuses_a_shard_size_that_is_not_a_number(with_outputs, capsys, size):
    db, corpus = with_outputs
    code, _, err = _run(["--db", db, "scan", "--outputs", 1, "--corpus", corpus, "--shard-mb", size,
                         "--foreground"], capsys)
    _one_line_error(code, err, "--shard-mb")
    _nothing_scanned(db)


def test_import_simian_of_a_malformed_log(tmp_path, capsys):
    db = tmp_path / "s.db"
    bad = tmp_path / "bad.log"
    bad.write_text(HEADER + "Found 6 duplicate lines with fingerprint " + "a" * 32 + " in the following files:\n"
                   " Between lines 9 and 3 in /x/all\n")
    code, out, err = _run(["--db", db, "import", "simian", PRIVACY_LOG, bad], capsys)
    _one_line_error(code, err, f"{bad}:6: bad line span 9..3")
    assert out == "" and not db.exists()
    # fingerprints whose length differs between logs
    clash = tmp_path / "clash.log"
    clash.write_text(HEADER + "Found 7 duplicate lines with fingerprint 111742866ee9bd8073fe1ca5a8fe144d in the "
                     "following files:\n Between lines 1 and 7 in /x/all\n Between lines 1 and 7 in /x/t/0\n" + CLOSE)
    code, out, err = _run(["--db", db, "import", "simian", PRIVACY_LOG, clash], capsys)
    _one_line_error(code, err, f"{clash}:5:", "111742866ee9bd8073fe1ca5a8fe144d has 7 lines here but 233")
    assert not db.exists()


def test_sample_import_of_a_missing_or_bad_folder(tmp_path, capsys):
    db = tmp_path / "s.db"
    code, _, err = _run(["--db", db, "sample", "import", tmp_path / "nope"], capsys)
    _one_line_error(code, err, f"{tmp_path / 'nope'}: no such file or folder")
    bad = tmp_path / "bad"
    write_output_dir([(1, "fine\n")], bad)
    (bad / "2").write_bytes(b"ok\n\xff\n")
    code, _, err = _run(["--db", db, "sample", "import", bad], capsys)
    _one_line_error(code, err, f"{bad / '2'}:2: not valid UTF-8")
    assert not db.exists()


def test_sample_needs_a_model_that_can_be_loaded(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    db = tmp_path / "s.db"
    code, _, err = _run(["--db", db, "sample", "--n", 3], capsys)
    _one_line_error(code, err, "sample needs --model")
    code, _, err = _run(["--db", db, "sample"], capsys)
    _one_line_error(code, err, "sample needs --model and --n")
    # a path that names no directory: no download could help, so no word of the network
    code, _, err = _run(["--db", db, "sample", "--model", "/nonexistent/dir", "--n", 3], capsys)
    _one_line_error(code, err, "/nonexistent/dir: no such model directory")
    # a hub id, offline: it needs the network
    code, _, err = _run(["--db", db, "sample", "--model", "nonexistent-byrote/no-such-model", "--n", 3], capsys)
    line = _one_line_error(code, err, "'nonexistent-byrote/no-such-model'", "network access")
    assert "available offline" in line
    nomodel = tmp_path / "empty-model"
    nomodel.mkdir()
    code, _, err = _run(["--db", db, "sample", "--model", nomodel, "--n", 3], capsys)
    _one_line_error(code, err, str(nomodel), "no config.json")
    assert not db.exists()


@pytest.mark.parametrize("temperature", ["nan", "inf"])
def test_sample_refuses_a_temperature_that_is_not_finite(tmp_path, monkeypatch, capsys, temperature):
    import cli.follow

    launched = []
    monkeypatch.setattr(cli.follow, "launch", lambda store, ids, args: launched.append(ids) or 0)  # no worker
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    db = tmp_path / "s.db"
    code, _, err = _run(["--db", db, "sample", "--model", model, "--n", 3, "--temperature", temperature], capsys)
    assert launched == []
    _one_line_error(code, err, "--temperature")


def test_lm_train_refuses_an_existing_output_folder(tmp_path, capsys):
    corpus, _ = build(tmp_path)
    out = tmp_path / "model"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    db = tmp_path / "s.db"
    code, stdout, err = _run(["--db", db, "lm", "train", "--corpus", corpus, "--out", out, "--foreground"], capsys)
    _one_line_error(code, err, f"{out}: already exists; choose another --out or remove it")
    assert stdout == "" and [p.name for p in out.iterdir()] == ["keep.txt"] and not db.exists()
    afile = tmp_path / "afile"
    afile.write_text("x")
    code, _, err = _run(["--db", db, "lm", "train", "--corpus", corpus, "--out", afile], capsys)
    _one_line_error(code, err, f"{afile}: already exists")
    assert afile.read_text() == "x" and not db.exists()


def test_exports_of_an_unknown_scan(tmp_path, capsys):
    from engine.store import Store

    db = tmp_path / "s.db"
    Store(db).close()
    for what in ("memorization", "snippets"):
        out = tmp_path / f"{what}.out"
        code, stdout, err = _run(["--db", db, "export", what, "--scan", 99, "--out", out], capsys)
        _one_line_error(code, err, "no scan with id 99")
        assert stdout == "" and not out.exists()
    code, _, err = _run(["--db", db, "memorized", "--scan", 99], capsys)
    _one_line_error(code, err, "no scan with id 99")
    assert _open(db).scans() == []
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(("s.db", "s-files"))) == []


def test_export_into_a_directory_is_one_line(scanned, tmp_path, capsys):
    target = tmp_path / "adir"
    target.mkdir()
    code, _, err = _run(["--db", scanned["db"], "export", "memorization", "--scan", 1, "--out", target], capsys)
    _one_line_error(code, err, f"{target}: is a directory")
    assert list(target.iterdir()) == []


def test_import_simian_with_the_study_map_gives_output_ids_and_their_lines(tmp_path, capsys):
    """Locations in the merged ``all`` file become (output id, lines of that output)."""
    from engine.formats.outputs_dir import write_merged
    from engine.store import Store

    db = tmp_path / "m.db"
    texts = [(1, "a\nb\nc\n"), (2, "\n".join(f"line {i}" for i in range(10)) + "\n")]
    write_merged(texts, tmp_path / "all", tmp_path / "map.json")
    fp = "0123456789abcdef0123456789abcdef"
    log = tmp_path / "0.log"
    log.write_text(
        "Similarity Analyser 2.5.10 - http://www.harukizaemon.com/simian\n"
        "Copyright (c) 2003-2018 Simon Harris.  All rights reserved.\n"
        "Simian is not free unless used solely for non-commercial or evaluation purposes.\n"
        "{failOnDuplication=true, ignoreCharacterCase=true, ignoreCurlyBraces=true, threshold=6}\n"
        f"Found 6 duplicate lines with fingerprint {fp} in the following files:\n"
        f" Between lines 7 and 12 in {tmp_path / 'all'}\n"
        " Between lines 40 and 45 in /data/train/0\n" + CLOSE)
    code, _, err = _run(["--db", db, "sample", "import", tmp_path], capsys)
    assert code == 0, err
    code, out, err = _run(["--db", db, "import", "simian", log, "--map", tmp_path / "map.json",
                           "--outputs", 1], capsys)
    assert code == 0, err
    store = Store(db)
    scan = store.scans()[-1]
    assert scan["set_id"] == 1
    # output 2 starts at line 6 of all (output 1: a, b, c, the empty line after its last
    # newline, and its Submission line)
    assert store.snippet_outputs(scan["id"], fp) == [{"output_id": 2, "start_line": 2, "end_line": 7}]
    assert store.snippet_matches(scan["id"], fp)[0]["doc"] == "/data/train/0"


def test_results_of_an_unfinished_scan_are_refused(tmp_path, capsys):
    from engine.store import Store

    db = tmp_path / "u.db"
    store = Store(db)
    set_id = store.add_output_set(name="o", source="import", model=None, n=1)
    scan_id = store.add_scan(set_id=set_id, source="scan", corpus={}, corpus_label="x", n_outputs=1,
                             min_lines=6, case_sensitive=0, workers=1, state="running")
    store.close()
    for command in (["memorized", "--scan", scan_id], ["export", "memorization", "--scan", scan_id,
                                                       "--out", tmp_path / "m.json"]):
        code, _, err = _run(["--db", db, *command], capsys)
        _one_line_error(code, err, f"scan {scan_id} is running, not done")
    assert not (tmp_path / "m.json").exists()
