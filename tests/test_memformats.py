"""The study's file formats (engine.formats) against real samples (tests/data)."""
from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest

from engine.errors import InputError
from engine.formats.memorization_json import read_memorization_json, write_memorization_json
from engine.formats.outputs_dir import (merge_content, merged_line_origins, read_output_dir, write_merged,
                                        write_output_dir)
from engine.formats.simian import (
    Memorized,
    SimianBlock,
    SimianLocation,
    SimianLog,
    default_is_output,
    memorized_from_simian,
    parse_simian_lines,
    parse_simian_log,
    parse_simian_options,
    read_simian_log,
    simian_summary_counts,
)
from engine.formats.snippet_text import read_snippets, write_snippets

ALL = "<your-folder>/extract/results/codeparrot/codeparrot-small-temp1.0-len512-k40/all"
SHARD0 = "<your-folder>/clone/save/codeparrot/codeparrot-clean/0"
HEADER = (
    "Similarity Analyser 2.5.10 - http://www.harukizaemon.com/simian\n"
    "Copyright (c) 2003-2018 Simon Harris.  All rights reserved.\n"
    "Simian is not free unless used solely for non-commercial or evaluation purposes.\n"
    "{failOnDuplication=true, ignoreCharacterCase=true, threshold=6}\n"
)
FA, FB, FC, FD = "a" * 32, "b" * 32, "c" * 32, "d" * 32
CLOSE = ("Found 12 duplicate lines in 2 blocks in 2 files\n"  # Simian's closing summary
         "Processed a total of 100 significant (120 raw) lines in 2 files\n"
         "Processing time: 0.010sec\n")


def _found(n: int, fp: str, *locs: tuple[int, int, str]) -> str:
    head = f"Found {n} duplicate lines with fingerprint {fp} in the following files:\n"
    return head + "".join(f" Between lines {a} and {b} in {p}\n" for a, b, p in locs)


def _write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return p


def _error(func, *args, **kwargs) -> InputError:
    with pytest.raises(InputError) as info:
        func(*args, **kwargs)
    return info.value


# ------------------------------------------------------------------------ Simian logs


def test_privacy_style_log_every_block_and_summary(reference):
    path = reference / "simian" / "simian-2.5.10_privacy-style_GENERATED.log"
    log = read_simian_log(path)
    assert log.path == str(path)
    assert log.options == {"failOnDuplication": True, "ignoreCharacterCase": True, "ignoreCurlyBraces": True,
                           "ignoreIdentifierCase": True, "ignoreModifiers": True, "ignoreStringCase": True,
                           "threshold": 6}
    assert len(log.blocks) == 27
    assert sum(len(b.locations) for b in log.blocks) == 56
    assert log.blocks[0] == SimianBlock(6, "d548575be18139f34dac00ec2874f594", (
        SimianLocation(ALL, 1131, 1137), SimianLocation(SHARD0, 964, 973)), 5)
    # the block the upstream parser dropped: the last one, and the largest
    assert log.blocks[-1] == SimianBlock(233, "111742866ee9bd8073fe1ca5a8fe144d", (
        SimianLocation(SHARD0, 40, 315), SimianLocation(ALL, 39, 314)), 85)
    s = log.summary
    assert (s.duplicate_lines, s.duplicate_blocks, s.duplicate_files) == (1345, 52, 2)
    assert (s.significant_lines, s.raw_lines, s.total_files, s.seconds) == (1917, 2279, 2, 0.114)
    # "blocks" are not the 27 sets nor the 56 locations; N x locations is 1371, not 1345
    assert sum(b.lines * len(b.locations) for b in log.blocks) == 1371
    assert simian_summary_counts(log.blocks) == (1345, 52, 2)
    assert parse_simian_log(path) == log.blocks


def test_repo_scan_log(reference):
    log = read_simian_log(reference / "simian" / "simian-2.5.10_privacy-repo-py-scan_GENERATED.log")
    assert len(log.blocks) == 49
    assert sum(len(b.locations) for b in log.blocks) == 103
    last = log.blocks[-1]
    assert (last.lines, last.fingerprint, last.line) == (205, "1fb1763ba1fae62d925f213dea33570e", 154)
    assert last.locations[1] == SimianLocation("<your-folder>/src/CodeCompletion-line/code/run_lm.py", 40, 315)
    s = log.summary
    assert (s.duplicate_lines, s.duplicate_blocks, s.duplicate_files) == (2306, 95, 25)
    assert (s.significant_lines, s.raw_lines, s.total_files, s.seconds) == (5024, 6435, 47, 0.15)
    assert sum(b.lines * len(b.locations) for b in log.blocks) == 2366
    assert simian_summary_counts(log.blocks) == (2306, 95, 25)


def test_blog_excerpt_is_a_complete_log(reference):
    log = read_simian_log(reference / "simian" / "excerpt_blog_blitzmax_simian-2.5.10.txt")
    assert log.options["language"] == "VB" and log.options["threshold"] == 5
    assert [(b.lines, b.fingerprint, b.line) for b in log.blocks] == [
        (5, "58349a293c079cddfe30357e667a5aa4", 5), (7, "285244b124a3a29e5c65d4106d0aba7d", 8)]
    assert log.blocks[1].locations[1] == SimianLocation("pangolin.mod/contentdb.mod/src/component_field.bmx", 81, 96)
    s = log.summary
    assert (s.duplicate_lines, s.duplicate_blocks, s.duplicate_files, s.total_files) == (24, 4, 3, 9)
    assert simian_summary_counts(log.blocks) == (24, 4, 3)


