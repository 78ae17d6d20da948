"""Presets: named configurations of each job kind, as plain data, and ``--set`` checks.

``assets/presets/<kind>.json`` (package data) maps a preset name to its settings, for
the kinds ``varmisuse``, ``methodname``, ``code2seq`` (the method-name task with code2seq),
``codesearch``, ``codetotext`` (the noise study's tasks) and ``lm`` (the language model the demo trains). ``paper`` is the configuration the study trained with
(Rabin et al. §4.2: Hellendoorn et al.'s replication package, VHellendoorn/ICLR20-Great
config.yml, for VarMisuse; code2vec's published sizes for method names); ``quick`` trains
in seconds on a laptop CPU. The README lists where each value comes from.
"""
from __future__ import annotations

import json
import math
from importlib import resources

from engine.data.varmisuse import NUM_EDGE_TYPES
from engine.errors import InputError
from engine.formats import BadJSON, parse_json, show

KINDS = ("varmisuse", "methodname", "code2seq", "codesearch", "codetotext", "lm")
# positive by default, but 0 means something: no CSR measurement, whole epochs, the whole held-out set,
# no dropout, no warm-up (the paper presets' own warmup_steps)
ZERO_ALLOWED = frozenset({"csr_samples", "eval_every", "heldout_samples", "dropout", "rnn_dropout", "warmup_steps",
                          "warmup_fraction"})

ALL = 10**12
"""A count of samples that means every one (``csr_samples``, ``heldout_samples``...): the
largest a setting may hold, ``--csr-samples all``."""
_SIZE, _LAYERS, _VOCAB, _LENGTH, _COUNT = (1, 65_536), (1, 256), (1, 20_000_000), (1, 1 << 20), (0, ALL)
BOUNDS: dict[str, tuple[float, float]] = {
    **dict.fromkeys(("dropout", "rnn_dropout"), (0.0, 0.99)),
    **dict.fromkeys(("lr", "min_lr"), (0.0, 10.0)), "lr_decay": (0.0, 1.0), "weight_decay": (0.0, 10.0),
    "grad_clip": (0.0, 1e6), "capacity": (1e-3, 64.0),
    **dict.fromkeys(("hidden_dim", "ff_dim", "code_dim", "decoder_dim", "embed_dim", "rnn_dim", "n_embd",
                     "path_embed_dim", "token_embed_dim"), _SIZE),
    **dict.fromkeys(("num_layers", "n_layer", "decoder_layers", "num_heads", "n_head"), _LAYERS),
    "num_edge_types": (NUM_EDGE_TYPES, 1024),
    **dict.fromkeys(("vocab_size", "token_vocab_size", "path_vocab_size", "target_vocab_size",
                     "subtoken_vocab_size"), _VOCAB),
    "batch_size": (1, 65_536), "batch_tokens": (1, 10**8), "beam_size": (1, 1000),
    **dict.fromkeys(("block_size", "max_len", "max_source_len", "max_target_len", "max_contexts"), _LENGTH),
    **dict.fromkeys(("max_path_length", "max_name_parts", "max_target_parts", "max_subtokens"), (1, 1000)),
    "epochs": (1, 100_000), "warmup_steps": (0, 10**9), "warmup_fraction": (0.0, 1.0),
    **dict.fromkeys(("eval_every", "heldout_samples", "csr_samples"), _COUNT),
    "ray_gpus": (0.01, 64.0), "cpu_threads": (1, 1024),
}
"""The range of every numeric setting a ``--set`` may give (both ends allowed): wide
enough for any model the study's tasks call for, narrow enough that a slip of the keyboard
(``hidden_dim=10**7``, ``n_layer=10**9``, ``num_edge_types=1``) is refused before it is
queued, not found out by the worker hours later or by the machine's memory."""
EOT = "<|endoftext|>"
OPTIMIZERS = ("adam", "nesterov")  # engine.study.build_training  # the language model's one special token


PLACEMENT = {"ray_gpus": 1.0, "cpu_threads": 1}
"""Settings of where and how a study's runs compute, open to every study's preset:
``ray_gpus``, the GPUs (a fraction shares one) each run's Ray task asks for under
``byrote worker --executor ray`` (engine.ray_executor); ``cpu_threads``, torch's intra-op
threads on the CPU, by default the creating machine's (engine.runtime.cpu_threads), kept so
that a CPU run computes the same numbers on any executor. Not part of any preset's file."""


def preset_kind(task: str, model: str | None = None) -> str:
    """The presets a study of ``task`` with ``model`` takes: code2seq's own on the
    method-name task, else the task's."""
    return "code2seq" if task == "methodname" and model == "code2seq" else task


def presets(kind: str) -> dict[str, dict]:
    """Every preset of ``kind``: name -> settings."""
    if kind not in KINDS:
        raise InputError(f"no presets for task {kind!r}")
    path = resources.files("assets") / "presets" / f"{kind}.json"
    return json.loads(path.read_text(encoding="utf-8"))


