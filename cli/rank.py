"""``byrote rank``: order a scan's outputs by the extraction study's signals (perplexity,
ratio to a second model, lower-case ratio, zlib; Yang et al.'s ``evaluation/eva.py``) and
say how precisely the top of each finds the outputs the scan found memorized. No torch at
import."""
from __future__ import annotations

import argparse
import csv

from cli import follow
from cli.listings import add_json, print_json
from cli.options import Commands, device_option, mode_options, open_store, positive
from cli.show import cell, console, say


def tops(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of whole numbers like 100,1000") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: each N must be positive")
    return values


def cmd_rank(args) -> int:
    from engine.launch import check_ranking, enqueue_ranking

    store = open_store(args)
    plan = check_ranking(store, args.scan, args.model, args.reference_model, args.trust_remote_code)
    job_ids = enqueue_ranking(store, plan, args.batch_size, args.device)
    if job_ids:
        say(f"jobs {', '.join(map(str, job_ids))}: perplexities of the {store.output_count(plan.set_id)} outputs "
            f"of set {plan.set_id}")
        code = follow.launch(store, job_ids, args)
        if code or not (args.wait or args.foreground):
            if not code:
                say(f"then: byrote rank --scan {args.scan} (the same options) prints the table")
            return code
    print_ranking(store, plan, args.top, args.json, args.csv)
    return 0


def print_ranking(store, plan, top: tuple[int, ...], as_json: bool = False, csv_path: str | None = None) -> None:
    from engine.ranking import precision_table, scores_of, signal_values

    ids, scores = scores_of(store, plan.set_id, plan.model, plan.reference)
    memorized_ids = store.memorized_output_ids(plan.scan["id"])
    import numpy as np

    memorized = np.array([i in memorized_ids for i in ids], dtype=bool)
    rows = precision_table(scores, memorized, top)
    if csv_path:
        from engine.fsutil import atomic_open

        values = signal_values(scores)
        with atomic_open(csv_path) as fh:  # whole or not at all, as every output
            out = csv.writer(fh)
            out.writerow(["output", "memorized", "ppl", "ppl_lower", "ppl_reference", "zlib_size", *values])
            reference = scores.get("reference")
            for n, i in enumerate(ids):
                out.writerow([i, int(memorized[n]), scores["text"][n], scores["lower"][n],
                              "" if reference is None else reference[n], int(scores["zlib"][n]),
                              *(v[n] for v in values.values())])
        say(f"{csv_path}: the signals of {len(ids)} outputs")
    if as_json:
        print_json({"scan": plan.scan["id"], "set": plan.set_id, "model": plan.model, "reference": plan.reference,
                    "outputs": len(ids), "memorized": int(memorized.sum()), "rows": rows})
        return
    from rich.table import Table

    table = Table(title=cell(f"scan {plan.scan['id']}: {int(memorized.sum())} of {len(ids)} outputs memorized; "
                             f"precision of the top N by each signal (model {plan.model}"
                             + (f", reference {plan.reference})" if plan.reference else ")")),
                  header_style="bold", box=None)
    table.add_column("signal")
    for n in top:
        table.add_column(f"top {n}", justify="right")
    for row in rows:
        table.add_row(row["signal"], *(f"{row['precision'][n]:.3f}" + (f" (of {row['n'][n]})" if row["n"][n] != n
                                                                       else "") for n in top))
    console().print(table)


def register(c: Commands) -> None:
    p = c.add("rank", cmd_rank, "rank a scan's outputs by perplexity signals and score each against the scan "
                                "(the extraction study's evaluation)")
    p.add_argument("--scan", type=positive, required=True, metavar="ID", help="a finished scan")
    p.add_argument("--model", metavar="NAME_OR_PATH", help="the model that sampled the outputs (default: the set's)")
    p.add_argument("--reference-model", metavar="NAME_OR_PATH",
                   help="a second model with the same tokenizer, for the ratio of perplexities")
    p.add_argument("--top", type=tops, default=(100, 1000), metavar="N,N", help="the N of precision at N "
                                                                                "(default 100,1000)")
    p.add_argument("--batch-size", type=positive, default=16, metavar="B")
    p.add_argument("--csv", metavar="FILE", help="also write every output's perplexities and signals")
    p.add_argument("--trust-remote-code", action="store_true",
                   help="let the models' repositories run their own code (off unless asked)")
    device_option(p)
    add_json(p)
    mode_options(p)
