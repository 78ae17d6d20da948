"""k-extractability (engine.extractable): the seeded choice of windows, teacher-forced
scoring against real greedy decoding, a model trained to memorize a corpus (rate high)
against one it never saw (rate ~0), the job resumed, and the command's bad input."""
from __future__ import annotations

import random
from pathlib import Path

import pytest
from memorizer import MEMORIZED

from engine import extractable as ex
from engine.data.corpus import Document
from engine.errors import InputError
from engine.store import Store



class Words:
    """A tokenizer of whitespace-separated words, for the choice of windows."""

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [len(w) for w in text.split()]}


def docs(texts: dict[str, str]):
    return lambda: iter([Document(k, v.encode()) for k, v in texts.items()])


def test_windows_are_seeded_by_document_not_by_reading_order():
    texts = {f"d{i}": " ".join(["w" * (1 + (i * j) % 5) for j in range(3 + i % 9)]) for i in range(60)}
    windows = ex.choose_windows(docs(texts), Words(), 10, 2, 3, seed=7)
    assert len(windows) == 10 and len({w.doc for w in windows}) == 10
    for w in windows:
        ids = Words()(texts[w.doc])["input_ids"]
        assert len(ids) >= 5 and list(w.ids) == ids[w.offset:w.offset + 5]
    shuffled = dict(random.Random(1).sample(list(texts.items()), len(texts)))
    assert ex.choose_windows(docs(shuffled), Words(), 10, 2, 3, seed=7) == windows
    assert ex.choose_windows(docs(texts), Words(), 4, 2, 3, seed=7) == windows[:4]  # a larger n keeps these
    assert ex.choose_windows(docs(texts), Words(), 10, 2, 3, seed=8) != windows
    assert all(w.offset == 0 for w in ex.choose_windows(docs(texts), Words(), 10, 2, 3, seed=7, at_start=True))
    # the documents of fewer than 5 words are never chosen; there are exactly these many long enough
    long_enough = sum(len(t.split()) >= 5 for t in texts.values())
    assert len(ex.choose_windows(docs(texts), Words(), 1000, 2, 3, seed=7)) == long_enough


def test_several_passes_choose_what_one_pass_would(monkeypatch):
    """Documents long in bytes but short in tokens fill the candidates of a pass: the next
    pass goes on from the highest key seen, and the result is the one pass's."""
    texts = {f"d{i}": ("x" * 40 if i % 3 else "a b c d e f") for i in range(90)}
    one_pass = ex.choose_windows(docs(texts), Words(), 12, 3, 3, seed=0)
    monkeypatch.setattr(ex, "CANDIDATES_PER_WINDOW", 1)
    assert ex.choose_windows(docs(texts), Words(), 12, 3, 3, seed=0) == one_pass
    assert len(one_pass) == 12


def test_teacher_forcing_gives_greedy_decodings_answer(memorizer):
    """For windows of the memorized corpus and of text the model never saw, the longest
    correct prefix from one forward pass equals the one of real greedy decoding."""
    from engine.lm.hub import load_causal_lm

    model, tokenizer = load_causal_lm(str(memorizer), "cpu")
    texts = MEMORIZED + ["while queue:\n    node = queue.pop()\n    visited.add(node)\n    queue.extend(graph[node])\n"]
    windows = [tuple(tokenizer(t)["input_ids"][o:o + 20]) for t in texts for o in (0, 5)]
    assert all(len(w) == 20 for w in windows)
    scores = ex.score_batch(model, windows, 12)
    greedy = ex.greedy_batch(model, windows, 12)
    for window, (correct, matches, miss), generated in zip(windows, scores, greedy):
        truth = list(window[12:])
        expected = next((i for i, (a, b) in enumerate(zip(generated, truth)) if a != b), 8)
        assert correct == expected and correct <= matches <= 8
        assert miss == (generated[correct] if correct < 8 else -1)
    assert [c for c, _, _ in scores[:8]] == [8] * 8  # the memorized documents are reproduced
    assert max(c for c, _, _ in scores[8:]) < 8


