"""A study beside published curves (``byrote compare``): how a user checks a reproduction.

The published results of Rabin et al. (mdrafiqulrabin/CI-Memorization,
``data/summary/data/<task>/<noise type>/``) are one CSV per metric, head and split,
``<metric>/<Model>_<dataset>[_<Head>]_<split>.csv``, with the header
``epoch,0_percent,25_percent,...``. :func:`export_curves <engine.export.export_curves>`
writes a study's curves under the same names, so a curve of the study and a published one
are the same quantity when their metric folder, model, head and split agree (the dataset
part names what each was trained on, and may differ).
"""
from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

from engine.errors import InputError
from engine.export import curve_names, curve_tables, published_model
from engine.formats import bounded_int, read_utf8, show
from engine.fsutil import require_dir
from engine.noise import level_name
from engine.store import Store


@dataclass
class Comparison:
    """One metric at one noise level: the last epoch of each curve, and the difference
    (study - published)."""
    curve: str              # folder/Model_Head_split, the dataset part left out
    level: float
    published_epoch: int
    published: float
    epoch: int | None
    value: float | None

    @property
    def difference(self) -> float | None:
        return None if self.value is None else self.value - self.published


def curve_heads(spec) -> set[str]:
    """The heads a task's published file names may hold (``Localization``, ``Repair``...)."""
    return {head for _, head in spec.export_names.values() if head} | set(spec.score_columns.values())


def check_levels(path: Path, table: dict, levels) -> None:
    """Refuse a published curve without a column for one of the study's levels."""
    for name in (level_name(float(level)) for level in levels):
        if name not in table:
            raise InputError(f"no column {name}_percent (the study has level {name} %)", path)


def curve_key(folder: str, file: str, heads: set[str]) -> tuple[str, str, str, str] | None:
    """``(folder, Model, Head, split)`` of a published file name (Head "" for none), or None
    when the name has not the published shape."""
    if not file.endswith(".csv"):
        return None
    parts = file[:-len(".csv")].split("_")
    if len(parts) < 3:
        return None
    middle = parts[1:-1]
    head = middle[-1] if len(middle) > 1 and middle[-1] in heads else ""
    return folder, parts[0], head, parts[-1]


def curve_dataset(file: str, key: tuple[str, str, str, str]) -> str:
    """The dataset part of a published file name of key :func:`curve_key` (``java-small``
    of ``code2vec_java-small_train.csv``, ``Py150`` of ``GGNN_Py150_Localization_train.csv``)."""
    middle = file[:-len(".csv")].split("_")[1:-1]
    return "_".join(middle[:-1] if key[2] else middle)


def published_files(folder: Path, heads: set[str]) -> list[tuple[tuple, str, Path]]:
    """(key, dataset, path) of every file under ``folder/<metric>/`` with a published
    curve's name (:func:`curve_key`), by name only: nothing is read."""
    folder = require_dir(folder)
    found = []
    for path in sorted(folder.glob("*/*.csv")):
        key = curve_key(path.parent.name, path.name, heads)
        if key is not None:
            found.append((key, curve_dataset(path.name, key), path))
    return found


def published_models(folder: Path, heads: set[str]) -> str:
    """The models a folder has published curves of, for a message ("none" for none)."""
    return ", ".join(sorted({key[1] for key, _, _ in published_files(folder, heads)})) or "none"


def read_published(folder: Path, heads: set[str], model: str | None = None,
                   dataset: str | None = None) -> dict[tuple, tuple[Path, dict[str, dict[int, float]]]]:
    """The curve files under ``folder/<metric>/`` (:func:`read_curves`), of ``model`` and
    of ``dataset`` where given: key (:func:`curve_key`) -> (path, ``{level name: {epoch:
    value}}``). Score distributions (header ``sample,...``) are not curves and are left
    out. The study's folders hold one model's curves on several datasets (method names:
    java-small, java-med, java-large, java-top10): two files of one key are refused with
    the datasets to choose from, as is a dataset the model has no curve of."""
    files = [f for f in published_files(folder, heads) if model is None or f[0][1] == model]
    if dataset is not None:
        datasets = sorted({d for _, d, _ in files})
        files = [f for f in files if f[1] == dataset]
        if not files and datasets:
            raise InputError(f"no published curve{' of ' + model if model else ''} on dataset {show(dataset, 40)} "
                             f"(the folder has {', '.join(datasets)})", folder)
    found: dict = {}
    for key, data, path in files:
        table = read_curves(path)
        if table is None:
            continue
        if key in found:
            other = found[key][0]
            raise InputError(f"two published files for one curve: {other.name} and {path.name}; choose the dataset "
                             f"with --published-dataset ({curve_dataset(other.name, key)} or {data})", folder)
        found[key] = (path, table)
    return found


MAX_EPOCH = 10**6
"""The last epoch (or step) a published curve may have."""


