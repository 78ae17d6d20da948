"""The memorization browser: a finished scan's memorized snippets, sorted and filtered,
read from the store one keyset page at a time (a million rows scroll like ten)."""
from __future__ import annotations

from functools import partial

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Input, Static

from engine.errors import InputError
from engine.overview import clip, scan_name
from engine.store.browse import SNIPPET_ORDERS
from engine.untrusted import visible
from tui.paging import Window
from tui.screens.base import SubScreen, describe
from tui.widgets.snippet_table import SnippetTable

# the table's columns, left to right: the fingerprint, the counts, the first line
NUMBER_WIDTHS = {"len": 5, "train": 9, "extract": 9}  # room for the label and its arrow
COLUMNS = ("fingerprint", *NUMBER_WIDTHS, "first_line")
# each column is one of the store's sort orders (numbers largest first, text alphabetically;
# its key again reverses it): order -> column label, in the table's order
ORDERS = {key: key.replace("_", " ") for key in sorted(SNIPPET_ORDERS, key=COLUMNS.index)}
DEFAULT_ORDER = "extract"  # the outputs that reproduce a snippet: what the model emits by rote most
HEX = frozenset("0123456789abcdef")
SHORT_FINGERPRINT = 12  # characters of the fingerprint shown on a narrow terminal
WIDE = 110  # from this many columns on, the whole fingerprint is shown
PII_WIDTH = 4  # the pii column: a letter per kind found (engine.pii)
PII_LETTERS = {"email": "e", "ip": "i", "key": "k", "credential_url": "u"}


def parse_query(query: str) -> tuple[str, str]:
    """(fingerprint prefix, text) of a filter query: ``#abc``, or six or more hex digits
    (either case), is a prefix; ``"..."`` (quoted) and anything else is a case-insensitive
    text, so ``"decade"`` or ``2024`` can be searched as text; blank is no filter."""
    stripped = query.strip()
    if stripped.startswith("#"):
        return stripped[1:].strip().lower(), ""
    if len(stripped) >= 6 and set(stripped.lower()) <= HEX:
        return stripped.lower(), ""
    if len(stripped) >= 2 and stripped[0] == stripped[-1] == '"':
        return "", stripped[1:-1]
    return "", query if stripped else ""


def parse_pii(query: str) -> tuple[str | None, str]:
    """(personal-data filter, the rest of the query): a query may start with ``pii:`` (any
    kind) or ``pii:email`` (one kind, engine.pii.KINDS), then a space and a text or a
    prefix; None when it does not."""
    stripped = query.lstrip()
    if not stripped.lower().startswith("pii:"):
        return None, query
    head, _, rest = stripped.partition(" ")
    return head[4:].lower() or "any", rest


def filter_query(prefix: str, text: str, pii: str | None) -> str:
    """The query that gives this filter back (what the filter box shows): ``pii:KIND``,
    then ``#prefix`` or the text, quoted where it would read as something else."""
    query = f"#{prefix}" if prefix else text if parse_query(text) == ("", text) and parse_pii(text)[0] is None \
        else f'"{text}"'
    head = None if pii is None else "pii:" + ("" if pii == "any" else pii)
    return " ".join(part for part in (head, query) if part)


def describe_filter(prefix: str, text: str, pii: str | None = None) -> str:
    parts = [f"fingerprint {prefix}…" if prefix else f"text {text!r}" if text else ""]
    if pii is not None:
        parts.append("personal data" if pii == "any" else f"personal data: {pii}")
    return ", ".join(p for p in parts if p)


