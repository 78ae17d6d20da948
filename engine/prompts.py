"""Prompts for prompted extraction (Yang et al.'s ``prompts/``: outputs conditioned on text
taken from the training data): read from a file, or taken from the start of seeded
documents of a corpus, each recorded with the document it came from."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from engine.errors import InputError
from engine.formats import BadJSON, parse_json, read_utf8, split_lines

Prompt = tuple[str, str | None, int | None]  # (text, document id, token offset)


def read_prompts(path: str | Path) -> list[Prompt]:
    """Prompts from a file: JSON lines (a string, or an object with ``prompt`` and an
    optional ``doc``), or, for any other name, plain text with one prompt per line.
    Lines end at ``\n`` alone (and a ``\r`` before it), so a prompt may hold any other
    character (U+2028, a form feed). Empty lines are skipped; a malformed line, a file
    that is not UTF-8 (its first bad line) or not a file, or one without a prompt is
    refused, naming it."""
    path, text = read_utf8(path, "prompts file")
    lines = [line.removesuffix("\r") for line in split_lines(text)]
    prompts: list[Prompt] = []
    as_json = path.suffix in (".jsonl", ".json")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if not as_json:
            prompts.append((line, None, None))
            continue
        try:
            value = parse_json(line)
        except BadJSON as exc:
            raise InputError(f"not JSON: {exc.reason}", path, number) from None
        if isinstance(value, dict):
            text, doc = value.get("prompt"), value.get("doc")
            if not isinstance(text, str) or (doc is not None and not isinstance(doc, str)):
                raise InputError("a prompt object needs a string 'prompt' (and 'doc', when given, a string)",
                                 path, number)
        elif isinstance(value, str):
            text, doc = value, None
        else:
            raise InputError("each line is a JSON string or an object with 'prompt'", path, number)
        if not text:
            raise InputError("an empty prompt", path, number)
        prompts.append((text, doc, None))
    if not prompts:
        raise InputError("holds no prompt", path)
    return prompts


def prompts_from_corpus(corpus, tokenizer, count: int, tokens: int, seed: int) -> list[Prompt]:
    """The first ``tokens`` tokens of ``count`` seeded documents of at least that many
    tokens (the documents :func:`engine.extractable.choose_windows` orders by (seed,
    document id)); the study's ``prompts/run.py`` takes the first 100 characters of
    sampled training documents instead. Fewer when fewer documents are that long."""
    from engine.extractable import choose_windows

    windows = choose_windows(lambda: iter(corpus), tokenizer, count, tokens, 0, seed, at_start=True)
    return [(tokenizer.decode(list(w.ids)), w.doc, 0) for w in windows]


def prompts_key(prompts: list[Prompt], per_prompt: int) -> str:
    """What names a set's prompts: the hash of their texts, and the outputs per prompt."""
    digest = hashlib.sha1(json.dumps([p[0] for p in prompts]).encode("utf-8")).hexdigest()
    return f"{len(prompts)} prompts sha1:{digest[:16]} x{per_prompt}"
