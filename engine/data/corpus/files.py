"""A directory of source files (or one file): each file a document, its relative POSIX
path the id; consecutive files grouped into shards of about ``shard_bytes``."""
from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterator
from pathlib import Path

from engine.data.corpus import urls
from engine.data.corpus.base import _BOM, PROGRESS_STEP, Corpus, Document, Progress, Shard, human_size
from engine.data.sources import SKIPPED_DIRS
from engine.errors import InputError


def walk(root: Path, glob: str | None, readable: bool = False) -> list[tuple[str, int]]:
    """``(relative POSIX path, size)`` of the matching regular files under ``root``, sorted;
    a folder this process may not read is an InputError, and with ``readable`` a file too
    (a corpus the user names, checked before its scan is queued: a system call a file)."""
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
                        if readable and not os.access(entry.path, os.R_OK):  # now, not in the scan's job
                            raise InputError("cannot read: permission denied", entry.path)
                        found.append((rel + name, entry.stat().st_size))
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", folder) from None
    found.sort()
    return found


def _read_whole(path: str, size: int) -> bytes:
    """A file's bytes, read up to its end whatever its size now (``size``, as walked, is the
    first read's length): with two system calls, not the file object's machinery (a third
    less time on a corpus of small files)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        parts = []
        want = size + 1
        while piece := os.read(fd, want):
            parts.append(piece)
            want = 1 << 20
        return parts[0] if len(parts) == 1 else b"".join(parts)
    finally:
        os.close(fd)


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
            remote = urls.is_url(self._root)
            if "files" in spec:
                files = []
                for name in spec["files"]:
                    if remote:
                        files.append((name, urls.size(urls.join(self._root, name))))
                        continue
                    try:
                        files.append((name, os.stat(os.path.join(self._root, name)).st_size))
                    except OSError as exc:
                        raise InputError(f"cannot read: {exc.strerror}", Path(self._root, name)) from None
            else:
                files = urls.list_files(self._root, spec.get("glob")) if remote else walk(Path(self._root),
                                                                                         spec.get("glob"))
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
        remote = urls.is_url(root)
        done = reported = 0
        for rel, size in self._files[a:b]:
            if remote:
                data = urls.read_bytes(urls.join(root, rel))
            else:
                path = os.path.join(root, rel)
                try:
                    data = _read_whole(path, size)
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
        if urls.is_url(self._root):
            return urls.read_bytes(urls.join(self._root, doc_id)).removeprefix(_BOM)
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
