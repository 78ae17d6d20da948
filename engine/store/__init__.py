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
import dataclasses
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import sqlite_utils

from engine.errors import InputError

SCHEMA_VERSION = 3
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


def _migrate_2(db: sqlite_utils.Database) -> None:
    """Memorization extraction: sampled outputs, scans, and memorized snippets."""
    db["output_sets"].create(
        {
            "id": int, "name": str, "source": str, "model": str, "n": int, "seq_len": int,
            "top_k": int, "temperature": float, "batch_size": int, "seed": int, "prompt": str,
            "config": str, "created": float,
        },
        pk="id", if_not_exists=True,
    )
    db["outputs"].create(
        {"set_id": int, "id": int, "md5": str, "text": str, "n_tokens": int},
        pk=("set_id", "id"), foreign_keys=[("set_id", "output_sets", "id")], if_not_exists=True,
    )
    db["scans"].create(
        {
            "id": int, "set_id": int, "source": str, "corpus": str, "corpus_label": str,
            "n_outputs": int, "min_lines": int, "case_sensitive": int, "workers": int, "n_shards": int,
            "bytes_total": int, "state": str, "stats": str, "created": float, "finished": float,
        },
        pk="id", if_not_exists=True,
    )
    db["scan_shards"].create(
        {"scan_id": int, "shard": int, "bytes": int, "docs": int, "skipped": int, "path": str, "finished": float},
        pk=("scan_id", "shard"), if_not_exists=True,
    )
    db["snippets"].create(
        {"scan_id": int, "fingerprint": str, "len": int, "train": int, "extract": int, "text": str},
        pk=("scan_id", "fingerprint"), if_not_exists=True,
    )
    for column in ("train", "extract", "len"):
        db["snippets"].create_index(["scan_id", column], if_not_exists=True)
    db["snippet_outputs"].create(
        {"scan_id": int, "fingerprint": str, "output_id": int, "start_line": int, "end_line": int},
        pk=("scan_id", "fingerprint", "output_id", "start_line"), if_not_exists=True,
    )
    db["snippet_outputs"].create_index(["scan_id", "output_id"], if_not_exists=True)
    db["snippet_matches"].create(
        {
            "scan_id": int, "fingerprint": str, "rank": int, "doc": str, "start_line": int,
            "end_line": int, "context_start": int, "context": str,
        },
        pk=("scan_id", "fingerprint", "rank"), if_not_exists=True,
    )


# The browser's sort keys: each column, and the fingerprint to break ties, one index each.
SNIPPET_SORT_INDEXES = {
    "train": "train DESC, fingerprint", "extract": "extract DESC, fingerprint",
    "len": "len DESC, fingerprint", "first_line": "first_line, fingerprint",
}
# The first line of a snippet's text, in SQL (the text ends with a newline or not at all).
FIRST_LINE_SQL = "coalesce(substr({t}, 1, instr({t} || char(10), char(10)) - 1), '')"


def _has_trigram(db: sqlite_utils.Database) -> bool:
    """Whether this SQLite builds FTS5 trigram indexes (3.34 and later, with FTS5)."""
    try:
        db.execute("CREATE VIRTUAL TABLE temp._probe USING fts5(x, tokenize='trigram')")
        db.execute("DROP TABLE temp._probe")
        return True
    except sqlite3.OperationalError:
        return False


