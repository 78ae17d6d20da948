"""Build a VarMisuse dataset in the GREAT format from a directory of Python source, as
Py150-Great (Hellendoorn et al. 2020) and Rabin et al. §3.2: :func:`build_varmisuse`
(files, limit, split) and :func:`function_samples` (the two samples of one function).
"""
from __future__ import annotations

import json
import random
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tree_sitter import Node

from engine.data.flow import flow_edges, lexical_edges, syntax_edges
from engine.data.pynames import READ, Occurrence, Unsupported, Var, function_names
from engine.data.pytokens import parse, tokenize_function, top_level_functions
from engine.data.varmisuse import UPSTREAM_EDGE_IDS
from engine.errors import InputError
from engine.data.sources import read_utf8_source, source_files
from engine.data.splits import is_valid_file, valid_path_for
from engine.fsutil import atomic_paths

DATASET_NAME = "byrote"


@dataclass
class BuildReport:
    source_dir: Path
    train_path: Path
    valid_path: Path
    files_seen: int = 0
    files_skipped_non_utf8: int = 0
    files_skipped_syntax: int = 0
    functions_seen: int = 0  # module-level functions in the files read
    functions_unsupported: int = 0  # skipped: a construct not modelled (match)
    functions: int = 0  # functions that gave samples (two each)
    samples_train: int = 0
    samples_valid: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        text = (
            f"{self.source_dir}: {self.files_seen} files ({self.files_skipped_non_utf8} non-UTF-8 and "
            f"{self.files_skipped_syntax} with syntax errors skipped), {self.functions} of "
            f"{self.functions_seen} top-level functions used ({self.functions_unsupported} unsupported); "
            f"{self.samples_train} train samples in {self.train_path}, "
            f"{self.samples_valid} valid samples in {self.valid_path} ({self.seconds:.1f} s)"
        )
        return text + ("; the valid split is empty" if not self.samples_valid else "")


def build_varmisuse(source_dir: str | Path, out_path: str | Path, limit: int | None = None,
                    seed: int = 0, valid_fraction: float = 0.1) -> BuildReport:
    """Write the train split to ``out_path`` and the valid split beside it.

    Every module-level function gives its samples by :func:`function_samples`. Files are
    taken in sorted order of their relative paths (``*.py``, not in hidden,
    ``__pycache__`` or nested ``site-packages``/``dist-packages`` directories, so that the
    standard library's folder yields the standard library only); ``limit`` stops after
    that many functions with samples. A file that is not UTF-8 or that tree-sitter cannot
    parse without error is skipped and counted; a function using a construct the name
    analysis does not model (``match``) is skipped and counted.

    Split: a whole file goes to the valid set when the first 8 bytes of the SHA-256 of its
    relative path, as a fraction of 2**64, are below ``valid_fraction``
    (:mod:`engine.data.splits`): independent of the seed and of ``limit``, and both copies
    of a function always land together. ``out`` receives the train split and
    ``<stem>.valid<suffix>`` beside it the valid split (for ``X.jsonl``:
    ``X.valid.jsonl``). A small tree can leave the valid split empty; the summary says so.
    Both files are written atomically.
    """
    started = time.perf_counter()
    source, out = Path(source_dir), Path(out_path)
    if not source.exists():
        raise InputError("no such directory", source)
    if not source.is_dir():
        raise InputError("not a directory", source)
    if limit is not None and limit < 1:
        raise InputError(f"limit must be at least 1, not {limit}")
    if not 0 <= valid_fraction < 1:
        raise InputError(f"valid fraction must be in [0, 1), not {valid_fraction}")
    report = BuildReport(source, out, valid_path_for(out))
    with atomic_paths(report.train_path, report.valid_path) as (train_tmp, valid_tmp), \
            open(train_tmp, "w", encoding="utf-8") as train, open(valid_tmp, "w", encoding="utf-8") as valid:
        for relpath in source_files(source, ".py"):
            if limit is not None and report.functions >= limit:
                break
            to_valid = is_valid_file(relpath, valid_fraction)
            for records in _file_samples(source, relpath, seed, report,
                                         None if limit is None else limit - report.functions):
                (valid if to_valid else train).write("".join(json.dumps(r) + "\n" for r in records))
                report.functions += 1
                if to_valid:
                    report.samples_valid += len(records)
                else:
                    report.samples_train += len(records)
        if not report.functions:
            raise InputError("no top-level function with two variables and a variable use", source)
    report.seconds = time.perf_counter() - started
    return report


