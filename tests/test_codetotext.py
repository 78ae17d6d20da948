"""Code-to-text (CodeBERT's docstring generation in the extended study): smoothed BLEU-4
by hand, and a study on a tiny RoBERTa built here."""
from __future__ import annotations

import math
import sysconfig
from pathlib import Path

import pytest

from engine.errors import InputError
from engine.launch import create_study
from engine.metrics.bleu import sentence_bleu, smoothed_bleu, split_puncts
from engine.store import Store
from engine.study import train_run

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def test_smoothed_bleu_by_hand():
    # p1 = 3/3; p2..p4 = (c + 1) / (g + 1) = 3/3, 2/2, 1/1; brevity exp(1 - 8/4)
    assert sentence_bleu("returns the sum of a and b", "returns the sum") == pytest.approx(math.exp(-1))
    assert sentence_bleu("get the value", "get the value") == pytest.approx(1.0)
    # case and punctuation: "get the value ." against "get the value": brevity exp(1 - 5/4)
    assert split_puncts("Get the VALUE.") == "get the value ."
    assert sentence_bleu("Get the VALUE.", "get the value") == pytest.approx(math.exp(-0.25))
    # clipped counts: p1 5/7, p2 (3+1)/(6+1), p3 (1+1)/(5+1), p4 (0+1)/(4+1); longer: no penalty
    expected = math.exp((math.log(5 / 7) + math.log(4 / 7) + math.log(2 / 6) + math.log(1 / 5)) / 4)
    assert sentence_bleu("the cat sat on the mat", "the cat the cat on the mat") == pytest.approx(expected)
    # an empty prediction: every p is 0/0 or 1/1 as the evaluator computes it; only brevity counts
    assert sentence_bleu("a b c d", "") == pytest.approx(math.exp(-4))
    assert smoothed_bleu(["get the value", "a b c d"], ["get the value", ""]) == pytest.approx(
        100 * (1 + math.exp(-4)) / 2)
    assert math.isnan(smoothed_bleu([], []))
    with pytest.raises(ValueError):
        smoothed_bleu(["a"], [])


def test_beam_search_by_hand():
    """bos 0, end 2. Greedy takes 1 (0.6), then 1 (a tie, the first), then the end: 0.30.
    A beam of 2 also keeps 3 (0.4), whose end comes at 0.9: 0.36, the better name."""
    import torch
    from types import SimpleNamespace

    from engine.models.seq2seq import Seq2Seq

    table = {(0,): [0, 0.6, 0, 0.4], (0, 1): [0, 0.5, 0, 0.5], (0, 3): [0, 0, 0.9, 0.1],
             (0, 1, 1): [0, 0, 1, 0], (0, 1, 3): [0, 0, 1, 0], (0, 3, 3): [0, 0, 1, 0]}

    def decode(memory, mask, ids):
        rows = [table.get(tuple(row), [0.25] * 4) for row in ids.tolist()]
        last = torch.log(torch.tensor(rows) + 1e-12)
        return last[:, None, :].expand(len(rows), ids.shape[1], 4)

    model = SimpleNamespace(_decode=decode, bos_id=0, eos_id=2, max_target=6)
    memory, mask = torch.zeros(1, 1, 1), torch.ones(1, 1, dtype=torch.long)
    assert Seq2Seq.beam_search(model, memory, mask, 2) == [3]
    assert Seq2Seq.beam_search(model, memory, mask, 1) == [1, 1]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from engine.data.codesearch_build import build_codesearch
    from engine.models.pair_classifier import build_local_encoder

    folder = tmp_path_factory.mktemp("c2t")
    texts = [(STDLIB / name).read_text(encoding="utf-8") for name in ("bisect.py", "colorsys.py", "keyword.py")]
    return build_local_encoder(folder / "enc", texts, positions=260), build_codesearch(STDLIB / "email",
                                                                                        folder / "cs.jsonl", limit=120)


