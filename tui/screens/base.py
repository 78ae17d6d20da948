"""What the app's screens share: reading the store in a thread worker (never on the UI
thread), escape to go back, and polling the store for screens that show it live."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from textual.binding import Binding
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Footer
from textual.worker import Worker, get_current_worker

from engine.errors import InputError
from engine.store import Store

T = TypeVar("T")
BACK = Binding("escape", "back", "Back")
PALETTE_HINT_WIDTH = 110  # narrower, a footer leaves out ctrl+p's hint, so that every key fits


def require(cls: type, names: tuple[str, ...]) -> None:
    """Refuse, when it is defined, a screen class that lacks one of ``names``."""
    missing = [name for name in names if not callable(getattr(cls, name, None))]
    if missing:
        raise TypeError(f"{cls.__name__} must define {', '.join(missing)}")


def binding_id(prefix: str, action: str) -> str:
    """``dashboard.new_study``, ``browser.sort-len``: a binding's id, for remapping keys."""
    import re

    return f"{prefix}.{re.sub(r'[^A-Za-z0-9_]+', '-', action.replace('(-', '(minus')).strip('-')}"


def name_bindings(cls: type, prefix: str) -> None:
    """Give each binding a class declares an id (:func:`binding_id`) unless it has one, so
    that the settings file can remap its keys (tui.settings)."""
    import dataclasses

    own = vars(cls).get("BINDINGS")
    if own:
        cls.BINDINGS = [dataclasses.replace(b, id=b.id or binding_id(prefix, b.action)) if isinstance(b, Binding)
                        else b for b in own]


def describe(exc: BaseException) -> str:
    """One line for the user: an InputError's own message, else the error's type too."""
    return str(exc) if isinstance(exc, InputError) else f"{type(exc).__name__}: {exc}"


class StoreScreen(Screen):
    """A screen that reads (and writes) the store in thread workers.

    A class that declares ``REQUIRED`` is a base: its subclasses must define the methods
    it names, and one that lacks one is refused when it is defined.
    """

    REQUIRED: tuple[str, ...] = ()
    _failed_show: str | None = None  # what the last failed show said (:meth:`_land`)

    def on_resize(self, event: Resize) -> None:
        """Every screen's footer at any size: the command palette's hint only where there
        is room for it beside the keys (its footer is built anew, which a change of the
        setting alone does not do)."""
        show = event.size.width >= PALETTE_HINT_WIDTH
        for footer in self.query(Footer):
            if footer.show_command_palette != show:
                footer.show_command_palette = show
                footer.refresh(recompose=True)

    def __init_subclass__(cls, **kwargs) -> None:
        name_bindings(cls, cls.__name__.removesuffix("Screen").removesuffix("Form").lower())
        super().__init_subclass__(**kwargs)
        if "REQUIRED" not in vars(cls):
            require(cls, cls.REQUIRED)

    def run_with_store(self, fn: Callable[[Store], T], done: Callable[[T], Any],
                       failed: Callable[[Exception], Any] | None = None, *, group: str,
                       exclusive: bool = False) -> Worker:
        """``fn(store)`` in a thread worker, with a store of the worker's own (SQLite
        connections stay in their thread); then, on the UI thread, ``done(result)``, or
        ``failed(exc)`` with what ``fn`` raised (by default a notification). Neither is
        called once the worker is cancelled (``exclusive``: by the next one of its
        ``group``) or the screen has been left."""

        def work() -> None:
            worker = get_current_worker()
            try:
                with self.app.reading() as store:
                    outcome: tuple[Callable, Any] = (done, fn(store))
            except Exception as exc:  # noqa: BLE001 - handed to failed, on the UI thread
                outcome = (failed or self.say_failed, exc)
            if not worker.is_cancelled:
                self.app.call_from_thread(self._land, worker, *outcome)

        return self.run_worker(work, thread=True, group=group, exclusive=exclusive, exit_on_error=False)

    def _land(self, worker: Worker, callback: Callable[[Any], Any], value: Any) -> None:
        """``callback(value)`` on the UI thread; what it raises is said in a notification
        (raised here it would go back to the worker's thread, which drops it unseen), once
        until a show succeeds again (a polled screen would repeat it every poll)."""
        if not worker.is_cancelled and self.is_attached:
            try:
                callback(value)
            except Exception as exc:  # noqa: BLE001 - shown, not lost
                said = describe(exc)
                if said != self._failed_show:
                    self._failed_show = said
                    self.say_failed(exc)
            else:
                self._failed_show = None

    def say_failed(self, exc: Exception) -> None:
        self.notify(describe(exc), severity="error")

    def leave_if_gone(self, exc: Exception) -> None:
        """A screen of one item, opened over another, goes back to it once a read says the
        item is gone (an InputError: deleted meanwhile)."""
        if isinstance(exc, InputError) and isinstance(self, SubScreen) and self.app.screen is self:
            self.app.pop_screen()


class SubScreen(StoreScreen):
    """A screen opened over another: escape goes back to it.

    The binding joins the first subclass's own bindings, after the last one the footer
    shows, so "Back" ends the footer (declared here, Textual would put it first)."""

    def __init_subclass__(cls, **kwargs) -> None:
        if not any(BACK in vars(base).get("BINDINGS", ()) for base in cls.__mro__[1:]):
            own = list(vars(cls).get("BINDINGS", ()))
            at = max((i + 1 for i, binding in enumerate(own) if binding.show), default=len(own))
            cls.BINDINGS = [*own[:at], BACK, *own[at:]]
        super().__init_subclass__(**kwargs)  # Textual merges the bindings here

    def action_back(self) -> None:
        self.app.pop_screen()


class PolledScreen(StoreScreen):
    """Reads the store every ``app.poll_s`` seconds and shows the result.

    Subclasses define :meth:`read` (in the worker thread, with a store of its own) and
    :meth:`show` (on the UI thread). A read still running when the next one is due is
    left to finish, and the next one skipped, so a slow disk never piles up threads.
    """

    REQUIRED = ("read", "show")
    _reading = False

    def on_mount(self) -> None:
        # Textual calls the on_mount of every class in the MRO: a subclass's own never
        # calls this one again (that would poll twice per interval)
        self.refresh_data()
        self.set_interval(self.app.poll_s, self.refresh_data)

    def on_screen_resume(self) -> None:
        self.refresh_data()  # at once, when a form or the help over it closes

    def refresh_data(self) -> None:
        if not self.is_current or self._reading:
            return  # covered by another screen (it reads again when resumed), or still reading
        self._reading = True
        self.run_with_store(self.read, self._show, self._failed, group="read", exclusive=True)

    def _show(self, data: Any) -> None:
        self._reading = False
        self.show(data)

    def _failed(self, exc: Exception) -> None:
        self._reading = False
        self.read_failed(exc)

    def read_failed(self, exc: Exception) -> None:
        """A read failed: the item was deleted meanwhile, say (an InputError: said once, and
        a screen opened over another goes back to it, rather than repeat it every poll), or
        the database was busy (not said: the next poll reads again)."""
        if isinstance(exc, InputError) and self.app.screen is self:
            self.say_failed(exc)
            self.leave_if_gone(exc)
