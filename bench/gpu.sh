#!/usr/bin/env bash
# The GPU checks in one go, for a machine with CUDA and PyTorch but not this project's
# other packages: the GPU tests (tests/test_gpu.py) and the speed benchmarks (bench/lm.py:
# training tokens/s and MFU, sampling tokens/s; bench/train.py: the study's models of every
# task), the first two benchmarks also with cuDNN attention allowed, to compare. Up to its
# last two lines it took 4 minutes on an H200; the code-search and code-to-text lines
# (a codebert-base-sized encoder) have not run on a GPU yet.
# Wheels of the missing pure packages may be put in .whl/ beforehand (pip download).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 PYTHONPATH="$PWD"
if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        && export PYTHONPATH="/tmp/site:$PWD"
fi
nvidia-smi -L
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"
timeout 200 python3 -m pytest -q -p no:cacheprovider --noconftest -rs tests/test_gpu.py
for flag in "" --cudnn-attention; do
    timeout 120 python3 bench/lm.py --preset small --steps 20 --samples 64 --seq-len 256 $flag
    timeout 120 python3 bench/train.py --limit 400 $flag
done
timeout 150 python3 bench/train.py --limit 1500 --preset paper --devices cuda
timeout 150 python3 bench/train.py --task methodname
timeout 200 python3 bench/train.py --task codesearch --limit 400 --devices cuda
timeout 200 python3 bench/train.py --task codetotext --limit 400 --devices cuda
timeout 150 python3 bench/extractable.py --preset small --windows 512 --batch 64
timeout 150 python3 bench/ranking.py --preset small --outputs 512 --batch 32
