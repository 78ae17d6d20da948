"""The Ray executor on a local Ray cluster (``ray.cluster_utils.Cluster``: a head and a
second node, GPUs faked with ``num_gpus``): a study's runs and a scan give exactly the
local executor's results, a run whose node is removed mid-way resumes on another node to
the same result, and bad choices are one line with exit status 2."""
from __future__ import annotations

import os
import sysconfig
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from engine import ray_executor  # noqa: E402
from engine.errors import InputError  # noqa: E402
from engine.clones.scan import run_scan  # noqa: E402
from engine.data.varmisuse_build import build_varmisuse  # noqa: E402
from engine.launch import check_scan, create_study, enqueue_scan, open_checked_corpus  # noqa: E402
from engine.store import Store  # noqa: E402
from engine.study import train_run  # noqa: E402

TINY = {"hidden_dim": 16, "ff_dim": 32, "num_layers": 1, "num_heads": 2, "ggnn_time_steps": [1, 1],
        "max_len": 120, "batch_tokens": 2000, "vocab_size": 400, "dropout": 0.1}


@pytest.fixture(scope="module")
def cluster():
    """A head without GPUs and a node with one, on this machine; the executor chosen for
    this process while the module's tests run (the environment restored after)."""
    from ray.cluster_utils import Cluster

    saved = {k: os.environ.get(k) for k in (ray_executor.EXECUTOR_ENV, ray_executor.ADDRESS_ENV)}
    # the head has no GPU: training tasks go to the GPU nodes; the driver is a test thread
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "num_gpus": 0, "include_dashboard": False})
    gpu_node = c.add_node(num_cpus=1, num_gpus=1)
    try:
        ray_executor.choose("ray", c.address)
        ray_executor.connect()
        yield c, gpu_node
    finally:
        ray.shutdown()
        c.shutdown()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "stdlib.jsonl"
    return build_varmisuse(Path(sysconfig.get_paths()["stdlib"]), out, limit=120, seed=0)


def _study(store, dataset, epochs=2, **settings):
    return create_study(store, task="varmisuse", train=str(dataset.train_path), valid=str(dataset.valid_path),
                        model="ggnn", levels=[0.0, 50.0, 100.0], epochs=epochs, preset="quick", seed=5,
                        device="cpu", overrides={**TINY, **settings})


def _results(store, study_id) -> dict:
    """Every run's metrics and per-sample arrays, by level, epoch and split."""
    out = {}
    for run in store.runs(study_id):
        for split in ("train", "valid"):
            for m in store.metrics(run["id"], split):
                out[(run["level"], m["epoch"], split, m["name"])] = m["value"]
            for epoch in range(1, run["epochs_done"] + 1):
                with np.load(store.array_path(run["id"], epoch, split)) as arrays:
                    for key, value in arrays.items():
                        out[(run["level"], epoch, split, key)] = value.tolist()
    return out


class _Ctx:
    """A job context that records progress and can act at a given message."""

    def __init__(self, at: str | None = None, action=None):
        self.at, self.action, self.said = at, action, []

    def check_cancel(self) -> None:
        pass

    def progress(self, fraction, message=None, force=False) -> None:
        self.said.append(message)
        if self.action is not None and message == self.at:
            action, self.action = self.action, None
            action()


@pytest.mark.slow
def test_a_study_on_ray_equals_the_local_run(cluster, dataset, tmp_path, monkeypatch):
    from cli.main import main

    c, _ = cluster
    ray_store = Store(tmp_path / "ray.db")
    sid = _study(ray_store, dataset, ray_gpus=0.5)  # three runs queued, each task asking for half a GPU
    assert main(["--db", str(tmp_path / "ray.db"), "worker", "--executor", "ray", "--address", c.address,
                 "--slots", "1", "--idle-exit", "0"]) == 0
    assert [j["state"] for j in ray_store.jobs()] == ["done"] * 3
    monkeypatch.setenv(ray_executor.EXECUTOR_ENV, "local")  # the same study, computed here
    local_store = Store(tmp_path / "local.db")
    lid = _study(local_store, dataset)
    for run in local_store.runs(lid):
        train_run(local_store, run["id"])
    got, want = _results(ray_store, sid), _results(local_store, lid)
    assert len(want) > 50 and got == want
    assert all(r["epochs_done"] == 2 for r in ray_store.runs(sid))


