"""A Hugging Face dataset streamed through ``datasets`` (imported only when one is opened):
one shard per ``IterableDataset.n_shards``, id ``<shard>:<row>``."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.data.corpus.base import PROGRESS_STEP, Corpus, Document, Progress, Shard
from engine.errors import InputError


_NETWORK_ERRORS = {"ConnectionError", "OfflineModeIsEnabled", "LocalEntryNotFoundError", "ConnectError",
                   "ConnectTimeout", "Timeout", "TimeoutException", "TimeoutError"}


def _load_dataset(name: str, config: str | None, split: str):
    """``datasets.load_dataset(..., streaming=True)``; a failure is one InputError line."""
    import datasets
    import huggingface_hub

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    huggingface_hub.utils.logging.set_verbosity_error()  # no "Retrying in 8s" lines: one line at the end
    try:
        if not hub_reachable():  # no network: the local cache only, at once, not after minutes of retries
            with offline():
                return datasets.load_dataset(name, config, split=split, streaming=True)
        return datasets.load_dataset(name, config, split=split, streaming=True)
    except Exception as exc:  # noqa: BLE001  (datasets raises many kinds)
        lines = str(exc).strip().splitlines()
        reason = lines[0] if lines else type(exc).__name__
        names = {t.__name__ for t in type(exc).__mro__}
        network = bool(names & _NETWORK_ERRORS) or "offline" in reason.lower() or "couldn't reach" in reason.lower()
        hint = "; downloads need network access" if network else ""
        raise InputError(f"cannot load dataset {name!r}: {reason}{hint}") from None


HUB = ("huggingface.co", 443)


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face Hub answers a TCP connection within ``timeout`` seconds
    (False at once when the user asked for offline mode)."""
    import os
    import socket

    if os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}:
        return False
    try:
        with socket.create_connection(HUB, timeout=timeout):
            return True
    except OSError:
        return False


@contextmanager
def offline() -> Iterator[None]:
    """Hugging Face libraries in offline mode for the block (their constants are read at
    import, so both the environment and the loaded constants are set, then restored)."""
    import os

    import datasets.config as dconf
    import huggingface_hub.constants as hconst

    saved = (os.environ.get("HF_HUB_OFFLINE"), hconst.HF_HUB_OFFLINE, dconf.HF_HUB_OFFLINE)
    os.environ["HF_HUB_OFFLINE"] = "1"
    hconst.HF_HUB_OFFLINE = dconf.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        if saved[0] is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = saved[0]
        hconst.HF_HUB_OFFLINE, dconf.HF_HUB_OFFLINE = saved[1], saved[2]


class HFDataset(Corpus):
    """A streamed Hugging Face dataset: ``{"kind": "hf", "name", "config", "split",
    "text_field", "n_shards"}``."""

    kind = "hf"

    def __init__(self, spec: dict, dataset=None):
        super().__init__(spec)
        self._ds = dataset
        self._field = spec.get("text_field", "content")

    def __getstate__(self):
        return {**self.__dict__, "_ds": None}

    def dataset(self):
        """The ``datasets.IterableDataset`` (loaded once per process)."""
        if self._ds is None:
            self._ds = _load_dataset(self.spec["name"], self.spec.get("config"), self.spec.get("split", "train"))
        return self._ds

    def shards(self) -> list[Shard]:
        n = self.spec["n_shards"]
        return [Shard(i, f"shard {i + 1}/{n}", None) for i in range(n)]

    def documents(self, shard: Shard | int, progress: Progress | None = None) -> Iterator[Document]:
        index = self._index(shard)
        ds = self.dataset()
        if ds.n_shards != self.spec["n_shards"]:
            raise InputError(f"dataset {self.spec['name']!r} now has {ds.n_shards} shards, "
                             f"not {self.spec['n_shards']} as when the corpus was opened")
        field, name = self._field, self.spec["name"]
        rows = iter(ds.shard(num_shards=ds.n_shards, index=index, contiguous=True))
        done = reported = row = 0
        while True:
            try:
                record = next(rows)
            except StopIteration:
                break
            except Exception as exc:  # noqa: BLE001  (a download or parse failure in datasets)
                lines = str(exc).strip().splitlines()
                raise InputError(f"cannot read dataset {name!r} shard {index} after row {row}: "
                                 f"{lines[0] if lines else type(exc).__name__}") from None
            row += 1
            text = record.get(field)
            if type(text) is not str:
                if field not in record:
                    raise InputError(f"dataset {name!r} row {index}:{row}: no field {field!r} "
                                     f"(fields: {', '.join(record)})", field="text_field")
                raise InputError(f"dataset {name!r} row {index}:{row}: field {field!r} is not a string "
                                 f"but {type(text).__name__}", field="text_field")
            try:
                data = text.encode()
            except UnicodeEncodeError:
                data = None
            yield Document(f"{index}:{row}", data)
            if progress is not None and data is not None:
                done += len(data)
                if done - reported >= PROGRESS_STEP:
                    progress(done)
                    reported = done
        if progress is not None:
            progress(done)

    def _shards_for(self, doc_id: str) -> list[int]:
        shard = doc_id.partition(":")[0]
        return [int(shard)] if shard.isdigit() and int(shard) < self.spec["n_shards"] else []

    def describe(self) -> str:
        spec = self.spec
        config = f", config {spec['config']}" if spec.get("config") else ""
        return (f"Hugging Face dataset {spec['name']}{config} (split {spec.get('split', 'train')}, "
                f"{spec['n_shards']:,} shards, field {self._field!r})")


def open_hf(target: str, text_field: str, split: str) -> HFDataset:
    name, _, config = target.partition(":")
    if not name:
        raise InputError("no dataset name after hf:")
    if Path(name).exists():
        name = str(Path(name).absolute())
    ds = _load_dataset(name, config or None, split)
    features = list(ds.features) if ds.features is not None else None
    if features is None:  # unknown until read: look at the first record
        first = next(iter(ds), None)
        features = None if first is None else list(first)
    if features is not None and text_field not in features:
        raise InputError(f"dataset {name!r} has no field {text_field!r} (features: {', '.join(features)})",
                         field="text_field")
    spec = {"kind": "hf", "name": name, "config": config or None, "split": split,
            "text_field": text_field, "n_shards": ds.n_shards}
    return HFDataset(spec, ds)
