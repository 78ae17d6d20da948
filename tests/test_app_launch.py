"""The launch forms: a valid form enqueues exactly its job and starts the worker once; every
kind of bad input is marked in the form and enqueues nothing (and raises nothing)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import NOW, settle
from textual.widgets import Input, Label, Select, Static

from engine.presets import preset_names
from engine.store import Store
from tui.screens.forms import SamplingForm, ScanForm, StudyForm


class Spawns(list):
    """A stand-in for starting the worker: records each call."""

    def __call__(self, store: Store) -> int:
        self.append(store.path)
        return 4242


async def submit(pilot, fill: dict[str, str], select: dict | None = None) -> None:
    """Set the form's fields, press ctrl+s and wait for the checks."""
    form = pilot.app.screen
    for name, value in (select or {}).items():
        form.query_one(f"#{name}", Select).value = value
    for name, value in fill.items():
        form.query_one(f"#{name}", Input).value = value
    await pilot.pause()
    await pilot.press("ctrl+s")
    await settle(pilot)


def marks(form) -> dict[str, str]:
    """Field -> error text, for every field marked invalid."""
    return {w.id: str(form.query_one(f"#{w.id}-error", Label).content) for w in form.query(".-invalid") if w.id}


def message(form) -> str:
    return str(form.query_one("#message", Static).content)


def notes(app) -> list[str]:
    return [n.message for n in app._notifications]


def nothing_queued(db: Path) -> bool:
    store = Store(db)
    try:
        return store.jobs() == [] and store.studies() == [] and store.scans() == []
    finally:
        store.close()


# -- the study form ----------------------------------------------------------------------
def test_study_form(tmp_path, great_files, app_pilot):
    """Bad fields are marked (nothing runs); a file create_study refuses is marked on its
    field; then a valid form queues one run per level, without torch in this process."""
    had_torch = "torch" in sys.modules
    db, spawns = tmp_path / "t.db", Spawns()
    train, valid = great_files
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")

    async def body(app, pilot):
        await pilot.press("n")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, StudyForm)
        models, presets = form.query_one("#model", Select), form.query_one("#preset", Select)
        assert models.value == "transformer" and presets.value == "quick"  # the models follow the task
        kinds = form.query_one("#noise_kind", Select)
        assert kinds.value == "label"
        await submit(pilot, {}, {"task": "methodname"})
        assert models.value == "code2vec"
        assert [v for _, v in kinds._options if v is not Select.NULL] == ["label", "method_leakage",
                                                                          "statement_deletion"]
        assert [v for _, v in presets._options if v is not Select.NULL] == list(preset_names("methodname"))
        await submit(pilot, {}, {"model": "code2seq"})  # the presets follow the model too
        assert [v for _, v in presets._options if v is not Select.NULL] == list(preset_names("code2seq"))
        assert presets.value == "quick"
        assert marks(form) == {"train": "required", "valid": "required"}

        await submit(pilot, {"train": str(train), "valid": str(tmp_path / "missing.jsonl"), "levels": "0,200",
                             "epochs": "0", "seed": "x"}, {"task": "varmisuse"})
        assert marks(form) == {
            "valid": f"no such file: {tmp_path / 'missing.jsonl'}",
            "levels": "noise level 200 is outside 0-100",
            "epochs": "must be at least 1, not 0",
            "seed": "not a whole number: 'x'",
        }
        assert message(form) == "fix the marked fields first"
        assert nothing_queued(db)

        await submit(pilot, {"train": str(bad), "valid": str(valid), "levels": "0, 50,100", "epochs": "2",
                             "seed": "7", "name": "tiny"}, {"model": "ggnn", "device": "cpu"})
        assert list(marks(form)) == ["train"] and str(bad) in marks(form)["train"]
        assert isinstance(app.screen, StudyForm) and nothing_queued(db) and spawns == []

        pairs = tmp_path / "pairs.jsonl"  # the encoder of a code-search study is checked too
        pairs.write_text(json.dumps({"code": "def f(): pass", "docstring": "does f", "code_tokens": ["def"],
                                     "docstring_tokens": ["does"]}) + "\n")
        await submit(pilot, {"train": str(pairs), "valid": str(pairs), "encoder": "/no/such/encoder"},
                     {"task": "codesearch"})
        assert isinstance(app.screen, StudyForm) and nothing_queued(db)
        assert "no such model directory" in message(form) + " ".join(marks(form).values())
        await submit(pilot, {"encoder": "", "valid": str(valid)}, {"task": "varmisuse"})
        await submit(pilot, {}, {"model": "ggnn"})

        assert [v for _, v in kinds._options if v is not Select.NULL] == ["label", "injecting_repair"]
        await submit(pilot, {"train": str(train)}, {"noise_kind": "injecting_repair"})
        assert not isinstance(app.screen, StudyForm), message(form)
        assert "study 1: 3 runs queued" in notes(app)

    app_pilot(db, body, spawn_worker=spawns, poll_s=1.0)
    assert len(spawns) == 1
    store = Store(db)
    (study,) = store.studies()
    assert (study["task"], study["model"], study["preset"], study["epochs"], study["seed"], study["device"],
            study["name"], study["levels"]) == ("varmisuse", "ggnn", "quick", 2, 7, "cpu", "tiny", [0.0, 50.0, 100.0])
    assert study["config"]["noise_kind"] == "injecting_repair"
    jobs = store.jobs()
    assert [(j["kind"], j["item_kind"], j["item_id"], j["state"]) for j in jobs] == [("train_run", "study", 1, "queued")] * 3
    assert sorted(j["params"]["run_id"] for j in jobs) == [r["id"] for r in store.runs(1)]
    assert had_torch or "torch" not in sys.modules  # create_study imports no torch


