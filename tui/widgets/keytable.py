"""A DataTable driven from the keyboard the way a pager is: j/k, g/G, page keys."""
from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from engine.untrusted import is_visible, visible


def safe_cell(value: object) -> object:
    """A cell as it is shown: a string as plain ``Text`` (DataTable would read it as
    markup), its control characters escaped; a ``Text`` escaped if it holds any."""
    if isinstance(value, str):
        return Text(visible(value))
    if isinstance(value, Text) and not is_visible(value.plain):
        return Text(visible(value.plain), style=value.style, justify=value.justify)
    return value


class KeyTable(DataTable):
    """DataTable with j/k to move and g/G to jump to the first/last row (row cursor); every
    cell goes through :func:`safe_cell`."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "first", "First", show=False),
        Binding("G", "last", "Last", show=False),
    ]

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("cursor_type", "row")
        kwargs.setdefault("zebra_stripes", True)
        super().__init__(*args, **kwargs)

    def add_row(self, *cells, **kwargs):
        return super().add_row(*map(safe_cell, cells), **kwargs)

    def update_cell(self, row_key, column_key, value, **kwargs) -> None:
        super().update_cell(row_key, column_key, safe_cell(value), **kwargs)

    def action_first(self) -> None:
        if self.row_count:
            self.move_cursor(row=0)

    def action_last(self) -> None:
        if self.row_count:
            self.move_cursor(row=self.row_count - 1)
