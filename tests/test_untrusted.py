"""Untrusted text (issue 15, part 1): escape sequences and markup planted in an output, a
corpus file name, a set name, a study name and a job's error never reach the terminal
raw, are never read as markup, and crash nothing, through every listing command and
every screen of the app."""
from __future__ import annotations

import hashlib

import pytest
from appfill import CREATED, NOW
from conftest import settle

from cli.main import main
from engine.clones.rules.lines import fingerprint
from engine.store import Store
from engine.untrusted import is_visible, visible

OSC52 = "\x1b]52;c;cm0gLXJmIH4=\x07"  # sets the clipboard to "rm -rf ~"
MARKUP = "[/x] [link=https://evil.example]click[/link] [@click=app.quit]quit[/]"
HOSTILE = f"evil{OSC52} {MARKUP} \x1b[2J\x9b\u202e"
FILE_NAME = "src/evil\x1b]0;pwned\x07[/x].py"
RAW = ("\x1b", "\x07", "\x9b", "\u202e")  # what must never reach the terminal
LINES = [f"print({HOSTILE!r})", *[f"value_{i} = compute({i})  # {MARKUP}" for i in range(6)]]


def test_visible_escapes_what_acts_on_a_terminal():
    assert visible(OSC52) == "\\x1b]52;c;cm0gLXJmIH4=\\x07"
    assert visible("a\x1b[2Jb\x9bc\x7fd\x00") == "a\\x1b[2Jb\\x9bc\\x7fd\\x00"
    assert visible("right\u202eleft\u2066x\u2069") == "right\\u202eleft\\u2066x\\u2069"
    assert visible("not utf-8 \udcff") == "not utf-8 \\udcff"  # a file name read with surrogateescape
    assert visible("tab\tstays") == "tab\tstays"
    assert visible("two\nlines\r") == "two\\nlines\\r"
    assert visible("two\nlines", newlines=True) == "two\nlines"
    assert visible("café λ 漢字 [b]x[/b] ✓") == "café λ 漢字 [b]x[/b] ✓"  # text and brackets are text
    assert visible(42) == "42"
    assert is_visible("a\nb") and not is_visible(OSC52)


def fill_hostile(store: Store) -> dict:
    """A sampled set, a done scan of it, a study and a failed job, each named or holding
    the hostile text."""
    set_id = store.add_output_set(name=HOSTILE, source="sample", model="gpt2", n=1, seq_len=64, top_k=40,
                                  temperature=1.0, batch_size=1, seed=0, created=CREATED)
    text = "\n".join(LINES) + "\n"
    store.add_outputs(set_id, [(1, hashlib.md5(text.encode()).hexdigest(), text, 64)])
    scan_id = store.add_scan(set_id=set_id, source="scan", corpus={"kind": "files", "root": "/data", "glob": "*.py"},
                             corpus_label=f"directory /data/{HOSTILE}", n_outputs=1, min_lines=6, case_sensitive=0,
                             workers=1, n_shards=1, bytes_total=1000, state="done", created=CREATED,
                             finished=CREATED + 60)
    fp = fingerprint(line.strip().lower().encode() for line in LINES)
    store.save_scan_results(scan_id, [(fp, len(LINES), 1, 1, text)], [(fp, 1, 1, len(LINES))],
                            [(fp, 1, FILE_NAME, 3, 3 + len(LINES) - 1, 1, "# head\n# more\n" + text)],
                            state="done", stats={"snippets": 1, "memorized_outputs": 1, "outputs": 1})
    study_id = store.add_study(name=HOSTILE, task="varmisuse", model="ggnn", preset="quick", epochs=2, seed=0,
                               device="cpu", train_path=f"/data/{HOSTILE}.jsonl", valid_path="v.jsonl",
                               levels=[0.0], created=CREATED)
    run_id = store.add_run(study_id=study_id, level=0.0, seed=0, epochs=2, created=CREATED)
    job = store.add_job("train_run", {"run_id": run_id}, item=("study", study_id), run_id=run_id)
    store.update_job(job, state="failed", error=f"cannot read {HOSTILE}", message=HOSTILE, created=CREATED,
                     started=CREATED, finished=CREATED + 5)
    return {"set": set_id, "scan": scan_id, "study": study_id, "fp": fp}


