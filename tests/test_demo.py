"""The demo: its chain of ``demo`` jobs run by the worker (tiny settings), stages that
queue nothing twice, and ``byrote demo`` on and off a terminal."""
from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine import jobs
from engine import demo
from engine.demo import STDLIB, demo_settings, lm_model_dir, start_demo
from engine.errors import InputError
from engine.store import Store
from cli.main import main

REPO = Path(__file__).resolve().parents[1]
TINY_VM = {"hidden_dim": 32, "ff_dim": 64, "num_layers": 1, "num_heads": 2, "ggnn_time_steps": [1, 1],
           "max_len": 160, "batch_tokens": 3000, "vocab_size": 800, "dropout": 0.1}


def tiny() -> dict:
    """The demo on the standard library's email package, with tiny models and few outputs."""
    return demo_settings(
        seed=0, limit=150, epochs=1, source=str(STDLIB / "email"), levels=[0.0, 100.0], vm_overrides=TINY_VM,
        mn_top=5, mn_overrides={"csr_samples": 10, "batch_size": 32}, lm_preset="tiny", lm_settings={"epochs": 1},
        lm_bytes=8000, lm_file_bytes=[0, 6000], lm_outputs=6, lm_seq_len=40, lm_batch=3, scan_workers=1,
        lm_windows=10, device="cpu")


def _steps(store: Store, states=None) -> list[str]:
    return [j["kind"] + (f":{j['params']['stage']}" if j["kind"] == "demo" else "") for j in store.jobs(states)]


def _run_stage(store: Store, stage: str, settings: dict) -> str:
    """Run one stage as the worker would, ignoring whatever it queues; its final state."""
    job = store.add_job("demo", {"stage": stage, "settings": settings}, item=("demo", 1))
    return jobs.run_job(store, store.claim_next_job(0, {job}))


@pytest.mark.slow
def test_the_chain_runs_every_step_in_order(tmp_path):
    store = Store(tmp_path / "demo.db")
    s = tiny()
    assert start_demo(store, s) == 1
    jobs.run_worker(store, idle_exit_s=0)
    assert _steps(store) == ["demo:start", "lm_train", "demo:sample", "sample", "demo:scan", "scan", "extractable",
                             "extraction_point", "extraction_point", "demo:studies"] + ["train_run"] * 4
    assert [(j["state"], j["error"]) for j in store.jobs()] == [("done", None)] * 14
    said = [j["message"] for j in store.jobs() if j["kind"] == "demo"]
    corpus = store.files / "demo" / "lm-corpus-8000"
    assert said[:2] + said[3:] == ["demo: training of the language model queued (job 2)",
                                   "demo: output set 1: 6 outputs to sample (job 4)",
                                   "demo: studies 1 and 2: 4 runs, one per noise level"]
    assert said[2].startswith(f"demo: scan 1 (job 6): outputs of set 1 against directory {corpus} (")
    assert said[2].endswith("; k-extractability run 1 (job 7): 10 windows of its corpus; extraction study 1 "
                            "(jobs 8-9): top-k 5 and 40")
    k5, k40 = store.extraction_points(1)
    assert k40["set_id"] == 1 and k40["scan_id"] == 1  # the demo's own sampling and scan, reused
    assert k5["set_id"] == 2 and store.output_set(2)["top_k"] == 5 and store.scan(k5["scan_id"])["state"] == "done"
    figures = store.extractable_summary(1)
    assert figures["scored"] == 10 and store.extractable_run(1)["prefix"] == 32

    model = lm_model_dir(store, s)
    assert json.loads((model / "byrote_lm.json").read_text())["preset"] == "tiny"
    outputs, _ = store.output_sets()  # the demo's, then the extraction study's top-k 5 set
    assert (outputs["model"], outputs["n"], outputs["count"], outputs["seq_len"]) == (str(model), 6, 6, 40)
    scan, _ = store.scans()
    assert scan["state"] == "done" and scan["set_id"] == outputs["id"] and scan["stats"]["outputs"] == 6
    sliced = sorted(corpus.rglob("*.py"))
    assert scan["stats"]["docs"] == len(sliced) > 1 and sum(p.stat().st_size for p in sliced) <= 8000
    vm, mn = store.studies()
    assert (vm["name"], vm["task"], vm["model"]) == ("ggnn on the standard library · demo", "varmisuse", "ggnn")
    assert (mn["name"], mn["task"]) == ("code2vec on the standard library's top 5 names · demo", "methodname")
    for study in (vm, mn):
        assert [(r["level"], r["epochs_done"]) for r in store.runs(study["id"])] == [(0.0, 1), (100.0, 1)]

    # reopening the demo queues nothing; a stage run again (a lost worker) makes nothing twice
    assert start_demo(store, s) is None
    assert _run_stage(store, "studies", s) == "done"
    assert len(store.studies()) == 2 and _steps(store).count("train_run") == 4

    # the same seed gives the same model and outputs (the chain up to the sampling, jobs 1-4)
    again = Store(tmp_path / "again.db")
    start_demo(again, s)
    assert jobs.run_worker(again, idle_exit_s=0, only={1, 2, 3, 4}) == 4
    texts = [[o["text"] for o in st.outputs(1)] for st in (store, again)]
    assert texts[0] == texts[1] and len(set(texts[0])) > 1


