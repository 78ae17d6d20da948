"""The samples of one region of a run's data map (``1``-``3`` on the data-map screen):
each with its confidence, variability and whether its label was flipped; the highlighted
one's code, training label, clean label when flipped, and the probability of its
training label at each epoch."""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Footer, Header, Static
from textual_plotext import PlotextPlot

from engine.untrusted import visible
from tui.screens.base import SubScreen, describe
from tui.widgets.keytable import KeyTable

LISTED = 2000  # samples listed, least confident first


class RegionScreen(SubScreen):
    """One region of one run's data map."""

    HELP_TITLE = "Samples of a region"
    DEFAULT_CSS = """
    RegionScreen #g-title { height: auto; max-height: 2; padding: 0 1; background: $panel; }
    RegionScreen #g-samples { height: 1fr; min-height: 3; }
    RegionScreen #g-sample { height: auto; max-height: 8; padding: 0 1; background: $boost; }
    RegionScreen #g-curve { height: 1fr; min-height: 3; max-height: 10; }
    """

    def __init__(self, run: dict, region: str, data: dict) -> None:
        super().__init__()
        self.run, self.region_name = run, region
        inside = [i for i, r in enumerate(data["region"]) if r == region]
        inside.sort(key=lambda i: data["confidence"][i])
        self.rows = [(int(data["ids"][i]), float(data["confidence"][i]), float(data["variability"][i]),
                      bool(data["flipped"][i])) for i in inside[:LISTED]]
        self._cache: dict = {}

    def compose(self) -> ComposeResult:
        yield Header()
        flipped = sum(r[3] for r in self.rows)
        yield Static(Text(visible(f"run {self.run['id']} ({self.run['level']:g}% noise): {self.region_name}, "
                                  f"{len(self.rows)} samples, {flipped} flipped; least confident first")),
                     id="g-title")
        table = KeyTable(id="g-samples")
        for column in ("sample", "confidence", "variability", "flipped"):
            table.add_column(column, key=column)
        for sample, confidence, variability, flipped in self.rows:
            table.add_row(str(sample), f"{confidence:.3f}", f"{variability:.3f}",
                          Text("flipped", style="bold red") if flipped else "", key=str(sample))
        yield table
        yield Static("", id="g-sample")
        yield PlotextPlot(id="g-curve")
        yield Footer(compact=True)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        sample = int(event.row_key.value)
        run = self.run

        def read(store):
            from engine.dynamics import sample_view

            return sample_view(store, run, sample, self._cache)

        self.run_with_store(read, self._show, lambda exc: self.notify(describe(exc), severity="warning"),
                            group="sample", exclusive=True)

    def _show(self, view: dict) -> None:
        text = Text()
        text.append(f"sample {view['sample']} · training label: ", style="bold")
        text.append(visible(view["label"]), style="bold red" if view["flipped"] else "")
        if view["flipped"]:
            text.append(" · clean label: ", style="bold")
            text.append(visible(view["clean_label"] or "?"), style="green")
        text.append("\n" + visible(view["code"], newlines=True))
        self.query_one("#g-sample", Static).update(text)
        plot = self.query_one("#g-curve", PlotextPlot)
        plt = plot.plt
        plt.clear_figure()
        plt.title("probability of the training label, by epoch")
        if view["p"]:
            epochs = list(range(1, len(view["p"]) + 1))
            plt.plot(epochs, view["p"], marker="braille", color=(240, 80, 80) if view["flipped"] else (90, 170, 240))
            plt.ylim(0, 1)
        plot.refresh()
