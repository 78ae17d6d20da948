"""Noise studies end to end: noisy copies, training, per-epoch arrays and metrics, export,
and the resume of a worker killed with SIGKILL."""
from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import numpy as np
import pytest

from engine.metrics.varmisuse import varmisuse_metrics
from engine.data.varmisuse_build import build_varmisuse
from engine.store import Store
from engine.launch import create_study
from engine.study import train_run

REPO = Path(__file__).resolve().parents[1]
TINY = {"hidden_dim": 32, "ff_dim": 64, "num_layers": 1, "num_heads": 2, "ggnn_time_steps": [1, 1],
        "max_len": 160, "batch_tokens": 3000, "vocab_size": 800, "dropout": 0.1}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "stdlib.jsonl"
    report = build_varmisuse(Path(sysconfig.get_paths()["stdlib"]), out, limit=220, seed=0)
    assert report.samples_train > 100 and report.samples_valid > 10
    return report


def _study(store, dataset, levels=(0.0, 100.0), epochs=2, model="great", seed=3):
    return create_study(store, task="varmisuse", train=str(dataset.train_path), valid=str(dataset.valid_path),
                        model=model, levels=list(levels), epochs=epochs, preset="quick", seed=seed,
                        device="cpu", overrides=TINY)


@pytest.mark.slow
def test_study_records_every_epoch(store, dataset, tmp_path):
    sid = _study(store, dataset)
    runs = store.runs(sid)
    assert [r["level"] for r in runs] == [0.0, 100.0]
    assert len(store.jobs_of("study", sid)) == 2
    for run in runs:
        train_run(store, run["id"])
    for run in store.runs(sid):
        assert run["epochs_done"] == 2 and run["n_train"] > 0 and run["n_params"] > 0
        for epoch in (1, 2):
            for split in ("train", "valid"):
                with np.load(store.array_path(run["id"], epoch, split)) as arrays:
                    arrays = dict(arrays)
                recorded = {m["name"]: m["value"] for m in store.metrics(run["id"], split) if m["epoch"] == epoch}
                # the stored metrics are exactly those of the stored per-sample arrays
                for name, value in varmisuse_metrics(arrays).items():
                    if value != value:
                        assert recorded[name] is None
                    else:
                        assert recorded[name] == pytest.approx(value, rel=1e-12), name
                assert len(arrays["loss"]) == {"train": run["n_train"], "valid": run["n_valid"]}[split]
    # training statistics use the noisy labels: at 100 % every label was flipped
    noisy, clean = (store.runs(sid)[1], store.runs(sid)[0])
    with np.load(store.array_path(noisy["id"], 1, "train")) as a, np.load(store.array_path(clean["id"], 1, "train")) as b:
        assert (a["sample"] == b["sample"]).all()
        assert (a["has_bug"] != b["has_bug"]).all()
    # held-out statistics use clean labels at every level
    with np.load(store.array_path(noisy["id"], 1, "valid")) as a, np.load(store.array_path(clean["id"], 1, "valid")) as b:
        assert (a["has_bug"] == b["has_bug"]).all()

    from engine.export import export_curves

    files = export_curves(store, sid, tmp_path / "curves")
    names = {p.relative_to(tmp_path / "curves").as_posix() for p in files}
    stem = f"Great_{Path(dataset.train_path).stem}"
    assert f"accuracy/{stem}_Localization_held.csv" in names and f"gini_loss/{stem}_train.csv" in names
    assert f"accuracy/{stem}_Repair_train.csv" in names and f"loss/{stem}_held.csv" in names
    # one Gini per head, as the study published them, beside the Gini of L_loc + L_rep
    assert {f"gini_loss/{stem}_Localization_train.csv", f"gini_loss/{stem}_Repair_train.csv"} <= names
    about = json.loads((tmp_path / "curves" / "study.json").read_text())
    assert about["definitions"] == "the study's" and about["settings"]["train_eval"] == "epoch"
    assert (about["task"], about["model"], about["levels"]) == ("varmisuse", "great", [0.0, 100.0])
    raw = (tmp_path / "curves" / "gini_loss" / f"{stem}_train.csv").read_bytes()
    assert raw.startswith(b"epoch,0_percent,100_percent\r\n")  # CRLF, as upstream
    with open(tmp_path / "curves" / "gini_loss" / f"{stem}_train.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["epoch", "0_percent", "100_percent"]
    assert [r[0] for r in rows[1:]] == ["1", "2"]
    table = store.metric_table(sid, "train", "gini_loss")
    assert float(rows[2][2]) == pytest.approx(table[100.0][2])
    with open(tmp_path / "curves" / "prediction_score" / f"{stem}_Localization_held.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["sample", "0_percent", "100_percent"]
    col = [float(r[1]) for r in rows[1:]]
    assert col == sorted(col) and len(col) == store.runs(sid)[0]["n_valid"]
    # the repair head's scores: buggy samples only, each the mass on the true target
    with open(tmp_path / "curves" / "prediction_score" / f"{stem}_Repair_held.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    with np.load(store.array_path(store.runs(sid)[0]["id"], 1, "valid")) as a:
        n_buggy = int(a["has_bug"].sum())
    assert len(rows) - 1 == n_buggy < store.runs(sid)[0]["n_valid"]

    # an export that cannot finish writes nothing at all
    from engine.errors import InputError

    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "loss").write_text("a file where a folder must go")
    with pytest.raises(InputError, match="loss"):
        export_curves(store, sid, blocked)
    assert [p.name for p in blocked.rglob("*")] == ["loss"]


def _worker(db: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "cli.main", "--db", str(db), "worker", "--idle-exit", "0.2"],
                            cwd=REPO, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _all_metrics(store: Store, sid: int) -> dict:
    return {(r["level"], m["epoch"], m["split"], m["name"]): m["value"]
            for r in store.runs(sid) for m in store.metrics(r["id"])}


def kill_9_and_resume(tmp_path: Path, make_study, epochs: int, into_second: float = 0.3) -> None:
    """Train a one-run study straight through, and again with its worker killed by SIGKILL
    in the second epoch (``into_second`` seconds after the first is recorded) and a new
    worker resuming it: the two end with the same metrics and per-sample arrays, exactly.
    ``make_study(store)`` creates the study."""
    straight = Store(tmp_path / "straight.db")
    sid_a = make_study(straight)
    proc = _worker(straight.path)
    assert proc.wait(timeout=240) == 0, proc.stderr.read()

    killed = Store(tmp_path / "killed.db")
    sid_b = make_study(killed)
    (run,) = killed.runs(sid_b)
    proc = _worker(killed.path)
    deadline = time.time() + 240
    while killed.run(run["id"])["epochs_done"] < 1 and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(into_second)  # into the second epoch
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    (job,) = killed.jobs_of("study", sid_b)
    assert job["state"] == "running"  # the dead worker could not say anything
    assert 1 <= killed.run(run["id"])["epochs_done"] < epochs
    # what a kill during a save leaves (planted, so the test does not depend on the timing)
    (killed.run_dir(run["id"]) / ".checkpoint_epoch2.pt.abc123.tmp.pt").write_bytes(b"half a checkpoint")
    proc = _worker(killed.path)
    assert proc.wait(timeout=240) == 0, proc.stderr.read()
    (job,) = killed.jobs_of("study", sid_b)
    assert job["state"] == "done" and job["attempts"] == 2

    a, b = _all_metrics(straight, sid_a), _all_metrics(killed, sid_b)
    assert len(a) > 0 and a.keys() == b.keys()
    assert a == b  # exactly, not approximately
    (run_a,) = straight.runs(sid_a)
    with np.load(straight.array_path(run_a["id"], epochs, "valid")) as x, \
         np.load(killed.array_path(run["id"], epochs, "valid")) as y:
        for key in x.files:
            assert np.array_equal(x[key], y[key]), key
    # only the last checkpoint is kept, and nothing half-written
    assert [p.name for p in killed.run_dir(run["id"]).glob("*.pt")] == [f"checkpoint_epoch{epochs}.pt"]


def test_byrote_asks_mkl_for_the_same_bits_in_every_process():
    """Importing the engine sets MKL_CBWR=AUTO,STRICT before torch's BLAS runs, and leaves
    a user's own setting: the kill -9 tests below compare runs made in different processes."""
    code = "import engine, os; print(os.environ['MKL_CBWR'])"
    env = {k: v for k, v in os.environ.items() if k != "MKL_CBWR"}
    run = lambda env: subprocess.run([sys.executable, "-P", "-c", code], env=env, capture_output=True,  # noqa: E731
                                     text=True, cwd=Path(__file__).resolve().parents[1], check=True).stdout.strip()
    assert run(env) == "AUTO,STRICT"
    assert run({**env, "MKL_CBWR": "COMPATIBLE"}) == "COMPATIBLE"


@pytest.mark.slow
def test_kill_9_then_resume_gives_the_uninterrupted_metrics(dataset, tmp_path):
    kill_9_and_resume(tmp_path, lambda store: _study(store, dataset, levels=(50.0,), epochs=3, model="transformer"),
                      epochs=3, into_second=0.0)  # an epoch can take less than 0.3 s on an idle machine


@pytest.mark.slow
def test_command_line_study_with_wait(dataset, tmp_path, capsys):
    """`byrote study --wait` starts a detached worker, follows it, and the results,
    jobs and export commands read what it wrote."""
    from cli.main import main

    db = str(tmp_path / "cli.db")
    sets = [x for k, v in TINY.items() for x in ("--set", f"{k}={json.dumps(v)}")]
    code = main(["--db", db, "study", "--task", "varmisuse", "--train", str(dataset.train_path),
                 "--valid", str(dataset.valid_path), "--model", "ggnn", "--noise", "0,100",
                 "--epochs", "1", "--device", "cpu", "--seed", "5", "--wait", *sets])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "study 1: 2 runs queued" in out and "worker started" in out
    assert "job 1 run 1: done" in out and "job 2 run 2: done" in out
    # --wait ends with the results, as byrote results prints them
    assert "metric at the last epoch" in out and "held-out loc_accuracy" in out
    assert out.index("job 2 run 2: done") < out.index("metric at the last epoch")
    store = Store(db)
    assert [j["state"] for j in store.jobs()] == ["done", "done"]
    assert store.study(1)["config"]["hidden_dim"] == 32
    assert main(["--db", db, "results", "--study", "1"]) == 0
    table = capsys.readouterr().out
    header = next(line for line in table.splitlines() if "metric at the last epoch" in line)
    assert [c for c in header.split() if c.endswith("%")] == ["0%", "100%"]  # a column per level
    assert "held-out loc_accuracy" in table and "train gini_loss" in table
    assert main(["--db", db, "jobs"]) == 0
    assert "done" in capsys.readouterr().out
    assert main(["--db", db, "export", "curves", "--study", "1", "--out", str(tmp_path / "csv")]) == 0
    assert (tmp_path / "csv" / "accuracy").is_dir()


@pytest.fixture(scope="module")
def mn_dataset(tmp_path_factory):
    from engine.data.methodname_build import build_methodname

    out = tmp_path_factory.mktemp("mn") / "stdlib-top10.jsonl"
    report = build_methodname(Path(sysconfig.get_paths()["stdlib"]) / "email", out, lang="python", top=5)
    return report


@pytest.mark.slow
def test_method_name_study_records_f1_and_csr(mn_dataset, store, tmp_path):
    """The same study machinery runs the method-name task: per-group noise, code2vec,
    sub-token F1 on both splits, and the critical sample ratio on held-out data."""
    sid = create_study(store, task="methodname", train=str(mn_dataset.train_path),
                       valid=str(mn_dataset.test_path), model="code2vec", levels=[0.0, 100.0], epochs=2,
                       preset="quick", seed=1, device="cpu", overrides={"csr_samples": 20, "batch_size": 32})
    for run in store.runs(sid):
        train_run(store, run["id"])
    for run in store.runs(sid):
        valid = {m["name"]: m["value"] for m in store.metrics(run["id"], "valid") if m["epoch"] == 2}
        train = {m["name"]: m["value"] for m in store.metrics(run["id"], "train") if m["epoch"] == 2}
        assert 0 <= valid["f1_score"] <= 1 and 0 <= train["f1_score"] <= 1
        assert 0 <= valid["csr_all"] <= 1 and "csr_all" not in train  # CSR on held-out data only
        with np.load(store.array_path(run["id"], 2, "valid")) as arrays:
            assert arrays["csr_evaluated"].sum() == 20
            assert not arrays["critical"][~arrays["csr_evaluated"]].any()
    # training statistics use the noisy labels: at 100 % every label was changed
    from engine.formats.code2vec import read_methodname

    clean = read_methodname(mn_dataset.train_path)
    noisy = read_methodname(store.files / store.runs(sid)[1]["train_path"])
    assert all(a.label != b.label for a, b in zip(clean, noisy)) and len(clean) == len(noisy)
    changed = json.loads((store.files / store.runs(sid)[1]["changed_path"]).read_text())
    assert changed["relabelled"] == list(range(len(clean)))
    from engine.export import export_curves

    names = {p.relative_to(tmp_path / "x").as_posix() for p in export_curves(store, sid, tmp_path / "x")}
    stem = f"code2vec_{Path(mn_dataset.train_path).stem}"
    assert {f"f1_score/{stem}_test.csv", f"csr_all/{stem}_test.csv", f"prediction_score/{stem}_test.csv"} <= names


def test_method_name_study_on_reference_c2v_files(store, reference):
    """A held-out file named like the reference samples (.c2v.head20) keeps its format in
    the study's copy; without sources, CSR is simply not measured."""
    ref = reference / "code2vec" / "zthang_code2vec_treelstm" / "data" / "my_dataset" / "my_dataset.test.c2v.head20"
    sid = create_study(store, task="methodname", train=str(ref), valid=str(ref), model="code2vec",
                       levels=[0.0], epochs=1, preset="quick", seed=0, device="cpu")
    (run,) = store.runs(sid)
    train_run(store, run["id"])
    valid = {m["name"]: m["value"] for m in store.metrics(run["id"], "valid")}
    assert 0 <= valid["f1_score"] <= 1 and valid["csr_all"] is None  # nan: no source to rename


def test_csr_of_every_held_out_sample_in_chunks_equals_one_chunk(mn_dataset, monkeypatch):
    """``csr_samples=all`` (the paper presets, as the study measured CSR: the whole test
    set) takes every held-out sample with its source; the programs encoded in chunks give
    the same positions, candidates and critical flags as all at once."""
    from engine.formats.code2vec import read_methodname
    from engine.presets import ALL, load_preset
    from engine.tasks import methodname as task_module

    assert load_preset("paper", "methodname")["csr_samples"] == ALL
    assert load_preset("paper", "code2seq")["csr_samples"] == ALL
    train, valid = read_methodname(mn_dataset.train_path), read_methodname(mn_dataset.test_path)
    cfg = {**load_preset("quick", "methodname"), "csr_samples": ALL}
    task = task_module.TASK

    def predict(encoded):  # a stand-in model: some function of each program's contexts
        sums = np.add.reduceat(encoded.contexts.sum(axis=1), encoded.off[:-1]) if len(encoded) else np.zeros(0)
        pred = (sums % 3).astype(np.int64)
        return {"pred": pred, "correct": pred == 0}

    def csr(chunk):
        monkeypatch.setattr(task_module, "CSR_CHUNK", chunk)
        prepared = task.prepare(train, valid, cfg)
        extra = task.extra_arrays(predict, prepared, "valid", {"pred": np.zeros(len(prepared.valid))})
        return prepared, extra

    whole, whole_extra = csr(10**9)
    chunked, chunked_extra = csr(7)
    assert len(whole.csr_originals) == 1 and len(chunked.csr_originals) > 3
    with_source = sum(1 for i in np.asarray(whole.valid.kept) if valid[int(i)].source)
    assert whole_extra["csr_evaluated"].sum() == with_source > 20  # every one, not a sample
    assert np.array_equal(whole.csr_original_pos, chunked.csr_original_pos)
    assert np.array_equal(whole.csr_owner, chunked.csr_owner)
    assert np.array_equal(whole.csr_candidates[0].contexts,
                          np.concatenate([c.contexts for c in chunked.csr_candidates]))
    for key in ("csr_evaluated", "critical", "csr_original_correct"):
        assert np.array_equal(whole_extra[key], chunked_extra[key]), key
    assert 0 < whole_extra["critical"].sum() < with_source


def test_csr_samples_may_be_zero_but_not_negative():
    from engine.errors import InputError
    from engine.presets import check_settings

    assert check_settings({"csr_samples": 200}, {"csr_samples": 0}, "quick") == {"csr_samples": 0}
    from cli.options import count_or_all
    from engine.presets import ALL

    assert count_or_all("all") == ALL and count_or_all("12") == 12
    with pytest.raises(argparse.ArgumentTypeError):
        count_or_all("-1")
    with pytest.raises(InputError, match="non-negative|positive"):
        check_settings({"csr_samples": 200}, {"csr_samples": -1}, "quick")
    with pytest.raises(InputError, match="must be positive"):
        check_settings({"batch_size": 128}, {"batch_size": 0}, "quick")


def test_stream_order_by_hand():
    """Steps of 3 over 5 samples: step 1 is epoch 1's first three, step 2 its last two and
    epoch 2's first, step 3 epoch 2's next three; without steps, an epoch's permutation."""
    from engine.runtime import epoch_seed
    from engine.study import stream_order

    perm = {e: np.random.default_rng(epoch_seed(7, e)).permutation(5).tolist() for e in (1, 2, 3)}
    assert stream_order(7, 1, 5, 3).tolist() == perm[1][:3]
    assert stream_order(7, 2, 5, 3).tolist() == perm[1][3:] + perm[2][:1]
    assert stream_order(7, 3, 5, 3).tolist() == perm[2][1:4]
    assert stream_order(7, 2, 5).tolist() == perm[2]
    assert stream_order(7, 3, 5, 5).tolist() == perm[3]  # steps of a whole epoch are epochs


def test_heldout_subset_is_fixed_by_the_study_seed():
    from engine.study import heldout_subset

    items = list(range(100))
    a, b = heldout_subset(items, 10, 3), heldout_subset(items, 10, 3)
    assert a == b and len(a) == 10 and a == sorted(a) and a != heldout_subset(items, 10, 4)
    assert heldout_subset(items, 0, 3) == items and heldout_subset(items, 100, 3) == items


@pytest.mark.slow
def test_the_step_protocol_records_steps_and_resumes_at_a_step(store, dataset, tmp_path):
    """eval_every samples a step, evaluated on heldout_samples; a run stopped after a step
    and resumed ends with exactly the metrics of one never stopped; the axis says step."""
    steps = {"eval_every": 64, "heldout_samples": 12}

    def study(seed):
        return create_study(store, task="varmisuse", train=str(dataset.train_path), valid=str(dataset.valid_path),
                            model="ggnn", levels=[0.0], epochs=3, preset="quick", seed=seed, device="cpu",
                            overrides={**TINY, **steps})

    whole, stopped = study(5), study(5)
    (run,) = store.runs(whole)
    train_run(store, run["id"])
    (later,) = store.runs(stopped)
    store.update_run(later["id"], epochs=1)  # stop after the first step ...
    train_run(store, later["id"])
    store.update_run(later["id"], epochs=3)  # ... and resume from its checkpoint
    train_run(store, later["id"])
    for split in ("train", "valid"):
        a = {(m["epoch"], m["name"]): m["value"] for m in store.metrics(run["id"], split)}
        b = {(m["epoch"], m["name"]): m["value"] for m in store.metrics(later["id"], split)}
        assert a == b and {e for e, _ in a} == {1, 2, 3}
    n_train = store.runs(whole)[0]["n_train"]
    for step in (1, 2, 3):
        with np.load(store.array_path(run["id"], step, "train")) as arrays:
            assert 0 < len(arrays["loss"]) <= 64 < n_train  # the samples of the step
        with np.load(store.array_path(run["id"], step, "valid")) as arrays:
            assert len(arrays["loss"]) <= 12  # the fixed held-out subset (less what max_len drops)
    from engine.export import export_curves

    export_curves(store, whole, tmp_path / "x")
    header = (tmp_path / "x" / "loss" / f"GGNN_{Path(dataset.train_path).stem}_held.csv").read_text().split(",")[0]
    assert header == "step"


@pytest.mark.slow
def test_a_study_on_three_slots_equals_one_run_after_another(dataset, tmp_path):
    """Three levels on a worker with three slots train at once, each in its own process,
    and end with exactly the metrics of the same study run one level after another."""
    from engine.jobs import run_worker

    one = Store(tmp_path / "one.db")
    sid_one = _study(one, dataset, levels=(0.0, 50.0, 100.0))
    proc = _worker(one.path)  # in a fresh process too: torch's threads as the slots' processes have them
    assert proc.wait(timeout=240) == 0, proc.stderr.read()
    three = Store(tmp_path / "three.db")
    sid_three = _study(three, dataset, levels=(0.0, 50.0, 100.0))
    assert run_worker(three, idle_exit_s=0.1, slots=3) == 3
    jobs = three.jobs_of("study", sid_three)
    assert all(j["state"] == "done" for j in jobs), [j["error"] for j in jobs]
    assert sorted(j["slot"] for j in jobs) == [0, 1, 2]
    assert max(j["started"] for j in jobs) < min(j["finished"] for j in jobs)  # all three at once
    a, b = _all_metrics(one, sid_one), _all_metrics(three, sid_three)
    assert len(a) > 0 and a == b  # exactly


@pytest.mark.slow
def test_kill_9_of_a_worker_with_slots_resumes_every_run_exactly(dataset, tmp_path):
    """A worker training two levels at once in two slots is killed by SIGKILL once both
    have recorded an epoch; its slot processes end with it, and a new worker with slots
    resumes what was running to exactly the metrics of an uninterrupted run."""
    from engine.jobs import child_python, run_worker

    epochs = 6  # long enough that neither run ends before the kill, on a slow machine too
    straight = Store(tmp_path / "straight.db")
    sid_a = _study(straight, dataset, levels=(0.0, 100.0), epochs=epochs, model="transformer")
    proc = _worker(straight.path)  # a fresh process, as the slots' are (torch's threads as theirs)
    assert proc.wait(timeout=240) == 0, proc.stderr.read()
    killed = Store(tmp_path / "killed.db")
    sid_b = _study(killed, dataset, levels=(0.0, 100.0), epochs=epochs, model="transformer")
    command, env = child_python("engine.jobs", "--db", str(killed.path), "--slots", "2", "--idle-exit", "0.2")
    proc = subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while time.time() < deadline and min(r["epochs_done"] for r in killed.runs(sid_b)) < 1:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # the worker only: its slots must end by themselves
    proc.wait()
    running = [j["id"] for j in killed.jobs_of("study", sid_b) if j["state"] == "running"]
    assert running  # killed mid-way, not after
    assert run_worker(killed, idle_exit_s=0.1, slots=2) == len(running)
    jobs = killed.jobs_of("study", sid_b)
    assert all(j["state"] == "done" for j in jobs), [j["error"] for j in jobs]
    assert all(j["attempts"] == 2 for j in jobs if j["id"] in running)
    assert _all_metrics(straight, sid_a) == _all_metrics(killed, sid_b)


def test_a_study_keeps_the_cpu_threads_it_was_created_with(store, great_files, monkeypatch):
    """CPU sums round with the number of threads that share them, so a study records the
    creating machine's count (OMP_NUM_THREADS where set, else the CPUs it may use) and
    every run computes with it, in a local worker or a Ray task alike; --set overrides."""
    import torch

    from engine.runtime import resolve_device, use_cpu_threads

    train, valid = great_files
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    args = dict(task="varmisuse", train=str(train), valid=str(valid), model="ggnn", levels=[0.0], epochs=1,
                preset="quick", seed=0, device="cpu")
    assert store.study(create_study(store, **args))["config"]["cpu_threads"] == 3
    assert store.study(create_study(store, **args, overrides={"cpu_threads": 1}))["config"]["cpu_threads"] == 1
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert store.study(create_study(store, **args))["config"]["cpu_threads"] == len(os.sched_getaffinity(0))
    before = torch.get_num_threads()
    try:
        use_cpu_threads(resolve_device("cpu"), 1)
        assert torch.get_num_threads() == 1
        use_cpu_threads(resolve_device("cpu"), None)  # a study from before: torch's own
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


@pytest.mark.slow
def test_ctrl_c_during_a_foreground_study_cancels_its_jobs_and_exits_130(dataset, tmp_path):
    """Ctrl-C while `study --foreground` trains: the jobs are cancelled, the command waits
    for them to stop and exits 130 (it used to abort, leaving its jobs running)."""
    from engine.runtime import child_python

    db = tmp_path / "fg.db"
    sets = [x for k, v in TINY.items() for x in ("--set", f"{k}={json.dumps(v)}")]
    command, env = child_python("cli", "--db", str(db), "study", "--task", "varmisuse", "--train",
                                str(dataset.train_path), "--valid", str(dataset.valid_path), "--model", "ggnn",
                                "--noise", "0,100", "--epochs", "500", "--device", "cpu", "--foreground", *sets)
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while time.time() < deadline and not (db.exists() and any(
            r["epochs_done"] for s in Store(db).studies() for r in Store(db).runs(s["id"]))):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=120)[1].decode()
    assert proc.returncode == 130 and err.strip() == "interrupted", err
    assert [j["state"] for j in Store(db).jobs()] == ["cancelled", "cancelled"]
