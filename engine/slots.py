"""Slots: one worker running several jobs at once, each in a process of its own pinned to
its own GPU (``byrote worker --slots N``; issue 14, part 1).

The worker stays the database's one worker (it holds the lock) and the queue's one
claimant; each claimed job runs in a child, ``python -P -m engine.jobs --job ID``, which
writes the job's progress, heartbeats and final state as an in-process job does, and dies
with the worker (:mod:`engine.orphans`). A child sees one GPU (``CUDA_VISIBLE_DEVICES``),
so a study's five levels train on five GPUs at once. A job that uses the whole machine (a
scan, with its own process pool; the demo, which runs the others) runs alone: it waits
for the slots to empty, and nothing starts beside it. A child that dies without recording
an end (killed for memory, say) sends its job back to the queue to resume, as a lost
worker's jobs go back; a worker killed with its children leaves them to the next worker,
which requeues them the same way.
"""
from __future__ import annotations

import os
import subprocess
import time
from typing import Callable

from engine.runtime import cuda_device_count
from engine.store import Store

WHOLE_MACHINE = frozenset({"scan", "demo", "extraction_point"})  # an extraction point samples, then scans
POLL_S = 0.2


def visible_gpus() -> list[str]:
    """The GPUs a job can be pinned to: the entries of ``CUDA_VISIBLE_DEVICES`` when it is
    set, else ``0 .. n-1`` as the CUDA driver counts them (no torch)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [d.strip() for d in visible.split(",") if d.strip() and d.strip() != "-1"]
    return [str(i) for i in range(cuda_device_count())]


def default_slots() -> int:
    """One slot per visible GPU, else one."""
    return max(1, len(visible_gpus()))


def run_slots(store: Store, slots: int, idle_exit_s: float, only: set[int] | None = None,
              on_job: Callable[[dict, str], None] | None = None) -> int:
    """Claim and run queued jobs, up to ``slots`` at once, until the queue stays empty for
    ``idle_exit_s`` and no job runs; the number of jobs run. The caller holds the lock."""
    gpus = visible_gpus()
    running: dict[int, tuple[subprocess.Popen, dict]] = {}  # slot -> (child, job)
    ran = 0
    idle_since = time.time()
    try:
        while True:
            for slot, (child, job) in list(running.items()):
                if child.poll() is None:
                    continue
                del running[slot]
                state = store.job(job["id"])["state"]
                if state == "running":  # the child died before it could record an end
                    store.requeue_job(job["id"], "resuming after its process died")
                    state = "queued"
                ran += 1
                if on_job is not None:
                    on_job(job, state)
                idle_since = time.time()
            alone = any(job["kind"] in WHOLE_MACHINE for _, job in running.values())
            free = [s for s in range(slots) if s not in running]
            started = False
            if free and not alone:
                upcoming = store.next_queued_job(only)
                if upcoming is not None and (upcoming["kind"] not in WHOLE_MACHINE or not running):
                    job = store.claim_job(upcoming["id"], os.getpid())
                    if job is not None:
                        running[free[0]] = (_start(store, job, free[0], gpus), job)
                        store.update_job(job["id"], slot=free[0])
                        started = True
            if not running and not started:
                if only is not None and store.next_queued_job(only) is None:
                    break
                if time.time() - idle_since >= idle_exit_s:
                    break
            time.sleep(0 if started else POLL_S)
    finally:
        for child, _ in running.values():  # a worker stopped by an error: its jobs resume later
            child.kill()
            child.wait()
    return ran


def _start(store: Store, job: dict, slot: int, gpus: list[str]) -> subprocess.Popen:
    """The child that runs ``job`` in ``slot``, on GPU ``gpus[slot]`` when there are GPUs
    (and the jobs compute here, not on Ray); its output goes to the worker's log."""
    from engine.jobs import spawn_python

    from engine import ray_executor

    pin = gpus and not ray_executor.chosen()  # under Ray, the cluster places each task on a GPU
    return spawn_python(store, "--db", str(store.path), "--job", str(job["id"]), "--parent", str(os.getpid()),
                        env={"CUDA_VISIBLE_DEVICES": gpus[slot % len(gpus)]} if pin else None)