@pytest.fixture
def hostile(tmp_path) -> tuple:
    db = tmp_path / "hostile.db"
    store = Store(db)
    ids = fill_hostile(store)
    store.close()
    return db, ids


def assert_shown_safely(text: str, where: str) -> None:
    for char in RAW:
        assert char not in text, (where, repr(char))


@pytest.mark.parametrize("argv", [
    ["outputs"], ["jobs"], ["memorized", "--scan", "1"], ["results", "--study", "1"],
])
def test_listings_escape_and_never_read_markup(hostile, argv, capsys):
    db, _ = hostile
    code = main(["--db", str(db), *argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert_shown_safely(out + err, argv[0])
    assert "Traceback" not in err
    shown = out.replace("\n", "")  # a long cell wraps
    assert "\\x1b" in shown  # the escape is shown, not dropped


def test_markup_in_a_name_is_shown_as_text(hostile, capsys):
    db, _ = hostile
    assert main(["--db", str(db), "outputs"]) == 0
    out = capsys.readouterr().out.replace("\n", "")
    assert "[/x]" in out  # neither a MarkupError nor swallowed as a tag


def test_an_error_naming_a_hostile_path_is_one_escaped_line(tmp_path, capsys):
    missing = tmp_path / f"outputs{OSC52}\nsecond line"
    code = main(["--db", str(tmp_path / "x.db"), "sample", "import", str(missing)])
    err = capsys.readouterr().err
    assert code == 2
    assert_shown_safely(err, "error")
    assert err.count("\n") == 1 and "\\n" in err and "Traceback" not in err


def test_a_usage_error_quoting_a_hostile_value_is_escaped(capsys):
    code = main(["memorized", "--scan", "1", "--order", f"x{OSC52}"])
    err = capsys.readouterr().err
    assert code == 2
    assert_shown_safely(err, "usage")


def screen_text(app) -> str:
    return app.export_screenshot()


def test_every_screen_shows_hostile_text_safely(hostile, app_pilot):
    db, ids = hostile
    seen = []

    async def body(app, pilot):
        async def check(where: str) -> None:
            await settle(pilot)
            svg = screen_text(app)
            assert_shown_safely(svg, where)
            seen.append((where, svg))

        table = app.screen.query_one("#items")
        assert table.row_count >= 3  # the study, the sampling, the scan
        for row in range(table.row_count):  # each row's info line
            table.move_cursor(row=row)
            await check(f"dashboard row {row}")
            await pilot.press("enter")  # opens it, or says why in a notification
            await check(f"opened row {row}")
            while len(app.screen_stack) > 2:
                await pilot.press("escape")
                await settle(pilot)
        for key, form in (("x", "scan form"), ("s", "sampling form"), ("n", "study form"), ("question_mark", "keys")):
            await pilot.press(key)
            await check(form)
            if key == "x":  # the list of output sets names the hostile set
                app.screen.query_one("#outputs").focus()
                await pilot.press("enter")
                await check("output sets")
                await pilot.press("escape")
            await pilot.press("escape")
            await settle(pilot)
        table.move_cursor(row=0)
        await pilot.press("d")  # the delete question names the item
        await check("confirm")
        await pilot.press("n")
        await pilot.press("ctrl+p")  # the palette lists every study and scan by name
        await check("palette")
        await pilot.press(*"evil")
        await check("palette search")
        await pilot.press("escape")
        app.open_study(ids["study"])
        await check("study")
        app.open_scan(ids["scan"])
        await check("browser")
        app.open_viewer(ids["scan"], ids["fp"])
        await check("viewer")
        app.notify(f"a message quoting {HOSTILE}")
        await check("notification")

    app_pilot(db, body, size=(160, 40), clock=lambda: NOW)
    shown = "".join(svg for _, svg in seen)
    assert "\\x1b" in shown and "[/x]" in shown  # escaped, and markup shown as text
    assert len(seen) >= 15


def test_following_a_job_shows_its_hostile_message_and_error_escaped(hostile, capsys):
    """The --wait and --foreground follower: the job's message in its progress line, and
    its error on stderr, escaped and never read as markup."""
    from cli.follow import follow

    db, _ = hostile
    store = Store(db)
    job = store.jobs()[-1]["id"]
    assert follow(store, [job]) == 1  # failed for a reason not marked as the input's
    out, err = capsys.readouterr()
    assert_shown_safely(out + err, "follow")
    assert "\\x1b" in err and "[/x]" in err and len(err.splitlines()) == 1


LIVE = "[ @click=app.quit]CLICK[/] [$accent]accent [ link='file:///etc/passwd']LINK[/]"
"""Markup that rich's and Textual's ``escape`` let through: a space after the bracket, a
variable."""


def test_markup_that_escape_misses_stays_text_and_inf_crashes_nothing(tmp_path, app_pilot, capsys):
    """A study's name, model and preset with such markup: the study screen's title and the
    palette show them as they are, a click on the title does nothing, and an infinite value
    (a diverged loss) is left out of the curves, the listings and their JSON."""
    import json

    db = tmp_path / "m.db"
    store = Store(db)
    sid = store.add_study(name=f"noise [50%] {LIVE}", task="varmisuse", model="ggnn", preset="[bold red]P[/]",
                          epochs=2, seed=0, device="cpu", train_path="t", valid_path="v", levels=[0.0], config={})
    run = store.add_run(study_id=sid, level=0.0, seed=0, epochs=2, epochs_done=0, train_path="t", changed_path="c")
    store.commit_epoch(run, 1, {"valid": {"loc_accuracy": 0.5}}, {})
    store.commit_epoch(run, 2, {"valid": {"loc_accuracy": float("inf")}}, {})
    store.close()

    async def body(app, pilot):
        app.open_study(sid)
        await settle(pilot)
        svg = screen_text(app)
        for piece in ("[50%]", "@click=app.quit]CLICK[/]", "[$accent]accent", "file:///etc/passwd",
                      "[bold&#160;red]P[/]"):
            assert piece in svg, piece
        await pilot.click(app.screen.query_one("#study-title"), offset=(22, 0))  # on CLICK
        await pilot.pause()
        assert app.is_running
        await pilot.press("ctrl+p")
        await pilot.press(*"noise")
        await settle(pilot)
        svg = screen_text(app)
        assert "[50%]" in svg and "@click=app.quit]CLICK" in svg

    app_pilot(db, body, size=(200, 40))
    assert main(["--db", str(db), "results", "--study", str(sid), "--json"]) == 0
    assert "Infinity" not in capsys.readouterr().out


def test_infinite_values_are_unknown_in_listings_and_left_out_of_plots():
    import math

    from cli.listings import strict
    from engine.overview import age, duration
    from tui.commands import literal_markup
    from tui.curves import curve_series, sorted_scores
    from textual.content import Content

    inf = math.inf
    assert duration(inf) == duration(-inf) == duration(math.nan) == "-" and age(inf) == "-"
    assert strict({"a": [inf, -inf, 1.5]}) == {"a": [None, None, 1.5]}
    assert curve_series({0.0: {1: 0.5, 2: inf, 3: -inf}}) == [(0.0, [1], [0.5])]
    assert curve_series({0.0: {1: inf}}) == []
    assert sorted_scores([0.2, inf, 0.9, -inf]) == ([0.0, 1.0], [0.9, 0.2])
    for text in (LIVE, "x\\[b]y", "a\\", "[[b]]"):  # the palette's help reads markup
        assert Content.from_markup(literal_markup(text)).plain == text


def test_a_long_device_list_is_clipped_in_the_dashboard_row():
    from engine.overview import Item
    from tui.screens.dashboard import DEVICE_WIDTH, cells

    devices = ",".join(f"cuda:{i}" for i in range(8))
    item = Item("study", 1, "name", "done", 1.0, None, devices + "\x1b[2J", 0.0, "8/8 runs done")
    device = cells(item, 20, 20, 10)[6]
    assert len(device) == DEVICE_WIDTH and device.startswith("cuda:0,cuda:1") and device.endswith("…")