def test_readme_excerpt_is_a_fragment(reference):
    path = reference / "simian" / "excerpt_Privacy-in-Code-Models_README.txt"
    err = _error(read_simian_log, path)
    assert err.line == 1 and "not a Simian log" in str(err)
    log = read_simian_log(path, fragment=True)
    assert log.options == {} and log.summary is None and len(log.blocks) == 1
    block = log.blocks[0]
    assert (block.lines, block.fingerprint, len(block.locations)) == (6, "1176c28f7138b31961b65e38b6f7159b", 5)
    assert block.locations[0] == SimianLocation(ALL, 187773, 187778)
    assert block.locations[4] == SimianLocation(SHARD0, 733896, 733901)
    m = memorized_from_simian([log])["1176c28f7138b31961b65e38b6f7159b"]
    assert (m.len, m.train, m.extract) == (6, 4, 1)


def test_lenient_endings_spaces_crlf_and_case(tmp_path):
    body = HEADER + _found(6, FA.upper(), (1, 6, "/a b/all"), (3, 9, "/x/my shard 0"))
    log = read_simian_log(_write(tmp_path, "a.log", (body + CLOSE + "\n\n").replace("\n", "\r\n")))
    assert log.blocks == [SimianBlock(6, FA, (SimianLocation("/a b/all", 1, 6),
                                              SimianLocation("/x/my shard 0", 3, 9)), 5)]
    s = log.summary
    assert (s.duplicate_lines, s.duplicate_blocks, s.duplicate_files, s.significant_lines, s.seconds) == (
        12, 2, 2, 100, 0.01)
    empty = HEADER + CLOSE.replace("12 duplicate lines in 2 blocks in 2 files", "0 duplicate lines in 0 blocks in 0 files")
    assert read_simian_log(_write(tmp_path, "c.log", empty)).blocks == []


@pytest.mark.parametrize("cut, line", [
    (0, 7),                                   # after its last block
    (1, 8),                                   # inside the summary
    (2, 9),
    (len(CLOSE) - 4, 10),                     # mid-line: "Processing time: 0.0"
    (len(CLOSE) - 1, 10),                     # "... 0.010sec" without its line break: complete
])
def test_a_log_cut_short_is_an_error_naming_its_last_line(tmp_path, cut, line):
    """Simian closes every log with its summary: a log without it was cut (issue 15), and
    importing its blocks would silently drop what followed."""
    body = HEADER + _found(6, FA, (1, 6, "/a/all"), (3, 9, "/x/0"))
    if cut in (1, 2):
        text = body + "".join(CLOSE.splitlines(keepends=True)[:cut])
    else:
        text = body + CLOSE[:cut]
    path = _write(tmp_path, "cut.log", text)
    if cut == len(CLOSE) - 1:
        assert read_simian_log(path).summary.seconds == 0.01
        return
    err = _error(read_simian_log, path)
    assert (err.path, err.line) == (str(path), line), str(err)
    assert "cut short" in str(err) or "Processing time" in str(err)
    if "cut short" in str(err):
        assert read_simian_log(path, fragment=True).blocks  # an excerpt may stop at any line


def test_options_line():
    assert parse_simian_options("{}") == {}
    assert parse_simian_options("{a=true, b=false, threshold=6, language=VB}") == {
        "a": True, "b": False, "threshold": 6, "language": "VB"}
    assert parse_simian_options("{threshold=\u0666, n=-00000000000000000000007}") == {"threshold": "\u0666", "n": -7}
    assert _error(parse_simian_options, "{a=1, junk}", "f.log", 4).line == 4
    assert "option line" in str(_error(parse_simian_options, "threshold=6"))


BLOCK = _found(6, FA, (1, 6, "all"), (2, 7, "0"))
SUMMARY = "Found 12 duplicate lines in 2 blocks in 2 files\n"


