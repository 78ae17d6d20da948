"""The store: one SQLite file (WAL) and a folder of per-sample arrays beside it.

This is the only module that speaks SQL. Workers write progress and results here; the
command line and the app read them. Every statement is parameterized.

Layout::

    byrote.db            studies, runs, jobs, per-epoch metrics, array index
    byrote-files/        per-sample arrays and checkpoints, referenced from the db
        studies/<id>/    noisy training copies and their changed-id lists
        runs/<id>/       epoch_<k>_<split>.npz arrays, checkpoints

The schema carries a version in ``meta``; :data:`MIGRATIONS` brings an older file up to
date when it is opened.
"""
from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import sqlite_utils

from engine.errors import InputError

SCHEMA_VERSION = 1
MAX_ATTEMPTS = 3  # a job whose worker dies this often is failed, not restarted forever


def default_db_path() -> Path:
    """``$BYROTE_DB``, else ``~/.local/share/byrote/byrote.db``."""
    env = os.environ.get("BYROTE_DB")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".local" / "share" / "byrote" / "byrote.db"


def _migrate_1(db: sqlite_utils.Database) -> None:
    db["meta"].create({"key": str, "value": str}, pk="key", if_not_exists=True)
    db["studies"].create(
        {
            "id": int, "name": str, "task": str, "model": str, "preset": str,
            "epochs": int, "seed": int, "device": str, "train_path": str,
            "valid_path": str, "levels": str, "config": str, "created": float,
        },
        pk="id", if_not_exists=True,
    )
    db["runs"].create(
        {
            "id": int, "study_id": int, "level": float, "seed": int,
            "train_path": str, "changed_path": str, "epochs": int,
            "epochs_done": int, "n_train": int, "n_valid": int, "n_dropped": int,
            "n_params": int, "device": str, "created": float,
        },
        pk="id", foreign_keys=[("study_id", "studies", "id")],
        defaults={"epochs_done": 0}, if_not_exists=True,
    )
    db["jobs"].create(
        {
            "id": int, "kind": str, "params": str, "state": str, "study_id": int,
            "run_id": int, "pid": int, "heartbeat": float, "progress": float,
            "eta": float, "message": str, "error": str, "cancel_requested": int,
            "attempts": int, "created": float, "started": float, "finished": float,
        },
        pk="id", defaults={"state": "queued", "progress": 0.0, "cancel_requested": 0, "attempts": 0},
        if_not_exists=True,
    )
    db["jobs"].create_index(["state"], if_not_exists=True)
    db["metrics"].create(
        {"run_id": int, "epoch": int, "split": str, "name": str, "value": float},
        pk=("run_id", "epoch", "split", "name"), if_not_exists=True,
    )
    db["arrays"].create(
        {"run_id": int, "epoch": int, "split": str, "path": str, "n": int},
        pk=("run_id", "epoch", "split"), if_not_exists=True,
    )


# version -> migration that brings the schema from version-1 to version.
MIGRATIONS: dict[int, Callable[[sqlite_utils.Database], None]] = {1: _migrate_1}


