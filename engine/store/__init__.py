"""The store: one SQLite file (WAL) and a folder of per-sample arrays beside it.

This package is the only code that speaks SQL (sqlite-utils, every statement
parameterized). Workers write progress and results; the command line and the app read
them. :class:`Store` is the connection, write transactions and paths; each kind of
record has a module of its own: :mod:`~engine.store.schema` (migrations),
:mod:`~engine.store.studies`, :mod:`~engine.store.queue` (jobs),
:mod:`~engine.store.lms`, :mod:`~engine.store.outputs`, :mod:`~engine.store.scans` and
:mod:`~engine.store.browse` (the memorization browser's pages).

Layout::

    byrote.db            every table; any SQLite tool can browse it
    byrote-files/        what is not rows, referenced from the database
        studies/<id>/    noisy training copies, their changed ids, the held-out copy
        runs/<id>/       epoch<k>_<split>.npz per-sample arrays, checkpoints
        scans/<id>/      the scan's output index and per-shard regions
        lms/<hash>/      a language model's training checkpoints
"""
from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

from engine.errors import InputError
from engine.store.browse import BrowseMixin, SnippetFilter
from engine.store.extractables import ExtractablesMixin
from engine.store.extractions import ExtractionsMixin
from engine.store.lms import LMsMixin
from engine.store.outputs import OutputsMixin
from engine.store.queue import ACTIVE, ITEM_KINDS, MAX_ATTEMPTS, QueueMixin
from engine.store.scans import ScansMixin
from engine.store.schema import MIGRATIONS, SCHEMA_VERSION
from engine.store.studies import StudiesMixin

__all__ = ["ACTIVE", "ITEM_KINDS", "MAX_ATTEMPTS", "SCHEMA_VERSION", "SnippetFilter", "Store", "default_db_path"]


def default_db_path() -> Path:
    """``$BYROTE_DB``, else ``~/.local/share/byrote/byrote.db``."""
    env = os.environ.get("BYROTE_DB")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".local" / "share" / "byrote" / "byrote.db"


def _import_sqlite_utils():
    """sqlite_utils, imported here, not at the top, so that importing the store (``byrote
    --help``) stays quick; and without pandas, which it takes when it can for conversions
    byrote never asks of it (pandas comes with ``datasets``: 0.4 s and 90 MB in every
    process that opens a store, the app included)."""
    if "sqlite_utils" not in sys.modules and "pandas" not in sys.modules:
        sys.modules["pandas"] = None  # type: ignore[assignment]  (an import of it fails)
        try:
            import sqlite_utils
        finally:
            del sys.modules["pandas"]
    import sqlite_utils

    return sqlite_utils


def _remove_if_empty(path: Path) -> None:
    """Remove a database file this process just made if it still holds no table (a file
    another process filled meanwhile is kept), and its companions."""
    with contextlib.suppress(OSError, sqlite3.Error):
        if path.stat().st_size:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                    return
            finally:
                conn.close()
        _remove_database(path)


def _remove_database(path: Path) -> None:
    """A database file and its companions, removed."""
    with contextlib.suppress(OSError):
        path.unlink()
    for suffix in ("-wal", "-shm", "-journal"):
        with contextlib.suppress(OSError):
            os.unlink(f"{path}{suffix}")


def database_problem(exc: sqlite3.DatabaseError) -> str:
    """What an SQLite error says to a user: a read-only file or file system, a full disk,
    a file that cannot be opened, else a file that is not a byrote database."""
    text = str(exc)
    if "readonly" in text or "read-only" in text:
        return ("cannot write to the database (a read-only file, folder or file system); byrote writes to its "
                "database even to read it")
    if "disk is full" in text or "disk I/O error" in text:
        return f"the disk is full or failing ({text})"
    if "unable to open" in text:
        return "cannot open the database file (is its folder writable?)"
    if "malformed" in text:
        return f"the database is damaged ({text}); sqlite3's .recover may save what is left"
    if "locked" in text or "busy" in text:
        return f"the database is busy: another process holds it ({text})"
    return f"not a byrote database ({text})"