def _run(store: Store, model: Path, corpus_dir: Path, n: int = 4, prefix: int = 12, suffix: int = 8):
    from engine.data.corpus import open_corpus
    from engine.launch import check_extractable, enqueue_extractable

    plan = check_extractable(str(model), open_corpus(str(corpus_dir)), n, prefix, suffix, seed=0, batch_size=3)
    run_id, job_id = enqueue_extractable(store, plan, device="cpu")
    return run_id, job_id


def corpus(tmp_path: Path, name: str, texts: list[str]) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    for i, text in enumerate(texts):
        (folder / f"f{i}.py").write_text(text)
    return folder


def test_the_memorized_corpus_is_extractable_and_an_unseen_one_is_not(store, memorizer, tmp_path):
    from engine import jobs

    seen = corpus(tmp_path, "seen", MEMORIZED)
    rng = random.Random(0)
    unseen = corpus(tmp_path, "unseen", [" ".join(f"{rng.choice('qxzjv')}{rng.randrange(10**6)}" for _ in range(60))
                                         for _ in range(4)])
    a, _ = _run(store, memorizer, seen)
    b, _ = _run(store, memorizer, unseen)
    assert jobs.run_worker(store, idle_exit_s=0.1) == 2
    high, low = store.extractable_summary(a), store.extractable_summary(b)
    assert high["windows"] == high["scored"] == 4 and high["rate"] == 1.0 and high["correct_counts"][8] == 4
    assert low["scored"] == 4 and low["rate"] == 0.0 and low["correct_counts"][8] == 0
    windows = store.windows(a)
    assert {w["doc"] for w in windows} == {f"f{i}.py" for i in range(4)}
    assert all(w["suffix_text"] and w["suffix_text"] in MEMORIZED[int(w["doc"][1])] for w in windows)
    assert all(w["correct_text"] == w["suffix_text"] and w["miss_text"] is None for w in windows)
    missed = store.windows(b)
    assert all(w["suffix_text"].startswith(w["correct_text"]) and w["miss_text"] for w in missed)
    c, job = _run(store, memorizer, seen, n=6)  # 4 documents at 1 a document: 4 windows, said so
    jobs.run_worker(store, idle_exit_s=0.1)
    assert store.window_count(c) == 4
    assert any("4 windows of the 6 asked for" in line["text"] for line in store.job_log([job]))


def test_a_job_cut_off_midway_scores_only_what_is_missing(store, memorizer, tmp_path, monkeypatch):
    from engine import jobs

    seen = corpus(tmp_path, "seen", MEMORIZED)
    run_id, job_id = _run(store, memorizer, seen)
    calls = []
    real = ex.score_batch

    def once_then_crash(model, windows, prefix):
        calls.append(len(windows))
        if len(calls) == 2:
            raise RuntimeError("the machine went away")
        return real(model, windows, prefix)

    monkeypatch.setattr(ex, "score_batch", once_then_crash)
    jobs.run_worker(store, idle_exit_s=0.1)
    assert store.job(job_id)["state"] == "failed" and store.extractable_summary(run_id)["scored"] == 3
    monkeypatch.setattr(ex, "score_batch", real)
    store.resume_job(job_id)
    jobs.run_worker(store, idle_exit_s=0.1)
    summary = store.extractable_summary(run_id)
    assert store.job(job_id)["state"] == "done" and summary["scored"] == 4 and summary["rate"] == 1.0


def test_bad_input_is_refused_before_anything_is_queued(store, memorizer, tmp_path):
    short = corpus(tmp_path, "short", ["x = 1\n", "y = 2\n"])
    with pytest.raises(InputError, match="no document of the corpus has 20 tokens"):
        _run(store, memorizer, short)
    with pytest.raises(InputError, match="exceeds the model's context of 256"):
        _run(store, memorizer, corpus(tmp_path, "ok", MEMORIZED), prefix=200, suffix=100)
    with pytest.raises(InputError, match="--prefix must be positive"):
        _run(store, memorizer, corpus(tmp_path, "ok2", MEMORIZED), prefix=0)
    assert store.jobs() == [] and store.extractable_runs() == []