def preset_names(kind: str) -> tuple[str, ...]:
    return tuple(presets(kind))


def load_preset(name: str, kind: str = "varmisuse", settings: dict | None = None) -> dict:
    """A fresh copy of the preset ``name`` of ``kind`` with ``settings`` (``--set``)
    applied and the result checked."""
    known = presets(kind)
    if name not in known:
        what = "language-model preset" if kind == "lm" else "preset"
        raise InputError(f"unknown {what} {name!r} (choose from {', '.join(known)})", field="preset")
    cfg = dict(known[name])
    allowed = cfg if kind == "lm" else {**PLACEMENT, **cfg}  # an LM trains in the worker's process
    cfg.update(check_settings(allowed, dict(settings or {}), name))
    _CHECKS[kind](cfg)
    return cfg


def parse_settings(pairs: list[str] | None) -> dict:
    """``["lr=3e-4", "ggnn_time_steps=[2,2]"]`` -> ``{"lr": 0.0003, "ggnn_time_steps": [2, 2]}``.

    Values are read as JSON, else kept as text.
    """
    settings = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set takes KEY=VALUE, not {pair!r}", field="set")
        try:
            settings[key.strip()] = parse_json(value)
        except BadJSON:  # text, or JSON too deep or too long to be a setting: checked as text
            settings[key.strip()] = value
    return settings


def check_settings(preset_cfg: dict, overrides: dict, preset: str) -> dict:
    """Check ``--set`` overrides against the preset: known keys, the preset's types, and the
    sign of its numbers (a positive size stays positive, a zero rate stays non-negative)."""
    for key, value in overrides.items():
        if key not in preset_cfg:
            raise InputError(f"unknown setting {key!r} for preset {preset!r} (known: {', '.join(sorted(preset_cfg))})",
                             field="set")
        default = preset_cfg[key]
        if isinstance(default, bool) or isinstance(value, bool):
            ok = isinstance(value, bool) and isinstance(default, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int)
        elif isinstance(default, float):
            ok = isinstance(value, (int, float)) and math.isfinite(value)
        else:
            ok = isinstance(value, type(default))
        if not ok:
            raise InputError(f"setting {key} must be a {type(default).__name__} like {default!r}, not "
                             f"{show(value) if isinstance(value, str) else repr(value)[:60]}", field="set")
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            if (default > 0 and value <= 0 and key not in ZERO_ALLOWED) or value < 0:
                raise InputError(f"setting {key} must be {'positive' if default > 0 else 'non-negative'}, "
                                 f"not {value!r}", field="set")
            low, high = BOUNDS.get(key, (-math.inf, math.inf))
            if not low <= value <= high:
                raise InputError(f"setting {key} must be from {low:,} to {high:,}, not {value:,}", field="set")
    return dict(overrides)


CHOICES: dict[str, dict[str, tuple[str, ...]]] = {
    "varmisuse": {"score": ("target", "predicted"), "objective": ("study", "sum"), "train_eval": ("epoch", "pass"),
                  "port": ("study", "torch")},
    "methodname": {"score": ("top10", "full"), "train_eval": ("epoch", "pass"), "csr_renaming": ("names", "scope")},
    "code2seq": {"score": ("top10", "mean", "first", "sequence"), "decoding": ("study", "fitted"),
                 "train_eval": ("epoch", "pass"),
                 "csr_renaming": ("names", "scope")},
    "codesearch": {"train_eval": ("epoch", "pass"), "lr_schedule": ("linear", "constant")},
    "codetotext": {"train_eval": ("epoch", "pass"), "lr_schedule": ("linear", "constant")},
}
"""The definitions a study chooses, per task: the first of each is the study's (the code
that made the published curves), the default; the README says what each means."""


CODE2SEQ_BEFORE = {"score": "mean", "decoding": "fitted"}
"""What a code2seq study made without these settings computes (engine.tasks.code2seq)."""

VARMISUSE_BEFORE = {"port": "torch"}
"""What a VarMisuse study made without these settings computes (engine.models)."""


def axis_unit(cfg: dict) -> str:
    """What a study's x-axis counts: ``step`` (``eval_every`` training samples, the study's
    VarMisuse protocol) or ``epoch``."""
    return "step" if int(cfg.get("eval_every", 0) or 0) else "epoch"


def departures(task: str, cfg: dict) -> list[str]:
    """``KEY=VALUE`` for each definition (``task``: the study's :func:`preset_kind`) of a study's settings that is not the study's
    (the first of :data:`CHOICES`), and the half-up noise counts of a method-name study
    made before byrote counted as the study did, the CSR candidates renamed by scope of
    one made before ``csr_renaming``, the outputs of a code2seq study made before
    ``decoding`` (:data:`CODE2SEQ_BEFORE`) and the model of a VarMisuse study made before
    ``port`` (:data:`VARMISUSE_BEFORE`); empty when it computes what the study did."""
    found = [f"{key}={cfg[key]}" for key, allowed in CHOICES.get(task, {}).items()
             if key in cfg and cfg[key] != allowed[0]]
    if cfg.get("noise_rounding", "floor") != "floor":
        found.append(f"noise_rounding={cfg['noise_rounding']}")
    if task in ("methodname", "code2seq") and cfg.get("csr_samples") and "csr_renaming" not in cfg:
        found.append("csr_renaming=scope")  # made before the setting: renamed by scope
    before = {"code2seq": CODE2SEQ_BEFORE, "varmisuse": VARMISUSE_BEFORE}.get(task, {})
    found += [f"{key}={value}" for key, value in before.items() if key not in cfg]  # made before the setting
    return found


