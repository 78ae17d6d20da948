"""The memorization browser's table of snippets."""
from __future__ import annotations

from textual.binding import Binding

from tui.widgets.keytable import KeyTable


class SnippetTable(KeyTable):
    """The browser's table: g/G jump to the first/last page, not just to the loaded rows;
    its actions are the screen's (so the palette's commands run them too)."""

    BINDINGS = [Binding("enter", "view", "View")]

    def action_view(self) -> None:
        self.screen.action_view()

    def action_first(self) -> None:
        self.screen.action_first()

    def action_last(self) -> None:
        self.screen.action_last()
