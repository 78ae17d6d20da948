"""The file formats byrote reads and writes, one module each, as pure functions over plain
data: the noise study's datasets (:mod:`~engine.formats.great`,
:mod:`~engine.formats.code2vec`) and the extraction study's files (Yang et al.,
yangzhou6666/Privacy-in-Code-Models: :mod:`~engine.formats.simian`,
:mod:`~engine.formats.memorization_json`, :mod:`~engine.formats.snippet_text`,
:mod:`~engine.formats.outputs_dir`). Bad input is one :class:`~engine.errors.InputError`
naming the file and line; every file is written atomically. Here: what they share.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from engine.errors import InputError
from engine.fsutil import require_file

MD5 = re.compile(r"[0-9a-f]{32}")


def show(line: str, width: int = 60) -> str:
    """A line quoted for a one-line message, shortened."""
    return repr(line if len(line) <= width else line[:width] + "...")


def read_utf8(path: str | Path, what: str = "file") -> tuple[Path, str]:
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


def split_lines(text: str) -> list[str]:
    """Lines cut at ``\\n`` only, without it (a final newline ends the last line)."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def line_of(text: str, needle: str, nth: int = 1) -> int | None:
    """1-based line of the nth occurrence of ``needle`` in ``text`` (None if absent)."""
    at = -1
    for _ in range(nth):
        at = text.find(needle, at + 1)
        if at < 0:
            return None
    return text.count("\n", 0, at) + 1


SQLITE_INT_MAX = 2**63 - 1
"""The largest integer SQLite stores: every id, line number and count byrote reads must fit."""


def bounded_int(text: str) -> int:
    """``int`` of an optionally signed run of ASCII digits, one beyond :data:`SQLITE_INT_MAX`
    read as ±(SQLITE_INT_MAX + 1): out of every range byrote checks, and never Python's
    ValueError for a text of more than 4,300 digits."""
    if len(text.lstrip("+-").lstrip("0")) <= 19:
        return int(text)
    return -(SQLITE_INT_MAX + 1) if text.startswith("-") else SQLITE_INT_MAX + 1


def is_count(value, least: int = 0) -> bool:
    """An int (not a bool) from ``least`` up to :data:`SQLITE_INT_MAX`."""
    return isinstance(value, int) and not isinstance(value, bool) and least <= value <= SQLITE_INT_MAX


class DuplicateKey(Exception):
    def __init__(self, key: str):
        self.key = key


def no_duplicates(pairs: list) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKey(key)
        out[key] = value
    return out


class BadJSON(ValueError):
    """JSON that cannot be read: ``reason`` says why in a few words, ``line`` where (1-based,
    within the text given; None when the parser cannot say)."""

    def __init__(self, reason: str, line: int | None = None):
        super().__init__(reason)
        self.reason, self.line = reason, line


MAX_JSON_DEPTH = 512

try:
    from engine.formats import _json_depth
except ImportError:  # no compiler at install time: the walk below, in Python
    _json_depth = None

try:
    import orjson as _orjson
except ImportError:  # json alone
    _orjson = None

compiled_depth: bool = _json_depth is not None
"""Whether :func:`json_depth_ok` walks bytes in the compiled kernel (tests set it off)."""

_BRACKETS = re.compile(r"[\[\]{}]")
_BRACKETS_BYTES = re.compile(rb"[\[\]{}]")


def _outside_strings(text: str | bytes) -> str | bytes:
    """JSON ``text`` without its strings, in C-speed passes: escaped backslashes, then
    escaped quotes taken out, the rest split at the quotes and every other piece kept.
    Exact on valid JSON; on invalid JSON exact up to the first backslash outside a string,
    where a parser stops."""
    if isinstance(text, (bytes, bytearray)):
        bare = bytes(text).replace(b"\\\\", b"").replace(b'\\"', b"")
        return b"".join(bare.split(b'"')[::2])
    bare = text.replace("\\\\", "").replace('\\"', "")
    return "".join(bare.split('"')[::2])


