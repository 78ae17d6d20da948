"""``byrote demo``: both instruments on this Python's standard library. On a terminal it
queues the demo's chain of jobs (:mod:`engine.demo`) for the worker and opens the app;
without one, or with ``--headless``, it runs the same steps in this process, studies
first, and prints the results as they come, with a check of the paper's observations."""
from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

from cli.follow import run_foreground
from cli.options import Commands, positive, seed
from cli.show import console as show_console, say

if TYPE_CHECKING:
    from rich.console import Console

    from engine.store import Store


def cmd_demo(args) -> int:
    """On a terminal, queue the demo for the worker and open the app; else run it headless."""
    from engine.store import Store, default_db_path

    store = Store(getattr(args, "db", None) or default_db_path().with_name("demo.db"))
    if args.study == "code2seq":
        return run_contrast(store, args)
    if not args.headless and not (sys.stdin.isatty() and sys.stdout.isatty()):
        say("no terminal: running the demo headless", file=sys.stderr)
        args.headless = True
    if args.headless:
        return run_demo(store, args)
    from engine.demo import demo_settings, start_demo
    from engine.jobs import start_worker
    from tui.app import ByroteApp

    start_demo(store, demo_settings(seed=args.seed, limit=args.limit, epochs=args.epochs, model=args.model))
    start_worker(store)
    store.close()
    app = ByroteApp(store.path)
    app.run()
    say(demo_db_hint(store.path))
    return app.return_code or 0


def demo_db_hint(path) -> str:
    """What to type to reach the demo's database from the command line (the app names it
    in its header; the commands read the default database unless told)."""
    return (f"the demo's database is {path}; the commands read it with --db, e.g. byrote --db {path} jobs "
            f"(or export BYROTE_DB={path})")


def run_demo(store: Store, args) -> int:
    from cli.tables import results_table
    from engine.demo import build_demo_datasets, create_demo_studies, demo_settings, observations

    console = show_console()
    t0 = time.time()
    s = demo_settings(seed=args.seed, limit=args.limit, epochs=args.epochs, model=args.model)
    console.print(headline("byrote demo", f"noise studies on {s['source']} (database {store.path})"))
    vm, mn = build_demo_datasets(store, s)
    console.print(vm.summary())
    console.print(mn.summary())
    vm_study, mn_study = create_demo_studies(store, s, datasets=(vm, mn), reuse=False)
    job_ids = [j["id"] for study in (vm_study, mn_study) for j in store.jobs_of("study", study)]
    code = run_foreground(store, job_ids, console)
    for study_id in (vm_study, mn_study):
        console.print(results_table(store, study_id))
    for text, holds, detail in observations(store, vm_study, mn_study):
        console.print(verdict(holds, text, detail))
    print_study_detectors(store, (vm_study, mn_study), console)
    console.print(f"studies {vm_study} and {mn_study} finished in {time.time() - t0:.0f} s; "
                  f"export with: byrote export curves --study ID --out DIR")
    return max(code, run_extraction(store, s, console, t0))


def print_study_detectors(store: Store, studies, console) -> None:
    """Which training samples each study memorized: its detectors against the flipped
    labels (Rabin et al. §6.2), or why they cannot be scored (a run of one epoch)."""
    from cli.detectors import print_detectors
    from engine.dynamics import study_detectors
    from engine.errors import InputError

    for study_id in studies:
        try:
            print_detectors(study_detectors(store, study_id), study_id)
        except InputError as exc:
            console.print(f"study {study_id}: no detectors: {exc}")


