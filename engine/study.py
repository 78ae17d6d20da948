"""Noise studies (Rabin et al. §4): one study, one run per noise level, one job per run.

A study copies a training set at each label-noise level (§4.1), then trains one model
per copy and, after every epoch, evaluates it on the noisy training set (the labels it
was trained on) and on the clean held-out set, recording per-sample arrays and the
metrics of §4.3.

Reproducibility: the model is initialised from the study seed, and every epoch draws
its sample order and dropout from a generator seeded by (seed, epoch) alone. A run that
is killed and resumed from its last checkpoint therefore ends with exactly the metrics
of a run never interrupted.
"""
from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import numpy as np

from engine.errors import InputError
from engine.fsutil import atomic_path, atomic_paths, require_file
from engine.store import Store
from engine.tasks import TASK_MODELS, get_task

SPLITS = ("train", "valid")


def parse_levels(text: str) -> list[float]:
    """``"0,25,50"`` -> ``[0.0, 25.0, 50.0]``; each level must lie in 0..100."""
    levels = []
    for part in str(text).split(","):
        part = part.strip()
        try:
            value = float(part)
        except ValueError:
            raise InputError(f"noise level {part!r} is not a number") from None
        if not 0.0 <= value <= 100.0 or math.isnan(value):
            raise InputError(f"noise level {part} is outside 0-100")
        levels.append(value + 0.0)  # -0 -> 0
    if not levels:
        raise InputError("no noise level given")
    if len(set(levels)) != len(levels):
        raise InputError("a noise level is given twice")
    return levels


def parse_settings(pairs: list[str]) -> dict:
    """``["lr=3e-4", "ggnn_time_steps=[2,2]"]`` -> ``{"lr": 0.0003, "ggnn_time_steps": [2, 2]}``.

    Values are read as JSON, else kept as text.
    """
    settings = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set takes KEY=VALUE, not {pair!r}")
        try:
            settings[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            settings[key.strip()] = value
    return settings


def level_name(level: float) -> str:
    """25.0 -> '25', 12.5 -> '12.5' (for file names and CSV columns)."""
    return f"{level:g}"


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
) -> int:
    """Validate the inputs, write the noisy copies and enqueue one job per level."""
    spec = get_task(task)
    if model not in TASK_MODELS[task]:
        raise InputError(f"unknown model {model!r} for {task} (choose from {', '.join(TASK_MODELS[task])})")
    if epochs < 1:
        raise InputError("--epochs must be at least 1")
    if device not in ("auto", "cpu", "cuda"):
        raise InputError(f"unknown device {device!r} (choose from auto, cpu, cuda)")
    cfg = dict(spec.load_preset(preset))
    cfg.update(check_settings(cfg, overrides or {}, preset))
    if device == "cuda":
        resolve_device(device)  # refuse now, not in the worker hours later
    train_path, valid_path = require_file(train), require_file(valid)
    train_samples = spec.read(str(train_path))
    valid_samples = spec.read(str(valid_path))  # validate now, not in the worker hours later
    spec.check(cfg, train_samples, str(train_path), valid_samples, str(valid_path))
    # every level's noise is drawn before anything is written: an impossible level
    # (too few eligible samples) leaves no half-made study behind
    results = {level: spec.noise(train_samples, level, seed) for level in levels}

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
        with atomic_path(heldout_copy(store, study_id, valid_path)) as tmp:
            shutil.copyfile(valid_path, tmp)
        for level in levels:
            noisy = out_dir / f"train_{level_name(level)}.jsonl"
            changed = write_noisy_copy(spec, results[level], noisy)
            run_id = store.add_run(
                study_id=study_id, level=level, seed=seed, epochs=epochs,
                train_path=str(noisy.relative_to(store.files)),
                changed_path=str(changed.relative_to(store.files)),
                epochs_done=0,
            )
            store.add_job("train_run", {"run_id": run_id}, study_id=study_id, run_id=run_id)
    except BaseException:
        store.delete_study(study_id)
        shutil.rmtree(out_dir, ignore_errors=True)
        raise
    return study_id


def heldout_copy(store: Store, study_id: int, original: str | Path) -> Path:
    """Where a study keeps its copy of the held-out set."""
    return store.study_dir(study_id) / f"valid{''.join(Path(original).suffixes)[-60:]}"


