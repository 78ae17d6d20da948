"""The listings for scripts: ``studies``, ``scans``, ``jobs --active`` and ``--json`` on
every listing (one JSON document; hostile names stay escaped data)."""
from __future__ import annotations

import json

from test_app_dashboard import fill

from cli.main import main
from engine.store import Store


def run(capsys, db, *args) -> str:
    assert main(["--db", str(db), *args]) == 0, args
    return capsys.readouterr().out


def test_studies_scans_and_active_jobs_as_json(tmp_path, capsys):
    db = tmp_path / "t.db"
    store = Store(db)
    fill(store)
    with store._write():  # a hostile name
        store.db.execute("UPDATE studies SET name = ? WHERE id = 2", ["\x1b]52;c;evil\x07 \x1b[31mred\u202e"])
    studies = json.loads(run(capsys, db, "studies", "--json"))
    assert [(s["id"], s["state"], s["model"]) for s in studies] == [(1, "running", "ggnn"), (2, "failed", "code2vec")]
    assert studies[0]["name"] == "varmisuse-ggnn-small" and studies[0]["progress"] == 0.5
    assert studies[1]["name"] == "\x1b]52;c;evil\x07 \x1b[31mred\u202e"  # the name as data...
    raw = run(capsys, db, "studies", "--json")
    assert "\x1b" not in raw and "\x07" not in raw and "\u202e" not in raw  # ...never raw on the terminal
    assert len(raw.splitlines()) == 1
    scans = json.loads(run(capsys, db, "scans", "--json"))
    assert [(s["id"], s["state"], s["set_id"]) for s in scans] == [(1, "done", 1), (2, "queued", 1)]
    everything = json.loads(run(capsys, db, "jobs", "--json"))
    active = json.loads(run(capsys, db, "jobs", "--active", "--json"))
    assert everything["worker_pid"] is None and len(everything["jobs"]) == 9
    assert {j["state"] for j in active["jobs"]} == {"running", "queued"}
    assert [j["id"] for j in active["jobs"]] == [j["id"] for j in everything["jobs"] if j["state"] in ("running", "queued")]
    sets = json.loads(run(capsys, db, "outputs", "--json"))
    assert [(s["id"], s["name"], s["count"]) for s in sets] == [(1, "gpt2 k40", 3), (2, "imported", 1)]
    levels = json.loads(run(capsys, db, "results", "--study", "1", "--json"))
    assert [r["level"] for r in levels] == [0.0, 25.0, 50.0]


def test_the_tables_list_the_same_items(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")
    db = tmp_path / "t.db"
    store = Store(db)
    fill(store)
    out = run(capsys, db, "studies")
    assert "varmisuse-ggnn-small" in out and "running" in out and "failed" in out
    out = run(capsys, db, "jobs", "--active")
    assert "running" in out and "done" not in out.split("\n", 1)[1]
    assert main(["--db", str(db), "results", "--study", "9", "--json"]) == 2  # an unknown study: one line
    assert "no study with id 9" in capsys.readouterr().err
