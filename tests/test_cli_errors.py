"""Bad input: one line naming the problem (file and line where there is one), exit code 2,
no traceback and no partial output left behind."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cli.main import main
from engine.store import Store

GREAT_LINE = {
    "has_bug": True, "bug_kind": 1, "bug_kind_name": "VARIABLE_MISUSE",
    "source_tokens": ["#NEWLINE#", "def f(", "a", ",", "b", ")", ":", "#NEWLINE#", "#INDENT#",
                      "return", "a", "#NEWLINE#", "#UNINDENT#"],
    "edges": [[1, 2, 9, "enum_NEXT_SYNTAX"]], "error_location": 10, "repair_targets": [4],
    "repair_candidates": [2, 4, 10], "provenances": [],
}


def _write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _assert_one_line_error(code, err, *needles):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("byrote: error: ") or lines[0].startswith("byrote")
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def _good(tmp_path: Path, name="good.jsonl") -> Path:
    clean = dict(GREAT_LINE, has_bug=False, bug_kind=0, bug_kind_name="NONE", error_location=0,
                 repair_targets=[], repair_candidates=[2, 10, "a", 4, "b"])
    return _write_lines(tmp_path / name, [json.dumps(GREAT_LINE), json.dumps(clean)])


BAD_FILES = {
    "malformed": ([json.dumps(GREAT_LINE), "{not json"], ":2:"),
    "missing_field": ([json.dumps({k: v for k, v in GREAT_LINE.items() if k != "error_location"})],
                      ":1:"),
    "out_of_range": ([json.dumps(dict(GREAT_LINE, error_location=99))], ":1:"),
    "edge_out_of_range": ([json.dumps(dict(GREAT_LINE, edges=[[1, 50, 9, "enum_NEXT_SYNTAX"]]))], ":1:"),
    "empty": ([], "empty"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_noise_rejects_bad_dataset(case, tmp_path, capsys):
    lines, needle = BAD_FILES[case]
    bad = _write_lines(tmp_path / "bad.jsonl", lines)
    out = tmp_path / "out.jsonl"
    code, _, err = _run(["noise", "--task", "varmisuse", "--in", str(bad), "--out", str(out),
                         "--level", "50"], capsys)
    _assert_one_line_error(code, err, "bad.jsonl", needle)
    assert list(tmp_path.iterdir()) == [bad]  # nothing partial left behind


def test_a_noisy_copy_never_replaces_its_input_or_the_database(tmp_path, capsys):
    """Its changed ids (``<out>.changed.json``) may not land on the input; its copy may not
    land on the --db file, though noise does not open it."""
    good = _good(tmp_path)
    source = tmp_path / "k.jsonl.changed.json"
    source.write_bytes(good.read_bytes())
    db = tmp_path / "k3.db"
    db.write_bytes(b"SQLite format 3\x00 stands in")
    for argv, said in (([*["--in", str(source)], "--out", str(tmp_path / "k.jsonl")], "is the input file"),
                       ([*["--in", str(good)], "--out", str(db)], "is the database")):
        code, _, err = _run(["--db", str(db), "noise", "--task", "varmisuse", *argv, "--level", "10", "--seed", "1"],
                            capsys)
        _assert_one_line_error(code, err, said)
    assert source.read_bytes() == good.read_bytes() and db.read_bytes() == b"SQLite format 3\x00 stands in"


def test_missing_file(tmp_path, capsys):
    code, _, err = _run(["noise", "--task", "varmisuse", "--in", str(tmp_path / "nope.jsonl"),
                         "--out", str(tmp_path / "o.jsonl"), "--level", "0"], capsys)
    _assert_one_line_error(code, err, "nope.jsonl")


@pytest.mark.parametrize("level", ["101", "-5", "abc", "nan"])
def test_level_outside_range(level, tmp_path, capsys):
    good = _good(tmp_path)
    code, _, err = _run(["noise", "--task", "varmisuse", "--in", str(good), "--out",
                         str(tmp_path / "o.jsonl"), "--level", level], capsys)
    _assert_one_line_error(code, err)
    assert not (tmp_path / "o.jsonl").exists()


@pytest.mark.parametrize("argv,needle", [
    (["--model", "lstm"], "unknown model 'lstm'"),
    (["--preset", "huge"], "unknown preset 'huge'"),
    (["--noise", "0,50,150"], "outside 0-100"),
    (["--task", "codegen"], "invalid choice"),
    (["--task", "codesearch"], "unknown model 'great' for codesearch (choose from codebert)"),
    (["--set", "learning_rate=1"], "unknown setting 'learning_rate'"),
    (["--set", "novalue"], "--set takes KEY=VALUE"),
    (["--set", "lr=abc"], "setting lr must be a float"),
    (["--set", "hidden_dim=0"], "setting hidden_dim must be positive"),
    (["--set", "cpu_threads=99999"], "cpu_threads"),  # libgomp crashed the run
    (["--set", 'ggnn_residuals={"x":[0]}'], "ggnn_residuals 'x': [0] does not fit 2 layers"),
    (["--set", 'ggnn_residuals={"5":[0]}'], "ggnn_residuals '5': [0] does not fit 2 layers"),
    (["--set", "ggnn_time_steps=[]"], "ggnn_time_steps must be a list"),
    (["--set", 'ggnn_time_steps=["a"]'], "ggnn_time_steps must be a list"),
    (["--set", "grad_clip=0"], "setting grad_clip must be positive"),
    (["--set", "num_heads=3"], "not a multiple of num_heads"),
    (["--set", "score=top10"], "setting score must be one of target, predicted, not 'top10'"),
    (["--set", "objective=mean"], "setting objective must be one of study, sum, not 'mean'"),
    (["--set", "train_eval=1"], "setting train_eval must be a str"),
    (["--eval-every", "99999"], "--eval-every 99,999 is above the training set"),
    (["--heldout-samples", "99999"], "--heldout-samples 99,999 is more than the held-out set"),
    (["--eval-every", "-3"], "-3 is outside 0.."),
    (["--reference", "/no/such/folder"], "no such directory"),
    (["--reference", str(Path(__file__).parent / "data/ci_memorization/data/summary/data/variable_misuse/"
                         "X_Injecting_Repair")], "no published curve of Great (the folder has curves of GGNN)"),
    (["--model", "ggnn", "--noise", "0,10", "--reference", str(
        Path(__file__).parent / "data/ci_memorization/data/summary/data/variable_misuse/X_Injecting_Repair")],
     "no column 10_percent (the study has level 10 %)"),
    (["--published-dataset", "Py150"], "--published-dataset chooses among the curves of --reference, which was not given"),
    (["--model", "ggnn", "--published-dataset", "java-small", "--reference", str(
        Path(__file__).parent / "data/ci_memorization/data/summary/data/variable_misuse/X_Injecting_Repair")],
     "no published curve of GGNN on dataset 'java-small' (the folder has Py150)"),
    (["--set", "max_len=5"], "no sample has at most max_len=5 tokens"),
    (["--seed", "99999999999999999999"], "outside 0.."),
    (["--epochs", "99999999999999999999"], "outside 1.."),
])
def test_study_rejects_unknown_names(argv, needle, tmp_path, capsys):
    good = _good(tmp_path)
    args = {"--task": "varmisuse", "--model": "great", "--preset": "quick", "--noise": "0,100"}
    for k, v in zip(argv[::2], argv[1::2]):
        args[k] = v
    flat = [x for kv in args.items() for x in kv]
    db = tmp_path / "s.db"
    code, _, err = _run(["--db", str(db), "study", "--train", str(good), "--valid", str(good),
                         "--epochs", "1", *flat], capsys)
    _assert_one_line_error(code, err, needle)
    assert not db.exists() and not (tmp_path / "s-files").exists()  # a refused study leaves no new database


def test_study_validates_held_out_file_before_enqueueing(tmp_path, capsys):
    good = _good(tmp_path)
    bad = _write_lines(tmp_path / "valid.jsonl", [json.dumps(GREAT_LINE), "[1, 2"])
    db = tmp_path / "s.db"
    code, _, err = _run(["--db", str(db), "study", "--task", "varmisuse", "--train", str(good),
                         "--valid", str(bad), "--model", "great", "--epochs", "1"], capsys)
    _assert_one_line_error(code, err, "valid.jsonl:2:")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.jsonl", "valid.jsonl"]

    Store(db, create=True).add_job("test", {})  # a database that was there before the command stays as it was
    code, _, err = _run(["--db", str(db), "study", "--task", "varmisuse", "--train", str(good),
                         "--valid", str(bad), "--model", "great", "--epochs", "1"], capsys)
    _assert_one_line_error(code, err, "valid.jsonl:2:")
    assert [j["kind"] for j in Store(db).jobs()] == ["test"] and Store(db).studies() == []


def test_system_errors_name_the_target_and_leave_nothing(tmp_path, capsys):
    good = _good(tmp_path)
    (tmp_path / "afile").write_text("x")
    (tmp_path / "o.jsonl.changed.json").mkdir()
    for out, needle in ((tmp_path / "afile" / "o.jsonl", "afile"),
                        (tmp_path / ("n" * 300 + ".jsonl"), "name too long"),
                        (tmp_path / "o.jsonl", "o.jsonl.changed.json")):
        code, _, err = _run(["noise", "--task", "varmisuse", "--in", str(good), "--out", str(out),
                             "--level", "50"], capsys)
        _assert_one_line_error(code, err, needle)
        assert ".tmp" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "good.jsonl", "o.jsonl.changed.json"]


def test_hostile_json_lines(tmp_path, capsys):
    for text in ('{"bug_kind": ' + "9" * 5000 + "}", "[" * 200000):
        bad = _write_lines(tmp_path / "bad.jsonl", [text])
        code, _, err = _run(["noise", "--task", "varmisuse", "--in", str(bad), "--out",
                             str(tmp_path / "o.jsonl"), "--level", "10"], capsys)
        _assert_one_line_error(code, err, "bad.jsonl:1: malformed JSON")


def test_unknown_ids(tmp_path, capsys):
    db = str(tmp_path / "s.db")
    Store(db).close()
    for argv, needle in ((["cancel", "7"], "no job with id 7"),
                         (["export", "curves", "--study", "3", "--out", str(tmp_path / "x")], "no study with id 3"),
                         (["results", "--study", "3"], "no study with id 3")):
        code, _, err = _run(["--db", db, *argv], capsys)
        _assert_one_line_error(code, err, needle)


def test_builder_missing_and_empty_dirs(tmp_path, capsys):
    code, _, err = _run(["dataset", "build", "varmisuse", "--source", str(tmp_path / "nope"),
                         "--out", str(tmp_path / "o.jsonl")], capsys)
    _assert_one_line_error(code, err, "nope")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "x.py").write_text("X = 1\n")
    code, _, err = _run(["dataset", "build", "varmisuse", "--source", str(tmp_path / "src"),
                         "--out", str(tmp_path / "o.jsonl")], capsys)
    _assert_one_line_error(code, err, "src")
    assert not (tmp_path / "o.jsonl").exists()


def test_builder_writes_both_splits_or_neither(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(30):
        (src / f"m{i}.py").write_text(f"def f{i}(a, b):\n    c = a + b\n    return c * a\n")
    (tmp_path / "d.jsonl").mkdir()  # the train split cannot be written
    code, _, err = _run(["dataset", "build", "varmisuse", "--source", str(src),
                         "--out", str(tmp_path / "d.jsonl")], capsys)
    _assert_one_line_error(code, err, "d.jsonl")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.jsonl", "src"]


def test_builder_skips_and_counts_non_utf8(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    (src / "latin1.py").write_bytes("def f(a, b):\n    return 'caf\xe9' + a\n".encode("latin-1"))
    (src / "ok.py").write_text("def g(x, y):\n    z = x + y\n    return z * x\n")
    code, out, err = _run(["dataset", "build", "varmisuse", "--source", str(src),
                           "--out", str(tmp_path / "o.jsonl")], capsys)
    assert code == 0, err
    assert "non-UTF-8" in out and "1" in out


def test_real_process_prints_no_traceback(tmp_path):
    bad = _write_lines(tmp_path / "bad.jsonl", ["{"])
    proc = subprocess.run(
        [sys.executable, "-m", "cli.main", "--db", str(tmp_path / "x.db"), "noise", "--task", "varmisuse",
         "--in", str(bad), "--out", str(tmp_path / "o.jsonl"), "--level", "10"],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1],
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "bad.jsonl:1:" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_usage_error_is_one_line(capsys):
    assert main(["study", "--task", "varmisuse"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "required" in err


def test_impossible_noise_level_leaves_no_study(tmp_path, capsys):
    # a bug-free function with a single variable use cannot be made buggy
    lonely = dict(GREAT_LINE, has_bug=False, bug_kind=0, bug_kind_name="NONE", error_location=0,
                  repair_targets=[], repair_candidates=[2, "a"])
    train = _write_lines(tmp_path / "t.jsonl", [json.dumps(GREAT_LINE), json.dumps(lonely)])
    db = tmp_path / "s.db"
    code, _, err = _run(["--db", str(db), "study", "--task", "varmisuse", "--train", str(train),
                         "--valid", str(_good(tmp_path)), "--model", "ggnn", "--noise", "0,100"], capsys)
    _assert_one_line_error(code, err, "eligible")
    from engine.store import Store

    assert Store(db).studies() == [] and Store(db).jobs() == []
    assert not (tmp_path / "s-files" / "studies").exists()


def _java_tree(root: Path) -> Path:
    root.mkdir()
    (root / "A.java").write_text(
        "class A {\n  int count;\n  int getCount() { return count; }\n"
        "  void setCount(int count) { this.count = count; }\n  boolean equals(Object o) { return o == this; }\n}\n")
    return root


@pytest.mark.parametrize("argv,needle", [
    (["--lang", "cobol"], "invalid choice"),
    (["--top", "99"], "--top"),
])
def test_methodname_build_rejects(argv, needle, tmp_path, capsys):
    src = _java_tree(tmp_path / "src")
    args = {"--lang": "java"}
    args.update(dict(zip(argv[::2], argv[1::2])))
    flat = [x for kv in args.items() for x in kv]
    code, _, err = _run(["dataset", "build", "methodname", "--source", str(src),
                         "--out", str(tmp_path / "o.jsonl"), *flat], capsys)
    _assert_one_line_error(code, err, needle)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_methodname_build_without_methods(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    (src / "x.py").write_text("X = 1\n")
    code, _, err = _run(["dataset", "build", "methodname", "--lang", "python", "--source", str(src),
                         "--out", str(tmp_path / "o.jsonl")], capsys)
    _assert_one_line_error(code, err, "src")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_malformed_c2v_line(tmp_path, capsys):
    bad = _write_lines(tmp_path / "d.c2v", ["get|name a,1,b c,2,d", "set|name a,1"])
    code, _, err = _run(["noise", "--task", "methodname", "--in", str(bad), "--out",
                         str(tmp_path / "o.c2v"), "--level", "50"], capsys)
    _assert_one_line_error(code, err, "d.c2v:2:")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.c2v"]


def test_methodname_noise_refuses_a_format_change(tmp_path, capsys):
    src = _write_lines(tmp_path / "d.c2v", ["get|name a,1,b c,2,d", "run a,1,b"])
    code, _, err = _run(["noise", "--task", "methodname", "--in", str(src), "--out",
                         str(tmp_path / "o.jsonl"), "--level", "50"], capsys)
    _assert_one_line_error(code, err, "keeps the input's format")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.c2v"]


def test_methodname_noise_keeps_the_format(tmp_path, capsys):
    lines = [f"{label} a,1,b c,2,d" + " " * 10 for label in ("get|name", "set|name", "get|name", "run")]
    src = _write_lines(tmp_path / "d.c2v", lines)
    code, out, err = _run(["noise", "--task", "methodname", "--in", str(src), "--out",
                           str(tmp_path / "o.c2v"), "--level", "100"], capsys)
    assert code == 0, err
    written = (tmp_path / "o.c2v").read_text().splitlines()
    assert len(written) == 4 and all(" a,1,b c,2,d" in w for w in written)  # .c2v in, .c2v out
    assert all(w.split()[0] != line.split()[0] for w, line in zip(written, lines))  # 100 %: all relabelled


def test_damaged_database_unknown_user_and_bytes_not_utf8_are_one_line(tmp_path, capsys):
    """A database damaged after byrote made it, a ``~user`` path of no user, a name that is
    not UTF-8, or a slip in --trials: one line, exit 2, nothing queued; an error of
    byrote's own query is not taken for damage."""
    import sqlite3

    db = str(tmp_path / "x.db")
    Store(db).close()
    outs = tmp_path / "outs"
    outs.mkdir()
    for i in (1, 2):
        (outs / str(i)).write_text(f"def f{i}():\n    return {i}\n", encoding="utf-8")
    code, _, err = _run(["--db", db, "sample", "import", str(outs), "--name", "a\udcffb"], capsys)
    _assert_one_line_error(code, err, "not valid UTF-8")
    assert main(["--db", db, "outputs", "--json"]) == 0 and json.loads(capsys.readouterr().out) == []
    train = _write_lines(tmp_path / "t.jsonl", [json.dumps(GREAT_LINE)] * 4)
    code, _, err = _run(["--db", db, "study", "--train", str(train), "--valid", str(train), "--noise", "0,100",
                         "--trials", "100000"], capsys)
    _assert_one_line_error(code, err, "--trials")
    code, _, err = _run(["--db", "~no-such-user-of-byrote/x.db", "jobs"], capsys)
    _assert_one_line_error(code, err, "home directory")
    with open(db, "r+b") as fh:  # pages past the schema's overwritten: damage found by a query, not at opening
        fh.seek(4096 * 3)
        fh.write(b"\xff" * 4096 * 20)
    code, _, err = _run(["--db", db, "scans"], capsys)
    _assert_one_line_error(code, err, "the database is damaged", "malformed")
    from engine.store import is_file_problem

    assert not is_file_problem(sqlite3.OperationalError("no such column: runs.trial"))  # a bug of byrote's own
    assert not is_file_problem(sqlite3.IntegrityError("UNIQUE constraint failed: runs.study_id"))
    assert is_file_problem(sqlite3.OperationalError("database is locked"))


