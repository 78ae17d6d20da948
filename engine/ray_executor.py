"""The Ray executor (``byrote worker --executor ray --address ADDR``; issue 14, part 2): a
worker that places its jobs' work on a running Ray cluster.

The worker, and each of its slot processes, is a Ray driver on the machine that holds the
database, and the only process that writes it: remote tasks never open the store (SQLite
over a network filesystem is not safe). They get what they need as values and hand back
what the driver records:

- **Training runs**: one Ray generator task per run on one GPU (the study's ``ray_gpus``
  setting asks for a fraction, to share one), which runs
  :func:`engine.study.train_epochs` on the run's data (sent as bytes) and yields each epoch's metrics, per-sample arrays and
  checkpoint (as bytes); the driver records and commits each epoch as a local run does
  (:func:`engine.study.record_epoch`). A task lost with its node is submitted again from
  the last committed epoch, so the run ends as an uninterrupted one.
- **Sampling**: one generator task per GPU of the cluster, over every G-th batch of the
  output set (batch b still depends only on (seed, b)), each loading the model by its
  Hugging Face id or path (a path must read the same on every node); the driver stores the
  batches in batch order, so the set never has a gap and resumes as a local one does.
- **Scans**: one task per corpus shard (idempotent; Ray retries it) filters the shard
  with the outputs' index (sent once, ``ray.put``) and returns its regions; the driver
  writes them and records the shard, so a restarted scan skips it. The driver connects,
  and starts a worker process on each CPU of the cluster, while it indexes the outputs
  (:func:`warm_up`). The matching stays in the driver. The corpus path must read the
  same on every node (a shared filesystem).

The executor joins a running cluster and starts none: Ray's processes listen on ports of
the cluster's network (Ray 2.60 binds them to every interface, the driver's own included),
so where they run is the user's choice, made with ``ray start``. Ray is an optional extra
(``pip install 'byrote[ray]'``).
"""
from __future__ import annotations

import io
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from engine.errors import InputError
from engine.presets import PLACEMENT, axis_unit

EXECUTORS = ("local", "ray")
EXECUTOR_ENV = "BYROTE_EXECUTOR"        # set by the worker for itself and its slot processes
ADDRESS_ENV = "BYROTE_RAY_ADDRESS"
CONNECT_TIMEOUT_S = 5.0
RESUBMITS = 3                           # a run's task lost with its node is submitted again this often
WAIT_S = 0.25                           # how often a driver waiting on a task checks for a cancel


def chosen() -> bool:
    """Whether this process's jobs run on Ray."""
    return os.environ.get(EXECUTOR_ENV) == "ray"


def choose(executor: str, address: str | None) -> None:
    """Set this process's (and its children's) executor, after checking that it can run:
    Ray installed, an address given (or ``RAY_ADDRESS``), a cluster answering there.
    InputError otherwise, before anything is queued or run."""
    if executor not in EXECUTORS:
        raise InputError(f"unknown executor {executor!r} (known: {', '.join(EXECUTORS)})", field="executor")
    if executor == "local":
        os.environ.pop(EXECUTOR_ENV, None)
        os.environ.pop(ADDRESS_ENV, None)
        return
    _ray()
    address = address or os.environ.get("RAY_ADDRESS")
    if not address:
        raise InputError("the Ray executor joins a running Ray cluster: start one (ray start --head) and give "
                         "its address with --address HOST:PORT", field="address")
    check_reachable(address)
    os.environ[EXECUTOR_ENV] = "ray"
    os.environ[ADDRESS_ENV] = address


def _ray():
    try:
        import ray
    except ImportError:
        raise InputError("the Ray executor needs Ray, an optional extra: pip install 'byrote[ray]'",
                         field="executor") from None
    return ray


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """A TCP connection to the cluster's address (``HOST:PORT``, ``ray://HOST:PORT``) within
    ``timeout`` seconds, or one line saying none answered."""
    if address == "auto":
        return  # Ray finds the cluster started on this machine; ray.init says if there is none
    hostport = address.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise InputError(f"not a Ray address: {address!r} (HOST:PORT)", field="address")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise InputError(f"no Ray cluster answers at {address} ({exc.strerror or exc})", field="address") from None


_CONNECTING = threading.Lock()  # a scan's warm-up thread and a job's thread may connect at once


