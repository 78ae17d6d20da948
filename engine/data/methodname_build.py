"""Build a method-name dataset (Rabin et al. §3.1) from a directory of Java or Python
source: :func:`build_methodname` writes one sample per method, with code2vec
path-contexts (:mod:`engine.data.pathcontexts`), split by file (:mod:`engine.data.splits`).
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tree_sitter import Node

from engine.data.methodname import MAX_CONTEXTS, MethodNameSample, method_label
from engine.data.pathcontexts import (
    STYLES, find_methods, language_spec, load_language, method_contexts, method_name, parser_for,
)
from engine.data.sources import read_utf8_source, source_files
from engine.data.splits import split_of, split_paths
from engine.errors import InputError
from engine.fsutil import atomic_open
from engine.formats.code2vec import format_of, sample_line


@dataclass
class MethodNameBuildReport:
    source_dir: Path
    lang: str
    train_path: Path
    valid_path: Path
    test_path: Path
    files_seen: int = 0
    files_skipped_non_utf8: int = 0
    methods_seen: int = 0  # methods in the files read
    methods_skipped_syntax: int = 0  # whose tree has a syntax error
    names_distinct: int = 0  # distinct names among the methods without syntax errors
    names_kept: list[str] = field(default_factory=list)  # by frequency (ties alphabetical)
    methods_kept: int = 0  # methods with a kept name
    methods_without_contexts: int = 0  # kept but dropped: not a single path-context
    samples_train: int = 0
    samples_valid: int = 0
    samples_test: int = 0
    contexts: int = 0  # path-contexts written, all splits
    seconds: float = 0.0

    @property
    def samples(self) -> int:
        return self.samples_train + self.samples_valid + self.samples_test

    def summary(self) -> str:
        shown = ", ".join(self.names_kept[:10]) + (", ..." if len(self.names_kept) > 10 else "")
        text = (
            f"{self.source_dir} ({self.lang}): {self.files_seen} files ({self.files_skipped_non_utf8} "
            f"non-UTF-8 skipped), {self.methods_seen} methods ({self.methods_skipped_syntax} with syntax "
            f"errors skipped), {self.names_distinct} distinct names; kept {len(self.names_kept)} names "
            f"({shown}): {self.methods_kept} methods, {self.methods_without_contexts} without a "
            f"path-context dropped; {self.samples_train} train samples in {self.train_path}, "
            f"{self.samples_valid} valid in {self.valid_path}, {self.samples_test} test in "
            f"{self.test_path}; {self.contexts} path-contexts ({self.seconds:.1f} s)"
        )
        empty = [name for name, n in (("train", self.samples_train), ("valid", self.samples_valid),
                                      ("test", self.samples_test)) if not n]
        return text + (f"; empty split: {', '.join(empty)}" if empty else "")


def method_source(data: bytes, root: Node) -> str:
    """The method's text, from the start of its first line when only blanks precede it there."""
    start = root.start_byte
    line_start = data.rfind(b"\n", 0, start) + 1
    if not data[line_start:start].strip(b" \t\x0c"):
        start = line_start
    return data[start:root.end_byte].decode("utf-8")


