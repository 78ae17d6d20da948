"""Line keys → vocabulary ids, one call per document, under either rule set.

The corpus side of a clone scan looks up the key of every line of every document
(:mod:`engine.clones.rules` defines keys). :class:`LineTable` does that in a compiled
kernel (``engine.clones._linekeys``, built at install time by setup.py where a C
compiler is present) that walks the bytes once: it cuts lines at ``\\n``, strips them, folds ASCII case
on the fly and probes an exact hash table. A line holding non-ASCII bytes in a
case-insensitive scan is handed back and folded here with ``str.lower`` (which may change
lengths and depends on context), so results are exactly those of :func:`reference_ids`.
Without the extension the pure-Python path (:func:`reference_ids`) is used. Under the
Simian rules (:meth:`LineTable.simian_ids`) the kernel tokenizes only the lines that can
be known (a sum over their token bytes is some output line's) and the neighbours a region
needs; it keys ASCII, Latin-1 and caseless characters itself and hands the lines with
other letters back to :func:`engine.clones.rules.simian.line_key`.
"""
from __future__ import annotations

from itertools import repeat
from typing import Iterable

import numpy as np

from engine.clones.rules import segments
from engine.clones.rules.lines import IGNORED_KEYS, fold

try:
    from engine.clones import _linekeys
except ImportError:  # no compiler at install time: the pure-Python path
    _linekeys = None

compiled: bool = _linekeys is not None
"""Whether the C kernel is available (and used by default)."""

DTYPE = np.int64

_M64 = (1 << 64) - 1


def _mix(h: int, w: int) -> int:
    m = (h ^ w) * 0x9E3779B97F4A7C15
    return (m & _M64) ^ (m >> 64)


def key_hash(key: bytes) -> int:
    """The kernel's 64-bit hash of a key (``hash_span`` in ``_linekeys.c``, in Python):
    its bytes as little-endian 8-byte words (a short key as one word), each mixed in by a
    folded 128-bit product, then the length and a final avalanche."""
    n = len(key)
    h = 0x243F6A8885A308D3
    if n >= 8:
        for i in range(0, n - 7, 8):
            h = _mix(h, int.from_bytes(key[i:i + 8], "little"))
        if n % 8:
            h = _mix(h, int.from_bytes(key[n - 8:], "little"))
    elif n >= 4:
        h = _mix(h, int.from_bytes(key[:4], "little") | int.from_bytes(key[n - 4:], "little") << 32)
    else:
        h = _mix(h, key[0] | key[n >> 1] << 8 | key[n - 1] << 16)
    h ^= (n * 0xD6E8FEB86659FD93) & _M64
    for multiplier in (0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53):
        h ^= h >> 33
        h = (h * multiplier) & _M64
    return h ^ (h >> 33)


def unknown_symbol(key: bytes) -> int:
    """The number a line whose key is in no output gets under the Simian rules: from the
    key's hash, at most -3 (never an id, nor -1 "ignored", -2, or 0, a document's edge), equal for
    equal keys. It lets a region carry its neighbour lines (:mod:`engine.clones.filter`)."""
    return -(key_hash(key) & ((1 << 61) - 1)) - 3


def reference_ids(data: bytes, case_sensitive: bool, vocab: dict[bytes, int]) -> np.ndarray | None:
    """The pure-Python path: ``fold``, split, strip, ``vocab.get`` (``vocab`` maps every
    ignored key to -1)."""
    folded = fold(data, case_sensitive)
    if folded is None:
        return None
    lines = folded.split(b"\n")
    return np.fromiter(map(vocab.get, map(bytes.strip, lines), repeat(0)), DTYPE, len(lines))


def simian_reference_ids(data: bytes, vocab: dict[bytes, int]) -> tuple[np.ndarray, np.ndarray | None, np.ndarray] | None:
    """The pure-Python path under the Simian rules: ``(ids, numbers, starts)`` as
    :meth:`LineTable.simian_ids` gives them."""
    from engine.clones.rules.simian import line_key

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    lines = segments(text)
    ids = np.fromiter((_simian_id(line_key(line), vocab) for _, line in lines), DTYPE, len(lines))
    numbers = np.fromiter((number for number, _ in lines), DTYPE, len(lines))
    # bytes.splitlines ends lines where Simian does (\n, \r\n, a lone \r); a last terminator
    # leaves one more, empty line
    ends = np.cumsum([len(line) for line in data.splitlines(keepends=True)], dtype=DTYPE)
    starts = np.concatenate((np.zeros(1, DTYPE), ends))[:len(lines)]
    return ids, (None if len(lines) == numbers[-1] else numbers), starts


def _simian_id(key: bytes | None, vocab: dict[bytes, int]) -> int:
    return -1 if key is None else vocab.get(key) or unknown_symbol(key)


