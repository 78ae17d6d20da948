"""Atomic file output: nothing partial is ever left behind.

Writers produce a temporary file beside the target and rename it into place only when
the whole content is written, so a crash, an error or a kill leaves either the old file
or none, never half of a new one.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path
from typing import IO, Iterator


def _file_mode() -> int:
    """0666 less the process umask, read once (os.umask is process-wide, not thread-safe)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _file_mode()


def _os_error(exc: OSError, target: Path):
    from engine.errors import InputError

    return InputError(exc.strerror or str(exc), target)


_PROTECTED: dict[str, str] = {}  # real path -> what it is: files no output may replace


def protect(what: str, *paths: str | Path) -> None:
    """Refuse, in this process, any output (:func:`atomic_paths`) onto ``paths``: the open
    store's database and its journal files."""
    for path in paths:
        _PROTECTED[os.path.realpath(path)] = what


def check_output(target: str | Path, inputs: tuple[str | Path, ...] = ()) -> Path:
    """``target`` as a Path, refused (InputError) when it names a folder rather than a file
    (``''``, ``.``, ``/``), or a protected file (:func:`protect`) or one of the command's
    ``inputs``, through a link too."""
    from engine.errors import InputError

    target = Path(target)
    if target.name in ("", ".", ".."):
        raise InputError("names a folder, not a file", target)
    guarded = {**_PROTECTED, **{os.path.realpath(p): "the input file" for p in inputs}}
    real = os.path.realpath(target)
    what = guarded.get(real)
    if what is None and target.exists():
        what = next((w for p, w in guarded.items() if os.path.exists(p) and os.path.samefile(p, target)), None)
    if what is not None:
        raise InputError(f"is {what}: it would be overwritten", target)
    return target


OPEN = -1  # a stream written by opening its path (else through a descriptor of this process)


def _stream(target: Path) -> int | None:
    """Whether an output named ``target`` is a stream: None for a file, replaced whole;
    else :data:`OPEN`, or the descriptor it is written through.

    - A link is replaced, never followed: what it names stays as it was (an export's
      folder holding a link to another file cannot write there).
    - This process's standard output or error (``/dev/stdout``, whatever it leads to: a
      file opened for appending, a pipe) is written through its descriptor, after what
      the process wrote there.
    - A character device or a pipe (``/dev/null``, a FIFO) is written in place, never
      replaced.
    - A terminal, and any other file that is not a regular one (a socket, a block
      device), is refused.
    """
    from engine.errors import InputError

    try:
        st = os.stat(target)  # through links
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _os_error(exc, target) from None
    if stat.S_ISCHR(st.st_mode) and _is_terminal(target):  # its text is untrusted: never raw onto a terminal
        raise InputError("is a terminal: the file's text would reach it raw; give a file, or a pipe (| less)",
                         target)
    for fd in (1, 2):
        with contextlib.suppress(OSError):
            own = os.fstat(fd)
            if (own.st_dev, own.st_ino) == (st.st_dev, st.st_ino):
                return fd
    if stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode):
        return OPEN
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        raise InputError("is not a regular file (a socket or a block device)", target)
    return None


def _write_stream(tmp: Path, target: Path, stream: int) -> None:
    """The finished temporary file's bytes into a stream (:func:`_stream`)."""
    if stream == OPEN:
        dst = open(target, "wb")  # noqa: SIM115  (closed below)
    else:
        for out in {sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__} - {None}:
            out.flush()  # what the process printed there comes first
        dst = os.fdopen(os.dup(stream), "wb")
    with open(tmp, "rb") as src, dst:
        shutil.copyfileobj(src, dst)


def _is_terminal(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        return os.isatty(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_paths(*targets: str | Path) -> Iterator[list[Path]]:
    """Yield temporary paths beside ``targets``; move them all into place on success.

    The outputs of one command appear together or not at all: before anything is moved,
    every target is checked (a file name, not a protected file: :func:`check_output`; not a
    directory, its folder creatable); if the block fails,
    every temporary file is removed. An operating-system error names the user's target,
    never a temporary file, as an :class:`~engine.errors.InputError`. A target that is a
    stream (:func:`_stream`) gets its whole content once the others are in place.
    """
    paths = [check_output(t) for t in targets]
    streams = [_stream(t) for t in paths]
    temps: list[Path] = []
    made: list[Path] = []  # folders this call created, removed again on failure
    ok = False
    try:
        for target, stream in zip(paths, streams):
            try:
                if stream is None:
                    missing = [d for d in (target.parent, *target.parent.parents) if not d.exists()]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    made.extend(reversed(missing))
                fd, tmp = tempfile.mkstemp(prefix=f".{target.name[:100]}.", suffix=f".tmp{target.suffix[:20]}",
                                           dir=target.parent if stream is None else None)
            except OSError as exc:
                raise _os_error(exc, target) from None
            os.close(fd)
            temps.append(Path(tmp))
        yield temps
        for target, stream in zip(paths, streams):
            if stream is None and target.is_dir():
                from engine.errors import InputError

                raise InputError("is a directory", target)
        moved: list[Path] = []
        for tmp, target, stream in zip(temps, paths, streams):
            if stream is not None:
                continue
            try:
                os.chmod(tmp, _FILE_MODE)  # mkstemp makes 0600; give the usual mode
                os.replace(tmp, target)
            except OSError as exc:
                for done in moved:  # keep all-or-nothing as far as the system lets us
                    done.unlink(missing_ok=True)
                raise _os_error(exc, target) from None
            moved.append(target)
        for tmp, target, stream in zip(temps, paths, streams):
            if stream is not None:
                try:
                    _write_stream(tmp, target, stream)
                except BrokenPipeError:  # its reader stopped early (| head): the command's to handle
                    raise
                except OSError as exc:
                    raise _os_error(exc, target) from None
        ok = True
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
        if not ok:
            for folder in reversed(made):  # deepest first; only if still empty
                try:
                    folder.rmdir()
                except OSError:
                    pass


def remove_partial(folder: Path) -> None:
    """The temporary files that :func:`atomic_paths` left in ``folder`` when its process
    was killed before it could remove them (``kill -9``, a power cut, a cancelled pool)."""
    for tmp in Path(folder).glob(".*.tmp*"):
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; move it onto ``target`` on success."""
    with atomic_paths(target) as (tmp,):
        yield tmp


@contextlib.contextmanager
def atomic_open(target: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary file for writing; it replaces ``target`` only if the block succeeds."""
    if "b" in mode:
        encoding = None
    with atomic_path(target) as tmp:
        with open(tmp, mode, encoding=encoding) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())


def _require(path: str | Path, what: str, is_kind: str, other: str) -> Path:
    """``path`` as a Path if it exists and ``Path.<is_kind>()`` holds, else InputError: no
    such ``what``, or not one (``other`` says what it is instead)."""
    from engine.errors import InputError

    p = Path(path)
    if not p.exists():
        raise InputError(f"no such {what}", p)
    if not getattr(p, is_kind)():
        raise InputError(f"not a {what}{other}", p)
    return p


def require_file(path: str | Path, what: str = "file") -> Path:
    """Return ``path`` as a Path, or raise InputError if it is not an existing file."""
    return _require(path, what, "is_file", "")


def require_dir(path: str | Path, what: str = "directory") -> Path:
    """Return ``path`` as a Path, or raise InputError if it is not an existing directory
    (a file there is named as such, not as missing)."""
    return _require(path, what, "is_dir", " (a file)")
