"""The one exception type for bad input.

Every user-facing mistake (a malformed file, a missing field, an out-of-range value, an
unknown name, a missing path) is raised as :class:`InputError` with one line that names
the problem, and the file and line where there is one. The command line prints that line
and exits with status 2; nothing else is shown. ``field`` names the option or form field
the value came from (``train``, ``seq_len``), so a form can mark it.
"""
from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """Bad input from the user: reported as one line, exit status 2."""

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None,
                 field: str | None = None):
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + message)
        self.path = None if path is None else str(path)
        self.line = line
        self.field = field


class JobCancelled(Exception):
    """Raised inside a job when the user has asked for it to stop."""
