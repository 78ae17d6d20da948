"""code2seq (Alon et al. 2019; Rabin et al. §3.1.3): its counting, outputs, encoding,
model, presets, and studies run with it, killed and resumed."""
from __future__ import annotations

import math
import sysconfig
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from engine.data.methodname import MethodNameSample
from engine.errors import InputError
from engine.launch import create_study
from engine.metrics.code2seq import code2seq_counts, code2seq_exact, code2seq_metrics, decode_names
from engine.metrics.methodname import exact_match, subtoken_counts
from engine.models.c2s_batching import (
    C2SVocabs, encode_code2seq, make_c2s_batch, path_nodes,
)
from engine.models.code2seq import Code2Seq, build_code2seq, code2seq_outputs
from engine.sizes import code2seq_param_count
from engine.presets import load_preset
from engine.store import Store
from engine.study import train_run
from engine.tasks import get_task

torch.set_num_threads(2)
QUICK = {**load_preset("quick", "code2seq"), "batch_size": 32, "csr_samples": 0}


# -- counting, as code2seq counts ------------------------------------------------------------

@pytest.mark.parametrize("pred, true, counts", [
    ("get|name", "get|name", (2, 0, 0)),
    ("get|name", "getname", (1, 0, 0)),       # equal once concatenated: tp = len(true)
    ("get|get|name", "get|name", (3, 0, 0)),  # membership, repetitions counted
    ("set|value", "get|value", (1, 1, 1)),
    ("", "get|name", (0, 0, 2)),              # nothing decoded
    ("<UNK>|name", "get|name", (1, 0, 1)),    # <UNK> is dropped from the prediction
    ("<S>|name", "get|name", (1, 1, 1)),      # ... <S> is not (code2seq drops only UNK, PAD, </S>)
])
def test_subtoken_counts_by_hand(pred, true, counts):
    assert code2seq_counts([w for w in pred.split("|") if w], true.split("|")) == counts


def test_counting_departs_from_code2vecs_where_code2seq_does():
    assert subtoken_counts("get|name", "getname") == (0, 2, 1)  # code2vec: no shortcut
    assert code2seq_exact(["name", "get"], ["get", "name"])     # the same set
    assert not exact_match("name|get", "get|name")              # code2vec: normalized strings differ
    assert code2seq_exact(["get", "name"], ["getname"]) and not code2seq_exact(["get"], ["get", "name"])


def test_metrics_of_decoded_rows_by_hand():
    itos = ["<PAD>", "<UNK>", "<S>", "get", "name", "set", "value"]
    arrays = {"pred": np.array([[3, 4, 0, 4], [5, 6, 6, 0], [0, 3, 3, 3]]),  # after the end word: ignored
              "loss": np.array([0.5, 1.0, 3.0]), "score": np.array([0.9, 0.6, 0.3])}
    assert decode_names(arrays["pred"], itos) == [["get", "name"], ["set", "value", "value"], []]
    m = code2seq_metrics(arrays, ["get|name", "get|value", "run"], itos)
    # tp: 2 + 2 (value twice) + 0; fp: 0 + 1 (set) + 0; fn: 0 + 1 (get) + 1 (run)
    p, r = 4 / 5, 4 / 6
    assert m["precision"] == pytest.approx(p) and m["recall"] == pytest.approx(r)
    assert m["f1_score"] == pytest.approx(2 * p * r / (p + r))
    assert m["exact_match"] == pytest.approx(1 / 3) and m["mean_score"] == pytest.approx(0.6)
    assert m["loss"] == pytest.approx(1.5) and m["n"] == 3


# -- per-sample outputs ----------------------------------------------------------------------

def _logits(rows):
    """[B, steps, V] logits whose softmax is exactly the given distributions."""
    return torch.log(torch.tensor(rows, dtype=torch.float32))


