"""The VarMisuse models: vocabulary, batching, the two-pointer outputs, the three cores."""
from __future__ import annotations

import json
import math
import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from engine.data.varmisuse import EDGE_TYPES, VarMisuseSample
from engine.errors import InputError
from engine.models import MODELS, build_model
from engine.models.batching import Batch, encode_samples, iter_batches, make_batch
from engine.models.pointer import pointer_outputs
from engine.presets import load_preset
from engine.data.subtokens import split_subtokens
from engine.models.vocab import Vocab

torch.set_num_threads(2)

TINY = {
    "hidden_dim": 32, "ff_dim": 64, "num_layers": 2, "num_heads": 4, "dropout": 0.0,
    "ggnn_time_steps": [2, 1], "ggnn_residuals": {"1": [0]}, "num_edge_types": 22,
    "vocab_size": 200, "max_len": 64, "batch_size": 64, "lr": 3e-3,
}
NAMES = ["x", "y", "z", "n", "m", "k", "total", "count"]


def function_sample(rng: random.Random, buggy: bool) -> VarMisuseSample:
    """``def f(a, b): c = a + b; return c * a`` with random names; the bug turns the
    last ``a`` into ``b`` (repair: the occurrences of ``a``)."""
    a, b, c = rng.sample(NAMES, 3)
    tokens = ["#NEWLINE#", "def f(", a, ",", b, ")", ":", "#NEWLINE#", "#INDENT#",
              c, "=", a, "+", b, "#NEWLINE#", "return", c, "*", a]
    loc, targets = 0, []
    if buggy:
        loc, tokens[18] = 18, b
        targets = [2, 11]
    var_pos = [2, 4, 9, 11, 13, 16, 18]
    edges = [(i, i + 1, "enum_NEXT_SYNTAX") for i in range(1, len(tokens) - 1)]
    last: dict[str, int] = {}
    for p in var_pos:
        if tokens[p] in last:
            edges.append((p, last[tokens[p]], "enum_LAST_LEXICAL_USE"))
        last[tokens[p]] = p
    return VarMisuseSample(tokens, edges, buggy, loc, targets, var_pos)


def synthetic(n: int, seed: int = 0) -> list[VarMisuseSample]:
    rng = random.Random(seed)
    return [function_sample(rng, buggy=i % 2 == 1) for i in range(n)]


def one_batch(samples, cfg=TINY):
    vocab = Vocab.build(samples, cfg["vocab_size"])
    encoded = encode_samples(samples, vocab, cfg["max_len"])
    return vocab, encoded, make_batch(encoded, np.arange(len(encoded)))


# -- vocabulary -------------------------------------------------------------------------

def test_split_subtokens():
    assert split_subtokens("def foo_bar(") == ["def", "foo", "bar", "("]
    assert split_subtokens("getHTTPResponse2") == ["get", "http", "response", "2"]
    assert split_subtokens("#NEWLINE#") == ["#NEWLINE#"]
    assert split_subtokens("**") == ["**"]
    assert split_subtokens("__init__") == ["init"]


def test_vocab_build_encode_roundtrip():
    samples = synthetic(8)
    vocab = Vocab.build(samples, size=6, max_subtokens=2)
    assert len(vocab) == 6 and vocab.itos[:2] == ["<pad>", "<unk>"]
    assert vocab.encode("never_seen_name") == [1, 1]  # unknown, cut to 2 sub-tokens
    again = Vocab.from_json(vocab.to_json())
    assert again.itos == vocab.itos and again.max_subtokens == 2
    assert json.loads(vocab.to_json())["subtokens"] == vocab.itos


# -- batching ---------------------------------------------------------------------------