def _file_samples(root: Path, relpath: str, seed: int, report: BuildReport, wanted: int | None) -> list[list[dict]]:
    """The two records of each usable function of one file, of its first ``wanted`` such
    functions (None: all), counting into ``report``. A file nested too deeply for the walks
    over its tree (Python's own parser refuses 200 nested brackets) gives none, counted as
    one that does not parse."""
    report.files_seen += 1
    source = read_utf8_source(root, relpath)
    if source is None:
        report.files_skipped_non_utf8 += 1
        return []
    tree = parse(source)
    if not tree.root_node.has_error:
        found: list[list[dict]] = []
        seen = unsupported = 0
        try:
            for outer, func in top_level_functions(tree.root_node):
                if wanted is not None and len(found) >= wanted:
                    break
                seen += 1
                try:
                    records = function_samples(outer, func, relpath, seed)
                except Unsupported:
                    unsupported += 1
                    continue
                if records:
                    found.append(records)
        except RecursionError:
            pass
        else:
            report.functions_seen += seen
            report.functions_unsupported += unsupported
            return found
    report.files_skipped_syntax += 1
    return []


def function_samples(outer: Node, func: Node, relpath: str, seed: int) -> list[dict]:
    """``[bug-free record, buggy record]`` for one function, or ``[]`` if it has no misusable read.

    The function (decorated or not) is one token sequence (:mod:`engine.data.pytokens`)
    whose variables (:mod:`engine.data.pynames`) are the repair candidates. A function
    with at least two variables and a variable read that another variable could replace
    gives two samples, written one after the other:

    - a bug-free copy: ``error_location`` 0, no repair targets, and as candidates, for
      each variable name in order of first occurrence, its positions and then the name
      (the upstream layout of bug-free lines);
    - a buggy copy: one read (drawn with ``random.Random(f"{seed}:{path}:{line}")``, so a
      function's draw depends on neither file order nor ``limit``) of a variable that
      occurs elsewhere too is replaced by another variable visible at that point;
      ``error_location`` is that position, ``repair_targets`` every candidate position
      holding the original name, candidates positions only.

    Edges (:mod:`engine.data.flow`) are computed for each copy on its own program, so the
    buggy copy's data flow follows the misused name, as in the upstream buggy lines (a
    misused ``binary`` read before its assignment has no LAST_WRITE edge there).
    ``provenances`` is ``[{"datasetProvenance": {"datasetName": "byrote", "filepath":
    <path relative to the source directory>, "function": <name>, "line": <line of
    def>}}]``.
    """
    tokenized = tokenize_function(outer)
    tokens = tokenized.tokens
    names = function_names(outer, func, tokenized.positions)
    variables = [o for o in names if o.pos is not None and o.var is not None]
    counts = Counter(o.name for o in variables)
    if len(counts) < 2:
        return []
    options = []
    for occ in variables:
        if occ.role == READ and counts[occ.name] > 1:
            others = sorted(n for n in counts if n != occ.name and occ.scope.resolve(n) is not None)
            if others:
                options.append((occ, others))
    if not options:
        return []
    name = func.child_by_field_name("name").text.decode()
    line = func.start_point.row + 1
    rng = random.Random(f"{seed}:{relpath}:{line}")
    use, others = rng.choice(options)
    misused = rng.choice(others)
    provenance = [{"datasetProvenance": {"datasetName": DATASET_NAME, "filepath": relpath,
                                         "function": name, "line": line}}]
    lexical = [o.pos for o in names if o.pos is not None]
    occurrences = {o.byte: (o.pos, o.var) for o in names if o.var is not None}
    clean = _record(tokens, func, lexical, occurrences, variables, provenance, None)
    buggy_tokens = list(tokens)
    buggy_tokens[use.pos] = misused
    occurrences[use.byte] = (use.pos, use.scope.resolve(misused))
    buggy = _record(buggy_tokens, func, lexical, occurrences, variables, provenance, (use.pos, use.name))
    return [clean, buggy]


def _record(tokens: list[str], func: Node, lexical: list[int],
            occurrences: dict[int, tuple[int | None, Var]], variables: list[Occurrence],
            provenance: list, bug: tuple[int, str] | None) -> dict:
    """One GREAT record; ``bug`` is ``(position, original name)`` for the buggy copy."""
    groups: dict[str, list[int]] = {}
    for pos in sorted(o.pos for o in variables):
        groups.setdefault(tokens[pos], []).append(pos)
    if bug is None:
        candidates = [c for name, ps in groups.items() for c in (*ps, name)]
    else:
        candidates = [p for ps in groups.values() for p in ps]
    edges = syntax_edges(tokens) + lexical_edges(tokens, lexical) + flow_edges(func, occurrences)
    return {
        "has_bug": bug is not None,
        "bug_kind": 0 if bug is None else 1,
        "bug_kind_name": "NONE" if bug is None else "VARIABLE_MISUSE",
        "source_tokens": tokens,
        "edges": [[s, d, UPSTREAM_EDGE_IDS[t], t] for s, d, t in edges],
        "error_location": 0 if bug is None else bug[0],
        "repair_targets": [] if bug is None else groups[bug[1]],
        "repair_candidates": candidates,
        "provenances": provenance,
    }

