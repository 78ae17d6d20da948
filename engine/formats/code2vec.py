"""Method-name datasets on disk (Rabin et al. §3.1), in four formats chosen by the file
name (:func:`format_of`): byrote's own ``.jsonl``, code2vec's ``.c2v`` (preprocessed)
and ``.raw`` (extractor output), and code2seq's ``.c2s``; :func:`iter_methodname` gives
each format's layout, :func:`sample_line` writes them back.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterable, Iterator

from engine.data.methodname import MAX_CONTEXTS, Context, MethodNameSample, java_string_hash
from engine.data.sources import utf8_lines
from engine.errors import InputError
from engine.fsutil import atomic_open, require_file
from engine.formats import BadJSON, parse_json

FORMATS = ("jsonl", "c2v", "c2s", "raw")
CONTEXT_FORMATS = ("c2v", "c2s", "raw")  # the "label start,path,end ..." line syntax


def format_of(path: str | Path) -> str:
    """``"jsonl"``, ``"c2v"``, ``"c2s"`` or ``"raw"`` from the file name: a final ``.jsonl``,
    else the first of ``.c2v``, ``.c2s``, ``.raw`` among its suffixes
    (``x.test.c2v.head20`` is ``.c2v``)."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] == ".jsonl":
        return "jsonl"
    for fmt in CONTEXT_FORMATS:
        if f".{fmt}" in suffixes:
            return fmt
    raise InputError("unknown method-name format: expected a .jsonl, .c2v, .c2s or .raw file", path)


# --- reading ---------------------------------------------------------------------------


_NOT_A_SEPARATOR = re.compile(r"[^\S ]|\x00")  # white space but the space, or NUL


def parse_context_line(text: str) -> tuple[str, list[Context], int]:
    """``(label, contexts, slots)`` of one ``label start,path,end ...`` line.

    Runs of spaces (the padding) are allowed anywhere after the label; a ValueError names
    what is wrong with the line, a label or context holding other white space (a tab) or
    a NUL among them.
    """
    if found := _NOT_A_SEPARATOR.search(text):
        raise ValueError(f"{found[0]!r} in a label or context (they are separated by spaces alone)")
    parts = text.split(" ")
    label = parts[0]
    if not label:
        raise ValueError("a line starts with its label, not with a space")
    contexts: list[Context] = []
    for part in parts[1:]:
        if not part:
            continue
        fields = part.split(",")
        if len(fields) != 3 or not all(fields):
            raise ValueError(f"malformed context {part!r}: expected start,path,end")
        contexts.append((fields[0], fields[1], fields[2]))
    return label, contexts, len(parts) - 1


def _is_str(value: object) -> bool:
    return isinstance(value, str)


