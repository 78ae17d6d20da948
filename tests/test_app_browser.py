"""The memorization browser: orders, filters, keyset paging, opening the viewer.

``fill_scan`` builds the scan the viewer's tests use too."""
from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest
from conftest import NOW, settle
from rich.text import Text
from textual.widgets import DataTable, Input, Static
from textual.widgets.data_table import ColumnKey

from engine.store import Store
from tui.paging import Window
from tui.screens.browser import ORDERS, BrowserScreen, parse_query

POLL_S = 0.05  # a scan still running is read again this often
A = ["def add(a, b):", "    total = a + b", "    if total > 10:", "        total -= 10", "    print(total)",
     "    return total"]
B = ["class Point:", "    def __init__(self, x, y):", "        self.x = x", "        self.y = y", "",
     "    def norm(self):", "        return (self.x ** 2 + self.y ** 2) ** 0.5"]
C = ["for i in range(10):", "    if i % 2:", "        continue", "    print(i)", "    print(i * i)", "print('done')"]
D = ["LONG = [" + ", ".join(str(i) for i in range(80)) + "]", "a = 1", "b = 2", "c = 3", "d = 4", "e = 5"]
OUTPUTS = {
    1: ["import os", "import sys", *A, "", "", "x = 1", *B, "# end"],  # A at 3-8, B at 12-18
    2: ["# header", "", "", "y = 2", *A, "z = 3", *C],  # A at 5-10, C at 12-17
    3: [*D, "pass"],  # D at 1-6
    4: ["nothing memorized here"],
}


def fp(lines: list[str]) -> str:
    return hashlib.md5("\n".join(lines).encode()).hexdigest()


FILLERS = [[f"filler_{i} = {j}" for j in range(6 + i % 3)] for i in range(6)]
FP = {"A": fp(A), "B": fp(B), "C": fp(C), "D": fp(D)}
# name -> (lines, train, extract)
SNIPPETS = {"A": (A, 2, 2), "B": (B, 5, 1), "C": (C, 1, 1), "D": (D, 3, 1),
            **{f"F{i}": (lines, [2, 5, 1, 3, 2, 1][i], 1) for i, lines in enumerate(FILLERS)}}
FP.update({f"F{i}": fp(lines) for i, lines in enumerate(FILLERS)})


def context(lines: list[str], before: int, after: int) -> str:
    return "\n".join([f"# before {i}" for i in range(before)] + lines + [f"# after {i}" for i in range(after)])


MATCHES = [  # (name, rank, doc, start, end, context start, context)
    ("A", 1, "pkg/a.py", 10, 15, 7, context(A, 3, 3)),
    ("A", 2, "pkg/b.py", 1, 6, 1, context(A, 0, 2)),
    ("B", 1, "pkg/c.py", 100, 106, 97, context(B, 3, 3)),
    ("C", 1, "lib/d.py", 4, 9, 1, context(C, 3, 0)),
    ("D", 1, "e.py", 1, 6, 1, context(D, 0, 1)),
]
LOCATIONS = [("A", 1, 3, 8), ("A", 2, 5, 10), ("B", 1, 12, 18), ("C", 2, 12, 17), ("D", 3, 1, 6)]


def fill_scan(store: Store, state: str = "done") -> int:
    """A scan of four outputs: A in outputs 1 and 2 with two training matches, output 1
    holding A and B, D with a long line, and six fillers for the orders and pages."""
    set_id = store.add_output_set(name="samples", source="sample", model="gpt2", n=4, created=NOW - 100)
    store.add_outputs(set_id, [(i, hashlib.md5("\n".join(t).encode()).hexdigest(), "\n".join(t) + "\n", 50)
                               for i, t in OUTPUTS.items()])
    corpus = {"kind": "files", "root": "/corpus", "glob": "*.py", "count": 9, "bytes": 999}
    scan_id = store.add_scan(set_id=set_id, source="scan", corpus=corpus, corpus_label="directory /corpus",
                             n_outputs=4, min_lines=6, state=state, created=NOW - 50)
    if state == "done":
        save_results(store, scan_id)
    return scan_id


def save_results(store: Store, scan_id: int) -> None:
    store.save_scan_results(
        scan_id,
        [(FP[name], len(lines), train, extract, "\n".join(lines)) for name, (lines, train, extract) in SNIPPETS.items()],
        [(FP[name], o, a, b) for name, o, a, b in LOCATIONS],
        [(FP[name], rank, doc, a, b, c, text) for name, rank, doc, a, b, c, text in MATCHES],
        state="done", finished=NOW - 10,
    )


