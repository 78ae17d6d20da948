"""Extraction studies (engine.extraction): the grid parsed and checked, one sampling and one
scan per point run by the worker, points differing only in n sharing a set, the figures
beside the scans', the dashboard row and screen, and bad input refused before anything is
queued."""
from __future__ import annotations

import json

import pytest
from memorizer import MEMORIZED

from engine.errors import InputError
from engine.extraction import grid_points, parse_grid
from engine.store import Store


def test_the_grid_is_parsed_and_checked():
    assert parse_grid(["top_k=5,40", "n=100, 1000"]) == {"top_k": [5, 40], "n": [100, 1000]}
    assert parse_grid(["temperature=0.7,1", "model=a,b"]) == {"temperature": [0.7, 1.0], "model": ["a", "b"]}
    points = grid_points({"n": 10, "top_k": 40, "seed": 0}, {"top_k": [5, 40], "n": [3, 6]})
    assert [(p["top_k"], p["n"]) for p in points] == [(5, 3), (5, 6), (40, 3), (40, 6)]
    for specs, said in ((["beam=2,4"], "'beam' is not a sampling setting"), (["top_k"], "give KEY=V1,V2"),
                        (["top_k=5,x"], "'x' is not a whole number"), (["top_k=0"], "0 must be positive"),
                        (["top_k=5", "top_k=6"], "top_k given twice"), (["n=5,5"], "5 given twice")):
        with pytest.raises(InputError, match=said):
            parse_grid(specs)


@pytest.fixture
def seen(tmp_path):
    folder = tmp_path / "seen"
    folder.mkdir()
    for i, text in enumerate(MEMORIZED):
        (folder / f"f{i}.py").write_text(text)
    return folder


def test_a_grid_runs_one_sampling_and_scan_per_point(tmp_path, memorizer, seen, capsys):
    from cli.main import main

    db = tmp_path / "x.db"
    argv = ["--db", str(db), "extraction", "--model", str(memorizer), "--corpus", str(seen), "--n", "8",
            "--seq-len", "40", "--batch-size", "4", "--grid", "top_k=1,40", "--grid", "n=4,8", "--min-lines", "2",
            "--device", "cpu", "--foreground"]
    assert main(argv) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "extraction study 1: 4 points (top_k, n)" in out
    store = Store(db)
    points = store.extraction_points(1)
    assert [p["label"] for p in points] == ["top_k=1, n=4", "top_k=1, n=8", "top_k=40, n=4", "top_k=40, n=8"]
    # the points of one top-k share the set sampled to 8 and its one scan
    assert points[0]["set_id"] == points[1]["set_id"] != points[2]["set_id"] == points[3]["set_id"]
    assert points[0]["scan_id"] == points[1]["scan_id"] and len(store.scans()) == 2
    assert [store.output_set(p["set_id"])["count"] for p in points] == [8] * 4
    assert {store.output_set(p["set_id"])["clean_up"] for p in points} == {1}  # decoded as the study's
    assert [j["state"] for j in store.jobs()] == ["done"] * 4
    from engine.extraction import point_rows

    rows = point_rows(store, 1)
    for row in rows:
        scan = store.scan(row["scan_id"])
        located = store.db.execute("SELECT COUNT(DISTINCT fingerprint), COUNT(DISTINCT output_id) FROM "
                                   "snippet_outputs WHERE scan_id = ? AND output_id <= ?",
                                   [scan["id"], row["outputs"]]).fetchone()
        assert (row["snippets"], row["memorized_outputs"]) == tuple(located)
        assert row["trend"][-1]["outputs"] == row["outputs"] and row["state"] == "done"
    full = [r for r in rows if r["outputs"] == 8]
    assert all(r["snippets"] == store.scan(r["scan_id"])["stats"]["snippets"] for r in full)
    assert main(["--db", str(db), "points", "--study", "1", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [p["outputs"] for p in shown["points"]] == [4, 8, 4, 8]


def test_bad_grids_are_refused_in_one_line_and_queue_nothing(tmp_path, memorizer, seen, capsys):
    from cli.main import main

    db = tmp_path / "bad.db"
    base = ["--db", str(db), "extraction", "--corpus", str(seen), "--device", "cpu"]
    for args, said in ((["--model", str(memorizer), "--grid", "beam=1,2"], "'beam' is not a sampling setting"),
                       (["--model", str(memorizer), "--grid", "model=a"], "not both"),
                       (["--grid", "top_k=5"], "needs --model"),
                       (["--model", str(memorizer), "--seq-len", "400"], "does not fit the model's context"),
                       (["--model", str(tmp_path / "none")], "none")):
        assert main([*base, *args]) == 2
        err = capsys.readouterr().err
        assert said in err and err.count("\n") == 1, err
    assert not db.exists() or Store(db).jobs() == []


def test_the_dashboard_opens_the_study(tmp_path, memorizer, seen, app_pilot):
    from conftest import settle

    from cli.main import main
    from tui.screens.browser import BrowserScreen
    from tui.screens.extraction import ExtractionScreen

    db = tmp_path / "x.db"
    assert main(["--db", str(db), "extraction", "--model", str(memorizer), "--corpus", str(seen), "--n", "4",
                 "--seq-len", "40", "--batch-size", "4", "--grid", "top_k=1,40", "--min-lines", "2",
                 "--device", "cpu", "--foreground"]) == 0

    async def body(app, pilot):
        table = app.screen.table
        keys = [r.key.value for r in table.ordered_rows]
        assert "extraction:1" in keys and "2/2 points done" in str(table.get_row("extraction:1")[-1])
        table.move_cursor(row=keys.index("extraction:1"))
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ExtractionScreen)
        points = screen.query_one("#e-points")
        assert [str(points.get_row_at(i)[1]) for i in range(2)] == ["top_k=1", "top_k=40"]
        assert "2/2 points scanned" in str(screen.query_one("#e-title").content)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, BrowserScreen)

    app_pilot(db, body, size=(120, 36))


