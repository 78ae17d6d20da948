"""The method-name sample (Rabin et al. §3.1; code2vec, Alon et al. 2019).

One sample is one method: its ``label`` is the method's name split into sub-tokens and
joined by ``|``, code2vec style (``getFooBar`` -> ``get|foo|bar``), and its input is a bag
of path-contexts ``(start terminal, AST path, end terminal)``, the terminals as code2vec
normalises them and the method's own name masked as ``METHOD_NAME``. Its file formats
(byrote's ``.jsonl``, code2vec's ``.c2v`` and ``.raw``, code2seq's ``.c2s``) are in
:mod:`engine.formats.code2vec`.
"""
from __future__ import annotations

from dataclasses import dataclass

from engine.data.subtokens import split_subtokens

METHOD_NAME = "METHOD_NAME"  # the masked name, as code2vec writes it
LABEL_SEPARATOR = "|"
MAX_CONTEXTS = 200  # code2vec's default number of context slots per line

Context = tuple[str, str, str]


@dataclass
class MethodNameSample:
    name: str  # the method's name as written (the label for .c2v/.c2s/.raw input)
    label: str  # sub-tokens joined by "|"
    contexts: list[Context]
    source: str | None = None  # the method's source text (None for .c2v/.c2s/.raw input)
    lang: str | None = None  # "java" or "python" for built samples
    file: str | None = None  # source file, relative to the directory it was built from
    line: int | None = None  # 1-based line of the method's first line in ``file``
    slots: int | None = None  # context slots of the input line (contexts plus padding)

    @property
    def subtokens(self) -> list[str]:
        """The label's sub-tokens (``get|foo`` -> ``["get", "foo"]``)."""
        return label_subtokens(self.label)

    def to_record(self) -> dict:
        """The JSON-lines record of this sample."""
        return {
            "name": self.name,
            "label": self.label,
            "contexts": [list(c) for c in self.contexts],
            "source": self.source,
            "lang": self.lang,
            "file": self.file,
            "line": self.line,
        }


def method_label(name: str) -> str:
    """The label of a method name: its sub-tokens, lower-cased, joined by ``|``.

    The split is :func:`engine.data.subtokens.split_subtokens` (camelCase, acronyms,
    snake_case, digit runs), the repository's one definition; sub-tokens without a letter
    or digit (``$``) are dropped. A name without letters or digits (``_``) is its own label.
    """
    parts = [p for p in split_subtokens(name) if any(ch.isalnum() for ch in p)]
    return LABEL_SEPARATOR.join(parts) if parts else name.lower()


def label_subtokens(label: str) -> list[str]:
    return label.split(LABEL_SEPARATOR)


def java_string_hash(text: str) -> int:
    """Java's ``String.hashCode`` (over UTF-16 code units), as code2vec hashes paths."""
    h = 0
    data = text.encode("utf-16-be")
    for i in range(0, len(data), 2):
        h = (31 * h + (data[i] << 8 | data[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h