def json_depth_ok(text: str | bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether JSON ``text`` nests at most ``limit`` levels, checked before it is parsed (a
    parser that recursed deeper could exhaust the C stack where a library has raised
    Python's recursion limit). Bytes are walked once in the compiled kernel
    (``_json_depth.c``) where it is built. Otherwise two counts settle most lines: fewer
    than ``limit`` opening brackets cannot nest deeper; else the strings are cut out (the
    code in a corpus record holds brackets: :func:`_outside_strings`) and the brackets
    left are walked."""
    binary = isinstance(text, (bytes, bytearray))
    if binary and compiled_depth:  # the walk in one pass, in C
        return _json_depth.depth_ok(text, limit)
    opening = text.count(b"[") + text.count(b"{") if binary else text.count("[") + text.count("{")
    if opening <= limit:
        return True
    structure = _outside_strings(text)
    if (structure.count(b"[") + structure.count(b"{") if binary else structure.count("[") + structure.count("{")) <= limit:
        return True
    depth = 0
    for match in (_BRACKETS_BYTES if binary else _BRACKETS).finditer(structure):
        depth += 1 if match.group() in (b"[", b"{", "[", "{") else -1
        if depth > limit:
            return False
    return True


def parse_json(text: str | bytes, **options):
    """``json.loads``, every way it can fail turned into one :class:`BadJSON`: malformed
    text, nesting deeper than :data:`MAX_JSON_DEPTH` levels (checked before parsing,
    :func:`json_depth_ok`), or an integer of more than 4,300 digits (Python's own limit on
    int from text). Every reader of JSON in byrote goes through here, so hostile files
    cost a line of message, never a traceback."""
    _check_depth(text)
    return _json_loads(text, **options)


def _check_depth(text: str | bytes) -> None:
    if not json_depth_ok(text):
        raise BadJSON(f"nested deeper than {MAX_JSON_DEPTH} levels")


def _json_loads(text: str | bytes, **options):
    """``json.loads`` of a text whose depth is checked, its failures as :func:`parse_json` gives them."""
    try:
        return json.loads(text, **options)
    except json.JSONDecodeError as exc:
        raise BadJSON(f"{exc.msg} (column {exc.colno})", exc.lineno) from None
    except RecursionError:
        raise BadJSON("nested too deeply") from None
    except UnicodeDecodeError:
        raise
    except ValueError as exc:  # "Exceeds the limit (4300 digits) for integer string conversion"
        if "digits" not in str(exc):
            raise BadJSON(str(exc).splitlines()[0][:120]) from None
        raise BadJSON("number of more than 4,300 digits", _long_number_line(text)) from None


_LONG_INT = r"(?<![0-9.eE+-])-?[0-9]{4301,}(?![0-9.eE])"  # an integer (not a float's part) json cannot read
_LONG_INTS = (re.compile(_LONG_INT), re.compile(_LONG_INT.encode()))


def _long_number_line(text: str | bytes) -> int | None:
    """The line of the first integer of more than 4,300 digits outside the strings of a JSON
    text (a raw newline cannot be inside one, so the lines outside are the text's)."""
    binary = isinstance(text, (bytes, bytearray))
    structure = _outside_strings(text)
    found = _LONG_INTS[binary].search(structure)
    return None if found is None else structure.count(b"\n" if binary else "\n", 0, found.start()) + 1


def parse_json_record(data: bytes):
    """:func:`parse_json` of one JSON line, by orjson where installed (twice json's speed
    on corpus records). Where both accept a text they give the same value, but for
    integers beyond 64 bits (orjson's is a float): a caller that does not find the string
    it wants parses again with :func:`parse_json` for json's value and message. What
    orjson refuses (NaN, a byte-order mark, lone surrogates, malformed JSON) goes to
    :func:`parse_json`, which gives json's value or json's error."""
    _check_depth(data)
    if _orjson is None:
        return _json_loads(data)
    try:
        return _orjson.loads(data)
    except _orjson.JSONDecodeError:
        return _json_loads(data)


def load_json(path: str | Path, what: str, invalid: str = "invalid JSON") -> tuple[Path, str, object]:
    """``(path, text, value)`` of a JSON file (:func:`read_utf8`, :func:`parse_json`); a key
    given twice in an object is refused too. ``invalid`` begins the message of bad JSON."""
    p, text = read_utf8(path, what)
    try:
        return p, text, parse_json(text, object_pairs_hook=no_duplicates)
    except BadJSON as exc:
        raise InputError(f"{invalid}: {exc.reason}", p, exc.line) from None
    except DuplicateKey as exc:
        raise InputError(f"key {show(exc.key, 30)} given twice", p, line_of(text, json.dumps(exc.key), 2)) from None
