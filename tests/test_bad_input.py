"""The bad-input promise, case by case (issue 15): malformed files, hostile JSON, ids
beyond SQLite's range, foreign databases, missing paths, unknown names and out-of-range
settings each give one line naming the problem (file:line where there is one) and exit
status 2: no traceback, no output, and nothing left behind, neither rows in the database
nor files on disk."""
from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Callable

import pytest
from test_cli_errors import GREAT_LINE
from test_memcli import CLOSE as SIMIAN_END, HEADER as SIMIAN_HEAD

from cli.main import main
from engine.formats.outputs_dir import write_output_dir

BIG = str(2**63)  # one above what SQLite stores
HUGE = "9" * 5000  # more digits than int() reads from text
DEEP = "[" * 100_000 + "]" * 100_000
SIMIAN_BLOCK = ("Found 6 duplicate lines with fingerprint 0123456789abcdef0123456789abcdef in the following files:\n"
                " Between lines 1 and 6 in /o/all\n Between lines 3 and 8 in /t/0\n")


NO_TENSORS = (2).to_bytes(8, "little") + b"{}"  # a safetensors file of no tensor: its header alone
_HEADER = b'{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}'
ONE_TENSOR_HEADER = len(_HEADER).to_bytes(8, "little") + _HEADER  # its 16 bytes of data cut off


class Base:
    """A folder with a database holding one imported output set, a good GREAT dataset, a
    corpus folder and a local model directory; cases add their bad parts to it."""

    def __init__(self, root: Path):
        self.root = root
        self.db = root / "b.db"
        write_output_dir([(i, "".join(f"line_{i}_{k} = {k}\n" for k in range(8))) for i in (1, 2, 3)], root / "outs")
        assert main(["--db", str(self.db), "sample", "import", str(root / "outs")]) == 0
        good = dict(GREAT_LINE, has_bug=False, bug_kind=0, bug_kind_name="NONE", error_location=0,
                    repair_targets=[], repair_candidates=[2, 10, "a", 4, "b"])
        self.great = self.write("good.jsonl", json.dumps(GREAT_LINE) + "\n" + json.dumps(good) + "\n")
        self.write("corpus/a.py", "".join(f"line_1_{k} = {k}\n" for k in range(8)))
        self.write("model/config.json", json.dumps({"model_type": "gpt2", "n_positions": 64}))
        self.write("model/model.safetensors", NO_TENSORS)

    def write(self, rel: str, text: str | bytes) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
        return path

    def path(self, rel: str) -> str:
        return str(self.root / rel)


def _sqlite(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path)
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()


def _foreign(b: Base, *statements: str) -> list[str]:
    _sqlite(b.root / "other.db", *statements)
    return ["--db", b.path("other.db"), "jobs"]


def _study(b: Base, *extra: str, train: str | None = None, valid: str | None = None) -> list[str]:
    return ["study", "--task", "varmisuse", "--model", "great", "--preset", "quick", "--epochs", "1",
            "--train", train or str(b.great), "--valid", valid or str(b.great), *extra]


def _scan(b: Base, *extra: str, corpus: str | None = None) -> list[str]:
    return ["scan", "--outputs", "1", "--corpus", corpus or b.path("corpus"), *extra]


def _lm(b: Base, *extra: str) -> list[str]:
    return ["lm", "train", "--corpus", b.path("corpus"), "--out", b.path("lm-out"), "--preset", "quick", *extra]


def _sample(b: Base, *extra: str, model: str | None = None) -> list[str]:
    return ["sample", "--model", model or b.path("model"), "--n", "4", "--seq-len", "16", *extra]


def _map(b: Base, text: str) -> list[str]:
    b.write("merged/all", "".join(f"x = {k}\n" for k in range(6)) + "\n")
    b.write("merged/map.json", text)
    return ["sample", "import", b.path("merged")]


