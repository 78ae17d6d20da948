"""Read and write VarMisuse data in the GREAT JSON-lines format: that of the Py150-Great
dataset (Hellendoorn et al. 2020, "Global Relational Models of Source Code";
google-research-datasets/great) used by Rabin et al. §3.2, one JSON object per line with
the nine fields of :data:`FIELDS` (:func:`iter_great` reads, :func:`write_great` writes).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Iterator

from engine.data.sources import utf8_lines
from engine.errors import InputError
from engine.fsutil import atomic_open, require_file
from engine.formats import BadJSON, parse_json
from engine.data.varmisuse import UPSTREAM_EDGE_IDS, VarMisuseSample

FIELDS: tuple[str, ...] = (
    "has_bug", "bug_kind", "bug_kind_name", "source_tokens", "edges",
    "error_location", "repair_targets", "repair_candidates", "provenances",
)
_EDGE_NAMES = {v: k for k, v in UPSTREAM_EDGE_IDS.items()}


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse(rec: object) -> VarMisuseSample:
    """One record as a sample; a ValueError names what is wrong with it."""
    if not isinstance(rec, dict):
        raise ValueError("expected a JSON object")
    for name in FIELDS:
        if name not in rec:
            raise ValueError(f"missing field '{name}'")
    has_bug, tokens, loc = rec["has_bug"], rec["source_tokens"], rec["error_location"]
    targets, candidates = rec["repair_targets"], rec["repair_candidates"]
    checks = (
        ("has_bug", isinstance(has_bug, bool), "true or false"),
        ("bug_kind", _is_int(rec["bug_kind"]), "an integer"),
        ("bug_kind_name", isinstance(rec["bug_kind_name"], str), "a string"),
        ("source_tokens", isinstance(tokens, list) and all(isinstance(t, str) for t in tokens),
         "a list of strings"),
        ("edges", isinstance(rec["edges"], list), "a list"),
        ("error_location", _is_int(loc), "an integer"),
        ("repair_targets", isinstance(targets, list) and all(map(_is_int, targets)),
         "a list of integers"),
        ("repair_candidates", isinstance(candidates, list)
         and all(_is_int(c) or isinstance(c, str) for c in candidates),
         "a list of integers and names"),
        ("provenances", isinstance(rec["provenances"], list), "a list"),
    )
    for name, ok, what in checks:
        if not ok:
            raise ValueError(f"field '{name}' must be {what}")
    n = len(tokens)

    def in_range(name: str, pos: int) -> None:
        if not 0 <= pos < n:
            raise ValueError(f"{name} position {pos} outside the {n} tokens")

    in_range("error_location", loc)
    positions = [c for c in candidates if _is_int(c)]
    for name, values in (("repair_targets", targets), ("repair_candidates", positions)):
        for pos in values:
            in_range(name, pos)
    edges = []
    for edge in rec["edges"]:
        if not (isinstance(edge, list) and len(edge) in (3, 4) and all(map(_is_int, edge[:3]))
                and (len(edge) == 3 or isinstance(edge[3], str))):
            raise ValueError(f"bad edge {json.dumps(edge)}: expected [from, to, type_id, \"enum_NAME\"]")
        src, dst, type_id = edge[:3]
        in_range("edge", src)
        in_range("edge", dst)
        name = edge[3] if len(edge) == 4 else _EDGE_NAMES.get(type_id, f"edge_type_{type_id}")
        edges.append((src, dst, name))
    if has_bug and (loc == 0 or not targets):
        raise ValueError("buggy sample needs a non-zero error_location and repair targets")
    if not has_bug and (loc != 0 or targets):
        raise ValueError("bug-free sample must have error_location 0 and no repair targets")
    return VarMisuseSample(tokens=tokens, edges=edges, has_bug=has_bug, error_location=loc,
                           repair_targets=targets, repair_candidates=positions, raw=rec)


def iter_great(path: str | Path) -> Iterator[VarMisuseSample]:
    """Yield the samples of a GREAT file one line at a time; blank lines are skipped.

    Edges are ``[from, to, type_id, "enum_NAME"]``; the three-element form
    ``[from, to, type_id]`` of the upstream README is accepted too and named through
    :data:`~engine.data.varmisuse.UPSTREAM_EDGE_IDS` (an unknown id becomes
    ``"edge_type_<id>"``, which the models ignore like any unknown name).

    Any problem is an :class:`InputError` naming the file and its 1-based line.
    """
    path = require_file(path)
    for lineno, text in utf8_lines(path):
        if not text.strip():
            continue
        try:
            rec = parse_json(text)
        except BadJSON as exc:  # malformed, a 5,000-digit number, deep nesting
            raise InputError(f"malformed JSON: {exc.reason}", path, lineno) from None
        try:
            yield _parse(rec)
        except ValueError as exc:
            raise InputError(str(exc), path, lineno) from None


def read_great(path: str | Path) -> list[VarMisuseSample]:
    """All samples of a GREAT file; a file without any is an error."""
    samples = list(iter_great(path))
    if not samples:
        raise InputError("empty dataset", path)
    return samples


def write_great(samples: Iterable[VarMisuseSample], path: str | Path) -> None:
    """Write one ``json.dumps`` object per line, atomically (nothing partial on error).

    Every sample keeps the parsed object as ``raw``, so an unchanged sample is written
    back byte for byte as it was read (``json.dumps`` with its default separators, as
    upstream)."""
    with atomic_open(path) as fh:
        for sample in samples:
            fh.write(json.dumps(sample.to_record()) + "\n")
