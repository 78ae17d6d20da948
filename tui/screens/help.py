"""``?``: the keys of the screen beneath, with what each does."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Static


def screen_keys(screen: Screen) -> list[tuple[str, str]]:
    """(key, description) of every binding active on ``screen``, screen's own first."""
    seen: dict[str, str] = {}
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if not binding.description or binding.action in ("help",):
            continue
        seen.setdefault(screen.app.get_key_display(binding), binding.description)
    return list(seen.items())


class HelpScreen(ModalScreen):
    """Lists the keys of the screen it was opened over."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: auto; max-width: 90%; height: auto; max-height: 90%;
                            border: round $accent; background: $surface; padding: 0 1; }
    HelpScreen DataTable { height: auto; max-height: 100%; width: auto; }
    """
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, over: Screen, extra: list[tuple[str, str]] | None = None) -> None:
        super().__init__()
        self.over = over
        self.extra = extra or []

    def compose(self) -> ComposeResult:
        title = getattr(self.over, "HELP_TITLE", None) or type(self.over).__name__.removesuffix("Screen")
        with Vertical():
            yield Static(f"[b]{title}[/]: keys (escape closes)")
            table = DataTable(show_cursor=False)
            table.add_columns("key", "action")
            for key, text in [*screen_keys(self.over), *self.extra]:
                table.add_row(key, text)
            yield table

    def action_dismiss(self) -> None:
        self.dismiss()
