"""Tasks of the noise study (Rabin et al. §3): what differs between them, behind one face.

A task knows how to read, check and write its data, add label noise, encode samples,
build a model, compute the per-sample outputs of a batch and the epoch metrics.
Everything else is shared: launching in :mod:`engine.launch`, training in
:mod:`engine.study`. The task modules import torch only inside the methods that train,
so reading, checking and noising data (launching a study) never does.
"""
from __future__ import annotations

import importlib
from typing import Any, Protocol

from engine.errors import InputError

# task name -> module, imported on first use.
TASKS: dict[str, str] = {
    "varmisuse": "engine.tasks.varmisuse",
    "methodname": "engine.tasks.methodname",
    "codesearch": "engine.tasks.codesearch",
    "codetotext": "engine.tasks.codetotext",
}

# (task name, model) -> module, where a model brings its own encoding, outputs and counting.
MODEL_TASKS: dict[tuple[str, str], str] = {("methodname", "code2seq"): "engine.tasks.code2seq"}

# task name -> model families; known without importing torch (forms, argument checks).
TASK_MODELS: dict[str, tuple[str, ...]] = {
    "varmisuse": ("transformer", "ggnn", "great"),
    "methodname": ("code2vec", "code2seq"),
    "codesearch": ("codebert",),
    "codetotext": ("codebert",),
}

# task name -> headline metrics (summary tables, the app's curves first), known without torch.
TASK_HEADLINES: dict[str, tuple[str, ...]] = {
    "varmisuse": ("loc_accuracy", "repair_accuracy", "nobug_accuracy", "loss", "gini_loss", "mean_score_loc"),
    "methodname": ("f1_score", "precision", "recall", "exact_match", "loss", "gini_loss", "mean_score",
                   "csr_all", "csr_correct", "csr_incorrect"),
    "codesearch": ("accuracy", "loss", "gini_loss", "mean_score"),
    "codetotext": ("bleu", "loss", "gini_loss", "mean_score"),
}

# task name -> per-sample score array -> the head's name ("" for a task with one head),
# as in the published prediction_score files and the app's score distributions.
TASK_SCORE_COLUMNS: dict[str, dict[str, str]] = {
    "varmisuse": {"loc_score": "Localization", "rep_score": "Repair"},
    "methodname": {"score": ""},
    "codesearch": {"score": ""},
    "codetotext": {"score": ""},
}


# task name -> per-sample score array -> the boolean array naming the samples its
# distribution holds: the repair head scores buggy samples only (§4.3.1: "repair
# predictions are ignored for bug-free samples"; the published Repair prediction_score
# files hold only those).
TASK_SCORE_SAMPLES: dict[str, dict[str, str]] = {
    "varmisuse": {"rep_score": "has_bug"},
    "methodname": {},
    "codesearch": {},
    "codetotext": {},
}


def score_mask(task: str, arrays, column: str):
    """Which samples the distribution of ``column`` holds (:data:`TASK_SCORE_SAMPLES`): a
    boolean array, or None for all."""
    import numpy as np

    mask = TASK_SCORE_SAMPLES.get(task, {}).get(column)
    return None if mask is None else np.asarray(arrays[mask], dtype=bool)


def score_values(task: str, arrays, column: str):
    """The per-sample ``column`` of an epoch's arrays over the samples its distribution
    holds (:func:`score_mask`), as float64."""
    import numpy as np

    values = np.asarray(arrays[column], dtype=np.float64)
    mask = score_mask(task, arrays, column)
    return values if mask is None else values[mask]


class Task(Protocol):
    name: str
    score_columns: dict[str, str]  # per-sample score array -> name in exported files
    display_names: dict[str, str]  # model -> name in exported files
    heldout_name: str  # the held-out split's name in exported files ("held", "test")
    export_names: dict[str, tuple[str, str]]  # metric -> (folder, head) in exported files

    def format_of(self, path: str) -> str: ...
    def read(self, path: str) -> list[Any]: ...
    def noise(self, samples: list[Any], level: float, seed: int) -> Any: ...
    def write(self, samples: list[Any], path: str) -> None: ...
    def check(self, cfg: dict, samples: list[Any], path: str) -> None: ...
    def prepare(self, train: list[Any], valid: list[Any], cfg: dict) -> Any: ...
    def build_model(self, model: str, cfg: dict, prepared: Any) -> Any: ...
    def batches(self, encoded: Any, order: Any, cfg: dict) -> Any: ...
    def outputs(self, model: Any, batch: Any, cfg: dict) -> dict: ...
    def objective(self, out: dict, cfg: dict) -> Any: ...
    def extra_arrays(self, predict: Any, prepared: Any, split: str, arrays: dict) -> dict: ...
    def epoch_metrics(self, arrays: dict, encoded: Any, prepared: Any) -> dict[str, float]: ...


def get_task(name: str, model: str | None = None) -> Task:
    """The task ``name``; with ``model``, that model's variant of it where it has one
    (:data:`MODEL_TASKS`)."""
    if name not in TASKS:
        raise InputError(f"unknown task {name!r} (choose from {', '.join(TASKS)})", field="task")
    return importlib.import_module(MODEL_TASKS.get((name, model), TASKS[name])).TASK
