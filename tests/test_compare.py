"""byrote compare: a study's curves beside the published ones (tests/data/ci_memorization:
GGNN on Py150, CI-Memorization's X_Injecting_Repair curves)."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from cli.main import main
from engine.compare import compare, curve_key, read_published
from engine.errors import InputError
from engine.store import Store

PUBLISHED = Path(__file__).parent / "data/ci_memorization/data/summary/data/variable_misuse/X_Injecting_Repair"
LEVELS = (0.0, 25.0, 50.0, 75.0, 100.0)


def make_study(db: Path, model: str = "ggnn") -> int:
    """A VarMisuse study of 2 epochs, its figures set by hand: level i has loc_accuracy
    0.1 * epoch + 0.01 * i on the training split, repair_accuracy 0.5 + 0.1 * i held out,
    gini_loc_loss 0.2 on the training split at every level."""
    store = Store(db)
    sid = store.add_study(name="vm", task="varmisuse", model=model, preset="quick", epochs=2, seed=0, device="cpu",
                          train_path="/d/stdlib.jsonl", valid_path="/d/stdlib.valid.jsonl", levels=list(LEVELS),
                          config={}, created=1.0)
    for i, level in enumerate(LEVELS):
        run = store.add_run(study_id=sid, level=level, seed=0, epochs=2, epochs_done=0, train_path="t",
                            changed_path="c", created=1.0)
        for epoch in (1, 2):
            store.commit_epoch(run, epoch, {
                "train": {"loc_accuracy": 0.1 * epoch + 0.01 * i, "gini_loc_loss": 0.2},
                "valid": {"repair_accuracy": 0.5 + 0.1 * i},
            }, {})
    store.close()
    return sid


def last_row(path: Path) -> list[str]:
    with open(path, newline="") as fh:
        return list(csv.reader(fh))[-1]


def test_curve_names_lose_their_dataset():
    heads = {"Localization", "Repair"}
    assert curve_key("accuracy", "GGNN_Py150_Localization_train.csv", heads) == ("accuracy", "GGNN", "Localization",
                                                                                 "train")
    assert curve_key("loss", "GGNN_my_data_held.csv", heads) == ("loss", "GGNN", "", "held")
    assert curve_key("f1_score", "code2vec_java-top10_test.csv", heads) == ("f1_score", "code2vec", "", "test")
    assert curve_key("x", "notes.txt", heads) is None and curve_key("x", "a_b.csv", heads) is None


def test_the_study_beside_the_published_ggnn_curves(tmp_path):
    db = tmp_path / "s.db"
    sid = make_study(db)
    rows = compare(Store(db), sid, PUBLISHED)
    curves = sorted({r.curve for r in rows})
    # the three curves both have (the study has no NoBug or loss curve there)
    assert curves == ["accuracy/GGNN_Localization_train", "accuracy/GGNN_Repair_held",
                      "gini_loss/GGNN_Localization_train"]
    published = last_row(PUBLISHED / "accuracy" / "GGNN_Py150_Localization_train.csv")
    loc = [r for r in rows if r.curve == "accuracy/GGNN_Localization_train"]
    assert [r.level for r in loc] == list(LEVELS)
    for i, r in enumerate(loc):
        assert (r.published_epoch, r.epoch) == (int(published[0]), 2)
        assert r.published == pytest.approx(float(published[i + 1]))
        assert r.value == pytest.approx(0.2 + 0.01 * i)
        assert r.difference == pytest.approx(0.2 + 0.01 * i - float(published[i + 1]))


def test_a_study_beside_its_own_export_whatever_its_levels_and_a_byte_order_mark(tmp_path):
    """A level of many digits is found by the name its export gives its column (33.3333);
    a published file that starts with a UTF-8 byte-order mark is read, not dropped."""
    from engine.export import export_curves

    db = tmp_path / "s.db"
    store = Store(db)
    levels = [0.0, 100 / 3]
    sid = store.add_study(name="vm", task="varmisuse", model="ggnn", preset="quick", epochs=1, seed=0, device="cpu",
                          train_path="/d/stdlib.jsonl", valid_path="/d/v.jsonl", levels=levels, config={}, created=1.0)
    for i, level in enumerate(levels):
        run = store.add_run(study_id=sid, level=level, seed=0, epochs=1, epochs_done=0, train_path="t",
                            changed_path="c", created=1.0)
        store.commit_epoch(run, 1, {"train": {"loc_accuracy": 0.5 + 0.1 * i}}, {})
    out = tmp_path / "export"
    export_curves(store, sid, out)
    (csv_file,) = (out / "accuracy").glob("*Localization_train.csv")
    csv_file.write_bytes(b"\xef\xbb\xbf" + csv_file.read_bytes())
    rows = compare(store, sid, out)
    loc = [r for r in rows if r.curve == "accuracy/GGNN_Localization_train"]
    assert [(r.level, r.published, r.value) for r in loc] == [(0.0, 0.5, 0.5), (100 / 3, 0.6, 0.6)]
    store.close()


def test_a_reference_that_does_not_fit_is_refused(tmp_path):
    db = tmp_path / "s.db"
    sid = make_study(db, model="great")
    with pytest.raises(InputError, match="no published curve matches study 1's .Great; the folder has curves of GGNN"):
        compare(Store(db), sid, PUBLISHED)
    with pytest.raises(InputError, match="no such directory"):
        compare(Store(db), sid, tmp_path / "missing")
    short = tmp_path / "short" / "accuracy"
    short.mkdir(parents=True)
    (short / "Great_Py150_Localization_train.csv").write_text("epoch,0_percent,25_percent\r\n1,0.5,0.4\r\n")
    with pytest.raises(InputError, match=r"Great_Py150_Localization_train.csv: no column 50_percent"):
        compare(Store(db), sid, tmp_path / "short")
    (short / "Great_Py150_Localization_train.csv").write_text("epoch,0_percent\r\n1,0.5\r\nx,y\r\n")
    with pytest.raises(InputError, match=r"Great_Py150_Localization_train.csv:3: not an epoch and numbers"):
        compare(Store(db), sid, tmp_path / "short")


def test_compare_command(tmp_path, capsys, monkeypatch):
    db = tmp_path / "s.db"
    sid = make_study(db)
    assert main(["--db", str(db), "compare", "--study", str(sid), "--reference", str(PUBLISHED)]) == 0
    out = capsys.readouterr().out
    assert "accuracy/GGNN_Localization_train" in out and "diff" in out and "-0.4699" in out
    monkeypatch.setenv("COLUMNS", "60")  # narrow: the curve's name folds, the numbers stay whole
    assert main(["--db", str(db), "compare", "--study", str(sid), "--reference", str(PUBLISHED)]) == 0
    out = capsys.readouterr().out
    assert "-0.4699" in out and "…" not in out
    assert main(["--db", str(db), "compare", "--study", str(sid), "--reference", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such directory" in err[0]


def test_published_files_that_are_not_csv_or_repeat_a_curve_are_one_line(tmp_path):
    db = tmp_path / "s.db"
    sid = make_study(db)
    folder = tmp_path / "ref" / "accuracy"
    folder.mkdir(parents=True)
    (folder / "GGNN_Py150_Localization_train.csv").write_bytes(b"epoch,0_percent\r\n1,\xff\xfe\r\n")
    with pytest.raises(InputError, match="GGNN_Py150_Localization_train.csv:2: not valid UTF-8"):
        compare(Store(db), sid, tmp_path / "ref")
    (folder / "GGNN_Py150_Localization_train.csv").write_text("epoch,0_percent\r\n1,0.5\r\n")
    (folder / "GGNN_Other_Localization_train.csv").write_text("epoch,0_percent\r\n1,0.6\r\n")
    with pytest.raises(InputError, match="two published files for one curve: GGNN_Other_Localization_train.csv "
                                         "and GGNN_Py150_Localization_train.csv; choose the dataset with "
                                         r"--published-dataset \(Other or Py150\)"):
        compare(Store(db), sid, tmp_path / "ref")
    five = "epoch,0_percent,25_percent,50_percent,75_percent,100_percent\r\n1,0.6,0.5,0.4,0.3,0.2\r\n"
    (folder / "GGNN_Other_Localization_train.csv").write_text(five)
    assert [r.published for r in compare(Store(db), sid, tmp_path / "ref", "Other")] == [0.6, 0.5, 0.4, 0.3, 0.2]
    with pytest.raises(InputError, match=r"no published curve of GGNN on dataset 'Py15' \(the folder has Other, "
                                         r"Py150\)"):
        compare(Store(db), sid, tmp_path / "ref", "Py15")


METHOD_NAMES = PUBLISHED.parents[1] / "method_name" / "Y_Label_Shuffling"


def test_one_models_curves_on_several_datasets_are_chosen_by_name(tmp_path, capsys):
    """The published method-name folders hold code2vec's curves on java-small, java-med
    and java-top10: ``--published-dataset`` picks one; without it the choice is asked for.
    code2seq's, on java-top10 alone, need none."""
    db = tmp_path / "s.db"
    store = Store(db)
    sid = store.add_study(name="mn", task="methodname", model="code2vec", preset="quick", epochs=1, seed=0,
                          device="cpu", train_path="/d/stdlib.jsonl", valid_path="/d/stdlib.test.jsonl",
                          levels=list(LEVELS), config={}, created=1.0)
    for i, level in enumerate(LEVELS):
        run = store.add_run(study_id=sid, level=level, seed=0, epochs=1, epochs_done=0, train_path="t",
                            changed_path="c", created=1.0)
        store.commit_epoch(run, 1, {"train": {"f1_score": 0.5 - 0.1 * i}, "valid": {"f1_score": 0.3}}, {})
    store.close()
    argv = ["--db", str(db), "compare", "--study", str(sid), "--reference", str(METHOD_NAMES)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "two published files for one curve: code2vec_java-med_train.csv and code2vec_java-small_train.csv; " \
           "choose the dataset with --published-dataset (java-med or java-small)" in err and "\n" not in err
    rows = compare(Store(db), sid, METHOD_NAMES, "java-small")
    assert sorted({r.curve for r in rows}) == ["f1_score/code2vec_train"]  # java-small has no test curve here
    last = {r.level: r.published for r in rows}
    with open(METHOD_NAMES / "f1_score" / "code2vec_java-small_train.csv", newline="") as fh:
        table = list(csv.reader(fh))
    assert last == {level: float(table[-1][i + 1]) for i, level in enumerate(LEVELS)}
    assert {r.level: r.value for r in rows} == pytest.approx({level: 0.5 - 0.1 * i for i, level in enumerate(LEVELS)})
    assert [r.curve for r in compare(Store(db), sid, METHOD_NAMES, "java-top10")] == ["f1_score/code2vec_test"] * 5
    assert main([*argv, "--published-dataset", "java-small"]) == 0 and "f1_score/code2vec_train" in capsys.readouterr().out
    # the app's dotted curves: of the dataset the study chose, none while the choice is open
    from engine.compare import published_curve

    store = Store(db)
    assert published_curve(store, sid, METHOD_NAMES, "train", "f1_score") is None
    store.db["studies"].update(sid, {"config": json.dumps({"reference": str(METHOD_NAMES),
                                                           "reference_dataset": "java-small"})})
    curve = published_curve(store, sid, METHOD_NAMES, "train", "f1_score")
    assert {level: curve[level][max(curve[level])] for level in LEVELS} == last


HEADER = "epoch,0_percent,25_percent\r\n"


@pytest.mark.parametrize("text, said", [
    ("epoch,0_percent,0.0_percent\r\n1,0.5,0.4\r\n", ":1: two columns of level 0 % ('0.0_percent')"),
    (HEADER + "1,0.5,0.4\r\n2,0.5,0.4\r\n1,0.5,0.4\r\n", ":4: epoch 1 given twice"),
    (HEADER + "1,0.5\r\n", ":2: 2 cells where the header has 3"),
    (HEADER + "1,0.5,0.4,0.3\r\n", ":2: 4 cells where the header has 3"),
    (HEADER + "1,inf,0.4\r\n", ":2: a value that is not a finite number"),
    (HEADER + "1,0.5,nan\r\n", ":2: a value that is not a finite number"),
    (HEADER + "-1,0.5,0.4\r\n", ":2: epoch '-1' is not from 0 to 1,000,000"),
    (HEADER + "1000001,0.5,0.4\r\n", ":2: epoch '1000001' is not from 0 to 1,000,000"),
    (HEADER + "9" * 5000 + ",0.5,0.4\r\n", ":2: epoch '99999"),
    (HEADER + "\u0661,0.5,0.4\r\n", ":2: not an epoch and numbers"),  # an Arabic-Indic 1
    (HEADER, ":1: no rows of curves under the header"),
    ("", ": empty file, not a CSV of curves"),
    (HEADER + "1,0.5," + "9" * 200_000 + "\r\n", ":2: not a CSV of curves: field larger than field limit"),
])
def test_a_published_curve_of_bad_data_is_refused_with_its_line(tmp_path, text, said):
    folder = tmp_path / "ref" / "accuracy"
    folder.mkdir(parents=True)
    (folder / "GGNN_Py150_Localization_train.csv").write_text(text, newline="")
    with pytest.raises(InputError) as err:
        read_published(tmp_path / "ref", set())
    assert f"GGNN_Py150_Localization_train.csv{said}" in str(err.value) and "\n" not in str(err.value)
    assert len(str(err.value)) < 300


def test_published_curves_keep_their_empty_cells_and_upstream_artefacts(tmp_path):
    """An empty cell is no value; values a little outside [0, 1] are in the published files
    (the study's -0.002, 1.0036) and are read as they are; so are tests/data's copies."""
    folder = tmp_path / "ref" / "accuracy"
    folder.mkdir(parents=True)
    (folder / "GGNN_Py150_Localization_train.csv").write_text(HEADER + "1,,1.0036\r\n2,-0.002,\r\n\r\n", newline="")
    found = read_published(tmp_path / "ref", set())
    assert found[("accuracy", "GGNN", "", "train")][1] == {"0": {2: -0.002}, "25": {1: 1.0036}}
    found = read_published(PUBLISHED, {"Localization", "Repair"})
    assert len(found) == 3 and all(len(curve) == 50 for _, table in found.values() for curve in table.values())


@pytest.mark.timeout(30)
def test_a_published_curve_that_is_a_fifo_is_refused_unopened(tmp_path, capsys):
    """A FIFO (or a device, a folder) named as a curve is refused in one line, never opened
    (opening a FIFO waits for a writer for ever); study --reference reads through the same
    read_published."""
    import os

    db = tmp_path / "s.db"
    sid = make_study(db)
    folder = tmp_path / "ref" / "accuracy"
    folder.mkdir(parents=True)
    os.mkfifo(folder / "GGNN_Py150_Localization_train.csv")
    assert main(["--db", str(db), "compare", "--study", str(sid), "--reference", str(tmp_path / "ref")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].endswith("GGNN_Py150_Localization_train.csv: not a file"), err
