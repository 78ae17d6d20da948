"""k-extractability runs in the store (:mod:`engine.extractable`): a run's model, corpus
and window settings, and its windows, each with its token ids and, once scored, the
length of its longest correct greedy prefix."""
from __future__ import annotations

import json
from typing import Any, Iterable

WINDOW_COLUMNS = "id, doc, offset, prefix_text, suffix_text, correct, matches, miss_token, correct_text, miss_text"


class ExtractablesMixin:
    """k-extractability runs and their windows, on :class:`~engine.store.Store`."""

    def add_extractable_run(self, **fields: Any) -> int:
        return self._add("extractable_runs", fields, {"corpus": None, "config": {}})

    def extractable_run(self, run_id: int) -> dict:
        return self._get("extractable_runs", run_id, "k-extractability run", ("corpus", "config"))

    def extractable_runs(self) -> list[dict]:
        return [self.extractable_run(r["id"]) for r in self._rows("SELECT id FROM extractable_runs ORDER BY id")]

    def add_windows(self, run_id: int, rows: Iterable[tuple]) -> None:
        """``(id, doc, offset, ids, prefix_text, suffix_text)`` rows, all in one transaction."""
        with self._write():
            self.db.conn.executemany(
                "INSERT INTO extractable_windows(run_id, id, doc, offset, ids, prefix_text, suffix_text) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(run_id, i, doc, offset, json.dumps(ids), p, s) for i, doc, offset, ids, p, s in rows])

    def window_count(self, run_id: int) -> int:
        return self.db.execute("SELECT COUNT(*) FROM extractable_windows WHERE run_id = ?", [run_id]).fetchone()[0]

    def unscored_windows(self, run_id: int) -> list[dict]:
        """The windows not scored yet, with their token ids, in id order."""
        rows = self._rows("SELECT id, ids FROM extractable_windows WHERE run_id = ? AND correct IS NULL ORDER BY id",
                          [run_id])
        for row in rows:
            row["ids"] = json.loads(row["ids"])
        return rows

    def score_windows(self, run_id: int, rows: Iterable[tuple]) -> None:
        """``(window id, correct, matches, miss token, correct text, miss text)`` rows of
        one batch, in one transaction."""
        with self._write():
            self.db.conn.executemany(
                "UPDATE extractable_windows SET correct = ?, matches = ?, miss_token = ?, correct_text = ?, "
                "miss_text = ? WHERE run_id = ? AND id = ?",
                [(*row[1:], run_id, row[0]) for row in rows])

    def windows(self, run_id: int, extractable_first: bool = True, limit: int | None = None) -> list[dict]:
        """The run's windows without their ids: the longest correct prefixes first, or in id order."""
        order = "correct IS NULL, correct DESC, id" if extractable_first else "id"
        return self._rows(f"SELECT {WINDOW_COLUMNS} FROM extractable_windows WHERE run_id = ? ORDER BY {order}"
                          + (" LIMIT ?" if limit is not None else ""), [run_id, *([limit] if limit is not None else [])])

    def window_ids(self, run_id: int, window_id: int) -> list[int]:
        row = self._row("SELECT ids FROM extractable_windows WHERE run_id = ? AND id = ?", [run_id, window_id])
        return [] if row is None else json.loads(row["ids"])

    def extractable_summary(self, run_id: int) -> dict:
        """``windows``, ``scored``, ``extractable`` (correct = suffix), ``rate`` (of those
        scored), ``mean_matches`` (teacher-forced suffix tokens right, a share) and
        ``correct_counts`` ({length of the longest correct prefix: windows})."""
        run = self.extractable_run(run_id)
        suffix = int(run["suffix"])
        rows = self._rows("SELECT correct, COUNT(*) AS n, SUM(matches) AS m FROM extractable_windows "
                          "WHERE run_id = ? GROUP BY correct", [run_id])
        counts = {r["correct"]: r["n"] for r in rows if r["correct"] is not None}
        scored = sum(counts.values())
        matches = sum(r["m"] or 0 for r in rows)
        extractable = counts.get(suffix, 0)
        return {"windows": sum(r["n"] for r in rows), "scored": scored, "extractable": extractable,
                "rate": extractable / scored if scored else 0.0,
                "mean_matches": matches / (scored * suffix) if scored else 0.0,
                "correct_counts": {length: counts.get(length, 0) for length in range(suffix + 1)}}

    def delete_extractable_run(self, run_id: int) -> None:
        """Remove a run with its windows and jobs."""
        with self._write():
            self._delete_jobs("extractable", run_id)
            self.db.execute("DELETE FROM extractable_windows WHERE run_id = ?", [run_id])
            self.db.execute("DELETE FROM extractable_runs WHERE id = ?", [run_id])
