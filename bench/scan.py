"""Throughput and memory of the clone scan (``byrote scan``) on real code.

The corpus is the ``.py`` files of this Python's installed packages (``purelib``, plus
the standard library when those hold under 200 MB), as a folder of symbolic links in a
temporary directory; ``--quick`` takes an evenly spread subset of about 50 MB. The
outputs (20,000 by default, 40-60 lines, about 512 tokens each) mix random slices of
corpus files, slices from a small pool that many outputs share, a licence header
planted in a quarter of them, and random generated lines, so every output holds clones.
The slices come from the files of the half corpus, so that the scans of the half and of
the whole corpus find the same copies and their peak RSS compares memory against corpus
size, not against a larger result.

Each scan runs as ``byrote scan --foreground`` in a fresh process (peak RSS from
``wait4``, i.e. the largest of that process and its worker processes); its phases come
from the scan's own records: the index files' times, the shards' finish times, the
stats, and its job's end (the saving of the results, after the scan's clock stops).
Measured in the same run:

- the filter pass with 1 worker (in-process) and with a pool of 2 workers: MB/s per
  worker, and the speed-up from 1 to 2; also per worker while filtering, from the seconds
  each shard records (the pool's start-up and a worker's idle end left out);
- the matching phase (regions against the outputs) separately;
- the filter pass alone, as a worker runs it (public functions of
  :mod:`engine.clones.filter`), in a fresh process without the store or the job thread,
  in wall-clock time and per CPU second (the latter holds up better on a busy machine);
- peak RSS of the scan with 1 worker on half the corpus and on all of it, and of the
  filter pass alone on both (the target: under 1 GB whatever the corpus size);
- the same scan and filter pass under the other rule set (``--rules``: ``simian``, the
  default, or ``lines``), and the ratios between the two;
- end to end per core: the whole process with 1 and 2 workers, and what the corpus's
  second half adds to it (the full corpus's process less the half's: both hold the same
  copies, so the rest, paid once per scan, is the process's start, the outputs' index,
  the matching and the saving); with it, the whole scan of 50 GB projected on 16 and on
  4 x 16 cores (the difference of two processes of 6-7 s moves by +-30 % between runs);
- a baseline: a plain Python loop that reads every file and looks up each line's
  stripped, lower-cased text in the outputs' line set, over the same corpus, and the
  scan's ratio against it (the issue: such a loop reaches about 50 MB/s, the scan must
  reach 150 MB/s per core). MB and GB are 10^6 and 10^9 bytes.

``--profile`` adds a cProfile of the filter pass on about 50 MB, in this process.
``--phases`` adds the matching of the full scan with one worker, run again in this process
on its shards' regions files, timed by step.
``--ray`` adds the full scan with the Ray executor on a local cluster of two nodes with one
CPU each (started and stopped here; its peak RSS is the driver's, the tasks run in Ray's
worker processes).

    .venv/bin/python bench/scan.py [--rules simian|lines] [--quick] [--outputs 20000] [--shard-mb 16] [--profile]
        [--phases] [--ray]
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.data.corpus import walk  # noqa: E402  (the scan's own rules for a directory)
from engine.formats.outputs_dir import write_output_dir  # noqa: E402
from engine.store import Store  # noqa: E402
from engine.clones.filter import read_regions  # noqa: E402

MB = 1e6
TARGET_MBS = 150.0     # per worker (core)
BASELINE_MBS = 50.0    # what the issue says a plain loop reaches
TARGET_RSS = 1e9       # bytes: 1 GB

APACHE_HEADER = """\
# Copyright 2020 The Authors. All rights reserved.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License."""

SYLLABLES = ("ka", "zu", "mo", "ri", "te", "la", "po", "ne", "vi", "sa", "do", "gu", "fe", "hi", "jo", "bar",
             "qux", "lem", "tor", "vak", "wen", "zip", "dex", "nul", "orb", "pix", "rag", "sol", "tam", "urn", "yex")


# -- the corpus ---------------------------------------------------------------------------
def source_roots() -> list[tuple[str, Path]]:
    paths = sysconfig.get_paths()
    roots = [("site", Path(paths["purelib"]))]
    site_bytes = sum(size for _, size in walk(roots[0][1], "*.py"))
    if site_bytes < 200 * MB:
        roots.append(("stdlib", Path(paths["stdlib"])))
    return roots


def corpus_files(roots: list[tuple[str, Path]]) -> list[tuple[str, Path, int]]:
    """(name in the view, real path, size) of every ``.py`` file the scan would take."""
    found = []
    for prefix, root in roots:
        found += [(f"{prefix}/{rel}", root / rel, size) for rel, size in walk(root, "*.py")]
    return found


def spread(files: list, limit_bytes: float) -> list:
    """Every n-th file so that the total is about ``limit_bytes`` (all when smaller)."""
    total = sum(f[2] for f in files)
    step = max(1, round(total / limit_bytes)) if total > limit_bytes else 1
    return files[::step]


def make_view(folder: Path, files: list[tuple[str, Path, int]]) -> int:
    """A folder of symbolic links to ``files``; their total size."""
    for name, real, _ in files:
        link = folder / name
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(real, link)
    return sum(f[2] for f in files)


