"""engine.data.rename: single-place variable renaming for the critical sample ratio (Rabin et al. §4.3.4)."""
from __future__ import annotations

import pytest

from engine.data import methodname_build
from engine.data.pathcontexts import extract_contexts, method_contexts
from engine.data.rename import rename_candidates
from engine.errors import InputError

JAVA = """\
    public int add(int count, int step) {
        this.count = count;
        int total = count() + count * step;
        String label = "count";
        for (int i = 0; i < step; i++) {
            total += i;
        }
        return total + this.count;
    }"""

PYTHON = '''\
    def add(self, count, step=1):
        """count"""
        self.count = count
        total = self.count() + count * step
        label = "count"
        for i in range(step):
            total += i
        return total + self.count + len(label)
'''


def test_java_renames_only_the_variable_not_field_call_or_string():
    candidates = dict(rename_candidates(JAVA, "java", "scope"))
    assert candidates["count"] == """\
    public int add(int var1, int step) {
        this.count = var1;
        int total = count() + var1 * step;
        String label = "count";
        for (int i = 0; i < step; i++) {
            total += i;
        }
        return total + this.count;
    }"""


def test_java_parameters_and_locals_each_get_their_own_candidate():
    candidates = rename_candidates(JAVA, "java", "scope")
    assert [name for name, _ in candidates] == ["count", "step", "total", "label", "i"]
    by_name = dict(candidates)
    assert by_name["step"] == JAVA.replace("int step", "int var1").replace("count * step", "count * var1") \
        .replace("i < step", "i < var1")
    assert by_name["total"] == JAVA.replace("int total", "int var1").replace("total +=", "var1 +=") \
        .replace("return total", "return var1")
    assert by_name["label"] == JAVA.replace("String label", "String var1")
    assert by_name["i"] == JAVA.replace("int i = 0; i < step; i++", "int var1 = 0; var1 < step; var1++") \
        .replace("+= i;", "+= var1;")
    for name, text in candidates:  # each candidate changes one variable only
        changed = {a for a, b in zip(JAVA.split(), text.split()) if a != b}
        assert all(name in word for word in changed), (name, changed)


def test_no_candidate_collides_with_an_existing_name():
    source = """\
        int f(int a, int var1) {
            int var2 = a + var1;
            return var2 + var3();
        }"""
    candidates = dict(rename_candidates(source, "java", "scope"))
    assert set(candidates) == {"a", "var1", "var2"}
    assert candidates["a"] == source.replace("int a", "int var4").replace("a + var1", "var4 + var1")
    assert candidates["var1"] == source.replace("int var1", "int var4").replace("a + var1", "a + var4")
    # a type or a field named var1 counts as taken too
    taken = "Object g(var1 x) { return this.var2 + x; }"
    assert rename_candidates(taken, "java", "scope") == [("x", "Object g(var1 var3) { return this.var2 + var3; }")]


def test_java_sibling_scopes_and_shadowing_fields():
    source = """\
        void f() {
            for (int i = 0; i < 3; i++) { use(i); }
            for (int i = 0; i < 4; i++) { use(i); }
            n = n + 1;
            Runnable r = () -> { int k = 2; use(k); };
            try { r.run(); } catch (RuntimeException e) { log(e); }
            Function<Integer, Integer> g = x -> x + 1;
        }"""
    candidates = rename_candidates(source, "java", "scope")
    assert [name for name, _ in candidates] == ["i", "i", "r", "k", "e", "g", "x"]  # n is a field
    first, second = candidates[0][1], candidates[1][1]
    assert "for (int var1 = 0; var1 < 3; var1++) { use(var1); }" in first
    assert "for (int i = 0; i < 4; i++) { use(i); }" in first
    assert "for (int var1 = 0; var1 < 4; var1++) { use(var1); }" in second
    assert "catch (RuntimeException var1) { log(var1); }" in dict(candidates)["e"]
    assert "g = var1 -> var1 + 1;" in dict(candidates)["x"]


def test_python_renames_only_the_variable_not_attribute_call_or_string():
    candidates = dict(rename_candidates(PYTHON, "python", "scope"))
    assert candidates["count"] == '''\
    def add(self, var1, step=1):
        """count"""
        self.count = var1
        total = self.count() + var1 * step
        label = "count"
        for i in range(step):
            total += i
        return total + self.count + len(label)
'''


def test_python_parameters_and_locals_each_get_their_own_candidate():
    candidates = rename_candidates(PYTHON, "python", "scope")
    assert [name for name, _ in candidates] == ["count", "step", "total", "label", "i"]  # not self
    by_name = dict(candidates)
    assert by_name["step"] == PYTHON.replace("step=1", "var1=1").replace("* step", "* var1") \
        .replace("range(step)", "range(var1)")
    assert by_name["i"] == PYTHON.replace("for i in", "for var1 in").replace("+= i", "+= var1")
    assert by_name["label"] == PYTHON.replace('label = "count"', 'var1 = "count"').replace("len(label)", "len(var1)")


def test_python_scopes_free_names_and_collisions():
    source = '''\
def f(items, var1):
    import os
    total = [x for x in items]
    def inner(y):
        return y + var1
    print(os.sep, total, var2)
    return inner
'''
    candidates = rename_candidates(source, "python", "scope")
    # not variables: os (import), inner (nested def), print/var2 (free), f (the function)
    assert [name for name, _ in candidates] == ["items", "var1", "total", "x", "y"]
    by_name = dict(candidates)
    assert by_name["x"] == source.replace("[x for x in items]", "[var3 for var3 in items]")
    assert by_name["var1"] == source.replace("items, var1", "items, var3").replace("y + var1", "y + var3")
    assert by_name["y"] == source.replace("inner(y)", "inner(var3)").replace("return y +", "return var3 +")


