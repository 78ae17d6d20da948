"""Pane sizes that stick: ``<`` and ``>`` move the split between a screen's two panes by a
tenth, and the share is kept in the settings file (``panes``, e.g. ``{"viewer": 60}``).

- ``viewer``: the output's pane, as a percentage of the width (of the height when the panes
  are stacked on a narrow terminal);
- ``study``: the plots, as a percentage of the height the plots and the table share.
"""
from __future__ import annotations

from textual.binding import Binding

DEFAULTS = {"viewer": 50, "study": 67}
LOWEST, HIGHEST, STEP = 20, 80, 10


def check_panes(panes: dict) -> str | None:
    """Why ``panes`` (the settings' value) is not a map of known panes to shares, or None."""
    for name, share in panes.items():
        if name not in DEFAULTS:
            return f"no pane {name!r} (known: {', '.join(DEFAULTS)})"
        if not isinstance(share, int) or isinstance(share, bool) or not LOWEST <= share <= HIGHEST:
            return f"pane {name!r} takes a whole percentage from {LOWEST} to {HIGHEST}"
    return None


def moved(share: int, by: int) -> int:
    """``share`` moved by ``by``, kept within the limits."""
    return min(max(share + by, LOWEST), HIGHEST)


def pane_bindings() -> list[Binding]:
    """``<`` and ``>``, listed by ``?`` (not in the footer, which has no room to spare)."""
    return [Binding("less_than_sign", "pane(-10)", "Smaller first pane", show=False),
            Binding("greater_than_sign", "pane(10)", "Larger first pane", show=False)]


class PaneKeys:
    """``<`` and ``>`` on a screen of two panes named :attr:`PANE` (a key of
    :data:`DEFAULTS`); :meth:`size_panes` gives the panes their shares."""

    PANE = ""

    @property
    def pane_share(self) -> int:
        return self.app.settings.get("panes", {}).get(self.PANE, DEFAULTS[self.PANE])

    def size_panes(self, share: int) -> None:
        """Give the first pane ``share`` % and the second the rest: each screen lays out its own."""
        raise NotImplementedError

    def action_pane(self, by: int) -> None:
        share = moved(self.pane_share, by)
        self.app.remember(panes={**self.app.settings.get("panes", {}), self.PANE: share})
        self.size_panes(share)
