"""The scan job (Yang et al., seeds/003): outputs against a corpus, shard by shard,
resumable; shards are filtered in the job's own process and a pool's (or in Ray tasks),
and the regions matched exactly (:func:`run_scan`, whose docstring gives the steps).
:func:`scan_texts` is the same scan in memory.
"""
from __future__ import annotations

import contextlib
import functools
import gc
import marshal
import multiprocessing
import os
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator

from engine.clones.blocks import find_blocks
from engine.clones.filter import (FilterStats, Region, RegionColumns, filter_documents, read_region_symbols,
                                  read_regions, write_regions)
from engine.clones.index import OutputIndex, load_filter_index
from engine.clones.memorized import Found, OutputTexts, Snippet, find_memorized
from engine.data.corpus import Corpus
from engine.errors import InputError
from engine.fsutil import remove_partial
from engine.store import Store


def scan_job(ctx) -> None:
    """Job kind ``scan``; the scan row's state follows the job's."""
    from engine.errors import JobCancelled

    scan_id = ctx.params["scan_id"]
    try:
        run_scan(ctx.store, scan_id, ctx)
    except JobCancelled:
        ctx.store.update_scan(scan_id, state="cancelled")
        raise
    except BaseException:
        ctx.store.update_scan(scan_id, state="failed")
        raise


def index_outputs(store: Store, scan: dict) -> OutputIndex:
    index = OutputIndex(scan["min_lines"], bool(scan["case_sensitive"]), scan["rules"])
    for row in store.outputs(scan["set_id"]):
        if row["id"] > scan["n_outputs"]:
            break
        index.add(row["id"], row["text"])
    return index


# -- one shard, in a worker process or in-process -------------------------------------
_WORKER: dict = {}


