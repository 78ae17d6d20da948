"""The form of a noise study: one training run per noise level, created and queued by
``engine.launch.create_study`` (the command line's own function) in a thread worker."""
from __future__ import annotations

from collections.abc import Iterator

from textual.widget import Widget
from textual.widgets import Select

from engine.errors import InputError
from engine.noise.input import NOISE_KINDS
from engine.presets import preset_kind, preset_names, presets
from engine.runtime import DEVICES
from engine.store import Store
from engine.tasks import TASK_MODELS
from tui.screens.forms.base import LaunchForm, existing_file, options, parse_int


class StudyForm(LaunchForm):
    """A noise study: one training run per noise level, queued for the worker."""

    HELP_TITLE = "New noise study"
    INTRO = "[b]New noise study[/]: one training run per noise level."

    def fields(self) -> Iterator[Widget]:
        task = next(iter(TASK_MODELS))
        names = preset_names(task)
        # the choices each select shows
        self._shown = {"model": tuple(TASK_MODELS[task]), "preset": tuple(names), "noise_kind": NOISE_KINDS[task]}
        yield self.field("task", "Task", Select(options(TASK_MODELS), value=task, allow_blank=False))
        yield self.field("train", "Training file", self.text_input(placeholder="path/to/train.jsonl"))
        yield self.field("valid", "Held-out file", self.text_input(placeholder="path/to/valid.jsonl"))
        yield self.field("model", "Model", Select(options(TASK_MODELS[task]), allow_blank=False))
        yield self.field("preset", "Preset", Select(options(names), value=names[0], allow_blank=False))
        yield self.field("encoder", "Encoder", self.text_input(),
                         "code search and code-to-text: a Hugging Face id or a model directory; "
                         "empty: the preset's, microsoft/codebert-base")
        yield self.field("levels", "Noise levels", self.text_input("0,25,50,75,100"), "percent, comma-separated")
        yield self.field("noise_kind", "Noise kind", Select(options(NOISE_KINDS[task]), value="label",
                                                            allow_blank=False),
                         "label: labels shuffled (the paper); the others change the input (the study's X_*)")
        yield self.field("epochs", "Epochs", self.text_input("10"),
                         "steps of 250,000 samples under the VarMisuse paper preset")
        yield self.field("seed", "Seed", self.text_input("0"))
        yield self.field("device", "Device", Select(options(DEVICES), value="auto", allow_blank=False))
        yield self.field("name", "Name", self.text_input(placeholder="task-model-file"), "optional")

    def on_select_changed(self, event: Select.Changed) -> None:
        """The models and noise kinds follow the task, and the presets the task and model."""
        if event.select.id not in ("task", "model") or event.value is Select.NULL:
            return
        task = self.query_one("#task", Select).value
        if event.select.id == "task":
            self._offer("model", TASK_MODELS[task])
            self._offer("noise_kind", NOISE_KINDS[task])
        model = self.query_one("#model", Select).value
        self._offer("preset", preset_names(preset_kind(task, model if model is not Select.NULL else None)))

    def _offer(self, name: str, choices) -> None:
        select = self.query_one(f"#{name}", Select)
        if self._shown.get(name) != tuple(choices):  # each has its own (paper-top10: the method-name models')
            self._shown[name] = tuple(choices)
            kept = select.value if select.value in choices else choices[0]
            select.set_options(options(choices))
            select.value = kept

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
        kind = self.choice("noise_kind")
        if kind not in NOISE_KINDS.get(task, ()):
            self.mark("noise_kind", f"not a noise of {task}")
        return dict(
            task=task, train=self.checked("train", existing_file), valid=self.checked("valid", existing_file),
            model=model, levels=self.checked("levels", levels), epochs=self.checked("epochs", parse_int, 1),
            preset=self.choice("preset"), seed=self.checked("seed", parse_int, 0), device=self.choice("device"),
            name=self.text("name") or None, overrides=self._encoder(task), noise_kind=kind,
        )

    def _encoder(self, task: str) -> dict:
        """The encoder setting of the tasks that fine-tune one, when given."""
        encoder = self.text("encoder")
        return {"encoder": encoder} if encoder and "encoder" in presets(preset_kind(task)).get("quick", {}) else {}

    def submit(self, store: Store, values: dict) -> tuple[str, bool]:
        from engine.launch import create_study

        study_id = create_study(store, **values)
        return f"study {study_id}: {len(store.jobs_of('study', study_id))} runs queued", True
