"""The dashboard: overview() rows checked by hand, and the screen (rows, cursor, keys, live
updates from another store connection, cancel/resume/delete)."""
from __future__ import annotations

import asyncio
import contextlib
import io
import os
import time

import pytest
from conftest import NOW, settle
from textual.widgets import DataTable, Static

from engine.errors import InputError
from engine.jobs import WorkerLock
from engine.overview import (age, aggregate_state, bar, cancel_item, delete_item, duration, overview, resume_item,
                             study_eta)
from engine.store import Store
from tui.app import ByroteApp
from tui.screens.confirm import ConfirmScreen
from tui.screens.dashboard import DashboardScreen


def fill(store: Store, now: float = NOW) -> None:
    """Study 1 (a run done, one running, one queued), study 2 (failed and cancelled), a
    queued LM training (job 6), output set 1 (sampled, done) and 2 (imported), scan 1
    (done) and scan 2 (queued), all of set 1."""
    s1 = store.add_study(name="varmisuse-ggnn-small", task="varmisuse", model="ggnn", preset="quick", epochs=5,
                         seed=0, device="cpu", train_path="/d/t.jsonl", valid_path="/d/v.jsonl",
                         levels=[0.0, 25.0, 50.0], created=now - 300)
    runs = [store.add_run(study_id=s1, level=lv, seed=0, epochs=5, epochs_done=0) for lv in (0.0, 25.0, 50.0)]
    jobs = [store.add_job("train_run", {"run_id": r}, item=("study", s1), run_id=r) for r in runs]
    store.update_job(jobs[0], state="done", progress=1.0)
    store.update_job(jobs[1], state="running", progress=0.5, eta=60.0, started=now - 100,
                     message="epoch 3/5: training")
    s2 = store.add_study(name=None, task="methodname", model="code2vec", preset="quick", epochs=2, seed=1,
                         device="auto", train_path="/d/a", valid_path="/d/b", levels=[0.0, 50.0], created=now - 7200)
    for level, state, fields in ((0.0, "failed", {"error": "out of memory", "progress": 0.3}),
                                 (50.0, "cancelled", {"cancel_requested": 1, "progress": 0.1})):
        run = store.add_run(study_id=s2, level=level, seed=1, epochs=2, epochs_done=0)
        store.update_job(store.add_job("train_run", {"run_id": run}, item=("study", s2), run_id=run), state=state, **fields)
    lm_id = store.add_lm_training(corpus={"kind": "files"}, out="/models/tiny-lm", preset="quick", seed=0,
                                  device="cuda", created=now - 30)
    lm = store.add_job("lm_train", {"lm_id": lm_id}, item=("lm", lm_id))
    store.update_job(lm, created=now - 30)
    o1 = store.add_output_set(name="gpt2 k40", source="sample", model="gpt2", n=3, seq_len=64, top_k=40,
                              temperature=1.0, batch_size=2, seed=0, created=now - 2 * 86400)
    store.add_outputs(o1, [(i, f"m{i}", "line\n" * 8, 10) for i in (1, 2, 3)])
    store.update_job(store.add_job("sample", {"set_id": o1, "device": "cpu"}, item=("sampling", o1)), state="done", progress=1.0)
    o2 = store.add_output_set(name="imported", source="import", model=None, n=2, created=now - 10)
    store.add_outputs(o2, [(1, "a", "x\n", None)])
    sc1 = store.add_scan(set_id=o1, source="scan", corpus={"kind": "files"}, corpus_label="corpus A", n_outputs=3,
                         min_lines=6, state="done", stats={"snippets": 140}, created=now - 3000)
    store.update_job(store.add_job("scan", {"scan_id": sc1}, item=("scan", sc1)), state="done", progress=1.0)
    sc2 = store.add_scan(set_id=o1, source="scan", corpus={"kind": "files"}, corpus_label="corpus B", n_outputs=3,
                         min_lines=6, rules="lines", state="queued", created=now - 5)
    store.add_job("scan", {"scan_id": sc2}, item=("scan", sc2))


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "t.db"
    store = Store(path)
    fill(store)
    store.close()
    return path


