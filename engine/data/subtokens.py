"""Splitting identifiers into sub-tokens: the one definition (:func:`split_subtokens`; no
torch), used for the VarMisuse models' sub-token vocabulary (:mod:`engine.models.vocab`)
and for method-name labels (:func:`engine.data.methodname.method_label`).
"""
from __future__ import annotations

import re
from functools import lru_cache

# camel-case words, acronyms, other letters, digit runs, punctuation runs; "_" and
# whitespace separate pieces and are dropped.
_PIECE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[^\W\d_]+|\d+|[^\w\s]+")


@lru_cache(maxsize=1 << 18)
def subtoken_tuple(token: str) -> tuple[str, ...]:
    """The sub-tokens of one source token, as a (cached) tuple."""
    if token.startswith("#") and token.endswith("#") and len(token) > 2:
        return (token,)  # #NEWLINE#, #INDENT#, #UNINDENT#
    if not any(ch.isalnum() for ch in token):
        return (token,)  # "(", "**", "_", ""
    pieces = _PIECE.findall(token)
    return tuple(p.lower() for p in pieces) if pieces else (token,)


def split_subtokens(token: str) -> list[str]:
    """The sub-tokens of one source token:

    - ``fooBar`` -> ``foo bar``, ``HTTPServer`` -> ``http server``, ``foo_bar2`` ->
      ``foo bar 2``;
    - ``def foo_bar(`` (GREAT merges the ``def`` line into one token) -> ``def foo bar (``;
    - punctuation runs stay together (``**``, ``==``, ``'``); markers such as
      ``#NEWLINE#`` and tokens without letters or digits (``(``, ``**``) stay whole;
    - everything is lower-cased.
    """
    return list(subtoken_tuple(token))
