"""What memorized snippets hold: ``byrote pii`` (personal data and secrets, engine.pii)
and ``byrote export sample`` (a seeded sample of snippets to label by hand)."""
from __future__ import annotations

from cli.listings import add_json, print_json
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

    export = c.group("export", "write results in upstream formats")
    p = c.add("sample", cmd_export_sample, "a seeded sample of snippets in a CSV to label by hand", export)
    p.add_argument("--scan", type=positive, required=True, metavar="ID")
    p.add_argument("--out", required=True, metavar="FILE")
    p.add_argument("--n", type=positive, default=LABELLING_SAMPLE, metavar="N",
                   help=f"snippets (default {LABELLING_SAMPLE}, as log/sample.py)")
    p.add_argument("--seed", type=seed, default=0)
