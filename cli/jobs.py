"""Commands of the job queue: ``worker``, ``jobs`` and ``cancel``."""
from __future__ import annotations

import argparse
import sys

from cli.listings import add_json, print_json
from cli.options import Commands, open_store, positive, processes, seconds
from cli.show import console as show_console, say


def cmd_worker(args) -> int:
    from engine import ray_executor
    from engine.jobs import run_worker, start_worker
    from engine.slots import default_slots

    store = open_store(args, create=True)
    ray_executor.choose(args.executor, args.address)  # its jobs' processes inherit the choice
    if args.slots:
        slots = args.slots
    elif ray_executor.chosen():
        slots = max(1, ray_executor.cluster_gpus())
    else:
        slots = default_slots()
    if args.detach:
        pid = start_worker(store, slots)
        say(f"worker started (pid {pid}, {slots} slot{'s' if slots > 1 else ''})" if pid else "worker already running")
        return 0
    ran = run_worker(store, idle_exit_s=args.idle_exit, slots=slots)
    if ran < 0:
        say("another worker holds this database; nothing to do", file=sys.stderr)
    return 0


def cmd_jobs(args) -> int:
    from cli.tables import jobs_table
    from engine.jobs import worker_pid

    from engine.store import ACTIVE

    store = open_store(args)
    pid = worker_pid(store)
    jobs = [j for j in store.jobs() if not args.active or j["state"] in ACTIVE]
    if args.json:
        print_json({"worker_pid": pid, "jobs": jobs})
        return 0
    console = show_console()
    console.print(f"worker: {'alive, pid ' + str(pid) if pid else 'not running'}")
    console.print(jobs_table(jobs))
    return 0


def cmd_log(args) -> int:
    """A job's log lines: when it started, its milestones, warnings and how it ended."""
    from engine.overview import stamp

    store = open_store(args)
    store.job(args.id)  # an unknown job: one line
    rows = store.job_log([args.id], limit=1_000_000)
    if args.json:
        print_json(rows)
        return 0
    for row in rows:
        say(f"{stamp(row['time'])}  {row['level']:<7}  {row['text']}", newlines=True)
    return 0


def cmd_cancel(args) -> int:
    state = open_store(args).request_cancel(args.id)
    say(f"job {args.id}: {'cancel requested' if state == 'running' else state}")
    return 0


def register(c: Commands) -> None:
    p = c.add("worker", cmd_worker, "run queued jobs (one worker per database)")
    p.add_argument("--detach", action="store_true", help="start it in the background and return")
    p.add_argument("--idle-exit", type=seconds, default=3.0, metavar="S", help=argparse.SUPPRESS)
    p.add_argument("--slots", type=processes, default=None, metavar="N",
                   help="jobs at once, each in its own process on its own GPU (default: one per visible GPU, else 1; "
                        "under Ray, one per GPU of the cluster)")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="where jobs compute: here, or on a running Ray cluster (pip install 'byrote[ray]')")
    p.add_argument("--address", default=None, metavar="HOST:PORT",
                   help="the Ray cluster's address (default: $RAY_ADDRESS)")
    p = c.add("jobs", cmd_jobs, "list jobs with their state and progress")
    p.add_argument("--active", action="store_true", help="only the queued and running ones")
    add_json(p)
    p = c.add("log", cmd_log, "a job's log: its start, milestones, warnings and end (a failure's traceback)")
    p.add_argument("id", type=positive, metavar="JOB")
    add_json(p)
    p = c.add("cancel", cmd_cancel, "cancel a job")
    p.add_argument("id", type=positive, metavar="ID")
