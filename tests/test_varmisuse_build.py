"""engine.data.varmisuse_build: a GREAT-format VarMisuse dataset from Python source (Rabin et al. §3.2)."""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest
from treehelpers import write_tree

from engine.formats.great import read_great, write_great
from engine.data.varmisuse import INDENT, NEWLINE, UNINDENT
from engine.data.splits import is_valid_file, valid_path_for
from engine.data.varmisuse_build import build_varmisuse
from engine.errors import InputError


def great_reference(name: str) -> Path:
    """A file of tests/data/great (copied from shared/reference)."""
    path = Path(__file__).resolve().parent / "data" / "great" / name
    if not path.exists():
        pytest.fail(f"reference data missing at {path}")
    return path




def build_one(tmp_path: Path, source: str, **kwargs) -> tuple[dict, dict]:
    """The (bug-free, buggy) records of the single function in ``source``."""
    src = write_tree(tmp_path / "src", {"m.py": source})
    report = build_varmisuse(src, tmp_path / "out" / "d.jsonl", valid_fraction=0.0, **kwargs)
    assert report.functions == 1
    clean, buggy = (json.loads(line) for line in report.train_path.read_text().splitlines())
    return clean, buggy


def edges_of(rec: dict) -> dict[str, set[tuple[int, int]]]:
    out = defaultdict(set)
    for src, dst, type_id, name in rec["edges"]:
        out[name].add((src, dst))
    return out


SCALE = """\
    def scale(xs, factor):
        out = []  # a comment
        for x in xs:
            if x:
                out.append(x * factor)
        return out
    """

PICK = """\
    def pick(a, b):
        c = a + b
        if c:
            a = 1
        else:
            b = 2
        return a * c
    """


def test_tokens_as_great(tmp_path):
    clean, _ = build_one(tmp_path, SCALE)
    assert clean["source_tokens"] == [
        NEWLINE, "def scale(", "xs", ",", "factor", ")", ":", NEWLINE, INDENT,
        "out", "=", "[", "]", NEWLINE,
        "for", "x", "in", "xs", ":", NEWLINE, INDENT,
        "if", "x", ":", NEWLINE, INDENT,
        "out", ".", "append", "(", "x", "*", "factor", ")", NEWLINE, UNINDENT, UNINDENT,
        "return", "out",
    ]
    # variables grouped in order of first occurrence, each followed by its name
    assert clean["repair_candidates"] == [2, 17, "xs", 4, 32, "factor", 9, 26, 38, "out", 15, 22, 30, "x"]
    assert (clean["has_bug"], clean["bug_kind"], clean["bug_kind_name"]) == (False, 0, "NONE")
    assert (clean["error_location"], clean["repair_targets"]) == (0, [])
    assert clean["provenances"] == [{"datasetProvenance": {
        "datasetName": "byrote", "filepath": "m.py", "function": "scale", "line": 1}}]


def test_decorators_strings_and_inline_blocks(tmp_path):
    clean, _ = build_one(tmp_path, '''\
        @classmethod
        def make(cls, spec):
            """Doc."""
            if spec: return cls(spec); cls = None
            return f"{spec}" "x"
        ''')
    assert clean["source_tokens"] == [
        NEWLINE, "@", "classmethod", NEWLINE, "def make(", "cls", ",", "spec", ")", ":", NEWLINE, INDENT,
        '"""Doc."""', NEWLINE,
        "if", "spec", ":", "return", "cls", "(", "spec", ")", ";", "cls", "=", "None", NEWLINE,
        "return", 'f"{spec}"', '"x"',
    ]


def test_buggy_copy(tmp_path):
    clean, buggy = build_one(tmp_path, SCALE, seed=3)
    loc = buggy["error_location"]
    original = clean["source_tokens"][loc]
    assert (buggy["has_bug"], buggy["bug_kind"], buggy["bug_kind_name"]) == (True, 1, "VARIABLE_MISUSE")
    assert [i for i, (a, b) in enumerate(zip(clean["source_tokens"], buggy["source_tokens"])) if a != b] == [loc]
    assert buggy["source_tokens"][loc] in {"xs", "factor", "out", "x"} - {original}
    assert loc not in (2, 4, 9, 15)  # a read, never a definition
    ints = [c for c in clean["repair_candidates"] if isinstance(c, int)]
    assert sorted(buggy["repair_candidates"]) == sorted(ints)
    assert buggy["repair_targets"] == [p for p in sorted(ints) if buggy["source_tokens"][p] == original]
    assert buggy["repair_targets"] and loc not in buggy["repair_targets"]


