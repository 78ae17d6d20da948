"""Launching: check the inputs, write what the jobs need, and enqueue them.

One entry per job kind, shared by the command line, the app's forms and the demo:
:func:`create_study` (a noise study, one ``train_run`` per level), :func:`enqueue_sampling`,
:func:`enqueue_scan`, :func:`enqueue_lm_training` and :func:`enqueue_extractable`. Each refuses bad input with an
:class:`~engine.errors.InputError` whose ``field`` names the option it came from, before
anything is written, and prints nothing. Nothing here imports torch, transformers or
datasets (an ``hf:`` corpus imports datasets when it is opened).
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
import os
import shutil
from pathlib import Path
from typing import Iterator

import numpy as np

from engine.clones.rules import DEFAULT_RULES, get_rules
from engine.errors import InputError
from engine.fsutil import atomic_path, require_file
from engine.noise import level_name, write_noisy_copy
from engine.noise.input import LABEL, apply_noise, check_kind
from engine.presets import load_preset, preset_kind
from engine.sizes import gpt2_param_count, study_param_count, training_bytes
from engine.runtime import check_device, cpu_threads, device_memory
from engine.store import ACTIVE as ACTIVE_STATES, Store
from engine.tasks import TASK_MODELS, get_task


@contextlib.contextmanager
def field(name: str) -> Iterator[None]:
    """Tag an InputError raised inside with the option it concerns (unless it names one)."""
    try:
        yield
    except InputError as exc:
        if exc.field is None:
            exc.field = name
        raise


# -- noise studies ------------------------------------------------------------------------
def create_study(
    store: Store,
    *,
    task: str,
    train: str,
    valid: str,
    model: str,
    levels: list[float],
    epochs: int,
    preset: str,
    seed: int = 0,
    device: str = "auto",
    name: str | None = None,
    overrides: dict | None = None,
    reference: str | None = None,
    reference_dataset: str | None = None,
    trials: int = 1,
    noise_kind: str = "label",
) -> int:
    """Validate the inputs, write the noisy copies and enqueue one job per level.
    ``reference``: a folder of published curves to show beside the study's
    (:mod:`engine.compare`), kept in its settings, with ``reference_dataset`` where the
    folder holds the model's curves on several datasets. ``trials``: independent noise draws
    (and model seeds) per level, :func:`trial_seed`. ``noise_kind``: label noise (the
    default) or one of the task's input noises (:mod:`engine.noise.input`), kept in its
    settings."""
    with field("task"):
        get_task(task)
    if model not in TASK_MODELS[task]:
        raise InputError(f"unknown model {model!r} for {task} (choose from {', '.join(TASK_MODELS[task])})",
                         field="model")
    spec = get_task(task, model)
    check_kind(task, noise_kind)
    if epochs < 1:
        raise InputError("--epochs must be at least 1", field="epochs")
    if not 1 <= trials <= MAX_TRIALS:
        raise InputError(f"--trials must be from 1 to {MAX_TRIALS:,}, not {trials}", field="trials")
    check_device(device, probe=False)
    cfg = load_preset(preset, preset_kind(task, model), overrides)
    check_device(device)  # refuse a missing GPU now, not in the worker hours later
    check_memory(study_param_count(preset_kind(task, model), model, cfg), device, f"a {model} of preset {preset!r}")
    samples = {}
    for split, given in (("train", train), ("valid", valid)):
        with field(split):
            path = require_file(given)
            samples[split] = (path, spec.read(str(path)))  # read now, not in the worker hours later
            spec.check(cfg, samples[split][1], str(path))
    (train_path, train_samples), (valid_path, valid_samples) = samples["train"], samples["valid"]
    check_protocol(cfg, len(train_samples), len(valid_samples))
    if reference_dataset is not None and reference is None:
        raise InputError("--published-dataset chooses among the curves of --reference, which was not given",
                         field="reference")
    if reference is not None:
        cfg["reference"] = check_reference(reference, spec, model, levels, reference_dataset)
        if reference_dataset is not None:
            cfg["reference_dataset"] = reference_dataset
    cfg["trials"] = trials
    cfg.setdefault("cpu_threads", cpu_threads())  # a CPU run computes the same numbers on any executor
    if noise_kind != LABEL:
        cfg["noise_kind"] = noise_kind
    # every level's noise is drawn before anything is written: an impossible level
    # (too few eligible samples) leaves no half-made study behind
    with field("levels"):
        results = {(level, t): apply_noise(spec, train_samples, level, trial_seed(seed, t), noise_kind)
                   for level in levels for t in range(trials)}

    study_id = store.add_study(
        name=name or f"{task}-{model}-{train_path.stem}",
        task=task, model=model, preset=preset, epochs=epochs, seed=seed, device=device,
        train_path=str(train_path.resolve()), valid_path=str(valid_path.resolve()),
        levels=levels, config=cfg,
    )
    out_dir = store.study_dir(study_id)
    try:
        # the store keeps its own copy of the held-out set, so a resumed run never reads
        # a file that changed since the study began
        with atomic_path(store.heldout_path(study_id, valid_path)) as tmp:
            shutil.copyfile(valid_path, tmp)
        for (level, t), result in results.items():
            noisy = out_dir / f"train_{level_name(level)}{f'_trial{t}' if t else ''}.jsonl"
            changed = write_noisy_copy(spec, result, noisy)
            run_id = store.add_run(
                study_id=study_id, level=level, trial=t, seed=trial_seed(seed, t), epochs=epochs,
                train_path=str(noisy.relative_to(store.files)),
                changed_path=str(changed.relative_to(store.files)),
                epochs_done=0,
            )
            store.add_job("train_run", {"run_id": run_id}, item=("study", study_id), run_id=run_id)
    except BaseException:
        store.delete_study(study_id)
        shutil.rmtree(out_dir, ignore_errors=True)
        raise
    return study_id


def check_memory(parameters: int | None, device: str, what: str) -> None:
    """Refuse a model whose parameters alone (weights, gradients and Adam's moments:
    :func:`engine.sizes.training_bytes`, a lower bound of what training needs) do
    not fit the memory of the device it would train on: now, in one line, not after it is
    queued and has taken the machine's memory."""
    if parameters is None:
        return
    have = device_memory(device)
    need = training_bytes(parameters)
    if have is not None and need > have[0]:
        raise InputError(f"{what} has {parameters / 1e6:,.0f} M parameters: training needs at least "
                         f"{need / 1e9:,.1f} GB for them (weights, gradients, Adam's moments), more than "
                         f"{have[1]} {have[0] / 1e9:,.1f} GB; make it smaller with --set", field="set")


