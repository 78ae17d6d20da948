"""Memorization extraction: find what a language model's outputs copy from its corpus.

Yang et al. (seeds/003, "Finding Memorization") run the clone detector Simian 2.5.10
with its defaults (threshold 6 lines, ignore character case and curly braces) between
the merged outputs and each training shard, and call a clone found on both sides
memorized. This package computes the same thing exactly, in one streaming pass:

- :mod:`.lines`      what a line is and when two lines are equal (the line key)
- :mod:`.index`      the outputs' line vocabulary and K-line windows
- :mod:`.filter`     one corpus shard → the regions that may hold a memorized span
- :mod:`.automaton`  a suffix automaton over the outputs that matches those regions
- :mod:`.scan`       the whole scan: shards in worker processes, counts, the store
"""