def read_curves(path: Path) -> dict[str, dict[int, float]] | None:
    """The curves of one published file, ``epoch,<level>_percent,...`` (or ``step,...`` as
    byrote exports a study evaluated in steps; a UTF-8 byte-order mark before it is read
    past), as ``{level name: {epoch: value}}``, a level by its name
    (:func:`~engine.noise.level_name`: ``25`` for ``25.0_percent``, as an export names
    it); None for a file of another header (a score distribution, ``sample,...``). Empty
    cells are no value; columns of no level (a trial's) are not read. An InputError names
    the line of anything else: a level's column twice, a row of another width than the
    header, an epoch that is not a whole number from 0 to :data:`MAX_EPOCH` or is given
    twice, a value that is not a finite number, a file without rows."""
    _, text = read_utf8(path)  # a FIFO, a device or a folder is refused, never opened
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise InputError("empty file, not a CSV of curves", path)
        if header[:1] not in (["epoch"], ["step"]):
            return None  # a score distribution (sample,...), not a curve
        levels: list[str | None] = []
        for name in header[1:]:
            try:
                level = level_name(float(name.removesuffix("_percent"))) if name.endswith("_percent") else None
            except ValueError:
                level = None
            if level is not None and level in levels:
                raise InputError(f"two columns of level {level} % ({show(name, 30)})", path, 1)
            levels.append(level)
        table: dict[str, dict[int, float]] = {level: {} for level in levels if level is not None}
        epochs: set[int] = set()
        for row in reader:
            line = reader.line_num
            if not row:
                continue  # an empty line
            if len(row) != len(header):
                raise InputError(f"{len(row)} cells where the header has {len(header)}", path, line)
            unit = row[0].strip()
            epoch = bounded_int(unit) if re.fullmatch(r"-?[0-9]+", unit) else None
            try:
                values = [(level, float(cell)) for level, cell in zip(levels, row[1:])
                          if level is not None and cell.strip()]
            except ValueError:
                values = None
            if epoch is None or values is None:
                raise InputError(f"not an epoch and numbers: {show(','.join(row))}", path, line)
            if not 0 <= epoch <= MAX_EPOCH:
                raise InputError(f"{header[0]} {show(unit, 30)} is not from 0 to {MAX_EPOCH:,}", path, line)
            if epoch in epochs:
                raise InputError(f"{header[0]} {epoch} given twice", path, line)
            if not all(math.isfinite(value) for _, value in values):
                raise InputError(f"a value that is not a finite number: {show(','.join(row))}", path, line)
            epochs.add(epoch)
            for level, value in values:
                table[level][epoch] = value
    except csv.Error as exc:
        raise InputError(f"not a CSV of curves: {exc}", path, reader.line_num) from None
    if not epochs:
        raise InputError("no rows of curves under the header", path, 1)
    return table


def compare(store: Store, study_id: int, reference: str | Path, dataset: str | None = None) -> list[Comparison]:
    """Per curve of the study that the reference publishes (on ``dataset``, where the
    folder holds several: :func:`read_published`), and per noise level of the study: the
    last epoch of the published curve and of the study's. Refuses a reference with no
    curve of the study's model, metrics and splits, and a matching file that lacks one of
    the study's levels (naming the file and the column)."""
    from engine.tasks import get_task

    study = store.study(study_id)
    spec = get_task(study["task"])
    heads = curve_heads(spec)
    ours = {}
    for (folder, file), (table, _, _) in curve_tables(store, study_id).items():
        key = curve_key(folder, file, heads)
        if key is not None:
            ours[key] = table
    model = published_model(spec, study["model"])
    published = read_published(Path(reference), heads, model, dataset)
    matched = sorted(set(ours) & set(published))
    if not matched:
        raise InputError(f"no published curve matches study {study_id}'s ({model}; the folder has curves of "
                         f"{published_models(Path(reference), heads)})", Path(reference))
    levels = [float(level) for level in study["levels"]]
    out = []
    for key in matched:
        path, table = published[key]
        check_levels(path, table, levels)
        folder, model, head, split = key
        name = f"{folder}/{model}{'_' + head if head else ''}_{split}"
        for level in levels:
            theirs = table[level_name(level)]
            if not theirs:
                continue
            last = max(theirs)
            mine = ours[key].get(level, {})
            epoch = max(mine) if mine else None
            out.append(Comparison(name, level, last, theirs[last], epoch, None if epoch is None else mine[epoch]))
    return out


def published_curve(store: Store, study_id: int, reference: str | Path, split: str,
                    metric: str) -> dict[float, dict[int, float]] | None:
    """The published curve of one of the study's metrics on one split (``train``,
    ``valid``) in ``reference``, ``{level: {epoch: value}}`` for each of the study's levels
    the file has a column for; None when the folder has none (or cannot be read). Of the
    dataset the study chose (``reference_dataset``) where the folder holds several."""
    from engine.tasks import get_task

    study = store.study(study_id)
    spec = get_task(study["task"])
    heads = curve_heads(spec)
    model = published_model(spec, study["model"])
    dataset = (study["config"] or {}).get("reference_dataset")
    for (folder, file), (name, its_split) in curve_names(store, study_id).items():
        if (name, its_split) != (metric, split):
            continue
        try:
            found = read_published(Path(reference), heads, model, dataset)
        except (InputError, OSError):
            return None
        key = curve_key(folder, file, heads)
        if key not in found:
            return None
        table = found[key][1]  # by level name, as the file's columns
        names = {float(level): level_name(float(level)) for level in study["levels"]}
        return {level: table[name] for level, name in names.items() if name in table}
    return None