def trial_seed(seed: int, trial: int) -> int:
    """The seed of a study's trial: trial 0 uses the study's seed, trial t >= 1 the first
    32-bit word of numpy's ``SeedSequence(seed, spawn_key=(t,))`` (independent of the
    epoch seeds, :func:`engine.runtime.epoch_seed`). A run's noise draw, model
    initialisation and sample order all follow from it."""
    if trial == 0:
        return seed
    return int(np.random.SeedSequence(seed, spawn_key=(trial,)).generate_state(1)[0])


def check_reference(reference: str, spec, model: str, levels: list[float], dataset: str | None = None) -> str:
    """The absolute path of a folder of published curves with at least one of ``model``'s
    (on ``dataset``, where the folder holds several), each of them with a column for every
    level of the study."""
    from engine.compare import check_levels, curve_heads, published_models, read_published
    from engine.export import published_model

    with field("reference"):
        shown = published_model(spec, model)
        found = read_published(Path(reference).expanduser(), curve_heads(spec), shown, dataset)
        mine = list(found.values())
        if not mine:
            theirs = published_models(Path(reference).expanduser(), curve_heads(spec))
            raise InputError(f"no published curve of {shown} (the folder has curves of {theirs})", Path(reference))
        for path, table in mine:
            check_levels(path, table, levels)
    return str(Path(reference).expanduser().resolve())


def check_protocol(cfg: dict, n_train: int, n_valid: int) -> None:
    """The study's step protocol fits the data: ``eval_every`` (training samples between
    evaluations, 0 for whole epochs) from one batch (``batch_size``, where batches count
    samples) up to the training set; ``heldout_samples`` (0 for all) no more than the
    held-out set."""
    every, heldout = int(cfg.get("eval_every", 0)), int(cfg.get("heldout_samples", 0))
    # the values come from the preset (paper: the study's 250,000 and 25,000) or from the options
    if every and every < int(cfg.get("batch_size", 1)):
        raise InputError(f"--eval-every {every} is below the batch size ({cfg['batch_size']})", field="preset")
    if every > n_train:
        raise InputError(f"--eval-every {every:,} is above the training set ({n_train:,} samples); "
                         "choose a smaller step, or --eval-every 0 for whole epochs", field="preset")
    if heldout > n_valid:
        raise InputError(f"--heldout-samples {heldout:,} is more than the held-out set ({n_valid:,} samples); "
                         "choose fewer, or --heldout-samples 0 for all", field="preset")


