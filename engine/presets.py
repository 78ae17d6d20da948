"""Named model and training configurations, one JSON file a task, as plain data.

``assets/presets/<task>.json`` maps a preset name to its settings.

``varmisuse.json``:

- ``paper``: Hellendoorn et al.'s reference configuration, which Rabin et al. §4.2 train
  with ("the default base configurations from Hellendoorn et al.'s public replication
  package"): VHellendoorn/ICLR20-Great config.yml at commit
  b901228a7e18d2daacfcca585b84234056ddc1bd, Adam and a global gradient-norm clip of 0.25
  from its running/train.py (commit abd0fa65431613e175fbf6c2cb8fbd011450de8c), and the
  14,280 BPE sub-tokens plus padding of its README (vocab_size 14,281). With these
  values the three models have exactly the parameter counts of Rabin et al. Table 1.
- ``quick``: a small configuration that trains a few thousand functions per epoch in
  seconds on a laptop CPU, for trying the study end to end.

``methodname.json``: see :mod:`engine.models.code2vec` (``paper`` = code2vec's published
sizes, ``quick`` = small enough to memorize a Java-Top10-sized set on a CPU).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from engine.errors import InputError

PRESETS_DIR = Path(__file__).resolve().parents[1] / "assets" / "presets"
PRESETS_PATH = PRESETS_DIR / "varmisuse.json"  # the VarMisuse presets (kept for callers)


def presets_path(task: str = "varmisuse") -> Path:
    """``assets/presets/<task>.json``."""
    if not re.fullmatch(r"[a-z0-9_]+", str(task)):
        raise InputError(f"no presets for task {task!r}")
    path = PRESETS_DIR / f"{task}.json"
    if not path.is_file():
        raise InputError(f"no presets for task {task!r}")
    return path


def _presets(task: str) -> dict:
    return json.loads(presets_path(task).read_text(encoding="utf-8"))


def load_preset(name: str, task: str = "varmisuse") -> dict:
    """A fresh copy of the preset ``name`` of ``task``."""
    presets = _presets(task)
    if name not in presets:
        raise InputError(f"unknown preset {name!r} (choose from {', '.join(presets)})")
    return presets[name]
