"""Training a small GPT-2 and its tokenizer on a corpus, nanoGPT-style (job kind ``lm_train``).

The configuration is plain data (the ``lm`` presets) and the loop is one readable
function. A byte-level BPE tokenizer with ``<|endoftext|>`` as its one special token is
trained on the corpus, the documents are encoded into one stream each after that token,
and each epoch visits blocks of ``block_size`` tokens in an order drawn from (seed, epoch),
with dropout from (seed, epoch, step): a run resumed from a checkpoint ends with the
weights of a run never interrupted (on a CPU). AdamW, warm-up then cosine decay, gradient
clipping, bf16 autocast on CUDA. The result is written with ``save_pretrained`` and loads
like any hub model. Why the presets are sized as they are is in the README.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable, Iterable, Iterator

from engine.errors import InputError
from engine.fsutil import atomic_open, atomic_path
from engine.lm.hub import quiet_transformers
from engine.presets import EOT, load_preset
from engine.runtime import autocast, epoch_seed, resolve_device

META_FILE = "byrote_lm.json"
CHECKPOINT_EVERY_S = 30.0
ENCODE_BATCH_DOCS = 256


def _texts(corpus, stats: dict, check: Callable[[], None] | None = None) -> Iterator[str]:
    """The corpus documents as text; undecodable ones (None or not UTF-8) are counted and skipped."""
    for doc in corpus:
        if check is not None:
            check()
        data = doc.data
        if data is None:
            stats["skipped"] += 1
            continue
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            stats["skipped"] += 1
            continue
        stats["documents"] += 1
        stats["bytes"] += len(data)
        yield text


def train_tokenizer(texts: Iterable[str], vocab_size: int, max_length: int):
    """A byte-level BPE tokenizer (GPT-2's scheme) trained on ``texts``, as a transformers
    fast tokenizer whose one special token, ``<|endoftext|>``, is begin, end and padding."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=2, special_tokens=[EOT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=EOT, eos_token=EOT, unk_token=EOT, pad_token=EOT,
        model_max_length=max_length, clean_up_tokenization_spaces=False,
    )


def encode_stream(tokenizer, texts: Iterable[str]):
    """``<|endoftext|>`` doc1 ``<|endoftext|>`` doc2 ``<|endoftext|>`` ... as one int32 array."""
    import numpy as np

    eot = tokenizer.convert_tokens_to_ids(EOT)
    backend = tokenizer.backend_tokenizer
    parts = [np.array([eot], dtype=np.int32)]
    batch: list[str] = []

    def flush() -> None:
        for enc in backend.encode_batch(batch, add_special_tokens=False):
            parts.append(np.array(enc.ids + [eot], dtype=np.int32))
        batch.clear()

    for text in texts:
        batch.append(text)
        if len(batch) >= ENCODE_BATCH_DOCS:
            flush()
    flush()
    return np.concatenate(parts)


