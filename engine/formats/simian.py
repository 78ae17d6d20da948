"""Simian 2.5.10 logs, as ``java -jar simian-2.5.10.jar <train shard> <all>`` prints them,
and the extraction study's rule that turns them into memorization counts (Yang et al.,
Privacy-in-Code-Models ``clone/analyze.py``): a block is memorized when it has a location
in the merged outputs file and one in training data. Two counts: ``distinct`` (byrote's
default: every block read, distinct locations) and ``study`` (the study's own parse,
reproduced exactly: see :func:`memorized_from_simian`)."""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import InputError
from engine.formats import SQLITE_INT_MAX, bounded_int, read_utf8, show, split_lines


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


# numbers are ASCII digits ([0-9]: \d would read Arabic-Indic ones too)
_FOUND = re.compile(r"Found ([0-9]+) duplicate lines with fingerprint (\S*) in the following files:")
_BETWEEN = re.compile(r" Between lines ([0-9]+) and ([0-9]+) in (.+)")
_SUMMARY = (
    re.compile(r"Found ([0-9]+) duplicate lines? in ([0-9]+) blocks? in ([0-9]+) files?"),
    re.compile(r"Processed a total of ([0-9]+) significant \(([0-9]+) raw\) lines? in ([0-9]+) files?"),
    re.compile(r"Processing time: ([0-9]+(?:\.[0-9]+)?) ?sec"),
)
_NAME = "Similarity Analyser "
_SUMMARY_NAMES = ("the 'Found ... blocks in ... files' summary", "'Processed a total of ...'",
                  "'Processing time: ...'")


