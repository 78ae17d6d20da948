"""The app's log-scale plot (tui.widgets.plot) draws the same figure at every render.

plotext's build applies a log scale to the figure's data in place; textual-plotext's
widget, rendered a second time (a repaint, a resize), took the log of the log and raised
"math domain error" at N = 1 (the ranking snapshot failed so in one of six full runs).
"""
from __future__ import annotations

import asyncio

import pytest
from textual.app import App
from textual_plotext import PlotextPlot

from tui.widgets.plot import Plot


def _renders(widget_class, times: int) -> list[str]:
    """The plain text of ``times`` renders of a log-log figure whose N starts at 1."""
    class One(App):
        def compose(self):
            yield widget_class(id="p")

    async def run() -> list[str]:
        app = One()
        async with app.run_test(size=(60, 16)) as pilot:
            plot = app.query_one("#p", widget_class)
            plt = plot.plt
            plt.plot([1, 10, 100, 1000], [1, 2, 4, 8], marker="braille")
            plt.xscale("log")
            plt.yscale("log")
            await pilot.pause()
            return [plot.render().plain for _ in range(times)]

    return asyncio.run(run())


def test_every_render_draws_the_figure_as_plotted():
    first, *again = _renders(Plot, 3)
    assert again == [first, first]
    ticks = first.splitlines()[-1].split()
    assert ticks[0] == "1.0" and ticks[-1] == "1000.0"  # the x axis's ends: 10^0 and 10^3, on a log scale
    assert "8.00" in first and "1.00" in first


def test_the_upstream_widget_fails_at_its_second_render():
    """What the widget works around: if textual-plotext or plotext ever builds from a copy
    itself, this fails and the workaround can go."""
    with pytest.raises(ValueError, match="math domain"):
        _renders(PlotextPlot, 2)
