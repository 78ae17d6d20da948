"""Settings that stick (tui.settings): the file checked at start, the theme and the
browser's order saved as chosen and applied at the next start, keys remapped by binding id."""
from __future__ import annotations

import json

import pytest
from conftest import settle

from engine.errors import InputError
from tui.screens.base import binding_id
from tui.settings import load_settings, save_settings, settings_path


def test_the_settings_file_is_checked(tmp_path):
    path = tmp_path / "settings.json"
    assert load_settings(path) == {}  # none yet
    for text, said in (('{"theme": "nord",\n "keys": [1}', f"{path}:2: not JSON"),
                       ('["theme"]', "the settings must be a JSON object"),
                       ('{"colour": "red"}', "unknown setting 'colour' (known: theme, browser_order, keys, panes)"),
                       ('{"theme": 3}', "setting 'theme' must be a str"),
                       ('{"keys": {"dashboard.new_study": ""}}', "maps binding ids to keys"),
                       # the browser's order: these two names alone (others reached the screen's constructor)
                       ('{"browser_order": {"foo": 1}}', "setting 'browser_order' must be"),
                       ('{"browser_order": {"page_size": -5}}', "setting 'browser_order' must be"),
                       ('{"browser_order": {"order": "size"}}', "one of train, extract, len, first_line"),
                       ('{"browser_order": {"order": ["len"]}}', "setting 'browser_order' must be"),
                       ('{"browser_order": {"reverse": "yes"}}', "setting 'browser_order' must be")):
        path.write_text(text)
        with pytest.raises(InputError) as err:
            load_settings(path)
        assert said in str(err.value) and str(path) in str(err.value), text
    save_settings({"theme": "nord", "keys": {"app.quit": "ctrl+q"}}, path)
    assert load_settings(path) == {"theme": "nord", "keys": {"app.quit": "ctrl+q"}}


@pytest.mark.parametrize("text, said", [
    (b'{"theme": 5,\n "theme": "textual-dark"}', ":2: key 'theme' given twice"),
    (b'{"theme":\n "\xff"}', ":2: not valid UTF-8"),
    (b'{"keys": {\n "nope.nope": "N"}}', ":2: setting 'keys': no binding has the id 'nope.nope'"),
    (b'{"keys": {"app.quit": "ctrl+q,ctrl+?"}}', ":1: setting 'keys': 'app.quit': 'ctrl+?' is not a key name "
                                                 "(write 'ctrl+question_mark')"),
    (b'{"keys": {"app.quit": "quit"}}', ":1: setting 'keys': 'app.quit': 'quit' is not a key name"),
    (b'{"keys": {"app.quit": "cmd+q"}}', ":1: setting 'keys': 'app.quit': 'cmd+q': 'cmd' is not a modifier"),
])
def test_duplicate_names_foreign_bytes_unknown_ids_and_keys_are_refused(tmp_path, text, said):
    path = tmp_path / "settings.json"
    path.write_bytes(text)
    with pytest.raises(InputError) as err:
        load_settings(path)
    assert f"{path}{said}" in str(err.value) and "\n" not in str(err.value), str(err.value)


def test_the_keys_the_app_binds_and_those_textual_reads_are_key_names(tmp_path):
    """What the app's own bindings use, and a keymap's forms Textual reads (a character as
    itself, spaces around a key), pass; every id ? lists can be remapped."""
    from tui.app import ByroteApp
    from tui.screens.study import StudyScreen
    from tui.settings import binding_ids, key_problem

    ids = binding_ids()
    assert {"app.quit", "app.help", "dashboard.new_study", "browser.sort-len"} <= ids
    for cls in (ByroteApp, StudyScreen):
        for binding in cls.BINDINGS:
            assert binding.id in ids and all(key_problem(key) is None for key in binding.key.split(",")), binding
    for key in ("N", "?", " ctrl+q ", "ctrl+question_mark", "shift+tab", "f5", "escape", "pageup", "plus", "é"):
        assert key_problem(key) is None, key
    keys = {"keys": {"app.quit": "Q, ctrl+q", "dashboard.new_study": "?"}}
    (tmp_path / "settings.json").write_text(json.dumps(keys))
    assert load_settings(tmp_path / "settings.json") == keys