@pytest.mark.parametrize("text, line, words", [
    (HEADER + BLOCK + "garbage here\n", 8, "unrecognized line"),
    (HEADER + BLOCK + "\n" + BLOCK, 8, "unrecognized line"),
    (HEADER + _found(6, FA) + BLOCK, 5, "no locations"),
    (HEADER + BLOCK + _found(7, FB), 8, "no locations"),
    (HEADER + BLOCK + _found(7, FB) + SUMMARY, 8, "no locations"),
    (HEADER + _found(6, "xyz" * 10 + "ab", (1, 6, "all")), 5, "not 32 hex"),
    (HEADER + _found(6, FA[:31], (1, 6, "all")), 5, "not 32 hex"),
    (HEADER + _found(0, FA, (1, 6, "all")), 5, "at least 1 line"),
    (HEADER + _found(6, FA, (9, 6, "all")), 6, "bad line span 9..6"),
    (HEADER + _found(6, FA, (0, 6, "all")), 6, "bad line span"),
    (HEADER + " Between lines 1 and 6 in all\n", 5, "outside a block"),
    (HEADER + BLOCK + SUMMARY + BLOCK, 9, "after the summary"),
    (HEADER + BLOCK + SUMMARY + "Processing time: 0.1sec\n", 9, "Processed a total"),
    (HEADER + "Between lines 1 and 6 in all\n", 5, "unrecognized"),
    ("hello\n" + BLOCK, 1, "not a Simian log"),
    ("Similarity Analyser 2.5.10\nCopyright\n", 2, "cut short"),
    (HEADER.replace("{failOnDuplication=true, ignoreCharacterCase=true, threshold=6}", "threshold 6"), 4, "option line"),
    # numbers are ASCII digits: Arabic-Indic ones (\u0661\u0662 is 12 to int()) are no number of Simian's
    (HEADER + BLOCK.replace("lines 1 and", "lines \u0661\u0662 and"), 6, "unrecognized line"),
    (HEADER + BLOCK.replace("Found 6", "Found \u0666"), 5, "unrecognized line"),
    (HEADER + BLOCK + SUMMARY.replace("in 2 files", "in \u0662 files"), 8, "unrecognized line"),
    # more than 4,300 digits (beyond what int() reads): a line, never Python's ValueError
    (HEADER + BLOCK.replace("Found 6", "Found " + "9" * 5000), 5, "a block of more than"),
    (HEADER + BLOCK.replace("and 6", "and " + "9" * 5000), 6, "bad line span 1..999999999999999999999999..."),
    (HEADER + BLOCK + SUMMARY.replace("12", "1" * 5000), 8, "a number of the summary is beyond"),
    (HEADER.replace("threshold=6", "threshold=-" + "9" * 5000), 4, "option 'threshold' in Simian's option line"),
])
def test_simian_garbage_is_one_line_error(tmp_path, text, line, words):
    path = _write(tmp_path, "x.log", text)
    err = _error(read_simian_log, path)
    assert (err.path, err.line) == (str(path), line)
    assert str(err).startswith(f"{path}:{line}: ") and words in str(err) and "\n" not in str(err)


def test_simian_missing_empty_and_binary_files(tmp_path):
    assert "no such Simian log" in str(_error(parse_simian_log, tmp_path / "nope.log"))
    assert "empty file" in str(_error(parse_simian_log, _write(tmp_path, "e.log", "\n\n")))
    err = _error(parse_simian_log, _write(tmp_path, "b.log", HEADER.encode() + b"Found \xff\n"))
    assert (err.line, "UTF-8" in str(err)) == (5, True)


def test_summary_counts_nesting_rule():
    blocks = [SimianBlock(6, FA, (SimianLocation("f", 10, 15), SimianLocation("g", 1, 8)), 1),
              SimianBlock(9, FB, (SimianLocation("f", 8, 20), SimianLocation("g", 1, 8)), 2),
              SimianBlock(7, FC, (SimianLocation("f", 18, 30), SimianLocation("h", 5, 11)), 3)]
    # f:10-15 lies inside f:8-20 (dropped); g:1-8 twice counts once; f:18-30 only overlaps
    assert simian_summary_counts(blocks) == (9 + 6 + 7 + 7, 4, 3)


# ------------------------------------------------------------------ memorization rule


def _log(text: str, name: str | None = None) -> SimianLog:
    """A log of the given blocks, closed by the rest of Simian's summary."""
    rest = CLOSE.split("\n", 1)[1] if text.endswith(SUMMARY) else CLOSE
    return parse_simian_lines((text + rest).splitlines(), name)


def test_memorized_merges_shards_and_counts_outputs_once():
    log0 = _log(HEADER
                + _found(6, FB, (5, 10, "/t/0"), (50, 55, "/t/0"))           # training only
                + _found(6, FA, (10, 15, "/o/all"), (40, 45, "/o/all"), (1, 6, "/t/0"))
                + _found(7, FC, (70, 76, "/o/all"), (90, 96, "/o/all")))      # outputs only
    log1 = _log(HEADER
                + _found(6, FA, (40, 45, "/o/all"), (7, 12, "/t/1"), (10, 15, "/o/all"), (20, 25, "/t/1"))
                + _found(8, FD, (3, 10, "/t/1"), (100, 107, "/o/all"))       # last block of the log
                + SUMMARY)
    result = memorized_from_simian([log0, log1])
    assert list(result) == [FA, FD]
    assert result[FA] == Memorized(FA, 6, 3, 2,
                                   [SimianLocation("/o/all", 10, 15), SimianLocation("/o/all", 40, 45)],
                                   [SimianLocation("/t/0", 1, 6), SimianLocation("/t/1", 7, 12),
                                    SimianLocation("/t/1", 20, 25)])
    assert (result[FD].len, result[FD].train, result[FD].extract) == (8, 1, 1)
    # the same log twice adds nothing: locations are distinct, not summed
    again = memorized_from_simian([log0, log1, log1, log0])
    assert {k: (v.train, v.extract) for k, v in again.items()} == {FA: (3, 2), FD: (1, 1)}
    # plain block lists work too
    assert memorized_from_simian([log0.blocks, log1.blocks]) == result


