"""The study screen: curves per noise level, sorted score distributions, the last epoch's
table, its keys, and live updates; and the pure functions behind its pictures."""
from __future__ import annotations

import asyncio
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import settle

from engine.results import result_rows
from engine.store import Store
from tui import curves

LEVELS = (0.0, 50.0, 100.0)
CREATED = 1_700_000_000.0


# -- the pure functions -------------------------------------------------------------------
def test_level_colours_are_fixed_and_distinct():
    assert curves.level_colour(0) == (60, 180, 75)
    assert curves.level_colour(100.0) == (230, 25, 75)
    standard = {curves.level_colour(v) for v in (0, 25, 50, 75, 100)}
    assert len(standard) == 5
    extra = [curves.level_colour(v) for v in (5, 10, 20, 30, 40, 60, 70, 80, 90)]
    assert len(set(extra)) == 9 and not set(extra) & standard
    assert curves.level_colour(12.5) == curves.level_colour(12.5) == curves.EXTRA_COLOURS[50 % 9]
    assert curves.level_label(25.0) == "25%" and curves.level_label(12.5) == "12.5%"


def test_curve_series_sorts_and_drops_missing_values():
    table = {50.0: {2: 0.5, 1: 0.25}, 0.0: {1: 0.75, 2: None, 3: math.nan, 4: 1.0}, 100.0: {1: None}}
    assert curves.curve_series(table) == [(0.0, [1, 4], [0.75, 1.0]), (50.0, [1, 2], [0.25, 0.5])]
    assert curves.curve_series({}) == []


def test_sorted_scores_descending_normalised_and_downsampled():
    assert curves.sorted_scores([0.2, 0.9, 0.5]) == ([0.0, 0.5, 1.0], [0.9, 0.5, 0.2])
    # 5 scores at 3 points: ranks 0, 2, 4 of the descending order, exact values there
    assert curves.sorted_scores([0.1, 0.4, 0.3, 0.9, 0.6], points=3) == ([0.0, 0.5, 1.0], [0.9, 0.4, 0.1])
    xs, ys = curves.sorted_scores(np.arange(1000) / 999.0, points=200)
    assert len(xs) == len(ys) == 200 and xs[0] == 0.0 and xs[-1] == 1.0
    assert ys[0] == 1.0 and ys[-1] == 0.0 and ys == sorted(ys, reverse=True)
    assert all(abs(x - (1 - y)) < 1e-12 for x, y in zip(xs, ys))  # exact at each chosen rank
    assert curves.sorted_scores([0.3, math.nan]) == ([0.0], [0.3])
    assert curves.sorted_scores([]) == ([], [])


def test_metric_order_bounds_epochs_and_rows():
    names = ["n", "loss", "joint_accuracy", "loc_accuracy", "gini_loss", "repair_accuracy"]
    assert curves.metric_order(names, "varmisuse") == [
        "loc_accuracy", "repair_accuracy", "loss", "gini_loss", "joint_accuracy", "n"]
    assert curves.metric_order(["recall", "csr_all", "f1_score"], "methodname") == ["f1_score", "recall", "csr_all"]
    for unit in ("loc_accuracy", "gini_loss", "mean_score_loc", "f1_score", "precision", "recall",
                 "exact_match", "csr_incorrect"):
        assert curves.bounds(unit) == (0.0, 1.0), unit
    for auto in ("loss", "loc_loss", "rep_loss", "n", "n_buggy"):
        assert curves.bounds(auto) is None, auto
    assert curves.default_epoch([3, 2, 3]) == 2
    assert curves.default_epoch([0, 2, 1]) == 2
    assert curves.default_epoch([0, 0]) is None and curves.default_epoch([]) is None
    assert curves.step([1, 2, 3], 3, 1) == 1 and curves.step([1, 2, 3], 1, -1) == 3
    assert curves.step([1, 2], 7, 1) == 1 and curves.step([], 1, 1) is None
    summary = [{"level": 0.0, "epoch": 2, "valid.loss": 1.5, "train.loss": 1.0},
               {"level": 50.0, "epoch": 1, "valid.loss": 2.5}]
    assert result_rows(summary, ("loss", "f1_score")) == [
        ("epoch", [2, 1]), ("held-out loss", [1.5, 2.5]), ("train loss", [1.0, None])]