def _corpus(b: Base, lines: list[str]) -> list[str]:
    b.write("records/data.jsonl", "".join(line + "\n" for line in lines))
    return _scan(b, corpus=b.path("records/data.jsonl"))


def _simian(b: Base, text: str) -> list[str]:
    return ["import", "simian", str(b.write("logs/0.log", text))]


def _noise(b: Base, text: str | bytes) -> list[str]:
    return ["noise", "--task", "varmisuse", "--in", str(b.write("in.jsonl", text)), "--out", b.path("o.jsonl"),
            "--level", "50"]


def _model(b: Base, config: str | None, weights: bytes | None = NO_TENSORS) -> list[str]:
    folder = b.root / "bad-model"
    folder.mkdir(exist_ok=True)
    if config is not None:
        b.write("bad-model/config.json", config)
    if weights is not None:
        b.write("bad-model/model.safetensors", weights)
    return _sample(b, model=str(folder))


DOC = json.dumps({"content": "x = 1\n"})
# case -> (argv made from the base folder, what the one line must say)
CASES: dict[str, tuple[Callable[[Base], list[str]], str]] = {
    # -- databases byrote did not make -------------------------------------------------------
    "foreign sqlite": (lambda b: _foreign(b, "CREATE TABLE t(x)", "INSERT INTO t VALUES (1)"), "tables of its own (t)"),
    "foreign with a jobs table": (lambda b: _foreign(b, "CREATE TABLE jobs(id, kind)"), "tables of its own (jobs)"),
    "schema_version not a number": (lambda b: _foreign(b, "CREATE TABLE meta(key, value)",
                                                       "INSERT INTO meta VALUES ('schema_version', 'abc')"),
                                    "schema_version is 'abc', not a number"),
    "meta table of another program": (lambda b: _foreign(b, "CREATE TABLE meta(key, value)", "CREATE TABLE users(x)"),
                                      "tables of its own (meta, users)"),
    "newer schema": (lambda b: _foreign(b, "CREATE TABLE meta(key, value)",
                                        "INSERT INTO meta VALUES ('schema_version', '999')"), "is newer than"),
    "text file as database": (lambda b: ["--db", str(b.write("text.db", "hello\n" * 100)), "jobs"],
                              "not a byrote database (file is not a database)"),
    "database is a folder": (lambda b: ["--db", str(b.root / "outs"), "jobs"], "is a directory"),
    "database under a file": (lambda b: ["--db", str(b.root / "good.jsonl" / "x.db"), "jobs"], "not a directory"),
    "mistyped database for a listing": (lambda b: ["--db", b.path("typo/b.db"), "studies"], "no such database"),
    "mistyped database for an export": (lambda b: ["--db", b.path("b2.db"), "export", "curves", "--study", "1",
                                                   "--out", b.path("curves")], "no such database"),
    "database is a device": (lambda b: ["--db", "/dev/null", "jobs"], "is not a regular file"),
    # -- ids and numbers beyond what SQLite stores --------------------------------------------
    "cancel id 2**63": (lambda b: ["cancel", BIG], "is outside 1..9223372036854775807"),
    "memorized scan 2**63": (lambda b: ["memorized", "--scan", BIG], "outside 1.."),
    "results study 0": (lambda b: ["results", "--study", "0"], "outside 1.."),
    "scan outputs 2**63": (lambda b: ["scan", "--outputs", BIG, "--corpus", b.path("corpus")], "outside 1.."),
    "min-lines 10**30": (lambda b: _scan(b, "--min-lines", "1" + "0" * 30), "outside 1.."),
    "min-lines a million": (lambda b: _scan(b, "--min-lines", "1000000"), "from 2 to 100,000"),
    "scan workers 0": (lambda b: _scan(b, "--workers", "0"), "--workers"),
    "shard size nan": (lambda b: _scan(b, "--shard-mb", "nan"), "--shard-mb"),
    "memorized top -1": (lambda b: ["memorized", "--scan", "1", "--top", "-1"], "--top"),
    "memorized prefix not hex": (lambda b: ["memorized", "--scan", "1", "--prefix", "#c2"],
                                 "not the start of a fingerprint"),
    "output file id 2**63": (lambda b: (write_output_dir([(1, "a\n")], b.root / "o2"), b.write(f"o2/{BIG}", "b\n"),
                                        ["sample", "import", b.path("o2")])[-1], "above 9,223,372,036,854,775,807"),
    "study seed 2**64": (lambda b: _study(b, "--seed", str(2**64)), "outside 0.."),
    "study epochs 0": (lambda b: _study(b)[:-4] + ["--epochs", "0", "--train", str(b.great), "--valid", str(b.great)],
                       "--epochs"),
    "study trials 0": (lambda b: _study(b, "--trials", "0"), "trials"),
    # -- hostile JSON --------------------------------------------------------------------------
    "map.json nested deeply": (lambda b: _map(b, DEEP), "map.json: invalid JSON: nested deeper than 512 levels"),
    "map.json huge number": (lambda b: _map(b, '{"1": {"md5": "' + "0" * 32 + '", "start": ' + HUGE + ', "end": 6}}'),
                             "more than 4,300 digits"),
    "map.json key 2**63": (lambda b: _map(b, json.dumps({BIG: {"md5": "0" * 32, "start": 1, "end": 6}})),
                           "is not an output id"),
    "map.json line 2**63": (lambda b: _map(b, json.dumps({"1": {"md5": "0" * 32, "start": 1, "end": 2**63}})),
                            "map.json:1: output 1"),
    "map.json key of 5,000 digits": (lambda b: _map(b, json.dumps({HUGE: {"md5": "0" * 32, "start": 1, "end": 6}})),
                                     "map.json:1: key '99999"),
    "map.json line of 5,000 digits, on its line": (
        lambda b: _map(b, '{"1": {"md5": "' + "0" * 32 + '",\n "start": 1,\n "end": ' + HUGE + "}}"),
        "map.json:3: invalid JSON: number of more than 4,300 digits"),
    "map.json not an object": (lambda b: _map(b, "[1, 2]"), "expected a JSON object"),
    "map.json key twice": (lambda b: _map(b, '{"1": {}, "1": {}}'), "key '1' given twice"),
    "corpus malformed after the first record": (lambda b: _corpus(b, [DOC, DOC, '{"content": "x'] + [DOC] * 3),
                                                "data.jsonl:3: malformed JSON"),
    "corpus nested deeply": (lambda b: _corpus(b, [DOC, DEEP]), "data.jsonl:2: malformed JSON: nested deeper than 512 levels"),
    "corpus huge number": (lambda b: _corpus(b, [DOC, '{"content": "x", "n": ' + HUGE + "}"]),
                           "data.jsonl:2: malformed JSON: number of more than 4,300 digits"),
    "corpus record without its text": (lambda b: _corpus(b, [DOC, '{"text": "x"}']), "data.jsonl:2: no field 'content'"),
    "corpus text not a string": (lambda b: _corpus(b, [DOC, '{"content": 5}']), "data.jsonl:2: field 'content' is not"),
    "corpus a JSON array": (lambda b: _corpus(b, ["[" + DOC + "]"]), "not a JSON object"),
    "dataset nested deeply": (lambda b: _noise(b, DEEP + "\n"), "in.jsonl:1: malformed JSON: nested deeper than 512 levels"),
    "dataset huge number": (lambda b: _noise(b, '{"bug_kind": ' + HUGE + "}\n"), "in.jsonl:1: malformed JSON"),
    "dataset not UTF-8": (lambda b: _noise(b, b'{"a": "\xff"}\n'), "in.jsonl:1: not valid UTF-8"),
    "dataset empty": (lambda b: _noise(b, ""), "empty"),
    # -- Simian logs ------------------------------------------------------------------------
    "simian log cut short": (lambda b: _simian(b, SIMIAN_HEAD + SIMIAN_BLOCK), "0.log:7: Simian log cut short"),
    "simian log cut mid-line": (lambda b: _simian(b, SIMIAN_HEAD + SIMIAN_BLOCK + SIMIAN_END[:-8]),
                                "0.log:10: unexpected line after the summary"),
    "simian line beyond 2**63": (lambda b: _simian(b, SIMIAN_HEAD + SIMIAN_BLOCK.replace("and 8", f"and {BIG}")
                                                   + SIMIAN_END), "0.log:7: bad line span 3..9223372036854775808"),
    "simian fingerprint not hex": (lambda b: _simian(b, SIMIAN_HEAD + SIMIAN_BLOCK.replace("0123", "zzzz")
                                                     + SIMIAN_END), "0.log:5: fingerprint"),
    "simian block of 5,000-digit lines": (
        lambda b: _simian(b, SIMIAN_HEAD + SIMIAN_BLOCK.replace("Found 6", "Found " + HUGE) + SIMIAN_END),
        "0.log:5: a block of more than"),
    "simian span of 5,000 digits": (lambda b: _simian(b, SIMIAN_HEAD + SIMIAN_BLOCK.replace("and 8", f"and {HUGE}")
                                                      + SIMIAN_END), "0.log:7: bad line span 3..99999"),
    "simian summary count of 5,000 digits": (lambda b: _simian(b, SIMIAN_HEAD + SIMIAN_BLOCK
                                                               + SIMIAN_END.replace("(120 raw)", f"({HUGE} raw)")),
                                             "0.log:9: a number of the summary is beyond"),
    "simian option of 5,000 digits": (lambda b: _simian(b, SIMIAN_HEAD.replace("threshold=6", "threshold=" + HUGE)
                                                        + SIMIAN_BLOCK + SIMIAN_END), "0.log:4: option 'threshold'"),
    "simian Arabic-Indic digits": (
        lambda b: _simian(b, SIMIAN_HEAD + SIMIAN_BLOCK.replace("lines 1 and", "lines \u0661\u0662 and") + SIMIAN_END),
        "0.log:6: unrecognized line"),
    "not a simian log": (lambda b: _simian(b, "hello\n"), "0.log:1: not a Simian log"),
    "empty simian log": (lambda b: _simian(b, ""), "empty file"),
    "missing simian log": (lambda b: ["import", "simian", b.path("nope.log")], "nope.log: no such Simian log"),
    "snippets of a simian import without outputs": (
        lambda b: (main(["--db", str(b.db), "import", "simian", str(b.write("logs/0.log", SIMIAN_HEAD + SIMIAN_BLOCK
                                                                            + SIMIAN_END))]),
                   ["export", "snippets", "--scan", "1", "--out", b.path("snippets.txt")])[-1],
        "scan 1 holds no text of its snippets"),
    # -- settings out of range, checked before anything is queued -----------------------------
    "hidden_dim 10**7": (lambda b: _study(b, "--set", "hidden_dim=10000000"), "hidden_dim must be from 1 to 65,536"),
    "num_edge_types 1": (lambda b: _study(b, "--set", "num_edge_types=1"), "num_edge_types must be from 22"),
    "num_layers 10**5": (lambda b: _study(b, "--set", "num_layers=100000"), "num_layers must be from 1 to 256"),
    "dropout 1.5": (lambda b: _study(b, "--set", "dropout=1.5"), "dropout must be from 0.0 to 0.99"),
    "lr -1": (lambda b: _study(b, "--set", "lr=-1"), "lr must be"),
    "a setting nested deeply": (lambda b: _study(b, "--set", "hidden_dim=" + "[" * 5000), "hidden_dim must be a int like 64, not '[[[[["),
    "lm n_layer 10**9": (lambda b: _lm(b, "--set", "n_layer=1000000000"), "n_layer must be from 1 to 256"),
    "lm block_size 0": (lambda b: _lm(b, "--set", "block_size=0"), "block_size must be positive"),
    "lm unknown setting": (lambda b: _lm(b, "--set", "n_layers=2"), "unknown setting 'n_layers'"),
    "a study too big for the memory": (lambda b: _study(b, "--set", "vocab_size=20000000", "--set", "hidden_dim=65536"),
                                       "M parameters: training needs at least"),
    "an LM too big for the memory": (lambda b: _lm(b, "--set", "n_embd=65536", "--set", "n_layer=256"),
                                     "M parameters: training needs at least"),
    # -- missing paths and wrong kinds of file --------------------------------------------------
    "study train missing": (lambda b: _study(b, train=b.path("nope.jsonl")), "nope.jsonl: no such file"),
    "study valid a folder": (lambda b: _study(b, valid=b.path("outs")), "outs: not a file"),
    "scan corpus missing": (lambda b: _scan(b, corpus=b.path("nowhere")), "nowhere"),
    "sample import missing": (lambda b: ["sample", "import", b.path("nowhere")], "no such file or folder"),
    "sample import odd entry": (lambda b: (b.write("o3/1", "a\n"), b.write("o3/notes.txt", "b\n"),
                                           ["sample", "import", b.path("o3")])[-1], "unexpected entry"),
    "export of an unknown study": (lambda b: ["export", "curves", "--study", "1", "--out", b.path("x")], "no study with id 1"),
    # -- models, checked before a sampling is queued --------------------------------------------
    "model without config": (lambda b: _model(b, None), "no config.json"),
    "model config malformed": (lambda b: _model(b, "{not json"), "config.json:1: invalid JSON"),
    "model config nested deeply": (lambda b: _model(b, DEEP), "config.json: invalid JSON: nested deeper than 512 levels"),
    "model config without model_type": (lambda b: _model(b, "{}"), 'no "model_type"'),
    "model without weights": (lambda b: _model(b, json.dumps({"model_type": "gpt2"}), weights=None), "no weights"),
    "model weights empty": (lambda b: _model(b, json.dumps({"model_type": "gpt2"}), weights=b""),
                            "model.safetensors: is not a safetensors file"),
    "model weights cut short": (lambda b: _model(b, json.dumps({"model_type": "gpt2"}), weights=NO_TENSORS[:-1]),
                                "is not a safetensors file"),
    "model weights without their data": (lambda b: _model(b, json.dumps({"model_type": "gpt2"}), weights=ONE_TENSOR_HEADER),
                                          "is not a safetensors file"),
    "model context not a number": (lambda b: _model(b, json.dumps({"model_type": "gpt2", "n_positions": "64"})),
                                   "config.json:1: n_positions must be a whole number from 1 to"),
    "model context huge": (lambda b: _model(b, json.dumps({"model_type": "gpt2", "n_positions": 1e30})),
                           "n_positions must be a whole number"),
    "prompts not UTF-8": (lambda b: _sample(b, "--prompts", str(b.write("p.txt", b"one\ntwo\n\xff\n"))),
                          "p.txt:3: not valid UTF-8"),
    "prompts a folder": (lambda b: _sample(b, "--prompts", b.path("outs")), "outs: not a prompts file"),
    "temperature 0": (lambda b: _sample(b, "--temperature", "0"), "--temperature must be a positive number"),
    "seq-len beyond the context": (lambda b: _sample(b)[:-2] + ["--seq-len", "100"], "does not fit the model's context"),
    # -- unknown names --------------------------------------------------------------------------
    "unknown model": (lambda b: _study(b, "--model", "lstm"), "unknown model 'lstm'"),
    "unknown rules": (lambda b: _scan(b, "--rules", "fuzzy"), "invalid choice: 'fuzzy'"),
    "simian rules with case": (lambda b: _scan(b, "--case-sensitive"), "does not go with --rules simian"),
    "unknown order": (lambda b: ["memorized", "--scan", "1", "--order", "size"], "invalid choice: 'size'"),
    "unknown scan": (lambda b: ["memorized", "--scan", "7"], "no scan with id 7"),
    "unknown output set": (lambda b: ["scan", "--outputs", "9", "--corpus", b.path("corpus")], "no output set with id 9"),
    "unknown noise kind": (lambda b: _study(b, "--noise-kind", "shuffle"), "shuffle"),
}


