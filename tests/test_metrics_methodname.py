"""engine.metrics.methodname: sub-token F1 as code2vec counts it, exact match, CSR (§4.3)."""
from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.metrics import gini
from engine.metrics.methodname import (
    METHODNAME_METRIC_INFO, OOV, critical_flags, csr, exact_match, legal_name, methodname_metrics,
    precision_recall_f1, subtoken_count_arrays, subtoken_counts, subtokens,
)


# -- sub-token counting ------------------------------------------------------------------

@pytest.mark.parametrize("pred, true, expected", [
    ("get|name", "get|name", (2, 0, 0)),
    # repeated predicted sub-tokens: each occurrence found in the true name is a TP
    ("get|get|name", "get|name", (3, 0, 0)),
    ("get|get|get", "get|name", (3, 0, 1)),
    # a repeated true sub-token found in the prediction is no FN, however often it repeats
    ("name", "get|name|name", (1, 0, 1)),
    # ... and one missing from the prediction is an FN per occurrence
    ("get", "set|set|get", (1, 0, 2)),
    ("set|value", "get|value", (1, 1, 1)),
    ("to|string", "hash|code", (0, 2, 2)),
    # order does not matter
    ("name|get", "get|name", (2, 0, 0)),
    # no prediction: nothing predicted, every true sub-token missed
    ("", "get|name", (0, 0, 2)),
    (None, "get|name", (0, 0, 2)),
    (OOV, "get|name", (0, 0, 2)),
    ("<UNK>", "get|name", (0, 0, 2)),
    # an empty true name has no sub-token to find
    ("get", "", (0, 1, 0)),
])
def test_subtoken_counts_by_hand(pred, true, expected):
    assert subtoken_counts(pred, true) == expected


def test_subtokens_split_on_bar_only():
    assert subtokens("get|foo|bar") == ["get", "foo", "bar"]
    assert subtokens("equals") == ["equals"]
    assert subtokens("") == [] and subtokens(None) == [] and subtokens(OOV) == []


def test_legal_names_follow_code2vec():
    assert legal_name("get|name") and legal_name("equals") and legal_name("setUp")
    assert legal_name("utf|8")  # byrote keeps digit sub-tokens (code2vec deletes digits)
    for bad in (OOV, "<OOV>", "<UNK>", "", "_", "8", "get_name", "get name", "get|é", None):
        assert not legal_name(bad), bad


def test_exact_match_compares_normalized_names():
    assert exact_match("get|name", "get|name")
    assert exact_match("get|name", "getName")  # normalize_word: letters only, lower case
    assert not exact_match("get|get|name", "get|name")
    assert not exact_match("name|get", "get|name")
    assert not exact_match("utf|8", "utf|16")
    assert not exact_match("", "") and not exact_match(OOV, "get")


def test_precision_recall_f1_zero_cases():
    assert precision_recall_f1(0, 0, 0) == (0.0, 0.0, 0.0)
    assert precision_recall_f1(0, 0, 5) == (0.0, 0.0, 0.0)  # nothing predicted
    assert precision_recall_f1(0, 3, 0) == (0.0, 0.0, 0.0)  # nothing right, nothing to find
    assert precision_recall_f1(2, 0, 0) == (1.0, 1.0, 1.0)


# -- one epoch's metrics -----------------------------------------------------------------

TARGETS = [OOV, "get|get|name", "set|value", "to|string"]


def four_samples():
    # sample  prediction      true name    (tp, fp, fn)
    # 0       get|get|name    get|name     (3, 0, 0)
    # 1       set|value       get|value    (1, 1, 1)
    # 2       <OOV> = none    get|name     (0, 0, 2)
    # 3       to|string       to|string    (2, 0, 0)
    # totals                               (6, 1, 3)
    # micro: P = 6/7, R = 6/9 = 2/3, F1 = 2 (6/7)(2/3) / (6/7 + 2/3) = (24/21) / (32/21) = 0.75
    # (the macro average of the per-sample F1s, (1 + 0.5 + 0 + 1) / 4 = 0.625, is NOT it)
    arrays = {
        "pred": np.array([1, 2, 0, 3]),
        "score": np.array([0.9, 0.6, 0.3, 0.8]),
        "loss": np.array([0.5, 1.0, 2.0, 0.5]),
    }
    true = ["get|name", "get|value", "get|name", "to|string"]
    return arrays, true


def test_methodname_metrics_micro_average_by_hand():
    arrays, true = four_samples()
    m = methodname_metrics(arrays, true, TARGETS)
    assert m["precision"] == pytest.approx(6 / 7)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["f1_score"] == pytest.approx(0.75)
    assert m["exact_match"] == pytest.approx(0.25)  # only sample 3 (get|get|name != get|name)
    assert m["loss"] == pytest.approx(1.0)
    # sorted losses .5 .5 1 2: sum (2i-n-1) x_(i) = -1.5 - .5 + 1 + 6 = 5 -> 5 / (4 * 4)
    assert m["gini_loss"] == pytest.approx(0.3125) == gini(arrays["loss"])
    assert m["mean_score"] == pytest.approx(0.65)
    assert m["n"] == 4.0
    assert set(m) <= set(METHODNAME_METRIC_INFO)


