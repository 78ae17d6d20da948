"""Sampling output sets: ids 1..n, md5s, reproducibility, and resumption after a crash or
a worker killed with SIGKILL (identical outputs, no duplicates, no gaps)."""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine import jobs, sample
from engine.errors import InputError
from engine.store import Store
from test_lm import tiny_lm_for_session

REPO = Path(__file__).resolve().parents[1]
SEQ = 40  # the tiny model's context is 64 tokens


@pytest.fixture(scope="session")
def tiny_lm(tmp_path_factory):
    return tiny_lm_for_session(tmp_path_factory)  # the one model test_lm.py trains


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _set(store: Store, model: Path, n: int = 10, batch_size: int = 4, seed: int = 1, seq_len: int = SEQ,
         prompt: str | None = None) -> int:
    return store.add_output_set(
        name="tiny", source="sample", model=str(model), n=n, seq_len=seq_len, top_k=40, temperature=1.0,
        batch_size=batch_size, seed=seed, prompt=prompt, config={"trust_remote_code": False},
    )


def _job(store: Store, set_id: int) -> int:
    return store.add_job("sample", {"set_id": set_id, "device": "cpu"}, item=("sampling", set_id))


def _outputs(store: Store, set_id: int) -> list[tuple[int, str, str, int]]:
    return [(o["id"], o["md5"], o["text"], o["n_tokens"]) for o in store.outputs(set_id)]


@pytest.mark.slow
def test_sample_job_fills_the_set_reproducibly(store, tiny_lm):
    a, same, other = _set(store, tiny_lm.out), _set(store, tiny_lm.out), _set(store, tiny_lm.out, seed=2)
    prompted = _set(store, tiny_lm.out, n=3, prompt="import ")
    job_ids = [_job(store, s) for s in (a, same, other, prompted)]
    assert jobs.run_worker(store, idle_exit_s=0.1) == 4
    for j in job_ids:
        job = store.job(j)
        assert job["state"] == "done" and job["progress"] == 1.0, job["error"]
    assert store.job(job_ids[0])["message"].startswith("10/10 outputs · ")
    out = _outputs(store, a)
    assert [o[0] for o in out] == list(range(1, 11))
    for _, md5, text, n_tokens in out:
        assert md5 == hashlib.md5(text.encode("utf-8")).hexdigest()
        assert 0 <= n_tokens <= SEQ and "<|endoftext|>" not in text
    assert sum(o[3] for o in out) > 0 and len({o[2] for o in out}) > 1
    assert _outputs(store, same) == out  # same seed, same outputs
    assert [o[2] for o in _outputs(store, other)] != [o[2] for o in out]
    assert [o[0] for o in _outputs(store, prompted)] == [1, 2, 3]
    # a finished set: nothing more to do
    again = _job(store, a)
    jobs.run_worker(store, idle_exit_s=0.1)
    assert store.job(again)["state"] == "done" and _outputs(store, a) == out


@pytest.mark.slow
def test_a_crash_midway_resumes_without_gaps_or_duplicates(store, tiny_lm, monkeypatch):
    straight, crashed = _set(store, tiny_lm.out, n=11), _set(store, tiny_lm.out, n=11)
    real, calls = sample.sample_batch, []

    def crashing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("out of memory")
        return real(*args, **kwargs)

    monkeypatch.setattr(sample, "sample_batch", crashing)
    j = _job(store, crashed)
    jobs.run_worker(store, idle_exit_s=0.1)
    assert store.job(j)["state"] == "failed" and "out of memory" in store.job(j)["error"]
    assert [o[0] for o in _outputs(store, crashed)] == list(range(1, 9))  # two whole batches
    monkeypatch.setattr(sample, "sample_batch", real)
    j2, j3 = _job(store, crashed), _job(store, straight)
    jobs.run_worker(store, idle_exit_s=0.1)
    assert store.job(j2)["state"] == store.job(j3)["state"] == "done"
    assert _outputs(store, crashed) == _outputs(store, straight)
    assert [o[0] for o in _outputs(store, crashed)] == list(range(1, 12))


