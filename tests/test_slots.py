"""A worker with slots (issue 14, part 1): several jobs at once, each in a process of its
own; a job that takes the whole machine runs alone; a slot's process that dies sends its
job back to the queue; a worker killed with its slots leaves them to the next worker."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli.main import main
from engine import jobs
from engine.store import Store
from engine.store.queue import process_alive

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


@pytest.fixture
def kinds(tmp_path, monkeypatch):
    """The tests' job kinds in this process and in every Python it starts (a
    sitecustomize on PYTHONPATH): ``nap`` (1.5 s), and ``scan`` played by ``nap``."""
    site = tmp_path / "site"
    site.mkdir()
    tests = Path(__file__).parent
    (site / "sitecustomize.py").write_text(
        f"import sys\nsys.path.insert(0, {str(tests)!r})\nfrom engine import jobs\n"
        "jobs.REGISTRY.update(nap='jobkinds:nap', scan='jobkinds:nap', count='jobkinds:count')\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    monkeypatch.setitem(jobs.REGISTRY, "nap", "jobkinds:nap")
    monkeypatch.syspath_prepend(str(tests))


def _overlap(a: dict, b: dict) -> bool:
    return a["started"] < b["finished"] and b["started"] < a["finished"]


def test_three_slots_run_three_jobs_at_once(tmp_path, kinds):
    store = Store(tmp_path / "s.db")
    ids = [store.add_job("nap", {}) for _ in range(3)]
    t0 = time.time()
    assert jobs.run_worker(store, idle_exit_s=0.1, slots=3) == 3
    wall = time.time() - t0
    done = [store.job(i) for i in ids]
    assert all(j["state"] == "done" for j in done), [j["error"] for j in done]
    assert all(_overlap(a, b) for a in done for b in done if a is not b)  # they ran together
    assert wall < 3 * 1.5  # and the whole took less than one after another
    assert sorted(j["slot"] for j in done) == [0, 1, 2]
    assert len({j["message"] for j in done}) == 3  # three processes, none the worker's own
    assert f"pid {os.getpid()}" not in {j["message"] for j in done}


def test_a_whole_machine_job_runs_alone(tmp_path, kinds):
    store = Store(tmp_path / "s.db")
    first, scan, last = store.add_job("nap", {}), store.add_job("scan", {}), store.add_job("nap", {})
    assert jobs.run_worker(store, idle_exit_s=0.1, slots=3) == 3
    a, s, b = (store.job(i) for i in (first, scan, last))
    assert a["state"] == s["state"] == b["state"] == "done"
    assert not _overlap(a, s) and not _overlap(s, b)


def test_a_slot_process_that_dies_sends_its_job_back(tmp_path, kinds, monkeypatch):
    """Kill the first slot's process as it starts: its job is queued again and run to the
    end, its attempts counting the lost one."""
    import engine.slots as slots_module

    store = Store(tmp_path / "s.db")
    job = store.add_job("nap", {})
    start = slots_module._start
    killed = []

    def start_then_kill(store, job, slot, gpus):
        child = start(store, job, slot, gpus)
        if not killed:
            child.kill()
            killed.append(child.pid)
        return child

    monkeypatch.setattr(slots_module, "_start", start_then_kill)
    assert jobs.run_worker(store, idle_exit_s=0.5, slots=2) == 2  # the lost run, then the whole one
    row = store.job(job)
    assert row["state"] == "done" and row["attempts"] == 2 and killed


def test_a_killed_worker_leaves_its_slots_to_the_next(tmp_path, kinds):
    """kill -9 of a worker with two jobs running: its slot processes end with it, and the
    next worker resumes both to the end."""
    db = tmp_path / "s.db"
    store = Store(db)
    ids = [store.add_job("nap", {}) for _ in range(2)]
    command, env = jobs.child_python("engine.jobs", "--db", str(db), "--slots", "2", "--idle-exit", "5")
    worker = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 30
    while time.time() < deadline and sum(store.job(i)["state"] == "running" for i in ids) < 2:
        time.sleep(0.05)
    assert all(store.job(i)["state"] == "running" for i in ids), worker.stderr.read() if worker.poll() else ""
    children = [int(p) for p in subprocess.run(["pgrep", "-P", str(worker.pid)], capture_output=True,
                                                text=True).stdout.split()]
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    end = time.time() + 5
    while time.time() < end and any(map(process_alive, children)):
        time.sleep(0.1)
    assert children and not [p for p in children if process_alive(p)]
    assert jobs.run_worker(store, idle_exit_s=0.1, slots=2) == 2
    assert all(store.job(i)["state"] == "done" and store.job(i)["attempts"] == 2 for i in ids)


def test_slots_zero_is_one_line(tmp_path, capsys):
    code = main(["--db", str(tmp_path / "s.db"), "worker", "--slots", "0"])
    err = capsys.readouterr().err
    assert code == 2 and "--slots: 0 is outside 1..1024" in err and len(err.splitlines()) == 1