def test_the_command_prints_the_rate_and_refuses_bad_input_in_one_line(memorizer, tmp_path, capsys):
    from cli.main import main

    db = tmp_path / "c.db"
    seen = corpus(tmp_path, "seen", MEMORIZED)
    base = ["--db", str(db), "extractable", "--model", str(memorizer), "--n", "4", "--suffix", "8", "--device", "cpu"]
    assert main([*base, "--corpus", str(seen), "--prefix", "12", "--foreground"]) == 0
    out = capsys.readouterr().out
    assert "run 1: 4 of 4 windows extractable (100.0%; 12-token prefix, 8-token suffix, greedy)" in out
    assert "longest correct prefix: 8:4" in out
    assert main(["--db", str(db), "windows", "--run", "1", "--json"]) == 0
    import json

    shown = json.loads(capsys.readouterr().out)
    assert shown["summary"]["rate"] == 1.0 and len(shown["windows"]) == 4
    for args, said in (([*base, "--corpus", str(seen), "--prefix", "0"], "--prefix: 0 is outside 1.."),
                       ([*base, "--corpus", str(corpus(tmp_path, "short", ["x = 1\n"]))],
                        "no document of the corpus has 40 tokens"),
                       ([*base, "--corpus", str(tmp_path / "nowhere")], "nowhere")):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert said in err and err.count("\n") == 1, err
    assert Store(db).extractable_runs()[0]["id"] == 1 and len(Store(db).extractable_runs()) == 1


# -- the app ---------------------------------------------------------------------------------
def scored_db(tmp_path: Path) -> tuple[Path, int]:
    """A run of 3 windows of 4+4 tokens: one extractable, one right for 2 tokens, one
    that failed at once (its suffix holds an escape sequence, shown escaped)."""
    db = tmp_path / "x.db"
    store = Store(db)
    run_id = store.add_extractable_run(name="tiny 4+4", model="/m/tiny", corpus={"kind": "files"},
                                       corpus_label="directory /c", n=3, prefix=4, suffix=4, seed=0, at_start=0,
                                       batch_size=2, created=1_700_000_000.0)
    store.add_windows(run_id, [(1, "a.py", 0, [1] * 8, "def f(", "x): ret"),
                               (2, "b.py", 3, [2] * 8, "import ", "os, sys"),
                               (3, "c.py", 7, [3] * 8, "print(", "\x1b[31mred")])
    store.score_windows(run_id, [(1, 2, 3, 9, "x)", ":"), (2, 4, 4, -1, "os, sys", None), (3, 0, 1, 5, "", "'")])
    job = store.add_job("extractable", {"run_id": run_id, "device": "cpu"}, item=("extractable", run_id))
    store.update_job(job, state="done", progress=1.0)
    store.close()
    return db, run_id


def test_the_dashboard_opens_a_run_with_its_rate_histogram_and_windows(tmp_path, app_pilot):
    from conftest import settle

    from tui.screens.extractable import ExtractableScreen

    db, run_id = scored_db(tmp_path)

    async def body(app, pilot):
        table = app.screen.table
        assert "extractable:1" in {r.key.value for r in table.ordered_rows}
        assert "1/3 extractable (33.3%)" in str(table.get_row("extractable:1")[-1])
        table.move_cursor(row=[r.key.value for r in table.ordered_rows].index("extractable:1"))
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ExtractableScreen)
        title = str(screen.query_one("#x-title").content)
        assert "1 of 3 windows extractable (33.3%)" in title and "4-token prefix, 4-token suffix" in title
        rows = screen.query_one("#x-windows")
        assert [[str(c) for c in rows.get_row_at(i)[:2]] for i in range(3)] == [["2", "4"], ["1", "2"], ["3", "0"]]
        detail = screen.query_one("#x-window").content
        assert detail.plain == "import os, sys" and ("os, sys", "bold green") in [
            (detail.plain[s.start:s.end], str(s.style)) for s in detail.spans]
        await pilot.press("down")
        await settle(pilot)
        detail = screen.query_one("#x-window").content
        assert detail.plain == "def f(x): ret   greedy gave “:” instead"
        await pilot.press("down")
        await settle(pilot)
        detail = screen.query_one("#x-window").content
        assert "\x1b" not in detail.plain and "\\x1b[31mred" in detail.plain
        assert screen.query_one("#x-hist").plt is not None
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, ExtractableScreen)

    app_pilot(db, body, size=(100, 30))


