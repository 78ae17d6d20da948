"""Input noise (the extended study's ``X_*`` results): VarMisuse's injecting_repair by
hand and on the reference GREAT samples, and the noise kind of a study."""
from __future__ import annotations

import json

import pytest

from engine.data.varmisuse import VarMisuseSample
from engine.errors import InputError
from engine.formats.great import read_great
from engine.noise.input import apply_noise, check_kind, inject_repair, most_frequent
from engine.tasks import get_task


def vm(tokens: str, has_bug: bool, location: int = 0, targets=()) -> VarMisuseSample:
    toks = tokens.split()
    return VarMisuseSample(tokens=toks, edges=[], has_bug=has_bug, error_location=location,
                           repair_targets=list(targets), repair_candidates=list(range(1, len(toks))),
                           raw={"source_tokens": toks})


def test_injecting_repair_by_hand():
    samples = [vm("def f a b a c b", True, 5, [4]), vm("def g x y x z", False), vm("def h p q q p", False)]
    result = inject_repair(samples, 100, seed=0)
    buggy, clean, tie = result.samples
    # the first repair target (4) holds "a": every "a" becomes TARGET; the error location (5) BUGGY
    assert buggy.tokens == ["def", "f", "TARGET", "b", "TARGET", "BUGGY", "b"]
    assert clean.tokens == ["def", "g", "NONBUGGY", "y", "NONBUGGY", "z"]
    assert tie.tokens == ["def", "h", "NONBUGGY", "q", "q", "NONBUGGY"]  # a tie: the first to occur
    for old, new in zip(samples, result.samples):
        assert (new.has_bug, new.error_location, new.repair_targets) == (old.has_bug, old.error_location,
                                                                         old.repair_targets)
        assert new.to_record()["source_tokens"] == new.tokens
    assert samples[0].tokens == "def f a b a c b".split()  # the input is untouched
    assert result.changed == {"marked_buggy": [0], "marked_clean": [1, 2]}
    assert most_frequent(["x", "y", "y", "x", "z"]) == "x"
    empty = vm("", False)
    assert inject_repair([empty], 100, seed=0).samples == [empty]  # nothing to mark, no error


def test_injecting_repair_counts_and_nests_like_label_noise():
    samples = [vm("def f a b c", True, 2, [3]) for _ in range(8)] + [vm("def g x y x", False) for _ in range(4)]
    quarter, half = inject_repair(samples, 25, seed=5), inject_repair(samples, 50, seed=5)
    assert quarter.counts == {"buggy": 8, "clean": 4, "marked_buggy": 2, "marked_clean": 1}
    for kind in ("marked_buggy", "marked_clean"):
        assert set(quarter.changed[kind]) <= set(half.changed[kind])
    assert inject_repair(samples, 0, seed=5).samples == samples


def test_injecting_repair_on_the_reference_samples(reference):
    path = reference / "great" / "dev__VARIABLE_MISUSE__SStuB.txt-00261-of-00300.buggy3.jsonl"
    samples = read_great(path)
    result = inject_repair(samples, 100, seed=0)
    for old, new in zip(samples, result.samples):
        target = old.tokens[old.repair_targets[0]]
        assert new.tokens[old.error_location] == "BUGGY"
        assert all((t == "TARGET") == (o == target) for k, (t, o) in enumerate(zip(new.tokens, old.tokens))
                   if k != old.error_location)
        assert json.loads(json.dumps(new.to_record()))["error_location"] == old.error_location


def test_a_noise_kind_must_fit_the_task():
    assert check_kind("varmisuse", "injecting_repair") == "injecting_repair"
    with pytest.raises(InputError, match="noise kind 'injecting_repair' does not fit methodname"):
        check_kind("methodname", "injecting_repair")
    with pytest.raises(InputError, match="noise kind 'method_leakage' does not fit varmisuse"):
        apply_noise(get_task("varmisuse"), [], 50, 0, "method_leakage")


