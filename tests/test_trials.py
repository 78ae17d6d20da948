"""Repeated trials of a noise study: seeds, runs, means, spreads, the export's columns."""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from cli.main import main
from engine.launch import create_study, trial_seed
from engine.results import fmt_value, result_rows, summary
from engine.store import Store
from tui.curves import trial_band

GREAT_LINE = {  # as tests/test_cli_errors.py writes one
    "has_bug": True, "bug_kind": 1, "bug_kind_name": "VARIABLE_MISUSE",
    "source_tokens": ["#NEWLINE#", "def f(", "a", ",", "b", ")", ":", "#NEWLINE#", "#INDENT#",
                      "return", "a", "#NEWLINE#", "#UNINDENT#"],
    "edges": [[1, 2, 9, "enum_NEXT_SYNTAX"]], "error_location": 10, "repair_targets": [4],
    "repair_candidates": [2, 4, 10], "provenances": [],
}
CLEAN = dict(GREAT_LINE, has_bug=False, bug_kind=0, bug_kind_name="NONE", error_location=0, repair_targets=[])


def great_file(path: Path, n: int = 40) -> Path:
    path.write_text("".join(json.dumps(CLEAN if i % 2 else GREAT_LINE) + "\n" for i in range(n)))
    return path


def test_trial_seeds_are_documented_and_independent():
    assert trial_seed(3, 0) == 3  # trial 0 is the study's own seed
    for t in (1, 2):
        assert trial_seed(3, t) == int(np.random.SeedSequence(3, spawn_key=(t,)).generate_state(1)[0])
    assert len({trial_seed(3, t) for t in range(5)}) == 5 and trial_seed(4, 1) != trial_seed(3, 1)


def test_a_study_of_two_trials_draws_two_noisy_copies_per_level(store, tmp_path):
    train = great_file(tmp_path / "train.jsonl")
    sid = create_study(store, task="varmisuse", train=str(train), valid=str(train), model="great",
                       levels=[0.0, 50.0], epochs=1, preset="quick", seed=3, device="cpu", trials=2)
    runs = store.runs(sid)
    assert [(r["level"], r["trial"], r["seed"]) for r in runs] == [
        (0.0, 0, 3), (0.0, 1, trial_seed(3, 1)), (50.0, 0, 3), (50.0, 1, trial_seed(3, 1))]
    assert store.study(sid)["config"]["trials"] == 2 and len(store.jobs_of("study", sid)) == 4
    changed = [json.loads((store.files / r["changed_path"]).read_text()) for r in runs[2:]]
    assert changed[0] != changed[1]  # two independent draws at 50 %
    assert runs[3]["train_path"].endswith("train_50_trial1.jsonl") and runs[2]["train_path"].endswith("train_50.jsonl")


