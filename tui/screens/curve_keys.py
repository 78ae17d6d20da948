"""The keys the curve screens share (a study's, and several studies overlaid): the metric
(m/M), the split (t), the y-axis (y) and the smoothing (s), with the state they change."""
from __future__ import annotations

from textual.binding import Binding

from tui.curves import SMOOTHING, step

METRIC = Binding.Group("Metric", compact=True)  # the footer shows "mM Metric"


def curve_bindings(*between: Binding) -> list[Binding]:
    """m/M and t, then ``between`` (a screen's own), then y and s."""
    return [
        Binding("m", "metric(1)", "Next metric", group=METRIC),
        Binding("M", "metric(-1)", "Previous metric", group=METRIC),
        Binding("t", "split", "Split", tooltip="Toggle train / held-out figures"),
        *between,
        Binding("y", "y_range", "Y range", tooltip="The curves' y-axis: fitted to the data, or the metric's full 0-1"),
        Binding("s", "smooth", "Smooth", tooltip="TensorBoard's smoothing of the curves: off, 0.6, 0.9"),
    ]


class CurveKeys:
    """The state and actions of :func:`curve_bindings`, for a polled screen with a ``view``
    (its ``names`` and ``metric``) and a :meth:`redraw_curves`."""

    def init_curve_keys(self) -> None:
        self.split = "valid"
        self.metric: str | None = None  # None: the first (headline) metric
        self.full_y = False  # the curves' y-axis: fitted to the data (False) or the metric's 0-1
        self.smoothing = 0.0  # TensorBoard's smoothing weight (tui.curves.smooth); 0 draws the values

    def redraw_curves(self) -> None:
        raise NotImplementedError

    def action_metric(self, by: int) -> None:
        if self.view and self.view.names:
            self.metric = step(self.view.names, self.view.metric, by)
            self.refresh_data()

    def action_split(self) -> None:
        self.split = "train" if self.split == "valid" else "valid"
        self.refresh_data()

    def action_y_range(self) -> None:
        self.full_y = not self.full_y
        if self.view is not None:
            self.redraw_curves()

    def action_smooth(self) -> None:
        self.smoothing = step(SMOOTHING, self.smoothing, 1)
        if self.view is not None:
            self.redraw_curves()
