"""Extraction studies: one sampling and one scan per point of a grid of sampling settings
(Yang et al. compare top-k, model size, output length and the number of outputs, §4 and
the study's ``scripts_generator.py``), as jobs of the runner.

A study has a corpus, base sampling settings and a grid: ``{"top_k": [5, 40], "model":
[...]}`` (keys from :data:`GRID_KEYS`); its points are the grid's product, in the order the
keys and values were given. Job kind ``extraction_point`` (:func:`point_job`) samples the
point's output set (the one with its settings, grown to ``n``: sampling is resumable) and
scans it against the corpus (a finished scan of the set with the same settings is reused;
an unfinished one resumed). ``n`` in the grid does not make sets of its own: the points
that differ only in ``n`` share the set sampled to the largest and its scan, and a point
of ``n`` outputs reads the scan's counts over outputs 1..n (engine.analysis.memorized_by,
whose docstring says where that differs from a scan of outputs 1..n alone).
"""
from __future__ import annotations

import itertools
import math
from pathlib import Path

from engine.errors import InputError

GRID_KEYS = {"model": str, "top_k": int, "n": int, "seq_len": int, "temperature": float, "seed": int}


def parse_grid(specs: list[str]) -> dict[str, list]:
    """``["top_k=5,40", "n=1000,5000"]`` as ``{"top_k": [5, 40], "n": [1000, 5000]}``,
    checked: known keys, each once, values of the key's type, positive."""
    grid: dict[str, list] = {}
    for spec in specs:
        key, sep, values = spec.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not values.strip():
            raise InputError(f"--grid {spec!r}: give KEY=V1,V2 (keys: {', '.join(GRID_KEYS)})", field="grid")
        if key not in GRID_KEYS:
            raise InputError(f"--grid {key!r} is not a sampling setting (known: {', '.join(GRID_KEYS)})",
                             field="grid")
        if key in grid:
            raise InputError(f"--grid {key} given twice", field="grid")
        kind = GRID_KEYS[key]
        parsed = []
        for text in (v.strip() for v in values.split(",")):
            try:
                value = kind(text)
            except ValueError:
                raise InputError(f"--grid {key}: {text!r} is not {'a whole number' if kind is int else 'a number'}",
                                 field="grid") from None
            if kind is not str and (not math.isfinite(value) or value <= 0) and not (key == "seed" and value == 0):
                raise InputError(f"--grid {key}: {text} must be positive", field="grid")
            if value in parsed:
                raise InputError(f"--grid {key}: {text} given twice", field="grid")
            parsed.append(value)
        grid[key] = parsed
    return grid


def grid_points(base: dict, grid: dict[str, list]) -> list[dict]:
    """Every point: the base settings with one value of each grid key, in the grid's order."""
    keys = list(grid)
    return [{**base, **dict(zip(keys, values))} for values in itertools.product(*(grid[k] for k in keys))]


def sampling_identity(point: dict) -> dict:
    """What names the output set of a point (engine.launch.enqueue_sampling): all but ``n``."""
    return {k: point[k] for k in ("model", "seq_len", "top_k", "temperature", "batch_size", "seed", "clean_up")} | {
        "prompt": None, "schedule": None}


def point_label(point: dict, grid: dict) -> str:
    """``top_k=5, n=1000``: the point's grid values."""
    return ", ".join(f"{k}={Path(point[k]).name if k == 'model' else point[k]:}" for k in grid)


