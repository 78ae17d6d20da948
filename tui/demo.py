"""``byrote demo --headless``: both noise studies end to end on this Python's standard library.

Builds a VarMisuse dataset and a method-name dataset (the ten most frequent names, as
the paper's Java-Top10) from the running interpreter's standard library, trains one model
per noise level (0/25/50/75/100 %) with the quick preset in this process, and prints the
last epoch of each study with a check of the paper's observations.
"""
from __future__ import annotations

import sysconfig
import time
from pathlib import Path

from rich.console import Console

from engine.store import Store

DEMO_LIMIT = 2000   # VarMisuse: functions taken from the standard library
DEMO_EPOCHS = 5     # VarMisuse epochs per level
MN_TOP = 10         # method names: the K most frequent names, as Java-Top10
MN_EPOCHS = 3
MN_CSR_SAMPLES = 100
DEMO_LEVELS = [0.0, 25.0, 50.0, 75.0, 100.0]


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
    from engine.data.methodname_build import build_methodname
    from engine.data.varmisuse_build import build_varmisuse
    from engine.study import create_study
    from tui.follow import results_table, run_foreground

    console = Console()
    t0 = time.time()
    limit = args.limit or DEMO_LIMIT
    epochs = args.epochs or DEMO_EPOCHS
    source = Path(sysconfig.get_paths()["stdlib"])
    demo_dir = store.files / "demo"
    console.print(f"[bold]byrote demo[/]: noise studies on {source} (database {store.path})")

    vm = build_varmisuse(source, demo_dir / f"varmisuse-{limit}-seed{args.seed}.jsonl", limit=limit, seed=args.seed)
    console.print(vm.summary())
    mn = build_methodname(source, demo_dir / f"methodname-top{MN_TOP}-seed{args.seed}.jsonl", lang="python",
                          top=MN_TOP, seed=args.seed)
    console.print(mn.summary())

    vm_study = create_study(
        store, task="varmisuse", train=str(vm.train_path), valid=str(vm.valid_path),
        model=args.model, levels=DEMO_LEVELS, epochs=epochs, preset="quick", seed=args.seed,
        device="auto", name=f"demo: {args.model} on the standard library",
    )
    mn_study = create_study(
        store, task="methodname", train=str(mn.train_path), valid=str(mn.test_path),
        model="code2vec", levels=DEMO_LEVELS, epochs=args.epochs or MN_EPOCHS, preset="quick",
        seed=args.seed, device="auto", name=f"demo: code2vec on the standard library's top {MN_TOP} names",
        overrides={"csr_samples": MN_CSR_SAMPLES},
    )
    job_ids = [j["id"] for s in (vm_study, mn_study) for j in store.jobs_of_study(s)]
    code = run_foreground(store, job_ids, console)
    for study_id in (vm_study, mn_study):
        console.print(results_table(store, study_id))
    for text, holds, detail in observations(store, vm_study, mn_study):
        console.print(f"{'[green]holds[/]' if holds else '[red]does not hold[/]'}  {text}: {detail}")
    console.print(f"studies {vm_study} and {mn_study} finished in {time.time() - t0:.0f} s; "
                  f"export with: byrote export curves --study ID --out DIR")
    return code
