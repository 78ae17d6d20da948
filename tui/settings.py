"""The app's settings that stick, in ``settings.json`` of byrote's config folder
(``$BYROTE_CONFIG``, else ``$XDG_CONFIG_HOME/byrote/``, else ``~/.config/byrote/``):

- ``theme``: the theme last chosen (ctrl+p, "theme"), applied at start;
- ``browser_order``: the memorization browser's last order, ``{"order": "len",
  "reverse": true}``;
- ``panes``: the split between a screen's two panes, moved with ``<`` and ``>``
  (:mod:`tui.panes`), ``{"viewer": 60, "study": 70}``;
- ``keys``: keys remapped by binding id, ``{"dashboard.new_study": "N", "app.quit": "ctrl+q"}``
  (every binding's id is ``<screen>.<action>``, listed by ``?`` beside its key; several keys
  comma-separated).

The app writes the file when the theme, the order or a split changes (atomically); a file that is
not this shape is refused at start, in one line naming it (exit status 2).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from engine.errors import InputError
from engine.formats import BadJSON, parse_json

KNOWN = {"theme": str, "browser_order": dict, "keys": dict, "panes": dict}


def settings_path() -> Path:
    folder = os.environ.get("BYROTE_CONFIG")
    if folder:
        return Path(folder).expanduser() / "settings.json"
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "byrote" / "settings.json"


def load_settings(path: Path | None = None) -> dict:
    """The settings in ``path`` (none when it does not exist), checked: a JSON object of
    known names and types, ``keys`` mapping names to strings."""
    path = path or settings_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the settings: {getattr(exc, 'strerror', None) or exc}", path) from None
    try:
        settings = parse_json(text)
    except BadJSON as exc:
        raise InputError(f"not JSON: {exc.reason}", path, exc.line) from None
    if not isinstance(settings, dict):
        raise InputError("the settings must be a JSON object", path)
    for name, value in settings.items():
        if name not in KNOWN:
            raise InputError(f"unknown setting {name!r} (known: {', '.join(KNOWN)})", path)
        if not isinstance(value, KNOWN[name]):
            raise InputError(f"setting {name!r} must be a {KNOWN[name].__name__}", path)
    keys = settings.get("keys", {})
    if not all(isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in keys.items()):
        raise InputError("setting 'keys' maps binding ids to keys, both strings", path)
    from engine.store.browse import SNIPPET_ORDERS

    order = settings.get("browser_order", {})
    if (set(order) - {"order", "reverse"} or str(order.get("order", "train")) not in SNIPPET_ORDERS
            or not isinstance(order.get("reverse", False), bool)):
        raise InputError(f'setting \'browser_order\' must be {{"order": one of {", ".join(SNIPPET_ORDERS)}, '
                         '"reverse": true or false}', path)
    from tui.panes import check_panes

    wrong = check_panes(settings.get("panes", {}))
    if wrong:
        raise InputError(f"setting 'panes': {wrong}", path)
    return settings


def save_settings(settings: dict, path: Path | None = None) -> None:
    """The settings written atomically (a full or read-only disk is the caller's to say)."""
    from engine.fsutil import atomic_path

    path = path or settings_path()
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(settings, indent=1, sort_keys=True) + "\n", encoding="utf-8")