def test_encode_drops_long_samples_and_adds_reverse_edges():
    short = VarMisuseSample(["#NEWLINE#", "x", "=", "y"], [(1, 3, "enum_LAST_WRITE"), (1, 2, "enum_UNKNOWN")],
                            True, 1, [3], [1])
    long = VarMisuseSample(["#NEWLINE#"] + ["x"] * 10, [], False, 0, [], [1, 2])
    vocab = Vocab.build([short, long], 50)
    enc = encode_samples([long, short], vocab, max_len=5)
    assert len(enc) == 1 and enc.n_dropped == 1 and enc.kept.tolist() == [1]
    batch = make_batch(enc, np.array([0]))
    lw = EDGE_TYPES.index("enum_LAST_WRITE")
    assert sorted(batch.edges.tolist()) == [[0, 1, 3, lw], [0, 3, 1, lw + len(EDGE_TYPES)]]
    assert batch.candidates[0].tolist() == [False, True, False, True]  # targets join the candidates
    assert batch.var_ids[0].tolist() == [-1, 0, -1, 1]
    assert batch.targets[0].tolist() == [False, False, False, True]
    with pytest.raises(InputError):
        encode_samples([VarMisuseSample(["a", "b"], [], True, 5, [1], [1])], vocab, 10)


def test_iter_batches_keeps_order_and_token_budget():
    rng = random.Random(1)
    samples = [VarMisuseSample(["#NEWLINE#"] + ["x"] * rng.randint(1, 30), [], False, 0, [], [1]) for _ in range(40)]
    enc = encode_samples(samples, Vocab.build(samples, 10), max_len=64)
    order = np.random.default_rng(0).permutation(len(enc))
    seen = []
    for batch in iter_batches(enc, order, {"batch_tokens": 64}):
        assert batch.mask.shape[0] * batch.mask.shape[1] <= 64
        assert batch.mask.sum(1).tolist() == enc.lengths[batch.index.numpy()].tolist()
        seen += batch.index.tolist()
    assert seen == order.tolist()
    assert [len(b) for b in iter_batches(enc, order, batch_size=16)] == [16, 16, 8]


