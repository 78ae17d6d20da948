"""The job runner: registry, worker lock, progress, cancel, failure, orphan resume."""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from engine import jobs
from engine.errors import InputError


@pytest.fixture(autouse=True)
def test_kinds(monkeypatch):
    for name in ("count", "spin", "bad_input", "crash", "stopped_between_reports"):
        monkeypatch.setitem(jobs.REGISTRY, f"test_{name}", f"jobkinds:{name}")


def test_worker_runs_queue_and_exits_when_idle(store):
    a = store.add_job("test_count", {})
    b = store.add_job("test_count", {})
    assert jobs.run_worker(store, idle_exit_s=0.1) == 2
    for j in (a, b):
        job = store.job(j)
        assert job["state"] == "done" and job["progress"] == 1.0 and job["finished"] >= job["started"]


def test_failures_are_recorded_and_the_worker_goes_on(store):
    a = store.add_job("test_bad_input", {})
    b = store.add_job("test_crash", {})
    c = store.add_job("test_count", {})
    jobs.run_worker(store, idle_exit_s=0.1)
    assert store.job(a)["error"] == "data.jsonl:3: missing field 'x'"
    assert store.job(b)["error"].startswith("RuntimeError: boom (details in ")
    assert "RuntimeError: boom" in (store.files / "worker.log").read_text()
    assert [store.job(j)["state"] for j in (a, b, c)] == ["failed", "failed", "done"]


def test_a_job_stopped_between_reports_shows_where_it_stopped(store):
    """The rate limit holds back reports that come faster than twice a second; the job's
    end records the last of them, so a cancelled sampling shows the batch it stored last."""
    job_id = store.add_job("test_stopped_between_reports", {})
    assert jobs.run_worker(store, idle_exit_s=0.1) == 1
    job = store.job(job_id)
    assert job["state"] == "cancelled"
    assert (job["progress"], job["message"]) == (pytest.approx(0.3), "3/10 outputs")


def test_cancel_running_job(store):
    j = store.add_job("test_spin", {})
    path = store.path

    def worker():  # sqlite connections belong to their thread: open one there
        jobs.run_worker(type(store)(path), idle_exit_s=0.1)

    t = threading.Thread(target=worker)
    t.start()
    deadline = time.time() + 10
    while store.job(j)["state"] != "running" and time.time() < deadline:
        time.sleep(0.05)
    assert store.job(j)["state"] == "running"
    t0 = time.time()
    store.request_cancel(j)
    t.join(10)
    assert store.job(j)["state"] == "cancelled"
    assert time.time() - t0 < 5  # picked up by the heartbeat within a couple of beats


@pytest.mark.slow
def test_one_worker_per_database(store):
    lock = jobs.WorkerLock(store)
    assert lock.acquire()
    try:
        assert jobs.worker_alive(store)
        assert (store.files / "worker.lock").read_text() == str(os.getpid())  # probing keeps it
        assert jobs.run_worker(store, idle_exit_s=0.1) == -1
    finally:
        lock.release()
    assert not jobs.worker_alive(store)


def test_orphaned_job_is_resumed(store):
    j = store.add_job("test_count", {})
    store.claim_next_job(pid=999999)  # a worker that died holding it
    assert jobs.run_worker(store, idle_exit_s=0.1) == 1
    job = store.job(j)
    assert job["state"] == "done" and job["attempts"] == 2


def test_a_job_whose_worker_keeps_dying_is_failed(store):
    j = store.add_job("test_count", {})
    for pid in (4_194_401, 4_194_402, 4_194_403):  # above Linux's largest pid: no such process
        store.claim_next_job(pid=pid)  # the worker dies holding it ...
        store.requeue_orphans()  # ... and the next one finds it orphaned
    job = store.job(j)
    assert job["state"] == "failed" and "died 3 times" in job["error"]


def test_unknown_kind(store):
    with pytest.raises(InputError, match="unknown job kind"):
        jobs.job_function("nope")


