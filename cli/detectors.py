"""``byrote detectors``: the memorization detectors of a noise study scored against the
labels byrote flipped (engine.dynamics). No torch at import."""
from __future__ import annotations

from cli.listings import add_json, print_json
from cli.options import Commands, open_store, positive
from cli.show import cell, console, say


def cmd_detectors(args) -> int:
    from engine.dynamics import DETECTORS, study_detectors

    detectors = tuple(d.strip() for d in args.detectors.split(",")) if args.detectors else DETECTORS
    store = open_store(args)
    rows = study_detectors(store, args.study, detectors, args.k)
    if args.csv:
        import csv

        from engine.fsutil import atomic_open

        columns = ["level", "trial", "run", "detector", "samples", "flipped", "k", "precision_at_k", "recall_at_k",
                   "roc_auc", "average_precision"]
        with atomic_open(args.csv) as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(columns)
            writer.writerows([r[c] for c in columns] for r in rows)
        say(f"{args.csv}: {len(rows)} rows")
    if args.json:
        print_json(rows)
        return 0
    from rich.table import Table

    table = Table(title=cell(f"study {args.study}: detectors against the flipped labels"), header_style="bold",
                  box=None)
    for col in ("level", "detector", "flipped", "k", "P@k", "R@k", "ROC AUC", "AP"):
        table.add_column(col, justify="left" if col == "detector" else "right")
    for r in rows:
        table.add_row(f"{r['level']:g}%" + (f" #{r['trial']}" if r["trial"] else ""), r["detector"],
                      f"{r['flipped']}/{r['samples']}", str(r["k"]),
                      *(f"{r[c]:.3f}" for c in ("precision_at_k", "recall_at_k", "roc_auc", "average_precision")))
    console().print(table)
    best = {}
    for r in rows:
        if r["average_precision"] == r["average_precision"]:
            best.setdefault(r["level"], []).append((r["average_precision"], r["detector"]))
    for level, found in sorted(best.items()):
        ap, name = max(found)
        say(f"{level:g}% noise: {name} finds the flipped labels best (AP {ap:.3f}; by chance "
            f"{next(r['flipped'] / r['samples'] for r in rows if r['level'] == level):.3f})")
    return 0


def register(c: Commands) -> None:
    from engine.dynamics import DETECTORS

    p = c.add("detectors", cmd_detectors, "score memorization detectors against the labels a noise study flipped")
    p.add_argument("--study", type=positive, required=True, metavar="ID")
    p.add_argument("--detectors", metavar="A,B", help=f"some of {', '.join(DETECTORS)} (default: all)")
    p.add_argument("--k", type=positive, metavar="K", help="the k of precision and recall at k (default: the flipped)")
    p.add_argument("--csv", metavar="FILE", help="also write the table as CSV")
    add_json(p)
