"""k-extractability (Carlini et al. 2023, "Quantifying Memorization Across Neural Language
Models", §3.1; the memorization evaluation of Pythia, Biderman et al. 2023, §3): a window
of ``prefix + suffix`` tokens of the training corpus is *extractable* when greedy decoding
from its ``prefix`` tokens reproduces its ``suffix`` tokens exactly.

Job kind ``extractable`` (:func:`extractable_job`):

- **Windows.** Each document of the corpus offers ``per_document`` draws (1 by default),
  each with a key, a hash of (seed, document id, draw); the ``n`` draws of lowest key
  among the documents of at least ``prefix + suffix`` tokens (the model's tokenizer, no
  special tokens) give one window each, at a token offset drawn from the same (seed,
  document id, draw) (``at_start``: offset 0, Pythia's choice of the first tokens of each
  training sequence; then one draw per document; two draws at one offset give one
  window). So the windows depend on the corpus,
  the tokenizer and the seed alone, not on the order documents are read in, and a larger
  ``n`` keeps the windows of a smaller one. They are stored before any is scored.
- **Scoring.** Greedy decoding reproduces the suffix up to its first wrong token, so one
  teacher-forced forward pass over the window says as much as ``suffix`` decoding steps:
  at each suffix position the argmax of the logits given the true tokens before it is
  the greedy token as long as every earlier one was right. Per window: ``correct``, the
  length of the longest correct prefix of the suffix (greedy decoding's, exactly);
  ``exact`` = ``correct == suffix``; ``matches``, the suffix tokens whose teacher-forced
  argmax is right (an upper bound on the positions free-running decoding gets right,
  which Pythia's "memorization score" counts); and the wrong token greedy decoding gives
  at position ``correct``. Batches are stored as they finish: a resumed job scores only
  what is missing.
"""
from __future__ import annotations

import hashlib
import heapq
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from engine.errors import InputError

CANDIDATES_PER_WINDOW = 4  # documents kept per window wanted in one pass over the corpus


@dataclass(frozen=True)
class Window:
    doc: str
    offset: int  # in tokens
    ids: tuple[int, ...]  # prefix + suffix token ids


