"""Label noise for VarMisuse (Rabin et al., seeds/001_*.txt, §4.1).

:func:`noise_varmisuse` copies a GREAT training set with a given share of buggy samples
relabelled bug-free and of bug-free samples made buggy, after the paper and the upstream
generator (AftabHussain/noise-gen_great-varmisuse); its docstring holds the definition.
"""
from __future__ import annotations

import numpy as np

from engine.data.varmisuse import VarMisuseSample
from engine.errors import InputError
from engine.noise import NoiseResult, check_level, check_seed, noise_count, smallest

MAX_REPAIR_TARGETS = 3


def _positions(sample: VarMisuseSample) -> list[int]:
    """Distinct integer candidate positions > 0, ascending (the variable uses)."""
    return sorted({
        int(c) for c in sample.repair_candidates
        if (type(c) is int or isinstance(c, np.integer)) and c > 0
    })


def _copy(s: VarMisuseSample) -> VarMisuseSample:
    """A new sample with its own label fields and ``raw`` dict.

    ``tokens``, ``edges`` and ``repair_candidates`` are shared with the input, not copied:
    noise never changes them, and copying them would double the memory of a 1.8M-sample
    training set. Treat them as read-only.
    """
    return VarMisuseSample(
        tokens=s.tokens,
        edges=s.edges,
        has_bug=s.has_bug,
        error_location=s.error_location,
        repair_targets=list(s.repair_targets),
        repair_candidates=s.repair_candidates,
        raw=dict(s.raw),
    )


def _relabel(out: VarMisuseSample, has_bug: bool, location: int, targets: list[int]) -> VarMisuseSample:
    """Set the label fields of ``out`` (a copy made by :func:`_copy`) and of its raw record."""
    out.has_bug = has_bug
    out.error_location = location
    out.repair_targets = targets
    out.raw.update(
        has_bug=has_bug,
        bug_kind=1 if has_bug else 0,
        bug_kind_name="VARIABLE_MISUSE" if has_bug else "NONE",
        error_location=location,
        repair_targets=list(targets),
    )
    return out