class LineTable:
    """Exact lookup of line keys → vocabulary ids.

    ``keys[i]`` gets id ``i + 1``. Keys are expected to be distinct (a repeated key gets its
    last id, as in a dict), non-empty, free of ``\\n`` and not ``{`` or ``}``; in a
    case-insensitive scan they must already be folded (a key with an upper-case letter then
    never matches, exactly as in the pure-Python path). ``use_compiled=False`` forces the
    pure-Python path; ``None`` uses the C kernel when it is built.
    """

    def __init__(self, keys: Iterable[bytes], use_compiled: bool | None = None, rules: str = "lines",
                 sep: bytes | None = None):
        """``sep``: ``keys`` is one bytes object, the keys joined by ``sep`` (none if it is
        empty); the kernel reads them with no Python object per key."""
        if use_compiled is None:
            use_compiled = compiled
        if use_compiled and _linekeys is None:
            raise RuntimeError("engine.clones._linekeys is not built")
        if sep is not None and not use_compiled:
            keys = keys.split(sep) if keys else []
        elif sep is None:
            keys = list(keys)
        self._table = _linekeys.Table(keys, sep=sep) if use_compiled else None
        self._ignored = IGNORED_KEYS if rules == "lines" else ()  # under the Simian rules a lone brace is a line
        # the pure-Python path's dict (the kernel's table holds the keys in a few bytes each)
        self.vocab: dict[bytes, int] | None = None
        if self._table is None:
            self.vocab = {key: i for i, key in enumerate(keys, 1)}
            self.vocab.update(dict.fromkeys(self._ignored, -1))

    def find(self, keys: list[bytes]) -> np.ndarray:
        """Each key's id: 0 if it is in no output, -1 if it is an ignored key."""
        if self._table is None:
            return np.fromiter(map(self.vocab.get, keys, repeat(0)), DTYPE, len(keys))
        ids = np.frombuffer(self._table.find(keys), DTYPE)
        if self._ignored:
            ids[[i for i, key in enumerate(keys) if key in self._ignored]] = -1
        return ids

    @property
    def compiled(self) -> bool:
        """Whether this table uses the C kernel."""
        return self._table is not None

    def ids(self, data: bytes, case_sensitive: bool) -> np.ndarray | None:
        """One int64 per line of ``data`` (``data.split(b"\\n")``): the id of the line's key,
        0 if the key is unknown, -1 if the line is ignored (key ``b""``, ``b"{"`` or ``b"}"``).
        ``None`` if ``data`` is not UTF-8."""
        if self._table is None:
            return reference_ids(data, case_sensitive, self.vocab)
        found = self._table.lookup(data, case_sensitive)
        if found is None:
            return None
        ids, back, text = found
        out = np.frombuffer(ids, DTYPE)  # writable: it wraps a bytearray
        if back is not None:
            # Non-ASCII lines of a case-insensitive scan, folded here exactly, all at once:
            # str.lower sees no context across "\n", so this equals the document's fold.
            keys = text.decode("utf-8").lower().encode("utf-8").split(b"\n")
            out[np.frombuffer(back, DTYPE)] = self.find([key.strip() for key in keys])
        return out

    def simian_ids(self, data: bytes, min_run: int = 1) -> tuple[np.ndarray, np.ndarray | None, np.ndarray] | None:
        """Under the Simian rules: one int64 per line (ended by ``\\n``, ``\\r\\n`` or a lone
        ``\\r``): the id of its key, -1 if it has no token, and if it is unknown its
        :func:`unknown_symbol` (the kernel computes it only for the lines just before and
        after each run of ``min_run`` or more known lines, the neighbours a region needs, and
        leaves 0 elsewhere); each line's 1-based ``\\n``-line number (None when they are
        1, 2, 3, ...: no lone ``\\r``); and the offset of each line's first byte.
        ``None`` if ``data`` is not UTF-8."""
        if self._table is None:
            return simian_reference_ids(data, self.vocab)
        found = self._table.lookup_simian(data, min_run)
        if found is None:
            return None
        ids, numbers, starts, back, text = found
        out = np.frombuffer(ids, DTYPE)
        if back is not None:
            from engine.clones.rules.simian import line_key

            keys = [line_key(line) for line in text.decode("utf-8").split("\n")]
            found = self.find([b"" if key is None else key for key in keys])
            symbol = _linekeys.unknown_symbol  # the same number as unknown_symbol, compiled
            out[np.frombuffer(back, DTYPE)] = [-1 if key is None else v or symbol(key)
                                               for key, v in zip(keys, found.tolist())]
        return out, (None if numbers is None else np.frombuffer(numbers, DTYPE)), np.frombuffer(starts, DTYPE)


def simian_line_keys(text: str, use_compiled: bool = True) -> tuple[list[int], list[bytes | None]]:
    """The Simian key of every line of a text (None: no token) and the 1-based ``\\n``-line
    each starts in, as :meth:`engine.clones.rules.RuleSet.line_keys` gives them: the kernel
    keys the lines (``simian_keys``) and hands back those only Python lower-cases exactly;
    the pure-Python definition without it, or for a text that is not UTF-8 (a lone
    surrogate)."""
    from engine.clones.rules.simian import line_key

    found = None
    if use_compiled and _linekeys is not None:
        try:
            found = _linekeys.simian_keys(text.encode("utf-8"))
        except UnicodeEncodeError:
            found = None
    if found is None:
        lines = segments(text)
        return [number for number, _ in lines], [line_key(line) for _, line in lines]
    keys, numbers = found
    for i, key in enumerate(keys):
        if type(key) is tuple:
            keys[i] = line_key(key[0].decode("utf-8"))
    return numbers, keys


