"""Record files: JSON lines (plain or gzip, as codeparrot-clean ships) and Parquet, one
document per record's text field, id ``<relative path>:<row>``."""
from __future__ import annotations

import os
from collections.abc import Iterator

from engine.data.corpus import urls
from engine.data.corpus.base import PROGRESS_STEP, Corpus, Document, Progress, Shard, human_size
from engine.formats import BadJSON, parse_json, parse_json_record
from engine.errors import InputError


def _text_error(field: str, record, path, line: int) -> InputError:
    """Why ``record`` gives no text: not an object, no ``field``, or not a string."""
    if not isinstance(record, dict):
        return InputError(f"not a JSON object but {type(record).__name__}", path, line)
    if field not in record:
        return InputError(f"no field {field!r} (fields: {', '.join(map(str, record)) or 'none'})", path, line,
                          field="text_field")
    return InputError(f"field {field!r} is not a string but {type(record[field]).__name__}", path, line,
                      field="text_field")


def _json_error(exc: ValueError, first: bytes, path, line: int) -> InputError:
    if isinstance(exc, UnicodeDecodeError):
        return InputError("not valid UTF-8", path, line)
    reason = exc.reason if isinstance(exc, BadJSON) else str(exc).splitlines()[0]
    hint = " (expected JSON lines: one object per line)" if line == 1 and first.lstrip().startswith(b"[") else ""
    return InputError(f"malformed JSON: {reason}{hint}", path, line)


def gunzip(source) -> tuple:
    """``(reader, errors)``: a reader of the gzip stream in the binary file ``source``,
    ISA-L's inflate (the isal package: the same bytes at about 3x zlib's speed) where
    installed, else the standard library's; and what a damaged stream raises besides
    OSError, EOFError and zlib.error."""
    try:
        from isal import igzip, isal_zlib
    except ImportError:
        import gzip

        return gzip.GzipFile(fileobj=source, mode="rb"), ()
    return igzip.IGzipFile(fileobj=source, mode="rb"), (isal_zlib.error,)


def _json_lines(path: str, rel: str, field: str, progress: Progress | None) -> Iterator[Document]:
    """The documents of a JSON lines file, gzip-compressed when its name ends in ``.gz``."""
    import zlib

    gz = path.lower().endswith(".gz")
    remote = urls.is_url(path)
    try:
        source = urls.open_binary(path) if remote else open(path, "rb")  # noqa: SIM115  (closed below)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", path) from None
    if gz:
        raw = source  # the compressed file: progress in bytes as stored
        fh, damaged = gunzip(source)
    else:
        fh, damaged = source, ()
    loads = parse_json_record
    done = reported = lineno = 0
    with source, fh:
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
                except (KeyError, TypeError, IndexError):  # the record as json reads it names the problem
                    raise _text_error(field, parse_json(line), path, lineno) from None
                if type(text) is not str:
                    raise _text_error(field, parse_json(line), path, lineno)
                try:
                    data = text.encode()
                except UnicodeEncodeError:  # a lone surrogate
                    data = None
                yield Document(f"{rel}:{lineno}", data)
        except (OSError, EOFError, zlib.error, *damaged) as exc:  # a damaged or truncated gzip stream
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise InputError(f"cannot read: {reason}", path, lineno + 1) from None
    if progress is not None:
        progress((urls.size(path) if remote else os.path.getsize(path)) if gz else done)


def _parquet(path: str):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(urls.open_binary(path) if urls.is_url(path) else path)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"not a readable Parquet file: {str(exc).splitlines()[0]}", path) from None


def _text_column_type(path: str, pf, field: str):
    """The Arrow type to read ``field`` as (binary, so no decoding), or an InputError."""
    import pyarrow as pa

    schema = pf.schema_arrow
    if field not in schema.names:
        raise InputError(f"no column {field!r} (columns: {', '.join(schema.names) or 'none'})", path,
                         field="text_field")
    kind = schema.field(field).type
    if pa.types.is_string(kind) or pa.types.is_binary(kind):
        return pa.binary()
    if pa.types.is_large_string(kind) or pa.types.is_large_binary(kind):
        return pa.large_binary()
    raise InputError(f"column {field!r} is not text but {kind}", path, field="text_field")


def _no_null(group, field: str) -> bool:
    """Whether a Parquet row group's statistics (its metadata) say column ``field`` holds no
    null (False when the file keeps no null count: the column must be read to know)."""
    for c in range(group.num_columns):
        chunk = group.column(c)
        if chunk.path_in_schema == field:
            stats = chunk.statistics
            return stats is not None and stats.has_null_count and stats.null_count == 0
    return False


CHECK_BYTES = 64 << 20  # JSON lines read ahead for malformed records before a scan is queued


class RecordFiles(Corpus):
    """Records in files under a root: ``{"kind": "records", "root", "files": [relative
    paths], "text_field"}``."""

    kind = "records"

    def __init__(self, spec: dict):
        super().__init__(spec)
        self._root = spec["root"]
        self._field = spec.get("text_field", "content")
        self._parts: list[tuple[int, int | None, int]] | None = None  # file, row group, first row
        self._null_free: set[int] = set()  # Parquet shards whose statistics say their text holds no null
        self._shards: list[Shard] | None = None

    def _path(self, file: int) -> str:
        rel = self.spec["files"][file]
        return urls.join(self._root, rel) if urls.is_url(self._root) else os.path.join(self._root, rel)

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
                            if _no_null(group, self._field):
                                self._null_free.add(len(shards))
                            parts.append((file, g, first))
                            shards.append(Shard(len(shards), label, size))
                            first += group.num_rows
                else:
                    try:
                        size = urls.size(path) if urls.is_url(path) else os.path.getsize(path)
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
                    raise InputError(f"field {self._field!r} is null", path, at, field="text_field")
                for data in column.cast(as_type).to_pylist():
                    row += 1
                    yield Document(f"{rel}:{row}", data)
                if progress is not None:
                    progress(size * (row - first) // max(rows, 1))
        if progress is not None:
            progress(size)

    def check_records(self, budget: int = CHECK_BYTES) -> None:
        """Read ahead for malformed records before a scan is queued: every line of the
        corpus's first ``budget`` bytes of JSON lines (all of a corpus up to that size),
        and the first record of every other file (a wrong format or text field anywhere);
        a null text in a Parquet row group from its statistics (read, within the budget,
        where the file keeps none).
        Parsing runs at some 100-300 MB/s, so a whole 50 GB corpus would hold the launch
        for minutes; past the budget a malformed line stops the scan job instead, with
        its file and line, and the shards done before it are kept."""
        left = budget
        self.shards()
        for index, (_, group, _) in enumerate(self._parts):
            if group is not None:  # Parquet: its schema was checked when the shards were listed
                if index not in self._null_free and left:
                    left = max(left - self._shards[index].size, 0)
                    for _ in self.documents(index):  # a null stops here, with its row
                        pass
                continue
            read = [0]  # bytes of the file read so far, as its reader reports them (every 4 MB)
            docs = self.documents(index, progress=lambda done, read=read: read.__setitem__(0, done))
            try:
                for _ in docs:
                    if read[0] >= left:  # the budget is spent: this file's first record was read
                        break
            finally:
                docs.close()
            left = max(left - read[0], 0)

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
