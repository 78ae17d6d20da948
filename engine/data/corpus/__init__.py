"""A model's training corpus, read document by document and never whole.

:func:`open_corpus` takes one of:

- a directory of source files: the regular files under it whose NAME matches ``glob``
  (fnmatch; default every file), not in hidden folders or
  :data:`~engine.data.sources.SKIPPED_DIRS`, hidden files left out too, in sorted order
  of their relative POSIX paths, which are the document ids. A document is the file's
  bytes without a UTF-8 BOM, not validated (the consumer skips non-UTF-8). Shards group
  consecutive files into about ``shard_bytes``; a bigger file is a shard alone;
- record files: one ``.jsonl``/``.json`` (JSON lines), ``.jsonl.gz``/``.json.gz``
  (gzip JSON lines, as codeparrot-clean ships) or ``.parquet`` file, or a directory
  whose matched files all are record files. Each record's ``text_field`` is a document,
  id ``<relative path>:<row>`` (1-based; for JSON lines the line number, blank lines
  skipped but counted). A JSON lines file is one shard, sized on disk (progress in
  compressed bytes for gzip); a Parquet file is one shard per row group, sized by its
  compressed column chunks, rows numbered across row groups. A text that cannot be UTF-8
  (a lone surrogate) gives ``data=None``; a Parquet binary column is passed through raw;
- ``hf:NAME`` or ``hf:NAME:CONFIG``: a Hugging Face dataset streamed with
  ``datasets.load_dataset`` (NAME may be a local folder), one shard per
  ``IterableDataset.n_shards``, id ``<shard index>:<row>`` (0-based shard, 1-based row),
  sizes unknown (progress counts document bytes);
- any other single file: one source document, id its name.

A corpus rebuilds from its JSON-serializable :attr:`Corpus.spec` in another process
(:meth:`Corpus.from_spec`) with the same shards; a directory re-walked there must still
hold the same number of files and bytes, else :class:`InputError`.
"""
from __future__ import annotations

import abc
import codecs
import fnmatch
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from engine.data.sources import SKIPPED_DIRS
from engine.errors import InputError

RECORD_SUFFIXES = (".jsonl", ".json", ".jsonl.gz", ".json.gz", ".parquet")
PROGRESS_STEP = 4 << 20  # progress is reported at least every this many bytes
_BOM = codecs.BOM_UTF8
Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class Document:
    """One document: a stable id and its bytes (None when the text cannot be UTF-8)."""

    id: str
    data: bytes | None


@dataclass(frozen=True)
class Shard:
    """A part of the corpus read in one go; ``size`` in bytes on disk when known."""

    index: int
    label: str
    size: int | None


def human_size(n: int) -> str:
    """``56.7 MB``: decimal units, one decimal."""
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError


def is_record_file(name: str) -> bool:
    return name.lower().endswith(RECORD_SUFFIXES)