def _migrate_3(db: sqlite_utils.Database) -> None:
    """The memorization browser: a first-line column, one index per sort key with the
    fingerprint as tie-break (keyset paging), and a trigram index of snippet texts."""
    db.execute("ALTER TABLE snippets ADD COLUMN first_line TEXT")
    db.execute(f"UPDATE snippets SET first_line = {FIRST_LINE_SQL.format(t='text')}")
    for column in ("train", "extract", "len"):
        db.execute(f"DROP INDEX IF EXISTS idx_snippets_scan_id_{column}")
    for key, columns in SNIPPET_SORT_INDEXES.items():
        db.execute(f"CREATE INDEX IF NOT EXISTS snippets_by_{key} ON snippets(scan_id, {columns})")
    if _has_trigram(db):
        db.execute(
            "CREATE VIRTUAL TABLE snippet_text USING fts5(text, content='snippets', content_rowid='rowid', "
            "tokenize='trigram', detail='none')"
        )
        db.execute("INSERT INTO snippet_text(snippet_text) VALUES ('rebuild')")
        # the index follows the table whoever writes it
        db.execute("CREATE TRIGGER snippet_text_insert AFTER INSERT ON snippets BEGIN "
                   "INSERT INTO snippet_text(rowid, text) VALUES (new.rowid, new.text); END")
        db.execute("CREATE TRIGGER snippet_text_delete AFTER DELETE ON snippets BEGIN "
                   "INSERT INTO snippet_text(snippet_text, rowid, text) VALUES ('delete', old.rowid, old.text); END")
        db.execute("CREATE TRIGGER snippet_text_update AFTER UPDATE OF text ON snippets BEGIN "
                   "INSERT INTO snippet_text(snippet_text, rowid, text) VALUES ('delete', old.rowid, old.text); "
                   "INSERT INTO snippet_text(rowid, text) VALUES (new.rowid, new.text); END")


