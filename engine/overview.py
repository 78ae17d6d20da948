"""What the store holds, item by item, for the faces: one item per study, language-model
training, output set ("LM sampling"), scan, k-extractability run and extraction study, and the demo's chain of stages, with the
state of its current jobs, progress, ETA, device, age and a line of detail; a status line
saying whether the worker runs and what it is doing; the actions on one item (cancel,
resume, delete); and the plain-text formatting both faces use. The job table is read
once per call. No Textual here."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import InputError
from engine.jobs import worker_pid
from engine.store import ACTIVE, ITEM_KINDS, Store

KINDS = ITEM_KINDS
# the state an item shows: the first of these that any of its current jobs is in
STATE_ORDER = ("running", "queued", "failed", "cancelled", "done")
RESUMABLE = ("cancelled", "failed")


@dataclass
class Item:
    """One dashboard row."""

    kind: str  # one of KINDS
    id: int
    name: str
    state: str
    progress: float  # 0..1
    eta: float | None  # seconds, None when unknown
    device: str
    age: float  # seconds since it was made
    detail: str
    jobs: list[tuple[int, str]] = field(default_factory=list)  # (job id, state)
    model: str | None = None  # study: its model family; sampling: the language model
    folder: str | None = None  # lm: where the model is written
    set_id: int | None = None  # scan: the output set it scans
    done_scan: int | None = None  # sampling: its newest finished scan

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"

    def job_ids(self, states: tuple[str, ...]) -> list[int]:
        return [job_id for job_id, state in self.jobs if state in states]


@dataclass
class Overview:
    items: list[Item]
    worker_pid: int | None
    status: str  # the worker and what it runs, or why nothing runs
    machine: str = ""  # the worker's machine over the last minutes, as sparklines (machine_line)


# what a queued stage of the demo waits for: the jobs its previous stage queued before it
DEMO_WAITS = {"sample": "the language model's training", "scan": "the sampling", "studies": "the scan"}


def demo_detail(job: dict) -> str:
    """The demo row's line: the stage its newest job runs, or, queued, what it waits for
    (a queued ``sample`` stage while the model trains, not "stage sample")."""
    stage = job["params"].get("stage", "?")
    if job["state"] == "queued" and stage in DEMO_WAITS:
        return f"waiting for {DEMO_WAITS[stage]}; then stage {stage}"
    return f"stage {stage}"


def owner(job: dict) -> tuple[str, int] | None:
    """The dashboard item a job belongs to, as (kind, id)."""
    return None if job["item_kind"] is None else (job["item_kind"], job["item_id"])


def current(jobs: list[dict]) -> list[dict]:
    """The jobs that say how an item stands: the newest of each study run and of each point
    of an extraction study, and the newest of anything else. A job that failed and was queued anew since is history, not state."""
    newest: dict[object, dict] = {}
    for job in jobs:  # in id order
        slot = job["run_id"] if job["kind"] == "train_run" else (
            ("point", job["params"].get("point")) if job["kind"] == "extraction_point" else None)
        newest[slot] = job
    return sorted(newest.values(), key=lambda job: job["id"])


def item_jobs(store: Store, kind: str, item_id: int, history: bool = False) -> list[dict]:
    """The current jobs of one item (all of them with ``history``), read now, for actions on it."""
    jobs = store.jobs_of(kind, item_id)
    return jobs if history else current(jobs)


def aggregate_state(jobs: list[dict], default: str = "done") -> str:
    states = {job["state"] for job in jobs}
    return next((s for s in STATE_ORDER if s in states), default)


def _running(jobs: list[dict]) -> dict | None:
    return next((job for job in jobs if job["state"] == "running"), None)


def _main_job(jobs: list[dict]) -> dict | None:
    """The job whose progress an item shows: a running one, else a queued one, else the last."""
    return _running(jobs) or next((j for j in jobs if j["state"] == "queued"), None) or (jobs[-1] if jobs else None)


def _progress(job: dict) -> float:
    return 1.0 if job["state"] == "done" else min(max(job["progress"] or 0.0, 0.0), 1.0)


def study_eta(jobs: list[dict], now: float) -> float | None:
    """The running run's ETA plus, for each queued run, the median duration of the
    study's finished runs (its levels train on sets of one size for as many epochs), or,
    before one finished, the running run's estimated total (elapsed / progress); None
    when the running run gives no estimate."""
    import statistics

    running = _running(jobs)
    if running is None or running["eta"] is None:
        return None
    queued = sum(job["state"] == "queued" for job in jobs)
    if not queued:
        return running["eta"]
    took = [j["finished"] - j["started"] for j in jobs
            if j["state"] == "done" and j.get("started") is not None and j.get("finished") is not None]
    if took:
        return running["eta"] + queued * statistics.median(took)
    progress = running["progress"] or 0.0
    if progress <= 0 or running["started"] is None:
        return None
    return running["eta"] + queued * (now - running["started"]) / progress


def _note(base: str, jobs: list[dict], state: str) -> str:
    """An item's detail: its own summary, then the running job's message or the failure."""
    running = _running(jobs)
    if running is not None and running["message"]:
        message = running["message"]
        if message.split(" · ")[0].split()[-1:] == base.split()[-1:]:  # "50/300 outputs · ...": the count again
            return message
        return f"{base} · {message}"
    if state == "failed":
        error = next((j["error"] for j in reversed(jobs) if j["state"] == "failed" and j["error"]), None)
        if error:
            return f"{base} · {error}"
    return base


def _item(kind: str, item_id: int, name: str, jobs: list[dict], created: float | None, now: float,
          device: str, base: str, default_state: str = "done", **extra) -> Item:
    state = aggregate_state(jobs, default_state)
    main = _main_job(jobs)
    if kind in ("study", "extraction"):  # one job per run or point: their mean
        progress = sum(map(_progress, jobs)) / len(jobs) if jobs else 1.0
        eta = study_eta(jobs, now)
    else:
        progress = _progress(main) if main else (1.0 if state == "done" else 0.0)
        eta = main["eta"] if main is not None and main["state"] == "running" else None
    slots = sorted({j["slot"] for j in jobs if j["state"] == "running" and j.get("slot") is not None})
    if slots:  # the worker's slots its running jobs hold (engine.slots): "cuda #0,1"
        device = f"{device or 'auto'} #{','.join(map(str, slots))}"
    return Item(kind, item_id, name, state, progress, eta, device or "-", max(now - (created or now), 0.0),
                _note(base, jobs, state), [(j["id"], j["state"]) for j in jobs], **extra)


def overview(store: Store, now: float) -> Overview:
    """Every study, language-model training, output set and scan, with the status line."""
    grouped: dict[tuple[str, int], list[dict]] = {}
    all_jobs = store.jobs()
    for job in all_jobs:
        key = owner(job)
        if key is not None:
            grouped.setdefault(key, []).append(job)
    grouped = {key: current(jobs) for key, jobs in grouped.items()}
    items: list[Item] = []
    devices = store.run_devices()
    for study in store.studies():
        jobs = grouped.get(("study", study["id"]), [])
        runs = len(study["levels"])
        done = sum(j["state"] == "done" for j in jobs) if jobs else runs
        device = ",".join(devices.get(study["id"], [])) or study["device"]  # what "auto" became, once known
        items.append(_item("study", study["id"], study["name"] or study["model"], jobs, study["created"], now,
                           device, f"{done}/{runs} runs done", model=study["model"]))
    for lm in store.lm_trainings():
        out = lm["out"] or ""
        items.append(_item("lm", lm["id"], Path(out).name or out, grouped.get(("lm", lm["id"]), []), lm["created"],
                           now, lm["device"], f"{lm['preset'] or '?'} preset", folder=out))
    scans = store.scans()
    for outputs in store.output_sets():
        jobs = grouped.get(("sampling", outputs["id"]), [])
        device = next((j["params"].get("device") for j in reversed(jobs) if j["params"].get("device")), None)
        done_scans = [s["id"] for s in scans if s["set_id"] == outputs["id"] and s["state"] == "done"]
        items.append(_item("sampling", outputs["id"], outputs["name"] or f"set {outputs['id']}", jobs,
                           outputs["created"], now, device, f"{outputs['count']}/{outputs['n']} outputs",
                           model=outputs["model"], done_scan=max(done_scans, default=None)))
    for scan in scans:
        jobs = grouped.get(("scan", scan["id"]), [])
        if scan["state"] == "done":
            base = f"{scan['stats'].get('snippets', 0)} snippets, {scan['rules']} rules"
        else:
            outputs = store.output_count(scan["set_id"], scan["n_outputs"]) if scan["set_id"] is not None else "?"
            base = f"set {scan['set_id']}, {outputs} outputs, {scan['rules']} rules"
        items.append(_item("scan", scan["id"], scan_name(scan), jobs,
                           scan["created"], now, "-", base, default_state=scan["state"] or "done",
                           set_id=scan["set_id"]))
    for run in store.extractable_runs():
        jobs = grouped.get(("extractable", run["id"]), [])
        device = next((j["params"].get("device") for j in reversed(jobs) if j["params"].get("device")), None)
        figures = store.extractable_summary(run["id"])
        base = (f"{figures['extractable']}/{figures['scored']} extractable ({figures['rate']:.1%})"
                if figures["scored"] else f"{run['n']} windows of {run['prefix']}+{run['suffix']} tokens")
        items.append(_item("extractable", run["id"], run["name"] or run["model"], jobs, run["created"], now, device,
                           base, model=run["model"]))
    for study in store.extraction_studies():
        jobs = grouped.get(("extraction", study["id"]), [])
        points = len(store.extraction_points(study["id"]))
        done = sum(j["state"] == "done" for j in jobs) if jobs else points
        device = next((j["params"].get("device") for j in reversed(jobs) if j["params"].get("device")), None)
        items.append(_item("extraction", study["id"], study["name"], jobs, study["created"], now, device,
                           f"{done}/{points} points done"))
    demo = grouped.get(("demo", 1))
    if demo:
        first = min((j for j in all_jobs if j["kind"] == "demo"), key=lambda j: j["id"])
        items.append(_item("demo", 1, "demo on the standard library", demo, first["created"], now, "-",
                           demo_detail(demo[-1])))
    pid = worker_pid(store)
    machine = machine_line(store.machine_samples(now - MACHINE_WINDOW_S), now) if pid else ""
    return Overview(items, pid, status_line(store, all_jobs, items, pid), machine)


def status_line(store: Store, jobs: list[dict], items: list[Item], pid: int | None) -> str:
    """``worker 123: running: study 1 (ggnn) 25% noise — epoch 3/5 ...``, ``worker 123:
    idle``, or ``no worker; 4 jobs queued (press w to start one)``."""
    waiting = sum(job["state"] in ACTIVE for job in jobs)
    if pid is None:
        return (f"no worker; {waiting} job{'s' * (waiting != 1)} queued (press w to start one)" if waiting
                else "no worker; nothing queued")
    running = _running(jobs)
    if running is None:
        return f"worker {pid}: idle"
    return f"worker {pid}: running: {describe_job(store, running, items)}"


def describe_job(store: Store, job: dict, items: list[Item]) -> str:
    """A running job as the status line names it: its item, then its message."""
    key = owner(job)
    item = next((i for i in items if (i.kind, i.id) == key), None)
    if item is None:
        what = f"job {job['id']} ({job['kind']})"
    elif item.kind == "study":
        what = f"study {item.id} ({item.model})"
        try:
            what += f" {store.run(job['run_id'])['level']:g}% noise"
        except InputError:  # no run id, or the run was deleted meanwhile
            pass
    else:
        what = f"{item.kind} {item.id} ({item.name})"
    message = job["message"] or f"{job['progress'] or 0:.0%}"
    return f"{what} — {message}"


# -- actions on one item ------------------------------------------------------------------
def cancel_item(store: Store, item: Item) -> str:
    jobs = [j for j in item_jobs(store, item.kind, item.id, history=True) if j["state"] in ACTIVE]
    for job in jobs:
        store.request_cancel(job["id"])
    what = f"{item.kind} {item.id}"
    return f"{what}: cancelling {len(jobs)} job(s)" if jobs else f"{what}: nothing to cancel"


def resume_item(store: Store, item: Item) -> int:
    """Queue the item's cancelled and failed jobs again; how many were."""
    return sum(store.resume_job(j["id"]) for j in item_jobs(store, item.kind, item.id) if j["state"] in RESUMABLE)


