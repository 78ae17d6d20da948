"""The sampled outputs of the extraction study (``extract/extract.py``, ``extract/merge.py``):
a folder of files ``1``..``N``, or the merged ``all`` (blank lines removed, each output
followed by ``Submission>>>>>>{md5}>>>>>>Submission``) with its ``map.json``."""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path

from engine.errors import InputError
from engine.fsutil import atomic_paths
from engine.formats import (MD5, SQLITE_INT_MAX, bounded_int, is_count, line_of, load_json, read_utf8, show,
                            split_lines)


_SUBMISSION = re.compile(r"Submission>>>>>>(\S*)>>>>>>Submission")
_ID = re.compile(r"0|[1-9][0-9]*")


def _read_separate(folder: Path) -> list[tuple[int, str]]:
    outputs: list[tuple[int, str]] = []
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        raise InputError(exc.strerror or str(exc), folder) from None
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if not _ID.fullmatch(entry.name) or not entry.is_file():
            raise InputError("unexpected entry in the outputs folder (want files named 1..N)", entry)
        if bounded_int(entry.name) > SQLITE_INT_MAX:
            raise InputError(f"an output id above {SQLITE_INT_MAX:,} (what SQLite stores)", entry)
        outputs.append((int(entry.name), read_utf8(entry, "output file")[1]))
    if not outputs:
        raise InputError("no output files (named 1..N) in the folder", folder)
    return sorted(outputs)


def _map_beside(all_file: Path) -> Path:
    names = ["map.json"]
    if all_file.name.startswith("all_"):
        names.insert(0, f"map_{all_file.name[4:]}.json")
    for name in names:
        if (all_file.parent / name).exists():
            return all_file.parent / name
    raise InputError(f"no {names[0]} beside the merged outputs file", all_file)


def read_output_map(map_file: str | Path, n_lines: int | None = None) -> list[tuple[int, int, int, str]]:
    """``(start, end, output id, md5)`` of every output of a ``map.json``, sorted by line;
    with ``n_lines``, each span must lie within that many lines of the merged file."""
    map_file = Path(map_file)
    _, text, data = load_json(map_file, "map file")
    if not isinstance(data, dict):
        raise InputError('expected a JSON object {"<id>": {"md5": ..., "start": ..., "end": ...}}', map_file, 1)
    spans: list[tuple[int, int, int, str]] = []
    for key, value in data.items():
        def bad(message: str, key: str = key) -> InputError:
            return InputError(f"output {key}: {message}", map_file, line_of(text, json.dumps(key)))

        if not _ID.fullmatch(key) or bounded_int(key) > SQLITE_INT_MAX:
            raise InputError(f"key {show(key, 30)} is not an output id (0..{SQLITE_INT_MAX:,})", map_file,
                             line_of(text, json.dumps(key)))
        if (not isinstance(value, dict) or set(value) != {"md5", "start", "end"}
                or not isinstance(value["md5"], str) or not MD5.fullmatch(value["md5"])
                or not is_count(value["start"], 1) or not is_count(value["end"], 1)):
            raise bad('expected {"md5": <32 hex>, "start": <line>, "end": <line>}')
        start, end = value["start"], value["end"]
        if start > end or (n_lines is not None and end > n_lines):
            raise bad(f"lines {start}..{end} are not within the {n_lines} lines of the merged file")
        spans.append((start, end, int(key), value["md5"]))
    if not spans:
        raise InputError("no outputs listed", map_file)
    spans.sort()
    for (_, end, _, _), (start, _, ident, _) in zip(spans, spans[1:]):
        if start <= end:
            raise InputError(f"output {ident}: lines from {start} overlap the previous output", map_file)
    return spans


