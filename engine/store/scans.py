"""Scans in the store: a scan's settings and state, its finished corpus shards (what a
resumed scan skips), and its results: memorized snippets, where each stands in the
outputs, and the first training locations of each."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from engine.errors import InputError
from engine.store.browse import first_line


class ScansMixin:
    """Scans and their results, on :class:`~engine.store.Store`."""

    def add_scan(self, **fields: Any) -> int:
        return self._add("scans", {"state": "queued", "rules": "simian", **fields}, {"corpus": {}, "stats": {}})

    def scan(self, scan_id: int) -> dict:
        return self._get("scans", scan_id, "scan", ("corpus", "stats"))

    def scans(self) -> list[dict]:
        return [self.scan(r["id"]) for r in self._rows("SELECT id FROM scans ORDER BY id")]

    def update_scan(self, scan_id: int, **fields: Any) -> None:
        if "stats" in fields:
            fields["stats"] = json.dumps(fields["stats"])
        with self._write():
            self.db["scans"].update(scan_id, fields)

    def unfinished_scan(self, set_id: int, corpus: dict, n_outputs: int, min_lines: int,
                        case_sensitive: bool, rules: str) -> dict | None:
        """The latest scan with exactly these settings that has not finished (to resume it)."""
        row = self._row(
            "SELECT id FROM scans WHERE source = 'scan' AND set_id = ? AND corpus = ? AND n_outputs = ? "
            "AND min_lines = ? AND case_sensitive = ? AND rules = ? AND state != 'done' ORDER BY id DESC LIMIT 1",
            [set_id, json.dumps(corpus), n_outputs, min_lines, int(case_sensitive), rules],
        )
        return None if row is None else self.scan(row["id"])

    def delete_scan(self, scan_id: int) -> None:
        """Remove a scan with its shards, results and jobs (not its files)."""
        with self._write():
            self._clear_results(scan_id)
            self.db.execute("DELETE FROM scan_shards WHERE scan_id = ?", [scan_id])
            self._delete_jobs("scan", scan_id)
            self.db.execute("DELETE FROM scans WHERE id = ?", [scan_id])

    def finished_scan(self, scan_id: int) -> dict:
        """A scan whose results are complete; an unfinished one is refused (its tables are empty)."""
        scan = self.scan(scan_id)
        if scan["state"] != "done":
            raise InputError(f"scan {scan_id} is {scan['state']}, not done; see byrote jobs")
        return scan

    def scan_dir(self, scan_id: int) -> Path:
        return self.files / "scans" / str(scan_id)

    def finish_shard(self, scan_id: int, shard: int, path: str, bytes: int, docs: int, skipped: int,
                     seconds: float | None = None, cpu_seconds: float | None = None) -> None:
        """A shard's regions are in ``path``; its filter pass took ``seconds`` (``cpu_seconds``
        of the worker's CPU)."""
        with self._write():
            self.db.execute(
                "INSERT OR REPLACE INTO scan_shards(scan_id, shard, bytes, docs, skipped, path, finished, seconds, "
                "cpu_seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [scan_id, shard, bytes, docs, skipped, path, time.time(), seconds, cpu_seconds],
            )

    def finished_shards(self, scan_id: int) -> dict[int, dict]:
        return {r["shard"]: r for r in self._rows("SELECT * FROM scan_shards WHERE scan_id = ? ORDER BY shard", [scan_id])}

    def save_scan_results(
        self,
        scan_id: int,
        snippets: Iterable[tuple[str, int, int, int, str | None]],
        output_locations: Iterable[tuple[str, int, int, int]],
        matches: Iterable[tuple[str, int, str, int, int, int | None, str | None]],
        beside: Callable[[], None] | None = None,
        **scan_fields: Any,
    ) -> None:
        """Replace a scan's results in one transaction.

        ``snippets``: (fingerprint, len, train, extract, text); ``output_locations``:
        (fingerprint, output id, start line, end line); ``matches``: (fingerprint, rank,
        document id, start line, end line, first context line, context text).
        ``beside``: work of the caller's that ends before ``output_locations`` and
        ``matches`` are read (its error fails the transaction).

        The personal-data pass and ``beside`` run in threads while SQLite builds the text
        index, one statement that does not hold the GIL; never while rows are inserted,
        which take the GIL back for every row and would wait for it behind those threads.
        (An SQLite without FTS5's trigrams builds no index: the threads then run alone.)
        """
        from concurrent.futures import ThreadPoolExecutor

        from engine.pii import find_pii_many

        if "stats" in scan_fields:
            scan_fields["stats"] = json.dumps(scan_fields["stats"])
        snippets = list(snippets)
        with ThreadPoolExecutor(2) as pool, self._write():
            self._clear_results(scan_id)
            self.db.conn.executemany(
                "INSERT INTO snippets(scan_id, fingerprint, len, train, extract, text, first_line) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                ((scan_id, *row, first_line(row[4])) for row in snippets),
            )
            finds = pool.submit(find_pii_many, [row[4] or "" for row in snippets])
            side = pool.submit(beside) if beside is not None else None
            self._text_index(scan_id, add=True)
            found = finds.result()
            if side is not None:
                side.result()
            self.db.conn.executemany(
                "INSERT INTO snippet_outputs(scan_id, fingerprint, output_id, start_line, end_line) "
                "VALUES (?, ?, ?, ?, ?)",
                ((scan_id, *row) for row in output_locations),
            )
            self.db.conn.executemany(
                "INSERT INTO snippet_matches(scan_id, fingerprint, rank, doc, start_line, end_line, context_start, "
                "context) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                ((scan_id, *row) for row in matches),
            )
            self._pii_index(scan_id, zip((row[0] for row in snippets), found))
            if scan_fields:
                self.db["scans"].update(scan_id, scan_fields)

    def _clear_results(self, scan_id: int) -> None:
        """A scan's snippets, their places and their texts' index entries, removed (inside
        a write)."""
        self._text_index(scan_id, add=False)
        for table in ("snippets", "snippet_outputs", "snippet_matches", "snippet_pii"):
            self.db.execute(f"DELETE FROM {table} WHERE scan_id = ?", [scan_id])

    def _pii_index(self, scan_id: int, found_by_snippet: Iterable[tuple[str, list]] | None = None) -> int:
        """Look for personal data and secrets in every snippet of a scan (engine.pii),
        inside a write: the finds, and each snippet's kinds; how many snippets hold some.
        ``found_by_snippet``: (fingerprint, finds) of every snippet, where the caller has
        looked already; else the texts are read back and looked through here."""
        from engine.pii import KINDS, find_pii_many

        self.db.execute("DELETE FROM snippet_pii WHERE scan_id = ?", [scan_id])
        self.db.execute("UPDATE snippets SET pii = NULL WHERE scan_id = ? AND pii IS NOT NULL", [scan_id])
        if found_by_snippet is None:
            rows = self.db.execute("SELECT fingerprint, text FROM snippets WHERE scan_id = ?", [scan_id]).fetchall()
            found_by_snippet = zip((f for f, _ in rows), find_pii_many([text or "" for _, text in rows]))
        finds, kinds = [], []
        for fingerprint, found in found_by_snippet:
            if found:
                finds += [(scan_id, fingerprint, f.kind, f.value, f.start) for f in found]
                present = {f.kind for f in found}
                kinds.append((",".join(k for k in KINDS if k in present), scan_id, fingerprint))
        self.db.conn.executemany("INSERT INTO snippet_pii(scan_id, fingerprint, kind, value, start) "
                                 "VALUES (?, ?, ?, ?, ?)", finds)
        self.db.conn.executemany("UPDATE snippets SET pii = ? WHERE scan_id = ? AND fingerprint = ?", kinds)
        return len(kinds)

    def index_pii(self, scan_id: int) -> int:
        """:meth:`_pii_index` of a finished scan, in a transaction of its own (scans saved
        before schema 19 had none)."""
        self.finished_scan(scan_id)
        with self._write():
            return self._pii_index(scan_id)

    def pii_counts(self, scan_id: int) -> dict[str, tuple[int, int]]:
        """Kind -> (finds, snippets holding one)."""
        rows = self.db.execute("SELECT kind, COUNT(*), COUNT(DISTINCT fingerprint) FROM snippet_pii "
                               "WHERE scan_id = ? GROUP BY kind", [scan_id]).fetchall()
        return {kind: (n, snippets) for kind, n, snippets in rows}

    def pii_finds(self, scan_id: int, limit: int) -> list[dict]:
        """The scan's finds by kind, then snippet, then place."""
        return self._rows("SELECT fingerprint, kind, value, start FROM snippet_pii WHERE scan_id = ? "
                          "ORDER BY kind, fingerprint, start LIMIT ?", [scan_id, limit])

    def snippet_pii(self, scan_id: int, fingerprint: str) -> list[dict]:
        return self._rows("SELECT kind, value, start FROM snippet_pii WHERE scan_id = ? AND fingerprint = ? "
                          "ORDER BY start", [scan_id, fingerprint])

    def _text_index(self, scan_id: int, add: bool) -> None:
        """Add a scan's snippet texts to the trigram index, or take them out (before the
        rows go), in one statement in rowid order: the store is the index's only writer
        (schema migration 12 says why there is no trigger)."""
        if not self.has_text_index:
            return
        command = "" if add else "'delete', "
        target = "snippet_text(rowid, text)" if add else "snippet_text(snippet_text, rowid, text)"
        self.db.execute(f"INSERT INTO {target} SELECT {command}rowid, text FROM snippets WHERE scan_id = ? "
                        "ORDER BY rowid", [scan_id])

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
