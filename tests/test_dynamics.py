"""Training dynamics and memorization detectors (engine.dynamics): each dynamic by hand on
a small array set, the scores against scikit-learn and by hand on random rankings, and
``byrote detectors`` on a tiny noise study, with its bad input."""
from __future__ import annotations

import json
import math
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from engine.dynamics import detector_scores, dynamics, score_ranking, study_detectors
from engine.errors import InputError
from engine.store import Store

# three epochs x four samples: the probability of the training label, and correctness
P = np.array([[0.2, 0.9, 0.5, 0.1],
              [0.4, 0.9, 0.1, 0.1],
              [0.6, 0.9, 0.6, 0.4]])
RIGHT = np.array([[False, True, True, False],
                  [True, True, False, False],
                  [True, True, True, False]])


def test_each_dynamic_by_hand():
    d = dynamics(P, RIGHT)
    assert d["confidence"] == pytest.approx([0.4, 0.9, 0.4, 0.2])
    # population std: sample 0: deviations -0.2 0 0.2 -> sqrt(0.08/3)
    assert d["variability"] == pytest.approx([math.sqrt(0.08 / 3), 0.0, math.sqrt(0.14 / 3), math.sqrt(0.06 / 3)])
    assert d["correctness"] == pytest.approx([2 / 3, 1.0, 2 / 3, 0.0])
    assert list(d["first_learned"]) == [2.0, 1.0, 1.0, 4.0]  # never learned: one past the last epoch
    assert list(d["forgetting"]) == [0.0, 0.0, 1.0, math.inf]  # sample 2: right, wrong, right
    scores = detector_scores(P, RIGHT, last_loss=-np.log(P[-1]))
    order = list(np.argsort(-scores["confidence"], kind="stable"))  # most suspect first: the least confident
    assert order[0] == 3 and order[-1] == 1
    assert set(scores) == {"loss", "confidence", "late_learning", "forgetting"}
    assert set(detector_scores(P, None, -np.log(P[-1]))) == {"loss", "confidence"}  # no correctness
    margins = np.array([[1.0, 3.0, -2.0, 0.5], [2.0, 3.0, 1.0, -0.5], [3.0, 3.0, 4.0, -3.0]])
    aum = detector_scores(P, RIGHT, -np.log(P[-1]), margins)["aum"]
    assert aum == pytest.approx([-2.0, -3.0, -1.0, 1.0])  # minus the mean margin: sample 3 the most suspect


def test_the_label_margin_by_hand():
    import torch

    from engine.models.margins import label_margin

    logits = torch.tensor([[2.0, 5.0, 1.0], [2.0, 5.0, 1.0], [0.0, float("-inf"), 3.0]])
    assert label_margin(logits, torch.tensor([1, 0, 0])).tolist() == [3.0, -3.0, -3.0]


def test_scores_against_scikit_learn_on_random_rankings():
    from sklearn.metrics import average_precision_score, roc_auc_score

    rng = np.random.default_rng(0)
    for _ in range(20):
        n = int(rng.integers(5, 60))
        flipped = rng.random(n) < 0.3
        if not 0 < flipped.sum() < n:
            continue
        scores = rng.normal(size=n) + flipped * rng.uniform(0, 2)
        got = score_ranking(scores, flipped)
        k = int(flipped.sum())
        top = np.argsort(-scores, kind="stable")[:k]
        assert got["k"] == k and got["precision_at_k"] == pytest.approx(flipped[top].mean())
        assert got["recall_at_k"] == pytest.approx(flipped[top].sum() / k)
        assert got["roc_auc"] == pytest.approx(roc_auc_score(flipped, scores))
        assert got["average_precision"] == pytest.approx(average_precision_score(flipped, scores))
        assert score_ranking(scores, flipped, k=3)["precision_at_k"] == pytest.approx(
            flipped[np.argsort(-scores, kind="stable")[:3]].mean())
    # by hand: flipped 1 and 3; scores rank 3, 1, 0, 2: every flipped sample first
    perfect = score_ranking(np.array([0.2, 0.8, 0.1, math.inf]), np.array([False, True, False, True]))
    assert (perfect["precision_at_k"], perfect["recall_at_k"], perfect["roc_auc"], perfect["average_precision"]) \
        == (1.0, 1.0, 1.0, 1.0)


