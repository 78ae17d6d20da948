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


def is_count(value, least: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


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


def load_json(path: str | Path, what: str) -> tuple[Path, str, object]:
    p, text = read_utf8(path, what)
    try:
        return p, text, json.loads(text, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", p, exc.lineno) from None
    except DuplicateKey as exc:
        raise InputError(f"key {exc.key!r} given twice", p, line_of(text, json.dumps(exc.key), 2)) from None
