"""The app's plot (textual-plotext's PlotextPlot) for figures on a log scale.

plotext's build applies a log scale to the data the figure holds, in place: a second
build of the same figure takes the log of the log, and N = 1 (log 0) raises "math domain
error". Textual renders a widget again whenever it repaints it (a resize, a table beside
it that grows): the ranking screen's snapshot crashed so in one of six full test runs.
"""
from __future__ import annotations

from textual_plotext import PlotextPlot


class Plot(PlotextPlot):
    """A PlotextPlot that each render builds from a copy of the figure's data, so every
    render draws the figure as plotted."""

    def render(self):
        figure = self.plt
        plotted = figure.monitor
        figure.monitor = plotted.copy()  # what build may change in place
        try:
            return super().render()
        finally:
            figure.monitor = plotted
