"""The demo: both instruments end to end on this Python's standard library, and the
check of the paper's observations on its results (:func:`observations`).

Its settings and steps live here, shared by ``byrote demo --headless`` (which runs them
in the foreground) and job kind ``demo`` (:func:`demo_job`, a chain of stages, which the
app's worker runs). Every file goes to ``<files>/demo``; the settings are plain data
(:func:`demo_settings`), so a test can make the demo tiny. Nothing here imports torch at
module level.
"""
from __future__ import annotations

import hashlib
import json
import sysconfig
from pathlib import Path
from typing import Callable

from engine.launch import (check_extractable, check_extraction, check_lm_training, check_scan, create_extraction,
                           enqueue_extractable, enqueue_lm_training, enqueue_sampling, enqueue_scan)
from engine.errors import InputError
from engine.noise import level_name
from engine.results import summary
from engine.store import ACTIVE, Store

STDLIB = Path(sysconfig.get_paths()["stdlib"])
DEMO_LIMIT = 2000   # VarMisuse: functions taken from the standard library
DEMO_EPOCHS = 5     # VarMisuse epochs per level
MN_TOP = 10         # method names: the K most frequent names, as Java-Top10
MN_EPOCHS = 3
MN_CSR_SAMPLES = 100
CONTRAST_EPOCHS = 5  # the capacity contrast (byrote demo --study code2seq): epochs per level
CONTRAST_LEVELS = [0.0, 100.0]
DEMO_LEVELS = [0.0, 25.0, 50.0, 75.0, 100.0]
LM_SLICE_BYTES = 20_000  # the language model's corpus: stdlib files of 2-6 kB, in order, up to this size
LM_FILE_BYTES = (2_000, 6_000)
LM_OUTPUTS = 300
LM_SEQ_LEN = 240  # within the quick model's 256 positions, after the BOS token
LM_BATCH = 50
LM_TOP_K = 40
SCAN_WORKERS = 2
LM_WINDOWS = 100  # k-extractability of the model on its own corpus: windows of 32 + 32 tokens (Pythia's)
LM_WINDOWS_PER_FILE = 25
LM_PREFIX = LM_SUFFIX = 32
LM_GRID = {"top_k": [5, LM_TOP_K]}  # the extraction study's grid: its top-k 40 point is the sampling above
STAGES = ("start", "sample", "scan", "studies")

Progress = Callable[[float, str], None]


def demo_settings(seed: int = 0, limit: int | None = None, epochs: int | None = None, model: str = "ggnn",
                  **changes) -> dict:
    """The demo's settings (JSON data, kept in each ``demo`` job's params); ``epochs``
    sets both studies' epochs, as ``byrote demo --epochs`` does; ``changes`` set others."""
    settings = dict(
        seed=seed, source=str(STDLIB), device="auto", preset="quick", levels=list(DEMO_LEVELS),
        model=model, limit=limit or DEMO_LIMIT, epochs=epochs or DEMO_EPOCHS, vm_overrides={},
        mn_top=MN_TOP, mn_epochs=epochs or MN_EPOCHS, mn_overrides={"csr_samples": MN_CSR_SAMPLES},
        lm_preset="quick", lm_settings={}, lm_bytes=LM_SLICE_BYTES, lm_file_bytes=list(LM_FILE_BYTES),
        lm_outputs=LM_OUTPUTS, lm_seq_len=LM_SEQ_LEN, lm_batch=LM_BATCH, scan_workers=SCAN_WORKERS,
        lm_windows=LM_WINDOWS,
    )
    unknown = sorted(set(changes) - set(settings))
    if unknown:
        raise InputError(f"unknown demo setting {', '.join(unknown)} (known: {', '.join(sorted(settings))})")
    settings.update(changes)
    return settings


def demo_folder(store: Store) -> Path:
    return store.files / "demo"


# -- the language model, its outputs and their scan ----------------------------------------
def stdlib_slice(source: Path, target: Path, budget: int, smallest: int = 0, largest: int | None = None) -> Path:
    """Copy ``.py`` files of ``source`` of ``smallest``..``largest`` bytes, in sorted order,
    while they fit in ``budget`` bytes, into ``target``: the language model's corpus."""
    from engine.data.sources import source_files

    taken = 0
    for rel in source_files(source, ".py"):
        data = (source / rel).read_bytes()
        if len(data) < smallest or (largest is not None and len(data) > largest):
            continue
        if taken + len(data) > budget:
            continue  # too big for what is left: a later, smaller file may fit
        dest = target / rel
        if not dest.is_file() or dest.read_bytes() != data:
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
        taken += len(data)
    return target


