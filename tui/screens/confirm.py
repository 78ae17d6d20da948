"""A yes/no question over the current screen (the dashboard asks before deleting)."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from rich.text import Text
from textual.widgets import Static

from engine.untrusted import visible


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question: y or enter confirms, n or escape aborts."""

    CSS_PATH = "../styles/confirm.tcss"
    BINDINGS = [
        Binding("y,enter", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(visible(self.question)), id="question")
            yield Static("y / enter: yes    n / escape: no", classes="muted")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