def expected(order: str, keep=lambda name: True) -> list[str]:
    """Fingerprints in the browser's order, sorted here by hand."""
    rows = [(name, lines, train, extract) for name, (lines, train, extract) in SNIPPETS.items() if keep(name)]
    keys = {
        "train": lambda r: (-r[2], FP[r[0]]), "extract": lambda r: (-r[3], FP[r[0]]),
        "len": lambda r: (-len(r[1]), FP[r[0]]), "fingerprint": lambda r: FP[r[0]],
        "first_line": lambda r: (r[1][0], FP[r[0]]),
    }
    return [FP[r[0]] for r in sorted(rows, key=keys[order])]


async def type_filter(pilot, query: str) -> None:
    """``/``, the query, enter."""
    await pilot.press("slash")
    pilot.app.screen.query_one("#filter", Input).value = query
    await pilot.press("enter")
    await settle(pilot)


def shown(screen: BrowserScreen) -> list[str]:
    """The fingerprints in the table, as rendered cells."""
    table = screen.query_one(DataTable)
    return [table.get_row_at(i)[0].plain for i in range(table.row_count)]


def status(screen) -> str:
    return str(screen.query_one("#status", Static).render())


def title(screen) -> str:
    return str(screen.query_one("#title", Static).render())


def scan_db(tmp_path: Path, state: str = "done") -> tuple[Path, int]:
    """A database holding the scan of :func:`fill_scan`; its path and the scan's id."""
    store = Store(tmp_path / "t.db")
    scan_id = fill_scan(store, state)
    store.close()
    return tmp_path / "t.db", scan_id


def highlighted(screen) -> str:
    return screen.highlighted()


def test_parse_query():
    assert parse_query("abcdef") == ("abcdef", "")
    assert parse_query("  0f3a91 ") == ("0f3a91", "")
    assert parse_query("decade") == ("decade", "") and parse_query('"decade"') == ("", "decade")
    assert parse_query("abcd") == ("", "abcd") and parse_query("2024") == ("", "2024")  # too short for a prefix
    assert parse_query("#AB") == ("ab", "")
    assert parse_query("Total ") == ("", "Total ")
    assert parse_query("ABCD") == ("", "ABCD")  # too short for a prefix
    assert parse_query("E50E63") == ("e50e63", "")  # a fingerprint copied in upper case


def test_the_filter_box_gives_back_the_filter_it_shows():
    from tui.screens.browser import filter_query, parse_pii

    for prefix, text, pii in (("", "", None), ("ab", "", None), ("", "import", "email"), ("", " lead", "any"),
                              ("", "#ab", None), ("", "pii:x", None), ("", "abcdef", "key"), ("0f3a91", "", "any")):
        query = filter_query(prefix, text, pii)
        got_pii, rest = parse_pii(query)
        assert (*parse_query(rest), got_pii) == (prefix, text, pii), query
    assert parse_query("   ") == ("", "")


def test_window_keeps_at_most_its_capacity():
    w = Window(page_size=3, capacity=6)
    rows = [{"i": i} for i in range(10)]
    w.first(rows[:3])
    assert (w.at_start, w.at_end, w.span(None)) == (True, False, (1, 3))
    assert w.append(rows[3:6]) == 0 and w.append(rows[6:9]) == 3
    assert [r["i"] for r in w.rows] == [3, 4, 5, 6, 7, 8] and not w.at_start and w.span(None) == (4, 9)
    assert w.append(rows[9:]) == 1 and w.at_end and w.span(10) == (5, 10)
    assert w.prepend(rows[1:4]) == 3 and [r["i"] for r in w.rows] == [1, 2, 3, 4, 5, 6] and not w.at_end
    w.last(rows[7:])
    assert w.span(None) is None and w.span(10) == (8, 10) and w.at_end and not w.at_start
    assert w.prepend(rows[4:7]) == 3 and w.span(10) == (5, 10)
    assert w.prepend(rows[1:4]) == 3 and w.span(10) == (2, 7) and w.span(None) is None
    assert w.prepend(rows[:1]) == 1 and w.at_start and [r["i"] for r in w.rows] == [0, 1, 2, 3, 4, 5]
    assert w.span(None) == (1, 6) and not w.at_end


