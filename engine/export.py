"""Exports in the layout of the study's published results (mdrafiqulrabin/CI-Memorization).

``DIR/<metric>/<model>_<dataset>_<split>.csv`` with the header
``epoch,0_percent,25_percent,...``: one row per epoch, one column per noise level.

``DIR/prediction_score/<model>_<dataset>_<head>_<split>.csv`` with the header
``sample,0_percent,...``: each sample's predicted score averaged over all epochs, sorted
ascending, one row per rank (the paper's Figures 4 and 5, "average probability score
considering all epochs", §5.2).
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from engine.errors import InputError
from engine.fsutil import atomic_open
from engine.store import Store


def _column(level: float) -> str:
    from engine.study import level_name

    return f"{level_name(level)}_percent"


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with atomic_open(path, "w", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def export_curves(store: Store, study_id: int, out_dir: str | Path) -> list[Path]:
    """Write every metric curve and score distribution of a study; return the files."""
    from engine.tasks import get_task

    study = store.study(study_id)
    runs = store.runs(study_id)
    if not any(r["epochs_done"] for r in runs):
        raise InputError(f"study {study_id} has no finished epoch yet")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError("not a directory", out)
    stem = f"{study['model']}_{Path(study['train_path']).stem}"
    levels = [r["level"] for r in runs]
    header_levels = [_column(level) for level in levels]
    written: list[Path] = []

    for split, name in store.metric_names(study_id):
        table = store.metric_table(study_id, split, name)
        epochs = sorted({e for per in table.values() for e in per})
        rows = [[e] + [table.get(level, {}).get(e, "") for level in levels] for e in epochs]
        path = out / name / f"{stem}_{split}.csv"
        _write_csv(path, ["epoch"] + header_levels, rows)
        written.append(path)

    for key, head in get_task(study["task"]).score_columns.items():
        for split in ("train", "valid"):
            columns = [_mean_score(store, run, split, key) for run in runs]
            if any(c is None for c in columns):
                continue
            n = min(len(c) for c in columns)
            rows = [[i + 1] + [float(c[i]) for c in columns] for i in range(n)]
            path = out / "prediction_score" / f"{stem}_{head}_{split}.csv"
            _write_csv(path, ["sample"] + header_levels, rows)
            written.append(path)
    return written


def _mean_score(store: Store, run: dict, split: str, key: str) -> np.ndarray | None:
    """One run's per-sample ``key`` averaged over its finished epochs, sorted ascending."""
    from engine.metrics import sorted_scores

    total = None
    for epoch in range(1, int(run["epochs_done"]) + 1):
        path = store.array_path(run["id"], epoch, split)
        if path is None or not path.exists():
            return None
        with np.load(path) as arrays:
            values = arrays[key].astype(np.float64)
        total = values if total is None else total + values
    if total is None:
        return None
    return sorted_scores(total / int(run["epochs_done"]))
