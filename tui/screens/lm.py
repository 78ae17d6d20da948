"""A language-model training (enter on its dashboard row): its settings, where the model
goes, its state, and the mean training loss of every epoch finished, as a curve that grows
while it trains."""
from __future__ import annotations

import math

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Footer, Header, Static
from textual_plotext import PlotextPlot

from engine.untrusted import visible
from tui.screens.base import PolledScreen, SubScreen


class LMScreen(PolledScreen, SubScreen):
    """One LM training, live."""

    HELP_TITLE = "Language model"
    DEFAULT_CSS = """
    LMScreen #lm-title { height: auto; max-height: 3; padding: 0 1; background: $panel; }
    LMScreen #lm-loss { height: 1fr; min-height: 8; }
    """

    def __init__(self, lm_id: int) -> None:
        super().__init__()
        self.lm_id = lm_id
        self.losses: list[float] = []
        self._drawn: list[float] | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"language model {self.lm_id}", id="lm-title")
        yield PlotextPlot(id="lm-loss")
        yield Footer(compact=True)

    def read(self, store) -> tuple[dict, dict | None]:
        jobs = store.jobs_of("lm", self.lm_id)
        return store.lm_training(self.lm_id), jobs[-1] if jobs else None

    def show(self, read: tuple[dict, dict | None]) -> None:
        lm, job = read
        epochs = (lm["settings"] or {}).get("epochs")
        state = f"{job['state']}" + (f" · {job['message']}" if job and job.get("message") else "") if job else "no job"
        self.query_one("#lm-title", Static).update(Text(visible(
            f"language model {lm['id']}: {lm['out']} · preset {lm['preset']} · seed {lm['seed']} · "
            f"device {lm['device'] or 'auto'} · {state}")))
        self.losses = list(lm["epoch_losses"])
        if self.losses == self._drawn:
            return
        self._drawn = list(self.losses)
        plot = self.query_one("#lm-loss", PlotextPlot)
        plt = plot.plt
        plt.clear_figure()
        done = f"{len(self.losses)}/{epochs}" if epochs else str(len(self.losses))
        plt.title(f"mean training loss per epoch ({done} epochs)" if self.losses else "no epoch finished yet")
        plt.xlabel("epoch")
        drawn = [(x, v) for x, v in enumerate(self.losses, 1) if v is not None and math.isfinite(v)]  # not inf
        if drawn:
            xs, ys = [x for x, _ in drawn], [v for _, v in drawn]
            plt.plot(xs, ys, marker="braille", color=(70, 200, 230))
            if len(xs) <= 12:
                plt.scatter(xs, ys, marker="●", color=(70, 200, 230))
        plot.refresh()
