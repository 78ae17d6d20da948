"""The variable-misuse sample (GREAT format, Hellendoorn et al. 2020; Rabin et al. §3.2):
:class:`VarMisuseSample`, one top-level function as a token sequence plus its labels, and
the edge types of the reference implementation (VHellendoorn/ICLR20-Great). Its file
format is :mod:`engine.formats.great`.
"""
from __future__ import annotations

from dataclasses import dataclass, field


# Edge types of the reference implementation (VHellendoorn/ICLR20-Great,
# data/data_loader.py), in its order; the models number them 0..10 in this order.
EDGE_TYPES: tuple[str, ...] = (
    "enum_CFG_NEXT",
    "enum_LAST_READ",
    "enum_LAST_WRITE",
    "enum_COMPUTED_FROM",
    "enum_RETURNS_TO",
    "enum_FORMAL_ARG_NAME",
    "enum_FIELD",
    "enum_SYNTAX",
    "enum_NEXT_SYNTAX",
    "enum_LAST_LEXICAL_USE",
    "enum_CALLS",
)
NUM_EDGE_TYPES = 2 * len(EDGE_TYPES)  # the models' edge ids: forward 0..10, reverse 11..21

# Numeric ids the upstream data carries as the third element of an edge (observed in
# the published shards; see shared/reference/great/EDGE_TYPES.txt).
UPSTREAM_EDGE_IDS: dict[str, int] = {
    "enum_CFG_NEXT": 1,
    "enum_LAST_READ": 2,
    "enum_LAST_WRITE": 3,
    "enum_COMPUTED_FROM": 4,
    "enum_FIELD": 7,
    "enum_NEXT_SYNTAX": 9,
    "enum_LAST_LEXICAL_USE": 10,
}

NEWLINE, INDENT, UNINDENT = "#NEWLINE#", "#INDENT#", "#UNINDENT#"


@dataclass
class VarMisuseSample:
    """One top-level function as a token sequence (``tokens``), plus its labels:

    - ``has_bug``: whether one variable use was replaced by another variable in scope;
    - ``error_location``: the token position of the misused variable, or 0 ("no bug");
    - ``repair_targets``: the positions where the correct variable occurs (empty if no
      bug);
    - ``repair_candidates``: the positions of every variable occurrence (the pointer
      domain of the repair head). Upstream files mix in variable-name strings on bug-free
      lines; only the integer positions are kept here, the raw record keeps everything.
    - ``edges``: ``(src, dst, type_name)`` with ``type_name`` as in the data, e.g.
      ``"enum_NEXT_SYNTAX"``.

    ``raw`` holds the record as read, so that writing a sample back changes only the
    fields that were changed.
    """
    tokens: list[str]
    edges: list[tuple[int, int, str]]
    has_bug: bool
    error_location: int
    repair_targets: list[int]
    repair_candidates: list[int]
    raw: dict = field(default_factory=dict, repr=False)

    def to_record(self) -> dict:
        """The GREAT JSON record: ``raw`` with the label fields of this sample."""
        rec = dict(self.raw)
        rec["has_bug"] = bool(self.has_bug)
        rec["bug_kind"] = 1 if self.has_bug else 0
        rec["bug_kind_name"] = "VARIABLE_MISUSE" if self.has_bug else "NONE"
        rec["source_tokens"] = list(self.tokens)
        rec["error_location"] = int(self.error_location)
        rec["repair_targets"] = [int(t) for t in self.repair_targets]
        if "repair_candidates" not in rec:
            rec["repair_candidates"] = [int(c) for c in self.repair_candidates]
        if "edges" not in rec:
            rec["edges"] = [
                [s, d, UPSTREAM_EDGE_IDS.get(t, EDGE_TYPES.index(t) + 1 if t in EDGE_TYPES else 0), t]
                for s, d, t in self.edges
            ]
        rec.setdefault("provenances", [])
        return rec
