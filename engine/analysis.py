"""The extraction study's analyses of a scan (Yang et al.'s ``clone/``: ``memorization_trend.py``,
``correlation.py``, ``analyze.py``), read from the store.

- **Trend** (``memorization_trend.py``): memorized snippets against the number of outputs.
  The study scans chunks of 200,000 outputs and counts the distinct fingerprints of the
  union as chunks are added; byrote reads one scan of all the outputs and counts, at each
  number of outputs N (in id order, the order they were sampled), the snippets found in
  the first N outputs (outputs 1..N of a sampled set), and the outputs among them holding
  one, at every N, not only at chunk ends. Under the ``lines`` rules these are what a scan of outputs 1..N alone finds; under
  Simian's a block nested in a longer one counts from its first output even when only a
  later output's place made Simian report it (rule 10), so a count can exceed that
  scan's (the study's chunks depended on what else a chunk held in the same way).
- **Correlation** of ``train`` (how often a snippet is in the training data) and
  ``extract`` (how often it is in the outputs), over the snippets: Spearman's rho and
  Kendall's tau-b (scipy.stats, with p-values), and Pearson's r, which is what the study's
  ``correlation.py`` would compute (``np.corrcoef``) had it not exited before.
- **Lengths** (``analyze.py``): the distribution of ``len``, a snippet's lines.
"""
from __future__ import annotations

import math

import numpy as np

TREND_POINTS = 10


def scan_output_ids(store, scan: dict) -> list[int] | None:
    """The ids of a scan's outputs in order (its set's, up to its ``n_outputs``, an id
    bound); None for a scan without a set (an import of Simian logs alone)."""
    if scan["set_id"] is None:
        return None
    return store.output_ids(scan["set_id"], scan["n_outputs"])


def memorized_by(store, scan_id: int, ns: list[int]) -> list[dict]:
    """``{"outputs": N, "snippets": ..., "memorized_outputs": ...}`` for each N of ``ns``:
    the snippets found in the first N outputs in id order, and the outputs among them
    holding one (where a scan has no set, in outputs 1..N). Under Simian's rules a nested
    block that only a later output's place made Simian report counts too (the module's
    docstring, Trend)."""
    rows = store.db.execute("SELECT fingerprint, MIN(output_id) FROM snippet_outputs WHERE scan_id = ? "
                            "AND output_id IS NOT NULL GROUP BY fingerprint", [scan_id]).fetchall()
    first = np.sort(np.array([r[1] for r in rows], dtype=np.int64))
    outputs = np.sort(np.array([i for i in store.memorized_output_ids(scan_id) if i is not None], dtype=np.int64))
    ids = scan_output_ids(store, store.scan(scan_id))

    def last_id(n: int) -> float:  # the id of the N-th output, below every id for N = 0
        if ids is None:
            return n
        return ids[min(n, len(ids)) - 1] if n > 0 and ids else -math.inf

    return [{"outputs": n, "snippets": int(np.searchsorted(first, last_id(n), side="right")),
             "memorized_outputs": int(np.searchsorted(outputs, last_id(n), side="right"))} for n in ns]


def trend(store, scan_id: int, points: int = TREND_POINTS) -> list[dict]:
    """:func:`memorized_by` at ``points`` numbers of outputs evenly spaced up to the
    scan's (and N = 0)."""
    scan = store.finished_scan(scan_id)
    ids = scan_output_ids(store, scan)
    n = len(ids) if ids is not None else max((i for i in store.memorized_output_ids(scan_id) if i is not None),
                                             default=0)
    points = min(points, n)  # more would repeat steps: 1..n are all there at n points
    steps = sorted({0, *(round(n * k / points) for k in range(1, points + 1))}) if n else [0]
    return memorized_by(store, scan_id, steps)


def counts(store, scan_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, extract, len) of every snippet of the scan, in fingerprint order."""
    store.finished_scan(scan_id)
    rows = store.db.execute("SELECT train, extract, len FROM snippets WHERE scan_id = ? ORDER BY fingerprint",
                            [scan_id]).fetchall()
    arr = np.array(rows, dtype=np.float64).reshape(-1, 3)
    return arr[:, 0], arr[:, 1], arr[:, 2]


def correlation(train: np.ndarray, extract: np.ndarray) -> dict:
    """Spearman's rho, Kendall's tau-b (each with its p-value) and Pearson's r of train and
    extract counts; NaN where they are undefined (fewer than two snippets, or a constant)."""
    from scipy import stats

    result = {"snippets": int(len(train))}
    constant = len(train) < 2 or np.all(train == train[0]) or np.all(extract == extract[0])
    if constant:
        return {**result, "spearman": math.nan, "spearman_p": math.nan, "kendall": math.nan, "kendall_p": math.nan,
                "pearson": math.nan}
    rho, rho_p = stats.spearmanr(train, extract)
    tau, tau_p = stats.kendalltau(train, extract)
    return {**result, "spearman": float(rho), "spearman_p": float(rho_p), "kendall": float(tau),
            "kendall_p": float(tau_p), "pearson": float(np.corrcoef(train, extract)[0, 1])}


def length_distribution(lengths: np.ndarray) -> dict[int, int]:
    """Snippet length (lines) -> snippets, in length order."""
    values, freq = np.unique(lengths.astype(np.int64), return_counts=True)
    return {int(v): int(f) for v, f in zip(values, freq)}


def analyze(store, scan_id: int, points: int = TREND_POINTS) -> dict:
    """The three analyses of a finished scan, as plain data (JSON, CSV, the app)."""
    train, extract, lengths = counts(store, scan_id)
    return {"scan": scan_id, "trend": trend(store, scan_id, points), "correlation": correlation(train, extract),
            "lengths": length_distribution(lengths)}
