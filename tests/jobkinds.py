"""Job kinds used only by the tests of the job runner."""
from __future__ import annotations

import time

from engine.errors import InputError


def count(ctx) -> None:
    for i in range(5):
        ctx.check_cancel()
        ctx.progress((i + 1) / 5, f"step {i + 1}", force=True)


def spin(ctx) -> None:
    deadline = time.time() + 30
    while time.time() < deadline:
        ctx.check_cancel()
        time.sleep(0.05)


def bad_input(ctx) -> None:
    raise InputError("missing field 'x'", "data.jsonl", 3)


def crash(ctx) -> None:
    raise RuntimeError("boom")


def nap(ctx) -> None:
    """A second and a half of work that records the process it ran in."""
    import os

    for i in range(15):
        ctx.check_cancel()
        time.sleep(0.1)
    ctx.progress(1.0, f"pid {os.getpid()}", force=True)


def stopped_between_reports(ctx) -> None:
    """Three units done in quick succession, the last two held back by the rate limit,
    then a cancel (a sampling job whose in-flight batch was stored after the request)."""
    from engine.errors import JobCancelled

    for i in range(3):
        ctx.progress((i + 1) / 10, f"{i + 1}/10 outputs")
    raise JobCancelled()