# positive by default, but 0 is meaningful: no CSR measurement
ZERO_ALLOWED = frozenset({"csr_samples"})


def check_settings(preset_cfg: dict, overrides: dict, preset: str) -> dict:
    """Check ``--set`` overrides against the preset: known keys, the preset's types, and the
    sign of its numbers (a positive size stays positive, a zero rate stays non-negative)."""
    for key, value in overrides.items():
        if key not in preset_cfg:
            raise InputError(f"unknown setting {key!r} for preset {preset!r} (known: {', '.join(sorted(preset_cfg))})")
        default = preset_cfg[key]
        if isinstance(default, bool) or isinstance(value, bool):
            ok = isinstance(value, bool) and isinstance(default, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int)
        elif isinstance(default, float):
            ok = isinstance(value, (int, float)) and math.isfinite(value)
        else:
            ok = isinstance(value, type(default))
        if not ok:
            raise InputError(f"setting {key} must be a {type(default).__name__} like {default!r}, not {value!r}")
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            if (default > 0 and value <= 0 and key not in ZERO_ALLOWED) or value < 0:
                raise InputError(f"setting {key} must be {'positive' if default > 0 else 'non-negative'}, not {value!r}")
    return dict(overrides)


def write_noisy_copy(spec, result, out: Path) -> Path:
    """Write a noise result's samples to ``out`` and its changed ids to ``<out>.changed.json``."""
    out = Path(out)
    changed = out.with_name(out.name + ".changed.json")
    with atomic_paths(out, changed) as (data_tmp, changed_tmp):
        spec.write(result.samples, str(data_tmp))
        spec.write_changed(result, str(changed_tmp))
    return changed


def resolve_device(device: str):
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda asked for, but no CUDA device is available")
    resolved = torch.device(device)
    if resolved.type == "cuda":
        # scatter/index_add backward passes use atomics on CUDA: ask for the deterministic
        # kernels so that a resumed run still ends with the uninterrupted run's metrics
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
    return resolved


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of one epoch's sample order and dropout, from (seed, epoch) alone."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def run_job(ctx) -> None:
    """Job kind ``train_run``: train one run, resuming from its last checkpoint."""
    train_run(ctx.store, ctx.params["run_id"], ctx)


def _checkpoint_path(store: Store, run_id: int, epoch: int) -> Path:
    return store.run_dir(run_id) / f"checkpoint_epoch{epoch}.pt"


