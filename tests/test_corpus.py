"""Reading a training corpus: source trees, JSON lines (plain, gzip), Parquet, hf: datasets."""
from __future__ import annotations

import codecs
import gzip
import json
import pickle

import pytest

from engine.data.corpus import Corpus, Document, Shard, open_corpus, read_document
from engine.errors import InputError


def write(path, data: bytes | str):
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    return path


def jsonl(path, *lines):
    """A JSON lines file: dicts are dumped, strings written as they are."""
    text = "".join((json.dumps(x) if isinstance(x, dict) else x) + "\n" for x in lines)
    opener = gzip.open if path.name.endswith(".gz") else open
    path.parent.mkdir(parents=True, exist_ok=True)
    with opener(path, "wt", encoding="utf-8") as fh:
        fh.write(text)
    return path


def rebuilt(corpus: Corpus) -> Corpus:
    """The corpus as another process would see it: from its spec through JSON."""
    return Corpus.from_spec(json.loads(json.dumps(corpus.spec)))


def ids_and_data(corpus: Corpus):
    return [(d.id, d.data) for d in corpus]


# --- a directory of source files ----------------------------------------------------------


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "src"
    write(root / "b.py", "b = 2\n")
    write(root / "a.py", codecs.BOM_UTF8 + b"a = 1\n")
    write(root / "pkg" / "z.py", "z = 26\n" * 10)
    write(root / "pkg" / "deep" / "m.py", b"s = '\xff\xfe'\n")  # not UTF-8: passed through
    write(root / "pkg" / "notes.txt", "notes\n")
    write(root / ".git" / "x.py", "hidden\n")
    write(root / "pkg" / "__pycache__" / "c.py", "cached\n")
    write(root / "lib" / "site-packages" / "dep.py", "third party\n")
    write(root / ".hidden.py", "dotfile\n")
    return root


def test_directory_documents_ids_order_and_bytes(tree):
    corpus = open_corpus(str(tree), glob="*.py")
    assert ids_and_data(corpus) == [
        ("a.py", b"a = 1\n"),  # BOM removed
        ("b.py", b"b = 2\n"),
        ("pkg/deep/m.py", b"s = '\xff\xfe'\n"),
        ("pkg/z.py", b"z = 26\n" * 10),
    ]
    assert all(isinstance(d, Document) for d in corpus)
    assert corpus.total_size == 9 + 6 + 9 + 70  # on disk, BOM included
    assert corpus.describe() == f"directory {tree} (4 files, 94 B, glob *.py)"


def test_directory_without_glob_takes_every_file(tree):
    corpus = open_corpus(str(tree))
    assert [d.id for d in corpus] == ["a.py", "b.py", "pkg/deep/m.py", "pkg/notes.txt", "pkg/z.py"]
    assert "all files" in corpus.describe()


def test_directory_shards_group_consecutive_files_by_size(tmp_path):
    root = tmp_path / "src"
    for name, size in [("a", 40), ("b", 40), ("c", 40), ("d", 250), ("e", 10), ("f", 10)]:
        write(root / f"{name}.py", "x" * size)
    corpus = open_corpus(str(root), shard_bytes=100)
    shards = corpus.shards()
    assert [(s.index, s.size) for s in shards] == [(0, 80), (1, 40), (2, 250), (3, 20)]
    assert [s.label for s in shards] == ["files a.py..b.py (2)", "c.py", "d.py", "files e.py..f.py (2)"]
    assert [d.id for d in corpus.documents(shards[0])] == ["a.py", "b.py"]
    assert [d.id for d in corpus.documents(3)] == ["e.py", "f.py"]  # an index works too
    assert corpus.shards() == shards  # the same list every call
    progress = []
    list(corpus.documents(0, progress.append))
    assert progress[-1] == 80
    with pytest.raises(InputError, match="no shard 4"):
        list(corpus.documents(4))


def test_directory_spec_round_trip(tree):
    corpus = open_corpus(str(tree), glob="*.py", shard_bytes=20)
    again = rebuilt(corpus)
    assert again == corpus and again is not corpus
    assert again.shards() == corpus.shards()
    assert [d for s in again.shards() for d in again.documents(s)] == list(corpus)
    assert pickle.loads(pickle.dumps(corpus)).shards() == corpus.shards()
    assert read_document(corpus.spec, "a.py") == b"a = 1\n"
    assert read_document(corpus.spec, "pkg/deep/m.py") == b"s = '\xff\xfe'\n"
    with pytest.raises(InputError, match="no document"):
        read_document(corpus.spec, "../outside.py")