FILE_PROBLEMS = ("malformed", "not a database", "disk i/o", "disk is full", "readonly", "read-only",
                 "unable to open", "locked", "busy")


def is_file_problem(exc: sqlite3.DatabaseError) -> bool:
    """Whether an SQLite error is the file's or the system's (damage, a full or read-only
    disk, another process's lock), said in one line; else a query of byrote's own failed."""
    text = str(exc).lower()
    return not isinstance(exc, (sqlite3.ProgrammingError, sqlite3.IntegrityError)) and any(
        word in text for word in FILE_PROBLEMS)


class Store(StudiesMixin, QueueMixin, LMsMixin, OutputsMixin, ScansMixin, BrowseMixin, ExtractablesMixin,
            ExtractionsMixin):
    """A byrote database and its files folder. One instance per process and thread."""

    def __init__(self, path: str | Path | None = None, create: bool = True):
        # absolute, so a detached worker started from another directory opens the same file
        self.path = (Path(path).expanduser() if path is not None else default_db_path()).absolute()
        if not self.path.exists():
            if self.path.parent.exists() and not self.path.parent.is_dir():
                raise InputError("not a directory", self.path.parent)
            if not create:
                raise InputError("no such database (a study, a sample, an import or a worker makes one)", self.path)
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif self.path.is_dir():
            raise InputError("is a directory, not a database file", self.path)
        elif not self.path.is_file():
            raise InputError("is not a regular file (a device or a pipe), not a database file", self.path)
        files = self.path.with_name(self.path.stem + "-files")
        if files.exists() and not files.is_dir():
            raise InputError("is not a folder: byrote keeps the database's files there", files)
        created = not self.path.exists()
        self.created, self._files_created = created, not files.exists()
        sqlite_utils = _import_sqlite_utils()

        conn = None
        try:
            conn = sqlite3.connect(str(self.path), timeout=30.0)
            conn.execute("PRAGMA busy_timeout=30000")
            self.db = sqlite_utils.Database(conn)
            self._check_own()  # before anything is written: a foreign file stays as it was
            if self.db.journal_mode != "wal":
                self.db.enable_wal()
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except (sqlite3.DatabaseError, InputError) as exc:
            if conn is not None:
                conn.close()
            if created:  # a database that could not be made leaves no empty file behind
                _remove_if_empty(self.path)
            if isinstance(exc, InputError):
                raise
            raise InputError(database_problem(exc), self.path) from None
        self.files = files
        self.has_text_index = "snippet_text" in self.db.table_names()
        from engine.fsutil import protect

        protect("the database", self.path, *(f"{self.path}{tail}" for tail in ("-wal", "-shm", "-journal")))

    def _check_own(self) -> None:
        """Refuse an SQLite file that is neither empty nor byrote's own (tables of another
        program, a ``meta`` table without byrote's schema version) or that a newer byrote
        made, reading only."""
        tables = self.db.table_names()
        if not tables:
            return
        version = None
        if "meta" in tables and "value" in self.db["meta"].columns_dict:
            row = self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = None if row is None else row[0]
        if version is None:
            shown = ", ".join(sorted(tables)[:4]) + (", ..." if len(tables) > 4 else "")
            raise InputError(f"not a byrote database: an SQLite file with tables of its own ({shown}); byrote opens "
                             f"only its own databases or a new file, and left this one as it was", self.path)
        if not str(version).isdigit():
            raise InputError(f"not a byrote database: its schema_version is {str(version)[:40]!r}, not a number",
                             self.path)
        if int(version) > SCHEMA_VERSION:
            raise InputError(f"database schema {version} is newer than this byrote ({SCHEMA_VERSION})", self.path)

    def _migrate(self) -> None:
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise InputError(
                f"database schema {version} is newer than this byrote ({SCHEMA_VERSION})", self.path
            )
        if 0 < version < SCHEMA_VERSION:
            pid = self._worker_pid()
            if pid is not None:
                raise InputError(f"a worker of an older byrote (pid {pid or '?'}) runs on this database; stop it "
                                 f"before this byrote upgrades the database (schema {version} to {SCHEMA_VERSION})",
                                 self.path)
        for v in range(version + 1, SCHEMA_VERSION + 1):
            with self._write():
                if self.schema_version() >= v:  # another process migrated it meanwhile
                    continue
                MIGRATIONS[v](self.db)
                self.db.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)", [str(v)]
                )

    def _worker_pid(self) -> int | None:
        """The pid of a worker that holds this database's lock (``<files>/worker.lock``, see
        engine.jobs; 0 if it wrote none), else None."""
        import fcntl

        try:
            fh = open(self.path.with_name(self.path.stem + "-files") / "worker.lock", "rb")
        except OSError:
            return None
        with fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                text = fh.read().strip()
                return int(text) if text.isdigit() else 0
            fcntl.flock(fh, fcntl.LOCK_UN)
            return None

    def schema_version(self) -> int:
        if "meta" not in self.db.table_names():
            return 0
        row = self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self.db.conn.close()

    def holds_nothing(self) -> bool:
        """Whether no table of the store has a row (its schema's own records aside)."""
        tables = [t for t in self.db.table_names() if t != "meta" and not t.startswith(("sqlite_", "snippet_text"))]
        return not any(self.db.execute(f"SELECT EXISTS (SELECT 1 FROM [{t}])").fetchone()[0] for t in tables)

    def discard_if_new(self) -> bool:
        """Remove the database (and its files' folder) if this store made it and it still
        holds nothing: what a refused command leaves is what was there before."""
        if not self.created or not self.holds_nothing():
            return False
        self.close()
        _remove_database(self.path)
        if self._files_created:
            import shutil

            shutil.rmtree(self.files, ignore_errors=True)
        return True

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
        try:
            self.db.conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                if self.db.conn.in_transaction:
                    self.db.conn.execute("ROLLBACK")
                raise
            self.db.conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:  # read-only, full: one line, the transaction undone
            problem = database_problem(exc)
            if problem.startswith("not a byrote database"):
                raise
            if self.db.conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self.db.conn.execute("ROLLBACK")
            raise InputError(problem, self.path) from None

    def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[dict]:
        cur = self.db.execute(sql, list(params))
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    def _row(self, sql: str, params: Iterable[Any] = ()) -> dict | None:
        rows = self._rows(sql, params)
        return rows[0] if rows else None

    def _add(self, table: str, fields: dict, json_fields: dict[str, Any]) -> int:
        """Insert a record made now; ``json_fields`` (name -> default) are stored as JSON."""
        row = {**fields, **{name: json.dumps(fields.get(name) or default) for name, default in json_fields.items()}}
        row.setdefault("created", time.time())
        with self._write():
            return self.db[table].insert(row).last_pk

    def _get(self, table: str, record_id: int, what: str, json_fields: Iterable[str] = ()) -> dict:
        """One record by id, its JSON fields read back; InputError naming ``what`` if none."""
        row = self._row(f"SELECT * FROM {table} WHERE id = ?", [record_id])
        if row is None:
            raise InputError(f"no {what} with id {record_id}")
        for name in json_fields:
            row[name] = json.loads(row[name])
        return row

    def file_path(self, relative: str) -> Path:
        return self.files / relative

    def run_dir(self, run_id: int) -> Path:
        return self.files / "runs" / str(run_id)

    def study_dir(self, study_id: int) -> Path:
        return self.files / "studies" / str(study_id)

    def set_meta(self, key: str, value: str) -> None:
        with self._write():
            self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", [key, value])
