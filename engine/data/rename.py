"""Single-place variable renaming (Rabin et al. 2021), the candidates of the critical
sample ratio (Rabin et al. §4.3.4): :func:`rename_candidates` gives one program per
variable of a method (:func:`method_variables`), that variable alone renamed. The CSR code
re-extracts each candidate's path-contexts with
:func:`engine.data.pathcontexts.extract_contexts`, the builder's own extraction.
"""
from __future__ import annotations

from tree_sitter import Node

from engine.data.pathcontexts import ParsedMethod, parse_method
from engine.data.pynames import HIDDEN, Unsupported, function_names, named
from engine.errors import InputError

Occurrences = list[tuple[int, int]]  # byte ranges in the parsed text


RULES = ("names", "scope")
"""How a candidate renames its variable (``csr_renaming``): ``names``, the default, as the
transformation the study cites ([30], Rabin et al. 2021) renames, its tool's
``VariableRenaming`` (mdrafiqulrabin/JavaTransformer): every identifier spelled as the
variable, wherever it stands (:func:`same_name_occurrences`); ``scope``: the variable's
own occurrences alone (:func:`method_variables`)."""


def rename_candidates(source: str, lang: str, rule: str = "names") -> list[tuple[str, str]]:
    """``(variable name, candidate source)`` for each variable of the method in ``source``.

    One candidate program per variable of the method (:func:`method_variables`), in which
    that variable alone is renamed to ``varN`` (Rabin et al.; Rabin et al. 2021's
    "single-place variable renaming"), with N the smallest positive number such that
    ``varN`` is not already an identifier of the method (any name: a variable, a field, a
    method, a type, an attribute; :func:`fresh_name`).

    Renaming edits the bytes of tree-sitter nodes, never the text (a string or a comment
    with the same name is left alone). Under ``rule="scope"`` the nodes are the variable's
    occurrences: a field, a called method or an attribute with the same name is left
    alone, and two variables of the same name (sibling scopes) give two candidates. Under
    ``rule="names"`` (:data:`RULES`) they are every identifier spelled as the variable
    (:func:`same_name_occurrences`), one candidate per name. Candidates come in order of
    each variable's first occurrence.
    """
    if rule not in RULES:
        raise InputError(f"unknown renaming {rule!r} (choose from {', '.join(RULES)})")
    parsed = parse_method(source, lang)
    variables = method_variables(parsed, lang)
    if not variables:
        return []
    new = fresh_name(parsed, lang)
    if rule == "names":
        names = list(dict.fromkeys(name for name, _ in variables))
        found = same_name_occurrences(parsed, lang, set(names))
        variables = [(name, found[name]) for name in names]
    return [(name, renamed(parsed, ranges, new)) for name, ranges in variables]


# identifiers that JavaTransformer's VariableRenaming leaves: the names of method and
# class declarations, and names that JavaParser reads as a ``Name``, not a ``SimpleName``
# (annotations, packages, imports)
_SAME_NAME_KEPT = {
    "java": ({("method_declaration", "name"), ("class_declaration", "name"), ("interface_declaration", "name"),
              ("marker_annotation", "name"), ("annotation", "name")},
             frozenset({"scoped_identifier", "package_declaration", "import_declaration"})),
    "python": ({("function_definition", "name"), ("class_definition", "name")},
               frozenset({"import_statement", "import_from_statement", "aliased_import"})),
}


