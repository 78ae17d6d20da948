"""The file formats of Yang et al.'s memorization study (seeds/003, the repository
yangzhou6666/Privacy-in-Code-Models; samples in shared/reference/simian and
shared/reference/privacy_in_code_models), as pure functions over plain data.

- Simian 2.5.10 logs, as ``java -jar simian-2.5.10.jar <train shard> <all>`` prints them
  (:func:`read_simian_log`, :func:`parse_simian_log`, :func:`parse_simian_lines`), and
  the study's rule that turns them into memorization counts
  (:func:`memorized_from_simian`);
- ``memorization.json`` (:func:`write_memorization_json`, :func:`read_memorization_json`);
- the snippet text format of ``log/analyze.py`` (:func:`write_snippets`,
  :func:`read_snippets`);
- the sampled outputs of ``extract/extract.py`` and ``extract/merge.py``: a folder of
  files ``1``..``N``, or the merged ``all`` with its ``map.json``
  (:func:`read_output_dir`, :func:`write_output_dir`, :func:`write_merged`).

Bad input is one :class:`~engine.errors.InputError` naming the file and line; every file
is written atomically.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import InputError
from engine.fsutil import atomic_open, atomic_paths, require_file

_MD5 = re.compile(r"[0-9a-f]{32}")


def _show(line: str, width: int = 60) -> str:
    """A line quoted for a one-line message, shortened."""
    return repr(line if len(line) <= width else line[:width] + "...")


def _read_utf8(path: str | Path, what: str = "file") -> tuple[Path, str]:
    """The file's text; InputError if it is missing, unreadable or not UTF-8 (with the line)."""
    p = require_file(path, what)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(exc.strerror or str(exc), p) from None
    try:
        return p, data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError("not valid UTF-8", p, data.count(b"\n", 0, exc.start) + 1) from None