def test_directory_changed_after_opening_is_an_error(tree):
    corpus = open_corpus(str(tree), glob="*.py")
    write(tree / "new.py", "new\n")
    with pytest.raises(InputError, match=r"changed since the corpus was opened \(4 files"):
        rebuilt(corpus).shards()


def test_single_source_file_is_one_document(tmp_path):
    path = write(tmp_path / "one.c", codecs.BOM_UTF8 + b"int x;\n")
    corpus = open_corpus(str(path))
    assert ids_and_data(corpus) == [("one.c", b"int x;\n")]
    assert corpus.shards() == [Shard(0, "one.c", 10)]
    assert ids_and_data(rebuilt(corpus)) == [("one.c", b"int x;\n")]
    assert corpus.describe() == f"file {path} (10 B)"


# --- record files ---------------------------------------------------------------------------


def test_json_lines_rows_are_line_numbers(tmp_path):
    path = jsonl(tmp_path / "data.jsonl", {"content": "first", "repo": "r"}, "", "   ",
                 {"content": "fourth \u00e9"}, {"content": "lone \ud800 surrogate"})
    corpus = open_corpus(str(path))
    assert ids_and_data(corpus) == [
        ("data.jsonl:1", b"first"),
        ("data.jsonl:4", "fourth \u00e9".encode()),
        ("data.jsonl:5", None),  # cannot be UTF-8
    ]
    size = path.stat().st_size
    assert corpus.shards() == [Shard(0, "data.jsonl", size)]
    progress = []
    list(corpus.documents(0, progress.append))
    assert progress[-1] == size
    assert ids_and_data(rebuilt(corpus)) == ids_and_data(corpus)
    assert read_document(corpus.spec, "data.jsonl:4") == "fourth \u00e9".encode()


def test_text_field_is_chosen(tmp_path):
    path = jsonl(tmp_path / "d.json", {"text": "t1", "content": 3}, {"text": "t2"})
    corpus = open_corpus(str(path), text_field="text")
    assert ids_and_data(corpus) == [("d.json:1", b"t1"), ("d.json:2", b"t2")]


def test_gzip_json_lines(tmp_path):
    path = jsonl(tmp_path / "file-000.json.gz", {"content": "x = 1\n"}, "", {"content": "y = 2\n"})
    corpus = open_corpus(str(path))
    assert ids_and_data(corpus) == [("file-000.json.gz:1", b"x = 1\n"), ("file-000.json.gz:3", b"y = 2\n")]
    size = path.stat().st_size
    assert corpus.total_size == size
    progress = []
    list(corpus.documents(0, progress.append))
    assert progress == [size]  # bytes on disk, not uncompressed
    assert corpus.describe() == f"records {path} (gzip JSON lines, {size} B, field 'content')"


GUNZIP = [pytest.param(True, id="isal"), pytest.param(False, id="zlib")]


@pytest.fixture(params=GUNZIP)
def gunzip_kind(request, monkeypatch):
    """gzip read by ISA-L's inflate (the isal package), and by the standard library's."""
    import sys

    if request.param:
        pytest.importorskip("isal")
    else:
        monkeypatch.setitem(sys.modules, "isal", None)  # its import fails
    return request.param


def test_both_gunzips_read_the_same_documents(tmp_path, gunzip_kind):
    from engine.data.corpus.records import gunzip

    rows = [{"content": f"def f{i}():\n    return {i}\n" * (i % 7)} for i in range(3000)]
    one, two = jsonl(tmp_path / "a.jsonl.gz", *rows[:1000]), jsonl(tmp_path / "b.jsonl.gz", *rows[1000:])
    both = write(tmp_path / "many.jsonl.gz", one.read_bytes() + two.read_bytes())  # two gzip members
    with open(both, "rb") as fh:
        reader, _ = gunzip(fh)
        assert type(reader).__module__.startswith("isal") == gunzip_kind
    got = ids_and_data(open_corpus(str(both)))
    assert got == [(f"many.jsonl.gz:{i + 1}", row["content"].encode()) for i, row in enumerate(rows)]


@pytest.fixture(params=[pytest.param(True, id="orjson"), pytest.param(False, id="json")])
def json_parser(request, monkeypatch):
    """Records parsed by orjson where installed, and by json alone."""
    from engine import formats

    if request.param and formats._orjson is None:
        pytest.skip("orjson is not installed")
    if not request.param:
        monkeypatch.setattr(formats, "_orjson", None)
    return request.param