class Corpus(abc.ABC):
    """Base of the corpus kinds: shards, documents, and a spec to rebuild from."""

    kind = ""
    _kinds: ClassVar[dict[str, type[Corpus]]] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        Corpus._kinds[cls.kind] = cls

    def __init__(self, spec: dict):
        self.spec = spec

    @classmethod
    def from_spec(cls, spec: dict) -> Corpus:
        """The corpus ``spec`` describes (as built by :func:`open_corpus`)."""
        kind = Corpus._kinds.get(spec.get("kind", "")) if isinstance(spec, dict) else None
        if kind is None:
            raise InputError(f"not a corpus spec: {spec!r:.80}")
        return kind(dict(spec))

    def __eq__(self, other):
        return isinstance(other, Corpus) and self.spec == other.spec

    def __hash__(self):
        return hash(json.dumps(self.spec, sort_keys=True))

    def __repr__(self):
        return f"Corpus({self.spec!r})"

    @abc.abstractmethod
    def shards(self) -> list[Shard]:
        """The shards, the same list in every process."""

    @abc.abstractmethod
    def documents(self, shard: Shard | int, progress: Progress | None = None) -> Iterator[Document]:
        """The documents of one shard in order; ``progress(bytes done in the shard)`` is
        called at least every :data:`PROGRESS_STEP` bytes and at the end."""

    @abc.abstractmethod
    def describe(self) -> str:
        """One line for people."""

    def __iter__(self) -> Iterator[Document]:
        for shard in self.shards():
            yield from self.documents(shard)

    @property
    def total_size(self) -> int | None:
        sizes = [s.size for s in self.shards()]
        return None if None in sizes else sum(sizes)

    def read(self, doc_id: str) -> bytes | None:
        """One document's data by id (scans the shards that may hold it)."""
        for index in self._shards_for(doc_id):
            for doc in self.documents(index):
                if doc.id == doc_id:
                    return doc.data
        raise InputError(f"no document {doc_id!r} in the corpus")

    def _shards_for(self, doc_id: str) -> list[int]:
        return [s.index for s in self.shards()]

    def _index(self, shard: Shard | int) -> int:
        index = shard.index if isinstance(shard, Shard) else shard
        count = len(self.shards())
        if not 0 <= index < count:
            raise InputError(f"no shard {index} (the corpus has {count})")
        return index


def read_document(spec: dict, doc_id: str) -> bytes | None:
    """The data of document ``doc_id`` of the corpus ``spec``: one file read for a
    directory; record files and datasets scan the shard that holds it."""
    return Corpus.from_spec(spec).read(doc_id)


# --- a directory (or one file) of source files -------------------------------------------


def _walk(root: Path, glob: str | None) -> list[tuple[str, int]]:
    """``(relative POSIX path, size)`` of the matching regular files under ``root``, sorted."""
    match = re.compile(fnmatch.translate(glob)).match if glob else None
    found = []
    pending = [""]
    while pending:
        rel = pending.pop()
        folder = os.path.join(root, rel)
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    name = entry.name
                    if name.startswith("."):
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        if name not in SKIPPED_DIRS:
                            pending.append(rel + name + "/")
                    elif entry.is_file() and (match is None or match(name)):
                        found.append((rel + name, entry.stat().st_size))
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", folder) from None
    found.sort()
    return found


