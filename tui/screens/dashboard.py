"""The dashboard: every study, language-model training, LM sampling, scan and
k-extractability run, live.

The rows come from :func:`engine.overview.overview`, read in a thread every poll; cells are
updated in place and the cursor stays on its item. Store writes (cancel, resume, delete)
run in a thread worker; a refused one becomes a notification.
"""
from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.events import Resize
from textual.widgets import DataTable, Footer, Header, Input, Static

from engine.errors import InputError
from engine.overview import (STATE_ORDER, WHAT_GOES, Item, Overview, age, bar, cancel_item, clip, delete_item,
                             duration, overview, resume_item)
from engine.store import ACTIVE, Store
from engine.untrusted import visible
from tui.screens.base import PolledScreen, describe
from tui.screens.confirm import ConfirmScreen
from tui.widgets.keytable import KeyTable

COLUMNS = (("kind", "kind"), ("id", "id"), ("name", "name"), ("state", "state"), ("progress", "progress"),
           ("ETA", "eta"), ("device", "device"), ("age", "age"), ("detail", "detail"))
STATE_STYLES = {"running": "bold green", "queued": "yellow", "failed": "bold red", "cancelled": "dim"}
FINISHED = ("done", "cancelled")  # what h hides
# a column's header sorts the rows by it, within each kind while the rows are grouped by
# kind (u ungroups them); the same header again reverses the order
SORT_KEYS = {
    "id": lambda item: item.id, "name": lambda item: visible(item.name).casefold(),
    "state": lambda item: STATE_ORDER.index(item.state) if item.state in STATE_ORDER else len(STATE_ORDER),
    "progress": lambda item: item.progress, "eta": lambda item: (item.eta is None, item.eta or 0.0),
    "device": lambda item: item.device, "age": lambda item: item.age,
}
NARROW = 110  # below this width the progress bar is shorter


MARK = "● "  # before the name of a study marked for the overlay


DEVICE_WIDTH = 16  # "cuda:0" to "cuda:0,cuda:1,…": the runs of a study on eight GPUs do not squeeze the names


def cells(item: Item, name_w: int, detail_w: int, bar_w: int, marked: bool = False) -> tuple[str, ...]:
    """The plain text of a row's cells (compared between polls to update only what changed);
    names and details escaped before they are clipped to their width (a marked study's
    name after :data:`MARK`)."""
    name = (MARK if marked else "") + visible(item.name)
    return (item.kind, str(item.id), clip(name, name_w), item.state, bar(item.progress, bar_w),
            duration(item.eta) if item.state in ACTIVE else "-", clip(visible(item.device), DEVICE_WIDTH), age(item.age),
            clip(visible(item.detail), detail_w))


def styled(column: str, value: str) -> Text:
    """A cell as plain text (never markup), a state in its colour."""
    return Text(value, style=STATE_STYLES.get(value, "") if column == "state" else "")


