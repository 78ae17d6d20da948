"""Walking a source tree: which files a dataset builder reads."""
from __future__ import annotations

import codecs
import os
from pathlib import Path
from typing import Iterator

from engine.errors import InputError

# never data: caches, and installed third-party packages below a source tree (a Python's
# standard-library folder holds its site-packages)
SKIPPED_DIRS = ("__pycache__", "site-packages", "dist-packages")


def source_files(root: Path, suffix: str) -> list[str]:
    """Relative POSIX paths of the ``suffix`` files under ``root``, sorted; hidden folders
    and :data:`SKIPPED_DIRS` are not entered."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS]
        for name in files:
            path = Path(folder, name)
            if name.endswith(suffix) and path.is_file():
                found.append(path.relative_to(root).as_posix())
    return sorted(found)


def read_utf8_source(root: Path, relpath: str) -> bytes | None:
    """A source file's bytes without a UTF-8 BOM, or None if it is not UTF-8 (the
    builders skip and count those)."""
    try:
        data = (root / relpath).read_bytes().removeprefix(codecs.BOM_UTF8)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", root / relpath) from None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return data


def utf8_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(1-based line number, text)`` of a dataset file; a line that is not UTF-8 is an
    :class:`InputError` naming the file and line."""
    with open(path, "rb") as fh:
        for lineno, data in enumerate(fh, 1):
            try:
                yield lineno, data.decode("utf-8")
            except UnicodeDecodeError:
                raise InputError("not valid UTF-8", path, lineno) from None