def lm_corpus(store: Store, s: dict):
    """The language model's corpus: the slice of the source, cut (again) into the demo folder."""
    from engine.data.corpus import open_corpus

    target = demo_folder(store) / f"lm-corpus-{s['lm_bytes']}"
    return open_corpus(str(stdlib_slice(Path(s["source"]), target, s["lm_bytes"], *s["lm_file_bytes"])),
                       glob="*.py")


def lm_model_dir(store: Store, s: dict) -> Path:
    """Where the demo's language model is trained (one folder per preset, slice and seed)."""
    name = f"lm-{s['lm_preset']}-{s['lm_bytes']}-seed{s['seed']}"
    if s["lm_settings"]:
        name += "-" + hashlib.md5(json.dumps(s["lm_settings"], sort_keys=True).encode()).hexdigest()[:8]
    return demo_folder(store) / name


def lm_trained(model: Path) -> bool:
    return (model / "config.json").is_file()


def sampling_identity(model: Path, s: dict) -> dict:
    """The settings that name the demo's output set (see :func:`engine.launch.enqueue_sampling`)."""
    return dict(model=str(model), seq_len=s["lm_seq_len"], top_k=LM_TOP_K, temperature=1.0, schedule=None,
                batch_size=s["lm_batch"], seed=s["seed"], prompt=None)


def queue_lm_training(store: Store, corpus, s: dict) -> tuple[int | None, str]:
    """The job training the demo's language model (None if it was trained earlier)."""
    model = lm_model_dir(store, s)
    if lm_trained(model):
        return None, f"reusing the model trained earlier in {model}"
    known = store.lm_training_into(str(model))
    job = known and store.active_job("lm", known["id"])
    if not job:
        plan = check_lm_training(model, s["lm_preset"], s["lm_settings"])
        _, job = enqueue_lm_training(store, plan, corpus, s["seed"], s["device"])
    return job, f"training of the language model queued (job {job})"


def queue_sampling(store: Store, s: dict) -> tuple[int, int | None, str]:
    """The output set sampled from the demo's model, and the job that fills it (None if full)."""
    model = lm_model_dir(store, s)
    if not lm_trained(model):
        raise InputError("holds no trained language model (its training failed or was cancelled)", model)
    return enqueue_sampling(store, sampling_identity(model, s), s["lm_outputs"], device=s["device"],
                            name=f"{s['lm_preset']} GPT-2, top-k {LM_TOP_K} · demo")


def queue_scan(store: Store, s: dict) -> tuple[int, int, str]:
    """The scan of the demo's outputs against the model's corpus, and its job."""
    found = store.find_output_set(**sampling_identity(lm_model_dir(store, s), s))
    if found is None or found["count"] == 0:
        raise InputError("the demo's language model has no sampled outputs to scan "
                         "(the sampling failed or was cancelled)")
    return enqueue_scan(store, check_scan(store, found["id"], 6), lm_corpus(store, s), workers=s["scan_workers"])


def queue_extractable(store: Store, s: dict) -> tuple[int, int, str]:
    """The k-extractability run of the demo's model on its own corpus (32 + 32 tokens,
    several windows per file of the small slice), and its job; the run queued earlier
    when there is one."""
    model = lm_model_dir(store, s)
    known = [r for r in store.extractable_runs() if r["model"] == str(model) and r["n"] == s["lm_windows"]]
    if known:
        run = known[-1]
        job = store.active_job("extractable", run["id"]) or store.jobs_of("extractable", run["id"])[-1]["id"]
        return run["id"], job, f"k-extractability run {run['id']} queued earlier"
    plan = check_extractable(str(model), lm_corpus(store, s), s["lm_windows"], LM_PREFIX, LM_SUFFIX, s["seed"],
                             per_document=LM_WINDOWS_PER_FILE)
    run_id, job = enqueue_extractable(store, plan, name=f"{s['lm_preset']} GPT-2 on its corpus · demo",
                                      device=s["device"])
    return run_id, job, f"k-extractability run {run_id} (job {job}): {s['lm_windows']} windows of its corpus"