# -- a study filled by hand ----------------------------------------------------------------
def accuracy(i: int, epoch: int, split: str) -> float:
    """Run i's (level i) loc_accuracy at an epoch: train rises faster than held-out."""
    return round((0.2 if split == "train" else 0.1) * epoch + 0.01 * i, 6)


def loc_scores(i: int, epoch: int, split: str) -> np.ndarray:
    base = np.array([0.1, 0.7, 0.4, 0.9]) if split == "valid" else np.array([0.6, 0.2, 0.8, 0.5])
    return base * (1 - 0.1 * i) + 0.01 * epoch


def commit(store: Store, run_id: int, i: int, epoch: int) -> None:
    """Record an epoch the way engine.study.train_run does: npz arrays, then commit_epoch."""
    metrics, refs = {}, {}
    for split in ("train", "valid"):
        metrics[split] = {"loc_accuracy": accuracy(i, epoch, split), "repair_accuracy": 0.5 + 0.1 * i,
                          "loss": 3.0 - epoch - 0.1 * i, "n": 4.0}
        rel = Path("runs") / str(run_id) / f"epoch{epoch}_{split}.npz"
        path = store.file_path(str(rel))
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, loc_score=loc_scores(i, epoch, split), rep_score=np.full(4, 0.25 * (i + 1)),
                 has_bug=np.ones(4, bool))
        refs[split] = (str(rel), 4)
    store.commit_epoch(run_id, epoch, metrics, refs)


def make_study(db: Path, epochs_done: int = 2, model: str = "transformer",
               config: dict | None = None) -> tuple[int, list[int]]:
    store = Store(db)
    sid = store.add_study(name="vm-[demo]", task="varmisuse", model=model, preset="tiny", epochs=3,
                          seed=0, device="cpu", train_path="/d/train.jsonl", valid_path="/d/valid.jsonl",
                          levels=list(LEVELS), config=config or {}, created=CREATED)
    runs = []
    for i, level in enumerate(LEVELS):
        run_id = store.add_run(study_id=sid, level=level, seed=0, epochs=3, epochs_done=0,
                               train_path=f"studies/{sid}/train_{level:g}.jsonl", changed_path="c", created=CREATED)
        job = store.add_job("train_run", {"run_id": run_id}, item=("study", sid), run_id=run_id)
        store.update_job(job, state="running")
        for epoch in range(1, epochs_done + 1):
            commit(store, run_id, i, epoch)
        runs.append(run_id)
    store.close()
    return sid, runs


def table_cells(table) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(r)] for r in range(table.row_count)]


@pytest.fixture
def run_app(app_pilot):
    """``run_app(db, sid, body, size)``: ``body(app, pilot)`` on the study's screen."""

    def run(db: Path, sid: int, body, size=(80, 24)) -> None:
        from tui.screens.study import StudyScreen

        app_pilot(db, body, size=size, screen=lambda: StudyScreen(sid), clock=lambda: CREATED + 100, poll_s=0.1)

    return run


def expected_curves(split: str, epochs: int) -> list:
    return [(lv, list(range(1, epochs + 1)), [accuracy(i, e, split) for e in range(1, epochs + 1)])
            for i, lv in enumerate(LEVELS)]


def expected_scores(epoch: int, split: str = "valid") -> list:
    return [(lv, *curves.sorted_scores(loc_scores(i, epoch, split))) for i, lv in enumerate(LEVELS)]