def epoch_blocks(tokens, block_size: int, seed: int, epoch: int, pad_id: int):
    """One epoch's data: ``(inputs, labels, order)``.

    The stream is rotated by an offset drawn from (seed, epoch), cut into blocks of
    ``block_size`` (the last one padded, its padding labelled -100), and ``order`` is a
    permutation of the blocks from the same generator.
    """
    import numpy as np

    rng = np.random.default_rng(epoch_seed(seed, epoch))
    n = len(tokens)
    n_blocks = -(-n // block_size)
    offset = int(rng.integers(n)) if n > block_size else 0
    inputs = np.full(n_blocks * block_size, pad_id, dtype=np.int64)
    inputs[:n] = np.roll(tokens, -offset)
    labels = inputs.copy()
    labels[n:] = -100
    order = rng.permutation(n_blocks)
    return inputs.reshape(n_blocks, block_size), labels.reshape(n_blocks, block_size), order


def build_model(cfg: dict, vocab_size: int, eot_id: int, seed: int):
    """A GPT2LMHeadModel from the preset, initialised from ``seed``."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(
        vocab_size=vocab_size, n_positions=cfg["block_size"], n_embd=cfg["n_embd"],
        n_layer=cfg["n_layer"], n_head=cfg["n_head"], resid_pdrop=cfg["dropout"],
        embd_pdrop=cfg["dropout"], attn_pdrop=cfg["dropout"],
        bos_token_id=eot_id, eos_token_id=eot_id, pad_token_id=eot_id, loss_type="ForCausalLM",
    )
    torch.manual_seed(seed)
    return GPT2LMHeadModel(config)


def build_optimizer(model, cfg: dict, total_steps: int):
    """AdamW (decay on matrices, none on biases and norms) and its warm-up + cosine schedule."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg["weight_decay"]},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    optim = torch.optim.AdamW(groups, lr=cfg["lr"], betas=(0.9, 0.95))
    warmup, floor = int(cfg["warmup_steps"]), cfg["min_lr"] / cfg["lr"]

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return optim, torch.optim.lr_scheduler.LambdaLR(optim, factor)


LOAD_OPTIONS = ("is_local", "local_files_only", "cache_dir", "force_download", "proxies", "token", "revision",
                "subfolder", "_commit_hash")


def read_tokenizer(folder: Path):
    """A tokenizer this module saved, read back as it was made: the options of the reading
    (``is_local``, ...) that transformers keeps among its settings are dropped, so that a
    resumed run writes the same ``tokenizer_config.json`` as an uninterrupted one."""
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast.from_pretrained(str(folder))
    for key in LOAD_OPTIONS:
        tokenizer.init_kwargs.pop(key, None)
    return tokenizer


def _prepare(corpus, cfg: dict, work: Path | None, ctx) -> tuple:
    """Tokenizer, token stream and corpus counts: made once, then read back from ``work``."""
    import numpy as np

    if work is not None and (work / "data.json").is_file():
        tokenizer = read_tokenizer(work / "tokenizer")
        tokens = np.load(work / "tokens.npy")
        return tokenizer, tokens, json.loads((work / "data.json").read_text(encoding="utf-8"))

    check = ctx.check_cancel if ctx is not None else None
    stats = {"documents": 0, "skipped": 0, "bytes": 0}
    if ctx is not None:
        ctx.progress(0.0, "training the tokenizer", force=True)
    tokenizer = train_tokenizer(_texts(corpus, stats, check), cfg["vocab_size"], cfg["block_size"])
    if stats["documents"] == 0:
        raise InputError("the corpus has no readable document (none is UTF-8 text)")
    if ctx is not None:
        ctx.progress(0.0, "encoding the corpus", force=True)
    tokens = encode_stream(tokenizer, _texts(corpus, {"documents": 0, "skipped": 0, "bytes": 0}, check))
    stats["tokens"] = int(len(tokens))
    if work is not None:
        work.mkdir(parents=True, exist_ok=True)
        final = work / "tokenizer"
        shutil.rmtree(final, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tokenizer.", dir=work))
        tokenizer.save_pretrained(str(tmp))
        os.rename(tmp, final)
        with atomic_path(work / "tokens.npy") as path:
            with open(path, "wb") as fh:
                np.save(fh, tokens)
        with atomic_open(work / "data.json") as fh:  # last: its presence means all is there
            json.dump(stats, fh)
    return tokenizer, tokens, stats


def _run_token(work: Path | None) -> str:
    """An id for this training run, kept in ``work`` so a resumed run knows its output."""
    if work is None:
        return uuid.uuid4().hex
    path = work / "run.json"
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))["run"]
    token = uuid.uuid4().hex
    work.mkdir(parents=True, exist_ok=True)
    with atomic_open(path) as fh:
        json.dump({"run": token}, fh)
    return token