def test_memorized_counts_only_blocks_memorized_in_their_own_log():
    log0 = _log(HEADER + _found(6, FA, (10, 15, "/o/all"), (1, 6, "/t/0")))
    log1 = _log(HEADER + _found(6, FA, (1, 6, "/t/1"), (30, 35, "/t/1")))  # no output side here
    result = memorized_from_simian([log0, log1])
    assert (result[FA].train, result[FA].extract) == (1, 1)


def test_memorized_rejects_a_fingerprint_with_two_lengths(tmp_path):
    p0 = _write(tmp_path, "0.log", HEADER + _found(6, FA, (10, 15, "/o/all"), (1, 6, "/t/0")) + CLOSE)
    p1 = _write(tmp_path, "1.log", HEADER + BLOCK.replace(FA, FB) + _found(7, FA, (1, 7, "/t/1"), (3, 9, "/t/1"))
                + CLOSE)
    err = _error(memorized_from_simian, [read_simian_log(p0), read_simian_log(p1)])
    assert (err.path, err.line) == (str(p1), 8)
    assert f"fingerprint {FA} has 7 lines here but 6 in {p0} line 5" in str(err)
    err = _error(memorized_from_simian, [read_simian_log(p0).blocks, read_simian_log(p1).blocks])
    assert err.path is None and "log 1 line 5" in str(err)


def test_is_output():
    assert default_is_output("/r/all") and default_is_output("all") and default_is_output(r"C:\r\all")
    assert default_is_output("/r/all_0-200000")
    assert not any(default_is_output(p) for p in ("/r/0", "/r/all.txt", "/r/small", "/all/0", "/r/all_x",
                                                  "/r/all_\u0660-\u0661"))
    # prompted runs (merge.py --internet-sampling): all_<sha1 of the prompt>-<start>-<end>
    sha1 = hashlib.sha1(b"def main():").hexdigest()
    assert default_is_output(f"./extract/results/m-temp1.0-len512-k40/all_{sha1}-1-200096")
    assert default_is_output(rf"C:\r\all_{sha1}-200001-400096")
    assert not any(default_is_output(p) for p in (
        f"/r/all_{sha1}-1", f"/r/all_{sha1[:-1]}-1-2", f"/r/all_{sha1.upper()}-1-2", f"/r/all_{sha1}-1-2.log",
        f"/r/all_{sha1}x-1-2", f"/r/all_{sha1}/0", f"/r/{sha1}-1-2"))
    log = _log(HEADER + _found(6, FA, (1, 6, "out.py"), (1, 6, "train.py")))
    assert list(memorized_from_simian([log], lambda p: p == "out.py")) == [FA]
    assert memorized_from_simian([log]) == {}


def test_study_count_drops_each_logs_last_block_and_sums_over_logs():
    log0 = _log(HEADER
                + _found(6, FA, (10, 15, "/x/extract/all"), (1, 6, "/x/clone/0"))
                + _found(7, FC, (20, 26, "/x/extract/all"), (30, 36, "/x/clone/0"))
                + SUMMARY)                                                        # FC: last, dropped
    log1 = _log(HEADER
                + _found(6, FA, (10, 15, "/x/extract/all"), (5, 10, "/x/clone/1"), (40, 45, "/x/clone/1"))
                + _found(6, FB, (50, 55, "/x/extract/all"), (60, 65, "/x/extract/all"))  # outputs only
                + _found(7, FC, (20, 26, "/x/extract/all"), (8, 14, "/x/clone/1"))
                + _found(8, FD, (70, 77, "/x/extract/all"), (1, 8, "/x/clone/1")))   # FD: last, dropped
    study = memorized_from_simian([log0, log1], count="study")
    assert {k: (m.train, m.extract, m.len) for k, m in study.items()} == {FA: (3, 2, 6), FC: (1, 1, 7)}
    assert list(study) == [FA, FC]
    assert study[FA].output_locations == [SimianLocation("/x/extract/all", 10, 15)]  # distinct ones kept
    assert len(study[FA].train_locations) == 3
    distinct = memorized_from_simian([log0, log1])
    assert {k: (m.train, m.extract) for k, m in distinct.items()} == {FA: (3, 1), FC: (2, 1), FD: (1, 1)}
    # the same log twice is counted twice; one log alone keeps nothing of its last block
    assert memorized_from_simian([log0, log0], count="study")[FA].extract == 2
    assert list(memorized_from_simian([log0], count="study")) == [FA]


def test_study_count_continues_a_fingerprint_met_again_in_one_log():
    """clone/analyze.py looks a fingerprint up in the log's kept entries and adds to them,
    so a repeat adds its counts even in the log's last block; a repeat of a block that
    was not kept starts again from 0."""
    log = _log(HEADER
               + _found(6, FA, (10, 15, "/o/all"), (1, 6, "/t/0"))
               + _found(6, FB, (1, 6, "/t/0"), (20, 25, "/t/0"))        # training only: not kept
               + _found(6, FB, (30, 35, "/o/all"), (40, 45, "/t/0"))    # kept, from 0
               + _found(6, FA, (50, 55, "/o/all"), (60, 65, "/t/0"), (70, 75, "/t/0")))  # last: adds to FA
    study = memorized_from_simian([log], count="study")
    assert {k: (m.train, m.extract) for k, m in study.items()} == {FA: (3, 2), FB: (1, 1)}
    assert [loc.start for loc in study[FB].train_locations] == [40]


