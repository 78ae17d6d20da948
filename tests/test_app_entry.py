"""The app as a user starts it: ``byrote`` in a terminal, over SSH, twice at once."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import run_light, settle
from ptyapp import REPO, PtyApp, byrote

from engine.store import Store


def fill_scan(store: Store) -> tuple[int, str]:
    """A done scan of one snippet held by one output, with one training match."""
    body = "".join(f"value_{i} = compute({i})\n" for i in range(8))
    out = "# sampled\n" + body + "print('done')\n"
    set_id = store.add_output_set(name="sampled", source="import", model=None, n=1, created=1_700_000_000.0)
    store.add_outputs(set_id, [(1, "0" * 32, out, None)])
    scan_id = store.add_scan(set_id=set_id, source="scan", corpus={"kind": "files", "path": "/corpus", "glob": "*.py"},
                             corpus_label="directory /corpus", n_outputs=1, min_lines=6, state="done",
                             created=1_700_000_000.0)
    fp = "ab" * 16
    store.save_scan_results(scan_id, [(fp, 8, 1, 1, body)], [(fp, 1, 2, 9)],
                            [(fp, 1, "pkg/mod.py", 11, 18, 8, "import os\n\n\n" + body + "x = 1\n")])
    return scan_id, fp


@pytest.mark.slow
def test_no_screen_imports_torch_transformers_or_datasets(tmp_path, reference, great_files):
    """A fresh interpreter opens the app (headless) and every screen, form, the help and
    the palette, then launches a study from its form, and has imported none of the heavy
    libraries on the way. It says how long the launch took, key press to notification
    (well under a second: ``create_study`` runs in a thread, not in a child process)."""
    from appfill import fill_dashboard

    db = tmp_path / "a.db"
    ids = fill_dashboard(Store(db), reference)
    train, valid = great_files
    out = run_light(f"""
import time
from conftest import settle
from textual.widgets import Input, Select
from tui.app import ByroteApp
app = ByroteApp({str(db)!r}, spawn_worker=lambda store: None)
seen = []
async def pilot(p):
    await settle(p)
    seen.append(type(app.screen).__name__)
    for key in ("n", "s", "x"):
        await p.press(key)
        await settle(p)
        seen.append(type(app.screen).__name__)
        await p.press("escape")
        await settle(p)
    await p.press("question_mark")
    await settle(p)
    seen.append(type(app.screen).__name__)
    await p.press("escape")
    app.open_study({ids['done']})
    await settle(p)
    seen.append(type(app.screen).__name__)
    app.open_scan({ids['scan']})
    await settle(p)
    seen.append(type(app.screen).__name__)
    await p.press("enter")
    await settle(p)
    seen.append(type(app.screen).__name__)
    await p.press("ctrl+p")
    await settle(p)
    seen.append(type(app.screen).__name__)
    await p.press("escape")
    app.action_dashboard()
    await settle(p)
    await p.press("n")
    await settle(p)
    form = app.screen
    for name, value in (("train", {str(train)!r}), ("valid", {str(valid)!r}), ("levels", "0,50"), ("epochs", "1")):
        form.query_one("#" + name, Input).value = value
    form.query_one("#device", Select).value = "cpu"
    await p.pause()
    noted, notify = {{}}, app.notify
    app.notify = lambda message, **kw: (noted.setdefault(message, time.perf_counter()), notify(message, **kw))
    start = time.perf_counter()
    await p.press("ctrl+s")
    while not any("runs queued" in message for message in noted):
        await p.pause(0.001)
    message, at = next(iter(noted.items()))
    print("LAUNCHED", message, f"in {{at - start:.3f}} s")
    app.exit()
app.run(headless=True, size=(80, 24), auto_pilot=pilot)
print("SCREENS", " ".join(seen))
""")
    assert ("SCREENS DashboardScreen StudyForm SamplingForm ScanForm HelpScreen StudyScreen BrowserScreen "
            "ViewerScreen CommandPalette") in out, out
    assert f"LAUNCHED study {ids['live'] + 1}: 2 runs queued in " in out, out
    print(next(line for line in out.splitlines() if line.startswith("LAUNCHED")))  # shown by pytest -s


@pytest.mark.slow
def test_byrote_in_a_real_terminal_reaches_the_viewer_and_quits(tmp_path):
    """``byrote`` with no command opens the app; the palette opens the scan, enter the
    viewer; q quits with status 0 and no traceback."""
    db = tmp_path / "pty.db"
    scan_id, fp = fill_scan(Store(db))
    with PtyApp(byrote(db), cols=120, rows=30) as app:  # from 110 columns the whole fingerprint shows
        app.wait_for("Quit")
        app.send("\x10", settle=0.5)  # ctrl+p: the command palette
        app.send(f"Open scan {scan_id}", settle=0.5)
        app.send("\r", settle=0.5)
        app.wait_for(fp)  # the browser lists the fingerprint
        app.send("\r", settle=0.5)
        app.wait_for("pkg/mod.py")  # the viewer's right pane names the training match
        app.send("q")
        code = app.finish()
    assert code == 0, app.text()[-2000:]
    assert "Traceback" not in app.text()


def _sitecustomize(folder: Path) -> dict:
    """An environment whose Python processes (the app and the worker it starts) know the
    tests' job kinds, registered at interpreter start."""
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(REPO / 'tests')!r})\n"
        "from engine import jobs\n"
        "jobs.REGISTRY['test_spin'] = 'jobkinds:spin'\n"
    )
    return {"PYTHONPATH": os.pathsep.join([str(folder), str(REPO)])}


