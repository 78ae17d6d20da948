"""The extraction study's analyses of a scan (Yang et al.'s ``clone/``: ``memorization_trend.py``,
``correlation.py``, ``analyze.py``), read from the store.

- **Trend** (``memorization_trend.py``): memorized snippets against the number of outputs.
  The study scans chunks of 200,000 outputs and counts the distinct fingerprints of the
  union as chunks are added; byrote reads one scan of all the outputs and counts, at each
  number of outputs N (in id order, the order they were sampled), the snippets found in
  the first N outputs (outputs 1..N of a sampled set), and the outputs among them holding
  one, at every N, not only at chunk ends. Under the ``lines`` rules these are what a
  scan of outputs 1..N alone finds; under Simian's a block nested in a longer one counts
  from its first output even when only a later output's place made Simian report it
  (rule 10), so a count can exceed that scan's (the study's chunks depended on what else
  a chunk held in the same way).
- **Correlation** of ``train`` (how often a snippet is in the training data) and
  ``extract`` (how often it is in the outputs), over the snippets: Spearman's rho and
  Kendall's tau-b (scipy.stats, with p-values), and Pearson's r, which is what the study's
  ``correlation.py`` would compute (``np.corrcoef``) had it not exited before.
- **Lengths** (``analyze.py``): the distribution of ``len``, a snippet's lines.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

TREND_POINTS = 10


@dataclass
class OutputOrder:
    """A scan's outputs in id order, to find the N-th: ``count`` of them, with the ids
    ``first``, ``first`` + 1, ... (a sampled set's 1..N), or ``ids`` where they are not
    contiguous (an imported set's)."""

    count: int
    first: int = 1
    ids: list[int] | None = None

    def last_id(self, n: int) -> float:
        """The id of the N-th output; below every id for N = 0; the last one past the count."""
        if n <= 0 or self.count == 0:
            return -math.inf
        n = min(n, self.count)
        return self.first + n - 1 if self.ids is None else self.ids[n - 1]


def output_order(store, scan: dict) -> OutputOrder:
    """The order of a scan's outputs: its set's, up to its ``n_outputs`` (an id bound); for
    a scan without a set (an import of Simian logs alone), 1..N up to the largest id found."""
    if scan["set_id"] is None:
        return OutputOrder(max((i for i in store.memorized_output_ids(scan["id"]) if i is not None), default=0))
    count = scan["stats"].get("outputs")  # what the scan indexed (a scan of an older byrote: counted here)
    if count is None:
        count = store.output_count(scan["set_id"], scan["n_outputs"])
    low, high = store.output_span(scan["set_id"], scan["n_outputs"])
    if count == 0 or high - low + 1 == count:
        return OutputOrder(count, low or 1)
    return OutputOrder(count, ids=store.output_ids(scan["set_id"], scan["n_outputs"]))


def memorized_by(store, scan_id: int, ns: list[int], order: OutputOrder | None = None) -> list[dict]:
    """``{"outputs": N, "snippets": ..., "memorized_outputs": ...}`` for each N of ``ns``:
    the snippets found in the first N outputs in id order (``order``: read here if not
    given), and the outputs among them holding one. Under Simian's rules a nested block
    that only a later output's place made Simian report counts too (the module's
    docstring, Trend)."""
    rows = store.db.execute("SELECT fingerprint, MIN(output_id) FROM snippet_outputs WHERE scan_id = ? "
                            "AND output_id IS NOT NULL GROUP BY fingerprint", [scan_id]).fetchall()
    first = np.sort(np.array([r[1] for r in rows], dtype=np.int64))
    outputs = np.sort(np.array([i for i in store.memorized_output_ids(scan_id) if i is not None], dtype=np.int64))
    order = order or output_order(store, store.scan(scan_id))
    return [{"outputs": n, "snippets": int(np.searchsorted(first, order.last_id(n), side="right")),
             "memorized_outputs": int(np.searchsorted(outputs, order.last_id(n), side="right"))} for n in ns]


def trend(store, scan_id: int, points: int = TREND_POINTS, order: OutputOrder | None = None) -> list[dict]:
    """:func:`memorized_by` at ``points`` numbers of outputs evenly spaced up to the
    scan's (and N = 0)."""
    scan = store.finished_scan(scan_id)
    order = order or output_order(store, scan)
    n = order.count
    points = min(points, n)  # more would repeat steps: 1..n are all there at n points
    steps = sorted({0, *(round(n * k / points) for k in range(1, points + 1))}) if n else [0]
    return memorized_by(store, scan_id, steps, order)


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


def figure(value: float | None, p: float | None = None) -> str:
    """A figure to 3 decimals (with its p-value), or "-" where it is undefined (NaN)."""
    if value is None or math.isnan(value):
        return "-"
    return f"{value:.3f}" + ("" if p is None or math.isnan(p) else f" (p {p:.2g})")


def correlation_line(scan_id: int, c: dict) -> str:
    """The correlations of :func:`analyze` in one line, as the command and the app show
    them; an undefined one (every train count alike) as '-'."""
    return (f"scan {scan_id}: {c['snippets']:,} snippets · train against extract: Spearman rho "
            f"{figure(c['spearman'], c['spearman_p'])}, Kendall tau-b {figure(c['kendall'], c['kendall_p'])}, "
            f"Pearson r {figure(c['pearson'])}")
