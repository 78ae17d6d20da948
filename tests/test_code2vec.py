"""The code2vec model, its vocabularies and batches, and its presets (Rabin et al. §3.1.3)."""
from __future__ import annotations

import math
import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine.data.methodname import MethodNameSample
from engine.noise.methodname import noise_methodname
from engine.errors import InputError
from engine.metrics.methodname import OOV, methodname_metrics
from engine.models.c2v_batching import (
    C2VBatch, C2VVocab, C2VVocabs, encode_methodname, iter_c2v_batches, make_c2v_batch,
)
from engine.models.code2vec import Code2Vec, build_code2vec, code2vec_outputs
from engine.sizes import code2vec_dims, code2vec_param_count
from engine.presets import load_preset

torch.set_num_threads(2)

# the quick preset with batches of 32, so that these small sets give enough optimizer steps
QUICK = {**load_preset("quick", "methodname"), "batch_size": 32}
LABELS = ["equals", "main", "set|up", "on|create", "to|string", "run", "hash|code", "init", "execute", "get"]


def method(label: str, contexts: list) -> MethodNameSample:
    return MethodNameSample(name=label.replace("|", "_"), label=label, contexts=contexts)


def learnable(n: int, n_labels: int = 5, seed: int = 0) -> list[MethodNameSample]:
    """Each label has its own key terminal, in 3 of the method's ~25 contexts; the rest
    are random (terminals t0..t1999, paths p0..p1999), so every method is distinct."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        k = rng.randrange(n_labels)
        ctx = [(f"t{rng.randrange(2000)}", f"p{rng.randrange(2000)}", f"t{rng.randrange(2000)}")
               for _ in range(rng.randint(15, 25))]
        ctx += [(f"key{k}", f"p{rng.randrange(5)}", f"t{rng.randrange(2000)}") for _ in range(3)]
        rng.shuffle(ctx)
        out.append(method(LABELS[k], ctx))
    return out


def train(model, encoded, cfg, epochs, seed=0, stop_at=None):
    """Plain loop (as engine.study.train_epoch); returns the per-epoch train accuracy."""
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=0.0)
    rng = np.random.default_rng(seed)
    accs = []
    for _ in range(epochs):
        model.train()
        for batch in iter_c2v_batches(encoded, rng.permutation(len(encoded)), cfg):
            loss = code2vec_outputs(model(batch), batch, model.legal)["loss"].mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        accs.append(evaluate(model, encoded, cfg)["correct"].mean())
        if stop_at is not None and accs[-1] >= stop_at:
            break
    return accs


def evaluate(model, encoded, cfg) -> dict[str, np.ndarray]:
    model.eval()
    cols: dict[str, list] = {}
    with torch.no_grad():
        for batch in iter_c2v_batches(encoded, np.arange(len(encoded)), cfg):
            for k, v in code2vec_outputs(model(batch), batch, model.legal).items():
                cols.setdefault(k, []).append(v.numpy())
    return {k: np.concatenate(v) for k, v in cols.items()}


def prepared(samples, cfg=QUICK, train_split=True):
    vocabs = C2VVocabs.build(samples, cfg)
    return vocabs, encode_methodname(samples, vocabs, cfg["max_contexts"], train=train_split)


# -- presets ---------------------------------------------------------------------------

def test_paper_preset_is_code2vecs_published_configuration():
    cfg = load_preset("paper", "methodname")
    # tech-srl/code2vec config.py set_defaults (commit 01d17316) and tensorflow_model.py
    # (AdamOptimizer() with TensorFlow's default learning rate 0.001)
    assert (cfg["token_embed_dim"], cfg["path_embed_dim"], cfg["code_dim"]) == (128, 128, 384)
    assert cfg["code_dim"] == 2 * cfg["token_embed_dim"] + cfg["path_embed_dim"]  # context_vector_size
    assert cfg["max_contexts"] == 200 and cfg["lr"] == 0.001
    # Rabin et al. §4.2: batches of 256 for Java-Small/Med, 128 for Java-Top10
    assert cfg["batch_size"] == 256 and load_preset("paper-top10", "methodname")["batch_size"] == 128
    assert {k: v for k, v in load_preset("paper-top10", "methodname").items() if k != "batch_size"} == {
        k: v for k, v in cfg.items() if k != "batch_size"}
    assert (cfg["score"], cfg["train_eval"]) == ("top10", "epoch")  # the study's definitions by default
    with pytest.raises(InputError, match="setting score must be one of top10, full, not 'best'"):
        load_preset("paper", "methodname", {"score": "best"})
    assert cfg["dropout"] == pytest.approx(1 - 0.75)  # DROPOUT_KEEP_RATE
    assert (cfg["token_vocab_size"], cfg["path_vocab_size"], cfg["target_vocab_size"]) == (1301136, 911417, 261245)
    assert cfg["capacity"] == 1.0
    assert set(QUICK) == set(cfg)
    assert load_preset("quick")["hidden_dim"] == 64  # the VarMisuse callers are unchanged
    with pytest.raises(InputError, match="quick"):
        load_preset("huge", "methodname")
    with pytest.raises(InputError, match="no presets"):
        load_preset("quick", "nosuchtask")


def test_paper_preset_parameter_count_for_java_top10_vocabularies():
    cfg = load_preset("paper", "methodname")
    # Rabin et al. Table 1: code2vec (Java-Top10) 62,528,256. The target vocabulary is the
    # 10 names plus OOV; terminals + paths = 487,314 (any split) gives exactly that count:
    # 128 (V_tok + V_path) + 384 V_target + 384 * 384 (W) + 384 (attention).
    sizes = (300_000, 187_314, 11)
    with torch.device("meta"):
        model = Code2Vec(*sizes, cfg)
    n = sum(p.numel() for p in model.parameters())
    assert n == code2vec_param_count(*sizes, cfg) == 62_528_256


@pytest.mark.parametrize("capacity, dims", [(0.5, (32, 32, 96)), (1.0, (64, 64, 192)), (2.0, (128, 128, 384))])
def test_capacity_scales_the_widths(capacity, dims):
    cfg = {**QUICK, "capacity": capacity}
    assert code2vec_dims(cfg) == dims
    with torch.device("meta"):
        model = Code2Vec(1000, 800, 11, cfg)
    dt, dp, dc = dims
    embed = 1000 * dt + 800 * dp + 11 * dc
    assert sum(p.numel() for p in model.parameters()) == embed + (2 * dt + dp) * dc + dc
    assert embed == round(capacity * (1000 * 64 + 800 * 64 + 11 * 192))  # linear in capacity
    for bad in (0, -1.0, math.inf, math.nan):
        with pytest.raises(InputError, match="capacity"):
            code2vec_dims({**QUICK, "capacity": bad})


# -- vocabularies and batches ------------------------------------------------------------

def test_vocabularies_rank_by_count_then_name_after_oov():
    samples = [method("get", [("a", "p1", "b"), ("b", "p2", "c")]), method("set", [("c", "p1", "b")]),
               method("get", [("z", "p3", "z")])]
    v = C2VVocabs.build(samples, {"token_vocab_size": 3, "path_vocab_size": 10, "target_vocab_size": 1})
    assert v.tokens.itos == [OOV, "b", "c", "z"]  # b 3, c 2, z 2 (c < z), a 1 cut
    assert v.paths.itos == [OOV, "p1", "p2", "p3"]
    assert v.targets.itos == [OOV, "get"]
    assert v.legal_targets().tolist() == [False, True]
    assert C2VVocabs.from_json(v.to_json()).tokens.itos == v.tokens.itos
    assert v.tokens.encode("a") == 0 and v.tokens.encode("b") == 1
    with pytest.raises(ValueError):
        C2VVocab(["x"])


def test_encoding_drops_what_code2vec_drops():
    cfg = {**QUICK, "token_vocab_size": 2, "path_vocab_size": 2, "target_vocab_size": 1}
    train = [method("get", [("a", "p", "b"), ("a", "p", "a")]), method("get", [("b", "q", "b")]),
             method("set", [("a", "p", "b")])]
    vocabs = C2VVocabs.build(train, cfg)  # tokens a, b; paths p, q; targets get
    held = [method("get", [("x", "y", "z")]),  # no context with a known part: dropped
            method("set", [("x", "p", "z"), ("x", "y", "z")]),  # OOV label: kept on held-out data
            method("get", [])]  # no context at all: dropped
    enc = encode_methodname(train, vocabs, 200, train=True)
    assert enc.kept.tolist() == [0, 1] and enc.n_dropped == 1  # "set" is OOV: never a training target
    assert enc.lengths.tolist() == [2, 1] and enc.labels == ["get", "get"]
    enc = encode_methodname(held, vocabs, 200, train=False)
    assert enc.kept.tolist() == [1] and enc.n_dropped == 2
    assert enc.target.tolist() == [0] and enc.labels == ["set"]
    assert enc.contexts.tolist() == [[0, 1, 0]]  # (x, p, z): the all-OOV context is dropped


def test_max_contexts_prefers_known_contexts_and_is_seeded():
    vocabs = C2VVocabs.build([method("get", [(f"t{i}", "p", "u") for i in range(10)])], QUICK)
    ctx = [("new", "new", "new")] * 3 + [(f"t{i}", "q", "new") for i in range(10)] + \
          [(f"t{i}", "p", "u") for i in range(10)]  # unknown, partly known, fully known
    sample = method("get", ctx)
    a = encode_methodname([sample], vocabs, 12, train=False, seed=1)
    b = encode_methodname([sample], vocabs, 12, train=False, seed=1)
    assert np.array_equal(a.contexts, b.contexts) and a.lengths.tolist() == [12]
    full = (a.contexts != 0).all(axis=1)
    assert full.sum() == 10  # all 10 fully known contexts, then 2 of the partly known
    assert np.array_equal(np.sort(a.contexts[:, 0][full]), a.contexts[:, 0][full])  # original order kept
    c = encode_methodname([sample], vocabs, 5, train=False, seed=2)
    assert (c.contexts != 0).all() and c.lengths.tolist() == [5]
    assert any(not np.array_equal(encode_methodname([sample], vocabs, 5, train=False, seed=s).contexts, c.contexts)
               for s in range(3, 8))


def test_batches_pad_to_the_widest_sample():
    samples = learnable(10)
    vocabs, enc = prepared(samples)
    batch = make_c2v_batch(enc, np.array([3, 1, 7]))
    width = int(enc.lengths[[3, 1, 7]].max())
    assert isinstance(batch, C2VBatch) and len(batch) == 3
    assert batch.starts.shape == batch.paths.shape == batch.ends.shape == batch.mask.shape == (3, width)
    assert batch.mask.sum(1).tolist() == enc.lengths[[3, 1, 7]].tolist()
    assert (batch.starts[~batch.mask] == 0).all() and batch.index.tolist() == [3, 1, 7]
    lo, hi = enc.off[1], enc.off[2]
    assert batch.paths[1, : hi - lo].tolist() == enc.contexts[lo:hi, 1].tolist()
    assert batch.to("cpu").target.tolist() == enc.target[[3, 1, 7]].tolist()
    sizes = [len(b) for b in iter_c2v_batches(enc, np.arange(10), batch_size=4)]
    assert sizes == [4, 4, 2]
    with pytest.raises(InputError, match="batch_size"):
        next(iter_c2v_batches(enc, np.arange(10), {}))


# -- outputs -----------------------------------------------------------------------------

def test_outputs_by_hand():
    logits = torch.tensor([[5.0, 1.0, 4.0, 2.0], [0.0, 1.0, 0.0, 3.0]])
    legal = torch.tensor([False, True, False, True])  # OOV and an impossible name "_"
    batch = C2VBatch(index=torch.arange(2), starts=torch.zeros(2, 1, dtype=torch.long),
                     paths=torch.zeros(2, 1, dtype=torch.long), ends=torch.zeros(2, 1, dtype=torch.long),
                     mask=torch.ones(2, 1, dtype=torch.bool), target=torch.tensor([0, 3]))
    out = code2vec_outputs(logits, batch, legal, score="full")
    q = F.softmax(logits, dim=-1)
    assert out["pred"].tolist() == [3, 3]  # the best legal name, never OOV or "_"
    assert torch.allclose(out["score"], q[:, 3])  # the paper's: softmax over ALL names, at the prediction
    assert torch.allclose(out["loss"], -torch.log(q[[0, 1], [0, 3]]))  # OOV target: -log q(OOV)
    assert out["correct"].tolist() == [False, True]
    assert out["target"].tolist() == [0, 3]


def test_top10_score_by_hand():
    """The study's score: the largest of the softmax over the 10 largest logits (by hand:
    logits 0..11, so the top 10 are 2..11 and the score is 1 / sum_{j=0..9} e^-j), never
    below 0.1; the paper's full softmax falls toward 0 as names are added."""
    logits = torch.arange(12, dtype=torch.float32)[None, :].repeat(2, 1)
    logits[1] = 0.0  # twelve equal names: top 10 equal, score exactly 1/10
    legal = torch.ones(12, dtype=torch.bool)
    batch = SimpleNamespace(target=torch.tensor([11, 0]))
    out = code2vec_outputs(logits, batch, legal)
    by_hand = 1 / sum(math.exp(-j) for j in range(10))
    assert out["score"].tolist() == pytest.approx([by_hand, 0.1])
    full = code2vec_outputs(logits, batch, legal, score="full")["score"]
    assert full.tolist() == pytest.approx([1 / sum(math.exp(-j) for j in range(12)), 1 / 12])
    small = code2vec_outputs(torch.tensor([[2.0, 1.0, 0.0]]), SimpleNamespace(target=torch.tensor([0])),
                             torch.ones(3, dtype=torch.bool))["score"]  # fewer than 10 names: all of them
    assert small.tolist() == pytest.approx([math.exp(2) / (math.exp(2) + math.exp(1) + 1)])


