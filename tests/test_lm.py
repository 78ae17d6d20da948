"""Small GPT-2 language models: training (deterministic, resumable), saving, loading
through the same path as a hub model, and the light check the command line makes."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from engine import jobs, presets
from engine.lm import hub, train
from engine.data.corpus import open_corpus
from engine.errors import InputError, JobCancelled

REPO = Path(__file__).resolve().parents[1]
CODE = "def f(x):\n\treturn x .y , ( 1 , 2 )  # é ☃\r\n    pass\n"


@dataclass
class TinyLM:
    corpus_dir: Path
    out: Path
    meta: dict


_CACHE: dict[str, TinyLM] = {}


def tiny_lm_for_session(tmp_path_factory) -> TinyLM:
    """The "tiny" preset trained once per test session on ~20 KB of the standard library
    (plus one file that is not UTF-8, which training must skip)."""
    if "lm" not in _CACHE:
        root = tmp_path_factory.mktemp("tiny_lm")
        corpus_dir = root / "corpus"
        corpus_dir.mkdir()
        total = 0
        for path in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py")):
            size = path.stat().st_size
            if size <= 6000 and total + size <= 20000:
                (corpus_dir / path.name).write_bytes(path.read_bytes())
                total += size
        (corpus_dir / "zz_latin1.py").write_bytes("café = 1\n".encode("latin-1"))
        out = root / "model"
        meta = train.train_lm(open_corpus(str(corpus_dir)), out, presets.load_preset("tiny", "lm"), 0, "cpu",
                           preset_name="tiny")
        _CACHE["lm"] = TinyLM(corpus_dir, out, meta)
    return _CACHE["lm"]


@pytest.fixture(scope="session")
def tiny_lm(tmp_path_factory) -> TinyLM:
    return tiny_lm_for_session(tmp_path_factory)


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _weights(out: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(out / "model.safetensors"))


def _same_weights(a: Path, b: Path) -> bool:
    wa, wb = _weights(a), _weights(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


class StopAt:
    """A job context that cancels the job when training reaches step ``k``."""

    def __init__(self, k: int | None):
        self.k, self.step, self.messages = k, 0, []

    def progress(self, fraction, message=None, force=False):
        self.messages.append(message)
        m = re.match(r"step (\d+)/", message or "")
        if m:
            self.step = int(m.group(1))

    def check_cancel(self):
        if self.k is not None and self.step >= self.k:
            raise JobCancelled()


def test_trained_model_reloads_like_a_hub_model(tiny_lm):
    from transformers import AutoTokenizer, GPT2LMHeadModel

    meta = tiny_lm.meta
    assert sorted(p.name for p in tiny_lm.out.parent.iterdir()) == ["corpus", "model"]  # no temporaries
    names = {p.name for p in tiny_lm.out.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "byrote_lm.json"} <= names
    assert json.loads((tiny_lm.out / "byrote_lm.json").read_text()) == meta
    assert meta["preset"] == "tiny" and meta["settings"] == presets.load_preset("tiny", "lm") and meta["seed"] == 0
    assert meta["corpus"] == open_corpus(str(tiny_lm.corpus_dir)).spec
    assert meta["documents"] >= 3 and meta["skipped"] == 1 and meta["tokens"] > 1000
    assert meta["steps"] == meta["epochs"] * -(-meta["blocks"] // meta["settings"]["batch_size"])
    assert len(meta["epoch_losses"]) == meta["epochs"] and meta["final_loss"] == meta["epoch_losses"][-1]
    assert meta["epoch_losses"][-1] < meta["epoch_losses"][0]

    model, tok = hub.load_causal_lm(str(tiny_lm.out), torch.device("cpu"))
    assert isinstance(model, GPT2LMHeadModel) and not model.training
    assert model.config.n_positions == meta["settings"]["block_size"]
    assert model.config.vocab_size == len(tok) == meta["vocab"]
    assert tok.bos_token == tok.eos_token == tok.pad_token == presets.EOT
    auto = AutoTokenizer.from_pretrained(str(tiny_lm.out))
    ids = auto(CODE)["input_ids"]
    assert auto.decode(ids) == CODE and tok(CODE)["input_ids"] == ids
    assert auto.decode([auto.eos_token_id, *ids, auto.eos_token_id], skip_special_tokens=True) == CODE
    assert len(ids) < len(CODE.encode())  # merges were learned


@pytest.mark.slow
def test_training_is_deterministic_and_a_resumed_run_ends_with_the_same_weights(tiny_lm, tmp_path, monkeypatch):
    cfg = presets.load_preset("tiny", "lm")
    corpus = open_corpus(str(tiny_lm.corpus_dir))
    meta = tiny_lm.meta
    per_epoch = meta["steps"] // meta["epochs"]

    again = train.train_lm(corpus, tmp_path / "again", cfg, 0, "cpu")
    assert _same_weights(tiny_lm.out, tmp_path / "again")
    assert again["epoch_losses"] == meta["epoch_losses"]

    work, out = tmp_path / "work", tmp_path / "resumed"
    # 1) stopped in epoch 2: the last checkpoint is the end of epoch 1
    with pytest.raises(JobCancelled):
        train.train_lm(corpus, out, cfg, 0, "cpu", ctx=StopAt(per_epoch + 2), work_dir=work)
    saved = torch.load(work / "checkpoint.pt", weights_only=True)
    assert saved["step"] == per_epoch and len(saved["epoch_losses"]) == 1
    # 2) resumed and stopped mid-epoch 3, checkpointing every step
    monkeypatch.setattr(train, "CHECKPOINT_EVERY_S", 0.0)
    with pytest.raises(JobCancelled):
        train.train_lm(corpus, out, cfg, 0, "cpu", ctx=StopAt(2 * per_epoch + 3), work_dir=work)
    assert torch.load(work / "checkpoint.pt", weights_only=True)["step"] == 2 * per_epoch + 3
    assert not out.exists()
    # 3) resumed to the end
    ctx = StopAt(None)
    resumed = train.train_lm(corpus, out, cfg, 0, "cpu", ctx=ctx, work_dir=work)
    assert not any(m.startswith("training the tokenizer") for m in ctx.messages)  # read back, not retrained
    assert _same_weights(tiny_lm.out, out)
    assert resumed["epoch_losses"] == meta["epoch_losses"] and resumed["steps"] == meta["steps"]
    tokenizer_files = sorted(p.name for p in tiny_lm.out.iterdir() if "token" in p.name)
    assert tokenizer_files and tokenizer_files == sorted(p.name for p in out.iterdir() if "token" in p.name)
    for name in tokenizer_files:  # the tokenizer read back is written as the fresh one was
        assert (out / name).read_bytes() == (tiny_lm.out / name).read_bytes(), name
    assert [p.name for p in work.iterdir()] == ["run.json"]
    # a rerun of the finished job finds its output; another run may not overwrite it
    assert train.train_lm(corpus, out, cfg, 0, "cpu", work_dir=work) == resumed
    with pytest.raises(InputError, match="already exists"):
        train.train_lm(corpus, out, cfg, 0, "cpu", work_dir=tmp_path / "work2")


def test_lm_train_job(store, tiny_lm, tmp_path):
    out = tmp_path / "models" / "job"
    out.mkdir(parents=True)  # an empty folder may be named: the command line allows it
    lm = store.add_lm_training(corpus=open_corpus(str(tiny_lm.corpus_dir)).spec, out=str(out), preset="tiny",
                               settings={"epochs": 1}, seed=0, device="cpu")
    job = store.add_job("lm_train", {"lm_id": lm}, item=("lm", lm))
    assert jobs.run_worker(store, idle_exit_s=0.1) == 1
    assert store.job(job)["state"] == "done", store.job(job)["error"]
    meta = json.loads((out / "byrote_lm.json").read_text())
    assert meta["preset"] == "tiny" and meta["epochs"] == 1 and meta["settings"]["epochs"] == 1
    assert store.lm_training(lm)["epoch_losses"] == meta["epoch_losses"]  # the loss curve, as it grew
    [work] = list((store.files / "lms").iterdir())  # one folder for the run, whatever its job
    assert [p.name for p in work.iterdir()] == ["run.json"]


def test_presets_are_checked():
    assert {"tiny", "quick", "small"} <= set(presets.presets("lm"))
    assert presets.load_preset("quick", "lm", {"epochs": 2})["epochs"] == 2
    with pytest.raises(InputError, match="unknown language-model preset 'huge'"):
        presets.load_preset("huge", "lm")
    with pytest.raises(InputError, match="unknown setting 'layers'"):
        presets.load_preset("tiny", "lm", {"layers": 3})
    with pytest.raises(InputError, match="n_embd"):
        presets.load_preset("tiny", "lm", {"n_head": 3})
    with pytest.raises(InputError, match="vocab_size"):
        presets.load_preset("tiny", "lm", {"vocab_size": 100})
    with pytest.raises(InputError, match="positive"):
        presets.load_preset("tiny", "lm", {"epochs": 0})


def test_a_model_that_is_neither_a_directory_nor_cached_offline(tmp_path, tiny_lm):
    name = "byrote-test/no-such-model"
    with pytest.raises(InputError, match="network") as err:
        hub.load_causal_lm(name, "cpu")
    assert str(err.value) == (f"model {name!r} is neither a directory nor a model available offline; "
                              "downloads need network access")
    with pytest.raises(InputError, match="network"):
        hub.check_model(name)
    with pytest.raises(InputError, match="config.json") as err:
        hub.check_model(str(tmp_path))
    assert str(tmp_path) in str(err.value)
    with pytest.raises(InputError, match="config.json"):
        hub.load_causal_lm(str(tmp_path), "cpu")
    with pytest.raises(InputError, match="no such model directory"):
        hub.check_model(str(tmp_path / "missing" / "model"))
    hub.check_model(str(tiny_lm.out))


def test_check_model_imports_neither_torch_nor_transformers(tiny_lm):
    code = (
        "import sys\n"
        "from engine.lm.hub import check_model\n"
        "from engine.errors import InputError\n"
        f"check_model({str(tiny_lm.out)!r})\n"
        "try:\n"
        "    check_model('byrote-test/no-such-model')\n"
        "except InputError as e:\n"
        "    assert 'network' in str(e)\n"
        "else:\n"
        "    raise AssertionError('no error')\n"
        "heavy = [m for m in ('torch', 'transformers', 'datasets') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr


def test_trust_remote_code_is_off_unless_asked(tiny_lm, monkeypatch):
    import transformers

    calls = []
    for cls in (transformers.AutoModelForCausalLM, transformers.AutoTokenizer):
        original = cls.from_pretrained

        def recording(*args, _original=original, _cls=cls, **kwargs):
            calls.append((_cls.__name__, args, kwargs))
            return _original(*args, **kwargs)

        monkeypatch.setattr(cls, "from_pretrained", recording)
    hub.load_causal_lm(str(tiny_lm.out), "cpu")
    assert {c[0] for c in calls} == {"AutoModelForCausalLM", "AutoTokenizer"}
    assert all(c[2]["trust_remote_code"] is False and c[1] == (str(tiny_lm.out),) for c in calls)
    assert [c[2]["dtype"] for c in calls if c[0] == "AutoModelForCausalLM"] == [torch.float32]
    calls.clear()
    hub.load_causal_lm(str(tiny_lm.out), "cpu", trust_remote_code=True)
    assert calls and all(c[2]["trust_remote_code"] is True for c in calls)