def test_a_stage_run_twice_queues_nothing_twice(store):
    s = tiny()
    for _ in range(2):
        assert _run_stage(store, "start", s) == "done"
    assert _steps(store) == ["demo:start", "lm_train", "demo:sample", "demo:start"]

    # no trained model (its training failed): the chain goes on to the studies
    for _ in range(2):
        assert _run_stage(store, "sample", s) == "failed"
    model = lm_model_dir(store, s)
    assert store.jobs()[-1]["error"] == f"{model}: holds no trained language model (its training failed or was " \
                                        "cancelled)"
    assert _steps(store)[4:] == ["demo:sample", "demo:studies", "demo:sample"]

    model.mkdir(parents=True)
    (model / "config.json").write_text("{}")  # the stages only look for it
    for _ in range(2):
        assert _run_stage(store, "sample", s) == "done"
    assert _steps(store)[7:] == ["demo:sample", "sample", "demo:scan", "demo:sample"]
    (outputs,) = store.output_sets()
    assert (outputs["n"], outputs["count"], outputs["seed"], outputs["top_k"]) == (6, 0, 0, 40)

    text = "def f(x):\n    return x\n"
    store.add_outputs(outputs["id"], [(1, hashlib.md5(text.encode()).hexdigest(), text, 9)])
    for _ in range(2):
        assert _run_stage(store, "scan", s) == "done"
    assert _steps(store)[11:] == ["demo:scan", "scan", "demo:scan"]  # "studies" is queued already
    (scan,) = store.scans()
    assert scan["n_outputs"] == 1 and scan["workers"] == 1
    # what the chain itself queued, each once
    assert _steps(store, ["queued"]) == ["lm_train", "demo:sample", "demo:studies", "sample", "demo:scan", "scan"]


def test_unknown_stage_and_setting(store):
    assert _run_stage(store, "finish", tiny()) == "failed"
    assert store.jobs()[-1]["error"] == "unknown demo stage 'finish' (known: start, sample, scan, studies)"
    with pytest.raises(InputError, match="unknown demo setting colour"):
        demo_settings(colour="red")


@pytest.mark.slow
def test_the_headless_demo_prints_both_instruments(tmp_path, monkeypatch, capsys):
    settings = tiny()
    monkeypatch.setattr(demo, "demo_settings", lambda **given: settings)
    monkeypatch.setattr(sys, "stdin", io.StringIO())
    assert main(["demo", "--headless"]) == 0
    out = capsys.readouterr().out
    for said in (f"byrote demo: noise studies on {STDLIB / 'email'} (database {tmp_path / 'demo.db'})",
                 "study 1: ggnn on the standard library · demo", "Observation 1, VarMisuse",
                 "memorization extraction: a tiny GPT-2 on directory", "output set 1: 6 outputs to sample",
                 "scan 1: 0 memorized snippets; 0 of 6 outputs hold at least one", "the whole demo took",
                 "study 1: no detectors: run 2 (100% noise) has 1 epoch(s) done: the dynamics need 2 or more"):
        assert said in " ".join(out.split()), said
    store = Store(tmp_path / "demo.db")
    assert [j["state"] for j in store.jobs()] == ["done"] * 10  # 4 runs, the LM, its sampling, scan, windows, grid
    assert "run 1: " in out and "windows extractable" in out