def test_prompted_sampling_from_training_documents(tmp_path, memorizer, seen, capsys):
    """Prompts from the start of seeded corpus documents, K outputs each, recorded with their
    document; greedy (top-k 1) continuations go on with the memorized document; sampled
    again into the same set, nothing changes; bad prompt options are one line."""
    from cli.main import main

    db = tmp_path / "p.db"
    base = ["--db", str(db), "sample", "--model", str(memorizer), "--seq-len", "12", "--batch-size", "2",
            "--device", "cpu", "--foreground"]
    argv = [*base, "--prompts-from-corpus", str(seen), "--prompt-tokens", "8", "--n-prompts", "3", "--per-prompt", "3",
            "--top-k", "1"]
    assert main(argv) == 0
    assert "(3 prompts x 3)" in capsys.readouterr().out
    store = Store(db)
    (s,) = store.output_sets()
    prompts = store.set_prompts(s["id"])
    assert s["n"] == 9 and len(prompts) == 3 and s["prompts"].startswith("3 prompts sha1:") and s["prompt"] is None
    docs = {f"f{i}.py": text for i, text in enumerate(MEMORIZED)}
    outputs = list(store.outputs(s["id"]))
    assert [o["id"] for o in outputs] == list(range(1, 10))
    for p in prompts:
        assert docs[p["doc"]].startswith(p["text"]) and p["offset"] == 0
        mine = outputs[(p["id"] - 1) * 3:p["id"] * 3]
        assert len({o["text"] for o in mine}) == 1  # top-k 1: the same continuation three times
        assert docs[p["doc"]].startswith(p["text"] + mine[0]["text"][:6]), (p, mine[0]["text"])
    before = [o["text"] for o in outputs]
    assert main(argv) == 0 and "already holds 9 outputs" in capsys.readouterr().out
    assert [o["text"] for o in store.outputs(s["id"])] == before
    listed = tmp_path / "prompts.jsonl"
    listed.write_text('{"prompt": "def area(", "doc": "f0.py"}\n"import os\\n"\n')
    assert main([*base, "--prompts", str(listed), "--per-prompt", "2"]) == 0
    second = store.output_sets()[-1]
    assert second["n"] == 4 and [p["text"] for p in store.set_prompts(second["id"])] == ["def area(", "import os\n"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "x"}\n{"prompt": 3}\n')
    for args, said in ((["--prompts", str(bad)], f"{bad}:2: a prompt object needs a string 'prompt'"),
                       (["--prompts", str(listed), "--prompt", "x"], "choose one"),
                       (["--prompts", str(listed), "--n", "5"], "--n 5 is not 2 prompts x --per-prompt 1"),
                       (["--prompts-from-corpus", str(seen), "--prompt-tokens", "500"], "has 500 tokens")):
        assert main([*base, *args]) == 2
        err = capsys.readouterr().err
        assert said in err and err.count("\n") == 1, err
    assert len(store.output_sets()) == 2
