"""The launch forms: a noise study, an LM sampling, a scan.

Each form checks its fields as typed (numbers, ranges, files) and marks every bad one
with the problem under it; then, in a thread worker, it runs the engine's own checks and
enqueues the job, hands it to the worker, and goes back. Nothing here imports torch:
``create_study`` does (its presets live in ``engine.models``, whose package imports
torch, and it probes CUDA), so it runs in a child process (:func:`create_study_apart`).
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, Footer, Header, Input, Label, Select, Static

from engine.errors import InputError
from engine.store import Store
from engine.tasks import TASK_MODELS
from tui.screens.base import require

DEVICES = ("auto", "cpu", "cuda")
PRESETS = ("quick", "paper")


class FieldError(Exception):
    """A problem with one field of a form."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def parse_int(text: str, minimum: int) -> int:
    """A whole number of at least ``minimum``, or ValueError saying what is wrong."""
    if not text:
        raise ValueError("required")
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"not a whole number: {text!r}") from None
    if value < minimum:
        raise ValueError(f"must be at least {minimum}, not {value}")
    return value


def parse_positive_float(text: str) -> float:
    if not text:
        raise ValueError("required")
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"not a number: {text!r}") from None
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


class LaunchForm(Screen):
    """Labelled fields with an error line under each, a message line, and Launch (ctrl+s).

    Subclasses yield their fields from :meth:`fields`, read and check them on the UI
    thread in :meth:`values` (cheap checks only), and do the engine's checks and the
    enqueueing in :meth:`submit`, which runs in a thread worker and returns a sentence
    and whether a job was queued.
    """

    CSS_PATH = "../styles/launch.tcss"
    REQUIRED = ("fields", "values", "submit")

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        require(cls, cls.REQUIRED)

    BINDINGS = [
        Binding("ctrl+s", "launch", "Launch"),
        Binding("escape", "back", "Back"),
    ]
    INTRO = ""

    def __init__(self) -> None:
        super().__init__()
        self.busy = False
        self._marked: set[str] = set()

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="form"):
            yield Static(self.INTRO, id="intro")
            yield from self.fields()
            yield Static("", id="message")
            with Horizontal(id="buttons"):
                yield Button("Launch", id="launch", variant="primary", compact=True)
                yield Button("Back", id="back", compact=True)
        yield Footer()

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

    def mark(self, name: str, message: str) -> None:
        self._marked.add(name)
        self.query_one(f"#{name}").add_class("-invalid")
        error = self.query_one(f"#{name}-error", Label)
        error.update(message)
        error.display = True

    def unmark(self, name: str) -> None:
        self._marked.discard(name)
        self.query_one(f"#{name}").remove_class("-invalid")
        error = self.query_one(f"#{name}-error", Label)
        error.update("")
        error.display = False

    def say(self, message: str, error: bool = False) -> None:
        line = self.query_one("#message", Static)
        line.update(message)
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
    def action_back(self) -> None:
        self.app.pop_screen()

    def action_launch(self) -> None:
        if self.busy:
            return
        for name in list(self._marked):
            self.unmark(name)
        values = self.values()
        if self._marked or values is None:
            self.say("fix the marked fields first", error=True)
            return
        self.busy = True
        self.query_one("#launch", Button).disabled = True
        self.say("checking…")
        self.run_worker(lambda: self._submit(values), thread=True, group="launch", exit_on_error=False)

    def _submit(self, values: dict) -> None:
        try:
            with self.app.reading() as store:
                said, queued = self.submit(store, values)
            if queued:
                self.app.ensure_worker()
        except FieldError as exc:
            self.app.call_from_thread(self._failed, exc.field, str(exc))
        except InputError as exc:
            self.app.call_from_thread(self._failed, None, str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug or a resource problem: said in the form
            self.app.call_from_thread(self._failed, None, f"{type(exc).__name__}: {exc}")
        else:
            self.app.call_from_thread(self._launched, said)

    def _failed(self, field: str | None, message: str) -> None:
        if not self.is_attached:  # the form was left while its checks ran
            return
        self.busy = False
        self.query_one("#launch", Button).disabled = False
        if field is not None:
            self.mark(field, message)
            self.say("fix the marked fields first", error=True)
        else:
            self.say(message, error=True)

    def _launched(self, said: str) -> None:
        self.app.notify(said)
        if self.app.screen is self:
            self.app.pop_screen()



# -- the noise study ---------------------------------------------------------------------
def create_study_apart(db_path: str | Path, **kwargs: Any) -> tuple[int, int]:
    """``engine.launch.create_study`` in a child process (it imports torch, which the app
    must not); (study id, runs queued). Its InputError comes back as one: with the path
    it names, so the form can mark the file's field."""
    proc = subprocess.run([sys.executable, "-m", "tui.screens.launch", str(db_path)], input=json.dumps(kwargs),
                          capture_output=True, text=True, check=False)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        reason = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        raise InputError(f"creating the study failed: {reason}")
    answer = json.loads(lines[-1])
    if "error" in answer:
        error = InputError(answer["error"])
        error.path = answer.get("path")
        raise error
    return answer["study"], answer["runs"]


def _create_study_child(db_path: str) -> int:
    """The child of :func:`create_study_apart`: arguments on stdin, the answer on stdout."""
    from engine.launch import create_study

    store = Store(db_path, create=False)
    try:
        study_id = create_study(store, **json.loads(sys.stdin.read()))
    except InputError as exc:
        print(json.dumps({"error": str(exc), "path": exc.path}))
    else:
        print(json.dumps({"study": study_id, "runs": len(store.jobs_of("study", study_id))}))
    finally:
        store.close()
    return 0


class StudyForm(LaunchForm):
    """A noise study: one training run per noise level, queued for the worker."""

    HELP_TITLE = "New noise study"
    INTRO = "[b]New noise study[/]: one training run per noise level."

    def fields(self) -> Iterator[Widget]:
        task = next(iter(TASK_MODELS))
        yield self.field("task", "Task", Select(options(TASK_MODELS), value=task, allow_blank=False))
        yield self.field("train", "Training file", self.text_input(placeholder="path/to/train.jsonl"))
        yield self.field("valid", "Held-out file", self.text_input(placeholder="path/to/valid.jsonl"))
        yield self.field("model", "Model", Select(options(TASK_MODELS[task]), allow_blank=False))
        yield self.field("preset", "Preset", Select(options(PRESETS), value=PRESETS[0], allow_blank=False))
        yield self.field("levels", "Noise levels", self.text_input("0,25,50,75,100"), "percent, comma-separated")
        yield self.field("epochs", "Epochs", self.text_input("10"))
        yield self.field("seed", "Seed", self.text_input("0"))
        yield self.field("device", "Device", Select(options(DEVICES), value="auto", allow_blank=False))
        yield self.field("name", "Name", self.text_input(placeholder="task-model-file"), "optional")

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "task" and event.value is not Select.NULL:
            models = self.query_one("#model", Select)
            if models.value not in TASK_MODELS[event.value]:
                models.set_options(options(TASK_MODELS[event.value]))
                models.value = TASK_MODELS[event.value][0]

    def values(self) -> dict | None:
        from engine.noise import parse_levels

        def levels(text: str) -> list[float]:
            try:
                return parse_levels(text)
            except InputError as exc:
                raise ValueError(str(exc)) from None

        task = self.choice("task")
        model = self.choice("model")
        if model not in TASK_MODELS.get(task, ()):
            self.mark("model", f"not a model of {task}")
        return dict(
            task=task, train=self.checked("train", existing_file), valid=self.checked("valid", existing_file),
            model=model, levels=self.checked("levels", levels), epochs=self.checked("epochs", parse_int, 1),
            preset=self.choice("preset"), seed=self.checked("seed", parse_int, 0), device=self.choice("device"),
            name=self.text("name") or None, overrides={},
        )

    def submit(self, store: Store, values: dict) -> tuple[str, bool]:
        try:
            study_id, runs = create_study_apart(store.path, **values)
        except InputError as exc:
            for field in ("train", "valid"):
                if exc.path and Path(exc.path).expanduser().absolute() == Path(values[field]).expanduser().absolute():
                    raise FieldError(field, str(exc)) from None
            raise
        return f"study {study_id}: {runs} runs queued", True


# -- LM sampling ---------------------------------------------------------------------------
class SamplingForm(LaunchForm):
    """Outputs sampled from a causal language model (a hub id or a local directory)."""

    HELP_TITLE = "New LM sampling"
    INTRO = "[b]New LM sampling[/]: outputs sampled from a causal language model."

    def fields(self) -> Iterator[Widget]:
        yield self.field("model", "Model", self.text_input(placeholder="gpt2 or path/to/model"),
                         "hub id or local directory")
        yield self.field("n", "Outputs", self.text_input(placeholder="e.g. 1000"))
        yield self.field("seq_len", "Sequence length", self.text_input("512"), "tokens per output")
        yield self.field("top_k", "Top-k", self.text_input("40"))
        yield self.field("temperature", "Temperature", self.text_input("1.0"))
        yield self.field("batch_size", "Batch size", self.text_input("32"))
        yield self.field("seed", "Seed", self.text_input("0"))
        yield self.field("device", "Device", Select(options(DEVICES), value="auto", allow_blank=False))

    def values(self) -> dict | None:
        model = self.text("model")
        if not model:
            self.mark("model", "required")
        return dict(
            model=model, n=self.checked("n", parse_int, 1), seq_len=self.checked("seq_len", parse_int, 1),
            top_k=self.checked("top_k", parse_int, 1), temperature=self.checked("temperature", parse_positive_float),
            batch_size=self.checked("batch_size", parse_int, 1), seed=self.checked("seed", parse_int, 0),
            device=self.choice("device"),
        )

    def submit(self, store: Store, values: dict) -> tuple[str, bool]:
        from engine.launch import check_sampling, enqueue_sampling

        try:
            model = check_sampling(values["model"], values["seq_len"], values["temperature"], None)
        except InputError as exc:
            text = str(exc)
            raise FieldError("seq_len" if "--seq-len" in text else "temperature" if "--temperature" in text
                             else "model", text) from None
        identity = dict(model=model, seq_len=values["seq_len"], top_k=values["top_k"],
                        temperature=values["temperature"], batch_size=values["batch_size"], seed=values["seed"],
                        prompt=None)
        _, job_id, said = enqueue_sampling(store, identity, values["n"], name=None, trust_remote_code=False,
                                           device=values["device"])
        return said, job_id is not None


# -- scans ---------------------------------------------------------------------------------
class ScanForm(LaunchForm):
    """A scan of an output set's outputs against a training corpus."""

    HELP_TITLE = "New scan"
    INTRO = ("[b]New scan[/]: which output spans reproduce a training corpus. [dim](A Hugging Face dataset, "
             "hf:NAME, is scanned from the command line: byrote scan.)[/]")

    def __init__(self, set_id: int | None = None) -> None:
        super().__init__()
        self.set_id = set_id

    def fields(self) -> Iterator[Widget]:
        yield self.field("outputs", "Outputs", Select([], prompt="reading output sets…"))
        yield self.field("corpus", "Corpus", self.text_input(placeholder="a directory, or a .jsonl, .json.gz, "
                                                                         ".parquet file"))
        yield self.field("glob", "File pattern", self.text_input(placeholder="*.py"), "optional, for a directory")
        yield self.field("text_field", "Text field", self.text_input(placeholder="content"), "optional, for records")
        yield self.field("min_lines", "Minimum lines", self.text_input("6"), "at least 2")

    def on_mount(self) -> None:
        self.run_worker(self._read_sets, thread=True, group="sets", exit_on_error=False)

    def _read_sets(self) -> None:
        with self.app.reading() as store:
            sets = [s for s in store.output_sets() if s["count"]]
        self.app.call_from_thread(self._show_sets, sets)

    def _show_sets(self, sets: list[dict]) -> None:
        if not self.is_attached:
            return
        select = self.query_one("#outputs", Select)
        select.prompt = "choose an output set"
        select.set_options([(f"set {s['id']}: {s['name'] or s['model'] or s['source']} ({s['count']} outputs)", s["id"])
                            for s in sets])
        if not sets:
            self.say("no output set holds outputs yet: sample some first (s on the dashboard)", error=True)
        elif self.set_id is None:
            select.value = sets[-1]["id"]  # the newest
        elif self.set_id in [s["id"] for s in sets]:
            select.value = self.set_id
        else:
            self.mark("outputs", f"output set {self.set_id} holds no outputs yet")

    def values(self) -> dict | None:
        set_id = self.choice("outputs")
        if set_id is None:
            self.mark("outputs", "choose an output set")
        corpus = self.text("corpus")
        if not corpus:
            self.mark("corpus", "required")
        elif corpus.startswith("hf:"):
            self.mark("corpus", f"a Hugging Face dataset is opened by the command line: "
                                f"byrote scan --outputs {set_id or 'N'} --corpus {corpus}")
        return dict(set_id=set_id, corpus=corpus, glob=self.text("glob") or None,
                    text_field=self.text("text_field") or "content",
                    min_lines=self.checked("min_lines", parse_int, 2))

    def submit(self, store: Store, values: dict) -> tuple[str, bool]:
        from engine.launch import check_scan, enqueue_scan, open_checked_corpus

        try:
            outputs = check_scan(store, values["set_id"], values["min_lines"])
        except InputError as exc:
            raise FieldError("min_lines" if "--min-lines" in str(exc) else "outputs", str(exc)) from None
        try:
            corpus = open_checked_corpus(values["corpus"], glob=values["glob"], text_field=values["text_field"])
        except InputError as exc:
            text = str(exc)
            field = ("text_field" if repr(values["text_field"]) in text
                     else "glob" if values["glob"] and "no file matches" in text else "corpus")
            raise FieldError(field, text) from None
        _, _, said = enqueue_scan(store, outputs, corpus, values["min_lines"])
        return said, True


if __name__ == "__main__":  # the child process of create_study_apart
    sys.exit(_create_study_child(sys.argv[1]))
