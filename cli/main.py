"""``byrote``: the command line.

Commands run the engine; long work is enqueued as jobs for the detached worker. Bad input
is reported as one line on stderr with exit status 2, never as a traceback. This module
imports no torch: the engine parts that need it are imported inside the commands.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.errors import InputError

EXIT_INPUT = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage mistake in one line, with exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(EXIT_INPUT)


def _store(args):
    from engine.store import Store

    return Store(getattr(args, "db", None))


MAX_INT = 2**63 - 1  # what SQLite stores


def _whole(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not low <= value <= MAX_INT:
        raise argparse.ArgumentTypeError(f"{text} is outside {low}..{MAX_INT}")
    return value


def _positive(text: str) -> int:
    return _whole(text, 1)


def _seed(text: str) -> int:
    return _whole(text, 0)


def _level(text: str) -> float:
    from engine.study import parse_levels

    try:
        (value,) = parse_levels(text)
    except (InputError, ValueError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


# -- commands -------------------------------------------------------------------------
def cmd_dataset_build(args) -> int:
    if args.kind == "methodname":
        from engine.data.methodname_build import build_methodname

        report = build_methodname(args.source, args.out, lang=args.lang, top=args.top,
                                  min_count=args.min_count, seed=args.seed)
    else:
        from engine.data.varmisuse_build import build_varmisuse

        report = build_varmisuse(args.source, args.out, limit=args.limit, seed=args.seed)
    print(report.summary())
    return 0


def cmd_noise(args) -> int:
    from engine.fsutil import require_file
    from engine.study import level_name, write_noisy_copy
    from engine.tasks import get_task

    spec = get_task(args.task)
    source = str(require_file(getattr(args, "in")))
    if spec.format_of(source) != spec.format_of(args.out):
        raise InputError(f"the noisy copy keeps the input's format: {source} is {spec.format_of(source)}, "
                         f"{args.out} would be {spec.format_of(args.out)}")
    samples = spec.read(source)
    result = spec.noise(samples, args.level, args.seed)
    changed = write_noisy_copy(spec, result, Path(args.out))
    counts = ", ".join(f"{k.replace('_', ' ')}: {len(v)}" for k, v in result.changed.items())
    print(f"{args.out}: {len(result.samples)} samples at {level_name(args.level)}% noise ({counts}); "
          f"changed ids in {changed}")
    return 0


def cmd_study(args) -> int:
    from engine.study import create_study, parse_levels

    store = _store(args)
    study_id = create_study(
        store, task=args.task, train=args.train, valid=args.valid, model=args.model,
        levels=parse_levels(args.noise), epochs=args.epochs, preset=args.preset,
        seed=args.seed, device=args.device, name=args.name, overrides=_overrides(args),
    )
    job_ids = [j["id"] for j in store.jobs_of_study(study_id)]
    print(f"study {study_id}: {len(job_ids)} runs queued (jobs {', '.join(map(str, job_ids))})")
    return _launch(store, job_ids, args)


def _overrides(args) -> dict:
    """--set pairs, with --capacity and --csr-samples as named shortcuts."""
    from engine.study import parse_settings

    settings = parse_settings(args.set)
    if args.capacity is not None:
        settings["capacity"] = args.capacity
    if args.csr_samples is not None:
        settings["csr_samples"] = args.csr_samples
    return settings


def _launch(store, job_ids: list[int], args) -> int:
    """Run jobs in this process (--foreground), or hand them to the worker (and --wait)."""
    from cli.follow import follow, run_foreground
    from engine.jobs import start_worker

    if args.foreground:
        return run_foreground(store, job_ids)
    pid = start_worker(store)
    print(f"worker started (pid {pid})" if pid else "worker already running")
    if args.wait:
        return follow(store, job_ids)
    print("follow with: byrote jobs   (or --wait); the worker keeps running after you log out")
    return 0


def cmd_worker(args) -> int:
    from engine.jobs import run_worker, start_worker

    store = _store(args)
    if args.detach:
        pid = start_worker(store)
        print(f"worker started (pid {pid})" if pid else "worker already running")
        return 0
    ran = run_worker(store, idle_exit_s=args.idle_exit)
    if ran < 0:
        print("another worker holds this database; nothing to do", file=sys.stderr)
    return 0


def cmd_jobs(args) -> int:
    from cli.follow import jobs_table
    from engine.jobs import worker_pid
    from rich.console import Console

    store = _store(args)
    console = Console()
    pid = worker_pid(store)
    console.print(f"worker: {'alive, pid ' + str(pid) if pid else 'not running'}")
    console.print(jobs_table(store.jobs()))
    return 0


def cmd_cancel(args) -> int:
    store = _store(args)
    state = store.request_cancel(args.id)
    print(f"job {args.id}: {'cancel requested' if state == 'running' else state}")
    return 0


def cmd_results(args) -> int:
    from cli.follow import results_table
    from rich.console import Console

    store = _store(args)
    Console().print(results_table(store, args.study))
    return 0


def cmd_export_curves(args) -> int:
    from engine.export import export_curves

    store = _store(args)
    written = export_curves(store, args.study, args.out)
    print(f"{len(written)} files written to {args.out}")
    return 0


def cmd_app(args) -> int:
    """No command: open the app on the database (on a terminal; scripts use the commands)."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise InputError("the app needs a terminal; the commands work without one (byrote --help)")
    from tui.app import ByroteApp

    ByroteApp(getattr(args, "db", None)).run()
    return 0


