"""Named model and training configurations for the VarMisuse task, as plain data.

The values live in ``assets/presets/varmisuse.json``:

- ``paper``: Hellendoorn et al.'s reference configuration, which Rabin et al. §4.2 train
  with ("the default base configurations from Hellendoorn et al.'s public replication
  package"): VHellendoorn/ICLR20-Great config.yml at commit
  b901228a7e18d2daacfcca585b84234056ddc1bd, Adam and a global gradient-norm clip of 0.25
  from its running/train.py (commit abd0fa65431613e175fbf6c2cb8fbd011450de8c), and the
  14,280 BPE sub-tokens plus padding of its README (vocab_size 14,281). With these
  values the three models have exactly the parameter counts of Rabin et al. Table 1.
- ``quick``: a small configuration that trains a few thousand functions per epoch in
  seconds on a laptop CPU, for trying the study end to end.
"""
from __future__ import annotations

import json
from pathlib import Path

from engine.errors import InputError

PRESETS_PATH = Path(__file__).resolve().parents[2] / "assets" / "presets" / "varmisuse.json"


def preset_names() -> tuple[str, ...]:
    return tuple(json.loads(PRESETS_PATH.read_text(encoding="utf-8")))


def load_preset(name: str) -> dict:
    """A fresh copy of the preset ``name``."""
    presets = json.loads(PRESETS_PATH.read_text(encoding="utf-8"))
    if name not in presets:
        raise InputError(f"unknown preset {name!r} (choose from {', '.join(presets)})")
    return presets[name]
