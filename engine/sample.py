"""Sampling outputs from a causal language model, as the extraction study's ``extract.py``
does (Yang et al., seeds/003), resumably: job kind ``sample`` (:func:`sample_job`) fills
an output set with top-k, temperature-scaled continuations; its docstring says why a
resumed job holds what an uninterrupted one would.
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator

from engine.errors import InputError
from engine.runtime import epoch_seed


def eos_ids(model, tokenizer) -> set[int]:
    """Every end-of-text id of the model and tokenizer (generation stops on any of them)."""
    ids: set[int] = set()
    for value in (getattr(model.generation_config, "eos_token_id", None), tokenizer.eos_token_id):
        if isinstance(value, int):
            ids.add(value)
        elif value is not None:
            ids.update(int(v) for v in value)
    return ids


def prompt_ids(tokenizer, prompt: str | None, model=None) -> list[int]:
    """The token ids every output starts from: the beginning-of-text token, or the prompt."""
    if prompt is None:
        for value in (tokenizer.bos_token_id, tokenizer.eos_token_id,
                      getattr(getattr(model, "config", None), "bos_token_id", None)):
            if isinstance(value, int):
                return [value]
        raise InputError("the model's tokenizer has no beginning- or end-of-text token; give a prompt")
    ids = list(tokenizer(prompt, add_special_tokens=True)["input_ids"])
    if not ids:
        raise InputError("the prompt is empty")
    return ids


class _CancelCheck:
    """A StoppingCriteria that raises JobCancelled (through ``check``) during a long batch."""

    def __init__(self, check):
        self.check = check

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        self.check()
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)


SCHEDULES = {"decay": (10.0, 1.0, 20, True), "decay-at-eos": (10.0, 1.0, 20, False)}
"""Temperature schedules: name -> (start, end, over how many tokens, whether sampling goes
on past end-of-text). ``decay`` is the extraction study's (``extract.py`` when
``--temperature`` is above 1): from 10 down to 1 linearly over the first 20 generated
tokens, then 1, from the whole vocabulary, in a loop of its own that generates all
``seq_len`` tokens; its outputs are decoded without special tokens, so an end-of-text
token drops out of the text and what follows it stays. ``decay-at-eos`` stops at the
first end-of-text token, as byrote's sets of that schedule made before schema 25 did."""


def scheduled_temperature(schedule: str, step: int) -> float:
    """The temperature of the ``step``-th generated token (0 for the first)."""
    start, end, over, _ = SCHEDULES[schedule]
    return start - (start - end) * (step / over) if step < over else end


class _Schedule:
    """A LogitsProcessor dividing the logits by the schedule's temperature at each step."""

    def __init__(self, schedule: str, prompt_len: int):
        self.schedule, self.prompt_len = schedule, prompt_len

    def __call__(self, input_ids, scores):
        return scores / scheduled_temperature(self.schedule, input_ids.shape[1] - self.prompt_len)


