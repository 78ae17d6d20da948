"""A pane of code for the side-by-side viewer."""
from __future__ import annotations

from textual.binding import Binding
from textual.containers import ScrollableContainer


class CodePane(ScrollableContainer):
    """A focusable pane of code that scrolls both ways; j/k/h/l scroll it too."""

    BINDINGS = [
        Binding("j", "scroll_down", "Scroll down", show=False),
        Binding("k", "scroll_up", "Scroll up", show=False),
        Binding("h", "scroll_left", "Scroll left", show=False),
        Binding("l", "scroll_right", "Scroll right", show=False),
    ]