@pytest.mark.timeout(30)
def test_a_settings_file_that_is_a_fifo_stops_the_app_in_one_line_unopened(tmp_path):
    """Opening a FIFO would wait for a writer for ever: it is refused without being opened."""
    import os

    from tui.app import ByroteApp

    settings_path().parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(settings_path())
    with pytest.raises(InputError) as err:
        ByroteApp(tmp_path / "t.db")
    assert str(err.value) == f"{settings_path()}: not a settings file"


def test_binding_ids():
    assert binding_id("dashboard", "new_study") == "dashboard.new_study"
    assert binding_id("browser", "sort('len')") == "browser.sort-len"
    assert binding_id("study", "metric(1)") != binding_id("study", "metric(-1)")
    from tui.screens.dashboard import DashboardScreen

    ids = {b.id for b in DashboardScreen.BINDINGS}
    assert {"dashboard.new_study", "dashboard.delete", "dashboard.overlay"} <= ids


def test_a_malformed_settings_file_stops_the_app_in_one_line(tmp_path):
    """Refused when the app is made, before any screen: cli.main says the InputError in one
    line with exit status 2."""
    from tui.app import ByroteApp

    settings_path().parent.mkdir(parents=True, exist_ok=True)
    settings_path().write_text("{")
    with pytest.raises(InputError) as err:
        ByroteApp(tmp_path / "t.db")
    assert f"{settings_path()}:1: not JSON" in str(err.value) and "\n" not in str(err.value)


def test_theme_keys_and_order_stick(tmp_path, app_pilot):
    from test_app_browser import scan_db

    from tui.screens.browser import BrowserScreen
    from tui.screens.forms.study import StudyForm

    db, scan_id = scan_db(tmp_path)
    save_settings({"theme": "textual-light", "keys": {"dashboard.new_study": "N"}})

    async def first(app, pilot):
        assert app.theme == "textual-light"
        await pilot.press("n")  # remapped: n does nothing now
        await settle(pilot)
        assert not isinstance(app.screen, StudyForm)
        await pilot.press("N")
        await settle(pilot)
        assert isinstance(app.screen, StudyForm)
        await pilot.press("escape")
        await settle(pilot)
        app.theme = "nord"  # chosen in the palette: saved
        await settle(pilot)
        app.open_scan(scan_id)
        await settle(pilot)
        await pilot.press("2", "2")  # by len, reversed: saved
        await settle(pilot)

    app_pilot(db, first, size=(120, 30), poll_s=0.2)
    saved = json.loads(settings_path().read_text())
    assert saved["theme"] == "nord" and saved["browser_order"] == {"order": "len", "reverse": True}

    async def second(app, pilot):
        assert app.theme == "nord"
        app.open_scan(scan_id)
        await settle(pilot)
        browser = app.screen
        assert isinstance(browser, BrowserScreen) and (browser.order, browser.reverse) == ("len", True)

    app_pilot(db, second, size=(120, 30), poll_s=0.2)


def test_keys_lists_each_bindings_id(tmp_path, app_pilot):
    from tui.screens.help import HelpScreen, screen_keys

    async def body(app, pilot):
        listed = {key: (text, bid) for key, text, bid in screen_keys(app.screen, ids=True)}
        assert listed["n"] == ("Study", "dashboard.new_study") and listed["q"] == ("Quit", "app.quit")
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        table = app.screen.query_one("DataTable")
        rows = [[str(c) for c in table.get_row_at(r)] for r in range(table.row_count)]
        assert ["n", "Study", "dashboard.new_study"] in rows

    app_pilot(tmp_path / "t.db", body, size=(120, 40), poll_s=0.2)