def test_methodname_metrics_arrays_match_the_scalar_definition():
    arrays, true = four_samples()
    tp, fp, fn = subtoken_count_arrays([TARGETS[i] for i in arrays["pred"]], true)
    assert tp.tolist() == [3, 1, 0, 2] and fp.tolist() == [0, 1, 0, 0] and fn.tolist() == [0, 1, 2, 0]


def test_methodname_metrics_degenerate_inputs():
    empty = {k: np.zeros(0) for k in ("pred", "score", "loss")}
    m = methodname_metrics(empty, [], TARGETS)
    assert all(math.isnan(m[k]) for k in ("precision", "recall", "f1_score", "exact_match", "loss", "gini_loss"))
    nothing = {"pred": np.zeros(2, int), "score": np.ones(2), "loss": np.ones(2)}
    m = methodname_metrics(nothing, ["get", "run"], TARGETS)
    assert (m["precision"], m["recall"], m["f1_score"], m["exact_match"]) == (0.0, 0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="missing"):
        methodname_metrics({"pred": np.zeros(1)}, ["get"], TARGETS)
    with pytest.raises(ValueError, match="shape"):
        methodname_metrics({k: np.zeros(3) for k in ("pred", "score", "loss")}, ["get"], TARGETS)
    with pytest.raises(ValueError, match="outside"):
        methodname_metrics({"pred": np.array([7]), "score": np.ones(1), "loss": np.ones(1)}, ["get"], TARGETS)


# -- critical sample ratio -----------------------------------------------------------------

def test_csr_on_hand_built_arrays():
    critical = np.array([True, False, True, False, True])
    correct = np.array([True, True, False, False, False])
    assert csr(critical, correct) == pytest.approx({"csr_all": 3 / 5, "csr_correct": 1 / 2, "csr_incorrect": 2 / 3})
    out = csr(critical, np.ones(5, bool))
    assert out["csr_correct"] == pytest.approx(3 / 5) and math.isnan(out["csr_incorrect"])
    assert all(math.isnan(v) for v in csr([], []).values())
    with pytest.raises(ValueError):
        csr([True], [True, False])


def fake_model(text: str) -> str:
    """A model whose predictions we control: it reads the program text."""
    words = text.replace("=", " ").replace("+", " ").split()
    if "total" in words:
        return "get|total"
    return "size" if "n" in words else "run"


# program, its variables (parameters and locals), its true name
PROGRAMS = [
    ("total = a + b", ["total", "a", "b"], "get|total"),  # renaming total changes the prediction
    ("x = a + b", ["x", "a", "b"], "run"),  # no renaming changes it
    ("total = n", ["n"], "size"),  # `total` is a field, not renamed
    ("y = n", ["y", "n"], "get|total"),  # renaming n changes the prediction
    ("return 0", [], "run"),  # no variable: no candidate, so not critical
]


def candidates(text: str, variables: list[str]) -> list[str]:
    """One candidate per variable, that variable alone renamed to var1 (word-level here;
    the real transformation renames through tree-sitter)."""
    words = text.split()
    return [" ".join("var1" if w == v else w for w in words) for v in variables]


def test_csr_bookkeeping_with_a_model_whose_predictions_we_control():
    original = [fake_model(text) for text, _, _ in PROGRAMS]
    assert original == ["get|total", "run", "get|total", "size", "run"]
    cand_pred, owner = [], []
    for i, (text, variables, _) in enumerate(PROGRAMS):
        for cand in candidates(text, variables):
            cand_pred.append(fake_model(cand))
            owner.append(i)
    assert len(cand_pred) == 3 + 3 + 1 + 2 + 0  # batched: all candidates in one flat list
    critical = critical_flags(original, cand_pred, owner)
    assert critical.tolist() == [True, False, False, True, False]
    correct = np.array([exact_match(p, t) for p, (_, _, t) in zip(original, PROGRAMS)])
    assert correct.tolist() == [True, True, False, False, True]
    # all: 2 of 5 critical; correct: sample 0 of {0, 1, 4}; incorrect: sample 3 of {2, 3}
    assert csr(critical, correct) == pytest.approx({"csr_all": 2 / 5, "csr_correct": 1 / 3, "csr_incorrect": 1 / 2})

    # the same with vocabulary ids instead of strings
    vocab = {name: i for i, name in enumerate(sorted(set(original) | set(cand_pred)))}
    ids = critical_flags(np.array([vocab[p] for p in original]), np.array([vocab[p] for p in cand_pred]), owner)
    assert ids.tolist() == critical.tolist()


def test_critical_flags_checks_its_inputs():
    assert critical_flags([1, 2], [], []).tolist() == [False, False]
    with pytest.raises(ValueError, match="owner"):
        critical_flags([1, 2], [1], [2])
    with pytest.raises(ValueError):
        critical_flags([1, 2], [1, 2], [0])


def test_module_is_numpy_only():
    code = "import sys, engine.metrics.methodname; assert 'torch' not in sys.modules"
    root = Path(__file__).resolve().parents[1]
    assert subprocess.run([sys.executable, "-c", code], cwd=root).returncode == 0
