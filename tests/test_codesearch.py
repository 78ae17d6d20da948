"""Code search with a fine-tuned encoder (CodeBERT's task in the extended study): the
CodeSearchNet layout, negatives, label noise, outputs and metrics by hand, and a study on
a tiny RoBERTa built here, killed and resumed."""
from __future__ import annotations

import json
import math
import sysconfig
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from engine.data.codesearch import CodeSearchSample, read_codesearch, with_negatives, write_codesearch
from engine.errors import InputError
from engine.launch import create_study
from engine.noise.codesearch import noise_codesearch
from engine.store import Store
from engine.study import train_run
from conftest import noise_rate_rows

torch.set_num_threads(2)
STDLIB = Path(sysconfig.get_paths()["stdlib"])


@pytest.fixture(scope="module")
def encoder(tmp_path_factory) -> Path:
    from engine.models.pair_classifier import build_local_encoder

    texts = [(STDLIB / name).read_text(encoding="utf-8") for name in ("bisect.py", "colorsys.py", "keyword.py")]
    return build_local_encoder(tmp_path_factory.mktemp("enc") / "tiny-roberta", texts, positions=260)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    from engine.data.codesearch_build import build_codesearch

    report = build_codesearch(STDLIB / "email", tmp_path_factory.mktemp("cs") / "email.jsonl", limit=160)
    assert report.written["train"] > 60 and report.written["valid"] + report.written["test"] > 10
    return report


def sample(doc: str, code: str, label: int = 1) -> CodeSearchSample:
    return CodeSearchSample(code, doc, tuple(code.split()), tuple(doc.split()), label)


# -- the layout, negatives and noise ---------------------------------------------------------

def test_codesearchnet_records_round_trip_and_bad_lines_are_named(tmp_path):
    good = {"code": "def f(): pass", "docstring": "does f", "code_tokens": ["def", "f"],
            "docstring_tokens": ["does", "f"], "url": "u"}
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps(good) + "\n\n" + json.dumps({**good, "label": 0}) + "\n")
    a, b = read_codesearch(path)
    assert (a.label, b.label, a.code_tokens) == (1, 0, ("def", "f"))
    write_codesearch(tmp_path / "b.jsonl", [a, b])
    assert [json.loads(line)["url"] for line in (tmp_path / "b.jsonl").read_text().splitlines()] == ["u", "u"]
    for text, message in ((json.dumps({k: v for k, v in good.items() if k != "code_tokens"}),
                           "missing field 'code_tokens'"),
                          (json.dumps({**good, "label": 2}), "field 'label' must be 0 or 1"),
                          ("{not json", "malformed JSON"),
                          (json.dumps({**good, "docstring": 3}), "field 'docstring' must be a string")):
        path.write_text(json.dumps(good) + "\n" + text + "\n")
        with pytest.raises(InputError, match=f"a.jsonl:2: {message}"):
            read_codesearch(path)


def test_negatives_pair_each_docstring_with_one_other_code():
    samples = [sample(f"doc {i}", f"code {i}") for i in range(5)]
    out = with_negatives(samples, seed=0)
    assert out[:5] == samples and [s.label for s in out[5:]] == [0] * 5
    assert [s.docstring for s in out[5:]] == [s.docstring for s in samples]
    codes = [s.code for s in out[5:]]
    assert sorted(codes) == sorted(s.code for s in samples)  # each code once
    assert all(n.code != s.code for n, s in zip(out[5:], samples))  # never its own
    assert with_negatives(out, seed=1) == out  # a file with negatives is used as it is


def test_noise_mispairs_exactly_the_level_of_matching_pairs():
    samples = [sample(f"doc {i}", f"code {i}") for i in range(8)] + [sample("x", "y", 0)]
    for level, k in ((0, 0), (25, 2), (50, 4), (100, 8)):
        result = noise_codesearch(samples, level, seed=3)
        changed = result.changed["mispaired"]
        assert len(changed) == k and result.counts == {"matching": 8, "mispaired": k}
        for i, (old, new) in enumerate(zip(samples, result.samples)):
            assert new.code == old.code and new.label == old.label  # the label stays: it is now wrong
            assert (new.docstring != old.docstring) == (i in changed)
    assert set(noise_codesearch(samples, 25, 3).changed["mispaired"]) <= set(
        noise_codesearch(samples, 50, 3).changed["mispaired"])  # nested across levels
    one = noise_codesearch(samples[:4], 25, seed=0)  # one chosen pair takes another's docstring
    (i,) = one.changed["mispaired"]
    assert one.samples[i].docstring != samples[i].docstring
    with pytest.raises(InputError, match="two matching pairs"):
        noise_codesearch(samples[:1], 100, seed=0)


