"""Language-model speed: training tokens/s and model FLOPs utilisation (MFU) of a GPT-2
preset, and sampling tokens/s, on the best device present (CUDA with bf16, else the CPU).

Baselines measured in the same run: MFU is against the dense bf16 (CUDA) or float32
(CPU) matrix-product rate of this very device (an 8192-wide, or on a CPU 2048-wide,
product), so it says how much of what the device can do the training loop gets; the
sampling rate of a batch is set against that of a batch of one. FLOPs per token follow
nanoGPT's estimate: 6 N (N parameters without the position embeddings) plus the
attention, 12 L H T.

The device is set up as training and sampling set it up (engine.runtime.resolve_device);
``--cudnn-attention`` lets attention use cuDNN's kernel, to compare.

    .venv/bin/python bench/lm.py [--preset small] [--batch 16] [--steps 20] [--samples 64] [--seq-len 256]
                                 [--cudnn-attention]
"""
from __future__ import annotations

import argparse
import sys
import sysconfig
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.lm.train import build_model, build_optimizer, train_tokenizer  # noqa: E402
from engine.presets import EOT, load_preset  # noqa: E402
from engine.runtime import autocast, cuda_attention, resolve_device  # noqa: E402
from engine.sample import prompt_ids, sample_batch  # noqa: E402


def sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def matmul_rate(device) -> float:
    """FLOP/s of one large matrix product in the training dtype (bf16 on CUDA)."""
    n, dtype = (8192, torch.bfloat16) if device.type == "cuda" else (2048, torch.float32)
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    sync(device)
    reps = 10 if device.type == "cuda" else 3
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    sync(device)
    return 2 * n**3 * reps / (time.perf_counter() - t0)


def stdlib_text(limit: int = 2_000_000) -> list[str]:
    texts, size = [], 0
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        texts.append(text)
        size += len(text)
        if size >= limit:
            break
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--batch", type=int, default=None, help="training batch (default: the preset's)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--samples", type=int, default=64, help="outputs per sampling batch")
    parser.add_argument("--seq-len", type=int, default=256, help="tokens per sampled output")
    parser.add_argument("--cudnn-attention", action="store_true", help="let attention use cuDNN's kernel on CUDA")
    args = parser.parse_args()

    device = resolve_device("auto")
    if args.cudnn_attention:
        cuda_attention(cudnn=True)
    cfg = load_preset(args.preset, "lm")
    tokenizer = train_tokenizer(stdlib_text(), cfg["vocab_size"], cfg["block_size"])
    eot = tokenizer.convert_tokens_to_ids(EOT)
    model = build_model(cfg, len(tokenizer), eot, seed=0).to(device)
    name = (f"{torch.cuda.get_device_name()}, cuDNN attention {'on' if args.cudnn_attention else 'off'}"
            if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads")
    n_params = sum(p.numel() for p in model.parameters()) - model.transformer.wpe.weight.numel()
    L, H, T = cfg["n_layer"], cfg["n_embd"], cfg["block_size"]
    flops_per_token = 6 * n_params + 12 * L * H * T
    peak = matmul_rate(device)
    print(f"{args.preset} GPT-2: {n_params / 1e6:.1f} M parameters, {L} layers, {H} wide, {T} positions, "
          f"vocab {len(tokenizer)}; {name}; torch {torch.__version__}")
    print(f"matrix-product rate of this device (the MFU baseline): {peak / 1e12:.1f} TFLOP/s")

    batch = args.batch or cfg["batch_size"]
    optim, sched = build_optimizer(model, cfg, args.steps + 3)
    x = torch.randint(0, len(tokenizer), (batch, T), device=device)
    model.train()

    def step() -> None:
        with autocast(device):
            loss = model(input_ids=x, labels=x).loss
        optim.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["grad_clip"])
        optim.step()
        sched.step()

    for _ in range(3):
        step()
    sync(device)
    t0 = time.perf_counter()
    for _ in range(args.steps):
        step()
    sync(device)
    seconds = time.perf_counter() - t0
    tokens_s = batch * T * args.steps / seconds
    mfu = tokens_s * flops_per_token / peak
    print(f"training: batch {batch} x {T} tokens, {args.steps} steps in {seconds:.2f} s: "
          f"{tokens_s:,.0f} tokens/s, {tokens_s * flops_per_token / 1e12:.1f} TFLOP/s, MFU {mfu:.1%}")

    model.eval()
    start = prompt_ids(tokenizer, None, model)
    rates = {}
    for count in (1, args.samples):
        sample_batch(model, tokenizer, start, count, 8, 40, 1.0, seed=0)  # warm-up
        sync(device)
        t0 = time.perf_counter()
        rows = sample_batch(model, tokenizer, start, count, args.seq_len, 40, 1.0, seed=1)
        sync(device)
        rates[count] = sum(n for _, n in rows) / (time.perf_counter() - t0)
        print(f"sampling: {count} outputs x {args.seq_len} tokens (top-k 40, KV cache): {rates[count]:,.0f} tokens/s")
    print(f"batch of {args.samples} against a batch of 1: {rates[args.samples] / rates[1]:.1f}x")


if __name__ == "__main__":
    main()
