"""Run ``byrote`` in a real pseudo-terminal: send keys, wait for text, collect the output."""
from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ANSI = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[()][0-9A-B]|\x1b[=>78]")


class PtyApp:
    """A process on the slave side of a pty of ``cols`` x ``rows``."""

    def __init__(self, args: list[str], cols: int = 80, rows: int = 24, env: dict | None = None):
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        full_env = {**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor", **(env or {})}
        full_env.pop("TEXTUAL", None)
        # a session of its own whose controlling terminal is the pty, as under sshd: closing
        # the master side hangs the session up (SIGHUP)
        self.proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=full_env, cwd=REPO,
                                     start_new_session=True, close_fds=True,
                                     preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
        os.close(slave)
        self.master = master
        self.raw = b""
        self.t0 = time.monotonic()

    def read(self, timeout: float = 0.1) -> None:
        while self.master >= 0:
            ready, _, _ = select.select([self.master], [], [], timeout)
            if not ready:
                return
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # the slave side closed: the process is gone
                return
            if not chunk:
                return
            self.raw += chunk
            timeout = 0.0

    def text(self) -> str:
        """The output with escape sequences removed (what a reader sees, unordered)."""
        return ANSI.sub(b"", self.raw).decode("utf-8", "replace")

    def wait_for(self, needle: str, timeout: float = 15.0) -> float:
        """Seconds from the start until ``needle`` appeared in the output."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.read(0.05)
            if needle in self.text():
                return time.monotonic() - self.t0
            if self.proc.poll() is not None:
                self.read(0.1)
                break
        raise AssertionError(f"{needle!r} did not appear; output ends with:\n{self.text()[-2000:]}")

    def send(self, keys: str, settle: float = 0.3) -> None:
        os.write(self.master, keys.encode())
        time.sleep(settle)
        self.read(0.05)

    def hangup(self) -> None:
        """Lose the terminal: close the master side, as a dropped SSH connection does."""
        os.close(self.master)
        self.master = -1

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def finish(self, timeout: float = 10.0) -> int:
        """The exit status, once the process ends (killed after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            if self.master >= 0:
                self.read(0.05)
            else:
                time.sleep(0.05)
        self.kill()
        code = self.proc.wait()
        if self.master >= 0:
            self.read(0.1)
            os.close(self.master)
            self.master = -1
        return code

    def __enter__(self) -> "PtyApp":
        return self

    def __exit__(self, *exc) -> None:
        self.kill()  # a failed test leaves no app behind


def byrote(db: Path, *more: str) -> list[str]:
    return [sys.executable, "-m", "cli.main", "--db", str(db), *more]
