"""Training throughput of the study's models (samples/s), per model and device.

Builds a dataset of the task (``--task varmisuse``, ``methodname``, ``codesearch`` or
``codetotext``) from this Python's standard library, then times one epoch of the real
training loop (engine.study.train_epoch) and one evaluation pass per model, on the CPU and, when one
is present, on CUDA with bf16 autocast. Ratios are against the first row (the task's
first model on the CPU by default), measured in the same run.

Devices are set up as a study sets them up (engine.runtime.resolve_device: deterministic
kernels, no cuDNN attention); ``--cudnn-attention`` lets attention use cuDNN's kernel,
to compare.

    .venv/bin/python bench/train.py [--task varmisuse|methodname|codesearch|codetotext] [--limit N]
                                    [--preset quick] [--models M,...] [--encoder ID|DIR]
                                    [--devices cpu,cuda] [--cudnn-attention]
"""
from __future__ import annotations

import argparse
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.data.varmisuse_build import build_varmisuse  # noqa: E402
from engine.data.codesearch_build import build_codesearch  # noqa: E402
from engine.data.methodname_build import build_methodname  # noqa: E402
from engine.presets import load_preset, preset_kind  # noqa: E402
from engine.runtime import cuda_attention, resolve_device  # noqa: E402
from engine.study import build_training, evaluate, train_epoch  # noqa: E402
from engine.tasks import TASK_MODELS, get_task  # noqa: E402


def measure(spec, model_name, cfg, prepared, device) -> tuple[float, float]:
    model, optim, sched = build_training(spec, model_name, cfg, prepared, device, seed=0)
    n = len(prepared.train)
    warm = np.arange(min(n, 64))
    train_epoch(spec, model, optim, sched, prepared.train, warm, cfg, device)  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    train_epoch(spec, model, optim, sched, prepared.train, np.random.default_rng(0).permutation(n), cfg, device)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t_train = time.perf_counter() - t0
    t0 = time.perf_counter()
    evaluate(spec, model, prepared.train, cfg, device)
    t_eval = time.perf_counter() - t0
    return n / t_train, n / t_eval


def datasets(task: str, limit: int, tmp: Path) -> tuple[str, str, str]:
    """(train, held-out) files from this Python's standard library, and what they hold."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    if task == "varmisuse":
        report = build_varmisuse(stdlib, tmp / "bench.jsonl", limit=limit, seed=0)
        return str(report.train_path), str(report.valid_path), f"{limit} functions"
    if task in ("codesearch", "codetotext"):
        report = build_codesearch(stdlib, tmp / "bench.jsonl", limit=limit, valid_fraction=0, test_fraction=0)
        return str(report.train_path), str(report.train_path), f"{limit} functions with docstrings, and negatives"
    report = build_methodname(stdlib, tmp / "bench.jsonl", lang="python", top=limit, seed=0)
    return str(report.train_path), str(report.test_path), f"the methods of the {limit} most frequent names"


def codebert_sized(folder: Path) -> Path:
    """A RoBERTa of microsoft/codebert-base's sizes (12 layers, 768 wide, 12 heads, 3,072,
    514 positions) with random weights and a BPE tokenizer of 8,000 tokens trained on the
    standard library (codebert-base's has 50,265: only the embedding table differs)."""
    from engine.models.pair_classifier import build_local_encoder

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in sorted(stdlib.glob("*.py"))[:200]]
    return build_local_encoder(folder, texts, vocab_size=8000, layers=12, width=768, heads=12, ff=3072)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=("varmisuse", "methodname", "codesearch", "codetotext"), default="varmisuse")
    parser.add_argument("--limit", type=int, default=None,
                        help="varmisuse: functions from the standard library (800); methodname: names kept (10); "
                             "codesearch, codetotext: functions (400)")
    parser.add_argument("--encoder", metavar="ID|DIR",
                        help="codesearch, codetotext: the encoder (default: a RoBERTa of codebert-base's sizes "
                             "with random weights, built here: speed does not depend on the weights)")
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--models", default=None, help="default: the task's models")
    parser.add_argument("--devices", default="cpu,cuda", help="of cpu,cuda (cuda where present)")
    parser.add_argument("--cudnn-attention", action="store_true", help="let attention use cuDNN's kernel on CUDA")
    args = parser.parse_args()
    limit = args.limit or {"varmisuse": 800, "methodname": 10, "codesearch": 400, "codetotext": 400}[args.task]
    models = (args.models or ",".join(TASK_MODELS[args.task])).split(",")

    tmp = tempfile.TemporaryDirectory()
    train_file, valid_file, what = datasets(args.task, limit, Path(tmp.name))
    reader = get_task(args.task)
    train, valid = reader.read(train_file), reader.read(valid_file)
    settings = {}
    if args.task in ("codesearch", "codetotext"):
        settings["encoder"] = args.encoder or str(codebert_sized(Path(tmp.name) / "encoder"))
    devices = [resolve_device(name) for name in args.devices.split(",")
               if name == "cpu" or (name == "cuda" and torch.cuda.is_available())]
    if args.cudnn_attention:
        cuda_attention(cudnn=True)
    print(f"{args.task}, preset {args.preset}: {len(train)} training samples ({what}), torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU threads")
    if torch.cuda.is_available():
        print(f"GPU: {torch.cuda.get_device_name()} (bf16 autocast, cuDNN attention "
              f"{'on' if args.cudnn_attention else 'off'})")
    print(f"{'model':<12}{'device':<8}{'train samples/s':>17}{'eval samples/s':>16}{'vs first row':>20}")
    baseline = None
    for device in devices:
        for name in models:
            spec = get_task(args.task, name)
            cfg = load_preset(args.preset, preset_kind(args.task, name), settings)
            prepared = spec.prepare(train, valid, {**cfg, "csr_samples": 0})
            train_sps, eval_sps = measure(spec, name, cfg, prepared, device)
            if baseline is None:
                baseline = train_sps
            print(f"{name:<12}{device.type:<8}{train_sps:>17.1f}{eval_sps:>16.1f}{train_sps / baseline:>19.2f}x")


if __name__ == "__main__":
    main()