def test_outputs_by_hand():
    # vocabulary: 0 end word, 1 <UNK>, 2 <S>, 3 get, 4 name; 3 steps
    forced = _logits([[[0.1, 0.0001, 0.0999, 0.7, 0.1], [0.1, 0.0001, 0.0999, 0.1, 0.7], [0.6, 0.1, 0.1, 0.1, 0.1]]])
    greedy = _logits([[[0.1, 0.0001, 0.0999, 0.8, 0.0], [0.25, 0.0, 0.0, 0.05, 0.7], [0.9, 0.0, 0.0, 0.05, 0.05]]])
    batch = SimpleNamespace(target=torch.tensor([[3, 4, 0]]), target_len=torch.tensor([2]))
    out = code2seq_outputs(forced, greedy, batch, "mean", "fitted")
    assert out["objective"].item() == pytest.approx(-math.log(0.7) * 2 - math.log(0.6), rel=1e-5)
    assert out["loss"].item() == pytest.approx(-math.log(0.7), rel=1e-5)  # the words only, not the end word
    assert out["pred"].tolist() == [[3, 4, 0]] and out["correct"].tolist() == [True]
    assert out["score"].item() == pytest.approx((0.8 + 0.7 + 0.9) / 3, rel=1e-5)  # end word included
    assert code2seq_outputs(forced, greedy, batch, "first", "fitted")["score"].item() == pytest.approx(0.8, rel=1e-5)
    assert code2seq_outputs(forced, greedy, batch, "sequence", "fitted")["score"].item() == pytest.approx(
        0.8 * 0.7 * 0.9, rel=1e-5)

    # an end word at the second step: what follows is no part of the name
    early = _logits([[[0.1, 0.0, 0.1, 0.8, 0.0], [0.6, 0.0, 0.0, 0.1, 0.3], [0.1, 0.0, 0.0, 0.8, 0.1]]])
    out = code2seq_outputs(forced, early, batch, "mean", "fitted")
    assert out["pred"].tolist() == [[3, 0, 0]] and out["correct"].tolist() == [False]
    assert out["score"].item() == pytest.approx((0.8 + 0.6) / 2, rel=1e-5)


def _steps(chosen):
    """[B, steps, 12] logits: at each step, ``(word, value)`` gives that word the logit
    ``value`` and every other word 0 (12 words, so the 10 largest leave two out)."""
    logits = torch.zeros(len(chosen), len(chosen[0]), 12)
    for b, row in enumerate(chosen):
        for t, (word, value) in enumerate(row):
            logits[b, t, word] = value
    return logits


