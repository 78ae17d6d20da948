"""``byrote import simian`` on the genuine Simian 2.5.10 logs of tests/data/simian (see the
READMEs there): locations mapped to the original outputs' lines through ``map.json``,
the study's prompt-run file names, and ``--count study`` (the study's own parse of the
logs, ``clone/analyze.py``) next to the default ``distinct`` count."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_memcli import CLOSE, HEADER, _one_line_error, _open, _run

from engine.errors import InputError
from engine.formats.outputs_dir import merged_line_origins, write_merged, write_output_dir
from engine.formats.simian import memorized_from_simian, read_simian_log
from engine.imports import read_simian

DATA = Path(__file__).resolve().parent / "data" / "simian"
RULES, REAL = DATA / "rules", DATA / "realistic"
FP = "0123456789abcdef0123456789abcdef"


def _outputs(case: Path) -> list[tuple[int, str]]:
    from engine.formats.outputs_dir import read_output_dir

    return read_output_dir(case / "outputs")


def _cases_truth(log: str) -> set[tuple[str, int, int, int]]:
    """(fingerprint, output, first, last line of outputs/<id>) of every output place of a
    memorized block of ``log``, as cases.json resolved them."""
    truth = set()
    for case in json.loads((RULES / "cases.json").read_text())["cases"]:
        for block in case["simian"][log]:
            outs = [loc for loc in block["locations"] if loc["file"] == "all"]
            if outs and len(outs) < len(block["locations"]):
                truth |= {(block["fingerprint"], loc["output"], *loc["output_lines"]) for loc in outs}
    return truth


def _stored_locations(db: Path, scan_id: int) -> set[tuple[str, int, int, int]]:
    store = _open(db)
    return {(s["fingerprint"], o["output_id"], o["start_line"], o["end_line"])
            for s in store.iter_snippets(scan_id) for o in store.snippet_outputs(scan_id, s["fingerprint"])}


# -- 1. locations in the original outputs' lines ----------------------------------------------
def test_every_place_of_the_crafted_cases_is_on_the_lines_cases_json_gives(tmp_path, capsys):
    db = tmp_path / "s.db"
    code, _, err = _run(["--db", db, "sample", "import", RULES / "outputs"], capsys)
    assert code == 0, err
    for scan_id, logs in enumerate((["simian/0.log"], ["simian/1.log"], ["simian_single.log"],
                                    ["simian/0.log", "simian/1.log"]), start=1):
        code, out, err = _run(["--db", db, "import", "simian", *(RULES / log for log in logs),
                               "--map", RULES / "map.json", "--outputs", 1], capsys)
        assert code == 0, err
        assert f"scan {scan_id}: " in out and "original lines" in out
        truth = set().union(*(_cases_truth(log) for log in logs))
        assert len(truth) == {1: 38, 2: 6, 3: 42, 4: 42}[scan_id]
        assert _stored_locations(db, scan_id) == truth
        assert _open(db).scan(scan_id)["set_id"] == 1


def test_blank_lines_crlf_and_the_last_output_of_the_crafted_cases():
    outputs = _outputs(RULES)
    found = read_simian([RULES / "simian_single.log"], map_file=RULES / "map.json", outputs=outputs)
    merged = read_simian([RULES / "simian_single.log"], map_file=RULES / "map.json")
    on = {(o, a, b) for _, o, a, b in found.locations}
    was = {(o, a, b) for _, o, a, b in merged.locations}
    # blank_lines: all 61-68; output 6 has two empty lines inside the place
    assert (6, 4, 13) in on and (6, 4, 11) in was
    # crlf_output (output 23, CRLF, ends in a newline) and edge_end (output 39, the last
    # merged one, its place ending on the line before the Submission line)
    assert (23, 4, 11) in on and (39, 4, 11) in on
    assert {(o, a, b) for o, a, b in on ^ was} == {(6, 4, 13), (6, 4, 11)}


def test_realistic_places_hold_the_same_lines_as_in_all(tmp_path, capsys):
    """Every mapped place holds, less its empty lines, exactly the lines of its place in
    ``all``, and starts and ends on them; before this mapping 467 of the 637 places of
    simian_single.log were on other lines."""
    db = tmp_path / "s.db"
    assert _run(["--db", db, "sample", "import", REAL / "outputs"], capsys)[0] == 0
    code, _, err = _run(["--db", db, "import", "simian", REAL / "simian_single.log", "--map", REAL / "map.json",
                         "--outputs", 1], capsys)
    assert code == 0, err
    stored = _stored_locations(db, 1)
    assert len(stored) == 637
    all_lines = (REAL / "all").read_text().split("\n")
    spans = {int(k): (v["start"], v["end"]) for k, v in json.loads((REAL / "map.json").read_text()).items()}
    texts = dict(_outputs(REAL))
    found = memorized_from_simian([read_simian_log(REAL / "simian_single.log")])
    places = {}  # (fingerprint, output) -> the places' texts in all
    for m in found.values():
        for loc in m.output_locations:
            ident = next(i for i, (s, e) in spans.items() if s <= loc.start <= e)
            end = min(loc.end, spans[ident][1] - 1)
            places.setdefault((m.fingerprint, ident), []).append(all_lines[loc.start - 1:end])
    assert sum(map(len, places.values())) == 637
    for fp, ident, first, last in stored:
        lines = texts[ident].split("\n")[first - 1:last]
        assert lines[0] and lines[-1]
        assert [line for line in lines if line] in places[(fp, ident)]


def test_realistic_places_fall_on_the_planted_copies():
    planted = json.loads((REAL / "planted.json").read_text())
    texts = dict(_outputs(REAL))
    imported = read_simian([REAL / "simian_single.log"], map_file=REAL / "map.json", outputs=texts.items())
    by_output: dict[int, set] = {}
    for _, ident, a, b in imported.locations:
        by_output.setdefault(ident, set()).add((a, b))
    merged = {int(k): v for k, v in planted.items() if v["kind"] != "none" and v["merged"]}
    assert len(merged) == 144
    inside = [k for k, v in merged.items()
              if any(v["output_lines"][0] <= a and b <= v["output_lines"][1] for a, b in by_output.get(k, ()))]
    assert len(inside) == 136  # the README's figure: the 8 others hold no memorized block
    # a verbatim copy of 6+ significant lines is one place, from its first to its last
    # significant line
    verbatim = 0
    for k, v in merged.items():
        lines = texts[k].split("\n")
        a0, b0 = v["output_lines"]
        significant = [i for i in range(a0, b0 + 1) if lines[i - 1].strip(" \t\"'.,:;!?")]
        if v["kind"] == "verbatim" and len(significant) >= 6:
            verbatim += 1
            assert (significant[0], significant[-1]) in by_output[k], k
    assert verbatim == 58


def test_crlf_lone_cr_blank_lines_and_the_added_empty_line(tmp_path, capsys):
    texts = [(1, "a\nb\nc\n"), (2, "x = 1\r\n\r\nalpha\rbeta\n\n\ngamma\r\n  \ndelta\n")]
    # all: 1-3 a b c, 4 '', 5 Submission; 6 'x = 1', 7 alpha, 8 beta, 9 gamma, 10 '  ',
    # 11 delta, 12 '', 13 Submission
    assert merged_line_origins(texts[1][1]) == [1, 3, 3, 6, 7, 8, None]
    write_merged(texts, tmp_path / "all", tmp_path / "map.json")
    write_output_dir(texts, tmp_path / "outputs")
    places = [(7, 9), (8, 11), (6, 13), (7, 7), (2, 3)]
    log = tmp_path / "0.log"
    log.write_text(HEADER + "".join(
        f"Found 6 duplicate lines with fingerprint {i:032x} in the following files:\n"
        f" Between lines {a} and {b} in {tmp_path / 'all'}\n Between lines 1 and 6 in /t/0\n"
        for i, (a, b) in enumerate(places)) + CLOSE)
    db = tmp_path / "s.db"
    assert _run(["--db", db, "sample", "import", tmp_path / "outputs"], capsys)[0] == 0
    code, _, err = _run(["--db", db, "import", "simian", log, "--map", tmp_path / "map.json", "--outputs", 1],
                        capsys)
    assert code == 0, err
    assert sorted(loc[1:] for loc in _stored_locations(db, 1)) == [
        (1, 2, 3), (2, 1, 8), (2, 3, 3), (2, 3, 6), (2, 3, 8)]
    # without the original texts: lines of the output as merge.py wrote it
    code, _, err = _run(["--db", db, "import", "simian", log, "--map", tmp_path / "map.json"], capsys)
    assert code == 0, err
    assert sorted(loc[1:] for loc in _stored_locations(db, 2)) == [
        (1, 2, 3), (2, 1, 7), (2, 2, 2), (2, 2, 4), (2, 3, 6)]
    # a place starting on the added empty line or on a Submission line: the map does not fit
    for a, what in ((12, "the empty line merge.py adds after output 2"), (13, "the Submission line of output 2"),
                    (5, "the Submission line of output 1"), (14, "in no output of the map")):
        bad = tmp_path / f"bad{a}.log"
        bad.write_text(HEADER + f"Found 6 duplicate lines with fingerprint {FP} in the following files:\n"
                       f" Between lines {a} and {a + 1} in {tmp_path / 'all'}\n Between lines 1 and 6 in /t/0\n" + CLOSE)
        code, _, err = _run(["--db", db, "import", "simian", bad, "--map", tmp_path / "map.json", "--outputs", 1],
                            capsys)
        _one_line_error(code, err, f"line {a} of the merged outputs file", what)
    assert len(_open(db).scans()) == 2


def test_a_map_that_does_not_fit_the_output_set_is_one_line(tmp_path, capsys):
    db = tmp_path / "s.db"
    assert _run(["--db", db, "sample", "import", RULES / "outputs"], capsys)[0] == 0  # set 1
    # the realistic map with the crafted outputs: output 2 is another text
    code, out, err = _run(["--db", db, "import", "simian", REAL / "simian_single.log", "--map", REAL / "map.json",
                           "--outputs", 1], capsys)
    _one_line_error(code, err, f"{REAL / 'map.json'}: output 2: merge.py writes 11 lines of its text, but the map "
                               "gives it 48", "the map does not fit this output set")
    texts = dict(_outputs(RULES))
    write_output_dir([(i, t) for i, t in texts.items() if i not in (7, 12)], tmp_path / "fewer")
    assert _run(["--db", db, "sample", "import", tmp_path / "fewer"], capsys)[0] == 0  # set 2
    code, out, err = _run(["--db", db, "import", "simian", RULES / "simian_single.log", "--map", RULES / "map.json",
                           "--outputs", 2], capsys)
    _one_line_error(code, err, f"{RULES / 'map.json'}: the output set has no output 7 and 1 more, which the map names")
    for name, change, needle in (
            ("md5", lambda t: t.replace("e", "E", 1), "output 7: the md5 of its text as merge.py writes it is not"),
            ("lines", lambda t: "one more line\n" + t, "output 7: merge.py writes 17 lines of its text, but the map "
                                                       "gives it 16 (lines 73..88, then its Submission line)")):
        changed = dict(texts)
        changed[7] = change(changed[7])
        write_output_dir(changed.items(), tmp_path / name)
        assert _run(["--db", db, "sample", "import", tmp_path / name], capsys)[0] == 0
        set_id = len(_open(db).output_sets())
        code, out, err = _run(["--db", db, "import", "simian", RULES / "simian_single.log", "--map",
                               RULES / "map.json", "--outputs", set_id], capsys)
        _one_line_error(code, err, needle, "the map does not fit this output set")
    # an empty line more changes nothing merge.py writes: the map fits, the lines follow
    changed = dict(texts)
    changed[6] = "\n" + changed[6]
    write_output_dir(changed.items(), tmp_path / "blank")
    assert _run(["--db", db, "sample", "import", tmp_path / "blank"], capsys)[0] == 0
    code, out, err = _run(["--db", db, "import", "simian", RULES / "simian/0.log", "--map", RULES / "map.json",
                           "--outputs", 5], capsys)
    assert code == 0, err
    scan = _open(db).scans()[-1]
    assert (6, 5, 14) in {loc[1:] for loc in _stored_locations(db, scan["id"])}
    assert len(_open(db).scans()) == 1  # nothing left by the refusals
    code, out, err = _run(["--db", db, "import", "simian", RULES / "simian/0.log", "--outputs", 1], capsys)
    _one_line_error(code, err, "--outputs needs --map")
    code, out, err = _run(["--db", db, "import", "simian", RULES / "simian/0.log", "--map", RULES / "map.json",
                           "--outputs", 99], capsys)
    _one_line_error(code, err, "99")
    assert len(_open(db).scans()) == 1


def test_a_bad_log_is_refused_before_the_store_is_opened(tmp_path, capsys):
    bad = tmp_path / "bad.log"
    bad.write_text("not a log\n")
    db = tmp_path / "s.db"
    code, _, err = _run(["--db", db, "import", "simian", bad, "--map", RULES / "map.json", "--outputs", 1], capsys)
    _one_line_error(code, err, "not a Simian log")
    assert not db.exists()


# -- 2. the output files of prompted runs -----------------------------------------------------
def test_output_files_of_prompted_runs_are_outputs(tmp_path, capsys):
    sha1 = "eb17e3d78803b21a4f6144d2f8b639edf3ebf5e3"  # the study's README example
    log = tmp_path / "0.log"
    log.write_text(HEADER + f"Found 6 duplicate lines with fingerprint {FP} in the following files:\n"
                   f" Between lines 10 and 15 in ./extract/results/m-temp1.0-len512-k40/all_{sha1}-1-200096\n"
                   " Between lines 3 and 8 in ./clone/save/codeparrot/codeparrot-clean/0\n" + CLOSE)
    db = tmp_path / "s.db"
    code, out, err = _run(["--db", db, "import", "simian", log], capsys)
    assert code == 0, err
    assert out.startswith("scan 1: 1 memorized snippet from 1 Simian log (")
    store = _open(db)
    assert [(s["train"], s["extract"]) for s in store.iter_snippets(1)] == [(1, 1)]
    assert store.scan(1)["stats"]["output_files"][0].endswith(f"all_{sha1}-1-200096")


# -- 3. --count study ---------------------------------------------------------------------------
def study_parse(paths) -> dict[str, dict]:
    """The study's ``clone/analyze.py`` (yangzhou6666/Privacy-in-Code-Models @ 2a0474f7,
    ``process_file`` then ``merge_memorizations``), written again from its rules, on the
    log text: a line holding ``duplicate lines with fingerprint`` stores the previous
    block if it then has ``train`` and ``extract`` > 0 and starts the next (from the
    stored counts if its fingerprint was stored); every line holding ``clone`` adds 1 to
    ``train``, every line holding ``extract`` 1 to ``extract``; the per-log results are
    summed."""
    total: dict[str, dict] = {}
    for path in paths:
        kept: dict[str, dict] = {}
        current = None
        for line in Path(path).read_text().splitlines(keepends=True):
            if "duplicate lines with fingerprint" in line:
                if current and current[1]["train"] > 0 and current[1]["extract"] > 0:
                    kept[current[0]] = current[1]
                fp = line.split("fingerprint ")[1].split(" in")[0]
                n = int(line.split(" duplicate")[0].split("Found ")[1])
                current = (fp, kept.get(fp, {"train": 0, "extract": 0, "len": n}))
            if current and "clone" in line:
                current[1]["train"] += 1
            if current and "extract" in line:
                current[1]["extract"] += 1
        for fp, counts in kept.items():
            if fp in total:
                total[fp]["train"] += counts["train"]
                total[fp]["extract"] += counts["extract"]
            else:
                total[fp] = dict(counts)
    return total


def _counts(found) -> dict[str, dict]:
    return {fp: {"train": m.train, "extract": m.extract, "len": m.len} for fp, m in found.items()}


def test_study_count_of_the_crafted_shard_logs_by_hand():
    """Worked out by hand from clone/analyze.py and the two logs (cases.json names the
    blocks). simian/0.log: 39 blocks, the last (periodic, 14 lines, shard 0 only) dropped
    and one (partial_overlap A+B) only in `all`: 37 kept; train 1 each but nested 7 (2)
    and periodic 12 (3), so 40; extract 1 each but twice_in_output (2), so 38.
    simian/1.log: 10 blocks, the last (largest_block, 40 lines) dropped; kept: nested 7,
    two_shards, edge_end and edge_cross's two blocks, 1 + 1 each. Summed: 40 fingerprints,
    train 45, extract 43."""
    logs = [read_simian_log(RULES / "simian" / f"{i}.log") for i in (0, 1)]
    study = memorized_from_simian(logs, count="study")
    distinct = memorized_from_simian(logs)
    assert (len(study), sum(m.train for m in study.values()), sum(m.extract for m in study.values())) == (40, 45, 43)
    assert (len(distinct), sum(m.train for m in distinct.values()),
            sum(m.extract for m in distinct.values())) == (41, 46, 42)
    by_prefix = {fp[:8]: fp for fp in distinct}
    for prefix, want_study, want_distinct in (
            ("75fa11b7", (2, 2, 8), (2, 1, 8)),     # two_shards: the output place is in both logs
            ("2653ac5b", (3, 2, 7), (3, 1, 7)),     # nested 7: output place in both logs
            ("f38bf334", (1, 2, 8), (1, 2, 8)),     # twice_in_output: only all in simian/1.log
            ("c1a286ce", (3, 1, 12), (3, 1, 12)),   # periodic 12: three shifted places in the doc
            ("f2bcfc2d", None, (1, 1, 40))):        # largest_block: the last block of simian/1.log
        fp = by_prefix[prefix]
        assert (None if fp not in study else (study[fp].train, study[fp].extract, study[fp].len)) == want_study
        assert (distinct[fp].train, distinct[fp].extract, distinct[fp].len) == want_distinct
    assert _counts(study) == study_parse([RULES / "simian" / "0.log", RULES / "simian" / "1.log"])
    # the locations kept are the distinct ones of the blocks counted
    fp = by_prefix["75fa11b7"]
    assert len(study[fp].output_locations) == 1 and len(study[fp].train_locations) == 2


def test_study_count_of_the_realistic_shard_logs_is_the_study_parse():
    paths = [REAL / "simian" / "0.log", REAL / "simian" / "1.log"]
    study = memorized_from_simian([read_simian_log(p) for p in paths], count="study")
    want = study_parse(paths)
    assert _counts(study) == want and list(study) == list(want)
    # the realistic README's comparison with expected_memorization.json
    expected = json.loads((REAL / "expected_memorization.json").read_text())
    assert len(study) == 204
    assert len(set(study) & set(expected)) == 202
    assert sum(_counts(study)[fp] == expected[fp] for fp in set(study) & set(expected)) == 177
    # the log order changes nothing but the key order
    reverse = memorized_from_simian([read_simian_log(p) for p in reversed(paths)], count="study")
    assert _counts(reverse) == _counts(study)


def test_distinct_count_of_the_single_log_is_the_expected_memorization(tmp_path, capsys):
    expected = json.loads((REAL / "expected_memorization.json").read_text())
    found = memorized_from_simian([read_simian_log(REAL / "simian_single.log")])
    assert _counts(found) == expected
    db = tmp_path / "s.db"
    code, out, err = _run(["--db", db, "import", "simian", REAL / "simian_single.log"], capsys)
    assert code == 0, err
    assert out.startswith("scan 1: 203 memorized snippets from 1 Simian log (") and "count: distinct" in out
    assert _open(db).scan(1)["stats"]["count"] == "distinct"
    mem = tmp_path / "m.json"
    assert _run(["--db", db, "export", "memorization", "--scan", 1, "--out", mem], capsys)[0] == 0
    assert json.loads(mem.read_text()) == expected


def test_count_study_from_the_command_line(tmp_path, capsys):
    db = tmp_path / "s.db"
    paths = [REAL / "simian" / "0.log", REAL / "simian" / "1.log"]
    assert _run(["--db", db, "sample", "import", REAL / "outputs"], capsys)[0] == 0
    code, out, err = _run(["--db", db, "import", "simian", *paths, "--count", "study", "--map", REAL / "map.json",
                           "--outputs", 1], capsys)
    assert code == 0, err
    assert out.startswith("scan 1: 204 memorized snippets from 2 Simian logs") and "count: study" in out
    store = _open(db)
    assert store.scan(1)["stats"]["count"] == "study"
    mem = tmp_path / "m.json"
    assert _run(["--db", db, "export", "memorization", "--scan", 1, "--out", mem], capsys)[0] == 0
    assert json.loads(mem.read_text()) == study_parse(paths)
    code, out, err = _run(["--db", db, "import", "simian", *paths, "--count", "both"], capsys)
    _one_line_error(code, err, "--count", "invalid choice")
    assert len(store.scans()) == 1


def test_an_unknown_count_is_an_input_error():
    with pytest.raises(InputError, match="unknown count 'sum'"):
        memorized_from_simian([], count="sum")
    with pytest.raises(InputError, match="unknown count 'sum'"):
        read_simian([RULES / "simian_single.log"], count="sum")