# -- overview(), by hand -------------------------------------------------------------------
def test_overview_rows(db):
    store = Store(db)
    rows = {item.key: item for item in overview(store, NOW).items}
    assert list(rows) == ["study:1", "study:2", "lm:1", "sampling:1", "sampling:2", "scan:1", "scan:2"]
    got = {k: (i.name, i.state, round(i.progress, 6), i.eta, i.device, i.age, i.detail) for k, i in rows.items()}
    assert got == {
        # progress: mean of (1, 0.5, 0); ETA: 60 s left + 1 queued run x (100 s / 0.5)
        "study:1": ("varmisuse-ggnn-small", "running", 0.5, 260.0, "cpu", 300.0,
                    "1/3 runs done · epoch 3/5: training"),
        "study:2": ("code2vec", "failed", 0.2, None, "auto", 7200.0, "0/2 runs done · out of memory"),
        "lm:1": ("tiny-lm", "queued", 0.0, None, "cuda", 30.0, "quick preset"),
        "sampling:1": ("gpt2 k40", "done", 1.0, None, "cpu", 172800.0, "3/3 outputs"),
        "sampling:2": ("imported", "done", 1.0, None, "-", 10.0, "1/2 outputs"),  # no job: done
        "scan:1": ("corpus A", "done", 1.0, None, "-", 3000.0, "140 snippets, simian rules"),
        "scan:2": ("corpus B", "queued", 0.0, None, "-", 5.0, "set 1, 3 outputs, lines rules"),
    }
    assert rows["sampling:1"].done_scan == 1 and rows["sampling:2"].done_scan is None
    assert rows["lm:1"].folder == "/models/tiny-lm" and rows["scan:2"].set_id == 1
    assert rows["study:1"].jobs == [(1, "done"), (2, "running"), (3, "queued")]
    sampling = store.add_job("sample", {"set_id": 1, "device": "cpu"}, item=("sampling", 1))
    store.update_job(sampling, state="running", message="2/3 outputs · 40 tokens/s")
    # the job's message says the count itself: not "3/3 outputs · 2/3 outputs · ..."
    assert {i.key: i.detail for i in overview(store, NOW).items}["sampling:1"] == "2/3 outputs · 40 tokens/s"
    store.update_job(sampling, state="done")
    store.update_job(2, slot=3)  # a worker with slots: the device column says which it holds
    assert {i.key: i.device for i in overview(store, NOW).items}["study:1"] == "cpu #3"
    store.update_run(store.runs(2)[0]["id"], device="cuda:0")  # "auto", once a run has started on a GPU
    assert {i.key: i.device for i in overview(store, NOW).items}["study:2"] == "cuda:0"
    store.close()


def test_status_line_follows_the_worker(db):
    store = Store(db)
    assert overview(store, NOW).status == "no worker; 4 jobs queued (press w to start one)"
    lock = WorkerLock(store)
    assert lock.acquire()  # this process plays the worker
    try:
        ov = overview(store, NOW)
        assert ov.worker_pid == os.getpid()
        assert ov.status == f"worker {os.getpid()}: running: study 1 (ggnn) 25% noise — epoch 3/5: training"
        store.update_job(2, state="done")
        assert overview(store, NOW).status == f"worker {os.getpid()}: idle"
        store.update_job(6, state="running", message=None, progress=0.25)
        assert overview(store, NOW).status == f"worker {os.getpid()}: running: lm 1 (tiny-lm) — 25%"
    finally:
        lock.release()
    store.close()


def test_state_eta_and_formats():
    def job(state, progress=0.0, eta=None, started=None):
        return {"state": state, "progress": progress, "eta": eta, "started": started}

    assert aggregate_state([job("done"), job("cancelled"), job("failed")]) == "failed"
    assert aggregate_state([job("failed"), job("queued")]) == "queued"
    assert aggregate_state([job("queued"), job("running")]) == "running"
    assert aggregate_state([job("done"), job("cancelled")]) == "cancelled"
    assert aggregate_state([]) == "done"
    running = job("running", 0.25, eta=30.0, started=NOW - 10)
    assert study_eta([running, job("queued"), job("queued")], NOW) == 30.0 + 2 * 40.0
    # once runs finished, a queued one takes their median duration, not the running run's guess
    took = [dict(job("done"), started=NOW - 500 - d, finished=NOW - 500) for d in (50.0, 70.0, 400.0)]
    assert study_eta([*took, running, job("queued"), job("queued")], NOW) == 30.0 + 2 * 70.0
    assert study_eta([running, job("done")], NOW) == 30.0
    assert study_eta([job("running", 0.0, eta=None, started=NOW), job("queued")], NOW) is None
    assert study_eta([job("queued")], NOW) is None
    assert [duration(s) for s in (None, 0, 42, 252, 7500, 3 * 86400 + 4 * 3600)] == [
        "-", "0s", "42s", "4m12s", "2h05m", "3d04h"]
    assert [age(s) for s in (12, 300, 3 * 3600 + 5, 2 * 86400 + 7)] == ["12s", "5m", "3h", "2d"]
    assert bar(0.7) == "███████░░░  70%"
    assert bar(1.0, 6) == "██████ 100%" and bar(0.0, 4) == "░░░░   0%"


