"""Where and how jobs compute: the device, bf16 autocast on CUDA, per-(seed, epoch)
random streams (so that a resumed run ends with the metrics of one never interrupted),
and the child Pythons that run them."""
from __future__ import annotations

import contextlib
import os
import site
import sys
from pathlib import Path

import numpy as np

from engine.errors import InputError

DEVICES = ("auto", "cpu", "cuda")


def check_device(device: str, probe: bool = True) -> str:
    """Refuse an unknown device name, or (with ``probe``) ``cuda`` where no GPU is seen;
    no torch is imported."""
    if device not in DEVICES:
        raise InputError(f"unknown device {device!r} (choose from {', '.join(DEVICES)})", field="device")
    if probe and device == "cuda" and not cuda_present():
        raise _no_cuda()
    return device


def _no_cuda() -> InputError:
    return InputError("--device cuda asked for, but no CUDA device is available", field="device")


def cuda_present() -> bool:
    """Whether torch will find a GPU, asked without importing it (:func:`cuda_device_count`)."""
    return cuda_device_count() > 0


def cuda_device_count() -> int:
    """The GPUs torch will find, counted without importing it: the CUDA driver (or, for
    ROCm builds, HIP) is loaded and counts the devices this process may use, honouring
    ``CUDA_VISIBLE_DEVICES``."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return 0
    import ctypes

    for library, init, count_devices in (("libcuda.so.1", "cuInit", "cuDeviceGetCount"),
                                         ("libamdhip64.so", "hipInit", "hipGetDeviceCount")):
        try:
            lib = ctypes.CDLL(library)
        except OSError:
            continue
        count = ctypes.c_int(0)
        if getattr(lib, init)(0) == 0 and getattr(lib, count_devices)(ctypes.byref(count)) == 0 and count.value > 0:
            return int(count.value)
    return 0


def device_memory(device: str) -> tuple[int, str] | None:
    """``(bytes, whose)`` of the memory a job on ``device`` trains in, asked without torch:
    the first visible GPU's (CUDA driver) for ``cuda``, and for ``auto`` where one is seen;
    else this machine's RAM. None where it cannot be told (a ROCm GPU)."""
    if device != "cpu" and cuda_present():
        import ctypes

        try:
            lib = ctypes.CDLL("libcuda.so.1")
        except OSError:
            return None
        handle, total = ctypes.c_int(0), ctypes.c_size_t(0)
        if lib.cuInit(0) == 0 and lib.cuDeviceGet(ctypes.byref(handle), 0) == 0 \
                and lib.cuDeviceTotalMem_v2(ctypes.byref(total), handle) == 0 and total.value:
            return int(total.value), "the GPU's"
        return None
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"), "this machine's"
    except (ValueError, OSError, AttributeError):
        return None


def resolve_device(device: str):
    """The torch device for ``auto``, ``cpu`` or ``cuda``. On CUDA, torch is asked for its
    deterministic kernels (scatter and index_add use atomics otherwise) without the NaN
    fill of every new tensor that comes with them (no kernel reads memory it has not
    written; on an H200 the fill cost 1.5x in sampling and 1.7x in training), and
    attention does not use cuDNN's kernel (see :func:`cuda_attention`)."""
    import torch

    check_device(device, probe=False)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise _no_cuda()
    resolved = torch.device(device)
    if resolved.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.utils.deterministic.fill_uninitialized_memory = False
        cuda_attention(cudnn=False)
    return resolved


def cpu_threads() -> int:
    """The intra-op threads torch would use on this machine's CPU (``OMP_NUM_THREADS``
    where set, else the CPUs this process may run on); no torch is imported. A study keeps
    the number it was created with (:func:`use_cpu_threads`)."""
    given = os.environ.get("OMP_NUM_THREADS", "")
    if given.isdigit() and int(given) > 0:
        return int(given)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def use_cpu_threads(device, threads: int | None) -> None:
    """On the CPU, compute with ``threads`` intra-op threads (a study's ``cpu_threads``).
    Sums split over threads round differently with their number, so a run computes the
    same numbers wherever it runs (a local worker, a Ray task, whose workers default to
    one thread, another machine) only with the number fixed; None leaves torch's own."""
    import torch

    if device.type == "cpu" and threads:
        torch.set_num_threads(int(threads))


def cuda_attention(cudnn: bool) -> None:
    """Allow or forbid cuDNN's fused attention in ``scaled_dot_product_attention``. byrote
    forbids it: cuDNN builds an execution plan for every new shape, and every batch of a
    study (lengths vary) and every decoding step of sampling (the KV cache grows) is a new
    shape; the flash, memory-efficient and math kernels need no plan (bench/train.py and
    bench/lm.py measure both with ``--cudnn-attention``)."""
    import torch

    torch.backends.cuda.enable_cudnn_sdp(cudnn)


def autocast(device):
    """bf16 autocast on CUDA; nothing on a CPU (float32 throughout)."""
    import torch

    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def model_dtype(device):
    """bf16 on CUDA (fp16 where bf16 is unsupported), float32 on a CPU."""
    import torch

    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of one epoch's sample order and dropout, from (seed, epoch) alone."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def child_python(module: str, *args: str) -> tuple[list[str], dict[str, str]]:
    """The command and environment of a child Python running ``python -m module args``:
    with ``-P`` (Python 3.11 and later) so that no module of the current folder shadows
    one of the program's, and with this program's own folder on its path when it is not
    installed in site-packages, so that the child runs the same code as its parent."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[1])
    installed = {str(Path(p).resolve()) for p in [*site.getsitepackages(), site.getusersitepackages()]}
    if root not in installed:
        env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))])
    safe = ["-P"] if sys.version_info >= (3, 11) else []
    return [sys.executable, *safe, "-m", module, *args], env
