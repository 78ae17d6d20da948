"""A screen that shows the store live: it reads in a thread worker, never on the UI thread."""
from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.worker import get_current_worker

from engine.errors import InputError


def require(cls: type, names: tuple[str, ...]) -> None:
    """Refuse, when it is defined, a screen class that lacks one of ``names``."""
    missing = [name for name in names if not callable(getattr(cls, name, None))]
    if missing:
        raise TypeError(f"{cls.__name__} must define {', '.join(missing)}")


class PolledScreen(Screen):
    """Reads the store every ``app.poll_s`` seconds in a thread worker and shows the result.

    Subclasses define :meth:`read` (in the worker thread, with a store of its own) and
    :meth:`show` (on the UI thread). A read still running when the next one is due is
    left to finish, and the next one skipped, so a slow disk never piles up threads.
    """

    _reading = False
    REQUIRED = ("read", "show")  # what each subclass defines (checked when it is defined)

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        require(cls, cls.REQUIRED)

    def on_mount(self) -> None:
        self.refresh_data()
        self.set_interval(self.app.poll_s, self.refresh_data)

    def on_screen_resume(self) -> None:
        self.refresh_data()  # at once, when a form or the help over it closes

    def refresh_data(self) -> None:
        if not self.is_current or self._reading:
            return  # covered by another screen (it reads again when resumed), or still reading
        self._reading = True
        self.run_worker(self._read, thread=True, exclusive=True, group="read", exit_on_error=False)

    def _read(self) -> None:
        worker = get_current_worker()
        try:
            with self.app.reading() as store:
                data = self.read(store)
        except InputError as exc:  # the item was deleted meanwhile, say
            if not worker.is_cancelled:
                self.app.call_from_thread(self._failed, exc)
            return
        except BaseException:
            self._reading = False
            raise
        if not worker.is_cancelled:
            self.app.call_from_thread(self._show, data)
        else:
            self._reading = False

    def _show(self, data: Any) -> None:
        self._reading = False
        if self.is_attached:
            self.show(data)

    def _failed(self, exc: InputError) -> None:
        self._reading = False
        self.read_failed(exc)

    def read_failed(self, exc: InputError) -> None:
        self.notify(str(exc), severity="error")
