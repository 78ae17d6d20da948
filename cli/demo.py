"""``byrote demo --headless``: both instruments end to end on this Python's standard library.

1. Noise studies: builds a VarMisuse dataset and a method-name dataset (the ten most
   frequent names, as the paper's Java-Top10) from the running interpreter's standard
   library, trains one model per noise level (0/25/50/75/100 %) with the quick preset in
   this process, and prints the last epoch of each study with a check of the paper's
   observations.
2. Memorization extraction: trains a small GPT-2 on a slice of the standard library,
   samples a few hundred outputs from it, scans them against the slice, and prints the
   top memorized snippets and how many outputs hold at least one.

The settings and steps are those of :mod:`engine.demo`, which the app's worker runs as a
chain of ``demo`` jobs (``byrote demo`` on a terminal); here they run in the foreground,
studies first, and print as they go.
"""
from __future__ import annotations

import time

from rich.console import Console

from engine.store import Store


def _or_nan(value: float | None) -> float:
    return float("nan") if value is None else value


def _falls(store: Store, study_id: int, key: str) -> tuple[bool, str]:
    """Whether ``key`` at the last epoch never rises from one noise level to the next."""
    from engine.study import level_name, summary

    rows = sorted(summary(store, study_id), key=lambda r: r["level"])
    values = [r.get(key) for r in rows]
    falling = all(a is not None and b is not None and b <= a for a, b in zip(values, values[1:]))
    return falling, "  ".join(f"{level_name(r['level'])}%: {_or_nan(v):.3f}" for r, v in zip(rows, values))


def observations(store: Store, vm_study: int, mn_study: int | None = None) -> list[tuple[str, bool, str]]:
    """The paper's Observation 1 (held-out performance falls with noise, §5.1) on both
    tasks, and Observation 3 (the spread of training loss is lower at 100 % noise than at
    0 %, §5.3) on VarMisuse."""
    from engine.study import summary

    found = []
    holds, detail = _falls(store, vm_study, "valid.loc_accuracy")
    found.append(("Observation 1, VarMisuse: held-out localization accuracy falls as noise rises", holds, detail))
    if mn_study is not None:
        holds, detail = _falls(store, mn_study, "valid.f1_score")
        found.append(("Observation 1, method names: held-out F1 falls as noise rises", holds, detail))
    gini = {r["level"]: r.get("train.gini_loss") for r in summary(store, vm_study)}
    lower = gini.get(100.0) is not None and gini.get(0.0) is not None and gini[100.0] < gini[0.0]
    found.append(("Observation 3, VarMisuse: train-loss Gini lower at 100% than at 0%", lower,
                  f"0%: {_or_nan(gini.get(0.0)):.3f}  100%: {_or_nan(gini.get(100.0)):.3f}"))
    return found


def run_demo(store: Store, args) -> int:
    from engine.demo import build_demo_datasets, create_demo_studies, demo_settings
    from cli.follow import results_table, run_foreground

    console = Console()
    t0 = time.time()
    s = demo_settings(seed=args.seed, limit=args.limit, epochs=args.epochs, model=args.model)
    console.print(f"[bold]byrote demo[/]: noise studies on {s['source']} (database {store.path})")
    vm, mn = build_demo_datasets(store, s)
    console.print(vm.summary())
    console.print(mn.summary())
    vm_study, mn_study = create_demo_studies(store, s, datasets=(vm, mn), reuse=False)
    job_ids = [j["id"] for study in (vm_study, mn_study) for j in store.jobs_of_study(study)]
    code = run_foreground(store, job_ids, console)
    for study_id in (vm_study, mn_study):
        console.print(results_table(store, study_id))
    for text, holds, detail in observations(store, vm_study, mn_study):
        console.print(f"{'[green]holds[/]' if holds else '[red]does not hold[/]'}  {text}: {detail}")
    console.print(f"studies {vm_study} and {mn_study} finished in {time.time() - t0:.0f} s; "
                  f"export with: byrote export curves --study ID --out DIR")
    return max(code, run_extraction(store, s, console, t0))


def run_extraction(store: Store, s: dict, console: Console, t0: float) -> int:
    """Train the demo's LM on a stdlib slice, sample from it, and scan the samples."""
    from engine.demo import lm_corpus, queue_lm_training, queue_sampling, queue_scan
    from cli.follow import run_foreground
    from cli.extraction import print_memorized

    corpus = lm_corpus(store, s)
    console.print(f"[bold]memorization extraction[/]: a {s['lm_preset']} GPT-2 on {corpus.describe()}")
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
    console.print(f"the whole demo took {time.time() - t0:.0f} s; browse with: byrote memorized --scan {scan_id}, "
                  f"export with: byrote export memorization --scan {scan_id} --out memorization.json")
    return 0
