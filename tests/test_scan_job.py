"""The scan job end to end: `byrote scan` over a directory corpus against imported outputs,
checked against the brute-force reference of tests/test_scan_exact.py; a process pool
over many shards gives the serial result; a cancelled scan resumes shard by shard."""
from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO
from test_scan_exact import reference

from engine.errors import JobCancelled
from engine.store.queue import process_alive
from engine.formats.outputs_dir import write_output_dir
from cli.main import main

CONTEXT = 3


# -- the corpus and the outputs ----------------------------------------------------------
def alpha(i: int) -> str:
    return f"alpha_{i} = load('a', {i})"


def beta(i: int) -> str:
    return f"beta_{i} = Compute(b={i})"


def gamma(i: int) -> str:
    return f"gamma_{i}(x, {i});"


def crlf(i: int) -> str:
    return f"win_{i} = Path(r'C:\\\\d{i}')"


def bom(i: int) -> str:
    return f"café_{i} = 'Straße {i}'"


def latin(i: int) -> str:
    return f"latin_{i} = 'résumé {i}'"


def hidden(i: int) -> str:
    return f"hidden_{i} = secret({i})"


REPEAT = [f"rep_{i} = tick({i})" for i in range(6)]
REPEATS = 55  # more copies than the 50 corpus locations a snippet keeps


def corpus_files() -> dict[str, bytes]:
    """Relative path -> bytes of the corpus directory (hidden and skipped folders included)."""
    b_lines = []
    for i in range(25):
        b_lines.append(beta(i))
        if i % 6 == 3:
            b_lines.append("")  # an ignored line inside spans
    c_lines = ["function gamma() {"] + [gamma(i) for i in range(20)] + ["}"]
    many = []
    for i in range(REPEATS):
        many += [f"sep_{i} = {i}"] + REPEAT
    return {
        "a.py": ("\n".join(alpha(i) for i in range(30)) + "\n").encode(),
        "bom.py": b"\xef\xbb\xbf" + "\n".join(bom(i) for i in range(12)).encode(),
        "latin1.py": "\n".join(latin(i) for i in range(12)).encode("latin-1"),  # not UTF-8
        "many.py": ("\n".join(many) + "\n").encode(),
        "pkg/b.py": "\n".join(b_lines).encode(),  # no final newline
        "pkg/deep/c.js": "\n".join(c_lines).encode(),
        "win/crlf.py": ("\r\n".join(crlf(i) for i in range(20)) + "\r\n").encode(),
        ".hidden.py": "\n".join(hidden(i) for i in range(10)).encode(),
        ".git/copy.py": "\n".join(hidden(i) for i in range(10)).encode(),
        "__pycache__/copy.py": "\n".join(hidden(i) for i in range(10)).encode(),
    }


SKIPPED_BY_WALK = (".hidden.py", ".git/copy.py", "__pycache__/copy.py")
NOT_UTF8 = "latin1.py"


def outputs() -> list[tuple[int, str]]:
    b_lines = corpus_files()["pkg/b.py"].decode().split("\n")
    one = "\n".join(["# generated", *(alpha(i) for i in range(10)), "print('done')"])
    return [
        (1, one),  # a.py lines 1..10: context clipped at the top
        (2, "\n".join(["x = 0", *("\t  " + line.upper() for line in b_lines[5:18]), "{", "",
                       *(gamma(i) for i in range(12, 20)), "}"])),  # case/indent variant; c.js to its end
        (3, "\r\n".join(["# crlf", *(crlf(i) for i in range(3, 13)), "end"])),  # a CRLF output
        (4, "\n".join([*(crlf(i) for i in range(10, 20)), "", "tail()"])),  # crlf.py to its end
        (5, "\n".join([*(latin(i) for i in range(12)), *(hidden(i) for i in range(10)),
                       *(alpha(i) for i in range(20, 25))])),  # nothing: skipped files, 5 lines only
        (6, "\n".join(["start()", *REPEAT, "mid()", *REPEAT, "", *(bom(i) for i in range(8))])),
        (7, "\n".join([*(alpha(i) for i in range(12, 30)), *(beta(i) for i in range(8))])),
        (10, one),  # the same as output 1: extract 2
    ]


