"""Following jobs in a terminal: progress bars, job and result tables (rich, no torch)."""
from __future__ import annotations

import threading
import time

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from engine.store import Store

FINAL = ("done", "failed", "cancelled")


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"


def jobs_table(jobs: list[dict]) -> Table:
    table = Table(box=None, header_style="bold")
    for col in ("id", "kind", "study", "run", "state", "progress", "eta", "heartbeat", "message"):
        table.add_column(col, justify="right" if col in ("id", "study", "run", "progress") else "left")
    now = time.time()
    for j in jobs:
        beat = _age(now - j["heartbeat"]) + " ago" if j["heartbeat"] and j["state"] == "running" else "-"
        eta = _age(j["eta"]) if j["state"] == "running" and j["eta"] is not None else "-"
        message = j["error"] if j["state"] == "failed" else (j["message"] or "")
        table.add_row(
            str(j["id"]), j["kind"], str(j["study_id"] or "-"), str(j["run_id"] or "-"), j["state"],
            f"{100 * (j['progress'] or 0):.0f}%", eta, beat, message,
        )
    return table


def results_table(store: Store, study_id: int) -> Table:
    """The last epoch of each noise level: one column per level, one row per metric,
    held-out figures first (fits 80 columns for five levels)."""
    from engine.study import level_name, summary
    from engine.tasks import TASK_HEADLINES
    from tui.curves import fmt_value, result_rows

    study = store.study(study_id)
    rows = summary(store, study_id)
    table = Table(title=f"study {study_id}: {study['name']} ({study['model']}, {study['preset']} preset)",
                  header_style="bold")
    table.add_column("metric at the last epoch")
    for row in rows:
        table.add_column(f"{level_name(row['level'])}%", justify="right")
    for name, values in result_rows(rows, TASK_HEADLINES[study["task"]]):
        table.add_row(name, *[fmt_value(v) for v in values])
    return table


def follow(store: Store, job_ids: list[int], console: Console | None = None,
           worker: threading.Thread | None = None) -> int:
    """Show a progress bar per job until all are final; 0 if all are done, else 1.

    Without an in-process ``worker`` thread, a detached worker is (re)started whenever
    jobs are pending and none is alive, so following also survives a lost worker.
    """
    from engine.jobs import start_worker, worker_alive

    console = console or Console()
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(), TextColumn("{task.fields[message]}"), console=console,
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
                progress.update(tasks[job["id"]], completed=job["progress"] or 0.0, message=text)
                if not console.is_terminal:
                    _log_line(console, job, said)
            if all(j["state"] in FINAL for j in jobs):
                break
            if worker is None:
                if not worker_alive(store):
                    start_worker(store)
            elif not worker.is_alive():
                break
            time.sleep(0.5)
    jobs = [store.job(j) for j in job_ids]
    for job in jobs:
        if job["state"] == "failed":
            console.print(f"job {job['id']} failed: {job['error']}", style="red")
    return 0 if all(j["state"] == "done" for j in jobs) else 1


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

    If a detached worker already holds the database, the jobs are left to it and followed.
    Ctrl-C cancels the jobs at their next check.
    """
    from engine.jobs import run_worker

    outcome: dict[str, int] = {}

    def work() -> None:
        outcome["ran"] = run_worker(Store(store.path), only=set(job_ids))

    thread = threading.Thread(target=work, name="byrote-foreground", daemon=True)
    thread.start()
    time.sleep(0.2)
    try:
        if not thread.is_alive() and outcome.get("ran") == -1:
            return follow(store, job_ids, console)
        code = follow(store, job_ids, console, worker=thread)
    except KeyboardInterrupt:
        for job_id in job_ids:
            store.request_cancel(job_id)
        thread.join()
        raise
    thread.join()
    if outcome.get("ran") == -1:
        return follow(store, job_ids, console)
    return code