def test_the_study_forks_outputs_by_hand():
    """CI-Memorization model/code2seq/model.py: a name is every greedy word the batch
    decoded, the end word's followers included; score and loss average its first k steps
    (k words once <PAD> and <UNK> are dropped); the score's softmax is over the 10 largest
    logits. Words: 0 <PAD> (the end word), 1 <UNK>, 3 get, 4 name, 5 is, 6 enabled."""
    ln = math.log
    # is, enabled, the end word, then enabled again (the study's logged is|enabled|enabled);
    # get, <UNK>, name, then the end word at the last step: the batch decodes all 4 steps
    greedy = _steps([[(5, ln(9)), (6, ln(27)), (0, ln(81)), (6, ln(9))],
                     [(3, ln(9)), (1, ln(9)), (4, ln(9)), (0, ln(9))]])
    batch = SimpleNamespace(target=torch.tensor([[5, 6, 0, 0], [3, 4, 0, 0]]), target_len=torch.tensor([2, 2]))
    forced = torch.zeros_like(greedy)  # not read on evaluation but for the objective
    out = code2seq_outputs(forced, greedy, batch)
    assert out["pred"].tolist() == [[5, 6, 6, 0], [3, 4, 0, 0]]
    # top-10 softmax of a logit ln(x) among 11 zeros: x / (x + 9); k = 3 and 2
    assert out["score"].tolist() == pytest.approx([(9 / 18 + 27 / 36 + 81 / 90) / 3, (9 / 18 + 9 / 18) / 2])
    # cross-entropy under the full softmax, against is, enabled, the end word (k = 3 steps)
    # and get, name (k = 2: the <UNK> step is the second, where name has e^0 / (9 + 11))
    assert out["loss"].tolist() == pytest.approx([-(ln(9 / 20) + ln(27 / 38) + ln(81 / 92)) / 3,
                                                  -(ln(9 / 20) + ln(1 / 20)) / 2], rel=1e-5)
    assert out["correct"].tolist() == [True, True]  # the same set of words; <UNK> dropped
    assert out["alone"].tolist() == [[5, 6, 0, 0], [3, 1, 4, 0]]  # each name up to its own end word
    unknown = SimpleNamespace(target=torch.tensor([[5, 1, 0, 0], [3, 4, 0, 0]]), target_len=batch.target_len)
    assert code2seq_outputs(forced, greedy, unknown)["correct"].tolist() == [False, True]  # a true word unknown
    assert out["objective"].tolist() == pytest.approx([3 * ln(12)] * 2)  # zero logits: log 12 per step
    mean = code2seq_outputs(forced, greedy, batch, "mean")["score"]
    assert mean[0].item() == pytest.approx((9 / 20 + 27 / 38 + 81 / 92) / 3, rel=1e-5)
    itos = ["<PAD>", "<UNK>", "<S>", "get", "name", "is", "enabled"] + [f"w{i}" for i in range(5)]
    assert decode_names(out["pred"], itos) == [["is", "enabled", "enabled"], ["get", "name"]]

    # alone, the first name's batch ends at its own end word (step 3): the last step is gone
    alone = code2seq_outputs(forced[:1], greedy[:1], SimpleNamespace(target=batch.target[:1],
                                                                      target_len=batch.target_len[:1]))
    assert alone["pred"].tolist() == [[5, 6, 0, 0]] and torch.equal(alone["alone"], out["alone"][:1])
    assert alone["score"].item() == pytest.approx((9 / 18 + 27 / 36) / 2)
    assert alone["loss"].item() == pytest.approx(-(ln(9 / 20) + ln(27 / 38)) / 2, rel=1e-5)

    # while training: the teacher-forced logits and their argmax, every step, no greedy pass
    trained = code2seq_outputs(greedy[:1], None, SimpleNamespace(target=batch.target[:1],
                                                                  target_len=batch.target_len[:1]), training=True)
    assert trained["pred"].tolist() == [[5, 6, 6, 0]] and "alone" not in trained
    assert trained["score"].item() == pytest.approx(out["score"][0].item())
    assert trained["loss"].item() == pytest.approx(out["loss"][0].item())

    # nothing but special words: k = 0, score and loss 0, an empty name
    empty = code2seq_outputs(forced[:1], _steps([[(0, 1.0), (1, 1.0), (0, 1.0), (0, 1.0)]]),
                             SimpleNamespace(target=batch.target[:1], target_len=batch.target_len[:1]))
    assert empty["pred"].tolist() == [[0, 0, 0, 0]] and empty["score"].item() == 0 and empty["loss"].item() == 0
    assert empty["correct"].tolist() == [False]


def test_an_unfinished_name_decodes_every_step_of_its_batch():
    torch.manual_seed(0)
    logits = torch.randn(3, 5, 12)
    logits[:, :, 0] = -10  # no name ends: 5 steps
    batch = SimpleNamespace(target=torch.tensor([[3, 4, 0, 0, 0]] * 3), target_len=torch.tensor([2] * 3))
    out = code2seq_outputs(torch.zeros_like(logits), logits, batch)
    kept = logits.argmax(-1)
    assert (out["pred"] != 0).sum(-1).tolist() == ((kept != 1).sum(-1)).tolist()


def test_a_study_made_before_the_forks_outputs_keeps_byrotes_fitted_ones():
    """A code2seq study whose settings lack ``decoding`` (or ``score``) was made with the
    fitted outputs: it goes on computing them, and its definitions say so."""
    from engine.presets import definitions_label, departures

    assert departures("code2seq", load_preset("paper", "code2seq")) == []
    assert departures("code2seq", {"score": "mean"}) == ["score=mean", "decoding=fitted"]
    assert definitions_label("code2seq", {}) == "definitions score=mean, decoding=fitted"
    samples = [MethodNameSample("a", "get|name", [("x", "N|M", "y")] * 2),
               MethodNameSample("b", "set", [(f"t{i}", "N|M|O", f"u{i}") for i in range(9)])]
    vocabs = C2SVocabs.build(samples, QUICK)
    batch = make_c2s_batch(encode_code2seq(samples, vocabs, QUICK), np.array([0, 1]))
    torch.manual_seed(0)
    model = build_code2seq(QUICK, vocabs).eval()
    task = get_task("methodname", "code2seq")
    old = {key: value for key, value in QUICK.items() if key not in ("score", "decoding")}
    with torch.no_grad():
        got = task.outputs(model, batch, old)
        fitted = code2seq_outputs(*model(batch), batch, "mean", "fitted")
        study = task.outputs(model, batch, QUICK)
        fork = code2seq_outputs(*model(batch), batch, "top10", "study")
    for key in ("loss", "score", "pred"):
        assert torch.equal(got[key], fitted[key]) and torch.equal(study[key], fork[key]), key