def queue_extraction(store: Store, s: dict) -> tuple[int, list[int], str]:
    """The demo's extraction study over top-k 5 and 40 (its top-k 40 point reuses the
    demo's output set and scan), and its jobs; the one queued earlier when there is one."""
    name = f"{s['lm_preset']} GPT-2 over top-k · demo"
    known = [x for x in store.extraction_studies() if x["name"] == name]
    if known:
        return known[-1]["id"], [], f"extraction study {known[-1]['id']} queued earlier"
    identity = sampling_identity(lm_model_dir(store, s), s)
    base = dict(n=s["lm_outputs"], seq_len=identity["seq_len"], top_k=LM_TOP_K, temperature=identity["temperature"],
                batch_size=identity["batch_size"], seed=identity["seed"], rules="simian", min_lines=6,
                workers=s["scan_workers"])
    corpus = lm_corpus(store, s)
    grid, points = check_extraction([identity["model"]], [f"top_k={','.join(map(str, LM_GRID['top_k']))}"], base,
                                    corpus)
    study_id, jobs = create_extraction(store, name, corpus, base, grid, points, s["device"])
    return study_id, jobs, f"extraction study {study_id} (jobs {jobs[0]}-{jobs[-1]}): top-k 5 and 40"


# -- the noise studies ------------------------------------------------------------------------
def _dataset_paths(store: Store, s: dict) -> tuple[Path, Path]:
    folder = demo_folder(store)
    return (folder / f"varmisuse-{s['limit']}-seed{s['seed']}.jsonl",
            folder / f"methodname-top{s['mn_top']}-seed{s['seed']}.jsonl")


def _study_plans(s: dict) -> list[dict]:
    """What differs between the two studies (create_study's arguments, less the data)."""
    return [
        dict(task="varmisuse", model=s["model"], epochs=s["epochs"], overrides=s["vm_overrides"],
             name=f"{s['model']} on the standard library · demo"),
        dict(task="methodname", model="code2vec", epochs=s["mn_epochs"], overrides=s["mn_overrides"],
             name=f"code2vec on the standard library's top {s['mn_top']} names · demo"),
    ]


def build_demo_datasets(store: Store, s: dict, progress: Progress | None = None):
    """Build the VarMisuse and the method-name dataset from the source; their reports."""
    from engine.data.methodname_build import build_methodname
    from engine.data.varmisuse_build import build_varmisuse

    say = progress or (lambda fraction, message: None)
    vm_out, mn_out = _dataset_paths(store, s)
    say(0.0, "demo: building the VarMisuse dataset from the standard library")
    vm = build_varmisuse(Path(s["source"]), vm_out, limit=s["limit"], seed=s["seed"])
    if not (vm.samples_train and vm.samples_valid):  # said now, not after the method-name dataset
        for path in (vm.train_path, vm.valid_path):  # no demo could use them
            path.unlink(missing_ok=True)
        raise InputError(f"--limit {s['limit']} leaves the VarMisuse {'held-out' if vm.samples_train else 'training'} "
                         f"split empty (functions are split by file); take more (the default is {DEMO_LIMIT:,})",
                         field="limit")
    say(0.3, f"demo: building the method-name dataset (top {s['mn_top']} names) from the standard library")
    mn = build_methodname(Path(s["source"]), mn_out, lang="python", top=s["mn_top"], seed=s["seed"])
    return vm, mn


def _existing_study(store: Store, plan: dict, train: Path, s: dict) -> int | None:
    """A study this demo made earlier with these very settings (named as before, when the
    model came after a ``demo:`` prefix, or as now)."""
    names = {plan["name"], "demo: " + plan["name"].removesuffix(" · demo")}
    for study in store.studies():
        if (study["name"] in names and study["task"] == plan["task"] and study["model"] == plan["model"]
                and study["train_path"] == str(train.resolve()) and study["epochs"] == plan["epochs"]
                and study["seed"] == s["seed"] and study["preset"] == s["preset"]
                and study["levels"] == [float(x) for x in s["levels"]]):
            return study["id"]
    return None


def create_demo_studies(store: Store, s: dict, datasets=None, progress: Progress | None = None,
                        reuse: bool = True) -> tuple[int, int]:
    """The VarMisuse and the method-name study (their runs queued); with ``reuse``, a study
    this demo made earlier with the same settings is kept instead of made again.
    ``datasets`` are the reports of :func:`build_demo_datasets` (built here if None)."""
    from engine.launch import create_study

    say = progress or (lambda fraction, message: None)
    plans = _study_plans(s)
    trains = _dataset_paths(store, s)
    ids = [_existing_study(store, plan, train, s) if reuse else None for plan, train in zip(plans, trains)]
    if None in ids:
        vm, mn = datasets or build_demo_datasets(store, s, say)
        for i, (plan, train, valid) in enumerate(zip(plans, (vm.train_path, mn.train_path),
                                                     (vm.valid_path, mn.test_path))):
            if ids[i] is None:
                say(0.6 + 0.2 * i, f"demo: creating the study {plan['name']!r}")
                ids[i] = create_study(store, train=str(train), valid=str(valid), levels=s["levels"],
                                      preset=s["preset"], seed=s["seed"], device=s["device"], **plan)
    return ids[0], ids[1]


