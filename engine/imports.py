"""Imports into the store of what other tools made: the extraction study's folder of
sampled outputs, and its Simian 2.5.10 logs read with its memorization rule (a block
with a location in the outputs and one in training data; Yang et al. §3, their
``analyze.py``). The formats themselves are in :mod:`engine.formats`."""
from __future__ import annotations

import bisect
import hashlib
from dataclasses import dataclass
from pathlib import Path

from engine.errors import InputError
from engine.store import Store


def read_outputs(folder: str | Path) -> list[tuple[int, str]]:
    """The outputs of a folder of the study's outputs (files ``1..N``, or ``all`` with
    ``map.json``), refused if it holds none."""
    from engine.formats.outputs_dir import read_output_dir

    outputs = read_output_dir(folder)
    if not outputs:
        raise InputError("no outputs in this folder", folder)
    return outputs


def save_outputs(store: Store, folder: str | Path, outputs: list[tuple[int, str]], name: str | None = None) -> int:
    """An output set holding ``outputs`` (read by :func:`read_outputs` from ``folder``)."""
    set_id = store.add_output_set(name=name or Path(folder).name, source="import", model=None, n=len(outputs),
                                  config={"path": str(Path(folder).absolute())})
    store.add_outputs(set_id, [(i, hashlib.md5(t.encode("utf-8")).hexdigest(), t, None) for i, t in outputs])
    return set_id


@dataclass
class SimianImport:
    """What Simian logs say was memorized, ready to be saved as a scan."""

    logs: list[str]
    found: dict  # fingerprint -> engine.formats.simian.Memorized
    locations: list[tuple[str, int, int, int]]  # (fingerprint, output id, first line, last line)
    files: dict[str, int]  # merged outputs file -> its number, in order seen


def read_simian(logs: list[str], outputs_name: str | None = None, map_file: str | None = None,
                with_outputs: bool = False) -> SimianImport:
    """Read Simian logs with the study's rule. Locations in the merged outputs file
    (``outputs_name``, default ``all``) become output ids in order of appearance, or, with
    the study's ``map_file``, the output and its own lines (required ``with_outputs``: an
    output set whose texts the locations point into)."""
    from engine.formats.simian import memorized_from_simian, read_simian_log

    read = [read_simian_log(path) for path in logs]
    is_output = (lambda p: Path(p).name == outputs_name) if outputs_name else None
    found = memorized_from_simian(read, **({"is_output": is_output} if is_output else {}))
    files: dict[str, int] = {}
    locations = sorted({(m.fingerprint, files.setdefault(loc.path, len(files) + 1), loc.start, loc.end)
                        for m in found.values() for loc in m.output_locations})
    if with_outputs and not map_file:
        raise InputError("--outputs needs --map: without it the locations are lines of the merged file")
    if map_file:
        if len(files) > 1:
            raise InputError(f"--map describes one merged outputs file; the logs name {len(files)}")
        locations = per_output(locations, map_file)
    return SimianImport([str(Path(p).absolute()) for p in logs], found, locations, files)


def save_simian(store: Store, imported: SimianImport, set_id: int | None = None) -> int:
    """A finished scan holding what :func:`read_simian` found; its id."""
    from engine.clones.automaton import MAX_SAMPLES

    if set_id is not None:
        store.output_set(set_id)  # must exist
    found = imported.found
    scan_id = store.add_scan(source="simian", corpus={"simian_logs": imported.logs},
                             corpus_label=f"{len(imported.logs)} Simian logs", min_lines=None, state="running",
                             set_id=set_id)
    try:
        store.save_scan_results(
            scan_id,
            ((m.fingerprint, m.len, m.train, m.extract, None) for m in found.values()),
            imported.locations,
            ((m.fingerprint, rank, loc.path, loc.start, loc.end, None, None)
             for m in found.values() for rank, loc in enumerate(m.train_locations[:MAX_SAMPLES], 1)),
            state="done", stats={"snippets": len(found), "logs": len(imported.logs), "output_files": list(imported.files)},
        )
    except BaseException:
        store.delete_scan(scan_id)
        raise
    return scan_id


def per_output(locations: list[tuple[str, int, int, int]], map_file: str) -> list[tuple[str, int, int, int]]:
    """Lines of the merged outputs file as (output id, lines within that output), through
    the study's ``map.json``. Simian reads the merged file as one text, so a location
    that runs past its output's end is cut there."""
    from engine.formats.outputs_dir import read_output_map

    spans = read_output_map(map_file)
    starts = [start for start, _, _, _ in spans]
    mapped = set()
    for fp, _, a, b in locations:
        i = bisect.bisect_right(starts, a) - 1
        if i < 0 or a > spans[i][1]:
            raise InputError(f"line {a} of the merged outputs file is in no output of the map", map_file)
        start, end, output_id, _ = spans[i]
        mapped.add((fp, output_id, a - start + 1, min(b, end - 1) - start + 1))
    return sorted(mapped)
