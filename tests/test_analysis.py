"""The extraction study's analyses of a scan (engine.analysis): the trend, the train/extract
correlations and the length distribution, against values worked out by hand."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from engine.analysis import analyze, correlation, length_distribution
from engine.store import Store

# fingerprint -> (len, train, extract, outputs holding it)
PLANTED = {"a" * 32: (6, 1, 1, [3, 7]), "b" * 32: (6, 2, 3, [1]), "c" * 32: (8, 3, 2, [9, 2]),
           "d" * 32: (12, 4, 4, [10])}


@pytest.fixture
def scan(tmp_path):
    store = Store(tmp_path / "a.db")
    set_id = store.add_output_set(name="o", source="import", model=None, n=10)
    store.add_outputs(set_id, [(i, "0" * 32, f"output {i}", None) for i in range(1, 11)])
    scan_id = store.add_scan(set_id=set_id, source="scan", corpus={"kind": "files"}, corpus_label="c", n_outputs=10,
                             min_lines=6, state="done", stats={"snippets": 4})
    store.save_scan_results(scan_id, [(fp, n, t, e, "x\n" * n) for fp, (n, t, e, _) in PLANTED.items()],
                            [(fp, o, 1, 6) for fp, (*_, outs) in PLANTED.items() for o in outs], [])
    return store, scan_id


def test_the_three_analyses_by_hand(scan):
    store, scan_id = scan
    result = analyze(store, scan_id, points=5)
    # first outputs: b 1, c 2, a 3, d 10; outputs holding one: 1 2 3 7 9 10
    assert result["trend"] == [{"outputs": n, "snippets": s, "memorized_outputs": m}
                               for n, s, m in ((0, 0, 0), (2, 2, 2), (4, 3, 3), (6, 3, 3), (8, 3, 4), (10, 4, 6))]
    c = result["correlation"]
    # train 1 2 3 4 (a b c d) against extract 1 3 2 4: d = 0 -1 1 0, rho = 1 - 6*2/(4*15) = 0.8;
    # 5 concordant pairs and 1 discordant, tau = 4/6; Pearson: 4 / sqrt(5 * 5) = 0.8
    assert c["snippets"] == 4
    assert c["spearman"] == pytest.approx(0.8) and c["kendall"] == pytest.approx(4 / 6)
    assert c["pearson"] == pytest.approx(0.8) and 0 < c["spearman_p"] < 1 and 0 < c["kendall_p"] < 1
    assert result["lengths"] == {6: 2, 8: 1, 12: 1}


def test_the_trend_counts_outputs_in_id_order_whatever_their_ids(tmp_path):
    """An imported set's ids need not be 1..N: N is the number of outputs, in id order."""
    store = Store(tmp_path / "a.db")
    set_id = store.add_output_set(name="o", source="import", model=None, n=3)
    store.add_outputs(set_id, [(i, "0" * 32, f"output {i}", None) for i in (0, 5, 1_000_000)])
    scan_id = store.add_scan(set_id=set_id, source="scan", corpus={"kind": "files"}, corpus_label="c",
                             n_outputs=1_000_000, min_lines=6, state="done", stats={"snippets": 2})
    store.save_scan_results(scan_id, [("a" * 32, 6, 1, 2, "x\n" * 6), ("b" * 32, 6, 1, 1, "y\n" * 6)],
                            [("a" * 32, 0, 1, 6), ("a" * 32, 1_000_000, 1, 6), ("b" * 32, 5, 1, 6)], [])
    assert analyze(store, scan_id)["trend"] == [{"outputs": n, "snippets": s, "memorized_outputs": m}
                                                for n, s, m in ((0, 0, 0), (1, 1, 1), (2, 2, 2), (3, 2, 3))]


def test_undefined_correlations_are_nan():
    one = correlation(np.array([3.0]), np.array([1.0]))
    flat = correlation(np.array([1.0, 1.0, 1.0]), np.array([1.0, 2.0, 3.0]))
    for c in (one, flat):
        assert all(math.isnan(c[k]) for k in ("spearman", "kendall", "pearson"))
    from engine.analysis import correlation_line

    assert correlation_line(3, {**flat, "snippets": 1234}) == (
        "scan 3: 1,234 snippets · train against extract: Spearman rho -, Kendall tau-b -, Pearson r -")
    assert length_distribution(np.array([])) == {}


def test_the_analyze_command_prints_and_writes(scan, tmp_path, capsys):
    from cli.main import main

    store, scan_id = scan
    out = tmp_path / "analysis"
    assert main(["--db", str(store.path), "analyze", "--scan", str(scan_id), "--points", "5", "--out", str(out)]) == 0
    said = " ".join(capsys.readouterr().out.split())
    assert "Spearman rho 0.800" in said and "Kendall tau-b 0.667" in said and "10 → 4 (6)" in said
    assert (out / "trend.csv").read_text().splitlines()[-1] == "10,4,6"
    assert (out / "lengths.csv").read_text().splitlines() == ["len,snippets", "6,2", "8,1", "12,1"]
    assert json.loads((out / "correlation.json").read_text())["pearson"] == pytest.approx(0.8)
    assert main(["--db", str(store.path), "analyze", "--scan", "9"]) == 2
    assert "no scan with id 9" in capsys.readouterr().err


def test_a_in_the_browser_opens_the_analyses(scan, app_pilot):
    from conftest import settle

    from tui.screens.analysis import AnalysisScreen
    from tui.screens.browser import BrowserScreen

    store, scan_id = scan
    store.close()

    async def body(app, pilot):
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, AnalysisScreen) and screen.result["lengths"] == {6: 2, 8: 1, 12: 1}
        title = str(screen.query_one("#a-title").content)
        assert "4 snippets" in title and "Spearman rho 0.800" in title and "Pearson r 0.800" in title
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, BrowserScreen)

    app_pilot(store.path, body, size=(120, 36), screen=lambda: BrowserScreen(scan_id))
