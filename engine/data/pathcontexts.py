"""Code2vec path-contexts of a method on the tree-sitter tree (Rabin et al. §3.1), after
code2vec's JavaExtractor (Alon et al. 2019): :func:`method_contexts`, whose docstring
holds the rules. Used by the method-name dataset builder
(:mod:`engine.data.methodname_build`) and, at training time, by the critical sample ratio
(:func:`extract_contexts` on a sample's source).
"""
from __future__ import annotations

import importlib
import random
import re
from dataclasses import dataclass
from functools import lru_cache

from tree_sitter import Language, Node, Parser, Query, QueryCursor

from engine.data.methodname import METHOD_NAME, MAX_CONTEXTS, Context
from engine.data.subtokens import split_subtokens
from engine.errors import InputError

LANGS = ("java", "python")
MAX_PATH_LENGTH = 8  # code2vec's --max_path_length
MAX_PATH_WIDTH = 2  # code2vec's --max_path_width
MAX_TERMINAL_LENGTH = 50  # code2vec's c_MaxLabelLength
BLANK = "BLANK"


@dataclass(frozen=True)
class _Spec:
    module: str  # the tree-sitter grammar package
    suffix: str  # source files
    method: str  # node type of a method
    identifier: frozenset  # node types of names
    atomic: frozenset  # terminals even though they have children (literals)
    not_terminal: frozenset  # childless named nodes that are no terminal
    operators: frozenset  # node types written with their operator
    child_id_parents: frozenset  # children of these carry their child index
    skipped: frozenset  # never nodes (comments)
    self_names: frozenset  # receivers of a recursive call


_SPECS = {
    "java": _Spec(
        module="tree_sitter_java", suffix=".java", method="method_declaration",
        identifier=frozenset({"identifier", "type_identifier"}),
        atomic=frozenset({"string_literal", "character_literal", "text_block"}),
        not_terminal=frozenset({"block", "formal_parameters", "argument_list", "modifiers", "dimensions",
                                "class_body", "interface_body", "enum_body", "constructor_body",
                                "switch_block", "type_arguments", "inferred_parameters",
                                "annotation_argument_list"}),
        operators=frozenset({"binary_expression", "unary_expression", "assignment_expression",
                             "update_expression"}),
        child_id_parents=frozenset({"assignment_expression", "array_access", "field_access",
                                    "method_invocation"}),
        skipped=frozenset({"line_comment", "block_comment"}),
        self_names=frozenset({"this"}),
    ),
    "python": _Spec(
        module="tree_sitter_python", suffix=".py", method="function_definition",
        identifier=frozenset({"identifier"}),
        atomic=frozenset({"string"}),
        not_terminal=frozenset({"block", "parameters", "argument_list", "lambda_parameters",
                                "keyword_separator", "positional_separator", "import_prefix"}),
        operators=frozenset({"binary_operator", "boolean_operator", "comparison_operator",
                             "unary_operator", "augmented_assignment"}),
        child_id_parents=frozenset({"assignment", "augmented_assignment", "subscript", "attribute",
                                    "call"}),
        skipped=frozenset({"comment", "line_continuation"}),
        self_names=frozenset({"self", "cls"}),
    ),
}


# --- languages and parsing ---------------------------------------------------------------


def language_spec(lang: str) -> _Spec:
    if lang not in _SPECS:
        raise InputError(f"unknown language {lang!r}; expected one of {', '.join(LANGS)}")
    return _SPECS[lang]


@lru_cache(maxsize=None)
def _language(lang: str) -> Language:
    spec = language_spec(lang)
    try:
        return Language(importlib.import_module(spec.module).language())
    except Exception as exc:  # ImportError, an incompatible ABI version (ValueError), ...
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"tree-sitter cannot load the {lang} grammar ({spec.module}): {detail}") from None


def load_language(lang: str) -> Language:
    """The tree-sitter language; an unknown or unloadable one is an InputError (one line)."""
    return _language(lang)


@lru_cache(maxsize=None)
def parser_for(lang: str) -> Parser:
    return Parser(load_language(lang))


@lru_cache(maxsize=None)
def _method_query(lang: str) -> Query:
    return Query(load_language(lang), f"({language_spec(lang).method}) @m")


def find_methods(tree_root: Node, lang: str) -> list[tuple[Node, Node]]:
    """``(root, method)`` of each method under ``tree_root``, in source order: ``root`` is the
    Python ``decorated_definition`` around a decorated function, else the method itself.
    Java methods without a body are left out."""
    found = QueryCursor(_method_query(lang)).captures(tree_root).get("m", [])
    methods = []
    for node in sorted(found, key=lambda n: (n.start_byte, -n.end_byte)):
        if lang == "java":
            if node.child_by_field_name("body") is None:
                continue
            methods.append((node, node))
        else:
            parent = node.parent
            outer = parent if parent is not None and parent.type == "decorated_definition" else node
            methods.append((outer, node))
    return methods