def connect():
    """Ray, connected to the chosen cluster (once per process, whichever thread asks)."""
    ray = _ray()
    with _CONNECTING:
        if not ray.is_initialized():
            ray.init(address=os.environ.get(ADDRESS_ENV) or "auto", logging_level="ERROR", log_to_driver=False)
    return ray


def cluster_gpus() -> int:
    """The GPUs of the cluster (a worker's default number of slots under Ray)."""
    return int(connect().cluster_resources().get("GPU", 0))


def _lost(ray) -> tuple[type[BaseException], ...]:
    """The errors that mean a task's node or process went away, not that its work failed."""
    ex = ray.exceptions
    return tuple(getattr(ex, name) for name in ("NodeDiedError", "WorkerCrashedError", "ObjectLostError",
                                                 "OwnerDiedError", "RaySystemError") if hasattr(ex, name))


def _get(ray, ref):
    """A task's value; a failure inside the task raises the task's own exception (an
    InputError stays one line), a lost node or process Ray's."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, Exception) and not isinstance(cause, _lost(ray)):
            raise cause from None
        raise


def _results(ray, refs, check: Callable[[], None] | None) -> Iterator:
    """The values a streaming task yields, as they come; a cancel (``check`` raises)
    cancels the task. A failure inside the task raises the task's own exception."""
    try:
        while True:
            if check is not None:
                check()
            ready, _ = ray.wait([refs], timeout=WAIT_S)
            if not ready:
                continue
            try:
                ref = next(refs)
            except StopIteration:
                return
            yield _get(ray, ref)
    except BaseException:
        ray.cancel(refs, force=True)
        raise


# -- training runs ---------------------------------------------------------------------------
def _train_remote(plan, resume: bytes | None):
    """In a Ray task: the run's epochs, each checkpoint as bytes."""
    import torch

    from engine.study import train_epochs

    for event in train_epochs(plan, resume):
        if event[0] == "epoch":
            buffer = io.BytesIO()
            torch.save(event[4], buffer)
            event = (*event[:4], buffer.getvalue())
        yield event


def training_events(store, plan, ctx=None) -> Iterator[tuple]:
    """The events of :func:`engine.study.train_epochs` for ``plan``, computed in a Ray
    task; after a node loss, from a new task resumed at the last epoch the caller
    recorded (it records each event before asking for the next)."""
    from engine.study import _checkpoint_path, plan_run

    ray = connect()
    data = {"train": Path(plan.train).read_bytes(), "heldout": Path(plan.heldout).read_bytes()}
    gpus = float(plan.cfg.get("ray_gpus", PLACEMENT["ray_gpus"]))  # a fraction shares a GPU between runs
    # at most one epoch computed ahead of what the driver recorded: checkpoints do not pile up
    task = ray.remote(_train_remote).options(num_returns="streaming", num_gpus=gpus, max_retries=0,
                                             _generator_backpressure_num_objects=1)
    check = ctx.check_cancel if ctx is not None else None
    for attempt in range(RESUBMITS + 1):
        current = replace(plan_run(store, plan.run_id), data=data)
        resume = _checkpoint_path(store, plan.run_id, current.done).read_bytes() if current.done else None
        if ctx is not None:
            ctx.progress(current.done / current.epochs,
                         f"{axis_unit(current.cfg)} {current.done + 1}/{current.epochs}: on Ray",
                         force=True)
        try:
            yield from _results(ray, task.remote(current, resume), check)
            return
        except _lost(ray):
            if attempt == RESUBMITS:
                raise RuntimeError(f"run {plan.run_id}: its Ray task was lost {RESUBMITS + 1} times") from None
            time.sleep(1.0)


# -- sampling ------------------------------------------------------------------------------
def _sample_remote(s: dict, device: str, batches: list[int]):
    from engine.sample import sample_batches

    yield from sample_batches(s, device, batches)