# -- outputs and metrics ---------------------------------------------------------------------

def test_outputs_and_metrics_by_hand():
    from engine.models.pair_classifier import pair_outputs
    from engine.tasks.codesearch import codesearch_metrics

    logits = torch.log(torch.tensor([[0.2, 0.8], [0.6, 0.4], [0.9, 0.1]]))
    out = pair_outputs(logits, SimpleNamespace(target=torch.tensor([1, 1, 0])))
    assert out["pred"].tolist() == [1, 0, 0] and out["correct"].tolist() == [True, False, True]
    assert out["score"].tolist() == pytest.approx([0.8, 0.6, 0.9])
    assert out["loss"].tolist() == pytest.approx([-math.log(0.8), -math.log(0.4), -math.log(0.9)], rel=1e-5)
    m = codesearch_metrics({k: v.numpy() for k, v in out.items()})
    losses = np.array([-math.log(0.8), -math.log(0.4), -math.log(0.9)])
    gini = np.abs(losses[:, None] - losses[None, :]).sum() / (2 * 3 * losses.sum())
    assert m["accuracy"] == pytest.approx(2 / 3) and m["mean_score"] == pytest.approx(2.3 / 3)
    assert m["loss"] == pytest.approx(losses.mean(), rel=1e-5) and m["gini_loss"] == pytest.approx(gini, rel=1e-5)


def test_pairs_are_tokenized_once_and_cut_to_max_len(encoder):
    from engine.lm.hub import load_tokenizer
    from engine.models.pair_classifier import encode_pairs, make_pair_batch

    tokenizer = load_tokenizer(str(encoder))
    samples = [sample("returns the sum", "def add(a, b):\n    return a + b\n"), sample("x " * 300, "y " * 300, 0)]
    enc = encode_pairs(samples, tokenizer, 64)
    assert enc.lengths[1] == 64 and enc.lengths[0] < 64 and enc.target.tolist() == [1, 0]
    first = enc.ids[: enc.off[1]].tolist()
    assert first == tokenizer("returns the sum", "def add(a, b):\n    return a + b\n")["input_ids"]
    batch = make_pair_batch(enc, np.array([0, 1]))
    assert batch.input_ids.shape == (2, 64) and batch.attention_mask[0].sum().item() == enc.lengths[0]
    assert (batch.input_ids[0, enc.lengths[0]:] == tokenizer.pad_token_id).all()


# -- studies ---------------------------------------------------------------------------------

def _study(store, pairs, encoder, levels=(0.0, 100.0), epochs=2):
    return create_study(store, task="codesearch", train=str(pairs.train_path), valid=str(pairs.valid_path),
                        model="codebert", levels=list(levels), epochs=epochs, preset="quick", seed=1,
                        device="cpu", overrides={"encoder": str(encoder), "max_len": 64, "batch_size": 16,
                                                 "lr": 1e-3})


@pytest.mark.slow
def test_a_code_search_study_records_accuracy_and_exports_it(pairs, encoder, tmp_path):
    store = Store(tmp_path / "s.db")
    sid = _study(store, pairs, encoder)
    for run in store.runs(sid):
        train_run(store, run["id"])
    noisy = read_codesearch(store.files / store.runs(sid)[1]["train_path"])
    assert sum(a.docstring != b.docstring for a, b in zip(read_codesearch(pairs.train_path), noisy)) > 0
    for run in store.runs(sid):
        n_train = len(read_codesearch(pairs.train_path))
        assert store.run(run["id"])["n_train"] == 2 * n_train  # a negative per pair
        for split in ("train", "valid"):
            values = {m["name"]: m["value"] for m in store.metrics(run["id"], split) if m["epoch"] == 2}
            assert 0 <= values["accuracy"] <= 1 and 0.5 <= values["mean_score"] <= 1 and values["loss"] > 0
    from engine.export import export_curves

    names = {p.relative_to(tmp_path / "x").as_posix() for p in export_curves(store, sid, tmp_path / "x")}
    stem = f"CodeBERT_{Path(pairs.train_path).stem}"
    assert {f"accuracy/{stem}_train.csv", f"accuracy/{stem}_dev.csv", f"gini_loss/{stem}_train.csv"} <= names
    published = {p.relative_to(tmp_path / "y").as_posix()
                 for p in export_curves(store, sid, tmp_path / "y", layout="published")}
    assert f"code_search/Y_Label_Shuffling/accuracy/{stem}_dev.csv" in published


