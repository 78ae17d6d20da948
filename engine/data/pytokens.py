"""Token sequences of top-level Python functions, laid out as in the Py150-Great samples
of the GREAT data (Hellendoorn et al. 2020; tests/data/great): :func:`tokenize_function`,
whose docstring gives the layout.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator

import tree_sitter_python
from tree_sitter import Language, Node, Parser, Tree

from engine.data.varmisuse import INDENT, NEWLINE, UNINDENT

SKIPPED = frozenset({"comment", "line_continuation"})  # extras: not tokens, not statements


@lru_cache(maxsize=1)
def _parser() -> Parser:
    return Parser(Language(tree_sitter_python.language()))


def parse(source: bytes) -> Tree:
    return _parser().parse(source)


def top_level_functions(root: Node) -> Iterator[tuple[Node, Node]]:
    """``(outer, function_definition)`` for each module-level function; ``outer`` is the
    ``decorated_definition`` around a decorated one, else the definition itself."""
    for child in root.children:
        func = child.child_by_field_name("definition") if child.type == "decorated_definition" else child
        if func is not None and func.type == "function_definition":
            yield child, func


@dataclass
class FunctionTokens:
    tokens: list[str]
    positions: dict[int, int]  # start byte of each identifier token -> its token index


def tokenize_function(outer: Node) -> FunctionTokens:
    """Tokens of one top-level function (``outer`` as from :func:`top_level_functions`).

    The sequence starts with ``#NEWLINE#``; each decorator is ``@`` and its expression,
    then ``#NEWLINE#``; ``def NAME(`` is one token; every logical line ends with
    ``#NEWLINE#``, an indented block opens with ``#INDENT#`` and closes with
    ``#UNINDENT#``; comments are dropped; a string literal (f-strings included) is one
    token, its source text; the trailing ``#NEWLINE#``/``#UNINDENT#`` run is cut off.

    Line structure comes from the tree-sitter tree, not from the text: a block is
    indented when its first statement starts on a later row than the ``:`` before it, and
    logical lines end at statement boundaries (``;`` joins statements on one line).
    Unlike upstream, whose tokenizer also marks physical line breaks inside brackets, a
    bracketed expression spanning lines stays on one logical line, as in Python's own
    tokenizer.
    """
    emitter = _Emitter()
    emitter.node(outer)
    tokens = emitter.tokens
    while tokens[-1] in (NEWLINE, UNINDENT):
        tokens.pop()
    return FunctionTokens(tokens, emitter.positions)


class _Emitter:
    def __init__(self) -> None:
        self.tokens: list[str] = [NEWLINE]
        self.positions: dict[int, int] = {}
        self.row = -1  # last row of the last emitted token

    def leaf(self, node: Node, text: str | None = None) -> None:
        if node.type == "identifier":
            self.positions[node.start_byte] = len(self.tokens)
        self.tokens.append(node.text.decode() if text is None else text)
        self.row = node.end_point.row

    def node(self, node: Node) -> None:
        kind = node.type
        if kind in SKIPPED:
            return
        if kind == "string" or node.child_count == 0:
            self.leaf(node)
        elif kind == "block":
            self.block(node)
        elif kind == "function_definition":
            self.function(node)
        else:
            for child in node.children:
                self.node(child)
            if kind == "decorator":
                self.tokens.append(NEWLINE)

    def function(self, node: Node) -> None:
        """``def NAME(`` as one token (``def NAME`` when type parameters follow the name)."""
        name = node.child_by_field_name("name")
        params = node.child_by_field_name("parameters")
        merged = node.child_by_field_name("type_parameters") is None
        for child in node.children:
            if child.type == "def":
                continue
            if child == name:
                self.leaf(child, f"def {name.text.decode()}" + ("(" if merged else ""))
            elif child == params and merged:
                for sub in params.children[1:]:
                    self.node(sub)
            else:
                self.node(child)

    def block(self, node: Node) -> None:
        items = [c for c in node.children if c.type not in SKIPPED]
        if not items:
            return
        indented = items[0].start_point.row > self.row
        if indented:
            self.tokens += [NEWLINE, INDENT]
        for i, item in enumerate(items):
            self.node(item)
            nxt = items[i + 1] if i + 1 < len(items) else None
            line_ends = nxt is None or (
                nxt.type != ";" and (item.type != ";" or nxt.start_point.row > item.end_point.row))
            if line_ends and self.tokens[-1] not in (NEWLINE, UNINDENT):
                self.tokens.append(NEWLINE)
        if indented:
            self.tokens.append(UNINDENT)