def sample_batch(model, tokenizer, prompt_ids: list[int], count: int, seq_len: int, top_k: int,
                 temperature: float, seed: int, check=None, schedule: str | None = None,
                 clean_up: bool = True) -> list[tuple[str, int]]:
    """``count`` sampled continuations of ``prompt_ids``: ``(text, n_tokens)`` each.

    The random state is seeded with ``seed`` first (on every device). ``text`` is the
    decoded continuation without special tokens; ``n_tokens`` counts its generated tokens
    up to, not including, the first end-of-text token. ``check`` (optional) is called
    after every generated token and may raise to abandon the batch. With a ``schedule``
    (:data:`SCHEDULES`) the temperature follows it and no top-k is applied, as in the
    study's ``extract.py``; ``top_k`` and ``temperature`` are not used. A schedule that
    samples past end-of-text generates ``seq_len`` tokens; ``text`` and ``n_tokens`` then
    leave out the end-of-text tokens alone.

    ``clean_up``: :func:`clean_up_spaces`, as the study's ``extract.py`` decoded: the space
    before ``.``, ``,``, ``?``, ``!``, ``n't`` and some apostrophes goes, so ``from . import
    x`` reads ``from. import x``. Off, the text is the tokenizer's own.
    Simian's tokens ignore those characters, so a scan's blocks rarely change; the texts,
    and the perplexities of ``byrote rank``, do.
    """
    import torch
    from transformers import LogitsProcessorList, StoppingCriteriaList

    device = next(model.parameters()).device
    eos = eos_ids(model, tokenizer)
    pad = tokenizer.pad_token_id
    if pad is None:
        pad = min(eos) if eos else 0
    input_ids = torch.tensor([list(prompt_ids)] * count, dtype=torch.long, device=device)
    attention_mask = torch.ones_like(input_ids)
    stopping = StoppingCriteriaList([_CancelCheck(check)]) if check is not None else None
    scheduled, past_eos = {}, False
    if schedule is not None:
        scheduled = dict(logits_processor=LogitsProcessorList([_Schedule(schedule, len(prompt_ids))]))
        top_k, temperature = 0, 1.0  # the whole vocabulary, at the schedule's temperature alone
        past_eos = SCHEDULES[schedule][3]
        if past_eos:
            scheduled["eos_token_id"] = None  # no end: every one of the seq_len tokens
    torch.manual_seed(seed)  # seeds the CPU and every CUDA device
    with torch.inference_mode():
        out = model.generate(
            input_ids=input_ids, attention_mask=attention_mask, do_sample=True, top_k=top_k,
            top_p=1.0, temperature=temperature, max_new_tokens=seq_len, use_cache=True,
            pad_token_id=pad, stopping_criteria=stopping, **scheduled,
        )
    rows = []
    for gen in out[:, input_ids.shape[1]:].tolist():
        kept = [t for t in gen if t not in eos] if past_eos else gen[:next(
            (i for i, t in enumerate(gen) if t in eos), len(gen))]
        text = tokenizer.decode(kept, skip_special_tokens=True, clean_up_tokenization_spaces=False)
        rows.append((clean_up_spaces(text) if clean_up else text, len(kept)))
    return rows