def test_unknown_count():
    err = _error(memorized_from_simian, [], count="sum")
    assert "unknown count 'sum'" in str(err) and "distinct, study" in str(err)


def test_reference_log_memorization(reference):
    log = read_simian_log(reference / "simian" / "simian-2.5.10_privacy-style_GENERATED.log")
    result = memorized_from_simian([log])
    # 27 blocks less the two that lie only in `all` (b48e..., 164f...)
    assert len(result) == 25
    assert "b48e524729d143168afc79ba33f73cf6" not in result and "164fbf41b68b15a98e56af2e2111f58f" not in result
    assert sum(m.extract for m in result.values()) == 27 and sum(m.train for m in result.values()) == 25
    assert (result["111742866ee9bd8073fe1ca5a8fe144d"].len, result["75a887a13d94c0685e8474d53f269ee5"].extract) == (233, 2)


# ---------------------------------------------------------------- memorization.json


def test_memorization_json_matches_the_readme_example(reference, tmp_path):
    example = (reference / "privacy_in_code_models" / "readme_examples" / "memorization.json.example").read_text()
    assert "    ...\n" in example
    err = _error(read_memorization_json, _write(tmp_path, "ex.json", example))  # "..." is not JSON
    assert err.line == 7 and "invalid JSON" in str(err)
    one = example.replace("    ...\n", "").replace("    },\n", "    }\n")
    out = tmp_path / "stats" / "memorization.json"
    write_memorization_json([("3a2ebcaa1123523fe878de0460533174", 3289, 330, 6)], out)
    assert out.read_bytes() == one.encode()
    assert read_memorization_json(out) == {"3a2ebcaa1123523fe878de0460533174": {"train": 3289, "extract": 330, "len": 6}}


def test_memorization_json_order_and_round_trip(tmp_path):
    out = tmp_path / "m.json"
    write_memorization_json([(FB, 1, 2, 6), (FA, 0, 7, 9)], out)
    data = read_memorization_json(out)
    assert list(data) == [FB, FA] and data[FA] == {"train": 0, "extract": 7, "len": 9}
    assert out.read_text().endswith("}\n")
    write_memorization_json([], out)
    assert out.read_bytes() == b"{}\n" and read_memorization_json(out) == {}


@pytest.mark.parametrize("text, line, words", [
    ('{"FP": {"train": 1, "extract": 1}}'.replace("FP", FA), 1, "exactly the keys"),
    ('{\n"FP": {"train": 1, "extract": 1, "len": 6, "x": 0}}'.replace("FP", FA), 2, "exactly the keys"),
    ('{\n\n"FP": {"train": true, "extract": 1, "len": 6}}'.replace("FP", FA), 3, "train must be an integer >= 0"),
    ('{"FP": {"train": 1, "extract": -1, "len": 6}}'.replace("FP", FA), 1, "extract must be"),
    ('{"FP": {"train": 1, "extract": 1, "len": 0}}'.replace("FP", FA), 1, "len must be an integer >= 1"),
    ('{"FP": {"train": 1, "extract": 1, "len": 6}}'.replace("FP", FA.upper()), 1, "not a fingerprint"),
    ('{"FP": [1, 1, 6]}'.replace("FP", FA), 1, "exactly the keys"),
    ('[1, 2]', 1, "expected a JSON object"),
    ('{"FP": {"train": 1, "extract": 1, "len": 6},\n "FQ": {"train": 1, "extract": 1, "len": 6}}'.replace("FP", FA).replace("FQ", FA),
     2, "given twice"),
    ('{\n  "a": 1,\n}', 3, "invalid JSON"),
])
def test_memorization_json_validation(tmp_path, text, line, words):
    path = _write(tmp_path, "m.json", text)
    err = _error(read_memorization_json, path)
    assert (err.path, err.line) == (str(path), line) and words in str(err)


def test_memorization_json_writer_validates_before_writing(tmp_path):
    out = tmp_path / "m.json"
    assert "given twice" in str(_error(write_memorization_json, [(FA, 1, 1, 6), (FA, 1, 1, 6)], out))
    assert "bad counts" in str(_error(write_memorization_json, [(FA, 1, 1, 0)], out))
    assert "bad counts" in str(_error(write_memorization_json, [(FA, 1.0, 1, 6)], out))
    assert "hex" in str(_error(write_memorization_json, [("xyz", 1, 1, 6)], out))
    assert not out.exists()


# --------------------------------------------------------------------- snippet text