def build(root: Path) -> tuple[Path, Path]:
    """Write the corpus and the output folder under ``root``; return both."""
    corpus = root / "corpus"
    for rel, data in corpus_files().items():
        path = corpus / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    write_output_dir(outputs(), root / "outs")
    return corpus, root / "outs"


def readable_docs() -> list[tuple[str, str]]:
    """The documents a scan reads, in corpus order, as text (BOM removed)."""
    docs = []
    for rel, data in sorted(corpus_files().items()):
        if rel in SKIPPED_BY_WALK or rel == NOT_UTF8:
            continue
        docs.append((rel, data.decode("utf-8").removeprefix("\ufeff")))
    return docs


def corpus_stats() -> dict:
    files = {rel: data for rel, data in corpus_files().items() if rel not in SKIPPED_BY_WALK}
    return {"docs": len(files), "skipped": 1,
            "bytes": sum(len(d.removeprefix(b"\xef\xbb\xbf")) for d in files.values())}


def expected(k: int = 6, case_sensitive: bool = False) -> dict:
    want = reference(outputs(), readable_docs(), k, case_sensitive)
    for entry in want.values():
        entry[3].sort()
    return want


def cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(argv))
    return code, out.getvalue()


# -- reading a scan back from the store ----------------------------------------------------
def found(store, scan_id: int) -> dict:
    """{fingerprint: [len, train, extract, output locations, match locations]} as the reference."""
    got = {}
    for s in store.iter_snippets(scan_id, "fingerprint"):
        fp = s["fingerprint"]
        got[fp] = [s["len"], s["train"], s["extract"],
                   [(o["output_id"], o["start_line"], o["end_line"]) for o in store.snippet_outputs(scan_id, fp)],
                   [(m["doc"], m["start_line"], m["end_line"]) for m in store.snippet_matches(scan_id, fp)]]
    return got


def everything(store, scan_id: int) -> dict:
    """Every stored column of a scan's results, scan id left out."""
    return {s["fingerprint"]: (s, store.snippet_outputs(scan_id, s["fingerprint"]),
                               store.snippet_matches(scan_id, s["fingerprint"]))
            for s in store.iter_snippets(scan_id, "fingerprint")}


@pytest.fixture(scope="module")
def scanned(tmp_path_factory):
    """One database: outputs imported (set 1), scan 1 serial, scan 2 over many shards in a pool."""
    from engine.store import Store

    root = tmp_path_factory.mktemp("scanjob")
    corpus, outs = build(root)
    db = str(root / "byrote.db")
    code, out = cli("--db", db, "sample", "import", str(outs))
    assert code == 0, out
    code, serial_out = cli("--db", db, "scan", "--rules", "lines", "--outputs", "1", "--corpus", str(corpus), "--workers", "1",
                           "--foreground")
    assert code == 0, serial_out
    code, pool_out = cli("--db", db, "scan", "--rules", "lines", "--outputs", "1", "--corpus", str(corpus), "--workers", "2",
                         "--shard-mb", "0.001", "--foreground")
    assert code == 0, pool_out
    store = Store(db)
    yield {"store": store, "corpus": corpus, "db": db, "serial_out": serial_out, "pool_out": pool_out}
    store.close()


# -- 1. the scan job through the command line --------------------------------------------
def test_scan_equals_the_brute_force_reference(scanned):
    store = scanned["store"]
    want = expected()
    assert found(store, 1) == want
    # the planted copies, by hand
    a10 = next(fp for fp, e in want.items() if e[3] == [(1, 2, 11), (10, 2, 11)])
    assert want[a10][:3] == [10, 1, 2] and want[a10][4] == [("a.py", 1, 10)]
    rep = next(fp for fp, e in want.items() if e[0] == 6 and e[4][0][0] == "many.py")
    assert want[rep][1:3] == [REPEATS, 2] and len(want[rep][4]) == 50
    assert [m[1] for m in want[rep][4]] == [2 + 7 * i for i in range(50)]  # the first 50, in order
    assert {loc[0] for e in want.values() for loc in e[3]} == {1, 2, 3, 4, 6, 7, 10}  # not output 5
    docs = {m[0] for e in want.values() for m in e[4]}
    assert docs == {"a.py", "bom.py", "many.py", "pkg/b.py", "pkg/deep/c.js", "win/crlf.py"}
    assert sorted((e[0], e[1], e[2]) for e in want.values()) == [
        (6, REPEATS, 2), (8, 1, 1), (8, 1, 1), (8, 1, 1), (10, 1, 1), (10, 1, 1), (10, 1, 2), (12, 1, 1), (18, 1, 1)]
    # an ignored line ends output 2's b.py copy: its c.js copy is a snippet of its own
    assert sorted(loc for e in want.values() for loc in e[3] if loc[0] == 2) == [(2, 2, 14), (2, 17, 24)]