class BrowserScreen(SubScreen):
    """A scan's memorized snippets: sort by any column, filter by fingerprint or text."""

    HELP_TITLE = "Memorized snippets"
    CSS_PATH = "../styles/browser.tcss"
    PAGE_SIZE = 100
    PAGES = 3  # at most this many pages are loaded at once
    BINDINGS = [
        Binding("enter", "view", "View"),
        Binding("slash", "filter", "Filter"),
        Binding("o", "cycle_order", "Order"),
        Binding("y", "copy", "Copy fp"),
        Binding("a", "analyses", "Analyses", tooltip="The memorization trend, train/extract correlation and lengths"),
        Binding("r", "ranking", "Ranking signals: how each finds the memorized outputs", show=False),
        Binding("i", "pii", "Only the snippets holding personal data or secrets (again: all)", show=False),
        *(Binding(str(n), f"sort('{key}')", f"Sort by {label}", show=False)
          for n, (key, label) in enumerate(ORDERS.items(), 1)),
        Binding("g", "first", "First", show=False),
        Binding("G", "last", "Last", show=False),
    ]

    def __init__(self, scan_id: int, page_size: int | None = None, order: str = DEFAULT_ORDER,
                 reverse: bool = False) -> None:
        super().__init__()
        self.scan_id = scan_id
        self.page_size = page_size or self.PAGE_SIZE
        self.window = Window(self.page_size, self.PAGES * self.page_size)
        self.order = order if order in ORDERS else DEFAULT_ORDER
        self.reverse = reverse
        self.prefix = self.text = ""
        self.pii: str | None = None  # i, or a query pii:KIND: only snippets holding personal data
        self.flt = None  # the store's SnippetFilter, once built
        self.count: int | None = None
        self.scan: dict | None = None
        self.outputs = ""  # the output set's name
        self.total: int | None = None
        self.ready = False  # the scan is done and its rows are being browsed
        self.fetching: str | None = None
        self._generation = 0  # bumped by every new order or filter: older pages are dropped

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="title")
        yield SnippetTable(id="snippets")
        yield Input(placeholder="filter: #prefix, 6+ hex digits, text, or pii:[kind] (enter applies, escape clears)",
                    id="filter", compact=True)
        yield Static("", id="status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#filter").display = False
        self._check_scan()

    # -- reading, always in thread workers ----------------------------------------
    def _check_scan(self) -> None:
        self.run_with_store(self._read_scan, self._got_scan, self._read_failed, group="scan", exclusive=True)

    def _read_scan(self, store) -> tuple[dict, dict | None, str, int | None]:
        """(the scan, its last job, the output set's name, the number of snippets if done)."""
        scan = store.scan(self.scan_id)
        jobs = store.jobs_of("scan", self.scan_id)
        try:
            outputs = store.output_set(scan["set_id"])["name"] or f"set {scan['set_id']}"
        except InputError:
            outputs = f"set {scan['set_id']}"
        total = scan["stats"].get("snippets") if scan["state"] == "done" else None
        if scan["state"] == "done" and total is None:
            total = store.snippet_count(self.scan_id)
        return scan, jobs[-1] if jobs else None, outputs, total

    def _fetch(self, kind: str, order: tuple[str, bool], anchor: dict | None, flt, query: tuple, store):
        """(the filter, the page): the first or last page, or the one after/before ``anchor``,
        in ``order`` (the order and whether it is reversed); ``query`` is (prefix, text, pii)."""
        if flt is None:
            prefix, text, pii = query
            flt = store.snippet_filter(self.scan_id, prefix=prefix, text=text, pii=pii)
        return flt, store.snippet_page(flt, order[0], after=anchor if kind == "after" else None,
                                       before=anchor if kind == "before" else None,
                                       last=kind == "last", limit=self.page_size, reverse=order[1])

    def _request(self, kind: str) -> None:
        """Fetch a page: ``first``, ``last``, or the one ``after``/``before`` the window."""
        if not self.ready:
            return
        rows = self.window.rows
        anchor = rows[-1] if kind == "after" else rows[0] if kind == "before" else None
        if kind in ("after", "before") and anchor is None:
            return
        self.fetching = kind
        self._show_status()
        self.run_with_store(partial(self._fetch, kind, (self.order, self.reverse), anchor, self.flt,
                                    (self.prefix, self.text, self.pii)),
                            partial(self._got_page, self._generation, kind), self._read_failed,
                            group="page", exclusive=True)

    def _restart(self, new_filter: bool) -> None:
        """A new order or filter: drop what is loaded and read the first page."""
        self._generation += 1
        if new_filter:
            self.flt, self.count = None, None
        self._show_title()
        self._request("first")

    # -- results, on the UI thread -----------------------------------------------
    def _read_failed(self, exc: Exception) -> None:
        """A read that failed leaves nothing pending: the next key reads again."""
        self.fetching = None
        self._show_message(describe(exc))

    def _show_message(self, message: str) -> None:
        self.query_one("#status", Static).update(Text(visible(message)))

    def _got_scan(self, read: tuple[dict, dict | None, str, int | None]) -> None:
        scan, job, outputs, total = read
        self.scan, self.outputs, self.total = scan, outputs, total
        self._show_title()
        if scan["state"] != "done":
            message = f"scan {self.scan_id} is {scan['state']}"
            if job is not None and scan["state"] == "running":
                message += f": {job['progress'] or 0:.0%}"
            elif job is not None and job.get("error"):
                message += f": {job['error']}"
            self._show_message(message)
            self.set_timer(self.app.poll_s, self._check_scan)
            return
        self.ready = True
        self._restart(new_filter=True)

    def _got_page(self, generation: int, kind: str, page: tuple) -> None:
        if generation != self._generation:
            return  # of an order or filter since replaced
        flt, rows = page
        self.fetching = None
        new_filter = self.flt is None
        self.flt = flt
        table = self.query_one(SnippetTable)
        cursor = table.cursor_row
        if kind == "first":
            self.window.first(rows)
            cursor = 0
        elif kind == "last":
            self.window.last(rows)
            cursor = len(rows) - 1
        elif kind == "after":
            cursor -= self.window.append(rows)
        else:
            cursor += self.window.prepend(rows)
        self._fill(cursor, kind)
        if new_filter:  # counted once the page is painted: the rows come first
            self.call_after_refresh(self.run_with_store, partial(self._count, flt),
                                    partial(self._got_count, generation), self._read_failed,
                                    group="count", exclusive=True)
        self._show_status()

    @staticmethod
    def _count(flt, store) -> int:
        return store.snippet_filter_count(flt)

    def _got_count(self, generation: int, count: int) -> None:
        if generation == self._generation:
            self.count = count
            self._show_status()

    # -- the table ---------------------------------------------------------------
    def _fill(self, cursor: int, kind: str) -> None:
        """Show the window's rows, the cursor on row ``cursor``, where it was on screen."""
        table = self.query_one(SnippetTable)
        scroll = table.scroll_y + (cursor - table.cursor_row)
        table.clear(columns=True)
        wide = self.size.width >= WIDE
        fp_width = 32 if wide else SHORT_FINGERPRINT
        room = max(10, table.size.width - fp_width - sum(NUMBER_WIDTHS.values()) - PII_WIDTH
                   - 2 * (len(ORDERS) + 1) - 2)
        for key, label in ORDERS.items():
            mark = "" if key != self.order else " ▼" if SNIPPET_ORDERS[key][1] != self.reverse else " ▲"
            width = NUMBER_WIDTHS.get(key, fp_width if key == "fingerprint" else room)
            if key == "first_line":
                table.add_column(Text("pii"), key="pii", width=PII_WIDTH)
            table.add_column(Text(label + mark, justify="right" if key in NUMBER_WIDTHS else "left"),
                             key=key, width=width)
        for row in self.window.rows:
            fp = row["fingerprint"]
            kinds = (row.get("pii") or "").split(",") if row.get("pii") else []
            table.add_row(
                Text(visible(fp) if wide else clip(visible(fp), SHORT_FINGERPRINT)),
                *(Text(f"{row[k]:,}", justify="right") for k in NUMBER_WIDTHS),
                Text("".join(PII_LETTERS.get(k, "?") for k in kinds), style="bold red"),
                Text(clip(visible((row["first_line"] or "").strip()), room)),
                key=fp,
            )
        if not self.window.rows:
            return
        cursor = min(max(cursor, 0), len(self.window.rows) - 1)
        table.move_cursor(row=cursor, scroll=kind in ("first", "last"))
        if kind not in ("first", "last"):
            table.call_after_refresh(table.scroll_to, y=max(0, scroll), animate=False)

    def on_resize(self) -> None:
        self.call_after_refresh(self._refill)

    def _refill(self) -> None:
        if self.window.rows:
            self._fill(self.query_one(SnippetTable).cursor_row, "resize")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_status()
        self._load_near_edge()

    def _load_near_edge(self) -> None:
        """Fetch the next (previous) page when the cursor nears the window's end (start)."""
        if self.fetching or not self.window.rows:
            return
        row, margin = self.query_one(SnippetTable).cursor_row, self.page_size // 4
        if row >= len(self.window.rows) - 1 - margin and not self.window.at_end:
            self._request("after")
        elif row <= margin and not self.window.at_start:
            self._request("before")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()  # a click on the highlighted row
        self.action_view()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        self.action_sort(str(event.column_key.value))

    def _show_title(self) -> None:
        scan = self.scan
        parts = [f"scan {self.scan_id}"]
        if scan is not None:
            named = [scan_name(scan)] + ([scan["corpus_label"]] if scan.get("name") and scan["corpus_label"] else [])
            parts += [*named, f"outputs: {self.outputs}", f"rules: {scan['rules']}"]
            if self.total is not None:
                parts.append(f"{self.total:,} snippets")
        if self.prefix or self.text or self.pii:
            parts.append(f"filter: {describe_filter(self.prefix, self.text, self.pii)}")
        parts.append(f"order: {ORDERS[self.order]}{', reversed' if self.reverse else ''}")
        self.query_one("#title", Static).update(Text(visible(" · ".join(parts))))

    def _show_status(self) -> None:
        if not self.ready:
            return
        window = self.window
        of = "counting…" if self.count is None else f"{self.count:,}"
        if not window.rows:
            text = "loading…" if self.fetching else "no snippets" + (" match the filter" if self.flt and (
                self.prefix or self.text or self.pii) else "")
        else:
            span = window.span(self.count)
            where = f"rows {span[0]:,}–{span[1]:,}" if span else f"{len(window.rows):,} rows"
            text = f"{where} of {of}"
            cursor = self.query_one(SnippetTable).cursor_row
            if span and 0 <= cursor < len(window.rows):
                text += f" · row {span[0] + cursor:,}"
            if self.fetching:
                text += " · loading…"
        self.query_one("#status", Static).update(Text(text))

    def highlighted(self) -> str | None:
        """The fingerprint under the cursor."""
        table = self.query_one(SnippetTable)
        rows = self.window.rows
        return rows[table.cursor_row]["fingerprint"] if rows and 0 <= table.cursor_row < len(rows) else None

    # -- actions -----------------------------------------------------------------
    def action_view(self) -> None:
        fp = self.highlighted()
        if fp is not None:
            self.app.open_viewer(self.scan_id, fp)

    def action_sort(self, order: str) -> None:
        """Sort by ``order``; the current order's key (or header) again reverses it. The app
        keeps the choice for the next scan opened."""
        if order not in ORDERS:
            return
        self.reverse = not self.reverse if order == self.order else False
        self.order = order
        self.app.browser_order = {"order": self.order, "reverse": self.reverse}
        self.app.remember(browser_order=self.app.browser_order)
        self._restart(new_filter=False)

    def action_cycle_order(self) -> None:
        keys = list(ORDERS)
        self.action_sort(keys[(keys.index(self.order) + 1) % len(keys)])

    def action_first(self) -> None:
        if self.window.at_start:
            self.query_one(SnippetTable).move_cursor(row=0)
        else:
            self._request("first")

    def action_last(self) -> None:
        if self.window.at_end and self.window.rows:
            self.query_one(SnippetTable).move_cursor(row=len(self.window.rows) - 1)
        else:
            self._request("last")

    def action_copy(self) -> None:
        fp = self.highlighted()
        if fp is not None:
            self.app.copy_fingerprint(fp)

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = filter_query(self.prefix, self.text, self.pii)  # the whole filter, to edit or clear
        box.display = True
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._close_filter()
        pii, rest = parse_pii(event.value)
        self._apply_filter(*parse_query(rest), pii)

    def _close_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = False
        self.query_one(SnippetTable).focus()

    def _apply_filter(self, prefix: str, text: str, pii: str | None = None) -> None:
        from engine.pii import KINDS

        if pii not in (None, "any", *KINDS):
            self.notify(f"no kind of personal data {pii!r} (known: {', '.join(KINDS)}; pii: is any)",
                        severity="warning")
            return
        if (prefix, text, pii) != (self.prefix, self.text, self.pii):
            self.prefix, self.text, self.pii = prefix, text, pii
            self._restart(new_filter=True)

    def action_analyses(self) -> None:
        if self.ready:
            from tui.screens.analysis import AnalysisScreen

            self.app.push_screen(AnalysisScreen(self.scan_id))

    def action_ranking(self) -> None:
        if self.ready:
            from tui.screens.ranking import RankingScreen

            self.app.push_screen(RankingScreen(self.scan_id))

    def action_pii(self) -> None:
        """Only the snippets holding personal data or secrets, or all of them again."""
        self._apply_filter(self.prefix, self.text, None if self.pii else "any")

    def action_back(self) -> None:
        """Escape: close the filter box and clear the filter, else leave."""
        box = self.query_one("#filter", Input)
        if box.display:
            self._close_filter()
            self._apply_filter("", "")
        elif self.prefix or self.text or self.pii:
            self._apply_filter("", "")
        else:
            super().action_back()