CODE2SEQ_LOG = ("ci_memorization/data/logs/method_name/code2seq/X_Method_Leakage/25_percent/"
                "log_test_ep3.first40lines.txt")


def test_the_studys_logged_outputs_and_byrotes_obey_what_the_forks_definitions_imply(reference):
    """Under the fork's definitions a score averages top-10-softmax probabilities over the
    first k steps (k predicted words), so it is at least 0.1. The loss averages the same
    steps' cross-entropies, each at least -log of its step's score while the step is
    within the true words and the end word (after them it counts 0): so where k is at most
    the true length + 1, exp(-loss) <= score (Jensen). Every published line obeys both;
    so do byrote's outputs on random logits (score and loss 0 where nothing is decoded)."""
    lines = (reference / CODE2SEQ_LOG).read_text().splitlines()
    assert len(lines) == 40
    for line in lines:
        _, true, predicted, score, loss = line.rsplit(",", 4)
        assert predicted and 0.1 <= float(score) <= 1, line
        if len(predicted.split("|")) <= len(true.split("|")) + 1:
            assert math.exp(-float(loss)) <= float(score) + 1e-9, line
    torch.manual_seed(1)
    logits = torch.randn(64, 7, 40) * 3
    target = torch.randint(3, 40, (64, 7))
    length = torch.randint(1, 7, (64,))
    target[torch.arange(7)[None, :] >= length[:, None]] = 0
    batch = SimpleNamespace(target=target, target_len=length)
    for training in (False, True):
        out = code2seq_outputs(logits, None if training else logits, batch, training=training)
        words = (out["pred"] != 0).sum(-1)
        decoded, within = words > 0, (words > 0) & (words <= length + 1)
        assert (out["score"][decoded] >= 0.1 - 1e-6).all() and within.sum() > 10
        assert (torch.exp(-out["loss"][within]) <= out["score"][within] + 1e-6).all()
        assert (out["score"][~decoded] == 0).all() and (out["loss"][~decoded] == 0).all()


# -- encoding and batches --------------------------------------------------------------------

def test_path_nodes_of_both_layouts():
    assert path_nodes("Nm1|Mth|Bk|Ret|Nm0") == ["Nm1", "Mth", "Bk", "Ret", "Nm0"]
    assert path_nodes("(identifier0)^(binary_expression:+)_(decimal_integer_literal1)") == [
        "identifier0", "binary_expression:+", "decimal_integer_literal1"]
    assert path_nodes("(a0)^(b)^(c)_(d)_(e1)") == ["a0", "b", "c", "d", "e1"]


def test_encoding_cuts_pads_and_ends_as_codes2seqs_reader():
    cfg = {**QUICK, "max_name_parts": 2, "max_path_length": 3, "max_target_parts": 2, "max_contexts": 2}
    samples = [MethodNameSample("x", "get|long|name", [("a|b|c", "N|M|O|P", "a"), ("b", "N", "zzz"), ("c", "M", "a")]),
               MethodNameSample("y", "run", [])]
    vocabs = C2SVocabs.build(samples[:1], {**cfg, "subtoken_vocab_size": 2})
    assert vocabs.subtokens.itos == ["<PAD>", "<UNK>", "a", "b"]  # a: 3, b: 2, c: 2 (alphabetical after b)
    assert vocabs.targets.itos[:3] == ["<PAD>", "<UNK>", "<S>"]
    enc = encode_code2seq(samples, vocabs, cfg)
    assert enc.kept.tolist() == [0] and enc.n_dropped == 1  # no context: dropped
    assert enc.lengths.tolist() == [2]  # at most max_contexts, drawn once
    t = vocabs.targets.stoi
    assert enc.target.tolist() == [[t["get"], t["long"], 0]] and enc.target_len.tolist() == [2]
    batch = make_c2s_batch(enc, np.array([0]))
    assert batch.starts.shape == (1, 2, 2) and batch.nodes.shape == (1, 2, 3)
    assert batch.pad_slots.tolist() == [0.0]
    again = encode_code2seq(samples, vocabs, cfg)
    assert np.array_equal(enc.nodes, again.nodes)  # the draw is seeded