def interned(text: str, rules: str, case_sensitive: bool, vocab: dict[bytes, int],
             keys: list[bytes]) -> tuple[np.ndarray, np.ndarray] | None:
    """The ids and ``\\n``-line numbers of a text's kept lines under a rule set (``simian``:
    the lines with a token; ``lines``: the lines not ignored), each key's id from
    ``vocab`` and a new key given the next, ``len(keys)``, in ``vocab`` and appended to
    ``keys`` (as :class:`~engine.clones.index.OutputIndex` keys an output), by the
    kernel; None, with ``vocab`` and ``keys`` untouched, where the kernel is not built (or
    :data:`compiled` is off) or the text needs Python: a line that only Python folds
    exactly (:func:`simian_line_keys`, :func:`engine.clones.rules.lines.fold` then)."""
    if _linekeys is None or not compiled:
        return None
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        return None
    if rules == "simian":
        found = _linekeys.simian_intern(data, vocab, keys)  # Simian's rules are never case-sensitive
    else:
        found = _linekeys.lines_intern(data, case_sensitive, vocab, keys)
    if found is None:
        return None
    ids, numbers = found
    return np.frombuffer(ids, DTYPE).copy(), np.frombuffer(numbers, DTYPE).copy()


def line_hashes(keys: list[bytes], use_compiled: bool = True) -> np.ndarray:
    """Simian's line hash of each key (:func:`engine.clones.rules.simian.line_hash`), as
    int64: the kernel's ``ascii_line_hashes`` for the ASCII keys, Python for the rest."""
    from engine.clones.rules.simian import line_hash

    if not use_compiled or _linekeys is None:
        return np.array([line_hash(key) for key in keys], DTYPE).reshape(-1)
    hashes, others = _linekeys.ascii_line_hashes(keys)
    out = np.frombuffer(hashes, DTYPE).copy()
    for i in others:
        out[i] = line_hash(keys[i])
    return out


def simian_fingerprints(hashes: np.ndarray, lengths: np.ndarray, k: int) -> list[str] | None:
    """The kernel's fingerprints of blocks (:func:`engine.clones.rules.simian.fingerprint_of_hashes`
    of each) from their lines' hashes end to end and their lengths (K the threshold); None
    where the kernel is not built (or :data:`compiled` is set off)."""
    if _linekeys is None or not compiled:
        return None
    return _linekeys.simian_fingerprints(np.ascontiguousarray(hashes, np.int64),
                                         np.ascontiguousarray(lengths, np.int64), k)


def witnessed(rows: np.ndarray, sa: np.ndarray, lcp: np.ndarray, dense: np.ndarray, piece_of: np.ndarray,
              whole_of: np.ndarray, starts: np.ndarray, sizes: np.ndarray, weight_of: np.ndarray) -> np.ndarray | None:
    """The kernel's answer, for each lcp-interval ``(length, lb, rb)`` of ``rows``, whether
    it has a witness place (:func:`engine.clones.blocks._reported`), as booleans; None where
    the kernel is not built (or :data:`compiled` is set off)."""
    if _linekeys is None or not compiled:
        return None
    columns = [np.ascontiguousarray(a, np.int64) for a in (rows, sa, lcp, dense, piece_of)]
    tail = [np.ascontiguousarray(a, np.int64) for a in (starts, sizes, weight_of)]
    answer = _linekeys.witnessed(*columns, np.ascontiguousarray(whole_of, np.bool_), *tail)
    return np.frombuffer(answer, np.bool_)


def lcp_intervals(lcp: np.ndarray, k: int) -> np.ndarray | None:
    """The kernel's lcp-intervals (rows ``(length, lb, rb)``) of length >= k, in the order
    of :func:`engine.clones.blocks.intervals`; None where the kernel is not built (or
    :data:`compiled` is set off)."""
    if _linekeys is None or not compiled:
        return None
    rows = _linekeys.lcp_intervals(np.ascontiguousarray(lcp, np.int64), k)
    return np.frombuffer(rows, np.int64).reshape(-1, 3)


def suffix_and_lcp(text: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The kernel's suffix array (SA-IS) and lcp array (Kasai) of ``text``, dense ranks
    ending with their only 0 (as :func:`engine.clones.blocks.suffix_array` and
    :func:`~engine.clones.blocks.lcp_array` give them); None where the kernel is not built
    (or :data:`compiled` is set off)."""
    if _linekeys is None or not compiled:
        return None
    text = np.ascontiguousarray(text, np.int64)
    sa, lcp = _linekeys.suffix_array(text, int(text.max()) + 1 if len(text) else 1)
    return np.frombuffer(sa, np.int64), np.frombuffer(lcp, np.int64)
