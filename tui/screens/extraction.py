"""An extraction study (enter on its dashboard row; engine.extraction): one line per point
of its grid, memorized snippets against the number of outputs (the study's
memorization trend, per point), and each point's figures once its scan is done."""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Footer, Header, Static
from textual_plotext import PlotextPlot

from engine.untrusted import visible
from tui.curves import level_colour
from tui.screens.base import PolledScreen, SubScreen
from tui.widgets.keytable import KeyTable

COLUMNS = ("point", "setting", "state", "outputs", "snippets", "holding one", "share")


class ExtractionScreen(PolledScreen, SubScreen):
    """One extraction study, live."""

    HELP_TITLE = "Extraction study"
    DEFAULT_CSS = """
    ExtractionScreen #e-title { height: auto; max-height: 3; padding: 0 1; background: $panel; }
    ExtractionScreen #e-trend { height: 2fr; min-height: 8; }
    ExtractionScreen #e-points { height: 1fr; min-height: 4; }
    """

    def __init__(self, study_id: int) -> None:
        super().__init__()
        self.study_id = study_id
        self.rows: list[dict] = []
        self._drawn: tuple | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"extraction study {self.study_id}", id="e-title")
        yield PlotextPlot(id="e-trend")
        table = KeyTable(id="e-points")
        for column in COLUMNS:
            table.add_column(column, key=column)
        yield table
        yield Footer(compact=True)

    def read(self, store) -> tuple[dict, list[dict]]:
        from engine.extraction import point_rows

        return store.extraction_study(self.study_id), point_rows(store, self.study_id)

    def show(self, read: tuple[dict, list[dict]]) -> None:
        study, rows = read
        self.rows = rows
        done = sum(r["state"] == "done" for r in rows)
        self.query_one("#e-title", Static).update(Text(visible(
            f"extraction study {study['id']}: {study['name']} · {study['corpus_label']} · {done}/{len(rows)} points "
            f"scanned · grid {', '.join(f'{k}: {len(v)}' for k, v in study['grid'].items()) or 'none'}")))
        table = self.query_one("#e-points", KeyTable)
        at = table.cursor_row
        table.clear()
        for r in rows:
            table.add_row(str(r["point"]), Text(visible(r["label"])), r["state"],
                          *("-" if r[k] is None else f"{r[k]:,}" for k in ("outputs", "snippets", "memorized_outputs")),
                          "-" if r["share"] is None else f"{r['share']:.1%}", key=str(r["point"]))
        if table.row_count:
            table.move_cursor(row=min(at, table.row_count - 1), animate=False)
        drawn = (self.size, tuple((r["point"], tuple((t["outputs"], t["snippets"]) for t in r["trend"])) for r in rows))
        if drawn != self._drawn:
            self._drawn = drawn
            self._draw(rows)

    def _draw(self, rows: list[dict]) -> None:
        plot = self.query_one("#e-trend", PlotextPlot)
        plt = plot.plt
        plt.clear_figure()
        plt.title("memorized snippets against the number of outputs, per point")
        plt.xlabel("outputs")
        shown = [r for r in rows if r["trend"]]
        for i, r in enumerate(shown):
            xs = [t["outputs"] for t in r["trend"]]
            colour = level_colour(100.0 * i / max(len(shown) - 1, 1))
            plt.plot(xs, [t["snippets"] for t in r["trend"]], label=visible(r["label"]), marker="braille", color=colour)
        plot.refresh()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a scanned point opens its scan's snippets."""
        row = next((r for r in self.rows if str(r["point"]) == event.row_key.value), None)
        if row is not None and row["state"] == "done":
            self.app.open_scan(row["scan_id"])
