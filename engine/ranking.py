"""Ranking outputs to find the memorized ones without the corpus (Yang et al.'s
``evaluation/eva.py``, after Carlini et al. 2021, "Extracting Training Data from Large
Language Models", §5.1): per output, the perplexity of the model that sampled it, of a
second model, of its lower-cased text, and its zlib size; each signal orders the outputs
and the precision of its top N says how many of them a scan found memorized.

As ``eva.py`` computes them (the defaults):

- an output's text has its runs of newlines collapsed to one first (``re.sub('\\n+', '\\n')``);
- perplexity is ``exp`` of the mean negative log-likelihood of the tokens after the first,
  the text encoded with the tokenizer's own special tokens (``tokenizer.encode``), as
  ``model(ids, labels=ids)`` computes it; byrote cuts a text longer than the model's
  context to it (``eva.py`` would fail on it) and says so in the job's log;
- zlib is the length of ``zlib.compress`` of the UTF-8 text (level 6, the default);
- the signals, each ranking its highest value first:

  ============  ===============================================  ==================
  signal        value                                            ``eva.py``
  ============  ===============================================  ==================
  perplexity    −log PPL(model)                                  "PPL"
  ratio         log PPL(smaller model) / log PPL(larger model)   model_1 vs model_2
  lowercase     log PPL(model, lower-cased) / log PPL(model)     "Lower"
  zlib          zlib size / log PPL(model)                       "zlib"
  ============  ===============================================  ==================

  (``eva.py``'s two ``--extract_mode`` settings both divide the smaller model's log
  perplexity by the larger's; byrote tells them apart by their parameter counts, which
  the perplexity jobs record);
- an output is memorized when the scan found at least one snippet in it (``eva.py``: when
  a Simian block starts inside it); precision at N is the memorized share of the top N.

Where they differ: an output with no perplexity (fewer than two tokens) ranks last under
every signal, not first (one of perplexity 1, log 0, ranks first under the ratios) (``np.argsort`` puts NaN last, and ``eva.py`` reverses it); ties
keep output-id order; N larger than the set is cut to it.
"""
from __future__ import annotations

import math
import re
import zlib
from collections.abc import Callable, Iterator

import numpy as np

from engine.errors import InputError

TOPS = (100, 1000)  # eva.py's N: bash_eva.sh's --extract_n 1000, temp.py's top 100
VARIANTS = ("text", "lower")  # what a perplexity is of: the output, or its lower-cased text


def collapsed(text: str) -> str:
    """The text ``eva.py`` scores: the output as it reads its file back in text mode (a
    ``\r\n`` or a lone ``\r`` is a newline: Python's universal newlines), then each run
    of newlines made one newline."""
    return re.sub("\n+", "\n", text.replace("\r\n", "\n").replace("\r", "\n"))


def zlib_size(text: str) -> int:
    return len(zlib.compress(text.encode("utf-8")))


def variant_text(text: str, variant: str) -> str:
    text = collapsed(text)
    return text.lower() if variant == "lower" else text