def same_name_occurrences(parsed: ParsedMethod, lang: str, names: set[str]) -> dict[str, Occurrences]:
    """Byte ranges of every identifier (Java: and type identifier) spelled as one of
    ``names``, by name: VariableRenaming's ``applyTransformation`` renames every
    ``SimpleName`` equal to the variable's, a field (``this.size``), a called method
    (``size()``), a type or a label of that name included, but not the name of a method
    or class declaration. Python, which the tool does not read, follows the same rule:
    attributes and keyword names are renamed, the names of ``def``, ``class`` and
    imports are not. Nor are the Java names that JavaParser does not read as a
    ``SimpleName``: a method reference's member (``this::size``) and the class that
    qualifies ``this`` or ``super`` (``Outer.this``)."""
    kinds = ("identifier", "type_identifier") if lang == "java" else ("identifier",)
    kept_fields, kept_parents = _SAME_NAME_KEPT[lang]
    found: dict[str, Occurrences] = {name: [] for name in names}
    stack: list[tuple[Node, str | None, str | None, bool]] = [(parsed.root, None, None, False)]
    while stack:
        node, parent_type, field, kept = stack.pop()
        if node.type in kinds:
            text = node.text.decode("utf-8")
            if (text in found and not kept and (parent_type, field) not in kept_fields
                    and parent_type not in kept_parents):
                found[text].append((node.start_byte, node.end_byte))
            continue
        if node.type in kept_parents:
            continue
        children = node.children
        qualified = lang == "java" and any(c.type in ("this", "super") for c in children)
        for k, child in enumerate(children):
            if child.is_named:
                kept = ((node.type == "method_reference" and k > 0)  # the member: a String in JavaParser
                        or (qualified and k + 2 < len(children) and children[k + 2].type in ("this", "super")))
                stack.append((child, node.type, node.field_name_for_child(k), kept))
    return {name: sorted(ranges) for name, ranges in found.items()}


def renamed(parsed: ParsedMethod, ranges: Occurrences, new: str) -> str:
    """The method's source with the occurrences at ``ranges`` (byte ranges in the parsed
    text, as :func:`method_variables` gives them) replaced by ``new``."""
    out = bytearray(parsed.source)
    for start, stop in sorted(ranges, reverse=True):
        out[start - parsed.offset: stop - parsed.offset] = new.encode("utf-8")
    return out.decode("utf-8")


def fresh_name(parsed: ParsedMethod, lang: str) -> str:
    """``varN`` with the smallest N >= 1 that is not an identifier of the method."""
    kinds = ("identifier", "type_identifier") if lang == "java" else ("identifier",)
    used = set()
    stack = [parsed.root]
    while stack:
        node = stack.pop()
        if node.type in kinds:
            used.add(node.text.decode("utf-8"))
        stack.extend(node.children)
    n = 1
    while f"var{n}" in used:
        n += 1
    return f"var{n}"


def method_variables(parsed: ParsedMethod, lang: str) -> list[tuple[str, Occurrences]]:
    """``(name, byte ranges of its occurrences)`` per variable, by first occurrence.

    - Python: the names bound in the function or in a scope nested in it, resolved with
      Python's scoping rules by :func:`engine.data.pynames.function_names` (the VarMisuse
      builder's analysis): parameters, assignment / ``for`` / ``with`` / ``except`` /
      comprehension targets, ``:=``, lambda and nested-function parameters. Not
      variables: attributes (``self.count``), keyword names in calls, free names
      (globals, builtins, the function's own name), names bound by ``import`` or a nested
      ``def``/``class`` (a variable also bound that way is left out), names bound in the
      body of a class nested in the function (class attributes), ``global`` names, and
      ``self``/``cls`` as the first parameter of a function. A variable is one (scope,
      name); a function using a construct the analysis does not model (``match``) has no
      variables.
    - Java: parameters (of the method, of lambdas, of methods of local or anonymous
      classes, ``catch`` parameters), local variables (``for`` and enhanced ``for``
      variables, try-with-resources variables, ``instanceof`` and ``switch`` pattern
      variables). A use is an ``identifier`` that is not a method's name in a call, a
      field after ``.`` (``this.count``), a declared name of a method / class / field, an
      annotation, a label, a qualified name or a method reference's member; it belongs to
      the innermost declaration of its name whose scope contains it (a parameter: its
      method or lambda; a local: from its declarator to the end of the enclosing block or
      statement; a catch parameter: its catch clause; a pattern variable: to the end of
      the enclosing block). A use that no declaration covers is a field and is left alone.
    """
    if lang == "java":
        return _java_variables(parsed.root)
    return _python_variables(parsed.root, parsed.method)