def test_attributes_keywords_and_scopes(tmp_path):
    clean, _ = build_one(tmp_path, """\
        def names(self, items):
            total = sum(x for x in items)
            self.total = total
            return dict(total=total, x=[x for x in items])
        """)
    tokens = clean["source_tokens"]
    names = {tokens[c] for c in clean["repair_candidates"] if isinstance(c, int)}
    assert names == {"self", "items", "total", "x"}
    positions = [c for c in clean["repair_candidates"] if isinstance(c, int)]
    attribute = tokens.index(".") + 1
    keyword = tokens.index("dict") + 2
    assert tokens[attribute] == "total" and attribute not in positions
    assert tokens[keyword] == "total" and keyword not in positions
    # the two comprehensions' x are different variables: no data flow between them
    xs = [i for i, t in enumerate(tokens) if t == "x" and i in positions]
    flow = edges_of(clean)["enum_LAST_WRITE"] | edges_of(clean)["enum_LAST_READ"]
    assert not any(s in xs[2:] and d in xs[:2] for s, d in flow)
    assert (xs[2], xs[1]) in edges_of(clean)["enum_LAST_LEXICAL_USE"]


def test_edges_by_hand(tmp_path):
    clean, _ = build_one(tmp_path, SCALE)
    edges = edges_of(clean)
    assert set(edges) == {"enum_NEXT_SYNTAX", "enum_LAST_LEXICAL_USE", "enum_LAST_WRITE", "enum_LAST_READ"}
    real = [i for i, t in enumerate(clean["source_tokens"]) if t not in (NEWLINE, UNINDENT)]
    assert edges["enum_NEXT_SYNTAX"] == set(zip(real, real[1:]))
    assert {(6, 8), (12, 14), (18, 20), (33, 37)} <= edges["enum_NEXT_SYNTAX"]  # over line ends, onto INDENT
    assert edges["enum_LAST_LEXICAL_USE"] == {(17, 2), (22, 15), (26, 9), (30, 22), (32, 4), (38, 26)}
    # the loop target is written again on every iteration
    assert edges["enum_LAST_WRITE"] == {(17, 2), (15, 15), (22, 15), (30, 15), (26, 9), (32, 4), (38, 9)}
    assert edges["enum_LAST_READ"] == {(15, 22), (15, 30), (22, 22), (22, 30), (30, 22), (26, 26),
                                       (32, 32), (38, 26)}
    for src, dst, type_id, name in clean["edges"]:
        assert type_id == {"enum_NEXT_SYNTAX": 9, "enum_LAST_LEXICAL_USE": 10, "enum_LAST_WRITE": 3,
                           "enum_LAST_READ": 2, "enum_COMPUTED_FROM": 4}[name]


def test_data_flow_joins_branches(tmp_path):
    clean, _ = build_one(tmp_path, PICK)
    tokens, edges = clean["source_tokens"], edges_of(clean)
    assert (tokens[9], tokens[20], tokens[29], tokens[35], tokens[37]) == ("c", "a", "b", "a", "c")
    assert {(35, 2), (35, 20)} <= edges["enum_LAST_WRITE"]  # a: parameter (else) or if-branch
    assert (37, 9) in edges["enum_LAST_WRITE"]
    assert (29, 4) in edges["enum_LAST_WRITE"] and (29, 13) in edges["enum_LAST_READ"]
    assert edges["enum_COMPUTED_FROM"] == {(9, 11), (9, 13)}


