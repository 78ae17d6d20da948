"""The side-by-side viewer, and the lexer choice and line marking behind it."""
from __future__ import annotations

import pytest
from conftest import settle
from test_app_browser import A, FP, OUTPUTS, POLL_S, scan_db
from textual.widgets import Static

from engine.store import Store
from tui.highlight import (
    PLAIN,
    STRONG_STYLE,
    WEAK_STYLE,
    choose_lexer,
    code_syntax,
    lexer_from_corpus,
    lexer_from_doc,
    lexer_from_text,
    output_marks,
)
from tui.screens.browser import BrowserScreen
from tui.screens.viewer import ViewerScreen, read_view
from tui.widgets.code_pane import CodePane

PY_CORPUS = {"kind": "files", "root": "/c", "glob": "*.py"}


# -- tui.highlight -------------------------------------------------------------------
def test_lexer_from_the_corpus_glob_or_its_one_file():
    assert lexer_from_corpus(PY_CORPUS) == "python"
    assert lexer_from_corpus({"kind": "files", "root": "/c", "glob": "test_*.js"}) == "javascript"
    assert lexer_from_corpus({"kind": "files", "root": "/c", "files": ["main.go"]}) == "go"
    assert lexer_from_corpus({"kind": "files", "root": "/c", "glob": None, "count": 3}) is None
    assert lexer_from_corpus({"kind": "records", "root": "/c", "files": ["a.jsonl"]}) is None
    assert lexer_from_corpus({"kind": "hf", "name": "codeparrot/x"}) is None
    assert lexer_from_corpus({}) is None and lexer_from_corpus(None) is None


def test_lexer_from_a_document_id():
    assert lexer_from_doc("pkg/mod.py") == "python"
    assert lexer_from_doc("src/Main.java:17") == "java"  # a row suffix is not part of the name
    assert lexer_from_doc("data.jsonl:17") is None  # a record file says nothing of the text in it
    assert lexer_from_doc("0:12") is None and lexer_from_doc(None) is None
    assert lexer_from_doc("README") is None


def test_lexer_guessed_from_the_text_only_when_sure():
    assert lexer_from_text("#!/usr/bin/env python\nimport os\n") == "python"
    assert lexer_from_text("def f(x):\n    return x\n") is None  # pygments says "Tera Term macro"
    assert lexer_from_text("") is None and lexer_from_text("hello\nworld") is None


def test_choose_lexer_order():
    assert choose_lexer(PY_CORPUS, "x.js", "") == "python"
    assert choose_lexer({}, "x.js:3", "") == "javascript"
    assert choose_lexer({}, "data.jsonl:3", "import os\nimport sys\n") == "python"
    assert choose_lexer({}, None, "just words") == PLAIN


def test_output_marks_and_syntax():
    spans = [{"start_line": 3, "end_line": 8}, {"start_line": 7, "end_line": 10}, {"start_line": 12, "end_line": 13}]
    strong, weak = output_marks(spans, 3, 8)
    assert strong == {3, 4, 5, 6, 7, 8} and weak == {9, 10, 12, 13}
    text = "\n".join(f"line {i}" for i in range(10, 20)) + "\n"
    syntax = code_syntax(text, "python", 10, {12, 13}, {13, 14})
    assert syntax.code == text[:-1] and syntax.start_line == 10 and syntax.highlight_lines == {12, 13}
    assert not syntax.word_wrap and syntax.line_numbers
    ranges = [(str(r.style), r.start, r.end) for r in syntax._stylized_ranges]
    assert ranges == [(STRONG_STYLE, (3, 0), (3, 7)), (STRONG_STYLE, (4, 0), (4, 7)), (WEAK_STYLE, (5, 0), (5, 7))]


# -- the screen ----------------------------------------------------------------------
@pytest.fixture
def db(tmp_path):
    return scan_db(tmp_path)


def title(screen) -> str:
    return str(screen.query_one("#title", Static).render())


def head(screen, side: str) -> str:
    return str(screen.query_one(f"#{side}-head", Static).render())


def out_text(n: int) -> str:
    return "\n".join(OUTPUTS[n])


def test_read_view_picks_the_output_and_the_place(db):
    path, scan_id = db
    store = Store(path)
    try:
        view = read_view(store, scan_id, FP["A"])
        assert view.here == {"output_id": 1, "start_line": 3, "end_line": 8} and view.lexer == "python"
        assert read_view(store, scan_id, FP["A"], 2).here["start_line"] == 5
        assert read_view(store, scan_id, FP["A"], 99).here["output_id"] == 1  # not there: the first
        assert [m["doc"] for m in view.matches] == ["pkg/a.py", "pkg/b.py"]
        assert [s["fingerprint"] for s in view.spans] == [FP["A"], FP["B"]]
    finally:
        store.close()


