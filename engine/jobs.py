"""Jobs: a queue in the store, and a detached worker that runs it.

- Every job kind is one function ``fn(ctx: JobContext) -> None`` found through
  :data:`REGISTRY` (imported lazily, so reading the queue never imports torch).
- The worker (``python -m engine.jobs --db FILE``, or ``byrote worker``) runs queued jobs
  in a process of its own session, so closing the terminal or the SSH connection leaves
  it running: one at a time in itself, or with several slots (one per GPU by default)
  each in a child process of its own (:mod:`engine.slots`).
- One worker per database: it holds an exclusive ``flock`` on ``<files>/worker.lock``.
  The kernel drops the lock when the worker dies, even by ``kill -9``, so a worker that
  gets the lock knows any job still marked running was orphaned, and resumes it: the job
  function continues from its last checkpoint.
- While a job runs, a thread touches its heartbeat every second and picks up cancel
  requests; the job sees them at its next :meth:`JobContext.check_cancel`.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import importlib
import os
import subprocess
import sys
import threading
import time
import traceback
import warnings
from pathlib import Path
from typing import Callable

from engine.errors import InputError, JobCancelled
from engine.runtime import child_python
from engine.store import Store

MACHINE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO}
"""A job that fails with one of these failed for its machine (a full, read-only or failing disk), not
for a bug: one line, no traceback."""

# kind -> "module:function". Each function takes a JobContext.
REGISTRY: dict[str, str] = {
    "train_run": "engine.study:run_job",
    "lm_train": "engine.lm.train:train_job",
    "sample": "engine.sample:sample_job",
    "scan": "engine.clones.scan:scan_job",
    "extractable": "engine.extractable:extractable_job",
    "perplexity": "engine.ranking:score_job",
    "extraction_point": "engine.extraction:point_job",
    "kfold": "engine.kfold:kfold_job",
    "demo": "engine.demo:demo_job",
}

HEARTBEAT_S = 1.0
PROGRESS_EVERY_S = 0.5
ETA_SMOOTHING = 0.3  # the weight of a new estimate against the previous one counted down (tqdm's)


def smoothed_eta(previous: float | None, elapsed: float, estimate: float | None,
                 weight: float = ETA_SMOOTHING) -> float | None:
    """An ETA that does not swing: the previous ETA counted down by the ``elapsed``
    seconds since, moved by ``weight`` of the way to the new ``estimate``. At a steady
    rate the two agree and the ETA is exact; a burst or a stall moves it gradually."""
    if estimate is None or previous is None:
        return estimate
    countdown = max(previous - elapsed, 0.0)
    return countdown + weight * (estimate - countdown)


def job_function(kind: str) -> Callable[["JobContext"], None]:
    if kind not in REGISTRY:
        raise InputError(f"unknown job kind {kind!r} (known: {', '.join(sorted(REGISTRY))})")
    module, name = REGISTRY[kind].split(":")
    return getattr(importlib.import_module(module), name)


class JobContext:
    """What a running job sees: its parameters, the store, progress and cancellation."""

    def __init__(self, store: Store, job: dict):
        self.store = store
        self.job = job
        self.job_id: int = job["id"]
        self.params: dict = job["params"]
        self._cancel = threading.Event()
        self._last_progress = 0.0
        self._t0 = time.time()
        self._frac0: float | None = None
        self._eta: tuple[float, float] | None = None  # (the ETA last recorded, when)
        self.unreported: dict | None = None  # the last report held back by the rate limit
        self.warnings: list = []  # warnings.WarningMessage caught while the job runs, logged as they come

    def request_cancel(self) -> None:
        self._cancel.set()

    def check_cancel(self) -> None:
        """Raise :class:`JobCancelled` if the user asked this job to stop."""
        if self._cancel.is_set():
            raise JobCancelled()

    def progress(self, fraction: float, message: str | None = None, force: bool = False) -> None:
        """Record progress (0..1) and an ETA (:func:`smoothed_eta` of the mean rate since
        the first report), at most twice a second unless forced."""
        now = time.time()
        fraction = min(max(fraction, 0.0), 1.0)
        if not force and now - self._last_progress < PROGRESS_EVERY_S:
            self.unreported = {"progress": fraction, **({"message": message} if message is not None else {})}
            return
        self._last_progress, self.unreported = now, None
        if self._frac0 is None:
            self._frac0, self._t0 = fraction, now
        estimate = None
        done = fraction - self._frac0
        if done > 1e-6:  # the mean rate since the first report
            estimate = (now - self._t0) / done * (1.0 - fraction)
        previous, at = self._eta or (None, now)
        eta = 0.0 if fraction >= 1.0 else smoothed_eta(previous, now - at, estimate)
        self._eta = None if eta is None else (eta, now)
        fields = {"progress": fraction, "eta": eta}
        if message is not None:
            fields["message"] = message
        self.store.update_job(self.job_id, **fields)
        if force and message is not None:  # a milestone (an epoch done, a stage): a line of the job's log
            self.store.log(self.job_id, "info", message)
        self.log_warnings()

    def log_warnings(self) -> None:
        """The warnings caught since the last call, as lines of the job's log."""
        while self.warnings:
            w = self.warnings.pop(0)
            self.store.log(self.job_id, "warning", f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})")