def test_one_read_of_a_hundred_items_is_fast(tmp_path):
    store = Store(tmp_path / "t.db")
    for i in range(25):
        study = store.add_study(name=f"s{i}", task="varmisuse", model="great", preset="quick", epochs=3, seed=0,
                                device="cpu", train_path="/t", valid_path="/v", levels=[0.0, 50.0, 100.0])
        for level in (0.0, 50.0, 100.0):
            run = store.add_run(study_id=study, level=level, seed=0, epochs=3)
            store.add_job("train_run", {"run_id": run}, item=("study", study), run_id=run)
        lm = store.add_lm_training(out=f"/m/{i}", preset="quick", device="cpu")
        store.add_job("lm_train", {"lm_id": lm}, item=("lm", lm))
        outputs = store.add_output_set(name=f"o{i}", source="sample", model="gpt2", n=10)
        store.add_outputs(outputs, [(k, "m", "x\n", 1) for k in range(10)])
        store.add_job("sample", {"set_id": outputs, "device": "cpu"}, item=("sampling", outputs))
        scan = store.add_scan(set_id=outputs, source="scan", corpus_label="c", n_outputs=10, min_lines=6)
        store.add_job("scan", {"scan_id": scan}, item=("scan", scan))
    timings = []
    for _ in range(3):
        t0 = time.perf_counter()
        assert len(overview(store, NOW).items) == 100
        timings.append(time.perf_counter() - t0)
    assert min(timings) < 0.05, timings
    store.close()


# -- the screen ------------------------------------------------------------------------------
async def until(pilot, condition, within: float = 1.0) -> None:
    """Wait for the polled screen to show something (the dashboard reflects the store
    within a second)."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"not shown within {within:g} s"
        await pilot.pause(0.05)
    await settle(pilot)


class Recorder:
    """Stands in for the app's spawn_worker and its open_study/open_scan."""

    def __init__(self, app: ByroteApp | None = None):
        self.calls: list[tuple] = []
        if app is not None:
            app.open_study = lambda study_id: self.calls.append(("study", study_id))
            app.open_scan = lambda scan_id: self.calls.append(("scan", scan_id))

    def __call__(self, store: Store) -> int:
        self.calls.append(("spawn",))
        return 4242


@pytest.fixture
def in_app(app_pilot):
    """``in_app(db, body, size, spawns)``: ``body(app, pilot, dashboard)`` in the app as it opens."""

    def run(db, body, size=(80, 24), spawns=None) -> None:
        async def on_dashboard(app, pilot) -> None:
            assert isinstance(app.screen, DashboardScreen)
            await body(app, pilot, app.screen)

        app_pilot(db, on_dashboard, size=size, spawn_worker=spawns or Recorder(), poll_s=0.25)

    return run


def row_texts(screen) -> dict[str, list[str]]:
    table = screen.table
    return {row.key.value: [str(c) for c in table.get_row(row.key)] for row in table.ordered_rows}


def notes(app) -> list[str]:
    return [n.message for n in app._notifications]


def test_rows_fit_80_columns_and_use_160(db, in_app):
    seen = {}

    async def body(app, pilot, screen):
        rows = row_texts(screen)
        seen[app.size.width] = rows
        assert list(rows) == ["study:1", "study:2", "lm:1", "sampling:1", "sampling:2", "scan:1", "scan:2"]
        assert screen.table.virtual_size.width <= screen.table.size.width  # nothing scrolls sideways
        status = str(screen.query_one("#status", Static).content)
        assert status == "no worker; 4 jobs queued (press w to start one)"
        assert str(screen.query_one("#info", Static).content).startswith("study 1: varmisuse-ggnn-small · running")

    in_app(db, body, size=(80, 24))
    in_app(db, body, size=(160, 48))
    narrow, wide = seen[80]["study:1"], seen[160]["study:1"]
    assert narrow[:2] + narrow[3:4] + narrow[5:8] == ["study", "1", "running", "4m20s", "cpu", "5m"]
    assert narrow[4] == "███░░░  50%" and wide[4] == "█████░░░░░  50%"
    assert narrow[2].endswith("…") and wide[2] == "varmisuse-ggnn-small"
    assert narrow[8].endswith("…") and wide[8] == "1/3 runs done · epoch 3/5: training"
    assert seen[160]["scan:2"][5] == "-" and seen[160]["sampling:2"][4].endswith("100%")