def test_slips_found_before_anything_is_queued(tmp_path, capsys, monkeypatch):
    """An unknown study for the detectors, a file where the database's folder goes, counts
    and waits out of range, a model folder under a file, a corpus file this process may not
    read: one line each, and no job."""
    import os

    db = str(tmp_path / "x.db")
    Store(db).close()
    outs = tmp_path / "outs"
    outs.mkdir()
    (outs / "1").write_text("def f():\n    return 1\n", encoding="utf-8")
    cases = [
        (["detectors", "--study", "5"], "no study with id 5"),
        (["worker", "--slots", "5000"], "outside 1..1024"),
        (["worker", "--idle-exit", "nan"], "outside"),
        (["lm", "train", "--corpus", str(outs), "--out", str(outs / "1" / "model")], "is not a folder"),
        (["scan", "--outputs", "1", "--corpus", str(outs), "--workers", "100000"], "outside 1..1024"),
    ]
    for argv, needle in cases:
        code, _, err = _run(["--db", db, *argv], capsys)
        _assert_one_line_error(code, err, needle)
    assert main(["--db", db, "sample", "import", str(outs)]) == 0
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("a.py", "b.py"):
        (corpus / name).write_text("def f():\n    return 1\n", encoding="utf-8")
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: not str(path).endswith("b.py") and real_access(path, mode))
    code, _, err = _run(["--db", db, "scan", "--outputs", "1", "--corpus", str(corpus)], capsys)
    _assert_one_line_error(code, err, "b.py", "cannot read: permission denied")
    monkeypatch.undo()
    code, out, _ = _run(["--db", db, "jobs", "--json"], capsys)
    assert code == 0 and json.loads(out)["jobs"] == []
    (tmp_path / "y-files").write_text("not a folder", encoding="utf-8")
    code, _, err = _run(["--db", str(tmp_path / "y.db"), "sample", "import", str(outs)], capsys)
    _assert_one_line_error(code, err, "y-files", "is not a folder")
    assert not (tmp_path / "y.db").exists()