def parse_simian_options(text: str, path: str | Path | None = None, line: int | None = None) -> dict:
    """The header's option line, ``{key=value, ...}`` (Java's ``Map.toString``), as a dict.

    ``true``/``false`` become bools and decimal numbers (ASCII digits) ints; other values stay strings,
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
        elif re.fullmatch(r"-?[0-9]+", value):
            options[key] = bounded_int(value)
            if abs(options[key]) > SQLITE_INT_MAX:
                raise InputError(f"option {key!r} in Simian's option line is beyond {SQLITE_INT_MAX:,}", path, line)
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
    of every log). Simian closes every log with the three summary lines, the last ending in
    ``sec``, so a log without them was cut short (a run killed, a copy interrupted, even
    mid-line): an InputError naming its last line, never a silent import of part of the blocks. Trailing empty lines are ignored.
    Anything else is an InputError naming the line: an unknown line, a block without
    locations, a fingerprint that is not 32 hex digits, N < 1, A < 1 or A > B, a number
    beyond :data:`SQLITE_INT_MAX` (in the option line too), a line after the summary.

    ``fragment=True`` reads quoted excerpts too: the header and the summary become optional.
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
    summary: list = []  # the numbers of the summary lines seen, in order

    def summary_numbers(m: re.Match, number: int) -> tuple:
        """The numbers of a summary line: its counts (up to SQLITE_INT_MAX), or its seconds."""
        numbers = (float(m[1]),) if m.re is _SUMMARY[2] else tuple(bounded_int(x) for x in m.groups())
        if not all(0 <= x <= SQLITE_INT_MAX for x in numbers):
            raise InputError(f"a number of the summary is beyond {SQLITE_INT_MAX:,}", where, number)
        return numbers

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
                summary.append(summary_numbers(m, number))
                continue
            expected = f"expected {_SUMMARY_NAMES[len(summary)]}" if len(summary) < 3 else "nothing may follow the summary"
            raise InputError(f"unexpected line after the summary ({expected}): {show(row)}", where, number)
        if m := _BETWEEN.fullmatch(row):
            if current is None:
                raise InputError(f"location outside a block: {show(row)}", where, number)
            start, end = bounded_int(m[1]), bounded_int(m[2])
            if start < 1 or start > end or end > SQLITE_INT_MAX:
                cut = lambda digits: digits if len(digits) <= 24 else digits[:24] + "..."  # noqa: E731
                raise InputError(f"bad line span {cut(m[1])}..{cut(m[2])} (want 1 <= A <= B <= {SQLITE_INT_MAX:,})",
                                 where, number)
            locations.append(SimianLocation(m[3], start, end))
        elif m := _FOUND.fullmatch(row):
            close()
            if not re.fullmatch(r"[0-9a-fA-F]{32}", m[2]):
                raise InputError(f"fingerprint {show(m[2])} is not 32 hex digits", where, number)
            n = bounded_int(m[1])
            if n < 1:
                raise InputError("a block must have at least 1 line", where, number)
            if n > SQLITE_INT_MAX:
                raise InputError(f"a block of more than {SQLITE_INT_MAX:,} lines", where, number)
            current = (n, m[2].lower(), number)
        elif m := _SUMMARY[0].fullmatch(row):
            close()
            summary.append(summary_numbers(m, number))
        else:
            raise InputError(f"unrecognized line in Simian log: {show(row)}", where, number)
    close()
    if not fragment and len(summary) < 3:
        missing = ", ".join(_SUMMARY_NAMES[len(summary):])
        raise InputError(f"Simian log cut short: it ends here, without Simian's closing summary ({missing})",
                         where, len(rows))

    found = None
    if summary:
        found = SimianSummary(*summary[0], *(summary[1] if len(summary) > 1 else (None,) * 3),
                              *(summary[2] if len(summary) > 2 else (None,)))
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




COUNTS = ("distinct", "study")

_PROMPT_RUN = re.compile(r"all_[0-9a-f]{40}-[0-9]+-[0-9]+")


def default_is_output(path: str) -> bool:
    """Whether a Simian location is in the study's merged outputs, by the file's name
    (the path's last part, ``/`` or ``\\`` separated), as the study's ``extract/merge.py``
    names it (yangzhou6666/Privacy-in-Code-Models @ 2a0474f7, function ``store``):

    - ``all``: the name of its first versions (13a8828 .. d10804b);
    - ``all_<start>-<end>``: chunks of plain runs (``'all_{}-{}'.format(start, end)``,
      since bfe442a);
    - ``all_<sha1>-<start>-<end>``: chunks of prompted runs (``--internet-sampling``,
      ``'all_{}-{}-{}'.format(args.prompt_hash, start, end)``, since c2a7aea), the prompt
      hash being the 40 lower-case hex digits of the prompt's SHA-1 (``merge.py``,
      ``extract/extract.py``: ``hashlib.sha1(prompt.encode('utf-8')).hexdigest()``, or a
      given 40-hex-digit hash; the README's ``--prompt_hash`` example is one too).
      ``clone/scripts.py`` runs Simian on these very files.

    Every other file is training data. (The short-lived ``all_<size>`` of 503ca42 is not
    recognised; pass ``is_output`` for other layouts.)"""
    name = re.split(r"[\\/]", path)[-1]
    return (name == "all" or re.fullmatch(r"all_[0-9]+-[0-9]+", name) is not None
            or _PROMPT_RUN.fullmatch(name) is not None)


@dataclass
class Memorized:
    """One memorized snippet: its fingerprint, its length N in lines, its ``train`` and
    ``extract`` counts, and its distinct output and training locations (first seen
    first). With the ``distinct`` count, ``train`` and ``extract`` are the numbers of
    those locations; with ``study`` they are the study's sums, which can exceed them."""

    fingerprint: str
    len: int
    train: int
    extract: int
    output_locations: list[SimianLocation] = field(default_factory=list)
    train_locations: list[SimianLocation] = field(default_factory=list)


def check_count(count: str) -> None:
    """An InputError unless ``count`` is one of :data:`COUNTS`."""
    if count not in COUNTS:
        raise InputError(f"unknown count {count!r} (want one of: {', '.join(COUNTS)})")


def _logs_with_names(logs: Iterable[SimianLog | Sequence[SimianBlock]]):
    """``(path or None, where for messages, blocks)`` of every log, checking that no
    fingerprint has two lengths N (an InputError naming both places)."""
    seen_len: dict[str, tuple[int, str]] = {}
    for number, log in enumerate(logs, start=1):
        path = log.path if isinstance(log, SimianLog) else None
        blocks = log.blocks if isinstance(log, SimianLog) else log
        where = path if path is not None else f"log {number}"
        for block in blocks:
            earlier = seen_len.setdefault(block.fingerprint, (block.lines, f"{where} line {block.line}"))
            if earlier[0] != block.lines:
                raise InputError(f"fingerprint {block.fingerprint} has {block.lines} lines here but "
                                 f"{earlier[0]} in {earlier[1]}", path, block.line)
        yield blocks


def _add_locations(item: Memorized, seen: tuple[set, set], outputs, training) -> None:
    seen_out, seen_train = seen
    for loc in outputs:
        if loc not in seen_out:
            seen_out.add(loc)
            item.output_locations.append(loc)
    for loc in training:
        if loc not in seen_train:
            seen_train.add(loc)
            item.train_locations.append(loc)


def memorized_from_simian(logs: Iterable[SimianLog | Sequence[SimianBlock]],
                          is_output: Callable[[str], bool] = default_is_output,
                          count: str = "distinct") -> dict[str, Memorized]:
    """The study's memorized snippets ("clones appearing in both ``all`` and a subfile of
    the training data", seeds/003 §Analyze memorization), merged over logs (one per
    training shard, each against the same merged outputs file). A location is an output
    when ``is_output(path)``, else training data. A fingerprint seen with two different
    N is an InputError (from any block, memorized or not), with either count.

    ``count="distinct"`` (byrote's default): every block is read, the last one of each
    log included. A block is memorized when, in its own log, at least one location is an
    output and one is not. Blocks are merged by fingerprint: ``train`` is the number of
    distinct training locations (path, start, end) and ``extract`` the number of distinct
    output locations over all logs, so the output locations that every shard's log
    repeats count once; ``len`` is N. Keyed by fingerprint, in order of first appearance.

    ``count="study"``: the study's own parse, reproduced exactly, for comparison with its
    published numbers: ``clone/analyze.py`` (``process_file`` and ``merge_memorizations``;
    yangzhou6666/Privacy-in-Code-Models, last changed in bb119f4, unchanged at 2a0474f7),
    which writes ``memorization.json``:

    1. Per log, a block's counts are kept only when the next ``... duplicate lines with
       fingerprint ...`` line is read, and only if then ``train > 0`` and
       ``extract > 0``: **the last block of every log is dropped**.
    2. Within a block, every location line adds 1: to ``train`` when the line contains
       ``clone`` (the training shards lie in ``clone/save/...``), to ``extract`` when it
       contains ``extract`` (outputs in ``extract/results/...``). Here the two sides are
       told apart by ``is_output`` instead, which agrees with the substrings on the
       study's layout (``clone/scripts.py``); a path holding both words, or neither,
       would be counted twice, or not at all, by the study.
    3. A fingerprint met again in the same log continues the counts of its kept entry,
       the same dict (a fingerprint whose earlier block was not kept starts again from 0,
       with this block's N). So a repeated fingerprint in a log's last block still adds
       its locations to its kept entry.
    4. Across logs, the kept entries are **summed** (``train`` and ``extract``; ``len``
       from the first log that kept it): an output location that several shard logs
       list, and the ``all`` places a block repeats in every shard's log, are counted
       once per log. Keys in order of first keeping.

    Not reproduced: the chunk loop of its ``__main__`` (it never empties the list of
    per-log results between chunks of 200 000 outputs, and the merge aliases dicts, so
    with more than one chunk earlier logs are added again). Pass the logs of one chunk
    (one ``log/save/<model>/<a>-<b>`` folder); ``clone/analyze.py``'s order of logs
    (``os.listdir``) changes only the key order. The locations kept on each snippet are
    the distinct ones of the blocks counted.
    """
    check_count(count)
    if count == "study":
        return _study_count(logs, is_output)
    result: dict[str, Memorized] = {}
    distinct: dict[str, tuple[set, set]] = {}
    for blocks in _logs_with_names(logs):
        for block in blocks:
            outputs = [loc for loc in block.locations if is_output(loc.path)]
            training = [loc for loc in block.locations if not is_output(loc.path)]
            if not outputs or not training:
                continue
            item = result.get(block.fingerprint)
            if item is None:
                item = result[block.fingerprint] = Memorized(block.fingerprint, block.lines, 0, 0)
                distinct[block.fingerprint] = (set(), set())
            _add_locations(item, distinct[block.fingerprint], outputs, training)
            item.extract = len(item.output_locations)
            item.train = len(item.train_locations)
    return result


def _study_count(logs, is_output: Callable[[str], bool]) -> dict[str, Memorized]:
    """``count="study"`` of :func:`memorized_from_simian`: ``clone/analyze.py``'s
    ``process_file`` per log, then ``merge_memorizations``."""
    result: dict[str, Memorized] = {}
    distinct: dict[str, tuple[set, set]] = {}
    for blocks in _logs_with_names(logs):
        kept: dict[str, list] = {}  # fingerprint -> [train, extract, len, blocks counted]
        pending: tuple[str, list] | None = None
        for block in blocks:
            if pending is not None and pending[1][0] > 0 and pending[1][1] > 0:
                kept[pending[0]] = pending[1]
            data = kept.get(block.fingerprint) or [0, 0, block.lines, []]
            for loc in block.locations:
                data[1 if is_output(loc.path) else 0] += 1
            data[3].append(block)
            pending = (block.fingerprint, data)
        # the last pending block is never kept: the study stores a block on the next header
        for fingerprint, (train, extract, n, counted) in kept.items():
            item = result.get(fingerprint)
            if item is None:
                item = result[fingerprint] = Memorized(fingerprint, n, 0, 0)
                distinct[fingerprint] = (set(), set())
            item.train += train
            item.extract += extract
            for block in counted:
                _add_locations(item, distinct[fingerprint],
                               [loc for loc in block.locations if is_output(loc.path)],
                               [loc for loc in block.locations if not is_output(loc.path)])
    return result