def test_cursor_keys_and_live_rows_keep_the_cursor_on_its_item(db, in_app):
    async def body(app, pilot, screen):
        await pilot.press("j", "j")
        assert screen.current_key() == "lm:1"
        await pilot.press("k")
        assert screen.current_key() == "study:2"
        await pilot.press("G")
        assert screen.current_key() == "scan:2"
        await pilot.press("g", "j")
        assert screen.current_key() == "study:2"
        clears = []  # the table is rebuilt only when rows move, else updated in place
        clear = screen.table.clear
        screen.table.clear = lambda *args, **kw: (clears.append(1), clear(*args, **kw))[1]
        other = Store(db)  # another connection (the worker, the command line) adds rows
        other.add_study(name="newer", task="varmisuse", model="great", preset="quick", epochs=1, seed=0,
                        device="cpu", train_path="/t", valid_path="/v", levels=[0.0], created=NOW - 1)
        other.update_job(2, progress=0.75, eta=20.0)
        other.close()
        await until(pilot, lambda: "study:3" in row_texts(screen))
        rows = row_texts(screen)
        assert list(rows)[:3] == ["study:1", "study:2", "study:3"]  # within a second
        assert rows["study:3"][3] == "done" and rows["study:1"][4] == "████░░  58%"  # (1 + 0.75 + 0) / 3
        assert screen.current_key() == "study:2"  # the rows moved; the cursor stayed with its item
        await pilot.press("G")
        other = Store(db)
        other.update_job(9, state="running", progress=0.5, eta=5.0)  # scan 2's job: cells change in place
        other.close()
        await until(pilot, lambda: row_texts(screen)["scan:2"][3] == "running")
        assert screen.current_key() == "scan:2"
        other = Store(db)
        other.add_scan(set_id=2, source="scan", corpus_label="corpus C", n_outputs=1, min_lines=6, created=NOW)
        other.close()
        await until(pilot, lambda: "scan:3" in row_texts(screen))
        assert list(row_texts(screen))[-1] == "scan:3" and screen.current_key() == "scan:2"
        assert clears == [1]  # the new study moved rows; the changed cells and the new last row did not

    in_app(db, body)


def test_enter_opens_what_the_item_is(db, in_app):
    async def body(app, pilot, screen):
        rec = Recorder(app)
        for key, expect in [("study:1", ("study", 1)), ("scan:1", ("scan", 1)), ("sampling:1", ("scan", 1))]:
            screen.table.move_cursor(row=screen.table.get_row_index(key))
            await pilot.press("enter")
            assert rec.calls[-1] == expect
        for key, note in [("scan:2", "scan 2 is queued; it opens when it is done"),
                          ("sampling:2", "sampling 2: 1/2 outputs; no finished scan of it yet (x scans it)")]:
            screen.table.move_cursor(row=screen.table.get_row_index(key))
            await pilot.press("enter")
            assert notes(app)[-1] == note
        assert len(rec.calls) == 3
        from tui.screens.lm import LMScreen  # a language model's training: its loss curve

        screen.table.move_cursor(row=screen.table.get_row_index("lm:1"))
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, LMScreen) and app.screen.lm_id == 1
        assert "/models/tiny-lm" in str(app.screen.query_one("#lm-title").render())
        await pilot.press("escape")
        await settle(pilot)
        # a click highlights a row; a second click on it opens it, as enter does
        screen.table.move_cursor(row=screen.table.get_row_index("lm:1"))
        await settle(pilot)
        row = screen.table.get_row_index("study:1")
        await pilot.click(screen.table, offset=(3, row + 1))  # below the header
        await settle(pilot)
        assert len(rec.calls) == 3 and screen.current_key() == "study:1"
        await pilot.click(screen.table, offset=(3, row + 1))
        await settle(pilot)
        assert rec.calls[-1] == ("study", 1) and len(rec.calls) == 4

    in_app(db, body)


@pytest.mark.slow
def test_launch_keys_open_the_forms(db, in_app):
    async def body(app, pilot, screen):
        for key, form in (("n", "StudyForm"), ("s", "SamplingForm"), ("x", "ScanForm")):
            await pilot.press(key)
            await settle(pilot)
            assert type(app.screen).__name__ == form
            await pilot.press("escape")
            await settle(pilot)
            assert app.screen is screen
        screen.table.move_cursor(row=screen.table.get_row_index("sampling:1"))
        await pilot.press("x")
        await settle(pilot)
        assert app.screen.set_id == 1 and app.screen.query_one("#outputs").value == 1
        await pilot.press("escape", "question_mark")
        await settle(pilot)
        keys = [str(c) for row in app.screen.query_one(DataTable).ordered_rows
                for c in app.screen.query_one(DataTable).get_row(row.key)]
        for key, what in (("n", "Study"), ("s", "Sample"), ("x", "Scan"), ("c", "Cancel"), ("r", "Resume"),
                          ("d", "Delete"), ("w", "Worker")):
            assert keys[keys.index(key) + 1] == what
        assert "Dashboard" in str(app.screen.query_one("HelpScreen > Vertical").border_title)

    in_app(db, body)


