"""Ranking outputs by the extraction study's signals (engine.ranking, after Yang et al.'s
evaluation/eva.py): the signals and their precision by hand, perplexities against the
model's own loss, and ``byrote rank`` on planted outputs of a model that memorized some."""
from __future__ import annotations

import json
import math
import random
import re

import numpy as np
import pytest
from memorizer import MEMORIZED

from engine import ranking
from engine.errors import InputError
from engine.store import Store

NAN = math.nan


def test_signals_and_precision_by_hand():
    """Six outputs; memorized: 0, 2, 5. Each signal's order worked out by hand."""
    scores = {"text": np.array([2.0, 10.0, 1.5, NAN, 4.0, 8.0]),
              "lower": np.array([4.0, 10.0, 1.5, 3.0, 2.0, 64.0]),
              "zlib": np.array([100.0, 50.0, 80.0, 10.0, 300.0, 60.0])}
    memorized = np.array([1, 0, 1, 0, 0, 1], dtype=bool)
    values = ranking.signal_values(scores)
    assert set(values) == {"perplexity", "lowercase", "zlib"}  # no reference model: no ratio
    # perplexity: -log PPL, lowest PPL first: 2 (1.5), 0 (2), 4 (4), 5 (8), 1 (10); output 3 (NaN) last
    assert list(ranking.ranking(values["perplexity"])) == [2, 0, 4, 5, 1, 3]
    # lowercase: log(lower)/log(text): 0: 2.0, 1: 1.0, 2: 1.0, 4: 0.5, 5: 2.0 -> ties in id order
    assert list(ranking.ranking(values["lowercase"])) == [0, 5, 1, 2, 4, 3]
    # zlib / log PPL: 0: 144.3, 1: 21.7, 2: 197.3, 4: 216.4, 5: 28.9
    assert list(ranking.ranking(values["zlib"])) == [4, 2, 0, 5, 1, 3]
    # a log perplexity of 0 (a text reproduced with certainty) makes a ratio +inf: first, not last
    assert list(ranking.ranking(np.array([1.0, math.inf, NAN, -math.inf, 2.0]))) == [1, 4, 0, 2, 3]
    rows = {r["signal"]: r for r in ranking.precision_table(scores, memorized, (2, 3, 10))}
    assert rows["perplexity"]["precision"] == {2: 1.0, 3: 2 / 3, 10: 0.5} and rows["perplexity"]["n"][10] == 6
    assert rows["lowercase"]["precision"] == {2: 1.0, 3: 2 / 3, 10: 0.5}
    assert rows["zlib"]["precision"] == {2: 0.5, 3: 2 / 3, 10: 0.5}
    assert rows["random"]["precision"][2] == 0.5


def test_the_ratio_divides_the_smaller_models_log_perplexity_by_the_larger():
    """eva.py: small-first, log(p1)/log(p2) with model_1 small; large-first, log(p2)/log(p1)
    with model_2 small: both the smaller model's over the larger's."""
    small, large = np.array([8.0, 2.0, 4.0]), np.array([2.0, 2.0, 16.0])
    values = ranking.signal_values({"text": large, "lower": large, "zlib": large, "smaller": small,
                                    "larger": large})["ratio"]
    assert np.allclose(values, [3.0, 1.0, 0.5])
    assert list(ranking.ranking(values)) == list(np.argsort(values)[::-1])  # eva.py's print_best, no ties or NaN


def test_text_as_eva_py_scores_it(tmp_path):
    assert ranking.collapsed("a\n\n\nb\n\nc\n") == "a\nb\nc\n"
    # eva.py reads each output back from its file in text mode, so carriage returns are newlines
    raw = "def f(a):\r\n    return a\r\n\r\n\r\ndef g(b):\r    pass\r\r\x0b\x85\u2028"
    path = tmp_path / "1"
    path.write_bytes(raw.encode("utf-8"))  # as extract.py's save_samples writes it
    with open(path, "r", encoding="utf-8") as f:
        as_eva_reads_it = re.sub("\n+", "\n", "".join(f.readlines()))
    assert ranking.collapsed(raw) == as_eva_reads_it == "def f(a):\n    return a\ndef g(b):\n    pass\n\x0b\x85\u2028"
    assert ranking.variant_text("Import OS\n\n", "lower") == "import os\n"
    import zlib

    assert ranking.zlib_size("x = 1\n" * 50) == len(zlib.compress(("x = 1\n" * 50).encode()))