def _init_worker(spec: dict, index_dir: str, corpus: Corpus | None = None, index: OutputIndex | None = None) -> None:
    """Load what a filter worker needs (``corpus``, ``index``: those already in this
    process, so a scan that filters in its own process neither reopens nor rereads them)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    table, windows, k, case_sensitive, rules = (load_filter_index(Path(index_dir)) if index is None
                                                else index.filter_index())
    _WORKER.update(corpus=corpus or Corpus.from_spec(spec), table=table, windows=windows, k=k, cs=case_sensitive,
                   rules=rules)


def _init_pool_worker(parent: int, spec: dict, index_dir: str, corpus: Corpus) -> None:
    """A pool worker's start: it dies with the scan's process (never an orphan holding
    the index). It starts while the outputs are still being indexed, so it loads the
    index once it is saved (:func:`_load_index`)."""
    from engine.orphans import die_with_parent

    die_with_parent(parent)
    _WORKER.update(pending=(spec, index_dir, corpus))


def _filter_shard(shard: int, out: str, progress: Callable[[int], None] | None = None,
                  check: Callable[[], None] | None = None) -> tuple[int, str, int, int, int, float, float]:
    """``(shard, regions file, bytes, documents, skipped, seconds, CPU seconds)``."""
    w = _WORKER
    t0, c0 = time.perf_counter(), time.thread_time()
    stats = FilterStats()
    docs = w["corpus"].documents(shard, progress=progress)
    write_regions(Path(out), filter_documents(docs, w["table"], w["windows"], w["k"], w["cs"], stats, check,
                                              w["rules"]))
    return (shard, out, stats.bytes, stats.docs, stats.skipped, time.perf_counter() - t0,
            time.thread_time() - c0)


class _Progress:
    """Bytes done over the corpus, reported with an ETA."""

    def __init__(self, ctx, total: int | None, shards: int, done_bytes: int, done_shards: int):
        self.ctx, self.total, self.shards = ctx, total, shards
        self.bytes, self.done = done_bytes, done_shards

    def report(self, extra: int = 0) -> None:
        if self.ctx is None:
            return
        now = self.bytes + extra
        if self.total:
            frac = 0.9 * min(now / self.total, 1.0)
            msg = f"{now / 1e6:,.1f}/{self.total / 1e6:,.1f} MB · shard {self.done}/{self.shards}"
        else:
            frac = 0.9 * self.done / max(self.shards, 1)
            msg = f"{now / 1e6:,.1f} MB · shard {self.done}/{self.shards}"
        self.ctx.progress(frac, msg)


def run_scan(store: Store, scan_id: int, ctx=None) -> None:
    """Run scan ``scan_id``, skipping the shards a previous attempt finished:

    1. The outputs of the set are indexed (:class:`~engine.clones.index.OutputIndex`) and
       the filter's part of the index is saved under ``<files>/scans/<id>/index``.
    2. Each corpus shard is filtered, in this process and (with W workers) in W - 1 more,
       into a regions file (``shards/<n>.npz``, the regions column by column, written atomically:
       :func:`~engine.clones.filter.write_regions`); the shard is then marked finished in
       the store, so a restarted scan skips it. A worker holds the vocabulary, the window
       hashes, one batch of documents (:data:`~engine.clones.filter.BATCH_BYTES`) and the
       regions of its shard.
    3. The regions of all shards are matched exactly against the outputs under the scan's
       rules (:func:`match`) and the snippets, their output locations and up to 50 corpus
       locations each are stored in one transaction.
    """
    from engine import ray_executor

    scan = store.scan(scan_id)
    t0 = time.time()
    corpus = Corpus.from_spec(scan["corpus"])
    work = store.scan_dir(scan_id)
    shards = corpus.shards()
    done = store.finished_shards(scan_id)
    pending = [s.index for s in shards if s.index not in done]
    workers = max(1, min(int(scan["workers"] or 1), len(pending)))
    helpers = workers - 1 if not ray_executor.chosen() else 0  # this process is the first worker
    # a pool's processes (or the cluster's) start, spawn and import while the outputs are indexed, not after
    connected = ray_executor.warm_up() if ray_executor.chosen() and pending else None
    with (_scan_pool(corpus, str(work / "index"), helpers) if helpers else contextlib.nullcontext()) as pool:
        try:
            index = index_outputs(store, scan)
            index.save(work / "index")
        except BaseException:  # the warm-up ends here too; the indexing's error is the one raised
            if connected is not None:
                with contextlib.suppress(BaseException):
                    connected()
            raise
        if connected is not None:
            connected()
        for _ in range(helpers):  # the pool loads it now, while this process readies its first shard
            _submit(pool, _load_index)
        _filter_all(store, scan_id, corpus, index, work, shards, done, pending, pool, helpers, ctx)
    _match_and_save(store, scan, scan_id, corpus, index, shards, t0, ctx)


def _filter_all(store: Store, scan_id: int, corpus: Corpus, index: OutputIndex, work: Path, shards, done,
                pending: list[int], pool, helpers: int, ctx) -> None:
    """Step 2 of :func:`run_scan`: the pending shards filtered on Ray, or here and in
    ``pool`` (``helpers`` processes; None for no pool)."""
    from engine import ray_executor

    sizes = [s.size for s in shards]
    total = sum(sizes) if all(s is not None for s in sizes) else None
    on_disk = lambda i, read: sizes[i] if sizes[i] is not None else read  # noqa: E731  (gz, parquet: compressed)
    progress = _Progress(ctx, total, len(shards), sum(on_disk(i, r["bytes"]) for i, r in done.items()), len(done))
    store.update_scan(scan_id, state="running", n_shards=len(shards), bytes_total=total)
    check = ctx.check_cancel if ctx is not None else None

    def finished(result: tuple[int, str, int, int, int, float, float]) -> None:
        shard, path, nbytes, docs, skipped, seconds, cpu = result
        store.finish_shard(scan_id, shard, os.path.relpath(path, store.files), nbytes, docs, skipped,
                           round(seconds, 4), round(cpu, 4))
        progress.bytes += on_disk(shard, nbytes)
        progress.done += 1
        progress.report()

    shard_path = lambda i: str(work / "shards" / f"{i}.npz")  # noqa: E731
    try:
        if ray_executor.chosen():  # a task per shard on the cluster (the corpus read alike on every node)
            ray_executor.filter_shards(corpus, work / "index", [(i, shard_path(i)) for i in pending], finished, check)
        else:
            _init_worker(corpus.spec, str(work / "index"), corpus, index)  # the index in memory already
            try:
                tasks = [(i, shard_path(i)) for i in pending]
                local = lambda task, check: _filter_shard(*task, progress=progress.report, check=check)  # noqa: E731
                if pool is None:
                    for task in tasks:
                        finished(local(task, check))
                else:
                    _run_pool(pool, helpers, tasks, finished, check, local)
            finally:
                _WORKER.clear()  # the matching needs none of it
    finally:
        remove_partial(work / "shards")


def _match_and_save(store: Store, scan: dict, scan_id: int, corpus: Corpus, index: OutputIndex, shards, t0: float,
                    ctx) -> None:
    """Step 3 of :func:`run_scan`: every shard's regions matched, the results stored."""
    check = ctx.check_cancel if ctx is not None else None
    rows = store.finished_shards(scan_id)
    docs = sum(r["docs"] for r in rows.values())
    skipped = sum(r["skipped"] for r in rows.values())
    if docs - skipped <= 0:
        raise InputError(f"the corpus has no readable document ({skipped} not UTF-8)", corpus.describe())
    if ctx is not None:
        ctx.progress(0.9, "matching regions against the outputs", force=True)
    paths = [store.files / rows[s.index]["path"] for s in shards]

    # a shard's file read at a time; its symbols alone for the distinct regions
    regions = RegionColumns(lambda: map(read_regions, paths), lambda: map(read_region_symbols, paths))
    found = match(index, regions, functools.partial(store.output_texts, scan["set_id"]), check=check)
    snippets = found.snippets
    stats = {
        "docs": docs, "skipped": skipped, "bytes": sum(r["bytes"] for r in rows.values()),
        "snippets": len(snippets), "outputs": len(index.outputs), "memorized_outputs": snippets.memorized_outputs(),
        "seconds": round(time.time() - t0, 2),
    }
    save_snippets(store, scan_id, found, state="done", finished=time.time(), stats=stats)
    if ctx is not None:
        ctx.progress(1.0, f"{len(snippets)} memorized snippets in {stats['memorized_outputs']} outputs", force=True)