def test_a_sample_gives_the_same_outputs_alone_and_in_a_padded_batch():
    samples = [MethodNameSample("a", "get|name", [("x", "N|M", "y")] * 2),
               MethodNameSample("b", "set", [(f"t{i}", "N|M|O", f"u{i}") for i in range(9)])]
    vocabs = C2SVocabs.build(samples, QUICK)
    enc = encode_code2seq(samples, vocabs, QUICK)
    torch.manual_seed(0)
    model = build_code2seq(QUICK, vocabs).eval()
    with torch.no_grad():
        both = code2seq_outputs(*model(make_c2s_batch(enc, np.array([0, 1]))), make_c2s_batch(enc, np.array([0, 1])),
                                decoding="fitted")
        alone = code2seq_outputs(*model(make_c2s_batch(enc, np.array([0]))), make_c2s_batch(enc, np.array([0])),
                                 decoding="fitted")
    for key in ("loss", "score", "objective"):
        assert both[key][0].item() == pytest.approx(alone[key][0].item(), rel=1e-5, abs=1e-6), key
    assert both["pred"][0].tolist() == alone["pred"][0].tolist()


# -- the model and its presets ---------------------------------------------------------------

def test_parameter_count_closed_form_and_table_1():
    paper = load_preset("paper-top10", "code2seq")
    model = Code2Seq(1000, 300, 17, paper)
    assert sum(p.numel() for p in model.parameters()) == code2seq_param_count(1000, 300, 17, paper, tf=False)
    # torch's LSTMs hold a second bias: 2 x 4 x 128 (path BiLSTM) + 4 x 320 (decoder)
    assert code2seq_param_count(1000, 300, 17, paper, tf=False) - code2seq_param_count(1000, 300, 17, paper) == 2304
    # Java-Top10: 10 names, 14 sub-tokens, + <PAD>, <UNK>, <S> = 17 target words; Table 1's
    # 3,826,368 holds when terminal sub-tokens and nodes number 16,408 together
    assert code2seq_param_count(16_000, 408, 17, paper) == 3_826_368
    assert paper["batch_size"] == 128 and load_preset("paper", "code2seq")["batch_size"] == 256
    assert (paper["embed_dim"], paper["rnn_dim"], paper["decoder_dim"]) == (128, 256, 320)
    assert (paper["optimizer"], paper["lr"], paper["lr_decay"]) == ("nesterov", 0.01, 0.95)


def test_capacity_scales_code2seq():
    small = Code2Seq(100, 50, 20, {**QUICK, "capacity": 0.5})
    assert small.dims == (32, 32, 48)
    with pytest.raises(InputError, match="capacity"):
        Code2Seq(100, 50, 20, {**QUICK, "capacity": 0.0})


@pytest.mark.parametrize("settings, message", [
    ({"score": "full"}, "score must be one of top10, mean, first, sequence"),
    ({"decoding": "cut"}, "decoding must be one of study, fitted"),
    ({"optimizer": "sgd"}, "optimizer must be one of adam, nesterov"),
    ({"rnn_dim": 65}, "rnn_dim must be even"),
    ({"lr_decay": 1.5}, "lr_decay"),
])
def test_bad_settings_are_one_line(settings, message):
    with pytest.raises(InputError, match=message):
        load_preset("quick", "code2seq", settings)


def test_learns_a_learnable_set():
    from test_code2vec import learnable

    from engine import study

    spec = get_task("methodname", "code2seq")
    prepared = spec.prepare(learnable(256, n_labels=10, seed=3), learnable(100, n_labels=10, seed=2), QUICK)
    device = torch.device("cpu")
    model, optim, sched = study.build_training(spec, "code2seq", QUICK, prepared, device, 0)
    for epoch in range(12):
        study.train_epoch(spec, model, optim, sched, prepared.train,
                          np.random.default_rng(epoch).permutation(len(prepared.train)), QUICK, device)
    held = study.evaluate(spec, model, prepared.valid, QUICK, device)
    metrics = spec.epoch_metrics(held, prepared.valid, prepared)
    assert metrics["exact_match"] >= 0.9 and metrics["f1_score"] >= 0.9, metrics