class SourceFiles(Corpus):
    """Source files under a root: ``{"kind": "files", "root", "glob", "shard_bytes",
    "count", "bytes"}`` (walked), or with ``"files": [names]`` for one given file."""

    kind = "files"

    def __init__(self, spec: dict, files: list[tuple[str, int]] | None = None):
        super().__init__(spec)
        self._root = spec["root"]
        self._files = files
        self._ranges: list[tuple[int, int]] | None = None
        self._shards: list[Shard] | None = None

    def _listing(self) -> list[tuple[str, int]]:
        if self._files is None:
            spec = self.spec
            if "files" in spec:
                files = []
                for name in spec["files"]:
                    try:
                        files.append((name, os.stat(os.path.join(self._root, name)).st_size))
                    except OSError as exc:
                        raise InputError(f"cannot read: {exc.strerror}", Path(self._root, name)) from None
            else:
                files = _walk(Path(self._root), spec.get("glob"))
                now = (len(files), sum(size for _, size in files))
                then = (spec.get("count", now[0]), spec.get("bytes", now[1]))
                if now != then:
                    raise InputError(f"changed since the corpus was opened ({then[0]:,} files, "
                                     f"{then[1]:,} bytes then; {now[0]:,} files, {now[1]:,} bytes now)",
                                     self._root)
            self._files = files
        return self._files

    def shards(self) -> list[Shard]:
        if self._shards is None:
            files = self._listing()
            limit = max(1, int(self.spec.get("shard_bytes", 64 << 20)))
            ranges, start, total = [], 0, 0
            for i, (_, size) in enumerate(files):
                if i > start and total + size > limit:
                    ranges.append((start, i))
                    start, total = i, 0
                total += size
                if total >= limit:
                    ranges.append((start, i + 1))
                    start, total = i + 1, 0
            if start < len(files):
                ranges.append((start, len(files)))
            self._ranges = ranges
            self._shards = []
            for index, (a, b) in enumerate(ranges):
                label = files[a][0] if b - a == 1 else f"files {files[a][0]}..{files[b - 1][0]} ({b - a:,})"
                self._shards.append(Shard(index, label, sum(size for _, size in files[a:b])))
        return self._shards

    def documents(self, shard: Shard | int, progress: Progress | None = None) -> Iterator[Document]:
        index = self._index(shard)
        a, b = self._ranges[index]
        root = self._root
        done = reported = 0
        for rel, size in self._files[a:b]:
            path = os.path.join(root, rel)
            try:
                with open(path, "rb") as fh:
                    data = fh.read()
            except OSError as exc:
                raise InputError(f"cannot read: {exc.strerror}", path) from None
            if data[:3] == _BOM:
                data = data[3:]
            yield Document(rel, data)
            done += size
            if progress is not None and done - reported >= PROGRESS_STEP:
                progress(done)
                reported = done
        if progress is not None:
            progress(done)

    def read(self, doc_id: str) -> bytes | None:
        names = self.spec.get("files")
        parts = doc_id.split("/")
        if (names is not None and doc_id not in names) or doc_id.startswith("/") or ".." in parts:
            raise InputError(f"no document {doc_id!r} in the corpus")
        path = os.path.join(self._root, doc_id)
        try:
            with open(path, "rb") as fh:
                return fh.read().removeprefix(_BOM)
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", path) from None

    def describe(self) -> str:
        files = self._listing()
        size = human_size(sum(s for _, s in files))
        if "files" in self.spec:
            return f"file {os.path.join(self._root, files[0][0])} ({size})"
        glob = self.spec.get("glob")
        return f"directory {self._root} ({len(files):,} files, {size}, {f'glob {glob}' if glob else 'all files'})"


# --- record files: JSON lines (plain or gzip) and Parquet --------------------------------


def _text_error(field: str, record, path, line: int) -> InputError:
    """Why ``record`` gives no text: not an object, no ``field``, or not a string."""
    if not isinstance(record, dict):
        return InputError(f"not a JSON object but {type(record).__name__}", path, line)
    if field not in record:
        return InputError(f"no field {field!r} (fields: {', '.join(map(str, record)) or 'none'})", path, line)
    return InputError(f"field {field!r} is not a string but {type(record[field]).__name__}", path, line)


def _json_error(exc: ValueError, first: bytes, path, line: int) -> InputError:
    if isinstance(exc, UnicodeDecodeError):
        return InputError("not valid UTF-8", path, line)
    reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc).splitlines()[0]
    hint = " (expected JSON lines: one object per line)" if line == 1 and first.lstrip().startswith(b"[") else ""
    return InputError(f"malformed JSON: {reason}{hint}", path, line)


def _json_lines(path: str, rel: str, field: str, progress: Progress | None) -> Iterator[Document]:
    """The documents of a JSON lines file, gzip-compressed when its name ends in ``.gz``."""
    import zlib

    gz = path.lower().endswith(".gz")
    try:
        if gz:
            import gzip

            fh = gzip.open(path, "rb")  # noqa: SIM115  (closed below)
            raw = fh.fileobj  # the compressed file: progress in bytes on disk
        else:
            fh = open(path, "rb")  # noqa: SIM115
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", path) from None
    loads = json.loads
    done = reported = lineno = 0
    with fh:
        try:
            for lineno, line in enumerate(fh, 1):
                done += len(line)
                if progress is not None and done - reported >= PROGRESS_STEP:
                    progress(raw.tell() if gz else done)
                    reported = done
                if line.isspace():
                    continue
                try:
                    record = loads(line)
                except UnicodeDecodeError:  # a record that is not UTF-8: skipped and counted
                    yield Document(f"{rel}:{lineno}", None)
                    continue
                except ValueError as exc:
                    raise _json_error(exc, line, path, lineno) from None
                try:
                    text = record[field]
                except (KeyError, TypeError, IndexError):
                    raise _text_error(field, record, path, lineno) from None
                if type(text) is not str:
                    raise _text_error(field, record, path, lineno)
                try:
                    data = text.encode()
                except UnicodeEncodeError:  # a lone surrogate
                    data = None
                yield Document(f"{rel}:{lineno}", data)
        except (OSError, EOFError, zlib.error) as exc:  # a damaged or truncated gzip stream
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise InputError(f"cannot read: {reason}", path, lineno + 1) from None
    if progress is not None:
        progress(os.path.getsize(path) if gz else done)


