"""``?``: the keys of the screen beneath, with what each does."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable


def _own_keys(node) -> set[str]:
    """The keys that byrote's own classes bind on ``node`` (not Textual's generic ones)."""
    keys: set[str] = set()
    for cls in type(node).__mro__:
        if cls.__module__.startswith("tui."):
            for binding in vars(cls).get("BINDINGS", ()):
                key = binding.key if isinstance(binding, Binding) else binding[0]
                keys.update(k.strip() for k in key.split(","))
    return keys


def screen_keys(screen: Screen, ids: bool = False) -> list[tuple]:
    """(key, description) of every binding active on ``screen``: the screen's own first,
    then those its focused widget has from byrote (a table's j/k), then the generic ones
    (cursor keys, tab), then the app's; with ``ids``, each binding's id too (what the
    settings file's ``keys`` remaps), or "" for one without."""
    seen: dict[str, tuple] = {}
    own = {id(node): _own_keys(node) for node in {id(a.node): a.node for a in screen.active_bindings.values()}.values()}

    def rank(item) -> int:
        key, active = item
        if active.node is screen.app:
            return 3
        mine = key in own[id(active.node)]
        return (0 if mine else 2) if active.node is screen else (1 if mine else 2)

    for _, active in sorted(screen.active_bindings.items(), key=rank):
        binding = active.binding
        if not binding.description or binding.action in ("help",):
            continue
        key = screen.app.get_key_display(binding)
        seen.setdefault(key, (binding.description, binding.id or "") if ids else (binding.description,))
    return [(key, *rest) for key, rest in seen.items()]


class HelpScreen(ModalScreen):
    """Lists the keys of the screen it was opened over."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: auto; max-width: 90%; height: auto; max-height: 90%;
                            border: round $accent; background: $surface; padding: 0 1; }
    HelpScreen DataTable { height: auto; max-height: 100%; width: auto; max-width: 100%; }
    """
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, over: Screen, extra: list[tuple[str, str]] | None = None) -> None:
        super().__init__()
        self.over = over
        self.extra = extra or []

    def compose(self) -> ComposeResult:
        title = getattr(self.over, "HELP_TITLE", None) or type(self.over).__name__.removesuffix("Screen")
        with Vertical() as box:  # the title on the border: the table alone fills the box, scrolling within
            box.border_title = f"[b]{title}[/]: keys (escape closes; an id remaps its key in the settings file)"
            table = DataTable(show_cursor=False)
            table.add_columns("key", "action", "id")
            for key, text, *rest in [*screen_keys(self.over, ids=True), *self.extra]:
                table.add_row(key, text, rest[0] if rest else "")
            yield table

    def action_dismiss(self) -> None:
        self.dismiss()