def _study(store, setup, levels=(0.0, 100.0), epochs=2):
    encoder, data = setup
    return create_study(store, task="codetotext", train=str(data.train_path), valid=str(data.valid_path),
                        model="codebert", levels=list(levels), epochs=epochs, preset="quick", seed=1, device="cpu",
                        overrides={"encoder": str(encoder), "max_source_len": 64, "max_target_len": 12,
                                   "decoder_layers": 1, "lr": 1e-3})


@pytest.mark.slow
def test_a_code_to_text_study_records_bleu_loss_and_scores(setup, tmp_path):
    from engine.data.codesearch import read_codesearch

    store = Store(tmp_path / "s.db")
    sid = _study(store, setup)
    for run in store.runs(sid):
        train_run(store, run["id"])
    clean, noisy = read_codesearch(setup[1].train_path), read_codesearch(store.files / store.runs(sid)[1]["train_path"])
    assert all(a.docstring != b.docstring for a, b in zip(clean, noisy))  # 100 %: every docstring swapped
    for run in store.runs(sid):
        valid = {m["name"]: m["value"] for m in store.metrics(run["id"], "valid") if m["epoch"] == 2}
        train = {m["name"]: m["value"] for m in store.metrics(run["id"], "train") if m["epoch"] == 2}
        assert 0 <= valid["bleu"] <= 100 and "bleu" not in train  # decoded on held-out data only
        assert valid["loss"] > 0 and 0 < valid["mean_score"] <= 1 and 0 <= train["gini_loss"] <= 1
    from engine.export import export_curves

    names = {p.relative_to(tmp_path / "x").as_posix() for p in export_curves(store, sid, tmp_path / "x")}
    stem = f"CodeBERT_{Path(setup[1].train_path).stem}"
    assert {f"bleu/{stem}_dev.csv", f"prediction_score/{stem}_dev.csv"} <= names


def test_a_beam_of_one_is_greedy_and_a_wider_beam_decodes_whole_rows(setup):
    import numpy as np
    import torch

    from engine.data.codesearch import read_codesearch
    from engine.presets import load_preset
    from engine.study import build_training
    from engine.tasks import get_task

    spec = get_task("codetotext")
    cfg = load_preset("quick", "codetotext", {"encoder": str(setup[0]), "max_source_len": 64, "max_target_len": 8,
                                              "decoder_layers": 1})
    samples = read_codesearch(setup[1].train_path)[:4]
    prepared = spec.prepare(samples, samples, cfg)
    model, _, _ = build_training(spec, "codebert", cfg, prepared, torch.device("cpu"), 0)
    model.eval()
    batch = next(spec.batches(prepared.valid, np.arange(4), cfg))
    greedy = model.generate(batch, 1)
    assert torch.equal(model.generate(batch, 1), greedy) and greedy.shape == (4, 7)
    assert [model.beam_search(*_one(model, batch, i), 1) for i in range(4)] == [
        row[:row.index(model.eos_id)] if model.eos_id in row else row
        for row in greedy.tolist()]
    wide = model.generate(batch, 3)
    assert wide.shape == (4, 7) and torch.equal(model.generate(batch, 3), wide)


def _one(model, batch, i):
    memory = model.encoder(batch.source, attention_mask=batch.source_mask)[0].transpose(0, 1)
    return memory[:, i:i + 1], batch.source_mask[i:i + 1]


def test_non_matching_pairs_are_refused_in_one_line(setup, tmp_path):
    from engine.data.codesearch import read_codesearch, with_negatives, write_codesearch

    bad = tmp_path / "pairs.jsonl"
    write_codesearch(bad, with_negatives(read_codesearch(setup[1].train_path), seed=0))
    store = Store(tmp_path / "s.db")
    with pytest.raises(InputError, match="code-to-text trains on matching pairs only"):
        create_study(store, task="codetotext", train=str(bad), valid=str(bad), model="codebert", levels=[0.0],
                     epochs=1, preset="quick", seed=0, device="cpu", overrides={"encoder": str(setup[0])})
    assert store.studies() == []


