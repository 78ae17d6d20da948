"""Ranking speed: outputs scored per second by engine.ranking (perplexities of texts sorted
by length, in padded batches: what the ``perplexity`` job runs) against one output per
forward pass, as the study's ``evaluation/eva.py`` scores them (the baseline, measured in
the same run on the same texts), on the best device present (CUDA with bf16, else the CPU).
The two agree to a relative 1e-4 in float32 (the bench checks it).

The model is a GPT-2 of a byrote preset (weights untrained: the speed does not depend on
them) with a BPE tokenizer trained on the standard library; the outputs are slices of the
standard library of 100 to 240 tokens, as sampled outputs vary in length.

    .venv/bin/python bench/ranking.py [--preset quick] [--outputs 512] [--batch 16]
"""
from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.lm import stdlib_text, sync  # noqa: E402
from engine.lm.train import build_model, train_tokenizer  # noqa: E402
from engine.presets import EOT, load_preset  # noqa: E402
from engine.ranking import perplexities, variant_text  # noqa: E402
from engine.runtime import resolve_device  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="quick")
    ap.add_argument("--outputs", type=int, default=512)
    ap.add_argument("--batch", type=int, default=16)
    args = ap.parse_args()
    device = resolve_device("auto")
    cfg = load_preset(args.preset, "lm")
    texts = stdlib_text()
    tokenizer = train_tokenizer(texts, cfg["vocab_size"], cfg["block_size"])
    model = build_model(cfg, len(tokenizer), tokenizer.convert_tokens_to_ids(EOT), seed=0).to(device).eval()
    rng = random.Random(0)
    ids = tokenizer("".join(texts[:200]))["input_ids"]
    outputs = []
    for _ in range(args.outputs):
        start, length = rng.randrange(len(ids) - 300), rng.randrange(100, 240)
        outputs.append(variant_text(tokenizer.decode(ids[start:start + length]), "text"))
    limit = cfg["block_size"]
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"preset {args.preset} ({sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters) on {name}; "
          f"{len(outputs)} outputs of 100-240 tokens; batch {args.batch}; torch {torch.__version__}")
    perplexities(model, tokenizer, outputs[:args.batch], limit)  # warm-up
    sync(device)
    t0 = time.perf_counter()
    order = sorted(range(len(outputs)), key=lambda i: len(outputs[i]))
    batched = [math.nan] * len(outputs)
    for start in range(0, len(order), args.batch):
        part = order[start:start + args.batch]
        for i, value in zip(part, perplexities(model, tokenizer, [outputs[i] for i in part], limit)[0]):
            batched[i] = value
    sync(device)
    batched_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    single = [perplexities(model, tokenizer, [text], limit)[0][0] for text in outputs]
    sync(device)
    single_s = time.perf_counter() - t0
    worst = max(abs(a - b) / b for a, b in zip(batched, single))
    print(f"batched, sorted by length: {len(outputs) / batched_s:,.1f} outputs/s ({batched_s:.2f} s)")
    print(f"one output per pass (eva.py's way, the baseline): {len(outputs) / single_s:,.1f} outputs/s "
          f"({single_s:.2f} s)")
    print(f"speed-up {single_s / batched_s:.1f}x; largest relative difference {worst:.1e}")


if __name__ == "__main__":
    main()