class Store:
    """A byrote database and its files folder. One instance per process and thread."""

    def __init__(self, path: str | Path | None = None, create: bool = True):
        # absolute, so a detached worker started from another directory opens the same file
        self.path = (Path(path).expanduser() if path is not None else default_db_path()).absolute()
        if not self.path.exists():
            if not create:
                raise InputError("no such database", self.path)
            if self.path.parent.exists() and not self.path.parent.is_dir():
                raise InputError("not a directory", self.path.parent)
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif self.path.is_dir():
            raise InputError("is a directory, not a database file", self.path)
        try:
            conn = sqlite3.connect(str(self.path), timeout=30.0)
            conn.execute("PRAGMA busy_timeout=30000")
            self.db = sqlite_utils.Database(conn)
            if self.db.journal_mode != "wal":
                self.db.enable_wal()
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise InputError(f"not a byrote database ({exc})", self.path) from None
        self.files = self.path.with_name(self.path.stem + "-files")

    # -- schema -----------------------------------------------------------------
    def _migrate(self) -> None:
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise InputError(
                f"database schema {version} is newer than this byrote ({SCHEMA_VERSION})", self.path
            )
        for v in range(version + 1, SCHEMA_VERSION + 1):
            with self._write():
                MIGRATIONS[v](self.db)
                self.db.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)", [str(v)]
                )

    def schema_version(self) -> int:
        if "meta" not in self.db.table_names():
            return 0
        row = self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self.db.conn.close()

    # -- helpers ----------------------------------------------------------------
    @contextlib.contextmanager
    def _write(self) -> Iterator[None]:
        """A write transaction that takes the write lock at its start (BEGIN IMMEDIATE).

        A deferred transaction that reads before it writes fails at once with "database
        is locked" when another connection wrote in between (WAL snapshots cannot be
        upgraded); an immediate one waits for the lock under the busy timeout instead.
        """
        if self.db.conn.in_transaction:
            with self.db.atomic():  # nested: a savepoint
                yield
            return
        self.db.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self.db.conn.in_transaction:
                self.db.conn.execute("ROLLBACK")
            raise
        self.db.conn.execute("COMMIT")

    def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[dict]:
        cur = self.db.execute(sql, list(params))
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    def _row(self, sql: str, params: Iterable[Any] = ()) -> dict | None:
        rows = self._rows(sql, params)
        return rows[0] if rows else None

    def file_path(self, relative: str) -> Path:
        return self.files / relative

    def run_dir(self, run_id: int) -> Path:
        return self.files / "runs" / str(run_id)

    def study_dir(self, study_id: int) -> Path:
        return self.files / "studies" / str(study_id)

    def set_meta(self, key: str, value: str) -> None:
        with self._write():
            self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", [key, value])

    # -- studies and runs ---------------------------------------------------------
    def add_study(self, **fields: Any) -> int:
        fields = dict(fields)
        fields["levels"] = json.dumps(fields["levels"])
        fields["config"] = json.dumps(fields.get("config") or {})
        fields.setdefault("created", time.time())
        with self._write():
            return self.db["studies"].insert(fields).last_pk

    def study(self, study_id: int) -> dict:
        row = self._row("SELECT * FROM studies WHERE id = ?", [study_id])
        if row is None:
            raise InputError(f"no study with id {study_id}")
        row["levels"] = json.loads(row["levels"])
        row["config"] = json.loads(row["config"])
        return row

    def studies(self) -> list[dict]:
        return [self.study(r["id"]) for r in self._rows("SELECT id FROM studies ORDER BY id")]

    def delete_study(self, study_id: int) -> None:
        """Remove a study with its runs, metrics, array index and jobs (not its files)."""
        with self._write():
            run_ids = [r[0] for r in self.db.execute("SELECT id FROM runs WHERE study_id = ?", [study_id]).fetchall()]
            for run_id in run_ids:
                self.db.execute("DELETE FROM metrics WHERE run_id = ?", [run_id])
                self.db.execute("DELETE FROM arrays WHERE run_id = ?", [run_id])
            self.db.execute("DELETE FROM jobs WHERE study_id = ?", [study_id])
            self.db.execute("DELETE FROM runs WHERE study_id = ?", [study_id])
            self.db.execute("DELETE FROM studies WHERE id = ?", [study_id])

    def add_run(self, **fields: Any) -> int:
        fields.setdefault("created", time.time())
        with self._write():
            return self.db["runs"].insert(fields).last_pk

    def run(self, run_id: int) -> dict:
        row = self._row("SELECT * FROM runs WHERE id = ?", [run_id])
        if row is None:
            raise InputError(f"no run with id {run_id}")
        return row

    def runs(self, study_id: int) -> list[dict]:
        return self._rows("SELECT * FROM runs WHERE study_id = ? ORDER BY level, id", [study_id])

    def update_run(self, run_id: int, **fields: Any) -> None:
        with self._write():
            self.db["runs"].update(run_id, fields)

    def commit_epoch(
        self, run_id: int, epoch: int, metrics: dict[str, dict[str, float]], arrays: dict[str, tuple[str, int]]
    ) -> None:
        """Record one finished epoch atomically: metrics per split, array files, epochs_done."""
        with self._write():
            for split, values in metrics.items():
                for name, value in values.items():
                    self.db.execute(
                        "INSERT OR REPLACE INTO metrics(run_id, epoch, split, name, value) VALUES (?, ?, ?, ?, ?)",
                        [run_id, epoch, split, name, None if value != value else float(value)],
                    )
            for split, (path, n) in arrays.items():
                self.db.execute(
                    "INSERT OR REPLACE INTO arrays(run_id, epoch, split, path, n) VALUES (?, ?, ?, ?, ?)",
                    [run_id, epoch, split, path, n],
                )
            self.db.execute("UPDATE runs SET epochs_done = ? WHERE id = ?", [epoch, run_id])

    def metrics(self, run_id: int, split: str | None = None) -> list[dict]:
        if split is None:
            return self._rows("SELECT * FROM metrics WHERE run_id = ? ORDER BY epoch, split, name", [run_id])
        return self._rows(
            "SELECT * FROM metrics WHERE run_id = ? AND split = ? ORDER BY epoch, name", [run_id, split]
        )

    def metric_table(self, study_id: int, split: str, name: str) -> dict[float, dict[int, float]]:
        """``{level: {epoch: value}}`` for one metric of one split across a study's runs."""
        rows = self._rows(
            "SELECT r.level AS level, m.epoch AS epoch, m.value AS value FROM metrics m "
            "JOIN runs r ON r.id = m.run_id WHERE r.study_id = ? AND m.split = ? AND m.name = ? "
            "ORDER BY r.level, m.epoch",
            [study_id, split, name],
        )
        table: dict[float, dict[int, float]] = {}
        for r in rows:
            table.setdefault(r["level"], {})[r["epoch"]] = r["value"]
        return table

    def metric_names(self, study_id: int) -> list[tuple[str, str]]:
        rows = self.db.execute(
            "SELECT DISTINCT m.split, m.name FROM metrics m JOIN runs r ON r.id = m.run_id "
            "WHERE r.study_id = ? ORDER BY m.split, m.name",
            [study_id],
        ).fetchall()
        return [(s, n) for s, n in rows]

    def array_path(self, run_id: int, epoch: int, split: str) -> Path | None:
        row = self._row(
            "SELECT path FROM arrays WHERE run_id = ? AND epoch = ? AND split = ?", [run_id, epoch, split]
        )
        return None if row is None else self.file_path(row["path"])

    # -- jobs ---------------------------------------------------------------------
    def add_job(self, kind: str, params: dict, study_id: int | None = None, run_id: int | None = None) -> int:
        with self._write():
            return self.db["jobs"].insert(
                {
                    "kind": kind, "params": json.dumps(params), "state": "queued",
                    "study_id": study_id, "run_id": run_id, "progress": 0.0,
                    "cancel_requested": 0, "attempts": 0, "created": time.time(),
                }
            ).last_pk

    def job(self, job_id: int) -> dict:
        row = self._row("SELECT * FROM jobs WHERE id = ?", [job_id])
        if row is None:
            raise InputError(f"no job with id {job_id}")
        row["params"] = json.loads(row["params"])
        return row

    def jobs(self, states: Iterable[str] | None = None) -> list[dict]:
        if states is None:
            rows = self._rows("SELECT id FROM jobs ORDER BY id")
        else:
            states = list(states)
            marks = ", ".join("?" for _ in states)
            rows = self._rows(f"SELECT id FROM jobs WHERE state IN ({marks}) ORDER BY id", states)
        return [self.job(r["id"]) for r in rows]

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

    def requeue_orphans(self, max_attempts: int = MAX_ATTEMPTS) -> list[int]:
        """Jobs left 'running' by a worker that is gone go back to the queue to resume;
        one whose worker died ``max_attempts`` times (killed for memory, say) fails instead."""
        requeued = []
        with self._write():
            rows = self.db.execute("SELECT id, attempts FROM jobs WHERE state = 'running'").fetchall()
            for job_id, attempts in rows:
                if attempts >= max_attempts:
                    self.db.execute(
                        "UPDATE jobs SET state = 'failed', finished = ?, error = ? WHERE id = ?",
                        [time.time(), f"its worker died {attempts} times; not retried", job_id],
                    )
                    continue
                self.db.execute(
                    "UPDATE jobs SET state = 'queued', pid = NULL, message = 'resuming after a lost worker' "
                    "WHERE id = ?",
                    [job_id],
                )
                requeued.append(job_id)
        return requeued

    def update_job(self, job_id: int, **fields: Any) -> None:
        with self._write():
            self.db["jobs"].update(job_id, fields)

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

    def jobs_of_study(self, study_id: int) -> list[dict]:
        return [self.job(r["id"]) for r in self._rows("SELECT id FROM jobs WHERE study_id = ? ORDER BY id", [study_id])]