TINY_VM = {"hidden_dim": 32, "ff_dim": 64, "num_layers": 1, "num_heads": 2, "ggnn_time_steps": [1, 1],
           "max_len": 160, "batch_tokens": 3000, "vocab_size": 800, "dropout": 0.1}


@pytest.fixture(scope="module")
def noisy_study(tmp_path_factory):
    """A tiny GGNN study at 0 and 50 % label noise, 3 epochs, on the email package."""
    from cli.main import main
    from engine.launch import create_study
    from engine.study import train_run

    folder = tmp_path_factory.mktemp("dyn")
    source = Path(sysconfig.get_paths()["stdlib"]) / "email"
    assert main(["dataset", "build", "varmisuse", "--source", str(source), "--out", str(folder / "vm.jsonl"),
                 "--limit", "200"]) == 0
    store = Store(folder / "d.db")
    sid = create_study(store, task="varmisuse", train=str(folder / "vm.jsonl"), valid=str(folder / "vm.valid.jsonl"),
                       model="ggnn", levels=[0.0, 50.0], epochs=3, preset="quick", seed=0, device="cpu",
                       overrides=TINY_VM)
    for run in store.runs(sid):
        train_run(store, run["id"])
    one = create_study(store, task="varmisuse", train=str(folder / "vm.jsonl"), valid=str(folder / "vm.valid.jsonl"),
                       model="ggnn", levels=[0.0, 25.0], epochs=1, preset="quick", seed=0, device="cpu",
                       overrides=TINY_VM)
    for run in store.runs(one):
        train_run(store, run["id"])
    return store, sid, one


def test_the_detectors_of_a_noise_study(noisy_study, tmp_path, capsys):
    from cli.main import main

    store, sid, _ = noisy_study
    rows = study_detectors(store, sid)
    assert [r["detector"] for r in rows] == ["loss", "confidence", "late_learning", "forgetting", "aum"]
    run = store.runs(sid)[1]
    changed = json.loads(store.file_path(run["changed_path"]).read_text())
    with np.load(store.array_path(run["id"], 1, "train")) as arrays:
        kept = set(arrays["sample"].tolist())
    flipped = kept & set(changed["buggy_to_clean"] + changed["clean_to_buggy"])
    assert all(r["level"] == 50.0 and r["flipped"] == len(flipped) and r["samples"] == len(kept) for r in rows)
    assert all(0 <= r["average_precision"] <= 1 and 0 <= r["roc_auc"] <= 1 for r in rows)
    out = tmp_path / "d.csv"
    assert main(["--db", str(store.path), "detectors", "--study", str(sid), "--csv", str(out)]) == 0
    said = capsys.readouterr().out
    assert "finds the flipped labels best" in said and len(out.read_text().splitlines()) == 6
    assert main(["--db", str(store.path), "detectors", "--study", str(sid), "--detectors", "loss", "--json"]) == 0
    assert [r["detector"] for r in json.loads(capsys.readouterr().out)] == ["loss"]


