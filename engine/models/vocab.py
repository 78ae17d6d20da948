"""Sub-token vocabulary for the VarMisuse models (Hellendoorn et al. 2020; Rabin et al.
§3.2.3 step 1): every model embeds a token as the mean of its sub-token embeddings. The
reference implementation (VHellendoorn/ICLR20-Great, data/vocabulary.py) splits tokens
with a BPE vocabulary it ships; byrote builds its vocabulary from the training set
instead, with the deterministic split of :func:`engine.data.subtokens.split_subtokens`.
"""
from __future__ import annotations

import json
from collections import Counter
from typing import Iterable

from engine.data.subtokens import subtoken_tuple

PAD, UNK = "<pad>", "<unk>"

class Vocab:
    """Sub-token <-> id; ids 0 and 1 are ``<pad>`` and ``<unk>`` (id 0 pads, id 1 is the
    unknown sub-token); a token is at most ``max_subtokens`` ids long (10 in the
    reference's config.yml, ``max_token_length``)."""

    def __init__(self, subtokens: list[str], max_subtokens: int = 10):
        if subtokens[:2] != [PAD, UNK]:
            raise ValueError("a vocabulary starts with <pad>, <unk>")
        self.itos = list(subtokens)
        self.stoi = {s: i for i, s in enumerate(self.itos)}
        self.max_subtokens = int(max_subtokens)
        self._cache: dict[str, list[int]] = {}

    @classmethod
    def build(cls, samples: Iterable, size: int, min_count: int = 1, max_subtokens: int = 10) -> "Vocab":
        """The ``size - 2`` most frequent sub-tokens of ``samples`` (ties: alphabetical),
        each seen at least ``min_count`` times, after ``<pad>`` and ``<unk>``."""
        tokens: Counter[str] = Counter()
        for sample in samples:
            tokens.update(sample.tokens)
        counts: Counter[str] = Counter()
        for token, n in tokens.items():
            for sub in subtoken_tuple(token):
                counts[sub] += n
        ranked = sorted((s for s, n in counts.items() if n >= min_count and s not in (PAD, UNK)),
                        key=lambda s: (-counts[s], s))
        return cls([PAD, UNK] + ranked[: max(0, int(size) - 2)], max_subtokens)

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, token: str) -> list[int]:
        """At most ``max_subtokens`` ids, never empty, never 0."""
        ids = self._cache.get(token)
        if ids is None:
            ids = [self.stoi.get(s, 1) for s in subtoken_tuple(token)[: self.max_subtokens]]
            self._cache[token] = ids
        return ids

    def to_json(self) -> str:
        return json.dumps({"max_subtokens": self.max_subtokens, "subtokens": self.itos})

    @classmethod
    def from_json(cls, data: str | dict) -> "Vocab":
        if isinstance(data, str):
            data = json.loads(data)
        return cls(list(data["subtokens"]), int(data["max_subtokens"]))
