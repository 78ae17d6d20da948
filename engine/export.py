"""Exports from the store in the formats the studies published: the noise studies'
curves and score distributions (:func:`export_curves`, in the layout of Rabin et al.'s
results, mdrafiqulrabin/CI-Memorization) and the memorization extraction's
``memorization.json`` and snippet text (:func:`export_memorization`,
:func:`export_snippets`; Yang et al.'s Privacy-in-Code-Models, through
:mod:`engine.formats.memorization_json` and :mod:`engine.formats.snippet_text`).
"""
from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np

from engine.errors import InputError
from engine.fsutil import atomic_paths
from engine.metrics import is_count, sorted_scores
from engine.noise.input import LABEL, STUDY_NAMES
from engine.presets import axis_unit, departures, preset_kind
from engine.store import Store


def _column(level: float) -> str:
    from engine.noise import level_name

    return f"{level_name(level)}_percent"


TASK_FOLDERS = {"varmisuse": "variable_misuse", "methodname": "method_name", "codesearch": "code_search",
                "codetotext": "code_text"}
"""Each task's folder in the study's published results (``data/summary/data/<folder>/``)."""


def published_folder(study: dict) -> Path:
    """``<task>/<noise kind>`` of a study as the published results name them, e.g.
    ``variable_misuse/X_Injecting_Repair``."""
    return Path(TASK_FOLDERS[study["task"]]) / STUDY_NAMES[study["config"].get("noise_kind", LABEL)]


def export_curves(store: Store, study_id: int, out_dir: str | Path, layout: str = "flat") -> list[Path]:
    """Write every metric curve and score distribution of a study; return the files.
    With ``layout="published"`` they go under ``DIR/<task>/<noise kind>/``
    (:func:`published_folder`), as in ``data/summary/data/``; else straight into ``DIR``.

    The layout of ``data/summary/data/<task>/<noise type>/`` in
    mdrafiqulrabin/CI-Memorization:

    - ``DIR/<metric>/<Model>_<dataset>[_<Head>]_<split>.csv`` with the header
      ``epoch,0_percent,25_percent,...`` (``step,...`` for a study evaluated every
      ``eval_every`` samples): one row per epoch, one column per noise level (with
      several trials, their mean, then ``<level>_percent_trial<t>`` for each trial),
      e.g. ``accuracy/GGNN_stdlib_Localization_held.csv``.
    - ``DIR/prediction_score/<Model>_<dataset>[_<Head>]_<split>.csv`` with the header
      ``sample,0_percent,...``: each sample's predicted score averaged over all epochs,
      sorted ascending, one row per rank (the paper's Figures 4 and 5, "average
      probability score considering all epochs", §5.2).

    Splits are named as upstream (``train``, and ``held`` or ``test`` for held-out data),
    and lines end in CRLF as upstream. ``DIR/study.json`` says what the files are of: the
    study, its settings and the definitions it used (``"the study's"``, or its departures
    from them, :func:`engine.presets.departures`). All files of one export appear together
    or not at all.
    """
    from engine.tasks import get_task

    study = store.study(study_id)
    spec = get_task(study["task"])
    runs = store.runs(study_id)
    if not any(r["epochs_done"] for r in runs):
        raise InputError(f"study {study_id} has no finished epoch yet")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError("not a directory", out)
    if layout not in ("flat", "published"):
        raise InputError(f"unknown layout {layout!r} (choose from flat, published)")
    if layout == "published":
        out = out / published_folder(study)
    stem, split_name = _naming(study, spec)
    levels = sorted({r["level"] for r in runs})
    header_levels = [_column(level) for level in levels]
    tables: dict[Path, list[list]] = {}

    n_trials = max((int(r.get("trial") or 0) + 1 for r in runs), default=1)
    # with several trials: the mean, then each trial's values (<level>_percent_trial<t>)
    header_trials = [f"{_column(level)}_trial{t}" for level in levels for t in range(n_trials)] if n_trials > 1 else []
    for (folder, file), (table, name, split) in curve_tables(store, study_id).items():
        epochs = sorted({e for per in table.values() for e in per})
        per_trial = store.metric_trials(study_id, split, name) if header_trials else {}

        count = is_count(name)

        def trial_cells(e: int) -> list:
            cells = []
            for level in levels:
                values = per_trial.get(level, {}).get(e, {})
                cells += [_cell(values.get(t), count) for t in range(n_trials)]
            return cells

        rows = [[e] + [_cell(table.get(level, {}).get(e), count) for level in levels]
                + (trial_cells(e) if header_trials else []) for e in epochs]
        tables[out / folder / file] = [[axis_unit(study["config"] or {})] + header_levels + header_trials] + rows

    for key, head in spec.score_columns.items():
        for split in ("train", "valid"):
            # one distribution per level: its first trial's
            columns = [_mean_score(store, run, split, key, study["task"]) for run in runs if not run.get("trial")]
            if any(c is None for c in columns):
                continue
            # runs may score different numbers of samples (buggy ones under noisy labels):
            # the shorter columns end in empty cells
            n = max(len(c) for c in columns)
            rows = [[i + 1] + [float(c[i]) if i < len(c) else "" for c in columns] for i in range(n)]
            file = _file_name(stem, head, split_name[split])
            tables[out / "prediction_score" / file] = \
                [["sample"] + header_levels] + rows

    about = {"study": study["id"], "name": study["name"], "task": study["task"], "model": study["model"],
             "preset": study["preset"], "levels": levels, "seed": study["seed"], "settings": study["config"],
             "definitions": departures(preset_kind(study["task"], study["model"]), study["config"]) or "the study's",
             "noise": STUDY_NAMES[study["config"].get("noise_kind", LABEL)]}
    paths = list(tables) + [out / "study.json"]
    for path in paths:
        inside(out, path)
    with atomic_paths(*paths) as temps:
        for tmp, path in zip(temps, paths):
            with open(tmp, "w", encoding="utf-8", newline="") as fh:
                if path.name == "study.json":
                    json.dump(about, fh, indent=1)
                    fh.write("\n")
                else:
                    csv.writer(fh, lineterminator="\r\n").writerows(tables[path])
    return paths