@pytest.mark.slow
def test_raising_n_continues_exactly(store, tiny_lm):
    """The last batch is generated whole and cut, so a set grown later equals one asked
    for at its final size."""
    grown, straight = _set(store, tiny_lm.out, n=6), _set(store, tiny_lm.out, n=10)
    _job(store, grown)
    jobs.run_worker(store, idle_exit_s=0.1)
    assert store.max_output_id(grown) == 6
    store.update_output_set(grown, n=10)
    _job(store, grown)
    _job(store, straight)
    jobs.run_worker(store, idle_exit_s=0.1)
    assert _outputs(store, grown) == _outputs(store, straight)


def test_cancel_during_a_batch_stores_nothing_of_it(store, tiny_lm):
    set_id = _set(store, tiny_lm.out, n=8)
    j = _job(store, set_id)
    ctx = jobs.JobContext(store, store.job(j))
    after = []

    def check():  # cancelled a few tokens into the second batch
        if store.max_output_id(set_id) >= 4:
            after.append(1)
            if len(after) == 5:
                ctx.request_cancel()
        jobs.JobContext.check_cancel(ctx)

    ctx.check_cancel = check
    with pytest.raises(jobs.JobCancelled):
        sample.sample_job(ctx)
    assert store.max_output_id(set_id) == store.output_count(set_id) == 4


def test_too_long_for_the_model_context(store, tiny_lm):
    j = _job(store, _set(store, tiny_lm.out, seq_len=64))
    jobs.run_worker(store, idle_exit_s=0.1)
    job = store.job(j)
    assert job["state"] == "failed" and "64-token context" in job["error"] and "at most 63" in job["error"]
    with pytest.raises(InputError, match="network"):
        ctx = jobs.JobContext(store, {"id": j, "params": {"set_id": _set(store, Path("byrote-test/none")),
                                                           "device": "cpu"}})
        sample.sample_job(ctx)


@pytest.mark.slow
def test_kill_9_then_resume_gives_the_uninterrupted_outputs(tiny_lm, tmp_path):
    n, size = 48, 4
    store = Store(tmp_path / "killed.db")
    killed = _set(store, tiny_lm.out, n=n, batch_size=size, seq_len=60)
    j = _job(store, killed)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "--db", str(store.path), "worker", "--idle-exit", "0.2"],
                            cwd=REPO, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while store.max_output_id(killed) < size and time.time() < deadline and proc.poll() is None:
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
        proc.stderr.close()
    job = store.job(j)
    assert job["state"] == "running"  # the dead worker could not say anything
    stored = store.max_output_id(killed)
    assert size <= stored < n and stored % size == 0 and store.output_count(killed) == stored

    straight = _set(store, tiny_lm.out, n=n, batch_size=size, seq_len=60)
    _job(store, straight)
    assert jobs.run_worker(store, idle_exit_s=0.1) == 2  # the orphan resumed, then the new set
    job = store.job(j)
    assert job["state"] == "done" and job["attempts"] == 2
    out = _outputs(store, killed)
    assert [o[0] for o in out] == list(range(1, n + 1))
    assert out == _outputs(store, straight)
    store.close()


@pytest.mark.slow
def test_sample_batch_is_a_plain_function(tiny_lm):
    from engine.lm.hub import load_causal_lm

    model, tok = load_causal_lm(str(tiny_lm.out), "cpu")
    ids = sample.prompt_ids(tok, None, model)
    assert ids == [tok.eos_token_id]
    a = sample.sample_batch(model, tok, ids, 3, 20, 40, 1.0, seed=5)
    b = sample.sample_batch(model, tok, ids, 3, 20, 40, 1.0, seed=5)
    assert a == b and len(a) == 3 and all(isinstance(t, str) and 0 <= k <= 20 for t, k in a)


