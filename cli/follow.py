"""Following jobs in a terminal: hand them to the worker or run them here, with a progress
bar per job (rich, no torch)."""
from __future__ import annotations

import sys
import threading
import time
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from cli.show import console as show_console, say
from engine.untrusted import visible

if TYPE_CHECKING:  # the store is imported by the commands that open one (byrote --help stays quick)
    from engine.store import Store

FINAL = ("done", "failed", "cancelled")


def launch(store: Store, job_ids: list[int], args) -> int:
    """Run jobs in this process (``--foreground``), or hand them to the worker (and ``--wait``)."""
    from engine.jobs import start_worker

    if args.foreground:
        return run_foreground(store, job_ids)
    pid = start_worker(store)
    say(f"worker started (pid {pid})" if pid else "worker already running")
    if args.wait:
        return follow(store, job_ids)
    say("follow with: byrote jobs   (or --wait); the worker keeps running after you log out")
    return 0


def follow(store: Store, job_ids: list[int], console: Console | None = None,
           worker: threading.Thread | None = None) -> int:
    """Show a progress bar per job until all are final; 0 if all are done, else 1.

    Without an in-process ``worker`` thread, a detached worker is (re)started whenever
    jobs are pending and none is alive, so following also survives a lost worker.
    """
    from engine.jobs import start_worker, worker_alive

    console = console or show_console()
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(), TextColumn("{task.fields[message]}", markup=False), console=console,
        disable=not console.is_terminal,
    )
    tasks, said = {}, {}
    with progress:
        for job_id in job_ids:
            job = store.job(job_id)
            label = f"job {job_id}" + (f" run {job['run_id']}" if job["run_id"] else "")
            tasks[job_id] = progress.add_task(label, total=1.0, message="")
        while True:
            jobs = [store.job(j) for j in job_ids]
            for job in jobs:
                text = job["error"] if job["state"] == "failed" else (job["message"] or job["state"])
                progress.update(tasks[job["id"]], completed=job["progress"] or 0.0, message=visible(text))
                if not console.is_terminal:
                    _log_line(console, job, said)
            if all(j["state"] in FINAL for j in jobs):
                break
            if worker is None:
                if not worker_alive(store):
                    start_worker(store)
                time.sleep(0.5)
            elif not worker.is_alive():
                break
            else:
                worker.join(0.5)  # back at once when the jobs here end, not up to half a second later
    jobs = [store.job(j) for j in job_ids]
    for job in jobs:  # on stderr, as every error: one line each
        if job["state"] == "failed":
            say(f"byrote: error: job {job['id']} failed: {job['error']}", file=sys.stderr)
    return exit_status(jobs)


def exit_status(jobs: list[dict]) -> int:
    """0 when every job is done; 2 when one failed for its input or its machine (bad input
    found late, a full disk: the bad-input status); else 1 (cancelled, or a bug)."""
    if all(j["state"] == "done" for j in jobs):
        return 0
    return 2 if any(j["state"] == "failed" and j.get("failure") == "input" for j in jobs) else 1


def _log_line(console: Console, job: dict, said: dict) -> None:
    """Without a terminal (a log file, CI): one line per state change or finished epoch."""
    message = job["message"] or ""
    state, last_done = said.get(job["id"], (None, None))
    done = message if message.endswith("done") else last_done
    if (job["state"], done) != (state, last_done):
        said[job["id"]] = (job["state"], done)
        label = f"job {job['id']}" + (f" run {job['run_id']}" if job["run_id"] else "")
        console.print(f"{label}: {job['state']}" + (f", {done}" if done != last_done else ""))


def run_foreground(store: Store, job_ids: list[int], console: Console | None = None) -> int:
    """Run the given jobs in this process (a worker thread), following them as they go.

    If a detached worker already holds the database, the jobs still run here, beside it
    (:func:`engine.jobs.run_here`), not behind whatever it is busy with; one it claimed
    first is followed there. Ctrl-C cancels the jobs, whichever process runs them.
    """
    from engine.jobs import run_here, run_worker

    outcome: dict[str, int] = {}
    ended = threading.Event()

    def work() -> None:
        try:
            mine = type(store)(store.path)
            ran = run_worker(mine, only=set(job_ids))
            if ran == -1:  # another worker holds the database
                ran = run_here(mine, job_ids)
            outcome["ran"] = ran
        finally:
            ended.set()

    thread = threading.Thread(target=work, name="byrote-foreground", daemon=True)
    thread.start()
    try:
        code = follow(store, job_ids, console, worker=thread)
        thread.join()
        if any(store.job(j)["state"] not in FINAL for j in job_ids):  # run by the other worker
            code = follow(store, job_ids, console)
    except KeyboardInterrupt:
        for job_id in job_ids:
            store.request_cancel(job_id)
        # the jobs stop at their next step; wait on the event, not on the thread: a join that
        # Ctrl-C interrupted takes the thread for ended (Python 3.11), and the process would
        # leave it running, aborting
        while not ended.wait(0.5):
            pass
        raise
    return code