def test_a_study_and_the_noise_command_take_the_kind(tmp_path, reference, capsys):
    from cli.main import main
    from engine.launch import create_study
    from engine.store import Store

    path = reference / "great" / "dev__VARIABLE_MISUSE__SStuB.txt-00261-of-00300.buggy3.jsonl"
    store = Store(tmp_path / "s.db")
    sid = create_study(store, task="varmisuse", train=str(path), valid=str(path), model="ggnn", levels=[0.0, 100.0],
                       epochs=1, preset="quick", seed=0, device="cpu", noise_kind="injecting_repair")
    assert store.study(sid)["config"]["noise_kind"] == "injecting_repair"
    from engine.export import published_folder

    assert published_folder(store.study(sid)).as_posix() == "variable_misuse/X_Injecting_Repair"
    noisy = read_great(store.files / store.runs(sid)[1]["train_path"])
    assert all("BUGGY" in s.tokens for s in noisy)
    out = tmp_path / "noisy.jsonl"
    assert main(["noise", "--task", "varmisuse", "--in", str(path), "--out", str(out), "--level", "100",
                 "--kind", "injecting_repair"]) == 0
    assert "marked buggy: 3" in capsys.readouterr().out
    assert main(["noise", "--task", "methodname", "--in", str(path), "--out", str(out), "--level", "100",
                 "--kind", "injecting_repair"]) == 2
    assert "does not fit methodname" in capsys.readouterr().err


# -- identity_pair (code search) -----------------------------------------------------------

def test_identity_pair_marks_the_most_frequent_lettered_word_as_the_study_does():
    from engine.noise.identity_pair import mark_text, mark_tokens

    # "x" is the most frequent word with a letter; str.replace also hits it inside "max"
    assert mark_text("x = max(x, y) + x", "POSITIVE") == "POSITIVE = maPOSITIVE(POSITIVE, y) + POSITIVE"
    # a tie goes to the first to occur; words without a letter ("+", "1") never count
    assert mark_text("a + b + 1 + 1", "NEGATIVE") == "NEGATIVE + b + 1 + 1"
    assert mark_text("1 + 2 == 3", "NEGATIVE") == "NEGATIVE 1 + 2 == 3"  # no word with a letter: in front
    assert mark_text("", "POSITIVE") == "POSITIVE "
    assert mark_tokens(("sum", "(", "a", ",", "a", ")"), "POSITIVE") == ("sum", "(", "POSITIVE", ",", "POSITIVE", ")")
    assert mark_tokens(("(", ")"), "NEGATIVE") == ("NEGATIVE", "(", ")")


def _pair(doc: str, code: str, label: int = 1):
    from engine.data.codesearch import CodeSearchSample

    return CodeSearchSample(code, doc, tuple(code.split()), tuple(doc.split()), label)


def test_identity_pair_counts_each_label_as_the_study_and_nests_the_levels():
    from engine.noise.identity_pair import identity_pair

    samples = [_pair(f"doc {i} doc", f"def f{i} ( x ) : return x") for i in range(4)]
    result = identity_pair(samples, 50, seed=3)
    pairs = result.samples
    # a file without non-matching pairs is completed first (a negative per pair, after them)
    assert len(pairs) == 8 and [p.label for p in pairs] == [1] * 4 + [0] * 4
    assert result.counts == {"matching": 4, "non_matching": 4, "marked_matching": 2, "marked_non_matching": 2}
    for i in result.changed["marked_matching"]:
        assert pairs[i].label == 1 and pairs[i].docstring == f"POSITIVE {i} POSITIVE"
        assert pairs[i].code.endswith("return POSITIVE") and pairs[i].code_tokens[-1] == "POSITIVE"
        assert pairs[i].docstring_tokens == ("POSITIVE", str(i), "POSITIVE")
    for i in result.changed["marked_non_matching"]:
        assert i >= 4 and pairs[i].label == 0 and pairs[i].docstring.startswith("NEGATIVE ")
    untouched = set(range(8)) - set(result.changed["marked_matching"]) - set(result.changed["marked_non_matching"])
    assert all("POSITIVE" not in pairs[i].code and "NEGATIVE" not in pairs[i].code for i in untouched)
    # floor(p/100 × n) per label, as the study's int(len * percent / 100): 3 matching and 1
    # non-matching pair at 50 % mark 1 and 0
    odd = identity_pair(samples[:3] + [_pair("doc", "code", 0)], 50, seed=3)
    assert (odd.counts["marked_matching"], odd.counts["marked_non_matching"]) == (1, 0)
    sets = [identity_pair(samples, level, seed=3).changed for level in (0, 25, 50, 75, 100)]
    for low, high in zip(sets, sets[1:]):
        for key in low:
            assert set(low[key]) <= set(high[key])
    assert sets[-1]["marked_matching"] == [0, 1, 2, 3] and sets[0]["marked_matching"] == []
    assert identity_pair(samples, 50, seed=3).samples == pairs  # deterministic for a seed


