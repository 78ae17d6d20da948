"""engine.noise.methodname: METHOD-NAME label noise (Rabin et al. §4.1)."""
from __future__ import annotations

import json
import math
import random
from collections import Counter

import pytest

from engine.data.methodname import MethodNameSample
from engine.noise import noise_count, write_changed
from engine.noise.methodname import noise_methodname
from engine.errors import InputError


def sample(label: str, k: int) -> MethodNameSample:
    name = label.split("|")[0] + "".join(p.capitalize() for p in label.split("|")[1:])
    return MethodNameSample(name=name, label=label, contexts=[("a", f"p{k}", "b")], source=f"void {name}() {{}}",
                            lang="java", file=f"F{k}.java", line=k + 1)


SIZES = {"get|value": 8, "set|up": 4, "run": 3, "stop": 1}


def grouped(seed: int = 3) -> list[MethodNameSample]:
    labels = [lab for lab, n in SIZES.items() for _ in range(n)]
    random.Random(seed).shuffle(labels)  # interleave the groups
    return [sample(lab, k) for k, lab in enumerate(labels)]


# per group (8, 4, 3, 1): the floor of p% x size, the study's (int)(p * n)
EXPECTED = {
    0: (0, 0, 0, 0),
    25: (2, 1, 0, 0),  # 2, 1, 0.75 -> 0, 0.25 -> 0
    50: (4, 2, 1, 0),  # 4, 2, 1.5 -> 1, 0.5 -> 0: a name used once keeps its label
    75: (6, 3, 2, 0),  # 6, 3, 2.25 -> 2, 0.75 -> 0
    100: (8, 4, 3, 1),
}


@pytest.mark.parametrize("level", sorted(EXPECTED))
def test_exact_counts_per_group(level):
    samples = grouped()
    result = noise_methodname(samples, level, seed=11)
    per_group = Counter(samples[i].label for i in result.changed["relabelled"])
    assert tuple(per_group[lab] for lab in SIZES) == EXPECTED[level]
    assert tuple(noise_count(level, n, "floor") for n in SIZES.values()) == EXPECTED[level]
    assert result.counts == {"samples": 16, "labels": 4, "relabelled": sum(EXPECTED[level])}
    assert result.level == float(level) and result.seed == 11


@pytest.mark.parametrize("level", [25, 50, 100])
def test_no_relabelled_sample_keeps_its_label(level):
    samples = grouped()
    result = noise_methodname(samples, level, seed=5)
    changed = set(result.changed["relabelled"])
    for i, (old, new) in enumerate(zip(samples, result.samples)):
        if i in changed:
            assert new.label != old.label and new.label in SIZES
        else:
            assert new.label == old.label
        # only the label changes; the program is untouched, and so is the input
        assert (new.name, new.contexts, new.source, new.file, new.line) == \
               (old.name, old.contexts, old.source, old.file, old.line)
        assert new is not old
    assert [s.label for s in samples] == [s.label for s in grouped()]


def test_full_noise_changes_every_label_and_draws_from_all_others():
    labels = ["a", "b", "c", "d", "e"]
    samples = [sample(labels[k % 5], k) for k in range(2000)]
    result = noise_methodname(samples, 100, seed=0)
    assert result.counts["relabelled"] == 2000
    moves = Counter((old.label, new.label) for old, new in zip(samples, result.samples))
    assert all(a != b for a, b in moves)
    # uniform over the 4 other labels: 400 samples each, ~100 per target (sd ~ 8.7)
    assert len(moves) == 20 and all(60 < n < 140 for n in moves.values())


def test_deterministic_and_nested_across_levels():
    samples = grouped()
    a = noise_methodname(samples, 50, seed=7)
    b = noise_methodname(samples, 50, seed=7)
    assert a.changed == b.changed and [s.label for s in a.samples] == [s.label for s in b.samples]
    other = [noise_methodname(samples, 50, seed=s).changed for s in range(8, 14)]
    assert any(c != a.changed for c in other)
    low = noise_methodname(samples, 25, seed=7)
    assert set(low.changed["relabelled"]) <= set(a.changed["relabelled"])
    for i in low.changed["relabelled"]:  # same new label at both levels
        assert low.samples[i].label == a.samples[i].label


def test_level_zero_is_an_exact_copy_and_empty_input_is_fine():
    samples = grouped()
    result = noise_methodname(samples, 0, seed=1)
    assert result.changed == {"relabelled": []}
    assert result.samples == samples
    empty = noise_methodname([], 50, seed=1)
    assert empty.samples == [] and empty.counts == {"samples": 0, "labels": 0, "relabelled": 0}


def test_bad_levels_seeds_and_a_single_label():
    samples = grouped()
    for level in (-1, 100.5, math.nan, "50", True, None):
        with pytest.raises(InputError, match="between 0 and 100"):
            noise_methodname(samples, level, seed=0)
    for seed in (-1, 1.5, "3"):
        with pytest.raises(InputError, match="seed"):
            noise_methodname(samples, 50, seed=seed)
    one = [sample("equals", k) for k in range(4)]
    with pytest.raises(InputError, match="2 distinct labels"):
        noise_methodname(one, 25, seed=0)
    assert noise_methodname(one, 0, seed=0).changed == {"relabelled": []}


def test_changed_ids_are_written(tmp_path):
    result = noise_methodname(grouped(), 50, seed=2)
    path = write_changed(result, tmp_path / "train_50.jsonl.changed.json")
    data = json.loads(path.read_text())
    assert data["relabelled"] == result.changed["relabelled"] and data["level"] == 50.0
    assert data["counts"]["relabelled"] == 4 + 2 + 1 + 0