def method_name(method: Node) -> str:
    return method.child_by_field_name("name").text.decode("utf-8")


@dataclass
class ParsedMethod:
    """A method parsed from its own source text (see :func:`parse_method`)."""
    data: bytes  # the text parsed: ``source`` encoded, between a prefix and a suffix
    offset: int  # length of the prefix: a byte of the source is ``offset`` lower in ``data``
    root: Node
    method: Node
    end: int  # where the source ends in ``data`` (the suffix follows)

    @property
    def source(self) -> bytes:
        """The source text parsed, encoded."""
        return self.data[self.offset: self.end]


def parse_method(source: str, lang: str) -> ParsedMethod:
    """Parse the text of one method (a sample's ``source``) and find it.

    A Java method is parsed inside ``class _ { ... }``; a Python function whose first line
    is indented is parsed inside ``if 1:``. The first (outermost) method found is the one.
    """
    spec = language_spec(lang)
    body = source.encode("utf-8")
    if lang == "java":
        prefix, suffix = b"class _ {\n", b"\n}\n"
    else:
        prefix, suffix = (b"if 1:\n" if body[:1] in (b" ", b"\t", b"\x0c") else b""), b"\n"
    data = prefix + body + suffix
    tree = parser_for(lang).parse(data)
    methods = find_methods(tree.root_node, lang)
    if not methods:
        raise InputError(f"no {spec.method} in the {lang} source given")
    root, method = methods[0]
    return ParsedMethod(data, len(prefix), root, method, len(prefix) + len(body))


STYLES = ("code2vec", "code2seq")


def style_of(contexts: list[Context]) -> str:
    """Which extractor's layout ``contexts`` are in: code2vec's paths are bracketed
    (``(a)^(b)``), code2seq's ``|``-joined (:func:`method_contexts`)."""
    return "code2vec" if not contexts or contexts[0][1].startswith("(") else "code2seq"


def extract_contexts(source: str, lang: str, max_contexts: int | None = MAX_CONTEXTS,
                     seed: int = 0, style: str = "code2vec") -> list[Context]:
    """The path-contexts of the method in ``source``, exactly as the builder extracts them."""
    parsed = parse_method(source, lang)
    return method_contexts(parsed.root, parsed.method, lang, max_contexts, seed, style=style)


# --- terminals and path-contexts -----------------------------------------------------------

_DROPPED = re.compile(r"\\n|[\"',]|[^ -~]")
_NOT_LETTER = re.compile(r"[^a-z]+")


def normalize_terminal(text: str) -> str:
    """A terminal as code2vec's ``Common.normalizeName`` writes it: lower-cased, the two
    characters ``\\n`` and ``"',`` removed, characters outside printable ASCII removed;
    then only its letters a-z if it has any, else the rest with spaces as ``_``, else
    ``BLANK``; cut to 50 characters. So ``var1`` becomes ``var`` and ``0`` stays ``0``, as
    in code2vec."""
    text = _DROPPED.sub("", text.lower())
    letters = _NOT_LETTER.sub("", text)
    out = letters or text.replace(" ", "_") or BLANK
    return out[:MAX_TERMINAL_LENGTH]


def subtoken_terminal(text: str) -> str:
    """A terminal as code2seq's extractor writes it: its sub-tokens
    (:func:`~engine.data.subtokens.split_subtokens`) that hold a letter, each as
    :func:`normalize_terminal`, joined by ``|`` (``getFooBar`` -> ``get|foo|bar``,
    ``var1`` -> ``var``); a terminal without such a sub-token as :func:`normalize_terminal`."""
    parts = [normalize_terminal(p) for p in split_subtokens(text) if any(ch.isalpha() for ch in p)]
    parts = [p for p in parts if p and p != BLANK]
    return "|".join(parts)[:MAX_TERMINAL_LENGTH].strip("|") if parts else normalize_terminal(text)


def _c2s_node(piece: str) -> str:
    """A path node as code2seq writes it: the piece without brackets, ``|`` spelled
    ``bar`` (``|`` joins the nodes)."""
    return piece[1:-1].replace("|", "bar")


def _operator(node: Node) -> str:
    ops = [c.type for c in node.children if not c.is_named and c.type not in ("(", ")")]
    text = ":".join(op.replace(" ", "_") for op in ops)
    if node.type == "update_expression":
        text = ("pre" if node.children and not node.children[0].is_named else "post") + text
    return text