@pytest.mark.slow
def test_a_run_whose_node_is_lost_resumes_elsewhere_to_the_same_result(cluster, dataset, tmp_path, monkeypatch):
    """The GPU node is removed once epoch 1 is committed (a new one joins): the run's
    task is submitted again from epoch 1's checkpoint and ends as an uninterrupted run."""
    c, _ = cluster
    store = Store(tmp_path / "lost.db")
    sid = _study(store, dataset, epochs=3)
    run = store.runs(sid)[1]

    def lose_the_node():  # every GPU node goes (the run's among them); a new one joins
        old = list(c.worker_nodes)
        c.add_node(num_cpus=1, num_gpus=1)
        for node in old:
            c.remove_node(node)

    ctx = _Ctx(at="epoch 1/3 done", action=lose_the_node)
    train_run(store, run["id"], ctx)
    assert ctx.action is None  # the node went
    assert "epoch 2/3: on Ray" in ctx.said  # submitted again, from epoch 1
    monkeypatch.setenv(ray_executor.EXECUTOR_ENV, "local")
    whole = Store(tmp_path / "whole.db")
    wid = _study(whole, dataset, epochs=3)
    train_run(whole, whole.runs(wid)[1]["id"])
    got = {k[1:]: v for k, v in _results(store, sid).items() if k[0] == 50.0}
    want = {k[1:]: v for k, v in _results(whole, wid).items() if k[0] == 50.0}
    assert got == want and store.run(run["id"])["epochs_done"] == 3


@pytest.mark.slow
def test_a_scan_on_ray_equals_the_scan_here(cluster, tmp_path, monkeypatch):
    corpus_dir = Path(sysconfig.get_paths()["stdlib"]) / "email"
    files = sorted(corpus_dir.glob("*.py"))
    texts = [f.read_text(encoding="utf-8") for f in files[:12]]
    outputs = [(i + 1, "\n".join(t.splitlines()[10:40]) + "\nx = 1\n") for i, t in enumerate(texts)]

    def scan(db: Path, source: str) -> list[tuple]:
        store = Store(db)
        set_id = store.add_output_set(name="o", source="import", n=len(outputs))
        store.add_outputs(set_id, [(i, f"m{i}", text, None) for i, text in outputs])
        corpus = open_checked_corpus(source, glob="*.py", shard_mb=0.05)
        scan_id, _, _ = enqueue_scan(store, check_scan(store, set_id, 6, "simian"), corpus)
        run_scan(store, scan_id)
        assert len(store.finished_shards(scan_id)) > 3  # several tasks
        rows = store.snippet_page(store.snippet_filter(scan_id), "fingerprint", limit=10_000)
        return [(r, store.snippet_outputs(scan_id, r["fingerprint"]), store.snippet_matches(scan_id, r["fingerprint"]))
                for r in rows]

    on_ray = scan(tmp_path / "ray.db", f"file://{corpus_dir}")  # a URL: each task reads it through fsspec
    monkeypatch.setenv(ray_executor.EXECUTOR_ENV, "local")
    here = scan(tmp_path / "here.db", str(corpus_dir))
    assert len(here) > 5 and on_ray == here