def test_while_true_leaves_only_by_break(tmp_path):
    clean, _ = build_one(tmp_path, """\
        def spin(n, k):
            while True:
                n = k
                if n:
                    break
            return n
        """)
    tokens, edges = clean["source_tokens"], edges_of(clean)
    assert (tokens[14], tokens[28]) == ("n", "n")
    assert {d for s, d in edges["enum_LAST_WRITE"] if s == 28} == {14}


def test_try_except_finally_flow(tmp_path):
    clean, _ = build_one(tmp_path, """\
        def load(path, data):
            try:
                data = path.read()
            except OSError as err:
                return err
            finally:
                path = None
            return data
        """)
    tokens, edges = clean["source_tokens"], edges_of(clean)
    data = [i for i, t in enumerate(tokens) if t == "data"]
    # the final read sees only the write in the try body: the except path returns
    assert {d for s, d in edges["enum_LAST_WRITE"] if s == data[-1]} == {data[1]}
    path = [i for i, t in enumerate(tokens) if t == "path"]
    # finally runs on every path; its write follows the parameter
    assert (path[-1], path[0]) in edges["enum_LAST_WRITE"]
    assert (data[1], tokens.index("path", 10)) in edges["enum_COMPUTED_FROM"]


def test_reference_functions_rebuilt(tmp_path):
    """The first two reference lines, rebuilt from their source: same tokens and edges
    (except the AST-based FIELD / CFG_NEXT edges, which are not produced)."""
    src = write_tree(tmp_path / "src", {"common.py": """\
        def ec2_ids(self, ids):
            self.multi(ids, self.ec2_id)


        @classmethod
        def to_model(cls, sensor_type):
            model = sensor_type_utils.to_sensor_db_model(sensor_api_model=sensor_type)
            return model
        """})
    report = build_varmisuse(src, tmp_path / "d.jsonl", valid_fraction=0.0)
    ours = [s for s in read_great(report.train_path) if not s.has_bug]
    theirs = read_great(great_reference("dev__VARIABLE_MISUSE__SStuB.txt-00038-of-00300.first3.jsonl"))[:2]
    for mine, ref in zip(ours, theirs):
        assert mine.tokens == ref.tokens
        assert sorted(mine.repair_candidates) == sorted(ref.repair_candidates)
        for kind in ("enum_NEXT_SYNTAX", "enum_LAST_LEXICAL_USE", "enum_LAST_WRITE", "enum_LAST_READ"):
            assert {e for e in mine.edges if e[2] == kind} == {e for e in ref.edges if e[2] == kind}, kind
    # upstream also draws COMPUTED_FROM from the global sensor_type_utils (14); ours from variables only
    assert {e for e in ours[1].edges if e[2] == "enum_COMPUTED_FROM"} == {(12, 20, "enum_COMPUTED_FROM")}


def test_round_trip_and_determinism(tmp_path):
    src = write_tree(tmp_path / "src", {"a.py": SCALE, "pkg/b.py": PICK + "\n\n" + SCALE.replace("scale", "scale2")})
    first = build_varmisuse(src, tmp_path / "one" / "d.jsonl", seed=7, valid_fraction=0.0)
    second = build_varmisuse(src, tmp_path / "two" / "d.jsonl", seed=7, valid_fraction=0.0)
    assert first.train_path.read_bytes() == second.train_path.read_bytes()
    assert (first.functions, first.samples_train, first.samples_valid) == (3, 6, 0)
    samples = read_great(first.train_path)
    assert [s.has_bug for s in samples] == [False, True] * 3
    write_great(samples, tmp_path / "copy.jsonl")
    assert (tmp_path / "copy.jsonl").read_bytes() == first.train_path.read_bytes()
    assert first.valid_path == tmp_path / "one" / "d.valid.jsonl" and first.valid_path.read_text() == ""


