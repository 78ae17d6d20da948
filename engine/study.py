"""Training the runs of a noise study (Rabin et al. §4.2–4.3), job kind ``train_run``:
each run trains one model on its noisy copy of the training set (made by
:func:`engine.launch.create_study`) and records, every epoch, per-sample arrays and the
metrics of §4.3 on that copy (the labels it was trained on) and on the clean held-out set.
The training figures are those the model computed while it trained on each sample during
the epoch (``train_eval=epoch``, the study's logs), or an eval-mode pass after it
(``train_eval=pass``). The loop is one readable function, as in nanoGPT.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import InputError
from engine.fsutil import atomic_path, remove_partial
from engine.presets import axis_unit
from engine.runtime import autocast, epoch_seed, resolve_device, use_cpu_threads
from engine.store import Store
from engine.tasks import get_task


def run_job(ctx) -> None:
    """Job kind ``train_run``: train one run, resuming from its last checkpoint."""
    train_run(ctx.store, ctx.params["run_id"], ctx)


def _checkpoint_path(store: Store, run_id: int, epoch: int) -> Path:
    return store.run_dir(run_id) / f"checkpoint_epoch{epoch}.pt"


@dataclass(frozen=True)
class RunPlan:
    """What one run's training needs, without the store (it travels to a Ray task,
    :mod:`engine.ray_executor`): the study's settings, the run's seed and epochs, the
    epochs already committed, and its two data files: their paths, and their bytes for a
    process that cannot read those (``data``: ``train`` and ``heldout`` -> bytes)."""
    run_id: int
    task: str
    model: str
    cfg: dict
    device: str
    seed: int
    study_seed: int
    epochs: int
    done: int
    train: str
    heldout: str
    data: dict | None = None


def plan_run(store: Store, run_id: int) -> RunPlan:
    run = store.run(run_id)
    study = store.study(run["study_id"])
    return RunPlan(run_id, study["task"], study["model"], study["config"], study["device"], int(run["seed"]),
                   int(study["seed"]), int(run["epochs"]), int(run["epochs_done"]),
                   str(store.file_path(run["train_path"])), str(store.heldout_path(study["id"], study["valid_path"])))


def train_run(store: Store, run_id: int, ctx=None) -> None:
    """Train run ``run_id`` to its last epoch, from its last checkpoint if it has one: the
    epochs of :func:`train_epochs`, computed here or, under the Ray executor, in a Ray task
    (:func:`engine.ray_executor.training_events`), each recorded by :func:`record_epoch`
    as it comes.

    Reproducibility: the model is initialised from the study seed, and every epoch draws
    its sample order and dropout from a generator seeded by (seed, epoch) alone. A run
    that is killed and resumed from its last checkpoint therefore ends with exactly the
    metrics of a run never interrupted.
    """
    from engine import ray_executor

    plan = plan_run(store, run_id)
    remove_partial(store.run_dir(run_id))  # what a killed attempt was writing
    if ray_executor.chosen():
        events = ray_executor.training_events(store, plan, ctx)
    else:
        check = ctx.check_cancel if ctx is not None else None
        progress = ctx.progress if ctx is not None else None
        resume = None
        if plan.done > 0:
            resume = _checkpoint_path(store, run_id, plan.done)
        events = train_epochs(plan, resume, check, progress)
    for event in events:
        record_epoch(store, plan, event, ctx)


def record_epoch(store: Store, plan: RunPlan, event: tuple, ctx=None) -> None:
    """Write what :func:`train_epochs` yields: the run's sizes at its start; an epoch's
    per-sample arrays, its checkpoint (a state dict, or its bytes from a Ray task) and its
    metrics, committed together (the older checkpoint goes unless kept)."""
    import torch

    if event[0] == "start":
        store.update_run(plan.run_id, **event[1])
        return
    _, epoch, epoch_metrics, arrays_by_split, state = event
    array_refs = {}
    for split, arrays in arrays_by_split.items():
        rel = Path("runs") / str(plan.run_id) / f"epoch{epoch}_{split}.npz"
        with atomic_path(store.file_path(str(rel))) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)
        array_refs[split] = (str(rel), len(arrays["sample"]))
    ckpt = _checkpoint_path(store, plan.run_id, epoch)
    with atomic_path(ckpt) as tmp:
        if isinstance(state, bytes):
            Path(tmp).write_bytes(state)
        else:
            torch.save(state, tmp)
    store.commit_epoch(plan.run_id, epoch, epoch_metrics, array_refs)
    old = _checkpoint_path(store, plan.run_id, epoch - 1)
    if old.exists() and not plan.cfg.get("keep_checkpoints"):
        old.unlink()
    if ctx is not None:
        ctx.progress(epoch / plan.epochs, f"{axis_unit(plan.cfg)} {epoch}/{plan.epochs} done", force=True)


def _read(spec, path: str, data: bytes | None) -> list:
    """A data file's samples, from its path or from its bytes (``data``), through a file
    of the same name (the reader goes by its suffixes)."""
    if data is None:
        return spec.read(path)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="byrote-run-") as tmp:
        local = Path(tmp) / Path(path).name
        local.write_bytes(data)
        return spec.read(str(local))


def train_epochs(plan: RunPlan, resume: Path | bytes | None, check: Callable[[], None] | None = None,
                 progress: Callable[..., None] | None = None) -> Iterator[tuple]:
    """The training of one run, as events: ``("start", sizes)`` when it starts from
    scratch, then per epoch (or step) ``("epoch", number, metrics, arrays by split, state)``
    with the §4.3 metrics and per-sample arrays on the noisy training copy and the
    held-out set, and the model, optimizer and schedule state to resume from. ``resume``:
    the checkpoint of epoch ``plan.done`` (a file, or its bytes). ``check`` raises to
    cancel; ``progress(fraction, message, force=False)`` reports within an epoch. Reads
    no store, so it runs where the device is."""
    import io

    import torch

    spec = get_task(plan.task, plan.model)
    cfg = plan.cfg
    device = resolve_device(plan.device)
    use_cpu_threads(device, cfg.get("cpu_threads"))
    seed, epochs = plan.seed, plan.epochs
    every = int(cfg.get("eval_every", 0))
    unit = axis_unit(cfg)

    data = plan.data or {}
    train = _read(spec, plan.train, data.get("train"))
    valid = heldout_subset(_read(spec, plan.heldout, data.get("heldout")), int(cfg.get("heldout_samples", 0)),
                           plan.study_seed)
    prepared = spec.prepare(train, valid, cfg)
    if len(prepared.train) == 0:
        raise InputError("no training sample fits the preset's max_len", plan.train)
    if len(prepared.valid) == 0:
        drawn = int(cfg.get("heldout_samples", 0))
        raise InputError("no held-out sample fits the preset's max_len"
                         + (f" among the {drawn} drawn (heldout_samples)" if 0 < drawn == len(valid) else ""),
                         plan.heldout)

    model, optim, sched = build_training(spec, plan.model, cfg, prepared, device, seed, epochs)
    step = 0
    if resume is not None:
        source = io.BytesIO(resume) if isinstance(resume, bytes) else resume
        state = torch.load(source, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        optim.load_state_dict(state["optim"])
        sched.load_state_dict(state["sched"])
        step = int(state["step"])
    else:
        yield ("start", dict(n_train=len(prepared.train), n_valid=len(prepared.valid),
                             n_dropped=(len(train) - len(prepared.train)) + (len(valid) - len(prepared.valid)),
                             n_params=sum(p.numel() for p in model.parameters()), device=str(device)))

    n_train = len(prepared.train)
    for epoch in range(plan.done + 1, epochs + 1):
        torch.manual_seed(epoch_seed(seed, epoch))
        order = stream_order(seed, epoch, n_train, every)

        def report(seen: int, loss: float, epoch=epoch, size=len(order)) -> None:
            if check is not None:
                check()
            if progress is not None:
                frac = ((epoch - 1) + 0.8 * seen / size) / epochs
                progress(frac, f"{unit} {epoch}/{epochs}: training, loss {loss:.3f}")

        seen_in_training: dict[str, np.ndarray] = {}
        step = train_epoch(spec, model, optim, sched, prepared.train, order, cfg, device, step, report,
                           record=seen_in_training)
        if progress is not None:
            progress(((epoch - 1) + 0.8) / epochs, f"{unit} {epoch}/{epochs}: evaluating", force=True)

        epoch_metrics, arrays_by_split = {}, {}
        for split, encoded in (("train", prepared.train), ("valid", prepared.valid)):
            if split == "train" and cfg.get("train_eval", "epoch") == "epoch":
                # the training figures as the study logged them: the samples of this epoch or step
                arrays, encoded = _seen(seen_in_training, encoded, order)
            else:
                arrays = evaluate(spec, model, encoded, cfg, device, check)
            arrays.update(spec.extra_arrays(lambda enc: evaluate(spec, model, enc, cfg, device, check),
                                            prepared, split, arrays))
            epoch_metrics[split] = spec.epoch_metrics(arrays, encoded, prepared)
            arrays_by_split[split] = arrays
        yield ("epoch", epoch, epoch_metrics, arrays_by_split,
               {"model": model.state_dict(), "optim": optim.state_dict(), "sched": sched.state_dict(),
                "step": step, "epoch": epoch})


def stream_order(seed: int, number: int, n: int, every: int = 0) -> np.ndarray:
    """The training samples of epoch ``number`` (``every`` 0: a permutation of all n,
    seeded by (seed, epoch)) or of step ``number`` (``every`` > 0, the study's protocol:
    positions ``(number-1)*every`` to ``number*every`` of the stream of those epoch
    permutations one after another; a step may end in the next epoch). From (seed,
    number) alone, so a run resumed at a step boundary draws what it would have."""
    if not every:
        return np.random.default_rng(epoch_seed(seed, number)).permutation(n)
    parts, at, end = [], (number - 1) * every, number * every
    while at < end:
        epoch, offset = at // n + 1, at % n
        take = min(end - at, n - offset)
        parts.append(np.random.default_rng(epoch_seed(seed, epoch)).permutation(n)[offset:offset + take])
        at += take
    return np.concatenate(parts)


def heldout_subset(samples: list, size: int, seed: int) -> list:
    """``size`` held-out samples, the same for every run of a study (a permutation seeded by
    the study's seed, its first ``size`` in file order); all of them when ``size`` is 0 or
    not below their number."""
    if not 0 < size < len(samples):
        return samples
    chosen = np.sort(np.random.default_rng(epoch_seed(seed, 0)).permutation(len(samples))[:size])
    return [samples[i] for i in chosen.tolist()]


class _Labels:
    """The part of an encoded split the epoch metrics read (``labels``, ``kept``), for a
    subset of its samples."""

    def __init__(self, encoded, idx: np.ndarray):
        labels = getattr(encoded, "labels", None)
        self.labels = None if labels is None else [labels[i] for i in idx.tolist()]
        self.kept = np.asarray(encoded.kept)[idx]

    def __len__(self) -> int:
        return len(self.kept)


def _seen(arrays: dict[str, np.ndarray], encoded, order: np.ndarray):
    """The recorded training arrays of the samples an epoch or step trained on, and the
    matching part of the split (a whole epoch: all of it, unchanged)."""
    if len(order) == len(encoded) and len(np.unique(order)) == len(encoded):
        return arrays, encoded
    idx = np.unique(order)  # a sample seen twice in a step: its last values
    return {key: value[idx] for key, value in arrays.items()}, _Labels(encoded, idx)


def build_training(spec, model_name: str, cfg: dict, prepared, device, seed: int, epochs: int = 1):
    """The model (initialised from ``seed``), its optimizer and learning-rate schedule.

    ``optimizer``: ``adam`` (AdamW; the default; a VarMisuse study of ``port=study``
    steps as Keras's Adam, :class:`~engine.models.keras_port.KerasAdam`) or ``nesterov``
    (SGD with Nesterov momentum 0.95, code2seq's ``USE_MOMENTUM``). The rate rises linearly over
    ``warmup_steps`` and is multiplied by ``lr_decay`` once per epoch's worth of training
    samples (code2seq's ``exponential_decay(lr, step * batch_size, n_train, 0.95,
    staircase=True)``). With ``lr_schedule`` ``linear`` it is CodeXGLUE's instead
    (``get_linear_schedule_with_warmup`` in its code-search and code-to-text scripts): up
    from 0 over the warm-up (``warmup_steps``, else ``warmup_fraction`` of all steps, 0.1
    in code-to-text's ``run.py``), then down to 0 at the last step of ``epochs`` (one when
    not given: a benchmark's epoch)."""
    import torch

    torch.manual_seed(seed)
    model = spec.build_model(model_name, cfg, prepared).to(device)
    decay = float(cfg.get("weight_decay", 0.0))
    if cfg.get("optimizer", "adam") == "nesterov":
        optim = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=0.95, nesterov=True, weight_decay=decay)
    elif cfg.get("port") == "study":  # the VarMisuse reference's Keras Adam
        from engine.models.keras_port import KerasAdam

        optim = KerasAdam(model.parameters(), lr=cfg["lr"], weight_decay=decay)
    else:
        optim = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=decay)
    warmup = int(cfg.get("warmup_steps", 0))
    gamma, batch, n = float(cfg.get("lr_decay", 1.0)), int(cfg.get("batch_size", 0) or 0), max(1, len(prepared.train))
    if cfg.get("lr_schedule", "constant") == "linear":
        if not batch:
            raise InputError("a linear learning-rate schedule needs a batch_size")
        total = max(1, int(epochs)) * -(-n // batch)  # the batches of every epoch (the last one shorter)
        warmup = warmup or int(total * float(cfg.get("warmup_fraction", 0.0)))

        def rate(s: int) -> float:
            if s < warmup:
                return s / max(1, warmup)
            return max(0.0, (total - s) / max(1, total - warmup))
    else:
        def rate(s: int) -> float:
            warm = min(1.0, (s + 1) / warmup) if warmup else 1.0
            return warm * (gamma ** ((s * batch) // n) if gamma != 1.0 and batch else 1.0)

    sched = torch.optim.lr_scheduler.LambdaLR(optim, rate)
    return model, optim, sched


def train_epoch(spec, model, optim, sched, encoded, order, cfg: dict, device, step: int = 0,
                report=None, record: dict | None = None) -> int:
    """One pass over ``encoded`` in ``order``: the plain loop of forward, the task's
    objective, backward, clipping and an optimizer step. Returns the new step count.
    ``record`` (a dict) receives the per-sample outputs of the pass as the model computed
    them while training (dropout on), in the split's own order, as the study logged its
    training figures."""
    import torch

    model.train()
    seen = 0
    for batch in spec.batches(encoded, order, cfg):
        batch = batch.to(device)
        with autocast(device):
            out = spec.outputs(model, batch, cfg)
        loss = spec.objective(out, cfg)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.get("grad_clip"):
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["grad_clip"])
        optim.step()
        sched.step()
        step += 1
        seen += len(batch)
        if record is not None:
            _collect(record, out, batch, len(encoded))
        if report is not None:
            report(seen, loss.item())
    if record is not None:
        record["sample"] = np.asarray(encoded.kept, dtype=np.int64)
    return step


def evaluate(spec, model, encoded, cfg: dict, device, check: Callable[[], None] | None = None,
             only: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per-sample outputs over a whole split, in the split's own order, in eval mode
    (``check`` raises to cancel); with ``only``, of those positions alone (the others'
    rows stay zero)."""
    import torch

    columns: dict[str, np.ndarray] = {}
    model.eval()
    with torch.no_grad():
        for batch in spec.batches(encoded, np.arange(len(encoded)) if only is None else only, cfg):
            if check is not None:
                check()
            batch = batch.to(device)
            with autocast(device):
                out = spec.outputs(model, batch, cfg)
            _collect(columns, out, batch, len(encoded))
    columns["sample"] = np.asarray(encoded.kept, dtype=np.int64)
    return columns


def _collect(columns: dict[str, np.ndarray], out: dict, batch, n: int) -> None:
    """A batch's per-sample outputs into ``columns`` (one array of n per output), at the
    batch's sample positions."""
    idx = batch.index.cpu().numpy()
    for key, value in out.items():
        value = value.detach()
        value = value.float().cpu().numpy() if value.dtype.is_floating_point else value.cpu().numpy()
        if key not in columns:
            columns[key] = np.zeros((n,) + value.shape[1:], dtype=value.dtype)
        columns[key][idx] = value