def _heartbeat_loop(db_path: Path, ctx: JobContext, stop: threading.Event) -> None:
    store = Store(db_path)
    try:
        while not stop.wait(HEARTBEAT_S):
            if store.heartbeat(ctx.job_id):
                ctx.request_cancel()
    finally:
        store.close()


def run_job(store: Store, job: dict) -> str:
    """Run one claimed job to its end; return its final state."""
    ctx = JobContext(store, job)
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat_loop, args=(store.path, ctx, stop), daemon=True)
    beat.start()
    store.log(job["id"], "info", f"started: {job['kind']}, attempt {job.get('attempts') or 1}, pid {os.getpid()}"
              + (f", slot {job['slot']}" if job.get("slot") is not None else ""))
    details = None
    try:
        if job.get("cancel_requested"):
            raise JobCancelled()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            ctx.warnings = caught
            job_function(job["kind"])(ctx)
        state, error, failure = "done", None, None
    except JobCancelled:
        state, error, failure = "cancelled", None, None
    except InputError as exc:
        state, error, failure = "failed", str(exc), "input"
    except Exception as exc:  # a bug or a resource problem: keep the worker alive, log it
        if isinstance(exc, OSError) and exc.errno in MACHINE_ERRNOS:  # the machine's fault: one line, no log
            where = f"{exc.filename}: " if exc.filename else ""
            state, error, failure = "failed", f"{where}{exc.strerror or exc}", "input"
        else:
            _log_failure(store, job)
            details = traceback.format_exc()
            state, error, failure = ("failed", f"{type(exc).__name__}: {exc} (details in {store.files / 'worker.log'})",
                                     "bug")
    finally:
        stop.set()
        beat.join()
    with contextlib.suppress(Exception):  # the log must not turn an ending into a failure
        ctx.log_warnings()
        store.log(job["id"], "error" if state == "failed" else "info",
                  state + (f": {error}" if error else "") + (f"\n{details}" if details else ""))
    # a job stopped between two reports (a cancelled sampling's last stored batch) shows where it stopped
    fields = {**(ctx.unreported or {}), "state": state, "error": error, "finished": time.time(), "eta": None}
    if state == "failed":
        fields["failure"] = failure
    if state == "done":
        fields["progress"] = 1.0
    store.update_job(job["id"], **fields)
    return state


def _log_failure(store: Store, job: dict) -> None:
    """Append the traceback of an unexpected failure to ``<files>/worker.log`` (if the
    disk takes it: the job's failure is recorded either way)."""
    with contextlib.suppress(OSError):
        _append_traceback(store, job)