# -- job kind "demo" ----------------------------------------------------------------------------
def queue_stage(store: Store, stage: str, s: dict) -> int:
    """The ``demo`` job of ``stage`` (the queued or running one if there is one)."""
    active = [j["id"] for j in store.jobs_of("demo", 1, ACTIVE) if j["params"].get("stage") == stage]
    return active[0] if active else store.add_job("demo", {"stage": stage, "settings": s}, item=("demo", 1))


def start_demo(store: Store, s: dict) -> int | None:
    """Queue the chain's first stage, unless this database has had a demo job already."""
    if store.jobs_of("demo", 1):
        return None
    return queue_stage(store, "start", s)


def _stage_start(store: Store, s: dict, say: Progress) -> str:
    say(0.0, f"demo: cutting a {s['lm_bytes'] / 1000:g} kB slice of the standard library for the language model")
    _, said = queue_lm_training(store, lm_corpus(store, s), s)
    queue_stage(store, "sample", s)
    return said


def _stage_sample(store: Store, s: dict, say: Progress) -> str:
    say(0.0, f"demo: queueing {s['lm_outputs']} outputs of the language model")
    try:
        _, job, said = queue_sampling(store, s)
    except InputError:
        queue_stage(store, "studies", s)  # the noise studies go on without it
        raise
    queue_stage(store, "scan", s)
    return said if job is None else f"{said} (job {job})"


def _stage_scan(store: Store, s: dict, say: Progress) -> str:
    say(0.0, "demo: queueing the scan of the outputs against the language model's corpus")
    try:
        _, _, said = queue_scan(store, s)
        try:
            _, _, also = queue_extractable(store, s)
        except InputError as exc:  # the scan goes on without it, and the stage says why
            also = f"no k-extractability run: {exc}"
        try:
            _, _, grid = queue_extraction(store, s)
        except InputError as exc:
            grid = f"no extraction study: {exc}"
        also = f"{also}; {grid}"
    finally:
        queue_stage(store, "studies", s)  # after the scan's jobs, or without them
    return f"{said}; {also}"


def _stage_studies(store: Store, s: dict, say: Progress) -> str:
    vm_study, mn_study = create_demo_studies(store, s, progress=say)
    runs = sum(len(store.runs(study)) for study in (vm_study, mn_study))
    return f"studies {vm_study} and {mn_study}: {runs} runs, one per noise level"


_STAGE_FUNCTIONS = {"start": _stage_start, "sample": _stage_sample, "scan": _stage_scan, "studies": _stage_studies}


def demo_job(ctx) -> None:
    """Job kind ``demo``: params ``stage`` (one of :data:`STAGES`) and ``settings``.

    The worker runs queued jobs one at a time, oldest first, and later steps need earlier
    results, so job kind ``demo`` is a chain of stages, each queueing the next work:

    - ``start``: cut the standard-library slice the language model learns, queue its
      training (``lm_train``, unless the model was trained earlier), then stage
      ``sample``;
    - ``sample``: queue the sampling of the model's outputs, then stage ``scan``;
    - ``scan``: queue the scan of the outputs against the slice, the model's
      k-extractability on it and an extraction study over top-k 5 and 40, then stage
      ``studies``;
    - ``studies``: build the VarMisuse and method-name datasets and create the two noise
      studies, whose ``train_run`` jobs follow.

    A stage run again (after a lost worker) queues nothing twice, and a chain whose
    language model or outputs are missing still goes on to the studies.
    """
    stage = ctx.params.get("stage")
    if stage not in _STAGE_FUNCTIONS:
        raise InputError(f"unknown demo stage {stage!r} (known: {', '.join(STAGES)})")
    s = demo_settings(**ctx.params.get("settings", {}))

    def say(fraction: float, message: str) -> None:
        ctx.check_cancel()
        ctx.progress(fraction, message, force=True)

    said = _STAGE_FUNCTIONS[stage](ctx.store, s, say)
    ctx.progress(1.0, f"demo: {said}", force=True)