def run_contrast(store: Store, args) -> int:
    """``--study code2seq``: code2vec against code2seq on the standard library's top
    method names, at 0 % and 100 % noise, in this process; the tables and the check."""
    from cli.tables import results_table
    from engine.data.methodname_build import build_methodname
    from engine.demo import CONTRAST_EPOCHS, capacity_contrast, create_contrast_studies, demo_folder, demo_settings

    console = show_console()
    t0 = time.time()
    s = demo_settings(seed=args.seed, epochs=args.epochs or CONTRAST_EPOCHS)
    console.print(headline("byrote demo --study code2seq", f"code2vec against code2seq on {s['source']} "
                                                           f"(database {store.path})"))
    data = build_methodname(s["source"], demo_folder(store) / f"methodname-top{s['mn_top']}-seed{s['seed']}.jsonl",
                            lang="python", top=s["mn_top"], seed=s["seed"])
    console.print(data.summary())
    studies = create_contrast_studies(store, s, data)
    code = run_foreground(store, [j["id"] for study in studies for j in store.jobs_of("study", study)], console)
    for study in studies:
        console.print(results_table(store, study))
    text, holds, detail = capacity_contrast(store, *studies)
    console.print(verdict(holds, text, detail))
    console.print(f"studies {studies[0]} and {studies[1]} finished in {time.time() - t0:.0f} s")
    return code


def run_extraction(store: Store, s: dict, console: Console, t0: float) -> int:
    """Train the demo's LM on a stdlib slice, sample from it, and scan the samples."""
    from cli.tables import print_memorized
    from cli.extractable import print_windows
    from cli.grid import print_points
    from engine.demo import lm_corpus, queue_extractable, queue_extraction, queue_lm_training, queue_sampling, queue_scan

    corpus = lm_corpus(store, s)
    console.print(headline("memorization extraction", f"a {s['lm_preset']} GPT-2 on {corpus.describe()}"))
    job, said = queue_lm_training(store, corpus, s)
    if job is None:
        console.print(said)
    elif run_foreground(store, [job], console):
        return 1
    _, job, said = queue_sampling(store, s)
    console.print(said)
    if job is not None and run_foreground(store, [job], console):
        return 1
    scan_id, job, said = queue_scan(store, s)
    console.print(said)
    if run_foreground(store, [job], console):
        return 1
    print_memorized(store, scan_id, top=10, order="extract")
    run_id, job, said = queue_extractable(store, s)
    console.print(said)
    if run_foreground(store, [job], console):
        return 1
    print_windows(store, run_id, top=5)
    study_id, jobs, said = queue_extraction(store, s)
    console.print(said)
    if jobs and run_foreground(store, jobs, console):
        return 1
    print_points(store, study_id)
    console.print(f"the whole demo took {time.time() - t0:.0f} s; browse with: byrote memorized --scan {scan_id}, "
                  f"export with: byrote export memorization --scan {scan_id} --out memorization.json")
    return 0


def register(c: Commands) -> None:
    from engine.tasks import TASK_MODELS

    p = c.add("demo", cmd_demo, "both instruments on this Python's standard library, in the app")
    p.description = ("Both instruments on this Python's standard library: noise studies, and memorization "
                     "extraction from a small GPT-2. On a terminal it opens the app while the worker runs the demo's "
                     "jobs (reopening it just opens the app); elsewhere, or with --headless, it runs everything "
                     "in this process and prints the results. Its database is --db if given, else demo.db beside "
                     "the default database (not the default database itself); delete it to start over.")
    p.add_argument("--headless", action="store_true",
                   help="run everything in this process and print the results instead of opening the app")
    p.add_argument("--limit", type=positive, default=None, metavar="N", help="VarMisuse: functions to take")
    p.add_argument("--epochs", type=positive, default=None, metavar="N",
                   help="epochs per noise level in both studies (default: 5 for VarMisuse, 3 for method names)")
    p.add_argument("--model", default="ggnn", choices=TASK_MODELS["varmisuse"],
                   help="ggnn learns fastest on a CPU; great is the paper's best")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--study", choices=("all", "code2seq"), default="all",
                   help="code2seq: only the capacity contrast, code2vec against code2seq on the top method names at "
                        "0%% and 100%% noise (5 epochs), in this process")


def headline(title: str, rest: str):
    """A bold title, then plain text (never markup)."""
    from rich.text import Text

    return Text.assemble((title, "bold"), ": ", rest)


def verdict(holds: bool, text: str, detail: str):
    """One observation of the paper, checked: holds (green) or does not hold (red)."""
    from rich.text import Text

    return Text.assemble(("holds", "green") if holds else ("does not hold", "red"), f"  {text}: {detail}")
