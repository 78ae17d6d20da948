"""The CUDA paths, where a GPU is present (CI has none: every test here is skipped there).

A noise-study run trains on CUDA with bf16 autocast and a run resumed from its
checkpoint ends with the uninterrupted run's metrics; a language model trains and
samples on CUDA in bf16, reproducibly; the launch-time GPU probe agrees with torch
without importing it."""
from __future__ import annotations

import math
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

TINY = {"hidden_dim": 64, "ff_dim": 128, "num_layers": 2, "num_heads": 4, "ggnn_time_steps": [1, 1],
        "max_len": 160, "batch_tokens": 4000, "vocab_size": 1000, "dropout": 0.1}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from engine.data.varmisuse_build import build_varmisuse

    out = tmp_path_factory.mktemp("data") / "stdlib.jsonl"
    return build_varmisuse(Path(sysconfig.get_paths()["stdlib"]), out, limit=300, seed=0)


def _metrics(store, run_id: int) -> dict:
    return {(m["epoch"], m["split"], m["name"]): m["value"] for m in store.metrics(run_id)}


def _trains_on_cuda_and_resumes(tmp_path, study):
    """``study(store)`` makes a one-run study; trained straight through and again with a
    cancel at epoch 2 and a resume, both on CUDA, the figures agree."""
    from engine.errors import JobCancelled
    from engine.store import Store
    from engine.study import train_run

    whole = Store(tmp_path / "whole.db")
    [run] = whole.runs(study(whole))
    train_run(whole, run["id"])
    assert whole.run(run["id"])["device"].startswith("cuda")
    want = _metrics(whole, run["id"])
    assert len(want) > 20 and all(v is None or math.isfinite(v) for v in want.values())

    class StopAfterEpoch:  # a job context that cancels once epoch 2 starts training
        def check_cancel(self):
            if self.epoch == 2:
                raise JobCancelled()

        def progress(self, fraction, message=None, force=False):
            self.epoch = int(message.split()[1].split("/")[0]) if message and message.startswith("epoch") else 0

    cut = Store(tmp_path / "cut.db")
    [run] = cut.runs(study(cut))
    ctx = StopAfterEpoch()
    ctx.epoch = 0
    with pytest.raises(JobCancelled):
        train_run(cut, run["id"], ctx)
    assert cut.run(run["id"])["epochs_done"] == 1
    train_run(cut, run["id"])
    got = _metrics(cut, run["id"])
    assert got.keys() == want.keys()
    for key, value in want.items():  # deterministic kernels: the same figures, to float rounding
        assert got[key] == pytest.approx(value, rel=1e-4, abs=1e-6), key


@pytest.mark.parametrize("model", ["great", "ggnn"])
def test_a_study_run_trains_on_cuda_and_resumes_to_the_same_metrics(tmp_path, dataset, model):
    from engine.launch import create_study

    _trains_on_cuda_and_resumes(tmp_path, lambda store: create_study(
        store, task="varmisuse", train=str(dataset.train_path), valid=str(dataset.valid_path), model=model,
        levels=[25.0], epochs=3, preset="quick", seed=5, device="cuda", overrides=TINY))


def test_a_code2seq_run_trains_on_cuda_and_resumes_to_the_same_metrics(tmp_path):
    from engine.data.methodname_build import build_methodname
    from engine.launch import create_study

    data = build_methodname(Path(sysconfig.get_paths()["stdlib"]) / "email", tmp_path / "mn.jsonl", lang="python",
                            top=5)
    _trains_on_cuda_and_resumes(tmp_path, lambda store: create_study(
        store, task="methodname", train=str(data.train_path), valid=str(data.test_path), model="code2seq",
        levels=[50.0], epochs=3, preset="quick", seed=5, device="cuda", overrides={"csr_samples": 20}))


def test_a_language_model_trains_and_samples_on_cuda_in_bf16(tmp_path):
    from engine.data.corpus import open_corpus
    from engine.lm.hub import load_causal_lm
    from engine.lm.train import train_lm
    from engine.presets import load_preset
    from engine.sample import prompt_ids, sample_batch

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for name in ("bisect.py", "colorsys.py", "keyword.py", "this.py"):
        (corpus / name).write_bytes((stdlib / name).read_bytes())
    meta = train_lm(open_corpus(str(corpus)), tmp_path / "lm", load_preset("tiny", "lm", {"epochs": 2}), 0, "cuda")
    assert meta["device"].startswith("cuda") and math.isfinite(meta["final_loss"])
    model, tokenizer = load_causal_lm(str(tmp_path / "lm"), torch.device("cuda"))
    assert next(model.parameters()).dtype == torch.bfloat16
    start = prompt_ids(tokenizer, None, model)
    first = sample_batch(model, tokenizer, start, 8, 40, 40, 1.0, seed=7)
    again = sample_batch(model, tokenizer, start, 8, 40, 40, 1.0, seed=7)
    assert first == again and len(first) == 8
    assert all(0 < n <= 40 for _, n in first)


def test_the_launch_probe_sees_the_gpu_without_torch():
    code = ("import sys\nfrom engine.runtime import check_device, cuda_present\n"
            "assert cuda_present() and check_device('cuda') == 'cuda'\nassert 'torch' not in sys.modules\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_cuda_is_set_up_for_exact_resumes_without_slow_kernels():
    from engine.runtime import resolve_device

    assert resolve_device("cuda").type == "cuda"
    assert torch.are_deterministic_algorithms_enabled()
    assert not torch.utils.deterministic.fill_uninitialized_memory  # 1.5-1.7x slower with the fill
    assert not torch.backends.cuda.cudnn_sdp_enabled()  # a plan per shape: 9x slower Transformer
