"""METHOD-NAME input noise ``statement_deletion`` (the study's ``X_Statement_Deletion``;
its generator calls it ``X_Remove_Statement``): one simple statement of a chosen method is
deleted, so the model reads a body that no longer says all the name describes. Shared
machinery: :mod:`engine.noise.method_rewrite`."""
from __future__ import annotations

from typing import Sequence

from tree_sitter import Node

from engine.data.methodname import MethodNameSample
from engine.data.pathcontexts import ParsedMethod, is_docstring
from engine.noise import NoiseResult
from engine.noise.method_rewrite import choose, rewrite_methods

# tree-sitter-java's statements (javaparser's Statement classes: a local variable
# declaration is an ExpressionStmt, a local class a LocalClassDeclarationStmt)
JAVA_STATEMENTS = frozenset({
    "expression_statement", "local_variable_declaration", "if_statement", "while_statement",
    "for_statement", "enhanced_for_statement", "do_statement", "break_statement", "continue_statement",
    "return_statement", "yield_statement", "throw_statement", "try_statement",
    "try_with_resources_statement", "synchronized_statement", "labeled_statement", "assert_statement",
    "switch_expression", "block", "class_declaration", "record_declaration", "interface_declaration",
    "enum_declaration", "explicit_constructor_invocation",
    "lambda_expression",  # javaparser wraps an expression body in an ExpressionStmt; a block body is one
})
JAVA_BLOCKS = frozenset({"block", "switch_block_statement_group"})
PYTHON_SIMPLE = frozenset({
    "expression_statement", "return_statement", "pass_statement", "break_statement", "continue_statement",
    "raise_statement", "assert_statement", "delete_statement", "global_statement", "nonlocal_statement",
    "import_statement", "import_from_statement", "future_import_statement", "print_statement",
    "exec_statement", "type_alias_statement",
})


def removable_statements(parsed: ParsedMethod) -> list[tuple[int, int]]:
    """Byte ranges (in the parsed text, source order) of the statements that can go.

    - Java: the study's ``isSingleStatement``: a statement that is neither empty nor a
      block and holds no other statement (javaparser's ``findAll(Statement.class)`` finds
      only itself; an expression lambda counts as one, since javaparser wraps its body in
      an ExpressionStmt). It must stand in a block or a ``case`` group, where removing it
      leaves a valid program (the body of a braceless ``if`` cannot go).
    - Python: a simple statement (no compound one holds just itself) in a block that keeps
      another statement, so the result still parses. Docstrings are not candidates: the
      extractor does not read them, so their deletion would change nothing the model sees.
    """
    java = parsed.method.type == "method_declaration"
    found = []
    stack = [parsed.method]
    while stack:
        node = stack.pop()
        stack.extend(node.named_children)
        parent = node.parent
        if parent is None:
            continue
        if java:
            if (parent.type in JAVA_BLOCKS and node.type in JAVA_STATEMENTS and node.type != "block"
                    and node.type != "lambda_expression" and not _holds_statement(node)):
                found.append((node.start_byte, node.end_byte))
        elif parent.type == "block" and node.type in PYTHON_SIMPLE and not _is_docstring(node):
            if sum(1 for c in parent.named_children if c.type != "comment") > 1:
                found.append((node.start_byte, node.end_byte))
    return sorted(found)


def _holds_statement(node: Node) -> bool:
    stack = list(node.named_children)
    while stack:
        inner = stack.pop()
        if inner.type in JAVA_STATEMENTS:
            return True
        stack.extend(inner.named_children)
    return False


def _is_docstring(node: Node) -> bool:
    """The first statement of its block, and a string alone."""
    first = next((c for c in node.parent.named_children if c.type != "comment"), None)
    return first == node and is_docstring(node)


def without(text: bytes, start: int, end: int, python: bool) -> bytes:
    """``text`` without the statement at ``start:end``, and without its line when nothing
    else stands on it. A Python statement sharing its line keeps the line valid: the ``;``
    after it goes with it, or, for the last on the line, the ``;`` before it (a Java
    statement holds its own ``;``)."""
    if python:
        start, end = _with_separator(text, start, end)
    line_start = text.rfind(b"\n", 0, start) + 1
    line_end = text.find(b"\n", end)
    line_end = len(text) if line_end < 0 else line_end
    if not text[line_start:start].strip() and not text[end:line_end].strip():
        return text[:line_start] + text[line_end + 1:]
    return text[:start] + text[end:]


def _with_separator(text: bytes, start: int, end: int) -> tuple[int, int]:
    after = end
    while after < len(text) and text[after] in b" \t":
        after += 1
    if text[after:after + 1] == b";":  # the next statement takes this one's place
        end = after + 1
        while end < len(text) and text[end] in b" \t":
            end += 1
    else:
        before = start
        while before > 0 and text[before - 1] in b" \t":
            before -= 1
        if text[before - 1:before] == b";":  # the last on its line: the line ends before the ";"
            start = before - 1
            while start > 0 and text[start - 1] in b" \t":
                start -= 1
    return start, end


def delete_statement(parsed: ParsedMethod, lang: str, key: int) -> str | None:
    """The method's source without one of its :func:`removable_statements`, chosen by
    ``key`` (:func:`~engine.noise.method_rewrite.choose`); None for a method without one."""
    spans = removable_statements(parsed)
    if not spans:
        return None
    start, end = spans[choose(key, len(spans))]
    source = parsed.source
    return without(source, start - parsed.offset, end - parsed.offset, lang == "python").decode("utf-8")


def statement_deletion(samples: Sequence[MethodNameSample], level: float, seed: int) -> NoiseResult:
    """Copy ``samples`` with one statement deleted from ``level`` % of the methods
    (:func:`delete_statement`; which methods:
    :func:`engine.noise.method_rewrite.rewrite_methods`).

    The study's choice of the statement (its unpublished ``NoiseHandler``) is not known;
    byrote draws it uniformly among the removable ones. The study writes the method back
    with javaparser's printer; byrote deletes the statement's text and keeps the rest as
    written (formatting and comments never reach the path-contexts; the printer's
    rewrites of a few forms, such as ``int a[]`` to ``int[] a``, would).
    """
    return rewrite_methods(samples, level, seed, "statement_deletion", delete_statement, "deleted_statement")