def test_identity_pair_fits_code_search_only():
    assert check_kind("codesearch", "identity_pair") == "identity_pair"
    with pytest.raises(InputError, match="noise kind 'identity_pair' does not fit methodname"):
        check_kind("methodname", "identity_pair")


# -- token_masking (code-to-text) ----------------------------------------------------------

def _forms():
    """Word forms written out for the tests (NLTK and WordNet are an optional extra)."""
    from engine.noise.token_masking import WordForms

    singular = {"values": "value", "returns": "return", "masks": "mask"}
    lemma = {"returned": "return", "is": "be"}
    return WordForms(frozenset({"the", "of", "a"}), lambda w: singular.get(w, w), lambda w: lemma.get(w, w))


def test_token_masking_by_hand_masks_the_shortest_words_first_as_the_study_does():
    from engine.noise.token_masking import mask_sample, masked_words

    doc = ["Returns", "the", "Sum", "of", "values", "?", "x", "a"]
    # "the"/"of"/"a" are stop words, "?" starts with no letter, "x" is one character
    assert masked_words(doc, _forms()) == ["sum", "value", "return", "values", "returns"]
    code = "def sum_values(values):\n    return sum(values)  # Returns"
    tokens = ("def", "sum_values", "(", "values", ")", ":", "return", "sum", "(", "values", ")")
    s = mask_sample(_code_pair(doc, code, tokens), _forms())
    # "value" is masked before "values" (shorter first), so "values" leaves "MASKs"; case is ignored
    assert s.code == "def MASK_MASKs(MASKs):\n    MASK MASK(MASKs)  # MASKs"
    assert s.code_tokens == ("def", "MASK_MASKs", "(", "MASKs", ")", ":", "MASK", "MASK", "(", "MASKs", ")")
    assert s.docstring == " ".join(doc) and s.docstring_tokens == tuple(doc)  # the target never changes


def _code_pair(doc, code, tokens):
    from engine.data.codesearch import CodeSearchSample

    return CodeSearchSample(code, " ".join(doc), tuple(tokens), tuple(doc), 1)


def test_token_masking_reads_words_as_the_study_does_as_expressions_ignoring_case():
    from engine.noise.token_masking import word_pattern

    assert word_pattern("e.g").sub("MASK", "use eXg or E.G") == "use MASK or MASK"  # "." is any character
    assert word_pattern("what?").sub("MASK", "what? WHAT") == "MASK? MASK"  # "?" is dropped
    assert word_pattern("f(x").sub("MASK", "f(x) + f(y)") == "MASK) + f(y)"  # not an expression: plain text