def test_several_draws_per_document():
    """Each document offers K draws: draw 0 is the one-per-document window, and the
    windows of K draws include those of one draw that rank among them."""
    texts = {f"d{i}": " ".join("w" * (1 + (i * j) % 7) for j in range(40)) for i in range(5)}
    one = ex.choose_windows(docs(texts), Words(), 5, 3, 3, seed=1)
    many = ex.choose_windows(docs(texts), Words(), 15, 3, 3, seed=1, per_document=4)
    assert len(one) == 5 and len(many) == 15 and set(one) <= set(ex.choose_windows(
        docs(texts), Words(), 20, 3, 3, seed=1, per_document=4))
    assert {w.doc for w in many} == set(texts) and len({(w.doc, w.offset) for w in many}) > 5
    assert len(ex.choose_windows(docs(texts), Words(), 15, 3, 3, seed=1, per_document=4, at_start=True)) == 5
    # a document one token longer than the window has two offsets: ten draws give two windows
    short = ex.choose_windows(docs({"d": "a b c d e f g"}), Words(), 10, 3, 3, seed=1, per_document=10)
    assert sorted(w.offset for w in short) == [0, 1]


def test_a_long_window_fits_a_small_terminal(tmp_path, app_pilot):
    """At 80 x 24 the histogram, the windows and the highlighted window of many lines all
    lie above the footer (the window's text used to fall below the screen)."""
    from conftest import settle

    from textual.widgets import Footer

    db = tmp_path / "x.db"
    store = Store(db)
    run_id = store.add_extractable_run(name="a long name " * 12, model="/m/tiny", corpus={"kind": "files"}, corpus_label="c",
                                       n=1, prefix=4, suffix=4, seed=0, at_start=0, batch_size=1, created=1.0)
    store.add_windows(run_id, [(1, "a.py", 0, [1] * 8, "line\n" * 12, "more\n" * 12)])
    store.score_windows(run_id, [(1, 2, 3, 9, "more\n", "x")])
    store.close()

    async def body(app, pilot):
        from tui.screens.extractable import ExtractableScreen

        app.push_screen(ExtractableScreen(run_id))
        await settle(pilot)
        screen = app.screen
        footer = screen.query_one(Footer).region.y
        for child in screen.children:
            if child.id and child.id.startswith("x-"):
                assert child.region.height > 0 and child.region.bottom <= footer, (child.id, child.region, footer)

    app_pilot(db, body, size=(80, 24))


def test_a_run_deleted_while_its_screen_is_open_is_said_once_and_the_screen_goes_back(tmp_path, app_pilot):
    """Any polled screen of one item: the error is said once, not at every poll."""
    from conftest import settle

    from tui.screens.extractable import ExtractableScreen

    db, run_id = scored_db(tmp_path)

    async def body(app, pilot):
        assert isinstance(app.screen, ExtractableScreen)
        Store(db).delete_extractable_run(run_id)
        for _ in range(6):  # several polls
            await pilot.pause(0.12)
            await settle(pilot)
        said = [n.message for n in app._notifications if "no k-extractability run" in n.message]
        assert said == [f"no k-extractability run with id {run_id}"]
        assert not isinstance(app.screen, ExtractableScreen)

    app_pilot(db, body, size=(100, 30), poll_s=0.1, screen=lambda: ExtractableScreen(run_id))