def test_cleanlab_on_out_of_fold_probabilities(noisy_study, capsys):
    """--kfold 2 trains two models per noisy run, each predicting the half it left out;
    cleanlab ranks the samples by their label quality and finds label issues."""
    from cli.main import main
    from engine.kfold import folds_of, oof_path, out_of_fold
    from engine.study import plan_run

    store, sid, _ = noisy_study
    fold = folds_of(10, 3, seed=4)
    assert sorted(np.bincount(fold).tolist()) == [3, 3, 4] and np.array_equal(fold, folds_of(10, 3, seed=4))
    assert main(["--db", str(store.path), "detectors", "--study", str(sid), "--kfold", "2", "--foreground",
                 "--json"]) == 0
    out = capsys.readouterr().out
    rows = json.loads(out[out.index("["):])
    (row,) = [r for r in rows if r["detector"] == "cleanlab"]
    assert row["level"] == 50.0 and 0 <= row["label_issues"] <= row["samples"] and 0 <= row["roc_auc"] <= 1
    noisy = store.runs(sid)[1]
    with np.load(oof_path(store, noisy["id"], 2)) as saved:
        probs, labels = saved["pred_probs"], saved["label"]
        assert probs.shape == (row["samples"], 2) and np.allclose(probs.sum(1), 1.0)
        assert set(labels.tolist()) <= {0, 1}
        again = out_of_fold(plan_run(store, noisy["id"]), 2)
        assert np.allclose(again["pred_probs"], probs) and np.array_equal(again["sample"], saved["sample"])
    assert main(["--db", str(store.path), "detectors", "--study", str(sid), "--kfold", "2", "--json"]) == 0
    assert "jobs" not in capsys.readouterr().out  # done once: nothing queued again


def test_bad_detector_requests(noisy_study, capsys):
    from cli.main import main

    store, sid, one = noisy_study
    clean = store.add_study(name="clean", task="varmisuse", model="ggnn", preset="quick", epochs=1, seed=0,
                            device="cpu", train_path="t", valid_path="v", levels=[0.0])
    store.add_run(study_id=clean, level=0.0, seed=0, epochs=1)
    queued = len(store.jobs())
    for args, said in ((["--study", str(clean)], "has no noisy level: nothing flipped"),
                       (["--study", str(one)], "has 1 epoch(s) done: the dynamics need 2 or more"),
                       (["--study", str(sid), "--detectors", "loss,magic"], "unknown detector 'magic'"),
                       (["--study", str(sid), "--kfold", "1"], "--kfold: 1 is outside 2.."),
                       (["--study", str(sid), "--kfold", "100000"], "cannot be dealt into 100000 folds")):
        assert main(["--db", str(store.path), "detectors", *args]) == 2
        err = capsys.readouterr().err
        assert said in err and err.count("\n") == 1, err
    assert len(store.jobs()) == queued  # nothing queued
    with pytest.raises(InputError):
        study_detectors(store, sid, ("magic",))


def test_regions_by_hand():
    from engine.dynamics import regions

    confidence = np.array([0.9, 0.8, 0.5, 0.45, 0.1, 0.2])
    variability = np.array([0.01, 0.3, 0.02, 0.35, 0.03, 0.04])
    # the top third of variability (0.3, 0.35) is ambiguous; of the rest, confidence's
    # lower third (<= 0.2 at its quantile) hard, its upper third (>= 0.8) easy
    assert list(regions(confidence, variability)) == ["easy-to-learn", "ambiguous", "", "ambiguous",
                                                      "hard-to-learn", "hard-to-learn"]


def test_the_data_map_and_detectors_screen(noisy_study, app_pilot):
    from conftest import settle

    from engine.dynamics import data_map
    from tui.screens.cartography import CartographyScreen
    from tui.screens.study import StudyScreen

    store, sid, _ = noisy_study
    noisy = store.runs(sid)[1]
    expected = data_map(store, noisy, "varmisuse")

    async def body(app, pilot):
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        await pilot.pause(0.2)
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CartographyScreen)
        title = str(screen.query_one("#c-title").content)
        assert "50% noise" in title and f"{int(expected['flipped'].sum())} of {len(expected['ids'])} labels" in title
        counted = [int(part.rsplit(" of ", 1)[1]) for part in " ".join(title.split()).split(" · ") if "flipped of" in part]
        assert sum(counted) == len(expected["ids"])  # the three regions and the rest: every sample once
        assert np.array_equal(screen.map["confidence"], expected["confidence"])
        table = screen.query_one("#c-detectors")
        first = [str(c) for c in table.get_row_at(0)]
        assert first[0].startswith("50%") and len(first) >= 6  # the level, then each detector's AP
        await pilot.press("right_square_bracket")
        await settle(pilot)
        await pilot.pause(0.2)
        await settle(pilot)
        assert "0% noise" in str(screen.query_one("#c-title").content) and "0 of" in str(
            screen.query_one("#c-title").content)

    app_pilot(store.path, body, size=(120, 40), screen=lambda: StudyScreen(sid))