def test_snippets_readme_example_round_trips_byte_for_byte(reference, tmp_path):
    example = reference / "privacy_in_code_models" / "readme_examples" / "analyze_all.txt.example"
    records = read_snippets(example)
    fp = "dc928385dd77b24d74cbf823d2ad9305"
    assert [(f, len(texts)) for f, texts in records] == [(fp, 2)]
    first, second = records[0][1]
    assert first.startswith("    'sphinx.ext.todo',\n") and first.endswith("# You can specify multiple suffix as a list of string:\n")
    assert first.count("\n") == 7 and second.count("\n") == 7
    assert second.splitlines()[1] == "   'sphinx.ext.coverage'"
    out = tmp_path / "all.txt"
    write_snippets(records, out)
    assert out.read_bytes() == example.read_bytes()


def test_snippets_layout_and_round_trip(tmp_path):
    out = tmp_path / "analyze" / "0.txt"
    write_snippets([(FA, ["x = 1\n"]), (FB, ["p\n\nq\n", "r"])], out)
    assert out.read_text() == (
        f">>>>>>>>>>fingerprints {FA} >>>>>>>>>>>>>\nx = 1\n<<<<<<<<<<fingerprints {FA} <<<<<<<<<<\n\n\n"
        f">>>>>>>>>>fingerprints {FB} >>>>>>>>>>>>>\np\n\nq\n++++fingerprints {FB} ++++\n"
        f"r\n++++fingerprints {FB} ++++\n<<<<<<<<<<fingerprints {FB} <<<<<<<<<<\n")
    assert read_snippets(out) == [(FA, ["x = 1\n"]), (FB, ["p\n\nq\n", "r\n"])]
    # upstream's files end every record with two empty lines, the last one too
    upstream = _write(tmp_path, "up.txt", out.read_text() + "\n\n")
    assert read_snippets(upstream) == read_snippets(out)
    # one text followed by a separator: read as one text
    lone = _write(tmp_path, "lone.txt", f">>>>>>>>>>fingerprints {FC} >>>>>>>>>>>>>\nz\n"
                  f"++++fingerprints {FC} ++++\n<<<<<<<<<<fingerprints {FC} <<<<<<<<<<")
    assert read_snippets(lone) == [(FC, ["z\n"])]


START, SEP, END = (f">>>>>>>>>>fingerprints {FA} >>>>>>>>>>>>>\n", f"++++fingerprints {FA} ++++\n",
                   f"<<<<<<<<<<fingerprints {FA} <<<<<<<<<<\n")


@pytest.mark.parametrize("text, line, words", [
    (START + "x\n", 1, "not closed"),
    (START + "x\n" + SEP + "y\n" + END, 5, "after the last '++++'"),
    ("hello\n" + START + "x\n" + END, 1, "expected a '>>>>>>>>>>fingerprints"),
    (START + "x\n" + END + "stray\n", 4, "expected a"),
    (START + "x\n" + START.replace(FA, FB) + "y\n" + END, 3, "not closed"),
    (START + "x\n" + END.replace(FA, FB), 3, "not closed"),
    (START + END, 2, "holds no snippet"),
    (START + SEP + END, 2, "empty snippet"),
    (START.replace(FA, "g" * 32) + "x\n" + END, 1, "hex"),
])
def test_snippets_malformed(tmp_path, text, line, words):
    path = _write(tmp_path, "s.txt", text)
    err = _error(read_snippets, path)
    assert (err.path, err.line) == (str(path), line) and words in str(err)


def test_snippets_writer_refuses_ambiguous_input(tmp_path):
    out = tmp_path / "s.txt"
    assert "marker" in str(_error(write_snippets, [(FA, ["a\n" + SEP])], out))
    assert "marker" in str(_error(write_snippets, [(FA, ["a\n" + START.replace(FA, FB)])], out))
    assert "non-empty list" in str(_error(write_snippets, [(FA, [])], out))
    assert "non-empty list" in str(_error(write_snippets, [(FA, "text")], out))
    assert "empty" in str(_error(write_snippets, [(FA, ["a\n", ""])], out))
    assert not out.exists()


# ------------------------------------------------------------------ sampled outputs


TEXTS = [(1, "def f():\n\n    return 1\n"), (2, "x = 1\r\n\r\ny = 2"), (3, ""), (4, "\n\n"),
         (5, "  \n\tz\n\n\nend"), (6, "naïve = 'ü'\n"), (7, "a\rb\n")]


def _upstream_merge(seperate: Path, all_path: Path, map_path: Path, n: int) -> None:
    """merge.py's loop as the study ran it: text-mode reads, empty lines dropped,
    md5 of what is written, cursor arithmetic on split('\\n')."""
    cursor, mapping = 0, {}
    with open(all_path, "w", encoding="utf-8") as out:
        for i in range(n):
            name = str(i + 1)
            with open(seperate / name, encoding="utf-8") as fh:
                content = "".join(line for line in fh if line != "\n")
            md5 = hashlib.md5(content.encode("utf-8")).hexdigest()
            chunk = content + "\nSubmission>>>>>>" + md5 + ">>>>>>Submission\n"
            count = len(chunk.split("\n"))
            out.write(chunk)
            mapping[name] = {"md5": md5, "start": cursor + 1, "end": cursor + count - 1}
            cursor += count - 1
    with open(map_path, "w") as fh:
        json.dump(mapping, fh)