def test_screen_plots_one_series_per_level_and_the_last_epoch_table(tmp_path, run_app):
    db = tmp_path / "t.db"
    sid, _ = make_study(db)

    async def body(app, pilot):
        from textual_plotext import PlotextPlot

        from tui.screens.study import StudyScreen

        screen = app.screen
        assert isinstance(screen, StudyScreen)
        assert screen.curves == expected_curves("valid", 2)
        assert screen.scores == expected_scores(2)
        assert screen.scores[0][1] == [0.0, 1 / 3, 2 / 3, 1.0]
        assert screen.scores[0][2] == pytest.approx([0.92, 0.72, 0.42, 0.12])
        assert screen.view.metric == "loc_accuracy" and screen.view.epoch == 2
        title = str(screen.query_one("#study-title").render())
        assert "study 1: vm-[demo]" in title and "varmisuse" in title and "0%, 50%, 100%" in title
        assert "epoch 2/3, 3 running" in title
        plot = screen.query_one("#curves", PlotextPlot)
        rendered = str(plot.render())
        assert "held-out loc_accuracy" in rendered
        # the legend is outside the plot, with each level's value at the epoch shown
        legend = str(screen.query_one("#legend").render())
        assert legend.startswith("epoch 2: ━━ 0% 0.2000   ━━ 50% 0.2100   ━━ 100% 0.2200") and "y: fitted" in legend
        assert "50%" not in rendered
        rendered = str(screen.query_one("#scores", PlotextPlot).render())
        assert "held-out Localization scores" in rendered and "epoch 2 · sample rank 0-1" in rendered
        rows = table_cells(screen.query_one("#results"))
        assert [str(c.label) for c in screen.query_one("#results").columns.values()] == [
            "metric at the last epoch", "0%", "50%", "100%"]
        assert rows[0] == ["epoch", "2", "2", "2"]
        assert rows[1] == ["held-out loc_accuracy", "0.2000", "0.2100", "0.2200"]
        assert ["train loc_accuracy", "0.4000", "0.4100", "0.4200"] in rows
        assert ["held-out loss", "1.0000", "0.9000", "0.8000"] in rows
        assert all(not r[0].endswith(" n") for r in rows)  # headline metrics only

    run_app(db, sid, body)


def test_keys_change_metric_split_epoch_and_score_head(tmp_path, run_app):
    db = tmp_path / "t.db"
    sid, _ = make_study(db)

    async def body(app, pilot):
        screen = app.screen
        await pilot.press("m")
        await settle(pilot)
        assert screen.view.metric == "repair_accuracy"
        assert [ys for _, _, ys in screen.curves] == [[0.5, 0.5], [0.6, 0.6], [0.7, 0.7]]
        await pilot.press("m")
        await settle(pilot)
        assert screen.view.metric == "loss"
        assert screen.curves[0] == (0.0, [1, 2], [2.0, 1.0])
        await pilot.press("M", "M")
        await settle(pilot)
        assert screen.view.metric == "loc_accuracy"
        await pilot.press("M")  # cycles round to the last non-headline metric
        await settle(pilot)
        assert screen.view.metric == "n"

        await pilot.press("m", "t")
        await settle(pilot)
        assert screen.view.split == "train" and screen.view.metric == "loc_accuracy"
        assert screen.curves == expected_curves("train", 2)
        assert screen.scores == expected_scores(2, "train")
        await pilot.press("t")
        await settle(pilot)
        assert screen.curves == expected_curves("valid", 2)

        await pilot.press("e")  # from epoch 2 round to 1
        await settle(pilot)
        assert screen.view.epoch == 1 and screen.scores == expected_scores(1)
        await pilot.press("E")
        await settle(pilot)
        assert screen.view.epoch == 2

        await pilot.press("o")
        await settle(pilot)
        assert screen.view.column == "rep_score"
        assert screen.scores == [(lv, [0.0, 1 / 3, 2 / 3, 1.0], [0.25 * (i + 1)] * 4) for i, lv in enumerate(LEVELS)]
        assert "held-out Repair scores" in str(screen.query_one("#scores").render())

        from tui.screens.help import screen_keys
        keys = dict(screen_keys(screen))
        for key in ("m", "M", "t", "e", "E", "o", "esc"):
            assert key in keys, (key, keys)

    run_app(db, sid, body)