DELETERS = {
    "study": Store.delete_study, "sampling": Store.delete_output_set, "scan": Store.delete_scan,
    "lm": Store.delete_lm_training, "extractable": Store.delete_extractable_run,
    "extraction": Store.delete_extraction_study, "demo": lambda store, item_id: store.delete_jobs_of("demo", item_id),
}
WHAT_GOES = {
    "study": "its runs, metrics and jobs (its files stay)",
    "sampling": "its outputs, its scans and their jobs",
    "scan": "its snippets and jobs",
    "lm": "its job (the model folder stays)",
    "extractable": "its windows and job",
    "extraction": "its points and jobs (their output sets and scans stay)",
    "demo": "its stage jobs (the studies, model, samples and scan it made stay)",
}


def scan_name(scan: dict) -> str:
    """What names a scan on every face: the name it was given, else its corpus, else its
    source (``simian`` for an import)."""
    return scan.get("name") or scan["corpus_label"] or scan["source"]


def delete_item(store: Store, item: Item) -> str:
    """Delete an item that nothing of runs (an output set goes with its scans), and that
    no extraction study's point holds (its output set or scan)."""
    scans = [s["id"] for s in store.scans() if s["set_id"] == item.id] if item.kind == "sampling" else []
    for kind, item_id in [(item.kind, item.id), *(("scan", s) for s in scans)]:
        if store.jobs_of(kind, item_id, ("running",)):
            raise InputError(f"{kind} {item_id} is running: cancel it first")
    if item.kind in ("sampling", "scan"):
        column = "set_id" if item.kind == "sampling" else "scan_id"
        for study in store.extraction_studies():
            held = [p["point"] for p in store.extraction_points(study["id"]) if p[column] == item.id]
            if held:
                raise InputError(f"{item.kind} {item.id} is point {held[0]} of extraction study {study['id']}: "
                                 "delete the study first (its output sets and scans stay)")
    DELETERS[item.kind](store, item.id)
    return f"{item.kind} {item.id} deleted"


