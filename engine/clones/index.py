"""The outputs' side of a scan: line vocabulary, kept lines and K-line windows.

Every distinct output key gets an integer id (1, 2, ... in order of first appearance;
ignored keys map to -1). A corpus line whose key is not in the vocabulary (id 0) can
never be part of a memorized span, so the corpus side of a scan reduces to id arrays.
A *window* is K consecutive kept lines; its hash (:func:`window_hashes`) is only a
filter: a match is always confirmed on the ids themselves.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from engine.clones.linekeys import LineTable, _linekeys, interned
from engine.clones.rules import get_rules
from engine.fsutil import atomic_paths

_MULT = np.uint64(0x9E3779B97F4A7C15)


def window_hashes(ids: np.ndarray, k: int, starts: np.ndarray | None = None) -> np.ndarray:
    """A 64-bit hash of each window ``ids[p:p+k]`` (for every p, or the given starts)."""
    ids = np.asarray(ids).astype(np.uint64)
    if starts is None:
        starts = np.arange(max(len(ids) - k + 1, 0))
    h = np.zeros(len(starts), np.uint64)
    with np.errstate(over="ignore"):
        for t in range(k):
            h = h * _MULT + ids[starts + t]
        h ^= h >> np.uint64(31)
    return h


def window_hashes_of(arrays: list[np.ndarray], k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(hashes, array, start)``: :func:`window_hashes` of every window inside each of
    ``arrays`` (none spans two), with the array it lies in and where it starts there."""
    sizes = np.array([len(a) for a in arrays], np.int64)
    if len(arrays) == 0 or sizes.sum() == 0:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    counts = np.maximum(sizes - k + 1, 0)
    owner = np.repeat(np.arange(len(arrays)), counts)
    start = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    return window_hashes(np.concatenate(arrays), k, (np.cumsum(sizes) - sizes)[owner] + start), owner, start


def lookup(values: np.ndarray, sorted_set: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(at, found)``: where each value would sit in ``sorted_set`` (a sorted unique
    uint64 array), and whether it is there."""
    if len(sorted_set) == 0:
        return np.zeros(len(values), np.int64), np.zeros(len(values), bool)
    at = np.minimum(np.searchsorted(sorted_set, values), len(sorted_set) - 1)
    return at, sorted_set[at] == values


def member(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """``values[i] in sorted_set`` for each i."""
    return lookup(values, sorted_set)[1]


_SIEVE: tuple = (None, np.zeros(1, np.uint64), np.uint64(0), np.zeros(3, np.int64))


def _sieve(sorted_set: np.ndarray) -> tuple[np.ndarray, np.uint64, np.ndarray]:
    """``(bits, mask, directory)`` of a large sorted set, made once and kept: a bit per
    slot, 16 slots an element (a few MB), set at each element's slot ``value & mask``;
    and where the elements whose top b bits are i begin, for each i, then the end (about 8
    elements each, b at most 20: 8 MB)."""
    global _SIEVE
    held, bits, mask, directory = _SIEVE
    if held is not sorted_set:
        size = 1 << max(10, int(16 * max(len(sorted_set), 1) - 1).bit_length())
        mask = np.uint64(size - 1)
        bits = np.zeros(size // 64, np.uint64)
        if _linekeys is not None:  # one loop in C: numpy's bitwise_or.at takes 0.07 s for 600,000 windows
            _linekeys.sieve_bits(np.ascontiguousarray(sorted_set, np.uint64), bits)
        else:
            slots = sorted_set & mask
            np.bitwise_or.at(bits, (slots >> np.uint64(6)).astype(np.int64), np.uint64(1) << (slots & np.uint64(63)))
        b = min(20, max(1, (len(sorted_set) // 8).bit_length()))
        tops = np.arange(1 << b, dtype=np.uint64) << np.uint64(64 - b)
        directory = np.append(np.searchsorted(sorted_set, tops), len(sorted_set)).astype(np.int64)
        _SIEVE = (sorted_set, bits, mask, directory)
    return bits, mask, directory


def member_sieved(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """:func:`member` for many lookups in one large set (a filter pass and its window
    hashes): the set's sieve (:func:`_sieve`) turns most values away before the binary
    search, which then runs on the rest only."""
    bits, mask, _ = _sieve(sorted_set)
    slots = values & mask
    maybe = np.flatnonzero((bits[(slots >> np.uint64(6)).astype(np.int64)] >> (slots & np.uint64(63))) & np.uint64(1))
    found = np.zeros(len(values), bool)
    found[maybe] = member(values[maybe], sorted_set)
    return found


def window_hits(ids: np.ndarray, k: int, windows: np.ndarray, use_compiled: bool | None = None) -> np.ndarray:
    """The starts p, in order, of the windows ``ids[p:p+k]`` of K known ids (> 0) whose
    hash is in ``windows`` (sorted, unique): in the compiled kernel when it is built (one
    loop, no array per step), else with numpy; the same either way."""
    return window_hits_at(ids, k, windows, use_compiled)[0]


def window_hits_at(ids: np.ndarray, k: int, windows: np.ndarray,
                   use_compiled: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`window_hits`, and where each hit's hash stands in ``windows``."""
    ids = np.ascontiguousarray(ids, np.int64)
    if (_linekeys is not None) if use_compiled is None else use_compiled:
        bits, _, directory = _sieve(windows)
        pairs = np.frombuffer(_linekeys.window_hits(ids, k, np.ascontiguousarray(windows, np.uint64), bits, directory,
                                                    True), np.int64)
        return pairs[0::2], pairs[1::2]
    gaps = np.concatenate(([0], np.cumsum(ids <= 0)))  # unknown lines: 0 (lines), <= -3 (simian)
    starts = np.flatnonzero(gaps[k:] == gaps[:-k])  # windows of K known ids
    hashes = window_hashes(ids, k, starts)
    found = member_sieved(hashes, windows)
    return starts[found], np.searchsorted(windows, hashes[found])


def covered(hit_starts: np.ndarray, k: int, n: int) -> np.ndarray:
    """Which of n positions lie in a window starting at one of ``hit_starts``."""
    hit_starts = np.asarray(hit_starts, np.int64)
    delta = np.bincount(hit_starts, minlength=n + 1) - np.bincount(hit_starts + k, minlength=n + k + 1)[:n + 1]
    return np.cumsum(delta[:n]) > 0


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, end)`` of each run of True in a boolean array."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.view(np.int8), [0]))))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


