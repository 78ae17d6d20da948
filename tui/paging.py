"""The rows the memorization browser holds: a window of consecutive pages of a sorted,
filtered list too long to load, and where that window lies in the list."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Window:
    """The rows loaded: at most ``capacity`` consecutive rows of the sorted, filtered list,
    and where they lie in it (``above``/``below``: rows before/after them, when known)."""

    page_size: int
    capacity: int
    rows: list[dict] = field(default_factory=list)
    at_start: bool = True
    at_end: bool = True
    above: int | None = 0
    below: int | None = 0

    def first(self, page: list[dict]) -> None:
        self.rows, self.at_start, self.at_end = list(page), True, len(page) < self.page_size
        self.above, self.below = 0, (0 if self.at_end else None)

    def last(self, page: list[dict]) -> None:
        self.rows, self.at_end, self.at_start = list(page), True, len(page) < self.page_size
        self.below, self.above = 0, (0 if self.at_start else None)

    def append(self, page: list[dict]) -> int:
        """Add the page below; the number of rows dropped at the top."""
        self.rows += page
        if len(page) < self.page_size:
            self.at_end, self.below = True, 0
        elif self.below is not None:
            self.below -= len(page)
        drop = max(0, len(self.rows) - self.capacity)
        if drop:
            del self.rows[:drop]
            self.at_start = False
            self.above = None if self.above is None else self.above + drop
        return drop

    def prepend(self, page: list[dict]) -> int:
        """Add the page above; the number of rows added at the top."""
        self.rows[:0] = page
        if len(page) < self.page_size:
            self.at_start, self.above = True, 0
        elif self.above is not None:
            self.above -= len(page)
        drop = max(0, len(self.rows) - self.capacity)
        if drop:
            del self.rows[-drop:]
            self.at_end = False
            self.below = None if self.below is None else self.below + drop
        return len(page)

    def span(self, total: int | None) -> tuple[int, int] | None:
        """1-based positions of the first and last row loaded, when known."""
        if not self.rows:
            return None
        if self.above is not None:
            return self.above + 1, self.above + len(self.rows)
        if self.below is not None and total is not None:
            return total - self.below - len(self.rows) + 1, total - self.below
        return None