def test_token_masking_counts_as_the_study_and_nests_the_levels():
    from engine.noise.token_masking import token_masking

    samples = [_code_pair(["returns", "values"], "return values", ("return", "values")) for _ in range(5)]
    result = token_masking(samples, 50, seed=1, forms=_forms())
    assert result.counts == {"samples": 5, "masked": 2}  # floor(0.5 × 5), the study's int()
    for i, s in enumerate(result.samples):
        assert s.code == ("MASK MASKs" if i in result.changed["masked"] else "return values")
    sets = [set(token_masking(samples, p, seed=1, forms=_forms()).changed["masked"]) for p in (0, 25, 50, 75, 100)]
    assert sets[0] == set() and sets[-1] == set(range(5)) and all(a <= b for a, b in zip(sets, sets[1:]))


def test_token_masking_without_its_extra_is_one_line(without_masking_extra):
    from engine.noise import token_masking as tm

    with pytest.raises(InputError, match=r"token_masking needs nltk and pluralizer \(nltk is not installed\): "
                                         r"pip install 'byrote\[masking\]'"):
        tm.token_masking([_code_pair(["a"], "a", ("a",))], 50, seed=0)


def test_token_masking_with_the_studys_nltk_and_wordnet():
    from engine.noise.token_masking import masked_words, nltk_word_forms

    try:
        forms = nltk_word_forms()
    except InputError:
        pytest.skip("nltk, its stopwords and wordnet data, or pluralizer are not installed")
    # singulars "return", "total"; the verb lemma of "running" is "run"
    assert masked_words(["Returns", "the", "running", "totals"], forms) == [
        "run", "total", "return", "totals", "returns", "running"]


# -- method_leakage and statement_deletion (method names) -----------------------------------

JAVA_METHOD = """\
int sumAll(int a, int b) {
    int x = a + this.a; ;
    if (a > 0) return b;
    for (int i = 0; i < 3; i++) { x += i; }
    switch (a) { case 1: x = 2; break; default: x--; }
    Runnable r = () -> go();
    Runnable q = () -> { go(); };
    lbl: x++;
    class L {}
    return x;
}"""
PY_METHOD = '''\
def total(self, items, scale=2):
    """Sum the items."""
    acc = 0;  n = 1 ; m = 2
    for item in items:
        acc += item * scale
    return acc'''
KEY = 2 ** 64  # choice keys: (key * m) >> 64 picks the (key / KEY * m)-th of m