def test_perplexity_in_a_padded_batch_is_the_models_own_loss(memorizer):
    import torch

    from engine.lm.hub import load_causal_lm

    model, tokenizer = load_causal_lm(str(memorizer), "cpu")
    texts = [MEMORIZED[0], "x", "while True:\n    pass\n", MEMORIZED[2] * 3]
    got, cut = ranking.perplexities(model, tokenizer, texts, limit=64)
    assert cut == 1 and math.isnan(got[1])  # one token: nothing predicted
    for text, value in zip(texts, got):
        ids = torch.tensor([tokenizer.encode(text)[:64]])
        if ids.shape[1] < 2:
            continue
        with torch.no_grad():
            expected = math.exp(model(input_ids=ids, labels=ids).loss.item())
        assert value == pytest.approx(expected, rel=1e-4)
    assert got[0] < 2.0 < got[2]  # a memorized text is far more likely


def planted(tmp_path, model) -> tuple[Store, int]:
    """An output set of the memorizer: its four documents (outputs 1-4) among eight texts it
    never saw; a finished scan that found outputs 1-4 memorized."""
    store = Store(tmp_path / "r.db")
    rng = random.Random(0)
    unseen = ["".join(rng.choice("abcdefghij (),:=\n") for _ in range(120)) for _ in range(8)]
    set_id = store.add_output_set(name="planted", source="sample", model=str(model), n=12, seq_len=64, top_k=40,
                                  temperature=1.0, batch_size=4, seed=0)
    store.add_outputs(set_id, [(i + 1, f"m{i}", text, None) for i, text in enumerate(MEMORIZED + unseen)])
    scan_id = store.add_scan(set_id=set_id, source="scan", corpus={"kind": "files"}, corpus_label="c", n_outputs=12,
                             min_lines=2, state="done", stats={"snippets": 4})
    store.save_scan_results(scan_id, [(f"fp{i}", 2, 1, 1, MEMORIZED[i]) for i in range(4)],
                            [(f"fp{i}", i + 1, 1, 2) for i in range(4)], [])
    return store, scan_id


def test_rank_finds_the_memorized_outputs_first(memorizer, tmp_path, capsys):
    from cli.main import main

    store, scan_id = planted(tmp_path, memorizer)
    db = ["--db", str(store.path)]
    assert main([*db, "rank", "--scan", str(scan_id), "--reference-model", str(memorizer), "--top", "4,100",
                 "--device", "cpu", "--foreground", "--json", "--csv", str(tmp_path / "signals.csv")]) == 0
    out = capsys.readouterr().out
    shown = json.loads(out[out.index("{"):])
    rows = {r["signal"]: r for r in shown["rows"]}
    assert shown["outputs"] == 12 and shown["memorized"] == 4
    assert rows["perplexity"]["precision"]["4"] == 1.0 and rows["random"]["precision"]["4"] == pytest.approx(1 / 3)
    assert rows["perplexity"]["n"]["100"] == 12  # cut to the set
    assert set(rows) == {"perplexity", "ratio", "lowercase", "zlib", "random"}
    lines = (tmp_path / "signals.csv").read_text().splitlines()
    assert lines[0] == "output,memorized,ppl,ppl_lower,ppl_reference,zlib_size,perplexity,ratio,lowercase,zlib"
    assert len(lines) == 13 and lines[1].startswith("1,1,")
    # scored once: a second rank queues nothing and prints the same table
    jobs_before = len(store.jobs())
    assert main([*db, "rank", "--scan", str(scan_id), "--top", "4", "--device", "cpu"]) == 0
    assert len(store.jobs()) == jobs_before and "perplexity" in capsys.readouterr().out


def test_bad_rankings_are_refused_in_one_line(memorizer, tmp_path, capsys):
    from transformers import GPT2Config, GPT2LMHeadModel

    from cli.main import main
    from engine.lm.train import train_tokenizer

    store, scan_id = planted(tmp_path, memorizer)
    other = tmp_path / "other"
    tokenizer = train_tokenizer(["def g(y):\n    return y * 2\n"] * 20, 300, 64)
    GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_positions=64, n_embd=32, n_layer=1,
                               n_head=2)).save_pretrained(other)
    tokenizer.save_pretrained(other)
    db = ["--db", str(store.path)]
    for args, said in ((["--scan", str(scan_id), "--reference-model", str(other)], "is not that of"),
                       (["--scan", "9"], "no scan"), (["--scan", str(scan_id), "--top", "0"], "each N must be positive")):
        assert main([*db, "rank", *args]) == 2
        err = capsys.readouterr().err
        assert said in err and err.count("\n") == 1, err
    assert [j for j in store.jobs() if j["kind"] == "perplexity"] == []
    with pytest.raises(InputError, match="was imported: name the model"):
        from engine.launch import check_ranking

        set_id = store.add_output_set(name="imported", source="import", model=None, n=1)
        store.add_outputs(set_id, [(1, "a", "x\n", None)])
        scan = store.add_scan(set_id=set_id, source="scan", corpus={"kind": "files"}, corpus_label="c",
                              n_outputs=1, min_lines=2, state="done", stats={})
        check_ranking(store, scan)


