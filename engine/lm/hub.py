"""Causal language models by Hugging Face hub id or local directory, through one and the
same ``from_pretrained`` call; :func:`check_model` is the light check made before a job is
queued (it imports neither torch nor transformers). ``trust_remote_code`` is off unless
the user asks for it."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

from engine.errors import InputError
from engine.formats import load_json, parse_json, show
from engine.runtime import model_dtype

HUB_TIMEOUT_S = 5.0


def _offline() -> bool:
    """Whether the user asked Hugging Face libraries not to use the network (read now)."""
    return any(
        os.environ.get(var, "").strip().upper() in {"1", "ON", "YES", "TRUE"}
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def _unavailable(name: str) -> str:
    return f"model {name!r} is neither a directory nor a model available offline; downloads need network access"


def _not_on_hub(name: str) -> str:
    return f"model {name!r} is neither a directory nor a model on the Hugging Face Hub"


_HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)?")


def _looks_like_hub_id(name: str) -> bool:
    return bool(_HUB_ID.fullmatch(name)) and "--" not in name and ".." not in name and len(name) <= 96


WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")


def _check_directory(path: Path) -> None:
    """A local model: its ``config.json`` read (not its weights) and a weights file present,
    so that a broken model is refused before anything is queued."""
    if not (path / "config.json").is_file():
        raise InputError("not a model directory (it has no config.json)", path)
    config, _, data = load_json(path / "config.json", "model config")
    if not isinstance(data, dict) or not isinstance(data.get("model_type"), str):
        raise InputError('not a transformers model config (no "model_type")', config, 1)
    if not any((path / name).is_file() for name in WEIGHT_FILES):
        raise InputError(f"no weights in the model directory ({' or '.join(WEIGHT_FILES[::2])})", path)
    for key in CONTEXT_KEYS:
        value = data.get(key)
        if key in data and not (type(value) is int and 0 < value <= MAX_CONTEXT):
            raise InputError(f"{key} must be a whole number from 1 to {MAX_CONTEXT:,}, not {show(json.dumps(value))}", config, 1)
    if (path / "model.safetensors").is_file():
        _check_safetensors(path / "model.safetensors")
    elif (path / "pytorch_model.bin").is_file() and (path / "pytorch_model.bin").stat().st_size == 0:
        raise InputError("is empty: no weights", path / "pytorch_model.bin")


def _check_safetensors(path: Path) -> None:
    """A safetensors file's header read (its first 8 bytes give the length of a JSON object
    that follows, whose tensors' ``data_offsets`` end where the file does): an empty, cut
    or foreign file is refused before a job loads it, without reading the weights."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
            size = int.from_bytes(head, "little") if len(head) == 8 else -1
            total = path.stat().st_size
            header = fh.read(size) if 0 < size <= min(total - 8, 100 << 20) else b""
        table = parse_json(header.decode("utf-8")) if header else None
        ends = [entry["data_offsets"][1] for key, entry in table.items() if key != "__metadata__"] \
            if isinstance(table, dict) else None
        ok = ends is not None and 8 + size + max(ends, default=0) == total
    except (ValueError, UnicodeDecodeError, TypeError, KeyError, IndexError, AttributeError):
        ok = False
    if not ok:
        raise InputError("is not a safetensors file (empty, cut short, or another format)", path)


def check_model(name_or_path: str) -> None:
    """Refuse, with one line, a model that :func:`load_causal_lm` could not load.

    Light: imports huggingface_hub only. A directory must hold ``config.json``; anything
    else must be a hub id found in the local cache, or, when the network may be used
    (``HF_HUB_OFFLINE`` unset) and the hub answers within a few seconds, on the hub.
    """
    name = str(name_or_path)
    path = Path(name).expanduser()
    if path.is_dir():
        _check_directory(path)
        return
    if path.exists():
        raise InputError("not a model directory", path)
    if not _looks_like_hub_id(name):
        raise InputError("no such model directory", path)
    from huggingface_hub import try_to_load_from_cache

    try:
        cached = try_to_load_from_cache(name, "config.json")
    except Exception:  # an id the hub library refuses: treated as not cached
        cached = None
    if isinstance(cached, str):
        return
    if not _offline():
        reachable, exists = _hub_lookup(name)
        if exists:
            return
        if reachable:
            raise InputError(_not_on_hub(name))
    raise InputError(_unavailable(name))