@pytest.mark.slow
def test_relative_database_path_reaches_the_detached_worker(tmp_path, monkeypatch):
    """A relative --db names the same file for the detached worker as for the caller."""
    from engine.store import Store

    monkeypatch.chdir(tmp_path)
    store = Store("rel.db")
    assert store.path == tmp_path / "rel.db"
    job = store.add_job("train_run", {"run_id": 999})  # fails fast: no such run
    jobs.start_worker(store)
    deadline = time.time() + 60
    while store.job(job)["state"] in ("queued", "running") and time.time() < deadline:
        time.sleep(0.1)
    assert store.job(job)["state"] == "failed" and "no run with id 999" in store.job(job)["error"]


@pytest.mark.parametrize("raised, failure, logged", [
    (OSError(28, "No space left on device", "/data/x"), "input", False),
    (OSError(30, "Read-only file system", "/data/x"), "input", False),
    (ValueError("a bug"), "bug", True),
])
def test_a_job_failed_by_its_machine_is_one_line_and_no_bug(tmp_path, monkeypatch, raised, failure, logged):
    """A full or read-only disk fails the job with the system's words (its ``failure``
    says the machine, so ``--foreground`` exits 2); a bug leaves its traceback in the log."""
    import engine.jobs as jobs_module
    from engine.jobs import run_job

    def fail(ctx):
        raise raised

    from engine.store import Store

    store = Store(tmp_path / "j.db")
    job_id = store.add_job("scan", {})
    monkeypatch.setattr(jobs_module, "job_function", lambda kind: fail)
    assert run_job(store, store.job(job_id)) == "failed"
    job = store.job(job_id)
    assert job["failure"] == failure
    assert ("details in" in job["error"]) == logged == (store.files / "worker.log").exists()
    if not logged:
        assert job["error"] == f"/data/x: {raised.strerror}"


def test_the_detached_worker_runs_no_module_of_the_working_directory(tmp_path, monkeypatch):
    """A ``sqlite_utils.py`` where byrote was started never runs in the worker it starts
    (``python -P -m engine.jobs``): the worker opens the store with the real package and
    ends when idle (issue 15, part 2)."""
    from engine.store import Store

    here = tmp_path / "here"
    here.mkdir()
    marker = tmp_path / "ran.txt"
    for name in ("sqlite_utils.py", "numpy.py"):
        (here / name).write_text(f"open({str(marker)!r}, 'a').write({name!r})\nraise SystemExit(3)\n")
    store = Store(tmp_path / "w.db")
    monkeypatch.chdir(here)
    pid = jobs.start_worker(store)
    assert pid is not None
    deadline = time.time() + 60
    while Path(f"/proc/{pid}").exists() and time.time() < deadline:  # idle, it ends; start_worker reaps it
        time.sleep(0.1)
    assert not Path(f"/proc/{pid}").exists()  # gone, not a zombie
    assert not marker.exists(), marker.read_text()
    log = (store.files / "worker.log").read_text()
    assert "Error" not in log and "Traceback" not in log, log


def test_a_running_job_whose_process_lives_is_no_orphan(store):
    """A job that ``--foreground`` runs beside a detached worker is not requeued by the
    next worker to start; one whose process is gone, or a zombie, is."""
    import subprocess
    import sys

    alive, dead = store.add_job("test_count", {}), store.add_job("test_count", {})
    store.claim_job(alive, os.getpid())
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    time.sleep(0.5)  # exited, not reaped yet: a zombie
    store.claim_job(dead, proc.pid)
    assert store.requeue_orphans() == [dead]
    proc.wait()
    assert store.job(alive)["state"] == "running" and store.job(dead)["state"] == "queued"


