"""What the commands write to the terminal, under the one rule for untrusted text
(:mod:`engine.untrusted`): names, paths, outputs and error messages never reach the
terminal raw and are never read as markup.

- :func:`say` prints a plain line (``print``'s signature), its control characters escaped;
- :func:`console` is the rich console of every table and styled line: markup, highlighting
  and emoji codes off, and every piece of text it renders escaped as a last guard (a
  table's columns are sized before that, so cells made with :func:`cell` keep their width);
- :func:`cell` is a table cell or a piece of a styled line: ``Text``, escaped.
"""
from __future__ import annotations

import sys

from engine.untrusted import is_visible, visible


def say(*values: object, sep: str = " ", file=None, newlines: bool = False) -> None:
    """``print`` for the commands: the text with every control character shown as an escape,
    a line break too (one line whatever a name in it holds), unless ``newlines`` (a text of
    several lines of byrote's own: a job log's traceback, a report)."""
    print(visible(sep.join(map(str, values)), newlines=newlines), file=file or sys.stdout)


def console(stderr: bool = False):
    """A rich console that reads no markup and writes no raw control character."""
    from rich.console import Console
    from rich.segment import Segment

    class SafeConsole(Console):
        def render(self, renderable, options=None):
            for segment in super().render(renderable, options):
                text = segment.text
                if segment.control is None and text and not is_visible(text):
                    segment = Segment(visible(text, newlines=True), segment.style)
                yield segment

        def on_broken_pipe(self) -> None:
            """The reader stopped early (``| head``): the command line's exit, as for a
            plain print (rich's own exits with 1)."""
            self.quiet = True
            raise BrokenPipeError

    return SafeConsole(markup=False, highlight=False, emoji=False, stderr=stderr)


def cell(value: object, style: str = "", justify: str | None = None):
    """Untrusted text as a rich ``Text``: escaped, never markup."""
    from rich.text import Text

    return Text(visible(value), style=style, justify=justify)