@pytest.mark.slow
def test_kill_9_then_resume_a_code_to_text_run(setup, tmp_path):
    from test_study import kill_9_and_resume

    kill_9_and_resume(tmp_path, lambda store: _study(store, setup, levels=(50.0,), epochs=8), epochs=8, into_second=0.0)


def test_the_linear_schedule_is_codexglues():
    """``lr_schedule=linear``: transformers' get_linear_schedule_with_warmup as CodeXGLUE's
    code-to-text run.py sets it (warm-up 10 % of all steps), by hand: 3 epochs of
    ceil(10 / 4) = 3 batches, 9 steps, int(0.9) = 0 warm-up steps, then (9 - s) / 9."""
    from types import SimpleNamespace

    import torch

    from engine.study import build_training

    class Spec:
        @staticmethod
        def build_model(name, cfg, prepared):
            return torch.nn.Linear(2, 2)

    cfg = {"lr": 1.0, "batch_size": 4, "lr_schedule": "linear", "warmup_fraction": 0.1, "warmup_steps": 0}
    prepared = SimpleNamespace(train=list(range(10)))
    _, optim, sched = build_training(Spec, "m", cfg, prepared, torch.device("cpu"), 0, epochs=3)
    rates = []
    for _ in range(9):
        rates.append(optim.param_groups[0]["lr"])
        optim.step()
        sched.step()
    assert rates == pytest.approx([(9 - s) / 9 for s in range(9)])
    # a warm-up of 3 steps over 30 (epochs=10): 0, 1/3, 2/3, then (30 - s) / 27
    _, optim, sched = build_training(Spec, "m", {**cfg, "warmup_fraction": 0.1}, prepared, torch.device("cpu"), 0,
                                     epochs=10)
    rates = []
    for _ in range(5):
        rates.append(optim.param_groups[0]["lr"])
        optim.step()
        sched.step()
    assert rates == pytest.approx([0.0, 1 / 3, 2 / 3, 27 / 27, 26 / 27])


def test_a_token_masking_study_masks_the_code_and_never_the_docstring(setup, tmp_path, monkeypatch):
    from engine.data.codesearch import read_codesearch
    from engine.export import published_folder
    from engine.noise import token_masking as tm
    from engine.noise.token_masking import WordForms

    # the study's word forms are an optional extra: here stop words and forms written out
    monkeypatch.setattr(tm, "nltk_word_forms", lambda: WordForms(frozenset({"the", "a", "of"}), str, str))
    encoder, data = setup
    store = Store(tmp_path / "s.db")
    sid = create_study(store, task="codetotext", train=str(data.train_path), valid=str(data.valid_path),
                       model="codebert", levels=[0.0, 100.0], epochs=1, preset="quick", seed=1, device="cpu",
                       overrides={"encoder": str(encoder)}, noise_kind="token_masking")
    assert published_folder(store.study(sid)).as_posix() == "code_text/X_Token_Masking"
    clean, full = (read_codesearch(store.files / run["train_path"]) for run in store.runs(sid))
    source = read_codesearch(data.train_path)
    assert clean == source and [s.docstring_tokens for s in full] == [s.docstring_tokens for s in source]
    masked = sum("MASK" in " ".join(s.code_tokens) for s in full)
    assert masked > len(full) // 2 and not any("MASK" in " ".join(s.code_tokens) for s in source)


def test_token_masking_without_its_extra_is_one_line_and_no_study(setup, tmp_path, without_masking_extra, capsys):
    from cli.main import main

    encoder, data = setup
    db = tmp_path / "s.db"
    code = main(["--db", str(db), "study", "--task", "codetotext", "--model", "codebert", "--train",
                 str(data.train_path), "--valid", str(data.valid_path), "--noise", "0,50", "--epochs", "1",
                 "--preset", "quick", "--set", f"encoder={encoder}", "--noise-kind", "token_masking"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "token_masking needs nltk and pluralizer" in err[0]
    assert Store(db).studies() == []
