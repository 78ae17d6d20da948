"""Side by side: a model output with its memorized lines marked, and the training data
it was found in, both syntax-highlighted and scrolling without wrap."""
from __future__ import annotations

import os
import shlex
import subprocess
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult, SuspendNotSupported
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Header, Static

from engine.errors import InputError
from engine.untrusted import visible
from tui.panes import PaneKeys, pane_bindings
from tui.highlight import choose_lexer, code_syntax, differing, output_marks, shown_lines, span_lines
from tui.screens.base import SubScreen, describe
from tui.widgets.code_pane import CodePane

CONTEXT = 2  # lines shown above a span scrolled into view
NARROW = 100  # below this many columns the panes are stacked


@dataclass
class View:
    """What the viewer shows of one snippet at one place in one output."""

    scan: dict
    snippet: dict
    locations: list[dict]  # snippet_outputs: every output (and lines) holding the snippet
    location: int  # the one shown
    output: dict
    spans: list[dict]  # snippets_of_output: the memorized spans of the output shown
    matches: list[dict]  # snippet_matches: training locations, by rank
    lexer: str

    @property
    def here(self) -> dict:
        return self.locations[self.location]


def read_view(store, scan_id: int, fingerprint: str, output_id: int | None = None,
              start_line: int | None = None) -> View:
    """The snippet ``fingerprint`` in ``output_id`` (at ``start_line``), else in the
    first output that holds it."""
    scan = store.scan(scan_id)
    snippet = store.snippet(scan_id, fingerprint)
    locations = store.snippet_outputs(scan_id, fingerprint)
    if not locations:
        raise InputError(f"snippet {fingerprint} of scan {scan_id} is in no output")
    location = next((i for i, loc in enumerate(locations) if loc["output_id"] == output_id
                     and start_line in (None, loc["start_line"])), 0)
    output = store.output(scan["set_id"], locations[location]["output_id"])
    matches = store.snippet_matches(scan_id, fingerprint)
    doc = matches[0]["doc"] if matches else None
    return View(scan, snippet, locations, location, output,
                store.snippets_of_output(scan_id, output["id"]), matches,
                choose_lexer(scan["corpus"], doc, output["text"] or ""))


def match_file(corpus: dict, doc: str) -> Path | None:
    """The local file of a training match: a document of a directory corpus (its id is the
    path under the root; a single file's corpus is its folder), when it is still there."""
    if corpus.get("kind") != "files" or not corpus.get("root"):
        return None
    root = Path(corpus["root"])
    path = root / doc
    try:
        inside = path.resolve().is_relative_to(root.resolve())
    except OSError:
        return None
    return path if inside and path.is_file() else None


