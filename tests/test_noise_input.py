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
