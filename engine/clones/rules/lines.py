"""The ``lines`` rule set, byrote's own (``--rules lines``): it reads Simian's printed
options (``ignoreCharacterCase``, ``ignoreCurlyBraces``, threshold 6) literally, which is
not what Simian does on the study's files (that is :mod:`.simian`, the default):

- A text is cut into lines at ``\\n``; line numbers are 1-based.
- A line's *key* is the line without leading and trailing ASCII white space (space, tab,
  CR, LF, VT, FF), lower-cased unless the scan is case-sensitive (``str.lower``, so
  non-ASCII letters fold too).
- A line whose key is empty, ``{`` or ``}`` is *ignored*: it neither counts towards a
  span's length nor breaks a run. Every other line is *kept*.
"""
from __future__ import annotations

import hashlib
from typing import Iterable

IGNORED_KEYS = frozenset((b"", b"{", b"}"))


def fold(data: bytes, case_sensitive: bool) -> bytes | None:
    """``data`` ready to be cut into keys: lower-cased unless ``case_sensitive``;
    ``None`` if it is not UTF-8 (such a document is skipped and counted)."""
    if data.isascii():
        return data if case_sensitive else data.lower()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return data if case_sensitive else text.lower().encode("utf-8")


def line_keys(folded: bytes) -> list[bytes]:
    """The key of every line of a folded text, ignored lines included (index = line - 1)."""
    return list(map(bytes.strip, folded.split(b"\n")))


def fingerprint(keys: Iterable[bytes]) -> str:
    """A snippet's *fingerprint*: the md5 hex digest of its kept keys joined with ``\\n``."""
    return hashlib.md5(b"\n".join(keys)).hexdigest()
