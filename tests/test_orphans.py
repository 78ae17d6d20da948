"""engine.orphans: a helper process ends with the process that started it, through the
kernel's parent-death signal (Linux) or, anywhere, its watching thread."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO

from engine.store.queue import process_alive

# the middle process starts a helper that calls die_with_parent (with the Linux signal
# left out when asked: the watching thread alone), prints its pid, and sleeps
MIDDLE = """
import subprocess, sys, time
helper = subprocess.Popen([sys.executable, "-P", "-c", sys.argv[1], sys.argv[2]])
print(helper.pid, flush=True)
time.sleep(60)
"""
HELPER = """
import os, sys, time
if sys.argv[1] == "thread":
    sys.platform = "other"  # no PR_SET_PDEATHSIG: the thread must do it
from engine.orphans import die_with_parent
die_with_parent(os.getppid(), every_s=0.1 if sys.platform == "other" else 60)  # the signal alone
time.sleep(60)
"""


def _gone(pid: int, within: float) -> bool:
    end = time.time() + within
    while time.time() < end:
        if not process_alive(pid):  # gone, or a zombie
            return True
        time.sleep(0.05)
    return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("how", ["signal", "thread"])
def test_a_helper_ends_with_its_parent(how):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    middle = subprocess.Popen([sys.executable, "-P", "-c", MIDDLE, HELPER, how], stdout=subprocess.PIPE, env=env,
                              text=True)
    helper = int(middle.stdout.readline())
    try:
        time.sleep(0.5)  # the helper has started watching
        assert not _gone(helper, 0.2)
        middle.kill()
        middle.wait()
        assert _gone(helper, 3.0), f"the helper outlived its parent ({how})"
    finally:
        if middle.poll() is None:
            middle.kill()
        try:
            os.kill(helper, signal.SIGKILL)
        except OSError:
            pass