# -- memorization extraction -------------------------------------------------------------


def local_model(name: str) -> str:
    """A local model directory as an absolute path (the worker may run elsewhere)."""
    path = Path(name).expanduser()
    return str(path.absolute()) if path.is_dir() else name


def check_sampling(model: str, seq_len: int, temperature: float, prompt: str | None) -> str:
    """Refuse settings a sampling job could not use; return the model's name as stored."""
    if not (math.isfinite(temperature) and temperature > 0):
        raise InputError(f"--temperature must be a positive number, not {temperature}", field="temperature")
    from engine.lm.hub import check_model, context_length

    model = local_model(model)
    with field("model"):
        check_model(model)
    if prompt is not None and not prompt:
        raise InputError("--prompt is empty; leave it out to start from the BOS token", field="prompt")
    limit = context_length(model)
    if limit is not None and seq_len >= limit:
        raise InputError(f"--seq-len {seq_len} does not fit the model's context of {limit} tokens "
                         f"after the first token; ask for at most {limit - 1}", field="seq_len")
    return model


def _batch_cut_by_n(output_set: dict, asked: int) -> bool:
    """Whether a set was asked for batches of ``asked`` outputs and sampled smaller ones,
    its first ``n`` being smaller (a set made before that was recorded: if not grown since)."""
    if "batch_asked" in output_set["config"]:
        return output_set["config"]["batch_asked"] == asked
    return output_set["batch_size"] == output_set["n"] < asked