def cmd_demo(args) -> int:
    """On a terminal, queue the demo for the worker and open the app; else run it headless."""
    from engine.store import Store, default_db_path

    store = Store(getattr(args, "db", None) or default_db_path().with_name("demo.db"))
    if not args.headless and not (sys.stdin.isatty() and sys.stdout.isatty()):
        print("no terminal: running the demo headless", file=sys.stderr)
        args.headless = True
    if args.headless:
        from cli.demo import run_demo

        return run_demo(store, args)
    from engine.demo import demo_settings, start_demo
    from engine.jobs import start_worker
    from tui.app import ByroteApp

    start_demo(store, demo_settings(seed=args.seed, limit=args.limit, epochs=args.epochs, model=args.model))
    start_worker(store)
    store.close()
    ByroteApp(store.path).run()
    return 0


# -- parser -----------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    from engine.tasks import TASK_MODELS

    common = _Parser(add_help=False)
    common.add_argument("--db", default=argparse.SUPPRESS, metavar="FILE",
                        help="database file (default: $BYROTE_DB, else ~/.local/share/byrote/byrote.db)")
    parser = _Parser(prog="byrote", parents=[common],
                     description="What do neural models of code learn by rote? With no command, opens the app.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def add(name: str, func, help: str, parent=sub):
        p = parent.add_parser(name, parents=[common], help=help, description=help)
        p.set_defaults(func=func)
        return p

    p_dataset = sub.add_parser("dataset", help="build datasets from source code")
    ds = p_dataset.add_subparsers(dest="dataset_command", metavar="KIND", parser_class=_Parser, required=True)
    p_build = ds.add_parser("build", help="build a dataset from a directory of source")
    build = p_build.add_subparsers(dest="kind", metavar="TASK", parser_class=_Parser, required=True)
    p = add("varmisuse", cmd_dataset_build, "a VarMisuse dataset (GREAT format) from Python source", build)
    p.add_argument("--source", required=True, metavar="DIR")
    p.add_argument("--out", required=True, metavar="FILE.jsonl",
                   help="training split; the held-out split goes to FILE.valid.jsonl")
    p.add_argument("--limit", type=_positive, metavar="N", help="at most N functions")
    p.add_argument("--seed", type=_seed, default=0)
    p = add("methodname", cmd_dataset_build, "a method-name dataset (code2vec path-contexts) from Java or Python", build)
    p.add_argument("--lang", required=True, choices=("java", "python"))
    p.add_argument("--source", required=True, metavar="DIR")
    p.add_argument("--out", required=True, metavar="FILE.jsonl",
                   help="training split; held-out splits go to FILE.valid.jsonl and FILE.test.jsonl")
    p.add_argument("--top", type=_positive, metavar="K", help="keep only the K most frequent names")
    p.add_argument("--min-count", type=_positive, default=1, metavar="C")
    p.add_argument("--seed", type=_seed, default=0)

    p = add("noise", cmd_noise, "write a copy of a training set with label noise (Rabin et al. §4.1)")
    p.add_argument("--task", required=True, choices=sorted(TASK_MODELS))
    p.add_argument("--in", required=True, metavar="FILE")
    p.add_argument("--out", required=True, metavar="FILE")
    p.add_argument("--level", required=True, type=_level, metavar="P", help="percent, 0-100")
    p.add_argument("--seed", type=_seed, default=0)

    p = add("study", cmd_study, "create a noise study and train one model per noise level")
    p.add_argument("--task", required=True, choices=sorted(TASK_MODELS))
    p.add_argument("--train", required=True, metavar="FILE")
    p.add_argument("--valid", required=True, metavar="FILE")
    p.add_argument("--model", required=True, metavar="MODEL",
                   help="varmisuse: transformer, ggnn or great; methodname: code2vec")
    p.add_argument("--noise", default="0,25,50,75,100", metavar="LEVELS")
    p.add_argument("--epochs", type=_positive, default=10)
    p.add_argument("--preset", default="quick", metavar="NAME", help="quick or paper")
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--name", metavar="TEXT")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override one preset setting, e.g. --set lr=3e-4 (repeatable)")
    p.add_argument("--capacity", type=float, metavar="X",
                   help="methodname: size multiplier of code2vec (the paper's over-capacity contrast)")
    p.add_argument("--csr-samples", type=_seed, metavar="N",
                   help="methodname: held-out samples whose critical sample ratio is measured each epoch")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--wait", action="store_true", help="follow the runs with a progress bar")
    mode.add_argument("--foreground", action="store_true", help="train in this process")

    p = add("worker", cmd_worker, "run queued jobs (one worker per database)")
    p.add_argument("--detach", action="store_true", help="start it in the background and return")
    p.add_argument("--idle-exit", type=float, default=3.0, metavar="S", help=argparse.SUPPRESS)

    add("jobs", cmd_jobs, "list jobs with their state and progress")
    p = add("cancel", cmd_cancel, "cancel a job")
    p.add_argument("id", type=_positive, metavar="ID")

    p = add("results", cmd_results, "the last epoch of each run of a study")
    p.add_argument("--study", type=_positive, required=True, metavar="ID")

    p_export = sub.add_parser("export", help="write results in upstream formats")
    ex = p_export.add_subparsers(dest="export_command", metavar="WHAT", parser_class=_Parser, required=True)
    p = add("curves", cmd_export_curves, "one CSV per metric and split, one column per noise level", ex)
    p.add_argument("--study", type=_positive, required=True, metavar="ID")
    p.add_argument("--out", required=True, metavar="DIR")

    from cli.extraction import add_commands

    add_commands(sub, add, {"positive": _positive, "seed": _seed, "parser_class": _Parser, "export": ex})

    p = add("demo", cmd_demo, "both instruments on this Python's standard library, in the app")
    p.description = ("Both instruments on this Python's standard library: noise studies, and memorization "
                     "extraction from a small GPT-2. On a terminal it opens the app while the worker runs the demo's "
                     "jobs (reopening it just opens the app); elsewhere, or with --headless, it runs everything "
                     "in this process and prints the results. Its database is --db if given, else demo.db beside "
                     "the default database (not the default database itself); delete it to start over.")
    p.add_argument("--headless", action="store_true",
                   help="run everything in this process and print the results instead of opening the app")
    p.add_argument("--limit", type=_positive, default=None, metavar="N", help="VarMisuse: functions to take")
    p.add_argument("--epochs", type=_positive, default=None, metavar="N",
                   help="epochs per noise level in both studies (default: 5 for VarMisuse, 3 for method names)")
    p.add_argument("--model", default="ggnn", choices=TASK_MODELS["varmisuse"],
                   help="ggnn learns fastest on a CPU; great is the paper's best")
    p.add_argument("--seed", type=_seed, default=0)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already reported in one line
        return int(exc.code or 0)
    if getattr(args, "func", None) is None:
        args.func = cmd_app
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        print(f"byrote: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except OSError as exc:  # a path the user gave that the system refuses
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"byrote: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