@contextlib.contextmanager
def _scan_pool(corpus: Corpus, index_dir: str, workers: int) -> Iterator:
    """``workers`` processes for the shards, started at once (each gets a no-op task), so
    they spawn and import while the outputs are indexed; stopped at the end, or at once on
    a cancel or an error."""
    from concurrent.futures import ProcessPoolExecutor

    mp = multiprocessing.get_context("spawn")  # the job's heartbeat thread makes fork unsafe
    # the workers start with a safe path (-P): spawn's bootstrap would otherwise put the
    # working directory first, and a module planted there would run in them
    safe_path = os.environ.get("PYTHONSAFEPATH")
    os.environ["PYTHONSAFEPATH"] = "1"
    # the corpus goes over whole: a directory's file list is not walked again in each worker
    pool = ProcessPoolExecutor(workers, mp_context=mp, initializer=_init_pool_worker,
                               initargs=(os.getpid(), corpus.spec, index_dir, corpus))
    try:
        for _ in range(workers):
            _submit(pool, _started)
        yield pool
    finally:
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()  # a cancelled scan stops its workers now, not after their shards
        pool.shutdown(wait=True, cancel_futures=True)
        if safe_path is None:
            os.environ.pop("PYTHONSAFEPATH", None)
        else:
            os.environ["PYTHONSAFEPATH"] = safe_path


