"""Imports into the store of what other tools made: the extraction study's folder of
sampled outputs, and its Simian 2.5.10 logs read with its memorization rule (a block
with a location in the outputs and one in training data; Yang et al. §3, their
``analyze.py``). The formats themselves are in :mod:`engine.formats`."""
from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable, Iterable, Iterator
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
    count: str = "distinct"  # how train/extract were counted: "distinct" or "study"


Texts = Iterable[tuple[int, str]]


def read_simian(logs: list[str], outputs_name: str | None = None, map_file: str | None = None,
                outputs: Texts | Callable[[], Texts] | None = None, count: str = "distinct") -> SimianImport:
    """Read Simian logs with the study's rule (:func:`~engine.formats.simian.memorized_from_simian`,
    ``count`` ``"distinct"`` or ``"study"``). Locations in the merged outputs file
    (``outputs_name``, default ``all`` and the study's chunk names) become:

    - without ``map_file``: output ids 1, 2, ... (one per merged file, in order seen) and
      that file's own lines;
    - with the study's ``map_file`` and no ``outputs``: the output and its lines as
      ``merge.py`` wrote it (empty lines removed; what ``byrote sample import`` stores
      from ``all`` + ``map.json``);
    - with ``map_file`` and ``outputs``, the ``(id, text)`` of the output set imported
      from the original files (or a function returning them, called once the logs and the
      map have been read): the output and the lines of its original text (see
      :func:`per_output`).

    ``outputs`` without ``map_file``, an unknown ``count``, a map that does not fit the
    logs or the outputs, and an output the map names that the set lacks are InputErrors.
    """
    from engine.formats.simian import check_count, memorized_from_simian, read_simian_log

    check_count(count)
    if outputs is not None and not map_file:
        raise InputError("--outputs needs --map: without it the locations are lines of the merged file")
    read = [read_simian_log(path) for path in logs]
    is_output = (lambda p: Path(p).name == outputs_name) if outputs_name else None
    found = memorized_from_simian(read, **({"is_output": is_output} if is_output else {}), count=count)
    files: dict[str, int] = {}
    locations = sorted({(m.fingerprint, files.setdefault(loc.path, len(files) + 1), loc.start, loc.end)
                        for m in found.values() for loc in m.output_locations})
    if map_file:
        if len(files) > 1:
            raise InputError(f"--map describes one merged outputs file; the logs name {len(files)}")
        texts = outputs() if callable(outputs) else outputs
        locations = per_output(locations, map_file, texts)
    return SimianImport([str(Path(p).absolute()) for p in logs], found, locations, files, count)


def output_texts(store: Store, set_id: int) -> Iterator[tuple[int, str]]:
    """``(id, text)`` of every output of a stored set, in id order (read in batches)."""
    store.output_set(set_id)  # must exist
    return ((row["id"], row["text"]) for row in store.outputs(set_id))


def save_simian(store: Store, imported: SimianImport, set_id: int | None = None) -> int:
    """A finished scan holding what :func:`read_simian` found; its id. Its stats say
    which count was used (``"count"``)."""
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
            state="done", stats={"snippets": len(found), "logs": len(imported.logs),
                                 "output_files": list(imported.files), "count": imported.count},
        )
    except BaseException:
        store.delete_scan(scan_id)
        raise
    return scan_id


def per_output(locations: list[tuple[str, int, int, int]], map_file: str,
               outputs: Texts | None = None) -> list[tuple[str, int, int, int]]:
    """Lines of the merged outputs file as (output id, first and last line of the place
    within that output), through the study's ``map.json``.

    Simian numbers the lines of ``all``, where ``merge.py`` removed each output's empty
    lines and turned CRLF and lone CR into ``\\n``. Without ``outputs`` the lines are
    counted in the output as ``all`` holds it (``start`` of the map is line 1). With
    ``outputs``, the ``(id, text)`` pairs of the original outputs as ``byrote sample
    import`` stored them, each place's first and last line become lines of the original
    text (cut at ``\\n``: :func:`~engine.formats.outputs_dir.merged_line_origins`), so the
    place shows the same lines, with the empty ones between them back in place. Every
    output the map names must be in ``outputs``, and its text must be what the map says
    ``merge.py`` wrote (its line count, and its md5 recomputed from the text), else the
    map does not fit: an InputError.

    Simian reads the merged file as one text, so a place that runs into its output's
    Submission line is cut at the output's last line. A place starting on a Submission
    line, or on the empty line ``merge.py`` adds after content ending in a newline, or
    outside every output of the map, is an InputError (Simian never reports one there
    for logs of this ``all``: the map does not fit the logs).
    """
    from engine.formats.outputs_dir import read_output_map

    spans = read_output_map(map_file)
    placed = list(_placed(locations, spans, map_file))
    origins = None if outputs is None else _origins(spans, map_file, outputs, {span[2] for _, span, _, _ in placed})
    mapped = set()
    for fp, (start, end, output_id), a, b in placed:
        first, last = a - start, min(b, end - 1) - start  # 0-based lines of the output in all
        if origins is None:
            mapped.add((fp, output_id, first + 1, last + 1))
            continue
        lines = origins[output_id]
        if lines[first] is None:
            raise InputError(f"line {a} of the merged outputs file is the empty line merge.py adds after "
                             f"output {output_id}: the map does not fit the logs", map_file)
        while lines[last] is None:  # cut at the end: the added empty line has no original
            last -= 1
        mapped.add((fp, output_id, lines[first], lines[last]))
    return sorted(mapped)


def _placed(locations, spans, map_file):
    """``(fingerprint, (start, end, output id), a, b)`` of every location, its output found
    in the map's sorted spans."""
    starts = [start for start, _, _, _ in spans]
    for fp, _, a, b in locations:
        i = bisect.bisect_right(starts, a) - 1
        if i < 0 or a > spans[i][1]:
            raise InputError(f"line {a} of the merged outputs file is in no output of the map", map_file)
        start, end, output_id, _ = spans[i]
        if a == end:
            raise InputError(f"line {a} of the merged outputs file is the Submission line of output "
                             f"{output_id}: the map does not fit the logs", map_file)
        yield fp, (start, end, output_id), a, b


def _origins(spans, map_file, outputs: Texts, wanted: set[int]) -> dict[int, list[int | None]]:
    """:func:`merged_line_origins` of the outputs in ``wanted``, checking on the way that
    every output of the map is among ``outputs`` and is the text the map describes."""
    from engine.formats.outputs_dir import merge_content, merged_line_origins

    named = {ident: (start, end, md5) for start, end, ident, md5 in spans}
    found: dict[int, list[int | None]] = {}
    seen: set[int] = set()
    for ident, text in outputs:
        if ident not in named:
            continue
        seen.add(ident)
        start, end, md5 = named[ident]
        lines = merged_line_origins(text)
        if len(lines) != end - start:
            raise InputError(f"output {ident}: merge.py writes {len(lines)} lines of its text, but the map gives "
                             f"it {end - start} (lines {start}..{end - 1}, then its Submission line): the map does "
                             f"not fit this output set", map_file)
        if hashlib.md5(merge_content(text).encode("utf-8")).hexdigest() != md5:
            raise InputError(f"output {ident}: the md5 of its text as merge.py writes it is not {md5}, which the "
                             f"map gives: the map does not fit this output set", map_file)
        if ident in wanted:
            found[ident] = lines
    missing = sorted(set(named) - seen)
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise InputError(f"the output set has no output {missing[0]}{more}, which the map names", map_file)
    return found
