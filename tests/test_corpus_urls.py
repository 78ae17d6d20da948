"""Corpora at a URL, read through fsspec (engine.data.corpus.urls): the same documents,
shards and scan results as the same files on local disk; a scheme without a driver is one
line, exit status 2, nothing queued."""
from __future__ import annotations

import gzip
import json
import uuid

import pytest

from engine.data.corpus import open_corpus
from engine.data.corpus.base import Corpus
from engine.errors import InputError
from engine.store import Store

FILES = {
    "pkg/a.py": b"\xef\xbb\xbfimport os\n" + b"".join(f"value_{i} = compute({i})\n".encode() for i in range(12)),
    "pkg/b.py": b"def f():\n    return 1\n",
    "pkg/.hidden.py": b"secret = 1\n",
    "__pycache__/c.py": b"cached = 1\n",
    "notes.txt": b"not python\n",
}


@pytest.fixture
def both(tmp_path):
    """The same files in a local folder and at a memory:// URL (this process's)."""
    import fsspec

    url = f"memory://corpus-{uuid.uuid4().hex}"
    fs = fsspec.filesystem("memory")
    for rel, data in FILES.items():
        (tmp_path / "local" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "local" / rel).write_bytes(data)
        fs.pipe(f"{url.removeprefix('memory://')}/{rel}", data)
    records = b"".join(json.dumps({"content": f"x = {i}\n" * 3}).encode() + b"\n" for i in range(5))
    (tmp_path / "records").mkdir()
    (tmp_path / "records" / "r.jsonl.gz").write_bytes(gzip.compress(records))
    fs.pipe(f"{url.removeprefix('memory://')}-records/r.jsonl.gz", gzip.compress(records))
    yield tmp_path / "local", url
    fs.rm(url.removeprefix("memory://"), recursive=True)


def docs(corpus: Corpus) -> list[tuple[str, bytes | None]]:
    return [(d.id, d.data) for d in corpus]


def test_a_url_folder_reads_as_the_local_one(both):
    local, url = both
    for glob in ("*.py", None):
        here, there = open_corpus(str(local), glob=glob), open_corpus(url, glob=glob)
        assert docs(there) == docs(here) and [s.size for s in there.shards()] == [s.size for s in here.shards()]
        assert docs(Corpus.from_spec(there.spec)) == docs(there)  # rebuilt from its spec, as a worker does
    ids = [d for d, _ in docs(open_corpus(url, glob="*.py"))]
    assert ids == ["pkg/a.py", "pkg/b.py"]  # hidden files and skipped folders left out, as locally
    assert open_corpus(url, glob="*.py").read("pkg/a.py").startswith(b"import os")  # the BOM dropped
    gz_here = open_corpus(str(local.parent / "records" / "r.jsonl.gz"))
    gz_there = open_corpus(url + "-records/r.jsonl.gz")
    assert docs(gz_there) == docs(gz_here) and len(docs(gz_there)) == 5
    assert "memory://" in open_corpus(url, glob="*.py").describe()


def test_a_scan_of_a_url_corpus_equals_the_local_scan(both, tmp_path):
    from engine.clones.scan import run_scan
    from engine.launch import check_scan, enqueue_scan, open_checked_corpus

    local, url = both
    output = "\n".join(f"value_{i} = compute({i})" for i in range(2, 10)) + "\n"

    def scan(source: str, db) -> list:
        store = Store(db)
        set_id = store.add_output_set(name="o", source="import", n=1)
        store.add_outputs(set_id, [(1, "m", output, None)])
        scan_id, _, _ = enqueue_scan(store, check_scan(store, set_id, 6), open_checked_corpus(source, glob="*.py"))
        run_scan(store, scan_id)
        rows = store.snippet_page(store.snippet_filter(scan_id), "fingerprint")
        return [(r["fingerprint"], r["train"], store.snippet_matches(scan_id, r["fingerprint"])) for r in rows]

    there = scan(url, tmp_path / "url.db")
    assert there and there == scan(str(local), tmp_path / "local.db")


def test_a_scheme_without_a_driver_is_one_line(tmp_path, capsys):
    from cli.main import main

    for source, said in (("nosuch://bucket/corpus", "no fsspec driver for nosuch://"),
                         ("s3://bucket/corpus", "reading s3:// needs a package that is not installed"),
                         ("memory://nothing-here", "no such file or folder")):
        with pytest.raises(InputError, match=said):
            open_corpus(source)
    db = tmp_path / "t.db"
    store = Store(db)
    store.add_outputs(store.add_output_set(name="o", source="import", n=1), [(1, "m", "x = 1\n" * 8, None)])
    store.close()
    assert main(["--db", str(db), "scan", "--outputs", "1", "--corpus", "nosuch://bucket/corpus"]) == 2
    err = capsys.readouterr().err.strip()
    assert "no fsspec driver for nosuch://" in err and len(err.splitlines()) == 1
    assert Store(db).jobs() == [] and Store(db).scans() == []