def test_padding_and_empty_rows_do_not_leak():
    torch.manual_seed(0)
    samples = learnable(6)
    vocabs, enc = prepared(samples)
    model = build_code2vec(QUICK, vocabs).eval()
    short = int(np.argmin(enc.lengths))
    with torch.no_grad():
        alone = model(make_c2v_batch(enc, np.array([short])))
        padded = model(make_c2v_batch(enc, np.arange(len(enc))))[short]
        assert torch.allclose(alone[0], padded, atol=1e-5)
        batch = make_c2v_batch(enc, np.arange(2))
        batch.mask[0] = False
        v, alpha = model.code_vectors(batch)
    assert torch.isfinite(v).all() and alpha[0].sum() == 0 and alpha[1].sum() == pytest.approx(1.0)


# -- learning and memorizing ---------------------------------------------------------------

def test_loss_falls_and_generalizes_on_a_learnable_set():
    torch.manual_seed(0)
    samples = learnable(240, seed=1)
    vocabs, enc = prepared(samples)
    model = build_code2vec(QUICK, vocabs)
    before = evaluate(model, enc, QUICK)["loss"].mean()
    accs = train(model, enc, QUICK, epochs=3)
    after = evaluate(model, enc, QUICK)["loss"].mean()
    assert after < 0.25 * before and accs[-1] >= 0.95
    held = encode_methodname(learnable(100, seed=2), vocabs, QUICK["max_contexts"], train=False)
    assert evaluate(model, held, QUICK)["correct"].mean() >= 0.8