def _read_merged(all_file: Path, map_file: Path, check_md5: bool) -> list[tuple[int, str]]:
    _, merged = read_utf8(all_file, "merged outputs file")
    newlines = merged.count("\n")
    if newlines and merged.count("\r\n") == newlines:  # every line end made CRLF (a Windows copy): undone
        merged = merged.replace("\r\n", "\n")
    lines = split_lines(merged)
    spans = read_output_map(map_file, len(lines))
    outputs: list[tuple[int, str]] = []
    for start, end, ident, md5 in spans:
        segment = lines[start - 1:end]
        marker = _SUBMISSION.fullmatch(segment[-1])
        if marker is None and segment[-1].startswith("Submission>>>>>>"):
            raise InputError(f"output {ident}: its Submission line is not Submission>>>>>>MD5>>>>>>Submission: "
                             f"{show(segment[-1])}", all_file, end)
        if marker:
            if marker[1] != md5:
                raise InputError(f"output {ident}: Submission line says md5 {marker[1][:40]}, "
                                 f"{map_file.name} says {md5}", all_file, end)
            segment = segment[:-1]
        sample = "\n".join(segment)
        if check_md5 and hashlib.md5(sample.encode("utf-8")).hexdigest() != md5:
            raise InputError(f"output {ident}: md5 of lines {start}..{end} is not {md5}", all_file, start)
        outputs.append((ident, sample))
    return sorted(outputs)


def read_output_dir(path: str | Path, *, check_md5: bool = False) -> list[tuple[int, str]]:
    """The sampled outputs ``(id, text)``, sorted by id, from either upstream layout.

    - Separate files (``extract.py``): a folder of files named by their integer id
      (``1``..``N``), each one output, read as it is. ``path`` is that folder, or its
      parent holding ``seperate/`` (upstream's spelling) or ``separate/``. Hidden files
      are skipped; any other entry that is not an integer-named file is an InputError.
    - Merged (``merge.py``): ``all`` with ``map.json`` (or ``all_<a>-<b>`` with
      ``map_<a>-<b>.json``), ``path`` being the ``all`` file or its folder. ``map.json``
      is ``{"<id>": {"md5": <hex>, "start": <line>, "end": <line>}}``; merge wrote each
      sample with its empty lines removed as ``content + "\\n" + "Submission>>>>>>MD5
      >>>>>>Submission\\n"``, so 1-based lines start..end of ``all`` *include* the
      Submission line (and, when the content ended in a newline, an empty line before
      it). The text read back is lines start..end less a final Submission line (whose
      md5 must match the map's), joined by ``\\n``: exactly the content merge hashed.
      A file whose every line ends in CRLF (copied through Windows) is read with LF line
      ends, as merge wrote it; a final line of a span that starts like a Submission line
      but is not one is an InputError.

    The md5 is checked only with ``check_md5``. In every version of ``merge.py`` it is
    the md5 of the content as written into ``all`` (its first version removed no lines;
    later ones hash after removing empty lines), so it can be recomputed; but a merge
    that hashed the original sample, empty lines included, could not be, so a mismatch
    is not an error by default. A Submission line naming another md5 than the map always
    is (the map does not describe this file).

    A folder holding both layouts is read from the separate files (the merged file is
    derived from them and has lost the empty lines). Missing paths, neither layout,
    malformed ``map.json``, spans outside ``all`` or overlapping, and non-UTF-8 files
    are InputErrors naming the file.
    """
    p = Path(path)
    if not p.exists():
        raise InputError("no such file or folder", p)
    if p.is_file():
        return _read_merged(p, _map_beside(p), check_md5)
    subfolders = [p / name for name in ("seperate", "separate") if (p / name).is_dir()]
    if len(subfolders) == 2:
        raise InputError("holds both seperate/ and separate/; name the one to read", p)
    if subfolders:
        return _read_separate(subfolders[0])
    if (p / "all").is_file():
        return _read_merged(p / "all", _map_beside(p / "all"), check_md5)
    try:
        has_ids = any(_ID.fullmatch(e.name) for e in p.iterdir())
    except OSError as exc:
        raise InputError(exc.strerror or str(exc), p) from None
    if has_ids:
        return _read_separate(p)
    raise InputError("no sampled outputs here: expected seperate/ (or separate/), "
                     "all with map.json, or files named 1..N", p)


def _checked_outputs(outputs: Iterable[tuple[int, str]], target: Path) -> list[tuple[int, str]]:
    checked: dict[int, str] = {}
    for ident, text in outputs:
        if not is_count(ident):
            raise InputError(f"output id {ident!r} is not an integer >= 0", target)
        if ident in checked:
            raise InputError(f"output id {ident} given twice", target)
        if not isinstance(text, str):
            raise InputError(f"output {ident}: text is not a string", target)
        checked[ident] = text
    return sorted(checked.items())