def enqueue_sampling(store: Store, identity: dict, n: int, name: str | None = None,
                     trust_remote_code: bool = False, device: str = "auto",
                     prompts: list | None = None, per_prompt: int = 1) -> tuple[int, int | None, str]:
    """The output set with these settings (made if new, grown to ``n`` if smaller) and the
    job that samples what it lacks (None if it holds ``n`` already). A batch is sampled
    whole, so a new set's batch is at most ``n`` outputs. With ``prompts`` ((text,
    document, offset) each; engine.prompts), ``n`` is ``per_prompt`` outputs of each, and
    the identity holds their key."""
    config = {"trust_remote_code": trust_remote_code}
    if prompts:
        from engine.prompts import prompts_key

        identity = {**identity, "prompt": None, "prompts": prompts_key(prompts, per_prompt)}
        config["per_prompt"] = per_prompt
        n = len(prompts) * per_prompt
    found = store.find_output_set(**identity)
    asked = identity["batch_size"]
    if found is None and not prompts:  # a set whose batch its first n cut grows too, at its batch
        cut = [s for s in store.find_output_sets(**{k: v for k, v in identity.items() if k != "batch_size"})
               if _batch_cut_by_n(s, asked)]
        if cut:
            found, identity = cut[0], {**identity, "batch_size": cut[0]["batch_size"]}
        elif asked > n:
            identity = {**identity, "batch_size": n}
            config["batch_asked"] = asked  # what a rerun asks for again, to find this set
    if found is None:
        set_id = store.add_output_set(
            name=name or f"{Path(identity['model']).name} "
                         + (f"{identity['schedule']} temperature " if identity.get("schedule") else
                            f"k{identity['top_k']} t{identity['temperature']:g} ") + f"len{identity['seq_len']}",
            source="sample", n=n, config=config, prompt_list=prompts, **identity,
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
    job_id = store.active_job("sampling", set_id) or store.add_job(
        "sample", {"set_id": set_id, "device": device}, item=("sampling", set_id))
    return set_id, job_id, said


def open_checked_corpus(source: str, glob: str | None = None, text_field: str | None = None,
                        split: str = "train", shard_mb: float = 64):
    """The corpus the user named, refused at once if it holds no readable document."""
    from engine.clones.rules.lines import fold
    from engine.data.corpus import open_corpus

    with field("corpus"):
        corpus = open_corpus(source, glob=glob, text_field=text_field, split=split,
                             shard_bytes=max(int(shard_mb * (1 << 20)), 1))
        if hasattr(corpus, "check_records"):  # JSON lines: malformed records found now, not by the job
            corpus.check_records()
        unreadable = 0
        for doc in corpus:  # stops at the first readable document: the first one, as a rule
            if doc.data is not None and fold(doc.data, True) is not None:
                return corpus
            unreadable += 1
        raise InputError(f"the corpus has no readable document ({unreadable} not UTF-8)", source)


MAX_TRIALS = 1000  # noise draws per level: more is a slip of the keyboard that would queue a run for each
MAX_MIN_LINES = 100_000  # a span longer than any output a model samples: a slip, refused now


@dataclass(frozen=True)
class ScanPlan:
    """A scan :func:`check_scan` found possible: the output set it reads (as read then), its
    rule set, shortest span and case rule. :func:`enqueue_scan` takes nothing else, so it
    never runs unchecked."""

    outputs: dict
    min_lines: int
    rules: str
    case_sensitive: bool


def check_scan(store: Store, set_id: int, min_lines: int, rules: str = DEFAULT_RULES,
               case_sensitive: bool = False) -> ScanPlan:
    """The scan of an output set, refused if it could not run."""
    get_rules(rules)
    if not 2 <= min_lines <= MAX_MIN_LINES:
        raise InputError(f"--min-lines must be from 2 to {MAX_MIN_LINES:,}, not {min_lines:,}", field="min_lines")
    if rules == "simian" and case_sensitive:
        raise InputError("--case-sensitive does not go with --rules simian: Simian's plain-text mode always "
                         "folds case (use --rules lines)", field="case_sensitive")
    with field("outputs"):
        outputs = store.output_set(set_id)
    if outputs["count"] == 0:
        raise InputError(f"output set {set_id} holds no outputs yet", field="outputs")
    return ScanPlan(outputs, min_lines, rules, case_sensitive)


def enqueue_scan(store: Store, plan: ScanPlan, corpus, workers: int | None = None,
                 name: str | None = None) -> tuple[int, int, str]:
    """A scan of an output set (as it is now) against a corpus, and its job. An unfinished
    scan with the same settings is resumed: its finished shards are not read again (a
    ``name`` given renames it)."""
    set_id, min_lines, case_sensitive = plan.outputs["id"], plan.min_lines, plan.case_sensitive
    n_outputs = store.max_output_id(set_id)
    found = store.unfinished_scan(set_id, corpus.spec, n_outputs, min_lines, case_sensitive, plan.rules)
    if found is not None:
        scan_id = found["id"]
        if workers:
            store.update_scan(scan_id, workers=workers)
        if name:
            store.update_scan(scan_id, name=name)
        done = len(store.finished_shards(scan_id))
        job_id = store.active_job("scan", scan_id) or store.add_job("scan", {"scan_id": scan_id}, item=("scan", scan_id))
        return scan_id, job_id, f"resuming scan {scan_id} ({done} of {found['n_shards'] or '?'} shards already done)"
    scan_id = store.add_scan(
        set_id=set_id, source="scan", corpus=corpus.spec, corpus_label=corpus.describe(),
        n_outputs=n_outputs, min_lines=min_lines, case_sensitive=int(case_sensitive), rules=plan.rules,
        workers=workers or os.cpu_count() or 1, name=name or None,
    )
    job_id = store.add_job("scan", {"scan_id": scan_id}, item=("scan", scan_id))
    return scan_id, job_id, f"scan {scan_id} (job {job_id}): outputs of set {set_id} against {corpus.describe()}"


@dataclass(frozen=True)
class LMPlan:
    """An LM training :func:`check_lm_training` found possible: where the model goes (a new
    or empty directory, absolute), its preset and its ``--set`` settings."""

    out: Path
    preset: str
    settings: dict


def check_lm_training(out: str | Path, preset: str, settings: dict, device: str = "auto") -> LMPlan:
    """Refuse an unknown preset, bad settings, a model too big for the device's memory or
    an output folder in use, before the corpus is read."""
    cfg = load_preset(preset, "lm", settings)
    check_memory(gpt2_param_count(cfg), device, f"a GPT-2 of preset {preset!r}")
    out = Path(out).expanduser().absolute()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError("already exists; choose another --out or remove it", out, field="out")
    above = next(p for p in out.parents if p.exists())  # the folder it will be made in
    if not above.is_dir():
        raise InputError("is not a folder", above, field="out")
    return LMPlan(out, preset, dict(settings))


def enqueue_lm_training(store: Store, plan: LMPlan, corpus, seed: int, device: str = "auto") -> tuple[int, int]:
    """Queue the training of a language model on ``corpus``; (LM training id, job id)."""
    lm_id = store.add_lm_training(out=str(plan.out), corpus=corpus.spec, preset=plan.preset, settings=plan.settings,
                                  seed=seed, device=device)
    return lm_id, store.add_job("lm_train", {"lm_id": lm_id}, item=("lm", lm_id))


# -- k-extractability ------------------------------------------------------------------------
@dataclass(frozen=True)
class ExtractablePlan:
    """A k-extractability run :func:`check_extractable` found possible."""

    model: str
    corpus: object
    n: int
    prefix: int
    suffix: int
    seed: int
    at_start: bool
    batch_size: int
    trust_remote_code: bool
    per_document: int = 1


def check_extractable(model: str, corpus, n: int, prefix: int, suffix: int, seed: int = 0,
                      at_start: bool = False, batch_size: int = 32, trust_remote_code: bool = False,
                      per_document: int = 1) -> ExtractablePlan:
    """Refuse a window that does not fit the model's context, or a corpus without one
    document of ``prefix + suffix`` tokens (its tokenizer is loaded for that: the one
    launch check that imports transformers; it stops at the first long document)."""
    from engine.extractable import first_long_enough
    from engine.lm.hub import check_model, context_length, load_tokenizer

    sizes = (("prefix", prefix), ("suffix", suffix), ("n", n), ("batch_size", batch_size),
             ("per_document", per_document))
    if any(v < 1 for _, v in sizes):
        name = next(k for k, v in sizes if v < 1)
        raise InputError(f"--{name.replace('_', '-')} must be positive", field=name)
    model = local_model(model)
    with field("model"):
        check_model(model)
    limit = context_length(model)
    if limit is not None and prefix + suffix > limit:
        raise InputError(f"a window of {prefix}+{suffix} tokens exceeds the model's context of {limit}",
                         field="suffix")
    with field("model"):
        tokenizer = load_tokenizer(model, trust_remote_code)
    if first_long_enough(corpus, tokenizer, prefix + suffix) is None:
        raise InputError(f"no document of the corpus has {prefix + suffix} tokens ({prefix} of prefix and "
                         f"{suffix} of suffix) under the model's tokenizer", field="corpus")
    return ExtractablePlan(model, corpus, n, prefix, suffix, seed, at_start, batch_size, trust_remote_code,
                           per_document)


def enqueue_extractable(store: Store, plan: ExtractablePlan, name: str | None = None,
                        device: str = "auto") -> tuple[int, int]:
    """Queue a k-extractability run; (run id, job id)."""
    corpus = plan.corpus
    run_id = store.add_extractable_run(
        name=name or f"{Path(plan.model).name} {plan.prefix}+{plan.suffix}", model=plan.model, corpus=corpus.spec,
        corpus_label=corpus.describe(), n=plan.n, prefix=plan.prefix, suffix=plan.suffix, seed=plan.seed,
        at_start=int(plan.at_start), batch_size=plan.batch_size,
        config={"trust_remote_code": plan.trust_remote_code, "per_document": plan.per_document})
    return run_id, store.add_job("extractable", {"run_id": run_id, "device": device}, item=("extractable", run_id))


# -- ranking outputs by perplexity signals -----------------------------------------------------
@dataclass(frozen=True)
class RankPlan:
    """A ranking :func:`check_ranking` found possible: the finished scan, its output set,
    the model that sampled it and the reference model (or None)."""

    scan: dict
    set_id: int
    model: str
    reference: str | None
    trust_remote_code: bool


def check_ranking(store: Store, scan_id: int, model: str | None = None, reference: str | None = None,
                  trust_remote_code: bool = False) -> RankPlan:
    """Refuse a scan that has not finished, a set without a model to score it with, a model
    that cannot be loaded, or a reference model whose tokenizer is not the sampled model's
    (``eva.py`` scores both with model_1's tokenizer, so the two must share it)."""
    from engine.lm.hub import check_model, load_tokenizer

    with field("scan"):
        scan = store.finished_scan(scan_id)
    outputs = store.output_set(scan["set_id"])
    model = model or outputs["model"]
    if not model:
        raise InputError(f"output set {outputs['id']} was imported: name the model that sampled it (--model)",
                         field="model")
    model = local_model(model)
    with field("model"):
        check_model(model)
    if reference is not None:
        reference = local_model(reference)
        with field("reference_model"):
            check_model(reference)
            mine, theirs = load_tokenizer(model, trust_remote_code), load_tokenizer(reference, trust_remote_code)
            if mine.get_vocab() != theirs.get_vocab():
                raise InputError(f"the tokenizer of {reference!r} is not that of {model!r}: the ratio of "
                                 "perplexities scores the outputs with one tokenizer under both models")
    return RankPlan(scan, outputs["id"], model, reference, trust_remote_code)


def enqueue_ranking(store: Store, plan: RankPlan, batch_size: int = 16, device: str = "auto") -> list[int]:
    """The ``perplexity`` jobs the ranking still needs (none when every output is scored):
    the sampled model on the texts and on their lower-cased texts, the reference on the texts."""
    count = store.output_count(plan.set_id)
    wanted = [(plan.model, "text"), (plan.model, "lower")] + ([(plan.reference, "text")] if plan.reference else [])
    job_ids = []
    for model, variant in wanted:
        if len(store.perplexity_ids(plan.set_id, model, variant)) >= count:
            continue
        params = {"set_id": plan.set_id, "model": model, "variant": variant, "batch_size": batch_size,
                  "device": device, "trust_remote_code": plan.trust_remote_code}
        active = [j["id"] for j in store.jobs(list(ACTIVE_STATES)) if j["kind"] == "perplexity"
                  and all(j["params"].get(k) == params[k] for k in ("set_id", "model", "variant"))]
        # a job of no dashboard item: the sampling's own state stays that of its sampling
        job_ids.append(active[0] if active else store.add_job("perplexity", params))
    return job_ids


# -- extraction studies ---------------------------------------------------------------------------
def check_extraction(models: list[str], grid_specs: list[str], base: dict, corpus) -> tuple[dict, list[dict]]:
    """The grid (``--model`` given more than once is its first key) and its points, refused
    when a key is not a sampling setting, a model cannot be loaded, a point's output length
    does not fit its model, or the scan settings are wrong; nothing is written."""
    from engine.extraction import GRID_KEYS, grid_points, parse_grid

    grid = parse_grid(grid_specs)
    if models and "model" in grid:
        raise InputError("give the models with --model or with --grid model=..., not both", field="grid")
    if len(models) > 1:
        grid = {"model": list(dict.fromkeys(models)), **grid}
    elif models:
        base = {**base, "model": models[0]}
    elif "model" not in grid:
        raise InputError("an extraction study needs --model", field="model")
    from engine.store.outputs import CLEAN_UP

    base = {"clean_up": CLEAN_UP, **base}  # recorded in every point, as the sets it names say
    unknown = sorted(set(base) - set(GRID_KEYS) - {"batch_size", "rules", "min_lines", "workers", "clean_up"})
    if unknown:
        raise InputError(f"unknown settings {', '.join(unknown)}")
    get_rules(base["rules"])
    if not 2 <= base["min_lines"] <= MAX_MIN_LINES:
        raise InputError(f"--min-lines must be from 2 to {MAX_MIN_LINES:,}", field="min_lines")
    checked: dict[tuple, str] = {}
    points = grid_points(base, grid)
    for point in points:
        key = (point["model"], point["seq_len"], point["temperature"])
        if key not in checked:
            checked[key] = check_sampling(point["model"], point["seq_len"], point["temperature"], None)
        point["model"] = checked[key]
    if "model" in grid:
        grid["model"] = list(dict.fromkeys(p["model"] for p in points))
    return grid, points


def create_extraction(store: Store, name: str | None, corpus, base: dict, grid: dict, points: list[dict],
                      device: str = "auto") -> tuple[int, list[int]]:
    """An extraction study and one ``extraction_point`` job per point; (study id, job ids)."""
    from engine.extraction import point_label

    study_id = store.add_extraction_study(
        [(point_label(p, grid), p) for p in points],
        name=name or f"extraction of {', '.join(sorted({Path(p['model']).name for p in points}))} over "
                     f"{', '.join(grid) or 'one setting'}",
        corpus=corpus.spec, corpus_label=corpus.describe(), base=base, grid=grid)
    jobs = [store.add_job("extraction_point", {"study_id": study_id, "point": i, "device": device},
                          item=("extraction", study_id)) for i in range(1, len(points) + 1)]
    return study_id, jobs
