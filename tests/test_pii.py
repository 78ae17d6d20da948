"""The PII pass (engine.pii): each kind on a table of strings that must and must not be
found, the study's IP filters (dates, versions, invalid octets), and the store's index."""
from __future__ import annotations

import pytest

from engine.errors import InputError
from engine.pii import entropy, find_pii

FOUND = [  # (text, kind, value)
    ("contact: jane.doe@example.com for access", "email", "jane.doe@example.com"),
    ("<admin@mail.server.org>", "email", "admin@mail.server.org"),
    ("AUTHOR = 'bob_smith+py@uni-x.edu'", "email", "bob_smith+py@uni-x.edu"),
    ("HOST = '192.168.10.254'", "ip", "192.168.10.254"),
    ("connect to 8.8.8.8 as the dns server", "ip", "8.8.8.8"),
    ("bind(('::1', 80))", "ip", "::1"),
    # the study's alternatives, in its order: a long IPv6 address is found by its first groups
    ("server = 2001:db8:85a3::8a2e:370:7334\n", "ip", "2001:db8:85a3::8a2e"),
    ("fe80::1ff:fe23:4567:890a here", "ip", "fe80::1ff"),
    ("see https://example.com/user@2x.png", "email", "//example.com/user@2x.png"),  # the study's rule: / is allowed
    ("aws_key = 'AKIAIOSFODNN7EXAMPLE'", "key", "AKIAIOSFODNN7EXAMPLE"),
    ("token = ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8", "key", "ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"),
    ("SLACK = 'xoxb-1234567890-abcdefghij'", "key", "xoxb-1234567890-abcdefghij"),
    ("secret = \"q8Zx2LmN4vB7tR1yK9pW3sD6fG0hJ5cA\"", "key", "q8Zx2LmN4vB7tR1yK9pW3sD6fG0hJ5cA"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIE", "key", "-----BEGIN RSA PRIVATE KEY-----"),
    ("DB = 'postgres://admin:hunter2@db.example.com:5432/app'", "credential_url",
     "postgres://admin:hunter2@db.example.com:5432/app"),
]
NOT_FOUND = [
    "version = '1.2.3.4'",  # x.x.x.x without dns or server nearby: a version
    "released 2019-2020, updated 2021-03-14 and 14/03/21",  # dates
    "ip = '999.1.1.1' and 33.01.33.33",  # not addresses
    "the decorator @property and user@localhost",  # no domain with a dot and a letter
    "name = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'",  # a long quoted string of low entropy
    "sha = 'd41d8cd98f00b204'",  # hexadecimal, too short
    "path = '/usr/local/lib/python3.11/site-packages'",  # slashes: not a key's alphabet
    "url = 'https://example.com/a.png'",  # no user or password in the URL
    "x = a:b",
]


@pytest.mark.parametrize("text, kind, value", FOUND)
def test_each_kind_is_found(text, kind, value):
    assert (kind, value) in [(f.kind, f.value) for f in find_pii(text)], find_pii(text)
    first = next(f for f in find_pii(text) if f.kind == kind and f.value == value)
    assert text[first.start:first.start + len(value)] == value


@pytest.mark.parametrize("text", NOT_FOUND)
def test_what_is_not_personal_data(text):
    assert find_pii(text) == []


def test_many_texts_at_once_are_each_texts_finds(monkeypatch):
    """find_pii_many skips the texts that cannot hold a find, and tries the address pattern
    only where an address can be (a full IPv6 address without ``::``, IPv4 at a text's
    ends, floats, versions and slices that are none): the same finds as find_pii one text
    at a time, in passes of every size, with texts beyond ASCII (Arabic-Indic digits) and
    empty texts."""
    import random

    from engine import pii

    rng = random.Random(2)
    pieces = [t for t, _, _ in FOUND] + NOT_FOUND + [
        "ip = '\u0661\u0669\u0662.\u0661\u0666\u0668.1.1' # dns server", "x = 1", "", "::", "def f(): pass",
        "caf\u00e9 = 'q8Zx2LmN4vB7tR1yK9pW3sD6fG0hJ5cA'", "\u4e2d\u6587 admin@mail.server.org \u4e2d", "a\nb\n",
        "2001:0db8:85a3:0000:0000:8a2e:0370:7334", "x[::2]", "1.5 + 2.25", "v1.2.3", "...", "10.0.0.1",
        "server 1.2.3.4", "\u0661.\u0662.\u0663.\u0664 dns"]
    texts = ["".join(rng.choice(pieces) + rng.choice(["", "\n", " "]) for _ in range(rng.randrange(0, 4)))
             for _ in range(600)] + pieces
    expected = [find_pii(t) for t in texts]
    assert sum(map(len, expected)) > 100 and any(not t for t in texts)
    monkeypatch.setattr(pii, "PASS_TEXTS", 37)
    assert pii.find_pii_many(texts) == expected
    assert pii.find_pii_many([]) == []


def test_entropy_by_hand():
    assert entropy("") == 0.0 and entropy("aaaa") == 0.0
    assert entropy("abab") == 1.0 and entropy("abcd") == 2.0


# -- in the store, the command line and the browser -----------------------------------------------
SNIPPETS = {  # fingerprint -> text
    "a" * 32: "def mail():\n    return 'ops@example.org'\n",
    "b" * 32: "HOSTS = ['10.0.0.1', '10.0.0.2']\nKEY = 'AKIAIOSFODNN7EXAMPLE'\n",
    "c" * 32: "def plain(x):\n    return x + 1\n",
}


def pii_scan(tmp_path):
    from engine.store import Store

    store = Store(tmp_path / "p.db")
    set_id = store.add_output_set(name="o", source="import", model=None, n=3)
    store.add_outputs(set_id, [(i + 1, f"m{i}", text, None) for i, text in enumerate(SNIPPETS.values())])
    scan_id = store.add_scan(set_id=set_id, source="scan", corpus={"kind": "files"}, corpus_label="c", n_outputs=3,
                             min_lines=2, state="done", stats={"snippets": 3})
    store.save_scan_results(scan_id, [(fp, 2, 1, 1, text) for fp, text in SNIPPETS.items()],
                            [(fp, i + 1, 1, 2) for i, fp in enumerate(SNIPPETS)], [])
    return store, scan_id


def test_a_saved_scan_is_looked_through_and_filtered(tmp_path):
    store, scan_id = pii_scan(tmp_path)
    assert store.pii_counts(scan_id) == {"email": (1, 1), "ip": (2, 1), "key": (1, 1)}
    page = store.snippet_page(store.snippet_filter(scan_id), "fingerprint")
    assert [r["pii"] for r in page] == ["email", "ip,key", None]
    for pii, expected in (("any", ["a" * 32, "b" * 32]), ("key", ["b" * 32]), ("credential_url", [])):
        flt = store.snippet_filter(scan_id, pii=pii)
        assert [r["fingerprint"] for r in store.snippet_page(flt, "fingerprint")] == expected
        assert store.snippet_filter_count(flt) == len(expected)
    flt = store.snippet_filter(scan_id, text="return", pii="any")  # through the text index too
    assert [r["fingerprint"] for r in store.snippet_page(flt, "fingerprint")] == ["a" * 32]
    with pytest.raises(InputError, match="unknown kind of personal data 'phone'"):
        store.snippet_filter(scan_id, pii="phone")
    assert store.index_pii(scan_id) == 2 and store.pii_counts(scan_id)["ip"] == (2, 1)  # again: the same


def test_the_pii_command_and_the_labelling_sample(tmp_path, capsys):
    import csv
    import json

    from cli.main import main

    store, scan_id = pii_scan(tmp_path)
    db = ["--db", str(store.path)]
    assert main([*db, "pii", "--scan", str(scan_id), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["snippets_with_pii"] == 2 and shown["kinds"]["ip"] == {"finds": 2, "snippets": 1}
    assert [f["value"] for f in shown["finds"]] == ["ops@example.org", "10.0.0.1", "10.0.0.2", "AKIAIOSFODNN7EXAMPLE"]
    out = tmp_path / "sample.csv"
    assert main([*db, "export", "sample", "--scan", str(scan_id), "--n", "2", "--seed", "3", "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 2 and set(rows[0]) == {"MD5", "Code", "len", "train", "extract", "pii", "label"}
    assert all(SNIPPETS[r["MD5"]] == r["Code"] for r in rows)
    again = tmp_path / "again.csv"
    main([*db, "export", "sample", "--scan", str(scan_id), "--n", "2", "--seed", "3", "--out", str(again)])
    assert again.read_text() == out.read_text()  # seeded


def test_the_browser_shows_and_filters_personal_data(tmp_path, app_pilot):
    from conftest import settle

    from tui.screens.browser import BrowserScreen

    store, scan_id = pii_scan(tmp_path)
    store.close()

    async def body(app, pilot):
        browser = app.screen
        await settle(pilot)
        table = browser.query_one("#snippets")
        cells = {str(table.get_row_at(r)[0]): str(table.get_row_at(r)[4]) for r in range(table.row_count)}
        assert cells == {"a" * 32: "e", "b" * 32: "ik", "c" * 32: ""}
        await pilot.press("i")
        await settle(pilot)
        assert table.row_count == 2 and "personal data" in str(browser.query_one("#title").content)
        await pilot.press("slash", *"pii:key", "enter")
        await settle(pilot)
        assert table.row_count == 1 and str(table.get_row_at(0)[0]) == "b" * 32
        await pilot.press("escape")
        await settle(pilot)
        assert table.row_count == 3
        # the box shows the whole filter: emptied, it clears the personal-data part too
        await pilot.press("i", "slash")
        await settle(pilot)
        box = browser.query_one("#filter")
        assert box.value == "pii:"
        box.value = ""
        await pilot.press("enter")
        await settle(pilot)
        assert table.row_count == 3 and browser.pii is None
        # a text typed over it replaces it; pii:KIND and a text together keep both
        await pilot.press("i", "slash")
        box.value = "ops"
        await pilot.press("enter")
        await settle(pilot)
        assert (browser.pii, browser.text, table.row_count) == (None, "ops", 1)
        await pilot.press("slash")
        box.value = "pii:key ops"
        await pilot.press("enter")
        await settle(pilot)
        assert (browser.pii, browser.text, table.row_count) == ("key", "ops", 0)
        await pilot.press("slash")
        assert box.value == "pii:key ops"

    app_pilot(tmp_path / "p.db", body, size=(140, 30), screen=lambda: BrowserScreen(scan_id))