def _hub_lookup(name: str) -> tuple[bool, bool]:
    """(hub reachable, model exists there), asking the hub with a short timeout."""
    from huggingface_hub import model_info
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    try:
        model_info(name, timeout=HUB_TIMEOUT_S)
    except GatedRepoError:
        return True, True  # it exists; whether the user may download it shows at load time
    except RepositoryNotFoundError:
        return True, False
    except Exception:
        return False, False
    return True, True


def quiet_transformers() -> None:
    """No progress bars or advice from transformers in a worker's log or a user's terminal."""
    import transformers

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()


def load_causal_lm(name_or_path: str, device, trust_remote_code: bool = False, dtype=None):
    """``(model, tokenizer)`` from a hub id or a local directory, in eval mode on ``device``.

    Both kinds of name go through the same ``from_pretrained`` calls (:func:`from_pretrained`).
    """
    import torch

    device = torch.device(device)
    tokenizer = load_tokenizer(name_or_path, trust_remote_code)
    model = from_pretrained("AutoModelForCausalLM", name_or_path, trust_remote_code,
                            dtype=model_dtype(device) if dtype is None else dtype)
    model.to(device)
    model.eval()
    return model, tokenizer


def load_tokenizer(name_or_path: str, trust_remote_code: bool = False):
    """The tokenizer of a hub id or a local directory (:func:`from_pretrained`)."""
    return from_pretrained("AutoTokenizer", name_or_path, trust_remote_code)


def load_sequence_classifier(name_or_path: str, num_labels: int, trust_remote_code: bool = False):
    """An encoder with a freshly initialised ``num_labels``-way classification head
    (``AutoModelForSequenceClassification``: CodeBERT's code search), in float32 for
    training; the head's initial weights come from torch's generator."""
    import torch

    return from_pretrained("AutoModelForSequenceClassification", name_or_path, trust_remote_code,
                           num_labels=num_labels, dtype=torch.float32)


def from_pretrained(auto_class: str, name_or_path: str, trust_remote_code: bool = False, **kwargs):
    """``transformers.<auto_class>.from_pretrained`` of a hub id or a local directory, the
    one place byrote loads pre-trained parts. Under ``HF_HUB_OFFLINE=1`` nothing is
    downloaded; ``trust_remote_code`` is passed through (False unless the user asked for
    it); what cannot be loaded is one :class:`InputError` line."""
    import transformers

    quiet_transformers()
    name = str(name_or_path)
    path = Path(name).expanduser()
    if path.is_dir():
        _check_directory(path)
    source = str(path) if path.is_dir() else name
    kwargs["trust_remote_code"] = bool(trust_remote_code)
    if _offline():  # read now: the hub library reads it once, at its import
        kwargs["local_files_only"] = True
    try:
        return getattr(transformers, auto_class).from_pretrained(source, **kwargs)
    except OSError as exc:
        if path.is_dir():
            raise InputError(f"cannot load the model: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                             path) from None
        if "not a valid model identifier" in str(exc):
            raise InputError(_not_on_hub(name)) from None
        raise InputError(_unavailable(name)) from None
    except ValueError as exc:
        if "trust_remote_code" in str(exc):
            raise InputError(f"model {name!r} needs to run code from its own repository; "
                             "allow that only for a model you trust (trust_remote_code)") from None
        if path.is_dir():
            raise InputError(f"cannot load the model: {str(exc).splitlines()[0]}", path) from None
        raise


CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "n_ctx", "seq_length")
MAX_CONTEXT = 1 << 24  # tokens: more than any model's context, a slip of an edited config beyond


def config_context_length(config: dict) -> int | None:
    """The longest sequence a model takes, where its config (``config.json``) says so."""
    for key in CONTEXT_KEYS:
        value = config.get(key)
        if isinstance(value, int) and value > 0:
            return value
    return None


def context_length(model) -> int | None:
    """The context length of a loaded model, or of a local model directory (None if unknown)."""
    if not isinstance(model, (str, Path)):
        return config_context_length(model.config.to_dict())
    try:
        return config_context_length(parse_json((Path(model) / "config.json").read_text(encoding="utf-8")))
    except (OSError, ValueError, AttributeError):
        return None
