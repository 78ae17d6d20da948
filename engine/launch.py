"""Checks and enqueueing of memorization jobs, shared by the command line, the app and the demo.

Each ``enqueue_*`` function validates what it is given, records the rows the job works
on (an output set, a scan) and queues the job; it returns ids and a sentence saying what
it did, and prints nothing. Nothing here imports torch, transformers or datasets (a
``hf:`` corpus is opened by the worker, not here).
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

from engine.errors import InputError
from engine.store import Store


def active_job(store: Store, kind: str, key: str, value) -> int | None:
    """The queued or running job of ``kind`` whose parameter ``key`` is ``value``."""
    for job in store.jobs(("queued", "running")):
        if job["kind"] == kind and job["params"].get(key) == value:
            return job["id"]
    return None


def local_model(name: str) -> str:
    """A local model directory as an absolute path (the worker may run elsewhere)."""
    path = Path(name).expanduser()
    return str(path.absolute()) if path.is_dir() else name


def context_length(model: str) -> int | None:
    """A local model's context length from its config.json (None if unknown)."""
    from engine.sample import config_context_length

    try:
        return config_context_length(json.loads((Path(model) / "config.json").read_text(encoding="utf-8")))
    except (OSError, ValueError, AttributeError):
        return None


def check_sampling(model: str, seq_len: int, temperature: float, prompt: str | None) -> str:
    """Refuse settings a sampling job could not use; return the model's name as stored."""
    if not (math.isfinite(temperature) and temperature > 0):
        raise InputError(f"--temperature must be a positive number, not {temperature}")
    from engine.lm import check_model

    model = local_model(model)
    check_model(model)
    if prompt is not None and not prompt:
        raise InputError("--prompt is empty; leave it out to start from the BOS token")
    limit = context_length(model)
    if limit is not None and seq_len >= limit:
        raise InputError(f"--seq-len {seq_len} does not fit the model's context of {limit} tokens "
                         f"after the first token; ask for at most {limit - 1}")
    return model


def enqueue_sampling(store: Store, identity: dict, n: int, name: str | None = None,
                     trust_remote_code: bool = False, device: str = "auto") -> tuple[int, int | None, str]:
    """The output set with these settings (made if new, grown to ``n`` if smaller) and the
    job that samples what it lacks (None if it holds ``n`` already)."""
    found = store.find_output_set(**identity)
    if found is None:
        set_id = store.add_output_set(
            name=name or f"{Path(identity['model']).name} k{identity['top_k']} t{identity['temperature']:g} "
                         f"len{identity['seq_len']}",
            source="sample", n=n, config={"trust_remote_code": trust_remote_code}, **identity,
        )
        said = f"output set {set_id}: {n} outputs to sample"
    else:
        set_id = found["id"]
        if n > found["n"]:
            store.update_output_set(set_id, n=n)
        have = found["count"]
        if have >= n:
            return set_id, None, f"output set {set_id} already holds {have} outputs (asked for {n}); nothing to do"
        said = f"output set {set_id}: {have} outputs stored, continuing to {max(n, found['n'])}"
    job_id = active_job(store, "sample", "set_id", set_id) or store.add_job(
        "sample", {"set_id": set_id, "device": device})
    return set_id, job_id, said


def open_checked_corpus(source: str, glob: str | None = None, text_field: str | None = None,
                        split: str = "train", shard_mb: float = 64):
    """The corpus the user named, refused at once if it holds no readable document."""
    from engine.clones.lines import fold
    from engine.data.corpus import open_corpus

    corpus = open_corpus(source, glob=glob, text_field=text_field, split=split,
                         shard_bytes=max(int(shard_mb * (1 << 20)), 1))
    unreadable = 0
    for doc in corpus:  # stops at the first readable document: the first one, as a rule
        if doc.data is not None and fold(doc.data, True) is not None:
            return corpus
        unreadable += 1
    raise InputError(f"the corpus has no readable document ({unreadable} not UTF-8)", source)


def check_scan(store: Store, set_id: int, min_lines: int) -> dict:
    """The output set a scan would read, refused if the scan could not run."""
    if min_lines < 2:
        raise InputError(f"--min-lines must be at least 2, not {min_lines}")
    outputs = store.output_set(set_id)
    if outputs["count"] == 0:
        raise InputError(f"output set {set_id} holds no outputs yet")
    return outputs


def enqueue_scan(store: Store, set_id: int, corpus, min_lines: int = 6, case_sensitive: bool = False,
                 workers: int | None = None) -> tuple[int, int, str]:
    """A scan of an output set (as it is now) against a corpus, and its job. An unfinished
    scan with the same settings is resumed: its finished shards are not read again."""
    check_scan(store, set_id, min_lines)
    n_outputs = store.max_output_id(set_id)
    found = store.unfinished_scan(set_id, corpus.spec, n_outputs, min_lines, case_sensitive)
    if found is not None:
        scan_id = found["id"]
        if workers:
            store.update_scan(scan_id, workers=workers)
        done = len(store.finished_shards(scan_id))
        job_id = active_job(store, "scan", "scan_id", scan_id) or store.add_job("scan", {"scan_id": scan_id})
        return scan_id, job_id, f"resuming scan {scan_id} ({done} of {found['n_shards'] or '?'} shards already done)"
    scan_id = store.add_scan(
        set_id=set_id, source="scan", corpus=corpus.spec, corpus_label=corpus.describe(),
        n_outputs=n_outputs, min_lines=min_lines, case_sensitive=int(case_sensitive),
        workers=workers or os.cpu_count() or 1,
    )
    job_id = store.add_job("scan", {"scan_id": scan_id})
    return scan_id, job_id, f"scan {scan_id} (job {job_id}): outputs of set {set_id} against {corpus.describe()}"


def check_lm_out(out: str | Path) -> Path:
    """Where a language model will be trained: a new or empty directory, made absolute."""
    out = Path(out).expanduser().absolute()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError("already exists; choose another --out or remove it", out)
    return out


def enqueue_lm_training(store: Store, corpus, out: str | Path, preset: str, settings: dict, seed: int,
                        device: str = "auto") -> int:
    """Queue the training of a language model into ``out`` (a new or empty directory)."""
    from engine.lm import load_lm_preset

    load_lm_preset(preset, settings)
    out = check_lm_out(out)
    return store.add_job("lm_train", {
        "corpus": corpus.spec, "out": str(out), "preset": preset, "settings": settings,
        "seed": seed, "device": device,
    })
