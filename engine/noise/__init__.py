"""Label noise of the noise study (Rabin et al. §4.1): what the two tasks share.

One module per task (:mod:`~engine.noise.varmisuse`, :mod:`~engine.noise.methodname`);
here the noise level (its checks, parsing and rounding), the seeded key order, the result
type, and the ``.changed.json`` record of which samples changed. Only training data is
ever noised (§4.1, §5.1): the held-out set keeps its labels.
"""
from __future__ import annotations

import json
import math
import numbers
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import InputError
from engine.fsutil import atomic_open, atomic_paths


@dataclass
class NoiseResult:
    """A noisy copy: ``samples`` (a new list; the inputs are untouched) and what changed.

    ``changed`` maps a kind of change (``buggy_to_clean``, ``clean_to_buggy``,
    ``relabelled``) to a sorted list of 0-based sample indices; ``counts`` says how many
    samples of each kind there were and how many changed.
    """

    samples: list[Any]
    changed: dict[str, list[int]]
    level: float
    seed: int
    counts: dict[str, int] = field(default_factory=dict)


def check_level(level, as_written: str | None = None) -> float:
    """A noise level in percent, 0 to 100 (nan, booleans and non-numbers refused)."""
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not 0.0 <= float(level) <= 100.0:
        if as_written is not None:
            raise InputError(f"noise level {as_written} is outside 0-100")
        raise InputError("noise level must be between 0 and 100")
    return float(level) + 0.0  # -0 -> 0


def check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or int(seed) < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def parse_levels(text: str) -> list[float]:
    """``"0,25,50"`` -> ``[0.0, 25.0, 50.0]``; each level must lie in 0..100."""
    levels = []
    for part in str(text).split(","):
        part = part.strip()
        try:
            value = float(part)
        except ValueError:
            raise InputError(f"noise level {part!r} is not a number") from None
        levels.append(check_level(value, part))
    if not levels:
        raise InputError("no noise level given")
    if len(set(levels)) != len(levels):
        raise InputError("a noise level is given twice")
    named: dict[str, float] = {}
    for level in levels:  # each names its copy, its curve and its column
        name = level_name(level)
        if named.setdefault(name, level) != level:
            raise InputError(f"noise levels {named[name]!r} and {level!r} would both be named {name}%: give levels "
                             "that differ in their first 6 digits")
    return levels


def level_name(level: float) -> str:
    """25.0 -> '25', 12.5 -> '12.5' (for file names and CSV columns)."""
    return f"{level:g}"


def noise_count(level: float, n: int, rounding: str = "half_up") -> int:
    """How many of n samples ``level`` % noise changes, exact on the decimal ``level``:
    ``half_up``, floor(level/100 * n + 1/2) (10 % of 5 = 0.5 -> 1, where Python's round()
    would give 0); ``floor``, floor(level/100 * n), Java's ``(int)(p * n)`` as the study's
    method-name noise generator counts (10 % of 5 -> 0)."""
    exact = Fraction(repr(float(level))) * n / 100
    if rounding == "floor":
        return math.floor(exact)
    if rounding != "half_up":
        raise ValueError(f"unknown rounding {rounding!r}")
    return math.floor(exact + Fraction(1, 2))


def most_frequent(tokens: list[str]) -> str:
    """The most frequent token; a tie goes to the one that occurs first. (This is how the
    study's code-search input noise breaks ties, ``max`` over a ``Counter``; its VarMisuse
    noise's ``max(set(tokens), key=tokens.count)`` breaks them by set order, which changes
    from run to run with Python's string hashing.)"""
    counts = Counter(tokens)
    best = max(counts.values())
    return next(t for t in tokens if counts[t] == best)


def smallest(keys: np.ndarray, k: int) -> np.ndarray:
    """Indices (into ``keys``) of the k smallest keys, ties broken by index."""
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((np.arange(keys.size), keys))
    return order[:k]


def changed_record(result: NoiseResult) -> dict:
    """The JSON object of a ``.changed.json`` file: level, seed, the id lists, counts."""
    return {"level": result.level, "seed": result.seed, **result.changed, "counts": dict(result.counts)}


def write_changed(result: NoiseResult, path: str | Path) -> Path:
    """Write the changed ids of ``result`` as JSON to ``path``, atomically."""
    path = Path(path)
    with atomic_open(path, "w", encoding="utf-8") as fh:
        json.dump(changed_record(result), fh)
        fh.write("\n")
    return path


def changed_path(out: str | Path) -> Path:
    """Where the changed ids of a noisy copy written to ``out`` go: ``<out>.changed.json``."""
    out = Path(out)
    return out.with_name(out.name + ".changed.json")


def write_noisy_copy(spec, result: NoiseResult, out: str | Path) -> Path:
    """Write a noise result's samples to ``out`` in the task ``spec``'s format and its
    changed ids to ``<out>.changed.json``, both or neither; return the latter."""
    from engine.fsutil import check_output

    out = check_output(out)
    changed = changed_path(out)
    with atomic_paths(out, changed) as (data_tmp, changed_tmp):
        spec.write(result.samples, str(data_tmp))
        write_changed(result, changed_tmp)
    return changed


def noisy_copy(task: str, source: str | Path, out: str | Path, level: float, seed: int,
               kind: str = "label") -> tuple[NoiseResult, Path]:
    """``byrote noise``: read ``source``, noise it at ``level`` % (label noise, or the input
    noise ``kind``: :mod:`engine.noise.input`), and write the copy to ``out`` in the input's
    format; the result and the changed-ids file."""
    from engine.fsutil import check_output, require_file
    from engine.noise.input import apply_noise, check_kind
    from engine.tasks import get_task

    spec = get_task(task)
    check_kind(task, kind)
    source = str(require_file(source))
    check_output(out, inputs=(source,))
    check_output(changed_path(out), inputs=(source,))
    if spec.format_of(source) != spec.format_of(str(out)):
        raise InputError(f"the noisy copy keeps the input's format: {source} is {spec.format_of(source)}, "
                         f"{out} would be {spec.format_of(str(out))}")
    result = apply_noise(spec, spec.read(source), level, seed, kind)
    return result, write_noisy_copy(spec, result, out)
