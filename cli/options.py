"""What the commands share: a parser that reports a usage mistake in one line (exit
status 2), the value types of the options, the option groups several commands take, and
the register of commands. Imports nothing else of cli/."""
from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable

from engine.formats import SQLITE_INT_MAX as MAX_INT
from engine.untrusted import visible

EXIT_INPUT = 2
EXIT_PIPE = 141  # 128 + SIGPIPE: what a tool killed by a closed pipe exits with


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage mistake in one line, with exit status 2, and refuses
    an empty value (``--corpus ''`` would be the current folder, ``--out ''`` no file)."""

    EMPTY_ALLOWED = frozenset({"prompt", "prefix"})  # refused later with advice of its own; every fingerprint

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {visible(message)}\n")
        raise SystemExit(EXIT_INPUT)

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        namespace, extras = super().parse_known_args(args, namespace)
        for key, value in vars(namespace).items():
            values = value if isinstance(value, list) else [value]
            if key not in self.EMPTY_ALLOWED and any(isinstance(v, str) and not v.strip() for v in values):
                self.error(f"argument {key.replace('_', '-')}: empty")
        return namespace, extras


class Commands:
    """Where each module of cli/ registers its commands: the top level, and groups of
    subcommands (``export``, ``import``) that several modules fill."""

    def __init__(self, parser: Parser, common: Parser):
        self.common = common
        self.sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
        self._groups: dict[str, argparse._SubParsersAction] = {}

    def add(self, name: str, func: Callable, help: str, parent=None) -> Parser:
        """A command running ``func(args)``, with the common options (``--db``)."""
        p = (parent or self.sub).add_parser(name, parents=[self.common], help=help, description=help)
        p.set_defaults(func=func)
        return p

    def group(self, name: str, help: str, metavar: str = "WHAT") -> argparse._SubParsersAction:
        """A command with subcommands (``byrote export curves``), made on first use."""
        if name not in self._groups:
            p = self.sub.add_parser(name, help=help)
            self._groups[name] = p.add_subparsers(dest=f"{name}_command", metavar=metavar, parser_class=Parser,
                                                  required=True)
        return self._groups[name]


def open_store(args, create: bool = False):
    """The database of ``--db``, else of ``$BYROTE_DB``, else the default one (made on first
    use). A ``--db`` or ``$BYROTE_DB`` that names no file is made only with ``create``, by a
    command that can start from nothing (a study, outputs, a model, an import, a worker); a
    command that reads, or names what a database holds, refuses it in one line: a mistyped
    path leaves no new database."""
    from engine.store import Store

    path = getattr(args, "db", None) or os.environ.get("BYROTE_DB") or None  # $BYROTE_DB is held to --db's rule
    store = Store(path, create=create or path is None)
    if store.created:  # a command that fails in one line takes it back (cli.main)
        args.new_store = store
    return store


# -- value types ----------------------------------------------------------------------------
def whole(text: str, low: int, high: int = MAX_INT) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"{text} is outside {low}..{high}")
    return value


def positive(text: str) -> int:
    return whole(text, 1)


def seed(text: str) -> int:
    return whole(text, 0)


def hex_prefix(text: str) -> str:
    """The start of a fingerprint (an md5: up to 32 hexadecimal digits, either case)."""
    if len(text) > 32 or any(c not in "0123456789abcdefABCDEF" for c in text):
        raise argparse.ArgumentTypeError(f"{text!r} is not the start of a fingerprint (up to 32 hexadecimal "
                                         "digits)")
    return text.lower()


def processes(text: str) -> int:
    """A number of processes or slots: 1 to 1,024."""
    return whole(text, 1, 1024)


def trials(text: str) -> int:
    """Independent noise draws per level: 1 to :data:`engine.launch.MAX_TRIALS`."""
    from engine.launch import MAX_TRIALS

    return whole(text, 1, MAX_TRIALS)


def count_or_all(text: str) -> int:
    """A count of samples, or ``all`` (every one: :data:`engine.presets.ALL`)."""
    from engine.presets import ALL

    return ALL if text.strip().lower() == "all" else whole(text, 0, ALL)


def level(text: str) -> float:
    from engine.errors import InputError
    from engine.noise import parse_levels

    try:
        (value,) = parse_levels(text)
    except (InputError, ValueError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def number(text: str, low: float, high: float) -> float:
    """A finite number from ``low`` to ``high``."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise argparse.ArgumentTypeError(f"{text} is outside {low:g}..{high:g}")
    return value


def megabytes(text: str) -> float:
    return number(text, 1e-6, 1e6)


def seconds(text: str) -> float:
    """A wait: 0 to a year."""
    return number(text, 0.0, 365 * 86400.0)


# -- option groups --------------------------------------------------------------------------
def mode_options(p: Parser, what: str = "the job", foreground: str = "run the job in this process") -> None:
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--wait", action="store_true", help=f"follow {what} with a progress bar")
    mode.add_argument("--foreground", action="store_true", help=foreground)


def corpus_options(p: Parser) -> None:
    p.add_argument("--corpus", required=True, metavar="SOURCE",
                   help="a directory of source files, JSON-lines or Parquet files, or hf:NAME")
    p.add_argument("--glob", metavar="PATTERN", help="file names to take from a directory, e.g. '*.py'")
    p.add_argument("--text-field", default="content", metavar="NAME", help="records' text field (default: content)")
    p.add_argument("--split", default="train", help="hf: datasets' split (default: train)")


def clean_up_option(p: Parser) -> None:
    """How sampled outputs are decoded (engine.sample.clean_up_spaces)."""
    p.add_argument("--clean-up-spaces", action=argparse.BooleanOptionalAction, default=True,
                   help="decode with transformers' clean_up_tokenization_spaces, as the study's outputs were "
                        "('from . import' reads 'from. import'; default); --no-clean-up-spaces keeps the "
                        "tokenizer's text")


def device_option(p: Parser) -> None:
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