def test_every_order(tmp_path, app_pilot):
    db, scan_id = scan_db(tmp_path)

    async def body(app, pilot):
        screen = app.screen
        assert isinstance(screen, BrowserScreen)
        # the default: the snippets most outputs reproduce first
        assert screen.order == "extract" and shown(screen) == expected("extract")
        assert status(screen) == "rows 1–10 of 10 · row 1"
        assert f"scan {scan_id}" in title(screen) and "outputs: samples" in title(screen)
        assert "10 snippets" in title(screen) and "order: extract" in title(screen)
        for key, order in [("1", "fingerprint"), ("2", "len"), ("3", "train"), ("4", "extract"),
                           ("5", "first_line")]:
            await pilot.press(key)
            await settle(pilot)
            assert screen.order == order and shown(screen) == expected(order), order
            first_lines = [str(screen.query_one(DataTable).get_row_at(i)[5]) for i in range(10)]
            by_fp = {FP[n]: lines[0].strip() for n, (lines, _, _) in SNIPPETS.items()}
            for got, want in zip(first_lines, [by_fp[f] for f in expected(order)], strict=True):
                assert got == want or (got.endswith("…") and want.startswith(got[:-1]) and len(got) > 40)
        await pilot.press("o")  # first_line -> fingerprint
        await settle(pilot)
        assert screen.order == "fingerprint" and shown(screen) == expected("fingerprint")
        table = screen.query_one(DataTable)
        table.post_message(DataTable.HeaderSelected(table, ColumnKey("extract"), 3, Text("extract")))
        await settle(pilot)
        assert screen.order == "extract" and shown(screen) == expected("extract")
        assert "order: extract" in title(screen)
        assert str(table.columns[ColumnKey("extract")].label) == "extract ▼"
        # the current order's key again: exactly the reverse order, and again: back
        for key, order, reverse in (("4", "extract", True), ("4", "extract", False), ("2", "len", False),
                                    ("2", "len", True)):
            await pilot.press(key)
            await settle(pilot)
            want = expected(order)[::-1] if reverse else expected(order)
            assert (screen.order, screen.reverse, shown(screen)) == (order, reverse, want), key
            arrow = ("▲" if reverse else "▼")
            assert str(table.columns[ColumnKey(order)].label) == f"{ORDERS[order]} {arrow}"
            assert ("reversed" in title(screen)) == reverse
        assert app.browser_order == {"order": "len", "reverse": True}  # the next scan opens in this order

    app_pilot(db, body, size=(160, 40), screen=lambda: BrowserScreen(scan_id), poll_s=POLL_S)


@pytest.mark.slow
def test_filters(tmp_path, app_pilot):
    db, scan_id = scan_db(tmp_path)
    prefix = FP["A"][:6]

    async def body(app, pilot):
        screen = app.screen
        await pilot.press("slash")
        box = screen.query_one("#filter")
        assert box.display and box.has_focus
        await pilot.press(*prefix, "enter")
        await settle(pilot)
        assert not box.display
        assert shown(screen) == expected("extract", lambda n: FP[n].startswith(prefix))
        assert f"filter: fingerprint {prefix}…" in title(screen)
        assert status(screen).startswith(f"rows 1–{len(shown(screen))} of {len(shown(screen))}")
        await pilot.press("escape")  # clears the filter
        await settle(pilot)
        assert shown(screen) == expected("extract") and "filter" not in title(screen)
        # text, in any case: "TOTAL" is in A only
        await type_filter(pilot, "TOTAL")
        assert shown(screen) == [FP["A"]] and "filter: text 'TOTAL'" in title(screen)
        # a text that is in several snippets, in another order
        await pilot.press("2")
        await type_filter(pilot, "filler_")
        assert shown(screen) == expected("len", lambda n: n.startswith("F"))
        # '#' makes any short prefix a prefix
        await type_filter(pilot, "#" + FP["B"][:2])
        assert shown(screen) == expected("len", lambda n: FP[n].startswith(FP["B"][:2]))
        # escape in the box cancels and clears; nothing matching says so
        await type_filter(pilot, "no such text")
        assert shown(screen) == [] and "no snippets match the filter" in status(screen)
        await pilot.press("slash", "escape")
        await settle(pilot)
        assert not screen.query_one("#filter").display and shown(screen) == expected("len")
        await pilot.press("escape")  # no filter: back
        await settle(pilot)
        assert not isinstance(app.screen, BrowserScreen)

    app_pilot(db, body, size=(160, 40), screen=lambda: BrowserScreen(scan_id), poll_s=POLL_S)


