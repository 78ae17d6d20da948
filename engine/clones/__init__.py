"""Memorization extraction (Yang et al., seeds/003, "Finding Memorization"): find what a
language model's outputs copy from its corpus. The study runs the clone detector Simian
2.5.10 with its defaults on files without an extension (its plain-text mode) between the
merged outputs and each training shard, and calls a block found on both sides memorized.
This package computes that exactly, in one streaming pass, under either rule set:

- :mod:`.rules`      the rule sets: ``simian`` (the study's, default) and ``lines``
                     (byrote's own): line keys, ignored lines, fingerprints
- :mod:`.linekeys`   line keys → vocabulary ids, one compiled call per document
- :mod:`.index`      the outputs' line vocabulary and K-line windows
- :mod:`.filter`     one corpus shard → the regions that may hold a memorized span
- :mod:`.blocks`     ``simian``: Simian's blocks, from a suffix array of the regions
- :mod:`.automaton`  ``lines``: a suffix automaton over the outputs that matches regions
                     (compiled in ``_automaton.c``, with a Python fallback)
- :mod:`.memorized`  ``lines``: regions → maximal memorized spans, counted on both sides
- :mod:`.scan`       the whole scan: shards in worker processes, counts, the store
"""