def test_new_epochs_appear_live_and_escape_goes_back(tmp_path, run_app):
    db = tmp_path / "t.db"
    sid, runs = make_study(db)

    async def body(app, pilot):
        from tui.screens.study import StudyScreen

        screen = app.screen
        draws = []
        for name in ("curves", "scores"):
            plt = screen.query_one(f"#{name}").plt
            plt.clear_figure = lambda name=name, clear=plt.clear_figure: (draws.append(name), clear())
        await asyncio.sleep(0.35)  # polls without news redraw nothing
        await settle(pilot)
        assert draws == []
        writer = Store(db)
        try:
            commit(writer, runs[0], 0, 3)  # one run ahead: the distribution stays at epoch 2
            await asyncio.sleep(0.25)
            await settle(pilot)
            assert screen.curves[0] == (0.0, [1, 2, 3], [0.1, 0.2, 0.3])
            assert screen.curves[1][1] == [1, 2]
            assert draws == ["curves"]  # the distribution's epoch 2 did not change
            assert screen.view.epoch == 2 and screen.view.epochs == [1, 2, 3]
            assert "epochs 2-3/3" in str(screen.query_one("#study-title").render())
            for i, run_id in list(enumerate(runs))[1:]:
                commit(writer, run_id, i, 3)
            await asyncio.sleep(0.25)
            await settle(pilot)
        finally:
            writer.close()
        assert screen.curves == expected_curves("valid", 3)
        assert screen.view.epoch == 3 and screen.scores == expected_scores(3)
        rows = table_cells(screen.query_one("#results"))
        assert rows[0] == ["epoch", "3", "3", "3"]
        assert rows[1] == ["held-out loc_accuracy", "0.3000", "0.3100", "0.3200"]

        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, StudyScreen)

    run_app(db, sid, body)


def test_empty_study_and_single_head_task(tmp_path, run_app):
    db = tmp_path / "t.db"
    store = Store(db)
    sid = store.add_study(name="mn", task="methodname", model="code2vec", preset="tiny", epochs=2, seed=0,
                          device="cpu", train_path="/d/t", valid_path="/d/v", levels=[0.0, 30.0], config={},
                          created=CREATED)
    for level in (0.0, 30.0):
        store.add_run(study_id=sid, level=level, seed=0, epochs=2, epochs_done=0, train_path="t",
                      changed_path="c", created=CREATED)
    store.close()

    async def body(app, pilot):
        screen = app.screen
        assert screen.curves == [] and screen.scores == [] and screen.view.epoch is None
        assert "no epoch finished yet" in str(screen.query_one("#curves").render())
        assert "epoch 0/2, no jobs" in str(screen.query_one("#study-title").render())
        assert screen.check_action("column", ()) is False  # one score head: o is not offered
        assert screen.check_action("split", ()) is True
        rows = table_cells(screen.query_one("#results"))
        assert rows == [["epoch", "0", "0"]]
        assert "held-out scores: none yet" in str(screen.query_one("#scores").render())

        writer = Store(db)
        writer.delete_study(sid)  # deleted elsewhere: the screen says so and goes back
        writer.close()
        await asyncio.sleep(0.25)
        await settle(pilot)
        assert not isinstance(app.screen, type(screen))

    run_app(db, sid, body)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_layout_fits_the_terminal(tmp_path, size, run_app):
    db = tmp_path / "t.db"
    sid, _ = make_study(db)

    async def body(app, pilot):
        width, height = size
        screen = app.screen
        plots = [screen.query_one(f"#{name}").region for name in ("curves", "scores")]
        table = screen.query_one("#results").region
        for region in [*plots, table]:
            assert region.right <= width and region.bottom <= height - 1  # above the footer
        assert plots[0].width >= width // 2 - 1 and plots[0].height >= height // 3
        assert plots[0].y == plots[1].y and plots[0].right <= plots[1].x  # side by side
        assert table.y >= plots[0].bottom and table.height >= 4

    run_app(db, sid, body, size=size)


PUBLISHED = Path(__file__).parent / "data/ci_memorization/data/summary/data/variable_misuse/X_Injecting_Repair"


