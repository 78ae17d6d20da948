"""Several noise studies in one plot (marked with space on the dashboard, then ``v``): the
same metric and split of each, one colour per noise level as everywhere, one line style
per study, the legend under the plot."""
from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Footer, Header, Static
from textual_plotext import PlotextPlot

from engine.untrusted import visible
from tui.curves import curve_series, level_colour, level_label, metric_order, smooth, y_limits
from tui.screens.base import PolledScreen, SubScreen
from tui.screens.curve_keys import CurveKeys, curve_bindings

SPLITS = {"valid": "held-out", "train": "train"}
# one line style per study, in the order they were marked: plotext markers, and how the legend shows each
STYLES = (("braille", "⣿⣿"), ("dot", "··"), ("+", "++"), ("x", "xx"), ("•", "••"), ("*", "**"))


@dataclass
class Overlay:
    """One read: each study's curves of the chosen metric and split."""

    studies: list[dict]
    names: list[str]  # the metrics every study has, in the first study's order
    metric: str | None
    curves: list[list[tuple[float, list, list]]]  # per study, as tui.curves.curve_series


class OverlayScreen(CurveKeys, PolledScreen, SubScreen):
    """Studies side by side in one plot, growing while they train."""

    HELP_TITLE = "Studies overlaid"
    CSS_PATH = "../styles/study.tcss"
    BINDINGS = curve_bindings()

    def __init__(self, study_ids: list[int]) -> None:
        super().__init__()
        self.study_ids = list(study_ids)
        self.init_curve_keys()
        self.view: Overlay | None = None
        self._drawn: tuple | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="study-title")
        yield PlotextPlot(id="overlay")
        yield Static("", id="legend")
        yield Footer(compact=True)

    def read(self, store) -> Overlay:
        studies = [store.study(i) for i in self.study_ids]
        per_study = [{n for s, n in store.metric_names(study["id"]) if s == self.split} for study in studies]
        common = set.intersection(*per_study) if per_study else set()
        names = metric_order(common, studies[0]["task"]) if studies else []
        metric = self.metric if self.metric in names else (names[0] if names else None)
        curves = [curve_series(store.metric_table(study["id"], self.split, metric)) if metric else []
                  for study in studies]
        return Overlay(studies, names, metric, curves)

    def show(self, view: Overlay) -> None:
        self.view = view
        title = Text(f"{len(view.studies)} studies overlaid: ", style="bold")
        title.append(visible(" · ".join(f"{s['id']} {s['task']}/{s['model']}" for s in view.studies)))
        self.query_one("#study-title", Static).update(title)
        self._draw()

    def _draw(self) -> None:
        view = self.view
        if view is None:
            return
        key = (view.metric, self.split, tuple(map(tuple, view.curves)), self.full_y, self.smoothing)
        self._show_legend(view)
        if key == self._drawn:
            return
        self._drawn = key
        plot = self.query_one("#overlay", PlotextPlot)
        plt = plot.plt
        plt.clear_figure()
        label = SPLITS[self.split]
        plt.title(f"{label} {visible(view.metric)}" if view.metric else f"{label}: no metric all the studies share yet")
        plt.xlabel("epoch")
        for curves, (marker, _) in zip(view.curves, STYLES * len(view.curves)):
            for level, xs, ys in curves:
                plt.plot(xs, smooth(ys, self.smoothing), color=level_colour(level), marker=marker)
        drawn = [series for curves in view.curves for series in curves]
        limits = y_limits(view.metric, drawn, self.full_y) if view.metric else None
        if limits:
            plt.ylim(*limits)
        plot.refresh()

    def _show_legend(self, view: Overlay) -> None:
        """The levels' colours, then each study's line style and name (as text, never markup)."""
        legend = Text()
        for level in sorted({level for curves in view.curves for level, _, _ in curves}):
            legend.append("━━ ", style="rgb({},{},{})".format(*level_colour(level)))
            legend.append(f"{level_label(level)}   ")
        legend.append("\n")
        for study, (_, sample) in zip(view.studies, STYLES * len(view.studies)):
            legend.append(f"{sample} ", style="bold")
            legend.append(f"study {study['id']}: {visible(study['name'] or '')}   ")
        notes = ["y: 0-1" if self.full_y else "y: fitted"] + ([f"smoothed {self.smoothing:g}"] if self.smoothing else [])
        legend.append(" · ".join(notes), style="dim")
        self.query_one("#legend", Static).update(legend)

    def redraw_curves(self) -> None:
        self._draw()