@pytest.mark.slow
def test_paging_across_page_boundaries(tmp_path, app_pilot):
    db, scan_id = scan_db(tmp_path)
    want = expected("extract")

    async def body(app, pilot):
        screen = app.screen
        assert screen.window.rows == [] or len(screen.window.rows) == 3
        assert [r["fingerprint"] for r in screen.window.rows] == want[:3]
        for i in range(1, len(want)):  # down through every row, one page fetched at a time
            await pilot.press("j")
            await settle(pilot)
            assert highlighted(screen) == want[i], i
            assert len(screen.window.rows) <= 9
            assert status(screen).endswith(f"· row {i + 1}")
        assert screen.window.at_end and not screen.window.at_start
        assert [r["fingerprint"] for r in screen.window.rows] == want[-len(screen.window.rows):]
        for i in range(len(want) - 2, -1, -1):  # and back up
            await pilot.press("k")
            await settle(pilot)
            assert highlighted(screen) == want[i], i
            assert len(screen.window.rows) <= 9
        assert screen.window.at_start
        await pilot.press("G")
        await settle(pilot)
        assert highlighted(screen) == want[-1]
        assert [r["fingerprint"] for r in screen.window.rows] == want[-3:]
        assert status(screen) == "rows 8–10 of 10 · row 10"
        await pilot.press("k", "k")
        await settle(pilot)
        await pilot.press("k")
        await settle(pilot)
        assert highlighted(screen) == want[-4]
        assert [r["fingerprint"] for r in screen.window.rows] == want[-6:]
        await pilot.press("g")
        await settle(pilot)
        assert highlighted(screen) == want[0] and [r["fingerprint"] for r in screen.window.rows] == want[:3]
        await pilot.press("pagedown")
        await settle(pilot)
        assert screen.query_one(DataTable).cursor_row > 0  # and the next page came
        assert len(screen.window.rows) > 3
        assert highlighted(screen) == want[screen.window.span(10)[0] - 1 + screen.query_one(DataTable).cursor_row]

    app_pilot(db, body, size=(100, 30), screen=lambda: BrowserScreen(scan_id, page_size=3), poll_s=POLL_S)


def test_enter_opens_the_viewer_and_y_copies(tmp_path, app_pilot):
    from tui.screens.help import screen_keys
    from tui.screens.viewer import ViewerScreen

    db, scan_id = scan_db(tmp_path)
    want = expected("extract")

    async def body(app, pilot):
        listed = screen_keys(app.screen)
        keys = dict(listed)
        assert keys["/"] == "Filter" and keys["⏎"] == "View" and keys["3"] == "Sort by train"
        # the screen's own keys first, then the table's from byrote, then generic ones, the app's last
        order = [key for key, _ in listed]
        assert order[:7] == ["/", "o", "y", "a", "esc", "r", "i"]
        assert order.index("5") < order.index("⏎") < order.index("G") < order.index("↑") < order.index("q")
        await pilot.press("j", "j", "y")
        await settle(pilot)
        assert app.clipboard == want[2]
        assert any(n.message == f"copied {want[2]}" for n in app._notifications)
        await pilot.press("enter")
        await settle(pilot)
        viewer = app.screen
        assert isinstance(viewer, ViewerScreen)
        assert (viewer.scan_id, viewer.fingerprint) == (scan_id, want[2])
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, BrowserScreen) and highlighted(app.screen) == want[2]

    app_pilot(db, body, size=(120, 30), screen=lambda: BrowserScreen(scan_id), poll_s=POLL_S)


def test_a_scan_still_running_is_not_browsed_until_done(tmp_path, app_pilot):
    db, scan_id = scan_db(tmp_path, state="running")
    store = Store(db)
    job = store.add_job("scan", {"scan_id": scan_id}, item=("scan", scan_id))
    store.update_job(job, state="running", progress=0.45)

    async def body(app, pilot):
        screen = app.screen
        assert status(screen) == f"scan {scan_id} is running: 45%" and screen.window.rows == []
        save_results(store, scan_id)  # the scan finishes: the browser notices
        store.update_job(job, state="done", progress=1.0)
        for _ in range(20):
            await asyncio.sleep(0.05)
            await settle(pilot)
            if screen.window.rows:
                break
        assert [r["fingerprint"] for r in screen.window.rows] == expected("extract")
        assert status(screen).startswith("rows 1–10 of 10")

    app_pilot(db, body, size=(80, 24), screen=lambda: BrowserScreen(scan_id), poll_s=POLL_S)
    store.close()


def test_a_scan_is_named_by_its_name_in_the_palette_and_the_browser(tmp_path, app_pilot):
    """As on the dashboard: the name given (--name), else the corpus."""
    from engine.store import Store
    from tui.app import ByroteApp

    db = tmp_path / "n.db"
    store = Store(db)
    set_id = store.add_output_set(name="o", source="import", model=None, n=1)
    named = store.add_scan(set_id=set_id, source="scan", corpus={"kind": "files"}, corpus_label="directory /c",
                           name="top_k=5", state="done")
    plain = store.add_scan(set_id=set_id, source="scan", corpus={"kind": "files"}, corpus_label="directory /d",
                           state="done")
    store.close()
    titles = [title for title, _, _ in ByroteApp(db).palette_items() if title.startswith("Open scan")]
    assert titles == [f"Open scan {named}: top_k=5", f"Open scan {plain}: directory /d"]

    async def body(app, pilot):
        title = str(app.screen.query_one("#title").content)
        assert f"scan {named} · top_k=5 · directory /c" in title, title

    app_pilot(db, body, size=(140, 30), screen=lambda: BrowserScreen(named))