# -- outputs with planted clones ------------------------------------------------------------
def licence_header(files: list[tuple[str, Path, int]], rng: random.Random) -> list[str]:
    """The comment block around an Apache licence notice in a corpus file (the constant
    one above if none is found among a few hundred files)."""
    for _, real, _ in rng.sample(files, min(len(files), 4000)):
        try:
            lines = real.read_text("utf-8").split("\n")
        except (UnicodeDecodeError, OSError):
            continue
        for i, line in enumerate(lines[:60]):
            if "Licensed under the Apache License, Version 2.0" in line:
                a = i
                while a > 0 and lines[a - 1].startswith("#"):
                    a -= 1
                b = i
                while b + 1 < len(lines) and lines[b + 1].startswith("#"):
                    b += 1
                if b - a + 1 >= 8:
                    return [s.rstrip("\r") for s in lines[a:b + 1]]
    return APACHE_HEADER.split("\n")


def random_line(rng: random.Random) -> str:
    def name() -> str:
        return "_".join("".join(rng.choices(SYLLABLES, k=rng.randint(1, 3))) for _ in range(rng.randint(1, 2)))

    indent = " " * (4 * rng.randint(0, 3))
    n = rng.randint(0, 9999)
    kind = rng.randrange(7)
    if kind == 0:
        return f"{indent}{name()} = {name()}({name()}, {n})"
    if kind == 1:
        return f"{indent}if {name()} > {n}:"
    if kind == 2:
        return f"{indent}return {name()}.{name()}({name()})"
    if kind == 3:
        return f"{indent}for {name()} in {name()}({n}):"
    if kind == 4:
        return f"{indent}{name()}.append({name()}[{n}])"
    if kind == 5:
        return f"{indent}# {' '.join(name() for _ in range(rng.randint(2, 6)))}"
    return ""


def make_outputs(files: list[tuple[str, Path, int]], n: int, seed: int) -> tuple[list[tuple[int, str]], dict]:
    rng = random.Random(seed)
    sources = []
    for _, real, _ in rng.sample(files, min(len(files), 3000)):
        try:
            lines = real.read_text("utf-8").split("\n")
        except (UnicodeDecodeError, OSError):
            continue
        if len(lines) >= 30:
            sources.append([s.rstrip("\r") for s in lines])

    def piece() -> list[str]:
        lines = rng.choice(sources)
        size = rng.randint(6, 16)
        start = rng.randrange(len(lines) - size)
        return lines[start:start + size]

    popular = [piece() for _ in range(40)]
    header = licence_header(files, rng)
    outputs, with_header, planted = [], 0, 0
    for i in range(1, n + 1):
        target = rng.randint(40, 60)
        lines = []
        if rng.random() < 0.25:
            lines += header
            with_header += 1
        while len(lines) < target:
            r = rng.random()
            if r < 0.35:
                lines += piece()
                planted += 1
            elif r < 0.45:
                lines += rng.choice(popular)
                planted += 1
            else:
                lines += [random_line(rng) for _ in range(rng.randint(1, 6))]
        outputs.append((i, "\n".join(lines) + "\n"))
    size = sum(len(t.encode()) for _, t in outputs)
    info = {"lines": sum(t.count("\n") for _, t in outputs) / n, "bytes": size / n,
            "with_header": with_header, "header_lines": len(header), "slices": planted}
    return outputs, info


# -- the baseline ----------------------------------------------------------------------------
def baseline(files: list[tuple[str, Path, int]], vocab: set[str]) -> tuple[float, float, int, int]:
    """A plain per-line loop over the corpus: wall and CPU seconds, bytes, lines found in ``vocab``."""
    found = total = 0
    c0 = time.thread_time()
    t0 = time.perf_counter()
    for _, real, _ in files:
        with open(real, "rb") as fh:
            data = fh.read()
        total += len(data)
        text = data.decode("utf-8", errors="replace")
        for line in text.split("\n"):
            key = line.strip().lower()
            if key in vocab:
                found += 1
    return time.perf_counter() - t0, time.thread_time() - c0, total, found


def read_all(files: list[tuple[str, Path, int]]) -> float:
    t0 = time.perf_counter()
    for _, real, _ in files:
        with open(real, "rb") as fh:
            fh.read()
    return time.perf_counter() - t0