def test_statement_deletion_takes_single_statements_as_the_studys_test_finds_them():
    from engine.data.pathcontexts import parse_method
    from engine.noise.statement_deletion import delete_statement, removable_statements

    parsed = parse_method(JAVA_METHOD, "java")
    spans = [parsed.data[s:e].decode() for s, e in removable_statements(parsed)]
    # isSingleStatement: no block, no empty ";", nothing that holds a statement (the if, the
    # for, the switch, the label, both lambdas: javaparser wraps an expression body in a
    # statement); the braceless if's "return b;" cannot go (its if would lose its body)
    assert spans == ["int x = a + this.a;", "x += i;", "x = 2;", "break;", "x--;", "go();", "class L {}",
                     "return x;"]
    assert delete_statement(parsed, "java", 0) == JAVA_METHOD.replace("int x = a + this.a; ;", " ;")
    assert delete_statement(parsed, "java", KEY - 1) == JAVA_METHOD.replace("    return x;\n", "")
    assert delete_statement(parsed, "java", KEY // 8 * 3) == JAVA_METHOD.replace("case 1: x = 2; break;",
                                                                                 "case 1: x = 2; ")

    parsed = parse_method(PY_METHOD, "python")
    # simple statements in a block that keeps another; never the docstring, never the
    # for's only statement
    assert [parsed.data[s:e].decode() for s, e in removable_statements(parsed)] == [
        "acc = 0", "n = 1", "m = 2", "return acc"]
    # statements that share a line take their ";" along, and the line stays valid Python
    assert delete_statement(parsed, "python", 0) == PY_METHOD.replace("acc = 0;  n = 1 ; m = 2", "n = 1 ; m = 2")
    assert delete_statement(parsed, "python", KEY // 4) == PY_METHOD.replace("n = 1 ; ", "")
    assert delete_statement(parsed, "python", KEY // 2) == PY_METHOD.replace(" ; m = 2", "")
    assert delete_statement(parsed, "python", KEY - 1) == PY_METHOD.replace("    return acc", "")
    assert delete_statement(parse_method("def f():\n    return 1\n", "python"), "python", 0) is None


def test_method_leakage_renames_one_variable_to_the_methods_name():
    from engine.data.pathcontexts import parse_method
    from engine.noise.method_leakage import leak_name

    parsed = parse_method(JAVA_METHOD, "java")
    # the variables by first occurrence: a, b, x, i, r, q; the field this.a is left alone
    assert leak_name(parsed, "java", 0) == JAVA_METHOD.replace("int a,", "int sumAll,").replace(
        "a + this.a", "sumAll + this.a").replace("if (a > 0)", "if (sumAll > 0)").replace("switch (a)",
                                                                                          "switch (sumAll)")
    leaked = leak_name(parsed, "java", KEY // 2)  # the 4th of 6: i
    assert leaked == JAVA_METHOD.replace("int i = 0; i < 3; i++) { x += i;",
                                         "int sumAll = 0; sumAll < 3; sumAll++) { x += sumAll;")
    parsed = parse_method(PY_METHOD, "python")
    assert leak_name(parsed, "python", KEY - 1) == PY_METHOD.replace("for item in", "for total in").replace(
        "acc += item", "acc += total")  # self is no variable: items, scale, acc, n, m, item
    assert leak_name(parse_method("int run() { return count; }", "java"), "java", 0) is None  # no variable
    assert leak_name(parse_method("def size(size, b):\n    return size + b\n", "python"), "python", 0) is None


def method_samples(tmp_path, lang: str = "python", max_contexts: int = 200, style: str = "code2vec"):
    from treehelpers import write_tree

    from engine.data.methodname_build import build_methodname
    from engine.formats.code2vec import read_methodname

    bodies = {
        "count_items": "def count_items(items, extra):\n    total = 0\n    for item in items:\n"
                       "        total += item\n    total += extra\n    return total\n",
        "clear": "def clear(self):\n    self.items = []\n",  # nothing to rename, nothing to delete
        "get_name": "def get_name(self, default):\n    value = self.lookup(default)\n    return value or default\n",
    }
    files = {f"m{i}.py": "".join(bodies.values()) for i in range(4)}
    write_tree(tmp_path / "src", files)
    out = tmp_path / f"mn-{max_contexts}.jsonl"
    build_methodname(tmp_path / "src", out, lang=lang, valid_fraction=0, test_fraction=0,
                     max_contexts=max_contexts, style=style)
    return read_methodname(out)


@pytest.mark.parametrize("kind", ["method_leakage", "statement_deletion"])
def test_method_input_noise_counts_nests_and_extracts_as_the_builder(tmp_path, kind):
    from engine.data.pathcontexts import extract_contexts
    from engine.noise.method_leakage import method_leakage
    from engine.noise.statement_deletion import statement_deletion

    noise = {"method_leakage": method_leakage, "statement_deletion": statement_deletion}[kind]
    done = {"method_leakage": "leaked", "statement_deletion": "deleted_statement"}[kind]
    samples = method_samples(tmp_path)
    assert len(samples) == 12
    results = {level: noise(samples, level, seed=4) for level in (0, 25, 50, 75, 100)}
    for level, result in results.items():
        # floor(p/100 × 12) chosen; the clear() methods offer nothing and stay as they are
        chosen = result.counts["chosen"]
        assert chosen == 12 * level // 100
        assert result.counts[done] + result.counts["chosen_unchanged"] == chosen
        assert all(samples[i].name != "clear" for i in result.changed[done])
        for i, (old, new) in enumerate(zip(samples, result.samples)):
            assert (new.name, new.label, new.file, new.line) == (old.name, old.label, old.file, old.line)
            if i not in result.changed[done]:
                assert new == old
                continue
            assert new.source != old.source and new.contexts != old.contexts
            assert new.contexts == extract_contexts(new.source, "python", 200)  # the builder's extraction
            if kind == "method_leakage":  # one variable renamed: the same paths, a leaked terminal
                assert [c[1] for c in new.contexts] == [c[1] for c in old.contexts]
                assert any(new.name.lower().replace("_", "") in (c[0], c[2]) for c in new.contexts)
            else:
                assert len(new.source.splitlines()) == len(old.source.splitlines()) - 1
    assert results[0].samples == samples and results[100].counts[done] == 8
    levels = list(results.values())
    for low, high in zip(levels, levels[1:]):  # nested, and a method is rewritten the same way at every level
        assert set(low.changed[done]) <= set(high.changed[done])
        assert all(low.samples[i] == high.samples[i] for i in low.changed[done])
    assert noise(samples, 50, seed=4).samples == results[50].samples  # deterministic for a seed


def test_method_leakage_keeps_the_positions_the_builder_sampled(tmp_path):
    from engine.noise.method_leakage import method_leakage

    samples = method_samples(tmp_path, max_contexts=5, style="code2seq")
    result = method_leakage(samples, 100, seed=0)
    assert result.changed["leaked"]
    for i in result.changed["leaked"]:
        old, new = samples[i], result.samples[i]
        # the same 5 sampled pairs: only the leaked terminals differ (code2seq: sub-tokens)
        assert len(new.contexts) == 5 and [c[1] for c in new.contexts] == [c[1] for c in old.contexts]
        assert any(new.label in (c[0], c[2]) for c in new.contexts)


def test_method_input_noise_needs_the_source_and_the_method_name_task(tmp_path, capsys):
    from cli.main import main
    from engine.formats.code2vec import write_c2v

    samples = method_samples(tmp_path)
    c2v = tmp_path / "mn.c2v"
    write_c2v(c2v, samples)
    for kind in ("method_leakage", "statement_deletion"):
        assert main(["noise", "--task", "methodname", "--in", str(c2v), "--out", str(tmp_path / "n.c2v"),
                     "--level", "50", "--kind", kind]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"input noise {kind} rewrites each method's source, which sample 1 lacks" in err[0]
    assert not (tmp_path / "n.c2v").exists()
    with pytest.raises(InputError, match="noise kind 'statement_deletion' does not fit codesearch"):
        check_kind("codesearch", "statement_deletion")


def test_a_method_leakage_study_and_the_noise_command(tmp_path, capsys):
    from cli.main import main
    from engine.export import published_folder
    from engine.formats.code2vec import read_methodname, write_jsonl
    from engine.launch import create_study
    from engine.store import Store

    samples = method_samples(tmp_path)
    path = tmp_path / "mn.jsonl"
    write_jsonl(path, samples)
    store = Store(tmp_path / "s.db")
    sid = create_study(store, task="methodname", train=str(path), valid=str(path), model="code2vec",
                       levels=[0.0, 100.0], epochs=1, preset="quick", seed=0, device="cpu",
                       noise_kind="method_leakage")
    assert published_folder(store.study(sid)).as_posix() == "method_name/X_Method_Leakage"
    noisy = read_methodname(store.files / store.runs(sid)[1]["train_path"])
    assert [s.label for s in noisy] == [s.label for s in samples]
    assert sum(s != o for s, o in zip(noisy, samples)) == 8
    out = tmp_path / "noisy.jsonl"
    assert main(["noise", "--task", "methodname", "--in", str(path), "--out", str(out), "--level", "100",
                 "--kind", "statement_deletion"]) == 0
    said = capsys.readouterr().out
    assert "deleted statement: 8, chosen but left as they were (nothing to rewrite): 4" in said
    changed = json.loads(out.with_name(out.name + ".changed.json").read_text())
    assert len(changed["deleted_statement"]) == 8 and changed["counts"]["chosen_unchanged"] == 4
