"""Simian 2.5.10 logs, as ``java -jar simian-2.5.10.jar <train shard> <all>`` prints them,
and the extraction study's rule that turns them into memorization counts (Yang et al.,
Privacy-in-Code-Models ``log/analyze.py``): a block is memorized when it has a location
in the merged outputs file and one in training data. The last block of a log is read
like the others (the study's parser drops it)."""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import InputError
from engine.formats import read_utf8, show, split_lines


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
        raise InputError(f"expected Simian's option line '{{key=value, ...}}', got {show(text)}", path, line)
    body = text[1:-1]
    options: dict = {}
    if not body.strip():
        return options
    for item in body.split(", "):
        key, eq, value = item.partition("=")
        if not eq or not key or key != key.strip():
            raise InputError(f"bad option {show(item)} in Simian's option line", path, line)
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
                         f"got {show(rows[0])}", where, 1)

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
            raise InputError(f"unexpected line after the summary ({expected}): {show(row)}", where, number)
        if m := _BETWEEN.fullmatch(row):
            if current is None:
                raise InputError(f"location outside a block: {show(row)}", where, number)
            start, end = int(m[1]), int(m[2])
            if start < 1 or start > end:
                raise InputError(f"bad line span {start}..{end} (want 1 <= A <= B)", where, number)
            locations.append(SimianLocation(m[3], start, end))
        elif m := _FOUND.fullmatch(row):
            close()
            if not re.fullmatch(r"[0-9a-fA-F]{32}", m[2]):
                raise InputError(f"fingerprint {show(m[2])} is not 32 hex digits", where, number)
            if int(m[1]) < 1:
                raise InputError("a block must have at least 1 line", where, number)
            current = (int(m[1]), m[2].lower(), number)
        elif m := _SUMMARY[0].fullmatch(row):
            close()
            summary.append(m.groups())
        else:
            raise InputError(f"unrecognized line in Simian log: {show(row)}", where, number)
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
    p, text = read_utf8(path, "Simian log")
    return parse_simian_lines(split_lines(text), p, fragment=fragment)


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
