"""A scan's analyses (``a`` in the browser; engine.analysis): memorized snippets and the
outputs holding one against the number of outputs (the study's memorization trend), each
snippet's training count against its extraction count with the rank correlations, and
the distribution of snippet lengths."""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Footer, Header, Static

from engine.untrusted import visible
from tui.screens.base import SubScreen, describe
from tui.widgets.plot import Plot

SCATTER_POINTS = 5000  # snippets drawn in the scatter, at most (the correlations use all)


class AnalysisScreen(SubScreen):
    """The three analyses of one finished scan."""

    HELP_TITLE = "Scan analyses"
    DEFAULT_CSS = """
    AnalysisScreen #a-title { height: auto; max-height: 3; padding: 0 1; background: $panel; }
    AnalysisScreen #a-top { height: 1fr; min-height: 8; }
    AnalysisScreen #a-top Plot { width: 1fr; height: 100%; }
    AnalysisScreen #a-lengths { height: 1fr; min-height: 8; }
    """

    def __init__(self, scan_id: int) -> None:
        super().__init__()
        self.scan_id = scan_id
        self.result: dict | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"scan {self.scan_id}: analysing…", id="a-title")
        with Horizontal(id="a-top"):
            yield Plot(id="a-trend")
            yield Plot(id="a-scatter")
        yield Plot(id="a-lengths")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.run_with_store(self._read, self._show, self._failed, group="analysis")

    def _failed(self, exc: Exception) -> None:
        """Said; the title says it too, rather than "analysing" for ever; a scan deleted
        meanwhile (an InputError) takes the screen back."""
        self.say_failed(exc)
        self.query_one("#a-title", Static).update(Text(visible(f"scan {self.scan_id}: not analysed ({describe(exc)})")))
        self.leave_if_gone(exc)

    def _read(self, store) -> tuple[dict, list[tuple[float, float]]]:
        from engine.analysis import analyze, counts

        train, extract, _ = counts(store, self.scan_id)
        step = max(1, len(train) // SCATTER_POINTS)
        return analyze(store, self.scan_id), list(zip(train[::step].tolist(), extract[::step].tolist()))

    def _show(self, read: tuple[dict, list[tuple[float, float]]]) -> None:
        result, points = read
        self.result = result
        c = result["correlation"]
        from engine.analysis import correlation_line

        self.query_one("#a-title", Static).update(Text(visible(correlation_line(self.scan_id, c))))
        trend = result["trend"]
        plot = self.query_one("#a-trend", Plot)
        plt = plot.plt
        plt.clear_figure()
        plt.title("memorized against outputs")
        xs = [r["outputs"] for r in trend]
        plt.plot(xs, [r["snippets"] for r in trend], label="snippets", marker="braille", color=(70, 200, 230))
        plt.plot(xs, [r["memorized_outputs"] for r in trend], label="outputs holding one", marker="braille",
                 color=(240, 180, 60))
        plt.xlabel("outputs")
        plot.refresh()
        plot = self.query_one("#a-scatter", Plot)
        plt = plot.plt
        plt.clear_figure()
        plt.title("train count against extract count")
        if points:
            plt.scatter([p[1] for p in points], [p[0] for p in points], marker="dot", color=(120, 220, 120))
            plt.xscale("log")
            plt.yscale("log")
        plt.xlabel("extract")
        plt.ylabel("train")
        plot.refresh()
        plot = self.query_one("#a-lengths", Plot)
        plt = plot.plt
        plt.clear_figure()
        lengths = result["lengths"]
        plt.title("snippet lengths (lines)")
        if lengths:
            plt.bar([str(k) for k in lengths], list(lengths.values()), color=(70, 150, 230), width=0.6)
        plot.refresh()