def sampled_batches(s: dict, device: str, batches, ctx=None) -> Iterator[tuple[int, list]]:
    """``(b, rows)`` of :func:`engine.sample.sample_batches` for every batch, in batch
    order, sampled by one Ray task per GPU of the cluster (each over every G-th batch, at
    most two batches ahead of the driver); one task on a cluster without GPUs."""
    ray = connect()
    batches = list(batches)
    gpus = int(ray.cluster_resources().get("GPU", 0))
    tasks = max(1, min(gpus, len(batches)))
    task = ray.remote(_sample_remote).options(num_returns="streaming", num_gpus=1 if gpus else 0,
                                              _generator_backpressure_num_objects=2)
    check = ctx.check_cancel if ctx is not None else None
    streams = [_results(ray, task.remote(s, device, batches[g::tasks]), check) for g in range(tasks)]
    try:
        for i, b in enumerate(batches):  # batch b comes from task i % tasks, in its order
            got, rows = next(streams[i % tasks])
            assert got == b, (got, b)
            yield b, rows
    finally:
        for stream in streams:
            stream.close()


# -- scans -----------------------------------------------------------------------------------
_INDEXES: dict[str, tuple] = {}  # in a Ray worker process: the filter indexes loaded, by scan


def warm_up() -> Callable[[], None]:
    """Connect to the cluster and start a worker process on each of its CPUs (spread over
    its nodes) importing the filter, in a thread, so that both happen while the scan
    indexes its outputs, not before its first shards (half a second to connect and a
    second or more for a node's first task, measured on 2 local nodes). Returns a
    function that waits for the connection, raising what it raised."""
    failed: list[BaseException] = []

    def start() -> None:
        try:
            ray = connect()
            task = ray.remote(_import_filter).options(scheduling_strategy="SPREAD")
            for _ in range(max(1, int(ray.cluster_resources().get("CPU", 1)))):
                task.remote()  # its result is not wanted: the process it started is
        except BaseException as exc:  # noqa: BLE001  (raised in the scan's thread, by the returned wait)
            failed.append(exc)

    thread = threading.Thread(target=start, name="ray-warm-up", daemon=True)
    thread.start()

    def connected() -> None:
        thread.join()
        if failed:
            raise failed[0]

    return connected


def _import_filter() -> None:
    """In a Ray task: the modules a shard's filtering needs, imported."""
    import importlib

    importlib.import_module("engine.clones.scan")


def _filter_remote(key: str, index_files: dict[str, bytes], corpus, shard: int) -> tuple:
    """In a Ray task: one shard filtered (:func:`engine.clones.scan._filter_shard`), its
    regions file as bytes."""
    from engine.clones import scan

    if key not in _INDEXES:
        with tempfile.TemporaryDirectory(prefix="byrote-index-") as folder:
            for name, data in index_files.items():
                (Path(folder) / name).write_bytes(data)
            scan._init_worker(corpus.spec, folder, corpus)
        _INDEXES.clear()
        _INDEXES[key] = dict(scan._WORKER)
    scan._WORKER.clear()
    scan._WORKER.update(_INDEXES[key])
    with tempfile.TemporaryDirectory(prefix="byrote-shard-") as folder:
        out = Path(folder) / f"{shard}.npz"
        result = scan._filter_shard(shard, str(out))
        return (*result, out.read_bytes())


def filter_shards(corpus, index_dir: Path, tasks: list[tuple[int, str]],
                  finished: Callable[[tuple], None], check: Callable[[], None] | None) -> None:
    """Each shard of ``tasks`` (shard, regions file) filtered in a Ray task; each regions
    file written here (atomically) and the shard recorded (``finished``) as it comes, at
    most two tasks per cluster CPU in flight."""
    from engine.fsutil import atomic_path

    ray = connect()
    files = {p.name: p.read_bytes() for p in Path(index_dir).iterdir() if p.is_file()}
    key = f"{Path(index_dir).resolve()}:{max(p.stat().st_mtime_ns for p in Path(index_dir).iterdir())}"
    index_ref, corpus_ref = ray.put(files), ray.put(corpus)
    task = ray.remote(_filter_remote).options(max_retries=3, retry_exceptions=False)
    limit = max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))
    waiting = list(tasks)
    running: dict = {}
    try:
        while waiting or running:
            while waiting and len(running) < limit:
                shard, out = waiting.pop(0)
                running[task.remote(key, index_ref, corpus_ref, shard)] = out
            if check is not None:
                check()
            done, _ = ray.wait(list(running), num_returns=1, timeout=WAIT_S)
            for ref in done:
                out = running.pop(ref)
                *result, regions = _get(ray, ref)
                with atomic_path(out) as tmp:
                    Path(tmp).write_bytes(regions)
                result[1] = out
                finished(tuple(result))
    finally:
        for ref in running:
            ray.cancel(ref, force=True)