def test_the_noise_estimate_finds_a_planted_rate():
    """1,000 samples, 20 % of their labels flipped, out-of-fold probabilities that know the
    true label: cleanlab's joint puts about 0.2 off its diagonal, inside the interval."""
    from engine.kfold import estimate_noise

    rng = np.random.default_rng(3)
    truth = rng.integers(0, 2, 1000)
    flipped = rng.random(1000) < 0.2
    labels = np.where(flipped, 1 - truth, truth)
    sure = rng.uniform(0.8, 0.99, 1000)
    probs = np.stack([np.where(truth == 0, sure, 1 - sure), np.where(truth == 1, sure, 1 - sure)], axis=1)
    got = estimate_noise({"label": labels, "pred_probs": probs}, rounds=100)
    assert abs(got["estimate"] - flipped.mean()) < 0.03 and got["low"] <= flipped.mean() <= got["high"]
    assert got["rounds"] == 100 and got["low"] < got["estimate"] < got["high"]
    clean = estimate_noise({"label": truth, "pred_probs": probs}, rounds=20)
    assert clean["estimate"] < 0.02


def test_the_noise_rate_command(noisy_study, capsys):
    from cli.main import main

    store, sid, _ = noisy_study
    assert main(["--db", str(store.path), "noise-rate", "--study", str(sid), "--kfold", "2", "--foreground",
                 "--json"]) == 0
    out = capsys.readouterr().out
    rows = json.loads(out[out.index("["):])
    assert [r["level"] for r in rows] == [0.0, 50.0] and rows[0]["flipped"] == 0.0 and 0.4 < rows[1]["flipped"] < 0.6
    assert all(0 <= r["estimate"] <= 1 and r["low"] <= r["high"] for r in rows)


def test_a_regions_samples_and_one_sample(noisy_study, app_pilot):
    """A flipped sample shows its noisy training label and its clean one, its code and its
    curve; 1-3 on the data map list a region's samples."""
    from conftest import settle

    from engine.dynamics import data_map, flipped_ids, sample_view
    from tui.screens.cartography import CartographyScreen
    from tui.screens.region import RegionScreen

    store, sid, _ = noisy_study
    run = store.runs(sid)[1]
    m = data_map(store, run, "varmisuse")
    one = int(next(i for i in m["ids"] if int(i) in flipped_ids(store, run)))
    view = sample_view(store, run, one)
    assert view["flipped"] and view["clean_label"] and view["clean_label"] != view["label"]
    assert ("no bug" in view["label"]) != ("no bug" in view["clean_label"])  # the study flips bug and no bug
    assert len(view["p"]) == 3 and all(0 <= x <= 1 for x in view["p"]) and view["code"]

    async def body(app, pilot):
        await settle(pilot)
        await pilot.pause(0.2)
        await settle(pilot)
        region = next(r for r in ("hard-to-learn", "ambiguous", "easy-to-learn") if (m["region"] == r).any())
        await pilot.press({"easy-to-learn": "1", "ambiguous": "2", "hard-to-learn": "3"}[region])
        await settle(pilot)
        await pilot.pause(0.2)
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RegionScreen) and len(screen.rows) == int((m["region"] == region).sum())
        assert "training label:" in str(screen.query_one("#g-sample").content)

    app_pilot(store.path, body, size=(120, 40), screen=lambda: CartographyScreen(sid))


