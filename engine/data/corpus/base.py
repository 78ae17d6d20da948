"""What every corpus is: shards of documents, each a stable id and its bytes, rebuilt in
any process from a JSON spec (:meth:`Corpus.from_spec`)."""
from __future__ import annotations

import abc
import codecs
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import ClassVar

from engine.errors import InputError

RECORD_SUFFIXES = (".jsonl", ".json", ".jsonl.gz", ".json.gz", ".parquet")
PROGRESS_STEP = 4 << 20  # progress is reported at least every this many bytes
_BOM = codecs.BOM_UTF8
Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class Document:
    """One document: a stable id and its bytes (None when the text cannot be UTF-8)."""

    id: str
    data: bytes | None


@dataclass(frozen=True)
class Shard:
    """A part of the corpus read in one go; ``size`` in bytes on disk when known."""

    index: int
    label: str
    size: int | None


def human_size(n: int) -> str:
    """``56.7 MB``: decimal units, one decimal."""
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError


def is_record_file(name: str) -> bool:
    return name.lower().endswith(RECORD_SUFFIXES)


class Corpus(abc.ABC):
    """Base of the corpus kinds: shards, documents, and a spec to rebuild from."""

    kind = ""
    _kinds: ClassVar[dict[str, type[Corpus]]] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        Corpus._kinds[cls.kind] = cls

    def __init__(self, spec: dict):
        self.spec = spec

    @classmethod
    def from_spec(cls, spec: dict) -> Corpus:
        """The corpus ``spec`` describes (as built by :func:`~engine.data.corpus.open_corpus`)."""
        kind = Corpus._kinds.get(spec.get("kind", "")) if isinstance(spec, dict) else None
        if kind is None:
            raise InputError(f"not a corpus spec: {spec!r:.80}")
        return kind(dict(spec))

    def __eq__(self, other):
        return isinstance(other, Corpus) and self.spec == other.spec

    def __hash__(self):
        return hash(json.dumps(self.spec, sort_keys=True))

    def __repr__(self):
        return f"Corpus({self.spec!r})"

    @abc.abstractmethod
    def shards(self) -> list[Shard]:
        """The shards, the same list in every process."""

    @abc.abstractmethod
    def documents(self, shard: Shard | int, progress: Progress | None = None) -> Iterator[Document]:
        """The documents of one shard in order; ``progress(bytes done in the shard)`` is
        called at least every :data:`PROGRESS_STEP` bytes and at the end."""

    @abc.abstractmethod
    def describe(self) -> str:
        """One line for people."""

    def __iter__(self) -> Iterator[Document]:
        for shard in self.shards():
            yield from self.documents(shard)

    @property
    def total_size(self) -> int | None:
        sizes = [s.size for s in self.shards()]
        return None if None in sizes else sum(sizes)

    def read(self, doc_id: str) -> bytes | None:
        """One document's data by id (scans the shards that may hold it)."""
        for index in self._shards_for(doc_id):
            for doc in self.documents(index):
                if doc.id == doc_id:
                    return doc.data
        raise InputError(f"no document {doc_id!r} in the corpus")

    def _shards_for(self, doc_id: str) -> list[int]:
        return [s.index for s in self.shards()]

    def _index(self, shard: Shard | int) -> int:
        index = shard.index if isinstance(shard, Shard) else shard
        count = len(self.shards())
        if not 0 <= index < count:
            raise InputError(f"no shard {index} (the corpus has {count})")
        return index


def read_document(spec: dict, doc_id: str) -> bytes | None:
    """The data of document ``doc_id`` of the corpus ``spec``: one file read for a
    directory; record files and datasets scan the shard that holds it."""
    return Corpus.from_spec(spec).read(doc_id)
