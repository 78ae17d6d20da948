"""Line keys → ids: MB/s of the pure-Python path and of the C kernel, same run, one core
(thread CPU time, best of --repeat runs).

    python bench/linekeys.py [FOLDER] [--keys 50000] [--case-sensitive] [--repeat 3]

Reads every .py file under FOLDER (default: this interpreter's site-packages) into
memory, takes a vocabulary of distinct folded keys from the lines of a random part of
them, and times LineTable.ids over all documents on both paths (checking they agree).
"""
from __future__ import annotations

import argparse
import random
import sysconfig
import time
from pathlib import Path

import numpy as np

from engine.clones.rules.lines import IGNORED_KEYS, fold, line_keys
from engine.clones.linekeys import LineTable, compiled


def read_documents(folder: Path) -> list[bytes]:
    docs = []
    for path in sorted(folder.rglob("*.py")):
        try:
            docs.append(path.read_bytes())
        except OSError:
            pass
    return docs


def vocabulary(docs: list[bytes], size: int, case_sensitive: bool, seed: int = 0) -> list[bytes]:
    keys: dict[bytes, None] = {}
    order = list(range(len(docs)))
    random.Random(seed).shuffle(order)
    for i in order:
        folded = fold(docs[i], case_sensitive)
        if folded is None:
            continue
        for key in line_keys(folded):
            if key not in IGNORED_KEYS:
                keys[key] = None
                if len(keys) >= size:
                    return list(keys)
    return list(keys)


def timed(table: LineTable, docs: list[bytes], case_sensitive: bool, repeat: int) -> tuple[float, list]:
    """Best CPU time of this thread over ``repeat`` runs (robust on a busy machine)."""
    best, results = float("inf"), []
    for _ in range(repeat):
        t0 = time.thread_time()
        results = [table.ids(d, case_sensitive) for d in docs]
        best = min(best, time.thread_time() - t0)
    return best, results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", nargs="?", default=sysconfig.get_paths()["purelib"])
    ap.add_argument("--keys", type=int, default=50_000)
    ap.add_argument("--case-sensitive", action="store_true")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    docs = read_documents(Path(args.folder))
    size = sum(map(len, docs))
    lines = sum(d.count(b"\n") + 1 for d in docs)
    non_ascii = sum(not d.isascii() for d in docs)
    keys = vocabulary(docs, args.keys, args.case_sensitive)
    print(f"{len(docs)} documents, {size / 1e6:.1f} MB, {lines} lines, {non_ascii} not ASCII; "
          f"{len(keys)} keys; case_sensitive={args.case_sensitive}")

    python_s, want = timed(LineTable(keys, use_compiled=False), docs, args.case_sensitive, args.repeat)
    print(f"python    {python_s:7.3f} s  {size / python_s / 1e6:8.1f} MB/s")
    if not compiled:
        print("compiled  (engine.clones._linekeys is not built)")
        return
    c_s, got = timed(LineTable(keys), docs, args.case_sensitive, args.repeat)
    print(f"compiled  {c_s:7.3f} s  {size / c_s / 1e6:8.1f} MB/s  ({python_s / c_s:.1f}x)")
    same = all((a is None and b is None) or (a is not None and b is not None and np.array_equal(a, b))
               for a, b in zip(want, got))
    known = sum(int(np.count_nonzero(a > 0)) for a in got if a is not None)
    print(f"same ids on both paths: {same}; {known} lines with a known key")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