def perplexities(model, tokenizer, texts: list[str], limit: int | None) -> tuple[list[float], int]:
    """``exp`` of the mean NLL of each text's tokens after the first (NaN for a text of
    fewer than two tokens), in one padded batch; and how many texts were cut to ``limit``
    tokens."""
    import torch

    from engine.runtime import autocast

    device = next(model.parameters()).device
    encoded = [tokenizer.encode(t) for t in texts]
    cut = sum(limit is not None and len(ids) > limit for ids in encoded)
    if limit is not None:
        encoded = [ids[:limit] for ids in encoded]
    width = max(max((len(ids) for ids in encoded), default=0), 2)
    ids = torch.zeros((len(encoded), width), dtype=torch.long, device=device)
    mask = torch.zeros((len(encoded), width), dtype=torch.bool, device=device)
    for row, seq in enumerate(encoded):
        ids[row, :len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[row, :len(seq)] = True
    with torch.inference_mode(), autocast(device):
        logits = model(input_ids=ids, attention_mask=mask.long()).logits[:, :-1].float()
    nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")
    counted = mask[:, 1:]
    totals = (nll * counted).sum(1)
    counts = counted.sum(1)
    out = [math.exp(t / c) if c > 0 else math.nan for t, c in zip(totals.tolist(), counts.tolist())]
    return out, cut


def scored_batches(model_name: str, outputs: list[dict], variant: str, batch_size: int, device: str,
                   trust_remote_code: bool = False, check=None,
                   loaded: Callable[[int], None] | None = None) -> Iterator[tuple[list[tuple[int, float]], int]]:
    """The model loaded on ``device`` (``loaded`` is told its parameter count), then each
    batch of ``outputs`` (``id`` and ``text``) scored: ``([(output id, perplexity)], texts
    cut to the context)``; the texts sorted by length first, so that a batch pads little."""
    from engine.lm.hub import context_length, load_causal_lm
    from engine.runtime import resolve_device

    model, tokenizer = load_causal_lm(model_name, resolve_device(device), trust_remote_code=trust_remote_code)
    if loaded is not None:
        loaded(sum(p.numel() for p in model.parameters()))
    limit = context_length(model)
    todo = sorted(outputs, key=lambda o: len(o["text"]))
    for start in range(0, len(todo), batch_size):
        if check is not None:
            check()
        part = todo[start:start + batch_size]
        values, cut = perplexities(model, tokenizer, [variant_text(o["text"], variant) for o in part], limit)
        yield [(o["id"], v) for o, v in zip(part, values)], cut


def score_job(ctx) -> None:
    """Job kind ``perplexity``: params ``set_id``, ``model``, ``variant`` (``text`` or
    ``lower``), ``batch_size``, ``device``, ``trust_remote_code``. Scores the outputs of
    the set the store has no perplexity of yet (under this model and variant), a batch
    per transaction: a resumed job goes on where it stopped."""
    store, p = ctx.store, ctx.params
    set_id, model, variant = int(p["set_id"]), p["model"], p["variant"]
    if variant not in VARIANTS:
        raise InputError(f"unknown perplexity variant {variant!r} (known: {', '.join(VARIANTS)})")
    have = store.perplexity_ids(set_id, model, variant)
    todo = [o for o in store.outputs(set_id) if o["id"] not in have]
    total, done = len(todo) + len(have), len(have)
    ctx.progress(done / max(total, 1), f"{done}/{total} outputs · loading {model}", force=True)
    cut_total = 0
    for rows, cut in scored_batches(model, todo, variant, int(p.get("batch_size") or 16), p.get("device") or "auto",
                                    bool(p.get("trust_remote_code")), ctx.check_cancel,
                                    lambda parameters: store.set_model_size(model, parameters)):
        store.add_perplexities(set_id, model, variant, rows)
        done, cut_total = done + len(rows), cut_total + cut
        ctx.progress(done / max(total, 1), f"{done}/{total} outputs · {variant} perplexity under {model}")
    if cut_total:
        store.log(ctx.job_id, "warning", f"{cut_total} outputs were longer than the model's context; "
                                         "their perplexity is of their first tokens that fit")
    ctx.progress(1.0, f"{total} outputs scored ({variant}, {model})", force=True)


# -- the signals and their precision ------------------------------------------------------------
def _log(values: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(values)


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return a / b


SIGNALS: dict[str, Callable[[dict], np.ndarray]] = {
    "perplexity": lambda s: -_log(s["text"]),
    "ratio": lambda s: _div(_log(s["smaller"]), _log(s["larger"])),
    "lowercase": lambda s: _div(_log(s["lower"]), _log(s["text"])),
    "zlib": lambda s: _div(s["zlib"], _log(s["text"])),
}


def ranking(values: np.ndarray) -> np.ndarray:
    """Indexes from the highest value down (+inf first: a log perplexity of 0, a text the
    model reproduces with certainty); NaN and -inf last, ties in index order."""
    bad = np.isnan(values) | np.isneginf(values)
    key = np.where(bad, 0.0, -values)
    return np.lexsort((np.arange(len(values)), key, bad))


def precision_at(values: np.ndarray, memorized: np.ndarray, n: int) -> tuple[float, int]:
    """(memorized share of the top ``n`` by ``values``, the ``n`` used: at most the set)."""
    n = min(n, len(values))
    if n == 0:
        return math.nan, 0
    return float(memorized[ranking(values)[:n]].sum()) / n, n


def precision_curve(values: np.ndarray, memorized: np.ndarray, ns: list[int]) -> list[float]:
    """:func:`precision_at` at each N of ``ns`` (each at most the set), from one ranking."""
    hits = np.cumsum(memorized[ranking(values)])
    return [float(hits[n - 1]) / n for n in ns]


def signal_values(scores: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each signal whose inputs are there (``ratio`` needs ``smaller`` and ``larger``)."""
    return {name: fn(scores) for name, fn in SIGNALS.items()
            if name != "ratio" or ("smaller" in scores and "larger" in scores)}


def precision_table(scores: dict[str, np.ndarray], memorized: np.ndarray,
                    tops: tuple[int, ...] = TOPS) -> list[dict]:
    """One row per signal: ``{"signal", "precision": {N: share}, "n": {N: N used}}``, and a
    last row ``random``: the memorized share of the whole set (any ranking's expectation)."""
    rows = []
    for name, values in signal_values(scores).items():
        got = {top: precision_at(values, memorized, top) for top in tops}
        rows.append({"signal": name, "precision": {t: p for t, (p, _) in got.items()},
                     "n": {t: used for t, (_, used) in got.items()}})
    share = float(memorized.mean()) if len(memorized) else math.nan
    rows.append({"signal": "random", "precision": {t: share for t in tops},
                 "n": {t: min(t, len(memorized)) for t in tops}})
    return rows


# -- a ranking of one scan's outputs ----------------------------------------------------------
def scores_of(store, set_id: int, model: str, reference: str | None) -> tuple[list[int], dict]:
    """The output ids of the set in order and the arrays the signals take: ``text`` and
    ``lower`` perplexities under ``model``, ``zlib`` sizes, and with a ``reference``, its
    text perplexities as ``reference`` and the two models' as ``smaller`` and ``larger``
    (by the parameter counts their perplexity jobs recorded; the sampled model is the
    smaller one when they are equal)."""
    ids, sizes = [], []
    for o in store.outputs(set_id):
        ids.append(o["id"])
        sizes.append(zlib_size(collapsed(o["text"])))

    def column(name: str, variant: str) -> np.ndarray:
        got = store.perplexities(set_id, name, variant)
        return np.array([got.get(i, math.nan) for i in ids], dtype=float)

    scores = {"text": column(model, "text"), "lower": column(model, "lower"), "zlib": np.array(sizes, dtype=float)}
    if reference is not None:
        sizes = {name: store.model_size(name) for name in (model, reference)}
        unknown = [name for name, size in sizes.items() if size is None]
        if unknown:
            raise InputError(f"the size of {unknown[0]!r} is not known yet: its perplexities were not computed")
        scores["reference"] = ref = column(reference, "text")
        smaller_is_reference = sizes[reference] < sizes[model]
        scores["smaller"], scores["larger"] = (ref, scores["text"]) if smaller_is_reference else (scores["text"], ref)
    return ids, scores