def test_cancel_resume_and_the_worker_key(db, in_app):
    spawns = Recorder()

    async def body(app, pilot, screen):
        await pilot.press("c")  # study 1: its queued run is cancelled, its running one asked to stop
        await settle(pilot)
        assert notes(app)[-1] == "study 1: cancelling 2 job(s)"
        await pilot.press("j", "r")  # study 2: its failed and cancelled runs are queued again
        await settle(pilot)
        assert notes(app)[-1] == "study 2: 2 job(s) queued again"
        assert spawns.calls == [("spawn",)]
        await pilot.press("r")
        await settle(pilot)
        assert notes(app)[-1] == "study 2: nothing to resume" and len(spawns.calls) == 1
        await pilot.press("w")
        await settle(pilot)
        assert notes(app)[-1] == "worker started (pid 4242)" and len(spawns.calls) == 2

    in_app(db, body, spawns=spawns)
    store = Store(db)
    states = {j["id"]: (j["state"], j["cancel_requested"]) for j in store.jobs()}
    assert states[2] == ("running", 1) and states[3] == ("cancelled", 1)
    assert states[4] == ("queued", 0) and states[5] == ("queued", 0)
    assert states[6] == ("queued", 0)  # other items untouched


@pytest.mark.slow
def test_delete_asks_first_and_refuses_a_running_item(db, in_app):
    async def confirm(pilot, key: str) -> None:
        """d, then ``key`` once the question is on the screen (a key pressed before it
        shows would reach the dashboard); the question and its keys are readable (the box
        once showed empty: no width)."""
        await pilot.press("d")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen), within=5)
        await settle(pilot)
        question = pilot.app.screen.query_one("#question")
        assert question.size.width * question.size.height >= len(pilot.app.screen.question)  # wrapped, whole
        shown = pilot.app.export_screenshot().replace("&#160;", " ")
        assert "y / enter: yes" in shown and pilot.app.screen.question.split()[0] in shown
        await pilot.press(key)

    async def body(app, pilot, screen):
        await pilot.press("d")  # study 1 runs
        await settle(pilot)
        assert app.screen is screen and notes(app)[-1] == "study 1 is running: cancel it first"
        await pilot.press("j")
        await confirm(pilot, "n")  # no
        await until(pilot, lambda: app.screen is screen, within=5)
        assert "study:2" in row_texts(screen)
        await confirm(pilot, "y")
        await until(pilot, lambda: "study:2" not in row_texts(screen), within=5)
        assert notes(app)[-1] == "study 2 deleted" and screen.current_key() == "lm:1"
        await confirm(pilot, "escape")
        await until(pilot, lambda: app.screen is screen, within=5)
        assert "lm:1" in row_texts(screen)
        await confirm(pilot, "enter")  # enter confirms too
        await until(pilot, lambda: "lm:1" not in row_texts(screen), within=5)
        assert screen.current_key() == "sampling:1"
        for state in ("running", "cancelled"):  # the output set goes with its scans: not while one runs
            other = Store(db)
            other.update_job(9, state=state)
            other.close()
            await until(pilot, lambda state=state: row_texts(screen)["scan:2"][3] == state)
            await pilot.press("d")
            await settle(pilot)
        assert notes(app)[-1] == "scan 2 is running: cancel it first"
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), within=5)
        await pilot.press("y")
        await until(pilot, lambda: list(row_texts(screen)) == ["study:1", "sampling:2"], within=5)

    in_app(db, body)
    store = Store(db)
    assert [s["id"] for s in store.studies()] == [1] and [o["id"] for o in store.output_sets()] == [2]
    assert store.scans() == [] and [j["id"] for j in store.jobs()] == [1, 2, 3]


def test_delete_checks_the_store_again(db):
    """The screen refuses from its last read; the write itself checks the store once more."""
    store = Store(db)
    items = {item.key: item for item in overview(store, NOW).items}
    store.update_job(9, state="running")  # since the read: scan 2, of output set 1, started
    with pytest.raises(InputError, match="scan 2 is running: cancel it first"):
        delete_item(store, items["sampling:1"])
    with pytest.raises(InputError, match="study 1 is running: cancel it first"):
        delete_item(store, items["study:1"])
    assert delete_item(store, items["scan:1"]) == "scan 1 deleted"
    assert [s["id"] for s in store.scans()] == [2] and [o["id"] for o in store.output_sets()] == [1, 2]
    store.close()


def test_what_an_extraction_study_holds_is_not_deleted_from_under_it(db):
    """An output set or a scan that a point of an extraction study holds is refused (the
    study would show a point whose scan is gone); once the study goes, it may go."""
    store = Store(db)
    study = store.add_extraction_study([("top_k=40", {"top_k": 40, "n": 10})], name="e", corpus={"kind": "files"},
                                       base={}, grid={"top_k": [40]})
    store.set_extraction_point(study, 1, set_id=1, scan_id=1)
    items = {item.key: item for item in overview(store, NOW).items}
    for key in ("sampling:1", "scan:1"):
        with pytest.raises(InputError, match=f"{key.replace(':', ' ')} is point 1 of extraction study {study}"):
            delete_item(store, items[key])
    assert [s["id"] for s in store.scans()] == [1, 2]
    assert delete_item(store, items[f"extraction:{study}"]) == f"extraction {study} deleted"
    assert delete_item(store, items["scan:1"]) == "scan 1 deleted"
    store.close()


