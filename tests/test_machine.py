"""The worker's machine: /proc and nvidia-smi read by hand, the sampler's CPU share over
two readings, the sparklines, the worker's sampling thread, and the dashboard's line."""
from __future__ import annotations

import os
import time

import pytest

from engine.jobs import WorkerLock
from engine.machine import Sampler, cpu_times, memory, nvidia_smi, start_sampling
from engine.overview import machine_line, overview, sparkline
from engine.store import Store

STAT = "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 50 0 25 400 25 0 0 0 0 0\n"
MEMINFO = "MemTotal:       16000000 kB\nMemFree:         1000000 kB\nMemAvailable:    4000000 kB\n"


def test_proc_and_nvidia_smi_by_hand():
    assert cpu_times(STAT) == (150, 1000)  # busy = all - idle (800) - iowait (50)
    assert cpu_times("intr 1 2\n") is None
    assert memory(MEMINFO) == (12_000_000 * 1024, 16_000_000 * 1024)
    assert memory("MemTotal: 10 kB\n") is None
    assert nvidia_smi("61440, 81920, 97\n1024, 81920, 0\nbad line\n") == [
        [61440 * 2**20, 81920 * 2**20, 0.97], [1024 * 2**20, 81920 * 2**20, 0.0]]


def test_the_cpu_share_is_over_the_time_between_two_samples(tmp_path):
    (tmp_path / "stat").write_text(STAT)
    (tmp_path / "meminfo").write_text(MEMINFO)
    sampler = Sampler(tmp_path)
    first = sampler.sample()
    assert first["cpu"] is None and first["ram_total"] == 16_000_000 * 1024
    (tmp_path / "stat").write_text("cpu  160 0 90 880 70 0 0 0 0 0\n")  # +100 busy of +200
    assert sampler.sample()["cpu"] == pytest.approx(0.5)
    nothing = Sampler(tmp_path / "none").sample()  # no /proc: no CPU or memory figure
    assert (nothing["cpu"], nothing["ram_used"], nothing["ram_total"]) == (None, None, None)


def test_sparklines_and_the_machine_line_by_hand():
    assert sparkline([0.0, 0.5, 1.0, None, 0.99]) == "▁▅█ █"
    assert sparkline([5.0, 10.0], top=10.0) == "▅█"
    assert len(sparkline([0.1] * 100)) == 24  # the last 24 only
    now = 1000.0
    samples = [{"time": now - 10, "cpu": 0.25, "ram_used": 6e9, "ram_total": 24e9, "gpus": [[30e9, 80e9, 0.5]]},
               {"time": now - 5, "cpu": 0.75, "ram_used": 12e9, "ram_total": 24e9, "gpus": [[61e9, 80e9, 0.97]]}]
    assert machine_line(samples, now) == "cpu ▃▇ 75% · ram ▃▅ 12.0/24.0 GB · gpu0 ▅█ 97% 61/80 GB"
    assert machine_line(samples, now + 120) == ""  # no sample in the last minute: no line
    assert machine_line([], now) == ""


def test_the_worker_samples_its_machine_and_the_dashboard_shows_it(tmp_path):
    store = Store(tmp_path / "t.db")
    stop = start_sampling(store.path, every_s=0.05)
    time.sleep(0.6)
    stop.set()
    time.sleep(0.1)
    rows = store.machine_samples(0)
    assert len(rows) >= 3 and all(r["pid"] == os.getpid() for r in rows)
    if os.path.exists("/proc/meminfo"):
        assert all(0 < r["ram_used"] < r["ram_total"] for r in rows)
        assert all(r["cpu"] is not None and 0 <= r["cpu"] <= 1 for r in rows)
    assert overview(store, time.time()).machine == ""  # no worker holds the database
    lock = WorkerLock(store)
    assert lock.acquire()
    try:
        assert overview(store, time.time()).machine.startswith("cpu ") or not os.path.exists("/proc/stat")
    finally:
        lock.release()
    store.close()