RECORDS = [
    '{"content": "def f():\\n    return \\"[{\\"\\n", "stars": 3}',
    '{"content": "x", "content": "y = 1\\n"}',                   # the last of two equal keys
    '{"content": "nan = 1", "score": NaN, "big": 123456789012345678901234567890}',  # orjson refuses
    '{"content": "\\ud800 alone"}',                                # a lone surrogate: not UTF-8
    '{"content": "\\ud83d\\ude00 \\u00e9\\u0000"}',
    '{"content": "ok", "n": -9223372036854775809, "e": 1e400}',
]


def test_both_json_parsers_read_the_same_documents(tmp_path, json_parser):
    path = jsonl(tmp_path / "r.jsonl", *RECORDS)
    with open(path, "ab") as fh:
        fh.write(b'{"content": "\xed\xa0\x80 encoded surrogate"}\n')  # json's surrogatepass reads it
    got = ids_and_data(open_corpus(str(path)))
    assert got == [("r.jsonl:1", b'def f():\n    return "[{"\n'), ("r.jsonl:2", b"y = 1\n"), ("r.jsonl:3", b"nan = 1"),
                   ("r.jsonl:4", None), ("r.jsonl:5", "\U0001f600 \u00e9\x00".encode()), ("r.jsonl:6", b"ok"),
                   ("r.jsonl:7", None)]


@pytest.mark.parametrize("line, message", [
    ('{"content": 123456789012345678901234567890}', "field 'content' is not a string but int"),
    ('123456789012345678901234567890', "not a JSON object but int"),
    ('{"content": "a",}', None),  # json's own message
    ('{"text": "a"}', "no field 'content' (fields: text)"),
    ('{"content": NaN}', "field 'content' is not a string but float"),
])
def test_both_json_parsers_name_the_same_problem(tmp_path, json_parser, line, message):
    if message is None:
        with pytest.raises(json.JSONDecodeError) as exc:
            json.loads(line)
        message = f"malformed JSON: {exc.value.msg} (column {exc.value.colno})"
    path = jsonl(tmp_path / "r.jsonl", {"content": "fine"}, line)
    with pytest.raises(InputError) as caught:
        list(open_corpus(str(path)))
    assert str(caught.value).endswith(f"r.jsonl:2: {message}"), str(caught.value)


@pytest.mark.parametrize("damage", ["truncated", "corrupted"])
def test_damaged_gzip_names_the_file(tmp_path, gunzip_kind, damage):
    path = jsonl(tmp_path / "d.jsonl.gz", *[{"content": f"row {i}" * 50} for i in range(200)])
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    else:  # bytes in the middle of the deflate stream overwritten
        middle = len(data) // 2
        path.write_bytes(data[:middle] + b"\xff" * 64 + data[middle + 64:])
    with pytest.raises(InputError, match=r"d\.jsonl\.gz:\d+: cannot read"):
        list(open_corpus(str(path)))


def parquet(path, texts, row_group_size, **extra):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"content": texts, **extra}), path, row_group_size=row_group_size)
    return path


def test_parquet_one_shard_per_row_group(tmp_path):
    import pyarrow.parquet as pq

    path = parquet(tmp_path / "train.parquet", ["r1", "r2", "r3", "r4", "r5"], 3, stars=[1, 2, 3, 4, 5])
    corpus = open_corpus(str(path))
    shards = corpus.shards()
    assert [s.label for s in shards] == ["train.parquet row group 1/2", "train.parquet row group 2/2"]
    meta = pq.ParquetFile(path).metadata
    for shard in shards:
        group = meta.row_group(shard.index)
        assert shard.size == sum(group.column(c).total_compressed_size for c in range(group.num_columns))
    assert [(d.id, d.data) for d in corpus.documents(1)] == [("train.parquet:4", b"r4"), ("train.parquet:5", b"r5")]
    assert ids_and_data(corpus) == [(f"train.parquet:{i}", f"r{i}".encode()) for i in range(1, 6)]
    progress = []
    list(corpus.documents(0, progress.append))
    assert progress[-1] == shards[0].size
    assert ids_and_data(rebuilt(corpus)) == ids_and_data(corpus)
    assert read_document(corpus.spec, "train.parquet:5") == b"r5"