def test_trials_zero_is_refused_in_one_line(tmp_path, capsys):
    train = great_file(tmp_path / "train.jsonl")
    code = main(["--db", str(tmp_path / "s.db"), "study", "--task", "varmisuse", "--train", str(train), "--valid",
                 str(train), "--model", "great", "--noise", "0", "--epochs", "1", "--trials", "0"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--trials" in err[0] and "0 is outside 1..1000" in err[0]
    assert Store(tmp_path / "s.db").studies() == []


def filled(db: Path) -> int:
    """Two trials per level, by hand: loc_accuracy 0.2 and 0.4 at level 0, 0.1 and 0.1 at
    level 50 (epoch 1); the second trial of level 50 has not reached epoch 2."""
    store = Store(db)
    sid = store.add_study(name="t", task="varmisuse", model="ggnn", preset="quick", epochs=2, seed=0, device="cpu",
                          train_path="/d/x.jsonl", valid_path="/d/y.jsonl", levels=[0.0, 50.0],
                          config={"trials": 2}, created=1.0)
    values = {(0.0, 0): [0.2, 0.3], (0.0, 1): [0.4, 0.5], (50.0, 0): [0.1, 0.2], (50.0, 1): [0.1]}
    for (level, trial), per_epoch in values.items():
        run = store.add_run(study_id=sid, level=level, trial=trial, seed=trial, epochs=2, epochs_done=0,
                            train_path="t", changed_path="c", created=1.0)
        for epoch, value in enumerate(per_epoch, 1):
            store.commit_epoch(run, epoch, {"valid": {"loc_accuracy": value}}, {})
    store.close()
    return sid


def test_curves_are_the_mean_of_the_trials_and_the_table_says_mean_and_sd(tmp_path):
    db = tmp_path / "s.db"
    sid = filled(db)
    store = Store(db)
    assert store.metric_table(sid, "valid", "loc_accuracy") == {
        0.0: {1: pytest.approx(0.3), 2: pytest.approx(0.4)}, 50.0: {1: pytest.approx(0.1), 2: pytest.approx(0.2)}}
    assert store.metric_trials(sid, "valid", "loc_accuracy")[50.0] == {1: {0: 0.1, 1: 0.1}, 2: {0: 0.2}}
    rows = summary(store, sid)
    level0 = rows[0]
    # last epochs 2 and 2: 0.3 and 0.5 -> mean 0.4, sd sqrt((0.01 + 0.01) / 1) = 0.1414
    assert (level0["trials"], level0["epoch"]) == (2, 2)
    assert level0["valid.loc_accuracy"] == pytest.approx(0.4)
    assert level0["valid.loc_accuracy.sd"] == pytest.approx(math.sqrt(0.02))
    # level 50: trial 0 at epoch 2 (0.2), trial 1 at epoch 1 (0.1): each trial's last epoch
    assert rows[1]["epoch"] == 1 and rows[1]["valid.loc_accuracy"] == pytest.approx(0.15)
    table = dict(result_rows(rows, ("loc_accuracy",)))
    assert table["trials"] == [2, 2]
    assert [fmt_value(v) for v in table["held-out loc_accuracy"]] == ["0.400±0.141", "0.150±0.071"]


def test_the_band_is_the_trials_min_max_or_mean_and_sd():
    trials = {0.0: {1: {0: 0.2, 1: 0.4}, 2: {0: 0.3}}}
    lower, upper = trial_band(trials)
    assert lower == [(0.0, [1, 2], [0.2, 0.3])] and upper == [(0.0, [1, 2], [0.4, 0.3])]
    lower, upper = trial_band(trials, "sd")  # epoch 2 has one trial: no sd
    assert lower[0][1] == [1] and lower[0][2] == pytest.approx([0.3 - math.sqrt(0.02)])
    assert upper[0][2] == pytest.approx([0.3 + math.sqrt(0.02)])


def test_the_export_writes_the_mean_then_each_trial(tmp_path):
    from engine.export import export_curves

    db = tmp_path / "s.db"
    sid = filled(db)
    export_curves(Store(db), sid, tmp_path / "x")
    with open(tmp_path / "x" / "accuracy" / "GGNN_x_Localization_held.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["epoch", "0_percent", "50_percent", "0_percent_trial0", "0_percent_trial1",
                       "50_percent_trial0", "50_percent_trial1"]
    assert [float(v) for v in rows[1][1:]] == pytest.approx([0.3, 0.1, 0.2, 0.4, 0.1, 0.1])
    assert rows[2][0] == "2" and rows[2][-1] == ""  # level 50's second trial has no epoch 2


def test_the_demo_checks_observations_1_to_4_on_hand_filled_studies(tmp_path):
    """engine.demo.observations on two studies whose last epochs are set by hand: each
    observation holds or fails as its figures say."""
    from engine.demo import observations

    store = Store(tmp_path / "s.db")
    figures = {
        "varmisuse": {"valid.loc_accuracy": [0.5, 0.4, 0.3], "valid.mean_score_loc": [0.8, 0.6, 0.5],
                      "train.gini_loss": [0.6, 0.5, 0.7]},  # Gini higher at 100 %: Observation 3 fails
        "methodname": {"valid.f1_score": [0.8, 0.7, 0.1], "valid.mean_score": [0.9, 0.95, 0.3],
                       "valid.csr_all": [0.1, 0.2, 0.4]},  # confidence up at 25 %: Observation 2 fails
    }
    ids = {}
    for task, values in figures.items():
        ids[task] = store.add_study(name=task, task=task, model="m", preset="quick", epochs=1, seed=0, device="cpu",
                                    train_path="t", valid_path="v", levels=[0.0, 25.0, 100.0], config={},
                                    created=1.0)
        for i, level in enumerate((0.0, 25.0, 100.0)):
            run = store.add_run(study_id=ids[task], level=level, seed=0, epochs=1, epochs_done=0, train_path="t",
                                changed_path="c", created=1.0)
            metrics: dict = {"valid": {}, "train": {}}
            for key, per_level in values.items():
                split, name = key.split(".")
                metrics[split][name] = per_level[i]
            store.commit_epoch(run, 1, metrics, {})
    found = {text.split(":")[0]: holds for text, holds, _ in observations(store, ids["varmisuse"], ids["methodname"])}
    assert found == {"Observation 1, VarMisuse": True, "Observation 1, method names": True,
                     "Observation 2, VarMisuse": True, "Observation 2, method names": False,
                     "Observation 3, VarMisuse": False, "Observation 4, method names": True}


def test_a_study_keeps_its_published_reference(store, tmp_path):
    published = Path(__file__).parent / "data/ci_memorization/data/summary/data/variable_misuse/X_Injecting_Repair"
    train = great_file(tmp_path / "train.jsonl")
    sid = create_study(store, task="varmisuse", train=str(train), valid=str(train), model="ggnn",
                       levels=[0.0, 100.0], epochs=1, preset="quick", seed=0, device="cpu", reference=str(published))
    assert store.study(sid)["config"]["reference"] == str(published.resolve())


def test_counts_are_written_as_whole_numbers(tmp_path):
    """``n`` and ``n_buggy`` count samples: 120, not 120.0, in the CSV (a mean over trials
    that is not whole stays as it is); a rate that happens to be 1.0 stays a float."""
    from engine.export import export_curves

    store = Store(tmp_path / "c.db")
    sid = store.add_study(name="t", task="varmisuse", model="ggnn", preset="quick", epochs=1, seed=0, device="cpu",
                          train_path="/d/x.jsonl", valid_path="/d/y.jsonl", levels=[0.0, 50.0],
                          config={"trials": 2}, created=1.0)
    for level, trial, n in ((0.0, 0, 120.0), (0.0, 1, 120.0), (50.0, 0, 120.0), (50.0, 1, 121.0)):
        run = store.add_run(study_id=sid, level=level, trial=trial, seed=trial, epochs=1, epochs_done=0,
                            train_path="t", changed_path="c", created=1.0)
        store.commit_epoch(run, 1, {"valid": {"n": n, "nobug_accuracy": 1.0}}, {})
    export_curves(store, sid, tmp_path / "x")
    with open(tmp_path / "x" / "n" / "GGNN_x_held.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[1] == ["1", "120", "120.5", "120", "120", "120", "121"]
    accuracy = next((tmp_path / "x").rglob("*NoBug*held.csv"), None) or next((tmp_path / "x").rglob("*nobug*"))
    with open(accuracy, newline="") as fh:
        assert list(csv.reader(fh))[1][1] == "1.0"