def test_candidates_reextract_with_the_builders_extraction():
    assert methodname_build.method_contexts is method_contexts  # the builder's own extraction
    original = extract_contexts(JAVA, "java", 200, 0)
    for name, text in rename_candidates(JAVA, "java", "scope"):
        renamed = extract_contexts(text, "java", 200, 0)
        assert [p for _, p, _ in renamed] == [p for _, p, _ in original]  # same paths, same order
        terminals = {t for s, _, e in renamed for t in (s, e)} - {t for s, _, e in original for t in (s, e)}
        assert terminals <= {"var"}  # code2vec normalises var1 to var
    for name, text in rename_candidates(PYTHON, "python", "scope"):
        assert [p for _, p, _ in extract_contexts(text, "python")] == \
               [p for _, p, _ in extract_contexts(PYTHON, "python")]


def test_methods_without_variables_and_bad_sources():
    assert rename_candidates("int one() { return 1; }", "java") == []
    assert rename_candidates("def f(self):\n    return self.x\n", "python") == []
    with pytest.raises(InputError, match="no method_declaration"):
        rename_candidates("int x = 1;", "java", "scope")
    with pytest.raises(InputError, match="unknown language"):
        rename_candidates("def f(): pass", "cobol")


def test_python_class_attributes_receivers_and_unsupported_constructs():
    source = '''\
def f(a):
    class C:
        y = a
        def m(self, z):
            return z + self.y
    return C
'''
    assert [name for name, _ in rename_candidates(source, "python", "scope")] == ["a", "z"]
    match = "def g(v):\n    match v:\n        case [x]:\n            return x\n"
    assert rename_candidates(match, "python", "scope") == []  # match patterns are not modelled: no candidates


def test_python_nonlocal_variable_is_not_a_candidate():
    source = (
        "def run(self, x, y=3):\n"
        "    def inner(a):\n"
        "        nonlocal y\n"
        "        y = a + x\n"
        "        return y\n"
        "    return inner(x) + y\n"
    )
    candidates = rename_candidates(source, "python", "scope")
    assert "y" not in [name for name, _ in candidates] and "x" in [name for name, _ in candidates]
    for _, program in candidates:
        compile(program, "<candidate>", "exec")  # every candidate is a valid program


def test_java_switch_group_local_is_renamed_in_every_case():
    source = ("int pick(int n) {\n  switch (n) {\n    case 1: int k = 2; break;\n"
              "    case 2: k = 3; return k;\n  }\n  return n;\n}\n")
    (k_program,) = [p for name, p in rename_candidates(source, "java", "scope") if name == "k"]
    assert "k" not in k_program.replace("break", "").split() and k_program.count("var1") == 3


def test_names_rule_renames_every_identifier_of_the_name_as_javatransformer():
    """The default rule, JavaTransformer's VariableRenaming ([30], the transformation the
    study cites): a field access, a called method and a nested parameter of the same name
    are renamed too; the method's own name, a string and an annotation are not."""
    source = "@Size int size(int n) { int size = this.size; return size + size() + n; }"
    assert rename_candidates(source, "java") == rename_candidates(source, "java", "names")
    candidates = dict(rename_candidates(source, "java"))
    assert candidates["size"] == "@Size int size(int n) { int var1 = this.var1; return var1 + var1() + n; }"
    assert candidates["n"] == "@Size int size(int var1) { int size = this.size; return size + size() + var1; }"
    assert dict(rename_candidates(source, "java", "scope"))["size"] == (
        "@Size int size(int n) { int var1 = this.size; return var1 + size() + n; }")
    candidates = dict(rename_candidates(JAVA, "java"))
    assert candidates["count"] == JAVA.replace("this.count", "this.var1").replace("count()", "var1()").replace(
        "int count", "int var1").replace("count * step", "var1 * step").replace("= count;", "= var1;")
    assert '"count"' in candidates["count"]  # a string is text, not a name


def test_names_rule_in_python_leaves_def_class_and_import_names():
    source = "def total(self, total, n):\n    import total as t\n    return self.total + total + t(total=n)\n"
    candidates = dict(rename_candidates(source, "python"))
    assert candidates["total"] == (
        "def total(self, var1, n):\n    import total as t\n    return self.var1 + var1 + t(var1=n)\n")
    with pytest.raises(InputError, match="unknown renaming"):
        rename_candidates(source, "python", "everything")


def test_names_rule_leaves_what_javaparser_does_not_read_as_a_simple_name():
    """A method reference's member is a String in JavaParser, and the class qualifying
    ``this`` or ``super`` a Name: VariableRenaming leaves both; the scope of a method
    reference and the field after ``Outer.this`` are SimpleNames and are renamed."""
    source = ("void f(List<String> size) { size.forEach(this::size); Outer.this.size = size; "
              "Outer.super.size(); x(size::size); }")
    assert dict(rename_candidates(source, "java"))["size"] == (
        "void f(List<String> var1) { var1.forEach(this::size); Outer.this.var1 = var1; "
        "Outer.super.var1(); x(var1::size); }")