def test_parquet_missing_column_and_nulls(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"code": ["x"], "lang": ["py"]}), path)
    with pytest.raises(InputError, match=r"t\.parquet: no column 'content' \(columns: code, lang\)"):
        open_corpus(str(path))
    path = parquet(tmp_path / "n.parquet", ["a", "b", None], 2)
    corpus = open_corpus(str(path))
    assert [d.id for d in corpus.documents(0)] == ["n.parquet:1", "n.parquet:2"]
    with pytest.raises(InputError, match=r"n\.parquet:3: field 'content' is null$"):
        list(corpus)
    # found before a scan is queued: from the row group's statistics, or by reading where it keeps none
    for stats in (True, False):
        path = tmp_path / f"s{stats}.parquet"
        pq.write_table(pa.table({"content": ["a", "b", "c", None, "e"]}), path, row_group_size=2,
                       write_statistics=stats)
        with pytest.raises(InputError, match=rf"s{stats}\.parquet:4: field 'content' is null$"):
            open_corpus(str(path)).check_records()
    open_corpus(str(parquet(tmp_path / "fine.parquet", ["a", "b", "c"], 2))).check_records()


def test_directory_of_record_files(tmp_path):
    root = tmp_path / "data"
    jsonl(root / "b" / "part-1.jsonl.gz", {"content": "g1"})
    jsonl(root / "a.jsonl", {"content": "j1"}, {"content": "j2"})
    parquet(root / "c.parquet", ["p1", "p2", "p3"], 2)
    write(root / ".gitattributes", "*.gz filter=lfs\n")  # hidden: not a corpus file
    corpus = open_corpus(str(root))
    assert corpus.spec["kind"] == "records"
    assert [s.label for s in corpus.shards()] == [
        "a.jsonl", "b/part-1.jsonl.gz", "c.parquet row group 1/2", "c.parquet row group 2/2"]
    assert ids_and_data(corpus) == [
        ("a.jsonl:1", b"j1"), ("a.jsonl:2", b"j2"), ("b/part-1.jsonl.gz:1", b"g1"),
        ("c.parquet:1", b"p1"), ("c.parquet:2", b"p2"), ("c.parquet:3", b"p3")]
    assert ids_and_data(rebuilt(corpus)) == ids_and_data(corpus)
    assert corpus.describe().startswith(f"records in {root} (3 files, JSON lines, Parquet, gzip JSON lines, ")
    # with one other file among them, the directory is a tree of source files
    write(root / "README.md", "# data\n")
    mixed = open_corpus(str(root))
    assert mixed.spec["kind"] == "files"
    assert [d.id for d in mixed][-1] == "c.parquet"
    # a glob picks record files out of a mixed directory
    assert [d.id for d in open_corpus(str(root), glob="*.jsonl")] == ["a.jsonl:1", "a.jsonl:2"]


# --- errors ---------------------------------------------------------------------------------


def test_missing_path_and_no_match(tmp_path):
    with pytest.raises(InputError, match=r"nope: no such file or directory$"):
        open_corpus(str(tmp_path / "nope"))
    write(tmp_path / "src" / "a.java", "class A {}\n")
    with pytest.raises(InputError, match=r"src: no file matches \*\.py$"):
        open_corpus(str(tmp_path / "src"), glob="*.py")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"empty: no file matches \*$"):
        open_corpus(str(tmp_path / "empty"))


def test_malformed_json_names_file_and_line(tmp_path):
    path = jsonl(tmp_path / "d.jsonl", {"content": "ok"}, "", '{"content" "cut"}', {"content": "later"})
    corpus = open_corpus(str(path))  # the first record is fine
    with pytest.raises(InputError, match=r"d\.jsonl:3: malformed JSON: Expecting ':' delimiter \(column 12\)$"):
        list(corpus)
    path = jsonl(tmp_path / "bad.jsonl", "not json")
    with pytest.raises(InputError, match=r"bad\.jsonl:1: malformed JSON: Expecting value"):
        open_corpus(str(path))  # early: at opening
    path = write(tmp_path / "array.json", '[\n{"content": "x"}\n]\n')
    with pytest.raises(InputError, match=r"array\.json:1: malformed JSON: .* one object per line\)$"):
        open_corpus(str(path))


def test_missing_or_wrong_text_field_fails_at_opening(tmp_path):
    path = jsonl(tmp_path / "d.jsonl", {"code": "x", "repo_name": "r", "size": 3})
    with pytest.raises(InputError) as err:
        open_corpus(str(path))
    assert str(err.value) == f"{path}:1: no field 'content' (fields: code, repo_name, size)"
    assert ids_and_data(open_corpus(str(path), text_field="code")) == [("d.jsonl:1", b"x")]
    # in a directory: the first record of the first file is checked
    root = tmp_path / "dir"
    jsonl(root / "a.jsonl", "", {"text": "t"})
    jsonl(root / "b.jsonl", {"content": "c"})
    with pytest.raises(InputError, match=r"a\.jsonl:2: no field 'content' \(fields: text\)$"):
        open_corpus(str(root))
    path = jsonl(tmp_path / "n.jsonl", {"content": 5})
    with pytest.raises(InputError, match=r"n\.jsonl:1: field 'content' is not a string but int$"):
        open_corpus(str(path))
    path = jsonl(tmp_path / "l.jsonl", "[1, 2]")
    with pytest.raises(InputError, match=r"l\.jsonl:1: not a JSON object but list$"):
        open_corpus(str(path))