def is_docstring(node: Node) -> bool:
    """A statement that is a string alone (the extractor reads no docstring)."""
    if node.type != "expression_statement" or node.named_child_count != 1:
        return False
    return node.named_children[0].type in ("string", "concatenated_string")


def _masked(node: Node, spec: _Spec) -> bool:
    """Whether an identifier with the method's name is a recursive call's name."""
    parent = node.parent
    if parent is None:
        return False
    if parent.type == "method_invocation":  # Java
        if parent.child_by_field_name("name") != node:
            return False
        obj = parent.child_by_field_name("object")
        return obj is None or obj.type in spec.self_names
    if parent.type == "call":  # Python name(...)
        return parent.child_by_field_name("function") == node
    if parent.type == "attribute" and parent.child_by_field_name("attribute") == node:
        obj = parent.child_by_field_name("object")
        call = parent.parent
        return (obj is not None and obj.type == "identifier" and obj.text.decode() in spec.self_names
                and call is not None and call.type == "call" and call.child_by_field_name("function") == parent)
    return False


def method_contexts(root: Node, method: Node, lang: str, max_contexts: int | None = MAX_CONTEXTS,
                    seed: int = 0, max_length: int = MAX_PATH_LENGTH,
                    max_width: int = MAX_PATH_WIDTH, style: str = "code2vec") -> list[Context]:
    """The path-contexts of one method (``root``/``method`` as from :func:`find_methods`),
    following code2vec's JavaExtractor (Alon et al. 2019) on the tree-sitter tree.

    - Terminals are the leaves in source order: named nodes without named children
      (comments and, in Python, docstrings do not count as children or nodes), string and
      character literals taken whole; not leaves: statements without children
      (``break;``, ``pass``) and the empty syntax of ``block``, parameter and argument
      lists, Java ``modifiers`` (keywords, as in code2vec where modifiers are no nodes;
      annotations stay) and ``dimensions``.
    - A terminal's text is code2vec's ``normalizeName`` (:func:`normalize_terminal`).
    - The method's name is masked: its own identifier is ``METHOD_NAME`` (code2vec), and
      so are recursive calls (Java ``name(...)``/``this.name(...)``, Python ``name(...)``,
      ``self.name(...)``/``cls.name(...)``) and, in Python, the name inside the method's
      decorators (``@name.setter``).
    - For every pair of terminals (i < j in source order), the path goes up from i to the
      lowest common ancestor and down to j. It is kept when it has at most ``max_length``
      (8) edges and the two children of the common ancestor on the path are at most
      ``max_width`` (2) apart, the child index being the position among the parent's
      named children. The path string is code2vec's: ``(type)`` per node, ``^`` after each
      node on the way up, ``_`` before each on the way down, e.g.
      ``(identifier0)^(binary_expression:+)_(decimal_integer_literal1)``. A node carries
      its child index when it is one of the two terminals or when its parent is an
      assignment, an array access / subscript, a field access / attribute or a call
      (code2vec's AssignExpr, ArrayAccessExpr, FieldAccessExpr, MethodCallExpr); unlike
      code2vec, whose way down tests the node's own type there, the rule is the same on
      both ways. Operator nodes carry their operator (``binary_expression:+``,
      ``comparison_operator:not_in``, ``update_expression:post++``), as code2vec's
      BinaryExpr/UnaryExpr/AssignExpr do.
    - Contexts are listed in code2vec's order, by (i, j). A method with more than
      ``max_contexts`` keeps ``max_contexts`` of them, chosen by
      ``random.Random(f"{seed}:{n}")`` over the n positions and kept in order. The draw
      depends on nothing but the seed and n, so renaming a variable (which changes no tree
      shape) keeps the same positions: :func:`extract_contexts` on a sample's ``source``
      with the build's seed gives back the sample's contexts.

    - ``style="code2seq"`` writes them as code2seq's extractor does: terminals as
      ``|``-joined sub-tokens (:func:`subtoken_terminal`), the path as its nodes joined
      by ``|`` without direction marks (``identifier0|binary_expression:+|integer1``);
      the same pairs, in the same order.

    Depends only on the subtree under ``root`` (not on its place in a file).
    """
    if style not in STYLES:
        raise InputError(f"unknown context style {style!r} (choose from {', '.join(STYLES)})")
    terminal = subtoken_terminal if style == "code2seq" else normalize_terminal
    spec = _SPECS[lang]
    name_node = method.child_by_field_name("name")
    name = name_node.text.decode("utf-8")
    name_start = name_node.start_byte

    raw: list[str] = []  # node type
    piece: list[str] = []  # the node in a path: "(type)", "(type:op)", with the child index if due
    parent: list[int] = []
    kids: list[list[int]] = []
    leaves: list[int] = []  # node indices of the terminals, in source order
    terms: list[str] = []
    operators, id_parents = spec.operators, spec.child_id_parents

    stack: list[tuple[Node, int, int, bool]] = [(root, -1, 0, False)]
    while stack:
        node, p, cid, in_decorator = stack.pop()
        i = len(raw)
        kind = node.type
        raw.append(kind)
        parent.append(p)
        kids.append([])
        shown = f"{kind}:{_operator(node)}" if kind in operators else kind
        if p >= 0:
            kids[p].append(i)
            piece.append(f"({shown}{cid})" if raw[p] in id_parents else f"({shown})")
        else:
            piece.append(f"({shown})")
        if kind in spec.atomic:
            children = []
        else:
            children = [c for c in node.named_children if c.type not in spec.skipped]
            if (kind == "block" and lang == "python" and children and p >= 0
                    and raw[p] in ("function_definition", "class_definition") and is_docstring(children[0])):
                children = children[1:]
        if children:
            in_decorator = in_decorator or kind == "decorator"
            for k in range(len(children) - 1, -1, -1):
                stack.append((children[k], i, k, in_decorator))
            continue
        if kind in spec.not_terminal or kind.endswith("_statement"):
            continue
        text = node.text.decode("utf-8", errors="replace")
        if kind in spec.identifier and text == name and (
                node.start_byte == name_start or in_decorator or _masked(node, spec)):
            terms.append(METHOD_NAME)
        else:
            terms.append(terminal(text))
        leaves.append(i)
        piece[i] = f"({shown}{cid})"  # a terminal always shows its child index

    order = {node: k for k, node in enumerate(leaves)}
    pairs = _leaf_pairs(kids, order, max_length, max_width)
    if max_contexts is not None and len(pairs) > max_contexts:
        rng = random.Random(f"{seed}:{len(pairs)}")
        pairs = [pairs[k] for k in sorted(rng.sample(range(len(pairs)), max_contexts))]

    ups: dict[tuple[int, int], str] = {}  # (terminal, common ancestor) -> "(a)^(b)^"
    downs: dict[tuple[int, int], str] = {}  # -> "_(b)_(a)"
    contexts = []
    def climb(u: int, top: int) -> list[str]:  # the node pieces from a leaf up to below ``top``
        parts = []
        while u != top:
            parts.append(piece[u])
            u = parent[u]
        return parts

    if style == "code2seq":
        return [(terms[a], "|".join(_c2s_node(p) for p in climb(leaves[a], top) + [piece[top]]
                                    + climb(leaves[b], top)[::-1]), terms[b]) for a, b, top in pairs]
    for a, b, top in pairs:
        up = ups.get((a, top))
        if up is None:
            up = ups[(a, top)] = "^".join(climb(leaves[a], top)) + "^"
        down = downs.get((b, top))
        if down is None:
            down = downs[(b, top)] = "".join("_" + x for x in reversed(climb(leaves[b], top)))
        contexts.append((terms[a], up + piece[top] + down, terms[b]))
    return contexts


