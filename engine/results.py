"""A noise study's results as a table: the last recorded epoch of each noise level, its
headline metrics held-out and train (the command line's ``results`` and the app's study
screen print the same rows)."""
from __future__ import annotations

from collections.abc import Sequence

from engine.store import Store


def summary(store: Store, study_id: int) -> list[dict]:
    """The last recorded epoch of each noise level: level, epoch, and its metrics per split
    (``<split>.<name>``). With several trials (``trials`` > 1) a figure is their mean
    (:func:`~engine.metrics.trial_mean`) at each trial's last epoch, and ``<split>.<name>.sd``
    their standard deviation; ``epoch`` is the smallest last epoch among them."""
    from engine.metrics import trial_mean, trial_sd

    levels: dict[float, list[dict]] = {}
    for run in store.runs(study_id):
        ms = store.metrics(run["id"])
        last = max((m["epoch"] for m in ms), default=0)
        levels.setdefault(run["level"], []).append(
            {"epoch": last, **{f"{m['split']}.{m['name']}": m["value"] for m in ms if m["epoch"] == last}})
    rows = []
    for level, trials in levels.items():
        row = {"level": level, "epoch": min(t["epoch"] for t in trials), "trials": len(trials)}
        for key in dict.fromkeys(k for t in trials for k in t if k != "epoch"):
            values = [t.get(key) for t in trials]
            row[key] = trial_mean(values)
            if len(trials) > 1:
                row[f"{key}.sd"] = trial_sd(values)
        rows.append(row)
    return rows


def fmt_value(value) -> str:
    """A figure as the result tables print it: floats to 4 decimals, missing or undefined
    (NaN) as '-'."""
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    if isinstance(value, MeanSd):
        return f"{float(value):.3f}±{value.sd:.3f}"
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
    if any(r.get("trials", 1) > 1 for r in runs):
        rows.append(("trials", [r["trials"] for r in runs]))
    for split, label in (("valid", "held-out"), ("train", "train")):
        for name in headline:
            key = f"{split}.{name}"
            values = [r.get(key) for r in runs]
            if any(v is not None for v in values):  # e.g. CSR exists on held-out data only
                sds = [r.get(f"{key}.sd") for r in runs]
                rows.append((f"{label} {name}", [v if sd is None or v is None else MeanSd(v, sd)
                                                 for v, sd in zip(values, sds)]))
    return rows


class MeanSd(float):
    """A figure over trials: the mean, printed with its standard deviation (``0.41±0.02``)."""

    def __new__(cls, mean: float, sd: float):
        value = super().__new__(cls, mean)
        value.sd = sd
        return value
