"""An item's log (``l`` on the dashboard): the lines its jobs wrote, oldest first and growing
while they run: when each started, its milestones (an epoch done, a stage), its warnings,
and how it ended, a failure with its traceback."""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Footer, Header, RichLog, Static

from engine.overview import stamp
from engine.untrusted import visible
from tui.screens.base import PolledScreen, SubScreen

LEVEL_STYLES = {"warning": "yellow", "error": "bold red"}


def log_line(row: dict) -> Text:
    """One line of the log as the pane shows it: time, job, text (escaped, never markup)."""
    line = Text(f"{stamp(row['time'])}  job {row['job_id']:<5} ", style="dim")
    line.append(visible(row["text"], newlines=True), style=LEVEL_STYLES.get(row["level"], ""))
    return line


class LogScreen(PolledScreen, SubScreen):
    """The log of one dashboard item's jobs, live."""

    HELP_TITLE = "Log"
    DEFAULT_CSS = """
    LogScreen #log-title { height: 1; padding: 0 1; background: $panel; }
    LogScreen RichLog { height: 1fr; }
    """

    def __init__(self, kind: str, item_id: int, name: str) -> None:
        super().__init__()
        self.kind, self.item_id, self.item_name = kind, item_id, name
        self.last = 0  # the id of the last line shown
        self.shown = 0

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(Text(visible(f"{self.kind} {self.item_id}: {self.item_name} · its jobs' log")), id="log-title")
        yield RichLog(id="log", markup=False, wrap=True, auto_scroll=True)
        yield Footer(compact=True)

    def read(self, store) -> list[dict]:
        jobs = [j["id"] for j in store.jobs_of(self.kind, self.item_id)]
        return store.job_log(jobs, after=self.last)

    def show(self, rows: list[dict]) -> None:
        pane = self.query_one("#log", RichLog)
        if not rows and not self.shown:
            if not pane.lines:
                pane.write(Text("no log lines yet (a job writes them when it starts)", style="dim"))
            return
        if not self.shown:
            pane.clear()
        for row in rows:
            pane.write(log_line(row))
        self.shown += len(rows)
        self.last = rows[-1]["id"] if rows else self.last