# --- Python -------------------------------------------------------------------------------


def _python_variables(outer: Node, func: Node) -> list[tuple[str, Occurrences]]:
    try:
        occurrences = function_names(outer, func, {})
    except Unsupported:
        return []
    receivers = _receivers(outer)
    groups: dict[tuple[int, str], list] = {}
    hidden = set()  # bound by an import or a def/class statement too
    class_scopes = {o.scope.index for o in occurrences if o.scope is not None and o.scope.kind == "class"}
    for occ in occurrences:
        if occ.var is None:
            continue
        if occ.role == HIDDEN:
            hidden.add(occ.var)
            continue
        groups.setdefault(occ.var, []).append(occ)
    nonlocal_names = _nonlocal_names(func)
    variables = []
    for var, occs in groups.items():
        if var in hidden or var[0] in class_scopes or any(o.byte in receivers for o in occs):
            continue
        if var[1] in nonlocal_names:  # `nonlocal y` is not an occurrence: renaming y breaks it
            continue
        size = len(var[1].encode("utf-8"))
        ranges = sorted({(o.byte, o.byte + size) for o in occs})
        variables.append((var[1], ranges))
    variables.sort(key=lambda v: v[1][0])
    return variables


def _nonlocal_names(func: Node) -> set[str]:
    """Names that a ``nonlocal`` statement anywhere inside ``func`` declares."""
    names, stack = set(), [func]
    while stack:
        node = stack.pop()
        if node.type == "nonlocal_statement":
            names.update(c.text.decode("utf-8") for c in node.named_children if c.type == "identifier")
        stack.extend(node.children)
    return names


def _receivers(outer: Node) -> set[int]:
    """Start bytes of ``self``/``cls`` as the first parameter of a function under ``outer``."""
    found = set()
    stack = [outer]
    while stack:
        node = stack.pop()
        if node.type == "function_definition":
            params = named(node.child_by_field_name("parameters"))
            first = params[0] if params else None
            if first is not None and first.type in ("typed_parameter", "typed_default_parameter",
                                                    "default_parameter"):
                first = first.child_by_field_name("name") or named(first)[0]
            if first is not None and first.type == "identifier" and first.text.decode("utf-8") in ("self", "cls"):
                found.add(first.start_byte)
        stack.extend(node.named_children)
    return found


# --- Java ---------------------------------------------------------------------------------

# (parent type, field) of identifiers that are not variable uses
_JAVA_NOT_USES = {
    ("method_invocation", "name"), ("field_access", "field"), ("method_declaration", "name"),
    ("constructor_declaration", "name"), ("class_declaration", "name"),
    ("interface_declaration", "name"), ("enum_declaration", "name"), ("record_declaration", "name"),
    ("annotation_type_declaration", "name"), ("annotation_type_element_declaration", "name"),
    ("enum_constant", "name"), ("marker_annotation", "name"), ("annotation", "name"),
    ("element_value_pair", "key"),
}
# parents whose identifiers are never variable uses
_JAVA_NAME_PARENTS = frozenset({"labeled_statement", "break_statement", "continue_statement",
                                "scoped_identifier", "switch_label", "module_declaration",
                                "package_declaration", "import_declaration"})
_JAVA_OWNERS = frozenset({"method_declaration", "constructor_declaration", "lambda_expression",
                          "compact_constructor_declaration"})
_JAVA_BLOCKS = frozenset({"block", "switch_block_statement_group", "switch_rule", "constructor_body",
                          "lambda_expression", "method_declaration"})


def _enclosing(node: Node, kinds: frozenset) -> Node:
    up = node.parent
    while up is not None and up.type not in kinds:
        up = up.parent
    return up if up is not None else node