def _finished(out: Path, token: str) -> dict | None:
    """The metadata of ``out`` if this very run already wrote it; InputError if another did."""
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return None  # an empty folder is replaced by the rename
    try:
        meta = json.loads((out / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        meta = {}
    if meta.get("run") == token:
        return meta
    raise InputError("already exists; choose another output directory", out)


def train_lm(corpus, out_dir, preset: dict, seed: int, device, ctx=None, work_dir=None,
             preset_name: str | None = None, on_epoch=None) -> dict:
    """Train a tokenizer and a GPT-2 on ``corpus``; write them to ``out_dir``; return the
    metadata also written to ``out_dir/byrote_lm.json``.

    With ``work_dir``, the run checkpoints there and a second call resumes from the last
    checkpoint (and returns at once if the first call had already finished). ``ctx``
    (a :class:`~engine.jobs.JobContext`) receives progress and may cancel between steps;
    ``on_epoch(losses)`` gets the mean training loss of every epoch finished, after each.
    """
    import torch

    quiet_transformers()
    cfg = dict(preset)
    device = torch.device(device)
    out = Path(out_dir).expanduser().absolute()
    work = None if work_dir is None else Path(work_dir)
    token = _run_token(work)
    done_meta = _finished(out, token)
    if done_meta is not None:
        return done_meta

    tokenizer, tokens, stats = _prepare(corpus, cfg, work, ctx)
    eot = tokenizer.convert_tokens_to_ids(EOT)
    block, batch_size, epochs = cfg["block_size"], cfg["batch_size"], cfg["epochs"]
    n_blocks = -(-len(tokens) // block)
    steps_per_epoch = -(-n_blocks // batch_size)
    total = epochs * steps_per_epoch

    model = build_model(cfg, len(tokenizer), eot, seed).to(device)
    optim, sched = build_optimizer(model, cfg, total)
    state = {"step": 0, "loss_sum": 0.0, "loss_n": 0, "epoch_losses": [], "seconds": 0.0}
    ckpt = None if work is None else work / "checkpoint.pt"
    if ckpt is not None and ckpt.is_file():
        saved = torch.load(ckpt, map_location=device, weights_only=True)
        model.load_state_dict(saved.pop("model"))
        optim.load_state_dict(saved.pop("optim"))
        sched.load_state_dict(saved.pop("sched"))
        state.update(saved)

    def save_checkpoint() -> None:
        if ckpt is not None:
            with atomic_path(ckpt) as tmp:
                torch.save({"model": model.state_dict(), "optim": optim.state_dict(),
                            "sched": sched.state_dict(), **state}, tmp)

    model.train()
    step, last_save, t_start = state["step"], time.monotonic(), time.monotonic()
    seconds0 = state["seconds"]
    for epoch in range(step // steps_per_epoch, epochs):
        inputs, labels, order = epoch_blocks(tokens, block, seed, epoch + 1, eot)
        for i in range(step - epoch * steps_per_epoch, steps_per_epoch):
            if ctx is not None:
                ctx.check_cancel()
            rows = order[i * batch_size:(i + 1) * batch_size]
            x = torch.from_numpy(inputs[rows]).to(device)
            y = torch.from_numpy(labels[rows]).to(device)
            mask = (y != -100).long()  # only the last block has padding, at its end
            torch.manual_seed(epoch_seed(epoch_seed(seed, epoch + 1), i))  # this step's dropout
            with autocast(device):
                loss = model(input_ids=x, attention_mask=mask, labels=y).loss
            optim.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["grad_clip"])
            optim.step()
            sched.step()
            step += 1
            value = loss.item()
            state.update(step=step, loss_sum=state["loss_sum"] + value, loss_n=state["loss_n"] + 1,
                         seconds=seconds0 + time.monotonic() - t_start)
            if ctx is not None:
                ctx.progress(step / total, f"step {step}/{total} · loss {value:.3f}")
            if time.monotonic() - last_save >= CHECKPOINT_EVERY_S and i + 1 < steps_per_epoch:
                save_checkpoint()
                last_save = time.monotonic()
        state["epoch_losses"] = state["epoch_losses"] + [state["loss_sum"] / max(1, state["loss_n"])]
        state.update(loss_sum=0.0, loss_n=0)
        save_checkpoint()
        last_save = time.monotonic()
        if on_epoch is not None:
            on_epoch(list(state["epoch_losses"]))

    meta = {
        "format": "byrote-lm/1",
        "run": token,
        "preset": preset_name,
        "settings": cfg,
        "seed": seed,
        "corpus": getattr(corpus, "spec", None),
        "documents": stats["documents"],
        "skipped": stats["skipped"],
        "bytes": stats["bytes"],
        "tokens": stats["tokens"],
        "blocks": n_blocks,
        "vocab": len(tokenizer),
        "parameters": sum(p.numel() for p in model.parameters()),
        "epochs": epochs,
        "steps": total,
        "final_loss": state["epoch_losses"][-1] if state["epoch_losses"] else None,
        "epoch_losses": state["epoch_losses"],
        "device": str(device),
        "train_seconds": round(state["seconds"], 3),
    }
    model.eval()
    _write_output(model, tokenizer, out, meta)
    if work is not None:  # keep run.json: a rerun of a job killed right here finds its output
        for path in work.iterdir():
            if path.name != "run.json":
                shutil.rmtree(path) if path.is_dir() else path.unlink()
    if ctx is not None:
        ctx.progress(1.0, f"step {total}/{total} · loss {meta['final_loss']:.3f} · saved", force=True)
    return meta


def _write_output(model, tokenizer, out: Path, meta: dict) -> None:
    """Model, tokenizer and metadata into a temporary directory beside ``out``, then renamed."""
    quiet_transformers()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name[:100]}.", suffix=".tmp", dir=out.parent))
    except OSError as exc:
        raise InputError(exc.strerror or str(exc), out) from None
    try:
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        mask = os.umask(0o022)
        os.umask(mask)
        os.chmod(tmp, 0o777 & ~mask)  # mkdtemp makes 0700; give a directory's usual mode
        try:
            os.rename(tmp, out)
        except OSError as exc:
            raise InputError(exc.strerror or str(exc), out) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def train_job(ctx) -> None:
    """Job kind ``lm_train``: param ``lm_id``, an LM training of the store (its ``out``,
    ``corpus`` spec, ``preset``, ``settings``, ``seed`` and ``device``); checkpoints in
    ``<files>/lms/<hash of the run>``."""
    from engine.data.corpus import Corpus

    p = ctx.store.lm_training(int(ctx.params["lm_id"]))
    cfg = load_preset(p["preset"], "lm", p["settings"])
    corpus = Corpus.from_spec(p["corpus"])
    device = resolve_device(p["device"] or "auto")
    # the work folder belongs to the run, not the job: a rerun of the same command after a
    # cancel or a lost worker resumes from its last checkpoint
    run = json.dumps([p["out"], p["corpus"], p["preset"], p["settings"], int(p["seed"] or 0)], sort_keys=True)
    work = ctx.store.files / "lms" / hashlib.md5(run.encode("utf-8")).hexdigest()[:16]
    lm_id = int(ctx.params["lm_id"])
    train_lm(corpus, p["out"], cfg, int(p["seed"] or 0), device, ctx=ctx, work_dir=work, preset_name=p["preset"],
             on_epoch=lambda losses: ctx.store.set_lm_losses(lm_id, losses))
