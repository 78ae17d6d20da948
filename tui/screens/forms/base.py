"""What every launch form is: labelled fields, each with an error line, a message line,
and Launch (ctrl+s); and the parsers of its typed values.

A form checks its fields on the UI thread as typed (numbers, ranges, files) and marks
every bad one; then, in a thread worker, it runs the engine's own checks and enqueues
the job, starts the worker and goes back. An engine :class:`~engine.errors.InputError`
names the field it concerns (``exc.field``), which the form marks.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Footer, Header, Input, Label, Select, Static

from engine.errors import InputError
from engine.formats import SQLITE_INT_MAX
from engine.store import Store
from engine.untrusted import visible
from tui.screens.base import SubScreen, describe


def parse_number(text: str, kind: type, what: str) -> Any:
    """``kind(text)``, or ValueError saying what is wrong (``what``: "whole number")."""
    if not text:
        raise ValueError("required")
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"not a {what}: {text!r}") from None


def parse_int(text: str, minimum: int) -> int:
    """A whole number from ``minimum`` up to what SQLite stores, or ValueError saying what
    is wrong."""
    value = parse_number(text, int, "whole number")
    if value < minimum:
        raise ValueError(f"must be at least {minimum}, not {value}")
    if value > SQLITE_INT_MAX:
        raise ValueError(f"must be at most {SQLITE_INT_MAX:,}")
    return value


def parse_positive_float(text: str) -> float:
    value = parse_number(text, float, "number")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"must be a positive number, not {text}")
    return value


def existing_file(text: str) -> str:
    if not text:
        raise ValueError("required")
    path = Path(text).expanduser()
    if not path.exists():
        raise ValueError(f"no such file: {path}")
    if not path.is_file():
        raise ValueError(f"not a file: {path}")
    return str(path)


def options(values) -> list[tuple[str, str]]:
    return [(v, v) for v in values]


class LaunchForm(SubScreen):
    """Labelled fields with an error line under each, a message line, and Launch (ctrl+s).

    Subclasses yield their fields from :meth:`fields`, read and check them on the UI
    thread in :meth:`values` (cheap checks only), and do the engine's checks and the
    enqueueing in :meth:`submit`, which runs in a thread worker and returns a sentence
    and whether a job was queued.
    """

    CSS_PATH = "../../styles/forms.tcss"
    REQUIRED = ("fields", "values", "submit")
    BINDINGS = [Binding("ctrl+s", "launch", "Launch")]
    INTRO = ""

    def __init__(self) -> None:
        super().__init__()
        self.busy = False
        self._marked: set[str] = set()
        self._initial: dict[str, str] = {}  # each text field's value on opening: escape asks before losing edits

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="form"):
            yield Static(self.INTRO, id="intro")
            yield from self.fields()
            yield Static("", id="message")
            with Horizontal(id="buttons"):
                yield Button("Launch", id="launch", variant="primary", compact=True)
                yield Button("Back", id="back", compact=True)
        yield Footer(compact=True)

    @staticmethod
    def field(name: str, label: str, widget: Input | Select, hint: str = "") -> Vertical:
        """A labelled field on one line (label, widget with id ``name``, hint) and its error line."""
        widget.id = name
        widget.compact = True
        return Vertical(Horizontal(Label(label, classes="label"), widget, Label(hint, classes="hint"), classes="row"),
                        Label("", id=f"{name}-error", classes="field-error"), classes="field")

    @staticmethod
    def text_input(value: str = "", placeholder: str = "") -> Input:
        # "changed": editing a marked field clears its mark (blur leaves it)
        return Input(value=value, placeholder=placeholder, validate_on=["changed"])

    def on_mount(self) -> None:
        """The first field has the focus; each text field's value is noted, so that escape
        asks before it discards what was typed."""
        fields = self.field_widgets()
        self._initial = {w.id: w.value for w in fields if isinstance(w, Input)}
        if fields:
            fields[0].focus()

    def field_widgets(self) -> list[Input | Select]:
        """The form's fields, in order."""
        return [w for w in self.query(".field Input, .field Select") if w.id]

    def edited(self) -> bool:
        """Whether a text field holds something else than on opening (a choice is quick to redo)."""
        return any(w.value != self._initial.get(w.id, w.value) for w in self.field_widgets() if isinstance(w, Input))

    def action_back(self) -> None:
        """Back to the screen below; a form with edits asks first."""
        if not self.edited() or self.busy:
            super().action_back()
            return
        from tui.screens.confirm import ConfirmScreen

        def answered(discard: bool | None) -> None:
            if discard and self.app.screen is self:
                super(LaunchForm, self).action_back()

        self.app.push_screen(ConfirmScreen("Discard what you typed in this form?"), answered)

    def focus_first_marked(self) -> None:
        marked = [w for w in self.field_widgets() if w.id in self._marked]
        if marked:
            marked[0].focus()

    # -- reading and marking fields --------------------------------------------------
    def text(self, name: str) -> str:
        return self.query_one(f"#{name}", Input).value.strip()

    def choice(self, name: str) -> Any:
        value = self.query_one(f"#{name}", Select).value
        return None if value is Select.NULL else value

    def checked(self, name: str, parse, *args) -> Any:
        """``parse(text, *args)``; a ValueError marks the field and gives None."""
        try:
            return parse(self.text(name), *args)
        except ValueError as exc:
            self.mark(name, str(exc))
            return None

    def has_field(self, name: str | None) -> bool:
        return name is not None and bool(self.query(f"#{name}-error"))

    def mark(self, name: str, message: str) -> None:
        self._marked.add(name)
        self.query_one(f"#{name}").add_class("-invalid")
        error = self.query_one(f"#{name}-error", Label)
        error.update(Text(visible(message)))
        error.display = True

    def unmark(self, name: str) -> None:
        self._marked.discard(name)
        self.query_one(f"#{name}").remove_class("-invalid")
        error = self.query_one(f"#{name}-error", Label)
        error.update("")
        error.display = False

    def say(self, message: str, error: bool = False) -> None:
        line = self.query_one("#message", Static)
        line.update(Text(visible(message)))
        line.set_class(error, "error")

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id in self._marked:
            self.unmark(event.input.id)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.focus_next()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "launch":
            self.action_launch()
        elif event.button.id == "back":
            self.action_back()

    # -- launching ---------------------------------------------------------------------
    def action_launch(self) -> None:
        if self.busy:
            return
        for name in list(self._marked):
            self.unmark(name)
        values = self.values()
        if self._marked or values is None:
            self.say("fix the marked fields first", error=True)
            self.focus_first_marked()
            return
        self.busy = True
        self.query_one("#launch", Button).disabled = True
        self.say("checking the inputs (the data's first records too) and queueing the job…")
        self.run_with_store(lambda store: self._submit(store, values), self._launched, self._failed, group="launch")

    def _submit(self, store: Store, values: dict) -> str:
        said, queued = self.submit(store, values)
        if queued:
            self.app.ensure_worker()
        self.app.call_from_thread(self.app.notify, said)  # said even if the form was left meanwhile
        return said

    def _failed(self, exc: Exception) -> None:
        """The engine refused: mark the field it names, else say why on the message line."""
        self.busy = False
        self.query_one("#launch", Button).disabled = False
        field = exc.field if isinstance(exc, InputError) else None
        if self.has_field(field):
            self.mark(field, str(exc))
            self.say("fix the marked fields first", error=True)
            self.focus_first_marked()
        else:
            self.say(describe(exc), error=True)

    def _launched(self, said: str) -> None:
        if self.app.screen is self:
            self.app.pop_screen()
