"""engine.formats.great: the GREAT JSON-lines format (Hellendoorn et al. 2020; Rabin et al. §3.2)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.formats.great import iter_great, read_great, write_great
from engine.errors import InputError

FIRST3 = "dev__VARIABLE_MISUSE__SStuB.txt-00038-of-00300.first3.jsonl"
BUGGY3 = "dev__VARIABLE_MISUSE__SStuB.txt-00261-of-00300.buggy3.jsonl"


def great_reference(name: str) -> Path:
    """A file of tests/data/great (copied from shared/reference)."""
    path = Path(__file__).resolve().parent / "data" / "great" / name
    if not path.exists():
        pytest.fail(f"reference data missing at {path}")
    return path


def reference_lines() -> list[str]:
    return [line for name in (FIRST3, BUGGY3) for line in great_reference(name).read_text().splitlines()]


def test_bug_free_reference_lines():
    samples = read_great(great_reference(FIRST3))
    assert len(samples) == 3
    first = samples[0]
    assert len(first.tokens) == 19
    assert first.tokens[:3] == ["#NEWLINE#", "def ec2_ids(", "self"]
    assert (first.has_bug, first.error_location, first.repair_targets) == (False, 0, [])
    assert first.repair_candidates == [4, 13, 2, 9, 15]  # the names 'ids', 'self' dropped
    assert first.raw["repair_candidates"] == [4, 13, "ids", 2, 9, 15, "self"]
    assert first.edges[0] == (1, 3, "enum_FIELD")
    assert (6, 8, "enum_NEXT_SYNTAX") in first.edges
    assert (9, 2, "enum_LAST_LEXICAL_USE") in first.edges
    assert len(first.edges) == len(first.raw["edges"]) == 29
    assert [len(s.tokens) for s in samples] == [19, 25, 52]
    assert samples[1].repair_candidates == [7, 20, 5, 12, 24]
    assert all(not s.has_bug and s.error_location == 0 for s in samples)


def test_buggy_reference_lines():
    samples = read_great(great_reference(BUGGY3))
    assert [(s.has_bug, s.error_location, s.repair_targets) for s in samples] == [
        (True, 42, [4]), (True, 88, [50]), (True, 38, [2, 19])]
    assert samples[0].tokens[42] == "binary" and samples[0].tokens[4] == "binary_id"
    assert samples[0].repair_candidates == [4, 9, 45, 52, 2, 34, 48, 32, 42, 54]
    assert samples[0].raw["provenances"][0]["datasetProvenance"]["datasetName"] == "ETHPy150Open"


@pytest.mark.parametrize("name", [FIRST3, BUGGY3])
def test_round_trip_is_lossless(tmp_path, name):
    original = great_reference(name)
    samples = read_great(original)
    out = tmp_path / "copy.jsonl"
    write_great(samples, out)
    assert out.read_bytes() == original.read_bytes()
    assert [s.to_record() for s in samples] == [json.loads(line) for line in original.read_text().splitlines()]
    again = read_great(out)
    assert [(s.tokens, s.edges, s.has_bug, s.error_location, s.repair_targets, s.repair_candidates, s.raw)
            for s in again] == [
        (s.tokens, s.edges, s.has_bug, s.error_location, s.repair_targets, s.repair_candidates, s.raw)
        for s in samples]


def test_iter_great_is_lazy_and_skips_blank_lines(tmp_path):
    lines = reference_lines()
    path = tmp_path / "d.jsonl"
    path.write_text("\n" + lines[0] + "\n   \n" + lines[3] + "\n\n")
    stream = iter_great(path)
    assert next(stream).error_location == 0
    assert next(stream).error_location == 42
    assert next(stream, None) is None


def test_three_element_edges_are_named(tmp_path):
    rec = json.loads(reference_lines()[0])
    rec["edges"] = [[1, 2, 9], [2, 3, 3], [3, 4, 42]]
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(rec) + "\n")
    (sample,) = read_great(path)
    assert sample.edges == [(1, 2, "enum_NEXT_SYNTAX"), (2, 3, "enum_LAST_WRITE"), (3, 4, "edge_type_42")]
    write_great([sample], tmp_path / "out.jsonl")  # the raw edges are kept as they were
    assert json.loads((tmp_path / "out.jsonl").read_text())["edges"] == rec["edges"]


def _bad(rec: dict, **changes) -> str:
    out = dict(rec, **changes)
    return json.dumps({k: v for k, v in out.items() if v is not _DROP})


_DROP = object()


def _bad_lines() -> list[tuple[str, str, str]]:
    """(case, bad line, expected text in the message)."""
    clean, buggy = (json.loads(line) for line in (reference_lines()[0], reference_lines()[3]))
    return [
        ("json", '{"has_bug": false, ', "malformed JSON"),
        ("not an object", "[1, 2]", "expected a JSON object"),
        ("missing", _bad(clean, edges=_DROP), "missing field 'edges'"),
        ("missing provenances", _bad(clean, provenances=_DROP), "missing field 'provenances'"),
        ("type tokens", _bad(clean, source_tokens="def f(x): pass"), "field 'source_tokens'"),
        ("type has_bug", _bad(clean, has_bug=0), "field 'has_bug'"),
        ("type location", _bad(clean, error_location="0"), "field 'error_location'"),
        ("type targets", _bad(buggy, repair_targets=[4.0]), "field 'repair_targets'"),
        ("location range", _bad(buggy, error_location=58), "error_location position 58"),
        ("negative location", _bad(buggy, error_location=-1), "error_location position -1"),
        ("target range", _bad(buggy, repair_targets=[99]), "repair_targets position 99"),
        ("candidate range", _bad(clean, repair_candidates=[4, "ids", 19]), "repair_candidates position 19"),
        ("edge range", _bad(clean, edges=[[1, 19, 9, "enum_NEXT_SYNTAX"]]), "edge position 19"),
        ("edge shape", _bad(clean, edges=[[1, 2]]), "bad edge"),
        ("edge name", _bad(clean, edges=[[1, 2, 9, 9]]), "bad edge"),
        ("buggy no targets", _bad(buggy, repair_targets=[]), "buggy sample"),
        ("buggy at 0", _bad(buggy, error_location=0), "buggy sample"),
        ("clean with location", _bad(clean, error_location=3), "bug-free sample"),
    ]


@pytest.mark.parametrize("case,line,message", _bad_lines(), ids=[c for c, _, _ in _bad_lines()])
def test_bad_line_names_file_and_line(tmp_path, case, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(reference_lines()[0] + "\n\n" + line + "\n" + reference_lines()[1] + "\n")
    with pytest.raises(InputError) as err:
        read_great(path)
    assert (err.value.path, err.value.line) == (str(path), 3)
    assert str(err.value).startswith(f"{path}:3: ")
    assert message in str(err.value)


def test_non_utf8_line(tmp_path):
    path = tmp_path / "latin.jsonl"
    path.write_bytes(reference_lines()[0].encode() + b"\n" + reference_lines()[1].encode().replace(b"model", b"mod\xe9l") + b"\n")
    with pytest.raises(InputError) as err:
        read_great(path)
    assert (err.value.line, str(err.value)) == (2, f"{path}:2: not valid UTF-8")


@pytest.mark.parametrize("text", ["", "\n  \n\n"])
def test_empty_dataset(tmp_path, text):
    path = tmp_path / "empty.jsonl"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        read_great(path)
    assert str(err.value) == f"{path}: empty dataset"


def test_missing_file(tmp_path):
    with pytest.raises(InputError) as err:
        read_great(tmp_path / "nope.jsonl")
    assert str(err.value) == f"{tmp_path / 'nope.jsonl'}: no such file"


def test_write_is_atomic(tmp_path):
    samples = read_great(great_reference(FIRST3))

    def failing():
        yield samples[0]
        raise RuntimeError("disk on fire")

    out = tmp_path / "out.jsonl"
    with pytest.raises(RuntimeError):
        write_great(failing(), out)
    assert list(tmp_path.iterdir()) == []
