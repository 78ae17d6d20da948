"""Snapshots of the main screens at 80x24 and 160x48 (pytest-textual-snapshot).

Each app is driven the way a user gets there: keys from the dashboard. The SVGs under
``__snapshots__`` double as the README's screenshots. Update them, after looking at the
difference, with ``pytest tests/test_snapshots.py --snapshot-update``.
"""
from __future__ import annotations

import pytest
from appfill import NOW, fill_dashboard
from conftest import make_app, settle

from engine.store import Store

SIZES = [(80, 24), (160, 48)]


@pytest.fixture
def filled(tmp_path, reference):
    db = tmp_path / "byrote.db"
    store = Store(db)
    ids = fill_dashboard(store, reference)
    store.close()
    return db, ids


async def _settle(pilot) -> None:
    """Until the reads are shown and the plots drawn, also on a loaded machine."""
    await settle(pilot)
    await pilot.wait_for_scheduled_animations()
    await pilot.pause(0.1)


def _size(size) -> str:
    return f"{size[0]}x{size[1]}"


def _shot(snap_compare, db, size, open_screen=None, keys: tuple[str, ...] = (), resize_to=None) -> bool:
    """The app at ``size`` after ``open_screen(app)`` and ``keys``, each let settle, and
    then, with ``resize_to``, the terminal resized to it."""
    async def run_before(pilot) -> None:
        await _settle(pilot)
        if open_screen is not None:
            open_screen(pilot.app)
            await _settle(pilot)
        for key in keys:
            await pilot.press(key)
            await _settle(pilot)
        if resize_to is not None:
            await pilot.resize_terminal(*resize_to)
            await _settle(pilot)

    # a poll interval longer than a snapshot takes: the picture is of one settled read
    return snap_compare(make_app(db, clock=lambda: NOW, poll_s=3600), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=_size)
def test_dashboard(snap_compare, filled, size):
    db, _ = filled
    assert _shot(snap_compare, db, size)


@pytest.mark.parametrize("size", SIZES, ids=_size)
def test_study(snap_compare, filled, size):
    db, ids = filled
    assert _shot(snap_compare, db, size, lambda app: app.open_study(ids["done"]))


@pytest.mark.parametrize("size", SIZES, ids=_size)
def test_browser(snap_compare, filled, size):
    db, ids = filled
    assert _shot(snap_compare, db, size, lambda app: app.open_scan(ids["scan"]))


@pytest.mark.parametrize("size", SIZES, ids=_size)
def test_viewer(snap_compare, filled, size):
    db, ids = filled
    # enter on the top snippet by train (3): the license header
    assert _shot(snap_compare, db, size, lambda app: app.open_scan(ids["scan"]), keys=("3", "enter"))


@pytest.mark.parametrize("size", SIZES, ids=_size)
def test_delete_question(snap_compare, filled, size):
    """The delete question over the dashboard: its text and keys in a box that fits them."""
    db, _ = filled
    assert _shot(snap_compare, db, size, keys=("j", "j", "d"))  # the language model: done, deletable


@pytest.mark.parametrize("size", SIZES, ids=_size)
def test_analyses(snap_compare, filled, size):
    """A scan's analyses, from its browser (a): trend, train/extract scatter, lengths."""
    db, ids = filled
    assert _shot(snap_compare, db, size, lambda app: app.open_scan(ids["scan"]), keys=("a",))


def _own_db(tmp_path, fill):
    db = tmp_path / "own.db"
    store = Store(db)
    item = fill(store)
    store.close()
    return db, item


@pytest.mark.parametrize("size", SIZES, ids=_size)
def test_extraction_study(snap_compare, tmp_path, size):
    """An extraction study over top-k 5 and 40: one trend per point, one line per point."""
    from appfill import fill_extraction

    from tui.screens.extraction import ExtractionScreen

    db, study_id = _own_db(tmp_path, fill_extraction)
    assert _shot(snap_compare, db, size, lambda app: app.push_screen(ExtractionScreen(study_id)))


@pytest.mark.parametrize("size", SIZES, ids=_size)
def test_ranking(snap_compare, tmp_path, size):
    """The ranking signals of a scan: precision over N and the table, from the browser (r)."""
    from appfill import fill_ranking

    db, scan_id = _own_db(tmp_path, fill_ranking)
    assert _shot(snap_compare, db, size, lambda app: app.open_scan(scan_id), keys=("r",))


@pytest.mark.parametrize("size", SIZES, ids=_size)
def test_extractable(snap_compare, tmp_path, size):
    """A k-extractability run: its rate, the histogram, the windows and the first one."""
    from appfill import fill_extractable

    from tui.screens.extractable import ExtractableScreen

    db = tmp_path / "x.db"
    store = Store(db)
    run_id = fill_extractable(store)
    store.close()
    assert _shot(snap_compare, db, size, lambda app: app.push_screen(ExtractableScreen(run_id)))


RESIZED = {  # each main screen, as the user gets there
    "dashboard": (None, ()),
    "study": (lambda app, ids: app.open_study(ids["done"]), ()),
    "browser": (lambda app, ids: app.open_scan(ids["scan"]), ()),
    "viewer": (lambda app, ids: app.open_scan(ids["scan"]), ("3", "enter")),
}


@pytest.mark.parametrize("screen", list(RESIZED))
def test_resized_from_160x48_to_80x24(snap_compare, filled, screen):
    """Each main screen opened at 160x48, then the terminal shrunk to 80x24: the picture is
    that of the small terminal (columns refitted, the viewer's span in view, no leftovers)."""
    db, ids = filled
    open_screen, keys = RESIZED[screen]
    opener = None if open_screen is None else (lambda app: open_screen(app, ids))
    assert _shot(snap_compare, db, (160, 48), opener, keys, resize_to=(80, 24))