# -- the scan in a fresh process --------------------------------------------------------------
def make_gzip_view(folder: Path, files: list[tuple[str, Path, int]], parts: int = 8) -> tuple[int, int]:
    """The corpus as codeparrot-clean ships its data: gzip JSON lines (default level),
    one record per file (``{"content": text}``) in ``parts`` files. Text bytes and bytes
    on disk."""
    import gzip
    import json

    folder.mkdir()
    text = disk = 0
    size = -(-len(files) // parts)
    for part in range(parts):
        path = folder / f"part-{part:02d}.jsonl.gz"
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            for _, real, _ in files[part * size:(part + 1) * size]:
                data = real.read_bytes()
                try:
                    content = data.decode("utf-8")
                except UnicodeDecodeError:
                    continue
                text += len(data)
                fh.write(json.dumps({"content": content}) + "\n")
        disk += path.stat().st_size
    return text, disk


def read_gzip_corpus(folder: Path) -> float:
    """CPU seconds for byrote's corpus reader (engine.data.corpus) to give every document
    of the gzip view, nothing else."""
    from engine.data.corpus import open_corpus

    c0 = time.process_time()
    corpus = open_corpus(str(folder), glob="*.jsonl.gz")
    for shard in corpus.shards():
        for _ in corpus.documents(shard):
            pass
    return time.process_time() - c0


def read_gzip_view(folder: Path) -> tuple[float, float]:
    """Seconds (wall, CPU) to decompress and parse every record of the gzip view with the
    standard library's gzip and json, nothing else: a control of the machine's speed."""
    import gzip
    import json

    t0, c0 = time.perf_counter(), time.process_time()
    for path in sorted(folder.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                json.loads(line)["content"].encode("utf-8")
    return time.perf_counter() - t0, time.process_time() - c0


def ray_worker_peaks() -> list[int]:
    """Peak RSS (VmHWM, bytes) of each Ray worker process started under this process (the
    local cluster's raylets start them; a worker's title is ``ray::...``), read from /proc
    while the cluster is up."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    peaks, stack = [], [os.getpid()]
    while stack:
        pid = stack.pop()
        for child in children.get(pid, []):
            stack.append(child)
            try:
                cmdline = (Path("/proc") / str(child) / "cmdline").read_bytes()
                status = (Path("/proc") / str(child) / "status").read_text()
            except OSError:
                continue
            if cmdline.startswith(b"ray::") or b"default_worker.py" in cmdline:  # workers retitle themselves
                peaks += [int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmHWM:")]
    return peaks


def byrote_command() -> list[str]:
    script = Path(sys.executable).with_name("byrote")
    if script.exists():
        return [sys.executable, str(script)]
    return [sys.executable, "-c", "import sys; from cli.main import main; sys.exit(main())"]


def run_process(command: list[str], log: Path) -> tuple[float, float, int, str]:
    """Wall seconds, CPU seconds and peak RSS in bytes (the process and its reaped
    children, from ``wait4``) and the last line it printed; exits with the log's tail if
    it fails."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH")))))
    start = log.stat().st_size if log.exists() else 0
    with open(log, "ab") as fh:
        fh.write(f"\n$ {' '.join(command[1:])}\n".encode())
        fh.flush()
        t0 = time.perf_counter()
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    with open(log, "rb") as fh:
        fh.seek(start)
        said = fh.read().decode("utf-8", "replace").strip().splitlines()
    if proc.returncode != 0:
        sys.exit(f"{' '.join(command[1:4])} failed ({proc.returncode}):\n" + "\n".join(said[-40:]))
    cpu = usage.ru_utime + usage.ru_stime
    return wall, cpu, usage.ru_maxrss * 1024, said[-1] if said else ""  # ru_maxrss is in KiB on Linux


def run_cli(db: Path, log: Path, *args: str) -> tuple[float, float, int]:
    wall, cpu, rss, _ = run_process([*byrote_command(), "--db", str(db), *args], log)
    return wall, cpu, rss


# The filter pass alone, as a scan's worker runs it, in a fresh process: prints bytes,
# wall and CPU seconds of the pass, seconds to load the index, and VmHWM (peak RSS) in bytes.
FILTER_ONLY = """
import os, sys, time
from pathlib import Path
from engine.clones.filter import FilterStats, filter_documents, write_regions
from engine.clones.index import load_filter_index
from engine.data.corpus import open_corpus
index_dir, view, shard_bytes, out = sys.argv[1:5]
part, parts = (int(sys.argv[5]), int(sys.argv[6])) if len(sys.argv) > 6 else (0, 1)
t0 = time.perf_counter()
table, windows, k, cs, rules = load_filter_index(Path(index_dir))
t1 = time.perf_counter()
corpus = open_corpus(view, glob=os.environ.get("BENCH_GLOB", "*.py"), shard_bytes=int(shard_bytes))
stats = FilterStats()
c2, t2 = time.thread_time(), time.perf_counter()
for shard in corpus.shards()[part::parts]:
    write_regions(Path(out), filter_documents(corpus.documents(shard), table, windows, k, cs, stats, rules=rules))
c3, t3 = time.thread_time(), time.perf_counter()
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(stats.bytes, t3 - t2, c3 - c2, t1 - t0, hwm * 1024)
"""


def filter_only(index_dir: Path, view: Path, shard_mb: float, log: Path, glob: str = "*.py") -> dict:
    out = view.with_name(view.name + "-regions.jsonl")
    os.environ["BENCH_GLOB"] = glob
    try:
        *_, said = run_process([sys.executable, "-c", FILTER_ONLY, str(index_dir), str(view),
                                str(int(shard_mb * (1 << 20))), str(out)], log)
    finally:
        os.environ.pop("BENCH_GLOB", None)
    nbytes, seconds, cpu, load, hwm = said.split()
    out.unlink()
    return {"bytes": int(nbytes), "seconds": float(seconds), "cpu": float(cpu), "load": float(load), "rss": int(hwm)}