def _parquet(path: str):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"not a readable Parquet file: {str(exc).splitlines()[0]}", path) from None


def _text_column_type(path: str, pf, field: str):
    """The Arrow type to read ``field`` as (binary, so no decoding), or an InputError."""
    import pyarrow as pa

    schema = pf.schema_arrow
    if field not in schema.names:
        raise InputError(f"no column {field!r} (columns: {', '.join(schema.names) or 'none'})", path)
    kind = schema.field(field).type
    if pa.types.is_string(kind) or pa.types.is_binary(kind):
        return pa.binary()
    if pa.types.is_large_string(kind) or pa.types.is_large_binary(kind):
        return pa.large_binary()
    raise InputError(f"column {field!r} is not text but {kind}", path)


class RecordFiles(Corpus):
    """Records in files under a root: ``{"kind": "records", "root", "files": [relative
    paths], "text_field"}``."""

    kind = "records"

    def __init__(self, spec: dict):
        super().__init__(spec)
        self._root = spec["root"]
        self._field = spec.get("text_field", "content")
        self._parts: list[tuple[int, int | None, int]] | None = None  # file, row group, first row
        self._shards: list[Shard] | None = None

    def _path(self, file: int) -> str:
        return os.path.join(self._root, self.spec["files"][file])

    def shards(self) -> list[Shard]:
        if self._shards is None:
            parts, shards = [], []
            for file, rel in enumerate(self.spec["files"]):
                path = self._path(file)
                if rel.lower().endswith(".parquet"):
                    with _parquet(path) as pf:
                        _text_column_type(path, pf, self._field)
                        meta = pf.metadata
                        first = 0
                        for g in range(meta.num_row_groups):
                            group = meta.row_group(g)
                            size = sum(group.column(c).total_compressed_size for c in range(group.num_columns))
                            label = f"{rel} row group {g + 1}/{meta.num_row_groups}"
                            parts.append((file, g, first))
                            shards.append(Shard(len(shards), label, size))
                            first += group.num_rows
                else:
                    try:
                        size = os.path.getsize(path)
                    except OSError as exc:
                        raise InputError(f"cannot read: {exc.strerror}", path) from None
                    parts.append((file, None, 0))
                    shards.append(Shard(len(shards), rel, size))
            self._parts, self._shards = parts, shards
        return self._shards

    def documents(self, shard: Shard | int, progress: Progress | None = None) -> Iterator[Document]:
        index = self._index(shard)
        file, group, first = self._parts[index]
        rel, path = self.spec["files"][file], self._path(file)
        if group is None:
            yield from _json_lines(path, rel, self._field, progress)
            return
        size = self._shards[index].size
        with _parquet(path) as pf:
            as_type = _text_column_type(path, pf, self._field)
            rows = pf.metadata.row_group(group).num_rows
            row = first
            for batch in pf.iter_batches(batch_size=256, row_groups=[group], columns=[self._field]):
                column = batch.column(0)
                if column.null_count:
                    at = row + 1 + column.is_null().to_pylist().index(True)
                    raise InputError(f"field {self._field!r} is null", path, at)
                for data in column.cast(as_type).to_pylist():
                    row += 1
                    yield Document(f"{rel}:{row}", data)
                if progress is not None:
                    progress(size * (row - first) // max(rows, 1))
        if progress is not None:
            progress(size)

    def first_document(self) -> Document | None:
        """The first document of the corpus, read to check the text field early."""
        for shard in self.shards():
            docs = self.documents(shard)
            try:
                for doc in docs:
                    return doc
            finally:
                docs.close()
        return None

    def _shards_for(self, doc_id: str) -> list[int]:
        rel, _, row = doc_id.rpartition(":")
        if not row.isdigit():
            return []
        self.shards()
        files = self.spec["files"]
        return [i for i, (file, _, first) in enumerate(self._parts) if files[file] == rel and int(row) > first][-1:]

    def describe(self) -> str:
        files = self.spec["files"]
        kinds = ", ".join(sorted({"Parquet" if f.lower().endswith(".parquet") else
                                  "gzip JSON lines" if f.lower().endswith(".gz") else "JSON lines" for f in files}))
        what = f"{kinds}, {human_size(self.total_size or 0)}, field {self._field!r}"
        if self.spec.get("single"):
            return f"records {os.path.join(self._root, files[0])} ({what})"
        return f"records in {self._root} ({len(files):,} files, {what})"


# --- a Hugging Face dataset -------------------------------------------------------------


_NETWORK_ERRORS = {"ConnectionError", "OfflineModeIsEnabled", "LocalEntryNotFoundError", "ConnectError",
                   "ConnectTimeout", "Timeout", "TimeoutException", "TimeoutError"}


def _load_dataset(name: str, config: str | None, split: str):
    """``datasets.load_dataset(..., streaming=True)``; a failure is one InputError line."""
    import datasets

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    try:
        return datasets.load_dataset(name, config, split=split, streaming=True)
    except Exception as exc:  # noqa: BLE001  (datasets raises many kinds)
        lines = str(exc).strip().splitlines()
        reason = lines[0] if lines else type(exc).__name__
        names = {t.__name__ for t in type(exc).__mro__}
        network = bool(names & _NETWORK_ERRORS) or "offline" in reason.lower() or "couldn't reach" in reason.lower()
        hint = "; downloads need network access" if network else ""
        raise InputError(f"cannot load dataset {name!r}: {reason}{hint}") from None


class HFDataset(Corpus):
    """A streamed Hugging Face dataset: ``{"kind": "hf", "name", "config", "split",
    "text_field", "n_shards"}``."""

    kind = "hf"

    def __init__(self, spec: dict, dataset=None):
        super().__init__(spec)
        self._ds = dataset
        self._field = spec.get("text_field", "content")

    def __getstate__(self):
        return {**self.__dict__, "_ds": None}

    def dataset(self):
        """The ``datasets.IterableDataset`` (loaded once per process)."""
        if self._ds is None:
            self._ds = _load_dataset(self.spec["name"], self.spec.get("config"), self.spec.get("split", "train"))
        return self._ds

    def shards(self) -> list[Shard]:
        n = self.spec["n_shards"]
        return [Shard(i, f"shard {i + 1}/{n}", None) for i in range(n)]

    def documents(self, shard: Shard | int, progress: Progress | None = None) -> Iterator[Document]:
        index = self._index(shard)
        ds = self.dataset()
        if ds.n_shards != self.spec["n_shards"]:
            raise InputError(f"dataset {self.spec['name']!r} now has {ds.n_shards} shards, "
                             f"not {self.spec['n_shards']} as when the corpus was opened")
        field, name = self._field, self.spec["name"]
        rows = iter(ds.shard(num_shards=ds.n_shards, index=index, contiguous=True))
        done = reported = row = 0
        while True:
            try:
                record = next(rows)
            except StopIteration:
                break
            except Exception as exc:  # noqa: BLE001  (a download or parse failure in datasets)
                lines = str(exc).strip().splitlines()
                raise InputError(f"cannot read dataset {name!r} shard {index} after row {row}: "
                                 f"{lines[0] if lines else type(exc).__name__}") from None
            row += 1
            text = record.get(field)
            if type(text) is not str:
                if field not in record:
                    raise InputError(f"dataset {name!r} row {index}:{row}: no field {field!r} "
                                     f"(fields: {', '.join(record)})")
                raise InputError(f"dataset {name!r} row {index}:{row}: field {field!r} is not a string "
                                 f"but {type(text).__name__}")
            try:
                data = text.encode()
            except UnicodeEncodeError:
                data = None
            yield Document(f"{index}:{row}", data)
            if progress is not None and data is not None:
                done += len(data)
                if done - reported >= PROGRESS_STEP:
                    progress(done)
                    reported = done
        if progress is not None:
            progress(done)

    def _shards_for(self, doc_id: str) -> list[int]:
        shard = doc_id.partition(":")[0]
        return [int(shard)] if shard.isdigit() and int(shard) < self.spec["n_shards"] else []

    def describe(self) -> str:
        spec = self.spec
        config = f", config {spec['config']}" if spec.get("config") else ""
        return (f"Hugging Face dataset {spec['name']}{config} (split {spec.get('split', 'train')}, "
                f"{spec['n_shards']:,} shards, field {self._field!r})")


def _open_hf(target: str, text_field: str, split: str) -> HFDataset:
    name, _, config = target.partition(":")
    if not name:
        raise InputError("no dataset name after hf:")
    if Path(name).exists():
        name = str(Path(name).absolute())
    ds = _load_dataset(name, config or None, split)
    features = list(ds.features) if ds.features is not None else None
    if features is None:  # unknown until read: look at the first record
        first = next(iter(ds), None)
        features = None if first is None else list(first)
    if features is not None and text_field not in features:
        raise InputError(f"dataset {name!r} has no field {text_field!r} (features: {', '.join(features)})")
    spec = {"kind": "hf", "name": name, "config": config or None, "split": split,
            "text_field": text_field, "n_shards": ds.n_shards}
    return HFDataset(spec, ds)


# --- opening ------------------------------------------------------------------------------


def open_corpus(source: str, *, glob: str | None = None, text_field: str = "content",
                split: str = "train", shard_bytes: int = 64 << 20) -> Corpus:
    """The corpus at ``source``: a directory, a file, or ``hf:NAME[:CONFIG]``. Record
    corpora are checked early: the first record must have a string ``text_field``."""
    if shard_bytes < 1:
        raise InputError(f"shard size must be positive, not {shard_bytes}")
    if source.startswith("hf:"):
        return _open_hf(source[3:], text_field, split)
    path = Path(source)
    if not path.exists():
        raise InputError("no such file or directory", path)
    root = path.absolute()
    if path.is_dir():
        files = _walk(root, glob)
        if not files:
            raise InputError(f"no file matches {glob or '*'}", path)
        if all(is_record_file(rel) for rel, _ in files):
            corpus = RecordFiles({"kind": "records", "root": str(root), "files": [rel for rel, _ in files],
                                  "text_field": text_field})
        else:
            spec = {"kind": "files", "root": str(root), "glob": glob, "shard_bytes": shard_bytes,
                    "count": len(files), "bytes": sum(size for _, size in files)}
            return SourceFiles(spec, files)
    elif path.is_file():
        if not is_record_file(path.name):
            return SourceFiles({"kind": "files", "root": str(root.parent), "files": [path.name],
                                "shard_bytes": shard_bytes})
        corpus = RecordFiles({"kind": "records", "root": str(root.parent), "files": [path.name],
                              "text_field": text_field, "single": True})
    else:
        raise InputError("not a file or directory", path)
    corpus.first_document()
    return corpus