_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")


def inside(out: Path, path: Path) -> Path:
    """``path`` if it is a file in ``out`` whose every part below it is a plain name: no
    separator, no control character, not ``.`` or ``..``. The names come from the
    database (metric names, the dataset's file name), which a crafted database controls;
    anything else is one :class:`InputError` line."""
    try:
        parts = path.relative_to(out).parts
    except ValueError:
        parts = ()
    if not parts or any(p in (".", "..") or _UNSAFE.search(p) for p in parts):
        shown = str(path).encode("unicode_escape").decode("ascii")
        raise InputError(f"refusing to export {shown!r}: a name from the database is not a plain file name", out)
    return path


def _cell(value, count: bool = False) -> object:
    """A CSV cell: empty for no value, a count that is whole as an integer (``120``, not
    ``120.0``)."""
    if value is None:
        return ""
    return int(value) if count and float(value).is_integer() else value


def published_model(spec, model: str) -> str:
    """A model as the published file names spell it (``GGNN`` for ``ggnn``)."""
    return spec.display_names.get(model, model)


def _naming(study: dict, spec) -> tuple[str, dict[str, str]]:
    """``<Model>_<dataset>`` and the splits' names in the published files."""
    model = published_model(spec, study["model"])
    return f"{model}_{Path(study['train_path']).stem}", {"train": "train", "valid": spec.heldout_name}


def _file_name(stem: str, head: str | None, split: str) -> str:
    """``<Model>_<dataset>[_<Head>]_<split>.csv``."""
    return f"{stem}_{head}_{split}.csv" if head else f"{stem}_{split}.csv"


def curve_names(store: Store, study_id: int) -> dict[tuple[str, str], tuple[str, str]]:
    """Every metric curve of a study under its published name: ``(folder, file name)`` ->
    (the metric, the split), e.g. ``("gini_loss", "GGNN_stdlib_Localization_train.csv")``."""
    from engine.tasks import get_task

    study = store.study(study_id)
    spec = get_task(study["task"])
    stem, split_name = _naming(study, spec)
    found = {}
    for split, name in store.metric_names(study_id):
        folder, head = spec.export_names.get(name, (name, None))
        found[(folder, _file_name(stem, head, split_name[split]))] = (name, split)
    return found


def curve_tables(store: Store, study_id: int) -> dict[tuple[str, str], tuple[dict, str, str]]:
    """:func:`curve_names` with each curve's ``{level: {epoch: value}}`` (the mean over
    trials): ``(folder, file name)`` -> (table, the metric, the split)."""
    return {key: (store.metric_table(study_id, split, name), name, split)
            for key, (name, split) in curve_names(store, study_id).items()}