def test_snippet_text_is_the_first_output_location(scanned):
    store = scanned["store"]
    texts = dict(outputs())
    for s in store.iter_snippets(1):
        first = store.snippet_outputs(1, s["fingerprint"])[0]
        lines = texts[first["output_id"]].split("\n")[first["start_line"] - 1:first["end_line"]]
        assert s["text"] == "\n".join(line.removesuffix("\r") for line in lines)
    crlf_text = next(s["text"] for s in store.iter_snippets(1) if s["text"].startswith(crlf(3)))
    assert "\r" not in crlf_text and crlf_text.split("\n") == [crlf(i) for i in range(3, 13)]


def test_match_context_is_three_lines_clipped_at_the_document_edges(scanned):
    store = scanned["store"]
    docs = dict(readable_docs())
    shapes = set()
    for s in store.iter_snippets(1):
        for m in store.snippet_matches(1, s["fingerprint"]):
            lines = [line.removesuffix("\r") for line in docs[m["doc"]].split("\n")]
            lo, hi = max(m["start_line"] - CONTEXT, 1), min(m["end_line"] + CONTEXT, len(lines))
            assert m["context_start"] == lo, m
            assert m["context"] == "\n".join(lines[lo - 1:hi]), m
            assert "\r" not in m["context"]
            shapes.add(("top" if lo == 1 and m["start_line"] <= CONTEXT else "") +
                       ("bottom" if hi == len(lines) and m["end_line"] + CONTEXT > len(lines) else ""))
    assert {"top", "bottom", ""} <= shapes  # clipped at each edge, and whole
    # by hand: a.py lines 1..10 keep lines 1..13; c.js to its last line; crlf.py 4..13 without CR
    by_doc = {(m["doc"], m["start_line"]): m for s in store.iter_snippets(1)
              for m in store.snippet_matches(1, s["fingerprint"])}
    a = by_doc[("a.py", 1)]
    assert (a["end_line"], a["context_start"]) == (10, 1) and a["context"].split("\n") == [alpha(i) for i in range(13)]
    c = by_doc[("pkg/deep/c.js", 14)]
    assert c["end_line"] == 21 and c["context_start"] == 11
    assert c["context"].split("\n") == [gamma(i) for i in range(9, 20)] + ["}"]
    w = by_doc[("win/crlf.py", 4)]
    assert w["context_start"] == 1 and w["context"].split("\n") == [crlf(i) for i in range(16)]


def test_scan_skips_and_counts_non_utf8_and_prints_its_summary(scanned):
    store = scanned["store"]
    scan = store.scan(1)
    stats = corpus_stats()
    assert {k: scan["stats"][k] for k in ("docs", "skipped", "bytes")} == stats
    assert stats == {"docs": 7, "skipped": 1, "bytes": scan["corpus"]["bytes"] - 3}  # the BOM is not counted
    assert scan["stats"]["snippets"] == 9 and scan["stats"]["outputs"] == 8
    assert scan["stats"]["memorized_outputs"] == 7 == store.outputs_with_snippets(1)
    assert scan["state"] == "done" and scan["n_shards"] == 1 and scan["min_lines"] == 6
    assert scan["n_outputs"] == 10 and scan["case_sensitive"] == 0
    out = scanned["serial_out"]
    assert out.startswith("scan 1 (job 1): 8 outputs of set 1 against directory ")
    assert "scan 1: 9 memorized snippets; 7 of 8 outputs hold at least one (7 documents, 1 skipped as not UTF-8" in \
        " ".join(out.split())
    job = store.job(1)
    assert job["kind"] == "scan" and job["state"] == "done" and job["params"] == {"scan_id": 1}