def test_quick_preset_memorizes_fully_noisy_labels():
    """Observation 1 for code2vec: with 100 % label noise nothing but memorization can fit
    the training set, and the quick preset still fits it within a bounded budget."""
    torch.manual_seed(0)
    clean = learnable(256, n_labels=10, seed=3)
    noisy = noise_methodname(clean, 100, seed=0).samples
    assert all(a.label != b.label for a, b in zip(clean, noisy))
    vocabs, enc = prepared(noisy)
    model = build_code2vec(QUICK, vocabs)
    accs = train(model, enc, QUICK, epochs=15, stop_at=0.9)  # at most 15 x 8 = 120 steps
    assert accs[-1] >= 0.9, accs


def test_study_loop_runs_the_model_and_the_metrics():
    """engine.study's loop (train_epoch, evaluate) drives the model; the arrays it collects
    feed methodname_metrics."""
    from engine import study

    class Spec:
        def batches(self, encoded, order, cfg):
            return iter_c2v_batches(encoded, order, cfg)

        def outputs(self, model, batch, cfg):
            return code2vec_outputs(model(batch), batch, model.legal)

        def objective(self, out, cfg):
            return out["loss"].mean()

    torch.manual_seed(0)
    samples = learnable(120, seed=4)
    vocabs, enc = prepared(samples)
    model = build_code2vec(QUICK, vocabs)
    optim = torch.optim.AdamW(model.parameters(), lr=QUICK["lr"], weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(optim, lambda s: 1.0)
    device = torch.device("cpu")
    for _ in range(4):
        study.train_epoch(Spec(), model, optim, sched, enc, np.random.default_rng(0).permutation(len(enc)),
                          QUICK, device)
    arrays = study.evaluate(Spec(), model, enc, QUICK, device)
    assert arrays["sample"].tolist() == enc.kept.tolist()

    # the training figures as recorded during the epoch: each sample once, at its own
    # position; with nothing to learn (lr 0) and no dropout they are the eval pass's
    frozen = torch.optim.SGD(model.parameters(), lr=0.0)
    still = torch.optim.lr_scheduler.LambdaLR(frozen, lambda s: 1.0)
    seen: dict = {}
    model.dropout.p = 0.0
    study.train_epoch(Spec(), model, frozen, still, enc, np.random.default_rng(1).permutation(len(enc)),
                      QUICK, device, record=seen)
    again = study.evaluate(Spec(), model, enc, QUICK, device)
    assert seen["sample"].tolist() == enc.kept.tolist()
    for key in ("loss", "pred", "score", "correct", "target"):
        assert np.allclose(seen[key], again[key], atol=1e-5), key
    m = methodname_metrics(arrays, enc.labels, vocabs.targets.itos)
    assert m["f1_score"] >= 0.9 and m["exact_match"] >= 0.9 and 0 < m["mean_score"] <= 1
    assert m["exact_match"] == pytest.approx(arrays["correct"].mean())
