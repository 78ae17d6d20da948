"""What the worker's machine is doing, sampled every few seconds into the store while the
worker runs (:func:`start_sampling`) and drawn as sparklines on the dashboard: the CPUs'
busy share and the memory in use (from ``/proc``; none elsewhere), and each GPU's memory in
use and utilisation (``nvidia-smi``, else ``torch.cuda`` where the worker has it loaded).
Samples older than :data:`KEEP_S` are dropped as new ones come."""
from __future__ import annotations

import sys
import threading
from pathlib import Path

EVERY_S = 5.0
KEEP_S = 3600.0


def cpu_times(stat_text: str) -> tuple[int, int] | None:
    """``(busy, total)`` jiffies of all CPUs from the first line of ``/proc/stat``
    (idle and iowait count as not busy)."""
    first = stat_text.split("\n", 1)[0].split()
    if not first or first[0] != "cpu":
        return None
    values = [int(v) for v in first[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


def memory(meminfo_text: str) -> tuple[int, int] | None:
    """``(used, total)`` bytes from ``/proc/meminfo``: total minus what is available."""
    fields = {}
    for line in meminfo_text.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            fields[name] = int(parts[0]) * 1024
    if "MemTotal" not in fields or "MemAvailable" not in fields:
        return None
    return fields["MemTotal"] - fields["MemAvailable"], fields["MemTotal"]


class Sampler:
    """Successive samples: the CPU share is over the time since the previous one."""

    def __init__(self, proc: Path = Path("/proc")):
        self.proc = proc
        self.last: tuple[int, int] | None = None

    def _read(self, name: str) -> str | None:
        try:
            return (self.proc / name).read_text()
        except OSError:
            return None

    def sample(self) -> dict:
        """``cpu`` (0..1, None for the first sample), ``ram_used``, ``ram_total`` (bytes),
        and ``gpus``: per CUDA device ``[memory used, memory total, utilisation 0..1 or
        None]`` when torch is loaded with CUDA, else an empty list."""
        out: dict = {"cpu": None, "ram_used": None, "ram_total": None, "gpus": []}
        stat = self._read("stat")
        times = cpu_times(stat) if stat else None
        if times and self.last and times[1] > self.last[1]:
            out["cpu"] = (times[0] - self.last[0]) / (times[1] - self.last[1])
        self.last = times or self.last
        info = self._read("meminfo")
        mem = memory(info) if info else None
        if mem:
            out["ram_used"], out["ram_total"] = mem
        out["gpus"] = gpu_sample()
        return out


def nvidia_smi(text: str) -> list[list]:
    """Per GPU ``[used, total, utilisation]`` (bytes, bytes, 0..1) from ``nvidia-smi
    --query-gpu=memory.used,memory.total,utilization.gpu --format=csv,noheader,nounits``
    (MiB and percent); a line it cannot read is left out."""
    gpus = []
    for line in text.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        try:
            used, total, util = float(parts[0]), float(parts[1]), float(parts[2])
        except (IndexError, ValueError):
            continue
        gpus.append([used * 2**20, total * 2**20, util / 100.0])
    return gpus


def gpu_sample() -> list[list]:
    """Per GPU ``[used, total, utilisation or None]``: from ``nvidia-smi`` where it is
    installed (it sees every job's process, a worker's slots included), else from torch
    where this process has it loaded with CUDA already (the sampler never imports it)."""
    import shutil
    import subprocess

    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            done = subprocess.run([smi, "--query-gpu=memory.used,memory.total,utilization.gpu",
                                   "--format=csv,noheader,nounits"], capture_output=True, text=True, timeout=2.0)
            if done.returncode == 0:
                return nvidia_smi(done.stdout)
        except (OSError, subprocess.SubprocessError):
            pass
    torch = sys.modules.get("torch")
    if torch is None:
        return []
    try:
        if not torch.cuda.is_available() or not torch.cuda.is_initialized():
            return []
        gpus = []
        for index in range(torch.cuda.device_count()):
            free, total = torch.cuda.mem_get_info(index)
            try:
                util = torch.cuda.utilization(index) / 100.0
            except Exception:  # noqa: BLE001 - NVML missing or refused: no utilisation
                util = None
            gpus.append([total - free, total, util])
        return gpus
    except Exception:  # noqa: BLE001 - a driver in trouble: no GPU figures this time
        return []


def start_sampling(db_path: Path, every_s: float = EVERY_S) -> threading.Event:
    """A daemon thread that records a sample every ``every_s`` seconds with a store of its
    own, until the returned event is set."""
    from engine.store import Store

    stop = threading.Event()

    def loop() -> None:
        store = Store(db_path)
        sampler = Sampler()
        sampler.sample()  # the CPU share needs a first reading
        try:
            while not stop.wait(every_s):
                try:
                    store.add_machine_sample(sampler.sample(), keep_s=KEEP_S)
                except Exception:  # noqa: BLE001 - a busy or full database: the next sample tries again
                    continue
        finally:
            store.close()

    threading.Thread(target=loop, name="machine-sampler", daemon=True).start()
    return stop