def _from_record(rec: object) -> MethodNameSample:
    if not isinstance(rec, dict):
        raise ValueError("expected a JSON object")
    for key in ("name", "label", "contexts"):
        if key not in rec:
            raise ValueError(f"missing field '{key}'")
    name, label, contexts = rec["name"], rec["label"], rec["contexts"]
    if not _is_str(name) or not name:
        raise ValueError("field 'name' must be a non-empty string")
    if not _is_str(label) or not label:
        raise ValueError("field 'label' must be a non-empty string")
    if not isinstance(contexts, list):
        raise ValueError("field 'contexts' must be a list")
    parsed: list[Context] = []
    for ctx in contexts:
        if not (isinstance(ctx, list) and len(ctx) == 3 and all(_is_str(c) and c for c in ctx)):
            raise ValueError(f"bad context {json.dumps(ctx)}: expected [start, path, end], non-empty strings")
        parsed.append((ctx[0], ctx[1], ctx[2]))
    optional = {}
    for key, ok, what in (("source", _is_str, "a string"), ("lang", _is_str, "a string"),
                          ("file", _is_str, "a string"),
                          ("line", lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer")):
        value = rec.get(key)
        if value is not None and not ok(value):
            raise ValueError(f"field '{key}' must be {what} or null")
        optional[key] = value
    return MethodNameSample(name=name, label=label, contexts=parsed, **optional)


def iter_methodname(path: str | Path, fmt: str | None = None) -> Iterator[MethodNameSample]:
    """Yield the samples of a method-name file one line at a time; blank lines are skipped.

    - ``.jsonl`` (byrote's own): one JSON object per line, ``{"name", "label",
      "contexts": [[start, path, end], ...], "source", "lang", "file", "line"}``;
      ``name``, ``label`` and ``contexts`` are required, the rest may be null or absent.
    - ``.c2v`` (code2vec's preprocessed files): ``label ctx ctx ...`` with ``ctx`` =
      ``start,path,end`` (the path is usually a Java ``String.hashCode`` of the path), the
      line padded with spaces to ``max_contexts`` (200) context slots.
    - ``.c2s`` (code2seq): the same line syntax; terminals and path nodes are themselves
      ``|``-joined sub-tokens / node names (``node,Cls0|Mth|Nm1,METHOD_NAME``).
    - ``.raw`` (code2vec's extractor output before preprocessing, e.g.
      ``my_dataset.test.raw.head20.txt``): the same line syntax without padding.

    Samples read from a ``.c2v``/``.c2s``/``.raw`` line have no source (``source`` None)
    and no original name: ``name`` is the label as written. Those of the padded formats
    (``.c2v``, ``.c2s``) keep ``slots``, the number of context slots the line had
    (contexts plus padding), so that writing an unchanged sample back reproduces the line
    byte for byte.

    Any problem is an :class:`InputError` naming the file and its 1-based line.
    """
    path = require_file(path)
    fmt = fmt or format_of(path)
    if fmt not in FORMATS:
        raise InputError(f"unknown method-name format {fmt!r}; expected one of {', '.join(FORMATS)}")
    for lineno, text in utf8_lines(path):
        text = text.rstrip("\r\n")
        if not text.strip():
            continue
        try:
            if fmt == "jsonl":
                try:
                    rec = parse_json(text)
                except BadJSON as exc:
                    raise ValueError(f"malformed JSON: {exc.reason}") from None
                yield _from_record(rec)
            else:
                if lineno == 1 and text.startswith("\ufeff"):  # as the GREAT reader (json) refuses it
                    raise ValueError("a UTF-8 byte-order mark before the first label")
                label, contexts, slots = parse_context_line(text)
                yield MethodNameSample(name=label, label=label, contexts=contexts,
                                       slots=None if fmt == "raw" else slots)
        except ValueError as exc:
            raise InputError(str(exc), path, lineno) from None


def read_methodname(path: str | Path, fmt: str | None = None) -> list[MethodNameSample]:
    """All samples of a ``.jsonl``/``.c2v``/``.c2s``/``.raw`` file; a file without any is an error."""
    samples = list(iter_methodname(path, fmt))
    if not samples:
        raise InputError("empty dataset", path)
    return samples


# --- writing ---------------------------------------------------------------------------


def format_context_line(sample: MethodNameSample, pad_to: int | None = None,
                        hash_paths: bool = False) -> str:
    """``label start,path,end ...`` padded with spaces to ``pad_to`` context slots.

    ``pad_to`` None: the sample's own ``slots`` if it has them, else no padding.
    """
    contexts = []
    for start, path, end in sample.contexts:
        if hash_paths:
            path = str(java_string_hash(path))
        for part in (start, path, end):
            if not part or "," in part or any(ch.isspace() for ch in part):
                raise InputError(f"context part {part!r} of '{sample.label}' cannot be written to a "
                                 "context line (empty, or with a comma or white space)")
        contexts.append(f"{start},{path},{end}")
    if " " in sample.label or not sample.label:
        raise InputError(f"label {sample.label!r} cannot be written to a context line")
    slots = pad_to if pad_to is not None else sample.slots
    padding = " " * max(0, (slots or 0) - len(contexts))
    return f"{sample.label} {' '.join(contexts)}{padding}"


def sample_line(sample: MethodNameSample, fmt: str, max_contexts: int = MAX_CONTEXTS,
                hash_paths: bool = False) -> str:
    """One sample as a line of a ``fmt`` file, without the newline: a JSON record, or a
    context line padded to the sample's own ``slots`` (when read from a padded file) or
    else ``max_contexts`` (``.c2v``/``.c2s``), unpadded for ``.raw``."""
    if fmt == "jsonl":
        return json.dumps(sample.to_record())
    if fmt not in CONTEXT_FORMATS:
        raise InputError(f"unknown method-name format {fmt!r}; expected one of {', '.join(FORMATS)}")
    pad = 0 if fmt == "raw" else (sample.slots if sample.slots is not None else max_contexts)
    return format_context_line(sample, pad, hash_paths)


def write_jsonl(path: str | Path, samples: Iterable[MethodNameSample]) -> None:
    """One JSON object per line, atomically (nothing partial on error)."""
    write_methodname(path, samples, fmt="jsonl")


def write_c2v(path: str | Path, samples: Iterable[MethodNameSample], max_contexts: int = MAX_CONTEXTS,
              hash_paths: bool = False) -> None:
    """code2vec lines, atomically: each padded to the sample's own ``slots`` when it was read
    from a padded file, else to ``max_contexts``; ``hash_paths`` writes each path as its
    Java ``String.hashCode``, as code2vec's extractor does."""
    write_methodname(path, samples, fmt="c2v", max_contexts=max_contexts, hash_paths=hash_paths)


def write_methodname(path: str | Path, samples: Iterable[MethodNameSample], fmt: str | None = None,
                     max_contexts: int = MAX_CONTEXTS, hash_paths: bool = False) -> None:
    """Write in the format of ``path`` (or ``fmt``), atomically; lines as :func:`sample_line`."""
    fmt = fmt or format_of(path)
    with atomic_open(path) as fh:
        for sample in samples:
            fh.write(sample_line(sample, fmt, max_contexts, hash_paths) + "\n")