def test_an_identity_pair_study_marks_both_labels_and_trains_on_each_pair_once(pairs, encoder, tmp_path, capsys):
    from cli.main import main
    from engine.export import published_folder

    store = Store(tmp_path / "s.db")
    sid = create_study(store, task="codesearch", train=str(pairs.train_path), valid=str(pairs.valid_path),
                       model="codebert", levels=[0.0, 100.0], epochs=1, preset="quick", seed=1, device="cpu",
                       overrides={"encoder": str(encoder), "max_len": 32, "batch_size": 32}, noise_kind="identity_pair")
    assert published_folder(store.study(sid)).as_posix() == "code_search/X_Identity_Pair"
    n = len(read_codesearch(pairs.train_path))
    clean, full = (read_codesearch(store.files / run["train_path"]) for run in store.runs(sid))
    assert len(clean) == len(full) == 2 * n  # completed with their negatives, then marked
    assert [s.label for s in full] == [1] * n + [0] * n  # labels never change
    assert all(s.docstring.count("POSITIVE") > 0 and "POSITIVE" in s.code for s in full[:n])
    assert all("NEGATIVE" in s.docstring and "NEGATIVE" in s.code for s in full[n:])
    assert not any("POSITIVE" in s.code or "NEGATIVE" in s.code for s in clean)
    run = store.runs(sid)[1]
    train_run(store, run["id"])
    assert store.run(run["id"])["n_train"] == 2 * n  # the file's negatives are used as they are, not doubled
    out = tmp_path / "marked.jsonl"
    assert main(["noise", "--task", "codesearch", "--in", str(pairs.train_path), "--out", str(out), "--level", "50",
                 "--kind", "identity_pair"]) == 0
    said = capsys.readouterr().out
    assert f"{2 * n} samples at 50% noise (marked matching: {n // 2}, marked non matching: {n // 2})" in said


def test_an_encoder_that_is_not_a_model_is_one_line(pairs, tmp_path):
    store = Store(tmp_path / "s.db")
    empty = tmp_path / "not-a-model"
    empty.mkdir()
    with pytest.raises(InputError, match="not a model directory"):
        _study(store, pairs, empty)
    with pytest.raises(InputError, match="no such model directory"):
        _study(store, pairs, tmp_path / "missing" / "x")
    assert store.studies() == []


@pytest.mark.slow
def test_kill_9_then_resume_a_code_search_run(pairs, encoder, tmp_path):
    from test_study import kill_9_and_resume

    kill_9_and_resume(tmp_path, lambda store: _study(store, pairs, encoder, levels=(50.0,), epochs=8), epochs=8,
                      into_second=0.0)


@pytest.mark.slow
def test_cleanlab_finds_mispaired_pairs_out_of_fold(pairs, encoder, tmp_path, capsys):
    """Code search's k-fold probabilities: the classifier's two, per (docstring, code) pair;
    the detectors get cleanlab's row and each run a noise estimate."""
    import json

    import numpy as np

    from cli.main import main
    from engine.kfold import oof_path

    store = Store(tmp_path / "k.db")
    sid = _study(store, pairs, encoder, levels=(0.0, 50.0))
    rows = noise_rate_rows(store, sid, capsys)
    db = ["--db", str(store.path)]
    assert [r["level"] for r in rows] == [0.0, 50.0] and 0 < rows[1]["flipped"] < 0.5  # positives only are mispaired
    with np.load(oof_path(store, store.runs(sid)[1]["id"], 2)) as saved:
        assert saved["pred_probs"].shape == (len(saved["sample"]), 2) and set(saved["label"].tolist()) == {0, 1}
    assert main([*db, "detectors", "--study", str(sid), "--kfold", "2", "--json"]) == 0
    assert "cleanlab" in [r["detector"] for r in json.loads(capsys.readouterr().out)]
