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
    cell goes through :func:`safe_cell`; lines drawn before the columns were measured are
    drawn again at the measured widths."""

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

    def _update_dimensions(self, new_rows) -> None:
        before = self._widths()
        super()._update_dimensions(new_rows)
        self._redraw_on_new_widths(before)

    def _update_column_widths(self, updated_cells) -> None:
        before = self._widths()
        super()._update_column_widths(updated_cells)
        self._redraw_on_new_widths(before)

    def _widths(self) -> list[int]:
        return [column.get_render_width(self) for column in self.ordered_columns]

    def _redraw_on_new_widths(self, before: list[int]) -> None:
        """DataTable measures new cells when idle, but keeps the lines it drew meanwhile at
        the old widths (Textual issues 3533 and 4470): a cell shown cut until the next
        change of the table. A new widths' version makes those lines stale."""
        if self._widths() != before:
            self._update_count += 1
            self.refresh()

    def action_first(self) -> None:
        if self.row_count:
            self.move_cursor(row=0)

    def action_last(self) -> None:
        if self.row_count:
            self.move_cursor(row=self.row_count - 1)
