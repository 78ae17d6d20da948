"""Rule sets of a clone scan: what a line is, when two lines are equal, which lines are
ignored, and a snippet's fingerprint. Each is defined in a module of its own:

- ``simian`` (:mod:`.simian`, the default): Simian 2.5.10's plain-text mode, as Yang et
  al. ran it on files without an extension (tests/data/simian/rules/README.md): lines
  compared token by token, case folded, lines without a token ignored; Simian's blocks
  and fingerprints.
- ``lines`` (:mod:`.lines`): byrote's own earlier definition: a line is its stripped
  text, case folded, empty and lone-brace lines ignored; maximal memorized spans.

Both are served by the same compiled kernel (:mod:`engine.clones.linekeys`).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from engine.errors import InputError

RULES = ("simian", "lines")
DEFAULT_RULES = "simian"


@dataclass(frozen=True)
class RuleSet:
    name: str

    def line_keys(self, text: str, case_sensitive: bool = False) -> tuple[list[int], list[bytes | None]]:
        """The 1-based ``\\n``-line number and the key (None: ignored) of every line of a
        text, the lines as the rule set cuts them."""
        if self.name == "lines":
            from engine.clones.rules.lines import IGNORED_KEYS, fold, line_keys

            keys = line_keys(fold(text.encode("utf-8"), case_sensitive))
            return list(range(1, len(keys) + 1)), [None if k in IGNORED_KEYS else k for k in keys]
        from engine.clones.linekeys import simian_line_keys

        return simian_line_keys(text)

    def fingerprint(self, keys: Sequence[bytes], threshold: int) -> str:
        """A snippet's fingerprint from the keys of its kept lines."""
        return self.fingerprints([keys], threshold)[0]

    def fingerprints(self, spans: Iterable[Iterable[bytes]], threshold: int) -> list[str]:
        """:meth:`fingerprint` of each span's keys."""
        if self.name == "lines":
            from engine.clones.rules.lines import fingerprint

            return list(map(fingerprint, spans))
        from engine.clones.rules.simian import fingerprint

        return [fingerprint(list(keys), threshold) for keys in spans]


def segments(text: str) -> list[tuple[int, str]]:
    """The lines of a text as Simian reads them (ended by ``\\n``, ``\\r\\n`` or a lone
    ``\\r``), each with the 1-based number of the ``\\n``-line it starts in; a text ending
    with a terminator ends with an empty line (ignored, as every line without a token)."""
    out: list[tuple[int, str]] = []
    pieces = text.split("\n")
    for number, line in enumerate(pieces, 1):
        if line.endswith("\r") and number < len(pieces):  # "\r\n" ends one line
            line = line[:-1]
        out.extend((number, part) for part in line.split("\r"))
    return out


def get_rules(name: str) -> RuleSet:
    if name not in RULES:
        raise InputError(f"unknown rules {name!r} (choose from {', '.join(RULES)})", field="rules")
    return RuleSet(name)