@pytest.mark.parametrize("argv, said", [(["demo"], "no terminal: running the demo headless\n"),
                                        (["demo", "--headless"], "")])
def test_without_a_terminal_the_demo_runs_headless(argv, said, tmp_path, monkeypatch, capsys):
    ran = []
    monkeypatch.setattr("cli.demo.run_demo", lambda store, args: ran.append((store.path, args.limit)) or 0)
    monkeypatch.setattr(sys, "stdin", io.StringIO())
    assert main([*argv, "--limit", "7"]) == 0
    assert capsys.readouterr().err == said
    assert ran == [(tmp_path / "demo.db", 7)]  # beside the default database ($BYROTE_DB here)
    assert Store(tmp_path / "demo.db").jobs() == []
    assert main([*argv, "--db", str(tmp_path / "mine.db")]) == 0
    assert ran[-1] == (tmp_path / "mine.db", None)


def test_on_a_terminal_the_demo_queues_its_chain_and_opens_the_app(tmp_path):
    """Run twice: one chain queued, the worker started and the app opened each time, and
    no torch in the app's process."""
    code = (
        "import io, sys\n"
        "class Tty(io.StringIO):\n"
        "    def isatty(self):\n"
        "        return True\n"
        "import engine.jobs, tui.app\n"
        "calls = []\n"
        "engine.jobs.start_worker = lambda store: calls.append(('worker', store.path))\n"
        "class App:\n"
        "    def __init__(self, path):\n"
        "        calls.append(('app', path))\n"
        "    def run(self):\n"
        "        self.return_code = 0\n"
        "tui.app.ByroteApp = App\n"
        "from cli.main import main\n"
        "out, sys.stdin, sys.stdout = sys.stdout, Tty(), Tty()\n"
        "codes = [main(['demo', '--seed', '3']), main(['demo'])]\n"
        "heavy = [m for m in ('torch', 'transformers', 'datasets', 'pandas') if m in sys.modules]\n"
        "print(repr((codes, [(k, str(p)) for k, p in calls], heavy, sys.stdout.getvalue())), file=out)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    db = str(tmp_path / "demo.db")
    *got, said = eval(proc.stdout)
    assert got == [[0, 0], [("worker", db), ("app", db)] * 2, []]
    # when the app closes: how to reach the demo's database from the command line
    assert said.count(f"the demo's database is {db}; the commands read it with --db, e.g. byrote --db {db} jobs") == 2
    assert proc.stderr == ""
    (job,) = Store(db).jobs()
    assert (job["kind"], job["params"]["stage"], job["state"]) == ("demo", "start", "queued")
    assert job["params"]["settings"] == demo_settings(seed=3)


@pytest.mark.slow
def test_the_capacity_contrast_demo_trains_both_method_name_models(tmp_path, monkeypatch, capsys):
    """``byrote demo --study code2seq``: code2vec and code2seq on the same dataset at 0 %
    and 100 % noise, trained in this process, and the contrast's check (on email's top 5
    names here, one epoch)."""
    monkeypatch.setattr(demo, "STDLIB", STDLIB / "email")
    monkeypatch.setattr(demo, "MN_TOP", 5)
    monkeypatch.setattr(demo, "MN_CSR_SAMPLES", 10)
    assert main(["--db", str(tmp_path / "c.db"), "demo", "--study", "code2seq", "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    store = Store(tmp_path / "c.db")
    studies = store.studies()
    assert [s["model"] for s in studies] == ["code2vec", "code2seq"]
    assert studies[0]["train_path"] == studies[1]["train_path"]
    assert all(s["levels"] == [0.0, 100.0] for s in studies)
    assert all(r["epochs_done"] == 1 for s in studies for r in store.runs(s["id"]))
    text, holds, detail = demo.capacity_contrast(store, studies[0]["id"], studies[1]["id"])
    assert "Observation 1, capacity" in out and detail.split(" (")[0] in " ".join(out.split())