# version -> migration that brings the schema from version-1 to version.
MIGRATIONS: dict[int, Callable[[sqlite_utils.Database], None]] = {1: _migrate_1, 2: _migrate_2, 3: _migrate_3}


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
        self.has_text_index = "snippet_text" in self.db.table_names()

    # -- schema -----------------------------------------------------------------
    def _migrate(self) -> None:
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise InputError(
                f"database schema {version} is newer than this byrote ({SCHEMA_VERSION})", self.path
            )
        for v in range(version + 1, SCHEMA_VERSION + 1):
            with self._write():
                if self.schema_version() >= v:  # another process migrated it meanwhile
                    continue
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
            rows = self._rows("SELECT * FROM jobs ORDER BY id")
        else:
            states = list(states)
            marks = ", ".join("?" for _ in states)
            rows = self._rows(f"SELECT * FROM jobs WHERE state IN ({marks}) ORDER BY id", states)
        for row in rows:
            row["params"] = json.loads(row["params"])
        return rows

    def jobs_with(self, kind: str, key: str, value: Any) -> list[dict]:
        """The jobs of ``kind`` whose parameter ``key`` is ``value`` (a scan's, an output set's)."""
        rows = self._rows(
            "SELECT id FROM jobs WHERE kind = ? AND json_extract(params, '$.' || ?) = ? ORDER BY id", [kind, key, value]
        )
        return [self.job(r["id"]) for r in rows]

    def resume_job(self, job_id: int) -> bool:
        """Queue a cancelled or failed job again (it continues from its last checkpoint)."""
        with self._write():
            cur = self.db.execute(
                "UPDATE jobs SET state = 'queued', cancel_requested = 0, error = NULL, finished = NULL, "
                "attempts = 0, pid = NULL, message = 'resumed' WHERE id = ? AND state IN ('cancelled', 'failed')",
                [job_id],
            )
        return cur.rowcount == 1

    def delete_job(self, job_id: int) -> None:
        """Remove a job that is not running (a running one stays: cancel it first)."""
        with self._write():
            self.db.execute("DELETE FROM jobs WHERE id = ? AND state != 'running'", [job_id])

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

    # -- sampled outputs ------------------------------------------------------------
    def add_output_set(self, **fields: Any) -> int:
        fields = dict(fields)
        fields["config"] = json.dumps(fields.get("config") or {})
        fields.setdefault("created", time.time())
        with self._write():
            return self.db["output_sets"].insert(fields).last_pk

    def output_set(self, set_id: int) -> dict:
        row = self._row("SELECT * FROM output_sets WHERE id = ?", [set_id])
        if row is None:
            raise InputError(f"no output set with id {set_id}")
        row["config"] = json.loads(row["config"])
        row["count"] = self.output_count(set_id)
        return row

    def output_sets(self) -> list[dict]:
        return [self.output_set(r["id"]) for r in self._rows("SELECT id FROM output_sets ORDER BY id")]

    def find_output_set(self, **identity: Any) -> dict | None:
        """The sampled set with exactly these settings (``None`` values match NULL)."""
        where = " AND ".join(f"{k} IS ?" for k in identity)
        row = self._row(f"SELECT id FROM output_sets WHERE source = 'sample' AND {where} ORDER BY id LIMIT 1",
                        list(identity.values()))
        return None if row is None else self.output_set(row["id"])

    def update_output_set(self, set_id: int, **fields: Any) -> None:
        with self._write():
            self.db["output_sets"].update(set_id, fields)

    def add_outputs(self, set_id: int, rows: Iterable[tuple[int, str, str, int | None]]) -> None:
        """Store ``(id, md5, text, n_tokens)`` rows in one transaction: all or none."""
        with self._write():
            self.db.conn.executemany(
                "INSERT INTO outputs(set_id, id, md5, text, n_tokens) VALUES (?, ?, ?, ?, ?)",
                [(set_id, i, md5, text, n) for i, md5, text, n in rows],
            )

    def output_count(self, set_id: int) -> int:
        return self.db.execute("SELECT COUNT(*) FROM outputs WHERE set_id = ?", [set_id]).fetchone()[0]

    def max_output_id(self, set_id: int) -> int:
        row = self.db.execute("SELECT MAX(id) FROM outputs WHERE set_id = ?", [set_id]).fetchone()
        return row[0] or 0

    def outputs(self, set_id: int, batch: int = 2000) -> Iterator[dict]:
        """Every output of a set in id order, read in batches (no whole-set list)."""
        last = -1
        while True:
            rows = self._rows(
                "SELECT id, md5, text, n_tokens FROM outputs WHERE set_id = ? AND id > ? ORDER BY id LIMIT ?",
                [set_id, last, batch],
            )
            if not rows:
                return
            yield from rows
            last = rows[-1]["id"]

    def delete_output_set(self, set_id: int) -> None:
        """Remove an output set with its outputs, its sampling jobs, and its scans with theirs."""
        with self._write():
            for row in self._rows("SELECT id FROM scans WHERE set_id = ?", [set_id]):
                self.delete_scan(row["id"])
            self.db.execute("DELETE FROM jobs WHERE kind = 'sample' AND json_extract(params, '$.set_id') = ?",
                            [set_id])
            self.db.execute("DELETE FROM outputs WHERE set_id = ?", [set_id])
            self.db.execute("DELETE FROM output_sets WHERE id = ?", [set_id])

    def output(self, set_id: int, output_id: int) -> dict:
        row = self._row("SELECT id, md5, text, n_tokens FROM outputs WHERE set_id = ? AND id = ?", [set_id, output_id])
        if row is None:
            raise InputError(f"no output {output_id} in output set {set_id}")
        return row

    # -- scans and memorized snippets ------------------------------------------------
    def add_scan(self, **fields: Any) -> int:
        fields = dict(fields)
        fields["corpus"] = json.dumps(fields.get("corpus") or {})
        fields["stats"] = json.dumps(fields.get("stats") or {})
        fields.setdefault("state", "queued")
        fields.setdefault("created", time.time())
        with self._write():
            return self.db["scans"].insert(fields).last_pk

    def scan(self, scan_id: int) -> dict:
        row = self._row("SELECT * FROM scans WHERE id = ?", [scan_id])
        if row is None:
            raise InputError(f"no scan with id {scan_id}")
        row["corpus"] = json.loads(row["corpus"])
        row["stats"] = json.loads(row["stats"])
        return row

    def scans(self) -> list[dict]:
        return [self.scan(r["id"]) for r in self._rows("SELECT id FROM scans ORDER BY id")]

    def update_scan(self, scan_id: int, **fields: Any) -> None:
        if "stats" in fields:
            fields["stats"] = json.dumps(fields["stats"])
        with self._write():
            self.db["scans"].update(scan_id, fields)

    def unfinished_scan(self, set_id: int, corpus: dict, n_outputs: int, min_lines: int,
                        case_sensitive: bool) -> dict | None:
        """The latest scan with exactly these settings that has not finished (to resume it)."""
        row = self._row(
            "SELECT id FROM scans WHERE source = 'scan' AND set_id = ? AND corpus = ? AND n_outputs = ? "
            "AND min_lines = ? AND case_sensitive = ? AND state != 'done' ORDER BY id DESC LIMIT 1",
            [set_id, json.dumps(corpus), n_outputs, min_lines, int(case_sensitive)],
        )
        return None if row is None else self.scan(row["id"])

    def delete_scan(self, scan_id: int) -> None:
        """Remove a scan with its shards, results and jobs (not its files)."""
        with self._write():
            for table in ("snippets", "snippet_outputs", "snippet_matches", "scan_shards"):
                self.db.execute(f"DELETE FROM {table} WHERE scan_id = ?", [scan_id])
            self.db.execute("DELETE FROM jobs WHERE kind = 'scan' AND json_extract(params, '$.scan_id') = ?", [scan_id])
            self.db.execute("DELETE FROM scans WHERE id = ?", [scan_id])

    def scan_dir(self, scan_id: int) -> Path:
        return self.files / "scans" / str(scan_id)

    def finish_shard(self, scan_id: int, shard: int, path: str, bytes: int, docs: int, skipped: int) -> None:
        with self._write():
            self.db.execute(
                "INSERT OR REPLACE INTO scan_shards(scan_id, shard, bytes, docs, skipped, path, finished) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [scan_id, shard, bytes, docs, skipped, path, time.time()],
            )

    def finished_shards(self, scan_id: int) -> dict[int, dict]:
        return {r["shard"]: r for r in self._rows("SELECT * FROM scan_shards WHERE scan_id = ? ORDER BY shard", [scan_id])}

    def save_scan_results(
        self,
        scan_id: int,
        snippets: Iterable[tuple[str, int, int, int, str | None]],
        output_locations: Iterable[tuple[str, int, int, int]],
        matches: Iterable[tuple[str, int, str, int, int, int | None, str | None]],
        **scan_fields: Any,
    ) -> None:
        """Replace a scan's results in one transaction.

        ``snippets``: (fingerprint, len, train, extract, text); ``output_locations``:
        (fingerprint, output id, start line, end line); ``matches``: (fingerprint, rank,
        document id, start line, end line, first context line, context text).
        """
        if "stats" in scan_fields:
            scan_fields["stats"] = json.dumps(scan_fields["stats"])
        with self._write():
            for table in ("snippets", "snippet_outputs", "snippet_matches"):
                self.db.execute(f"DELETE FROM {table} WHERE scan_id = ?", [scan_id])
            self.db.conn.executemany(
                "INSERT INTO snippets(scan_id, fingerprint, len, train, extract, text, first_line) "
                f"VALUES (?, ?, ?, ?, ?, ?6, {FIRST_LINE_SQL.format(t='?6')})",
                ((scan_id, *row) for row in snippets),
            )
            self.db.conn.executemany(
                "INSERT INTO snippet_outputs(scan_id, fingerprint, output_id, start_line, end_line) VALUES (?, ?, ?, ?, ?)",
                ((scan_id, *row) for row in output_locations),
            )
            self.db.conn.executemany(
                "INSERT INTO snippet_matches(scan_id, fingerprint, rank, doc, start_line, end_line, context_start, context) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                ((scan_id, *row) for row in matches),
            )
            if scan_fields:
                self.db["scans"].update(scan_id, scan_fields)

    SNIPPET_ORDERS = {
        "train": "train DESC, fingerprint", "extract": "extract DESC, fingerprint",
        "len": "len DESC, fingerprint", "fingerprint": "fingerprint",
    }

    def snippets(
        self, scan_id: int, order: str = "train", prefix: str = "", limit: int | None = None, offset: int = 0
    ) -> list[dict]:
        """A scan's memorized snippets, sorted by train, extract, len or fingerprint,
        optionally only those whose fingerprint starts with ``prefix``."""
        if order not in self.SNIPPET_ORDERS:
            raise InputError(f"unknown order {order!r} (known: {', '.join(self.SNIPPET_ORDERS)})")
        where, params = "scan_id = ?", [scan_id]
        if prefix:  # otherwise the (scan_id, order column) index serves the sort
            where += " AND fingerprint >= ? AND fingerprint < ?"
            params += [prefix.lower(), prefix.lower() + "\uffff"]
        return self._rows(
            f"SELECT fingerprint, len, train, extract, text FROM snippets WHERE {where} "
            f"ORDER BY {self.SNIPPET_ORDERS[order]} LIMIT ? OFFSET ?",
            params + [-1 if limit is None else limit, offset],
        )

    def snippet_count(self, scan_id: int) -> int:
        return self.db.execute("SELECT COUNT(*) FROM snippets WHERE scan_id = ?", [scan_id]).fetchone()[0]

    def snippet(self, scan_id: int, fingerprint: str) -> dict:
        row = self._row(
            "SELECT fingerprint, len, train, extract, text FROM snippets WHERE scan_id = ? AND fingerprint = ?",
            [scan_id, fingerprint],
        )
        if row is None:
            raise InputError(f"no snippet {fingerprint} in scan {scan_id}")
        return row

    def snippet_outputs(self, scan_id: int, fingerprint: str) -> list[dict]:
        return self._rows(
            "SELECT output_id, start_line, end_line FROM snippet_outputs WHERE scan_id = ? AND fingerprint = ? "
            "ORDER BY output_id, start_line",
            [scan_id, fingerprint],
        )

    def snippet_matches(self, scan_id: int, fingerprint: str) -> list[dict]:
        return self._rows(
            "SELECT rank, doc, start_line, end_line, context_start, context FROM snippet_matches "
            "WHERE scan_id = ? AND fingerprint = ? ORDER BY rank",
            [scan_id, fingerprint],
        )

    def snippets_of_output(self, scan_id: int, output_id: int) -> list[dict]:
        return self._rows(
            "SELECT o.fingerprint AS fingerprint, o.start_line AS start_line, o.end_line AS end_line, "
            "s.len AS len, s.train AS train, s.extract AS extract FROM snippet_outputs o "
            "JOIN snippets s ON s.scan_id = o.scan_id AND s.fingerprint = o.fingerprint "
            "WHERE o.scan_id = ? AND o.output_id = ? ORDER BY o.start_line",
            [scan_id, output_id],
        )

    def outputs_with_snippets(self, scan_id: int) -> int:
        return self.db.execute(
            "SELECT COUNT(DISTINCT output_id) FROM snippet_outputs WHERE scan_id = ?", [scan_id]
        ).fetchone()[0]

    # -- the memorization browser: filters and keyset pages ---------------------------
    TEXT_CANDIDATES = 2000  # a text filter with more hits than this is read in index order

    def snippet_filter(self, scan_id: int, prefix: str = "", text: str = "") -> "SnippetFilter":
        """A filter of a scan's snippets: fingerprints starting with ``prefix`` and texts
        containing ``text`` (ASCII letters in either case).

        A text of three characters or more is looked up in the trigram index first. When
        it matches at most :attr:`TEXT_CANDIDATES` snippets of the scan, pages sort just
        those rows, and the count is known at once; otherwise the matches are dense and a
        page is found by reading the sort index until it is full.
        """
        flt = SnippetFilter(scan_id, prefix.lower(), text)
        if self._indexed(flt):
            sql, params = self._text_sql(flt)
            rows = self.db.execute(f"SELECT s.rowid {sql} LIMIT ?", [*params, self.TEXT_CANDIDATES + 1]).fetchall()
            if len(rows) <= self.TEXT_CANDIDATES:
                flt.rowids = json.dumps([r[0] for r in rows])
                flt.count = len(rows)
        return flt

    def _indexed(self, flt: "SnippetFilter") -> bool:
        """Whether a filter's text can be looked up in the trigram index (3 characters or more)."""
        return bool(flt.text) and len(flt.text) >= 3 and self.has_text_index

    def _text_sql(self, flt: "SnippetFilter") -> tuple[str, list[Any]]:
        """FROM and WHERE of a text filter read through the trigram index: LIKE finds
        candidates (its % and _ in the text only widen them), instr keeps the rows that
        hold the text itself. CROSS JOIN keeps the index first (the planner would
        otherwise probe it once per row of the scan)."""
        where, params = "f.text LIKE ? AND s.scan_id = ? AND instr(lower(s.text), lower(?)) > 0", \
            [f"%{flt.text}%", flt.scan_id, flt.text]
        if flt.prefix:
            where += " AND s.fingerprint >= ? AND s.fingerprint < ?"
            params += [flt.prefix, flt.prefix + "\uffff"]
        return f"FROM snippet_text f CROSS JOIN snippets s ON s.rowid = f.rowid WHERE {where}", params

    def _filter_sql(self, flt: "SnippetFilter") -> tuple[str, list[Any]]:
        """FROM and WHERE of a filter's rows. A few text matches are read by their row ids
        (CROSS JOIN: never by walking a sort index past a million rows that fail)."""
        source, where, params = "snippets", ["scan_id = ?"], [flt.scan_id]
        if flt.rowids is not None:
            source = "json_each(?) AS ids CROSS JOIN snippets ON snippets.rowid = ids.value"
            params.insert(0, flt.rowids)
        if flt.prefix:
            where.append("fingerprint >= ? AND fingerprint < ?")
            params += [flt.prefix, flt.prefix + "\uffff"]
        if flt.rowids is None and flt.text:
            where.append("instr(lower(text), lower(?)) > 0")
            params.append(flt.text)
        return f"FROM {source} WHERE {' AND '.join(where)}", params

    def snippet_page(self, flt: "SnippetFilter", order: str = "train", after: dict | None = None,
                     before: dict | None = None, last: bool = False, limit: int = 100) -> list[dict]:
        """One page of filtered snippets in ``order`` (train, extract, len: largest first;
        first_line, fingerprint: alphabetical; ties by fingerprint).

        Keyset paging: ``after`` is the last row of the page above, ``before`` the first
        row of the page below, ``last`` asks for the final page. Each page is an index
        range, so page 10,000 costs what page 1 does.
        """
        if order not in SNIPPET_SORT_INDEXES and order != "fingerprint":
            raise InputError(f"unknown order {order!r} (known: {', '.join([*SNIPPET_SORT_INDEXES, 'fingerprint'])})")
        column = "fingerprint" if order == "fingerprint" else order
        descending = order in ("train", "extract", "len")
        backward = before is not None or last
        anchor = before if before is not None else after
        where, params = self._filter_sql(flt)
        # the order of this read: the page order, or its reverse when reading backward
        down = descending != backward
        tie = "DESC" if backward else "ASC"
        cols = "fingerprint, len, train, extract, first_line"
        rows: list[dict] = []
        if anchor is not None and column != "fingerprint":  # the rest of the anchor's tie first
            rows = self._rows(
                f"SELECT {cols} {where} AND {column} = ? AND fingerprint {'<' if backward else '>'} ? "
                f"ORDER BY {column} {'DESC' if down else 'ASC'}, fingerprint {tie} LIMIT ?",
                params + [anchor[column], anchor["fingerprint"], limit],
            )
        if len(rows) < limit:
            more_where, more_params = where, list(params)
            if anchor is not None:
                more_where += f" AND {column} {'<' if down else '>'} ?"
                more_params.append(anchor[column])
            rows += self._rows(
                f"SELECT {cols} {more_where} "
                f"ORDER BY {column} {'DESC' if down else 'ASC'}, fingerprint {tie} LIMIT ?",
                more_params + [limit - len(rows)],
            )
        return rows[::-1] if backward else rows

    def snippet_filter_count(self, flt: "SnippetFilter") -> int:
        """How many snippets pass a filter (known at once for a sparse text filter)."""
        if flt.count is not None:
            return flt.count
        if self._indexed(flt):
            sql, params = self._text_sql(flt)
            return self.db.execute(f"SELECT COUNT(*) {sql}", params).fetchone()[0]
        where, params = self._filter_sql(flt)
        return self.db.execute(f"SELECT COUNT(*) {where}", params).fetchone()[0]


@dataclasses.dataclass
class SnippetFilter:
    """What the browser shows of a scan: see :meth:`Store.snippet_filter`."""

    scan_id: int
    prefix: str = ""
    text: str = ""
    rowids: str | None = None  # JSON list of the matching rows, when few
    count: int | None = None