def test_bad_spec():
    with pytest.raises(InputError, match="not a corpus spec"):
        Corpus.from_spec({"kind": "unknown"})


# --- hf: datasets (offline, from local folders) -------------------------------------------


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """No network: the offline switches set, also in modules that read them at import."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    import datasets.config
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")


@pytest.fixture
def hf_folder(tmp_path):
    root = tmp_path / "hfdata"
    for part in range(3):
        jsonl(root / f"part-{part}.jsonl", *[{"content": f"p{part}r{row}", "repo": "x"} for row in range(1, 3)])
    return root


def test_hf_local_folder_shards_and_ids(offline, hf_folder):
    corpus = open_corpus(f"hf:{hf_folder}")
    shards = corpus.shards()
    assert shards == [Shard(i, f"shard {i + 1}/3", None) for i in range(3)]
    assert corpus.total_size is None
    assert [(d.id, d.data) for d in corpus.documents(1)] == [("1:1", b"p1r1"), ("1:2", b"p1r2")]
    expected = [(f"{s}:{r}", f"p{s}r{r}".encode()) for s in range(3) for r in (1, 2)]
    assert ids_and_data(corpus) == expected
    again = rebuilt(corpus)  # loads the dataset again, as a worker process would
    assert again == corpus and ids_and_data(again) == expected
    assert pickle.loads(pickle.dumps(corpus)) == corpus
    assert read_document(corpus.spec, "2:2") == b"p2r2"
    progress = []
    list(corpus.documents(0, progress.append))
    assert progress == [8]  # document bytes: sizes are unknown
    assert corpus.describe() == f"Hugging Face dataset {hf_folder} (split train, 3 shards, field 'content')"


def test_hf_missing_text_field_lists_features(offline, hf_folder):
    with pytest.raises(InputError) as err:
        open_corpus(f"hf:{hf_folder}", text_field="code")
    assert str(err.value) == f"dataset {str(hf_folder)!r} has no field 'code' (features: content, repo)"


def test_hf_dataset_that_needs_the_network(offline):
    with pytest.raises(InputError) as err:
        open_corpus("hf:no-such-user/no-such-dataset-xyz")
    message = str(err.value)
    assert message.startswith("cannot load dataset 'no-such-user/no-such-dataset-xyz': ")
    assert message.endswith("; downloads need network access")
    assert "\n" not in message


def test_hf_other_load_failures_are_one_line(offline, hf_folder):
    with pytest.raises(InputError) as err:
        open_corpus(f"hf:{hf_folder}", split="test")
    message = str(err.value)
    assert message.startswith(f"cannot load dataset {str(hf_folder)!r}: ")
    assert "test" in message and "network" not in message and "\n" not in message
    with pytest.raises(InputError, match="no dataset name after hf:"):
        open_corpus("hf:")


def test_a_record_that_is_not_utf8_is_skipped_not_fatal(tmp_path):
    from engine.data.corpus import open_corpus

    f = tmp_path / "a.jsonl"
    f.write_bytes(b'{"content": "x"}\n{"content": "\xff"}\n{"content": "y"}\n')
    docs = [(d.id, d.data) for d in open_corpus(str(f))]
    assert docs == [("a.jsonl:1", b"x"), ("a.jsonl:2", None), ("a.jsonl:3", b"y")]


def test_files_that_grew_shrank_or_are_empty_since_the_walk_are_read_whole(tmp_path):
    (tmp_path / "a.py").write_bytes(b"x = 1\n")
    (tmp_path / "b.py").write_bytes(b"y = 2\n" * 1000)
    (tmp_path / "c.py").write_bytes(b"")
    corpus = open_corpus(str(tmp_path), glob="*.py")
    (shard,) = corpus.shards()  # the sizes are walked here
    (tmp_path / "a.py").write_bytes(b"x = 1\n" * 300_000)  # larger than one read
    (tmp_path / "b.py").write_bytes(b"y")
    got = {d.id: d.data for d in corpus.documents(shard)}
    assert got == {"a.py": b"x = 1\n" * 300_000, "b.py": b"y", "c.py": b""}