def test_separate_folder_round_trip(tmp_path):
    run = tmp_path / "run"
    write_output_dir(reversed(TEXTS), run / "seperate")
    assert sorted(p.name for p in (run / "seperate").iterdir()) == ["1", "2", "3", "4", "5", "6", "7"]
    assert (run / "seperate" / "2").read_bytes() == b"x = 1\r\n\r\ny = 2"
    assert read_output_dir(run / "seperate") == TEXTS
    assert read_output_dir(run) == TEXTS
    (run / "seperate").rename(run / "separate")
    assert read_output_dir(run) == TEXTS
    (run / "separate" / ".DS_Store").write_bytes(b"\xff")
    write_output_dir([(20001, "new")], run / "separate")  # upstream appends new ids
    assert read_output_dir(run)[-2:] == [(7, "a\rb\n"), (20001, "new")]


def test_write_merged_is_the_studys_merge(tmp_path):
    write_output_dir(TEXTS, tmp_path / "seperate")
    _upstream_merge(tmp_path / "seperate", tmp_path / "all.up", tmp_path / "map.up.json", len(TEXTS))
    write_merged(TEXTS, tmp_path / "all", tmp_path / "map.json")
    assert (tmp_path / "all").read_bytes() == (tmp_path / "all.up").read_bytes()
    assert (tmp_path / "map.json").read_bytes() == (tmp_path / "map.up.json").read_bytes()


def test_merged_layout_and_read_back(tmp_path):
    folder = tmp_path / "merged"
    write_merged([(2, "x\r\ny"), (1, "a\n\nb\n")], folder / "all", folder / "map.json")
    m1, m2 = hashlib.md5(b"a\nb\n").hexdigest(), hashlib.md5(b"x\ny").hexdigest()
    assert (folder / "all").read_text() == (f"a\nb\n\nSubmission>>>>>>{m1}>>>>>>Submission\n"
                                            f"x\ny\nSubmission>>>>>>{m2}>>>>>>Submission\n")
    assert json.loads((folder / "map.json").read_text()) == {
        "1": {"md5": m1, "start": 1, "end": 4}, "2": {"md5": m2, "start": 5, "end": 7}}
    expected = [(1, "a\nb\n"), (2, "x\ny")]
    assert read_output_dir(folder) == expected
    assert read_output_dir(folder / "all", check_md5=True) == expected
    # every sample comes back as merge_content of the original, md5 intact
    write_merged(TEXTS, folder / "all", folder / "map.json")
    assert read_output_dir(folder, check_md5=True) == [(i, merge_content(t)) for i, t in TEXTS]
    assert merge_content("  \n\tz\n\n\nend") == "  \n\tz\nend" and merge_content("a\rb\n") == "a\nb\n"


def test_a_merged_file_copied_with_crlf_line_ends_reads_as_merge_wrote_it(tmp_path):
    """merge.py reads in text mode, so its ``all`` holds no \\r: one whose every line ends
    in CRLF was converted (a Windows copy) and is read back with LF, md5s intact; its
    Submission lines are still checked."""
    folder = tmp_path / "merged"
    write_merged(TEXTS, folder / "all", folder / "map.json")
    lf = (folder / "all").read_bytes()
    (folder / "all").write_bytes(lf.replace(b"\n", b"\r\n"))
    assert read_output_dir(folder, check_md5=True) == [(i, merge_content(t)) for i, t in TEXTS]
    m1 = hashlib.md5(merge_content(TEXTS[0][1]).encode()).hexdigest()
    (folder / "all").write_bytes(lf.replace(m1.encode(), b"0" * 32, 1).replace(b"\n", b"\r\n"))
    with pytest.raises(InputError, match=f"output 1: Submission line says md5 0{{32}}, map.json says {m1}"):
        read_output_dir(folder)
    (folder / "all").write_bytes(lf.replace(b">>>>>>Submission\n", b">>>>>>Submission \n", 1))
    with pytest.raises(InputError, match="output 1: its Submission line is not"):
        read_output_dir(folder)


def test_merged_line_origins():
    assert merged_line_origins("") == [None]
    assert merged_line_origins("a\n\n\nb") == [1, 4]
    assert merged_line_origins("a\r\n\r\nb\r\n") == [1, 3, None]
    assert merged_line_origins("a\rb\n\rc\r") == [1, 1, 2, None]  # lone CRs split lines for merge.py only
    rng = random.Random(7)
    for _ in range(3000):
        text = "".join(rng.choice(["a", "b ", " ", "\n", "\r", "\r\n", "\n\n"]) for _ in range(rng.randrange(12)))
        origins, merged, lines = merged_line_origins(text), merge_content(text).split("\n"), text.split("\n")
        assert len(origins) == len(merged)
        for piece, at in zip(merged, origins):
            assert (piece == "") if at is None else (piece and piece in lines[at - 1].split("\r"))
        assert [at for at in origins if at is not None] == sorted(at for at in origins if at is not None)


def test_chunked_merge_names_and_preference(tmp_path):
    write_merged([(1, "a\n")], tmp_path / "all_0-200000", tmp_path / "map_0-200000.json")
    assert read_output_dir(tmp_path / "all_0-200000") == [(1, "a\n")]
    write_merged([(1, "b\n")], tmp_path / "all", tmp_path / "map.json")
    write_output_dir([(1, "b\n\n")], tmp_path / "seperate")
    assert read_output_dir(tmp_path) == [(1, "b\n\n")]  # the separate files win over `all`