@pytest.mark.slow
def test_viewer_shows_marks_and_moves(db, app_pilot):
    path, scan_id = db
    screen = lambda: ViewerScreen(scan_id, FP["A"])

    async def body(app, pilot):
        v = app.screen
        assert isinstance(v, ViewerScreen) and not v.has_class("narrow")
        # left: output 1 (the first holding A), numbered from 1, A strong, B weak
        assert v.output_id == 1 and v.left_syntax.code == out_text(1) and v.left_syntax.start_line == 1
        assert v.strong_lines == set(range(3, 9)) and v.left_syntax.highlight_lines == set(range(3, 9))
        assert v.weak_lines == set(range(12, 19))
        assert title(v) == f"{FP['A']} · len 6 · train 2 · extract 2 · output 1 lines 3–8"
        assert head(v, "left") == "output 1: lines 3–8 (output 1 of 2) · 2 memorized spans"
        # right: match 1 of 2, numbered as in the training document
        assert head(v, "right") == "pkg/a.py:10-15 (match 1 of 2; train = 2)"
        assert v.right_syntax.start_line == 7 and v.match_lines == set(range(10, 16))
        assert v.right_syntax.highlight_lines == set(range(10, 16))
        assert v.right_syntax.code.splitlines()[3] == "def add(a, b):"
        assert v.left_syntax.lexer.name == "Python" == v.right_syntax.lexer.name
        # n / p: training locations
        await pilot.press("n")
        assert head(v, "right") == "pkg/b.py:1-6 (match 2 of 2; train = 2)"
        assert v.right_syntax.start_line == 1 and v.match_lines == set(range(1, 7))
        await pilot.press("p")
        assert head(v, "right").startswith("pkg/a.py:10-15 (match 1 of 2")
        await pilot.press("p")  # wraps around
        assert head(v, "right").startswith("pkg/b.py:1-6 (match 2 of 2")
        # ]: the output's next span is B
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert v.fingerprint == FP["B"] and v.output_id == 1
        assert v.strong_lines == set(range(12, 19)) and v.weak_lines == set(range(3, 9))
        assert head(v, "right") == "pkg/c.py:100-106 (match 1 of 1; train = 5)"
        assert v.right_syntax.start_line == 97 and v.match_lines == set(range(100, 107))
        assert title(v).startswith(f"{FP['B']} · len 7 · train 5 · extract 1 · output 1 lines 12–18")
        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert v.fingerprint == FP["A"] and v.strong_lines == set(range(3, 9))
        assert head(v, "right").startswith("pkg/a.py:10-15 (match 1 of 2")  # a new snippet: match 1
        # o: the other output holding A, where C is the other span; the match shown stays
        await pilot.press("n", "o")
        await settle(pilot)
        assert v.output_id == 2 and v.left_syntax.code == out_text(2)
        assert v.strong_lines == set(range(5, 11)) and v.weak_lines == set(range(12, 18))
        assert head(v, "left").startswith("output 2: lines 5–10 (output 2 of 2)")
        assert head(v, "right").startswith("pkg/b.py:1-6 (match 2 of 2")
        await pilot.press("o")
        await settle(pilot)
        assert v.output_id == 1
        await pilot.press("O")
        await settle(pilot)
        assert v.output_id == 2
        # y: OSC 52 and a notification
        await pilot.press("y")
        await pilot.pause()
        assert app.clipboard == FP["A"]
        assert any(n.message == f"copied {FP['A']}" for n in app._notifications)
        # tab: the other pane takes the keys
        left, right = v.query_one("#left", CodePane), v.query_one("#right", CodePane)
        assert left.has_focus
        await pilot.press("tab")
        assert right.has_focus
        await pilot.press("tab")
        assert left.has_focus
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, ViewerScreen)

    app_pilot(path, body, size=(160, 48), screen=screen, poll_s=POLL_S)


