"""A k-extractability run (enter on its dashboard row; :mod:`engine.extractable`): the
extractable rate, the distribution of the longest correct greedy prefixes, and the
windows, longest first; the highlighted window's prefix, the part of its suffix greedy
decoding reproduced, the rest, and what greedy decoding gave instead."""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Footer, Header, Static
from textual_plotext import PlotextPlot

from engine.overview import clip
from engine.untrusted import visible
from tui.screens.base import PolledScreen, SubScreen
from tui.widgets.keytable import KeyTable

SHOWN = 1000  # windows listed, longest correct prefix first
COLUMNS = ("window", "correct", "matches", "offset", "document")


def window_text(w: dict) -> Text:
    """The prefix (dim), the reproduced part of the suffix (green), the rest (red), and
    greedy decoding's token at the first miss: untrusted text, escaped, never markup."""
    text = Text()
    text.append(visible(w["prefix_text"] or "", newlines=True), style="dim")
    suffix, right = w["suffix_text"] or "", w["correct_text"] or ""
    if w["correct"] is None:
        text.append(visible(suffix, newlines=True))
        return text
    if not suffix.startswith(right):  # a token boundary inside a character: the whole suffix
        right = ""
    text.append(visible(right, newlines=True), style="bold green")
    text.append(visible(suffix[len(right):], newlines=True), style="bold red")
    if w["miss_text"] is not None:
        text.append(f"   greedy gave “{visible(w['miss_text'])}” instead", style="italic")
    return text


DOC_WIDTH = 80  # a document name's cells in the list: a long one would widen the table past the screen


class ExtractableScreen(PolledScreen, SubScreen):
    """One k-extractability run, live."""

    HELP_TITLE = "k-extractability"
    DEFAULT_CSS = """
    ExtractableScreen #x-title { height: auto; max-height: 3; padding: 0 1; background: $panel; }
    ExtractableScreen #x-hist { height: 1fr; min-height: 3; }
    ExtractableScreen #x-windows { height: 1fr; min-height: 3; }
    ExtractableScreen #x-window { height: auto; max-height: 8; padding: 0 1; background: $boost; }
    """

    def __init__(self, run_id: int) -> None:
        super().__init__()
        self.run_id = run_id
        self.windows: dict[str, dict] = {}
        self._drawn: tuple | None = None
        self._listed: tuple | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"k-extractability run {self.run_id}", id="x-title")
        yield PlotextPlot(id="x-hist")
        table = KeyTable(id="x-windows", cursor_type="row")
        for column in COLUMNS:
            table.add_column(column, key=column)
        yield table
        yield Static("", id="x-window")
        yield Footer(compact=True)

    def read(self, store) -> tuple[dict, dict, list[dict], dict | None]:
        jobs = store.jobs_of("extractable", self.run_id)
        return (store.extractable_run(self.run_id), store.extractable_summary(self.run_id),
                store.windows(self.run_id, limit=SHOWN), jobs[-1] if jobs else None)

    def show(self, read) -> None:
        run, s, windows, job = read
        state = "no job" if job is None else job["state"] + (f" · {job['message']}" if job.get("message") else "")
        self.query_one("#x-title", Static).update(Text(visible(
            f"run {run['id']}: {run['name']} · {run['model']} on {run['corpus_label']} · {s['extractable']} of "
            f"{s['scored']} windows extractable ({s['rate']:.1%}) · {run['prefix']}-token prefix, "
            f"{run['suffix']}-token suffix, greedy · teacher-forced tokens right {s['mean_matches']:.1%} · {state}")))
        counts = s["correct_counts"]
        if (self.size, counts) != self._drawn:
            self._drawn = (self.size, counts)
            self._draw(counts, int(run["suffix"]))
        listed = tuple((w["id"], w["correct"]) for w in windows)
        if listed != self._listed:
            self._listed = listed
            self._list(windows)

    def _draw(self, counts: dict[int, int], suffix: int) -> None:
        plot = self.query_one("#x-hist", PlotextPlot)
        plt = plot.plt
        plt.clear_figure()
        total = sum(counts.values())
        plt.title(f"longest correct greedy prefix of the suffix (tokens), {total} windows" if total
                  else "no window scored yet")
        if total:
            xs = list(counts)
            plt.bar(xs, [counts[x] for x in xs], color=[(80, 200, 120) if x == suffix else (70, 150, 230) for x in xs],
                    width=0.8)
            plt.xlabel(f"tokens ({suffix}: extractable)")
            top = max(counts.values())
            plt.ylim(0, top)
            plt.yticks(list(range(0, top + 1, max(1, -(-top // 4)))))  # whole windows
        plot.refresh()

    def _list(self, windows: list[dict]) -> None:
        table = self.query_one("#x-windows", KeyTable)
        at = table.cursor_row
        table.clear()
        self.windows = {}
        for w in windows:
            key = str(w["id"])
            self.windows[key] = w
            table.add_row(key, "-" if w["correct"] is None else str(w["correct"]),
                          "-" if w["matches"] is None else str(w["matches"]), str(w["offset"]),
                          Text(clip(visible(w["doc"]), DOC_WIDTH)), key=key)
        if table.row_count:
            table.move_cursor(row=min(at, table.row_count - 1), animate=False)
        self._show_window()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_window()

    def _show_window(self) -> None:
        table = self.query_one("#x-windows", KeyTable)
        detail = self.query_one("#x-window", Static)
        if not table.row_count:
            detail.update("")
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        detail.update(window_text(self.windows[key]))