def test_case_sensitive_scan_with_shorter_spans(tmp_path):
    from engine.store import Store

    corpus, outs = build(tmp_path)
    db = str(tmp_path / "s.db")
    assert cli("--db", db, "sample", "import", str(outs))[0] == 0
    code, out = cli("--db", db, "scan", "--rules", "lines", "--outputs", "1", "--corpus", str(corpus), "--min-lines", "4",
                    "--case-sensitive", "--workers", "1", "--foreground")
    assert code == 0, out
    store = Store(db)
    want = expected(4, case_sensitive=True)
    assert found(store, 1) == want
    assert all(o != 2 or d == "pkg/deep/c.js" for e in want.values() for o, _, _ in e[3] for d, _, _ in e[4])
    assert store.scan(1)["min_lines"] == 4 and store.scan(1)["case_sensitive"] == 1
    store.close()


# -- 2. a process pool over many shards gives the serial result -------------------------
def test_parallel_scan_over_many_shards_equals_the_serial_one(scanned):
    store = scanned["store"]
    serial, pool = store.scan(1), store.scan(2)
    assert pool["workers"] == 2 and pool["corpus"]["shard_bytes"] == int(0.001 * (1 << 20))
    shards = store.finished_shards(2)
    assert pool["n_shards"] == len(shards) >= 5 and sorted(shards) == list(range(pool["n_shards"]))
    assert everything(store, 2) == everything(store, 1)
    for key in ("docs", "skipped", "bytes", "snippets", "outputs", "memorized_outputs"):
        assert pool["stats"][key] == serial["stats"][key], key
    assert {k: pool["stats"][k] for k in ("docs", "skipped", "bytes")} == corpus_stats()
    assert sum(r["docs"] for r in shards.values()) == 7 and sum(r["skipped"] for r in shards.values()) == 1
    assert pool["bytes_total"] == serial["bytes_total"] == pool["corpus"]["bytes"]
    for r in shards.values():  # the regions files the shards left, one per shard, and the pass's time
        assert (store.files / r["path"]).is_file()
        assert 0 < r["seconds"] < 60 and 0 <= r["cpu_seconds"] < 60
    assert all(0 < r["seconds"] < 60 for r in store.finished_shards(1).values())  # in-process too
    assert sorted(p.name for p in (store.scan_dir(2) / "shards").iterdir()) == sorted(
        f"{i}.npz" for i in range(pool["n_shards"]))


# -- 3. a cancelled scan resumes shard by shard --------------------------------------------
class FakeCtx:
    """What run_scan needs of a job context; cancels once ``cancel_after`` shards are finished."""

    def __init__(self, store, scan_id: int, cancel_after: int | None = None):
        self.store, self.scan_id, self.cancel_after = store, scan_id, cancel_after
        self.reports: list[tuple[float, str | None]] = []
        self.checks = 0

    def progress(self, fraction: float, message: str | None = None, force: bool = False) -> None:
        self.reports.append((fraction, message))

    def check_cancel(self) -> None:
        self.checks += 1
        if self.cancel_after is not None and len(self.store.finished_shards(self.scan_id)) >= self.cancel_after:
            raise JobCancelled()