def definitions_label(task: str, cfg: dict) -> str:
    """"the study's definitions", or the departures from them."""
    found = departures(task, cfg)
    return "the study's definitions" if not found else "definitions " + ", ".join(found)


def _check_choices(kind: str, cfg: dict) -> None:
    for key, allowed in CHOICES[kind].items():
        if key in cfg and cfg[key] not in allowed:
            raise InputError(f"setting {key} must be one of {', '.join(allowed)}, not {cfg[key]!r}", field="set")


def _check_dropout(cfg: dict) -> None:
    if not 0 <= cfg["dropout"] < 1:
        raise InputError(f"dropout must be in [0, 1), not {cfg['dropout']}", field="set")


def _whole(value, least: int, most: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and least <= value <= most


def ggnn_layers_problem(cfg: dict) -> str | None:
    """What is wrong with a GGNN's layers (None when nothing): ``ggnn_time_steps``, a list
    of 1 to 256 layers of 1 to 1,000 message-passing steps each; ``ggnn_residuals``, layer
    -> the earlier layers (or itself) whose states it also reads, ``{"2": [0]}``."""
    steps, residuals = cfg.get("ggnn_time_steps", [1]), cfg.get("ggnn_residuals", {})
    if not (isinstance(steps, list) and 1 <= len(steps) <= 256 and all(_whole(n, 1, 1000) for n in steps)):
        return f"ggnn_time_steps must be a list of 1 to 256 whole numbers from 1 to 1,000, not {steps!r}"
    if not isinstance(residuals, dict):
        return f"ggnn_residuals must map a layer to a list of layers, not {residuals!r}"
    for key, sources in residuals.items():
        layer = key if _whole(key, 0, 255) else int(key) if isinstance(key, str) and key.isdigit() else -1
        if not (0 <= layer < len(steps) and isinstance(sources, list)
                and all(_whole(i, 0, layer) for i in sources)):
            return f"ggnn_residuals {key!r}: {sources!r} does not fit {len(steps)} layers"
    return None


def _check_varmisuse(cfg: dict) -> None:
    if cfg["hidden_dim"] % cfg["num_heads"]:
        raise InputError(f"hidden_dim {cfg['hidden_dim']} is not a multiple of num_heads {cfg['num_heads']}",
                         field="set")
    problem = ggnn_layers_problem(cfg)
    if problem:
        raise InputError(problem, field="set")
    _check_dropout(cfg)
    _check_choices("varmisuse", cfg)


def _check_methodname(cfg: dict) -> None:
    _check_dropout(cfg)
    _check_choices("methodname", cfg)


def _check_code2seq(cfg: dict) -> None:
    _check_dropout(cfg)
    if not 0 <= cfg["rnn_dropout"] < 1:
        raise InputError(f"rnn_dropout must be in [0, 1), not {cfg['rnn_dropout']}", field="set")
    if cfg["rnn_dim"] % 2:
        raise InputError(f"rnn_dim must be even (two directions), not {cfg['rnn_dim']}", field="set")
    if cfg["optimizer"] not in OPTIMIZERS:
        raise InputError(f"setting optimizer must be one of {', '.join(OPTIMIZERS)}, not {cfg['optimizer']!r}",
                         field="set")
    if not 0 < cfg["lr_decay"] <= 1:
        raise InputError(f"lr_decay must be in (0, 1], not {cfg['lr_decay']}", field="set")
    _check_choices("code2seq", cfg)


def _check_lm(cfg: dict) -> None:
    if cfg["n_embd"] % cfg["n_head"]:
        raise InputError(f"setting n_embd ({cfg['n_embd']}) must be a multiple of n_head ({cfg['n_head']})",
                         field="set")
    if cfg["vocab_size"] < 257:
        raise InputError(f"setting vocab_size must be at least 257 (256 bytes and {EOT}), not {cfg['vocab_size']}",
                         field="set")
    if cfg["block_size"] < 2:
        raise InputError(f"setting block_size must be at least 2, not {cfg['block_size']}", field="set")
    if not cfg["dropout"] < 1.0:
        raise InputError(f"setting dropout must be below 1, not {cfg['dropout']}", field="set")


_CHECKS = {"varmisuse": _check_varmisuse, "methodname": _check_methodname, "code2seq": _check_code2seq,
           "codesearch": lambda cfg: _check_choices("codesearch", cfg),
           "codetotext": lambda cfg: _check_choices("codetotext", cfg), "lm": _check_lm}