@pytest.mark.slow
def test_sampling_on_two_gpus_equals_sampling_here(cluster, tmp_path_factory, tmp_path, monkeypatch):
    """Two tasks, each over every other batch; the set is stored in batch order and holds
    exactly the outputs of a local run."""
    from test_lm import tiny_lm_for_session

    from engine.jobs import JobContext
    from engine.sample import sample_job

    c, _ = cluster
    if int(ray.cluster_resources().get("GPU", 0)) < 2:
        c.add_node(num_cpus=1, num_gpus=1)
        c.wait_for_nodes()
    model = tiny_lm_for_session(tmp_path_factory).out

    def sample(db: Path) -> list[tuple]:
        store = Store(db)
        set_id = store.add_output_set(name="tiny", source="sample", model=str(model), n=10, seq_len=30, top_k=40,
                                      temperature=1.0, batch_size=3, seed=4, prompt=None,
                                      config={"trust_remote_code": False})
        job = store.add_job("sample", {"set_id": set_id, "device": "auto"}, item=("sampling", set_id))
        sample_job(JobContext(store, store.job(job)))
        return [(o["id"], o["md5"], o["text"], o["n_tokens"]) for o in store.outputs(set_id)]

    on_ray = sample(tmp_path / "ray.db")
    monkeypatch.setenv(ray_executor.EXECUTOR_ENV, "local")
    here = sample(tmp_path / "here.db")
    assert [o[0] for o in on_ray] == list(range(1, 11)) and on_ray == here


def test_a_study_may_ask_for_a_share_of_a_gpu():
    """``--set ray_gpus=X``: any study's preset takes it (an LM's does not: it trains in the
    worker), positive and at most 64."""
    from engine.presets import load_preset

    assert load_preset("quick", "varmisuse", {"ray_gpus": 0.25})["ray_gpus"] == 0.25
    assert "ray_gpus" not in load_preset("quick", "varmisuse", {})
    for settings, said in (({"ray_gpus": 0}, "must be positive"), ({"ray_gpus": 65.0}, "from 0.01 to 64.0")):
        with pytest.raises(InputError, match=said):
            load_preset("quick", "methodname", settings)
    with pytest.raises(InputError, match="unknown setting 'ray_gpus'"):
        load_preset("tiny", "lm", {"ray_gpus": 0.5})


def test_bad_choices_are_one_line_and_queue_nothing(tmp_path, capsys, monkeypatch):
    from cli.main import main

    db = tmp_path / "t.db"
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    for args, said in ((["--executor", "ray"], "the Ray executor joins a running Ray cluster"),
                       (["--executor", "ray", "--address", "127.0.0.1:1"], "no Ray cluster answers at 127.0.0.1:1"),
                       (["--executor", "ray", "--address", "nowhere"], "not a Ray address: 'nowhere'"),
                       (["--executor", "mars"], "invalid choice: 'mars'")):
        assert main(["--db", str(db), "worker", *args]) == 2, args
        err = capsys.readouterr().err.strip()
        assert said in err and len(err.splitlines()) == 1 and "Traceback" not in err, err
    monkeypatch.setitem(__import__("sys").modules, "ray", None)  # Ray not installed
    assert main(["--db", str(db), "worker", "--executor", "ray", "--address", "127.0.0.1:1"]) == 2
    assert "pip install 'byrote[ray]'" in capsys.readouterr().err
    assert Store(db).jobs() == []


def test_the_warm_up_connects_beside_the_caller_and_hands_back_its_failure(cluster, monkeypatch):
    """A scan on Ray connects and starts the cluster's worker processes in a thread while
    it indexes its outputs; the wait it gets back returns once connected, or raises what
    the connection raised (here a cluster that no longer answers)."""
    import threading

    ray_executor.warm_up()()
    assert ray.is_initialized()

    seen = []

    def gone():
        seen.append(threading.current_thread().name)
        raise InputError("no Ray cluster answers at 127.0.0.1:1", field="address")

    monkeypatch.setattr(ray_executor, "connect", gone)
    connected = ray_executor.warm_up()
    with pytest.raises(InputError, match="no Ray cluster answers"):
        connected()
    assert seen == ["ray-warm-up"]
