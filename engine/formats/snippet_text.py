"""The snippet text of the extraction study's ``log/analyze.py``: each memorized snippet
between ``>>>>>>>>>>fingerprints <md5>`` and ``<<<<<<<<<<fingerprints <md5>`` markers,
its occurrences separated by ``++++fingerprints <md5> ++++``."""
from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from engine.errors import InputError
from engine.fsutil import atomic_open
from engine.formats import MD5, read_utf8, show


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
        if not isinstance(fingerprint, str) or not MD5.fullmatch(fingerprint):
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
    p, text = read_utf8(path, "snippet file")
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
                raise InputError(f"expected a '>>>>>>>>>>fingerprints <md5> >>>>>>>>>>>>>' line, got {show(row)}", p, number)
            if not MD5.fullmatch(m[2]):
                raise InputError(f"fingerprint {show(m[2])} is not 32 lower-case hex digits", p, number)
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
                             f"{show(row)}", p, number)
        else:
            current.append(raw)
    if fp is not None:
        raise InputError(f"record {fp} is not closed", p, opened)
    return records
