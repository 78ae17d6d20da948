"""A code-search dataset in CodeSearchNet's layout, built from Python sources with
tree-sitter, so that studies and tests need no download: :func:`build_codesearch`."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from tree_sitter import Node

from engine.data.codesearch import CodeSearchSample
from engine.data.methodname_build import method_source
from engine.data.pathcontexts import find_methods, load_language, method_name, parser_for
from engine.data.sources import read_utf8_source, source_files
from engine.fsutil import require_dir
from engine.data.splits import split_of, split_paths
from engine.errors import InputError
from engine.fsutil import atomic_open

MIN_DOC_TOKENS = 3  # CodeSearchNet drops docstrings shorter than three tokens


@dataclass
class CodeSearchBuildReport:
    source: Path
    train_path: Path
    valid_path: Path
    test_path: Path
    files: int = 0
    functions: int = 0
    written: dict = field(default_factory=lambda: {"train": 0, "valid": 0, "test": 0})
    seconds: float = 0.0

    def summary(self) -> str:
        w = self.written
        return (f"{self.source} (python): {self.files} files, {self.functions} functions with a docstring of "
                f"{MIN_DOC_TOKENS}+ words; {w['train']} train pairs in {self.train_path}, {w['valid']} valid in "
                f"{self.valid_path}, {w['test']} test in {self.test_path} ({self.seconds:.1f} s)")


def _docstring(body: Node | None) -> Node | None:
    if body is None or not body.named_children:
        return None
    first = body.named_children[0]
    if first.type == "expression_statement" and first.named_child_count == 1 and first.named_children[0].type == "string":
        return first
    return None


def _leaves(node: Node, skip: Node) -> list[str]:
    """The texts of the leaves under ``node`` in source order, without ``skip`` (the
    docstring) and comments."""
    out, stack = [], [node]
    while stack:
        n = stack.pop()
        if n == skip or n.type == "comment":
            continue
        if n.child_count == 0 or n.type == "string":
            text = n.text.decode("utf-8", errors="replace")
            if text.strip():
                out.append(text)
            continue
        stack.extend(reversed(n.children))
    return out


def function_pair(data: bytes, root: Node, method: Node) -> CodeSearchSample | None:
    """A function and its docstring as CodeSearchNet writes them: ``docstring`` the
    docstring's first paragraph, ``docstring_tokens`` its words; ``code`` the function
    without its docstring, ``code_tokens`` its tree-sitter leaves (no comments)."""
    doc = _docstring(method.child_by_field_name("body"))
    if doc is None:
        return None
    string = doc.named_children[0]
    text = string.text.decode("utf-8", errors="replace")
    inner = text.strip("rRbBuUfF").strip("\"'")
    paragraph = inner.strip().split("\n\n")[0]
    words = paragraph.split()
    if len(words) < MIN_DOC_TOKENS:
        return None
    whole = method_source(data, root)
    begin = root.end_byte - len(whole.encode("utf-8"))  # where method_source starts
    line_start = data.rfind(b"\n", 0, doc.start_byte) + 1
    line_end = data.find(b"\n", doc.end_byte)
    if line_start <= begin:  # a docstring on the def's own line
        return None
    end = root.end_byte if line_end < 0 or line_end >= root.end_byte else line_end + 1
    code = (data[begin:line_start] + data[end:root.end_byte]).decode("utf-8", errors="replace")
    return CodeSearchSample(code=code, docstring=" ".join(words), code_tokens=tuple(_leaves(root, doc)),
                            docstring_tokens=tuple(words), extra=json.dumps({"func_name": method_name(method)}))


def build_codesearch(source_dir: str | Path, out_path: str | Path, limit: int | None = None,
                     valid_fraction: float = 0.1, test_fraction: float = 0.1) -> CodeSearchBuildReport:
    """Write the matching pairs of the Python functions under ``source_dir`` that have a
    docstring of at least three words (:func:`function_pair`), at most ``limit``, files in
    sorted order, split by file (:mod:`engine.data.splits`): ``out`` the train split,
    ``X.valid.jsonl`` and ``X.test.jsonl`` the others, all atomically. The negative
    pairs are made when a study reads them (:func:`engine.data.codesearch.with_negatives`)."""
    started = time.perf_counter()
    source, out = require_dir(source_dir), Path(out_path)
    if limit is not None and limit < 1:
        raise InputError(f"--limit must be at least 1, not {limit}")
    load_language("python")
    paths = split_paths(out)
    report = CodeSearchBuildReport(source, paths["train"], paths["valid"], paths["test"])
    with atomic_open(paths["train"]) as train, atomic_open(paths["valid"]) as valid, \
            atomic_open(paths["test"]) as test:
        files = {"train": train, "valid": valid, "test": test}
        for relpath in source_files(source, ".py"):
            if limit is not None and report.functions >= limit:
                break
            data = read_utf8_source(source, relpath)
            if data is None:
                continue
            report.files += 1
            split = split_of(relpath, valid_fraction, test_fraction)
            for root, method in find_methods(parser_for("python").parse(data).root_node, "python"):
                if method.has_error or (limit is not None and report.functions >= limit):
                    continue
                pair = function_pair(data, root, method)
                if pair is None:
                    continue
                record = {**pair.to_record(), "path": relpath}
                record.pop("label")
                files[split].write(json.dumps(record) + "\n")
                report.functions += 1
                report.written[split] += 1
        if not report.functions:
            raise InputError("no Python function with a docstring of three or more words", source)
    report.seconds = time.perf_counter() - started
    return report
