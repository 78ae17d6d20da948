"""The app's table (tui.widgets.keytable): cells as plain text, and lines drawn again
when the table measures cells wider than the lines it drew.

DataTable measures new rows when idle; a line drawn in between keeps the old column
widths until something else redraws it (Textual issues 3533 and 4470). It made the
extraction-study snapshot cut "top_k=40" to "top_k=4" in about one run in ten.
"""
from __future__ import annotations

import asyncio

from rich.text import Text
from textual.app import App

from tui.widgets.keytable import KeyTable, safe_cell


def _redraws(cells: list[str]) -> list[int]:
    """The column's width at each redraw the table asks for with its lines made stale when
    it measures ``cells``, each added as a row of a one-column table labelled "setting"."""
    class One(App):
        def compose(self):
            table = KeyTable(id="t")
            table.add_column("setting", key="setting")
            yield table

    async def run() -> list[int]:
        app = One()
        async with app.run_test(size=(40, 8)) as pilot:
            await pilot.pause()
            table = app.query_one("#t", KeyTable)
            for n, cell in enumerate(cells):
                table.add_row(Text(cell), key=str(n))
            new_rows, table._new_rows = set(table._new_rows), set()
            asked = []
            real = table.refresh
            table.refresh = lambda *a, **k: (asked.append((table._widths()[0], table._update_count)), real(*a, **k))[1]
            before = table._update_count
            table._update_dimensions(new_rows)  # the idle measure, called at once
            return [width for width, version in asked if version > before]

    return asyncio.run(run())


def test_a_wider_cell_redraws_the_lines_at_the_new_width():
    assert _redraws(["top_k=40"]) == [10]  # " top_k=40 ": 8 characters and the cell padding


def test_cells_within_the_label_redraw_nothing():
    assert _redraws(["k=5", "k=40"]) == []


def test_cells_are_plain_text():
    cell = safe_cell("[b]x[/b]\x1b[2J")
    assert isinstance(cell, Text) and "[b]x[/b]" in cell.plain and "\x1b" not in cell.plain
