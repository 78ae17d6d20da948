"""k-extractability speed: windows scored per second by one teacher-forced forward pass
(engine.extractable.score_batch, what the job runs) against greedy decoding token by
token with the KV cache (greedy_batch, the baseline, measured in the same run on the
same windows), on the best device present (CUDA with bf16, else the CPU). Both give the
same longest correct prefix (tests/test_extractable.py checks it); the bench checks it
again on its own windows where both run in float32.

The model is a GPT-2 of a byrote preset with a BPE tokenizer trained on the standard
library (weights untrained: the speed does not depend on them); the windows are the
standard library's, chosen as the job chooses them.

    .venv/bin/python bench/extractable.py [--preset quick] [--windows 256] [--batch 32]
                                          [--prefix 32] [--suffix 32]
"""
from __future__ import annotations

import argparse
import sys
import sysconfig
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.lm import stdlib_text, sync  # noqa: E402
from engine.data.corpus import open_corpus  # noqa: E402
from engine.extractable import choose_windows, greedy_batch, score_batch  # noqa: E402
from engine.lm.train import build_model, train_tokenizer  # noqa: E402
from engine.presets import EOT, load_preset  # noqa: E402
from engine.runtime import resolve_device  # noqa: E402


def timed(fn, windows: list[tuple[int, ...]], batch: int, device) -> tuple[float, list]:
    fn(windows[:batch])  # warm-up
    sync(device)
    t0 = time.perf_counter()
    out = []
    for start in range(0, len(windows), batch):
        out.extend(fn(windows[start:start + batch]))
    sync(device)
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="quick")
    ap.add_argument("--windows", type=int, default=256)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--prefix", type=int, default=32)
    ap.add_argument("--suffix", type=int, default=32)
    args = ap.parse_args()
    device = resolve_device("auto")
    cfg = load_preset(args.preset, "lm")
    tokenizer = train_tokenizer(stdlib_text(), cfg["vocab_size"], cfg["block_size"])
    model = build_model(cfg, len(tokenizer), tokenizer.convert_tokens_to_ids(EOT), seed=0).to(device).eval()
    corpus = open_corpus(sysconfig.get_paths()["stdlib"], glob="*.py")
    t0 = time.perf_counter()
    chosen = choose_windows(lambda: iter(corpus), tokenizer, args.windows, args.prefix, args.suffix, seed=0)
    choose_s = time.perf_counter() - t0
    windows = [w.ids for w in chosen]
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"preset {args.preset} ({sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters) on {name}; "
          f"{len(windows)} windows of {args.prefix}+{args.suffix} tokens chosen from {corpus.describe()} "
          f"in {choose_s:.1f} s; batch {args.batch}; torch {torch.__version__}")
    forced_s, forced = timed(lambda ws: score_batch(model, ws, args.prefix), windows, args.batch, device)
    greedy_s, greedy = timed(lambda ws: greedy_batch(model, ws, args.prefix), windows, args.batch, device)
    agree = sum(c == next((i for i, (a, b) in enumerate(zip(g, w[args.prefix:])) if a != b), args.suffix)
                for (c, _, _), g, w in zip(forced, greedy, windows))
    print(f"teacher-forced scoring: {len(windows) / forced_s:,.1f} windows/s ({forced_s:.2f} s)")
    print(f"greedy decoding (baseline): {len(windows) / greedy_s:,.1f} windows/s ({greedy_s:.2f} s)")
    print(f"speed-up {greedy_s / forced_s:.1f}x; longest correct prefix equal in {agree}/{len(windows)} windows"
          + (" (bf16 autocast on the forced pass: a near-tie may differ)" if device.type == "cuda" else ""))


if __name__ == "__main__":
    main()