def test_the_learning_rate_decays_once_per_epoch_of_samples():
    from engine import study

    spec = get_task("methodname", "code2seq")
    cfg = {**load_preset("paper", "code2seq"), "batch_size": 4}
    prepared = SimpleNamespace(train=[0] * 10, vocabs=SimpleNamespace(sizes=lambda: (10, 10, 10)))
    model, optim, sched = study.build_training(spec, "code2seq", cfg, prepared, torch.device("cpu"), 0)
    assert isinstance(optim, torch.optim.SGD) and optim.defaults["nesterov"]
    rates = []
    for _ in range(6):
        rates.append(optim.param_groups[0]["lr"])
        optim.step()
        sched.step()
    # steps 0..5 with 4 samples each of 10: floor(4 s / 10) = 0 0 0 1 1 2
    assert rates == pytest.approx([0.01, 0.01, 0.01, 0.0095, 0.0095, 0.01 * 0.95 ** 2])


# -- studies ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mn_dataset(tmp_path_factory):
    from engine.data.methodname_build import build_methodname

    out = tmp_path_factory.mktemp("mn") / "stdlib-email.jsonl"
    return build_methodname(Path(sysconfig.get_paths()["stdlib"]) / "email", out, lang="python", top=5)


def _study(store, data, levels=(0.0, 100.0), epochs=2, csr=20):
    return create_study(store, task="methodname", train=str(data.train_path), valid=str(data.test_path),
                        model="code2seq", levels=list(levels), epochs=epochs, preset="quick", seed=1, device="cpu",
                        overrides={"csr_samples": csr, "batch_size": 32})


@pytest.mark.slow
def test_a_code2seq_study_records_f1_scores_and_csr(mn_dataset, tmp_path):
    store = Store(tmp_path / "s.db")
    sid = _study(store, mn_dataset)
    for run in store.runs(sid):
        train_run(store, run["id"])
    for run in store.runs(sid):
        assert run["n_params"] > 0
        for split in ("train", "valid"):
            values = {m["name"]: m["value"] for m in store.metrics(run["id"], split) if m["epoch"] == 2}
            assert 0 <= values["f1_score"] <= 1 and 0 <= values["mean_score"] <= 1 and values["loss"] >= 0
            assert 0 <= values["gini_loss"] <= 1
            with np.load(store.array_path(run["id"], 2, split)) as arrays:
                # the study's fork: a name decoded empty scores 0 and has loss 0; any other
                # scores at least 0.1, a softmax over 10 logits
                empty = (arrays["pred"] == 0).all(1)
                assert (arrays["score"][empty] == 0).all() and (arrays["loss"][empty] == 0).all()
                assert (arrays["score"][~empty] >= 0.1 - 1e-6).all() and (arrays["loss"][~empty] > 0).all()
                # the data maps' correctness is the epoch's exact match, sample by sample
                assert arrays["correct"].mean() == pytest.approx(values["exact_match"])
        valid = {m["name"]: m["value"] for m in store.metrics(run["id"], "valid") if m["epoch"] == 2}
        assert 0 <= valid["csr_all"] <= 1
        with np.load(store.array_path(run["id"], 2, "valid")) as arrays:
            assert arrays["pred"].shape == (run["n_valid"], QUICK["max_target_parts"] + 1)
            assert arrays["csr_evaluated"].sum() == 20
    from engine.export import export_curves

    names = {p.relative_to(tmp_path / "x").as_posix() for p in export_curves(store, sid, tmp_path / "x")}
    stem = f"code2seq_{Path(mn_dataset.train_path).stem}"
    assert {f"f1_score/{stem}_test.csv", f"gini_loss/{stem}_train.csv", f"prediction_score/{stem}_test.csv"} <= names


def test_a_code2seq_study_on_the_reference_c2s_files(reference, tmp_path):
    folder = reference / "code2vec" / "code2seq_tech-srl" / "data" / "my_dataset"
    store = Store(tmp_path / "s.db")
    sid = create_study(store, task="methodname", train=str(folder / "my_dataset.train.c2s"),
                       valid=str(folder / "my_dataset.val.c2s"), model="code2seq", levels=[0.0], epochs=1,
                       preset="quick", seed=0, device="cpu")
    (run,) = store.runs(sid)
    train_run(store, run["id"])
    valid = {m["name"]: m["value"] for m in store.metrics(run["id"], "valid")}
    assert 0 <= valid["f1_score"] <= 1 and valid["csr_all"] is None  # no source to rename