def _run_pool(pool, processes: int, tasks: list, finished: Callable, check: Callable[[], None] | None,
              local: Callable) -> None:
    """Shards in the pool's ``processes`` and in this process (``local(task, check)``),
    from one queue: a thread per pool process hands it the next shard as soon as it is
    done with one, and this process takes the next itself whenever it is free. Every
    result is recorded here (``finished``: the store is this thread's), as it comes, also
    while this process filters (``poll`` is its filter's cancel check). A pool process
    that dies (killed for memory, say) fails the scan at once instead of leaving its shard
    undone forever; finished shards are kept."""
    import queue
    import threading
    from collections import deque
    from concurrent.futures.process import BrokenProcessPool

    remaining = deque(tasks)
    results: queue.Queue = queue.Queue()
    stop = threading.Event()

    def feed() -> None:
        while not stop.is_set():
            try:
                task = remaining.popleft()
            except IndexError:
                break
            try:
                results.put((True, pool.submit(_pool_task, task).result()))
            except BaseException as exc:  # noqa: BLE001  (raised in the scan's thread)
                results.put((False, exc))
                break
        results.put(None)  # this feeder is done

    mine = remaining.popleft() if remaining else None  # this process takes the first shard, the pool the next
    feeders = [threading.Thread(target=feed, name="scan-feeder", daemon=True) for _ in range(processes)]
    for feeder in feeders:
        feeder.start()
    live = len(feeders)

    def record(item) -> None:
        nonlocal live
        if item is None:
            live -= 1
            return
        ok, value = item
        if ok:
            if check is not None:
                check()  # a cancel is taken between any two shards
            finished(value)
        elif isinstance(value, BrokenProcessPool):
            raise RuntimeError(WORKER_DIED) from None
        else:
            raise value

    def poll() -> None:
        """What the pool has finished, recorded; then a cancel taken. The local filter
        calls it as its ``check``, so the pool's shards are recorded while this process
        filters one of its own."""
        while not results.empty():
            record(results.get())
        if check is not None:
            check()

    try:
        while mine is not None:
            finished(local(mine, poll))
            poll()
            try:
                mine = remaining.popleft()
            except IndexError:
                mine = None
        while live:
            if check is not None:
                check()
            try:
                record(results.get(timeout=0.5))
            except queue.Empty:
                pass
    finally:
        stop.set()  # a feeder takes no shard more; the pool's processes stop with the pool


WORKER_DIED = "a scan worker process died (out of memory?); the shards it finished are kept for a rerun"


def _submit(pool, fn: Callable, *args):
    """``pool.submit``, a pool broken by a process that died saying so in one line."""
    from concurrent.futures.process import BrokenProcessPool

    try:
        return pool.submit(fn, *args)
    except BrokenProcessPool:
        raise RuntimeError(WORKER_DIED) from None


def _started() -> None:
    """A pool process's first task: nothing, so that it starts now."""


def _load_index() -> None:
    """A pool process's index loaded, once it is saved: a task sent to each process then
    (a process that takes two loads it once; one that takes none, or fails, loads it with
    its first shard, whose result carries the error)."""
    pending = _WORKER.get("pending")
    if pending is not None:
        _init_worker(*pending)
        del _WORKER["pending"]


def _pool_task(task: tuple[int, str]) -> tuple[int, str, int, int, int, float, float]:
    _load_index()
    return _filter_shard(*task)


SPILL_ROWS = 1000  # corpus places per record of the spill file