def filter_pair(index_dir: Path, view: Path, shard_mb: float, log: Path) -> dict:
    """The filter pass alone in two processes at once, each on every other shard: the
    speed-up from 1 to 2 workers without a pool's start-up in the figure."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH")))))
    procs = []
    for part in (0, 1):
        out = view.with_name(f"{view.name}-regions-{part}.npz")
        procs.append((out, subprocess.Popen(
            [sys.executable, "-c", FILTER_ONLY, str(index_dir), str(view), str(int(shard_mb * (1 << 20))),
             str(out), str(part), "2"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
    said = []
    for out, proc in procs:
        stdout, stderr = proc.communicate()
        if proc.returncode:
            sys.exit(f"filter pass failed:\n{stderr[-3000:]}")
        said.append(stdout.strip().splitlines()[-1].split())
        out.unlink(missing_ok=True)
    nbytes = sum(int(x[0]) for x in said)
    seconds = max(float(x[1]) for x in said)
    return {"bytes": nbytes, "seconds": seconds, "mbs": nbytes / MB / seconds}


def scan(db: Path, log: Path, view: Path, workers: int, shard_mb: float, rules: str) -> dict:
    wall, cpu, rss = run_cli(db, log, "scan", "--outputs", "1", "--corpus", str(view), "--glob", "*.py",
                        "--foreground", "--workers", str(workers), "--shard-mb", f"{shard_mb:g}", "--rules", rules)
    store = Store(db)
    try:
        row = store.scans()[-1]
        if row["state"] != "done":
            sys.exit(f"scan {row['id']} ended {row['state']}:\n{log.read_text()[-3000:]}")
        stats = row["stats"]
        job = next(j for j in reversed(store.jobs()) if j["params"].get("scan_id") == row["id"])
        shards = store.finished_shards(row["id"])
        index_dir = store.scan_dir(row["id"]) / "index"
        index_end = max(p.stat().st_mtime for p in index_dir.iterdir())
        filter_end = max(r["finished"] for r in shards.values())
        start = row["finished"] - stats["seconds"]
        regions = region_bytes = 0
        for r in shards.values():
            path = store.files / r["path"]
            region_bytes += path.stat().st_size
            regions += len(read_regions(path))
        return {
            "id": row["id"], "workers": workers, "wall": wall, "cpu": cpu, "rss": rss, "stats": stats,
            "shards": len(shards), "index_s": index_end - start, "filter_s": filter_end - index_end,
            "match_s": row["finished"] - filter_end, "regions": regions, "region_bytes": region_bytes,
            "save_s": job["finished"] - row["finished"],  # the results' transaction (the scan's clock stops before)
            # worker seconds spent filtering, from each shard's own record (no pool start-up, no idling)
            "busy": sum(r["seconds"] for r in shards.values()),
            "busy_cpu": sum(r["cpu_seconds"] for r in shards.values()),
            "index_dir": index_dir,
        }
    finally:
        store.close()


def report_scan(r: dict, label: str, workers: int) -> None:
    """Print one scan's figures (and add its rates to ``r``)."""
    s = r["stats"]
    r["mbs"] = s["bytes"] / MB / r["filter_s"]
    r["busy_mbs"], r["busy_cpu_mbs"] = s["bytes"] / MB / r["busy"], s["bytes"] / MB / r["busy_cpu"]
    print(f"scan {r['id']} ({label}): {s['bytes'] / MB:.1f} MB, {s['docs']:,} documents "
          f"({s['skipped']} not UTF-8), {r['shards']} shards; index {r['index_s']:.2f} s, "
          f"filter {r['filter_s']:.2f} s = {r['mbs']:.1f} MB/s ({r['mbs'] / workers:.1f} per worker; "
          f"{r['busy_mbs']:.1f} per worker while filtering, {r['busy_cpu_mbs']:.1f} per CPU second), "
          f"matching {r['match_s']:.2f} s ({r['regions']:,} regions, {r['region_bytes'] / MB:.1f} MB), "
          f"saving {r['save_s']:.2f} s; "
          f"scan {s['seconds']:.2f} s, process {r['wall']:.2f} s ({r['cpu']:.2f} CPU s); "
          f"{s['snippets']:,} snippets in "
          f"{s['memorized_outputs']:,}/{s['outputs']:,} outputs; peak RSS {r['rss'] / MB:,.0f} MB")


