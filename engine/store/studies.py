"""Noise studies in the store: studies, their runs (one per noise level), per-epoch
metrics, and the index of per-sample arrays kept as files beside the database."""
from __future__ import annotations

from pathlib import Path
from typing import Any



class StudiesMixin:
    """Studies, runs and their metrics, on :class:`~engine.store.Store`."""

    def add_study(self, **fields: Any) -> int:
        return self._add("studies", fields, {"levels": [], "config": {}})

    def study(self, study_id: int) -> dict:
        return self._get("studies", study_id, "study", ("levels", "config"))

    def studies(self) -> list[dict]:
        return [self.study(r["id"]) for r in self._rows("SELECT id FROM studies ORDER BY id")]

    def delete_study(self, study_id: int) -> None:
        """Remove a study with its runs, metrics, array index and jobs (not its files)."""
        with self._write():
            run_ids = [r[0] for r in self.db.execute("SELECT id FROM runs WHERE study_id = ?", [study_id]).fetchall()]
            for run_id in run_ids:
                self.db.execute("DELETE FROM metrics WHERE run_id = ?", [run_id])
                self.db.execute("DELETE FROM arrays WHERE run_id = ?", [run_id])
            self._delete_jobs("study", study_id)
            self.db.execute("DELETE FROM runs WHERE study_id = ?", [study_id])
            self.db.execute("DELETE FROM studies WHERE id = ?", [study_id])

    def add_run(self, **fields: Any) -> int:
        return self._add("runs", fields, {})

    def run(self, run_id: int) -> dict:
        return self._get("runs", run_id, "run")

    def runs(self, study_id: int) -> list[dict]:
        return self._rows("SELECT * FROM runs WHERE study_id = ? ORDER BY level, trial, id", [study_id])

    def run_devices(self) -> dict[int, list[str]]:
        """Each study's devices its runs trained on (``cuda:0``, ``cpu``: what ``auto``
        became), in one read for the dashboard."""
        found: dict[int, list[str]] = {}
        for study_id, device in self.db.execute(
                "SELECT DISTINCT study_id, device FROM runs WHERE device IS NOT NULL ORDER BY study_id, device"):
            found.setdefault(study_id, []).append(device)
        return found

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

    def metric_trials(self, study_id: int, split: str, name: str) -> dict[float, dict[int, dict[int, float | None]]]:
        """``{level: {epoch: {trial: value}}}`` for one metric of one split (a trial that
        has not reached the epoch is not there)."""
        rows = self._rows(
            "SELECT r.level AS level, r.trial AS trial, m.epoch AS epoch, m.value AS value FROM metrics m "
            "JOIN runs r ON r.id = m.run_id WHERE r.study_id = ? AND m.split = ? AND m.name = ? "
            "ORDER BY r.level, m.epoch, r.trial",
            [study_id, split, name],
        )
        table: dict[float, dict[int, dict[int, float | None]]] = {}
        for r in rows:
            table.setdefault(r["level"], {}).setdefault(r["epoch"], {})[r["trial"]] = r["value"]
        return table

    def metric_table(self, study_id: int, split: str, name: str) -> dict[float, dict[int, float]]:
        """``{level: {epoch: value}}`` for one metric of one split across a study's runs:
        with several trials, their mean (:func:`engine.metrics.trial_mean`)."""
        from engine.metrics import trial_mean

        return {level: {epoch: trial_mean(values.values()) for epoch, values in per.items()}
                for level, per in self.metric_trials(study_id, split, name).items()}

    def metric_names(self, study_id: int) -> list[tuple[str, str]]:
        rows = self.db.execute(
            "SELECT DISTINCT m.split, m.name FROM metrics m JOIN runs r ON r.id = m.run_id "
            "WHERE r.study_id = ? ORDER BY m.split, m.name",
            [study_id],
        ).fetchall()
        return [(s, n) for s, n in rows]

    def heldout_path(self, study_id: int, original: str | Path) -> Path:
        """Where a study keeps its copy of the held-out set (a resumed run never reads a
        file that changed since the study began)."""
        return self.study_dir(study_id) / f"valid{''.join(Path(original).suffixes)[-60:]}"

    def array_path(self, run_id: int, epoch: int, split: str) -> Path | None:
        row = self._row(
            "SELECT path FROM arrays WHERE run_id = ? AND epoch = ? AND split = ?", [run_id, epoch, split]
        )
        return None if row is None else self.file_path(row["path"])