def test_cleanlab_and_the_noise_rate_for_method_names(tmp_path, capsys):
    """code2vec on the email package's top 5 names at 0 and 50 % noise: its out-of-fold
    softmax over the names gives cleanlab's row and each run's noise estimate; code2seq
    is refused in one line."""
    from conftest import noise_rate_rows

    from cli.main import main
    from engine.data.methodname_build import build_methodname
    from engine.kfold import oof_path
    from engine.launch import create_study

    data = build_methodname(Path(sysconfig.get_paths()["stdlib"]) / "email", tmp_path / "mn.jsonl", lang="python",
                            top=5, seed=0)
    store = Store(tmp_path / "mn.db")
    sid = create_study(store, task="methodname", train=str(data.train_path), valid=str(data.valid_path),
                       model="code2vec", levels=[0.0, 50.0], epochs=2, preset="quick", seed=0, device="cpu",
                       overrides={"csr_samples": 5, "batch_size": 32})
    rows = noise_rate_rows(store, sid, capsys)
    db = ["--db", str(store.path)]
    assert [r["level"] for r in rows] == [0.0, 50.0] and rows[0]["flipped"] == 0.0 and rows[1]["flipped"] > 0.3
    with np.load(oof_path(store, store.runs(sid)[1]["id"], 2)) as saved:
        classes = saved["pred_probs"].shape[1]
        assert 2 <= classes <= 6 and np.allclose(saved["pred_probs"].sum(1), 1.0)
        assert saved["label"].max() == classes - 1  # renumbered to the names some sample carries
    assert main([*db, "detectors", "--study", str(sid), "--kfold", "2", "--json"]) == 0
    detected = json.loads(capsys.readouterr().out)
    assert "cleanlab" in [r["detector"] for r in detected] and "aum" in [r["detector"] for r in detected]
    seq = store.add_study(name="s", task="methodname", model="code2seq", preset="quick", epochs=2, seed=0,
                          device="cpu", train_path="t", valid_path="v", levels=[0.0, 50.0])
    assert main([*db, "noise-rate", "--study", str(seq)]) == 2
    assert "not methodname with code2seq" in capsys.readouterr().err


def test_score_ranking_puts_nan_lowest_and_takes_infinities():
    """A diverged run's NaN or infinite scores rank (NaN lowest, as least suspect) instead
    of failing scikit-learn's check."""
    flipped = np.array([True, False, True, False])
    got = score_ranking(np.array([np.inf, np.nan, 0.5, -np.inf]), flipped)
    assert got["precision_at_k"] == 1.0 and got["recall_at_k"] == 1.0
    assert got["roc_auc"] == 1.0 and got["average_precision"] == 1.0
    worse = score_ranking(np.array([np.nan, 1.0, 0.5, -np.inf]), flipped)
    assert worse["precision_at_k"] == 0.5 and worse["roc_auc"] == 0.25


def test_detectors_that_none_can_score_are_one_line_not_an_empty_table(noisy_study, capsys, monkeypatch):
    """cleanlab without out-of-fold probabilities, aum without margins: each left out of
    the rows; when that leaves none, the command says why (it printed an empty table)."""
    from cli.main import main
    from engine import dynamics

    store, sid, _ = noisy_study
    monkeypatch.setattr(dynamics, "_out_of_fold", lambda store, run_id, folds: None)  # no k-fold job has run
    assert main(["--db", str(store.path), "detectors", "--study", str(sid), "--detectors", "cleanlab"]) == 2
    err = capsys.readouterr().err
    assert "no detector of cleanlab can score study" in err and "--kfold K" in err and err.count("\n") == 1, err


def test_the_best_detector_of_a_level_is_by_its_mean_over_trials(capsys, monkeypatch):
    from cli.detectors import print_detectors

    monkeypatch.setenv("COLUMNS", "120")
    row = {"level": 25.0, "samples": 10, "flipped": 2, "k": 2, "precision_at_k": 0.5, "recall_at_k": 0.5,
           "roc_auc": 0.5}
    rows = [{**row, "trial": t, "detector": d, "average_precision": ap}
            for t, d, ap in ((0, "loss", 0.9), (0, "aum", 0.6), (1, "loss", 0.1), (1, "aum", 0.6))]
    print_detectors(rows, 1)
    said = capsys.readouterr().out
    assert "25% noise: aum finds the flipped labels best (AP 0.600, the mean of 2 trials; by chance 0.200)" in said