def _split_lines(text: str) -> list[str]:
    """Lines cut at ``\\n`` only, without it (a final newline ends the last line)."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def _line_of(text: str, needle: str, nth: int = 1) -> int | None:
    """1-based line of the nth occurrence of ``needle`` in ``text`` (None if absent)."""
    at = -1
    for _ in range(nth):
        at = text.find(needle, at + 1)
        if at < 0:
            return None
    return text.count("\n", 0, at) + 1


def _is_count(value, least: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


# --------------------------------------------------------------------------- Simian logs


@dataclass(frozen=True)
class SimianLocation:
    """One occurrence: ``Between lines START and END in PATH`` (1-based, inclusive).

    The span can hold more than the block's N lines: lines Simian ignores (blank lines,
    lone braces) inside it are not counted (shared/reference/README.md).
    """

    path: str
    start: int
    end: int


@dataclass(frozen=True)
class SimianBlock:
    """One ``Found N duplicate lines with fingerprint MD5 in the following files:`` set.

    ``lines`` is N, ``fingerprint`` the lower-case md5, ``line`` the log line of the
    ``Found`` header (for messages).
    """

    lines: int
    fingerprint: str
    locations: tuple[SimianLocation, ...]
    line: int


@dataclass(frozen=True)
class SimianSummary:
    """The summary lines closing a log; fields of lines cut off are None.

    ``Found X duplicate lines in Y blocks in Z files``, ``Processed a total of S
    significant (R raw) lines in F files``, ``Processing time: Tsec``. On the reference
    logs X, Y and Z are what :func:`simian_summary_counts` computes.
    """

    duplicate_lines: int
    duplicate_blocks: int
    duplicate_files: int
    significant_lines: int | None = None
    raw_lines: int | None = None
    total_files: int | None = None
    seconds: float | None = None


@dataclass(frozen=True)
class SimianLog:
    """A parsed log: the header's options (``{}`` for a fragment without header), every
    block in log order, the summary (None if cut off before it), and the file read."""

    options: dict
    blocks: list[SimianBlock]
    summary: SimianSummary | None = None
    path: str | None = None


_FOUND = re.compile(r"Found (\d+) duplicate lines with fingerprint (\S*) in the following files:")
_BETWEEN = re.compile(r" Between lines (\d+) and (\d+) in (.+)")
_SUMMARY = (
    re.compile(r"Found (\d+) duplicate lines? in (\d+) blocks? in (\d+) files?"),
    re.compile(r"Processed a total of (\d+) significant \((\d+) raw\) lines? in (\d+) files?"),
    re.compile(r"Processing time: (\d+(?:\.\d+)?) ?sec"),
)
_NAME = "Similarity Analyser "
_SUMMARY_NAMES = ("the 'Found ... blocks in ... files' summary", "'Processed a total of ...'",
                  "'Processing time: ...'")


def parse_simian_options(text: str, path: str | Path | None = None, line: int | None = None) -> dict:
    """The header's option line, ``{key=value, ...}`` (Java's ``Map.toString``), as a dict.

    ``true``/``false`` become bools and decimal numbers ints; other values stay strings,
    e.g. ``{ignoreCharacterCase=true, language=VB, threshold=5}``.
    """
    if not (text.startswith("{") and text.endswith("}")):
        raise InputError(f"expected Simian's option line '{{key=value, ...}}', got {_show(text)}", path, line)
    body = text[1:-1]
    options: dict = {}
    if not body.strip():
        return options
    for item in body.split(", "):
        key, eq, value = item.partition("=")
        if not eq or not key or key != key.strip():
            raise InputError(f"bad option {_show(item)} in Simian's option line", path, line)
        if key in options:
            raise InputError(f"option {key!r} given twice in Simian's option line", path, line)
        if value in ("true", "false"):
            options[key] = value == "true"
        elif re.fullmatch(r"-?\d+", value):
            options[key] = int(value)
        else:
            options[key] = value
    return options


def parse_simian_lines(lines: Iterable[str], path: str | Path | None = None, *,
                       fragment: bool = False) -> SimianLog:
    """Parse the lines of a Simian 2.5.10 log (without their newlines).

    A log is a 4-line header (``Similarity Analyser <version> - ...``, copyright,
    licence, ``{option=value, ...}``), then blocks: a ``Found N duplicate lines with
    fingerprint <md5> in the following files:`` line followed by one or more
    `` Between lines A and B in <path>`` lines (one leading space; the path runs to the
    end of the line and may hold spaces), then up to three summary lines. Every block is
    read, the last one included (the study's ``clone/analyze.py`` dropped the last block
    of every log). The summary may be missing or cut short (a log cut off after a
    complete line); trailing empty lines are ignored. Anything else is an InputError
    naming the line: an unknown line, a block without locations, a fingerprint that is
    not 32 hex digits, N < 1, A < 1 or A > B, a line after the summary.

    ``fragment=True`` reads quoted excerpts too: the header becomes optional.
    """
    rows = [line.removesuffix("\r") for line in lines]
    where = None if path is None else str(path)
    while rows and rows[-1] == "":
        rows.pop()
    if not rows:
        raise InputError("empty file, not a Simian log", where)
    options: dict = {}
    first = 0
    if rows[0].startswith(_NAME):
        if len(rows) < 4:
            raise InputError("Simian log header cut short (expected 4 lines)", where, len(rows))
        options = parse_simian_options(rows[3], where, 4)
        first = 4
    elif not fragment:
        raise InputError(f"not a Simian log: expected the '{_NAME.strip()} ...' header, "
                         f"got {_show(rows[0])}", where, 1)

    blocks: list[SimianBlock] = []
    current: tuple[int, str, int] | None = None  # (N, fingerprint, header line)
    locations: list[SimianLocation] = []
    summary: list = []  # groups of the summary lines seen, in order

    def close() -> None:
        nonlocal current, locations
        if current is not None:
            if not locations:
                raise InputError(f"block with fingerprint {current[1]} lists no locations", where, current[2])
            blocks.append(SimianBlock(current[0], current[1], tuple(locations), current[2]))
        current, locations = None, []

    for number, row in enumerate(rows[first:], start=first + 1):
        if summary:
            if len(summary) < 3 and (m := _SUMMARY[len(summary)].fullmatch(row)):
                summary.append(m.groups())
                continue
            expected = f"expected {_SUMMARY_NAMES[len(summary)]}" if len(summary) < 3 else "nothing may follow the summary"
            raise InputError(f"unexpected line after the summary ({expected}): {_show(row)}", where, number)
        if m := _BETWEEN.fullmatch(row):
            if current is None:
                raise InputError(f"location outside a block: {_show(row)}", where, number)
            start, end = int(m[1]), int(m[2])
            if start < 1 or start > end:
                raise InputError(f"bad line span {start}..{end} (want 1 <= A <= B)", where, number)
            locations.append(SimianLocation(m[3], start, end))
        elif m := _FOUND.fullmatch(row):
            close()
            if not re.fullmatch(r"[0-9a-fA-F]{32}", m[2]):
                raise InputError(f"fingerprint {_show(m[2])} is not 32 hex digits", where, number)
            if int(m[1]) < 1:
                raise InputError("a block must have at least 1 line", where, number)
            current = (int(m[1]), m[2].lower(), number)
        elif m := _SUMMARY[0].fullmatch(row):
            close()
            summary.append(m.groups())
        else:
            raise InputError(f"unrecognized line in Simian log: {_show(row)}", where, number)
    close()

    found = None
    if summary:
        dl, db, df = (int(x) for x in summary[0])
        sig = raw = files = seconds = None
        if len(summary) > 1:
            sig, raw, files = (int(x) for x in summary[1])
        if len(summary) > 2:
            seconds = float(summary[2][0])
        found = SimianSummary(dl, db, df, sig, raw, files, seconds)
    return SimianLog(options, blocks, found, where)


def read_simian_log(path: str | Path, *, fragment: bool = False) -> SimianLog:
    """Read a Simian log file (UTF-8); see :func:`parse_simian_lines`."""
    p, text = _read_utf8(path, "Simian log")
    return parse_simian_lines(_split_lines(text), p, fragment=fragment)


def parse_simian_log(path: str | Path) -> list[SimianBlock]:
    """Every block of a complete Simian log file, in log order."""
    return read_simian_log(path).blocks


def simian_summary_counts(blocks: Sequence[SimianBlock]) -> tuple[int, int, int]:
    """``(X, Y, Z)`` of Simian's ``Found X duplicate lines in Y blocks in Z files``.

    Inferred from the three complete reference logs, which it reproduces exactly: Y
    counts the locations, less those whose span lies inside the span of another location
    in the same file (identical spans count once); X sums the N of the counted
    locations; Z is the number of distinct files. (It is not the number of ``Found``
    sets: the privacy-style log has 27 sets, 56 locations and says 52 blocks.)
    """
    by_file: dict[str, list[tuple[int, int, int]]] = {}
    for block in blocks:
        for loc in block.locations:
            by_file.setdefault(loc.path, []).append((loc.start, -loc.end, block.lines))
    lines = count = 0
    for spans in by_file.values():
        reach = 0
        for start, neg_end, n in sorted(spans):
            if -neg_end > reach:
                lines += n
                count += 1
                reach = -neg_end
    return lines, count, len(by_file)


# --------------------------------------------------------------------- memorization rule


def default_is_output(path: str) -> bool:
    """Whether a Simian location is in the study's merged outputs: the file's name is
    ``all`` (or ``all_<start>-<end>``, the chunked name of later ``merge.py`` versions)."""
    name = re.split(r"[\\/]", path)[-1]
    return name == "all" or re.fullmatch(r"all_\d+-\d+", name) is not None


@dataclass
class Memorized:
    """One memorized snippet: its fingerprint, its length N in lines, the number of
    distinct training and output locations, and those locations (first seen first)."""

    fingerprint: str
    len: int
    train: int
    extract: int
    output_locations: list[SimianLocation] = field(default_factory=list)
    train_locations: list[SimianLocation] = field(default_factory=list)


def memorized_from_simian(logs: Iterable[SimianLog | Sequence[SimianBlock]],
                          is_output: Callable[[str], bool] = default_is_output) -> dict[str, Memorized]:
    """The study's memorized snippets ("clones appearing in both ``all`` and a subfile of
    the training data", seeds/003 §Analyze memorization), merged over logs.

    A block is memorized when, in its own log, at least one location is an output
    (``is_output(path)``) and at least one is not (training data). Across logs, one per
    training shard and each against the same ``all``, blocks are merged by fingerprint:
    ``train`` is the number of distinct training locations (path, start, end) and
    ``extract`` the number of distinct output locations over all logs, so the ``all``
    locations that every shard's log repeats count once; ``len`` is N, and a fingerprint
    seen with two different N is an InputError (from any block, memorized or not). The
    result is keyed by fingerprint, in order of first appearance.

    Upstream ``clone/analyze.py`` counted differently: it dropped the last block of every
    log; it classified a line by substring (``'clone' in line`` → train, ``'extract' in
    line`` → extract); and it *summed* per-log counts, so the same ``all`` locations were
    counted once per shard whose log held the fingerprint, while dict aliasing across its
    chunk merges added some logs' counts again. Its numbers are therefore not comparable.
    """
    result: dict[str, Memorized] = {}
    seen_len: dict[str, tuple[int, str]] = {}
    distinct: dict[str, tuple[set, set]] = {}
    for number, log in enumerate(logs, start=1):
        path = log.path if isinstance(log, SimianLog) else None
        blocks = log.blocks if isinstance(log, SimianLog) else log
        where = path if path is not None else f"log {number}"
        for block in blocks:
            earlier = seen_len.setdefault(block.fingerprint, (block.lines, f"{where} line {block.line}"))
            if earlier[0] != block.lines:
                raise InputError(f"fingerprint {block.fingerprint} has {block.lines} lines here but "
                                 f"{earlier[0]} in {earlier[1]}", path, block.line)
            outputs = [loc for loc in block.locations if is_output(loc.path)]
            training = [loc for loc in block.locations if not is_output(loc.path)]
            if not outputs or not training:
                continue
            item = result.get(block.fingerprint)
            if item is None:
                item = result[block.fingerprint] = Memorized(block.fingerprint, block.lines, 0, 0)
                distinct[block.fingerprint] = (set(), set())
            seen_out, seen_train = distinct[block.fingerprint]
            for loc in outputs:
                if loc not in seen_out:
                    seen_out.add(loc)
                    item.output_locations.append(loc)
            for loc in training:
                if loc not in seen_train:
                    seen_train.add(loc)
                    item.train_locations.append(loc)
            item.extract = len(item.output_locations)
            item.train = len(item.train_locations)
    return result


# --------------------------------------------------------------------- memorization.json

_COUNT_KEYS = ("train", "extract", "len")


def write_memorization_json(items: Iterable[tuple[str, int, int, int]], path: str | Path) -> None:
    """Write ``{fingerprint: {"train": n, "extract": n, "len": n}}`` in the given order.

    The layout of upstream's ``json.dump(memorization, f, indent=4)`` (4-space indent,
    keys train, extract, len) plus a final newline, as in the README's example. Items
    are ``(fingerprint, train, extract, len)``: a lower-case md5, counts >= 0, len >= 1.
    """
    out: dict[str, dict[str, int]] = {}
    for item in items:
        fingerprint, train, extract, length = item
        if not isinstance(fingerprint, str) or not _MD5.fullmatch(fingerprint):
            raise InputError(f"fingerprint {fingerprint!r} is not 32 lower-case hex digits", path)
        if fingerprint in out:
            raise InputError(f"fingerprint {fingerprint} given twice", path)
        if not (_is_count(train) and _is_count(extract) and _is_count(length, 1)):
            raise InputError(f"bad counts for {fingerprint}: train {train!r}, extract {extract!r}, "
                             f"len {length!r} (want integers, len >= 1)", path)
        out[fingerprint] = {"train": train, "extract": extract, "len": length}
    with atomic_open(path, "wb") as fh:
        fh.write((json.dumps(out, indent=4) + "\n").encode("utf-8"))


class _Duplicate(Exception):
    def __init__(self, key: str):
        self.key = key


def _no_duplicates(pairs: list) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise _Duplicate(key)
        out[key] = value
    return out


def _load_json(path: str | Path, what: str) -> tuple[Path, str, object]:
    p, text = _read_utf8(path, what)
    try:
        return p, text, json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", p, exc.lineno) from None
    except _Duplicate as exc:
        raise InputError(f"key {exc.key!r} given twice", p, _line_of(text, json.dumps(exc.key), 2)) from None


def read_memorization_json(path: str | Path) -> dict[str, dict[str, int]]:
    """Read a ``memorization.json``: ``{fingerprint: {"train": n, "extract": n, "len": n}}``
    in file order. Every key must be a lower-case md5 and every value hold exactly those
    three integer keys (counts >= 0, len >= 1); anything else is an InputError."""
    p, text, data = _load_json(path, "memorization file")
    if not isinstance(data, dict):
        raise InputError("expected a JSON object {fingerprint: {...}}", p, 1)
    out: dict[str, dict[str, int]] = {}
    for fingerprint, value in data.items():
        if not _MD5.fullmatch(fingerprint):
            raise InputError(f"key {fingerprint!r} is not a fingerprint (32 lower-case hex digits)",
                             p, _line_of(text, json.dumps(fingerprint)))
        if not isinstance(value, dict) or set(value) != set(_COUNT_KEYS):
            raise InputError(f"{fingerprint}: expected an object with exactly the keys "
                             "train, extract, len", p, _line_of(text, json.dumps(fingerprint)))
        for key in _COUNT_KEYS:
            if not _is_count(value[key], 1 if key == "len" else 0):
                raise InputError(f"{fingerprint}: {key} must be an integer >= {1 if key == 'len' else 0}, "
                                 f"got {value[key]!r}", p, _line_of(text, json.dumps(fingerprint)))
        out[fingerprint] = {key: value[key] for key in _COUNT_KEYS}
    return out


# -------------------------------------------------------------------------- snippet text


def _start_marker(fp: str) -> str:
    return f">>>>>>>>>>fingerprints {fp} >>>>>>>>>>>>>"


def _sep_marker(fp: str) -> str:
    return f"++++fingerprints {fp} ++++"


def _end_marker(fp: str) -> str:
    return f"<<<<<<<<<<fingerprints {fp} <<<<<<<<<<"


_MARKER = re.compile(r"(>{10}fingerprints (\S+) >{13})|(\+{4}fingerprints (\S+) \+{4})|(<{10}fingerprints (\S+) <{10})")


def write_snippets(items: Iterable[tuple[str, list[str]]], path: str | Path) -> None:
    """Write the snippet text of ``log/analyze.py`` (its ``all.txt`` and ``x.txt``).

    Each item is ``(fingerprint, texts)``, one text per occurrence. A record is the line
    ``>>>>>>>>>>fingerprints MD5 >>>>>>>>>>>>>``; each text (whole lines: a text not
    ending in a newline gets one); when there are two or more texts, the line
    ``++++fingerprints MD5 ++++`` after *each* text, the last included; then
    ``<<<<<<<<<<fingerprints MD5 <<<<<<<<<<``. Upstream writes two empty lines after
    every record; here they separate records, so the last record ends the file (as in
    the README's example) — :func:`read_snippets` reads both.
    """
    parts: list[str] = []
    for index, (fingerprint, texts) in enumerate(items):
        if not isinstance(fingerprint, str) or not _MD5.fullmatch(fingerprint):
            raise InputError(f"fingerprint {fingerprint!r} is not 32 lower-case hex digits", path)
        if isinstance(texts, str) or not texts:
            raise InputError(f"{fingerprint}: expected a non-empty list of snippet texts", path)
        if index:
            parts.append("\n\n")
        parts.append(_start_marker(fingerprint) + "\n")
        for text in texts:
            if not isinstance(text, str) or not text:
                raise InputError(f"{fingerprint}: a snippet text is empty", path)
            if not text.endswith("\n"):
                text += "\n"
            if any(_MARKER.fullmatch(line) for line in text.split("\n")):
                raise InputError(f"{fingerprint}: a snippet text holds a fingerprints marker line", path)
            parts.append(text)
            if len(texts) > 1:
                parts.append(_sep_marker(fingerprint) + "\n")
        parts.append(_end_marker(fingerprint) + "\n")
    with atomic_open(path, "wb") as fh:
        fh.write("".join(parts).encode("utf-8"))


def read_snippets(path: str | Path) -> list[tuple[str, list[str]]]:
    """Read the snippet text format (see :func:`write_snippets`): ``(fingerprint, texts)``
    per record, in file order; each text keeps its lines' newlines.

    Empty lines between records are skipped. Inside a record, only the markers of its own
    fingerprint delimit; a line after the last ``++++`` separator, a record without text,
    an unclosed record, a stray line between records, or any marker line of another
    fingerprint inside a record is an InputError naming the line.
    """
    p, text = _read_utf8(path, "snippet file")
    pieces = text.split("\n")
    lines = [piece + "\n" for piece in pieces[:-1]] + ([pieces[-1]] if pieces[-1] else [])
    records: list[tuple[str, list[str]]] = []
    fp: str | None = None
    opened = 0
    texts: list[str] = []
    current: list[str] = []
    separated = False
    for number, raw in enumerate(lines, start=1):
        row = raw.removesuffix("\n")
        m = _MARKER.fullmatch(row)
        if fp is None:
            if row == "":
                continue
            if not (m and m[1]):
                raise InputError(f"expected a '>>>>>>>>>>fingerprints <md5> >>>>>>>>>>>>>' line, got {_show(row)}", p, number)
            if not _MD5.fullmatch(m[2]):
                raise InputError(f"fingerprint {_show(m[2])} is not 32 lower-case hex digits", p, number)
            fp, opened, texts, current, separated = m[2], number, [], [], False
        elif row == _sep_marker(fp):
            if not current:
                raise InputError(f"empty snippet before the separator of {fp}", p, number)
            texts.append("".join(current))
            current, separated = [], True
        elif row == _end_marker(fp):
            if current:
                if separated:
                    raise InputError(f"text after the last '++++' separator of {fp}", p, number)
                texts.append("".join(current))
            if not texts:
                raise InputError(f"record {fp} holds no snippet", p, number)
            records.append((fp, texts))
            fp = None
        elif m:
            raise InputError(f"record {fp} opened at line {opened} is not closed before "
                             f"{_show(row)}", p, number)
        else:
            current.append(raw)
    if fp is not None:
        raise InputError(f"record {fp} is not closed", p, opened)
    return records


# ---------------------------------------------------------------------- sampled outputs

_SUBMISSION = re.compile(r"Submission>>>>>>(\S*)>>>>>>Submission")
_ID = re.compile(r"0|[1-9][0-9]*")


def _read_separate(folder: Path) -> list[tuple[int, str]]:
    outputs: list[tuple[int, str]] = []
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        raise InputError(exc.strerror or str(exc), folder) from None
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if not _ID.fullmatch(entry.name) or not entry.is_file():
            raise InputError("unexpected entry in the outputs folder (want files named 1..N)", entry)
        outputs.append((int(entry.name), _read_utf8(entry, "output file")[1]))
    if not outputs:
        raise InputError("no output files (named 1..N) in the folder", folder)
    return sorted(outputs)


def _map_beside(all_file: Path) -> Path:
    names = ["map.json"]
    if all_file.name.startswith("all_"):
        names.insert(0, f"map_{all_file.name[4:]}.json")
    for name in names:
        if (all_file.parent / name).exists():
            return all_file.parent / name
    raise InputError(f"no {names[0]} beside the merged outputs file", all_file)


def read_output_map(map_file: str | Path, n_lines: int | None = None) -> list[tuple[int, int, int, str]]:
    """``(start, end, output id, md5)`` of every output of a ``map.json``, sorted by line;
    with ``n_lines``, each span must lie within that many lines of the merged file."""
    map_file = Path(map_file)
    _, text, data = _load_json(map_file, "map file")
    if not isinstance(data, dict):
        raise InputError('expected a JSON object {"<id>": {"md5": ..., "start": ..., "end": ...}}', map_file, 1)
    spans: list[tuple[int, int, int, str]] = []
    for key, value in data.items():
        def bad(message: str, key: str = key) -> InputError:
            return InputError(f"output {key}: {message}", map_file, _line_of(text, json.dumps(key)))

        if not _ID.fullmatch(key):
            raise InputError(f"key {key!r} is not an output id", map_file, _line_of(text, json.dumps(key)))
        if (not isinstance(value, dict) or set(value) != {"md5", "start", "end"}
                or not isinstance(value["md5"], str) or not _MD5.fullmatch(value["md5"])
                or not _is_count(value["start"], 1) or not _is_count(value["end"], 1)):
            raise bad('expected {"md5": <32 hex>, "start": <line>, "end": <line>}')
        start, end = value["start"], value["end"]
        if start > end or (n_lines is not None and end > n_lines):
            raise bad(f"lines {start}..{end} are not within the {n_lines} lines of the merged file")
        spans.append((start, end, int(key), value["md5"]))
    if not spans:
        raise InputError("no outputs listed", map_file)
    spans.sort()
    for (_, end, _, _), (start, _, ident, _) in zip(spans, spans[1:]):
        if start <= end:
            raise InputError(f"output {ident}: lines from {start} overlap the previous output", map_file)
    return spans


def _read_merged(all_file: Path, map_file: Path, check_md5: bool) -> list[tuple[int, str]]:
    _, merged = _read_utf8(all_file, "merged outputs file")
    lines = _split_lines(merged)
    spans = read_output_map(map_file, len(lines))
    outputs: list[tuple[int, str]] = []
    for start, end, ident, md5 in spans:
        segment = lines[start - 1:end]
        marker = _SUBMISSION.fullmatch(segment[-1])
        if marker:
            if marker[1] != md5:
                raise InputError(f"output {ident}: Submission line says md5 {marker[1][:40]}, "
                                 f"{map_file.name} says {md5}", all_file, end)
            segment = segment[:-1]
        sample = "\n".join(segment)
        if check_md5 and hashlib.md5(sample.encode("utf-8")).hexdigest() != md5:
            raise InputError(f"output {ident}: md5 of lines {start}..{end} is not {md5}", all_file, start)
        outputs.append((ident, sample))
    return sorted(outputs)


def read_output_dir(path: str | Path, *, check_md5: bool = False) -> list[tuple[int, str]]:
    """The sampled outputs ``(id, text)``, sorted by id, from either upstream layout.

    - Separate files (``extract.py``): a folder of files named by their integer id
      (``1``..``N``), each one output, read as it is. ``path`` is that folder, or its
      parent holding ``seperate/`` (upstream's spelling) or ``separate/``. Hidden files
      are skipped; any other entry that is not an integer-named file is an InputError.
    - Merged (``merge.py``): ``all`` with ``map.json`` (or ``all_<a>-<b>`` with
      ``map_<a>-<b>.json``), ``path`` being the ``all`` file or its folder. ``map.json``
      is ``{"<id>": {"md5": <hex>, "start": <line>, "end": <line>}}``; merge wrote each
      sample with its empty lines removed as ``content + "\\n" + "Submission>>>>>>MD5
      >>>>>>Submission\\n"``, so 1-based lines start..end of ``all`` *include* the
      Submission line (and, when the content ended in a newline, an empty line before
      it). The text read back is lines start..end less a final Submission line (whose
      md5 must match the map's), joined by ``\\n``: exactly the content merge hashed.

    The md5 is checked only with ``check_md5``. In every version of ``merge.py`` it is
    the md5 of the content as written into ``all`` (its first version removed no lines;
    later ones hash after removing empty lines), so it can be recomputed; but a merge
    that hashed the original sample, empty lines included, could not be, so a mismatch
    is not an error by default. A Submission line naming another md5 than the map always
    is (the map does not describe this file).

    A folder holding both layouts is read from the separate files (the merged file is
    derived from them and has lost the empty lines). Missing paths, neither layout,
    malformed ``map.json``, spans outside ``all`` or overlapping, and non-UTF-8 files
    are InputErrors naming the file.
    """
    p = Path(path)
    if not p.exists():
        raise InputError("no such file or folder", p)
    if p.is_file():
        return _read_merged(p, _map_beside(p), check_md5)
    subfolders = [p / name for name in ("seperate", "separate") if (p / name).is_dir()]
    if len(subfolders) == 2:
        raise InputError("holds both seperate/ and separate/; name the one to read", p)
    if subfolders:
        return _read_separate(subfolders[0])
    if (p / "all").is_file():
        return _read_merged(p / "all", _map_beside(p / "all"), check_md5)
    try:
        has_ids = any(_ID.fullmatch(e.name) for e in p.iterdir())
    except OSError as exc:
        raise InputError(exc.strerror or str(exc), p) from None
    if has_ids:
        return _read_separate(p)
    raise InputError("no sampled outputs here: expected seperate/ (or separate/), "
                     "all with map.json, or files named 1..N", p)


def _checked_outputs(outputs: Iterable[tuple[int, str]], target: Path) -> list[tuple[int, str]]:
    checked: dict[int, str] = {}
    for ident, text in outputs:
        if not _is_count(ident):
            raise InputError(f"output id {ident!r} is not an integer >= 0", target)
        if ident in checked:
            raise InputError(f"output id {ident} given twice", target)
        if not isinstance(text, str):
            raise InputError(f"output {ident}: text is not a string", target)
        checked[ident] = text
    return sorted(checked.items())


def _utf8(text: str, ident: int, target: Path) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"output {ident}: text cannot be written as UTF-8", target) from None


def write_output_dir(outputs: Iterable[tuple[int, str]], folder: str | Path) -> None:
    """Write each output as the file ``folder/<id>`` holding its text as it is (UTF-8), as
    ``extract.py`` does; all files appear together or none. Files of other ids already in
    the folder are left alone (upstream appends new ids to the same folder)."""
    target = Path(folder)
    if target.exists() and not target.is_dir():
        raise InputError("not a directory", target)
    items = _checked_outputs(outputs, target)
    data = [_utf8(text, ident, target) for ident, text in items]
    with atomic_paths(*(target / str(ident) for ident, _ in items)) as temps:
        for tmp, blob in zip(temps, data):
            tmp.write_bytes(blob)


def merge_content(text: str) -> str:
    """A sample as ``merge.py`` writes it into ``all``: read in text mode (``\\r\\n`` and
    ``\\r`` become ``\\n``) with every empty line removed (lines of spaces stay)."""
    pieces = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    lines = [piece + "\n" for piece in pieces[:-1]] + [pieces[-1]]
    return "".join(line for line in lines if line != "\n")


def write_merged(outputs: Iterable[tuple[int, str]], all_path: str | Path, map_path: str | Path) -> None:
    """Write ``all`` and ``map.json`` as the study's ``merge.py`` does, in id order.

    Each sample becomes ``content + "\\n" + "Submission>>>>>>" + md5 + ">>>>>>Submission\\n"``
    where ``content`` is :func:`merge_content` of the text and md5 its hex digest (UTF-8);
    ``map.json`` gets ``{"<id>": {"md5": md5, "start": s, "end": e}}`` with s..e the
    1-based lines of ``all`` it spans, the Submission line included, written like
    ``json.dump(map, f)`` (one line, no final newline). Both files appear together.
    """
    all_target, map_target = Path(all_path), Path(map_path)
    items = _checked_outputs(outputs, all_target)
    parts: list[str] = []
    spans: dict[str, dict] = {}
    cursor = 0
    for ident, text in items:
        content = merge_content(text)
        md5 = hashlib.md5(_utf8(content, ident, all_target)).hexdigest()
        chunk = content + "\nSubmission>>>>>>" + md5 + ">>>>>>Submission\n"
        count = chunk.count("\n")
        spans[str(ident)] = {"md5": md5, "start": cursor + 1, "end": cursor + count}
        cursor += count
        parts.append(chunk)
    with atomic_paths(all_target, map_target) as (tmp_all, tmp_map):
        tmp_all.write_bytes("".join(parts).encode("utf-8"))
        tmp_map.write_bytes(json.dumps(spans).encode("utf-8"))
