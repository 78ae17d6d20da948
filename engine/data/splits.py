"""Train, valid and test splits by file, so that no file straddles two: with u the first 8
bytes of the SHA-256 of the file's relative path as a fraction of 2**64, a file is held
out when u < the held-out fraction (valid, then test, above it), else train. The split
of a file depends on its path alone, so a rebuild of a grown tree keeps every old split."""
from __future__ import annotations

import hashlib
from pathlib import Path

from engine.fsutil import check_output


def valid_path_for(out: str | Path) -> Path:
    """The valid-split file beside ``out``: ``X.jsonl`` -> ``X.valid.jsonl``."""
    out = check_output(out)
    return out.with_name(f"{out.stem}.valid{out.suffix or '.jsonl'}")


def is_valid_file(relpath: str, valid_fraction: float) -> bool:
    digest = hashlib.sha256(relpath.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < valid_fraction


def split_paths(out: str | Path) -> dict[str, Path]:
    """The three split files: ``X.jsonl`` (train), ``X.valid.jsonl``, ``X.test.jsonl``."""
    valid = valid_path_for(out)  # checks ``out``
    out = Path(out)
    return {"train": out, "valid": valid,
            "test": out.with_name(f"{out.stem}.test{out.suffix or '.jsonl'}")}


def split_of(relpath: str, valid_fraction: float = 0.1, test_fraction: float = 0.1) -> str:
    """``"train"``, ``"valid"`` or ``"test"`` for a file, from its relative path alone."""
    if is_valid_file(relpath, valid_fraction):
        return "valid"
    if is_valid_file(relpath, valid_fraction + test_fraction):
        return "test"
    return "train"
