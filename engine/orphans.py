"""Helper processes that die with the process that started them.

A scan's pool workers (:mod:`engine.clones.scan`) hold the filter index, some 100 MB
each; when the worker that runs the scan is killed (``kill -9``, the OOM killer, a lost
node), they must not live on as orphans. Each calls :func:`die_with_parent` first: on
Linux the kernel sends it SIGKILL when its parent dies (``PR_SET_PDEATHSIG``), and on
every POSIX system a daemon thread checks twice a second that its parent is still the
one it started under (an orphan is handed to another process).
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
CHECK_EVERY_S = 0.5


def die_with_parent(parent: int, every_s: float = CHECK_EVERY_S) -> None:
    """End this process when process ``parent`` (its parent when it started) ends; at
    once if it already has."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the thread below still watches
    if os.getppid() != parent:  # the parent died before the line above ran
        os._exit(1)
    threading.Thread(target=_watch, args=(parent, every_s), name="die-with-parent", daemon=True).start()


def _watch(parent: int, every_s: float) -> None:
    event = threading.Event()
    while not event.wait(every_s):
        if os.getppid() != parent:
            os._exit(1)