def _java_declarations(node: Node) -> list[tuple[Node, int, int]]:
    """``(identifier, scope start, scope end)`` of the variables ``node`` declares."""
    kind = node.type
    out = []
    if kind in ("formal_parameter", "spread_parameter"):
        ident = node.child_by_field_name("name")
        if ident is None:  # spread_parameter: Type... name
            decl = next((c for c in node.named_children if c.type == "variable_declarator"), None)
            ident = decl.child_by_field_name("name") if decl is not None else None
        owner = node.parent.parent if node.parent is not None else None
        if ident is not None and owner is not None and owner.type in _JAVA_OWNERS:
            out.append((ident, owner.start_byte, owner.end_byte))
    elif kind == "catch_formal_parameter":
        ident = node.child_by_field_name("name")
        if ident is not None:
            out.append((ident, node.parent.start_byte, node.parent.end_byte))
    elif kind == "lambda_expression":
        params = node.child_by_field_name("parameters")
        if params is not None and params.type == "identifier":
            out.append((params, node.start_byte, node.end_byte))
        elif params is not None and params.type == "inferred_parameters":
            out += [(c, node.start_byte, node.end_byte) for c in params.named_children if c.type == "identifier"]
    elif kind == "local_variable_declaration":
        scope = node.parent
        if scope.type == "switch_block_statement_group":  # case 1: int k; ... case 2: k = 3;
            scope = scope.parent
        for decl in node.children_by_field_name("declarator"):
            ident = decl.child_by_field_name("name")
            if ident is not None:
                out.append((ident, decl.start_byte, scope.end_byte))
    elif kind == "enhanced_for_statement":
        ident = node.child_by_field_name("name")
        if ident is not None and ident.type == "identifier":
            out.append((ident, node.start_byte, node.end_byte))
    elif kind == "resource":
        ident = node.child_by_field_name("name")
        if ident is not None:
            statement = _enclosing(node, frozenset({"try_with_resources_statement"}))
            out.append((ident, ident.start_byte, statement.end_byte))
    elif kind in ("instanceof_expression", "type_pattern"):
        ident = node.child_by_field_name("name")
        if ident is None:
            ident = next((c for c in node.named_children if c.type == "identifier"), None)
        if ident is not None and ident.type == "identifier":
            out.append((ident, ident.start_byte, _enclosing(node, _JAVA_BLOCKS).end_byte))
    return out


def _java_variables(root: Node) -> list[tuple[str, Occurrences]]:
    declarations: list[tuple[str, Node, int, int]] = []  # (name, identifier, scope start, end)
    declared: set[int] = set()
    uses: list[Node] = []
    stack: list[tuple[Node, str | None, str | None, bool]] = [(root, None, None, True)]
    while stack:
        node, parent_type, field, first = stack.pop()
        if node.type == "identifier":
            if ((parent_type, field) not in _JAVA_NOT_USES and parent_type not in _JAVA_NAME_PARENTS
                    and not (parent_type == "method_reference" and not first)
                    and not (parent_type == "variable_declarator" and field == "name")):
                uses.append(node)
            continue
        for ident, start, end in _java_declarations(node):
            declarations.append((ident.text.decode("utf-8"), ident, start, end))
            declared.add(ident.start_byte)
        children = node.children
        for k in range(len(children) - 1, -1, -1):
            child = children[k]
            if child.is_named:
                stack.append((child, node.type, node.field_name_for_child(k), k == 0))
    groups: dict[int, list[tuple[int, int]]] = {}
    for name, ident, start, end in declarations:
        groups[ident.start_byte] = [(ident.start_byte, ident.end_byte)]
    for use in uses:
        if use.start_byte in declared:
            continue
        name, at = use.text.decode("utf-8"), use.start_byte
        owner = None
        for d_name, ident, start, end in declarations:
            if d_name == name and start <= at < end and (owner is None or start >= owner[2]):
                owner = (d_name, ident, start, end)
        if owner is not None:
            groups[owner[1].start_byte].append((use.start_byte, use.end_byte))
    return [(name, sorted(groups[ident.start_byte]))
            for name, ident, _, _ in sorted(declarations, key=lambda d: d[1].start_byte)]