def test_a_job_queued_anew_supersedes_the_failed_one(tmp_path):
    """A scan whose first job failed and whose second finished is done (and opens); a study
    run that failed and was queued again counts as queued; resume touches only current jobs."""
    store = Store(tmp_path / "s.db")
    set_id = store.add_output_set(name="set", source="import", model=None, n=1, created=NOW)
    scan = store.add_scan(set_id=set_id, source="scan", corpus={}, corpus_label="c", n_outputs=1, min_lines=6,
                          state="done", created=NOW)
    old = store.add_job("scan", {"scan_id": scan}, item=("scan", scan))
    store.update_job(old, state="failed", error="disk full")
    new = store.add_job("scan", {"scan_id": scan}, item=("scan", scan))
    store.update_job(new, state="done", progress=1.0)
    study = store.add_study(name="s", task="varmisuse", model="ggnn", preset="quick", epochs=1, seed=0,
                            device="cpu", train_path="t", valid_path="v", levels=[0.0, 50.0], created=NOW)
    runs = [store.add_run(study_id=study, level=lv, seed=0, epochs=1) for lv in (0.0, 50.0)]
    first = store.add_job("train_run", {"run_id": runs[0]}, item=("study", study), run_id=runs[0])
    store.update_job(first, state="failed", error="boom")
    store.add_job("train_run", {"run_id": runs[0]}, item=("study", study), run_id=runs[0])  # queued anew
    done = store.add_job("train_run", {"run_id": runs[1]}, item=("study", study), run_id=runs[1])
    store.update_job(done, state="done", progress=1.0)
    rows = {item.key: item for item in overview(store, NOW).items}
    assert rows["scan:1"].state == "done" and rows["scan:1"].detail.startswith("0 snippets")
    assert rows["study:1"].state == "queued" and rows["study:1"].progress == 0.5
    assert resume_item(store, rows["scan:1"]) == 0  # the failed job is history: nothing reruns
    assert store.job(old)["state"] == "failed"
    store.close()


def test_the_demo_chain_is_an_item_to_cancel_resume_and_delete(tmp_path):
    store = Store(tmp_path / "d.db")
    start = store.add_job("demo", {"stage": "start", "settings": {}}, item=("demo", 1))
    store.update_job(start, state="done", progress=1.0)
    sample = store.add_job("demo", {"stage": "sample", "settings": {}}, item=("demo", 1))
    store.update_job(sample, state="failed", error="no model")
    [item] = [i for i in overview(store, NOW).items if i.kind == "demo"]
    assert (item.state, item.detail) == ("failed", "stage sample · no model")
    assert resume_item(store, item) == 1 and store.job(sample)["state"] == "queued"
    [item] = [i for i in overview(store, NOW).items if i.kind == "demo"]
    # queued behind the model's training: what it waits for, not "stage sample"
    assert item.detail == "waiting for the language model's training; then stage sample"
    assert cancel_item(store, item) == "demo 1: cancelling 1 job(s)"
    assert delete_item(store, item) == "demo 1 deleted" and store.jobs() == []
    store.close()


def test_columns_follow_a_resize_both_ways(db, in_app):
    """From 160 columns to 80 and back, the rows are those of an app opened at that size:
    the name and detail columns shrink and grow, nothing is pushed off screen."""
    seen = []

    async def body(app, pilot, screen):
        for width, height in ((80, 24), (160, 48)):
            await pilot.resize_terminal(width, height)
            await settle(pilot)
            assert screen.table.virtual_size.width <= screen.table.size.width  # nothing scrolls sideways
            seen.append(row_texts(screen))

    opened = {}

    async def record(app, pilot, screen):
        opened[app.size.width] = row_texts(screen)

    in_app(db, body, size=(160, 48))
    in_app(db, record, size=(80, 24))
    in_app(db, record, size=(160, 48))
    assert seen == [opened[80], opened[160]]
    assert [len(c) for c in screen_widths(seen[0])] == [len(c) for c in screen_widths(opened[80])]


def screen_widths(rows: dict[str, list[str]]) -> list[str]:
    return [cell for row in rows.values() for cell in row]