def test_split_by_file(tmp_path):
    files = {f"m{i:02d}.py": SCALE.replace("scale", f"f{i}") for i in range(40)}
    src = write_tree(tmp_path / "src", files)
    report = build_varmisuse(src, tmp_path / "d.jsonl", valid_fraction=0.3)
    assert report.valid_path == valid_path_for(tmp_path / "d.jsonl") == tmp_path / "d.valid.jsonl"
    for path, to_valid in ((report.train_path, False), (report.valid_path, True)):
        recs = [json.loads(line) for line in path.read_text().splitlines()]
        files_here = [r["provenances"][0]["datasetProvenance"]["filepath"] for r in recs]
        assert all(is_valid_file(f, 0.3) == to_valid for f in files_here)
        assert files_here[::2] == files_here[1::2]  # both copies of a function together
    expected_valid = sum(is_valid_file(f, 0.3) for f in files)
    assert 0 < expected_valid < 40
    assert (report.samples_valid, report.samples_train) == (2 * expected_valid, 2 * (40 - expected_valid))


def test_skipped_files_and_functions_are_counted(tmp_path):
    src = write_tree(tmp_path / "src", {
        "good.py": PICK,
        "latin1.py": b"def f(a, b):\n    return a + b  # caf\xe9\n",
        "broken.py": "def f(a, b:\n    return a\n",
        "one_var.py": "def g(a):\n    return a\n",
        "matcher.py": "def m(a, b):\n    match a:\n        case [x]: return x + b\n",
        "nested/skip/__pycache__/c.py": PICK,
        "notes.txt": "def h(a, b): return a + b\n",
    })
    report = build_varmisuse(src, tmp_path / "d.jsonl", valid_fraction=0.0)
    assert (report.files_seen, report.files_skipped_non_utf8, report.files_skipped_syntax) == (5, 1, 1)
    assert (report.functions_seen, report.functions_unsupported, report.functions) == (3, 1, 1)
    assert report.samples_train == 2
    assert "5 files" in report.summary()


def test_a_file_nested_too_deeply_to_walk_is_skipped_as_one_that_does_not_parse(tmp_path):
    """A thousand nested brackets (Python's own parser refuses 200) overflow the recursion
    of the walks over the tree: the file is counted with those that do not parse and none
    of its functions is written, not even the one before the deep one."""
    deep = "def f(a):\n    b = a\n    return " + "(" * 1000 + "a" + ")" * 1000 + "\n"
    src = write_tree(tmp_path / "src", {"a.py": PICK.replace("pick", "early") + "\n\n" + deep, "b.py": PICK})
    report = build_varmisuse(src, tmp_path / "d.jsonl", valid_fraction=0.0)
    assert (report.files_seen, report.files_skipped_syntax) == (2, 1)
    assert (report.functions_seen, report.functions) == (1, 1)
    names = [json.loads(line)["provenances"][0]["datasetProvenance"]["function"]
             for line in report.train_path.read_text().splitlines()]
    assert names == ["pick", "pick"]


def test_limit_takes_sorted_files(tmp_path):
    src = write_tree(tmp_path / "src", {
        "b.py": PICK.replace("pick", "b1") + "\n\n" + PICK.replace("pick", "b2"),
        "a.py": PICK.replace("pick", "a1") + "\n\n" + PICK.replace("pick", "a2"),
        "c.py": PICK.replace("pick", "c1"),
    })
    report = build_varmisuse(src, tmp_path / "d.jsonl", limit=3, valid_fraction=0.0)
    names = [json.loads(line)["provenances"][0]["datasetProvenance"]["function"]
             for line in report.train_path.read_text().splitlines()]
    assert names == ["a1", "a1", "a2", "a2", "b1", "b1"]
    assert report.functions == 3


@pytest.mark.parametrize("files", [{}, {"one_var.py": "def g(a):\n    return a\n"}, {"x.txt": "hi"}])
def test_nothing_to_build(tmp_path, files):
    src = write_tree(tmp_path / "src", files)
    src.mkdir(exist_ok=True)
    out = tmp_path / "out" / "d.jsonl"
    with pytest.raises(InputError) as err:
        build_varmisuse(src, out)
    assert str(err.value).startswith(f"{src}: ")
    assert not out.exists() and not valid_path_for(out).exists()
    assert not out.parent.exists()  # nothing left behind, not even the folder


def test_missing_directory(tmp_path):
    with pytest.raises(InputError) as err:
        build_varmisuse(tmp_path / "nope", tmp_path / "d.jsonl")
    assert str(err.value) == f"{tmp_path / 'nope'}: no such directory"
