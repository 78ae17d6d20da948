"""Cost of the critical sample ratio (Rabin et al. §4.3.4) in a method-name epoch.

Builds a method-name dataset (Python standard library by default, top 10 names), then
measures, with the quick preset and the default cap (``csr_samples``):

- preparing the candidates once per run (tree-sitter renaming and re-extraction):
  candidates per second;
- predicting them every epoch: candidates per second;
- the share of one epoch (training + evaluation of both splits + CSR) that CSR takes,
  against the issue's target of under a third.

    .venv/bin/python bench/csr.py [--source DIR] [--lang python] [--top 10]
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

from engine.data.methodname_build import build_methodname  # noqa: E402
from engine.presets import load_preset  # noqa: E402
from engine.study import build_training, evaluate, train_epoch  # noqa: E402
from engine.tasks import get_task  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=sysconfig.get_paths()["stdlib"])
    parser.add_argument("--lang", default="python")
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--preset", default="quick")
    args = parser.parse_args()

    spec = get_task("methodname")
    cfg = load_preset(args.preset, spec.name)
    with tempfile.TemporaryDirectory() as tmp:
        report = build_methodname(args.source, Path(tmp) / "mn.jsonl", lang=args.lang, top=args.top)
        train, test = spec.read(str(report.train_path)), spec.read(str(report.test_path))

    t0 = time.perf_counter()
    cfg_no_csr = dict(cfg, csr_samples=0)
    spec.prepare(train, test, cfg_no_csr)
    t_plain = time.perf_counter() - t0
    t0 = time.perf_counter()
    prepared = spec.prepare(train, test, cfg)
    t_prepare = time.perf_counter() - t0 - t_plain
    n_cand = len(prepared.csr_owner)  # the candidates kept, over every chunk

    device = torch.device("cpu")
    model, optim, sched = build_training(spec, "code2vec", cfg, prepared, device, seed=0)
    order = np.random.default_rng(0).permutation(len(prepared.train))
    t0 = time.perf_counter()
    train_epoch(spec, model, optim, sched, prepared.train, order, cfg, device)
    t_train = time.perf_counter() - t0
    t0 = time.perf_counter()
    evaluate(spec, model, prepared.train, cfg, device)
    arrays = evaluate(spec, model, prepared.valid, cfg, device)
    t_eval = time.perf_counter() - t0
    t0 = time.perf_counter()
    spec.extra_arrays(lambda enc: evaluate(spec, model, enc, cfg, device), prepared, "valid", arrays)
    t_csr = time.perf_counter() - t0

    epoch = t_train + t_eval + t_csr
    print(f"{args.lang} top {args.top} from {args.source}: {len(prepared.train)} train, {len(prepared.valid)} "
          f"held-out samples; CSR cap {cfg['csr_samples']}: {int(prepared.csr_evaluated.sum())} samples, "
          f"{n_cand} candidates")
    print(f"candidate preparation (once per run): {t_prepare:.2f} s = {n_cand / max(t_prepare, 1e-9):.0f} candidates/s")
    print(f"candidate prediction (every epoch):   {t_csr:.3f} s = {n_cand / max(t_csr, 1e-9):.0f} candidates/s")
    print(f"epoch: train {t_train:.2f} s + evaluation {t_eval:.2f} s + CSR {t_csr:.3f} s; "
          f"CSR share {t_csr / epoch:.1%} per epoch (with preparation spread over one epoch: "
          f"{(t_csr + t_prepare) / (epoch + t_prepare):.1%}); target < 33%")


if __name__ == "__main__":
    main()