def _state(root: Path) -> tuple:
    """Every file under ``root`` (the database's WAL companions aside) with its bytes'
    digest, the database's files too, and every row of every table of each byrote database."""
    files, rows = {}, {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_file() and not rel.endswith(("-wal", "-shm")):
            files[rel] = None if rel.endswith(".db") else hashlib.md5(path.read_bytes()).hexdigest()
    db = root / "b.db"
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        rows[table] = conn.execute(f'SELECT * FROM "{table}"').fetchall()  # noqa: S608  (names from the file)
    conn.close()
    return files, rows


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line_and_leaves_nothing(case, tmp_path, capsys):
    base = Base(tmp_path)
    make, needle = CASES[case]
    argv = make(base)
    if "--db" not in argv:
        argv = ["--db", str(base.db), *argv]
    capsys.readouterr()
    before = _state(tmp_path)
    foreign = [p for p in tmp_path.glob("*.db") if p.name != "b.db"]
    digests = {p: hashlib.md5(p.read_bytes()).hexdigest() for p in foreign}
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (case, out, err)
    assert len(err.splitlines()) == 1 and err.startswith("byrote"), err
    assert "Traceback" not in err and out == "", (out, err)
    assert needle in err, (needle, err)
    assert len(err) < 400, err  # a hostile value is quoted short
    assert _state(tmp_path) == before  # no row, no file, no partial output
    for path, digest in digests.items():  # a database byrote did not make is left byte for byte
        assert hashlib.md5(path.read_bytes()).hexdigest() == digest


@pytest.mark.timeout(30)
def test_a_prompts_file_that_is_a_fifo_is_refused_unopened(tmp_path, capsys):
    """Opening a FIFO waits for a writer for ever: it is refused in one line, never opened."""
    import os

    base = Base(tmp_path)
    os.mkfifo(tmp_path / "prompts.fifo")
    capsys.readouterr()
    assert main(["--db", str(base.db), *_sample(base, "--prompts", str(tmp_path / "prompts.fifo"))]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.rstrip().endswith("prompts.fifo: not a prompts file"), err


def test_prompts_lines_end_at_a_newline_alone(tmp_path):
    """U+2028, a form feed, \\x1c-\\x1e and \\x85 are characters of a prompt (str.splitlines
    would cut there, and refuse a JSON line holding one raw); a CRLF file reads as LF."""
    from engine.prompts import read_prompts

    odd = "a\u2028b\x0cc\x1cd\x1ee\x85f"
    (tmp_path / "p.txt").write_bytes(f"{odd}\r\nsecond\r\n".encode())
    assert read_prompts(tmp_path / "p.txt") == [(odd, None, None), ("second", None, None)]
    (tmp_path / "p.jsonl").write_bytes('"a\u2028b\x85c"\n{"prompt": "x\u2028", "doc": "d"}\n'.encode())
    assert read_prompts(tmp_path / "p.jsonl") == [("a\u2028b\x85c", None, None), ("x\u2028", "d", None)]


def test_a_demo_too_small_to_split_stops_before_its_second_dataset(tmp_path, capsys):
    db = tmp_path / "d.db"
    assert main(["--db", str(db), "demo", "--headless", "--limit", "1"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "--limit 1 leaves the VarMisuse held-out split empty" in err, err
    made = sorted(p.name for p in tmp_path.rglob("*") if p.is_file() and p.suffix == ".jsonl")
    assert made == []  # neither the unusable VarMisuse dataset nor a method-name one


def test_at_least_sixty_cases():
    assert len(CASES) >= 60


def test_a_read_only_database_and_a_full_disk_are_named_as_such(tmp_path, monkeypatch, capsys):
    """Root may write anywhere, so the database is opened read-only through SQLite's own
    flag: a write (cancel) is refused with what is wrong, not "not a byrote database"; a
    full disk (SQLite's error, raised by a write) is named too."""
    import engine.store as store_module

    db = tmp_path / "b.db"
    from engine.store import Store

    store = Store(db)
    job = store.add_job("scan", {})
    store.close()
    capsys.readouterr()
    connect = sqlite3.connect
    monkeypatch.setattr(store_module.sqlite3, "connect",
                        lambda path, **kw: connect(f"file:{path}?mode=ro", uri=True, **kw))
    code = main(["--db", str(db), "cancel", str(job)])
    err = capsys.readouterr().err
    assert code == 2 and "cannot write to the database (a read-only file" in err and len(err.splitlines()) == 1
    monkeypatch.undo()
    assert Store(db).job(job)["state"] == "queued"

    class FullDisk:
        def __init__(self, conn):
            self.conn = conn

        def execute(self, sql, *args):
            if sql.startswith(("INSERT", "UPDATE")):
                raise sqlite3.OperationalError("database or disk is full")
            return self.conn.execute(sql, *args)

        def __getattr__(self, name):
            return getattr(self.conn, name)

    monkeypatch.setattr(store_module.sqlite3, "connect", lambda path, **kw: FullDisk(connect(path, **kw)))
    code = main(["--db", str(db), "cancel", str(job)])
    err = capsys.readouterr().err
    assert code == 2 and "the disk is full" in err and len(err.splitlines()) == 1, err


def test_a_database_that_cannot_be_made_leaves_no_empty_file(tmp_path, monkeypatch, capsys):
    import engine.store as store_module

    def refuse(self):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store_module.Store, "_migrate", refuse)
    code = main(["--db", str(tmp_path / "new.db"), "worker", "--idle-exit", "1"])  # a command that makes one
    err = capsys.readouterr().err
    assert code == 2 and "the disk is full" in err
    assert list(tmp_path.iterdir()) == []


def test_deep_json_is_refused_before_parsing_even_with_a_raised_recursion_limit():
    """Where a library has raised Python's recursion limit, the C parser would recurse
    through 10**6 brackets and overflow the stack; the depth is checked first (in a child,
    so that a crash would fail this test, not end the test run)."""
    import subprocess
    import sys

    from conftest import REPO

    code = ("import sys\nsys.setrecursionlimit(10**7)\nfrom engine.formats import BadJSON, parse_json\n"
            "for text in ('[' * 10**6, b'{\"a\": ' * 10**6):\n"
            "    try:\n        parse_json(text)\n    except BadJSON as exc:\n        print(exc.reason)\n")
    proc = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, cwd=REPO,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines() == ["nested deeper than 512 levels"] * 2


def test_a_number_json_cannot_read_is_named_at_its_line():
    """An integer of more than 4,300 digits (json's ValueError says no place) is found
    outside the strings, after a float and a string of as many digits."""
    from engine.formats import BadJSON, parse_json

    text = '{"s": "' + HUGE + '",\n "f": 1' + HUGE + '.5, "e": 1e' + HUGE + ',\n "n": -' + HUGE + "}"
    for given in (text, text.encode()):
        with pytest.raises(BadJSON) as err:
            parse_json(given)
        assert (err.value.reason, err.value.line) == ("number of more than 4,300 digits", 3)


JSON_CHARS = ['"', "\\", "[", "]", "{", "}", "a", " ", "n", "u", "/", "\u00e9", "\\u"]


def random_json(rng, depth=0, max_depth=6, width=4):
    """A random JSON value whose keys and strings hold quotes, backslashes and brackets."""
    r = rng.random()
    if depth > max_depth or r < 0.3:
        return "".join(rng.choice(JSON_CHARS) for _ in range(rng.randrange(0, 12)))
    if r < 0.6:
        return [random_json(rng, depth + 1, max_depth, width) for _ in range(rng.randrange(0, width))]
    return {"".join(rng.choice(JSON_CHARS) for _ in range(3)): random_json(rng, depth + 1, max_depth, width)
            for _ in range(rng.randrange(0, width))}


def test_the_depth_check_cuts_strings_out_as_a_json_lexer_does():
    """The depth check looks at the brackets outside strings; it cuts the strings out
    with a few C-speed passes (corpus records are code, full of brackets and escapes):
    the same text as a regular expression of a JSON string leaves, on random JSON with
    quotes, backslashes and brackets in its keys and strings; and a deep list inside a
    record's text is no depth."""
    import json
    import random
    import re

    from engine.formats import _outside_strings, json_depth_ok

    string = re.compile(r'"(?:[^"\\]|\\.)*"')
    rng = random.Random(0)
    for _ in range(5000):
        text = json.dumps(random_json(rng), ensure_ascii=rng.random() < 0.5)
        assert _outside_strings(text) == string.sub("", text)
        assert _outside_strings(text.encode()) == string.sub("", text).encode()
    deep = "[" * 600 + "]" * 600
    assert not json_depth_ok(deep) and not json_depth_ok(deep.encode())
    record = json.dumps({"content": deep + '\\"' + deep})
    assert json_depth_ok(record) and json_depth_ok(record.encode())


def test_the_compiled_depth_walk_gives_the_true_depth(monkeypatch):
    """engine/formats/_json_depth.c against the depth of the parsed value and against the
    Python walk, at limits around it, on random JSON whose strings hold quotes,
    backslashes and brackets; then on hostile and malformed texts."""
    import json
    import random

    from engine import formats

    if formats._json_depth is None:
        pytest.skip("the compiled kernel is not built")
    rng = random.Random(1)
    def depth(v):
        if isinstance(v, list):
            return 1 + max(map(depth, v), default=0)
        if isinstance(v, dict):
            return 1 + max(map(depth, v.values()), default=0)
        return 0

    def python_walk(text, limit):
        with monkeypatch.context() as m:
            m.setattr(formats, "compiled_depth", False)
            return formats.json_depth_ok(text, limit)

    for _ in range(3000):
        v = random_json(rng, max_depth=9, width=3)
        data = json.dumps(v, ensure_ascii=rng.random() < 0.5).encode()
        d = depth(v)
        for limit in (max(d - 1, 0), d, d + 1):
            assert formats._json_depth.depth_ok(data, limit) == (d <= limit), (data, limit)
            assert formats.json_depth_ok(data, limit) == python_walk(data, limit) == (d <= limit)
    assert not formats._json_depth.depth_ok(b"[" * 10**6, 512)
    assert formats._json_depth.depth_ok(b'"' + b"[" * 10**6, 512)  # an unterminated string
    assert formats._json_depth.depth_ok(b'["\\"[]"]', 1)  # an escaped quote: the brackets are in the string
    assert not formats._json_depth.depth_ok(b'["\\\\"[]]', 1)  # an escaped backslash: the string ends
    assert formats._json_depth.depth_ok(bytearray(b"[]"), 1) and formats._json_depth.depth_ok(memoryview(b"{}"), 1)


def test_every_preset_value_lies_in_its_bounds():
    """The ranges of --set (engine.presets.BOUNDS) cover every numeric setting of every
    shipped preset, and hold each preset's own value."""
    from importlib import resources

    from engine.presets import BOUNDS

    checked = 0
    for path in sorted(resources.files("assets").joinpath("presets").iterdir(), key=lambda p: p.name):
        if not path.name.endswith(".json"):
            continue
        for preset, cfg in json.loads(path.read_text()).items():
            for key, value in cfg.items() if isinstance(cfg, dict) else ():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    assert key in BOUNDS, (path.name, key)
                    low, high = BOUNDS[key]
                    assert low <= value <= high, (path.name, preset, key, value)
                    checked += 1
    assert checked > 100
