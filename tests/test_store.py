"""The store: schema, WAL, locations, atomic epoch commits, the job queue."""
from __future__ import annotations

import json
import sqlite3

import pytest

from engine.errors import InputError
from engine.store import SCHEMA_VERSION, Store, default_db_path


def test_schema_version_and_wal(store):
    assert store.schema_version() == SCHEMA_VERSION
    assert store.db.journal_mode == "wal"
    assert {"meta", "studies", "runs", "jobs", "metrics", "arrays"} <= set(store.db.table_names())


def test_reopen_keeps_data_and_does_not_remigrate(tmp_path):
    s = Store(tmp_path / "a.db")
    job = s.add_job("train_run", {"run_id": 1})
    s.close()
    s2 = Store(tmp_path / "a.db")
    assert s2.job(job)["params"] == {"run_id": 1}
    assert s2.schema_version() == SCHEMA_VERSION


def test_newer_schema_is_refused(tmp_path):
    s = Store(tmp_path / "a.db")
    s.set_meta("schema_version", str(SCHEMA_VERSION + 1))
    s.close()
    with pytest.raises(InputError, match="newer"):
        Store(tmp_path / "a.db")


def test_default_location(monkeypatch, tmp_path):
    monkeypatch.setenv("BYROTE_DB", str(tmp_path / "x.db"))
    assert default_db_path() == tmp_path / "x.db"
    monkeypatch.delenv("BYROTE_DB")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_db_path() == tmp_path / ".local" / "share" / "byrote" / "byrote.db"