def test_the_ratio_takes_its_direction_from_the_recorded_sizes(tmp_path):
    store = Store(tmp_path / "s.db")
    set_id = store.add_output_set(name="o", source="import", model=None, n=2)
    store.add_outputs(set_id, [(1, "a", "x = 1\n", None), (2, "b", "y = 2\n\n\n", None)])
    for model, values in (("big", (2.0, 4.0)), ("small", (8.0, 4.0))):
        store.add_perplexities(set_id, model, "text", [(1, values[0]), (2, values[1])])
    store.add_perplexities(set_id, "big", "lower", [(1, 2.0), (2, 4.0)])
    with pytest.raises(InputError, match="the size of 'big' is not known yet"):
        ranking.scores_of(store, set_id, "big", "small")
    store.set_model_size("big", 1000)
    store.set_model_size("small", 10)
    ids, scores = ranking.scores_of(store, set_id, "big", "small")
    assert ids == [1, 2] and list(scores["smaller"]) == [8.0, 4.0] and list(scores["larger"]) == [2.0, 4.0]
    assert list(scores["zlib"]) == [ranking.zlib_size("x = 1\n"), ranking.zlib_size("y = 2\n")]  # newlines collapsed
    assert store.scored_models(set_id) == ["big", "small"] and store.scored_models(set_id, "lower") == ["big"]


def test_the_ranking_screen_from_the_browser(tmp_path, app_pilot, memorizer):
    """r in the browser: the table and curves from stored perplexities; before any, R queues
    the set's own model's perplexity jobs."""
    from conftest import settle

    from tui.screens.browser import BrowserScreen
    from tui.screens.ranking import RankingScreen, curve_ns

    assert curve_ns(1) == [1] and curve_ns(0) == [] and curve_ns(1000)[:3] == [1, 2, 3] and curve_ns(1000)[-1] == 1000
    store = Store(tmp_path / "r.db")
    model = str(memorizer)
    set_id = store.add_output_set(name="o", source="sample", model=model, n=4, seq_len=8, top_k=40,
                                  temperature=1.0, batch_size=2, seed=0)
    store.add_outputs(set_id, [(i, f"m{i}", f"text {i}\n", None) for i in (1, 2, 3, 4)])
    scan_id = store.add_scan(set_id=set_id, source="scan", corpus={"kind": "files"}, corpus_label="c", n_outputs=4,
                             min_lines=2, state="done", stats={"snippets": 1})
    store.save_scan_results(scan_id, [("f" * 32, 2, 1, 1, "text 2\n")], [("f" * 32, 2, 1, 2)], [])
    store.close()
    recorded = []

    async def body(app, pilot):
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RankingScreen) and "missing" in screen.ranking
        assert "press R to queue them" in str(screen.query_one("#r-title").content)
        await pilot.press("R")
        await settle(pilot)
        writer = Store(tmp_path / "r.db")
        queued = [j for j in writer.jobs() if j["kind"] == "perplexity"]
        assert [(j["params"]["model"], j["params"]["variant"]) for j in queued] == [(model, "text"), (model, "lower")]
        # as if the jobs ran: output 2 (the memorized one) is the most likely
        writer.add_perplexities(set_id, model, "text", [(1, 9.0), (2, 1.5), (3, 6.0), (4, 7.0)])
        writer.add_perplexities(set_id, model, "lower", [(1, 9.0), (2, 1.5), (3, 6.0), (4, 7.0)])
        writer.close()
        screen.refresh_data()
        await settle(pilot)
        assert screen.ranking["memorized"] == 1 and screen.ranking["reference"] is None
        table = screen.query_one("#r-table")
        rows = {str(table.get_row_at(i)[0]): [str(c) for c in table.get_row_at(i)[1:]] for i in range(table.row_count)}
        assert rows["perplexity"] == ["0.250 (of 4)", "0.250 (of 4)"]  # N cut to the 4 outputs: 1 of 4
        assert rows["random"] == ["0.250 (of 4)", "0.250 (of 4)"] and "ratio" not in rows
        assert screen.ranking["curves"]["perplexity"][0] == 1.0  # the top 1 is output 2
        assert screen.ranking["ns"] == [1, 2, 3, 4] and recorded  # R started a worker

    app_pilot(tmp_path / "r.db", body, size=(120, 36), screen=lambda: BrowserScreen(scan_id),
              spawn_worker=lambda store: recorded.append(1))
