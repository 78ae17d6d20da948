"""``byrote demo --headless``: the noise study end to end on this Python's standard library.

Builds a VarMisuse dataset from the running interpreter's standard library, trains one
model per noise level (0/25/50/75/100 %) with the quick preset in this process, and
prints the last epoch of each run with a check of the paper's Observations 1 and 3.
"""
from __future__ import annotations

import sysconfig
import time
from pathlib import Path

from rich.console import Console

from engine.store import Store

DEMO_LIMIT = 2500   # functions taken from the standard library
DEMO_EPOCHS = 6
DEMO_LEVELS = [0.0, 25.0, 50.0, 75.0, 100.0]


def _or_nan(value: float | None) -> float:
    return float("nan") if value is None else value


def observations(store: Store, study_id: int) -> list[tuple[str, bool, str]]:
    """Check the paper's Observation 1 (held-out localization falls with noise) and
    Observation 3 (the spread of training loss is lower at 100 % noise than at 0 %)."""
    from engine.study import level_name, summary

    rows = sorted(summary(store, study_id), key=lambda r: r["level"])
    loc = [(r["level"], r.get("valid.loc_accuracy")) for r in rows]
    values = [v for _, v in loc]
    falling = all(a is not None and b is not None and b <= a for a, b in zip(values, values[1:]))
    gini = {r["level"]: r.get("train.gini_loss") for r in rows}
    lower = gini.get(100.0) is not None and gini.get(0.0) is not None and gini[100.0] < gini[0.0]
    return [
        ("Observation 1: held-out localization accuracy falls as noise rises", falling,
         "  ".join(f"{level_name(l)}%: {v:.3f}" for l, v in loc if v is not None)),
        ("Observation 3: train-loss Gini lower at 100% than at 0%", lower,
         f"0%: {_or_nan(gini.get(0.0)):.3f}  100%: {_or_nan(gini.get(100.0)):.3f}"),
    ]


def run_demo(store: Store, args) -> int:
    from engine.data.varmisuse_build import build_varmisuse
    from engine.study import create_study
    from tui.follow import results_table, run_foreground

    console = Console()
    t0 = time.time()
    limit = args.limit or DEMO_LIMIT
    epochs = args.epochs or DEMO_EPOCHS
    source = Path(sysconfig.get_paths()["stdlib"])
    train = store.files / "demo" / f"stdlib-{limit}-seed{args.seed}.jsonl"
    console.print(f"[bold]byrote demo[/]: VarMisuse noise study on {source} (database {store.path})")
    report = build_varmisuse(source, train, limit=limit, seed=args.seed)
    console.print(report.summary())
    study_id = create_study(
        store, task="varmisuse", train=str(report.train_path), valid=str(report.valid_path),
        model=args.model, levels=DEMO_LEVELS, epochs=epochs, preset="quick", seed=args.seed,
        device="auto", name=f"demo: {args.model} on the standard library",
    )
    job_ids = [j["id"] for j in store.jobs_of_study(study_id)]
    code = run_foreground(store, job_ids, console)
    console.print(results_table(store, study_id))
    for text, holds, detail in observations(store, study_id):
        console.print(f"{'[green]holds[/]' if holds else '[red]does not hold[/]'}  {text}: {detail}")
    console.print(f"study {study_id} finished in {time.time() - t0:.0f} s; "
                  f"export with: byrote export curves --study {study_id} --out DIR")
    return code
