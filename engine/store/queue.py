"""The job queue in the store: each job is a row with its kind, parameters, the item it
works for, and its state. A worker claims the oldest queued job atomically, touches its
heartbeat while it runs, and finishes it; a job left running by a dead worker is queued
again (or failed after :data:`MAX_ATTEMPTS`)."""
from __future__ import annotations

import json
import os
import time
from typing import Any, Iterable

MAX_ATTEMPTS = 3  # a job whose worker dies this often is failed, not restarted forever
ACTIVE = ("queued", "running")
# what a job works for: a study (its runs), an LM training, a sampling (an output set),
# a scan, or the demo's chain of stages (one per database, item id 1)
ITEM_KINDS = ("study", "lm", "sampling", "scan", "extractable", "extraction", "demo")


def process_alive(pid: int | None) -> bool:
    """Whether process ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    if not pid:
        return False
    try:
        with open(f"/proc/{int(pid)}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:  # no /proc here: ask the kernel
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


class QueueMixin:
    """Jobs, on :class:`~engine.store.Store`."""

    def add_job(self, kind: str, params: dict, item: tuple[str, int] | None = None, run_id: int | None = None) -> int:
        """Queue a job of ``kind`` for ``item`` (``("study", 3)``, ``("scan", 1)``; see
        :data:`ITEM_KINDS`); ``run_id`` names the run of a study's ``train_run`` job."""
        item_kind, item_id = item if item is not None else (None, None)
        if item_kind is not None and item_kind not in ITEM_KINDS:
            raise ValueError(f"unknown item kind {item_kind!r}")
        with self._write():
            return self.db["jobs"].insert(
                {
                    "kind": kind, "params": json.dumps(params), "state": "queued",
                    "item_kind": item_kind, "item_id": item_id, "run_id": run_id, "progress": 0.0,
                    "cancel_requested": 0, "attempts": 0, "created": time.time(),
                }
            ).last_pk

    def job(self, job_id: int) -> dict:
        return self._get("jobs", job_id, "job", ("params",))

    def jobs(self, states: Iterable[str] | None = None) -> list[dict]:
        if states is None:
            rows = self._rows("SELECT * FROM jobs ORDER BY id")
        else:
            states = list(states)
            marks = ", ".join("?" for _ in states)
            rows = self._rows(f"SELECT * FROM jobs WHERE state IN ({marks}) ORDER BY id", states)
        for row in rows:
            row["params"] = json.loads(row["params"])
        return rows

    def jobs_of(self, item_kind: str, item_id: int, states: Iterable[str] | None = None) -> list[dict]:
        """The jobs of one item, oldest first (only those in ``states`` if given)."""
        rows = self._rows("SELECT * FROM jobs WHERE item_kind = ? AND item_id = ? ORDER BY id", [item_kind, item_id])
        for row in rows:
            row["params"] = json.loads(row["params"])
        return [row for row in rows if states is None or row["state"] in states]

    def active_job(self, item_kind: str, item_id: int) -> int | None:
        """The queued or running job of an item, if any (so a launch never queues it twice)."""
        jobs = self.jobs_of(item_kind, item_id, ACTIVE)
        return jobs[0]["id"] if jobs else None

    def delete_jobs_of(self, item_kind: str, item_id: int) -> None:
        with self._write():
            self._delete_jobs(item_kind, item_id)

    def _delete_jobs(self, item_kind: str, item_id: int) -> None:
        """An item's jobs and their log lines (inside a write)."""
        self.db.execute("DELETE FROM job_log WHERE job_id IN (SELECT id FROM jobs WHERE item_kind = ? AND item_id = ?)",
                        [item_kind, item_id])
        self.db.execute("DELETE FROM jobs WHERE item_kind = ? AND item_id = ?", [item_kind, item_id])

    def resume_job(self, job_id: int) -> bool:
        """Queue a cancelled or failed job again (it continues from its last checkpoint)."""
        with self._write():
            cur = self.db.execute(
                "UPDATE jobs SET state = 'queued', cancel_requested = 0, error = NULL, finished = NULL, "
                "attempts = 0, pid = NULL, message = 'resumed' WHERE id = ? AND state IN ('cancelled', 'failed')",
                [job_id],
            )
        return cur.rowcount == 1

    def claim_job(self, job_id: int, pid: int) -> dict | None:
        """Atomically move a queued job to running for worker ``pid``; None if not queued."""
        now = time.time()
        with self._write():
            cur = self.db.execute(
                "UPDATE jobs SET state = 'running', pid = ?, started = COALESCE(started, ?), "
                "heartbeat = ?, attempts = attempts + 1, error = NULL "
                "WHERE id = ? AND state = 'queued'",
                [pid, now, now, job_id],
            )
        return self.job(job_id) if cur.rowcount == 1 else None

    def claim_next_job(self, pid: int, among: Iterable[int] | None = None) -> dict | None:
        """Claim the oldest queued job (optionally only among some ids)."""
        while True:
            if among is None:
                rows = self.db.execute("SELECT id FROM jobs WHERE state = 'queued' ORDER BY id LIMIT 1").fetchall()
            else:
                ids = sorted(among)
                marks = ", ".join("?" for _ in ids) or "NULL"
                rows = self.db.execute(
                    f"SELECT id FROM jobs WHERE state = 'queued' AND id IN ({marks}) ORDER BY id LIMIT 1", ids
                ).fetchall()
            if not rows:
                return None
            job = self.claim_job(rows[0][0], pid)
            if job is not None:
                return job

    def next_queued_job(self, among: Iterable[int] | None = None) -> dict | None:
        """The oldest queued job (optionally only among some ids), not claimed."""
        ids = None if among is None else sorted(among)
        where = "" if ids is None else f" AND id IN ({', '.join('?' for _ in ids) or 'NULL'})"
        row = self._row(f"SELECT * FROM jobs WHERE state = 'queued'{where} ORDER BY id LIMIT 1", ids or [])
        if row is not None:
            row["params"] = json.loads(row["params"])
        return row

    def requeue_orphans(self, max_attempts: int = MAX_ATTEMPTS) -> list[int]:
        """Jobs left 'running' by a worker that is gone go back to the queue to resume;
        one whose worker died ``max_attempts`` times (killed for memory, say) fails instead.
        A job whose process still lives (``--foreground`` beside a detached worker) is not
        an orphan."""
        with self._write():
            rows = self.db.execute("SELECT id, pid FROM jobs WHERE state = 'running'").fetchall()
            return [job_id for job_id, pid in rows if not process_alive(pid)
                    and self.requeue_job(job_id, "resuming after a lost worker", max_attempts)]

    def requeue_job(self, job_id: int, message: str, max_attempts: int = MAX_ATTEMPTS) -> bool:
        """A running job whose process is gone goes back to the queue to resume (True), or
        fails if that has happened ``max_attempts`` times (False). One whose cancel was
        asked for ends cancelled instead (False): the request outlives its worker."""
        with self._write():
            row = self.db.execute("SELECT attempts, cancel_requested FROM jobs WHERE id = ? AND state = 'running'",
                                  [job_id]).fetchone()
            if row is None:
                return False
            if row[1]:
                self.db.execute("UPDATE jobs SET state = 'cancelled', finished = ?, eta = NULL, pid = NULL, slot = NULL "
                                "WHERE id = ?", [time.time(), job_id])
                self.log(job_id, "info", "cancelled (its worker was gone)")
                return False
            if row[0] >= max_attempts:
                self.db.execute("UPDATE jobs SET state = 'failed', finished = ?, error = ?, failure = 'bug' WHERE id = ?",
                                [time.time(), f"its worker died {row[0]} times; not retried", job_id])
                return False
            self.db.execute("UPDATE jobs SET state = 'queued', pid = NULL, slot = NULL, message = ? WHERE id = ?",
                            [message, job_id])
            return True

    def update_job(self, job_id: int, **fields: Any) -> None:
        with self._write():
            self.db["jobs"].update(job_id, fields)

    def log(self, job_id: int, level: str, text: str) -> None:
        """A line of a job's log (``level``: info, warning or error; the text as it is:
        readers escape it)."""
        with self._write():
            self.db.execute("INSERT INTO job_log(job_id, time, level, text) VALUES (?, ?, ?, ?)",
                            [job_id, time.time(), level, text])

    def job_log(self, job_ids: list[int], after: int = 0, limit: int = 2000) -> list[dict]:
        """The log lines of these jobs after line id ``after``, oldest first (at most ``limit``,
        the newest ones)."""
        if not job_ids:
            return []
        marks = ", ".join("?" for _ in job_ids)
        rows = self._rows(f"SELECT id, job_id, time, level, text FROM job_log WHERE job_id IN ({marks}) AND id > ? "
                          "ORDER BY id DESC LIMIT ?", [*job_ids, after, limit])
        return rows[::-1]

    def add_machine_sample(self, sample: dict, keep_s: float) -> None:
        """A sample of the worker's machine (:class:`engine.machine.Sampler`); those older
        than ``keep_s`` seconds go."""
        now = time.time()
        with self._write():
            self.db.execute("INSERT INTO machine(time, pid, cpu, ram_used, ram_total, gpus) VALUES (?, ?, ?, ?, ?, ?)",
                            [now, os.getpid(), sample["cpu"], sample["ram_used"], sample["ram_total"],
                             json.dumps(sample["gpus"])])
            self.db.execute("DELETE FROM machine WHERE time < ?", [now - keep_s])

    def machine_samples(self, since: float) -> list[dict]:
        """The machine's samples from ``since`` on, oldest first (``gpus`` parsed)."""
        rows = self._rows("SELECT time, pid, cpu, ram_used, ram_total, gpus FROM machine WHERE time >= ? ORDER BY time",
                          [since])
        for row in rows:
            row["gpus"] = json.loads(row["gpus"] or "[]")
        return rows

    def heartbeat(self, job_id: int) -> bool:
        """Touch a running job's heartbeat; return whether cancellation was requested."""
        with self._write():
            self.db.execute("UPDATE jobs SET heartbeat = ? WHERE id = ?", [time.time(), job_id])
        row = self.db.execute("SELECT cancel_requested FROM jobs WHERE id = ?", [job_id]).fetchone()
        return bool(row and row[0])

    def request_cancel(self, job_id: int) -> str:
        """Cancel a job: a queued one at once, a running one at its next check. Returns the state.

        Both updates run in one write transaction, so a worker claiming the job meanwhile
        still sees the request.
        """
        self.job(job_id)  # unknown id -> InputError
        with self._write():
            self.db.execute(
                "UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND state IN ('queued', 'running')", [job_id]
            )
            self.db.execute(
                "UPDATE jobs SET state = 'cancelled', finished = ? WHERE id = ? AND state = 'queued'",
                [time.time(), job_id],
            )
        return self.job(job_id)["state"]
