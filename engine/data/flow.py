"""Program-graph edges of one function, in GREAT's edge vocabulary (Hellendoorn et al.
2020, after Allamanis et al. 2018), as the reference data has them (tests/data/great).

Edges are ``(src, dst, "enum_NAME")`` between token positions, pointing back in time:
NEXT_SYNTAX (:func:`syntax_edges`), LAST_LEXICAL_USE (:func:`lexical_edges`), and
LAST_WRITE, LAST_READ and COMPUTED_FROM from a data-flow analysis (:func:`flow_edges`);
each function's docstring says how byrote derives them. Not produced: ``CFG_NEXT``,
``FIELD``, ``SYNTAX``, ``RETURNS_TO``, ``FORMAL_ARG_NAME``, ``CALLS``: upstream hangs
them on AST nodes that a token sequence does not have.
"""
from __future__ import annotations

from typing import Callable

from tree_sitter import Node

from engine.data.pynames import COMPREHENSIONS, TARGET_GROUPS, Unsupported, Var, named
from engine.data.varmisuse import NEWLINE, UNINDENT

NEXT_SYNTAX, LAST_LEXICAL_USE = "enum_NEXT_SYNTAX", "enum_LAST_LEXICAL_USE"
LAST_WRITE, LAST_READ, COMPUTED_FROM = "enum_LAST_WRITE", "enum_LAST_READ", "enum_COMPUTED_FROM"

Edge = tuple[int, int, str]
Sets = tuple[frozenset[int], frozenset[int]]  # (last writes, last reads) of one variable
State = dict[Var, Sets]
NOTHING: Sets = (frozenset(), frozenset())


def syntax_edges(tokens: list[str]) -> list[Edge]:
    """``enum_NEXT_SYNTAX``: each token to the next, skipping ``#NEWLINE#`` and
    ``#UNINDENT#`` but not ``#INDENT#`` (so the reference links 6 -> 8 over a
    ``#NEWLINE#`` at 7). Upstream derives it from its AST and now and then also crosses a
    ``#NEWLINE#`` or skips an ``#INDENT#``; this rule reproduces most of the reference
    edges, not those."""
    real = [i for i, t in enumerate(tokens) if t not in (NEWLINE, UNINDENT)]
    return [(a, b, NEXT_SYNTAX) for a, b in zip(real, real[1:])]


def lexical_edges(tokens: list[str], name_positions: list[int]) -> list[Edge]:
    """``enum_LAST_LEXICAL_USE``: each name occurrence to the previous occurrence of the
    same name in token order; free names count too (the reference links a global ``Q``)."""
    edges, last = [], {}
    for pos in sorted(name_positions):
        if tokens[pos] in last:
            edges.append((pos, last[tokens[pos]], LAST_LEXICAL_USE))
        last[tokens[pos]] = pos
    return edges


def flow_edges(func: Node, occurrences: dict[int, tuple[int | None, Var]]) -> list[Edge]:
    """LAST_WRITE, LAST_READ and COMPUTED_FROM edges of a top-level function.

    - ``enum_LAST_WRITE`` / ``enum_LAST_READ``: each variable occurrence, read or write,
      to every occurrence that may have last written / read that variable before it runs.
    - ``enum_COMPUTED_FROM``: a plain-name assignment target (``=``, augmented, annotated,
      ``:=``) to each variable read while evaluating the right-hand side. Upstream also
      uses attribute targets (at their ``.``) and free names as sources; those are left
      out.

    They come from a may-analysis in evaluation order over sets of positions: branches
    of ``if``/``elif``/``else``, ``and``/``or`` and ``x if c else y`` are joined; loops and
    comprehensions iterate to a fixed point (``break``, ``continue``, ``else``; ``while
    True`` has no exit but ``break``); an ``except`` handler starts from any state its
    ``try`` body passed through; ``finally`` runs on the normal, exception, ``return``,
    ``break`` and ``continue`` paths, each continuing where it should; ``return`` and
    ``raise`` end a path; an ``except ... as e`` name is unbound after its handler; class
    bodies run in place. Soundness over completeness, so that every edge is possible on
    some path:

    - code that runs later or never (nested function and lambda bodies, a generator
      expression after its first iterable) gets no flow edges and is assumed not to run;
    - a read or write without a token (a name in an f-string, an ``import`` or nested
      ``def`` of an assigned name) ends the chain: the next occurrence gets no edge from
      it;
    - context managers are assumed not to swallow exceptions and comparison chains to run
      to the end; both can only leave edges out.

    ``occurrences`` maps the start byte of each variable occurrence to its token position
    (None: no token) and its variable (:mod:`engine.data.pynames`); giving the misused
    variable there yields the edges of the buggy program.
    """
    flow = _Flow(occurrences)
    for p in named(func.child_by_field_name("parameters")):
        if p.type in ("default_parameter", "typed_default_parameter"):
            flow.bind(p.child_by_field_name("name"))
        elif p.type == "typed_parameter":
            flow.bind(named(p)[0])
        elif p.type not in ("keyword_separator", "positional_separator"):
            flow.bind(p)
    flow.block(func.child_by_field_name("body"))
    order = {LAST_WRITE: 0, LAST_READ: 1, COMPUTED_FROM: 2}
    return sorted(flow.edges, key=lambda e: (order[e[2]], e[0], e[1]))