def test_filter_as_typed_and_hide_finished(db, in_app):
    """/ filters the rows as the query is typed (kind, name, state, detail; case aside),
    escape clears it; h hides what is done or cancelled; the status line says how many
    rows are hidden and why."""

    async def body(app, pilot, screen):
        everything = list(row_texts(screen))
        await pilot.press("slash")
        box = screen.query_one("#filter")
        assert box.display and box.has_focus
        await pilot.press(*"SCAN")
        await settle(pilot)
        assert list(row_texts(screen)) == ["scan:1", "scan:2"]
        assert "5 of 7 hidden (filter 'SCAN')" in str(screen.query_one("#status").content)
        await pilot.press("enter")  # kept, and the table has the keys again
        assert screen.table.has_focus and list(row_texts(screen)) == ["scan:1", "scan:2"]
        await pilot.press("escape")  # from the table too
        await settle(pilot)
        assert list(row_texts(screen)) == everything and not box.display and screen.table.has_focus
        await pilot.press("slash", *"SCAN", "escape")
        await settle(pilot)
        assert list(row_texts(screen)) == everything and not box.display
        await pilot.press("h")
        await settle(pilot)
        assert list(row_texts(screen)) == ["study:1", "study:2", "lm:1", "scan:2"]
        assert "3 of 7 hidden (h)" in str(screen.query_one("#status").content)
        await pilot.press("h")
        await settle(pilot)
        assert list(row_texts(screen)) == everything

    in_app(db, body, size=(120, 30))


def test_a_jobs_log_from_start_to_failure_and_its_pane(tmp_path, app_pilot):
    """run_job writes a job's log: its start, its milestones (forced progress), its
    warnings, and its end, a failure with the traceback; l on the dashboard shows the
    item's log, escaped, and follows new lines."""
    import warnings

    from engine import jobs as jobs_module
    from engine.jobs import run_job
    from tui.screens.log import LogScreen

    store = Store(tmp_path / "t.db")
    sid = store.add_study(name="logged", task="varmisuse", model="ggnn", preset="quick", epochs=2, seed=0,
                          device="cpu", train_path="/d/t", valid_path="/d/v", levels=[0.0], created=NOW)
    run = store.add_run(study_id=sid, level=0.0, seed=0, epochs=2, epochs_done=0)
    job_id = store.add_job("train_run", {"run_id": run}, item=("study", sid), run_id=run)

    def failing(ctx):
        ctx.progress(0.5, "epoch 1/2 done \x1b[31m", force=True)
        ctx.progress(0.6, "epoch 2/2: training")  # not a milestone: not logged
        warnings.warn("a deprecated call", DeprecationWarning)
        raise ZeroDivisionError("no samples")

    jobs_module.REGISTRY["test_failing"] = "test_app_dashboard:_failing"
    global _failing
    _failing = failing
    try:
        job = store.claim_job(job_id, os.getpid())
        job["kind"] = "test_failing"
        assert run_job(store, job) == "failed"
    finally:
        del jobs_module.REGISTRY["test_failing"]
    lines = store.job_log([job_id])
    assert [r["level"] for r in lines] == ["info", "info", "warning", "error"]
    assert lines[0]["text"].startswith("started: test_failing, attempt 1, pid ")
    assert lines[1]["text"] == "epoch 1/2 done \x1b[31m"
    assert lines[2]["text"].startswith("DeprecationWarning: a deprecated call (")
    assert lines[3]["text"].startswith("failed: ZeroDivisionError: no samples") and "Traceback" in lines[3]["text"]
    store.close()
    from cli.main import main

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["--db", str(tmp_path / "t.db"), "log", str(job_id)]) == 0
    out = printed.getvalue()
    assert "info     epoch 1/2 done \\x1b[31m" in out and "\x1b" not in out and "error    failed: ZeroDivision" in out
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
        assert main(["--db", str(tmp_path / "t.db"), "log", "99"]) == 2
    assert "no job with id 99" in err.getvalue()

    async def body(app, pilot):
        await pilot.press("l")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, LogScreen)
        text = "\n".join(str(line.text) for line in screen.query_one("#log").lines)
        assert "epoch 1/2 done \\x1b[31m" in text and "\x1b" not in text  # escaped
        assert "DeprecationWarning: a deprecated call" in text and "ZeroDivisionError: no samples" in text
        writer = Store(tmp_path / "t.db")
        writer.log(job_id, "info", "resumed by hand")
        writer.close()
        await asyncio.sleep(0.4)
        await settle(pilot)
        assert "resumed by hand" in str(screen.query_one("#log").lines[-1].text)

    app_pilot(tmp_path / "t.db", body, size=(120, 30), poll_s=0.1)


_failing = None


