"""The variables of one Python function: its name occurrences resolved through Python's
scopes (:func:`function_names`, whose docstring says what is a variable). A VarMisuse
candidate (Rabin et al. §3.2; Hellendoorn et al. 2020) is a token where such a variable
occurs (:mod:`engine.data.varmisuse_build`).
"""
from __future__ import annotations

from dataclasses import dataclass

from tree_sitter import Node

READ, WRITE, AUG, DEL, HIDDEN = "read", "write", "aug", "del", "hidden"

Var = tuple[int, str]  # (scope index, name)

COMPREHENSIONS = frozenset(
    {"list_comprehension", "set_comprehension", "dictionary_comprehension", "generator_expression"})
TARGET_GROUPS = frozenset({
    "pattern_list", "tuple_pattern", "list_pattern", "tuple", "list", "expression_list",
    "parenthesized_expression", "list_splat_pattern", "list_splat", "dictionary_splat_pattern",
    "as_pattern_target",
})


class Unsupported(Exception):
    """A construct whose name bindings are not modelled."""


class Scope:
    __slots__ = ("index", "kind", "parent", "bound", "hidden", "globals", "nonlocals")

    def __init__(self, index: int, kind: str, parent: Scope | None):
        self.index, self.kind, self.parent = index, kind, parent
        self.bound: set[str] = set()
        self.hidden: set[str] = set()
        self.globals: set[str] = set()
        self.nonlocals: set[str] = set()

    def resolve(self, name: str) -> Var | None:
        """The variable ``name`` denotes in this scope, or None for a non-variable."""
        scope, first = self, True
        while scope is not None:
            if name in scope.globals:
                return None
            if (first or scope.kind != "class") and name not in scope.nonlocals:
                if name in scope.bound:
                    return scope.index, name
                if name in scope.hidden:
                    return None
            scope, first = scope.parent, False
        return None


@dataclass(slots=True)
class Occurrence:
    byte: int  # start byte of the identifier node
    pos: int | None  # token index (None: no token of its own)
    name: str
    scope: Scope | None  # None: the module scope
    role: str  # READ, WRITE, AUG, DEL or HIDDEN
    var: Var | None = None


def function_names(outer: Node, func: Node, positions: dict[int, int]) -> list[Occurrence]:
    """Every name occurrence of a top-level function, resolved (``var`` None: not a variable).

    A variable is a name bound in the function or in a scope nested in it (parameters,
    assignment / augmented / annotated targets, ``for`` targets, ``with ... as``,
    ``except ... as``, comprehension targets, ``:=``, ``del``, lambda and nested-def
    parameters), resolved with Python's rules: comprehensions, lambdas, nested functions
    and classes open scopes; a class scope is not visible from the scopes inside it;
    ``global`` names are not variables; ``nonlocal`` ones are the outer variable.

    Not variables: attribute names after ``.``, keyword names in calls (upstream, purely
    lexical, counts ``self.trail_name`` and ``Q(provider=provider)``'s keyword when a
    variable has that name), free names (globals, builtins), anything in a type
    annotation, and names bound only by ``import`` or by a nested ``def``/``class``. Those
    binding sites are kept as *hidden* occurrences: when such a name is also assigned, the
    import or definition is a write without a token of its own. Names inside an f-string
    are occurrences without a token (``pos`` None).

    Decorators and default values of the top-level function are evaluated in the module,
    so their names are free. ``match`` statements (capture patterns) and Python 2
    ``except E, e`` raise :class:`Unsupported`; the builder skips such functions.

    ``outer`` is the decorated definition or ``func`` itself; ``positions`` maps an
    identifier's start byte to its token index (:mod:`engine.data.pytokens`).
    """
    walker = _Walker(positions)
    scope = walker.scope("function", None)
    if outer is not func:
        for dec in outer.children:
            if dec.type == "decorator":
                walker.visit(dec, None)
    walker.parameters(func.child_by_field_name("parameters"), None, scope)
    walker.visit(func.child_by_field_name("body"), scope)
    for occ in walker.occurrences:
        if occ.scope is not None:
            occ.var = occ.scope.resolve(occ.name)
    return walker.occurrences


def named(node: Node) -> list[Node]:
    """Named children without comments and line continuations."""
    return [c for c in node.named_children if c.type not in ("comment", "line_continuation")]