def _join(*states: State | None) -> State | None:
    """Union of the states of several paths; None is a path that does not arrive."""
    out: State | None = None
    for state in states:
        if state is None:
            continue
        if out is None:
            out = dict(state)
            continue
        for var, (w, r) in state.items():
            w0, r0 = out.get(var, NOTHING)
            if w0 is not w or r0 is not r:
                out[var] = (w0 | w, r0 | r)
    return out


def _copy(state: State | None) -> State | None:
    return None if state is None else dict(state)


class _Frame:
    """Where ``break``/``continue`` (a loop) or any jump (a ``finally``) lands."""

    def __init__(self, kind: str):
        self.kind = kind
        self.jumps: dict[str, list[State]] = {"break": [], "continue": [], "return": []}


class _Flow:
    def __init__(self, occurrences: dict[int, tuple[int | None, Var]]):
        self.occ = occurrences
        self.state: State | None = {}
        self.edges: set[Edge] = set()
        self.reads: list[int] = []  # positions read, in order (for COMPUTED_FROM)
        self.writes: list[int] = []
        self.catchers: list[State] = []  # states a raise may carry to handlers/finally
        self.frames: list[_Frame] = []

    # -- occurrences ---------------------------------------------------------------
    def use(self, node: Node, read: bool = False, write: bool = False, edges: bool = True) -> None:
        """An occurrence runs: edges to the last writes and reads, then it is one of them."""
        hit = self.occ.get(node.start_byte)
        if hit is None or self.state is None:
            return
        pos, var = hit
        w, r = self.state.get(var, NOTHING)
        here = frozenset() if pos is None else frozenset((pos,))
        if pos is not None and edges:
            self.edges.update((pos, x, LAST_WRITE) for x in w)
            self.edges.update((pos, x, LAST_READ) for x in r)
        if read:
            r = here
            if pos is not None:
                self.reads.append(pos)
        if write:
            w = here
            if pos is not None:
                self.writes.append(pos)
        self.set(var, (w, r))

    def unbind(self, node: Node) -> None:
        """``del`` and the end of an ``except ... as`` handler: no write reaches past here."""
        hit = self.occ.get(node.start_byte)
        if hit is not None and self.state is not None:
            self.set(hit[1], (frozenset(), self.state.get(hit[1], NOTHING)[1]))

    def set(self, var: Var, sets: Sets) -> None:
        self.state[var] = sets
        for state in self.catchers:
            w0, r0 = state.get(var, NOTHING)
            state[var] = (w0 | sets[0], r0 | sets[1])

    def bind(self, node: Node) -> None:
        if node.type == "identifier":
            self.use(node, write=True)
        elif node.type in TARGET_GROUPS:
            for child in named(node):
                self.bind(child)
        else:
            self.expr(node)

    def computed_from(self, reads_from: int, writes_from: int) -> None:
        sources = set(self.reads[reads_from:])
        self.edges.update((t, s, COMPUTED_FROM) for t in self.writes[writes_from:] for s in sources if s != t)

    # -- expressions ---------------------------------------------------------------
    def expr(self, node: Node) -> None:
        kind = node.type
        if self.state is None or kind == "type":
            return
        if kind == "identifier":
            self.use(node, read=True)
        elif kind == "attribute":
            self.expr(node.child_by_field_name("object"))
        elif kind == "keyword_argument":
            self.expr(node.child_by_field_name("value"))
        elif kind == "boolean_operator":
            self.expr(node.child_by_field_name("left"))
            skip = _copy(self.state)
            self.expr(node.child_by_field_name("right"))
            self.state = _join(skip, self.state)
        elif kind == "conditional_expression":
            then, cond, other = named(node)
            self.expr(cond)
            fork = _copy(self.state)
            self.expr(then)
            taken, self.state = self.state, fork
            self.expr(other)
            self.state = _join(taken, self.state)
        elif kind == "named_expression":
            r0, w0 = len(self.reads), len(self.writes)
            self.expr(node.child_by_field_name("value"))
            self.use(node.child_by_field_name("name"), write=True)
            self.computed_from(r0, w0)
        elif kind == "lambda":
            self.defaults(node.child_by_field_name("parameters"))
        elif kind in COMPREHENSIONS:
            clauses = [c for c in named(node) if c.type in ("for_in_clause", "if_clause")]
            for right in clauses[0].children_by_field_name("right"):
                self.expr(right)
            if kind != "generator_expression":  # a generator runs later, if at all
                self.clauses(clauses, 0, node.child_by_field_name("body"))
        else:
            for child in named(node):
                self.expr(child)

    def defaults(self, params: Node | None) -> None:
        """Default values of a nested function or lambda, evaluated where it is defined."""
        for p in named(params) if params is not None else ():
            if p.type in ("default_parameter", "typed_default_parameter"):
                self.expr(p.child_by_field_name("value"))

    def clauses(self, clauses: list[Node], i: int, body: Node) -> None:
        """Comprehension clauses from ``clauses[i]`` (its iterable, if i > 0, not yet run)."""
        if self.state is None:
            return
        if i == len(clauses):
            self.expr(body)
            return
        clause = clauses[i]
        if clause.type == "if_clause":
            for cond in named(clause):
                self.expr(cond)
            skip = _copy(self.state)
            self.clauses(clauses, i + 1, body)
            self.state = _join(skip, self.state)
            return
        if i > 0:
            for right in clause.children_by_field_name("right"):
                self.expr(right)

        def iteration() -> None:
            self.bind(clause.child_by_field_name("left"))
            self.clauses(clauses, i + 1, body)

        self.state = self.loop(iteration, None)[0]

    # -- statements ----------------------------------------------------------------
    def block(self, node: Node) -> None:
        for stmt in named(node):
            if self.state is None:
                return
            self.stmt(stmt)

    def stmt(self, node: Node) -> None:
        kind = node.type
        handler = getattr(self, "s_" + kind, None)
        if handler is not None:
            handler(node)
        elif kind in ("print_statement", "exec_statement"):
            self.expr(node)
        elif kind not in ("pass_statement", "global_statement", "nonlocal_statement",
                          "future_import_statement", "type_alias_statement"):
            raise Unsupported(kind)

    def s_expression_statement(self, node: Node) -> None:
        for child in named(node):
            if child.type == "assignment":
                self.assignment(child)
            elif child.type == "augmented_assignment":
                left, right = child.child_by_field_name("left"), child.child_by_field_name("right")
                self.expr(left)  # a name target is loaded first, then stored below
                r0 = len(self.reads)
                self.expr(right)
                w0 = len(self.writes)
                if left.type == "identifier":
                    self.use(left, write=True, edges=False)
                    self.computed_from(r0, w0)
            else:
                self.expr(child)

    def assignment(self, node: Node) -> None:
        """``a = b = value`` evaluates ``value``, then stores to ``a``, then to ``b``."""
        targets = []
        while node.type == "assignment":
            targets.append(node.child_by_field_name("left"))
            value = node.child_by_field_name("right")
            if value is None:  # a bare annotation stores nothing
                return
            node = value
        r0 = len(self.reads)
        self.expr(node)
        w0 = len(self.writes)
        r1 = len(self.reads)
        for target in targets:
            self.bind(target)
        del self.reads[r1:]  # subscripts and attribute objects of targets are not sources
        self.computed_from(r0, w0)

    def s_return_statement(self, node: Node) -> None:
        self.expr(node)
        self.jump("return")

    def s_raise_statement(self, node: Node) -> None:
        self.expr(node)
        self.state = None

    def s_break_statement(self, node: Node) -> None:
        self.jump("break")

    def s_continue_statement(self, node: Node) -> None:
        self.jump("continue")

    def jump(self, kind: str) -> None:
        for frame in reversed(self.frames):
            if frame.kind == "finally" or kind != "return":
                frame.jumps[kind].append(self.state)
                break
        self.state = None

    def s_assert_statement(self, node: Node) -> None:
        cond, *message = named(node)
        self.expr(cond)
        passed = _copy(self.state)
        for m in message:
            self.expr(m)
        self.state = passed

    def s_delete_statement(self, node: Node) -> None:
        for child in named(node):
            self.delete(child)

    def delete(self, node: Node) -> None:
        if node.type == "identifier":
            self.use(node, read=True)
            self.unbind(node)
        elif node.type in TARGET_GROUPS:
            for child in named(node):
                self.delete(child)
        else:
            self.expr(node)

    def s_import_statement(self, node: Node) -> None:
        stack = [node]
        while stack:
            n = stack.pop()
            if n.type == "identifier":
                self.use(n, write=True)  # only hidden bindings are in the occurrence map
            stack.extend(n.named_children)

    s_import_from_statement = s_import_statement

    def s_decorated_definition(self, node: Node) -> None:
        for child in named(node):
            if child.type == "decorator":
                self.expr(child)
            else:
                self.stmt(child)

    def s_function_definition(self, node: Node) -> None:
        self.defaults(node.child_by_field_name("parameters"))
        self.use(node.child_by_field_name("name"), write=True)

    def s_class_definition(self, node: Node) -> None:
        bases = node.child_by_field_name("superclasses")
        if bases is not None:
            self.expr(bases)
        self.block(node.child_by_field_name("body"))
        if self.state is not None:
            self.use(node.child_by_field_name("name"), write=True)

    def s_if_statement(self, node: Node) -> None:
        self.expr(node.child_by_field_name("condition"))
        pending = _copy(self.state)  # the path where no branch has been taken yet
        self.block(node.child_by_field_name("consequence"))
        ends = [self.state]
        for alt in node.children_by_field_name("alternative"):
            self.state = pending
            if alt.type == "elif_clause":
                self.expr(alt.child_by_field_name("condition"))
                pending = _copy(self.state)
                self.block(alt.child_by_field_name("consequence"))
            else:
                pending = None
                self.block(alt.child_by_field_name("body"))
            ends.append(self.state)
        self.state = _join(pending, *ends)

    def loop(self, iteration: Callable[[], None],
             exit_test: Callable[[], State | None] | None) -> tuple[State | None, _Frame]:
        """Run ``iteration`` to a fixed point from the current state.

        Returns the state where the loop ends normally (at its head, after ``exit_test``
        if given) and the loop's frame with its ``break`` states.
        """
        head = self.state
        frame = _Frame("loop")
        self.frames.append(frame)
        while True:
            frame.jumps = {"break": [], "continue": [], "return": []}
            self.state = dict(head)
            exited = exit_test() if exit_test is not None else _copy(self.state)
            iteration()
            after = _join(head, self.state, *frame.jumps["continue"])
            if after == head:
                break
            head = after
        self.frames.pop()
        return exited, frame

    def s_for_statement(self, node: Node) -> None:
        self.expr(node.child_by_field_name("right"))

        def iteration() -> None:
            self.bind(node.child_by_field_name("left"))
            self.block(node.child_by_field_name("body"))

        self.finish_loop(node, *self.loop(iteration, None))

    def s_while_statement(self, node: Node) -> None:
        cond = node.child_by_field_name("condition")
        forever = cond.type == "true" or (cond.type == "integer" and cond.text.strip(b"0") != b"")

        def exit_test() -> State | None:
            self.expr(cond)
            return None if forever else _copy(self.state)

        self.finish_loop(node, *self.loop(lambda: self.block(node.child_by_field_name("body")), exit_test))

    def finish_loop(self, node: Node, exited: State | None, frame: _Frame) -> None:
        self.state = exited
        alt = node.child_by_field_name("alternative")
        if alt is not None and self.state is not None:
            self.block(alt.child_by_field_name("body"))
        self.state = _join(self.state, *frame.jumps["break"])

    def s_with_statement(self, node: Node) -> None:
        for clause in named(node):
            if clause.type != "with_clause":
                continue
            for item in named(clause):
                value = item.child_by_field_name("value")
                if value.type == "as_pattern":
                    expr, alias = named(value)
                    self.expr(expr)
                    self.bind(alias)
                else:
                    self.expr(value)
        self.block(node.child_by_field_name("body"))

    def s_try_statement(self, node: Node) -> None:
        parts = {c.type: c for c in named(node)}
        handlers = [c for c in named(node) if c.type == "except_clause"]
        final = parts.get("finally_clause")
        if final is not None:
            frame = _Frame("finally")
            self.frames.append(frame)
            raised = dict(self.state)
            self.catchers.append(raised)
        caught = dict(self.state)
        self.catchers.append(caught)
        self.block(node.child_by_field_name("body"))
        self.catchers.pop()
        if "else_clause" in parts and self.state is not None:
            self.block(parts["else_clause"].child_by_field_name("body"))
        ends = [self.state]
        for handler in handlers:
            self.state = dict(caught)
            self.except_clause(handler)
            ends.append(self.state)
        self.state = _join(*ends)
        if final is None:
            return
        self.catchers.pop()
        self.frames.pop()
        body = named(final)[-1]
        normal = self.state
        self.state = raised  # raised again after the finally block
        self.block(body)
        for kind, states in frame.jumps.items():
            if states:
                self.state = _join(*states)
                self.block(body)
                if self.state is not None:
                    self.jump(kind)
        self.state = normal
        if normal is not None:
            self.block(body)

    def except_clause(self, node: Node) -> None:
        alias = None
        for child in named(node):
            if child.type == "block":
                self.block(child)
            elif child.type == "as_pattern":
                expr, alias = named(child)
                self.expr(expr)
                self.bind(alias)
            else:
                self.expr(child)
        for ident in named(alias) if alias is not None else ():  # Python deletes the name here
            self.unbind(ident)