# -- the paper's observations, checked on the studies' results ------------------------------
# -- the capacity contrast (byrote demo --study code2seq) ---------------------------------------
def create_contrast_studies(store: Store, s: dict, dataset) -> tuple[int, int]:
    """code2vec and code2seq on the same method-name dataset (``dataset``: the report of
    :func:`build_demo_datasets`' method-name build) at 0 % and 100 % noise, their runs
    queued: Rabin et al.'s capacity contrast (Table 1, Observation 1)."""
    from engine.launch import create_study

    return tuple(create_study(store, task="methodname", model=model, train=str(dataset.train_path),
                              valid=str(dataset.test_path), levels=CONTRAST_LEVELS, epochs=s["mn_epochs"],
                              preset=s["preset"], seed=s["seed"], device=s["device"], overrides=s["mn_overrides"],
                              name=f"{model} on the standard library's top {s['mn_top']} names · demo")
                 for model in ("code2vec", "code2seq"))


def capacity_contrast(store: Store, vec_study: int, seq_study: int) -> tuple[str, bool, str]:
    """Observation 1's contrast (§5.1): at 100 % noise code2vec, the larger model, fits its
    training set far better than code2seq (training F1 at least 0.1 higher)."""
    rows = {}
    for study in (vec_study, seq_study):
        at = {r["level"]: r for r in summary(store, study)}
        runs = {r["level"]: r for r in store.runs(study)}
        rows[study] = (at.get(100.0, {}).get("train.f1_score"), runs.get(100.0, {}).get("n_params"))
    (vec, vec_params), (seq, seq_params) = rows[vec_study], rows[seq_study]
    holds = vec is not None and seq is not None and vec - seq >= 0.1
    detail = (f"code2vec {_or_nan(vec):.3f} ({vec_params or 0:,} parameters)  "
              f"code2seq {_or_nan(seq):.3f} ({seq_params or 0:,} parameters)")
    return "Observation 1, capacity: at 100% noise code2vec's training F1 far above code2seq's", holds, detail


def _or_nan(value: float | None) -> float:
    return float("nan") if value is None else value


def _falls(store: Store, study_id: int, key: str) -> tuple[bool, str]:
    """Whether ``key`` at the last epoch never rises from one noise level to the next."""
    rows = sorted(summary(store, study_id), key=lambda r: r["level"])
    values = [r.get(key) for r in rows]
    falling = all(a is not None and b is not None and b <= a for a, b in zip(values, values[1:]))
    return falling, "  ".join(f"{level_name(r['level'])}%: {_or_nan(v):.3f}" for r, v in zip(rows, values))


def observations(store: Store, vm_study: int, mn_study: int | None = None) -> list[tuple[str, bool, str]]:
    """The paper's Observation 1 (held-out performance falls with noise, §5.1) and 2 (even
    a little noise lowers the models' confidence, §5.2) on both tasks, Observation 3 (the
    spread of training loss is lower at 100 % noise than at 0 %, §5.3) on VarMisuse, and
    Observation 4 (the critical sample ratio rises with noise, §5.4) on method names."""
    found = []
    holds, detail = _falls(store, vm_study, "valid.loc_accuracy")
    found.append(("Observation 1, VarMisuse: held-out localization accuracy falls as noise rises", holds, detail))
    if mn_study is not None:
        holds, detail = _falls(store, mn_study, "valid.f1_score")
        found.append(("Observation 1, method names: held-out F1 falls as noise rises", holds, detail))
    found.append(_lower("Observation 2, VarMisuse: held-out confidence (mean predicted location score) "
                        "lower at 25% than at 0%", store, vm_study, "valid.mean_score_loc", 0.0, 25.0))
    if mn_study is not None:
        found.append(_lower("Observation 2, method names: held-out confidence (mean predicted score) lower at 25% "
                            "than at 0%", store, mn_study, "valid.mean_score", 0.0, 25.0))
    found.append(_lower("Observation 3, VarMisuse: train-loss Gini lower at 100% than at 0%", store, vm_study,
                        "train.gini_loss", 0.0, 100.0))
    if mn_study is not None:
        found.append(_lower("Observation 4, method names: held-out critical sample ratio higher at 100% than at 0%",
                            store, mn_study, "valid.csr_all", 100.0, 0.0))
    return found


def _lower(text: str, store: Store, study_id: int, key: str, low: float, high: float) -> tuple[str, bool, str]:
    """Whether ``key`` at the last epoch is lower at level ``high`` than at level ``low``."""
    value = {r["level"]: r.get(key) for r in summary(store, study_id)}
    holds = value.get(high) is not None and value.get(low) is not None and value[high] < value[low]
    shown = sorted((low, high))
    return text, holds, "  ".join(f"{level_name(level)}%: {_or_nan(value.get(level)):.3f}" for level in shown)
