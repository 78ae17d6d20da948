"""What memorized snippets hold and how they behave: ``byrote pii`` (personal data and
secrets, engine.pii), ``byrote analyze`` (the extraction study's analyses,
engine.analysis) and ``byrote export sample`` (a seeded sample of snippets to label)."""
from __future__ import annotations

from cli.listings import add_json, print_json, strict
from cli.options import Commands, open_store, positive, seed
from cli.show import console, say
from engine.untrusted import visible


def cmd_pii(args) -> int:
    from engine.pii import KINDS

    store = open_store(args)
    holding = store.index_pii(args.scan)
    counts = store.pii_counts(args.scan)
    finds = store.pii_finds(args.scan, args.top)
    if args.json:
        print_json({"scan": args.scan, "snippets_with_pii": holding,
                    "kinds": {k: {"finds": counts[k][0], "snippets": counts[k][1]} for k in KINDS if k in counts},
                    "finds": finds})
        return 0
    out = console()
    out.print(f"scan {args.scan}: {holding} of {store.snippet_count(args.scan)} snippets hold personal data or "
              "secrets; " + (", ".join(f"{k} {counts[k][0]} in {counts[k][1]}" for k in KINDS if k in counts)
                             or "none found"), soft_wrap=True)
    for f in finds:
        out.print(f"{f['fingerprint'][:12]}  {f['kind']:<14}  {visible(f['value'])}", soft_wrap=True)
    return 0


def cmd_export_sample(args) -> int:
    from engine.export import export_sample

    n = export_sample(open_store(args), args.scan, args.out, args.n, args.seed)
    say(f"{args.out}: {n} snippets to label (seed {args.seed})")
    return 0


def register(c: Commands) -> None:
    from engine.export import LABELLING_SAMPLE

    p = c.add("pii", cmd_pii, "find e-mail addresses, IP addresses, keys and credentials in a scan's snippets")
    p.add_argument("--scan", type=positive, required=True, metavar="ID")
    p.add_argument("--top", type=positive, default=20, metavar="N", help="finds listed (default 20)")
    add_json(p)

    p = c.add("analyze", cmd_analyze, "a scan's memorization trend, train/extract correlation and snippet lengths "
                                      "(the extraction study's analyses)")
    p.add_argument("--scan", type=positive, required=True, metavar="ID")
    p.add_argument("--points", type=positive, default=10, metavar="K", help="numbers of outputs in the trend")
    p.add_argument("--out", metavar="DIR", help="also write trend.csv, lengths.csv and correlation.json there")
    add_json(p)

    export = c.group("export", "write results in upstream formats")
    p = c.add("sample", cmd_export_sample, "a seeded sample of snippets in a CSV to label by hand", export)
    p.add_argument("--scan", type=positive, required=True, metavar="ID")
    p.add_argument("--out", required=True, metavar="FILE")
    p.add_argument("--n", type=positive, default=LABELLING_SAMPLE, metavar="N",
                   help=f"snippets (default {LABELLING_SAMPLE}, as log/sample.py)")
    p.add_argument("--seed", type=seed, default=0)


def cmd_analyze(args) -> int:
    import csv
    import json
    from pathlib import Path

    from engine.analysis import analyze, correlation_line

    store = open_store(args)
    result = analyze(store, args.scan, args.points)
    if args.out:
        from engine.fsutil import atomic_open

        folder = Path(args.out)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_open(folder / "trend.csv") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(["outputs", "snippets", "memorized_outputs"])
            writer.writerows([r["outputs"], r["snippets"], r["memorized_outputs"]] for r in result["trend"])
        with atomic_open(folder / "lengths.csv") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(["len", "snippets"])
            writer.writerows(result["lengths"].items())
        with atomic_open(folder / "correlation.json") as fh:
            fh.write(json.dumps(strict(result["correlation"]), indent=1, allow_nan=False) + "\n")
        say(f"{folder}: trend.csv, lengths.csv, correlation.json")
    if args.json:
        print_json(result)
        return 0
    c, out = result["correlation"], console()
    out.print(correlation_line(args.scan, c), soft_wrap=True)
    out.print("outputs → snippets (outputs holding one): " + ", ".join(
        f"{r['outputs']} → {r['snippets']} ({r['memorized_outputs']})" for r in result["trend"]), soft_wrap=True)
    out.print("snippet lengths (lines: snippets): " + "  ".join(f"{k}: {v}" for k, v in result["lengths"].items()),
              soft_wrap=True)
    return 0