def _leaf_pairs(kids: list[list[int]], order: dict[int, int], max_length: int,
                max_width: int) -> list[tuple[int, int, int]]:
    """``(i, j, lca)`` for the terminal pairs i < j whose path is short and narrow enough,
    sorted by (i, j). Nodes are numbered in preorder, so children come after parents."""
    near: list[list[tuple[int, int]] | None] = [None] * len(kids)  # (terminal, depth below)
    deepest = max_length - 1  # a terminal deeper than this below a node pairs with nothing
    pairs: list[tuple[int, int, int]] = []
    for v in range(len(kids) - 1, -1, -1):
        ks = kids[v]
        if not ks:
            near[v] = [(order[v], 0)] if v in order else []
            continue
        lists = [near[k] for k in ks]
        for ai, first in enumerate(lists):
            if not first:
                continue
            for second in lists[ai + 1: ai + 1 + max_width]:
                if not second:
                    continue
                for la, da in first:
                    room = max_length - 2 - da
                    for lb, db in second:
                        if db <= room:
                            pairs.append((la, lb, v))
        merged = []
        for lst in lists:
            merged.extend((leaf, d + 1) for leaf, d in lst if d < deepest)
        near[v] = merged
        for k in ks:
            near[k] = None
    pairs.sort()
    return pairs