def test_merged_map_without_marker_line_is_read(tmp_path):
    _write(tmp_path, "all", f"p\nq\nSubmission>>>>>>{FA}>>>>>>Submission\n")
    _write(tmp_path, "map.json", json.dumps({"1": {"md5": FA, "start": 1, "end": 2}}))
    assert read_output_dir(tmp_path) == [(1, "p\nq")]
    assert "md5 of lines 1..2" in str(_error(read_output_dir, tmp_path, check_md5=True))


@pytest.mark.parametrize("mapping, words, in_all", [
    ('{"1": {"md5": "FP", "start": 1, "end": 3}'.replace("FP", FA), "invalid JSON", False),
    ('{"x": {"md5": "FP", "start": 1, "end": 3}}'.replace("FP", FA), "not an output id", False),
    ('{"1": {"start": 1, "end": 3}}', "expected", False),
    ('{"1": {"md5": "FP", "start": 0, "end": 3}}'.replace("FP", FA), "expected", False),
    ('{"1": {"md5": "FP", "start": 1, "end": 9}}'.replace("FP", FA), "not within the 6 lines", False),
    ('{"1": {"md5": "FP", "start": 3, "end": 2}}'.replace("FP", FA), "not within", False),
    ('{"1": {"md5": "FP", "start": 1, "end": 3}, "2": {"md5": "FQ", "start": 3, "end": 6}}'.replace("FP", FA).replace("FQ", FB),
     "overlap", False),
    ('{"1": {"md5": "FP", "start": 1, "end": 3}, "1": {"md5": "FQ", "start": 4, "end": 6}}'.replace("FP", FA).replace("FQ", FB),
     "given twice", False),
    ('{"1": {"md5": "FP", "start": 1, "end": 3}, "2": {"md5": "FQ", "start": 4, "end": 6}}'.replace("FP", FA).replace("FQ", FA),
     "Submission line says md5", True),
    ('{}', "no outputs listed", False),
    ('[]', "expected a JSON object", False),
])
def test_malformed_map_json(tmp_path, mapping, words, in_all):
    _write(tmp_path, "all", f"a\nb\nSubmission>>>>>>{FA}>>>>>>Submission\nc\n\nSubmission>>>>>>{FB}>>>>>>Submission\n")
    _write(tmp_path, "map.json", mapping)
    err = _error(read_output_dir, tmp_path)
    assert words in str(err)
    assert err.path == str(tmp_path / ("all" if in_all else "map.json"))


def test_md5_is_checked_only_on_request(tmp_path):
    write_merged([(1, "a\nb\n")], tmp_path / "all", tmp_path / "map.json")
    (tmp_path / "all").write_text((tmp_path / "all").read_text().replace("a\n", "A\n"))
    assert read_output_dir(tmp_path) == [(1, "A\nb\n")]
    err = _error(read_output_dir, tmp_path, check_md5=True)
    assert (err.path, err.line) == (str(tmp_path / "all"), 1)


def test_output_dir_errors(tmp_path):
    assert "no such file or folder" in str(_error(read_output_dir, tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    assert "no sampled outputs" in str(_error(read_output_dir, tmp_path / "empty"))
    (tmp_path / "run" / "seperate").mkdir(parents=True)
    assert "no output files" in str(_error(read_output_dir, tmp_path / "run"))
    (tmp_path / "run" / "separate").mkdir()
    assert "both seperate/ and separate/" in str(_error(read_output_dir, tmp_path / "run"))
    _write(tmp_path, "lone/all", "a\n")
    err = _error(read_output_dir, tmp_path / "lone")
    assert "no map.json" in str(err) and err.path == str(tmp_path / "lone" / "all")
    _write(tmp_path, "s/1", "a")
    _write(tmp_path, "s/notes.txt", "b")
    assert _error(read_output_dir, tmp_path / "s").path == str(tmp_path / "s" / "notes.txt")
    _write(tmp_path, "u/1", "a")
    _write(tmp_path, "u/2", b"ok\n\xff\xfe")
    err = _error(read_output_dir, tmp_path / "u")
    assert (err.path, err.line) == (str(tmp_path / "u" / "2"), 2) and "UTF-8" in str(err)


def test_output_writers_validate(tmp_path):
    assert "given twice" in str(_error(write_output_dir, [(1, "a"), (1, "b")], tmp_path / "o"))
    assert "not an integer" in str(_error(write_output_dir, [("1", "a")], tmp_path / "o"))
    assert "not an integer" in str(_error(write_merged, [(-1, "a")], tmp_path / "all", tmp_path / "map.json"))
    assert "UTF-8" in str(_error(write_output_dir, [(1, "\ud800")], tmp_path / "o"))
    assert not (tmp_path / "o").exists() and not (tmp_path / "all").exists()
    _write(tmp_path, "file", "x")
    assert "not a directory" in str(_error(write_output_dir, [(1, "a")], tmp_path / "file"))