CLEAN_UPS = ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
             (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"))
"""transformers 4.25's ``clean_up_tokenization``, its replacements in its order."""


def clean_up_spaces(text: str) -> str:
    """The text as transformers 4.25 decoded it with ``clean_up_tokenization_spaces`` on,
    the default of the ``batch_decode`` that made the extraction study's outputs
    (``extract.py``). transformers 5 skips it for BPE tokenizers even when asked, so byrote
    applies it itself."""
    for old, new in CLEAN_UPS:
        text = text.replace(old, new)
    return text


def md5_text(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def batch_unit(s: dict, b: int) -> tuple[int | None, int, int, int]:
    """(prompt index or None, first output id, rows, seed) of batch ``b`` of output set
    ``s``: batch ``b`` of the whole set, or, for a set of K outputs per prompt, batch ``j``
    of prompt ``p`` (``b = p * ceil(K / B) + j``), holding ids ``p*K + j*B + 1`` onwards."""
    size, seed = int(s["batch_size"]), int(s["seed"])
    per_prompt = (s.get("config") or {}).get("per_prompt")
    if not per_prompt:
        return None, b * size + 1, size, epoch_seed(seed, b)
    p, j = divmod(b, -(-per_prompt // size))
    import numpy as np

    return p, p * per_prompt + j * size + 1, min(size, per_prompt - j * size), int(
        np.random.SeedSequence([seed, p + 1, j]).generate_state(1)[0])


def batch_count(s: dict) -> int:
    per_prompt = (s.get("config") or {}).get("per_prompt")
    if not per_prompt:
        return -(-int(s["n"]) // int(s["batch_size"]))
    return len(s["prompt_texts"]) * -(-per_prompt // int(s["batch_size"]))


def sample_job(ctx) -> None:
    """Job kind ``sample``: params ``set_id`` and ``device`` ("auto", "cpu" or "cuda").

    Fills an output set (see :meth:`engine.store.Store.add_output_set`): ``n`` outputs of
    ``seq_len`` new tokens each, sampled with top-k and a temperature from the model's
    beginning-of-text token (or from a prompt, or K from each of a set's prompts). Only
    the continuation is kept.

    Output ids run 1..n. Batch ``b`` holds ids ``b*B+1 .. min((b+1)*B, n)`` and is always
    generated with ``B`` rows (the last batch is cut to ``n``), from a random state seeded
    by (seed, b) alone; a prompted set's batches are those of each prompt in turn
    (:func:`batch_unit`), seeded by (seed, prompt, batch). So an output depends only on
    the model, the settings, the seed, the batch size and its id: a job killed midway and
    resumed, or a set whose ``n`` is raised later, holds exactly what one uninterrupted
    run would have. Each batch is stored in one transaction, so a batch cut off midway is
    redone, never stored twice.
    """
    from engine import ray_executor

    store = ctx.store
    set_id = int(ctx.params["set_id"])
    s = store.output_set(set_id)
    n, size = int(s["n"]), int(s["batch_size"])
    if n < 1 or size < 1 or int(s["seq_len"]) < 1:
        raise InputError(f"output set {set_id}: n, batch size and seq_len must be positive")
    done = store.max_output_id(set_id)
    if store.output_count(set_id) != done:
        raise InputError(f"output set {set_id} has gaps in its output ids; sample it into a new set")
    if done >= n:
        ctx.progress(1.0, f"{done}/{n} outputs", force=True)
        return
    # done is a multiple of the batch size, or the n of an earlier, smaller request:
    # the batch holding id done+1 is generated whole and only its new ids are stored

    ctx.progress(done / n, f"{done}/{n} outputs · loading {s['model']}", force=True)
    device = ctx.params.get("device") or "auto"
    s = {**s, "prompt_texts": [p["text"] for p in store.set_prompts(set_id)]}
    batches = [b for b in range(batch_count(s)) if sum(batch_unit(s, b)[1:3]) - 1 > done]
    if ray_executor.chosen():
        sampled = ray_executor.sampled_batches(s, device, batches, ctx)
    else:
        sampled = sample_batches(s, device, batches, ctx.check_cancel)
    tokens, t0 = 0, time.monotonic()
    for b, rows in sampled:
        first = batch_unit(s, b)[1]
        new = [(first + i, md5_text(text), text, n_tokens)
               for i, (text, n_tokens) in enumerate(rows) if done < first + i <= n]
        store.add_outputs(set_id, new)
        done = new[-1][0]
        tokens += sum(n_tokens for _, n_tokens in rows)
        rate = tokens / max(time.monotonic() - t0, 1e-9)
        ctx.progress(done / n, f"{done}/{n} outputs · {rate:.0f} tokens/s", force=done >= n)


def sample_batches(s: dict, device: str, batches: Iterable[int], check=None) -> Iterator[tuple[int, list]]:
    """``(b, rows)`` for each batch ``b`` of output set ``s`` (a row of the store): the
    model loaded on ``device`` (``auto``, ``cpu``, ``cuda``), the prompt checked against
    its context, then each batch sampled from (seed, b) alone (:func:`sample_batch`).
    Reads no store, so it runs where the device is (a Ray task, :mod:`engine.ray_executor`)."""
    from engine.lm.hub import context_length, load_causal_lm
    from engine.runtime import resolve_device

    seq_len = int(s["seq_len"])
    model, tokenizer = load_causal_lm(s["model"], resolve_device(device),
                                      trust_remote_code=bool(s["config"].get("trust_remote_code")))
    limit = context_length(model)
    starts: dict[int | None, list[int]] = {}

    def start(p: int | None) -> list[int]:
        if p not in starts:
            ids = prompt_ids(tokenizer, s["prompt"] if p is None else s["prompt_texts"][p], model)
            if limit is not None and len(ids) + seq_len > limit:
                raise InputError(f"{seq_len} tokens after a {len(ids)}-token prompt exceed the "
                                 f"{limit}-token context of model {s['model']!r}; ask for at most {limit - len(ids)}")
            starts[p] = ids
        return starts[p]

    for b in batches:
        if check is not None:
            check()
        p, _, rows, seed = batch_unit(s, b)
        yield b, sample_batch(model, tokenizer, start(p), rows, seq_len, int(s["top_k"]), float(s["temperature"]),
                              seed, check=check, schedule=s.get("schedule"), clean_up=bool(s["clean_up"]))
