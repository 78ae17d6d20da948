"""Extraction studies in the store (engine.extraction): a study's corpus, base settings and
grid, and its points, each with its settings and, once made, its output set and scan."""
from __future__ import annotations

import json
from typing import Any


class ExtractionsMixin:
    """Extraction studies and their points, on :class:`~engine.store.Store`."""

    def add_extraction_study(self, points: list[tuple[str, dict]], **fields: Any) -> int:
        """A study and its points (``(label, settings)`` each, numbered from 1), in one transaction."""
        with self._write():
            study_id = self._add("extraction_studies", fields, {"corpus": None, "base": {}, "grid": {}})
            self.db.conn.executemany(
                "INSERT INTO extraction_points(study_id, point, label, settings) VALUES (?, ?, ?, ?)",
                [(study_id, i, label, json.dumps(settings)) for i, (label, settings) in enumerate(points, 1)])
        return study_id

    def extraction_study(self, study_id: int) -> dict:
        return self._get("extraction_studies", study_id, "extraction study", ("corpus", "base", "grid"))

    def extraction_studies(self) -> list[dict]:
        return [self.extraction_study(r["id"]) for r in self._rows("SELECT id FROM extraction_studies ORDER BY id")]

    def extraction_points(self, study_id: int) -> list[dict]:
        rows = self._rows("SELECT point, label, settings, set_id, scan_id FROM extraction_points WHERE study_id = ? "
                          "ORDER BY point", [study_id])
        for row in rows:
            row["settings"] = json.loads(row["settings"])
        return rows

    def extraction_point(self, study_id: int, point: int) -> dict:
        from engine.errors import InputError

        found = [p for p in self.extraction_points(study_id) if p["point"] == point]
        if not found:
            raise InputError(f"extraction study {study_id} has no point {point}")
        return found[0]

    def set_extraction_point(self, study_id: int, point: int, **fields: Any) -> None:
        """Record a point's output set (``set_id``) or scan (``scan_id``)."""
        with self._write():
            for name, value in fields.items():
                if name not in ("set_id", "scan_id"):
                    raise ValueError(name)
                self.db.execute(f"UPDATE extraction_points SET {name} = ? WHERE study_id = ? AND point = ?",
                                [value, study_id, point])

    def finished_scan_like(self, set_id: int, corpus: dict, n_outputs: int, min_lines: int, rules: str) -> dict | None:
        """The newest finished scan of a set with these settings (a point reuses it)."""
        row = self._row(
            "SELECT id FROM scans WHERE source = 'scan' AND set_id = ? AND corpus = ? AND n_outputs = ? "
            "AND min_lines = ? AND case_sensitive = 0 AND rules = ? AND state = 'done' ORDER BY id DESC LIMIT 1",
            [set_id, json.dumps(corpus), n_outputs, min_lines, rules])
        return None if row is None else self.scan(row["id"])

    def delete_extraction_study(self, study_id: int) -> None:
        """Remove a study with its points and jobs (its output sets and scans stay: others may use them)."""
        with self._write():
            self._delete_jobs("extraction", study_id)
            self.db.execute("DELETE FROM extraction_points WHERE study_id = ?", [study_id])
            self.db.execute("DELETE FROM extraction_studies WHERE id = ?", [study_id])
