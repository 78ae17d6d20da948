"""A noise study's data maps and detectors (``c`` on the study screen; engine.dynamics):
for one run, each training sample's variability against its confidence across epochs
(dataset cartography, Swayamdipta et al. 2020), the flipped ones in red, with the share of
each region that is flipped; under it, the study's detectors scored against the flipped
labels, level by level. ``[``/``]`` go through the runs; ``1``-``3`` list the samples of a
region (easy-to-learn, ambiguous, hard-to-learn)."""
from __future__ import annotations

import math

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Header, Static
from textual_plotext import PlotextPlot

from engine.analysis import figure
from engine.errors import InputError
from engine.untrusted import visible
from tui.screens.base import SubScreen, describe
from tui.widgets.keytable import KeyTable

CLEAN, FLIPPED = (90, 170, 240), (240, 80, 80)
MAP_POINTS = 4000  # samples drawn in the map, at most (every flipped one first)


class CartographyScreen(SubScreen):
    """The data map of one run of a study, and the study's detectors."""

    HELP_TITLE = "Data maps and detectors"
    BINDINGS = [Binding("right_square_bracket", "run(1)", "Next run"),
                Binding("left_square_bracket", "run(-1)", "Previous run"),
                Binding("1", "region('easy-to-learn')", "Easy-to-learn samples", show=False),
                Binding("2", "region('ambiguous')", "Ambiguous samples", show=False),
                Binding("3", "region('hard-to-learn')", "Hard-to-learn samples", show=False)]
    DEFAULT_CSS = """
    CartographyScreen #c-title { height: auto; max-height: 3; padding: 0 1; background: $panel; }
    CartographyScreen #c-map { height: 2fr; min-height: 8; }
    CartographyScreen #c-detectors { height: 1fr; min-height: 4; }
    """

    def __init__(self, study_id: int) -> None:
        super().__init__()
        self.study_id = study_id
        self.runs: list[dict] = []
        self.index = 0
        self.map: dict | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"study {self.study_id}: data maps", id="c-title")
        yield PlotextPlot(id="c-map")
        yield KeyTable(id="c-detectors")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.run_with_store(self._read_study, self._show_study, group="study")

    def _read_study(self, store) -> tuple[list[dict], list[dict] | str]:
        from engine.dynamics import study_detectors

        runs = [r for r in store.runs(self.study_id) if (r["epochs_done"] or 0) >= 2]
        try:
            rows: list[dict] | str = study_detectors(store, self.study_id)
        except InputError as exc:
            rows = str(exc)
        return runs, rows

    def _show_study(self, read) -> None:
        runs, rows = read
        self.runs = sorted(runs, key=lambda r: (r["level"], r.get("trial") or 0))
        self.index = next((i for i, r in enumerate(self.runs) if r["level"] > 0), 0)
        table = self.query_one("#c-detectors", KeyTable)
        if isinstance(rows, str):
            table.add_column("detectors")
            table.add_row(Text(visible(rows)))
        else:
            names = list(dict.fromkeys(r["detector"] for r in rows))
            table.add_column("level (AP; chance)", key="level")
            for name in names:
                table.add_column(name, key=name)
            by_level: dict[tuple, dict] = {}
            for r in rows:
                by_level.setdefault((r["level"], r["trial"]), {})[r["detector"]] = r
            for (level, trial), found in by_level.items():
                chance = next(iter(found.values()))
                best = max(found.values(), key=lambda r: -1 if math.isnan(r["average_precision"])
                           else r["average_precision"])["detector"]
                table.add_row(f"{level:g}%" + (f" #{trial}" if trial else "") +
                              f" ({chance['flipped'] / chance['samples']:.2f})",
                              *(Text(figure(found[n]["average_precision"]) if n in found else "-",  # NaN: -
                                     style="bold" if n == best else "") for n in names))
        self._load_map()

    def _load_map(self) -> None:
        if not self.runs:
            self.query_one("#c-title", Static).update(f"study {self.study_id}: no run has 2 epochs yet")
            return
        run = self.runs[self.index]

        def read(store):
            from engine.dynamics import data_map

            return data_map(store, run, store.study(self.study_id)["task"])

        self.run_with_store(read, self._show_map, lambda exc: self.notify(describe(exc), severity="warning"),
                            group="map", exclusive=True)

    def _show_map(self, m: dict) -> None:
        import numpy as np

        from engine.dynamics import REGIONS

        self.map = m
        run = self.runs[self.index]
        shares = []
        for region in REGIONS:
            inside = m["region"] == region
            if inside.any():
                shares.append(f"{region} {m['flipped'][inside].mean():.0%} flipped of {int(inside.sum())}")
        rest = m["region"] == ""  # the middle: neither third, nor the most variable
        if rest.any():
            shares.append(f"in no region {m['flipped'][rest].mean():.0%} flipped of {int(rest.sum())}")
        self.query_one("#c-title", Static).update(Text(visible(
            f"study {self.study_id} · run {run['id']}: {run['level']:g}% noise, {run['epochs_done']} epochs · "
            f"{int(m['flipped'].sum())} of {len(m['ids'])} labels flipped · " + " · ".join(shares)
            + f" · [ ] run {self.index + 1}/{len(self.runs)} · 1-3 a region's samples")))
        plot = self.query_one("#c-map", PlotextPlot)
        plt = plot.plt
        plt.clear_figure()
        plt.title("confidence against variability across epochs (data map)")
        plt.xlabel("variability")
        plt.ylabel("confidence")
        order = np.concatenate([np.flatnonzero(~m["flipped"]), np.flatnonzero(m["flipped"])])[-MAP_POINTS:]
        for mask, colour, label in ((~m["flipped"], CLEAN, "clean"), (m["flipped"], FLIPPED, "flipped")):
            chosen = order[mask[order]]
            if len(chosen):
                plt.scatter(m["variability"][chosen].tolist(), m["confidence"][chosen].tolist(), marker="dot",
                            color=colour, label=label)
        plt.ylim(0, 1)
        plot.refresh()

    def action_region(self, region: str) -> None:
        if self.map is not None and self.runs:
            from tui.screens.region import RegionScreen

            self.app.push_screen(RegionScreen(self.runs[self.index], region, self.map))

    def action_run(self, by: int) -> None:
        if self.runs:
            self.index = (self.index + by) % len(self.runs)
            self._load_map()
