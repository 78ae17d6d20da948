"""Method-name data (Rabin et al. §3.1): labels, the .jsonl/.c2v/.c2s/.raw formats, and the
tree-sitter builder of engine.data.methodname_build."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from treehelpers import write_tree

from engine.data.methodname import MethodNameSample, java_string_hash, method_label
from engine.formats.code2vec import format_of, read_methodname, write_c2v, write_jsonl, write_methodname
from engine.data.methodname_build import build_methodname
from engine.data.pathcontexts import extract_contexts, load_language, normalize_terminal
from engine.data.splits import split_of, split_paths
from engine.errors import InputError

REFERENCE = Path(__file__).resolve().parent / "data" / "code2vec"


def reference(rel: str) -> Path:
    path = REFERENCE / rel
    if not path.exists():
        pytest.fail(f"reference data missing at {path}")
    return path




def all_samples(out: Path) -> list[MethodNameSample]:
    samples = []
    for path in split_paths(out).values():
        if path.read_text():
            samples += read_methodname(path)
    return samples


# --- labels ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name, label", [
    ("equals", "equals"),
    ("toString", "to|string"),
    ("setUp", "set|up"),
    ("onCreate", "on|create"),
    ("hashCode", "hash|code"),
    ("getFooBar", "get|foo|bar"),
    ("parseHTTPResponse2", "parse|http|response|2"),
    ("isXMLHttpRequest", "is|xml|http|request"),
    ("HTTPServer", "http|server"),
    ("URL", "url"),
    ("ABCdef", "ab|cdef"),
    ("fooBAR", "foo|bar"),
    ("__init__", "init"),
    ("__eq__", "eq"),
    ("snake_case_name", "snake|case|name"),
    ("CONSTANT_VALUE", "constant|value"),
    ("test_parse_2_items", "test|parse|2|items"),
    ("sha256sum", "sha|256|sum"),
    ("get2ndItem", "get|2|nd|item"),
    ("x1y2", "x|1|y|2"),
    ("get$Value", "get|value"),
    ("f", "f"),
    ("_", "_"),
])
def test_method_label_splits_camel_snake_digits_and_acronyms(name, label):
    assert method_label(name) == label


def test_terminals_are_normalized_as_code2vec_does():
    assert normalize_terminal("fooBar") == "foobar"
    assert normalize_terminal("var1") == "var"  # digits go when letters remain
    assert normalize_terminal("0") == "0"
    assert normalize_terminal("0.5f") == "f"
    assert normalize_terminal("'\\n'") == "BLANK"  # quotes and the two characters \n removed
    assert normalize_terminal('"a, b"') == "ab"
    assert normalize_terminal('" "') == "_"
    assert normalize_terminal('"é"') == "BLANK"
    assert normalize_terminal("x" * 80) == "x" * 50


def test_java_string_hash_matches_java():
    assert java_string_hash("") == 0
    assert java_string_hash("hello") == 99162322
    assert java_string_hash("polygenelubricants") == -2147483648


# --- reference formats ------------------------------------------------------------------------

def test_format_is_chosen_by_the_file_name(tmp_path):
    assert format_of("a/b.jsonl") == "jsonl"
    assert format_of("my_dataset.test.c2v.head20") == "c2v"
    assert format_of("my_dataset.val.c2s") == "c2s"
    assert format_of("my_dataset.test.raw.head20.txt") == "raw"
    with pytest.raises(InputError, match="unknown method-name format"):
        format_of(tmp_path / "data.csv")


def test_code2vec_c2v_reference_loads_with_exact_values():
    samples = read_methodname(reference("zthang_code2vec_treelstm/data/my_dataset/my_dataset.test.c2v.head20"))
    assert len(samples) == 20
    assert [s.label for s in samples[:5]] == ["next|int", "flush", "next", "to|string", "next|double"]
    flush = samples[1]
    assert flush.name == "flush" and flush.source is None and flush.slots == 200
    assert flush.contexts == [
        ("void", "1726006538", "METHOD_NAME"), ("void", "873735730", "pw"), ("void", "873735792", "flush"),
        ("METHOD_NAME", "-1153812927", "pw"), ("METHOD_NAME", "-1153812865", "flush"),
        ("pw", "2020783594", "flush"),
    ]
    assert samples[3].contexts[:4] == [("string", "362150388", "METHOD_NAME"), ("string", "-2117666526", "x"),
                                       ("string", "1169228258", "_"), ("string", "1244193165", "y")]
    assert [len(s.contexts) for s in samples[:4]] == [9, 6, 3, 10]
    assert samples[-1].label == "next|line" and len(samples[-1].contexts) == 58


def test_code2vec_demo_reference_loads_with_exact_values():
    original = read_methodname(reference("demo11-code2vec/originalCode/dataset.test.c2v"))
    renamed = read_methodname(reference("demo11-code2vec/variableRenaming/dataset.test.c2v"))
    assert [s.label for s in original] == ["done", "factorial", "contains", "get", "count", "is|prime",
                                           "index|of", "reverse|array"]
    assert [len(s.contexts) for s in original] == [30, 38, 66, 80, 93, 128, 108, 174]
    assert original[0].contexts[0] == ("void", "1726006538", "METHOD_NAME")
    assert original[0].contexts[-2:] == [("0", "-1777542676", "true"), ("done", "1861186124", "true")]
    factorial = original[1]
    assert factorial.contexts[:3] == [("int", "600457869", "METHOD_NAME"), ("int", "1934469823", "n"),
                                      ("int", "-1066421925", "int")]
    # the renamed copy: the same paths, n -> var (code2vec normalises var1 to var)
    assert renamed[0].label == "factorial"
    assert [c[1] for c in renamed[0].contexts] == [c[1] for c in factorial.contexts]
    assert renamed[0].contexts[1] == ("int", "1934469823", "var")


def test_code2vec_raw_extractor_output_loads_and_matches_the_c2v():
    raw = read_methodname(reference("zthang_code2vec_treelstm/my_dataset.test.raw.head20.txt"))
    c2v = read_methodname(reference("zthang_code2vec_treelstm/data/my_dataset/my_dataset.test.c2v.head20"))
    assert len(raw) == 20 and raw[0].slots is None
    assert [(s.label, s.contexts) for s in raw] == [(s.label, s.contexts) for s in c2v]
    assert raw[0].contexts[-1] == ("next", "-1631971307", "parseint")


def test_code2seq_c2s_reference_loads_with_exact_values():
    test = read_methodname(reference("code2seq_tech-srl/data/my_dataset/my_dataset.test.c2s"))
    val = read_methodname(reference("code2seq_tech-srl/data/my_dataset/my_dataset.val.c2s"))
    train = read_methodname(reference("code2seq_tech-srl/data/my_dataset/my_dataset.train.c2s"))
    assert [s.label for s in test] == ["get|leaves", "get|name", "get|length", "normalize|name", "is|method",
                                       "is|method", "split|to|subtokens"]
    assert test[0].contexts == [("node", "Cls0|Cls|Mth|Nm1", "METHOD_NAME"),
                                ("node", "Cls0|Cls|Mth|Bk|Ret|Nm0", "leaves"),
                                ("METHOD_NAME", "Nm1|Mth|Bk|Ret|Nm0", "leaves")]
    assert test[0].slots == 5
    assert val[3].contexts[0] == ("[\\]", "StrEx3|Cal1|Cal1|As|Ex|Bk|Ex|VDE|Cls0", "string")
    assert train[6].contexts[-1] == ("stream", "Nm0|Cal0|Cal2|StrEx2", "azaz||[|-|azazazs")
    assert len(val) == len(train) == 7


def test_every_reference_sample_file_loads_and_writes_back_byte_for_byte(tmp_path):
    files = [p for p in sorted(REFERENCE.rglob("*"))
             if p.is_file() and p.name != "log.txt" and ".histo." not in p.name]
    assert len(files) == 7  # three .c2s, three .c2v, one .raw
    for path in files:
        samples = read_methodname(path)
        assert samples and all(s.contexts for s in samples), path
        copy = tmp_path / path.name
        write_methodname(copy, samples)
        assert copy.read_bytes() == path.read_bytes(), path


def test_jsonl_round_trip_and_c2v_writing(tmp_path):
    sample = MethodNameSample(name="getX", label="get|x", contexts=[("int", "(a0)^(b)_(c1)", "METHOD_NAME")],
                              source="int getX() { return x; }", lang="java", file="A.java", line=3)
    write_jsonl(tmp_path / "d.jsonl", [sample])
    assert read_methodname(tmp_path / "d.jsonl") == [sample]
    write_c2v(tmp_path / "d.c2v", [sample], max_contexts=4)
    assert (tmp_path / "d.c2v").read_text() == "get|x int,(a0)^(b)_(c1),METHOD_NAME   \n"
    write_c2v(tmp_path / "h.c2v", [sample], max_contexts=1, hash_paths=True)
    assert (tmp_path / "h.c2v").read_text() == f"get|x int,{java_string_hash('(a0)^(b)_(c1)')},METHOD_NAME\n"
    back = read_methodname(tmp_path / "d.c2v")[0]
    assert (back.label, back.contexts, back.slots) == ("get|x", sample.contexts, 4)


@pytest.mark.parametrize("line, message", [
    ("get|x int,123", "d.c2v:2: malformed context 'int,123': expected start,path,end"),
    ("get|x int,1,2,3", "d.c2v:2: malformed context 'int,1,2,3'"),
    ("get|x ,1,b", "d.c2v:2: malformed context ',1,b'"),
    (" int,1,b", "d.c2v:2: a line starts with its label"),
    ("get|x\tint,1,b", "d.c2v:2: '\\t' in a label or context"),  # the tab would glue the context to the label
    ("get|x int,1\tc,b", "d.c2v:2: '\\t' in a label or context"),
    ("get|x int,1,b\x00", "d.c2v:2: '\\x00' in a label or context"),
])
def test_malformed_c2v_line_names_file_and_line(tmp_path, line, message):
    path = tmp_path / "d.c2v"
    path.write_text("ok a,1,b  \n" + line + "\n")
    with pytest.raises(InputError) as err:
        read_methodname(path)
    assert message in str(err.value) and str(err.value).startswith(str(path))
    assert err.value.line == 2


@pytest.mark.parametrize("text, message", [
    ('{"name": "f", "label": "f"}', "missing field 'contexts'"),
    ('{"name": "f", "label": "f", "contexts": [["a", "b"]]}', "bad context"),
    ('{"name": "f", "label": "", "contexts": []}', "field 'label' must be a non-empty string"),
    ('{"name": "f", "label": "f", "contexts": [], "line": "3"}', "field 'line' must be an integer"),
    ('{"name": "f", ', "malformed JSON"),
])
def test_malformed_jsonl_line_names_file_and_line(tmp_path, text, message):
    path = tmp_path / "d.jsonl"
    path.write_text('{"name": "g", "label": "g", "contexts": [["a", "p", "b"]]}\n\n' + text + "\n")
    with pytest.raises(InputError, match=message) as err:
        read_methodname(path)
    assert err.value.line == 3


@pytest.mark.parametrize("name", ["d.c2v", "d.c2s", "d.raw"])
def test_a_byte_order_mark_before_the_first_label_is_refused_as_the_great_reader_does(tmp_path, name):
    """It would become part of the first label; JSON lines (GREAT's, byrote's own) refuse it too."""
    path = tmp_path / name
    path.write_bytes(b"\xef\xbb\xbfget|x int,1,b\n")
    with pytest.raises(InputError, match=f"{name}:1: a UTF-8 byte-order mark before the first label"):
        read_methodname(path)
    (tmp_path / "d.jsonl").write_bytes(b'\xef\xbb\xbf{"name": "g", "label": "g", "contexts": []}\n')
    with pytest.raises(InputError, match="d.jsonl:1: malformed JSON: Unexpected UTF-8 BOM"):
        read_methodname(tmp_path / "d.jsonl")


def test_missing_or_empty_files_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_methodname(tmp_path / "none.c2v")
    (tmp_path / "empty.c2v").write_text("\n")
    with pytest.raises(InputError, match="empty dataset"):
        read_methodname(tmp_path / "empty.c2v")
    (tmp_path / "bad.c2v").write_bytes(b"f a,1,\xff\n")
    with pytest.raises(InputError, match="bad.c2v:1: not valid UTF-8"):
        read_methodname(tmp_path / "bad.c2v")


# --- the builder -------------------------------------------------------------------------------

JAVA_GET = """\
class A {
    int x;
    int get() { return x + 1; }
}
"""


def test_java_path_contexts_checked_by_hand():
    source = "int get() { return x + 1; }"
    # leaves: int (child 0 of method_declaration), get (child 1), x and 1 under the block
    # (child 3); int-x and int-1 are 3 children apart, wider than 2, so left out.
    assert extract_contexts(source, "java") == [
        ("int", "(integral_type0)^(method_declaration)_(identifier1)", "METHOD_NAME"),
        ("METHOD_NAME", "(identifier1)^(method_declaration)_(block)_(return_statement)"
                        "_(binary_expression:+)_(identifier0)", "x"),
        ("METHOD_NAME", "(identifier1)^(method_declaration)_(block)_(return_statement)"
                        "_(binary_expression:+)_(decimal_integer_literal1)", "1"),
        ("x", "(identifier0)^(binary_expression:+)_(decimal_integer_literal1)", "1"),
    ]


def test_python_path_contexts_checked_by_hand():
    source = "def get(self):\n    return self.x + 1\n"
    assert extract_contexts(source, "python") == [
        ("METHOD_NAME", "(identifier0)^(function_definition)_(parameters)_(identifier0)", "self"),
        ("METHOD_NAME", "(identifier0)^(function_definition)_(block)_(return_statement)"
                        "_(binary_operator:+)_(attribute)_(identifier0)", "self"),
        ("METHOD_NAME", "(identifier0)^(function_definition)_(block)_(return_statement)"
                        "_(binary_operator:+)_(attribute)_(identifier1)", "x"),
        ("METHOD_NAME", "(identifier0)^(function_definition)_(block)_(return_statement)"
                        "_(binary_operator:+)_(integer1)", "1"),
        ("self", "(identifier0)^(parameters)^(function_definition)_(block)_(return_statement)"
                 "_(binary_operator:+)_(attribute)_(identifier0)", "self"),
        ("self", "(identifier0)^(parameters)^(function_definition)_(block)_(return_statement)"
                 "_(binary_operator:+)_(attribute)_(identifier1)", "x"),
        ("self", "(identifier0)^(parameters)^(function_definition)_(block)_(return_statement)"
                 "_(binary_operator:+)_(integer1)", "1"),
        ("self", "(identifier0)^(attribute)_(identifier1)", "x"),
        ("self", "(identifier0)^(attribute)^(binary_operator:+)_(integer1)", "1"),
        ("x", "(identifier1)^(attribute)^(binary_operator:+)_(integer1)", "1"),
    ]


def test_long_paths_are_left_out():
    deep = "int f() { return ((((((((a)))))))) + b; }"
    contexts = extract_contexts(deep, "java")
    assert all(path.count("^") + path.count("_(") <= 8 for _, path, _ in contexts)
    assert not any(s == "a" or e == "a" for s, _, e in contexts)  # a sits too deep for any pair


def test_java_build_labels_masking_and_sources(tmp_path):
    src = write_tree(tmp_path / "src", {
        "A.java": """\
            class A {
                private int count;
                A(int c) { count = c; }
                abstract void skipped();
                @Override
                public String toString() { return "A" + count; }
                int factorial(int n) {
                    return n == 0 ? 1 : n * factorial(n - 1);
                }
                int getHTTPCount2() { return this.getHTTPCount2() + other.getHTTPCount2(); }
            }
            """,
    })
    report = build_methodname(src, tmp_path / "out" / "j.jsonl", lang="java", valid_fraction=0, test_fraction=0)
    samples = read_methodname(tmp_path / "out" / "j.jsonl")
    assert [(s.name, s.label, s.line) for s in samples] == [
        ("toString", "to|string", 5), ("factorial", "factorial", 7), ("getHTTPCount2", "get|http|count|2", 10)]
    assert report.methods_seen == 3 and report.samples_train == 3  # no constructor, no body-less method
    to_string, factorial, get = samples
    assert to_string.source.startswith("    @Override\n    public String toString()")
    assert to_string.lang == "java" and to_string.file == "A.java"
    assert ("override", "(identifier0)^(marker_annotation)^(modifiers)^(method_declaration)_(type_identifier1)",
            "string") in to_string.contexts
    terminals = {t for s, _, e in factorial.contexts for t in (s, e)}
    assert "factorial" not in terminals  # its own name and the recursive call are masked
    assert sum(e == "METHOD_NAME" for _, _, e in factorial.contexts) > 1
    # this.getHTTPCount2() is masked, other.getHTTPCount2() (another object's method) is not
    assert ("this", "(this0)^(method_invocation)_(identifier1)", "METHOD_NAME") in get.contexts
    assert ("other", "(identifier0)^(method_invocation)_(identifier1)", "gethttpcount") in get.contexts
    for sample in samples:  # the source re-extracts to the very same contexts
        assert extract_contexts(sample.source, "java", 200, 0) == sample.contexts


def test_python_build_functions_methods_and_decorators(tmp_path):
    src = write_tree(tmp_path / "src", {
        "m.py": '''\
            def parse_http_response(data):
                """Docstrings are not terminals."""
                return parse_http_response(data[1:]) if data else None

            class A:
                @property
                def size(self):
                    return self.stored

                @size.setter
                def size(self, value):
                    self.stored = value

                def __init__(self):
                    def helper(x):
                        return x
                    self.h = helper
            ''',
    })
    build_methodname(src, tmp_path / "p.jsonl", lang="python", valid_fraction=0, test_fraction=0)
    samples = read_methodname(tmp_path / "p.jsonl")
    assert [(s.name, s.label, s.line) for s in samples] == [
        ("parse_http_response", "parse|http|response", 1), ("size", "size", 6), ("size", "size", 10),
        ("__init__", "init", 14), ("helper", "helper", 15)]
    first = samples[0]
    terminals = {t for s, _, e in first.contexts for t in (s, e)}
    assert "parsehttpresponse" not in terminals and "docstringsarenotterminals" not in terminals
    setter = samples[2]
    assert setter.source.startswith("    @size.setter\n    def size(self, value):")
    assert ("METHOD_NAME", "(identifier0)^(attribute)_(identifier1)", "setter") in setter.contexts
    assert all("size" not in (s, e) for s, _, e in setter.contexts)
    for sample in samples:
        assert extract_contexts(sample.source, "python", 200, 0) == sample.contexts


def java_tree(n_files: int) -> dict[str, str]:
    names = ["equals", "run", "get", "main"]
    files = {}
    for i in range(n_files):
        k = i % 4
        methods = "\n".join(f"    int {names[j]}(int a) {{ return a + {i}; }}" for j in range(k + 1))
        files[f"pkg{i % 3}/F{i}.java"] = f"class F{i} {{\n{methods}\n}}\n"
    return files


def test_top_keeps_the_most_frequent_names_and_min_count(tmp_path):
    src = write_tree(tmp_path / "src", java_tree(12))  # equals 12, run 9, get 6, main 3
    report = build_methodname(src, tmp_path / "t.jsonl", lang="java", top=2)
    assert report.names_kept == ["equals", "run"] and report.methods_kept == 21
    assert {s.name for s in all_samples(tmp_path / "t.jsonl")} == {"equals", "run"}
    report = build_methodname(src, tmp_path / "m.jsonl", lang="java", min_count=6)
    assert report.names_kept == ["equals", "run", "get"]
    with pytest.raises(InputError, match="--top 5 is larger than the 4 distinct method names"):
        build_methodname(src, tmp_path / "x.jsonl", lang="java", top=5)
    with pytest.raises(InputError, match="--top 4 is larger than the 3 distinct method names occurring at"):
        build_methodname(src, tmp_path / "x.jsonl", lang="java", top=4, min_count=4)
    assert not (tmp_path / "x.jsonl").exists()


def test_ties_in_top_are_broken_alphabetically(tmp_path):
    src = write_tree(tmp_path / "src", {"A.java": "class A { int b() { return 1; } int a() { return 2; } }"})
    report = build_methodname(src, tmp_path / "t.jsonl", lang="java", top=1, valid_fraction=0, test_fraction=0)
    assert report.names_kept == ["a"]


def test_split_is_by_file_and_deterministic(tmp_path):
    src = write_tree(tmp_path / "src", java_tree(60))
    out = tmp_path / "a" / "d.jsonl"
    report = build_methodname(src, out, lang="java", seed=3)
    paths = split_paths(out)
    assert paths == {"train": out, "valid": tmp_path / "a" / "d.valid.jsonl", "test": tmp_path / "a" / "d.test.jsonl"}
    files_in = {}
    for split, path in paths.items():
        for sample in read_methodname(path):
            files_in.setdefault(sample.file, set()).add(split)
            assert split_of(sample.file) == split
    assert all(len(splits) == 1 for splits in files_in.values())
    assert len(files_in) == 60 and report.samples == 150
    assert report.samples_valid and report.samples_test and report.samples_train > report.samples_valid
    again = build_methodname(src, tmp_path / "b" / "d.jsonl", lang="java", seed=3)
    for split in paths:
        assert split_paths(tmp_path / "b" / "d.jsonl")[split].read_bytes() == paths[split].read_bytes()
    assert again.summary().count("train samples") == 1


def test_contexts_are_sampled_deterministically_by_seed(tmp_path):
    body = " ".join(f"int v{i} = a{i} + b{i};" for i in range(30))
    source = f"int f() {{ {body} return 0; }}"
    everything = extract_contexts(source, "java", max_contexts=None)
    assert len(everything) > 200
    one = extract_contexts(source, "java", 200, seed=1)
    assert len(one) == 200 and one == extract_contexts(source, "java", 200, seed=1)
    assert one != extract_contexts(source, "java", 200, seed=2)
    assert set(one) <= set(everything)


def test_c2v_output(tmp_path):
    src = write_tree(tmp_path / "src", {"A.java": JAVA_GET})
    build_methodname(src, tmp_path / "d.c2v", lang="java", max_contexts=10, valid_fraction=0, test_fraction=0)
    line = (tmp_path / "d.c2v").read_text()
    assert line == ("get int,(integral_type0)^(method_declaration)_(identifier1),METHOD_NAME "
                    "METHOD_NAME,(identifier1)^(method_declaration)_(block)_(return_statement)"
                    "_(binary_expression:+)_(identifier0),x "
                    "METHOD_NAME,(identifier1)^(method_declaration)_(block)_(return_statement)"
                    "_(binary_expression:+)_(decimal_integer_literal1),1 "
                    "x,(identifier0)^(binary_expression:+)_(decimal_integer_literal1),1" + " " * 6 + "\n")
    assert (tmp_path / "d.valid.c2v").read_text() == ""


def test_non_utf8_files_and_syntax_errors_are_skipped_and_counted(tmp_path):
    src = write_tree(tmp_path / "src", {
        "ok.py": "def good(a):\n    return a\n",
        "latin.py": "def bad(a):\n    return 'caf\xe9'\n".encode("latin-1"),
        "broken.py": "def broken(a):\n    return (a\n\ndef fine(b):\n    return b\n",
        "site-packages/x.py": "def hidden(a):\n    return a\n",
        ".git/y.py": "def hidden(a):\n    return a\n",
    })
    report = build_methodname(src, tmp_path / "d.jsonl", lang="python", valid_fraction=0, test_fraction=0)
    assert report.files_seen == 3 and report.files_skipped_non_utf8 == 1
    assert report.methods_skipped_syntax >= 1
    names = {s.name for s in read_methodname(tmp_path / "d.jsonl")}
    assert "good" in names and "bad" not in names and "hidden" not in names and "broken" not in names


def test_bad_inputs_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="no such directory"):
        build_methodname(tmp_path / "nowhere", tmp_path / "d.jsonl", lang="java")
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match="not a directory"):
        build_methodname(tmp_path / "file", tmp_path / "d.jsonl", lang="java")
    empty = write_tree(tmp_path / "empty", {"A.java": "class A { A() {} abstract void f(); }", "b.py": "x = 1\n"})
    with pytest.raises(InputError, match=r"no java method .* in any \.java file"):
        build_methodname(empty, tmp_path / "d.jsonl", lang="java")
    with pytest.raises(InputError, match=r"no python method"):
        build_methodname(empty, tmp_path / "d.jsonl", lang="python")
    with pytest.raises(InputError, match="unknown language 'cobol'"):
        build_methodname(empty, tmp_path / "d.jsonl", lang="cobol")
    with pytest.raises(InputError, match="--top must be at least 1"):
        build_methodname(empty, tmp_path / "d.jsonl", lang="java", top=0)
    with pytest.raises(InputError, match="written as .jsonl, .c2v or .c2s"):
        build_methodname(empty, tmp_path / "d.raw", lang="java")
    with pytest.raises(InputError, match="unknown context style 'code2sequence'"):
        build_methodname(empty, tmp_path / "d.jsonl", lang="java", style="code2sequence")
    with pytest.raises(InputError, match="unknown method-name format"):
        build_methodname(empty, tmp_path / "d.csv", lang="java")
    assert not list(tmp_path.glob("d*"))


def test_a_grammar_tree_sitter_cannot_load_is_one_line(monkeypatch):
    import engine.data.pathcontexts as build

    monkeypatch.setitem(build._SPECS, "java",
                        dataclasses.replace(build._SPECS["java"], module="tree_sitter_no_such_grammar"))
    build._language.cache_clear()
    try:
        with pytest.raises(InputError) as err:
            load_language("java")
        assert "tree-sitter cannot load the java grammar (tree_sitter_no_such_grammar)" in str(err.value)
        assert "\n" not in str(err.value)
    finally:
        monkeypatch.undo()
        build._language.cache_clear()
        build.parser_for.cache_clear()
        build._method_query.cache_clear()
    assert load_language("java") is not None


def test_jsonl_output_records(tmp_path):
    src = write_tree(tmp_path / "src", {"A.java": JAVA_GET})
    build_methodname(src, tmp_path / "d.jsonl", lang="java", valid_fraction=0, test_fraction=0)
    rec = json.loads((tmp_path / "d.jsonl").read_text())
    assert rec["name"] == "get" and rec["label"] == "get" and rec["lang"] == "java"
    assert rec["file"] == "A.java" and rec["line"] == 3
    assert rec["source"] == "    int get() { return x + 1; }"
    assert rec["contexts"][0] == ["int", "(integral_type0)^(method_declaration)_(identifier1)", "METHOD_NAME"]