class DashboardScreen(PolledScreen):
    """Studies, LM trainings, samplings and scans with their state, progress and ETA."""

    HELP_TITLE = "Dashboard"
    CSS_PATH = "../styles/dashboard.tcss"
    BINDINGS = [
        Binding("enter", "open", "Open", priority=True),
        Binding("n", "new_study", "Study"),
        Binding("s", "new_sampling", "Sample"),
        Binding("x", "new_scan", "Scan"),
        Binding("c", "cancel", "Cancel"),
        Binding("r", "resume", "Resume"),
        Binding("d", "delete", "Delete"),
        Binding("w", "start_worker", "Worker"),
        Binding("l", "log", "Log of the item's jobs", show=False),
        Binding("slash", "filter", "Filter", show=False),
        Binding("h", "hide_finished", "Hide finished", show=False),
        Binding("u", "group", "Ungroup the kinds into one list by age, or group them", show=False),
        Binding("space", "mark", "Mark study", show=False),
        Binding("v", "overlay", "Overlay marked studies", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[str, Item] = {}
        self.data: Overview | None = None
        self._shown: dict[str, tuple[str, ...]] = {}
        self._shown_widths: tuple[int, int, int] | None = None
        self.marked: list[int] = []  # studies marked for the overlay, in the order marked
        self.filter_text = ""  # the / filter: rows whose kind, id, name, state or detail hold it (case aside)
        self.hide_finished = False  # h: rows that are done or cancelled are not shown
        self.sort: tuple[str, bool] | None = None  # (column, reversed) chosen with a header; None: newest last
        self.grouped = True  # u: the rows grouped by kind (studies, LM trainings, samplings, scans), or one list

    def compose(self) -> ComposeResult:
        yield Header()
        table = KeyTable(id="items")
        for label, key in COLUMNS:
            table.add_column(label, key=key)
        yield table
        yield Input(placeholder="filter: kind, name, state or detail (escape clears)", id="filter", compact=True)
        yield Static("", id="info")
        yield Static("", id="machine")
        yield Static("reading the store…", id="status", classes="status")
        yield Footer(compact=True)

    @property
    def table(self) -> KeyTable:
        return self.query_one("#items", KeyTable)

    # -- polling ---------------------------------------------------------------------
    def read(self, store: Store) -> Overview:
        return overview(store, self.app.clock())

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False

    def show(self, data: Overview) -> None:
        self.data = data
        self.items = {item.key: item for item in data.items}
        self.marked = [i for i in self.marked if f"study:{i}" in self.items]  # a study deleted meanwhile: unmarked
        self._render_rows(self.visible_items())
        machine = self.query_one("#machine", Static)
        machine.display = bool(data.machine)  # the worker's machine, while a worker samples it
        machine.update(Text(data.machine))
        self._show_info()

    def visible_items(self) -> list[Item]:
        """The items the table shows: those the filter and h leave."""
        if self.data is None:
            return []
        query = self.filter_text.strip().casefold()
        items = [item for item in self.data.items
                 if not (self.hide_finished and item.state in FINISHED)
                 and (not query or query in " ".join((item.kind, str(item.id), visible(item.name), item.state,
                                                      visible(item.detail))).casefold())]
        column, reverse = self.sort or ("age", True)  # unsorted: each kind's own order, or oldest first
        if not self.grouped:
            return sorted(items, key=SORT_KEYS[column], reverse=reverse)
        if self.sort is not None:
            kinds = list(dict.fromkeys(item.kind for item in items))  # the store's order of kinds
            items = [item for kind in kinds
                     for item in sorted((i for i in items if i.kind == kind), key=SORT_KEYS[column], reverse=reverse)]
        return items

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        """A click on a header sorts by its column (within each kind while grouped), again
        reverses it."""
        column = str(event.column_key.value)
        if column not in SORT_KEYS:
            self.notify(f"the rows are not sorted by {column}; sortable: {', '.join(SORT_KEYS)}")
            return
        same = self.sort is not None and self.sort[0] == column
        self.sort = (column, not self.sort[1]) if same else (column, False)
        self._render_rows(self.visible_items())
        self._show_info()

    def _show_status(self) -> None:
        data = self.data
        if data is None:
            return
        text = data.status if data.items or data.worker_pid else f"{data.status} · nothing here yet: n, s or x starts something"
        hidden = len(data.items) - self.table.row_count  # the table holds the visible items
        if hidden:
            why = " and ".join(filter(None, (f"filter {self.filter_text.strip()!r}" if self.filter_text.strip() else "",
                                             "h" if self.hide_finished else "")))
            text += f" · {hidden} of {len(data.items)} hidden ({why})"
        self.query_one("#status", Static).update(Text(visible(text)))

    def on_resize(self, event: Resize) -> None:
        if self.data is not None:
            self._render_rows(self.visible_items())

    def _widths(self, items: list[Item]) -> tuple[int, int, int]:
        """(name, detail, bar) widths that fill the screen's width without overflow."""
        width = self.size.width or self.app.size.width
        bar_w = 6 if width < NARROW else 10
        rows = [cells(item, 0, 0, bar_w) for item in items]
        fixed = sum(max([len(label), *(len(r[n]) for r in rows)])
                    for n, (label, key) in enumerate(COLUMNS) if key not in ("name", "detail"))
        room = width - 2 - 2 * self.table.cell_padding * len(COLUMNS) - fixed
        name_w = min(max(room * 2 // 5, 6), 40)
        return name_w, max(room - name_w, 8), bar_w

    def _render_rows(self, items: list[Item]) -> None:
        """Bring the table to ``items``: append new rows, update changed cells (their
        column widens when needed), and rebuild only when rows went away or moved or the
        screen's width changed; the cursor stays on its item."""
        table = self.table
        keys = [item.key for item in items]
        shown = list(self._shown)
        at = self.current_key()
        row = table.cursor_row
        widths = self._widths(items)
        if shown != keys[: len(shown)] or widths != self._shown_widths:
            # rows went away or moved, or the screen's width changed: columns fit anew
            table.clear()
            for column in table.columns.values():
                column.content_width = column.label.cell_len
            self._shown.clear()
            shown = []
        self._shown_widths = widths
        name_w, detail_w, bar_w = widths
        for item in items:
            values = cells(item, name_w, detail_w, bar_w, item.kind == "study" and item.id in self.marked)
            old = self._shown.get(item.key)
            if old is None:
                table.add_row(*(styled(key, v) for (_, key), v in zip(COLUMNS, values)), key=item.key)
            else:
                for (_, key), new, was in zip(COLUMNS, values, old):
                    if new != was:
                        table.update_cell(item.key, key, styled(key, new), update_width=True)
            self._shown[item.key] = values
        if at is not None and at != self.current_key() and table.row_count:
            table.move_cursor(row=keys.index(at) if at in keys else min(row, table.row_count - 1), animate=False)

    # -- the highlighted item ----------------------------------------------------------
    def current_key(self) -> str | None:
        table = self.table
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def current_item(self) -> Item | None:
        return self.items.get(self.current_key() or "")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_info()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """A click on the highlighted row opens it, as enter does (and as in the browser)."""
        self.action_open()

    def _show_info(self) -> None:
        self._show_status()
        item = self.current_item()
        text = "" if item is None else f"{item.kind} {item.id}: {item.name} · {item.state} · {item.detail}"
        if self.marked:
            text += f" · marked for v (overlay): studies {', '.join(map(str, self.marked))}"
        self.query_one("#info", Static).update(Text(visible(text)))

    # -- actions -----------------------------------------------------------------------
    def action_open(self) -> None:
        box = self.query_one("#filter", Input)
        if box.has_focus:  # enter in the filter (a priority key here): keep it, back to the rows
            self.table.focus()
            box.display = bool(self.filter_text.strip())
            return
        item = self.current_item()
        if item is None:
            return
        if item.kind == "study":
            self.app.open_study(item.id)
        elif item.kind == "scan":
            if item.state == "done":
                self.app.open_scan(item.id)
            else:
                self.notify(f"scan {item.id} is {item.state}; it opens when it is done")
        elif item.kind == "sampling":
            if item.done_scan is not None:
                self.app.open_scan(item.done_scan)
            else:
                self.notify(f"sampling {item.id}: {item.detail}; no finished scan of it yet (x scans it)")
        elif item.kind == "extraction":
            from tui.screens.extraction import ExtractionScreen

            self.app.push_screen(ExtractionScreen(item.id))
        elif item.kind == "extractable":
            from tui.screens.extractable import ExtractableScreen

            self.app.push_screen(ExtractableScreen(item.id))
        elif item.kind == "demo":
            self.notify(f"the demo ({item.state}): {item.detail}; its studies, sampling and scan have rows of their own")
        else:  # a language model's training: its loss curve
            from tui.screens.lm import LMScreen

            self.app.push_screen(LMScreen(item.id))

    def action_new_study(self) -> None:
        self.app.action_new_study()

    def action_new_sampling(self) -> None:
        self.app.action_new_sampling()

    def action_new_scan(self) -> None:
        item = self.current_item()
        set_id = None
        if item is not None and item.kind == "sampling":
            set_id = item.id
        elif item is not None and item.kind == "scan":
            set_id = item.set_id
        self.app.action_new_scan(set_id)

    def action_start_worker(self) -> None:
        self.app.action_start_worker()

    def action_mark(self) -> None:
        """Mark the highlighted study for the overlay, or unmark it."""
        item = self.current_item()
        if item is None or item.kind != "study":
            self.notify("space marks studies, to overlay their curves with v")
            return
        if item.id in self.marked:
            self.marked.remove(item.id)
        else:
            self.marked.append(item.id)
        if self.data is not None:
            self._render_rows(self.visible_items())
        self._show_info()

    def action_log(self) -> None:
        item = self.current_item()
        if item is None:
            return
        from tui.screens.log import LogScreen

        self.app.push_screen(LogScreen(item.kind, item.id, item.name))

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        """The filter applies as it is typed."""
        self.filter_text = event.value
        self._render_rows(self.visible_items())
        self._show_info()

    def on_key(self, event) -> None:
        box = self.query_one("#filter", Input)
        if event.key == "escape" and (box.has_focus or box.value):  # escape clears the filter, wherever the focus
            event.stop()
            box.value = ""
            box.display = False
            self.table.focus()

    def action_hide_finished(self) -> None:
        self.hide_finished = not self.hide_finished
        self._render_rows(self.visible_items())
        self._show_info()

    def action_group(self) -> None:
        self.grouped = not self.grouped
        self._render_rows(self.visible_items())
        self._show_info()
        self.notify("grouped by kind" if self.grouped else "one list, by age (a header sorts it)")

    def action_overlay(self) -> None:
        """The marked studies' curves in one plot (two or more)."""
        studies = list(self.marked)
        if len(studies) < 2:
            self.notify("mark two studies or more with space, then v overlays their curves")
            return
        from tui.screens.overlay import OverlayScreen

        self.app.push_screen(OverlayScreen(studies))

    def action_cancel(self) -> None:
        item = self.current_item()
        if item is not None:
            self._write(lambda store: cancel_item(store, item))

    def action_resume(self) -> None:
        item = self.current_item()
        if item is None:
            return

        def resume(store: Store) -> str:
            n = resume_item(store, item)
            if not n:
                return f"{item.kind} {item.id}: nothing to resume"
            self.app.ensure_worker()
            return f"{item.kind} {item.id}: {n} job(s) queued again"

        self._write(resume)

    def action_delete(self) -> None:
        item = self.current_item()
        if item is None:
            return
        scans = [i for i in self.items.values() if i.kind == "scan" and i.set_id == item.id and item.kind == "sampling"]
        busy = next((i for i in [item, *scans] if i.state == "running"), None)
        if busy is not None:
            self.notify(f"{busy.kind} {busy.id} is running: cancel it first", severity="warning")
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._write(lambda store: delete_item(store, item))

        self.app.push_screen(
            ConfirmScreen(f"Delete {item.kind} {item.id} ({item.name}) with {WHAT_GOES[item.kind]}?"), confirmed)

    def _write(self, change: Callable[[Store], str]) -> None:
        """Run a store write in a thread; say what it did (or why not), then re-read."""

        def said(message: str) -> None:
            self.notify(message)
            self.refresh_data()

        def refused(exc: Exception) -> None:  # an InputError, or a locked or broken database
            self.notify(describe(exc), severity="warning" if isinstance(exc, InputError) else "error")
            self.refresh_data()

        self.run_with_store(change, said, refused, group="write")