# -- the sampling form ---------------------------------------------------------------------
@pytest.fixture
def model_dir(tmp_path) -> Path:
    """A local model directory as check_model wants it: a config.json (context of 64) and
    a weights file (not read before the job runs)."""
    path = tmp_path / "tiny-gpt2"
    path.mkdir()
    (path / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_positions": 64}))
    (path / "model.safetensors").write_bytes((2).to_bytes(8, "little") + b"{}")  # a header of no tensor
    return path


def test_sampling_form_enqueues_a_sampling_job(tmp_path, model_dir, app_pilot):
    db, spawns = tmp_path / "t.db", Spawns()

    async def body(app, pilot):
        await pilot.press("s")
        await settle(pilot)
        form = app.screen
        await submit(pilot, {"model": str(model_dir), "n": "5", "seq_len": "32", "top_k": "8", "temperature": "0.7",
                             "batch_size": "2", "seed": "3", "name": "tiny k8"}, {"device": "cpu", "clean_up": 0})
        assert not isinstance(app.screen, SamplingForm), (message(form), marks(form))
        assert "output set 1: 5 outputs to sample" in notes(app)

    app_pilot(db, body, spawn_worker=spawns, poll_s=1.0)
    assert len(spawns) == 1
    store = Store(db)
    (outputs,) = store.output_sets()
    assert {k: outputs[k] for k in ("model", "n", "seq_len", "top_k", "temperature", "batch_size", "seed", "name",
                                    "clean_up")} == {
        "model": str(model_dir), "n": 5, "seq_len": 32, "top_k": 8, "temperature": 0.7, "batch_size": 2, "seed": 3,
        "name": "tiny k8", "clean_up": 0}
    assert [(j["kind"], j["params"]) for j in store.jobs()] == [("sample", {"set_id": 1, "device": "cpu"})]


SAMPLING_MISTAKES = [
    ({"model": ""}, "model", "required"),
    ({"n": "many"}, "n", "not a whole number: 'many'"),
    ({"n": "0"}, "n", "must be at least 1, not 0"),
    ({"n": "9" * 26}, "n", "must be at most 9,223,372,036,854,775,807"),  # SQLite's largest integer
    ({"temperature": "-1"}, "temperature", "must be a positive number, not -1"),
    ({"top_k": "1.5"}, "top_k", "not a whole number: '1.5'"),
    ({"seq_len": "64"}, "seq_len", "does not fit the model's context of 64 tokens"),
    ({"model": "{tmp}/nope"}, "model", "no such model directory"),
    ({"model": "{tmp}"}, "model", "not a model directory (it has no config.json)"),
]


@pytest.mark.slow
def test_sampling_form_marks_each_bad_input(tmp_path, model_dir, app_pilot):
    db, spawns = tmp_path / "t.db", Spawns()

    async def body(app, pilot):
        app.action_new_sampling()
        await settle(pilot)
        form = app.screen
        for fill, field, error in SAMPLING_MISTAKES:
            values = {"model": str(model_dir), "n": "5", "seq_len": "32", "top_k": "40", "temperature": "1.0",
                      **{k: v.format(tmp=tmp_path) for k, v in fill.items()}}
            await submit(pilot, values)
            assert app.screen is form
            assert list(marks(form)) == [field], fill
            assert error in marks(form)[field]
            assert app.focused is form.query_one(f"#{field}")  # the focus goes to the marked field
        assert not form.query_one("#launch").disabled  # ready for another try

    app_pilot(db, body, spawn_worker=spawns, poll_s=1.0)
    assert spawns == [] and nothing_queued(db) and Store(db).output_sets() == []


# -- the scan form -------------------------------------------------------------------------
CODE = "".join(f"value_{i} = compute({i}, 'x')\n" for i in range(12))


@pytest.fixture
def with_outputs(tmp_path) -> tuple[Path, Path]:
    """A store with an empty output set (1) and one holding two outputs (2); a corpus folder."""
    db = tmp_path / "t.db"
    store = Store(db)
    store.add_output_set(name="empty", source="sample", model="m", n=4, created=NOW - 60)
    set_id = store.add_output_set(name="two", source="import", model=None, n=2, created=NOW - 30)
    store.add_outputs(set_id, [(1, "a", CODE, None), (2, "b", "print(1)\n", None)])
    store.close()
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.py").write_text("import os\n" + CODE)
    return db, corpus


def test_scan_form_preselects_the_set_and_enqueues_a_scan(tmp_path, with_outputs, app_pilot):
    db, corpus = with_outputs
    spawns = Spawns()

    async def body(app, pilot):
        app.action_new_scan(2)
        await settle(pilot)
        form = app.screen
        select = form.query_one("#outputs", Select)
        assert select.value == 2
        assert [str(label) for label, value in select._options if value is not Select.NULL] == [
            "set 2: two (2 outputs)"]  # the empty set is not offered
        assert form.query_one("#rules", Select).value == "simian"  # the study's rules by default
        # defaults are values, and an empty pattern says what it means (no pattern that looks set)
        assert form.query_one("#text_field", Input).value == "content"
        glob = form.query_one("#glob", Input)
        assert glob.value == "" and glob.placeholder.startswith("every file")
        await submit(pilot, {"corpus": str(corpus), "min_lines": "4", "name": "tiny corpus, lines"}, {"rules": "lines"})
        assert not isinstance(app.screen, ScanForm), (message(form), marks(form))
        assert any(n.startswith("scan 1 (job 1): outputs of set 2 against") for n in notes(app))

    app_pilot(db, body, spawn_worker=spawns, poll_s=1.0)
    assert len(spawns) == 1
    store = Store(db)
    (scan,) = store.scans()
    assert (scan["set_id"], scan["min_lines"], scan["rules"], scan["corpus"]["root"]) == (2, 4, "lines", str(corpus))
    from engine.overview import overview

    assert [i.name for i in overview(store, 0).items if i.kind == "scan"] == ["tiny corpus, lines"]  # its name
    assert [(j["kind"], j["params"]) for j in store.jobs()] == [("scan", {"scan_id": 1})]


SCAN_MISTAKES = [
    ({"corpus": ""}, "corpus", "required"),
    ({"corpus": "{tmp}/nowhere"}, "corpus", "no such file or directory"),
    ({"corpus": "hf:bigcode/the-stack"}, "corpus", "byrote scan --outputs 2 --corpus hf:bigcode/the-stack"),
    ({"min_lines": "1"}, "min_lines", "must be at least 2, not 1"),
    ({"min_lines": "six"}, "min_lines", "not a whole number: 'six'"),
    ({"glob": "*.rs"}, "glob", "no file matches *.rs"),
    ({"corpus": "{tmp}/records.jsonl", "text_field": "text"}, "text_field", "no field 'text'"),
]


@pytest.mark.slow
def test_scan_form_marks_each_bad_input(tmp_path, with_outputs, app_pilot):
    db, corpus = with_outputs
    (tmp_path / "records.jsonl").write_text(json.dumps({"content": CODE}) + "\n")

    async def body(app, pilot):
        app.action_new_scan(1)  # set 1 holds no outputs: not offered, and said so
        await settle(pilot)
        form = app.screen
        assert marks(form) == {"outputs": "output set 1 holds no outputs yet"}
        await submit(pilot, {"corpus": str(corpus)})
        assert marks(form) == {"outputs": "choose an output set"}
        for fill, field, error in SCAN_MISTAKES:
            values = {"corpus": str(corpus), "glob": "", "text_field": "", "min_lines": "6",
                      **{k: v.format(tmp=tmp_path) for k, v in fill.items()}}
            await submit(pilot, values, {"outputs": 2})
            assert app.screen is form
            assert list(marks(form)) == [field], fill
            assert error in marks(form)[field]

    app_pilot(db, body, spawn_worker=Spawns(), poll_s=1.0)
    assert nothing_queued(db)


def test_forms_focus_their_first_field_and_ask_before_discarding_what_was_typed(tmp_path, app_pilot):
    """A form opens with its first field focused; escape leaves an untouched form at once,
    and asks first when something was typed: n stays, y goes."""
    from tui.screens.confirm import ConfirmScreen
    from tui.screens.forms.sampling import SamplingForm

    async def body(app, pilot):
        dashboard = app.screen
        app.action_new_sampling()
        await settle(pilot)
        form = app.screen
        assert isinstance(form, SamplingForm) and app.focused is form.query_one("#model")
        await pilot.press("escape")  # nothing typed
        await settle(pilot)
        assert app.screen is dashboard
        app.action_new_sampling()
        await settle(pilot)
        form = app.screen
        await pilot.press(*"gpt2")
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert "Discard what you typed" in str(app.screen.query_one("#question").render())
        await pilot.press("n")
        await settle(pilot)
        assert app.screen is form and form.query_one("#model").value == "gpt2"
        await pilot.press("escape", "y")
        await settle(pilot)
        assert app.screen is dashboard

    app_pilot(tmp_path / "t.db", body, spawn_worker=Spawns(), poll_s=1.0)
