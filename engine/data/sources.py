"""Walking a source tree: which files a dataset builder reads."""
from __future__ import annotations

import os
from pathlib import Path

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
