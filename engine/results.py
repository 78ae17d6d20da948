"""A noise study's results as a table: the last recorded epoch of each noise level, its
headline metrics held-out and train (the command line's ``results`` and the app's study
screen print the same rows)."""
from __future__ import annotations

from collections.abc import Sequence

from engine.store import Store


def summary(store: Store, study_id: int) -> list[dict]:
    """The last recorded epoch of each run: level, epoch, and its metrics per split."""
    rows = []
    for run in store.runs(study_id):
        ms = store.metrics(run["id"])
        last = max((m["epoch"] for m in ms), default=0)
        row = {"run": run["id"], "level": run["level"], "epoch": last}
        for m in ms:
            if m["epoch"] == last:
                row[f"{m['split']}.{m['name']}"] = m["value"]
        rows.append(row)
    return rows


def fmt_value(value) -> str:
    """A figure as the result tables print it: floats to 4 decimals, missing as '-'."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def result_rows(runs: list[dict], headline: Sequence[str], unit: str = "epoch") -> list[tuple[str, list]]:
    """The last epoch of each level as table rows, as ``byrote results`` prints them: the
    epoch (``unit``: or the step), then each headline metric held-out and train (rows
    without any value left out).

    ``runs`` is :func:`summary` (one dict per run, by level); cells are raw values (None
    where missing).
    """
    rows: list[tuple[str, list]] = [(unit, [r["epoch"] for r in runs])]
    for split, label in (("valid", "held-out"), ("train", "train")):
        for name in headline:
            values = [r.get(f"{split}.{name}") for r in runs]
            if any(v is not None for v in values):  # e.g. CSR exists on held-out data only
                rows.append((f"{label} {name}", values))
    return rows