def test_reference_lines_encode(reference):
    samples = []
    for path in sorted((reference / "great").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            rec = json.loads(line)
            samples.append(VarMisuseSample(
                rec["source_tokens"], [(e[0], e[1], e[3]) for e in rec["edges"]], rec["has_bug"],
                rec["error_location"], rec["repair_targets"],
                [c for c in rec["repair_candidates"] if isinstance(c, int)], rec))
    assert len(samples) == 6
    vocab = Vocab.build(samples, 1000)
    enc = encode_samples(samples, vocab, max_len=512)
    batch = make_batch(enc, np.arange(len(enc)))
    assert batch.edges[:, 3].max() < 2 * len(EDGE_TYPES)
    model = build_model("great", TINY, len(vocab)).eval()
    with torch.no_grad():
        out = pointer_outputs(*model(batch), batch)
    assert torch.isfinite(out["loss"]).all()
    assert out["has_bug"].tolist() == [s.has_bug for s in (samples[i] for i in enc.kept)]


# -- the two-pointer outputs (Rabin et al. §4.3.1-§4.3.3) ------------------------------

def hand_batch(T, candidates, var_ids, targets, has_bug, error_location):
    def row(positions, fill=False, dtype=torch.bool, values=None):
        t = torch.full((1, T), -1 if dtype == torch.long else fill, dtype=dtype)
        for i, p in enumerate(positions):
            t[0, p] = True if values is None else values[i]
        return t
    return Batch(
        index=torch.tensor([0]), subtokens=torch.ones(1, T, 1, dtype=torch.long),
        mask=torch.ones(1, T, dtype=torch.bool), edges=torch.zeros(0, 4, dtype=torch.long),
        candidates=row(candidates), var_ids=row(candidates, dtype=torch.long, values=var_ids),
        error_location=torch.tensor([error_location]), targets=row(targets),
        has_bug=torch.tensor([has_bug]))


def test_pointer_outputs_hand_computed():
    # P_loc = softmax([0, ln 2, 0, 0]) = [.2, .4, .2, .2]; P_rep over candidates 1, 2, 3 =
    # softmax([0, ln 2, 0]) = [.25, .5, .25]; the correct variable "y" occurs at 2 and 3.
    batch = hand_batch(4, candidates=[1, 2, 3], var_ids=[0, 1, 1], targets=[2, 3], has_bug=True, error_location=1)
    loc = torch.tensor([[0.0, math.log(2), 0.0, 0.0]])
    rep = torch.tensor([[9.0, 0.0, math.log(2), 0.0]])  # position 0 is no candidate: ignored
    out = pointer_outputs(loc, rep, batch)
    assert out["loc_pred"].item() == 1 and out["loc_correct"].item()
    assert out["loc_score"].item() == pytest.approx(0.4, abs=1e-6)
    assert out["loc_loss"].item() == pytest.approx(-math.log(0.4), abs=1e-6)
    assert out["rep_target_mass"].item() == pytest.approx(0.75, abs=1e-6)
    assert out["rep_loss"].item() == pytest.approx(-math.log(0.75), abs=1e-6)
    assert out["rep_score"].item() == pytest.approx(0.75, abs=1e-6)
    assert out["rep_correct"].item()
    assert out["loss"].item() == pytest.approx(-math.log(0.4) - math.log(0.75), abs=1e-6)

    # Wrong location; the correct variable "x" holds exactly half the mass: correct (>= 0.5).
    batch = hand_batch(4, candidates=[1, 2, 3], var_ids=[0, 1, 0], targets=[1, 3], has_bug=True, error_location=2)
    out = pointer_outputs(loc, torch.tensor([[0.0, 0.0, math.log(2), 0.0]]), batch)
    assert not out["loc_correct"].item()
    assert out["rep_target_mass"].item() == 0.5 and out["rep_correct"].item()
    assert out["rep_score"].item() == pytest.approx(0.5, abs=1e-6)
    # ... and just under half: not correct.
    out = pointer_outputs(loc, torch.tensor([[0.0, 0.0, math.log(2) + 1e-3, 0.0]]), batch)
    assert out["rep_target_mass"].item() < 0.5 and not out["rep_correct"].item()

    # Bug-free: only the localization loss, at position 0; repair ignored.
    batch = hand_batch(4, candidates=[1, 2, 3], var_ids=[0, 1, 1], targets=[], has_bug=False, error_location=0)
    out = pointer_outputs(loc, rep, batch)
    assert out["rep_loss"].item() == 0 and out["rep_score"].item() == 0 and not out["rep_correct"].item()
    assert out["loss"].item() == pytest.approx(-math.log(0.2), abs=1e-6)
    assert out["loc_pred"].item() == 1 and not out["loc_correct"].item()


def test_repair_score_is_the_true_targets_mass_or_the_predicted_repairs():
    # P_rep over candidates 1, 2, 3 = [.25, .5, .25]; "x" at 1 is correct (mass .25), "y" at
    # 2 and 3 holds .75. The study logged the true target's mass; the paper's prose scores
    # the predicted repair, "y".
    batch = hand_batch(4, candidates=[1, 2, 3], var_ids=[0, 1, 1], targets=[1], has_bug=True, error_location=1)
    loc, rep = torch.zeros(1, 4), torch.tensor([[0.0, 0.0, math.log(2), 0.0]])
    assert pointer_outputs(loc, rep, batch)["rep_score"].item() == pytest.approx(0.25, abs=1e-6)
    assert pointer_outputs(loc, rep, batch, score="predicted")["rep_score"].item() == pytest.approx(0.75, abs=1e-6)
    clean = hand_batch(4, candidates=[1, 2, 3], var_ids=[0, 1, 1], targets=[], has_bug=False, error_location=0)
    for score in ("target", "predicted"):
        assert pointer_outputs(loc, rep, clean, score=score)["rep_score"].item() == 0


def test_objective_weights_repair_over_the_buggy_samples():
    """The study's objective: mean L_loc over all samples + mean L_rep over the buggy ones;
    ``sum``: mean of L_loc + L_rep over all."""
    from engine.models.pointer import pointer_objective

    out = {"loc_loss": torch.tensor([1.0, 2.0, 3.0, 6.0]), "rep_loss": torch.tensor([4.0, 0.0, 2.0, 0.0]),
           "has_bug": torch.tensor([True, False, True, False])}
    out["loss"] = out["loc_loss"] + out["rep_loss"]
    assert pointer_objective(out).item() == pytest.approx(3.0 + 3.0)       # 12/4 + 6/2
    assert pointer_objective(out, "sum").item() == pytest.approx(18 / 4)  # (3 + 2 + 5 + 6) / 4
    none = {**out, "has_bug": torch.zeros(4, dtype=torch.bool), "rep_loss": torch.zeros(4)}
    assert pointer_objective(none).item() == pytest.approx(3.0)  # no buggy sample: no repair term


@pytest.mark.parametrize("mass, expected", [(1e-9, 20.030), (5e-9, 18.932), (0.75, 0.28768)])
def test_repair_loss_adds_upstreams_epsilon(mass, expected):
    # ICLR20-Great meta_model.py: -log(target_probs + 1e-9); a floor at 1e-9 would give
    # 20.723 and 19.114 for the first two
    batch = hand_batch(3, candidates=[1, 2], var_ids=[0, 1], targets=[2], has_bug=True, error_location=1)
    rep = torch.tensor([[0.0, 0.0, math.log(mass / (1 - mass))]])
    out = pointer_outputs(torch.zeros(1, 3), rep, batch)
    assert out["rep_target_mass"].item() == pytest.approx(mass, rel=1e-5)
    assert out["rep_loss"].item() == pytest.approx(-math.log(mass + 1e-9), rel=1e-5)
    assert out["rep_loss"].item() == pytest.approx(expected, abs=1e-3)


def test_a_repair_target_of_all_the_mass_has_loss_zero_and_keeps_its_gradient():
    """-log(mass + 1e-9) at a mass of 1 is 0 in GREAT's float32; log1p's -1e-9 would have
    stopped the run's loss Gini (losses must be non-negative). The gradient is the same."""
    from engine.metrics import gini

    batch = hand_batch(3, candidates=[1, 2], var_ids=[0, 1], targets=[2], has_bug=True, error_location=1)
    rep = torch.tensor([[0.0, -40.0, 40.0]], requires_grad=True)
    out = pointer_outputs(torch.zeros(1, 3), rep, batch)
    assert out["rep_target_mass"].item() == 1.0 and out["rep_loss"].item() == 0.0
    out["rep_loss"].sum().backward()
    same = rep.detach().clone().requires_grad_()  # the loss as computed before the lift
    raw = -torch.logaddexp(torch.log_softmax(same[:, 1:], -1)[:, 1], torch.tensor(math.log(1e-9)))
    raw.sum().backward()
    assert raw.item() < 0 and torch.equal(rep.grad, same.grad)
    assert gini(out["rep_loss"].detach().numpy()) == 0.0


def test_pointer_outputs_gradients_are_finite_without_targets_or_candidates():
    batch = hand_batch(3, candidates=[], var_ids=[], targets=[], has_bug=True, error_location=1)
    loc = torch.zeros(1, 3, requires_grad=True)
    rep = torch.zeros(1, 3, requires_grad=True)
    out = pointer_outputs(loc, rep, batch)
    assert out["rep_loss"].item() == pytest.approx(-math.log(1e-9), rel=1e-5)
    out["loss"].sum().backward()
    assert torch.isfinite(loc.grad).all() and torch.isfinite(rep.grad).all()


# -- models -----------------------------------------------------------------------------

def test_build_model_rejects_unknown_names():
    with pytest.raises(InputError, match="transformer, ggnn, great"):
        build_model("rnn", TINY, 10)
    with pytest.raises(InputError, match="quick"):
        load_preset("huge")


def test_paper_preset_matches_table_1_parameter_counts():
    cfg = load_preset("paper")
    expected = {"ggnn": 41_190_914, "transformer": 26_215_938, "great": 26_225_538}  # Rabin et al. Table 1
    for name in MODELS:
        with torch.device("meta"):
            model = build_model(name, cfg, cfg["vocab_size"])
        assert sum(p.numel() for p in model.parameters()) == expected[name]
    assert set(load_preset("quick")) == set(cfg)


def upstream_positional_encoding(dim: int, sentence_length: int) -> np.ndarray:
    """ICLR20-Great models/util.py's table, transcribed: one flat list over (pos, i), sin
    at its even places and cos at its odd ones."""
    flat = np.array([pos / np.power(10000, 2 * i / dim) for pos in range(sentence_length) for i in range(dim)])
    flat[::2] = np.sin(flat[::2])
    flat[1::2] = np.cos(flat[1::2])
    return flat.reshape([sentence_length, dim]).astype(np.float32)


@pytest.mark.parametrize("dim", [8, 7, 512])
def test_positions_are_the_references_table(dim):
    from engine.models import reference_positions, sinusoid_positions

    got = reference_positions(40, dim).numpy()
    np.testing.assert_array_equal(got, upstream_positional_encoding(dim, 40))
    # not Vaswani et al.'s pairs: dimension 2 turns at 10000^(-4/H), where theirs turns at 10000^(-2/H);
    # an odd H alternates sin and cos along the flat table, so row 1 starts with cos
    assert got[1, 2] == pytest.approx(math.sin(10000 ** (-4 / dim)) if dim % 2 == 0 else math.cos(10000 ** (-4 / dim)))
    if dim > 8:
        assert not np.allclose(got, sinusoid_positions(40, dim).numpy(), atol=1e-3)


def test_a_token_enters_as_the_reference_embeds_it():
    """port=study: the sum of the sub-tokens' embeddings divided by max_subtokens (TF's
    reduce_mean over the axis padded to 10, though a batch pads only to its longest token),
    positions added, no scale; port=torch (byrote's earlier reading): the mean over the
    real sub-tokens times sqrt(H), plus Vaswani et al.'s positions."""
    from engine.models import VarMisuseModel, reference_positions, sinusoid_positions

    H, S = 4, 3  # the batch's longest token has 3 sub-tokens; the slots are 10
    ids = torch.zeros(1, 2, S, dtype=torch.long)
    ids[0, 0, :1] = torch.tensor([2])           # one sub-token
    ids[0, 1, :3] = torch.tensor([1, 2, 3])     # three
    weight = torch.arange(4 * H, dtype=torch.float32).reshape(4, H)
    weight[0] = 0.0
    seen = {}

    class Core(torch.nn.Module):
        def forward(self, x, mask, edges):
            seen["x"] = x
            return x

    batch = SimpleNamespace(subtokens=ids, mask=torch.ones(1, 2, dtype=torch.bool),
                            edges=torch.zeros(0, 4, dtype=torch.long))
    expected = {
        "study": torch.stack([weight[2] / 10, (weight[1] + weight[2] + weight[3]) / 10]) + reference_positions(2, H),
        "torch": torch.stack([weight[2], (weight[1] + weight[2] + weight[3]) / 3]) * math.sqrt(H)
        + sinusoid_positions(2, H),
    }
    for port, want in expected.items():
        model = VarMisuseModel(Core(), 4, H, port=port, max_subtokens=10)
        with torch.no_grad():
            model.embed.weight.copy_(weight)
        model(batch)
        torch.testing.assert_close(seen["x"][0], want)
    with pytest.raises(InputError, match="port must be one of study, torch"):
        VarMisuseModel(Core(), 4, H, port="mean")


def test_a_study_made_before_the_port_setting_keeps_its_model():
    from engine.presets import departures

    cfg = load_preset("quick")
    assert cfg["port"] == "study" and departures("varmisuse", cfg) == []
    before = {k: v for k, v in cfg.items() if k != "port"}
    assert departures("varmisuse", before) == ["port=torch"]
    assert build_model("ggnn", before, 20).port == "torch"
    assert build_model("ggnn", cfg, 20).port == "study"


def test_the_reference_initial_weights():
    """port=study draws every weight as Keras's defaults would in the reference: Glorot
    with Keras's fans over the TF shapes ([H, heads, d] for q/k/v, [heads, d, H] for o),
    zero biases, orthogonal GRU recurrences, layer norms of epsilon 1e-3."""
    from engine.models.keras_port import keras_fans

    assert keras_fans((512, 8, 64)) == (8 * 512, 64 * 512) and keras_fans((8, 64, 512)) == (64 * 8, 512 * 8)
    assert keras_fans((512, 2)) == (512, 2)
    cfg = {**load_preset("quick"), "hidden_dim": 128, "num_heads": 8, "ff_dim": 256}
    torch.manual_seed(0)

    def uniform(w, fan_in, fan_out):
        limit = math.sqrt(6 / (fan_in + fan_out))
        assert w.abs().max().item() <= limit
        assert w.std().item() == pytest.approx(limit / math.sqrt(3), rel=0.1)

    great = build_model("great", cfg, 50)
    attn, block = great.core.blocks[0].attn, great.core.blocks[0]
    H, h, d = 128, 8, 16
    for proj in (attn.q, attn.k, attn.v):
        uniform(proj.weight, h * H, d * H)   # std 0.0074 at the paper's size, not PyTorch's 0.0255
    uniform(attn.o.weight, d * h, H * h)
    uniform(attn.edge_emb.weight, cfg["num_edge_types"], d)  # PyTorch's embedding: N(0, 1)
    uniform(block.ff1.weight, H, 256)
    assert not block.ff1.bias.any() and not block.ff2.bias.any() and not great.head.proj.bias.any()
    uniform(great.head.proj.weight, H, 2)
    assert {m.eps for m in great.modules() if isinstance(m, torch.nn.LayerNorm)} == {1e-3}

    ggnn = build_model("ggnn", cfg, 50)
    gru = ggnn.core.grus[1]  # reads the input states beside the messages: 2H in
    uniform(gru.weight_ih, 2 * H, 3 * H)
    torch.testing.assert_close(gru.weight_hh.T @ gru.weight_hh, torch.eye(H), atol=1e-5, rtol=0)
    assert not gru.bias_ih.any() and not gru.bias_hh.any()
    torch.manual_seed(0)
    old = build_model("great", {**cfg, "port": "torch"}, 50)
    assert old.core.blocks[0].ff1.bias.any() and old.core.ln_f.eps == 1e-5


def test_keras_adam_steps_as_tensorflow_does():
    """tf.keras Adam: m, v as usual, then w -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + 1e-7),
    transcribed for five steps of fixed gradients on a tiny weight, through a resume."""
    from engine.models.keras_port import KerasAdam

    grads = [torch.tensor([1e-7, -3e-6, 0.5], dtype=torch.float64), torch.tensor([2e-7, 1e-6, -0.25], dtype=torch.float64)] * 3
    w = torch.nn.Parameter(torch.tensor([0.1, -0.2, 0.3], dtype=torch.float64))
    opt = KerasAdam([w], lr=0.01)
    ref, m, v = w.detach().clone(), torch.zeros(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
    for t, g in enumerate(grads[:5], start=1):
        if t == 3:  # a resumed run: a new optimizer from the saved state
            state = opt.state_dict()
            opt = KerasAdam([w], lr=0.01)
            opt.load_state_dict(state)
        w.grad = g.clone()
        opt.step()
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        ref = ref - 0.01 * math.sqrt(1 - 0.999**t) / (1 - 0.9**t) * m / (v.sqrt() + 1e-7)
        torch.testing.assert_close(w.detach(), ref, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", MODELS)
def test_loss_falls_on_learnable_synthetic_set(name):
    torch.manual_seed(0)
    _, _, batch = one_batch(synthetic(64))
    model = build_model(name, TINY, 200)
    optim = torch.optim.Adam(model.parameters(), lr=TINY["lr"])

    def mean_loss():
        model.eval()
        with torch.no_grad():
            return pointer_outputs(*model(batch), batch)["loss"].mean().item()

    before = mean_loss()
    model.train()
    for _ in range(40):
        loss = pointer_outputs(*model(batch), batch)["loss"].mean()
        optim.zero_grad()
        loss.backward()
        optim.step()
    after = mean_loss()
    assert after < 0.5 * before, (before, after)


@pytest.mark.parametrize("name", MODELS)
def test_padding_does_not_change_outputs(name):
    rng = random.Random(3)
    short = function_sample(rng, buggy=True)
    long = function_sample(rng, buggy=False)
    long = VarMisuseSample(long.tokens + ["#NEWLINE#", "pass"] * 6, long.edges, False, 0, [], long.repair_candidates)
    vocab = Vocab.build([short, long], 100)
    enc = encode_samples([short, long], vocab, max_len=64)
    torch.manual_seed(0)
    model = build_model(name, TINY, len(vocab)).eval()
    with torch.no_grad():
        alone = make_batch(enc, np.array([0]))
        padded = make_batch(enc, np.array([1, 0]))
        assert padded.mask.shape[1] > alone.mask.shape[1]
        a = pointer_outputs(*model(alone), alone)
        p = pointer_outputs(*model(padded), padded)
    for key, value in a.items():
        assert torch.allclose(value.float(), p[key][1:].float(), atol=1e-5), key


@pytest.mark.parametrize("name,uses_edges", [("great", True), ("ggnn", True), ("transformer", False)])
def test_edges_reach_the_outputs(name, uses_edges):
    _, _, batch = one_batch(synthetic(4))
    torch.manual_seed(0)
    model = build_model(name, TINY, 200).eval()
    without = Batch(**{**batch.__dict__, "edges": batch.edges[:0]})
    with torch.no_grad():
        with_edges, no_edges = model(batch)[0], model(without)[0]
    assert (not torch.allclose(with_edges, no_edges, atol=1e-4)) == uses_edges


def test_outputs_satisfy_the_metrics_contract():
    from engine.metrics.varmisuse import varmisuse_metrics

    _, _, batch = one_batch(synthetic(16))
    model = build_model("great", TINY, 200).eval()
    with torch.no_grad():
        out = pointer_outputs(*model(batch), batch)
    metrics = varmisuse_metrics({k: v.numpy() for k, v in out.items()})
    assert metrics["n"] == 16 and metrics["n_buggy"] == 8


def test_the_pointer_logits_are_float32_under_bf16_autocast():
    """The last layer runs outside autocast: its logits are the float32 product of the
    (bf16) states, not bf16-rounded (the per-sample losses, scores and Gini read them)."""
    from engine.models.pointer import PointerHead

    torch.manual_seed(0)
    head = PointerHead(16)
    states = torch.randn(2, 5, 16) * 8
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loc, rep = head(states.to(torch.bfloat16))
    assert loc.dtype == rep.dtype == torch.float32
    want = head.proj(states.to(torch.bfloat16).float())
    torch.testing.assert_close(loc, want[..., 0], rtol=0, atol=0)
    torch.testing.assert_close(rep, want[..., 1], rtol=0, atol=0)