def _new_scan(store, corpus_dir: Path, workers: int, shard_bytes: int = 300) -> int:
    from engine.data.corpus import open_corpus

    corpus = open_corpus(str(corpus_dir), shard_bytes=shard_bytes)
    return store.add_scan(set_id=1, source="scan", rules="lines", corpus=corpus.spec, corpus_label=corpus.describe(),
                          n_outputs=store.max_output_id(1), min_lines=6, case_sensitive=0, workers=workers)


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_cancelled_scan_resumes_without_redoing_finished_shards(store, tmp_path, workers):
    import hashlib

    from engine.clones.scan import run_scan

    corpus, _ = build(tmp_path)
    set_id = store.add_output_set(name="planted", source="import", model=None, n=8)
    store.add_outputs(set_id, [(i, hashlib.md5(t.encode()).hexdigest(), t, None) for i, t in outputs()])
    scan_id = _new_scan(store, corpus, workers)

    first = FakeCtx(store, scan_id, cancel_after=1)
    with pytest.raises(JobCancelled):
        run_scan(store, scan_id, first)
    done = store.finished_shards(scan_id)
    assert len(done) == 1 and first.checks >= 2
    [(kept, row)] = done.items()  # shard 0 when serial; in a pool whichever finished first
    assert workers == 2 or kept == 0
    n_shards = store.scan(scan_id)["n_shards"]
    assert n_shards >= 4
    assert store.snippet_count(scan_id) == 0 and store.scan(scan_id)["state"] == "running"
    region_file = store.files / row["path"]
    stamp = region_file.stat().st_mtime_ns
    if workers == 1:  # the shard cut short left no temporary file (the pool's: see below)
        assert sorted(p.name for p in (store.scan_dir(scan_id) / "shards").iterdir()) == [f"{kept}.npz"]

    second = FakeCtx(store, scan_id)
    run_scan(store, scan_id, second)
    again = store.finished_shards(scan_id)
    assert sorted(again) == list(range(n_shards))
    assert again[kept] == row  # not redone: same row, same finished time
    assert region_file.stat().st_mtime_ns == stamp
    assert all(again[i]["finished"] > row["finished"] for i in range(n_shards) if i != kept)
    assert second.reports[-1][0] == 1.0 and store.scan(scan_id)["state"] == "done"

    whole = _new_scan(store, corpus, workers)
    run_scan(store, whole, FakeCtx(store, whole))
    assert everything(store, scan_id) == everything(store, whole)
    assert found(store, scan_id) == expected()
    resumed, clean = store.scan(scan_id)["stats"], store.scan(whole)["stats"]
    for key in ("docs", "skipped", "bytes", "snippets", "outputs", "memorized_outputs"):
        assert resumed[key] == clean[key], key
    assert {k: resumed[k] for k in ("docs", "skipped", "bytes")} == corpus_stats()


def _temporary_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) if folder.is_dir() else []


def test_cancelled_pool_scan_leaves_no_temporary_file(store, tmp_path):
    import hashlib

    from engine.clones.scan import run_scan

    hot = [f"hot_{i} = call({i})" for i in range(6)]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.py").write_text("\n".join(hot) + "\n")  # shard 0: done at once
    # shard 1: one region every 7 lines, some seconds of filtering
    (corpus / "b.py").write_text("".join("\n".join(hot) + f"\ncold_{r}\n" for r in range(80000)))
    text = "\n".join(hot)
    set_id = store.add_output_set(name="hot", source="import", model=None, n=1)
    store.add_outputs(set_id, [(1, hashlib.md5(text.encode()).hexdigest(), text, None)])
    scan_id = _new_scan(store, corpus, workers=2, shard_bytes=1000)
    shards = store.scan_dir(scan_id) / "shards"

    class CancelMidShard(FakeCtx):
        def check_cancel(self) -> None:  # once shard 0 is done and a worker is writing shard 1
            self.checks += 1
            if self.store.finished_shards(self.scan_id):
                raise JobCancelled()

    ctx = CancelMidShard(store, scan_id)
    with pytest.raises(JobCancelled):
        run_scan(store, scan_id, ctx)
    assert sorted(store.finished_shards(scan_id)) == [0]
    assert _temporary_files(shards) == []


def test_rerunning_an_unfinished_scan_resumes_it_and_odd_file_names_survive(store, tmp_path):
    import hashlib
    import os

    from engine.data.corpus import open_corpus
    from engine.launch import check_scan, enqueue_scan

    body = "\n".join(f"odd_{i} = {i}" for i in range(8))
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / os.fsdecode(b"caf\xe9.py")).write_text(body + "\n")  # a file name that is not UTF-8
    set_id = store.add_output_set(name="o", source="import", model=None, n=1)
    store.add_outputs(set_id, [(1, hashlib.md5(body.encode()).hexdigest(), body, None)])
    opened = open_corpus(str(corpus))
    scan_id, job, _ = enqueue_scan(store, check_scan(store, set_id, 6), opened, workers=1)
    store.request_cancel(job)
    store.update_scan(scan_id, state="cancelled")
    again, job2, _ = enqueue_scan(store, check_scan(store, set_id, 6), opened, workers=1)
    assert again == scan_id and job2 != job                     # the same scan, a new job
    assert enqueue_scan(store, check_scan(store, set_id, 4), opened, workers=1)[0] != scan_id  # other settings: new scan
    from engine.jobs import run_worker

    run_worker(store, idle_exit_s=0.1)
    assert store.scan(scan_id)["state"] == "done"
    [snippet] = store.iter_snippets(scan_id)
    assert store.snippet_matches(scan_id, snippet["fingerprint"])[0]["doc"] == "caf\\udce9.py"