def test_the_studys_clean_up_by_hand():
    """transformers 4.25's replacements, in its order (a space string in code loses its
    space: the study's outputs held such texts)."""
    assert sample.clean_up_spaces("from . import x , y\n") == "from. import x, y\n"
    assert sample.clean_up_spaces("a = ' ' + b ?") == "a ='' + b?"
    assert sample.clean_up_spaces("don 't , can n't , we 're , it 's !") == "don 't, cann't, we're, it's!"
    assert sample.clean_up_spaces("x  .") == "x ."  # one pass per pattern: the " ." it leaves stays
    assert sample.clean_up_spaces("x = 1\n") == "x = 1\n"


def test_the_decaying_temperature_by_hand():
    """extract.py: 10 at the first token, down by 0.45 a token, 1 from the 21st on."""
    assert [sample.scheduled_temperature("decay", s) for s in (0, 1, 10, 19, 20, 100)] == pytest.approx(
        [10.0, 9.55, 5.5, 1.45, 1.0, 1.0])
    import torch

    processor = sample._Schedule("decay", prompt_len=3)
    scores = torch.tensor([[10.0, -20.0]])
    assert processor(torch.zeros((1, 3), dtype=torch.long), scores).tolist() == [[1.0, -2.0]]  # first token: /10
    assert processor(torch.zeros((1, 23), dtype=torch.long), scores).tolist() == [[10.0, -20.0]]


def upstream_decay_loop(model, input_ids, seq_len):
    """extract.py's sampling when --temperature is above 1, transcribed: every one of
    seq_len steps on the whole sequence (no cache, no end), 10 down to 1.45 over the first
    20 tokens, then 1, one multinomial draw over the softmax a step."""
    import torch

    out = input_ids
    with torch.no_grad():
        for step in range(seq_len):
            logits = model(out).logits[:, -1, :]
            logits /= 10.0 - (10.0 - 1.0) * step / 20 if step < 20 else 1.0
            out = torch.cat((out, torch.multinomial(torch.softmax(logits, dim=-1), num_samples=1)), dim=-1)
    return out