def test_single_output_single_match_and_given_output(db, app_pilot):
    path, scan_id = db
    screen = lambda: ViewerScreen(scan_id, FP["A"], 2)

    async def body(app, pilot):
        v = app.screen
        assert v.output_id == 2 and v.strong_lines == set(range(5, 11))
        await pilot.press("right_square_bracket")  # A -> C in output 2
        await settle(pilot)
        assert v.fingerprint == FP["C"] and head(v, "right") == "lib/d.py:4-9 (match 1 of 1; train = 1)"
        await pilot.press("n", "o")
        await settle(pilot)
        assert v.fingerprint == FP["C"] and v.output_id == 2
        messages = [n.message for n in app._notifications]
        assert "no other training location stored" in messages and "no other output holds this snippet" in messages

    app_pilot(path, body, size=(160, 48), screen=screen, poll_s=POLL_S)


def test_long_lines_scroll_sideways_and_the_span_is_scrolled_into_view(db, app_pilot):
    path, scan_id = db
    screen = lambda: ViewerScreen(scan_id, FP["D"])

    async def body(app, pilot):
        v = app.screen
        assert v.has_class("narrow")  # stacked at 80 columns: each pane as wide as the screen
        left = v.query_one("#left", CodePane)
        code = v.query_one("#left-code", Static)
        assert code.size.height == len(OUTPUTS[3])  # one row per line: nothing wrapped
        assert code.size.width > left.size.width and left.max_scroll_x > 0
        await pilot.press("right", "right")
        await pilot.pause()
        assert left.scroll_x > 0
        # B in output 1 (19 lines) is scrolled to with 2 lines above it
        v._load(FP["B"], 1)
        await settle(pilot)
        await pilot.pause()
        assert left.scroll_x == 0 and left.max_scroll_y > 0
        assert left.scroll_y == min(12 - 1 - 2, left.max_scroll_y)
        assert v.query_one("#right", CodePane).scroll_y == min(1, v.query_one("#right", CodePane).max_scroll_y)

    async def wide(app, pilot):
        v = app.screen
        assert not v.has_class("narrow")
        left, right = v.query_one("#left", CodePane), v.query_one("#right", CodePane)
        assert left.region.y == right.region.y and left.region.x < right.region.x  # side by side
        assert left.size.width >= 70 and left.size.height >= 40

    app_pilot(path, body, size=(80, 24), screen=screen, poll_s=POLL_S)
    app_pilot(path, wide, size=(160, 48), screen=screen, poll_s=POLL_S)


def test_opened_from_the_browser(db, app_pilot):
    path, scan_id = db
    screen = lambda: BrowserScreen(scan_id)

    async def body(app, pilot):
        app.open_viewer(scan_id, FP["B"], 1)
        await settle(pilot)
        v = app.screen
        assert isinstance(v, ViewerScreen) and v.fingerprint == FP["B"] and v.strong_lines == set(range(12, 19))
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, BrowserScreen)

    app_pilot(path, body, size=(120, 30), screen=screen, poll_s=POLL_S)


def test_a_missing_snippet_says_so(db, app_pilot):
    path, scan_id = db
    screen = lambda: ViewerScreen(scan_id, "0" * 32)

    async def body(app, pilot):
        assert title(app.screen) == f"no snippet {'0' * 32} in scan {scan_id}"
        assert app.screen.view is None

    app_pilot(path, body, size=(80, 24), screen=screen, poll_s=POLL_S)


def span_screen_rows(v) -> tuple[int, int]:
    """The screen row of the span's first line in the left and the right pane."""
    a, b = v.span_rows()
    rows = []
    for side, start in (("left", a), ("right", b)):
        pane, code = v.query_one(f"#{side}", CodePane), v.query_one(f"#{side}-code", Static)
        rows.append(pane.region.y + code.styles.margin.top + start - int(pane.scroll_y))
    return rows[0], rows[1]


def test_the_panes_are_row_aligned_on_open_after_n_and_after_a_resize(db, app_pilot):
    """A starts on line 3 of output 1; its second training match starts on the first line
    of its context: the span is on the same screen row in both panes all the same, and
    after a resize; stacked (narrow), each pane shows it."""
    path, scan_id = db
    screen = lambda: ViewerScreen(scan_id, FP["A"], 1)

    async def body(app, pilot):
        v = app.screen
        await settle(pilot)
        await pilot.pause()
        left, right = span_screen_rows(v)
        assert left == right
        await pilot.press("n")  # match 2: its span starts the context
        await settle(pilot)
        await pilot.pause()
        assert v.span_rows() == (2, 0)
        left, right = span_screen_rows(v)
        assert left == right
        await pilot.resize_terminal(120, 40)
        await settle(pilot)
        await pilot.pause()
        assert not v.has_class("narrow") and span_screen_rows(v)[0] == span_screen_rows(v)[1]
        await pilot.resize_terminal(80, 12)  # stacked, and short: each pane scrolled to the span
        await settle(pilot)
        await pilot.pause()
        assert v.has_class("narrow")
        for side, start in zip(("left", "right"), v.span_rows()):
            pane = v.query_one(f"#{side}", CodePane)
            assert v.query_one(f"#{side}-code", Static).styles.margin.top == 0
            assert pane.scroll_y <= start < pane.scroll_y + pane.size.height, side

    app_pilot(path, body, size=(160, 48), screen=screen, poll_s=POLL_S)