class OutputIndex:
    """Kept lines of every output, as vocabulary ids and 1-based line numbers, under one
    rule set (:mod:`engine.clones.rules`)."""

    def __init__(self, min_lines: int, case_sensitive: bool = False, rules: str = "lines"):
        self.k = min_lines
        self.case_sensitive = case_sensitive
        self.rules = get_rules(rules)
        self.vocab: dict[bytes, int] = {}
        self.keys: list[bytes] = [b""]  # id -> key; id 0 is "not an output line"
        self.outputs: list[tuple[int, np.ndarray, np.ndarray]] = []  # (output id, ids, lines)
        self._windows: np.ndarray | None = None  # window_set(), made once
        self._window_at: np.ndarray | None = None  # window_positions(), made with it
        self._all_windows: tuple | None = None  # windows(), made once
        self._line_hashes = np.zeros(1, np.int64)  # per id, Simian's line hash (fingerprint), where made
        self._hashed = np.ones(1, bool)  # which ids have theirs
        self._columns: tuple | None = None  # columns(), made once

    def add(self, output_id: int, text: str) -> None:
        keyed = interned(text, self.rules.name, self.case_sensitive, self.vocab, self.keys)  # the kernel's keys
        self.outputs.append((output_id, *(keyed if keyed is not None else self._interned(text))))
        self._windows = self._all_windows = self._columns = None

    def _interned(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The ids and line numbers of a text's kept lines, keyed in Python; a new key
        takes the next id."""
        vocab, keys = self.vocab, self.keys
        numbers, line_keys = self.rules.line_keys(text, self.case_sensitive)
        kept = [number for number, key in zip(numbers, line_keys) if key is not None]
        present = [key for key in line_keys if key is not None]
        known = len(keys)
        ids = [vocab.setdefault(key, len(vocab) + 1) for key in present]  # a new key: the next id
        if len(vocab) + 1 > known:  # new keys took the next ids in the order they first occur
            for key, v in zip(present, ids):
                if v == len(keys):
                    keys.append(key)
        return np.array(ids, np.int64), np.array(kept, np.int64)

    def fingerprint(self, ids: list[int]) -> str:
        """The fingerprint of a span of kept lines (their ids) under the index's rules (K
        the threshold); under Simian's, from line hashes made once per key."""
        if self.rules.name != "simian":
            return self.rules.fingerprint([self.keys[v] for v in ids], self.k)
        from engine.clones.rules.simian import fingerprint_of_hashes

        return fingerprint_of_hashes(self.line_hashes(np.asarray(ids, np.int64))[ids].tolist(), self.k)

    def line_hashes(self, ids: np.ndarray) -> np.ndarray:
        """Simian's line hash per id (int64), made for ``ids`` where not made yet: a
        matching needs those of its blocks' lines, a fraction of the vocabulary, and makes
        them while a thread sorts its suffix array."""
        from engine.clones import linekeys

        if len(self._line_hashes) < len(self.keys):  # keys added since
            grown = len(self.keys) - len(self._line_hashes)
            self._line_hashes = np.concatenate((self._line_hashes, np.zeros(grown, np.int64)))
            self._hashed = np.concatenate((self._hashed, np.zeros(grown, bool)))
        need = ids[~self._hashed[ids]]
        if len(need):
            if 16 * len(need) < len(self.keys):  # a few spans: sort them, not the vocabulary
                todo = np.unique(need)
            else:
                todo = np.zeros(len(self.keys), bool)
                todo[need] = True
                todo = np.flatnonzero(todo)
            keys = self.keys
            self._line_hashes[todo] = linekeys.line_hashes([keys[v] for v in todo.tolist()])
            self._hashed[todo] = True
        return self._line_hashes

    def fingerprints(self, ids: np.ndarray, lengths: np.ndarray) -> list[str]:
        """:meth:`fingerprint` of many spans at once: their ids end to end (``ids``) and
        their ``lengths``; under Simian's rules all at once in the compiled kernel, else
        the spans of one length in one array computation
        (:func:`engine.clones.rules.simian.fingerprints_of_hashes`)."""
        lengths = np.asarray(lengths, np.int64)
        starts = np.cumsum(lengths) - lengths
        if self.rules.name != "simian":  # the spans' keys, looked up without a Python step per line
            ids, key = np.asarray(ids, np.int64), self.keys.__getitem__
            return self.rules.fingerprints((map(key, ids[a:a + n].tolist())
                                            for a, n in zip(starts.tolist(), lengths.tolist())), self.k)
        from engine.clones.linekeys import simian_fingerprints
        from engine.clones.rules.simian import fingerprints_of_hashes

        hashes = self.line_hashes(ids)
        found = simian_fingerprints(hashes[ids], lengths, self.k)
        if found is not None:
            return found
        hashes = hashes.view(np.uint64)
        out: list[str] = [""] * len(lengths)
        for n in np.unique(lengths).tolist():
            rows = np.flatnonzero(lengths == n)
            spans = hashes[ids[starts[rows][:, None] + np.arange(n)]]
            for row, fp in zip(rows.tolist(), fingerprints_of_hashes(spans, self.k)):
                out[row] = fp
        return out

    def columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every output's ids end to end, their line numbers likewise, where each output
        starts in them (``len(outputs) + 1`` offsets) and the outputs' ids (made once,
        until an output is added)."""
        if self._columns is None:
            parts = [np.zeros(0, np.int64)]
            self._columns = (np.concatenate(parts + [ids for _, ids, _ in self.outputs]),
                             np.concatenate(parts + [numbers for _, _, numbers in self.outputs]),
                             np.cumsum([0] + [len(ids) for _, ids, _ in self.outputs]),
                             np.array([output_id for output_id, _, _ in self.outputs], np.int64))
        return self._columns

    def windows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:func:`window_hashes_of` every output (made once, until an output is added):
        each window's hash, its output's position in the index and its start there."""
        if self._all_windows is None:
            self._all_windows = window_hashes_of([ids for _, ids, _ in self.outputs], self.k)
        return self._all_windows

    def window_set(self) -> np.ndarray:
        """The sorted unique hashes of every output window (made once, until an output is added)."""
        if self._windows is None:
            self._windows, self._window_at = np.unique(self.windows()[0], return_inverse=True)
        return self._windows

    def window_positions(self) -> np.ndarray:
        """Where each window of :meth:`windows` stands in :meth:`window_set`."""
        self.window_set()
        return self._window_at

    def filter_index(self) -> tuple[LineTable, np.ndarray, int, bool, str]:
        """What :func:`load_filter_index` reads back from :meth:`save`, from memory: a
        scan that filters in its own process builds it once."""
        return self.table(), self.window_set(), self.k, self.case_sensitive, self.rules.name

    def save(self, folder: Path) -> None:
        """What a filter worker needs: the vocabulary and the window hashes."""
        folder = Path(folder)
        targets = (folder / "keys.bin", folder / "windows.npy", folder / "index.json")
        with atomic_paths(*targets) as (keys, windows, meta):
            # keys never hold "\n"; Simian keys hold no NUL (a separator: never in a token)
            keys.write_bytes((b"\0" if self.rules.name == "simian" else b"\n").join(self.keys[1:]))
            with open(windows, "wb") as fh:
                np.save(fh, self.window_set())
            meta.write_text(json.dumps({"min_lines": self.k, "case_sensitive": self.case_sensitive,
                                        "rules": self.rules.name, "keys": len(self.keys) - 1}))

    def table(self) -> LineTable:
        """The vocabulary as a line-key lookup table (same ids)."""
        return LineTable(self.keys[1:], rules=self.rules.name)


def load_filter_index(folder: Path) -> tuple[LineTable, np.ndarray, int, bool, str]:
    """``(line table, window hashes, K, case_sensitive, rules)`` as saved by
    :meth:`OutputIndex.save`."""
    folder = Path(folder)
    meta = json.loads((folder / "index.json").read_text())
    rules = meta.get("rules", "lines")
    data = (folder / "keys.bin").read_bytes()
    table = LineTable(data, rules=rules, sep=b"\0" if rules == "simian" else b"\n")
    return table, np.load(folder / "windows.npy"), meta["min_lines"], meta["case_sensitive"], rules