class _Walker:
    def __init__(self, positions: dict[int, int]):
        self.positions = positions
        self.scopes: list[Scope] = []
        self.occurrences: list[Occurrence] = []

    def scope(self, kind: str, parent: Scope | None) -> Scope:
        self.scopes.append(Scope(len(self.scopes), kind, parent))
        return self.scopes[-1]

    def add(self, node: Node, scope: Scope | None, role: str) -> None:
        name = node.text.decode()
        pos = None if role == HIDDEN else self.positions.get(node.start_byte)
        self.occurrences.append(Occurrence(node.start_byte, pos, name, scope, role))
        if scope is not None and role != READ:
            (scope.hidden if role == HIDDEN else scope.bound).add(name)

    def bind(self, node: Node, scope: Scope | None, role: str = WRITE) -> None:
        if node.type == "identifier":
            self.add(node, scope, role)
        elif node.type in TARGET_GROUPS:
            for child in named(node):
                self.bind(child, scope, role)
        else:  # attribute / subscript targets read their parts
            self.visit(node, scope)

    def parameters(self, params: Node, outer: Scope | None, inner: Scope) -> None:
        """Parameters bind in ``inner``; default values are evaluated in ``outer``."""
        for p in named(params):
            if p.type in ("default_parameter", "typed_default_parameter"):
                self.bind(p.child_by_field_name("name"), inner)
                self.visit(p.child_by_field_name("value"), outer)
            elif p.type == "typed_parameter":
                self.bind(named(p)[0], inner)
            elif p.type not in ("keyword_separator", "positional_separator"):
                self.bind(p, inner)

    def visit(self, node: Node, scope: Scope | None) -> None:
        kind = node.type
        if kind == "identifier":
            self.add(node, scope, READ)
        elif kind == "attribute":
            self.visit(node.child_by_field_name("object"), scope)
        elif kind == "keyword_argument":
            self.visit(node.child_by_field_name("value"), scope)
        elif kind == "type":
            return
        elif kind == "assignment":
            self.bind(node.child_by_field_name("left"), scope)
            right = node.child_by_field_name("right")
            if right is not None:
                self.visit(right, scope)
        elif kind == "augmented_assignment":
            left = node.child_by_field_name("left")
            if left.type == "identifier":
                self.add(left, scope, AUG)
            else:
                self.visit(left, scope)
            self.visit(node.child_by_field_name("right"), scope)
        elif kind == "named_expression":
            target = scope
            while target is not None and target.kind == "comprehension":
                target = target.parent
            self.add(node.child_by_field_name("name"), target, WRITE)
            self.visit(node.child_by_field_name("value"), scope)
        elif kind == "for_statement":
            left = node.child_by_field_name("left")
            for child in named(node):
                if child == left:
                    self.bind(child, scope)
                else:
                    self.visit(child, scope)
        elif kind == "as_pattern":
            expr, alias = named(node)
            self.visit(expr, scope)
            self.bind(alias, scope)
        elif kind == "except_clause" and any(c.type == "," for c in node.children):
            raise Unsupported("Python 2 except clause")
        elif kind == "delete_statement":
            for child in named(node):
                self.bind(child, scope, DEL)
        elif kind in ("global_statement", "nonlocal_statement"):
            names = scope.globals if kind == "global_statement" else scope.nonlocals
            names.update(c.text.decode() for c in named(node))
        elif kind in ("import_statement", "import_from_statement"):
            for item in node.children_by_field_name("name"):
                alias = item.child_by_field_name("alias") if item.type == "aliased_import" else None
                self.add(alias or named(item)[0], scope, HIDDEN)
        elif kind == "function_definition":
            self.add(node.child_by_field_name("name"), scope, HIDDEN)
            inner = self.scope("function", scope)
            self.parameters(node.child_by_field_name("parameters"), scope, inner)
            self.visit(node.child_by_field_name("body"), inner)
        elif kind == "lambda":
            inner = self.scope("function", scope)
            params = node.child_by_field_name("parameters")
            if params is not None:
                self.parameters(params, scope, inner)
            self.visit(node.child_by_field_name("body"), inner)
        elif kind == "class_definition":
            self.add(node.child_by_field_name("name"), scope, HIDDEN)
            bases = node.child_by_field_name("superclasses")
            if bases is not None:
                self.visit(bases, scope)
            self.visit(node.child_by_field_name("body"), self.scope("class", scope))
        elif kind in COMPREHENSIONS:
            self.comprehension(node, scope)
        elif kind == "match_statement":
            raise Unsupported("match statement")
        else:
            for child in named(node):
                self.visit(child, scope)

    def comprehension(self, node: Node, scope: Scope | None) -> None:
        """The first iterable belongs to the enclosing scope, the rest to the comprehension's."""
        inner = self.scope("comprehension", scope)
        first = True
        for child in named(node):
            if child.type == "for_in_clause":
                for right in child.children_by_field_name("right"):
                    self.visit(right, scope if first else inner)
                self.bind(child.child_by_field_name("left"), inner)
                first = False
            else:
                self.visit(child, inner)
