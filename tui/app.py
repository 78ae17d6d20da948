"""The byrote app: a Textual face over the store. It reads the store and enqueues jobs;
the detached worker does the work, so closing the app (or losing the terminal) stops
nothing. It never imports torch, transformers or datasets."""
from __future__ import annotations

import contextlib
import time
from functools import partial
from pathlib import Path
from typing import Callable, Iterator

from textual.app import App
from textual.binding import Binding

from engine.errors import InputError
from engine.store import Store
from engine.untrusted import visible
from tui.commands import ByroteCommands

POLL_S = 0.5  # the store is read this often: the screens reflect it within a second


class ByroteApp(App):
    """Dashboard, launch forms, study curves, memorization browser and viewer."""

    TITLE = "byrote"
    CSS_PATH = Path(__file__).parent / "styles" / "base.tcss"
    COMMANDS = App.COMMANDS | {ByroteCommands}
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark", "help", "Keys", id="app.help"),
    ]

    def __init__(self, db_path: str | Path | None = None, *, clock: Callable[[], float] = time.time,
                 spawn_worker: Callable[[Store], int | None] | None = None, poll_s: float = POLL_S) -> None:
        super().__init__()
        store = Store(db_path)  # made (and migrated) now, so the screens' readers only read
        self.db_path = store.path
        store.close()
        self.clock = clock
        self.poll_s = poll_s
        if spawn_worker is None:
            from engine.jobs import start_worker as spawn_worker
        self._spawn_worker = spawn_worker
        self.sub_title = self.db_path.name
        from tui.settings import load_settings

        self.settings = load_settings()  # a malformed file: one line, before the screen changes
        # the browser's last sort (order, reverse), for the next scan opened
        self.browser_order: dict = dict(self.settings.get("browser_order", {}))

    # -- untrusted text: names and messages are shown, never read as markup --------------
    def notify(self, message: str, *, title: str = "", severity: str = "information", timeout: float | None = None,
               markup: bool = True) -> None:
        """Every notification of every screen: its control characters shown as escapes and
        its text never read as markup (messages quote names, paths and errors)."""
        kwargs = {} if timeout is None else {"timeout": timeout}
        super().notify(visible(message, newlines=True), title=visible(title), severity=severity, markup=False,
                       **kwargs)

    def format_title(self, title: str, sub_title: str):
        """The header's title (a study's or a scan's name among them), escaped."""
        return super().format_title(visible(title), visible(sub_title))

    # -- the store ---------------------------------------------------------------------
    @contextlib.contextmanager
    def reading(self) -> Iterator[Store]:
        """A store of this thread's own (SQLite connections stay in their thread)."""
        store = Store(self.db_path, create=False)
        try:
            yield store
        finally:
            store.close()

    def ensure_worker(self) -> int | None:
        """Start the detached worker unless one runs; its pid, or None if one ran."""
        with self.reading() as store:
            return self._spawn_worker(store)

    # -- navigation ----------------------------------------------------------------------
    def on_mount(self) -> None:
        from tui.screens.dashboard import DashboardScreen

        self.exit_on_signals()
        self.apply_settings()
        self.push_screen(DashboardScreen())

    # -- settings that stick (tui.settings) ----------------------------------------------------
    def apply_settings(self) -> None:
        """The saved theme and remapped keys; afterwards a new theme is saved as chosen."""
        theme = self.settings.get("theme")
        if theme in self.available_themes:
            self.theme = theme
        elif theme is not None:
            self.notify(f"settings: no theme {theme!r}; the default is used", severity="warning")
        if self.settings.get("keys"):
            self.set_keymap(self.settings["keys"])
        self.theme_changed_signal.subscribe(self, lambda new: self.remember(theme=new.name))

    def remember(self, **changes) -> None:
        """Settings changed in the app, written to the settings file (a disk that refuses
        is said once in a notification)."""
        from tui.settings import save_settings

        if all(self.settings.get(k) == v for k, v in changes.items()):
            return
        self.settings.update(changes)
        try:
            save_settings(self.settings)
        except (OSError, InputError) as exc:
            self.notify(f"settings not saved: {exc}", severity="warning")

    def exit_on_signals(self) -> None:
        """SIGTERM and SIGHUP end the app as ``q`` does, so the terminal is given back (the
        main screen, no mouse reporting, the cursor shown) instead of being left in the
        app's modes; the exit status is then 128 + the signal's number, as a shell reports."""
        import asyncio
        import signal

        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
            if signum is not None:
                # NotImplementedError: a loop without signal handlers (Windows); RuntimeError,
                # ValueError: an app run outside the main thread (tests): the default stays
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.add_signal_handler(signum, partial(self.exit, return_code=128 + int(signum)))

    def open_study(self, study_id: int) -> None:
        from tui.screens.study import StudyScreen

        self.push_screen(StudyScreen(study_id))

    def open_scan(self, scan_id: int) -> None:
        from tui.screens.browser import DEFAULT_ORDER, BrowserScreen

        order = self.browser_order  # the settings' shape is checked at start (tui.settings)
        self.push_screen(BrowserScreen(scan_id, order=order.get("order", DEFAULT_ORDER),
                                       reverse=order.get("reverse", False)))

    def open_viewer(self, scan_id: int, fingerprint: str, output_id: int | None = None) -> None:
        from tui.screens.viewer import ViewerScreen

        self.push_screen(ViewerScreen(scan_id, fingerprint, output_id))

    def action_new_study(self) -> None:
        from tui.screens.forms import StudyForm

        self.push_screen(StudyForm())

    def action_new_sampling(self) -> None:
        from tui.screens.forms import SamplingForm

        self.push_screen(SamplingForm())

    def action_new_scan(self, set_id: int | None = None) -> None:
        from tui.screens.forms import ScanForm

        self.push_screen(ScanForm(set_id))

    def action_dashboard(self) -> None:
        while len(self.screen_stack) > 2:
            self.pop_screen()

    def action_help(self) -> None:
        from tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_start_worker(self) -> None:
        pid = self.ensure_worker()
        self.notify(f"worker started (pid {pid})" if pid else "a worker is already running")

    def copy_fingerprint(self, fingerprint: str) -> None:
        """To the clipboard through the terminal (OSC 52, which works over SSH in most
        terminals), and in a notification for the terminals that ignore it."""
        self.copy_text(fingerprint, fingerprint)

    def copy_text(self, text: str, what: str) -> None:
        """``text`` to the clipboard (OSC 52), said in a notification as ``what``."""
        self.copy_to_clipboard(text)
        self.notify(f"copied {what}")

    def palette_items(self) -> list[tuple[str, str, Callable[[], object]]]:
        """The app's commands for the palette: launch forms, and every study and scan."""
        from functools import partial

        from engine.overview import scan_name

        items: list[tuple[str, str, Callable[[], object]]] = [
            ("New noise study", "open the launch form", self.action_new_study),
            ("New sampling", "sample outputs from a language model", self.action_new_sampling),
            ("New scan", "scan outputs against a training corpus", self.action_new_scan),
            ("Dashboard", "back to the list of studies, samplings and scans", self.action_dashboard),
            ("Start the worker", "run queued jobs in a detached worker", self.action_start_worker),
        ]
        with self.reading() as store:
            for study in store.studies():
                items.append((f"Open study {study['id']}: {study['name'] or study['model']}",
                              f"{study['task']}, {study['model']}", partial(self.open_study, study["id"])))
            for scan in store.scans():
                items.append((f"Open scan {scan['id']}: {scan_name(scan)}",
                              f"{scan['corpus_label'] or scan['source']}: memorized snippets ({scan['state']})",
                              partial(self.open_scan, scan["id"])))
        return items