@pytest.mark.parametrize("argv", [["scan", "--outputs", "1", "--corpus", ""], ["sample", "import", " "],
                                  ["noise", "--task", "varmisuse", "--in", "x.jsonl", "--out", "", "--level", "5"]])
def test_an_empty_value_is_refused_not_read_as_the_current_folder(argv, tmp_path, capsys):
    code, _, err = _run(["--db", str(tmp_path / "x.db"), *argv], capsys)
    _assert_one_line_error(code, err, "empty")


def test_a_line_break_in_a_name_does_not_start_a_line_of_output(tmp_path, capsys):
    outs = tmp_path / "o\nscan 9 (job 9): forged"
    outs.mkdir()
    (outs / "1").write_text("def f():\n    return 1\n", encoding="utf-8")
    assert main(["--db", str(tmp_path / "x.db"), "sample", "import", str(outs)]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "o\\nscan 9" in out


def test_a_file_where_a_folder_is_wanted_is_named_as_a_file(tmp_path, capsys):
    afile = _write_lines(tmp_path / "a.jsonl", ["{}"])
    code, _, err = _run(["dataset", "build", "codesearch", "--source", str(afile), "--out", str(tmp_path / "o.jsonl")],
                        capsys)
    _assert_one_line_error(code, err, "a.jsonl: not a directory (a file)")
    from engine.compare import read_published
    from engine.errors import InputError

    with pytest.raises(InputError, match="not a directory"):
        read_published(afile, set())


def test_a_setting_may_be_zero_where_zero_means_none():
    """No dropout, no warm-up: 0 is a value of their own (the paper presets' warmup_steps)."""
    from engine.presets import load_preset

    cfg = load_preset("quick", "varmisuse", {"dropout": 0.0, "warmup_steps": 0})
    assert (cfg["dropout"], cfg["warmup_steps"]) == (0.0, 0)


@pytest.mark.slow
def test_held_out_samples_drawn_that_none_of_fits_stop_the_run_in_one_line(reference, tmp_path, capsys):
    """--heldout-samples draws from the whole held-out file; the samples longer than
    max_len are then left out. When none drawn is left, the run stops naming the file and
    the setting, not with a missing array."""
    from engine.study import heldout_subset

    lines = [line for f in sorted((reference / "great").glob("*.jsonl")) for line in f.read_text().splitlines()]
    train, valid = tmp_path / "train.jsonl", tmp_path / "valid.jsonl"
    train.write_text("\n".join(lines) + "\n")
    valid.write_text("\n".join(lines[i] for i in (0, 3, 4, 5)) + "\n")  # 19 tokens, then 58, 91 and 51
    seed = next(s for s in range(100) if heldout_subset([0, 1, 2, 3], 1, s) != [0])  # draws a long one
    code, _, err = _run(["--db", str(tmp_path / "h.db"), "study", "--task", "varmisuse", "--train", str(train),
                         "--valid", str(valid), "--model", "ggnn", "--noise", "0", "--epochs", "1", "--device", "cpu",
                         "--seed", str(seed), "--heldout-samples", "1", "--set", "max_len=40", "--foreground"], capsys)
    assert code == 2 and "valid.jsonl: no held-out sample fits the preset's max_len among the 1 drawn" in err, err
    assert "Traceback" not in err


def test_byrote_db_is_held_to_the_rule_of_db(tmp_path, capsys, monkeypatch):
    """$BYROTE_DB naming no file: a command that reads refuses it; one that can start from
    nothing makes it (and takes it back when it is refused)."""
    db = tmp_path / "typo.db"
    monkeypatch.setenv("BYROTE_DB", str(db))
    code, _, err = _run(["jobs"], capsys)
    _assert_one_line_error(code, err, "no such database")
    assert sorted(tmp_path.iterdir()) == []
    code, _, err = _run(["study", "--task", "varmisuse", "--train", str(tmp_path / "none.jsonl"),
                         "--valid", str(tmp_path / "none.jsonl"), "--model", "great"], capsys)
    assert code == 2 and sorted(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv, needle", [
    (["--per-prompt", "3"], "--per-prompt counts the outputs of each prompt of --prompts or --prompts-from-corpus"),
    (["--prompt-tokens", "8"], "--prompt-tokens shapes the prompts of --prompts-from-corpus"),
    (["--n-prompts", "4", "--prompts", "p.txt"], "--n-prompts shapes the prompts of --prompts-from-corpus"),
    (["--text-field", "code"], "--text-field shapes the prompts of --prompts-from-corpus"),
])
def test_a_prompt_option_without_its_prompts_is_refused(argv, needle, tmp_path, capsys):
    """It was ignored: the set was sampled without a word about it."""
    db = tmp_path / "s.db"
    code, _, err = _run(["--db", str(db), "sample", "--model", "gpt2", "--n", "5", *argv], capsys)
    _assert_one_line_error(code, err, needle)
    assert not db.exists()