def test_the_decaying_temperature_samples_past_end_of_text_as_the_study_did(tiny_lm):
    """A model that gives end-of-text half the mass at temperature 1: ``decay`` draws the
    same tokens as the study's own loop, all seq_len of them, and its text is theirs
    decoded without special tokens (what follows an end-of-text stays); ``decay-at-eos``
    (sets made before schema 25) stops at the first."""
    import math

    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from engine.lm.hub import load_causal_lm

    _, tok = load_causal_lm(str(tiny_lm.out), "cpu")
    eos = tok.eos_token_id
    config = GPT2Config(vocab_size=len(tok), n_positions=64, n_embd=8, n_layer=1, n_head=1, bos_token_id=eos,
                        eos_token_id=eos, tie_word_embeddings=False)
    model = GPT2LMHeadModel(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.transformer.ln_f.bias.fill_(1.0)  # every state is the ones vector
        model.lm_head.weight[eos] = math.log(len(tok) - 1) / 8  # end-of-text as likely as the rest together
        model.lm_head.weight[5] = 0.5  # and one token a little more likely than the others

    seq_len, rows = 30, 6
    torch.manual_seed(11)
    theirs = upstream_decay_loop(model, torch.tensor([[eos]] * rows), seq_len)[:, 1:].tolist()
    assert all(len(r) == seq_len for r in theirs) and sum(t == eos for r in theirs for t in r) > rows

    ours = sample.sample_batch(model, tok, [eos], rows, seq_len, 40, 1.0, seed=11, schedule="decay")
    assert [n for _, n in ours] == [sum(t != eos for t in r) for r in theirs]
    assert [text for text, _ in ours] == [sample.clean_up_spaces(tok.decode(
        [t for t in r if t != eos], skip_special_tokens=True, clean_up_tokenization_spaces=False)) for r in theirs]
    at_eos = sample.sample_batch(model, tok, [eos], rows, seq_len, 40, 1.0, seed=11, schedule="decay-at-eos")
    cut = [r.index(eos) if eos in r else seq_len for r in theirs]
    assert [n for _, n in at_eos] == cut and min(cut) < seq_len
    assert all(ours[i][0].startswith(at_eos[i][0]) for i in range(rows))


@pytest.mark.slow
def test_outputs_are_decoded_as_the_studys_unless_asked(tmp_path, tiny_lm, capsys):
    """extract.py's batch_decode under transformers 4.25 cleaned up the spaces before
    punctuation (its default then); ``--no-clean-up-spaces`` keeps the tokenizer's text, in
    a set of its own. Both are the same sampled tokens."""
    from cli.main import main
    from engine.lm.hub import load_causal_lm

    _, tok = load_causal_lm(str(tiny_lm.out), "cpu")
    db = tmp_path / "s.db"
    base = ["--db", str(db), "sample", "--model", str(tiny_lm.out), "--n", "6", "--seq-len", "40", "--batch-size", "3",
            "--device", "cpu", "--foreground"]
    assert main(base) == 0 and main([*base, "--no-clean-up-spaces"]) == 0
    store = Store(db)
    cleaned, kept = store.output_sets()
    assert (cleaned["clean_up"], kept["clean_up"]) == (1, 0)
    cleaned, kept = ([o["text"] for o in store.outputs(s["id"])] for s in (cleaned, kept))
    assert cleaned == [sample.clean_up_spaces(text) for text in kept] and cleaned != kept
    assert main(base) == 0 and "already holds 6 outputs" in capsys.readouterr().out
    assert main(["--db", str(db), "sample", "--no-clean-up-spaces", "import", str(tmp_path)]) == 2
    assert "--no-clean-up-spaces: an option of sampling, not of sample import" in capsys.readouterr().err


@pytest.mark.slow
def test_a_set_sampled_with_the_schedule(tmp_path, tiny_lm, capsys):
    from cli.main import main

    db = tmp_path / "s.db"
    base = ["--db", str(db), "sample", "--model", str(tiny_lm.out), "--n", "4", "--seq-len", "24", "--batch-size", "2",
            "--device", "cpu", "--foreground"]
    assert main([*base, "--temperature-schedule", "decay"]) == 0
    assert main(base) == 0
    assert "extract.py's decaying temperature" in capsys.readouterr().out
    store = Store(db)
    decayed, plain = store.output_sets()
    assert (decayed["schedule"], decayed["top_k"], decayed["temperature"]) == ("decay", 0, 1.0)
    assert (plain["schedule"], plain["top_k"]) == (None, 40) and "decay temperature" in decayed["name"]
    texts = [[o["text"] for o in store.outputs(s["id"])] for s in (decayed, plain)]
    assert texts[0] != texts[1] and all(len(t) == 4 for t in texts)
    assert main([*base, "--temperature-schedule", "decay"]) == 0  # the same set: nothing to sample
    assert "already holds 4 outputs" in capsys.readouterr().out and len(store.output_sets()) == 2


def test_a_rerun_with_a_larger_n_grows_a_set_whose_batch_its_n_cut(store):
    """`sample --n 4` (batch 32) stores a batch of 4; `sample --n 8` then continues that set
    (it made a second one), as a set of n 6 and batch 4 grows to 10."""
    from engine.launch import enqueue_sampling

    identity = dict(model="/m/tiny", seq_len=16, top_k=40, temperature=1.0, schedule=None, batch_size=32, seed=0,
                    prompt=None)
    first, _, said = enqueue_sampling(store, identity, 4)
    assert said == f"output set {first}: 4 outputs to sample" and store.output_set(first)["batch_size"] == 4
    again, _, said = enqueue_sampling(store, identity, 8)
    assert again == first and said == f"output set {first}: 0 outputs stored, continuing to 8"
    assert len(store.output_sets()) == 1 and store.output_set(first)["n"] == 8
    assert enqueue_sampling(store, identity, 12)[0] == first  # grown once, it still grows
    other, _, _ = enqueue_sampling(store, {**identity, "batch_size": 2}, 8)  # another batch: another set
    assert other != first