def _mean_score(store: Store, run: dict, split: str, key: str, task: str) -> np.ndarray | None:
    """One run's per-sample ``key`` averaged over the epochs (or steps) that scored each
    sample, over the samples its distribution holds (:func:`engine.tasks.score_mask`),
    sorted ascending."""
    from engine.tasks import score_mask

    ids, values = [], []
    for epoch in range(1, int(run["epochs_done"]) + 1):
        path = store.array_path(run["id"], epoch, split)
        if path is None or not path.exists():
            return None
        with np.load(path) as arrays:
            value = arrays[key].astype(np.float64)
            sample = arrays["sample"] if "sample" in arrays else np.arange(len(value))
            mask = score_mask(task, arrays, key)
        if mask is not None:
            value, sample = value[mask], sample[mask]
        ids.append(sample)
        values.append(value)
    if not ids:
        return None
    _, where = np.unique(np.concatenate(ids), return_inverse=True)
    where = where.ravel()
    means = np.bincount(where, np.concatenate(values)) / np.bincount(where)
    return sorted_scores(means)


# -- memorization extraction ------------------------------------------------------------------
def export_memorization(store: Store, scan_id: int, out: str | Path) -> int:
    """The study's ``memorization.json`` of a finished scan; how many snippets it holds."""
    from engine.formats.memorization_json import write_memorization_json

    store.finished_scan(scan_id)
    rows = list(store.iter_snippets(scan_id, order="train"))
    write_memorization_json(((s["fingerprint"], s["train"], s["extract"], s["len"]) for s in rows), out)
    return len(rows)


def export_snippets(store: Store, scan_id: int, out: str | Path) -> int:
    """The study's snippet text of a finished scan: each snippet as it stands in every
    output that holds it (its stored text where no output is known); how many snippets."""
    from engine.formats.snippet_text import write_snippets

    scan = store.finished_scan(scan_id)
    items = []
    for s in store.iter_snippets(scan_id, order="train"):
        texts = []
        for loc in store.snippet_outputs(scan_id, s["fingerprint"]):
            if scan["set_id"] is None or loc["output_id"] is None:
                continue
            lines = store.output(scan["set_id"], loc["output_id"])["text"].split("\n")
            texts.append("\n".join(lines[loc["start_line"] - 1:loc["end_line"]]))
        texts = texts or ([s["text"]] if s["text"] else [])
        if not texts:  # a Simian import without the outputs: the logs hold places, not text
            raise InputError(f"scan {scan_id} holds no text of its snippets (snippet {s['fingerprint']}): it was "
                             f"imported from Simian logs without the outputs; import them with the logs "
                             f"(byrote import simian LOG... --map MAP_JSON --outputs ID) to export their text")
        items.append((s["fingerprint"], texts))
    write_snippets(items, out)
    return len(items)


LABELLING_SAMPLE = 384  # log/sample.py's sample of snippets to label by hand


def export_sample(store: Store, scan_id: int, out: str | Path, n: int = LABELLING_SAMPLE, seed: int = 0) -> int:
    """A seeded random sample of a scan's snippets in a CSV for labelling by hand (the
    purpose of the study's ``log/sample.py``, which draws 384 unseeded): its columns
    ``MD5`` (the fingerprint) and ``Code`` (the snippet's text), then byrote's ``len``,
    ``train``, ``extract``, ``pii`` (the kinds of personal data found) and an empty
    ``label``. The sample is the same for the same scan and seed; how many rows."""
    import random

    from engine.fsutil import atomic_open

    store.finished_scan(scan_id)
    snippets = list(store.iter_snippets(scan_id, order="fingerprint"))
    chosen = random.Random(seed).sample(snippets, min(n, len(snippets)))
    kinds = dict(store.db.execute("SELECT fingerprint, pii FROM snippets WHERE scan_id = ? AND pii IS NOT NULL",
                                  [scan_id]).fetchall())
    with atomic_open(out) as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["MD5", "Code", "len", "train", "extract", "pii", "label"])
        for s in chosen:
            writer.writerow([s["fingerprint"], s["text"] or "", s["len"], s["train"], s["extract"],
                             kinds.get(s["fingerprint"], ""), ""])
    return len(chosen)