def _append_traceback(store: Store, job: dict) -> None:
    store.files.mkdir(parents=True, exist_ok=True)
    with open(store.files / "worker.log", "a", encoding="utf-8") as fh:
        fh.write(f"--- job {job['id']} ({job['kind']}) failed at {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        fh.write(traceback.format_exc())


class WorkerLock:
    """The exclusive lock that makes a process the database's one worker."""

    def __init__(self, store: Store):
        self.path = store.files / "worker.lock"
        self.fh = None

    def acquire(self, wait_s: float = 0.0, record_pid: bool = True) -> bool:
        """Take the lock, retrying for ``wait_s`` seconds (a probe may hold it briefly)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.time() + wait_s
        fh = open(self.path, "a+")
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.time() >= deadline:
                    fh.close()
                    return False
                time.sleep(0.05)
        if record_pid:
            fh.seek(0)
            fh.truncate()
            fh.write(str(os.getpid()))
            fh.flush()
        self.fh = fh
        return True

    def release(self) -> None:
        if self.fh is not None:
            fcntl.flock(self.fh, fcntl.LOCK_UN)
            self.fh.close()
            self.fh = None


def worker_alive(store: Store) -> bool:
    """Whether some process holds the worker lock of this database."""
    lock = WorkerLock(store)
    if lock.acquire(record_pid=False):  # a probe: leaves the recorded pid alone
        lock.release()
        return False
    return True


def worker_pid(store: Store) -> int | None:
    path = store.files / "worker.lock"
    if not worker_alive(store):
        return None
    try:
        return int(path.read_text().strip() or 0) or None
    except (OSError, ValueError):
        return None


def run_worker(store: Store, idle_exit_s: float = 3.0, only: set[int] | None = None,
               on_job: Callable[[dict, str], None] | None = None, slots: int = 1) -> int:
    """Run queued jobs until the queue stays empty for ``idle_exit_s``; return jobs run.

    Returns -1 without running anything if another worker holds the lock. ``only``
    restricts the worker to some job ids (used by ``--foreground``). With ``slots`` > 1,
    up to that many jobs run at once, each in a process of its own (:mod:`engine.slots`).
    """
    from engine.machine import start_sampling

    lock = WorkerLock(store)
    if not lock.acquire(wait_s=2.0):
        return -1
    ran = 0
    sampling = start_sampling(store.path)  # the machine, for the dashboard's sparklines
    try:
        store.requeue_orphans()
        if slots > 1:
            from engine.slots import run_slots

            return run_slots(store, slots, idle_exit_s, only, on_job)
        idle_since = time.time()
        while True:
            job = store.claim_next_job(os.getpid(), only)
            if job is None:
                if only is not None or time.time() - idle_since >= idle_exit_s:
                    break
                time.sleep(0.2)
                continue
            state = run_job(store, job)
            ran += 1
            if on_job is not None:
                on_job(job, state)
            idle_since = time.time()
    finally:
        sampling.set()
        lock.release()
    return ran


def run_here(store: Store, job_ids: list[int]) -> int:
    """Run these jobs in this process, one after another, beside the worker that holds the
    database (``--foreground`` while a detached worker is busy with others): each is claimed
    here first (a job that worker claimed already stays with it); the number run."""
    ran = 0
    for job_id in job_ids:
        job = store.claim_job(job_id, os.getpid())
        if job is not None:
            run_job(store, job)
            ran += 1
    return ran


def run_claimed(store: Store, job_id: int, parent: int | None) -> int:
    """A slot's process (:mod:`engine.slots`): run the job its worker ``parent`` claimed, and
    end with that worker if it dies first."""
    if parent is not None:
        from engine.orphans import die_with_parent

        die_with_parent(parent)
    job = store.job(job_id)
    if job["state"] != "running" or (parent is not None and job["pid"] != parent):
        return 0  # not this worker's any more (cancelled, requeued): nothing to do
    run_job(store, job)
    return 0


def start_worker(store: Store, slots: int | None = None) -> int | None:
    """Start a detached worker (new session, no terminal) unless one is alive; return its
    pid. ``slots``: jobs at once (default :func:`engine.slots.default_slots`)."""
    if worker_alive(store):
        return None
    extra = [] if slots is None else ["--slots", str(slots)]
    proc = spawn_python(store, "--db", str(store.path), *extra, new_session=True)
    # reaped when it ends, so that a long-lived starter (the app's w) keeps no zombie
    threading.Thread(target=proc.wait, name=f"reap-worker-{proc.pid}", daemon=True).start()
    return proc.pid


def spawn_python(store: Store, *args: str, env: dict[str, str] | None = None,
                 new_session: bool = False) -> subprocess.Popen:
    """``python -P -m engine.jobs ARGS`` (:func:`~engine.runtime.child_python`), its output
    appended to the worker's log: the detached worker, and a worker's slot processes
    (``env``: what to add to its environment)."""
    command, child_env = child_python("engine.jobs", *args)
    store.files.mkdir(parents=True, exist_ok=True)
    with open(store.files / "worker.log", "ab") as log:
        return subprocess.Popen(command, env={**child_env, **(env or {})}, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=log, start_new_session=new_session, close_fds=True)


def main(argv: list[str] | None = None) -> int:
    """``python -m engine.jobs --db FILE``: run the queue until it stays empty."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m engine.jobs", description="run a byrote database's job queue")
    parser.add_argument("--db", required=True, metavar="FILE")
    parser.add_argument("--idle-exit", type=float, default=3.0, metavar="S")
    parser.add_argument("--slots", type=int, default=None, metavar="N")
    parser.add_argument("--job", type=int, default=None, help="run this claimed job (a worker's slot)")
    parser.add_argument("--parent", type=int, default=None, help="the worker that claimed it")
    args = parser.parse_args(argv)
    try:
        if args.job is not None:
            return run_claimed(Store(args.db), args.job, args.parent)
        from engine.slots import default_slots

        ran = run_worker(Store(args.db), idle_exit_s=args.idle_exit, slots=args.slots or default_slots())
    except InputError as exc:
        print(f"byrote worker: error: {exc}", file=sys.stderr)
        return 2
    if ran < 0:
        print("another worker holds this database; nothing to do", file=sys.stderr)
    return 0


if __name__ == "__main__":  # python -m engine.jobs: run the module's one copy (its REGISTRY), not __main__'s
    from engine import jobs

    sys.exit(jobs.main())