def save_snippets(store: Store, scan_id: int, found: Found, **scan_fields) -> None:
    """A scan's results in one transaction. The corpus places are read from the regions
    (:meth:`~engine.clones.memorized.Found.matches`) into a file beside the scan's shards,
    never all held in memory, then copied in. The reading runs while SQLite builds the
    snippets' text index (``beside``, :meth:`~engine.store.Store.save_scan_results`):
    inside the transaction, so the store is locked for the longer of the two."""
    import tempfile

    snippets = found.snippets
    store.scan_dir(scan_id).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile("w+b", dir=store.scan_dir(scan_id)) as spill:

        def matches() -> Iterator[tuple]:
            spill.seek(0)
            while rows := _read_spilled(spill):
                yield from rows

        store.save_scan_results(  # a failure of the reading fails the transaction
            scan_id,
            snippets.rows(),
            snippets.place_rows(),
            matches(),
            beside=functools.partial(_spill_matches, found, spill),
            **scan_fields,
        )


def _spill_matches(found: Found, spill) -> None:
    """Every corpus place as a row (fingerprint, rank, document, lines, context), in
    records of SPILL_ROWS rows: each its length in 8 bytes, then the rows by marshal (the
    file is this process's own, unnamed, and read back by it alone)."""
    def write(rows: list[tuple]) -> None:
        data = marshal.dumps(rows)
        spill.write(len(data).to_bytes(8, "little"))
        spill.write(data)

    fingerprints = found.snippets.fingerprint
    ranks: dict[int, int] = {}
    rows = []
    for i, m in found.matches():
        rank = ranks[i] = ranks.get(i, 0) + 1
        rows.append((fingerprints[i], rank, m.doc, m.start_line, m.end_line, m.context_start, m.context))
        if len(rows) == SPILL_ROWS:
            write(rows)
            rows.clear()
    if rows:
        write(rows)


def _read_spilled(spill) -> list[tuple]:
    """The next record of :func:`_spill_matches`' file ([] at its end), read whole and
    then decoded (marshal reading from the file itself makes a call per value: 30 times
    slower); OSError for a record cut short."""
    head = spill.read(8)
    if not head:
        return []
    size = int.from_bytes(head, "little")
    data = spill.read(size)  # nothing, after a head cut short: the file ends there
    if len(head) < 8 or len(data) < size:
        raise OSError("the corpus places' spill file ends inside a record")
    return marshal.loads(data)


def match(index: OutputIndex, regions: Callable[[], Iterable[Region]], output_texts: OutputTexts,
          check: Callable[[], None] | None = None) -> Found:
    """The regions matched against the outputs under the index's rules: Simian's blocks
    (:func:`~engine.clones.blocks.find_blocks`) or maximal memorized spans
    (:func:`~engine.clones.memorized.find_memorized`). The cyclic garbage collector pauses
    meanwhile (:func:`gc_paused`)."""
    with gc_paused():
        if index.rules.name == "simian":
            return find_blocks(index, regions, output_texts, index.fingerprints, check=check)
        return find_memorized(index, regions, output_texts, index.fingerprints, check=check)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off inside, as it was after. A matching makes
    objects that live on (the distinct regions' arrays, the snippets' fingerprints and
    texts) and no cycles; each of the collector's passes would walk them again. When the
    snippets and their places were objects, those passes took a third of the matching
    (2.0-2.4 s against 1.4-1.5 s with 43,944 snippets); as columns, within the noise.
    After, the objects made inside go straight to the oldest generation (frozen and thawed
    at once), not through a pass of the youngest over every one of them when the
    collector is back on."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        if was:
            gc.enable()


def scan_texts(outputs: list[tuple[int, str]], documents: Iterable, min_lines: int = 6,
               case_sensitive: bool = False, rules: str = "simian") -> list[Snippet]:
    """The whole scan in memory, for small inputs and tests: ``documents`` yields
    objects with ``id`` and ``data`` (bytes) like the corpus's."""
    index = OutputIndex(min_lines, case_sensitive, rules)
    for output_id, text in outputs:
        index.add(output_id, text)
    batches = list(filter_documents(documents, index.table(), index.window_set(), min_lines, case_sensitive,
                                    FilterStats(), rules=rules))
    texts = dict(outputs)
    return match(index, RegionColumns(lambda: batches), lambda ids: ((i, texts[i]) for i in ids)).attach()