def point_job(ctx) -> None:
    """Job kind ``extraction_point``: params ``study_id``, ``point``, ``device``. Samples the
    point's set up to the largest ``n`` of the points sharing it, then scans it (reusing a
    finished scan of the same settings)."""
    from engine.clones.scan import scan_job
    from engine.launch import check_scan
    from engine.sample import sample_job

    store = ctx.store
    study = store.extraction_study(int(ctx.params["study_id"]))
    point = store.extraction_point(study["id"], int(ctx.params["point"]))
    settings = point["settings"]
    identity = sampling_identity(settings)
    wanted = max(p["settings"]["n"] for p in store.extraction_points(study["id"])
                 if sampling_identity(p["settings"]) == identity)
    if identity["batch_size"] > wanted:  # as engine.launch.enqueue_sampling: a batch is sampled whole
        identity["batch_size"] = wanted
    found = store.find_output_set(**identity)
    if found is None:
        set_id = store.add_output_set(name=f"{study['name']} · {point['label']}", source="sample", n=wanted,
                                      config={"trust_remote_code": False}, **identity)
    else:
        set_id = found["id"]
        if found["n"] < wanted:
            store.update_output_set(set_id, n=wanted)
    store.set_extraction_point(study["id"], point["point"], set_id=set_id)
    sample_ctx = _Within(ctx, {"set_id": set_id, "device": ctx.params.get("device") or "auto"}, "sampling · ", 0.0)
    sample_job(sample_ctx)
    plan = check_scan(store, set_id, int(study["base"]["min_lines"]), study["base"]["rules"])
    n_outputs = store.max_output_id(set_id)
    scan = store.finished_scan_like(set_id, study["corpus"], n_outputs, plan.min_lines, plan.rules)
    if scan is None:
        unfinished = store.unfinished_scan(set_id, study["corpus"], n_outputs, plan.min_lines, False, plan.rules)
        scan_id = unfinished["id"] if unfinished else store.add_scan(
            set_id=set_id, source="scan", corpus=study["corpus"], corpus_label=study["corpus_label"],
            n_outputs=n_outputs, min_lines=plan.min_lines, case_sensitive=0, rules=plan.rules,
            workers=int(study["base"].get("workers") or 1), name=f"{study['name']} · {point['label']}")
        store.set_extraction_point(study["id"], point["point"], scan_id=scan_id)
        scan_job(_Within(ctx, {"scan_id": scan_id}, "scan · ", 0.5))
    else:
        store.set_extraction_point(study["id"], point["point"], scan_id=scan["id"])
        ctx.progress(1.0, f"reusing scan {scan['id']} of set {set_id}", force=True)


class _Within:
    """A job context for one stage of a point's job: its own params, the job's progress
    (the stage's half of it, from ``start``; messages prefixed with the stage),
    cancellation and store."""

    def __init__(self, ctx, params: dict, prefix: str, start: float):
        self._ctx, self.params, self._prefix, self._start = ctx, params, prefix, start

    def __getattr__(self, name):
        return getattr(self._ctx, name)

    def progress(self, fraction: float, message: str | None = None, force: bool = False) -> None:
        self._ctx.progress(self._start + 0.5 * fraction, None if message is None else self._prefix + message, force)


def point_rows(store, study_id: int) -> list[dict]:
    """Each point with its figures once its scan is done: ``outputs`` (its n, or what the
    set holds if fewer), ``snippets`` and ``memorized_outputs`` over outputs 1..n, and the
    memorized share of its outputs; and its trend (engine.analysis.trend) for the plot."""
    from engine.analysis import memorized_by, output_order, trend

    rows = []
    for p in store.extraction_points(study_id):
        row = {"point": p["point"], "label": p["label"], "settings": p["settings"], "set_id": p["set_id"],
               "scan_id": p["scan_id"], "state": "waiting", "outputs": None, "snippets": None,
               "memorized_outputs": None, "share": None, "trend": []}
        scan = store.scan(p["scan_id"]) if p["scan_id"] is not None else None
        if scan is not None and scan["state"] == "done":
            n = min(int(p["settings"]["n"]), int(scan["n_outputs"]))
            order = output_order(store, scan)  # read once for both
            points = trend(store, scan["id"], order=order)
            (at,) = memorized_by(store, scan["id"], [n], order)
            row.update(state="done", outputs=n, snippets=at["snippets"], memorized_outputs=at["memorized_outputs"],
                       share=at["memorized_outputs"] / n if n else math.nan,
                       trend=[t for t in points if t["outputs"] < n] + [at])
        elif scan is not None:
            row["state"] = scan["state"] or "queued"
        rows.append(row)
    return rows