def _utf8(text: str, ident: int, target: Path) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"output {ident}: text cannot be written as UTF-8", target) from None


def write_output_dir(outputs: Iterable[tuple[int, str]], folder: str | Path) -> None:
    """Write each output as the file ``folder/<id>`` holding its text as it is (UTF-8), as
    ``extract.py`` does; all files appear together or none. Files of other ids already in
    the folder are left alone (upstream appends new ids to the same folder)."""
    target = Path(folder)
    if target.exists() and not target.is_dir():
        raise InputError("not a directory", target)
    items = _checked_outputs(outputs, target)
    data = [_utf8(text, ident, target) for ident, text in items]
    with atomic_paths(*(target / str(ident) for ident, _ in items)) as temps:
        for tmp, blob in zip(temps, data):
            tmp.write_bytes(blob)


def merge_content(text: str) -> str:
    """A sample as ``merge.py`` writes it into ``all``: read in text mode (``\\r\\n`` and
    ``\\r`` become ``\\n``) with every empty line removed (lines of spaces stay)."""
    pieces = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    lines = [piece + "\n" for piece in pieces[:-1]] + [pieces[-1]]
    return "".join(line for line in lines if line != "\n")


_NEWLINE = re.compile(r"\r\n|\r|\n")


def merged_line_origins(text: str) -> list[int | None]:
    """Where each line of an output in ``all`` comes from in its original text.

    ``text`` is the output as ``byrote sample import`` stores it from the separate files
    (the file's UTF-8 text, unchanged), whose lines are cut at ``\\n`` only (a CRLF line
    keeps its ``\\r``; a lone ``\\r`` stays inside its line). ``merge.py`` read the same
    file in text mode, where ``\\r\\n``, ``\\r`` and ``\\n`` each end a line, dropped the
    lines equal to ``"\\n"``, and wrote the rest, then ``"\\n"`` and its Submission line
    (:func:`merge_content`, :func:`write_merged`). The result has one entry per line of
    ``merge_content(text).split("\\n")``, i.e. per line of ``all`` from the output's
    ``start`` up to, not including, its Submission line: the 1-based line of ``text``
    holding it, or ``None`` for the empty line ``all`` gets when the content ends with a
    newline (or is empty), which has no original. A line cut by lone ``\\r``s into
    several lines of ``all`` gives each of them the same original line.
    """
    origins: list[int | None] = []
    line, pos = 1, 0
    for m in _NEWLINE.finditer(text):
        if m.start() > pos:  # a line that is not empty: merge.py keeps it
            origins.append(line)
        if m.group().endswith("\n"):
            line += 1
        pos = m.end()
    origins.append(line if pos < len(text) else None)
    return origins


def write_merged(outputs: Iterable[tuple[int, str]], all_path: str | Path, map_path: str | Path) -> None:
    """Write ``all`` and ``map.json`` as the study's ``merge.py`` does, in id order.

    Each sample becomes ``content + "\\n" + "Submission>>>>>>" + md5 + ">>>>>>Submission\\n"``
    where ``content`` is :func:`merge_content` of the text and md5 its hex digest (UTF-8);
    ``map.json`` gets ``{"<id>": {"md5": md5, "start": s, "end": e}}`` with s..e the
    1-based lines of ``all`` it spans, the Submission line included, written like
    ``json.dump(map, f)`` (one line, no final newline). Both files appear together.
    """
    all_target, map_target = Path(all_path), Path(map_path)
    items = _checked_outputs(outputs, all_target)
    parts: list[str] = []
    spans: dict[str, dict] = {}
    cursor = 0
    for ident, text in items:
        content = merge_content(text)
        md5 = hashlib.md5(_utf8(content, ident, all_target)).hexdigest()
        chunk = content + "\nSubmission>>>>>>" + md5 + ">>>>>>Submission\n"
        count = chunk.count("\n")
        spans[str(ident)] = {"md5": md5, "start": cursor + 1, "end": cursor + count}
        cursor += count
        parts.append(chunk)
    with atomic_paths(all_target, map_target) as (tmp_all, tmp_map):
        tmp_all.write_bytes("".join(parts).encode("utf-8"))
        tmp_map.write_bytes(json.dumps(spans).encode("utf-8"))