def test_a_header_sorts_the_rows_within_each_kind(db, in_app):
    """A click on a column's header sorts by it, the rows still grouped by kind; the same
    header again reverses; a column that does not sort says so."""
    from textual.widgets._data_table import ColumnKey

    async def body(app, pilot, screen):
        table = screen.table

        async def click(column):
            table.post_message(DataTable.HeaderSelected(table, ColumnKey(column), 0, column))
            await settle(pilot)

        await click("name")
        assert list(row_texts(screen)) == ["study:2", "study:1", "lm:1", "sampling:1", "sampling:2", "scan:1", "scan:2"]
        await click("name")
        assert list(row_texts(screen)) == ["study:1", "study:2", "lm:1", "sampling:2", "sampling:1", "scan:2", "scan:1"]
        await click("age")  # youngest first within each kind
        assert list(row_texts(screen)) == ["study:1", "study:2", "lm:1", "sampling:2", "sampling:1", "scan:2", "scan:1"]
        await click("state")  # running, queued, failed, cancelled, done
        assert list(row_texts(screen))[:2] == ["study:1", "study:2"] and list(row_texts(screen))[-2:] == [
            "scan:2", "scan:1"]
        await click("detail")
        assert any("not sorted by detail" in n.message for n in app._notifications)

    in_app(db, body, size=(120, 30))


def test_the_lm_screen_draws_the_loss_curve_as_it_grows(tmp_path, app_pilot):
    from tui.screens.lm import LMScreen

    store = Store(tmp_path / "t.db")
    lm = store.add_lm_training(corpus={"kind": "files"}, out="/models/m", preset="tiny", seed=0, device="cpu",
                               settings={"epochs": 3})
    store.add_job("lm_train", {"lm_id": lm}, item=("lm", lm))
    store.close()

    async def body(app, pilot):
        screen = app.screen
        assert screen.losses == [] and "no epoch finished yet" in str(screen.query_one("#lm-loss").render())
        writer = Store(tmp_path / "t.db")
        writer.set_lm_losses(lm, [5.5, 4.25])
        writer.close()
        await asyncio.sleep(0.3)
        await settle(pilot)
        assert screen.losses == [5.5, 4.25]
        assert "mean training loss per epoch (2/3 epochs)" in str(screen.query_one("#lm-loss").render())

    app_pilot(tmp_path / "t.db", body, size=(100, 30), screen=lambda: LMScreen(lm), poll_s=0.1)


def test_u_ungroups_the_kinds_into_one_list_by_age(db, in_app):
    """u: one list, oldest first, a header sorting it across kinds; u again groups by kind."""
    from textual.widgets._data_table import ColumnKey

    async def body(app, pilot, screen):
        grouped = list(row_texts(screen))
        assert grouped == ["study:1", "study:2", "lm:1", "sampling:1", "sampling:2", "scan:1", "scan:2"]
        await pilot.press("u")
        await settle(pilot)
        assert list(row_texts(screen)) == ["sampling:1", "study:2", "scan:1", "study:1", "lm:1", "sampling:2",
                                           "scan:2"]
        screen.table.post_message(DataTable.HeaderSelected(screen.table, ColumnKey("name"), 0, "name"))
        await settle(pilot)  # by name across kinds: code2vec, corpus A, corpus B, gpt2 k40, imported, ...
        assert list(row_texts(screen)) == ["study:2", "scan:1", "scan:2", "sampling:1", "sampling:2", "lm:1",
                                           "study:1"]
        await pilot.press("u")  # grouped again, each kind by name
        await settle(pilot)
        assert list(row_texts(screen)) == ["study:2", "study:1", "lm:1", "sampling:1", "sampling:2", "scan:1",
                                           "scan:2"]

    in_app(db, body, size=(120, 30))


def test_the_polled_screens_poll_once_per_interval(db, app_pilot):
    """Textual calls each class's on_mount: a screen's own must not start a second poll."""
    from tui.screens.study import StudyScreen

    def polls(screen) -> int:
        return sum(getattr(t._callback, "__name__", "") == "refresh_data" for t in screen._timers)

    async def body(app, pilot):
        await settle(pilot)
        assert polls(app.screen) == 1
        app.push_screen(StudyScreen(1))
        await settle(pilot)
        assert polls(app.screen) == 1

    app_pilot(db, body, size=(120, 30), poll_s=0.25)


def test_a_toast_is_laid_out_anew_after_a_resize(tmp_path):
    """A notification shown at 160x48 is inside the screen, whole, after a resize to 80x24
    (its old place would be off screen): no fragment of it is left where it was."""
    from conftest import make_app
    from textual.widgets._toast import Toast

    async def main():
        app = make_app(tmp_path / "t.db")
        async with app.run_test(size=(160, 48), notifications=True) as pilot:
            await settle(pilot)
            app.notify("space marks studies, to overlay their curves with v " * 2)
            await pilot.pause(0.2)
            before = [t.region for t in app.screen.walk_children(Toast)]
            assert len(before) == 1 and before[0].right > 80
            await pilot.resize_terminal(80, 24)
            await pilot.pause(0.2)
            after = [t.region for t in app.screen.walk_children(Toast)]
            assert len(after) == 1 and after[0].right <= 80 and after[0].bottom <= 24
            toast = app.screen._compositor.get_widget_at(after[0].x + 2, after[0].y + 1)[0]
            assert isinstance(toast, Toast)  # on top where it is now

    asyncio.run(main())