class ViewerScreen(PaneKeys, SubScreen):
    """One memorized snippet: the output it is in beside a training location of it."""

    HELP_TITLE = "Side by side"
    PANE = "viewer"
    CSS_PATH = "../styles/viewer.tcss"
    MATCH = Binding.Group("Match", compact=True)
    SPAN = Binding.Group("Span", compact=True)
    OUTPUT = Binding.Group("Output", compact=True)
    BINDINGS = [
        Binding("n", "match(1)", "Next match", group=MATCH),
        Binding("p", "match(-1)", "Previous match", group=MATCH),
        Binding("right_square_bracket", "span(1)", "Next span (snippet) of the output", group=SPAN),
        Binding("left_square_bracket", "span(-1)", "Previous span (snippet) of the output", group=SPAN),
        Binding("o", "output(1)", "Next output with the snippet", group=OUTPUT),
        Binding("O", "output(-1)", "Previous output with the snippet", group=OUTPUT),
        Binding("y", "copy", "Copy fp"),
        Binding("Y", "copy_text", "Copy the snippet's text", show=False),
        Binding("P", "copy_place", "Copy the match's path:line", show=False),
        Binding("e", "edit", "Edit", tooltip="Open the training match in $EDITOR at its line (a local file)"),
        Binding("tab", "switch_pane", "Pane"),
        *pane_bindings(),
    ]

    def __init__(self, scan_id: int, fingerprint: str, output_id: int | None = None) -> None:
        super().__init__()
        self.scan_id = scan_id
        self.fingerprint = fingerprint
        self.output_id = output_id
        self.view: View | None = None
        self.match_index = 0
        self.left_syntax: Syntax | None = None
        self.right_syntax: Syntax | None = None
        self.strong_lines: set[int] = set()  # the output's lines of this snippet
        self.weak_lines: set[int] = set()  # the output's lines of its other snippets
        self.match_lines: set[int] = set()  # the training document's matched lines
        self._generation = 0

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("loading…", id="title")
        with Horizontal(id="panes"):
            with Vertical(id="left-side", classes="side"):
                yield Static("", id="left-head", classes="head")
                with CodePane(id="left"):
                    yield Static("", id="left-code", classes="code")
            with Vertical(id="right-side", classes="side"):
                yield Static("", id="right-head", classes="head")
                with CodePane(id="right"):
                    yield Static("", id="right-code", classes="code")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._layout()
        self.query_one("#left", CodePane).focus()
        self._load(self.fingerprint, self.output_id)

    def on_resize(self) -> None:
        self._layout()
        if self.view is not None:  # the span stays in view, the panes in line, at any size
            self.call_after_refresh(self._align)

    def _layout(self) -> None:
        self.set_class(self.size.width < NARROW, "narrow")
        self.size_panes(self.pane_share)

    def size_panes(self, share: int) -> None:
        """The output's pane takes ``share`` % of the width, or of the height when stacked."""
        across = "height" if self.has_class("narrow") else "width"
        for side, part in (("#left-side", share), ("#right-side", 100 - share)):
            styles = self.query_one(side).styles
            setattr(styles, across, f"{part}fr")
            setattr(styles, "width" if across == "height" else "height", "1fr")

    # -- reading -------------------------------------------------------------------
    def _load(self, fingerprint: str, output_id: int | None, start_line: int | None = None) -> None:
        self._generation += 1
        self.run_with_store(lambda store: read_view(store, self.scan_id, fingerprint, output_id, start_line),
                            partial(self._got_view, self._generation), partial(self._failed, self._generation),
                            group="view", exclusive=True)

    def _got_view(self, generation: int, view: View) -> None:
        if generation != self._generation:
            return
        same = self.view is not None and view.snippet["fingerprint"] == self.fingerprint
        self.match_index = self.match_index if same and self.match_index < len(view.matches) else 0
        self.view = view
        self.fingerprint, self.output_id = view.snippet["fingerprint"], view.here["output_id"]
        self._show_output()
        self._show_match()

    def _failed(self, generation: int, exc: Exception) -> None:
        if generation == self._generation:
            message = describe(exc)
            self.query_one("#title", Static).update(Text(visible(message), style="bold red"))
            self.notify(message, severity="error")

    # -- showing -------------------------------------------------------------------
    def _show_output(self) -> None:
        view, here = self.view, self.view.here
        snippet = view.snippet
        self.strong_lines, self.weak_lines = output_marks(view.spans, here["start_line"], here["end_line"])
        # the output's code is drawn by _show_match, which follows: its marks of what differs depend on the match
        others = f" (output {view.location + 1} of {len(view.locations)})" if len(view.locations) > 1 else ""
        spans = len(view.spans)
        self.query_one("#left-head", Static).update(Text.assemble(
            (f"output {here['output_id']}", "bold"), f": lines {here['start_line']}–{here['end_line']}{others}"
            + (f" · {spans} memorized spans" if spans > 1 else "")))
        self.query_one("#title", Static).update(Text.assemble(
            (visible(snippet["fingerprint"]), "bold"), f" · len {snippet['len']} · train {snippet['train']:,} · "
            f"extract {snippet['extract']:,} · output {here['output_id']} "
            f"lines {here['start_line']}–{here['end_line']}"))
        self.call_after_refresh(self._align)

    def _show_match(self) -> None:
        view = self.view
        head = self.query_one("#right-head", Static)
        ours, theirs = self.differences()
        self._show_left(ours)  # its marks of what differs follow the match
        if not view.matches:
            self.right_syntax, self.match_lines = None, set()
            self.query_one("#right-code", Static).update("")
            head.update(Text(f"no training location stored (train = {view.snippet['train']:,})"))
            return
        match = view.matches[self.match_index]
        self.match_lines = span_lines(match["start_line"], match["end_line"])
        self.right_syntax = code_syntax(match["context"] or "", view.lexer, match["context_start"] or 1,
                                        self.match_lines, diff=theirs)
        self.query_one("#right-code", Static).update(self.right_syntax)
        head.update(Text.assemble(
            (visible(f"{match['doc']}:{match['start_line']}-{match['end_line']}"), "bold"),
            f" (match {self.match_index + 1} of {len(view.matches)}; train = {view.snippet['train']:,})"))
        self.call_after_refresh(self._align)

    def _show_left(self, diff: list) -> None:
        """The output's code, its span and other spans marked, and ``diff``'s characters."""
        view = self.view
        self.left_syntax = code_syntax(view.output["text"] or "", view.lexer, 1, self.strong_lines, self.weak_lines,
                                       diff=diff)
        self.query_one("#left-code", Static).update(self.left_syntax)

    def differences(self) -> tuple[list, list]:
        """Where the output's span and the shown training match differ (tui.highlight.differing),
        as (line number, first column, end column) in each pane's own numbering."""
        view = self.view
        if view is None or not view.matches:
            return [], []
        here, match = view.here, view.matches[self.match_index]
        first = match["context_start"] or 1
        ours = shown_lines(view.output["text"] or "")[here["start_line"] - 1:here["end_line"]]
        theirs = shown_lines(match["context"] or "")[match["start_line"] - first:match["end_line"] - first + 1]
        mine, other = differing(ours, theirs)
        return ([(here["start_line"] + i, a, b) for i, a, b in mine],
                [(match["start_line"] + j, a, b) for j, a, b in other])

    def span_rows(self) -> tuple[int, int | None]:
        """Where the span starts in each pane's text, counted from 0 (the right one None
        when no training location is stored)."""
        view = self.view
        left = view.here["start_line"] - 1
        if not view.matches:
            return left, None
        match = view.matches[self.match_index]
        return left, match["start_line"] - (match["context_start"] or 1)

    def _align(self) -> None:
        """Put the span on the same screen row in both panes, with up to CONTEXT lines
        above it: the text whose span starts earlier gets blank rows above it, the shorter
        one blank rows below, so both panes scroll alike, and both scroll to the span.
        Stacked panes (a narrow screen) scroll each on its own, without blank rows."""
        if self.view is None:
            return
        codes = [self.query_one("#left-code", Static), self.query_one("#right-code", Static)]
        a, b = self.span_rows()
        starts = [a] if b is None or self.has_class("narrow") else [a, b]
        for code in codes:
            code.styles.margin = (0, 0, 0, 0)
        if len(starts) == 2:
            first = max(starts)
            heights = [code.size.height + first - start for code, start in zip(codes, starts)]
            for code, start, height in zip(codes, starts, heights):
                code.styles.margin = (first - start, 0, max(heights) - height, 0)
            starts = [first, first]
        elif b is not None:
            starts = [a, b]
        self.call_after_refresh(self._scroll_to_span, starts)

    def _scroll_to_span(self, starts: list[int]) -> None:
        """Each pane scrolled to its span, up to CONTEXT lines above it (fewer in a pane too
        short for them and the span's first line)."""
        for pane, start in zip((self.query_one("#left", CodePane), self.query_one("#right", CodePane)), starts):
            above = min(CONTEXT, max(0, pane.size.height - 1) // 2)
            pane.scroll_to(x=0, y=max(0, start - above), animate=False)

    # -- actions -------------------------------------------------------------------
    def action_match(self, step: int) -> None:
        if self.view is None:
            return
        if len(self.view.matches) < 2:
            self.notify("no other training location stored")
            return
        self.match_index = (self.match_index + step) % len(self.view.matches)
        self._show_match()

    def action_span(self, step: int) -> None:
        """The output's next (previous) memorized span: another snippet."""
        view = self.view
        if view is None:
            return
        if len(view.spans) < 2:
            self.notify("no other memorized span in this output")
            return
        here = view.here
        spans = sorted(view.spans, key=lambda s: (s["start_line"], s["end_line"], s["fingerprint"]))
        at = next((i for i, s in enumerate(spans) if s["fingerprint"] == self.fingerprint
                   and s["start_line"] == here["start_line"]), 0)
        span = spans[(at + step) % len(spans)]
        self._load(span["fingerprint"], here["output_id"], span["start_line"])

    def action_output(self, step: int) -> None:
        """The next (previous) output that holds this snippet."""
        view = self.view
        if view is None:
            return
        if len(view.locations) < 2:
            self.notify("no other output holds this snippet")
            return
        loc = view.locations[(view.location + step) % len(view.locations)]
        self._load(self.fingerprint, loc["output_id"], loc["start_line"])

    def action_copy(self) -> None:
        self.app.copy_fingerprint(self.fingerprint)

    def action_copy_text(self) -> None:
        """The snippet's text as the output has it."""
        if self.view is not None:
            text = self.view.snippet["text"] or ""
            self.app.copy_text(text, f"the snippet's text ({len(text.splitlines())} lines)")

    def match_place(self) -> tuple[str, int] | None:
        """The shown training match as (document, first line), or None."""
        if self.view is None or not self.view.matches:
            return None
        match = self.view.matches[self.match_index]
        return match["doc"], int(match["start_line"])

    def action_copy_place(self) -> None:
        place = self.match_place()
        if place is None:
            self.notify("no training location stored")
            return
        self.app.copy_text(f"{place[0]}:{place[1]}", visible(f"{place[0]}:{place[1]}"))

    def action_edit(self) -> None:
        """The training match's file in ``$VISUAL`` or ``$EDITOR`` (else vi) at its line,
        the app suspended meanwhile: a file of a directory corpus on this machine."""
        place = self.match_place()
        if place is None:
            self.notify("no training location stored")
            return
        path = match_file(self.view.scan["corpus"], place[0])
        if path is None:
            self.notify(f"{visible(place[0])} is not a file on this machine (records and datasets have none)",
                        severity="warning")
            return
        editor = shlex.split(os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi")
        try:
            with self.app.suspend():
                subprocess.run([*editor, f"+{place[1]}", str(path)], check=False)
        except SuspendNotSupported:
            self.notify("this terminal cannot hand itself to an editor", severity="warning")
        except OSError as exc:
            self.notify(f"cannot start {visible(editor[0])}: {exc.strerror or exc}", severity="error")

    def action_switch_pane(self) -> None:
        left = self.query_one("#left", CodePane)
        (self.query_one("#right", CodePane) if left.has_focus else left).focus()