def noise_varmisuse(samples: list[VarMisuseSample], level: float, seed: int) -> NoiseResult:
    """Copy ``samples`` with ``level`` % VarMisuse label noise (Rabin et al. §4.1).

    The paper: "noise is added to the same percentage of (randomly selected) buggy samples
    and correct samples in the training set. We add noise to a buggy sample, by simply
    labeling it correct. Conversely, a correct sample is changed to buggy by labeling it as
    such and assigning both a random location as the error location and a set of randomly
    chosen variable uses as repair targets."

    byrote's definition, for a noise level p in [0, 100] percent, n_buggy buggy and
    n_clean bug-free samples:

    - Counts: exactly k_b = floor(p/100 * n_buggy + 1/2) buggy samples become bug-free and
      exactly k_c = floor(p/100 * n_clean + 1/2) bug-free samples become buggy. This is
      round-half-up (10 % of 5 = 0.5 -> 1, 12.5 -> 13), not Python's round(), which rounds
      half to even. The product is computed exactly on the decimal value of ``level`` as
      written (``repr(float(level))``), so no binary rounding moves a count across a half.
    - Buggy -> bug-free: has_bug False, bug_kind 0, bug_kind_name "NONE", error_location 0,
      repair_targets [] (as the upstream generator, AftabHussain/noise-gen_great-varmisuse).
    - Bug-free -> buggy: has_bug True, bug_kind 1, bug_kind_name "VARIABLE_MISUSE"; the
      error location is drawn uniformly from the sample's variable-use positions (its
      distinct integer ``repair_candidates``, position 0 excluded since 0 means "no bug"),
      and the repair targets are min(3, m - 1) further distinct positions of the m, drawn
      uniformly without replacement (never the error location), stored sorted. Unlike the
      upstream generator (which is seeded with the time and may pick the error location as
      a target when there are fewer than 4 candidates), targets never overlap the location.
    - Eligibility: a bug-free sample with fewer than 2 such positions cannot be made buggy;
      the k_c samples are drawn among the eligible ones only, and if fewer than k_c are
      eligible :class:`~engine.errors.InputError` says how many were needed and available.
    - Everything else (tokens, edges, candidates, the raw record's other fields) is kept.

    Randomness: ``numpy.random.Generator(PCG64(seed))``, read only through its bit
    generator's raw 64-bit output (``random_raw``), whose stream NumPy keeps fixed across
    versions and platforms (unlike the Generator's sampling methods, whose algorithms may
    change). Draw order, fixed and independent of dict ordering:

    1. one raw key per buggy sample, in ascending sample index;
    2. one raw key per eligible bug-free sample, in ascending sample index;
    3. for each eligible bug-free sample in ascending sample index, one raw key per
       distinct candidate position in ascending position order.

    The k_b buggy samples with the smallest (key, index) are flipped, likewise the k_c
    eligible bug-free samples; a flipped bug-free sample ranks its positions by (key,
    position): the first is the error location, the next min(3, m - 1) the repair targets.
    All keys are drawn whatever the level, so for one seed the flipped sets are nested
    across levels (the 25 % set lies inside the 50 % set) and a sample flipped at two
    levels gets the same location and targets at both.

    Deterministic for a given ``seed`` (same input, level and seed give the same result on
    every run and platform). Level 0 returns an exact copy; level 100 flips every buggy
    and every bug-free sample (InputError if some bug-free sample is not eligible).

    Only training data is ever noised: held-out / validation data keeps its labels (§4.1,
    §5.1: "the absence of noise in the validation data"). That is the caller's job: pass
    only the training split here.

    Sample ids in :attr:`NoiseResult.changed` are 0-based indices into the input list,
    i.e. the 0-based line number in a GREAT JSON-lines file.
    """
    lv = check_level(level)
    sd = check_seed(seed)

    buggy = [i for i, s in enumerate(samples) if s.has_bug]
    clean = [i for i, s in enumerate(samples) if not s.has_bug]
    positions = {i: _positions(samples[i]) for i in clean}
    eligible = [i for i in clean if len(positions[i]) >= 2]
    k_b = noise_count(lv, len(buggy))
    k_c = noise_count(lv, len(clean))
    if k_c > len(eligible):
        raise InputError(
            f"{lv:g}% noise needs {k_c} bug-free samples with at least 2 variable uses to make "
            f"buggy, but only {len(eligible)} of {len(clean)} are eligible"
        )

    bits = np.random.Generator(np.random.PCG64(sd)).bit_generator
    keys_b = np.asarray(bits.random_raw(len(buggy)), dtype=np.uint64)
    keys_c = np.asarray(bits.random_raw(len(eligible)), dtype=np.uint64)
    sizes = [len(positions[i]) for i in eligible]
    keys_p = np.asarray(bits.random_raw(int(sum(sizes))), dtype=np.uint64)
    offsets = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]) if sizes else np.zeros(1, np.int64)

    to_clean = sorted(buggy[j] for j in smallest(keys_b, k_b))
    picked = sorted(int(j) for j in smallest(keys_c, k_c))  # indices into `eligible`

    out = [_copy(s) for s in samples]
    for i in to_clean:
        _relabel(out[i], False, 0, [])
    to_buggy = []
    for j in picked:
        i = eligible[j]
        pos = positions[i]
        keys = keys_p[offsets[j]:offsets[j + 1]].tolist()
        ranked = [p for _, p in sorted(zip(keys, pos))]  # by (key, position)
        location = ranked[0]
        targets = sorted(ranked[1:1 + min(MAX_REPAIR_TARGETS, len(pos) - 1)])
        _relabel(out[i], True, location, targets)
        to_buggy.append(i)

    return NoiseResult(
        samples=out,
        changed={"buggy_to_clean": to_clean, "clean_to_buggy": sorted(to_buggy)},
        level=lv,
        seed=sd,
        counts={
            "buggy": len(buggy),
            "clean": len(clean),
            "eligible_clean": len(eligible),
            "buggy_to_clean": len(to_clean),
            "clean_to_buggy": len(to_buggy),
        },
    )