def train_run(store: Store, run_id: int, ctx=None) -> None:
    import torch

    run = store.run(run_id)
    study = store.study(run["study_id"])
    spec = get_task(study["task"])
    cfg = study["config"]
    device = resolve_device(study["device"])
    seed, epochs = int(run["seed"]), int(run["epochs"])

    train = spec.read(str(store.file_path(run["train_path"])))
    valid = spec.read(str(heldout_copy(store, study["id"], study["valid_path"])))
    prepared = spec.prepare(train, valid, cfg)
    if len(prepared.train) == 0:
        raise InputError("no training sample fits the preset's max_len", run["train_path"])

    model, optim, sched = build_training(spec, study["model"], cfg, prepared, device, seed)
    step = 0
    done = int(run["epochs_done"])
    if done > 0:
        state = torch.load(_checkpoint_path(store, run_id, done), map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        optim.load_state_dict(state["optim"])
        sched.load_state_dict(state["sched"])
        step = int(state["step"])
    else:
        store.update_run(
            run_id, n_train=len(prepared.train), n_valid=len(prepared.valid),
            n_dropped=(len(train) - len(prepared.train)) + (len(valid) - len(prepared.valid)),
            n_params=sum(p.numel() for p in model.parameters()), device=str(device),
        )

    n_train = len(prepared.train)
    for epoch in range(done + 1, epochs + 1):
        torch.manual_seed(epoch_seed(seed, epoch))
        order = np.random.default_rng(epoch_seed(seed, epoch)).permutation(n_train)

        def report(seen: int, loss: float, epoch=epoch) -> None:
            if ctx is not None:
                ctx.check_cancel()
                frac = ((epoch - 1) + 0.8 * seen / n_train) / epochs
                ctx.progress(frac, f"epoch {epoch}/{epochs}: training, loss {loss:.3f}")

        step = train_epoch(spec, model, optim, sched, prepared.train, order, cfg, device, step, report)
        if ctx is not None:
            ctx.progress(((epoch - 1) + 0.8) / epochs, f"epoch {epoch}/{epochs}: evaluating", force=True)

        epoch_metrics, array_refs = {}, {}
        for split, encoded in (("train", prepared.train), ("valid", prepared.valid)):
            arrays = evaluate(spec, model, encoded, cfg, device, ctx)
            arrays.update(spec.extra_arrays(lambda enc: evaluate(spec, model, enc, cfg, device, ctx),
                                            prepared, split, arrays))
            epoch_metrics[split] = spec.epoch_metrics(arrays, encoded, prepared)
            rel = Path("runs") / str(run_id) / f"epoch{epoch}_{split}.npz"
            with atomic_path(store.file_path(str(rel))) as tmp:
                with open(tmp, "wb") as fh:
                    np.savez(fh, **arrays)
            array_refs[split] = (str(rel), len(encoded))
        ckpt = _checkpoint_path(store, run_id, epoch)
        with atomic_path(ckpt) as tmp:
            torch.save({"model": model.state_dict(), "optim": optim.state_dict(), "sched": sched.state_dict(),
                        "step": step, "epoch": epoch}, tmp)
        store.commit_epoch(run_id, epoch, epoch_metrics, array_refs)
        old = _checkpoint_path(store, run_id, epoch - 1)
        if old.exists() and not cfg.get("keep_checkpoints"):
            old.unlink()
        if ctx is not None:
            ctx.progress(epoch / epochs, f"epoch {epoch}/{epochs} done", force=True)


def build_training(spec, model_name: str, cfg: dict, prepared, device, seed: int):
    """The model (initialised from ``seed``), its AdamW optimizer and the warm-up schedule."""
    import torch

    torch.manual_seed(seed)
    model = spec.build_model(model_name, cfg, prepared).to(device)
    optim = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg.get("weight_decay", 0.0))
    warmup = int(cfg.get("warmup_steps", 0))
    sched = torch.optim.lr_scheduler.LambdaLR(optim, lambda s: min(1.0, (s + 1) / warmup) if warmup else 1.0)
    return model, optim, sched


def train_epoch(spec, model, optim, sched, encoded, order, cfg: dict, device, step: int = 0,
                report=None) -> int:
    """One pass over ``encoded`` in ``order``: the plain loop of forward, mean per-sample
    loss, backward, clipping and an optimizer step. Returns the new step count."""
    import torch

    model.train()
    seen = 0
    for batch in spec.batches(encoded, order, cfg):
        batch = batch.to(device)
        with _autocast(device):
            out = spec.outputs(model, batch)
        loss = out["loss"].float().mean()
        optim.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.get("grad_clip"):
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["grad_clip"])
        optim.step()
        sched.step()
        step += 1
        seen += len(batch)
        if report is not None:
            report(seen, loss.item())
    return step


def _autocast(device):
    import torch

    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def evaluate(spec, model, encoded, cfg: dict, device, ctx=None) -> dict[str, np.ndarray]:
    """Per-sample outputs over a whole split, in the split's own order."""
    import torch

    n = len(encoded)
    columns: dict[str, np.ndarray] = {}
    model.eval()
    with torch.no_grad():
        for batch in spec.batches(encoded, np.arange(n), cfg):
            if ctx is not None:
                ctx.check_cancel()
            batch = batch.to(device)
            with _autocast(device):
                out = spec.outputs(model, batch)
            idx = batch.index.cpu().numpy()
            for key, value in out.items():
                value = value.detach().float().cpu().numpy() if value.dtype.is_floating_point else value.cpu().numpy()
                if key not in columns:
                    columns[key] = np.zeros(n, dtype=value.dtype)
                columns[key][idx] = value
    columns["sample"] = np.asarray(encoded.kept, dtype=np.int64)
    return columns


def summary(store: Store, study_id: int) -> list[dict]:
    """The last recorded epoch of each run: level, epoch, and its metrics per split."""
    rows = []
    for run in store.runs(study_id):
        ms = store.metrics(run["id"])
        last = max((m["epoch"] for m in ms), default=0)
        row = {"run": run["id"], "level": run["level"], "epoch": last}
        for m in ms:
            if m["epoch"] == last:
                row[f"{m['split']}.{m['name']}"] = m["value"]
        rows.append(row)
    return rows