def test_the_scan_pool_runs_no_module_of_the_working_directory(tmp_path, monkeypatch):
    """A ``multiprocessing.py`` planted where byrote is started never runs in the scan's
    worker processes (they start with a safe path, as ``-P`` gives)."""
    root = tmp_path / "data"
    root.mkdir()
    corpus, outs = build(root)
    planted = tmp_path / "here"
    planted.mkdir()
    marker = tmp_path / "ran.txt"
    (planted / "multiprocessing.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\nraise SystemExit(3)\n")
    db = str(tmp_path / "b.db")
    assert cli("--db", db, "sample", "import", str(outs))[0] == 0
    monkeypatch.chdir(planted)
    code, out = cli("--db", db, "scan", "--rules", "lines", "--outputs", "1", "--corpus", str(corpus), "--workers", "2",
                    "--shard-mb", "0.001", "--foreground")
    assert not marker.exists()
    assert code == 0, out


def _children(pid: int) -> set[int]:
    """The live processes whose parent is ``pid`` (from /proc)."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            state, ppid = stat.rsplit(")", 1)[1].split()[:2]
            if int(ppid) == pid and state != "Z":
                found.add(int(entry))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_scan_pool_dies_with_its_worker(tmp_path):
    """A worker killed by SIGKILL mid-scan leaves no pool process behind: each watches its
    parent and goes within a few seconds (issue 15, part 6)."""
    corpus, outs = build(tmp_path / "data")
    block = "".join(f"value_{i} = compute({i}, {i * 7})\n" for i in range(2000)).encode()
    for i in range(120):  # shards of 0.1 MB: the pool is busy for seconds
        (corpus / "big" / f"{i // 10}").mkdir(parents=True, exist_ok=True)
        (corpus / "big" / f"{i // 10}" / f"m{i}.py").write_bytes(block * 4)
    db = str(tmp_path / "b.db")
    assert cli("--db", db, "sample", "import", str(outs))[0] == 0
    proc = subprocess.Popen([sys.executable, "-P", "-m", "cli.main", "--db", db, "scan", "--outputs", "1", "--corpus",
                             str(corpus), "--workers", "3", "--shard-mb", "0.1", "--foreground"],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    pool: set[int] = set()
    try:
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None:
            pool = _children(proc.pid)
            if len(pool) >= 2:
                break
            time.sleep(0.05)
        assert len(pool) >= 2, proc.stderr.read().decode() if proc.poll() is not None else "no pool started"
        time.sleep(0.2)  # the workers starting (importing, loading the index) or filtering
        pool |= _children(proc.pid)
        proc.kill()
        proc.wait()
        end = time.time() + 5
        while time.time() < end and any(map(process_alive, pool)):
            time.sleep(0.1)
        left = [pid for pid in pool if process_alive(pid)]
        assert not left, f"pool processes outlived their worker by 5 s: {left}"
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in pool:  # whatever the test's outcome, nothing is left running
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def test_a_full_disk_fails_the_scan_in_one_line_and_leaves_no_partial_shard(tmp_path, monkeypatch, capsys):
    """The disk fills while a shard is written: the job fails with the reason (no
    traceback, no log line needed), the partial shard file is removed, the scan is
    marked failed, and ``--foreground`` exits 2 like any bad input (issue 15, part 4)."""
    import errno

    import engine.clones.scan as scan_module
    from engine.store import Store

    corpus, outs = build(tmp_path / "data")
    db = str(tmp_path / "b.db")
    assert cli("--db", db, "sample", "import", str(outs))[0] == 0

    def full(path, batches):  # the shard's temporary file half written when the disk fills
        from engine.fsutil import atomic_path

        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            fh.write(b"half a shard")
            raise OSError(errno.ENOSPC, "No space left on device", str(tmp))

    monkeypatch.setattr(scan_module, "write_regions", full)
    capsys.readouterr()
    code = main(["--db", db, "scan", "--outputs", "1", "--corpus", str(corpus), "--foreground"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "No space left on device" in err and "Traceback" not in err and len(err.splitlines()) == 1
    store = Store(db)
    job = store.jobs()[-1]
    assert (job["state"], job["failure"]) == ("failed", "input") and "details in" not in job["error"]
    assert store.scans()[-1]["state"] == "failed"
    assert not [p for p in (store.files / "scans").rglob("*") if p.is_file() and "shards" in p.parts]


def test_a_full_disk_while_the_corpus_places_are_spilled_saves_nothing(tmp_path, monkeypatch, capsys):
    """The corpus places are spilled in a thread while the snippets are written: a full
    disk there fails the scan in one line, exit 2, and the transaction leaves no snippet."""
    import errno

    import engine.clones.scan as scan_module
    from engine.store import Store

    corpus, outs = build(tmp_path / "data")
    db = str(tmp_path / "b.db")
    assert cli("--db", db, "sample", "import", str(outs))[0] == 0
    spill = scan_module._spill_matches

    def full(found, file):
        spill(found, file)
        raise OSError(errno.ENOSPC, "No space left on device", "spill")

    monkeypatch.setattr(scan_module, "_spill_matches", full)
    capsys.readouterr()
    code = main(["--db", db, "scan", "--outputs", "1", "--corpus", str(corpus), "--foreground"])
    err = capsys.readouterr().err
    assert code == 2 and "No space left on device" in err and len(err.splitlines()) == 1, err
    store = Store(db)
    scan_id = store.scans()[-1]["id"]
    assert store.scans()[-1]["state"] == "failed" and store.snippet_count(scan_id) == 0
    assert not [p for p in store.scan_dir(scan_id).iterdir() if p.is_file()]  # the spill file too


def test_the_corpus_places_spill_reads_back_every_row_and_refuses_a_cut_record(tmp_path):
    """The spill of a scan's corpus places: records of SPILL_ROWS rows, each read back
    whole (ranks counted per snippet, in corpus order); a record cut short is an error,
    never a silent end of the places."""
    import tempfile
    from types import SimpleNamespace

    import engine.clones.scan as scan_module
    from engine.clones.memorized import Match

    a, b = 0, 1  # the snippets, by their numbers in the found snippets' columns
    places = [(a if i % 3 else b, Match(f"doc{i}.py", i, i + 5, max(i - 2, 1), f"line {i}\r\n\u00e9\ud800"))
              for i in range(1, scan_module.SPILL_ROWS * 2 + 7)]
    found = SimpleNamespace(snippets=SimpleNamespace(fingerprint=["a" * 32, "b" * 32]), matches=lambda: iter(places))
    with tempfile.TemporaryFile("w+b", dir=tmp_path) as spill:
        scan_module._spill_matches(found, spill)
        spill.seek(0)
        rows = []
        while part := scan_module._read_spilled(spill):
            rows += part
        assert len(rows) == len(places) and rows[0] == ("a" * 32, 1, "doc1.py", 1, 6, 1, "line 1\r\n\u00e9\ud800")
        assert rows[2][:2] == ("b" * 32, 1) and rows[-1][1] == sum(1 for s, _ in places if s == places[-1][0])
        spill.truncate(spill.seek(0, os.SEEK_END) - 10)
        spill.seek(0)
        with pytest.raises(OSError, match="ends inside a record"):
            while scan_module._read_spilled(spill):
                pass


def test_a_pool_broken_before_its_shards_says_so_in_one_line():
    """A pool process that died while starting (before the index load is sent to it)
    fails the scan with the pool's one-line message, not a traceback of the pool's."""
    from concurrent.futures.process import BrokenProcessPool

    import engine.clones.scan as scan_module

    class Broken:
        def submit(self, fn, *args):
            raise BrokenProcessPool("A child process terminated abruptly")

    with pytest.raises(RuntimeError, match="a scan worker process died"):
        scan_module._submit(Broken(), scan_module._load_index)
