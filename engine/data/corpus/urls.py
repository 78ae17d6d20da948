"""Corpora at a URL (``s3://bucket/corpus/``, ``gs://...``, ``hf://datasets/...``,
``memory://...``), read through fsspec, so that the nodes of a Ray cluster read their shards
themselves: the same listing rules as a local directory (:func:`list_files`), each file read
whole or opened as a stream. A local path never comes here: it keeps the local fast path.
"""
from __future__ import annotations

import fnmatch
import re

from engine.errors import InputError

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")


def is_url(source: str) -> bool:
    """Whether ``source`` names a location by a URL (``scheme://...``), not a local path."""
    return bool(_URL.match(source))


def url_fs(url: str):
    """``(filesystem, path within it)`` for ``url``; one line when its scheme has no fsspec
    driver (unknown, or its package not installed)."""
    import fsspec

    scheme = url.split("://", 1)[0]
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as exc:
        raise InputError(f"reading {scheme}:// needs a package that is not installed ({exc})", url) from None
    except ValueError as exc:
        raise InputError(f"no fsspec driver for {scheme}:// ({exc})", url) from None


def join(root: str, rel: str) -> str:
    return root.rstrip("/") + "/" + rel


def list_files(root: str, glob: str | None) -> list[tuple[str, int]]:
    """``(relative path, size)`` of the files under the URL ``root`` whose name matches
    ``glob``, sorted; hidden files and folders, and the folders a local walk skips, left
    out (:func:`engine.data.corpus.files.walk`'s rules)."""
    from engine.data.sources import SKIPPED_DIRS

    fs, base = url_fs(root)
    match = re.compile(fnmatch.translate(glob)).match if glob else None
    base = base.rstrip("/")
    found = []
    try:
        entries = fs.find(base, detail=True)
    except OSError as exc:
        raise InputError(f"cannot list: {exc}", root) from None
    for path, info in entries.items():
        if info.get("type", "file") != "file":
            continue
        rel = path[len(base):].lstrip("/")
        parts = rel.split("/")
        if any(p.startswith(".") for p in parts) or any(p in SKIPPED_DIRS for p in parts[:-1]):
            continue
        if match is None or match(parts[-1]):
            found.append((rel, int(info.get("size") or 0)))
    found.sort()
    return found


def read_bytes(path: str) -> bytes:
    fs, inner = url_fs(path)
    try:
        return fs.cat_file(inner)
    except OSError as exc:
        raise InputError(f"cannot read: {exc}", path) from None


def open_binary(path: str):
    """A binary file object for the URL ``path`` (a stream: big files are not read whole)."""
    fs, inner = url_fs(path)
    try:
        return fs.open(inner, "rb")
    except OSError as exc:
        raise InputError(f"cannot read: {exc}", path) from None


def size(path: str) -> int:
    fs, inner = url_fs(path)
    try:
        return int(fs.size(inner))
    except OSError as exc:
        raise InputError(f"cannot read: {exc}", path) from None


def kind_of(url: str) -> str:
    """``dir``, ``file`` or ``missing``."""
    fs, inner = url_fs(url)
    try:
        if fs.isdir(inner):
            return "dir"
        return "file" if fs.isfile(inner) else "missing"
    except OSError:
        return "missing"
