"""``memorization.json`` of the extraction study: ``{fingerprint: {"train": n, "extract": n,
"len": lines}}``, written in the layout of upstream's ``json.dump(..., indent=4)``."""
from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from engine.errors import InputError
from engine.fsutil import atomic_open
from engine.formats import MD5, is_count, line_of, load_json


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
        if not isinstance(fingerprint, str) or not MD5.fullmatch(fingerprint):
            raise InputError(f"fingerprint {fingerprint!r} is not 32 lower-case hex digits", path)
        if fingerprint in out:
            raise InputError(f"fingerprint {fingerprint} given twice", path)
        if not (is_count(train) and is_count(extract) and is_count(length, 1)):
            raise InputError(f"bad counts for {fingerprint}: train {train!r}, extract {extract!r}, "
                             f"len {length!r} (want integers, len >= 1)", path)
        out[fingerprint] = {"train": train, "extract": extract, "len": length}
    with atomic_open(path, "wb") as fh:
        fh.write((json.dumps(out, indent=4) + "\n").encode("utf-8"))


def read_memorization_json(path: str | Path) -> dict[str, dict[str, int]]:
    """Read a ``memorization.json``: ``{fingerprint: {"train": n, "extract": n, "len": n}}``
    in file order. Every key must be a lower-case md5 and every value hold exactly those
    three integer keys (counts >= 0, len >= 1); anything else is an InputError."""
    p, text, data = load_json(path, "memorization file")
    if not isinstance(data, dict):
        raise InputError("expected a JSON object {fingerprint: {...}}", p, 1)
    out: dict[str, dict[str, int]] = {}
    for fingerprint, value in data.items():
        if not MD5.fullmatch(fingerprint):
            raise InputError(f"key {fingerprint!r} is not a fingerprint (32 lower-case hex digits)",
                             p, line_of(text, json.dumps(fingerprint)))
        if not isinstance(value, dict) or set(value) != set(_COUNT_KEYS):
            raise InputError(f"{fingerprint}: expected an object with exactly the keys "
                             "train, extract, len", p, line_of(text, json.dumps(fingerprint)))
        for key in _COUNT_KEYS:
            if not is_count(value[key], 1 if key == "len" else 0):
                raise InputError(f"{fingerprint}: {key} must be an integer >= {1 if key == 'len' else 0}, "
                                 f"got {value[key]!r}", p, line_of(text, json.dumps(fingerprint)))
        out[fingerprint] = {key: value[key] for key in _COUNT_KEYS}
    return out
