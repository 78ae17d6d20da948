"""Memorization extraction (Yang et al., seeds/003, "Finding Memorization"): find what a
language model's outputs copy from its corpus. The study runs the clone detector Simian
2.5.10 with its defaults (threshold 6 lines, ignore character case and curly braces)
between the merged outputs and each training shard, and calls a clone found on both
sides memorized. This package computes the same thing exactly, in one streaming pass:

- :mod:`.lines`      what a line is and when two lines are equal (the line key)
- :mod:`.linekeys`   line keys → vocabulary ids, one compiled call per document
- :mod:`.index`      the outputs' line vocabulary and K-line windows
- :mod:`.filter`     one corpus shard → the regions that may hold a memorized span
- :mod:`.automaton`  a suffix automaton over the outputs that matches those regions
- :mod:`.memorized`  regions → memorized snippets, with their counts on both sides
- :mod:`.scan`       the whole scan: shards in worker processes, counts, the store
"""