# -- formatting (shared by the faces) ---------------------------------------------------------
SPARKS = "▁▂▃▄▅▆▇█"
MACHINE_WINDOW_S = 300.0  # the sparklines' span
SPARK_WIDTH = 24


def sparkline(values: list[float | None], width: int = SPARK_WIDTH, top: float = 1.0) -> str:
    """The last ``width`` values (0..top) as block characters, a gap where one is missing."""
    out = []
    for value in values[-width:]:
        if value is None:
            out.append(" ")
        else:
            share = min(max(value / top, 0.0), 1.0) if top > 0 else 0.0
            out.append(SPARKS[min(int(share * len(SPARKS)), len(SPARKS) - 1)])
    return "".join(out)


def machine_line(samples: list[dict], now: float) -> str:
    """``cpu ▂▃▅▇ 71% · ram ▅▅▅ 12.0/24.0 GB · gpu0 ▇▇ 97% 61/80 GB``: the worker's
    machine over the last minutes, each figure's latest value after its sparkline; empty
    when the newest sample is more than a minute old (a worker that stopped sampling)."""
    if not samples or now - samples[-1]["time"] > 60:
        return ""
    last = samples[-1]
    parts = []
    cpus = [s["cpu"] for s in samples]
    if last["cpu"] is not None:
        parts.append(f"cpu {sparkline(cpus)} {last['cpu']:.0%}")
    if last["ram_total"]:
        parts.append(f"ram {sparkline([s['ram_used'] for s in samples], top=last['ram_total'])} "
                     f"{last['ram_used'] / 1e9:.1f}/{last['ram_total'] / 1e9:.1f} GB")
    for g, (used, total, util) in enumerate(last["gpus"]):
        series = [s["gpus"][g][2] if len(s["gpus"]) > g else None for s in samples]
        shown = f"{util:.0%} " if util is not None else ""
        parts.append(f"gpu{g} {sparkline(series)} {shown}{used / 1e9:.0f}/{total / 1e9:.0f} GB")
    return " · ".join(parts)


def bar(progress: float, width: int = 10) -> str:
    """``███████░░░  70%``: a fixed-width text bar and the percentage."""
    progress = min(max(progress, 0.0), 1.0)
    filled = round(progress * width)
    return "█" * filled + "░" * (width - filled) + f" {progress:4.0%}"


def duration(seconds: float | None) -> str:
    """An ETA: ``42s``, ``4m12s``, ``2h05m``, ``3d04h``; ``-`` when unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "-"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def stamp(t: float) -> str:
    """A moment in local time, ``2026-12-04 21:05:02`` (job logs)."""
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def age(seconds: float) -> str:
    """A coarse age: ``12s``, ``5m``, ``3h``, ``2d``; ``-`` when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    s = max(int(seconds), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            return f"{s // size}{unit}"
    return f"{s}s"


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` cells with an ellipsis."""
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"
