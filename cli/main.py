"""``byrote``: the command line. With no command it opens the app.

Each module of cli/ registers its commands (:mod:`cli.studies`, :mod:`cli.extraction`,
:mod:`cli.jobs`, :mod:`cli.demo`); long work is enqueued as jobs for the detached worker.
Bad input is reported as one line on stderr with exit status 2, never as a traceback.
Nothing here imports torch: the engine parts that need it are imported inside commands.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import stat
import sys

from cli import content, demo, detectors, extractable, extraction, grid, jobs, listings, rank, studies
from cli.options import EXIT_INPUT, EXIT_PIPE, Commands, Parser
from cli.show import say
from engine.errors import InputError


def cmd_app(args) -> int:
    """No command: open the app on the database (on a terminal; scripts use the commands)."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise InputError("the app needs a terminal; the commands work without one (byrote --help)")
    from tui.app import ByroteApp

    app = ByroteApp(getattr(args, "db", None))
    app.run()
    return app.return_code or 0


def build_parser() -> Parser:
    common = Parser(add_help=False)
    common.add_argument("--db", default=argparse.SUPPRESS, metavar="FILE",
                        help="database file (default: $BYROTE_DB, else ~/.local/share/byrote/byrote.db)")
    parser = Parser(prog="byrote", parents=[common],
                    description="What do neural models of code learn by rote? With no command, opens the app.")
    commands = Commands(parser, common)
    for module in (studies, detectors, jobs, extraction, grid, extractable, rank, content, listings, demo):
        module.register(commands)
    return parser


def _writes_to_stdout(args) -> bool:
    """Whether a file the command writes (``--out``, ``--csv``) is this process's standard
    output, a pipe or a file (``--out /dev/stdout | jq``, ``>> log``)."""
    try:
        out = os.fstat(sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no standard output, or one without a file
        return False
    if not (stat.S_ISFIFO(out.st_mode) or stat.S_ISREG(out.st_mode)):  # /dev/null: the messages go there too
        return False
    for name in ("out", "csv"):
        value = getattr(args, name, None)
        if isinstance(value, str) and value:
            try:
                st = os.stat(value)
            except (OSError, ValueError):
                continue
            if (st.st_dev, st.st_ino) == (out.st_dev, out.st_ino):
                return True
    return False


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already reported in one line
        return int(exc.code or 0)
    if getattr(args, "func", None) is None:
        args.func = cmd_app
    if getattr(args, "db", None):  # no output of any command replaces it, whether it opens it or not
        from engine.fsutil import protect

        db = os.path.expanduser(args.db)
        protect("the database", db, *(f"{db}{tail}" for tail in ("-wal", "-shm", "-journal")))
    stdout = sys.stdout
    if _writes_to_stdout(args):  # --out /dev/stdout: the file alone goes there, the messages to stderr
        sys.stdout = sys.stderr
    try:
        return _run(args)
    finally:
        sys.stdout = stdout


def _run(args) -> int:
    """The command; a database it made and left empty is removed when it fails in one line."""
    code = _run_command(args)
    store = getattr(args, "new_store", None)
    if code == EXIT_INPUT and store is not None:
        with contextlib.suppress(Exception):  # the failure is what the user must see
            store.discard_if_new()
    return code


def _run_command(args) -> int:
    """The command, its failures said in one line (exit status 2), or in a traceback
    where byrote is at fault."""
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        say(f"byrote: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except BrokenPipeError as exc:
        try:
            ours = stat.S_ISFIFO(os.fstat(1).st_mode)
        except OSError:  # no standard output left at all
            ours = True
        if not ours:  # another pipe than our output: an error like any
            say(f"byrote: error: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_INPUT
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # the reader stopped early (| head): nothing more flushed
        return EXIT_PIPE  # quietly, as other tools
    except OSError as exc:  # a path the user gave that the system refuses
        where = f"{exc.filename}: " if exc.filename else ""
        say(f"byrote: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_INPUT
    except sqlite3.DatabaseError as exc:
        from engine.store import database_problem, is_file_problem

        if not is_file_problem(exc):  # byrote's own query: a bug, with its traceback
            raise
        say(f"byrote: error: {database_problem(exc)}", file=sys.stderr)
        return EXIT_INPUT
    except UnicodeEncodeError as exc:
        if exc.reason != "surrogates not allowed":  # not bytes of a name: a terminal that cannot show a character
            raise
        say("byrote: error: a name or path given is not valid UTF-8", file=sys.stderr)
        return EXIT_INPUT
    except RuntimeError as exc:
        if "home directory" not in str(exc):  # Path.expanduser of ~user for an unknown user
            raise
        say(f"byrote: error: {exc} (a ~user path of no user of this machine, or no HOME)", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        say("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
