"""A noise study, live: one curve per noise level over the epochs, the sorted score
distribution of one epoch (the paper's Figures 4 and 5), and the last epoch's figures."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Footer, Header, Static
from textual_plotext import PlotextPlot

from engine.overview import STATE_ORDER
from engine.noise.input import noise_label
from engine.presets import axis_unit, definitions_label, preset_kind
from engine.results import fmt_value, result_rows, summary
from engine.tasks import TASK_HEADLINES, TASK_SCORE_COLUMNS, score_values
from engine.untrusted import visible
from tui.curves import (
    curve_series,
    default_epoch,
    level_colour,
    level_label,
    metric_order,
    smooth,
    sorted_scores,
    step,
    trial_band,
    values_at,
    y_limits,
)
from tui.panes import PaneKeys, pane_bindings
from tui.screens.base import PolledScreen, SubScreen
from tui.screens.curve_keys import CurveKeys, curve_bindings
from tui.widgets.keytable import KeyTable

SPLITS = {"valid": "held-out", "train": "train"}
POINTS = 200  # most points per score-distribution line
FEW = 12  # with at most this many epochs each point is marked, and the x-axis ticks every epoch

Series = list[tuple[float, list, list]]


@dataclass
class StudyView:
    """One read of the store, for the current choice of split, metric, epoch and column."""

    study: dict
    title: Text
    split: str
    names: list[str]  # the split's metrics, headline first
    metric: str | None
    curves: Series
    epochs: list[int]  # epochs any run has finished
    epoch: int | None
    columns: dict[str, str]  # score array -> display name
    column: str | None
    scores: Series
    levels: list[float]
    results: list[tuple[str, list]]  # the last epoch's table: (row label, value per level)
    unit: str = "epoch"  # or "step": what the x-axis counts (engine.presets.axis_unit)
    published: Series | None = None  # the same curve as published (the study's --reference), when shown
    band: tuple[Series, Series] | None = None  # the trials' spread around each mean curve: (lower, upper)


def state_summary(study: dict, runs: list[dict], jobs: list[dict]) -> str:
    """'epoch 2/3, 1 running, 2 queued · 50% run: epoch 3/3: training, loss 0.412': how far
    the runs are, their jobs' states, and where inside its epoch each running one is
    (its level and its last progress message)."""
    done = [int(r["epochs_done"] or 0) for r in runs] or [0]
    lo, hi = min(done), max(done)
    unit = axis_unit(study["config"] or {})
    epochs = f"{unit} {lo}/{study['epochs']}" if lo == hi else f"{unit}s {lo}-{hi}/{study['epochs']}"
    counts = Counter(j["state"] for j in jobs)
    states = ", ".join(f"{counts[s]} {s}" for s in STATE_ORDER if counts[s])
    levels = {r["id"]: r["level"] for r in runs}
    inside = [f"{level_label(levels[j['run_id']])} run: {j['message']}" for j in jobs
              if j["state"] == "running" and j.get("message") and j.get("run_id") in levels]
    return f"{epochs}, {states or 'no jobs'}" + "".join(f" · {m}" for m in inside)


class StudyScreen(CurveKeys, PaneKeys, PolledScreen, SubScreen):
    """The curves of one study, growing while its runs train."""

    HELP_TITLE = "Study"
    PANE = "study"
    CSS_PATH = "../styles/study.tcss"
    EPOCH = Binding.Group("Epoch", compact=True)
    BINDINGS = curve_bindings(
        Binding("e", "epoch(1)", "Next epoch", group=EPOCH),
        Binding("E", "epoch(-1)", "Previous epoch", group=EPOCH),
        Binding("o", "column", "Head", tooltip="Which score the distribution shows (localization / repair)"),
        Binding("p", "published", "Published", tooltip="Show or hide the published curves (byrote study --reference)"),
        Binding("b", "band", "Band", tooltip="The trials' band: min-max or mean ± one standard deviation"),
        Binding("c", "cartography", "Data maps and detectors: which samples each run memorized", show=False),
        *pane_bindings(),
    )

    def __init__(self, study_id: int) -> None:
        super().__init__()
        self.study_id = study_id
        self.init_curve_keys()
        self.epoch: int | None = None  # None: follow the default epoch
        self.column: str | None = None  # None: the task's first score array
        self.show_published = True  # the study's --reference curves, dotted, when it has one
        self._published: dict[tuple, dict | None] = {}  # read once per curve
        self.band = "minmax"  # or "sd": the band drawn around the mean of several trials
        self.view: StudyView | None = None
        self.curves: Series = []  # what each plot shows now
        self.scores: Series = []
        self._drawn: dict[str, tuple] = {}  # what each widget was last drawn from
        self._stamp: tuple = ()
        self._memo: dict[tuple, object] = {}
        self._score_cache: dict[tuple, tuple[list, list] | None] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"study {self.study_id}", id="study-title")
        with Horizontal(id="plots"):
            yield PlotextPlot(id="curves")
            yield PlotextPlot(id="scores")
        yield Static("", id="legend")
        yield KeyTable(id="results")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.size_panes(self.pane_share)

    def action_cartography(self) -> None:
        from tui.screens.cartography import CartographyScreen

        self.app.push_screen(CartographyScreen(self.study_id))

    def size_panes(self, share: int) -> None:
        """The plots take ``share`` % of the height they share with the table."""
        self.query_one("#plots").styles.height = f"{share}fr"
        self.query_one("#results").styles.height = f"{100 - share}fr"

    # -- reading (worker thread) -----------------------------------------------------------
    def read(self, store) -> StudyView:
        study = store.study(self.study_id)
        runs = store.runs(self.study_id)
        task, split = study["task"], self.split
        # metrics only change when an epoch is committed: between commits a poll costs
        # three small queries, whatever the study's size
        stamp = tuple((r["id"], r["epochs_done"]) for r in runs)
        if stamp != self._stamp:
            self._stamp, self._memo = stamp, {}
        memo = self._memo

        def once(key, compute):
            if (stamp, key) not in memo:
                memo[(stamp, key)] = compute()
            return memo[(stamp, key)]

        names = once(("names", split), lambda: metric_order(
            [n for s, n in store.metric_names(self.study_id) if s == split], task))
        metric = self.metric if self.metric in names else (names[0] if names else None)
        curves = once(("curves", split, metric), lambda: curve_series(
            store.metric_table(self.study_id, split, metric))) if metric else []
        band = None
        if metric and int((study["config"] or {}).get("trials", 1)) > 1:  # the spread of the trials
            band = once(("band", split, metric, self.band), lambda: trial_band(
                store.metric_trials(self.study_id, split, metric), self.band))
        reference = (study["config"] or {}).get("reference")
        published = None
        if reference and metric and self.show_published:
            from engine.compare import published_curve

            key = (reference, split, metric)  # the folder's files do not change with the study's epochs
            if key not in self._published:
                self._published[key] = published_curve(store, self.study_id, reference, split, metric)
            table = self._published[key]
            mine = {float(level) for level in study["levels"]}
            published = curve_series({lv: v for lv, v in table.items() if lv in mine}) if table else None

        done = [int(r["epochs_done"] or 0) for r in runs]
        epochs = list(range(1, max(done, default=0) + 1))
        epoch = self.epoch if self.epoch in epochs else default_epoch(done)
        columns = TASK_SCORE_COLUMNS.get(task, {})
        column = self.column if self.column in columns else next(iter(columns), None)
        scores = []
        if epoch is not None and column is not None:
            for run in runs:
                if run.get("trial"):
                    continue  # one distribution per level: its first trial's
                points = self._sorted_scores(store, run["id"], epoch, split, column, task)
                if points is not None:
                    scores.append((float(run["level"]), *points))

        definitions = definitions_label(preset_kind(task, study["model"]), study["config"])
        # plain text, never markup: names, the model and the preset come from the store
        title = Text.assemble(
            (visible(f"study {study['id']}: {study['name'] or ''}"), "bold"),
            visible(f"  {task} · {study['model']} · {study['preset']} preset · {definitions} · "
                    f"{noise_label(study['config'])}levels {', '.join(level_label(v) for v in study['levels'])} · "
                    f"{state_summary(study, runs, store.jobs_of('study', self.study_id))}"))
        return StudyView(
            study=study, title=title, split=split, names=names, metric=metric, curves=curves,
            epochs=epochs, epoch=epoch, columns=columns, column=column, scores=scores,
            levels=sorted({float(r["level"]) for r in runs}),
            results=once("results", lambda: result_rows(summary(store, self.study_id),
                                                        TASK_HEADLINES.get(task, ()), axis_unit(study["config"]))),
            unit=axis_unit(study["config"] or {}), published=published, band=band,
        )

    def _sorted_scores(self, store, run_id: int, epoch: int, split: str, column: str, task: str):
        """One run's sorted scores at one epoch, or None; cached (a finished epoch's arrays
        never change)."""
        import zipfile

        import numpy as np

        key = (run_id, epoch, split, column)
        if key not in self._score_cache:
            path = store.array_path(run_id, epoch, split)
            if path is None or not path.exists():
                return None  # not finished yet: ask again at the next poll
            try:
                with np.load(path) as arrays:
                    points = (sorted_scores(score_values(task, arrays, column), POINTS)
                              if column in arrays else None)
            except (ValueError, zipfile.BadZipFile):  # not an npz: it will not heal
                points = None
            self._score_cache[key] = points
        return self._score_cache[key]

    # -- showing (UI thread) -----------------------------------------------------------
    def show(self, view: StudyView) -> None:
        self.view = view
        self.sub_title = view.study["name"]
        if self._changed("title", (view.title,)):
            self.query_one("#study-title", Static).update(view.title)
        self._draw_curves(view)
        self._draw_scores(view)
        self._fill_results(view)
        if self._changed("keys", (len(view.names), len(view.epochs), len(view.columns))):
            self.refresh_bindings()

    def _changed(self, name: str, key: tuple) -> bool:
        if self._drawn.get(name) == key:
            return False
        self._drawn[name] = key
        return True

    def _draw_curves(self, view: StudyView) -> None:
        """One line per level in its colour (smoothed, over its faint raw values, when
        smoothing is on), each point marked when there are few, the trials' band and the
        published curves in the level's colour, the distribution's epoch as a vertical
        line; the y-axis fitted to what is drawn or the metric's full range (``y``); the
        legend outside the plot, under it (:meth:`_show_legend`)."""
        label = SPLITS[view.split]
        title = f"{label} {visible(view.metric)}" if view.metric else f"{label}: no epoch finished yet"
        self._show_legend(view)
        if not self._changed("curves", (title, view.curves, view.published, view.band, view.epoch, self.full_y,
                                        self.smoothing)):
            return
        widget = self.query_one("#curves", PlotextPlot)
        plt = widget.plt
        plt.clear_figure()
        plt.title(title)
        plt.xlabel(view.unit)
        epochs = sorted({x for _, xs, _ in view.curves for x in xs})
        for level, xs, ys in view.curves:
            colour = level_colour(level)
            if self.smoothing:
                plt.plot(xs, ys, color=tuple(c * 2 // 5 for c in colour), marker="braille")  # the raw values, faint
                ys = smooth(ys, self.smoothing)
            plt.plot(xs, ys, color=colour, marker="braille")
            if len(epochs) <= FEW:
                plt.scatter(xs, ys, color=colour, marker="●")
        for edge in view.band or ():  # the trials' band, thin, in the level's colour
            for level, xs, ys in edge:
                plt.plot(xs, ys, color=level_colour(level), marker="-")
        for level, xs, ys in view.published or ():  # dotted, in the level's colour
            plt.plot(xs, ys, color=level_colour(level), marker="dot")
        if 0 < len(epochs) <= FEW:
            plt.xticks(epochs)
        drawn = [*view.curves, *(view.published or ()), *(s for edge in view.band or () for s in edge)]
        limits = y_limits(view.metric, drawn, self.full_y) if view.metric else None
        if limits:
            plt.ylim(*limits)
        if view.epoch is not None and len(epochs) > 1:
            plt.vline(view.epoch, (110, 110, 110))
        self.curves = view.curves
        widget.refresh()

    def _show_legend(self, view: StudyView) -> None:
        """Under the plots: each level's colour and its value at the distribution's epoch
        (the cursor), then what else is drawn."""
        legend = Text()
        if view.epoch is not None and view.curves:
            legend.append(f"{view.unit} {view.epoch}: ", style="bold")
        values = dict(values_at(view.curves, view.epoch))
        for level in view.levels:
            value = values.get(level)
            legend.append("━━ ", style="rgb({},{},{})".format(*level_colour(level)))
            legend.append(level_label(level) + (f" {fmt_value(value)}" if value is not None else "") + "   ")
        notes = ["y: 0-1" if self.full_y else "y: fitted"]
        if self.smoothing:
            notes.append(f"smoothed {self.smoothing:g} (raw faint)")
        if view.band is not None:
            notes.append("band: " + ("mean ± sd" if self.band == "sd" else "min-max of the trials"))
        if view.published:
            notes.append("dotted: published")
        legend.append(" · ".join(notes), style="dim")
        self.query_one("#legend", Static).update(legend)

    def _draw_scores(self, view: StudyView) -> None:
        label = SPLITS[view.split]
        head = view.columns.get(view.column) or ""  # "" for a task with one score head
        title = " ".join(filter(None, (label, head, "scores"))) + ("" if view.epoch else ": none yet")
        xlabel = f"{view.unit} {view.epoch} · sample rank 0-1" if view.epoch else ""
        if not self._changed("scores", (title, xlabel, view.scores)):
            return
        widget = self.query_one("#scores", PlotextPlot)
        plt = widget.plt
        plt.clear_figure()
        plt.title(title)
        plt.xlabel(xlabel)
        for level, xs, ys in view.scores:  # the levels' colours: the legend under the plots
            plt.plot(xs, ys, color=level_colour(level), marker="braille")
        plt.ylim(0.0, 1.0)
        self.scores = view.scores
        widget.refresh()

    def _fill_results(self, view: StudyView) -> None:
        if not self._changed("results", (tuple(view.levels), view.results)):
            return
        table = self.query_one("#results", KeyTable)
        row = table.cursor_row
        table.clear(columns=True)
        table.add_column("metric at the last epoch")
        for level in view.levels:
            table.add_column(Text(level_label(level), justify="right"))
        for name, values in view.results:
            table.add_row(name, *[Text(fmt_value(v), justify="right") for v in values])
        if table.row_count:
            table.move_cursor(row=min(row, table.row_count - 1))

    # -- keys ----------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple) -> bool | None:
        view = self.view
        if view is None:
            return True
        if action == "metric" and len(view.names) < 2:
            return None
        if action == "epoch" and len(view.epochs) < 2:
            return None
        if action == "column" and len(view.columns) < 2:
            return False  # one score head (code2vec, code2seq): o is not offered
        return True

    def action_epoch(self, by: int) -> None:
        if self.view and self.view.epochs:
            self.epoch = step(self.view.epochs, self.view.epoch, by)
            self.refresh_data()

    def action_band(self) -> None:
        if self.view and self.view.band is not None:
            self.band = "sd" if self.band == "minmax" else "minmax"
            self.notify("band: mean ± one standard deviation" if self.band == "sd" else "band: min-max of the trials")
            self.refresh_data()
        else:
            self.notify("one trial per level: no band (byrote study --trials K)")

    def action_published(self) -> None:
        if self.view and (self.view.study["config"] or {}).get("reference"):
            self.show_published = not self.show_published
            self.refresh_data()
        else:
            self.notify("this study has no published curves to show (byrote study --reference DIR)")

    def redraw_curves(self) -> None:
        self._draw_curves(self.view)

    def action_column(self) -> None:
        if self.view and self.view.columns:
            self.column = step(list(self.view.columns), self.view.column, 1)
            self.refresh_data()