def test_not_a_database(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(InputError, match="not a byrote database"):
        Store(bad)
    with pytest.raises(InputError, match="directory"):
        Store(tmp_path)


def _study_and_run(store):
    sid = store.add_study(name="s", task="varmisuse", model="great", preset="quick", epochs=2, seed=0,
                          device="cpu", train_path="t", valid_path="v", levels=[0, 50], config={"lr": 1})
    rid = store.add_run(study_id=sid, level=50.0, seed=0, epochs=2, train_path="x", changed_path="y")
    return sid, rid


def test_commit_epoch_and_metric_table(store):
    sid, rid = _study_and_run(store)
    store.commit_epoch(rid, 1, {"train": {"loss": 2.0, "gini_loss": float("nan")}, "valid": {"loss": 3.0}},
                       {"train": ("runs/1/e1.npz", 10)})
    assert store.run(rid)["epochs_done"] == 1
    assert store.metric_table(sid, "train", "loss") == {50.0: {1: 2.0}}
    # NaN is stored as NULL, not as a number
    assert store.metric_table(sid, "train", "gini_loss") == {50.0: {1: None}}
    assert store.array_path(rid, 1, "train") == store.files / "runs/1/e1.npz"
    # recommitting an epoch replaces it (a resumed run redoes at most one epoch)
    store.commit_epoch(rid, 1, {"train": {"loss": 1.5}}, {})
    assert store.metric_table(sid, "train", "loss") == {50.0: {1: 1.5}}
    assert store.study(sid)["levels"] == [0, 50]
    assert ("valid", "loss") in store.metric_names(sid)


def test_commit_epoch_is_atomic(store):
    sid, rid = _study_and_run(store)
    with pytest.raises(sqlite3.Error):
        # a value sqlite cannot bind fails the whole epoch, epochs_done included
        store.commit_epoch(rid, 1, {"train": {"loss": 1.0}}, {"train": (object(), 1)})
    assert store.run(rid)["epochs_done"] == 0
    assert store.metrics(rid) == []


def test_claim_is_exclusive_and_ordered(store, tmp_path):
    a = store.add_job("train_run", {"run_id": 1})
    b = store.add_job("train_run", {"run_id": 2})
    other = Store(store.path)
    first = store.claim_next_job(pid=111)
    second = other.claim_next_job(pid=222)
    assert (first["id"], second["id"]) == (a, b)
    assert store.claim_next_job(pid=333) is None
    assert store.job(a)["state"] == "running" and store.job(a)["attempts"] == 1
    assert store.claim_job(a, pid=444) is None  # not queued any more
    other.close()


def test_cancel_and_orphans(store):
    a = store.add_job("train_run", {})
    b = store.add_job("train_run", {})
    assert store.request_cancel(a) == "cancelled"
    store.claim_next_job(pid=4_194_401)  # above Linux's largest pid: a worker that is gone
    assert store.request_cancel(b) == "running"
    assert store.heartbeat(b) is True  # the worker sees the request at its next beat
    assert store.requeue_orphans() == []  # the request outlives the worker: the job ends cancelled, not queued
    assert store.job(b)["state"] == "cancelled" and store.job(b)["finished"] is not None
    assert store.job_log([b])[-1]["text"] == "cancelled (its worker was gone)"
    c = store.add_job("train_run", {})
    store.claim_next_job(pid=4_194_402)
    assert store.requeue_orphans() == [c] and store.job(c)["state"] == "queued"  # no request: resumed
    with pytest.raises(InputError, match="no job with id 99"):
        store.request_cancel(99)


def test_sql_is_parameterized(store):
    nasty = "x'); DROP TABLE jobs; --"
    j = store.add_job(nasty, {"q": nasty})
    assert store.job(j)["kind"] == nasty
    assert "jobs" in store.db.table_names()


def test_concurrent_writers_never_see_locked(store):
    """Heartbeats, progress and epoch commits from several connections at once: every
    write transaction takes the lock up front, so none fails with 'database is locked'."""
    import threading

    sid, rid = _study_and_run(store)
    job = store.add_job("train_run", {"run_id": rid})
    errors = []

    def hammer(kind):
        s = Store(store.path)
        try:
            for i in range(150):
                if kind == "beat":
                    s.heartbeat(job)
                elif kind == "progress":
                    s.update_job(job, progress=i / 150, message=f"step {i}")
                else:
                    s.commit_epoch(rid, i + 1, {"train": {"loss": float(i)}}, {})
                s.job(job)  # a read between writes, as the follower does
        except Exception as exc:  # pragma: no cover - the failure being tested for
            errors.append(exc)
        finally:
            s.close()

    threads = [threading.Thread(target=hammer, args=(k,)) for k in ("beat", "progress", "commit")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.run(rid)["epochs_done"] == 150


def test_a_version_2_database_with_snippets_gains_the_browser_indexes(tmp_path):
    """Migrations 3 and 24 fill first_line for the snippets already stored; 3 indexes their text."""
    import sqlite3

    import sqlite_utils

    from engine.store import schema as store_module

    path = tmp_path / "v2.db"
    db = sqlite_utils.Database(sqlite3.connect(str(path)))
    for version in (1, 2):
        store_module.MIGRATIONS[version](db)
    db.execute("INSERT INTO meta(key, value) VALUES ('schema_version', '2')")
    db.execute("INSERT INTO snippets(scan_id, fingerprint, len, train, extract, text) VALUES "
               "(1, 'aa', 6, 2, 1, 'first = 1\nsecond = 2\n'), (1, 'bb', 7, 1, 1, NULL), (1, 'cc', 6, 1, 1, ?)",
               ["\t\tnul = '\x00' \r\nrest\n"])
    db.conn.commit()
    db.conn.close()

    s = Store(path)
    assert s.schema_version() == SCHEMA_VERSION >= 24
    page = s.snippet_page(s.snippet_filter(1), order="first_line")
    # without the white space around it (as shown), whole past a NUL (migration 24)
    assert [(r["fingerprint"], r["first_line"]) for r in page] == [("bb", ""), ("aa", "first = 1"),
                                                                   ("cc", "nul = '\x00'")]
    if s.has_text_index:
        flt = s.snippet_filter(1, text="SECOND")
        assert flt.rowids is not None and flt.count == 1
        assert [r["fingerprint"] for r in s.snippet_page(flt)] == ["aa"]
    s.delete_scan(1)  # the index forgets deleted rows (an out-of-sync index would fail here)
    assert s.snippet_filter_count(s.snippet_filter(1, text="second")) == 0


def test_a_version_3_database_gains_job_items_and_lm_trainings(tmp_path):
    """Migration 4 names every job's item: a study's runs by their study column, samplings
    and scans by their parameters, the demo's stages as demo 1; each LM training becomes a
    row of its own with the settings its job carried."""
    import json
    import sqlite3

    import sqlite_utils

    from engine.store import schema

    path = tmp_path / "v3.db"
    db = sqlite_utils.Database(sqlite3.connect(str(path)))
    for version in (1, 2, 3):
        schema.MIGRATIONS[version](db)
    db.execute("INSERT INTO meta(key, value) VALUES ('schema_version', '3')")
    lm_params = {"corpus": {"kind": "files", "root": "/c"}, "out": "/m/lm", "preset": "tiny",
                 "settings": {"epochs": 2}, "seed": 3, "device": "cpu"}
    rows = [("train_run", {"run_id": 7}, 5, 7, "done"), ("sample", {"set_id": 2, "device": "cpu"}, None, None, "queued"),
            ("scan", {"scan_id": 4}, None, None, "running"), ("lm_train", lm_params, None, None, "failed"),
            ("demo", {"stage": "start", "settings": {}}, None, None, "done"), ("test_kind", {}, None, None, "queued"),
            ("lm_train", None, None, None, "failed"), ("train_run", {"run_id": 8}, None, 8, "queued")]
    for kind, params, study, run, state in rows:
        db.execute("INSERT INTO jobs(kind, params, state, study_id, run_id, created) VALUES (?, ?, ?, ?, ?, 1.0)",
                   [kind, None if params is None else json.dumps(params), state, study, run])
    db.conn.commit()
    db.conn.close()

    s = Store(path)
    assert s.schema_version() == SCHEMA_VERSION
    got = [(j["kind"], j["item_kind"], j["item_id"], j["run_id"], j["state"]) for j in s.jobs()]
    assert got == [("train_run", "study", 5, 7, "done"), ("sample", "sampling", 2, None, "queued"),
                   ("scan", "scan", 4, None, "running"), ("lm_train", "lm", 1, None, "failed"),
                   ("demo", "demo", 1, None, "done"), ("test_kind", None, None, None, "queued"),
                   ("lm_train", "lm", 2, None, "failed"), ("train_run", None, None, 8, "queued")]
    assert "study_id" not in {c.name for c in s.db["jobs"].columns}
    lm = s.lm_training(1)
    assert (lm["out"], lm["corpus"], lm["preset"], lm["settings"], lm["seed"], lm["device"]) == (
        "/m/lm", {"kind": "files", "root": "/c"}, "tiny", {"epochs": 2}, 3, "cpu")
    assert s.jobs()[3]["params"] == {"lm_id": 1}
    assert [j["id"] for j in s.jobs_of("study", 5)] == [1] and s.active_job("scan", 4) == 3


def test_a_version_4_database_marks_its_scans_with_their_rules(tmp_path):
    """Migration 5: scans made before rule sets ran byrote's ``lines`` rules, imported
    Simian logs are Simian's; an unfinished old scan is resumed only under its own rules."""
    import sqlite3

    import sqlite_utils

    from engine.store import schema

    path = tmp_path / "v4.db"
    db = sqlite_utils.Database(sqlite3.connect(str(path)))
    for version in (1, 2, 3, 4):
        schema.MIGRATIONS[version](db)
    db.execute("INSERT INTO meta(key, value) VALUES ('schema_version', '4')")
    db.execute("INSERT INTO output_sets(source, created) VALUES ('import', 1.0)")
    for source, state in (("scan", "done"), ("simian", "done"), ("scan", "running")):
        db.execute("INSERT INTO scans(set_id, source, state, corpus, stats, n_outputs, min_lines, case_sensitive, "
                   "created) VALUES (1, ?, ?, '{}', '{}', 3, 6, 0, 1.0)", [source, state])
    db.conn.commit()
    db.conn.close()

    s = Store(path)
    assert s.schema_version() == SCHEMA_VERSION
    assert [(scan["source"], scan["rules"]) for scan in s.scans()] == [
        ("scan", "lines"), ("simian", "simian"), ("scan", "lines")]
    assert s.unfinished_scan(1, {}, 3, 6, False, "lines")["id"] == 3
    assert s.unfinished_scan(1, {}, 3, 6, False, "simian") is None
    assert s.add_scan(set_id=1, source="scan", corpus={}) == 4 and s.scan(4)["rules"] == "simian"


def old_database(path, version: int, *statements: tuple[str, list]):
    """A database file at schema ``version`` (its migrations run, the later ones not)
    holding the rows the ``statements`` insert."""
    import sqlite3

    import sqlite_utils

    from engine.store import schema

    db = sqlite_utils.Database(sqlite3.connect(str(path)))
    for v in range(1, version + 1):
        schema.MIGRATIONS[v](db)
    db.execute("INSERT INTO meta(key, value) VALUES ('schema_version', ?)", [str(version)])
    for sql, args in statements:
        db.execute(sql, args)
    db.conn.commit()
    db.conn.close()
    return path


def test_a_version_5_database_keeps_its_shards_without_times(tmp_path):
    """Migration 6: shards record their filter pass's seconds; the shards of older scans
    keep theirs unknown (NULL)."""
    path = old_database(tmp_path / "v5.db", 5, (
        "INSERT INTO scan_shards(scan_id, shard, bytes, docs, skipped, path, finished) "
        "VALUES (1, 0, 10, 1, 0, 'scans/1/shards/0.npz', 1.0)", []))

    s = Store(path)
    assert s.schema_version() == SCHEMA_VERSION
    (old,) = s.finished_shards(1).values()
    assert (old["bytes"], old["seconds"], old["cpu_seconds"]) == (10, None, None)
    s.finish_shard(1, 1, "scans/1/shards/1.npz", 20, 2, 0, 0.5, 0.25)
    assert (s.finished_shards(1)[1]["seconds"], s.finished_shards(1)[1]["cpu_seconds"]) == (0.5, 0.25)


def test_a_version_6_database_marks_its_studies_with_byrotes_first_definitions(tmp_path):
    """Migration 7: studies made before byrote computed the study's definitions keep their
    results and say which definitions they used; new studies use the study's."""
    from engine.presets import definitions_label, departures

    insert = ("INSERT INTO studies(name, task, model, preset, epochs, seed, device, train_path, valid_path, levels, "
              "config, created) VALUES ('old', ?, 'm', 'quick', 1, 0, 'cpu', 't', 'v', '[0]', ?, 1.0)")
    path = old_database(tmp_path / "v6.db", 6, (insert, ["varmisuse", json.dumps({"lr": 0.001})]),
                        (insert, ["methodname", json.dumps({"batch_size": 1024})]))

    s = Store(path)
    old_vm, old_mn = s.study(1)["config"], s.study(2)["config"]
    assert old_vm == {"lr": 0.001, "score": "predicted", "objective": "sum", "train_eval": "pass"}
    assert old_mn == {"batch_size": 1024, "score": "full", "train_eval": "pass", "noise_rounding": "half_up"}
    assert departures("methodname", old_mn) == ["score=full", "train_eval=pass", "noise_rounding=half_up"]
    assert definitions_label("varmisuse", old_vm) == "definitions score=predicted, objective=sum, train_eval=pass, port=torch"
    from engine.presets import load_preset
    assert definitions_label("varmisuse", load_preset("quick")) == "the study's definitions"


def test_a_version_7_database_has_one_trial_per_level(tmp_path):
    """Migration 8: the runs made before repeated trials are each trial 0 of their level."""
    path = old_database(tmp_path / "v7.db", 7, (
        "INSERT INTO runs(study_id, level, seed, train_path, changed_path, epochs, created) "
        "VALUES (1, 25.0, 0, 't', 'c', 1, 1.0)", []))
    s = Store(path)
    assert [(r["level"], r["trial"]) for r in s.runs(1)] == [(25.0, 0)]


def test_every_sort_order_of_the_browser_has_its_index(store):
    from engine.store.browse import SNIPPET_ORDERS, order_by

    indexes = {row[0]: row[1] for row in store.db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'snippets'")}
    for order in SNIPPET_ORDERS:
        if order != "fingerprint":  # the primary key's order
            assert f"(scan_id, {order_by(order)})" in indexes[f"snippets_by_{order}"], order


def test_an_old_database_is_not_upgraded_under_a_running_worker_of_the_old_version(tmp_path):
    """Migration 4 rebuilds the jobs table: a worker of the old version still running on the
    database would break, so the upgrade waits until it is stopped, and says so in one line."""
    import fcntl
    import sqlite3

    import sqlite_utils

    from engine.errors import InputError
    from engine.store import schema

    path = tmp_path / "old.db"
    db = sqlite_utils.Database(sqlite3.connect(str(path)))
    for version in (1, 2, 3):
        schema.MIGRATIONS[version](db)
    db.execute("INSERT INTO meta(key, value) VALUES ('schema_version', '3')")
    db.conn.commit()
    db.conn.close()
    lock = tmp_path / "old-files" / "worker.lock"
    lock.parent.mkdir()
    with open(lock, "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write("4242")
        held.flush()
        with pytest.raises(InputError, match=r"a worker of an older byrote \(pid 4242\) runs on this database"):
            Store(path)
        assert sqlite_utils.Database(sqlite3.connect(str(path)))["meta"].get("schema_version")["value"] == "3"
    assert Store(path).schema_version() == SCHEMA_VERSION  # once it is gone


def test_opening_a_store_imports_no_pandas(tmp_path):
    """sqlite_utils takes pandas when it can (0.4 s and 90 MB in every process that opens a
    store); the store keeps it out, and leaves pandas importable for whoever needs it."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys\nfrom engine.store import Store\nStore(sys.argv[1]).scans()\n"
            "print('pandas' in sys.modules, 'sqlite_utils' in sys.modules)\n"
            "import pandas\nprint(pandas.DataFrame({'a': [1]}).shape)\n")
    proc = subprocess.run([sys.executable, "-P", "-c", code, str(tmp_path / "x.db")], capture_output=True,
                          text=True, cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:2] == ["False True", "(1, 1)"]


def test_the_text_index_follows_saved_replaced_and_deleted_results(tmp_path):
    """The store writes the trigram index itself, a scan at a time (migration 12 dropped
    the triggers): saving, saving again over a scan, and deleting a scan leave the index
    exactly in step with the table (FTS5's integrity check against its content)."""
    import sqlite3

    s = Store(tmp_path / "t.db")
    if not s.has_text_index:
        pytest.skip("this SQLite has no FTS5 trigram tokenizer")
    assert not [r for r in s.db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall()]
    first, second = s.add_scan(set_id=1), s.add_scan(set_id=1)

    def save(scan_id, texts):
        s.save_scan_results(scan_id, [(f"f{i}", 6, 1, 1, t) for i, t in enumerate(texts)], [], [])

    def found(scan_id, text):
        return sorted(s.snippet(scan_id, r["fingerprint"])["text"]
                      for r in s.snippet_page(s.snippet_filter(scan_id, text=text)))

    save(first, ["alpha = 1\nbeta = 2", "gamma = 3"])
    save(second, ["alpha = 10", None])
    assert found(first, "alpha") == ["alpha = 1\nbeta = 2"] and found(second, "alpha") == ["alpha = 10"]
    save(first, ["delta = 4"])  # a rerun replaces the scan's results
    assert found(first, "alpha") == [] and found(first, "delta") == ["delta = 4"]
    s.delete_scan(second)
    assert found(second, "alpha") == []
    s.db.execute("INSERT INTO snippet_text(snippet_text, rank) VALUES ('integrity-check', 1)")
    s.db.execute("DELETE FROM snippets WHERE scan_id = ?", [first])  # behind the store's back: out of step
    with pytest.raises(sqlite3.DatabaseError):
        s.db.execute("INSERT INTO snippet_text(snippet_text, rank) VALUES ('integrity-check', 1)")


def test_work_beside_the_saving_ends_before_the_places_are_read_and_its_failure_saves_nothing(tmp_path):
    """``beside`` (a scan spills its corpus places there) runs while the text index is
    built; the output places and the corpus places are read only after it ended, and
    its error rolls the whole transaction back."""
    import threading

    s = Store(tmp_path / "b.db")
    scan_id = s.add_scan(set_id=1)
    ended = threading.Event()
    read_after: list[bool] = []

    def places(rows):
        read_after.append(ended.is_set())
        yield from rows

    def spill():
        ended.set()

    s.save_scan_results(scan_id, [("f" * 32, 6, 1, 1, "a = 1\n" * 6)], places([("f" * 32, 1, 1, 6)]),
                        places([("f" * 32, 1, "doc", 1, 6, 1, "a = 1\n" * 6)]), beside=spill, state="done")
    assert read_after == [True, True] and s.snippet_count(scan_id) == 1
    assert len(s.snippet_matches(scan_id, "f" * 32)) == 1

    def broken():
        raise OSError(28, "No space left on device")

    other = s.add_scan(set_id=1)
    with pytest.raises(OSError, match="No space"):
        s.save_scan_results(other, [("e" * 32, 6, 1, 1, "b = 2\n" * 6)], [], [], beside=broken, state="done")
    assert s.snippet_count(other) == 0 and s.scan(other)["state"] != "done"


def test_a_version_24_databases_decay_sets_keep_stopping_at_end_of_text(tmp_path):
    """Migration 25: ``decay`` now samples past end-of-text, as the study's loop did; the
    sets made before stopped at it and become ``decay-at-eos``, so resuming one keeps
    what it holds and a new ``decay`` sampling does not continue it."""
    insert = ("INSERT INTO output_sets(name, source, model, n, seq_len, top_k, temperature, seed, batch_size, "
              "schedule, config, created) VALUES (?, 'sample', 'm', 4, 8, 0, 1.0, 0, 2, ?, '{}', 1.0)")
    path = old_database(tmp_path / "v24.db", 24, (insert, ["d", "decay"]), (insert, ["c", None]))
    s = Store(path)
    assert [o["schedule"] for o in s.output_sets()] == ["decay-at-eos", None]
    assert s.find_output_set(model="m", schedule="decay") is None


def test_a_version_26_databases_sampled_sets_keep_the_tokenizers_text(tmp_path):
    """Migration 27: a sampled set now says whether its outputs were decoded with
    ``clean_up_tokenization_spaces``; those sampled before were not (0), imported ones have
    no decoding (NULL). A new sampling with the same settings makes a set of its own."""
    sampled = ("INSERT INTO output_sets(name, source, model, n, seq_len, top_k, temperature, seed, batch_size, "
               "config, created) VALUES ('s', 'sample', 'm', 4, 8, 40, 1.0, 0, 2, '{}', 1.0)")
    imported = "INSERT INTO output_sets(name, source, n, config, created) VALUES ('i', 'import', 4, '{}', 1.0)"
    identity = dict(model="m", seq_len=8, top_k=40, temperature=1.0, seed=0, batch_size=2)
    settings = json.dumps({**identity, "n": 4, "rules": "simian", "min_lines": 6, "workers": 1})
    study = ("INSERT INTO extraction_studies(id, name, corpus, base, grid, created) VALUES (1, 'x', '{}', ?, '{}', 1.0)",
             [settings])
    point = ("INSERT INTO extraction_points(study_id, point, label, settings, set_id) VALUES (1, 1, 'p', ?, 1)",
             [settings])
    s = Store(old_database(tmp_path / "v26.db", 26, (sampled, []), (imported, []), study, point))
    assert [o["clean_up"] for o in s.output_sets()] == [0, None]
    from engine.extraction import sampling_identity

    # a study's points go on naming the sets they sampled
    assert s.extraction_study(1)["base"]["clean_up"] == 0
    assert s.find_output_set(**sampling_identity(s.extraction_point(1, 1)["settings"]))["id"] == 1
    assert s.find_output_set(**identity) is None  # the default decodes as the study did
    assert s.find_output_set(**identity, clean_up=0)["id"] == 1
    new = s.add_output_set(name="n", source="sample", n=4, config={}, **identity)
    assert s.output_set(new)["clean_up"] == 1 and s.find_output_set(**identity)["id"] == new


def test_a_version_25_database_drops_the_perplexities_of_texts_with_carriage_returns(tmp_path):
    """Migration 26: a perplexity is of the text with carriage returns read as newlines
    (eva.py reads its files in text mode); those of outputs holding one are dropped, so a
    perplexity job computes them again; the others stay."""
    rows = [("INSERT INTO output_sets(name, source, model, n, seq_len, top_k, temperature, seed, batch_size, config, "
             "created) VALUES ('s', 'sample', 'm', 3, 8, 40, 1.0, 0, 2, '{}', 1.0)", [])]
    for i, text in enumerate(["a\nb", "a\r\nb", "a\rb\x00"], 1):
        rows.append(("INSERT INTO outputs(set_id, id, md5, text, n_tokens) VALUES (1, ?, 'x', ?, 3)", [i, text]))
        rows.append(("INSERT INTO output_perplexity(set_id, output_id, model, variant, ppl) VALUES (1, ?, 'm', 'text', 2.0)",
                     [i]))
    s = Store(old_database(tmp_path / "v25.db", 25, *rows))
    assert s.perplexity_ids(1, "m", "text") == {1}
