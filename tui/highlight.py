"""Syntax highlighting for the side-by-side viewer: which lexer, which lines to mark.

Pure functions over rich and pygments (no Textual): the viewer builds its panes from
:func:`code_syntax`, and the tests check the lexer choice and the marked lines here.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterable

from rich.syntax import Syntax

from engine.data.corpus import is_record_file
from engine.untrusted import visible

THEME = "monokai"  # reads well on dark terminals
PLAIN = "text"
MIN_GUESS_SCORE = 0.1  # pygments guesses below this are noise (Python reads as "Tera Term macro")
STRONG_STYLE = "on #4d4516"  # the lines of the snippet shown, on top of rich's ❱ pointer
WEAK_STYLE = "on #2b3245"  # the output's other memorized lines
DIFF_STYLE = "bold underline on #7a2230"  # characters where an output's span and its training match differ
Ranges = list[tuple[int, int, int]]  # (0-based line in a span, first column, end column)
_ROW_SUFFIX = re.compile(r":\d+$")


def lexer_for_filename(name: str) -> str | None:
    """The pygments alias for a file name (``pkg/mod.py`` -> ``python``), or None."""
    from pygments.lexers import get_lexer_for_filename
    from pygments.util import ClassNotFound

    base = os.path.basename(name)
    if not base or is_record_file(base):  # a container of records, not a language
        return None
    try:
        lexer = get_lexer_for_filename(base)
    except ClassNotFound:
        return None
    return lexer.aliases[0] if lexer.aliases else None


def lexer_from_corpus(corpus: dict | None) -> str | None:
    """The language a corpus spec names: its glob (``*.py``) or its one given file."""
    if not isinstance(corpus, dict):
        return None
    glob = corpus.get("glob")
    if isinstance(glob, str) and glob:
        return lexer_for_filename(re.sub(r"[*?]", "x", glob))
    files = corpus.get("files")
    if corpus.get("kind") == "files" and isinstance(files, list) and len(files) == 1:
        return lexer_for_filename(str(files[0]))
    return None


def lexer_from_doc(doc: str | None) -> str | None:
    """The language of a corpus document id, a relative path with perhaps a ``:row``."""
    return lexer_for_filename(_ROW_SUFFIX.sub("", doc)) if doc else None


def lexer_from_text(text: str) -> str | None:
    """pygments' guess from the text itself, when it is confident enough."""
    from pygments.lexers import guess_lexer
    from pygments.util import ClassNotFound

    if not text.strip():
        return None
    try:
        lexer = guess_lexer(text)
    except ClassNotFound:
        return None
    if type(lexer).analyse_text(text) < MIN_GUESS_SCORE or not lexer.aliases:
        return None
    return None if lexer.aliases[0] == PLAIN else lexer.aliases[0]


def choose_lexer(corpus: dict | None, doc: str | None, text: str) -> str:
    """The corpus's glob, else the document's name, else a guess, else plain text."""
    return lexer_from_corpus(corpus) or lexer_from_doc(doc) or lexer_from_text(text) or PLAIN


def span_lines(start: int, end: int) -> set[int]:
    """The 1-based lines ``start..end`` (inclusive)."""
    return set(range(start, end + 1))


def output_marks(spans: Iterable[dict], start: int, end: int) -> tuple[set[int], set[int]]:
    """(strong, weak): the shown span's lines, and the lines of the output's other
    memorized spans (``snippets_of_output`` rows) that are not in it."""
    strong = span_lines(start, end)
    weak: set[int] = set()
    for span in spans:
        weak |= span_lines(span["start_line"], span["end_line"])
    return strong, weak - strong


def differing(ours: list[str], theirs: list[str]) -> tuple[Ranges, Ranges]:
    """Where two spans of lines differ, character by character: their non-blank lines are
    paired in order by their text, the ends' white space and case aside (difflib; within a
    stretch that differs, the first lines of each side pair up), each pair compared
    character by character, and the columns of every stretch not common to both returned
    for each side. A line with no partner (a blank line, a line only one side has) is not
    marked."""
    import difflib

    mine: Ranges = []
    other: Ranges = []
    a = [i for i, line in enumerate(ours) if line.strip()]
    b = [j for j, line in enumerate(theirs) if line.strip()]
    lines = difflib.SequenceMatcher(None, [ours[i].strip().casefold() for i in a],
                                    [theirs[j].strip().casefold() for j in b], autojunk=False)
    for tag, a0, a1, b0, b1 in lines.get_opcodes():
        if tag not in ("equal", "replace"):
            continue
        for i, j in zip(a[a0:a1], b[b0:b1]):
            chars = difflib.SequenceMatcher(None, ours[i], theirs[j], autojunk=False)
            for op, c0, c1, d0, d1 in chars.get_opcodes():
                if op != "equal" and c1 > c0:
                    mine.append((i, c0, c1))
                if op != "equal" and d1 > d0:
                    other.append((j, d0, d1))
    return mine, other


def shown_lines(text: str) -> list[str]:
    """The lines of ``text`` as a pane shows them: control characters made visible, a
    ``\r`` before a line break left out, no empty line after the last."""
    return visible(text.replace("\r\n", "\n"), newlines=True).removesuffix("\n").split("\n")


def code_syntax(text: str, lexer: str, start_line: int = 1, strong: Iterable[int] = (),
                weak: Iterable[int] = (), diff: Iterable[tuple[int, int, int]] = ()) -> Syntax:
    """``text`` highlighted, its lines numbered from ``start_line``; ``strong`` lines get
    rich's pointer and a bright background, ``weak`` ones a faint background, and the
    ``diff`` ranges (line number, first column, end column) :data:`DIFF_STYLE`. No wrap:
    a long line stays one line (the pane scrolls sideways). The code is shown as it is, but
    for its control characters, made visible (``\x1b``; a ``\r`` before a line break is
    left out, as a terminal shows it)."""
    strong = set(strong)
    text = "\n".join(shown_lines(text))
    syntax = Syntax(text, lexer, theme=THEME, line_numbers=True, word_wrap=False,
                    start_line=start_line, highlight_lines=strong)
    lines = text.split("\n")
    for marked, style in ((strong, STRONG_STYLE), (set(weak) - strong, WEAK_STYLE)):
        for number in sorted(marked):
            index = number - start_line
            if 0 <= index < len(lines) and lines[index]:
                syntax.stylize_range(style, (index + 1, 0), (index + 1, len(lines[index])))
    for number, first, end in diff:
        index = number - start_line
        if 0 <= index < len(lines):
            syntax.stylize_range(DIFF_STYLE, (index + 1, first), (index + 1, min(end, len(lines[index]))))
    return syntax
