"""The command palette (ctrl+p): every key of the current screen, and every study and scan by name."""
from __future__ import annotations

import asyncio
from functools import partial

from rich.text import Text
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

from engine.untrusted import visible


def literal_markup(text: str) -> str:
    """``text`` as Textual markup that reads back as the same characters: every ``[``
    escaped (the palette reads a hit's help as markup; ``textual.markup.escape`` leaves
    ``[ @click=...]`` and ``[$var]`` live)."""
    return visible(text).replace("[", "\\[")


def highlighted(matcher, shown: str) -> Content:
    """``shown`` as plain content, the characters the fuzzy search matched styled
    (``Matcher.highlight`` would read ``shown`` as markup)."""
    content = Content(shown)
    score, offsets = matcher.fuzzy_search.match(matcher.query, shown)
    if score:
        for offset in offsets:
            if not shown[offset].isspace():
                content = content.stylize(matcher.match_style, offset, offset + 1)
    return content


class ByroteCommands(Provider):
    """Commands: the app's own (open a study or a scan, launch forms) and the current
    screen's bindings, so every action that has a key is also a command."""

    async def startup(self) -> None:
        self.items = await asyncio.to_thread(self.app.palette_items)
        screen = self.screen
        title = getattr(screen, "HELP_TITLE", None) or type(screen).__name__.removesuffix("Screen")
        actions = {}
        for active in screen.active_bindings.values():
            binding = active.binding
            if binding.description and binding.action not in ("command_palette",):
                # run on the node that declared it (a table's cursor keys, the screen's, the app's)
                actions.setdefault(binding.description,
                                   (binding.action, active.node, self.app.get_key_display(binding)))
        for text, (action, node, key) in actions.items():
            self.items.append((f"{title}: {text}", f"key {key}", partial(self.app.run_action, action, node)))

    async def discover(self) -> Hits:
        for text, help, callback in self.items:  # names are shown, never read as markup
            yield DiscoveryHit(Text(visible(text)), callback, text=visible(text), help=literal_markup(help))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, help, callback in self.items:
            shown = visible(text)
            score = matcher.match(shown)
            if score > 0:
                yield Hit(score, highlighted(matcher, shown), callback, text=shown, help=literal_markup(help))