def test_foreground_runs_beside_a_busy_worker_and_ctrl_c_cancels(store, monkeypatch):
    """``--foreground`` while another worker holds the database (busy with a long job):
    the asked job runs here at once instead of queuing behind it; and Ctrl-C while
    following cancels the jobs instead of leaving them queued or running."""
    import cli.follow as follow_module
    from cli.follow import run_foreground

    other = jobs.WorkerLock(store)  # another worker holds the database (its job spins)
    assert other.acquire()
    busy = store.add_job("test_spin", {})
    store.claim_job(busy, os.getpid())
    try:
        job = store.add_job("test_count", {})
        codes = []
        runner = threading.Thread(target=lambda: codes.append(run_foreground(type(store)(store.path), [job])),
                                  daemon=True)  # a store of its own: SQLite connections stay in their thread
        runner.start()
        runner.join(timeout=30)  # before, it waited for the busy worker: for ever here
        if runner.is_alive():
            store.request_cancel(job)  # let the follower end
        assert codes == [0] and store.job(job)["state"] == "done"
        assert store.job(busy)["state"] == "running"  # the other worker's job, untouched

        spin = store.add_job("test_spin", {})
        calls = []

        def interrupted(*args, **kwargs):
            calls.append(args)
            time.sleep(0.5)  # the job has started here
            raise KeyboardInterrupt

        monkeypatch.setattr(follow_module, "follow", interrupted)
        with pytest.raises(KeyboardInterrupt):
            run_foreground(store, [spin])
        assert store.job(spin)["state"] == "cancelled" and calls
    finally:
        other.release()


def test_following_jobs_run_here_waits_on_their_thread_not_on_a_clock(store, monkeypatch):
    """``--foreground`` follows its own thread: the follower is back as soon as the
    thread ends (it joins it), never sleeping out a poll interval after the job."""
    import cli.follow as follow_module
    from cli.follow import run_foreground

    def no_sleep(seconds):
        raise AssertionError(f"slept {seconds} s")

    monkeypatch.setattr(follow_module.time, "sleep", no_sleep)
    job = store.add_job("test_count", {})
    assert run_foreground(store, [job]) == 0 and store.job(job)["state"] == "done"


def test_the_eta_is_smoothed_by_hand():
    """At a steady rate the counted-down ETA and the new estimate agree: exact. A stall that
    doubles the estimate moves the ETA by 0.3 of the gap, not all of it."""
    assert jobs.smoothed_eta(None, 0.0, 100.0) == 100.0
    assert jobs.smoothed_eta(100.0, 10.0, None) is None
    assert jobs.smoothed_eta(100.0, 10.0, 90.0) == 90.0
    assert jobs.smoothed_eta(100.0, 10.0, 180.0) == pytest.approx(90.0 + 0.3 * 90.0)
    assert jobs.smoothed_eta(5.0, 10.0, 20.0) == pytest.approx(0.3 * 20.0)  # counted down to 0, not below


def test_the_eta_is_zero_at_the_end(store):
    job = store.job(store.add_job("test_count", {}))
    ctx = jobs.JobContext(store, job)
    ctx.progress(0.0, force=True)
    ctx.progress(0.5, force=True)
    ctx.progress(1.0, force=True)
    assert store.job(job["id"])["eta"] == 0.0


def test_a_jobs_eta_follows_a_rate_change_gradually(store, monkeypatch):
    """1 % a second, then a burst to 41 % at t=20 s: the mean-rate estimate falls from 90 s
    to 28.8 s at once; the recorded ETA from 90 s to 64.6 s (80 s counted down, moved 0.3 of
    the way to 28.8 s)."""
    import types

    clock = iter([0.0, 0.0, 10.0, 20.0])  # made, then three reports
    monkeypatch.setattr(jobs, "time", types.SimpleNamespace(time=lambda: next(clock)))
    job = store.job(store.add_job("test_count", {}))
    ctx = jobs.JobContext(store, job)
    etas = []
    for fraction in (0.0, 0.10, 0.41):
        ctx.progress(fraction, force=True)
        etas.append(store.job(job["id"])["eta"])
    estimate = 20.0 / 0.41 * 0.59
    assert etas[0] is None and etas[1] == pytest.approx(90.0)
    assert etas[2] == pytest.approx(80.0 + 0.3 * (estimate - 80.0)) == pytest.approx(64.6, abs=0.05)
