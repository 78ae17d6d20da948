"""The app's settings that stick, in ``settings.json`` of byrote's config folder
(``$BYROTE_CONFIG``, else ``$XDG_CONFIG_HOME/byrote/``, else ``~/.config/byrote/``):

- ``theme``: the theme last chosen (ctrl+p, "theme"), applied at start;
- ``browser_order``: the memorization browser's last order, ``{"order": "len",
  "reverse": true}``;
- ``panes``: the split between a screen's two panes, moved with ``<`` and ``>``
  (:mod:`tui.panes`), ``{"viewer": 60, "study": 70}``;
- ``keys``: keys remapped by binding id, ``{"dashboard.new_study": "N", "app.quit": "ctrl+q"}``
  (every binding's id is ``<screen>.<action>``, listed by ``?`` beside its key; several keys
  comma-separated; an id no binding has, or a key Textual has no name for, is refused).

The app writes the file when the theme, the order or a split changes (atomically); a file that is
not this shape is refused at start, in one line naming it (exit status 2).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from engine.errors import InputError
from engine.formats import line_of, load_json, show

KNOWN = {"theme": str, "browser_order": dict, "keys": dict, "panes": dict}
MODIFIERS = ("shift", "alt", "ctrl", "super", "hyper", "meta")  # as Textual names a key's modifiers


def settings_path() -> Path:
    folder = os.environ.get("BYROTE_CONFIG")
    if folder:
        return Path(folder).expanduser() / "settings.json"
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "byrote" / "settings.json"


def load_settings(path: Path | None = None) -> dict:
    """The settings in ``path`` (none when it does not exist), checked: a JSON object of
    known names and types, no name twice, ``keys`` mapping the ids of the app's bindings
    to key names (:func:`key_problem`)."""
    path = path or settings_path()
    try:
        path.stat()
    except FileNotFoundError:
        return {}
    except OSError:
        pass  # said in one line by the reader
    _, text, settings = load_json(path, "settings file", invalid="not JSON")
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
    known_ids = binding_ids() if keys else set()
    for ident, value in keys.items():
        line = line_of(text, json.dumps(ident))
        if ident not in known_ids:
            raise InputError(f"setting 'keys': no binding has the id {show(ident, 40)} (? lists a screen's ids)",
                             path, line)
        for key in value.split(","):
            if problem := key_problem(key):
                raise InputError(f"setting 'keys': {show(ident, 40)}: {problem}", path, line)
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


def binding_ids() -> set[str]:
    """The id of every binding of byrote's app, screens and widgets that has one: what
    ``keys`` may remap (``?`` lists a screen's)."""
    import importlib
    import pkgutil

    from textual.binding import Binding
    from textual.dom import DOMNode

    import tui

    for module in pkgutil.walk_packages(tui.__path__, "tui."):
        importlib.import_module(module.name)
    ids, classes = set(), [DOMNode]
    while classes:
        cls = classes.pop()
        classes += cls.__subclasses__()
        if cls.__module__.startswith("tui."):
            ids.update(b.id for b in vars(cls).get("BINDINGS", ()) if isinstance(b, Binding) and b.id)
    return ids


def key_problem(key: str) -> str | None:
    """Why ``key`` (one of a binding's comma-separated keys) is not a name Textual gives a
    key, or None: a character (``N``, ``?``, read as Textual reads a keymap), or modifiers
    (:data:`MODIFIERS`) joined by ``+`` before a letter or digit (``ctrl+q``), a
    character's name (``question_mark``) or a named key (``escape``, ``f5``, ``pageup``)."""
    try:  # names private to Textual (pinned in constraints.txt): a release that moves them skips this check
        from textual._keyboard_protocol import FUNCTIONAL_KEYS
        from textual.keys import REPLACED_KEYS, Keys, _character_to_key, key_to_character
    except ImportError:
        return None

    key = key.strip()
    if len(key) == 1:  # as App.set_keymap reads it
        key = _character_to_key(key)
    if key in tuple(Keys):  # ctrl+@ among them
        return None
    *modifiers, base = key.split("+")
    wrong = [m for m in modifiers if m not in MODIFIERS]
    if wrong:
        return f"{show(key, 30)}: {show(wrong[0], 20)} is not a modifier (want {', '.join(MODIFIERS)})"
    if len(base) == 1 and not base.isalnum():
        name = _character_to_key(base)
        return f"{show(key, 30)} is not a key name" + (f" (write {show('+'.join([*modifiers, name]), 40)})"
                                                      if name != base else "")
    if len(base) != 1 and not (
            base in FUNCTIONAL_KEYS.values() or any(k.value.rpartition("+")[2] == base for k in Keys)
            or ((c := key_to_character(REPLACED_KEYS.get(base, base))) is not None and _character_to_key(c) == base)):
        return f"{show(key, 30)} is not a key name"
    return None


def save_settings(settings: dict, path: Path | None = None) -> None:
    """The settings written atomically (a full or read-only disk is the caller's to say)."""
    from engine.fsutil import atomic_path

    path = path or settings_path()
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(settings, indent=1, sort_keys=True) + "\n", encoding="utf-8")
