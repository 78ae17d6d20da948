"""The house rules of the layout (ARCHITECTURE.md), checked on the source: knowledge flows
from the faces (cli/, tui/) to the engine, never back; the app never reaches into the
command line; cli/options.py stands alone; and no modules import each other in a cycle."""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "cli", "tui", "assets")


def modules() -> dict[str, ast.Module]:
    found = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = ast.parse(path.read_text(encoding="utf-8"))
    return found


def imported(module: str, node: ast.AST, known: set[str]) -> set[str]:
    """The project's modules an import statement names (``from a import b`` names ``a.b``
    when that is a module, else ``a``)."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name.split(".")[0] in PACKAGES}
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        if node.module.split(".")[0] not in PACKAGES:
            return set()
        return {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module for a in node.names}
    return set()


def all_imports(tree: ast.Module, module: str, known: set[str]) -> set[str]:
    return {m for node in ast.walk(tree) for m in imported(module, node, known)}


def import_time_imports(tree: ast.Module, module: str, known: set[str]) -> set[str]:
    """Imports run when the module is imported: top-level statements (also inside a
    top-level if or try), not those inside functions, nor under ``if __name__``."""
    found: set[str] = set()

    def visit(statements):
        for node in statements:
            if isinstance(node, ast.If) and "__name__" in ast.dump(node.test):
                continue
            if isinstance(node, (ast.If, ast.Try)):
                visit(node.body)
                visit(node.orelse)
                visit(getattr(node, "finalbody", []))
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)
            found.update(imported(module, node, known))

    visit(tree.body)
    return found


def test_the_engine_never_imports_a_face_and_the_app_never_imports_the_command_line():
    trees = modules()
    known = set(trees)
    for name, tree in trees.items():
        targets = all_imports(tree, name, known)
        if name.startswith("engine"):
            assert not {t for t in targets if t.startswith(("cli", "tui"))}, name
        if name.startswith("tui"):
            assert not {t for t in targets if t.startswith("cli")}, name
    assert not {t for t in all_imports(trees["cli.options"], "cli.options", known) if t.startswith("cli")}


def test_no_import_cycle():
    trees = modules()
    known = set(trees)
    graph = {name: {t for t in import_time_imports(tree, name, known) if t in known and t != name}
             for name, tree in trees.items()}
    done: set[str] = set()

    def walk(node: str, path: list[str]) -> None:
        if node in path:
            raise AssertionError("import cycle: " + " -> ".join(path[path.index(node):] + [node]))
        if node in done:
            return
        for target in sorted(graph[node]):
            walk(target, path + [node])
        done.add(node)

    for name in sorted(graph):
        walk(name, [])
