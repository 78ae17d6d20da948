"""Text nobody controls, made safe to show: model outputs, corpus text and file names, the
names users give to sets, studies and scans, and error messages that quote them.

The one rule every face follows (the command line and every screen of the app):

- control characters are shown as visible escapes (:func:`visible`): C0 but tab (ESC
  becomes ``\\x1b``, so no escape sequence reaches the terminal: no clipboard write through
  OSC 52, no title, no cleared screen), DEL, C1, lone surrogates (a file name that is not
  UTF-8), and the bidirectional overrides and isolates that make text read in another
  order than it runs;
- the text is never read as markup: it goes to rich and Textual as ``Text``, never inside a
  markup string (``[/x]`` and ``[link=...]`` stay characters).

The code panes are the exception: they show code faithfully, as pygments tokens (rich's
``Syntax``), whose control characters the panes make visible themselves.
"""
from __future__ import annotations

import re

_SHOWN = {"\t": "\t", "\n": "\\n", "\r": "\\r"}

# C0 but tab, DEL, C1, lone surrogates, bidirectional controls (U+061C, U+200E-F,
# U+202A-E, U+2066-9), the line and paragraph separators
_HIDDEN = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
_HIDDEN_BUT_NEWLINE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def _escape(match: re.Match) -> str:
    char = match.group()
    if char in _SHOWN:
        return _SHOWN[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: object, newlines: bool = False) -> str:
    """``text`` (any object, as ``str``) with every character that could act on the terminal
    or reorder the line shown as an escape (``\\x1b``, ``\\u202e``, ``\\n``). With
    ``newlines`` a ``\\n`` stays a line break (a message of several lines)."""
    text = text if isinstance(text, str) else str(text)
    return (_HIDDEN_BUT_NEWLINE if newlines else _HIDDEN).sub(_escape, text)


def is_visible(text: str) -> bool:
    """Whether ``text`` holds nothing :func:`visible` would escape (newlines allowed)."""
    return _HIDDEN_BUT_NEWLINE.search(text) is None
