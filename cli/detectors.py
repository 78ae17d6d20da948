"""``byrote detectors``: the memorization detectors of a noise study scored against the
labels byrote flipped (engine.dynamics). No torch at import."""
from __future__ import annotations

from cli.listings import add_json, print_json
from cli.options import Commands, mode_options, open_store, positive, whole
from cli.show import cell, console, say
from engine.errors import InputError


def folds(text: str) -> int:
    return whole(text, 2)  # one fold would train on nothing


def queue_kfold(store, runs: list[dict], k: int) -> list[int]:
    """The ``kfold`` jobs of ``runs`` that have no out-of-fold file of ``k`` folds yet (a
    queued or running one is reused, never queued twice)."""
    from engine.kfold import oof_path
    from engine.store import ACTIVE

    active = {(j["params"].get("run_id"), j["params"].get("folds")): j["id"] for j in store.jobs(list(ACTIVE))
              if j["kind"] == "kfold"}
    return [active.get((r["id"], k)) or store.add_job("kfold", {"run_id": r["id"], "folds": k}, run_id=r["id"])
            for r in runs if not oof_path(store, r["id"], k).exists()]


def run_kfold(store, args, runs: list[dict]) -> int | None:
    """Queue the k-fold jobs ``runs`` lack (the study's task checked first) and hand them
    to the worker or run them here; an exit status when the command stops there (they
    were only queued, or one failed), None when every run has its probabilities."""
    from cli import follow
    from engine.kfold import check_folds, check_kfold

    study = store.study(args.study)
    check_kfold(study["task"], study["model"])
    check_folds(store, runs, args.kfold)
    jobs = queue_kfold(store, runs, args.kfold)
    if not jobs:
        return None
    say(f"jobs {', '.join(map(str, jobs))}: out-of-fold probabilities, {args.kfold} folds a run")
    code = follow.launch(store, jobs, args)
    return code if code or not (args.wait or args.foreground) else None


def cmd_detectors(args) -> int:
    from engine.dynamics import DETECTORS, noisy_runs, study_detectors

    detectors = tuple(d.strip() for d in args.detectors.split(",")) if args.detectors else DETECTORS
    store = open_store(args)
    runs = noisy_runs(store, args.study, detectors)  # refused here, before anything is queued
    if args.kfold:
        code = run_kfold(store, args, runs)
        if code is not None:
            return code
    rows = study_detectors(store, args.study, detectors, args.k, args.kfold)
    if not rows:  # each asked for lacks what it reads: say so, not an empty table
        hint = "cleanlab needs out-of-fold probabilities first (--kfold K); " if "cleanlab" in detectors else ""
        raise InputError(f"no detector of {', '.join(detectors)} can score study {args.study}'s runs: {hint}"
                         "the others read per-sample arrays its task or its runs do not have", field="detectors")
    if args.csv:
        import csv

        from engine.fsutil import atomic_open

        columns = ["level", "trial", "run", "detector", "samples", "flipped", "k", "precision_at_k", "recall_at_k",
                   "roc_auc", "average_precision", "label_issues"]
        with atomic_open(args.csv) as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(columns)
            writer.writerows([r.get(c, "") for c in columns] for r in rows)
        say(f"{args.csv}: {len(rows)} rows")
    if args.json:
        print_json(rows)
        return 0
    print_detectors(rows, args.study)
    return 0


def print_detectors(rows: list[dict], study_id: int) -> None:
    """The detectors table of a study, then, per level, the detector whose average
    precision is highest, beside what chance gets (the flipped share)."""
    from rich.table import Table

    table = Table(title=cell(f"study {study_id}: detectors against the flipped labels"), header_style="bold",
                  box=None)
    for col in ("level", "detector", "flipped", "k", "P@k", "R@k", "ROC AUC", "AP"):
        table.add_column(col, justify="left" if col == "detector" else "right")
    for r in rows:
        table.add_row(f"{r['level']:g}%" + (f" #{r['trial']}" if r["trial"] else ""), r["detector"],
                      f"{r['flipped']}/{r['samples']}", str(r["k"]),
                      *("-" if r[c] != r[c] else f"{r[c]:.3f}"  # undefined (one class only): -, as elsewhere
                        for c in ("precision_at_k", "recall_at_k", "roc_auc", "average_precision")))
    console().print(table)
    aps: dict[float, dict[str, list[float]]] = {}  # level -> detector -> its AP in each trial
    for r in rows:
        if r["average_precision"] == r["average_precision"]:
            aps.setdefault(r["level"], {}).setdefault(r["detector"], []).append(r["average_precision"])
    for level, found in sorted(aps.items()):
        mean, name = max((sum(v) / len(v), name) for name, v in found.items())
        trials = len(found[name])
        chance = [r["flipped"] / r["samples"] for r in rows if r["level"] == level and r["detector"] == name]
        say(f"{level:g}% noise: {name} finds the flipped labels best (AP {mean:.3f}"
            + (f", the mean of {trials} trials" if trials > 1 else "") + f"; by chance {sum(chance) / len(chance):.3f})")


def cmd_noise_rate(args) -> int:
    """Queue the k-fold jobs every run still needs (noisy or not), then print each run's
    estimated share of noisy labels beside the share byrote flipped."""
    import numpy as np

    from engine.dynamics import flipped_ids
    from engine.kfold import estimate_noise, load_out_of_fold

    store = open_store(args)
    runs = store.runs(args.study)
    code = run_kfold(store, args, runs)
    if code is not None:
        return code
    rows = []
    for run in runs:
        result = load_out_of_fold(store, run["id"], args.kfold)
        flipped = np.isin(result["sample"], sorted(flipped_ids(store, run))).mean()
        rows.append({"run": run["id"], "level": run["level"], "flipped": float(flipped), **estimate_noise(result)})
    if args.json:
        print_json(rows)
        return 0
    for r in rows:
        say(f"{r['level']:g}% noise (run {r['run']}): {r['estimate']:.3f} of the labels estimated noisy "
            f"(95 % interval {r['low']:.3f}-{r['high']:.3f}, {r['rounds']} bootstrap draws); "
            f"{r['flipped']:.3f} were flipped")
    return 0


def register(c: Commands) -> None:
    from engine.dynamics import DETECTORS

    p = c.add("detectors", cmd_detectors, "score memorization detectors against the labels a noise study flipped")
    p.add_argument("--study", type=positive, required=True, metavar="ID")
    p.add_argument("--detectors", metavar="A,B", help=f"some of {', '.join(DETECTORS)} (default: all)")
    p.add_argument("--k", type=positive, metavar="K", help="the k of precision and recall at k (default: the flipped)")
    p.add_argument("--csv", metavar="FILE", help="also write the table as CSV")
    p.add_argument("--kfold", type=folds, metavar="K",
                   help="queue k-fold training for cleanlab's out-of-fold label issues (VarMisuse, code2vec's method "
                        "names, code search; cleanlab uses 5)")
    add_json(p)
    mode_options(p)

    p = c.add("noise-rate", cmd_noise_rate, "estimate the share of noisy labels of each run's training set "
                                            "(cleanlab on out-of-fold probabilities), beside what was flipped")
    p.add_argument("--study", type=positive, required=True, metavar="ID")
    p.add_argument("--kfold", type=folds, default=5, metavar="K", help="folds (default 5, cleanlab's)")
    add_json(p)
    mode_options(p)