def build_methodname(source_dir: str | Path, out_path: str | Path, lang: str,
                     top: int | None = None, min_count: int = 1, seed: int = 0,
                     max_contexts: int = MAX_CONTEXTS, valid_fraction: float = 0.1,
                     test_fraction: float = 0.1, style: str | None = None) -> MethodNameBuildReport:
    """Write the train split to ``out_path`` and the valid/test splits beside it.

    Every method is one sample (:class:`~engine.data.methodname.MethodNameSample`):
    Java's ``method_declaration`` with a body (constructors and abstract/interface methods
    without a body are not methods here), Python's ``function_definition`` (methods and
    nested functions included; the ``decorated_definition`` around a decorated one is
    part of it). The label is the name split into sub-tokens
    (:func:`~engine.data.methodname.method_label`); the path-contexts are
    :func:`~engine.data.pathcontexts.method_contexts`.

    Files (``*.java`` or ``*.py``) are taken in sorted order of their relative paths, not
    in hidden, ``__pycache__`` or nested ``site-packages``/``dist-packages`` directories.
    A file that is not UTF-8 is skipped and counted; a method whose tree has a syntax
    error is skipped and counted; a method without any context (a single terminal) is
    dropped and counted.

    ``top`` keeps the methods of the ``top`` most frequent names, counted over the whole
    tree (ties: alphabetical); ``min_count`` first drops names seen fewer times.

    Splits by file (:mod:`engine.data.splits`): ``out`` (``X.jsonl``) receives the train
    split, ``X.valid.jsonl`` and ``X.test.jsonl`` the others; ``.c2v`` and ``.c2s``
    output names work the same way. All three are written atomically; a small tree may
    leave a split empty, and the summary says so.

    ``style``: the contexts' layout, ``code2vec`` or ``code2seq`` (sub-token terminals,
    node paths: :func:`~engine.data.pathcontexts.method_contexts`); by default code2seq's
    for a ``.c2s`` file, else code2vec's. Either model reads either layout.
    """
    started = time.perf_counter()
    source, out = Path(source_dir), Path(out_path)
    spec = language_spec(lang)
    if top is not None and top < 1:
        raise InputError(f"--top must be at least 1, not {top}")
    if min_count < 1:
        raise InputError(f"--min-count must be at least 1, not {min_count}")
    if max_contexts < 1:
        raise InputError(f"max contexts must be at least 1, not {max_contexts}")
    if not (0 <= valid_fraction and 0 <= test_fraction and valid_fraction + test_fraction < 1):
        raise InputError(f"valid and test fractions must be >= 0 with a sum below 1, not "
                         f"{valid_fraction} and {test_fraction}")
    fmt = format_of(out)
    if fmt not in ("jsonl", "c2v", "c2s"):
        raise InputError("a built method-name dataset is written as .jsonl, .c2v or .c2s", out)
    style = style or ("code2seq" if fmt == "c2s" else "code2vec")
    if style not in STYLES:
        raise InputError(f"unknown context style {style!r} (choose from {', '.join(STYLES)})")
    if (fmt, style) in (("c2s", "code2vec"), ("c2v", "code2seq")):
        raise InputError(f"a .{fmt} file holds {'code2seq' if fmt == 'c2s' else 'code2vec'}'s contexts, "
                         f"not {style}'s", out)
    if not source.exists():
        raise InputError("no such directory", source)
    if not source.is_dir():
        raise InputError("not a directory", source)
    load_language(lang)
    report = MethodNameBuildReport(source, lang, *split_paths(out).values())

    # Pass 1: the names of all methods, to choose the kept ones.
    per_file: list[tuple[str, list[str | None]]] = []  # (relpath, name or None per method)
    counts: Counter[str] = Counter()
    for relpath in source_files(source, spec.suffix):
        report.files_seen += 1
        data = read_utf8_source(source, relpath)
        if data is None:
            report.files_skipped_non_utf8 += 1
            continue
        names: list[str | None] = []
        for _, method in find_methods(parser_for(lang).parse(data).root_node, lang):
            report.methods_seen += 1
            if method.has_error:
                report.methods_skipped_syntax += 1
                names.append(None)
            else:
                names.append(method_name(method))
                counts[names[-1]] += 1
        if names:
            per_file.append((relpath, names))
    if not counts:
        raise InputError(f"no {lang} method ({spec.method} with a body) in any {spec.suffix} file", source)
    report.names_distinct = len(counts)
    ranked = sorted((n for n, c in counts.items() if c >= min_count), key=lambda n: (-counts[n], n))
    if not ranked:
        raise InputError(f"no method name occurs at least {min_count} times (--min-count)", source)
    if top is not None:
        if top > len(ranked):
            more = f" occurring at least {min_count} times" if min_count > 1 else ""
            raise InputError(f"--top {top} is larger than the {len(ranked)} distinct method names{more}",
                             source)
        ranked = ranked[:top]
    kept = set(ranked)
    report.names_kept = ranked

    # Pass 2: the samples of the kept methods, written as they come.
    paths = split_paths(out)
    with atomic_open(paths["train"]) as train, atomic_open(paths["valid"]) as valid, \
            atomic_open(paths["test"]) as test:
        outputs = {"train": train, "valid": valid, "test": test}
        written = Counter()
        for relpath, names in per_file:
            if not any(n in kept for n in names):
                continue
            data = read_utf8_source(source, relpath)
            methods = find_methods(parser_for(lang).parse(data).root_node, lang)
            split = split_of(relpath, valid_fraction, test_fraction)
            for (root, method), name in zip(methods, names):
                if name not in kept:
                    continue
                report.methods_kept += 1
                contexts = method_contexts(root, method, lang, max_contexts, seed, style=style)
                if not contexts:
                    report.methods_without_contexts += 1
                    continue
                report.contexts += len(contexts)
                sample = MethodNameSample(
                    name=name, label=method_label(name), contexts=contexts,
                    source=method_source(data, root), lang=lang, file=relpath,
                    line=root.start_point.row + 1)
                outputs[split].write(sample_line(sample, fmt, max_contexts) + "\n")
                written[split] += 1
        report.samples_train, report.samples_valid, report.samples_test = (
            written["train"], written["valid"], written["test"])
        if not report.samples:
            raise InputError("no kept method has a path-context", source)
    report.seconds = time.perf_counter() - started
    return report
