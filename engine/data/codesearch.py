"""The CODE-SEARCH sample (CodeBERT on CodeSearchNet; the extended study of Rabin et al.):
a (docstring, code) pair and whether the docstring describes the code, in CodeSearchNet's
JSON-lines layout (``code``, ``docstring``, ``code_tokens``, ``docstring_tokens``; byrote
adds an optional ``label``): :func:`read_codesearch`, :func:`write_codesearch` and
:func:`with_negatives`, which pairs each docstring with another sample's code as CodeBERT's
code-search data does.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable

import numpy as np

from engine.data.sources import utf8_lines
from engine.errors import InputError
from engine.fsutil import atomic_open, require_file
from engine.formats import BadJSON, parse_json

FIELDS = ("code", "docstring", "code_tokens", "docstring_tokens")


@dataclass(frozen=True)
class CodeSearchSample:
    code: str
    docstring: str
    code_tokens: tuple[str, ...]
    docstring_tokens: tuple[str, ...]
    label: int = 1  # 1: the docstring describes the code; 0: it does not
    extra: str = "{}"  # the record's other fields (url, func_name, ...), as JSON, written back unchanged

    def to_record(self) -> dict:
        return {**json.loads(self.extra), "code": self.code, "docstring": self.docstring,
                "code_tokens": list(self.code_tokens), "docstring_tokens": list(self.docstring_tokens),
                "label": self.label}


def _sample(rec: object) -> CodeSearchSample:
    if not isinstance(rec, dict):
        raise ValueError("expected a JSON object")
    for key in FIELDS:
        if key not in rec:
            raise ValueError(f"missing field '{key}'")
    for key in ("code", "docstring"):
        if not isinstance(rec[key], str):
            raise ValueError(f"field '{key}' must be a string")
    for key in ("code_tokens", "docstring_tokens"):
        if not isinstance(rec[key], list) or not all(isinstance(t, str) for t in rec[key]):
            raise ValueError(f"field '{key}' must be a list of strings")
    label = rec.get("label", 1)
    if label not in (0, 1) or isinstance(label, bool):
        raise ValueError(f"field 'label' must be 0 or 1, not {label!r}")
    extra = {k: v for k, v in rec.items() if k not in FIELDS and k != "label"}
    return CodeSearchSample(rec["code"], rec["docstring"], tuple(rec["code_tokens"]), tuple(rec["docstring_tokens"]),
                            int(label), json.dumps(extra))


def read_codesearch(path: str | Path) -> list[CodeSearchSample]:
    """Every record of a CodeSearchNet JSON-lines file (blank lines skipped); a record
    without ``label`` is a matching pair (1). Any problem is an InputError naming the
    file and line; a file without a record is one too."""
    path = require_file(path)
    samples = []
    for lineno, text in utf8_lines(path):
        if not text.strip():
            continue
        try:
            try:
                rec = parse_json(text)
            except BadJSON as exc:
                raise ValueError(f"malformed JSON: {exc.reason}") from None
            samples.append(_sample(rec))
        except ValueError as exc:
            raise InputError(str(exc), path, lineno) from None
    if not samples:
        raise InputError("empty dataset", path)
    return samples


def write_codesearch(path: str | Path, samples: Iterable[CodeSearchSample]) -> None:
    """One JSON object per line, with ``label``, atomically."""
    with atomic_open(path) as fh:
        for sample in samples:
            fh.write(json.dumps(sample.to_record()) + "\n")


NEGATIVES_SEED = 0  # the negative pairs of a file without them: the same for every run of a study


def with_negatives(samples: list[CodeSearchSample], seed: int) -> list[CodeSearchSample]:
    """The samples and, when none of them is a negative pair, one negative per sample: its
    docstring with the code of another sample (a seeded cyclic shift of a permutation, so
    each code is used once and never with its own docstring), after the positives. This
    is how CodeBERT's code-search data pairs each docstring with a random other code
    (1:1); a file that already holds negatives is used as it is."""
    if len(samples) < 2 or any(s.label == 0 for s in samples):
        return list(samples)
    order = np.random.default_rng(seed).permutation(len(samples))
    partner = np.empty(len(samples), dtype=np.int64)
    partner[order] = np.roll(order, 1)
    negatives = [replace(s, code=samples[j].code, code_tokens=samples[j].code_tokens, label=0)
                 for s, j in zip(samples, partner.tolist())]
    return list(samples) + negatives