def _wait(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


@pytest.mark.slow
def test_losing_the_terminal_leaves_the_jobs_running(tmp_path):
    """The app starts the worker (w); a SIGHUP ends the app, not the worker or its job."""
    from engine.jobs import worker_alive

    db = tmp_path / "hup.db"
    store = Store(db)
    job = store.add_job("test_spin", {})
    try:
        with PtyApp(byrote(db), env=_sitecustomize(tmp_path / "site")) as app:
            app.wait_for("Quit")
            app.send("w")
            _wait(lambda: store.job(job)["state"] == "running")
            text = app.text()
            app.hangup()  # the terminal is gone: the kernel hangs the session up
            app.finish()
            assert "Traceback" not in text
        beat = store.job(job)["heartbeat"]
        _wait(lambda: store.job(job)["heartbeat"] > beat)  # still beating without the app
        assert store.job(job)["state"] == "running" and worker_alive(store)
        with PtyApp(byrote(db)) as again:  # reopening shows the live state
            again.wait_for("test_spin")
            again.send("q")
            assert again.finish() == 0
    finally:
        store.request_cancel(job)
        _wait(lambda: store.job(job)["state"] == "cancelled")


RESTORE = (b"\x1b[?1049l", b"\x1b[?1000l", b"\x1b[?1003l", b"\x1b[?25h")  # main screen, no mouse, a cursor


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_terminating_signal_gives_the_terminal_back(tmp_path, signum):
    """SIGTERM or SIGHUP sent to the app (a logout, ``kill``) ends it as q does: the
    alternate screen left, mouse reporting off, the cursor shown; status 128 + signal."""
    db = tmp_path / "sig.db"
    Store(db).close()
    with PtyApp(byrote(db)) as app:
        app.wait_for("Quit")
        start = len(app.raw)
        app.proc.send_signal(signum)
        code = app.finish()
    tail = app.raw[start:]
    assert code == 128 + signum, app.text()[-2000:]
    assert all(mode in tail for mode in RESTORE), tail[-400:]
    assert b"Traceback" not in tail


def test_two_apps_on_one_database_both_stay_correct(tmp_path):
    """One app cancels a study and another queues a new one; both dashboards show both
    changes within a poll, and the store holds exactly them."""
    import asyncio

    from tui.app import ByroteApp

    db = tmp_path / "two.db"
    store = Store(db)
    study = store.add_study(name="shared", task="varmisuse", model="ggnn", preset="quick", epochs=2, seed=0,
                            device="cpu", train_path="t", valid_path="v", levels=[0.0], created=1_700_000_000.0)
    run = store.add_run(study_id=study, level=0.0, seed=0, epochs=2)
    job = store.add_job("train_run", {"run_id": run}, item=("study", study), run_id=run)

    def state_of(app, key: str) -> str:
        table = app.screen.table
        return str(table.get_row(key)[3]) if key in {r.key.value for r in table.ordered_rows} else ""

    async def main() -> None:
        one = ByroteApp(db, spawn_worker=lambda s: None, poll_s=0.1)
        two = ByroteApp(db, spawn_worker=lambda s: None, poll_s=0.1)
        async with one.run_test(size=(80, 24)) as p1, two.run_test(size=(80, 24)) as p2:
            for pilot in (p1, p2, p1, p2):
                await pilot.pause(0.15)
                await settle(pilot)
            assert state_of(one, "study:1") == state_of(two, "study:1") == "queued"
            await p1.press("c")  # cancel the highlighted study in the first app
            other = Store(db)  # the second face queues a scan-free study of its own meanwhile
            other.add_study(name="second", task="varmisuse", model="great", preset="quick", epochs=1, seed=0,
                            device="cpu", train_path="t", valid_path="v", levels=[0.0], created=1_700_000_000.0)
            other.close()
            for pilot in (p1, p2, p1, p2):
                await pilot.pause(0.15)
                await settle(pilot)
            for app in (one, two):
                assert state_of(app, "study:1") == "cancelled"
                assert state_of(app, "study:2") == "done"  # no job: nothing to run
    asyncio.run(main())
    assert store.job(job)["state"] == "cancelled"


@pytest.mark.slow
def test_without_a_terminal_byrote_says_so_in_one_line(tmp_path):
    proc = subprocess.run(byrote(tmp_path / "x.db"), capture_output=True, text=True, cwd=REPO, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("byrote: error: the app needs a terminal; the commands work without one "
                                   "(byrote --help)")
    assert proc.stdout == ""