@pytest.mark.slow
def test_kill_9_then_resume_a_code2seq_run(mn_dataset, tmp_path):
    from test_study import kill_9_and_resume

    # epochs of this small set take a few tenths of a second: eight of them, the kill as soon
    # as the first is recorded, so that it lands before the last
    kill_9_and_resume(tmp_path, lambda store: _study(store, mn_dataset, levels=(50.0,), epochs=8, csr=10), epochs=8,
                      into_second=0.0)


# -- code2seq's contexts, extracted with tree-sitter -----------------------------------------

JAVA = """class A {
    int getFooBar(int count2) {
        if (a || b) return fooBar(count2);
        return 0;
    }
}
"""


def test_code2seq_contexts_are_the_same_pairs_as_code2vecs_in_its_layout():
    from engine.data.pathcontexts import extract_contexts, style_of

    c2v = extract_contexts(JAVA, "java", None)
    c2s = extract_contexts(JAVA, "java", None, style="code2seq")
    assert len(c2v) == len(c2s) > 10 and style_of(c2v) == "code2vec" and style_of(c2s) == "code2seq"
    for (_, path_v, _), (_, path_s, _) in zip(c2v, c2s):
        assert path_s == "|".join(node.replace("|", "bar") for node in path_nodes(path_v))
    terminals = {t for s, _, e in c2s for t in (s, e)}
    assert {"METHOD_NAME", "foo|bar", "count", "0"} <= terminals  # code2vec: "foobar", "count"
    assert any("binary_expression:barbar" in path for _, path, _ in c2s)  # || needs no | inside a node
    with pytest.raises(InputError, match="style"):
        extract_contexts(JAVA, "java", None, style="code2sequence")


@pytest.mark.slow
def test_a_c2s_dataset_built_from_python_trains_code2seq_with_csr(tmp_path):
    from engine.data.methodname_build import build_methodname
    from engine.formats.code2vec import read_methodname

    report = build_methodname(Path(sysconfig.get_paths()["stdlib"]) / "json", tmp_path / "json.c2s", lang="python",
                              top=3)
    first = read_methodname(report.train_path)[0]
    assert all("(" not in path for _, path, _ in first.contexts) and first.source is None  # .c2s: no source
    with pytest.raises(InputError, match="code2vec's contexts"):
        build_methodname(Path(sysconfig.get_paths()["stdlib"]) / "json", tmp_path / "x.c2v", lang="python",
                         style="code2seq")
    jsonl = build_methodname(Path(sysconfig.get_paths()["stdlib"]) / "email", tmp_path / "email.jsonl",
                             lang="python", top=5, style="code2seq")
    store = Store(tmp_path / "s.db")
    sid = _study(store, jsonl, levels=(0.0,), epochs=1, csr=10)
    (run,) = store.runs(sid)
    train_run(store, run["id"])
    with np.load(store.array_path(run["id"], 1, "valid")) as arrays:
        assert arrays["csr_evaluated"].sum() == 10  # candidates re-extracted in code2seq's layout


def test_each_model_refuses_the_others_files_in_one_line(reference, tmp_path):
    c2s = reference / "code2vec" / "code2seq_tech-srl" / "data" / "my_dataset" / "my_dataset.train.c2s"
    c2v = reference / "code2vec" / "zthang_code2vec_treelstm" / "data" / "my_dataset" / "my_dataset.test.c2v.head20"
    store = Store(tmp_path / "s.db")
    for model, path, message in (("code2vec", c2s, "a .c2s file holds code2seq's contexts; code2vec does not"),
                                 ("code2seq", c2v, "a .c2v file holds code2vec's hashed contexts; code2seq does not")):
        with pytest.raises(InputError, match=message):
            create_study(store, task="methodname", train=str(path), valid=str(path), model=model, levels=[0.0],
                         epochs=1, preset="quick", seed=0, device="cpu")
    assert store.studies() == []