def test_the_keys_fit_a_small_terminal_and_scroll_to_their_last_row_and_column(tmp_path, app_pilot):
    """At 80 x 24 the list is wider and taller than its box: it lies inside the box and
    scrolls there to its last row (app.quit) and its id column (it used to run past the
    box's edges, unreachable)."""
    async def body(app, pilot):
        await pilot.press("question_mark")
        await settle(pilot)
        table = app.screen.query_one("DataTable")
        box = table.parent.content_region
        assert box.contains_region(table.region), (box, table.region)
        assert table.max_scroll_x > 0 and table.max_scroll_y > 0
        table.scroll_to(x=table.max_scroll_x, y=table.max_scroll_y, animate=False, immediate=True)
        await settle(pilot)
        assert (table.scroll_x, table.scroll_y) == (table.max_scroll_x, table.max_scroll_y)
        assert table.scroll_y + table.scrollable_content_region.height >= table.virtual_size.height

    app_pilot(tmp_path / "t.db", body, size=(80, 24), poll_s=0.2)


def test_pane_shares_are_checked():
    from tui.panes import check_panes, moved

    assert check_panes({"viewer": 60, "study": 20}) is None
    assert check_panes({"browser": 50}) == "no pane 'browser' (known: viewer, study)"
    assert "from 20 to 80" in check_panes({"viewer": 90})
    assert "from 20 to 80" in check_panes({"viewer": 55.5}) and "from 20 to 80" in check_panes({"study": True})
    assert (moved(50, 10), moved(80, 10), moved(20, -10)) == (60, 80, 20)


def test_a_bad_pane_share_stops_the_app_in_one_line(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text('{"panes": {"viewer": 95}}')
    with pytest.raises(InputError) as err:
        load_settings(path)
    assert str(err.value) == f"{path}: setting 'panes': pane 'viewer' takes a whole percentage from 20 to 80"


def test_the_viewers_split_moves_with_the_keys_and_sticks(tmp_path, app_pilot):
    """> widens the output's pane by a tenth (< narrows it), saved; the next viewer opens
    with it, across the width or, stacked, down the height."""
    from test_app_browser import FP, scan_db

    from tui.screens.viewer import ViewerScreen

    db, scan_id = scan_db(tmp_path)
    screen = lambda: ViewerScreen(scan_id, FP["A"], 1)

    def shares(v, along):
        left, right = (getattr(v.query_one(f"#{s}-side").region, along) for s in ("left", "right"))
        return left / (left + right)

    async def first(app, pilot):
        v = app.screen
        await settle(pilot)
        assert abs(shares(v, "width") - 0.5) < 0.02
        await pilot.press("greater_than_sign", "greater_than_sign")
        await settle(pilot)
        assert abs(shares(v, "width") - 0.7) < 0.02
        await pilot.press("less_than_sign")
        await settle(pilot)
        assert abs(shares(v, "width") - 0.6) < 0.02

    app_pilot(db, first, size=(160, 40), screen=screen, poll_s=0.2)
    assert json.loads(settings_path().read_text())["panes"] == {"viewer": 60}

    async def second(app, pilot):
        v = app.screen
        await settle(pilot)
        assert abs(shares(v, "width") - 0.6) < 0.02
        await pilot.resize_terminal(80, 40)  # stacked: the same share of the height
        await settle(pilot)
        await pilot.pause()
        assert v.has_class("narrow") and abs(shares(v, "height") - 0.6) < 0.06

    app_pilot(db, second, size=(160, 40), screen=screen, poll_s=0.2)


def test_the_study_screens_split_moves_with_the_keys(tmp_path, app_pilot):
    from test_app_study import make_study

    from tui.screens.study import StudyScreen

    db = tmp_path / "t.db"
    sid, _ = make_study(db)

    def plot_share(screen):
        plots, table = screen.query_one("#plots").region.height, screen.query_one("#results").region.height
        return plots / (plots + table)

    async def body(app, pilot):
        screen = app.screen
        await settle(pilot)
        assert abs(plot_share(screen) - 0.67) < 0.04
        for _ in range(5):
            await pilot.press("less_than_sign")  # 57, 47, 37, 27, then the lowest share, 20
        await settle(pilot)
        assert app.settings["panes"] == {"study": 20}
        assert abs(plot_share(screen) - 0.2) < 0.04

    app_pilot(db, body, size=(160, 48), screen=lambda: StudyScreen(sid), poll_s=0.2)