def test_the_published_curves_are_drawn_beside_the_study_and_p_hides_them(tmp_path, run_app):
    """A study made with --reference shows the published curve of the same metric, head and
    split (GGNN's training localization accuracy on Py150), dotted, for its levels; p
    hides it; a metric the folder lacks shows none."""
    import csv

    db = tmp_path / "t.db"
    sid, _ = make_study(db, model="ggnn", config={"reference": str(PUBLISHED)})
    with open(PUBLISHED / "accuracy" / "GGNN_Py150_Localization_train.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    columns = {float(name.removesuffix("_percent")): i for i, name in enumerate(rows[0][1:], 1)}

    async def body(app, pilot):
        screen = app.screen
        assert screen.view.metric == "loc_accuracy" and screen.view.published is None  # no held-out file
        await pilot.press("t")
        await settle(pilot)
        assert screen.view.split == "train"
        published = screen.view.published
        assert [level for level, _, _ in published] == list(LEVELS)
        for level, xs, ys in published:
            assert xs == list(range(1, len(rows)))
            assert ys == pytest.approx([float(r[columns[level]]) for r in rows[1:]])
        await pilot.press("p")
        await settle(pilot)
        assert screen.view.published is None
        await pilot.press("p")
        await settle(pilot)
        assert screen.view.published == published

    run_app(db, sid, body)


@pytest.mark.parametrize("task, model, config, metric, said", [
    ("codesearch", "codebert", {}, "accuracy", "codesearch · codebert"),
    ("methodname", "code2seq", {"score": "top10", "decoding": "study"}, "f1_score", "the study's definitions"),
    ("varmisuse", "ggnn", {"noise_kind": "injecting_repair"}, "loc_accuracy", "input noise injecting_repair"),
])
def test_the_new_tasks_models_and_noise_kinds_use_the_same_screen(tmp_path, run_app, task, model, config, metric,
                                                                   said):
    db = tmp_path / "t.db"
    store = Store(db)
    sid = store.add_study(name="new", task=task, model=model, preset="quick", epochs=2, seed=0, device="cpu",
                          train_path="/d/t", valid_path="/d/v", levels=[0.0, 100.0], config=config, created=CREATED)
    for i, level in enumerate((0.0, 100.0)):
        run_id = store.add_run(study_id=sid, level=level, seed=0, epochs=2, epochs_done=0, train_path="t",
                               changed_path="c", created=CREATED)
        for epoch in (1, 2):
            store.commit_epoch(run_id, epoch, {"train": {metric: 0.5 + 0.1 * epoch - 0.2 * i, "loss": 1.0},
                                               "valid": {metric: 0.4 + 0.1 * epoch - 0.2 * i, "loss": 1.5}}, {})
    store.close()

    async def body(app, pilot):
        screen = app.screen
        assert screen.view.metric == metric  # the task's headline metric first
        assert [xs for _, xs, _ in screen.curves] == [[1, 2], [1, 2]]
        assert said in str(screen.query_one("#study-title").render())

    run_app(db, sid, body)


def test_smoothing_y_limits_and_values_at_by_hand():
    # weight 0.5: last = 0.5 * 1 = 0.5 -> 0.5 / 0.5 = 1; then 0.25 + 1.5 = 1.75 -> / 0.75 = 7/3
    assert curves.smooth([1.0, 3.0], 0.5) == pytest.approx([1.0, 7 / 3])
    assert curves.smooth([1.0, 3.0, 2.0], 0.0) == [1.0, 3.0, 2.0]
    assert curves.smooth([4.0] * 5, 0.9) == pytest.approx([4.0] * 5)  # debiased: a constant stays
    with pytest.raises(ValueError):
        curves.smooth([1.0], 1.0)
    series = [(0.0, [1, 2], [0.20, 0.30]), (50.0, [1, 2], [0.25, 0.40])]
    lo, hi = curves.y_limits("loc_accuracy", series, full=False)  # range 0.2: 0.01 either side
    assert (lo, hi) == (pytest.approx(0.19), pytest.approx(0.41))
    assert curves.y_limits("loc_accuracy", series, full=True) == (0.0, 1.0)
    assert curves.y_limits("loc_accuracy", [(0.0, [1], [0.99])], full=False) == (pytest.approx(0.9405), 1.0)
    assert curves.y_limits("loss", [(0.0, [1], [2.0])], full=False) == (pytest.approx(1.9), pytest.approx(2.1))
    assert curves.y_limits("loss", [(0.0, [1], [0.0])], full=False) == (pytest.approx(-0.01), pytest.approx(0.01))
    assert curves.y_limits("loss", series, full=True) is None and curves.y_limits("loss", [], full=False) is None
    assert curves.values_at(series + [(100.0, [1], [0.5])], 2) == [(0.0, 0.30), (50.0, 0.40), (100.0, None)]


def test_y_range_smoothing_and_the_cursor_epoch(tmp_path, run_app):
    """y: the fitted axis (the data's range and a margin) or the full 0-1; s: smoothing
    0.6, 0.9, off; e: the epoch whose values the legend reads, marked on the plot."""
    db = tmp_path / "t.db"
    sid, _ = make_study(db)

    def top_label(screen) -> str:  # the y-axis label of the plot's first row of data
        rows = str(screen.query_one("#curves").render()).splitlines()
        return next(r for r in rows if "┤" in r).split("┤")[0].strip()

    async def body(app, pilot):
        screen = app.screen
        fitted = top_label(screen)
        assert float(fitted) == pytest.approx(0.226, abs=0.001)  # 0.22 + 5 % of the range 0.10-0.22
        await pilot.press("y")
        await settle(pilot)
        assert screen.full_y and float(top_label(screen)) == pytest.approx(1.0)
        assert "y: 0-1" in str(screen.query_one("#legend").render())
        await pilot.press("y", "s")
        await settle(pilot)
        assert not screen.full_y and screen.smoothing == 0.6
        assert "smoothed 0.6 (raw faint)" in str(screen.query_one("#legend").render())
        await pilot.press("s", "s")
        await settle(pilot)
        assert screen.smoothing == 0.0
        await pilot.press("e")  # epoch 1: the legend reads the values there
        await settle(pilot)
        legend = str(screen.query_one("#legend").render())
        assert legend.startswith("epoch 1: ━━ 0% 0.1000   ━━ 50% 0.1100   ━━ 100% 0.1200"), legend
        from tui.screens.help import screen_keys
        keys = dict(screen_keys(screen))
        assert "y" in keys and "s" in keys

    run_app(db, sid, body, size=(120, 36))


def test_two_studies_marked_on_the_dashboard_are_overlaid(tmp_path, app_pilot):
    """space marks studies on the dashboard (a name shows the mark), v opens one plot of
    both: their curves of the same metric, both named in the legend with their line
    style; one study alone is not enough."""
    from textual_plotext import PlotextPlot

    from tui.screens.dashboard import DashboardScreen
    from tui.screens.overlay import OverlayScreen

    db = tmp_path / "t.db"
    make_study(db)
    make_study(db, epochs_done=1, model="ggnn")

    async def body(app, pilot):
        dashboard = app.screen
        assert isinstance(dashboard, DashboardScreen)
        await pilot.press("space", "v")  # one study marked: not enough
        await settle(pilot)
        assert app.screen is dashboard and dashboard.marked == [1]
        assert any("mark two studies or more" in n.message for n in app._notifications)
        assert str(dashboard.table.get_row("study:1")[2]).startswith("● ")
        await pilot.press("down", "space", "v")
        await settle(pilot)
        overlay = app.screen
        assert isinstance(overlay, OverlayScreen) and overlay.study_ids == [1, 2]
        await settle(pilot)
        assert overlay.view.metric == "loc_accuracy"
        assert overlay.view.curves[0] == expected_curves("valid", 2) and overlay.view.curves[1] == expected_curves(
            "valid", 1)
        legend = str(overlay.query_one("#legend").render())
        assert "━━ 0%" in legend and "━━ 100%" in legend
        assert "⣿⣿ study 1: vm-[demo]" in legend and "·· study 2: vm-[demo]" in legend
        assert "held-out loc_accuracy" in str(overlay.query_one("#overlay", PlotextPlot).render())
        await pilot.press("t", "m")
        await settle(pilot)
        assert overlay.view.metric == "repair_accuracy" and overlay.split == "train"
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is dashboard
        Store(db).delete_study(1)  # elsewhere: the mark goes with the study
        for _ in range(3):
            await pilot.pause(0.12)
            await settle(pilot)
        assert dashboard.marked == [2] and "studies 1" not in str(dashboard.query_one("#info").content)

    app_pilot(db, body, size=(120, 36), clock=lambda: CREATED + 100, poll_s=0.1)


def test_the_title_says_where_inside_its_epoch_each_running_run_is(tmp_path, run_app):
    db = tmp_path / "t.db"
    sid, runs = make_study(db)
    store = Store(db)
    job = next(j for j in store.jobs_of("study", sid) if j["run_id"] == runs[1])
    store.update_job(job["id"], message="epoch 3/3: training, loss 0.412 [b]x[/b]")
    store.close()

    async def body(app, pilot):
        title = str(app.screen.query_one("#study-title").render())
        assert "epoch 2/3, 3 running · 50% run: epoch 3/3: training, loss 0.412 [b]x[/b]" in title  # as text

    run_app(db, sid, body, size=(200, 30))