def ray_scan(db: Path, log: Path, view: Path, shard_mb: float, rules: str) -> dict:
    """The scan with the Ray executor, on a local cluster started here (a head and a second
    node, 1 CPU each), stopped after."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    saved = dict(os.environ)
    os.environ.update(BYROTE_EXECUTOR="ray", BYROTE_RAY_ADDRESS=cluster.address)
    try:
        result = scan(db, log, view, 1, shard_mb, rules)
        result["worker_peaks"] = ray_worker_peaks()
        return result
    finally:
        os.environ.clear()
        os.environ.update(saved)
        cluster.shutdown()


def kernel_state() -> str:
    try:
        from engine.clones import linekeys
    except ImportError:
        return "absent (engine.clones.linekeys not present)"
    import engine.clones.filter as filt

    built = bool(getattr(linekeys, "compiled", False))
    used = any(v is linekeys or getattr(v, "__module__", None) == linekeys.__name__ for v in vars(filt).values())
    return (f"{'built' if built else 'not built (pure-Python path)'}; "
            f"{'used' if used else 'not used'} by engine.clones.filter")


def profile_filter(files: list[tuple[str, Path, int]], index_dir: Path, limit_bytes: float) -> None:
    """cProfile of the filter pass (engine.clones.filter.filter_documents) in this process."""
    from engine.clones.filter import FilterStats, filter_documents
    from engine.clones.index import load_filter_index
    from engine.data.corpus import Document

    vocab, windows, k, cs, rules = load_filter_index(index_dir)
    subset = spread(files, limit_bytes)

    def documents():
        for name, real, _ in subset:
            with open(real, "rb") as fh:
                yield Document(name, fh.read())

    stats = FilterStats()
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    regions = sum(len(batch) for batch in filter_documents(documents(), vocab, windows, k, cs, stats, rules=rules))
    prof.disable()
    seconds = time.perf_counter() - t0
    print(f"\nprofile of the filter pass on {stats.bytes / MB:.1f} MB ({stats.docs} documents, {regions} regions): "
          f"{seconds:.2f} s under cProfile = {stats.bytes / MB / seconds:.1f} MB/s")
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(14)
    print("\n".join(line for line in out.getvalue().splitlines()[4:] if line.strip()))


PHASES = (("_distinct_regions", "distinct regions"), ("stretch_columns", "output stretches"),
          ("_joined", "text"), ("_dense", "renumbering"), ("_snippets", "blocks' snippets"),
          ("attach_texts", "snippets' texts"))
# in a thread, beside the matching's reading of the outputs' lines (output_lines) and the
# line hashes (the index's line_hashes): the suffix array and the lcp-intervals
THREAD = (("sorted_suffixes", "suffix array"), ("_reported", "lcp-intervals and witnesses"))
BESIDE = (("output_lines", "the outputs' lines read ahead"),)


def match_phases(db: Path, scan_id: int) -> None:
    """The matching of a finished scan again, in this process, on its shards' regions
    files, timed by step (the steps of engine.clones.blocks.find_blocks, and the
    fingerprints inside the blocks' snippets)."""
    import functools

    from engine.clones import blocks
    from engine.clones.filter import RegionColumns, read_region_symbols, read_regions
    from engine.clones.scan import index_outputs, match

    store = Store(db)
    originals = {name: getattr(blocks, name) for name, _ in (*PHASES, *THREAD, *BESIDE, ("_sorted_and_reported", ""))}
    spent: dict[str, float] = {}

    def timed(name: str, fn):
        def run(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - t0
        return run

    try:
        scan = store.scan(scan_id)
        paths = [store.files / r["path"] for _, r in sorted(store.finished_shards(scan_id).items())]
        index = index_outputs(store, scan)
        index.window_set()
        index.fingerprints = timed("fingerprints", index.fingerprints)
        hashes = index.line_hashes
        first = timed("line_hashes", hashes)  # the first call: the stretches' lines, beside the thread
        index.line_hashes = lambda ids: (first if "line_hashes" not in spent else hashes)(ids)
        for name, fn in originals.items():
            setattr(blocks, name, timed(name, fn))
        t0 = time.perf_counter()
        found = match(index, RegionColumns(lambda: map(read_regions, paths), lambda: map(read_region_symbols, paths)),
                      functools.partial(store.output_texts, scan["set_id"]))
        total = time.perf_counter() - t0
    finally:
        for name, fn in originals.items():
            setattr(blocks, name, fn)
        store.close()
    took = lambda name: spent.get(name, 0.0)  # noqa: E731
    inside = {"_snippets": f" (fingerprints {took('fingerprints'):.2f})"}
    steps = "; ".join(f"{label} {took(name):.2f}{inside.get(name, '')}" for name, label in PHASES)
    thread = ", ".join(f"{label} {took(name):.2f}" for name, label in THREAD)
    beside = took("output_lines") + took("line_hashes")
    # the thread and the reading beside it overlap: the longer of the two is on the path
    rest = total - sum(took(name) for name, _ in PHASES) - max(took("_sorted_and_reported"), beside)
    print(f"\nthe matching of scan {scan_id} again, in this process, by step ({len(found.snippets):,} snippets): "
          f"{total:.2f} s in all; {steps}; in a thread, {took('_sorted_and_reported'):.2f}: {thread}; beside it, "
          f"the outputs' lines read ahead and the line hashes made, {beside:.2f}; the rest {rest:.2f} s")


# -- report ------------------------------------------------------------------------------------
def mark(ok: bool) -> str:
    return "pass" if ok else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outputs", type=int, default=None, help="outputs to plant clones in (default 20000)")
    parser.add_argument("--quick", action="store_true", help="2000 outputs against about 50 MB")
    parser.add_argument("--shard-mb", type=float, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rules", choices=("simian", "lines"), default="simian",
                        help="the rule set measured in full (default simian); the other is measured once, for ratios")
    parser.add_argument("--profile", action="store_true", help="also profile the filter pass on about 50 MB")
    parser.add_argument("--phases", action="store_true",
                        help="also time the matching of the full scan with 1 worker by step, in this process")
    parser.add_argument("--ray", action="store_true",
                        help="also scan the full corpus with the Ray executor on a local cluster of 2 nodes × 1 CPU")
    args = parser.parse_args()
    n_outputs = args.outputs or (2000 if args.quick else 20000)
    other = "lines" if args.rules == "simian" else "simian"

    load_start = os.getloadavg()[0]
    roots = source_roots()
    files = corpus_files(roots)
    if args.quick:
        files = spread(files, 50 * MB)
    half = files[::2]
    print(f"corpus: .py files of {', '.join(str(r) for _, r in roots)}"
          f"{' (quick: every n-th file)' if args.quick else ''}; {os.cpu_count()} CPUs, Python "
          f"{sys.version.split()[0]}; load average {load_start:.2f}; rules {args.rules} (and {other} for ratios)")
    print(f"compiled line-key kernel: {kernel_state()}")

    with tempfile.TemporaryDirectory(prefix="byrote-bench-") as tmp:
        tmp = Path(tmp)
        full_bytes = make_view(tmp / "full", files)
        half_bytes = make_view(tmp / "half", half)
        print(f"views: full {len(files):,} files, {full_bytes / MB:.1f} MB; half {len(half):,} files, "
              f"{half_bytes / MB:.1f} MB")

        t0 = time.perf_counter()
        outputs, info = make_outputs(half, n_outputs, args.seed)  # the half view holds every copy
        write_output_dir(outputs, tmp / "outputs")
        print(f"outputs: {n_outputs:,}, {info['lines']:.1f} lines and {info['bytes']:,.0f} bytes each "
              f"(~{info['bytes'] / 4:.0f} tokens); {info['slices']:,} corpus slices planted, a "
              f"{info['header_lines']}-line licence header in {info['with_header']:,} "
              f"(made in {time.perf_counter() - t0:.1f} s)")
        db, log = tmp / "bench.db", tmp / "byrote.log"
        run_cli(db, log, "sample", "import", str(tmp / "outputs"))

        t_read = read_all(files)  # also warms the page cache for everything below
        t_read = read_all(files)
        vocab = {line.strip().lower() for _, text in outputs for line in text.split("\n")}
        del outputs
        t_base, c_base, base_bytes, base_found = baseline(files, vocab)
        del vocab
        base_mbs, base_cpu_mbs = base_bytes / MB / t_base, base_bytes / MB / c_base
        print(f"reading the files alone: {full_bytes / MB / t_read:,.0f} MB/s; baseline loop: {t_base:.2f} s = "
              f"{base_mbs:.1f} MB/s ({base_cpu_mbs:.1f} MB per CPU second; {base_found:,} lines found in the outputs)")

        runs = {}
        for label, view, workers, rules in (("half, 1 worker", "half", 1, args.rules),
                                            ("full, 1 worker", "full", 1, args.rules),
                                            ("full, 2 workers", "full", 2, args.rules),
                                            (f"full, 1 worker, {other} rules", "full", 1, other)):
            r = runs[label] = scan(db, log, tmp / view, workers, args.shard_mb, rules)
            report_scan(r, label, workers)
        if args.ray:
            r = runs["full, Ray executor"] = ray_scan(db, log, tmp / "full", args.shard_mb, args.rules)
            report_scan(r, "full, Ray executor on 2 local nodes x 1 CPU", 2)

        one, two, small = runs["full, 1 worker"], runs["full, 2 workers"], runs["half, 1 worker"]
        versus = runs[f"full, 1 worker, {other} rules"]
        alone = {}
        for view, index_dir in (("half", one["index_dir"]), ("full", one["index_dir"]), (other, versus["index_dir"])):
            a = alone[view] = filter_only(index_dir, tmp / ("full" if view == other else view), args.shard_mb, log)
            a["mbs"], a["cpu_mbs"] = a["bytes"] / MB / a["seconds"], a["bytes"] / MB / a["cpu"]
            print(f"filter pass alone ({view}, fresh process, no store): {a['bytes'] / MB:.1f} MB in "
                  f"{a['seconds']:.2f} s = {a['mbs']:.1f} MB/s ({a['cpu_mbs']:.1f} MB per CPU second; index "
                  f"loaded in {a['load']:.2f} s); peak RSS {a['rss'] / MB:,.0f} MB")
        pair = filter_pair(one["index_dir"], tmp / "full", args.shard_mb, log)
        print(f"filter pass alone in 2 processes at once (full, every other shard each): {pair['bytes'] / MB:.1f} MB "
              f"in {pair['seconds']:.2f} s = {pair['mbs']:.1f} MB/s ({pair['mbs'] / 2:.1f} per process)")
        gz_text, gz_disk = make_gzip_view(tmp / "gz", files)
        gz_read, gz_read_cpu = read_gzip_view(tmp / "gz")
        gz_reader_cpu = read_gzip_corpus(tmp / "gz")
        gz = filter_only(one["index_dir"], tmp / "gz", args.shard_mb, log, glob="*.jsonl.gz")
        gz["mbs"], gz["cpu_mbs"] = gz["bytes"] / MB / gz["seconds"], gz["bytes"] / MB / gz["cpu"]
        print(f"the corpus as gzip JSON lines (8 files, {gz_disk / MB:.1f} MB on disk for {gz_text / MB:.1f} MB of "
              f"text): decompressing and parsing alone {gz_text / MB / gz_reader_cpu:.1f} MB of text per CPU second "
              f"(the standard library's gzip and json: {gz_text / MB / gz_read_cpu:.1f}); "
              f"filter pass alone {gz['bytes'] / MB:.1f} MB in {gz['seconds']:.2f} s = {gz['mbs']:.1f} MB/s "
              f"({gz['cpu_mbs']:.1f} per CPU second); peak RSS {gz['rss'] / MB:,.0f} MB")
        per1, per2, clean, clean_cpu = one["mbs"], two["mbs"] / 2, alone["full"]["mbs"], alone["full"]["cpu_mbs"]
        corpus_mb = one["stats"]["bytes"] / MB
        end1, end2 = corpus_mb / one["wall"], corpus_mb / two["wall"] / 2
        # the half and the full corpus hold the same copies: the difference of their processes
        # is what the corpus's second half costs end to end, the rest is paid once per scan
        extra_mb = corpus_mb - small["stats"]["bytes"] / MB
        extra_wall, extra_cpu = one["wall"] - small["wall"], one["cpu"] - small["cpu"]
        marginal = extra_mb / extra_wall if extra_wall > 0 else float("inf")
        marginal_cpu = extra_mb / extra_cpu if extra_cpu > 0 else float("inf")
        fixed = one["wall"] - corpus_mb / marginal
        ratio = one["match_s"] / one["filter_s"]
        efficiency = pair["mbs"] / clean / 2  # of two processes on two cores
        projection = [50_000 / (cores * gz["cpu_mbs"] * efficiency) for cores in (16, 64)]
        speedup = two["mbs"] / one["mbs"]
        need = TARGET_MBS / BASELINE_MBS
        half_rss, full_rss = small["rss"], one["rss"]
        rows = [
            ("filter, 1 worker (scan, in-process)", f"{per1:.1f} MB/s", f">= {TARGET_MBS:.0f} MB/s",
             mark(per1 >= TARGET_MBS)),
            ("filter, 2 workers, per worker*", f"{per2:.1f} MB/s", f">= {TARGET_MBS:.0f} MB/s",
             mark(per2 >= TARGET_MBS)),
            ("filter, 2 workers, together*", f"{two['mbs']:.1f} MB/s", "", ""),
            ("filter, 1 worker, while filtering (shard times)", f"{one['busy_mbs']:.1f} MB/s",
             f">= {TARGET_MBS:.0f} MB/s", mark(one["busy_mbs"] >= TARGET_MBS)),
            ("filter, 2 workers, per worker while filtering", f"{two['busy_mbs']:.1f} MB/s",
             f">= {TARGET_MBS:.0f} MB/s", mark(two["busy_mbs"] >= TARGET_MBS)),
            ("filter, 2 workers, per worker CPU second", f"{two['busy_cpu_mbs']:.1f} MB/s",
             f">= {TARGET_MBS:.0f} MB/s", mark(two["busy_cpu_mbs"] >= TARGET_MBS)),
            ("speed-up 1 -> 2 workers", f"{speedup:.2f}x", f"ideal 2x ({os.cpu_count()} CPUs)", ""),
            ("filter alone (fresh process, no store)", f"{clean:.1f} MB/s", f">= {TARGET_MBS:.0f} MB/s",
             mark(clean >= TARGET_MBS)),
            ("filter alone, per CPU second", f"{clean_cpu:.1f} MB/s", f">= {TARGET_MBS:.0f} MB/s",
             mark(clean_cpu >= TARGET_MBS)),
            ("filter alone, 2 processes, per process", f"{pair['mbs'] / 2:.1f} MB/s", f">= {TARGET_MBS:.0f} MB/s",
             mark(pair["mbs"] / 2 >= TARGET_MBS)),
            ("speed-up 1 -> 2 processes, filter alone", f"{pair['mbs'] / clean:.2f}x",
             f"ideal 2x ({os.cpu_count()} CPUs)", ""),
            ("matching phase, 1 worker", f"{one['match_s']:.2f} s = {corpus_mb / one['match_s']:.1f} MB/s", "", ""),
            ("matching / filtering time, 1 worker", f"{ratio:.2f}x", "<= 0.5x", mark(ratio <= 0.5)),
            (f"matching / filtering time, 1 worker, {other} rules",
             f"{versus['match_s']:.2f} s / {versus['filter_s']:.2f} s = {versus['match_s'] / versus['filter_s']:.2f}x",
             "", ""),
            ("saving the results, 1 worker (snippets, places, text index)", f"{one['save_s']:.2f} s", "", ""),
            ("end to end, 1 worker, per core (the process, saving included)", f"{end1:.1f} MB/s",
             f">= {TARGET_MBS:.0f} MB/s", mark(end1 >= TARGET_MBS)),
            ("end to end, 2 workers, per core", f"{end2:.1f} MB/s", f">= {TARGET_MBS:.0f} MB/s",
             mark(end2 >= TARGET_MBS)),
            ("end to end, 1 worker, the corpus's second half (full - half)",
             f"{marginal:.1f} MB/s", f">= {TARGET_MBS:.0f} MB/s", mark(marginal >= TARGET_MBS)),
            ("the same, per CPU second", f"{marginal_cpu:.1f} MB/s", f">= {TARGET_MBS:.0f} MB/s",
             mark(marginal_cpu >= TARGET_MBS)),
            ("paid once per scan, 1 worker (the process less the corpus at that rate)", f"{fixed:.2f} s", "", ""),
            ("filter alone, gzip JSON lines, per CPU second (MB of text)", f"{gz['cpu_mbs']:.1f} MB/s",
             f">= {TARGET_MBS:.0f} MB/s", mark(gz["cpu_mbs"] >= TARGET_MBS)),
            ("gzip JSON lines: the corpus reader alone, per CPU second", f"{gz_text / MB / gz_reader_cpu:.1f} MB/s",
             "", ""),
            ("gzip JSON lines: the standard library's gzip and json (control)", f"{gz_text / MB / gz_read_cpu:.1f} MB/s",
             "", ""),
            ("projection, filter over 50 GB of gzip JSON lines, 16 / 4 x 16 cores",
             f"{projection[0]:.0f} / {projection[1]:.0f} s", "", ""),
            ("projection, whole scan of it (+ the once-per-scan seconds), per core, 16 / 4 x 16",
             " / ".join(f"{50_000 / (cores * (t + fixed)):.0f}" for cores, t in zip((16, 64), projection)) + " MB/s",
             f">= {TARGET_MBS:.0f} MB/s", ""),
            *([("filter, Ray executor, 2 local nodes", f"{runs['full, Ray executor']['mbs']:.1f} MB/s", "", ""),
               ("whole scan, Ray executor, 2 local nodes",
                f"{runs['full, Ray executor']['stats']['seconds']:.2f} s", "", ""),
               ("end to end, Ray executor, 2 local nodes, per node",
                f"{corpus_mb / runs['full, Ray executor']['wall'] / 2:.1f} MB/s", "", ""),
               ("peak RSS, Ray worker processes (largest)",
                f"{max(runs['full, Ray executor']['worker_peaks'], default=0) / MB:,.0f} MB", "< 1 GB",
                mark(max(runs['full, Ray executor']['worker_peaks'], default=0) < TARGET_RSS))] if args.ray else []),
            ("whole scan, 1 worker", (f"{one['stats']['seconds']:.2f} s = "
                                      f"{one['stats']['bytes'] / MB / one['stats']['seconds']:.1f} MB/s"), "", ""),
            ("baseline loop", f"{base_mbs:.1f} MB/s", f"issue: ~{BASELINE_MBS:.0f} MB/s", ""),
            ("baseline loop, per CPU second", f"{base_cpu_mbs:.1f} MB/s", "", ""),
            ("filter, 1 worker / baseline", f"{per1 / base_mbs:.2f}x", f"issue: {need:.0f}x its ~50 MB/s", ""),
            ("filter alone / baseline", f"{clean / base_mbs:.2f}x", "", ""),
            ("filter alone / baseline, CPU time", f"{clean_cpu / base_cpu_mbs:.2f}x", "", ""),
            (f"filter alone, {args.rules} / {other} rules", f"{clean / alone[other]['mbs']:.2f}x", "", ""),
            (f"filter alone per CPU second, {args.rules} / {other}",
             f"{clean_cpu / alone[other]['cpu_mbs']:.2f}x", "", ""),
            (f"filter, 1 worker (scan), {args.rules} / {other}", f"{per1 / versus['mbs']:.2f}x", "", ""),
            (f"whole scan, 1 worker, {args.rules} / {other}",
             f"{one['stats']['seconds'] / versus['stats']['seconds']:.2f}x the time", "", ""),
            (f"peak RSS, scan, {other} rules (full)", f"{versus['rss'] / MB:,.0f} MB", "< 1 GB",
             mark(versus["rss"] < TARGET_RSS)),
            (f"peak RSS, scan, half corpus ({small['stats']['bytes'] / MB:.0f} MB)", f"{half_rss / MB:,.0f} MB",
             "< 1 GB", mark(half_rss < TARGET_RSS)),
            (f"peak RSS, scan, full corpus ({one['stats']['bytes'] / MB:.0f} MB)", f"{full_rss / MB:,.0f} MB",
             "< 1 GB", mark(full_rss < TARGET_RSS)),
            ("peak RSS, scan, full / half", f"{full_rss / half_rss:.2f}x", "~1x (flat)", ""),
            ("snippets found, full / half (the matching holds them)",
             f"{one['stats']['snippets'] / small['stats']['snippets']:.2f}x", "", ""),
            ("peak RSS, scan, 2 workers (largest)", f"{two['rss'] / MB:,.0f} MB", "< 1 GB",
             mark(two["rss"] < TARGET_RSS)),
            ("peak RSS, filter alone, half / full",
             f"{alone['half']['rss'] / MB:,.0f} / {alone['full']['rss'] / MB:,.0f} MB", "< 1 GB",
             mark(max(alone["half"]["rss"], alone["full"]["rss"]) < TARGET_RSS)),
        ]
        width = max(len(r[0]) for r in rows) + 2
        print(f"\n{n_outputs:,} outputs, {one['stats']['bytes'] / MB:.1f} MB corpus, shards of "
              f"{args.shard_mb:g} MB (MB = 10^6 bytes)")
        print(f"{'figure':<{width}}{'value':>24}  {'target':<24}")
        for name, value, target, ok in rows:
            print(f"{name:<{width}}{value:>24}  {target:<24}{ok}")
        print("* the pool's start-up (spawned processes importing and loading the index) is part of the pass")
        if load_start > 0.5:
            print(f"note: the load average was {load_start:.2f} on {os.cpu_count()} CPUs before this benchmark "
                  f"started: other processes competed, so the wall-clock figures and the speed-up are low; the "
                  f"CPU-time figures are less affected")

        if args.phases:
            match_phases(db, one["id"])
        if args.profile:
            profile_filter(files, one["index_dir"], 50 * MB)


if __name__ == "__main__":
    main()