def test_copy_the_text_and_the_place_and_open_the_match_in_the_editor(db, app_pilot, tmp_path, monkeypatch):
    """Y copies the snippet's text, P the match's path:line; e opens the match's file (a
    directory corpus on this machine) in $EDITOR at its line, with the app suspended; a
    corpus whose file is gone says so."""
    import contextlib
    import json
    import stat

    path, scan_id = db
    corpus = tmp_path / "corpus"
    (corpus / "pkg").mkdir(parents=True)
    (corpus / "pkg" / "a.py").write_text("x = 1\n" * 20)
    store = Store(path)
    with store._write():
        store.db.execute("UPDATE scans SET corpus = ? WHERE id = ?",
                         [json.dumps({"kind": "files", "root": str(corpus), "glob": "*.py"}), scan_id])
    store.close()
    said = tmp_path / "editor-args"
    editor = tmp_path / "editor.sh"
    editor.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {said}\n')
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("VISUAL", f"{editor} --wait")
    screen = lambda: ViewerScreen(scan_id, FP["A"], 1)

    async def body(app, pilot):
        v = app.screen
        suspended = []
        monkeypatch.setattr(app, "suspend", lambda: suspended.append(1) or contextlib.nullcontext())
        await pilot.press("Y")
        assert app.clipboard == "\n".join(A) and list(app._notifications)[-1].message == "copied the snippet's text (6 lines)"
        await pilot.press("P")
        assert app.clipboard == "pkg/a.py:10"
        await pilot.press("e")
        await pilot.pause()
        assert suspended == [1] and said.read_text().split("\n")[:3] == ["--wait", "+10", str(corpus / "pkg/a.py")]
        await pilot.press("n")  # match 2: pkg/b.py, not in the corpus folder
        await settle(pilot)
        await pilot.press("e")
        await pilot.pause()
        assert suspended == [1] and "is not a file on this machine" in list(app._notifications)[-1].message

    app_pilot(path, body, size=(160, 48), screen=screen, poll_s=POLL_S)


def test_differing_characters_by_hand():
    from tui.highlight import differing

    ours = ["# Se comment", "x = f(a,b)", "", "return X"]
    theirs = ["# See comment", "x = f(a, b)", "return x"]
    # line pairs (0,0), (1,1), (3,2); the blank line has no partner; an insertion marks the side that has it
    assert differing(ours, theirs) == ([(3, 7, 8)], [(0, 3, 4), (1, 8, 9), (2, 7, 8)])
    assert differing(["a = 1", "b = 2"], ["a = 1", "b = 2"]) == ([], [])
    assert differing(["  a = 1"], ["a = 1"]) == ([(0, 0, 2)], [])  # indentation counts


def test_the_viewer_marks_what_differs_inside_the_span(db, app_pilot):
    """A training match whose copy of A writes one line differently: the characters that
    differ are marked in both panes, at their own line numbers."""
    path, scan_id = db
    store = Store(path)
    changed = "\n".join(["# before 0", "# before 1", "# before 2", "def add(a,b):", *A[1:], "# after 0"])
    with store._write():
        store.db.execute("UPDATE snippet_matches SET context = ? WHERE scan_id = ? AND fingerprint = ? AND rank = 1",
                         [changed, scan_id, FP["A"]])
    store.close()
    screen = lambda: ViewerScreen(scan_id, FP["A"], 1)

    async def body(app, pilot):
        v = app.screen
        # output 1 holds A at lines 3-8; the match at lines 10-15 of pkg/a.py: "def add(a, b):" against "def add(a,b):"
        assert v.differences() == ([(3, 10, 11)], [])
        await pilot.press("n")  # match 2 is an exact copy
        await settle(pilot)
        assert v.differences() == ([], [])

    app_pilot(path, body, size=(160, 48), screen=screen, poll_s=POLL_S)