def doc_key(seed: int, doc_id: str, draw: int = 0, what: str = "order") -> int:
    """A draw's place in the seeded order (``what="order"``) or its offset."""
    name = doc_id if draw == 0 else f"{doc_id}\0{draw}"
    digest = hashlib.blake2b(f"{what}\0{seed}\0{name}".encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def token_ids(tokenizer, data: bytes | None) -> list[int] | None:
    """A document's token ids without special tokens (None for one that is not UTF-8)."""
    if data is None:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def choose_windows(documents: Callable[[], Iterable], tokenizer, n: int, prefix: int, suffix: int, seed: int,
                   at_start: bool = False, check: Callable[[], None] | None = None,
                   per_document: int = 1) -> list[Window]:
    """The ``n`` windows of the corpus (see the module's docstring), in key order; fewer
    when the long enough documents offer fewer draws. ``documents()`` iterates the corpus
    anew (one pass keeps ``CANDIDATES_PER_WINDOW * n`` draws at most; another pass is made
    only when too many of them were of documents too short in tokens)."""
    span = prefix + suffix
    draws = 1 if at_start else per_document
    chosen: list[Window] = []
    taken: set[tuple[str, int]] = set()
    above = -1  # keys at or below this were looked at in an earlier pass
    while len(chosen) < n:
        cap = CANDIDATES_PER_WINDOW * (n - len(chosen))
        heap: list[tuple[int, str, int, bytes]] = []  # the cap lowest keys above ``above`` (by -key)
        more = False
        for doc in documents():
            if check is not None:
                check()
            if doc.data is None or len(doc.data) < span:  # a token is at least one byte
                continue
            for draw in range(draws):
                key = doc_key(seed, doc.id, draw)
                if key <= above:
                    continue
                if len(heap) < cap:
                    heapq.heappush(heap, (-key, doc.id, draw, doc.data))
                elif key < -heap[0][0]:
                    heapq.heapreplace(heap, (-key, doc.id, draw, doc.data))
                    more = True
                else:
                    more = True
        tokenized: dict[str, list[int] | None] = {}
        for _, doc_id, draw, data in sorted(heap, reverse=True):  # lowest key first
            if doc_id not in tokenized:
                tokenized[doc_id] = token_ids(tokenizer, data)
            ids = tokenized[doc_id]
            if ids is not None and len(ids) >= span and len(chosen) < n:
                offset = 0 if at_start else doc_key(seed, doc_id, draw, "offset") % (len(ids) - span + 1)
                if (doc_id, offset) not in taken:  # two draws of one document at one offset: one window
                    taken.add((doc_id, offset))
                    chosen.append(Window(doc_id, offset, tuple(ids[offset:offset + span])))
        if not more or not heap:
            break
        above = -min(heap)[0]  # the highest key of this pass
    return chosen


def first_long_enough(documents: Iterable, tokenizer, span: int) -> str | None:
    """The id of the first document of at least ``span`` tokens, or None (a launch check:
    it stops there, the first document as a rule)."""
    for doc in documents:
        if doc.data is not None and len(doc.data) >= span:
            ids = token_ids(tokenizer, doc.data)
            if ids is not None and len(ids) >= span:
                return doc.id
    return None


def score_batch(model, windows: list[tuple[int, ...]], prefix: int) -> list[tuple[int, int, int]]:
    """``(correct, matches, greedy token at the first miss or -1)`` per window, from one
    teacher-forced forward pass (the module's docstring says why this is greedy decoding's
    answer)."""
    import torch

    from engine.runtime import autocast

    device = next(model.parameters()).device
    ids = torch.tensor(windows, dtype=torch.long, device=device)
    with torch.inference_mode(), autocast(device):
        logits = model(input_ids=ids[:, :-1]).logits[:, prefix - 1:]
    greedy = logits.argmax(-1)
    right = greedy == ids[:, prefix:]
    suffix = right.shape[1]
    wrong = ~right
    first_miss = torch.where(wrong.any(1), wrong.int().argmax(1), torch.full_like(wrong[:, 0], suffix, dtype=torch.long))
    rows = []
    for b, miss in enumerate(first_miss.tolist()):
        rows.append((miss, int(right[b].sum()), int(greedy[b, miss]) if miss < suffix else -1))
    return rows


def greedy_batch(model, windows: list[tuple[int, ...]], prefix: int) -> list[list[int]]:
    """The greedy continuation of each window's prefix, token by token with the KV cache
    (what :func:`score_batch` stands in for; bench/extractable.py times the two)."""
    import torch

    device = next(model.parameters()).device
    ids = torch.tensor([w[:prefix] for w in windows], dtype=torch.long, device=device)
    suffix = len(windows[0]) - prefix
    out = []
    with torch.inference_mode():
        cache, step = None, ids
        for _ in range(suffix):
            result = model(input_ids=step, cache=cache, use_cache=True)
            cache = result.cache
            step = result.logits[:, -1].argmax(-1, keepdim=True)
            out.append(step)
    return torch.cat(out, 1).tolist()


def scored_batches(run: dict, windows: list[dict], device: str, check=None) -> Iterator[list[tuple]]:
    """The model of ``run`` (a row of the store) loaded on ``device``, then each batch of
    ``windows`` scored: ``(window id, correct, matches, miss token, the correct part of
    the suffix as text, the miss token as text)`` rows."""
    from engine.lm.hub import load_causal_lm
    from engine.runtime import resolve_device

    model, tokenizer = load_causal_lm(run["model"], resolve_device(device),
                                      trust_remote_code=bool(run["config"].get("trust_remote_code")))
    size, prefix = int(run["batch_size"]), int(run["prefix"])
    for start in range(0, len(windows), size):
        if check is not None:
            check()
        part = windows[start:start + size]
        rows = score_batch(model, [tuple(w["ids"]) for w in part], prefix)
        yield [(w["id"], correct, matches, miss, tokenizer.decode(w["ids"][prefix:prefix + correct]),
                tokenizer.decode([miss]) if miss >= 0 else None)
               for w, (correct, matches, miss) in zip(part, rows)]


def extractable_job(ctx) -> None:
    """Job kind ``extractable``: params ``run_id`` and ``device``. Chooses and stores the
    windows (once), then scores those not scored yet, a batch per transaction."""
    from engine.data.corpus import Corpus
    from engine.lm.hub import load_tokenizer

    store = ctx.store
    run = store.extractable_run(int(ctx.params["run_id"]))
    if not store.window_count(run["id"]):
        ctx.progress(0.0, f"choosing {run['n']} windows of {run['prefix']}+{run['suffix']} tokens", force=True)
        tokenizer = load_tokenizer(run["model"], bool(run["config"].get("trust_remote_code")))
        corpus = Corpus.from_spec(run["corpus"])
        windows = choose_windows(lambda: iter(corpus), tokenizer, int(run["n"]), int(run["prefix"]),
                                 int(run["suffix"]), int(run["seed"]), bool(run["at_start"]), ctx.check_cancel,
                                 int(run["config"].get("per_document", 1)))
        if not windows:
            raise InputError(f"no document of the corpus has {run['prefix'] + run['suffix']} tokens")
        if len(windows) < int(run["n"]):  # the corpus offers fewer draws: said, not found out from the counts
            store.log(ctx.job_id, "warning",
                      f"{len(windows)} windows of the {run['n']} asked for: the corpus's documents long enough, "
                      f"at {'1' if run['at_start'] else run['config'].get('per_document', 1)} a document, offer no more")
        prefix = int(run["prefix"])
        store.add_windows(run["id"], [(i + 1, w.doc, w.offset, list(w.ids), tokenizer.decode(w.ids[:prefix]),
                                       tokenizer.decode(w.ids[prefix:])) for i, w in enumerate(windows)])
    todo = store.unscored_windows(run["id"])
    total = store.window_count(run["id"])
    done, t0 = total - len(todo), time.monotonic()
    ctx.progress(done / total, f"{done}/{total} windows · loading {run['model']}", force=True)
    scored = 0
    for rows in scored_batches(run, todo, ctx.params.get("device") or "auto", ctx.check_cancel):
        store.score_windows(run["id"], rows)
        done, scored = done + len(rows), scored + len(rows)
        rate = scored / max(time.monotonic() - t0, 1e-9)
        ctx.progress(done / total, f"{done}/{total} windows · {rate:.1f} windows/s", force=done >= total)
    summary = store.extractable_summary(run["id"])
    ctx.progress(1.0, f"{summary['extractable']}/{summary['windows']} extractable ({summary['rate']:.1%})",
                 force=True)
